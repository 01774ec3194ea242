"""Timing the course's layers: medians of repeated runs, compared as ratios.

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

`bench_convnet` times the convnet of notebook 7 at CIFAR-10's size (issues 12 and 23): one
training step of `SmallConvNet.loss(X, y)` and each of its layers, against the same
network and the same layers in PyTorch, all cases interleaved round by round
(`interleaved_medians`) so that a busy moment of the machine hits every case alike. Our
convolution reaches BLAS, whose threads it sets through `cs231n_bn.threads` (threadpoolctl,
effective after NumPy is imported): one thread each side, or both libraries' defaults.
"""

import datetime
import os
import platform
import statistics
import time
import timeit
from dataclasses import dataclass

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn import validation
from cs231n_bn.threads import limit_blas_threads

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
# PyTorch's own thread count (one per core), read before anything here changes it
TORCH_DEFAULT_THREADS = torch.get_num_threads() if torch is not None else None


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
    min_time = validation.positive_number(where, "min_time", min_time)
    clock = timeit.Timer(fn, timer=timer)
    number, calibration_calls = _calibrate(clock, min_time)
    seconds = tuple(clock.timeit(number) / number for _ in range(repeat))
    return Rounds(number=number, calibration_calls=calibration_calls, seconds_per_call=seconds)


def _calibrate(clock, min_time):
    """(calls per round, calls spent): the first of 1, 2, 5, 10, ... calls lasting min_time."""
    calibration_calls = 0
    for number in _candidate_numbers():
        elapsed = clock.timeit(number)
        calibration_calls += number
        if elapsed >= min_time:
            return number, calibration_calls


def interleaved_medians(cases, repeat=7, min_time=0.05, timer=time.perf_counter):
    """Median seconds per call of every case, the cases timed in turn within each round.

    Each case first gets its number of calls per round (as in time_rounds); then every
    round times each case once, in the order given. A disturbance that lasts a while (another
    process on the core) then lands on all cases of a round instead of on one case's rounds,
    so the ratios between cases stay fair even when the absolute times move.

    Inputs:
    - cases: dict name -> callable taking no arguments
    - repeat: number of rounds, >= 1
    - min_time: seconds each case's share of a round lasts at least, > 0
    - timer: clock returning seconds

    Returns:
    - dict name -> median seconds per call, in the order of `cases`
    """
    where = "interleaved_medians"
    if not isinstance(cases, dict) or not cases:
        raise TypeError(f"{where}: cases must be a non-empty dict of name -> callable; got {cases!r}")
    for name, fn in cases.items():
        if not callable(fn):
            raise TypeError(f"{where}: case {name!r} must be callable with no arguments; got {type(fn).__name__}")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"{where}: repeat must be an integer >= 1; got {repeat!r}")
    min_time = validation.positive_number(where, "min_time", min_time)
    clocks = {name: timeit.Timer(fn, timer=timer) for name, fn in cases.items()}
    numbers = {name: _calibrate(clock, min_time)[0] for name, clock in clocks.items()}
    seconds = {name: [] for name in cases}
    for _ in range(repeat):
        for name, clock in clocks.items():
            seconds[name].append(clock.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in seconds.items()}


def median_seconds(fn, repeat=7, min_time=0.05, timer=time.perf_counter):
    """Median over `repeat` rounds of the time of one call of fn(), in seconds.

    Inputs: as time_rounds.

    Returns:
    - the median of the per-call times of the rounds (a float)
    """
    return statistics.median(time_rounds(fn, repeat, min_time, timer).seconds_per_call)


# The CPU's widest vector instructions, as /proc/cpuinfo names them; a BLAS kernel written for
# narrower ones (OpenBLAS's "Haswell" is AVX2) computes a product at most half as fast.
VECTOR_EXTENSIONS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))


def cpu_from_cpuinfo(text):
    """The CPU's model name and widest vector instructions from /proc/cpuinfo's text, e.g. "AMD EPYC (AVX-512)".

    Raises StopIteration if the text has no model name or no flags line.
    """
    lines = text.splitlines()
    name = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    flags = next(line.split(":", 1)[1].split() for line in lines if line.startswith("flags"))
    return f"{name} ({next((ext for flag, ext in VECTOR_EXTENSIONS if flag in flags), 'no AVX')})"


