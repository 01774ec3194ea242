"""The one reference provider: every value a check asks for, computed by the instructor's code.

Instructor-only: it runs the solutions. The grader installs `instructor_provider(source)`
with `cs231n_bn.checks.reference.provider` around a check run on secret inputs; the
edition's recording tool wraps the same provider in a Recorder to write the data file the
student edition ships. Each family of exercises lends its computations
({function_name: fn(*inputs) -> {what: value}}): reference_provider (the normalizations),
reference_train (the update rules and the network) and notebook_reference (the notebook
exercises, from the instructor's solution cells).
"""

from pathlib import Path

import numpy as np

from classroom.grader import notebook_reference, reference_provider, reference_train
from cs231n_bn.checks.reference import digest

SOURCE = Path(__file__).resolve().parents[2]  # the instructor's checkout this grader runs from


def computations(source=SOURCE):
    """{function_name: fn(*inputs) -> {what: value}} of every exercise."""
    return {**reference_provider.computations(), **reference_train.computations(),
            **notebook_reference.computations(source)}


def instructor_provider(source=SOURCE):
    """A provider fn(key, function_name, *inputs) computing values with the instructor's code.

    A key is "<function_name>/<what>"; one computation per (function, inputs) serves all
    of its values, so the many values of one case cost one call.
    """
    known, computed = {}, computations(source)

    def provide(key, function_name, *inputs):
        function, _, what = key.partition("/")
        if function != function_name or function_name not in computed:
            raise KeyError(f"instructor_provider: no computation gives {key!r} for {function_name!r}")
        tag = digest(function_name, *inputs)
        if tag not in known:
            known[tag] = computed[function_name](*inputs)
        values = known[tag]
        if what not in values:
            raise KeyError(f"instructor_provider: {function_name} gives no {what!r}; it gives "
                           f"{', '.join(sorted(values))}")
        return np.asarray(values[what], dtype=np.float64)

    return provide
