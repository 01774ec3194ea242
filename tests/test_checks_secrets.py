"""No false verdicts: the instructor's code passes every norm check on every secret input.

The grader runs each check with its fixed seeds mixed with a secret (secret_seeds) and the
reference values computed by the instructor's code (instructor_provider), so a check's
verdict on correct code must hold for any secret, not only for the public inputs. The
default run tries a few hundred secrets per check; `-m exhaustive` tries 10,000:

    .venv/bin/python -m pytest tests/test_checks_secrets.py -m exhaustive -q
    PYTHONPATH=$PWD:tests .venv/bin/python tests/test_checks_secrets.py 10000   # the figures
"""

import contextlib
import io
import sys

import pytest

from classroom.edition.reference_values import NORM_CHECKS
from classroom.grader.references import instructor_provider
from classroom.grader.student_process import secret_seeds
from cs231n_bn import checks
from cs231n_bn.checks import reference
from test_checks_catalogue import FAMILIES

NORM_FAMILIES = [family for family in FAMILIES if family[1] in NORM_CHECKS]


def run_with_secret(check, secret, implementation=None):
    """None if the check passes under this secret, else the failure's message."""
    with reference.provider(instructor_provider()), secret_seeds(secret), contextlib.redirect_stdout(io.StringIO()):
        try:
            own_forward = getattr(implementation, "forward", None)  # a student's own forward/backward pair
            check(implementation, forward=own_forward) if own_forward else check(implementation)
        except checks.CheckFailed as err:
            return str(err)
    return None


def rejections(check, secrets, implementation=None):
    """[(secret, message)] of the secrets on which the check rejects the implementation."""
    found = []
    for secret in secrets:
        message = run_with_secret(check, secret, implementation)
        if message is not None:
            found.append((secret, message))
    return found


@pytest.mark.parametrize("check", NORM_CHECKS, ids=lambda c: c.__name__)
def test_the_instructors_code_passes_200_secrets(check):
    assert rejections(check, range(200)) == []


@pytest.mark.parametrize("family", NORM_FAMILIES, ids=lambda f: f[0])
def test_the_catalogues_correct_variants_pass_and_its_mistakes_fail_under_secrets(family):
    _, check, entries = family
    for implementation, words in entries:
        for secret in (1, 2):
            message = run_with_secret(check, secret, implementation)
            if words is None:
                assert message is None, message
            else:
                assert message is not None, f"a mistake ({words}) passed under secret {secret}"


@pytest.mark.exhaustive
@pytest.mark.parametrize("check", NORM_CHECKS, ids=lambda c: c.__name__)
def test_the_instructors_code_passes_10000_secrets(check):
    assert rejections(check, range(1000, 11000)) == []


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    for check in NORM_CHECKS:
        found = rejections(check, range(1000, 1000 + count))
        print(f"{check.__name__:40s} secrets {count:6d}  rejections {len(found)}")
        for secret, message in found[:3]:
            print(f"  secret {secret}: {message.splitlines()[0]}")
