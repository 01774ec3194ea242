"""The eleventh catalogue: which modules hold its entries (of the shared kind, tests.instructor.later_catalogue)."""

import importlib

from tests.instructor.later_catalogue import Catalogue

# The modules of the catalogue, in course order; each holds one Catalogue per exercise it covers.
MODULES = ("bn_forward", "bn_backward", "layernorm", "spatial", "groupnorm", "network", "optim", "misc")


def entries():
    """Every entry of every module's catalogues, in module and definition order."""
    found = []
    for name in MODULES:
        module = importlib.import_module(f"tests.instructor.fresh11.{name}")
        for value in vars(module).values():
            if isinstance(value, Catalogue):
                found += value.entries
    return found