def machine_description():
    """One paragraph on where and under what load the numbers were taken."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = cpu_from_cpuinfo(f.read())
    except (OSError, StopIteration):
        pass
    torch_version = torch.__version__ if torch is not None else "not installed"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{date}; {cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch_version}; load average (1, 5, 15 min) "
        f"at the start: {load}"
    )


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


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


# ---------------------------------------------------------------------------------------
# The convnet of notebook 7 at CIFAR-10's size, next to the same network in PyTorch.

CONVNET_LAYERS = ("conv forward", "conv backward", "batchnorm forward", "batchnorm backward",
                  "pool forward", "pool backward")
CIFAR10_TRAIN_IMAGES = 49_000  # the training split of CIFAR-10 as CS231n and get_data("cifar10") cut it


def convnet_inputs(N=50, input_dim=(3, 32, 32), num_filters=32, num_blocks=2, dtype=np.float32, seed=0):
    """A SmallConvNet with batch norm and a seeded batch for it: (model, X, y).

    The defaults are issue 12's step: 50 CIFAR-10-sized images, 32 filters of 3x3, two
    conv - batchnorm - relu - pool blocks, float32. gamma and beta are drawn away from 1
    and 0 so that no layer's work is trivial.
    """
    from cs231n_bn.cnn import SmallConvNet  # here, so that timing batch norm does not import the convnet

    model = SmallConvNet(
        input_dim=input_dim, num_filters=num_filters, num_classes=10, normalization="batchnorm",
        num_blocks=num_blocks, dtype=dtype, seed=seed,
    )
    rng = np.random.default_rng(seed)
    for i in range(1, num_blocks + 1):
        model.params[f"gamma{i}"] = rng.uniform(0.5, 2.0, num_filters).astype(dtype)
        model.params[f"beta{i}"] = rng.normal(0, 1, num_filters).astype(dtype)
    X = rng.normal(size=(N, *input_dim)).astype(dtype)
    y = rng.integers(0, 10, size=N)
    return model, X, y


def _torch_convnet_step(model, X, y):
    """A no-argument function: the same network as `model`, forward and backward in PyTorch."""
    F = torch.nn.functional
    params = {name: torch.from_numpy(p.copy()).requires_grad_(True) for name, p in model.params.items()}
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    last = model.num_blocks + 1
    pad = model.conv_param["pad"]
    running = [(torch.zeros(p.shape[0], dtype=X_t.dtype), torch.ones(p.shape[0], dtype=X_t.dtype))
               for name, p in model.params.items() if name.startswith("gamma")]
    names = list(params)
    weights = [f"W{i}" for i in range(1, last + 1)]

    def step():
        a = X_t
        for i in range(1, last):
            a = F.conv2d(a, params[f"W{i}"], params[f"b{i}"], padding=pad)
            a = F.batch_norm(a, *running[i - 1], params[f"gamma{i}"], params[f"beta{i}"], training=True,
                             momentum=0.1, eps=1e-5)
            # pooled before the ReLU, in the order of our step (the two commute; SmallConvNet)
            a = F.relu(F.max_pool2d(a, 2))
        scores = a.flatten(1) @ params[f"W{last}"] + params[f"b{last}"]
        loss = F.cross_entropy(scores, y_t) + 0.5 * model.reg * sum((params[w] ** 2).sum() for w in weights)
        grads = torch.autograd.grad(loss, [params[name] for name in names])
        return loss, dict(zip(names, grads))

    return step


def _channels_first_copy(a):
    """(N, C, H, W) a as a view of a (C, N, H, W) copy: the same values in channels-first memory."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _layer_cases(model, X, rng):
    """Every layer of every block, ours and PyTorch's, on the inputs the step gives it.

    Returns a dict "block i <layer>" -> (ours, theirs), each a no-argument function
    (theirs None without PyTorch). Backward cases reuse one cache from a forward pass.
    """
    from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
    from cs231n_bn.spatial import spatial_batchnorm_backward, spatial_batchnorm_forward

    aten = torch.ops.aten if torch is not None else None
    cases, a = {}, X
    pad, p = model.conv_param["pad"], model.params
    for i in range(1, model.num_blocks + 1):
        w, b, gamma, beta = p[f"W{i}"], p[f"b{i}"], p[f"gamma{i}"], p[f"beta{i}"]
        # Every array in the layout our step gives it: the feature maps and their gradients
        # stay channels first from the convolution to the pool and back, except the gradient
        # that the last pool gets from the (N, C*H*W) affine layer. PyTorch's side gets the
        # same values in (N, C, H, W) order, as its own step gives them.
        conv_out, conv_cache = conv_forward(a, w, b, model.conv_param)
        dconv = _channels_first_copy(rng.normal(size=conv_out.shape).astype(conv_out.dtype))
        bn_param = {"mode": "train"}
        bn_out, bn_cache = spatial_batchnorm_forward(conv_out, gamma, beta, bn_param)
        # the step pools batch norm's output and applies the ReLU after the pool (SmallConvNet)
        pool_out, pool_cache = max_pool_forward(bn_out, model.pool_param)
        dpool = rng.normal(size=pool_out.shape).astype(pool_out.dtype)
        if i < model.num_blocks:
            dpool = _channels_first_copy(dpool)
        ours = {
            "conv forward": lambda a=a, w=w, b=b: conv_forward(a, w, b, model.conv_param),
            "conv backward": lambda d=dconv, c=conv_cache: conv_backward(d, c),
            "batchnorm forward": lambda x=conv_out, g=gamma, bt=beta: spatial_batchnorm_forward(x, g, bt, {"mode": "train"}),
            "batchnorm backward": lambda d=dconv, c=bn_cache: spatial_batchnorm_backward(d, c),
            "pool forward": lambda x=bn_out: max_pool_forward(x, model.pool_param),
            "pool backward": lambda d=dpool, c=pool_cache: max_pool_backward(d, c),
        }
        theirs = dict.fromkeys(ours)
        if torch is not None:
            a_t, w_t, b_t, g_t, bt_t = (torch.from_numpy(np.ascontiguousarray(v)) for v in (a, w, b, gamma, beta))
            conv_t, dconv_t, bn_t, dpool_t = (torch.from_numpy(np.ascontiguousarray(v))
                                              for v in (conv_out, dconv, bn_out, dpool))
            rm, rv = torch.zeros_like(g_t), torch.ones_like(g_t)
            _, save_mean, save_invstd = aten.native_batch_norm(conv_t, g_t, bt_t, rm, rv, True, 0.1, 1e-5)
            window = [model.pool_param["pool_height"], model.pool_param["pool_width"]]
            stride = [model.pool_param["stride"]] * 2
            _, indices = aten.max_pool2d_with_indices(bn_t, window, stride)
            F_ = w.shape[0]
            theirs = {
                "conv forward": lambda a=a_t, w=w_t, b=b_t: torch.nn.functional.conv2d(a, w, b, padding=pad),
                "conv backward": lambda d=dconv_t, a=a_t, w=w_t, F_=F_: aten.convolution_backward(
                    d, a, w, [F_], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [True, True, True]),
                "batchnorm forward": lambda x=conv_t, g=g_t, bt=bt_t, rm=rm, rv=rv: aten.native_batch_norm(
                    x, g, bt, rm, rv, True, 0.1, 1e-5),
                "batchnorm backward": lambda d=dconv_t, x=conv_t, g=g_t, rm=rm, rv=rv, sm=save_mean, si=save_invstd:
                    aten.native_batch_norm_backward(d, x, g, rm, rv, sm, si, True, 1e-5, [True, True, True]),
                "pool forward": lambda x=bn_t: aten.max_pool2d_with_indices(x, window, stride),
                "pool backward": lambda d=dpool_t, x=bn_t, idx=indices: aten.max_pool2d_with_indices_backward(
                    d, x, window, stride, [0, 0], [1, 1], False, idx),
            }
        for layer in CONVNET_LAYERS:
            cases[f"block {i} {layer}"] = (ours[layer], theirs[layer])
        a = pool_out
    return cases


