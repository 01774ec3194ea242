import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import rel_error
from cs231n_bn.numerics import (
    best_step,
    finite_difference_gradient,
    loglog_slope,
    step_size_sweep,
)


def f_exp(a):
    return float(np.sum(np.exp(a)))


@pytest.mark.parametrize("scheme", ["forward", "backward", "centered"])
def test_gradient_of_a_known_function(rng, scheme):
    x = rng.normal(size=(3, 4))
    h = 1e-8 if scheme != "centered" else 1e-5
    grad = finite_difference_gradient(lambda a: float(np.sum(np.sin(a) * a)), x, h, scheme)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-6


@pytest.mark.parametrize(
    "scheme, expected_ratio", [("forward", 10), ("backward", 10), ("centered", 100)]
)
def test_error_shrinks_with_the_order_of_the_scheme(scheme, expected_ratio):
    x = np.array([0.7])
    e1, e2 = (
        abs(finite_difference_gradient(f_exp, x, h, scheme)[0] - np.exp(0.7)) for h in (1e-2, 1e-3)
    )
    assert expected_ratio / 2 < e1 / e2 < expected_ratio * 2


def test_one_sided_errors_have_opposite_signs():
    # The leading terms +h/2 f'' and -h/2 f'' cancel in their mean, which is the centered difference.
    x = np.array([0.3])
    fwd = finite_difference_gradient(f_exp, x, 1e-3, "forward")[0] - np.exp(0.3)
    bwd = finite_difference_gradient(f_exp, x, 1e-3, "backward")[0] - np.exp(0.3)
    assert fwd > 0 > bwd
    assert fwd == pytest.approx(-bwd, rel=1e-2)


def test_closure_sees_the_nudge_and_x_is_restored_bit_for_bit(rng):
    params = {"w": rng.normal(size=(2, 3))}
    before = params["w"].copy()
    grad = finite_difference_gradient(lambda _: float(np.sum(params["w"] ** 3)), params["w"])
    assert rel_error(grad, 3 * before**2) < 1e-8
    assert params["w"].tobytes() == before.tobytes()


@pytest.mark.parametrize("scheme", ["forward", "backward", "centered"])
def test_x_is_restored_even_when_f_raises(rng, scheme):
    x = rng.normal(size=(4,))
    before = x.copy()
    calls = []

    def f(a):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("boom")
        return float(a.sum())

    with pytest.raises(RuntimeError, match="boom"):
        finite_difference_gradient(f, x, 1e-3, scheme)
    assert x.tobytes() == before.tobytes()


def test_float32_runs_in_float32_without_warnings(rng):
    x = rng.normal(size=(5,)).astype(np.float32)
    seen = []

    def f(a):
        seen.append(a.dtype)
        return np.sum(a**2)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad = finite_difference_gradient(f, x, 1e-3)
    assert set(seen) == {np.dtype(np.float32)}
    assert x.dtype == np.float32
    # float32 round-off (~1e-7 / 1e-3) limits the agreement to roughly 1e-4
    assert 1e-9 < rel_error(grad, 2 * x.astype(np.float64)) < 1e-2


def test_sweep_is_v_shaped_in_float64():
    x = np.array([0.5, -1.0, 2.0])
    hs = np.logspace(-1, -13, 13)
    errors = step_size_sweep(f_exp, x, np.exp(x), hs, "centered")
    best = int(np.argmin(errors))
    assert 0 < best < len(hs) - 1, errors
    assert errors[0] > 100 * errors[best] and errors[-1] > 100 * errors[best]
    assert hs[best] == pytest.approx(best_step(np.float64), rel=100)


def test_float32_sweep_is_worse_than_float64():
    x64 = np.array([0.5, -1.0, 2.0])
    x32 = x64.astype(np.float32)
    hs = np.logspace(-1, -7, 13)
    e64 = step_size_sweep(f_exp, x64, np.exp(x64), hs)
    e32 = step_size_sweep(f_exp, x32, np.exp(x64), hs)
    assert e32.min() > 1e-6 > 1e-9 > e64.min()


def test_slopes_of_the_truncation_regime():
    x = np.array([0.5, -1.0])
    hs = np.logspace(-1, -3, 5)
    assert loglog_slope(hs, step_size_sweep(f_exp, x, np.exp(x), hs, "forward")) == pytest.approx(1, abs=0.1)
    assert loglog_slope(hs, step_size_sweep(f_exp, x, np.exp(x), hs, "centered")) == pytest.approx(2, abs=0.1)


@settings(max_examples=50, deadline=None)
@given(
    power=st.floats(-3, 3),
    scale=st.floats(1e-6, 1e6),
    start=st.floats(-12, -1),
    decades=st.floats(0.5, 6),
)
def test_loglog_slope_recovers_a_power_law(power, scale, start, decades):
    hs = np.logspace(start, start + decades, 7)
    assert loglog_slope(hs, scale * hs**power) == pytest.approx(power, abs=1e-6)


@pytest.mark.parametrize("dtype, scheme", [(np.float64, "centered"), (np.float64, "forward"),
                                           (np.float32, "centered"), (np.float32, "backward")])
def test_best_step_is_within_a_factor_30_of_the_measured_optimum(dtype, scheme):
    # Judged against a sweep, not a formula: the formula is notebook 4's exercise.
    x = np.array([0.5, -1.0, 2.0], dtype=dtype)
    hs = np.logspace(-1, -12, 45)
    errors = step_size_sweep(f_exp, x, np.exp(x.astype(np.float64)), hs, scheme)
    measured, predicted = hs[int(np.argmin(errors))], best_step(dtype, scheme)
    assert predicted / 30 < measured < predicted * 30, (measured, predicted)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: finite_difference_gradient(f_exp, np.arange(3), 1e-3), TypeError,
         r"^finite_difference_gradient: x must have a floating-point dtype"),
        (lambda: finite_difference_gradient(f_exp, np.ones(3), 0.0), ValueError,
         r"^finite_difference_gradient: h must be a finite number > 0; got 0.0"),
        (lambda: finite_difference_gradient(f_exp, np.ones(3), 1e-3, "central"), ValueError,
         r"^finite_difference_gradient: scheme must be one of 'forward', 'backward', 'centered'; got 'central'"),
        (lambda: finite_difference_gradient(lambda a: a * 2, np.ones(3)), ValueError,
         r"^finite_difference_gradient: f must return a scalar; got an array of shape \(3,\)"),
        (lambda: step_size_sweep(f_exp, np.ones(3), np.ones(2), [1e-3]), ValueError,
         r"^step_size_sweep: grad must have the shape of x, \(3,\); got \(2,\)"),
        (lambda: step_size_sweep(f_exp, np.ones(3), np.ones(3), [1e-3, -1.0]), ValueError,
         r"^step_size_sweep: hs must be a non-empty 1-D sequence of step sizes > 0"),
        (lambda: loglog_slope([1e-3], [1.0]), ValueError,
         r"^loglog_slope: hs and errors must be 1-D with the same length >= 2"),
        (lambda: loglog_slope([1e-3, 1e-2], [0.0, 1.0]), ValueError,
         r"^loglog_slope: hs and errors must all be > 0"),
        (lambda: loglog_slope([1e-3, 1e-3], [1.0, 2.0]), ValueError,
         r"^loglog_slope: hs must contain at least two different step sizes"),
        (lambda: best_step(np.int32), TypeError,
         r"^best_step: dtype must be a floating-point dtype; got int32"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
