"""Timing batch normalization: medians of repeated runs, compared as ratios.

One `time.time()` difference measures the machine's mood as much as the code: another
process, a page fault, a frequency change. Here every number is the median over several
rounds, each round calls the function enough times to last at least `min_time` seconds,
and the results are meant to be read as ratios between cases timed in the same process.

The cases of `bench_batchnorm`, all on the same seeded batch:

- "copy": `x.copy()`, reading and writing every entry once: the memory-bandwidth floor
  that no elementwise pass over (N, D) data can beat;
- "forward": `batchnorm_forward` in train mode;
- "staged_backward": `batchnorm_backward`, the graph node by node;
- "simplified_backward": `batchnorm_backward_alt`, the closed form;
- "forward+simplified_backward": one training step of the layer;
- "torch_forward+backward": PyTorch's native `torch.nn.functional.batch_norm` in training
  mode plus its backward through autograd (only when PyTorch is installed).

Threads: the NumPy operations the layer uses (ufuncs, reductions, einsum without BLAS)
each run on one thread, so PyTorch is timed with `torch.set_num_threads(1)` by default:
one core against one core. Pass `torch_threads` to see what PyTorch's own parallelism buys.
"""

import statistics
import time
import timeit
from dataclasses import dataclass

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn import validation as check

try:
    import torch
except ImportError:  # PyTorch is an optional extra; its case is simply left out
    torch = None

CASES = (
    "copy",
    "forward",
    "staged_backward",
    "simplified_backward",
    "forward+simplified_backward",
    "torch_forward+backward",
)
NUMPY_THREADS = 1  # what one ufunc or reduction over our arrays uses


@dataclass(frozen=True)
class Rounds:
    """The raw result of `time_rounds`.

    - number: calls of fn per timed round
    - calibration_calls: calls spent finding `number` before the timed rounds
    - seconds_per_call: one entry per round, the round's time divided by `number`
    """

    number: int
    calibration_calls: int
    seconds_per_call: tuple


def _candidate_numbers():
    # 1, 2, 5, 10, 20, 50, ...: the sequence timeit's autorange uses
    scale = 1
    while True:
        for step in (1, 2, 5):
            yield step * scale
        scale *= 10


def time_rounds(fn, repeat=7, min_time=0.05, timer=time.perf_counter):
    """Time `repeat` rounds of calls to fn(), each lasting at least `min_time` seconds.

    The number of calls per round is the first of 1, 2, 5, 10, 20, ... whose round lasts
    min_time; the rounds spent finding it are not reported (they also warm caches up).
    The rounds run through `timeit`, which switches Python's garbage collector off while
    timing, so a collection triggered by other code does not land in one round.

    Inputs:
    - fn: callable taking no arguments
    - repeat: number of timed rounds, >= 1
    - min_time: seconds a round must last at least, > 0
    - timer: clock returning seconds (a fake clock makes the machinery testable)

    Returns:
    - Rounds(number, calibration_calls, seconds_per_call)
    """
    where = "time_rounds"
    if not callable(fn):
        raise TypeError(f"{where}: fn must be callable with no arguments; got {type(fn).__name__}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"{where}: repeat must be an integer >= 1; got {repeat!r}")
    min_time = check.positive_number(where, "min_time", min_time)
    clock = timeit.Timer(fn, timer=timer)
    calibration_calls = 0
    for number in _candidate_numbers():
        elapsed = clock.timeit(number)
        calibration_calls += number
        if elapsed >= min_time:
            break
    seconds = tuple(clock.timeit(number) / number for _ in range(repeat))
    return Rounds(number=number, calibration_calls=calibration_calls, seconds_per_call=seconds)


def median_seconds(fn, repeat=7, min_time=0.05, timer=time.perf_counter):
    """Median over `repeat` rounds of the time of one call of fn(), in seconds.

    Inputs: as time_rounds.

    Returns:
    - the median of the per-call times of the rounds (a float)
    """
    return statistics.median(time_rounds(fn, repeat, min_time, timer).seconds_per_call)


def batchnorm_inputs(N, D, dtype=np.float64, seed=0):
    """A seeded batch for timing: x (N, D) off-centre, gamma, beta (D,), dout (N, D)."""
    where = "batchnorm_inputs"
    for name, size in (("N", N), ("D", D)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{where}: {name} must be an integer >= 1; got {size!r}")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{where}: dtype must be a floating-point type; got {dtype}")
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=rng.uniform(-3, 3, D), scale=rng.uniform(0.5, 4, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D)
    beta = rng.normal(0, 1, D)
    dout = rng.normal(size=(N, D))
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dout))


