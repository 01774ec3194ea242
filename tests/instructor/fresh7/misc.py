"""steps_to_reach and torch_running_var: mistakes and correct variants inside the scaffold."""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

reach = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _steps(region):
    """The scaffold of steps_to_reach around region(eval_steps, accuracies, target)."""
    def steps_to_reach(eval_steps, accuracies, target):
        where = "steps_to_reach"
        eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
        if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
            raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
        _check_history(where, eval_steps, accuracies)
        target = validation.unit_interval(where, "target", target)
        return region(eval_steps, accuracies, target)
    steps_to_reach.__name__ = region.__name__
    return steps_to_reach


@reach.mistake("strict > : reaching the target exactly does not count")
@_steps
def reach_strict(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies > target)
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("returns the index of the evaluation, not its step")
@_steps
def reach_index(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return int(hits[0]) if hits.size else None


@reach.mistake("returns the LAST step at which the target is reached")
@_steps
def reach_last(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[-1]]) if hits.size else None


@reach.mistake("returns a numpy integer (eval_steps[i]) where the contract says a Python int")
@_steps
def reach_numpy_int(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return eval_steps[hits[0]] if hits.size else None


@reach.mistake("returns -1 when the target is never reached, instead of None")
@_steps
def reach_minus_one(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hits[0]]) if hits.size else -1


@reach.mistake("np.argmax(accuracies >= target) without checking: a history that never reaches it gives the first step")
@_steps
def reach_argmax(eval_steps, accuracies, target):
    return int(eval_steps[np.argmax(accuracies >= target)])


@reach.mistake("returns the step of the best accuracy when it reaches the target")
@_steps
def reach_best(eval_steps, accuracies, target):
    best = int(np.argmax(accuracies))
    return int(eval_steps[best]) if accuracies[best] >= target else None


@reach.mistake("off by one: the step of the evaluation after the first that reaches the target")
@_steps
def reach_next(eval_steps, accuracies, target):
    for i in range(len(accuracies) - 1):
        if accuracies[i] >= target:
            return int(eval_steps[i + 1])
    return None


@reach.mistake("the loop starts at index 1, skipping the evaluation at the first step")
@_steps
def reach_skip_first(eval_steps, accuracies, target):
    for i in range(1, len(accuracies)):
        if accuracies[i] >= target:
            return int(eval_steps[i])
    return None


@reach.mistake("accuracies rounded to two decimals before comparing (0.895 reaches 0.9)")
@_steps
def reach_rounded(eval_steps, accuracies, target):
    hits = np.flatnonzero(np.round(accuracies, 2) >= target)
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("returns a float step (eval_steps as float)")
@_steps
def reach_float(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return float(eval_steps[hits[0]]) if hits.size else None


@reach.mistake("the number of evaluations until the target (index + 1), read as 'steps to reach'")
@_steps
def reach_count(eval_steps, accuracies, target):
    hits = np.flatnonzero(accuracies >= target)
    return int(hits[0]) + 1 if hits.size else None


@reach.mistake("the running best accuracy compared with a tolerance: np.isclose counts 0.89999 as reaching 0.9")
@_steps
def reach_isclose(eval_steps, accuracies, target):
    hits = np.flatnonzero((accuracies >= target) | np.isclose(accuracies, target, atol=1e-3))
    return int(eval_steps[hits[0]]) if hits.size else None


@reach.correct("a Python loop over zip(eval_steps, accuracies)")
@_steps
def reach_ok_loop(eval_steps, accuracies, target):
    for step, acc in zip(eval_steps.tolist(), accuracies.tolist()):
        if acc >= target:
            return int(step)
    return None


@reach.correct("np.argmax on the boolean mask, guarded by .any()")
@_steps
def reach_ok_argmax(eval_steps, accuracies, target):
    mask = accuracies >= target
    return int(eval_steps[mask.argmax()]) if mask.any() else None


@reach.correct("the running maximum with np.searchsorted")
@_steps
def reach_ok_searchsorted(eval_steps, accuracies, target):
    best = np.maximum.accumulate(accuracies)
    i = int(np.searchsorted(best, target, side="left"))
    return int(eval_steps[i]) if i < len(best) else None


def _torch(region):
    """The scaffold of torch_running_var around region(running_var, N, k, momentum)."""
    def torch_running_var(running_var, N, k, momentum):
        where = "torch_running_var"
        running_var = validation.float_array(where, "running_var", running_var, ndim=1)
        if validation.positive_int(where, "N", N) < 2:
            raise ValueError(f"{where}: N must be >= 2; got {N}")
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
            raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
        momentum = validation.unit_interval(where, "momentum", momentum)
        return region(running_var, N, k, momentum)
    torch_running_var.__name__ = region.__name__
    return torch_running_var


@torch_var.mistake("Bessel's factor forgotten: running_var + momentum**k")
@_torch
def tv_no_bessel(running_var, N, k, momentum):
    return running_var + momentum**k


@torch_var.mistake("Bessel's factor inverted: (N - 1) / N")
@_torch
def tv_bessel_inverted(running_var, N, k, momentum):
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("the start value's weight off by one: momentum**(k - 1)")
@_torch
def tv_k_minus_1(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum ** (k - 1)


@torch_var.mistake("PyTorch's momentum used for the start value's decay: (1 - momentum)**k")
@_torch
def tv_torch_momentum(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("PyTorch's start value (1) forgotten: only the Bessel-corrected average")
@_torch
def tv_no_start(running_var, N, k, momentum):
    return N / (N - 1) * running_var


@torch_var.mistake("the start term also Bessel-corrected: N/(N-1) * (running_var + momentum**k)")
@_torch
def tv_start_corrected(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("converts in place (running_var *= N / (N - 1)), changing the caller's array")
@_torch
def tv_inplace(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("integer division N // (N - 1): the factor is 1 for every N > 2")
@_torch
def tv_floor_div(running_var, N, k, momentum):
    return N // (N - 1) * running_var + momentum**k


@torch_var.mistake("Bessel's factor raised to the k-th power, as if applied once per batch to the whole average")
@_torch
def tv_bessel_power(running_var, N, k, momentum):
    return (N / (N - 1)) ** k * running_var + momentum**k


@torch_var.mistake("the start value's weight as 1 - momentum**k (the weight of the batches instead)")
@_torch
def tv_complement(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum**k)


@torch_var.mistake("Bessel's factor with N + 1: N / (N + 1)")
@_torch
def tv_n_plus_1(running_var, N, k, momentum):
    return N / (N + 1) * running_var + momentum**k


@torch_var.mistake("the start value added as momentum * k (a linear instead of geometric decay)")
@_torch
def tv_linear(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum * k


@torch_var.correct("running_var + running_var / (N - 1) + np.power(momentum, k)")
@_torch
def tv_ok_split(running_var, N, k, momentum):
    return running_var + running_var / (N - 1) + np.power(momentum, k)


@torch_var.correct("written as (N * running_var) / (N - 1) + momentum**k in a fresh array")
@_torch
def tv_ok_fresh(running_var, N, k, momentum):
    out = np.multiply(running_var, N) / (N - 1)
    out += momentum**k
    return out


@torch_var.correct("the start value's weight as a product over the k batches")
@_torch
def tv_ok_product(running_var, N, k, momentum):
    start = 1.0
    for _ in range(k):
        start *= momentum
    return N / (N - 1) * running_var + start
