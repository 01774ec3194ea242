"""Two small functions: steps_to_reach (notebook 5) and torch_running_var (notebook 8)."""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

reach = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _reach_begin(eval_steps, accuracies, target):
    where = "steps_to_reach"
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
    _check_history(where, eval_steps, accuracies)
    return eval_steps, accuracies, validation.unit_interval(where, "target", target)


@reach.mistake("strict comparison: reaching the target exactly does not count")
def sr_strict(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies > target)
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("returns the index of the evaluation, not its step")
def sr_index(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(hits[0]) if hits.size else None


@reach.mistake("returns the last step at or above the target, not the first")
def sr_last(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[-1]]) if hits.size else None


@reach.mistake("the step of the best accuracy (argmax), when it reaches the target at all")
def sr_argmax(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    best = int(np.argmax(accuracies))
    return int(eval_steps[best]) if accuracies[best] >= target else None


@reach.mistake("returns a NumPy integer (np.int64), not a Python int")
def sr_numpy_int(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return eval_steps[hits[0]] if hits.size else None


@reach.mistake("returns -1 when the target is never reached, instead of None")
def sr_minus_one(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[0]]) if hits.size else -1


@reach.mistake("the step before the first hit (thinks the accuracy was reached during the previous interval)")
def sr_previous(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[max(hits[0] - 1, 0)]) if hits.size else None


@reach.mistake("np.argmax(accuracies >= target) without checking for a hit: step 0's entry when never reached")
def sr_argmax_bool(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    return int(eval_steps[np.argmax(accuracies >= target)])


@reach.mistake("returns the step as a float")
def sr_float(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return float(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("np.searchsorted on the accuracies, as if they never went down")
def sr_searchsorted(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    k = int(np.searchsorted(accuracies, target, side="left"))
    return int(eval_steps[k]) if k < len(accuracies) else None


@reach.mistake("compares accuracies rounded to two decimals, so near misses count")
def sr_rounded(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(np.round(accuracies, 2) >= target)
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("a tolerance of 1e-3 below the target 'for floating point'")
def sr_tolerance(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target - 1e-3)
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("counts steps from 1: returns index + 1")
def sr_one_based(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.flatnonzero(accuracies >= target)
    return int(hits[0]) + 1 if hits.size else None


@reach.correct("a plain loop over zip(eval_steps, accuracies)")
def sr_loop(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy >= target:
            return int(step)
    return None


@reach.correct("next() over a generator with a default of None")
def sr_next(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    return next((int(s) for s, a in zip(eval_steps.tolist(), accuracies.tolist()) if a >= target), None)


@reach.correct("np.argmax of the boolean mask, guarded by .any()")
def sr_argmax_guarded(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    reached = accuracies >= target
    return int(eval_steps[np.argmax(reached)]) if reached.any() else None


@reach.correct("not (accuracy < target): the complement of falling short")
def sr_complement(eval_steps, accuracies, target):
    eval_steps, accuracies, target = _reach_begin(eval_steps, accuracies, target)
    hits = np.nonzero(~(accuracies < target))[0]
    return None if len(hits) == 0 else int(eval_steps[hits].min())


def _torch_begin(running_var, N, k, momentum):
    where = "torch_running_var"
    running_var = validation.float_array(where, "running_var", running_var, ndim=1)
    if validation.positive_int(where, "N", N) < 2:
        raise ValueError(f"{where}: N must be >= 2")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
        raise ValueError(f"{where}: k must be an integer >= 0")
    return running_var, validation.unit_interval(where, "momentum", momentum)


@torch_var.mistake("only the Bessel factor: forgets that PyTorch's average starts at 1, not 0")
def tv_bessel_only(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * running_var


@torch_var.mistake("the Bessel factor upside down: (N - 1) / N")
def tv_bessel_inverted(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("decays the start value with PyTorch's momentum (1 - m)**k instead of ours")
def tv_torch_momentum(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("adds the start value 1 without decaying it")
def tv_start_not_decayed(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * running_var + 1


@torch_var.mistake("applies the Bessel factor to the start value's share too")
def tv_bessel_on_start(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("forgets the Bessel correction: ours plus the decayed start")
def tv_no_bessel(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return running_var + momentum**k


@torch_var.mistake("off by one batch: momentum**(k - 1)")
def tv_off_by_one(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * running_var + momentum ** (k - 1)


@torch_var.mistake("converts in place and returns the caller's array")
def tv_in_place(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("integer division N // (N - 1) for the Bessel factor")
def tv_floor_division(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N // (N - 1) * running_var + momentum**k


@torch_var.mistake("special-cases k == 0 by returning a copy of ours (zeros), but PyTorch's is then its start value 1")
def tv_k_zero(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    if k == 0:
        return running_var.copy()
    return N / (N - 1) * running_var + momentum**k


@torch_var.mistake("the start's share as 1 - momentum**k (the weight of the batches, not of the start)")
def tv_batch_share(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return N / (N - 1) * running_var + (1 - momentum**k)


@torch_var.correct("the start value decayed in a loop of k multiplications")
def tv_loop(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    start = 1.0
    for _ in range(k):
        start *= momentum
    return running_var * N / (N - 1) + start


@torch_var.correct("np.power for the decay and a copy converted in place")
def tv_copy(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    result = running_var.copy()
    result *= N / (N - 1)
    result += float(np.power(momentum, k))
    return result


@torch_var.correct("Bessel factor written as 1 + 1 / (N - 1)")
def tv_bessel_sum(running_var, N, k, momentum):
    running_var, momentum = _torch_begin(running_var, N, k, momentum)
    return (1 + 1 / (N - 1)) * running_var + momentum**k
