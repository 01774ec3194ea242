"""Every fresh catalogue mistake fails its exercise's checks; every right variant passes them.

A mistake the checks pass (judged MISSED) is an expected failure here, strict, so that the
day a check learns to catch it this test says so and the judgement can be updated.
"""

import pytest

from tests.instructor.fresh.entry import JUDGEMENTS, MISSED
from tests.instructor.fresh_catalogue import CORRECT, ENTRIES, MISTAKES
from tests.instructor.run_fresh_catalogue import run


def _mistake_param(entry):
    missed = [pytest.mark.xfail(strict=True, reason="the checks pass it (judged MISSED)")]
    return pytest.param(entry, id=f"{entry.exercise}/{entry.name}", marks=missed if entry.judged == MISSED else [])


@pytest.mark.parametrize("entry", [_mistake_param(e) for e in MISTAKES])
def test_mistake_fails_its_checks(entry):
    result = run(entry)
    assert not result.passed, f"{entry.name} ({entry.description}) passed: {result.message}"


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: f"{e.exercise}/{e.name}")
def test_right_variant_passes_its_checks(entry):
    result = run(entry)
    assert result.passed, f"{entry.name} ({entry.description}) failed {result.check}: {result.message}"



def test_entries_are_named_once_per_exercise():
    keys = [(e.exercise, e.name) for e in ENTRIES]
    assert len(keys) == len(set(keys))


def test_every_mistake_is_judged():
    """Judged by hand from the messages; test_mistake_fails_its_checks holds MISSED to the verdict."""
    assert [e.name for e in MISTAKES if e.judged not in JUDGEMENTS] == []