def _torch_step(x, gamma, beta, dout):
    """A no-argument function running PyTorch's batch norm forward + backward once."""
    x_t = torch.from_numpy(x).requires_grad_(True)
    gamma_t = torch.from_numpy(gamma).requires_grad_(True)
    beta_t = torch.from_numpy(beta).requires_grad_(True)
    dout_t = torch.from_numpy(dout)
    D = x.shape[1]
    running_mean = torch.zeros(D, dtype=x_t.dtype)
    running_var = torch.ones(D, dtype=x_t.dtype)

    def step():
        out = torch.nn.functional.batch_norm(
            x_t, running_mean, running_var, gamma_t, beta_t, training=True, momentum=0.1, eps=1e-5
        )
        # autograd.grad returns fresh gradients, like our backward, instead of adding them
        # into .grad (an extra pass that our side does not pay)
        return torch.autograd.grad(out, (x_t, gamma_t, beta_t), dout_t)

    return step


def bench_batchnorm(N, D, dtype=np.float64, repeat=7, seed=0, min_time=0.05, torch_threads=None):
    """Median seconds per call of each batch-norm case on one seeded (N, D) batch.

    Inputs:
    - N, D: batch size and number of features
    - dtype: np.float32 or np.float64 (every array, ours and PyTorch's)
    - repeat, min_time: as median_seconds
    - seed: seeds the batch
    - torch_threads: threads PyTorch may use; default NUMPY_THREADS (one core each side)

    Returns:
    - dict from case name (see CASES) to median seconds per call; the PyTorch case only
      when PyTorch is installed
    """
    x, gamma, beta, dout = batchnorm_inputs(N, D, dtype, seed)
    bn_param = {"mode": "train"}
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)

    def forward_and_backward():
        _, step_cache = batchnorm_forward(x, gamma, beta, bn_param)
        return batchnorm_backward_alt(dout, step_cache)

    cases = {
        "copy": x.copy,
        "forward": lambda: batchnorm_forward(x, gamma, beta, bn_param),
        "staged_backward": lambda: batchnorm_backward(dout, cache),
        "simplified_backward": lambda: batchnorm_backward_alt(dout, cache),
        "forward+simplified_backward": forward_and_backward,
    }
    result = {name: median_seconds(fn, repeat, min_time) for name, fn in cases.items()}
    if torch is not None:
        threads = NUMPY_THREADS if torch_threads is None else torch_threads
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            step = _torch_step(x, gamma, beta, dout)
            result["torch_forward+backward"] = median_seconds(step, repeat, min_time)
        finally:
            torch.set_num_threads(previous)
    return result


def ratios(medians):
    """The ratios the course quotes, from one bench_batchnorm result.

    Returns a dict with
    - "staged/simplified": how much faster the closed-form backward is
    - "ours/torch": our forward + simplified backward over PyTorch's (when timed); <= 1
      means we are no slower
    - "<case>/copy" for every other case: its cost in units of one copy of x
    """
    out = {"staged/simplified": medians["staged_backward"] / medians["simplified_backward"]}
    if "torch_forward+backward" in medians:
        out["ours/torch"] = medians["forward+simplified_backward"] / medians["torch_forward+backward"]
    for name, seconds in medians.items():
        if name != "copy":
            out[f"{name}/copy"] = seconds / medians["copy"]
    return out
