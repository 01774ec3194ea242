"""steps_to_reach and torch_running_var: mistakes and correct variants."""

import numpy as np

from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


@steps.mistake("Uses a strict comparison (accuracy > target), so reaching the target exactly does not count.")
def str_strict(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    reached = np.flatnonzero(accuracies > target)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns the index of the first evaluation that reaches the target instead of its step.")
def str_index(eval_steps, accuracies, target):
    accuracies = np.asarray(accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(reached[0]) if reached.size else None


@steps.mistake("Returns the last step at which the target is reached instead of the first.")
def str_last(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[-1]]) if reached.size else None


@steps.mistake("Returns the NumPy integer eval_steps[i] instead of a Python int.")
def str_numpy_int(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return eval_steps[reached[0]] if reached.size else None


@steps.mistake("Returns -1 instead of None when the target is never reached.")
def str_minus_one(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else -1


@steps.mistake("np.argmax(accuracies >= target) is used without checking that any entry reached it, so a run that never reaches the target returns the first step.")
def str_argmax_unchecked(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    return int(eval_steps[np.argmax(accuracies >= target)])


@steps.mistake("Returns the step after the one that reached the target (eval_steps[i + 1], or None past the end).")
def str_next_step(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    for i, a in enumerate(accuracies):
        if a >= target:
            return int(eval_steps[i + 1]) if i + 1 < len(eval_steps) else None
    return None


@steps.mistake("Returns the step of the best accuracy (np.argmax of the accuracies) whenever the target is reached, not the first step reaching it.")
def str_best_step(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    if np.any(accuracies >= target):
        return int(eval_steps[np.argmax(accuracies)])
    return None


@steps.mistake("The loop starts at index 1, skipping the first evaluation (step 0 before training).")
def str_skip_first(eval_steps, accuracies, target):
    for i in range(1, len(accuracies)):
        if accuracies[i] >= target:
            return int(eval_steps[i])
    return None


@steps.mistake("Rounds the accuracies to two decimals before comparing, so 0.795 counts as reaching 0.8.")
def str_rounded(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.round(np.asarray(accuracies, dtype=float), 2)
    reached = np.flatnonzero(accuracies >= target)
    return int(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns the step as a float (float(eval_steps[i])) instead of an int.")
def str_float(eval_steps, accuracies, target):
    eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
    reached = np.flatnonzero(accuracies >= target)
    return float(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("Returns 0 instead of None when the target is never reached.")
def str_zero(eval_steps, accuracies, target):
    for step, a in zip(eval_steps, accuracies):
        if a >= target:
            return int(step)
    return 0


@steps.correct("A plain loop over zip(eval_steps, accuracies), returning int(step) on the first accuracy >= target.")
def str_loop(eval_steps, accuracies, target):
    for step, a in zip(eval_steps, accuracies):
        if a >= target:
            return int(step)
    return None


@steps.correct("next() over a generator of the steps that reach the target, default None.")
def str_next(eval_steps, accuracies, target):
    found = next((s for s, a in zip(np.asarray(eval_steps).tolist(), np.asarray(accuracies).tolist()) if a >= target), None)
    return None if found is None else int(found)


@steps.correct("np.argmax on the boolean mask, guarded by mask.any().")
def str_argmax_guarded(eval_steps, accuracies, target):
    mask = np.asarray(accuracies) >= target
    return int(np.asarray(eval_steps)[mask.argmax()]) if mask.any() else None


# ---------------------------------------------------------------- torch_running_var

@torch_var.mistake("The Bessel factor is inverted: (N - 1) / N * running_var.")
def trv_inverted_bessel(running_var, N, k, momentum):
    return (N - 1) / N * np.asarray(running_var) + momentum**k


@torch_var.mistake("PyTorch's start value is forgotten: only N / (N - 1) * running_var, no momentum**k term.")
def trv_no_start(running_var, N, k, momentum):
    return N / (N - 1) * np.asarray(running_var)


@torch_var.mistake("The start value's weight is momentum**(k - 1) instead of momentum**k.")
def trv_power_k_minus_1(running_var, N, k, momentum):
    return N / (N - 1) * np.asarray(running_var) + momentum ** (k - 1)


@torch_var.mistake("The start value decays with (1 - momentum)**k, PyTorch's momentum, instead of our momentum**k.")
def trv_torch_momentum(running_var, N, k, momentum):
    return N / (N - 1) * np.asarray(running_var) + (1 - momentum) ** k


@torch_var.mistake("The Bessel factor multiplies the start value's term too: N / (N - 1) * (running_var + momentum**k).")
def trv_bessel_on_all(running_var, N, k, momentum):
    return N / (N - 1) * (np.asarray(running_var) + momentum**k)


@torch_var.mistake("Integer division N // (N - 1) for the Bessel factor, which is 1 for every N > 2.")
def trv_integer_division(running_var, N, k, momentum):
    return N // (N - 1) * np.asarray(running_var) + momentum**k


@torch_var.mistake("The start value's term is a constant 1 instead of momentum**k (k is ignored).")
def trv_plus_one(running_var, N, k, momentum):
    return N / (N - 1) * np.asarray(running_var) + 1


@torch_var.mistake("The caller's running_var is scaled in place (running_var *= N / (N - 1)) and returned instead of a new array.")
def trv_in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("The start value's weight is momentum * k instead of momentum**k.")
def trv_times_k(running_var, N, k, momentum):
    return N / (N - 1) * np.asarray(running_var) + momentum * k


@torch_var.mistake("The Bessel factor uses N + 1 instead of N - 1: N / (N + 1) * running_var.")
def trv_n_plus_1(running_var, N, k, momentum):
    return N / (N + 1) * np.asarray(running_var) + momentum**k


@torch_var.correct("A loop of k steps applying the start value's decay, then the Bessel factor, on a copy.")
def trv_loop(running_var, N, k, momentum):
    start = 1.0
    for _ in range(k):
        start *= momentum
    return np.asarray(running_var) * (N / (N - 1)) + start


@torch_var.correct("np.power(momentum, k) and the Bessel factor as 1 + 1 / (N - 1).")
def trv_power(running_var, N, k, momentum):
    return (1 + 1 / (N - 1)) * running_var + float(np.power(momentum, k))


@torch_var.correct("A copy of running_var scaled in place, then the start value added in place.")
def trv_copy_in_place(running_var, N, k, momentum):
    out = np.array(running_var, copy=True)
    out *= N / (N - 1)
    out += momentum**k
    return out
