"""The fourth catalogue: which modules hold its entries (of the shared kind, tests.instructor.later_catalogue).

Entries are written as solution regions; entries() returns them inside their exercise's
scaffold (tests.instructor.fresh4.scaffold), as a student's file would hold them.
"""

import importlib

from tests.instructor.fresh4.scaffold import with_scaffold
from tests.instructor.later_catalogue import Catalogue


# The modules of the catalogue, in course order; each holds one Catalogue per exercise it covers.
MODULES = ("bn_forward", "bn_backward", "layernorm", "spatial", "groupnorm", "network", "optim", "misc")


def entries():
    """Every entry of every module's catalogues, in module and definition order, scaffolded."""
    found = []
    for name in MODULES:
        module = importlib.import_module(f"tests.instructor.fresh4.{name}")
        for value in vars(module).values():
            if isinstance(value, Catalogue):
                found += [with_scaffold(entry, value.forward) for entry in value.entries]
    return found
