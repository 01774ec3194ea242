"""steps_to_reach and torch_running_var: mistakes and variants."""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _steps_pre(eval_steps, accuracies, target):
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
    _check_history(where, eval_steps, accuracies)
    return eval_steps, accuracies, validation.unit_interval(where, "target", target)


# ------------------------------------------------------------------ steps_to_reach

@steps.mistake("Requires accuracy > target, so reaching the target exactly does not count.")
def strict_comparison(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies > target)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns the index of the first evaluation that reaches the target instead of its step.")
def returns_index(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0]) if reached.size else None


@steps.mistake("Returns the step as a NumPy integer (np.int64) instead of a Python int.")
def returns_numpy_int(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return np.int64(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns the last step at which the accuracy reaches the target instead of the first.")
def last_step(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[-1]]) if reached.size else None


@steps.mistake("Returns -1 instead of None when the target is never reached.")
def minus_one_when_never(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else -1


@steps.mistake("Uses np.argmax(accuracies >= target) without checking that any entry is True, so a never-reached target gives the first step.")
def argmax_without_check(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    if eval_steps.size == 0:
        return None
    return int(eval_steps[np.argmax(accuracies >= target)])


@steps.mistake("Returns the step of the evaluation after the first one that reaches the target (off by one).")
def next_step(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    if not reached.size:
        return None
    return int(eval_steps[min(reached[0] + 1, eval_steps.size - 1)])


@steps.mistake("Returns the step as a float (float(eval_steps[i])) instead of a Python int.")
def returns_float(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return float(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns the step of the best accuracy (argmax), whether or not it reaches the target first elsewhere.")
def step_of_best(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    if not np.any(accuracies >= target):
        return None
    return int(eval_steps[np.argmax(accuracies)])


@steps.mistake("Uses np.searchsorted(accuracies, target) as if the accuracies only ever increased.")
def searchsorted_raw(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    i = int(np.searchsorted(accuracies, target, side="left"))
    return int(eval_steps[i]) if i < accuracies.size else None


@steps.mistake("Returns a 1-based count of evaluations, index + 1, instead of the step.")
def one_based_count(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0]) + 1 if reached.size else None


@steps.correct("A plain loop over zip(eval_steps, accuracies), returning int(step) at the first accuracy >= target.")
def loop_zip(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy >= target:
            return int(step)
    return None


@steps.correct("np.searchsorted on the running maximum of the accuracies, which only increases.")
def searchsorted_running_max(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    best = np.maximum.accumulate(accuracies) if accuracies.size else accuracies
    i = int(np.searchsorted(best, target, side="left"))
    return int(eval_steps[i]) if i < best.size else None


@steps.correct("next() over a generator of matching steps, with None as the default; .item() for the int.")
def next_generator(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_pre(eval_steps, accuracies, target)
    found = next((s for s, a in zip(eval_steps.tolist(), accuracies.tolist()) if a >= target), None)
    return None if found is None else int(found)


# ------------------------------------------------------------------ torch_running_var

def _torch_pre(running_var, N, k, momentum):
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2; got {N}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
    return running_var, validation.unit_interval(where, "momentum", momentum)


@torch_var.mistake("Applies Bessel's factor upside down, (N - 1) / N instead of N / (N - 1).")
def bessel_inverted(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("Leaves out Bessel's factor: PyTorch's running variance averages the unbiased batch variance.")
def no_bessel(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return running_var + momentum**k


@torch_var.mistake("Forgets PyTorch's start value 1: returns N / (N - 1) * running_var only.")
def no_start_term(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N / (N - 1) * running_var


@torch_var.mistake("Decays the start value with PyTorch's momentum, (1 - momentum)**k, instead of ours, momentum**k.")
def start_decayed_by_torch_momentum(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("Decays the start value k - 1 times instead of k: momentum**(k - 1).")
def start_off_by_one(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N / (N - 1) * running_var + momentum ** (k - 1)


@torch_var.mistake("Applies Bessel's factor to the start term too: N / (N - 1) * (running_var + momentum**k).")
def bessel_on_start(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("Adds the start value 1 undecayed instead of momentum**k.")
def start_not_decayed(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N / (N - 1) * running_var + 1.0


@torch_var.mistake("Scales the caller's running_var in place (running_var *= N / (N - 1)) before adding the start term.")
def in_place(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("Computes Bessel's factor with integer division, N // (N - 1), which is 1 for every N > 2.")
def integer_division(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return N // (N - 1) * running_var + momentum**k


@torch_var.mistake("Special-cases k == 0 by returning running_var unchanged, though PyTorch's value then is its start value 1.")
def k_zero_passthrough(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    if k == 0:
        return running_var.copy()
    return N / (N - 1) * running_var + momentum**k


@torch_var.mistake("Weights the converted average by PyTorch's momentum: (1 - momentum) * N / (N - 1) * running_var + momentum**k.")
def extra_momentum_weight(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return (1 - momentum) * N / (N - 1) * running_var + momentum**k


@torch_var.correct("Keeps running_var's dtype: both terms cast to it before adding, into a new array.")
def keeps_dtype(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    f = running_var.dtype.type
    return running_var * f(N / (N - 1)) + f(momentum**k)


@torch_var.correct("Decays the start value in a loop, k multiplications by momentum, on a copy of running_var.")
def start_by_loop(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    start = 1.0
    for _ in range(k):
        start *= momentum
    out = np.array(running_var, dtype=np.float64, copy=True)
    out *= N / (N - 1)
    out += start
    return out


@torch_var.correct("np.power for the start term and np.multiply for Bessel's factor, written as 1 + 1 / (N - 1).")
def ufunc_form(running_var, N, k, momentum):
    running_var, momentum = _torch_pre(running_var, N, k, momentum)
    return np.add(np.multiply(running_var, 1 + 1 / (N - 1)), np.power(momentum, k))
