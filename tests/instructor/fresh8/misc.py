"""steps_to_reach and torch_running_var: mistakes and correct variants."""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _steps_prelude(eval_steps, accuracies, target):
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
    _check_history(where, eval_steps, accuracies)
    return eval_steps, accuracies, validation.unit_interval(where, "target", target)


@steps.mistake("Requires the accuracy to exceed the target strictly (>), so reaching it exactly does not count.")
def str_strict(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies > target)
    return int(eval_steps[hits[0]]) if hits.size else None


@steps.mistake("Returns the index of the first evaluation that reaches the target instead of its step.")
def str_index(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(hits[0]) if hits.size else None


@steps.mistake("Returns the step of the best accuracy (np.argmax of accuracies) when the target is reached, not the first step that reaches it.")
def str_best_step(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    if not np.any(accuracies >= target):
        return None
    return int(eval_steps[np.argmax(accuracies)])


@steps.mistake("Returns the last step at which the accuracy is at least the target instead of the first.")
def str_last(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[-1]]) if hits.size else None


@steps.mistake("Returns -1 instead of None when the target is never reached.")
def str_minus_one(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[0]]) if hits.size else -1


@steps.mistake("Returns the numpy integer eval_steps[i] itself instead of a Python int.")
def str_numpy_int(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return eval_steps[hits[0]] if hits.size else None


@steps.mistake("Returns the step after the one that reaches the target (eval_steps[i + 1], the last step when i is the last).")
def str_next_step(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[min(hits[0] + 1, len(eval_steps) - 1)]) if hits.size else None


@steps.mistake("Uses np.argmax(accuracies >= target) without checking that any entry is True, so a history that never reaches the target gives its first step.")
def str_argmax_unchecked(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    return int(eval_steps[np.argmax(accuracies >= target)])


@steps.mistake("Returns the step as a float (float(eval_steps[i])) instead of an int.")
def str_float(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return float(eval_steps[hits[0]]) if hits.size else None


@steps.mistake("Compares with the target rounded to two decimals (accuracies >= round(target, 2)), as if accuracies were percentages of whole points.")
def str_rounded_target(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= round(target, 2))
    return int(eval_steps[hits[0]]) if hits.size else None


@steps.correct("Walks the history with zip and returns int(step) at the first accuracy >= target, else None.")
def str_loop(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    for step, acc in zip(eval_steps, accuracies):
        if acc >= target:
            return int(step)
    return None


@steps.correct("Searches the running maximum of the accuracies (np.maximum.accumulate) with np.searchsorted.")
def str_searchsorted(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    best = np.maximum.accumulate(accuracies) if accuracies.size else accuracies
    i = int(np.searchsorted(best, target, side="left"))
    return int(eval_steps[i]) if i < len(eval_steps) else None


@steps.correct("Uses np.argmax on the boolean mask after checking mask.any(), and converts with .item().")
def str_argmax_checked(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _steps_prelude(eval_steps, accuracies, target)
    mask = accuracies >= target
    return int(eval_steps[np.argmax(mask)].item()) if mask.any() else None


def _tv_prelude(running_var, N, k, momentum):
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2; got {N}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
    return running_var, validation.unit_interval(where, "momentum", momentum)


@torch_var.mistake("Forgets Bessel's correction: running_var + momentum**k.")
def tv_no_bessel(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return running_var + momentum**k


@torch_var.mistake("Inverts Bessel's factor: (N - 1) / N * running_var + momentum**k.")
def tv_inverted_bessel(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("Forgets PyTorch's start at ones: returns N / (N - 1) * running_var only.")
def tv_no_start(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return N / (N - 1) * running_var


@torch_var.mistake("Decays PyTorch's start with PyTorch's momentum, (1 - momentum)**k, instead of with ours, momentum**k.")
def tv_torch_momentum_decay(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("Decays the start one batch too few: momentum**(k - 1).")
def tv_off_by_one(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return N / (N - 1) * running_var + momentum ** (k - 1) if k else N / (N - 1) * running_var + momentum ** k


@torch_var.mistake("Adds the start of ones undecayed: N / (N - 1) * running_var + 1.")
def tv_start_undecayed(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return N / (N - 1) * running_var + 1


@torch_var.mistake("Applies Bessel's factor to the start term too: N / (N - 1) * (running_var + momentum**k).")
def tv_bessel_on_start(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("Modifies the given running_var in place (*= and +=) and returns it instead of a new array.")
def tv_in_place(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("Uses Bessel's factor for N - 1 rows, (N - 1) / (N - 2), as if the mean had cost a second degree of freedom.")
def tv_bessel_n_minus_2(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return running_var * (N - 1) / max(N - 2, 1) + momentum**k


@torch_var.correct("Multiplies with np.multiply and adds the decayed start with np.power.")
def tv_numpy_calls(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return np.multiply(running_var, N / (N - 1)) + np.power(momentum, k)


@torch_var.correct("Writes running_var * N / (N - 1) + momentum**k with the division last.")
def tv_reordered(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    return running_var * N / (N - 1) + momentum**k


@torch_var.correct("Copies running_var and scales and shifts the copy in place.")
def tv_copy_in_place(running_var, N, k, momentum):
    running_var, momentum = _tv_prelude(running_var, N, k, momentum)
    out = np.array(running_var, copy=True)
    out *= N / (N - 1)
    out += momentum**k
    return out
