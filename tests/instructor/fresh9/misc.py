"""steps_to_reach (notebook 5) and torch_running_var (notebook 8)."""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

reach = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _rsetup(eval_steps, accuracies, target):
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
    _check_history(where, eval_steps, accuracies)
    return eval_steps, accuracies, validation.unit_interval(where, "target", target)


@reach.mistake("Compares with > instead of >=, so reaching the target exactly does not count.")
def strict_comparison(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc > target)
    return int(steps[hit[0]]) if hit.size else None


@reach.mistake("Returns the index of the first evaluation that reaches the target instead of its step.")
def returns_index(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return int(hit[0]) if hit.size else None


@reach.mistake("Returns the NumPy integer eval_steps[i] instead of a Python int.")
def numpy_integer(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return steps[hit[0]] if hit.size else None


@reach.mistake("Returns the last step at which the accuracy is at or above the target instead of the first.")
def last_step(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return int(steps[hit[-1]]) if hit.size else None


@reach.mistake("Returns the step of the evaluation after the first one that reaches the target (index + 1).")
def next_step(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return int(steps[min(hit[0] + 1, len(steps) - 1)]) if hit.size else None


@reach.mistake("Returns -1 instead of None when the target is never reached.")
def minus_one_when_missed(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return int(steps[hit[0]]) if hit.size else -1


@reach.mistake("Uses np.argmax(accuracies >= target) without checking that any entry is True, so a target never reached gives the first step.")
def argmax_unchecked(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    return int(steps[np.argmax(acc >= target)])


@reach.mistake("Returns the step of the best accuracy (np.argmax(accuracies)) if it reaches the target, rather than the first step that does.")
def step_of_best(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    best = int(np.argmax(acc))
    return int(steps[best]) if acc[best] >= target else None


@reach.mistake("Returns the step as a float (float(eval_steps[i])) instead of an int.")
def float_step(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return float(steps[hit[0]]) if hit.size else None


@reach.mistake("Rounds the accuracies to two decimals before comparing, so 0.995 counts as reaching 1.0.")
def rounded_accuracies(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(np.round(acc, 2) >= target)
    return int(steps[hit[0]]) if hit.size else None


@reach.mistake("Loops with `if acc >= target: result = step` without breaking, returning the last step reached rather than the first.")
def loop_without_break(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    result = None
    for step, a in zip(steps, acc):
        if a >= target:
            result = int(step)
    return result


@reach.mistake("Returns 0 instead of None when the target is never reached (`or 0` fallback).")
def zero_when_missed(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    hit = np.flatnonzero(acc >= target)
    return int(steps[hit[0]]) if hit.size else 0


@reach.correct("A Python loop over zip(eval_steps, accuracies) returning int(step) at the first hit, None after the loop.")
def loop_first_hit(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    for step, a in zip(steps, acc):
        if a >= target:
            return int(step)
    return None


@reach.correct("np.argmax on the boolean mask, guarded by mask.any().")
def argmax_guarded(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    mask = acc >= target
    return int(steps[np.argmax(mask)]) if mask.any() else None


@reach.correct("next() over a generator of the qualifying steps with default None, converting with .item().")
def next_generator(eval_steps, accuracies, target):
    steps, acc, target = _rsetup(eval_steps, accuracies, target)
    return next((int(s.item()) for s, a in zip(steps, acc) if a >= target), None)


def _tsetup(running_var, N, k, momentum):
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0")
    return running_var, validation.unit_interval(where, "momentum", momentum)


@torch_var.mistake("Uses the Bessel factor upside down: (N - 1) / N * running_var + momentum**k.")
def bessel_inverted(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("Forgets PyTorch's start value of 1: returns N / (N - 1) * running_var only.")
def no_start_value(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var


@torch_var.mistake("Adds the start value 1 undecayed: N / (N - 1) * running_var + 1 instead of + momentum**k.")
def start_not_decayed(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var + 1.0


@torch_var.mistake("Decays the start value with PyTorch's momentum: + (1 - momentum)**k instead of momentum**k.")
def start_decayed_by_torch_momentum(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("Decays the start value one batch too few: + momentum**(k - 1).")
def start_off_by_one(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var + momentum ** (k - 1) if k else N / (N - 1) * running_var + 1.0


@torch_var.mistake("Applies the Bessel factor to the start term too: N / (N - 1) * (running_var + momentum**k).")
def bessel_on_start(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("Overwrites the caller's running_var in place (*= and +=) and returns it instead of a new array.")
def in_place(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("Guards the start term with `momentum**k if momentum else 0`, so momentum 0 with k = 0 batches gives 0 instead of 1.")
def zero_momentum_guard(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (momentum**k if momentum else 0.0)


@torch_var.mistake("Uses the Bessel factor N / (N + 1) instead of N / (N - 1).")
def bessel_plus_one(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N + 1) * running_var + momentum**k


@torch_var.mistake("Multiplies instead of adding the start term: N / (N - 1) * running_var * momentum**k.")
def start_multiplied(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return N / (N - 1) * running_var * momentum**k


@torch_var.correct("Replays k decays of the start value in a loop (start = 1, start *= momentum k times).")
def loop_start(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    start = 1.0
    for _ in range(k):
        start *= momentum
    return running_var * N / (N - 1) + start


@torch_var.correct("Bessel factor written 1 + 1 / (N - 1), start term with np.power, result cast to running_var's dtype.")
def np_power(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    return ((1 + 1 / (N - 1)) * running_var + np.power(momentum, k)).astype(running_var.dtype)


@torch_var.correct("Writes into a copy: out = running_var.copy(); out *= N / (N - 1); out += momentum**k.")
def in_place_on_copy(running_var, N, k, momentum):
    running_var, momentum = _tsetup(running_var, N, k, momentum)
    out = running_var.copy()
    out *= N / (N - 1)
    out += momentum**k
    return out
