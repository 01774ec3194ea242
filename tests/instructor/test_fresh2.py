"""The second catalogue of mistakes: every correct variant passes the checks its exercise's cells
call, and every mistake fails them. What the messages say is the measurement that
`python -m tests.instructor.fresh2.run` prints.

The one mistake the checks pass is an expected failure, strict, so the day a check catches it
shows: group norm's cache holding xhat as (N, C, H, W) where its docstring says (N, G, M), which
the checks judge by value in either layout (a backward pass that reshapes it works).
"""

import pytest

from cs231n_bn.checks.registry import BY_FUNCTION
from tests.instructor.fresh2.run import entries, first_failure

ENTRIES = entries()


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.correct], ids=lambda e: f"{e.exercise}/{e.name}")
def test_correct_variant_passes(entry):
    assert first_failure(entry) is None


PASSED_BY_THE_CHECKS = {("spatial_groupnorm_forward", "gn_cache_xhat_maps")}


@pytest.mark.parametrize("entry", [
    pytest.param(e, marks=[pytest.mark.xfail(strict=True, reason="the checks pass it")]
                 if (e.exercise, e.name) in PASSED_BY_THE_CHECKS else [])
    for e in ENTRIES if not e.correct], ids=lambda e: f"{e.exercise}/{e.name}")
def test_mistake_fails_its_checks(entry):
    assert first_failure(entry) is not None


def test_entries_name_graded_exercises_once():
    names = [(e.exercise, e.name) for e in ENTRIES]
    assert len(names) == len(set(names))
    assert {e.exercise for e in ENTRIES} <= set(BY_FUNCTION)
    assert all(e.description for e in ENTRIES)
