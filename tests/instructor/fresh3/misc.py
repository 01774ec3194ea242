"""steps_to_reach and torch_running_var: mistakes and correct variants.

`_history` and `_torch_inputs` are the stub's checks before the region.
"""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history

from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _history(eval_steps, accuracies, target):
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
    _check_history(where, eval_steps, accuracies)
    return eval_steps, accuracies, validation.unit_interval(where, "target", target)


# ================================================================ steps_to_reach

@steps.mistake("strict comparison accuracies > target: reaching the target exactly does not count")
def strictly_above(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies > target)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("returns the index of the evaluation instead of its step")
def returns_index(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0]) if reached.size else None


@steps.mistake("returns the last step at or above the target instead of the first")
def last_step(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[-1]]) if reached.size else None


@steps.mistake("returns the NumPy integer eval_steps[i] (np.int64, or float for float steps) instead of a Python int")
def numpy_integer(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return eval_steps[reached[0]] if reached.size else None


@steps.mistake("returns -1 when the target is never reached, instead of None")
def minus_one_when_never(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else -1


@steps.mistake("np.argmax(accuracies >= target) unguarded: a history that never reaches the target gives its first step")
def unguarded_argmax(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    return int(eval_steps[np.argmax(accuracies >= target)])


@steps.mistake("returns the step of the best accuracy when that reaches the target, not the first step that does")
def step_of_best(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    best = int(np.argmax(accuracies))
    return int(eval_steps[best]) if accuracies[best] >= target else None


@steps.mistake("returns the last step before the target was reached (index - 1), counting steps 'needed'")
def step_before(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[max(reached[0] - 1, 0)]) if reached.size else None


@steps.mistake("counts evaluations up to the first reach ((index + 1) evaluations) instead of returning the step")
def counts_evaluations(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0] + 1) if reached.size else None


@steps.correct("a plain loop over zip(eval_steps, accuracies), returning int(step) at the first reach")
def loop(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy >= target:
            return int(step)
    return None


@steps.correct("np.argmax guarded by .any(), the step converted with .item()")
def guarded_argmax(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _history(eval_steps, accuracies, target)
    reached = accuracies >= target
    if not reached.any():
        return None
    return int(eval_steps[np.argmax(reached)].item())


# ================================================================ torch_running_var

def _torch_inputs(running_var, N, k, momentum):
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2; got {N}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
    return running_var, validation.unit_interval(where, "momentum", momentum)


@torch_var.mistake("forgets PyTorch's start value 1: only the unbiased rescaling N / (N - 1) * running_var")
def no_start_value(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * running_var


@torch_var.mistake("Bessel's factor inverted: (N - 1) / N * running_var + momentum**k")
def bessel_inverted(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("start value decayed k - 1 times: momentum**(k - 1)")
def start_decay_off_by_one(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * running_var + momentum ** (k - 1)


@torch_var.mistake("start value decayed with PyTorch's momentum: (1 - momentum)**k")
def start_decay_torch_momentum(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("adds the start value 1 undecayed: N / (N - 1) * running_var + 1")
def start_not_decayed(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * running_var + 1.0


@torch_var.mistake("applies Bessel's factor to the start value too: N / (N - 1) * (running_var + momentum**k)")
def bessel_on_start(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("Bessel's factor over all k * N rows seen: k*N / (k*N - 1)")
def bessel_over_all_rows(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    rows = max(k * N, 2)
    return rows / (rows - 1) * running_var + momentum**k


@torch_var.mistake("rescales the caller's running_var in place and returns that same array")
def in_place(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("subtracts the start value's share instead of adding it: N / (N - 1) * running_var - momentum**k")
def start_subtracted(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    return N / (N - 1) * running_var - momentum**k


@torch_var.correct("the start value decayed by a loop of k multiplications, Bessel's factor as 1 + 1/(N - 1)")
def loop_decay(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    start = 1.0
    for _ in range(k):
        start *= momentum
    return running_var * (1 + 1 / (N - 1)) + start


@torch_var.correct("np.multiply and np.add into a fresh array of running_var's dtype")
def ufuncs(running_var, N, k, momentum):
    running_var, momentum = _torch_inputs(running_var, N, k, momentum)
    out = np.multiply(running_var, N / (N - 1))
    return np.add(out, momentum**k, out=out)
