"""One catalogue entry: an implementation of an exercise, wrong in one named way (or right in an unusual one).

The entries are written from the math and from what students get wrong, not from the
checks' diagnoses, so that running them measures how well a check's message names a
mistake nobody wrote down before.
"""

import inspect
from dataclasses import dataclass

# How a failing mistake's message reads, judged by hand after the run:
NAMED = "NAMED"  # a reader agrees the message identifies this mistake
GENERIC = "GENERIC"  # true, but does not identify it
MISNAMED = "MISNAMED"  # names a different mistake
MISSED = "MISSED"  # the check passes it
JUDGEMENTS = (NAMED, GENERIC, MISNAMED, MISSED)


@dataclass(frozen=True)
class Entry:
    exercise: str  # registry.PACKAGE_EXERCISES' function name
    name: str
    description: str  # the mistake (or the unusual choice), one line
    function: object  # the implementation under test
    correct: bool = False  # a right implementation written in an unusual way
    forward: object = None  # for a backward pass: the forward pass of its own that makes its cache
    judged: str = ""  # one of JUDGEMENTS, for mistakes

    @property
    def code(self):
        return inspect.getsource(self.function)


class Catalogue:
    """The entries of one exercise, registered by decorators in the order they are written."""

    def __init__(self, exercise):
        self.exercise = exercise
        self.entries = []

    def _register(self, description, correct, forward, judged):
        def register(function):
            self.entries.append(Entry(self.exercise, function.__name__, description, function, correct, forward, judged))
            return function

        return register

    def mistake(self, description, judged="", forward=None):
        return self._register(description, False, forward, judged)

    def correct(self, description, forward=None):
        return self._register(description, True, forward, "")
