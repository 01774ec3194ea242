"""steps_to_reach: the first logged step whose accuracy reaches the target, or None."""

import numpy as np

from tests.instructor.fresh.entry import NAMED, Catalogue

catalogue = Catalogue("steps_to_reach")
mistake, correct = catalogue.mistake, catalogue.correct


@mistake("strict > : reaching the target exactly does not count", judged=NAMED)
def strict_inequality(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) > target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else None


@mistake("returns the index in the log instead of the step", judged=NAMED)
def returns_index(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(reached[0]) if reached.size else None


@mistake("returns the last step reaching the target, not the first", judged=NAMED)
def last_step(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(np.asarray(eval_steps)[reached[-1]]) if reached.size else None


@mistake("returns 0 when the target is never reached", judged=NAMED)
def zero_when_never(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(np.asarray(eval_steps)[reached[0]]) if reached.size else 0


@mistake("returns -1 when the target is never reached", judged=NAMED)
def minus_one_when_never(eval_steps, accuracies, target):
    for step, acc in zip(eval_steps, accuracies):
        if acc >= target:
            return int(step)
    return -1


@mistake("argmax of (acc >= target) unchecked: the first step when the target is never reached", judged=NAMED)
def unchecked_argmax(eval_steps, accuracies, target):
    return int(np.asarray(eval_steps)[np.argmax(np.asarray(accuracies) >= target)])


@mistake("returns the step of the best accuracy", judged=NAMED)
def step_of_best(eval_steps, accuracies, target):
    if max(accuracies) < target:
        return None
    return int(np.asarray(eval_steps)[np.argmax(accuracies)])


@mistake("off by one: the step after the first one reaching the target", judged=NAMED)
def step_after(eval_steps, accuracies, target):
    steps = list(eval_steps)
    for k, acc in enumerate(accuracies):
        if acc >= target:
            return int(steps[min(k + 1, len(steps) - 1)])
    return None


@mistake("returns a NumPy integer, not a Python int", judged=NAMED)
def numpy_integer(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return np.asarray(eval_steps)[reached[0]] if reached.size else None


@mistake("counts the logged evaluations before the target (index + 1), not the step", judged=NAMED)
def counts_evaluations(eval_steps, accuracies, target):
    reached = np.flatnonzero(np.asarray(accuracies) >= target)
    return int(reached[0]) + 1 if reached.size else None


@correct("a plain loop over zip(eval_steps, accuracies)")
def plain_loop(eval_steps, accuracies, target):
    for step, acc in zip(eval_steps, accuracies):
        if acc >= target:
            return int(step)
    return None


@correct("next() over a generator with a None default")
def generator(eval_steps, accuracies, target):
    return next((int(s) for s, a in zip(eval_steps, accuracies) if a >= target), None)


ENTRIES = catalogue.entries
