"""The second catalogue of mistakes: every correct variant passes the checks its exercise's cells call.

A mistake that passes is not a test failure here: how many of them the checks catch, and
what they say, is the measurement that `python -m tests.instructor.fresh2.run` prints.
"""

import pytest

from cs231n_bn.checks.registry import BY_FUNCTION
from tests.instructor.fresh2.run import entries, first_failure

ENTRIES = entries()


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.correct], ids=lambda e: f"{e.exercise}/{e.name}")
def test_correct_variant_passes(entry):
    assert first_failure(entry) is None


def test_entries_name_graded_exercises_once():
    names = [(e.exercise, e.name) for e in ENTRIES]
    assert len(names) == len(set(names))
    assert {e.exercise for e in ENTRIES} <= set(BY_FUNCTION)
    assert all(e.description for e in ENTRIES)
