"""The second, third and fourth catalogues of mistakes: every correct variant passes the checks its
exercise's cells call, and every mistake fails them. What the messages say is the measurement
that `python -m tests.instructor.fresh2.run` (or fresh3.run, fresh4.run) prints.

Each catalogue was written by someone who had not read the checks; the mistakes the checks
first passed (group norm's xhat kept as (N, C, H, W), float32 promoted to float64 in spatial
batch norm and in sgd_momentum, layer norm's statistics kept as (N,); in the fourth, settings
changed in bn_param, keys written into gn_param, a network cache without its norm's, a history
whose first reaching step is not its nearest accuracy) are caught since.
"""

import pytest

from cs231n_bn.checks.registry import BY_FUNCTION
from tests.instructor.fresh2 import run as run2
from tests.instructor.fresh3 import run as run3
from tests.instructor.fresh4 import run as run4

ENTRIES = [(run, entry) for run in (run2, run3, run4) for entry in run.entries()]


def _id(pair):
    run, entry = pair
    return f"{run.__name__.split('.')[-2]}:{entry.exercise}/{entry.name}"


@pytest.mark.parametrize("pair", [p for p in ENTRIES if p[1].correct], ids=_id)
def test_correct_variant_passes(pair):
    run, entry = pair
    assert run.first_failure(entry) is None


@pytest.mark.parametrize("pair", [p for p in ENTRIES if not p[1].correct], ids=_id)
def test_mistake_fails_its_checks(pair):
    run, entry = pair
    assert run.first_failure(entry) is not None


@pytest.mark.parametrize("run", (run2, run3, run4), ids=("fresh2", "fresh3", "fresh4"))
def test_entries_name_graded_exercises_once(run):
    entries = run.entries()
    names = [(e.exercise, e.name) for e in entries]
    assert len(names) == len(set(names))
    assert {e.exercise for e in entries} <= set(BY_FUNCTION)
    assert all(e.description for e in entries)
