"""Shared fixtures (seeded data with non-trivial gamma and beta, so zeros hide no bug), and
the student edition's verdicts: a test that reaches an exercise the student has not
started is skipped as "not implemented yet", not failed."""

import os
import re
import subprocess

import numpy as np
import pytest
from hypothesis import settings

from cs231n_bn.exercise import not_started

# The suite must pass the same way every run (CI, three runs in a row), so hypothesis draws
# the same examples each time. HYPOTHESIS_PROFILE=explore searches afresh on every run.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.fixture
def bn_inputs(rng):
    """x (N, D) off-centre and scaled per feature, gamma and beta far from 1 and 0, dout random."""
    N, D = 7, 5
    x = rng.normal(loc=rng.uniform(-3, 3, D), scale=rng.uniform(0.5, 4, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1, 1], D)
    beta = rng.normal(0, 2, D)
    dout = rng.normal(size=(N, D))
    return x, gamma, beta, dout


def stub_reached(err):
    """The stub message if `err` comes from an exercise not started, in this process or in a
    child process that died of it (a CalledProcessError whose stderr shows the stub); else None."""
    if not_started(err):
        return str(err)
    if isinstance(err, subprocess.CalledProcessError):
        stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else str(err.stderr or "")
        found = re.search(r"cs231n_bn\.exercise\.NotImplementedYet: (.*)", stderr)
        if found:
            return found[1]
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # The stub's exception (or a check failure raised from it) means "not started": in the
    # student edition that is a to-do, not a failure, so the test is reported as skipped,
    # at its own line. The instructor's edition has no stubs.
    report = yield
    stub = stub_reached(call.excinfo.value) if report.failed and call.excinfo is not None else None
    if stub is not None:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] + 1, f"not implemented yet: {stub}")
    return report