def bench_convnet(N=50, input_dim=(3, 32, 32), num_filters=32, num_blocks=2, dtype=np.float32, repeat=7,
                  min_time=0.05, seed=0, threads=1, layers=True):
    """Median seconds of one training step of the convnet and of each layer, ours and PyTorch's.

    Every case runs in turn within each round (interleaved_medians). The step is
    `model.loss(X, y)` against PyTorch's forward pass and `torch.autograd.grad` of the same
    network with the same weights (F.conv2d, F.batch_norm in training mode, F.max_pool2d,
    relu, a linear layer, cross-entropy plus the same L2 term). The layers are
    timed on the inputs the step gives them: ours against PyTorch's own kernels
    (aten.convolution_backward, native_batch_norm(_backward), max_pool2d_with_indices(_backward)).

    Inputs:
    - N, input_dim, num_filters, num_blocks, dtype, seed: as convnet_inputs
    - repeat, min_time: as interleaved_medians
    - threads: threads of NumPy's BLAS and of PyTorch, an integer >= 1 (default 1: one core
      each side), or None for both libraries' defaults; restored afterwards
    - layers: also time every layer (False: the step only)

    Returns:
    - dict case -> (ours, theirs) median seconds per call, theirs None without PyTorch;
      the cases are "step" and, with layers, "block i <layer>" for i = 1 .. num_blocks
    """
    model, X, y = convnet_inputs(N, input_dim, num_filters, num_blocks, dtype, seed)
    pairs = {"step": (lambda: model.loss(X, y), None)}
    previous_torch = torch.get_num_threads() if torch is not None else None
    previous_blas = limit_blas_threads(threads)
    try:
        if torch is not None:
            torch.set_num_threads(TORCH_DEFAULT_THREADS if threads is None else threads)
            pairs["step"] = (pairs["step"][0], _torch_convnet_step(model, X, y))
        if layers:
            pairs.update(_layer_cases(model, X, np.random.default_rng([seed, 1])))
        cases = {}
        for name, (ours, theirs) in pairs.items():
            cases[("ours", name)] = ours
            if theirs is not None:
                cases[("torch", name)] = theirs
        medians = interleaved_medians(cases, repeat, min_time)
    finally:
        if torch is not None:
            torch.set_num_threads(previous_torch)
        limit_blas_threads(min(previous_blas.values()) if previous_blas else None)
    return {name: (medians[("ours", name)], medians.get(("torch", name))) for name in pairs}
