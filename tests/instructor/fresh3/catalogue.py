"""Entries of the catalogue: an exercise, a name, one line saying what was done, the code."""

import importlib
from dataclasses import dataclass
from typing import Callable, Optional


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


# The modules of the catalogue, in course order; each holds one Catalogue per exercise it covers.
MODULES = ("bn_forward", "bn_backward", "layernorm", "spatial", "groupnorm", "network", "optim", "misc")


def entries():
    """Every entry of every module's catalogues, in module and definition order."""
    found = []
    for name in MODULES:
        module = importlib.import_module(f"tests.instructor.fresh3.{name}")
        for value in vars(module).values():
            if isinstance(value, Catalogue):
                found += value.entries
    return found
