"""Run every entry of the second catalogue through its exercise's graded checks and print the verdicts.

    python -m tests.instructor.fresh2.run [--exercise NAME]
"""

import importlib

from tests.instructor.later_catalogue import first_failure, main

MODULES = ("bn_forward", "bn_backward", "layernorm", "spatial", "network", "optim", "misc")


def entries():
    found = []
    for module in MODULES:
        found += importlib.import_module(f"tests.instructor.fresh2.{module}").catalogue.entries
    return found


__all__ = ["entries", "first_failure"]

if __name__ == "__main__":
    main(entries)
