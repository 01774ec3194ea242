"""steps_to_reach and torch_running_var: solution-region bodies after the scaffold's checks."""

import functools
import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

reach = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _reach(description, correct=False):
    """body(eval_steps, accuracies, target) after steps_to_reach's own checks."""
    def register(body):
        @functools.wraps(body)
        def steps_to_reach(eval_steps, accuracies, target):
            where = "steps_to_reach"
            eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
            if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
                raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
            _check_history(where, eval_steps, accuracies)
            target = validation.unit_interval(where, "target", target)
            return body(eval_steps, accuracies, target)
        (reach.correct if correct else reach.mistake)(description)(steps_to_reach)
        return steps_to_reach
    return register


@_reach("strict > : an accuracy equal to the target does not count")
def strictly_above(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies > target)
    return int(eval_steps[hit[0]]) if hit.size else None


@_reach("returns the index of the evaluation, not its step")
def returns_index(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    return int(hit[0]) if hit.size else None


@_reach("returns the last step at or above the target, not the first")
def last_step(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hit[-1]]) if hit.size else None


@_reach("np.argmax(accuracies >= target) unchecked: a target never reached gives the first step")
def argmax_unchecked(eval_steps, accuracies, target):
    return int(eval_steps[np.argmax(accuracies >= target)])


@_reach("returns a NumPy integer, not a Python int")
def numpy_integer(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    return eval_steps[hit[0]] if hit.size else None


@_reach("returns -1 when the target is never reached")
def minus_one(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    return int(eval_steps[hit[0]]) if hit.size else -1


@_reach("the step of the best accuracy, whether or not an earlier one reached the target")
def best_step(eval_steps, accuracies, target):
    if accuracies.max() < target:
        return None
    return int(eval_steps[np.argmax(accuracies)])


@_reach("np.searchsorted on the accuracies, as if they only ever increased")
def searchsorted(eval_steps, accuracies, target):
    i = int(np.searchsorted(accuracies, target))
    return int(eval_steps[i]) if i < len(eval_steps) else None


@_reach("the step after the first one that reaches the target (off by one)")
def next_step(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    if not hit.size:
        return None
    return int(eval_steps[min(hit[0] + 1, len(eval_steps) - 1)])


@_reach("compares the accuracies rounded to two decimals: 0.795 counts as reaching 0.8")
def rounded(eval_steps, accuracies, target):
    hit = np.flatnonzero(np.round(accuracies, 2) >= target)
    return int(eval_steps[hit[0]]) if hit.size else None


@_reach("returns the step as a float")
def float_step(eval_steps, accuracies, target):
    hit = np.flatnonzero(accuracies >= target)
    return float(eval_steps[hit[0]]) if hit.size else None


@_reach("a plain loop with an early return", correct=True)
def loop(eval_steps, accuracies, target):
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy >= target:
            return int(step)
    return None


@_reach("next() over a generator with a None default", correct=True)
def generator(eval_steps, accuracies, target):
    return next((int(s) for s, a in zip(eval_steps.tolist(), accuracies.tolist()) if a >= target), None)


@_reach("np.argmax on the boolean mask, checked with .any()", correct=True)
def argmax_checked(eval_steps, accuracies, target):
    reached = accuracies >= target
    return int(eval_steps[reached.argmax()]) if reached.any() else None


# torch_running_var

def _torch(description, correct=False):
    """body(running_var, N, k, momentum) after torch_running_var's own checks."""
    def register(body):
        @functools.wraps(body)
        def torch_running_var(running_var, N, k, momentum):
            where = "torch_running_var"
            running_var = validation.float_array(where, "running_var", running_var, ndim=1)
            if validation.positive_int(where, "N", N) < 2:
                raise ValueError(f"{where}: N must be >= 2; got {N}")
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
                raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
            momentum = validation.unit_interval(where, "momentum", momentum)
            return body(running_var, N, k, momentum)
        (torch_var.correct if correct else torch_var.mistake)(description)(torch_running_var)
        return torch_running_var
    return register


@_torch("Bessel's factor upside down: (N - 1) / N")
def bessel_inverted(running_var, N, k, momentum):
    return (N - 1) / N * running_var + momentum**k


@_torch("PyTorch's start value 1 forgotten: no momentum**k term")
def no_start_term(running_var, N, k, momentum):
    return N / (N - 1) * running_var


@_torch("Bessel's factor applied to the start term too: N/(N-1) (running_var + momentum**k)")
def bessel_on_start(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum**k)


@_torch("the start decays by PyTorch's momentum (1 - m) per batch instead of ours")
def start_decays_torch_momentum(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum) ** k


@_torch("momentum**(k - 1): the first batch not counted")
def off_by_one_power(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum ** (k - 1)


@_torch("updates running_var in place and returns it: the caller's array changes")
def in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@_torch("adds the start value 1 undecayed")
def start_undecayed(running_var, N, k, momentum):
    return N / (N - 1) * running_var + 1


@_torch("adds 1 - momentum**k, the weight of the batches, instead of the start's weight momentum**k")
def batches_weight(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum**k)


@_torch("Bessel's factor raised to the k-th power, once per batch")
def bessel_per_batch(running_var, N, k, momentum):
    return (N / (N - 1)) ** k * running_var + momentum**k


@_torch("N - 1 over N in integer arithmetic habits: N // (N - 1), which is 1 for N > 2")
def integer_division(running_var, N, k, momentum):
    return N // (N - 1) * running_var + momentum**k


@_torch("returns running_var itself when k == 0 (not a new array; and PyTorch's start 1 is lost)")
def k_zero_shortcut(running_var, N, k, momentum):
    if k == 0:
        return running_var
    return N / (N - 1) * running_var + momentum**k


@_torch("the start term decayed in a loop, one multiplication per batch", correct=True)
def loop_start(running_var, N, k, momentum):
    start = 1.0
    for _ in range(k):
        start *= momentum
    return running_var * N / (N - 1) + start


@_torch("np.power and an explicit copy, float64 arithmetic", correct=True)
def numpy_power(running_var, N, k, momentum):
    out = np.array(running_var, dtype=np.float64)
    out *= N / (N - 1.0)
    out += np.power(float(momentum), k)
    return out


@_torch("Bessel's factor as 1 + 1/(N - 1)", correct=True)
def bessel_rewritten(running_var, N, k, momentum):
    return running_var + running_var / (N - 1) + momentum**k
