"""Mistakes and unusual correct variants of steps_to_reach (notebook 5) and torch_running_var (notebook 8)."""

import numpy as np

from tests.instructor.later_catalogue import Catalogue

steps = Catalogue("steps_to_reach")
torch_var = Catalogue("torch_running_var")


@steps.mistake("returns the index of the first evaluation reaching the target, not its step")
def returns_index(eval_steps, accuracies, target):
    for i, acc in enumerate(accuracies):
        if acc >= target:
            return i
    return None


@steps.mistake("strict comparison: reaching the target exactly does not count")
def strictly_above(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) > target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else None


@steps.mistake("returns the LAST step at or above the target")
def last_reaching(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(np.asarray(eval_steps)[reached[-1]]) if reached.size else None


@steps.mistake("returns a NumPy integer (np.int64) instead of a Python int")
def numpy_integer(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return np.asarray(eval_steps, dtype=np.int64)[reached[0]] if reached.size else None


@steps.mistake("returns -1 when the target is never reached (str.find's convention) instead of None")
def minus_one_when_never(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else -1


@steps.mistake("np.argmax(acc >= target) without checking that any entry qualifies: the first step when never reached")
def argmax_without_check(eval_steps, accuracies, target):
    return int(np.asarray(eval_steps)[np.argmax(np.asarray(accuracies) >= target)])


@steps.mistake("returns the step of the best accuracy if it reaches the target, not the first step that does")
def step_of_best(eval_steps, accuracies, target):
    accuracies = np.asarray(accuracies)
    best = int(np.argmax(accuracies))
    return int(np.asarray(eval_steps)[best]) if accuracies[best] >= target else None


@steps.mistake("off by one: returns the step of the evaluation after the one that reached the target")
def next_evaluation(eval_steps, accuracies, target):
    eval_steps = list(eval_steps)
    for i, acc in enumerate(accuracies):
        if acc >= target:
            return int(eval_steps[min(i + 1, len(eval_steps) - 1)])
    return None


@steps.mistake("compares accuracies rounded to two decimals (as printed) with the target")
def rounded_accuracies(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.round(np.asarray(accuracies, dtype=float), 2) >= target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else None


@steps.mistake("returns the step as a float (eval_steps converted with np.asarray(..., float))")
def float_step(eval_steps, accuracies, target):
    eval_steps = np.asarray(eval_steps, dtype=float)
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return float(eval_steps[reached[0]]) if reached.size else None


@steps.mistake("reads the target as a percentage: compares 100 * accuracy with the target")
def percent_accuracies(eval_steps, accuracies, target):
    reached = np.flatnonzero(100 * np.asarray(accuracies) >= target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else None


@steps.mistake("sorts the history by accuracy first and returns the step of the smallest accuracy that reaches the target")
def sorted_by_accuracy(eval_steps, accuracies, target):
    pairs = sorted(zip(accuracies, eval_steps))
    for acc, step in pairs:
        if acc >= target:
            return int(step)
    return None


@steps.correct("plain loop with zip and an explicit None")
def loop_zip(eval_steps, accuracies, target):
    for step, acc in zip(eval_steps, accuracies):
        if acc >= target:
            return int(step)
    return None


@steps.correct("next() over a generator with a default of None")
def next_generator(eval_steps, accuracies, target):
    return next((int(s) for s, a in zip(np.asarray(eval_steps), np.asarray(accuracies)) if a >= target), None)


@steps.correct("np.argmax on the boolean mask, guarded by .any()")
def argmax_guarded(eval_steps, accuracies, target):
    hit = np.asarray(accuracies) >= target
    return int(np.asarray(eval_steps)[hit.argmax()]) if hit.any() else None


# ---- torch_running_var ----

@torch_var.mistake("forgets PyTorch's start value: returns N/(N-1) * running_var only")
def no_start_term(running_var, N, k, momentum):
    return N / (N - 1) * running_var


@torch_var.mistake("start term (1 - momentum)**k: the weight on the start read in PyTorch's convention")
def start_with_torch_momentum(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum) ** k


@torch_var.mistake("Bessel's factor upside down: (N - 1)/N")
def bessel_inverted(running_var, N, k, momentum):
    return (N - 1) / N * running_var + momentum**k


@torch_var.mistake("start term momentum**(k - 1): off by one in the count of decays")
def start_exponent_off_by_one(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum ** max(k - 1, 0)


@torch_var.mistake("adds PyTorch's start value 1 undecayed")
def start_undecayed(running_var, N, k, momentum):
    return N / (N - 1) * running_var + 1.0


@torch_var.mistake("applies Bessel's factor to the start value too: N/(N-1) * (running_var + momentum**k)")
def bessel_on_start(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum**k)


@torch_var.mistake("rescales the caller's running_var in place and returns it")
def in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


@torch_var.mistake("integer division N // (N - 1) for Bessel's factor")
def integer_division(running_var, N, k, momentum):
    return N // (N - 1) * running_var + momentum**k


@torch_var.mistake("start decayed by momentum * k instead of momentum**k")
def start_times_k(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum * k if k else N / (N - 1) * running_var + 1.0


# Written as a mistake; reclassified after the first run: torch_running_var's contract does not fix
# the result's dtype, and the second catalogue's np.power variant, written as correct, does the same.
@torch_var.correct("Bessel's factor taken as a NumPy float64 scalar (np.float64(N) / (N - 1)): a float32 running_var comes back float64")
def float64_factor(running_var, N, k, momentum):
    return np.float64(N) / (N - 1) * running_var + momentum**k


@torch_var.correct("the k steps of PyTorch's start value replayed in a loop")
def replay_start(running_var, N, k, momentum):
    start = 1.0
    for _ in range(k):
        start *= momentum
    return running_var * (N / (N - 1)) + start


@torch_var.correct("np.multiply and np.add into a new array of running_var's dtype")
def ufuncs(running_var, N, k, momentum):
    out = np.multiply(running_var, N / (N - 1))
    out += float(momentum) ** k
    return out
