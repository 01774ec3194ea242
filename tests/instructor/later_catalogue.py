"""What the second and later catalogues of mistakes share: an entry, the decorators that collect
entries, and the runner that passes every entry through its exercise's graded checks.

For each entry the runner prints "== exercise / name (mistake|correct): fails|passes", its
description, and the message of the first check that failed (the one the student would read
first), then the mistakes the checks passed and the correct variants they failed.
"""

import argparse
import contextlib
import io
from dataclasses import dataclass
from typing import Callable, Optional

from cs231n_bn import checks
from cs231n_bn.checks.registry import cells_of


@dataclass(frozen=True)
class Entry:
    exercise: str  # as in cs231n_bn.checks.registry.PACKAGE_EXERCISES
    name: str
    description: str
    function: object  # what the check cell receives: a function, or a FullyConnectedNet subclass
    correct: bool  # a correct-but-unusual variant (must pass) rather than a mistake
    forward: Optional[Callable] = None  # for a backward pass: the forward pass that makes its cache


class Catalogue:
    """Collects the entries of one exercise through two decorators, `mistake` and `correct`."""

    def __init__(self, exercise, forward=None):
        self.exercise = exercise
        self.forward = forward
        self.entries = []

    def _add(self, description, correct, forward):
        def register(function):
            self.entries.append(Entry(self.exercise, function.__name__, description, function, correct,
                                      forward or self.forward))
            return function
        return register

    def mistake(self, description, forward=None):
        return self._add(description, False, forward)

    def correct(self, description, forward=None):
        return self._add(description, True, forward)


def first_failure(entry):
    """The message of the first graded check the entry fails, in course order, or None."""
    for cell in cells_of(entry.exercise):
        check = getattr(checks, cell.check)
        kwargs = {"forward": entry.forward} if entry.forward is not None else {}
        try:
            # The checks print PASS lines meant for the notebook; the table keeps the verdicts only.
            with contextlib.redirect_stdout(io.StringIO()):
                check(entry.function, **kwargs)
        except Exception as error:  # a crash of the student's code is a failure the student sees too
            return f"[{cell.check}] {type(error).__name__}: {error}"
    return None


def main(entries):
    """Print every entry's verdict and message; entries: a function returning the catalogue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", help="run the entries of this exercise only")
    args = parser.parse_args()
    chosen = [e for e in entries() if args.exercise in (None, e.exercise)]
    missed, false_alarms = [], []
    for entry in chosen:
        message = first_failure(entry)
        kind = "correct" if entry.correct else "mistake"
        print(f"== {entry.exercise} / {entry.name} ({kind}): {'passes' if message is None else 'fails'}")
        print(f"   {entry.description}")
        if message is not None:
            print("   " + message.replace("\n", "\n   "))
        if entry.correct and message is not None:
            false_alarms.append(entry.name)
        if not entry.correct and message is None:
            missed.append(entry.name)
        print()
    mistakes = sum(not e.correct for e in chosen)
    print(f"{mistakes} mistakes, {len(chosen) - mistakes} correct variants")
    print(f"MISSED ({len(missed)}): {', '.join(missed) or '-'}")
    print(f"FALSE ALARMS ({len(false_alarms)}): {', '.join(false_alarms) or '-'}")
