import warnings

import numpy as np
import pytest

from cs231n_bn import (
    LowPrecisionWarning,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_numeric_gradient_of_a_known_function(rng):
    x = rng.normal(size=(3, 4))
    grad = eval_numerical_gradient(lambda a: np.sum(np.sin(a) * a), x, verbose=False)
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-9


def test_numeric_gradient_array_of_a_known_function(rng):
    x, df = rng.normal(size=(5,)), rng.normal(size=(5,))
    grad = eval_numerical_gradient_array(lambda a: a**3, x, df)
    assert rel_error(grad, 3 * x**2 * df) < 1e-8


def test_centered_difference_error_shrinks_like_h_squared():
    x = np.array([0.7])
    errors = [
        abs(eval_numerical_gradient(lambda a: float(np.exp(a[0])), x, verbose=False, h=h)[0] - np.exp(0.7))
        for h in (1e-2, 1e-3)
    ]
    assert 50 < errors[0] / errors[1] < 200  # ~100 for O(h^2); a one-sided difference gives ~10


def test_closures_over_x_see_the_nudge_and_x_is_restored_bit_for_bit(rng):
    params = {"w": rng.normal(size=(3, 3))}
    before = params["w"].copy()
    grad = eval_numerical_gradient(lambda _: np.sum(params["w"] ** 2), params["w"], verbose=False)
    assert rel_error(grad, 2 * before) < 1e-9
    assert params["w"].tobytes() == before.tobytes()


@pytest.mark.parametrize("check", ["scalar", "array", "sparse"])
def test_x_is_restored_even_when_f_raises(rng, check):
    x = rng.normal(size=(4,))
    before = x.copy()
    calls = []

    def f(a):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("boom")
        return float(a.sum()) if check != "array" else a.copy()

    with pytest.raises(RuntimeError):
        if check == "scalar":
            eval_numerical_gradient(f, x, verbose=False)
        elif check == "array":
            eval_numerical_gradient_array(f, x, np.ones(4))
        else:
            grad_check_sparse(f, x, np.ones(4), num_checks=3, verbose=False)
    assert x.tobytes() == before.tobytes()


def test_float32_input_warns_loudly(rng):
    x = rng.normal(size=(3,)).astype(np.float32)
    with pytest.warns(LowPrecisionWarning, match=r"x has dtype float32.*Use float64"):
        eval_numerical_gradient(lambda a: float(np.sum(a**2)), x, verbose=False)
    with pytest.warns(LowPrecisionWarning, match=r"x has dtype float32"):
        eval_numerical_gradient_array(lambda a: a.astype(np.float64) ** 2, x, np.ones(3))


def test_float32_output_warns_loudly(rng):
    x = rng.normal(size=(3,))
    with pytest.warns(LowPrecisionWarning, match=r"f returned float32 values"):
        eval_numerical_gradient_array(lambda a: (a**2).astype(np.float32), x, np.ones(3))


def test_float64_does_not_warn(rng):
    x = rng.normal(size=(3,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eval_numerical_gradient(lambda a: float(np.sum(a**2)), x, verbose=False)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match=r"^eval_numerical_gradient: x must have a floating-point dtype"):
        eval_numerical_gradient(lambda a: float(a.sum()), np.arange(3), verbose=False)


def test_a_function_that_ignores_x_is_flagged(rng):
    x, y = rng.normal(size=(3,)), rng.normal(size=(3,))
    with pytest.warns(UserWarning, match=r"does f actually read x\?"):
        grad = eval_numerical_gradient(lambda _: float(np.sum(y**2)), x, verbose=False)
    np.testing.assert_array_equal(grad, 0)


def test_array_version_refuses_a_mismatched_upstream_gradient(rng):
    with pytest.raises(ValueError, match=r"df must have the shape of f\(x\), \(3,\); got \(1,\)"):
        eval_numerical_gradient_array(lambda a: a * 2, rng.normal(size=(3,)), np.ones(1))


def test_rel_error_definition_and_shape_check():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert rel_error(np.array([1e-10]), np.array([0.0])) == pytest.approx(1e-10 / 1e-8)
    with pytest.raises(ValueError, match=r"same shape; got \(3,\) and \(2, 3\)"):
        rel_error(np.ones(3), np.ones((2, 3)))


def test_grad_check_sparse_finds_a_wrong_gradient_and_passes_a_right_one(rng, capsys):
    x = rng.normal(size=(6, 5))
    f = lambda a: float(np.sum(a**3))  # noqa: E731
    right = grad_check_sparse(f, x, 3 * x**2, num_checks=8)
    assert right.shape == (8,) and right.max() < 1e-6
    assert len(capsys.readouterr().out.splitlines()) == 8
    wrong = grad_check_sparse(f, x, 2 * x**2, num_checks=8, verbose=False)
    assert wrong.min() > 0.1


def test_grad_check_sparse_draws_distinct_entries_reproducibly(rng):
    x = rng.normal(size=(2, 2))
    seen = []
    f = lambda a: seen.append(a.copy()) or float(a.sum())  # noqa: E731
    grad_check_sparse(f, x, np.ones((2, 2)), num_checks=10, verbose=False)
    assert len(seen) == 2 * 4  # capped at x.size, each entry once (two evaluations each)
    changed = {int(np.flatnonzero(s != x)[0]) for s in seen}
    assert changed == {0, 1, 2, 3}
    a = grad_check_sparse(lambda a: float(np.sum(a**2)), x, 2 * x, num_checks=3, seed=5, verbose=False)
    b = grad_check_sparse(lambda a: float(np.sum(a**2)), x, 2 * x, num_checks=3, seed=5, verbose=False)
    np.testing.assert_array_equal(a, b)


def test_a_read_only_upstream_gradient_is_fine_it_is_never_written(rng):
    x = rng.normal(size=(3, 2))
    df = rng.normal(size=(3, 2))
    df.flags.writeable = False
    grad = eval_numerical_gradient_array(lambda a: 3 * a, x, df)
    np.testing.assert_allclose(grad, 3 * df, rtol=1e-8)
