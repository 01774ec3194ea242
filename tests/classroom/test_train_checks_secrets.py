"""No false verdicts: the instructor's code passes the training checks on every secret input.

The grader runs a check with its fixed seeds mixed with a secret (secret_seeds) and with
reference values computed by the instructor's code on the inputs that secret draws. The
default run tries a few hundred secrets per check (a few dozen for the network's backward
pass, whose numeric gradients cost a second per secret); `-m exhaustive` tries 10,000:

    .venv/bin/python -m pytest tests/classroom/test_train_checks_secrets.py -m exhaustive -q

Instructor-only: it calls the solutions through classroom.grader.references.
"""

import contextlib
import io

import pytest

from classroom.grader.references import instructor_provider
from classroom.grader.student_process import secret_seeds
from cs231n_bn import checks
from cs231n_bn.checks import reference
from test_checks_mistakes_train import ADAM, NET_BACKWARD, NET_FORWARD, SGD

CHEAP = (checks.check_sgd_momentum, checks.check_adam, checks.check_fc_net_forward)
FAMILIES = ((checks.check_sgd_momentum, SGD), (checks.check_adam, ADAM), (checks.check_fc_net_forward, NET_FORWARD),
            (checks.check_fc_net_backward, NET_BACKWARD))


def verdict(check, secret, implementation=None):
    """None if the check passes under this secret, else its message."""
    with reference.provider(instructor_provider()), secret_seeds(secret), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            check(implementation)
        except checks.CheckFailed as err:
            return str(err)
    return None


def rejections(check, secrets):
    return [(secret, message) for secret in secrets if (message := verdict(check, secret)) is not None]


@pytest.mark.parametrize("check", CHEAP, ids=lambda c: c.__name__)
def test_the_instructors_code_passes_300_secrets(check):
    assert rejections(check, range(300)) == []


def test_the_instructors_network_backward_passes_20_secrets():
    assert rejections(checks.check_fc_net_backward, range(20)) == []


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0].__name__)
def test_the_catalogue_keeps_its_verdicts_under_secrets(family):
    check, entries = family
    for implementation, words in entries:
        for secret in (1, 2):
            message = verdict(check, secret, implementation)
            if words is None:
                assert message is None, message
            else:
                assert message is not None and all(w.lower() in message.lower() for w in words), (words, message)


@pytest.mark.exhaustive
@pytest.mark.parametrize("check", CHEAP + (checks.check_fc_net_backward,), ids=lambda c: c.__name__)
def test_the_instructors_code_passes_10000_secrets(check):
    assert rejections(check, range(1000, 11000)) == []
