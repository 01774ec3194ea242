"""steps_to_reach (notebook 5) and torch_stats.torch_running_var (notebook 8)."""

from types import SimpleNamespace

import numpy as np

from cs231n_bn.experiments import _check_history
from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


def _history(eval_steps, accuracies):
    """The argument checks that the student's skeleton already holds, as arrays."""
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
        raise ValueError("steps_to_reach: eval_steps and accuracies must be 1-D and of the same length")
    _check_history("steps_to_reach", eval_steps, accuracies)
    return eval_steps, accuracies


# ---- steps_to_reach -----------------------------------------------------------------------------------------

@steps.mistake("accuracy > target: reaching the target exactly does not count")
def str_strictly_greater(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy > target:
            return int(step)
    return None


@steps.mistake("returns the index into the history, not the step")
def str_returns_index(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0]) if reached.size else None


@steps.mistake("returns the NumPy integer that indexing an array gives (np.int64), not a Python int")
def str_numpy_int(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return eval_steps[reached[0]] if reached.size else None


@steps.mistake("returns the last step when the target is never reached")
def str_last_step_when_never(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]] if reached.size else eval_steps[-1])


@steps.mistake("a tolerance of 1e-3 on the comparison 'to be safe with floats'")
def str_tolerance(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target - 1e-3)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("np.argmax(accuracies >= target) without checking that any entry is True")
def str_argmax_unchecked(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    return int(eval_steps[np.argmax(accuracies >= target)])


@steps.mistake("the step of the best accuracy, when the target is reached")
def str_best_step(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    if not np.any(accuracies >= target):
        return None
    return int(eval_steps[np.argmax(accuracies)])


@steps.mistake("-1 for 'never' instead of None")
def str_minus_one(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else -1


@steps.mistake("the loop forgets to stop: the LAST step at or above the target")
def str_last_reach(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    found = None
    for step, accuracy in zip(eval_steps, accuracies):
        if accuracy >= target:
            found = int(step)
    return found


@steps.mistake("accuracies rounded to two decimals before the comparison")
def str_rounded(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(np.round(accuracies, 2) >= target)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("the step returned as a float (from np.interp-like code)")
def str_float_step(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return float(eval_steps[reached[0]]) if reached.size else None


@steps.correct("next() over a generator of (step, accuracy) pairs")
def str_generator(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    return next((int(s) for s, a in zip(eval_steps, accuracies) if a >= target), None)


@steps.correct("np.flatnonzero on the boolean history")
def str_flatnonzero(eval_steps, accuracies, target):
    eval_steps, accuracies = _history(eval_steps, accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else None


# ---- torch_running_var ----------------------------------------------------------------------------------------

@torch_var.mistake("the start value forgotten: N/(N-1) * running_var only")
def trv_no_start(running_var, N, k, momentum):
    return N / (N - 1) * running_var


@torch_var.mistake("Bessel's factor inverted: (N-1)/N")
def trv_bessel_inverted(running_var, N, k, momentum):
    return momentum ** k + (N - 1) / N * running_var


@torch_var.mistake("the start value decays with PyTorch's momentum (1 - m)**k instead of m**k")
def trv_start_with_torch_momentum(running_var, N, k, momentum):
    return (1 - momentum) ** k + N / (N - 1) * running_var


@torch_var.mistake("the start value decayed once more: m**(k + 1)")
def trv_start_off_by_one(running_var, N, k, momentum):
    return momentum ** (k + 1) + N / (N - 1) * running_var


@torch_var.mistake("Bessel's factor applied to the start value too: N/(N-1) * (running_var + m**k)")
def trv_bessel_on_start(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum ** k)


@torch_var.mistake("running_var rescaled in place and returned")
def trv_in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum ** k
    return running_var


@torch_var.mistake("integer division N // (N - 1) for Bessel's factor")
def trv_integer_division(running_var, N, k, momentum):
    return momentum ** k + N // (N - 1) * running_var


@torch_var.mistake("Bessel's factor forgotten: running_var + m**k")
def trv_no_bessel(running_var, N, k, momentum):
    return momentum ** k + running_var


@torch_var.correct("np.power and np.multiply, a new float array")
def trv_ufuncs(running_var, N, k, momentum):
    return np.add(np.power(momentum, k), np.multiply(N / (N - 1.0), running_var))


@torch_var.correct("Bessel's factor written as 1 + 1/(N - 1)")
def trv_split_factor(running_var, N, k, momentum):
    return momentum ** k + running_var + running_var / (N - 1)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=steps.entries + torch_var.entries)
