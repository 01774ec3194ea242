"""Notebook 7's numeric checks bound the error by the numeric gradient's own, on any input.

check_spatial_numeric and check_group_numeric compare a backward pass with
eval_numerical_gradient_array. Their bound follows from the inputs (round-off of out times
dout over h, plus the estimate's change when h doubles), so a right answer passes on every
secret input, including those where a fixed relative bound of 1e-6 failed it, and every
wrong gradient of the catalogue still fails. A numeric estimate, which agrees with numeric
gradients within their error too, fails: it is not the exact gradient to round-off.
"""

import contextlib
import io

import pytest

import numpy as np

from classroom.grader.references import instructor_provider
from classroom.grader.student_process import secret_seeds
from cs231n_bn import checks, spatial
from cs231n_bn.checks import reference
from cs231n_bn.gradient_check import eval_numerical_gradient_array
from cs231n_bn.spatial import spatial_batchnorm_backward, spatial_groupnorm_backward
from test_checks_mistakes_norm import GN_BACKWARD, SBN_BACKWARD

NUMERIC = ((checks.check_spatial_numeric, SBN_BACKWARD), (checks.check_group_numeric, GN_BACKWARD))
# Mistakes in how gamma and beta of shape (1, C, 1, 1) are handled: these checks pass (C,) ones
# (the backward checks test the layouts), so only gradient mistakes are theirs to catch.
LAYOUT_MISTAKES = ("(1, 4, 1, 1)",)


def _quietly(check, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        check(*args, **kwargs)


@pytest.mark.parametrize("check, secret", [(checks.check_spatial_numeric, s) for s in (13813, 18183, 19371)]
                         + [(checks.check_group_numeric, s) for s in (10436, 10573, 10974)])
def test_the_instructors_code_passes_where_a_fixed_bound_of_1e_6_failed_it(check, secret):
    # as the grader runs it: secret inputs, reference values computed for them
    with secret_seeds(secret), reference.provider(instructor_provider()):
        _quietly(check)


@pytest.mark.parametrize("check, implementation, words",
                         [(check, impl, words) for check, entries in NUMERIC for impl, words in entries
                          if not (words and any(m in w for w in words for m in LAYOUT_MISTAKES))])
def test_the_catalogue_s_wrong_gradients_fail_and_its_right_ones_pass(check, implementation, words):
    forward = getattr(implementation, "forward", None)
    kwargs = {"forward": forward} if forward else {}
    if words is None:
        _quietly(check, implementation, **kwargs)
    else:
        with pytest.raises(checks.CheckFailed):
            _quietly(check, implementation, **kwargs)


@pytest.mark.parametrize("check, backward", [(checks.check_spatial_numeric, spatial_batchnorm_backward),
                                             (checks.check_group_numeric, spatial_groupnorm_backward)])
def test_a_gradient_off_by_one_part_in_a_million_fails(check, backward):
    def slightly_off(dout, cache):
        dx, dgamma, dbeta = backward(dout, cache)
        return dx * (1 + 1e-6), dgamma, dbeta

    with pytest.raises(checks.CheckFailed, match="own error"):
        _quietly(check, slightly_off)


@pytest.mark.parametrize("h", [1e-3, 1e-4, 1e-5])
def test_a_numeric_estimate_fails(h):
    def estimated(dout, cache):
        def out(x, gamma, beta):
            return spatial.spatial_groupnorm_forward(x, gamma, beta, cache.G, {"eps": cache.eps})[0]

        beta = np.zeros_like(cache.gamma)
        return (eval_numerical_gradient_array(lambda x: out(x, cache.gamma, beta), cache.x.copy(), dout, h=h),
                eval_numerical_gradient_array(lambda g: out(cache.x, g, beta), cache.gamma.copy(), dout, h=h),
                eval_numerical_gradient_array(lambda b: out(cache.x, cache.gamma, b), beta, dout, h=h))

    with pytest.raises(checks.CheckFailed, match="numeric estimate rather than the derived gradient"):
        _quietly(checks.check_group_numeric, estimated)
