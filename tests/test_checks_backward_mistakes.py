"""The terms a wrong dx is fitted against are reference values, computed on the instructor's side.

The shipped fits (cs231n_bn.checks.backward_fits) only fit and name; what a mistake
computes in place of a path of dx comes from classroom.grader.backward_mistakes, asked for
by the mistake's name before the check runs the code under test.
"""

import numpy as np

from classroom.edition.reference_values import record
from classroom.grader.references import instructor_provider
from cs231n_bn import checks
from cs231n_bn.checks import reference
from cs231n_bn.checks.backward_fits import STOPS_AT_XHAT, VARIANCE_READS_X, VARIANCE_UNSUMMED, mistake_key

BACKWARD_CHECKS = {
    "batchnorm_backward": checks.check_batchnorm_backward,
    "batchnorm_backward_alt": checks.check_batchnorm_backward_alt,
    "layernorm_backward": checks.check_layernorm_backward,
    "spatial_batchnorm_backward": checks.check_spatial_batchnorm_backward,
    "spatial_groupnorm_backward": checks.check_spatial_groupnorm_backward,
}


def _asked(function_name):
    """The names of the values the check of function_name asks for (without the function)."""
    values = record(runs=(BACKWARD_CHECKS[function_name],))
    return {name.split("|")[0].partition("/")[2] for name in values if name.startswith(f"{function_name}/")}


def test_every_backward_check_asks_for_the_mistakes_by_name_and_never_for_the_right_paths_under_one():
    for function_name in BACKWARD_CHECKS:
        asked = _asked(function_name)
        assert {STOPS_AT_XHAT, VARIANCE_UNSUMMED, VARIANCE_READS_X} <= asked, function_name
        assert mistake_key("alternative 0", "inside", "mean") in asked, function_name
        assert not any(mistake_key("right", "inside", term) in asked for term in ("mean", "variance"))


def test_the_grader_gives_the_mistakes_of_a_case_it_never_recorded():
    # batch norm of (N, D) on inputs of no check: the means over each sample's features
    # (alternative 0 of bn_layout) with gamma inside them, as the path they replace
    rng = np.random.default_rng(2026)
    N, D, eps = 7, 3, 1e-3
    x, dout = rng.normal(size=(N, D)) * 2 + 1, rng.normal(size=(N, D))
    gamma, beta = rng.uniform(0.5, 2, size=D), rng.normal(size=D)
    inputs = ("batchnorm_backward", x, gamma, beta, {"mode": "train", "eps": eps}, dout)

    def value(what):
        return reference.value(f"batchnorm_backward/{what}", *inputs)

    with reference.provider(instructor_provider()), reference.checking("test"):
        mean_term = value(mistake_key("alternative 0", "inside", "mean"))
        var_term = value(mistake_key("alternative 0", "inside", "variance"))
        stopped = value(STOPS_AT_XHAT)
        xhat = value("xhat")
    s = np.sqrt(x.var(axis=0) + eps)
    dxhat = gamma * dout
    np.testing.assert_allclose(stopped, dxhat, rtol=1e-13)
    np.testing.assert_allclose(mean_term, -dxhat.mean(axis=1, keepdims=True) / s, rtol=1e-12)
    np.testing.assert_allclose(var_term, -xhat * (dxhat * xhat).mean(axis=1, keepdims=True) / s, rtol=1e-12)
