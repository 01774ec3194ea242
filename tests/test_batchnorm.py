import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    eval_numerical_gradient_array,
    rel_error,
)


def numeric_grads(x, gamma, beta, dout):
    def fx(x_):
        return batchnorm_forward(x_, gamma, beta, {"mode": "train"})[0]

    def fg(g_):
        return batchnorm_forward(x, g_, beta, {"mode": "train"})[0]

    def fb(b_):
        return batchnorm_forward(x, gamma, b_, {"mode": "train"})[0]

    return (
        eval_numerical_gradient_array(fx, x, dout),
        eval_numerical_gradient_array(fg, gamma, dout),
        eval_numerical_gradient_array(fb, beta, dout),
    )


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_backward_matches_numeric_gradient(bn_inputs, backward):
    x, gamma, beta, dout = bn_inputs
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    analytic = backward(dout, cache)
    for name, a, n in zip(("dx", "dgamma", "dbeta"), analytic, numeric_grads(x, gamma, beta, dout)):
        assert a.shape == n.shape, name
        assert rel_error(a, n) < 1e-8, f"{name}: rel_error {rel_error(a, n):.2e}"


@settings(max_examples=40, deadline=None)
@given(
    N=st.integers(2, 40),
    D=st.integers(1, 12),
    scale=st.floats(1e-3, 1e3),
    offset=st.floats(-10, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_staged_and_simplified_agree(N, D, scale, offset, seed):
    # The offset is bounded relative to the scale because the staged graph keeps the term
    # sum(x - mu), zero in exact arithmetic but about N * |mu| * 1e-16 in floating point;
    # the closed form drops it. With |mu| / std <= 10 that residue stays below 1e-12.
    rng = np.random.default_rng(seed)
    x = scale * (offset + rng.normal(size=(N, D)))
    gamma, beta = rng.normal(1, 0.5, D), rng.normal(0, 1, D)
    dout = rng.normal(size=(N, D))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    staged = batchnorm_backward(dout, cache)
    simple = batchnorm_backward_alt(dout, cache)
    # dx is a difference of terms of size |gamma * ivar * dout| that can cancel almost
    # exactly (N=2 is the extreme), so the bound is relative to the terms, not to dx.
    terms = np.max(np.abs(gamma * cache.ivar)) * np.max(np.abs(dout))
    for name, a, b in zip(("dx", "dgamma", "dbeta"), staged, simple):
        size = max(terms, np.max(np.abs(a)), 1.0)
        assert np.max(np.abs(a - b)) <= 1e-12 * size, name


def test_staged_and_simplified_agree_on_the_fixture(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)):
        assert rel_error(a, b) < 1e-12


@settings(max_examples=40, deadline=None)
@given(
    N=st.integers(2, 64),
    D=st.integers(1, 8),
    scale=st.floats(1e-2, 1e3),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 2**32 - 1),
)
def test_forward_normalizes_each_feature(N, D, scale, shift, seed):
    rng = np.random.default_rng(seed)
    x = shift + scale * rng.normal(size=(N, D))
    eps = 1e-12
    out, _ = batchnorm_forward(x, np.ones(D), np.zeros(D), {"mode": "train", "eps": eps})
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    # eps inside the root shrinks the std below 1 where the batch variance is tiny
    var = x.var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), np.sqrt(var / (var + eps)), rtol=1e-6)


def test_forward_scales_and_shifts(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-12})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), np.abs(gamma), rtol=1e-9)
    # The cache carries the graph's intermediates under their own names.
    np.testing.assert_allclose(cache.mu, x.mean(axis=0))
    np.testing.assert_allclose(cache.var, x.var(axis=0))
    np.testing.assert_allclose(cache.xhat * cache.sqrtvar, cache.xmu)


def test_forward_uses_biased_variance_with_eps_inside_the_root():
    x = np.array([[0.0], [2.0]])
    eps = 0.5
    out, _ = batchnorm_forward(x, np.ones(1), np.zeros(1), {"mode": "train", "eps": eps})
    # stored: the unbiased variance, eps outside the root or eps left out give other numbers
    np.testing.assert_allclose(out[:, 0], [-0.816496580927726, 0.816496580927726], rtol=1e-14)


def test_undo_property():
    # stored: the gamma and beta that undo the normalization of this x (notebook 1's exercise)
    x = np.array([[0.0], [2.0], [4.0]])
    out, _ = batchnorm_forward(x, np.array([1.707825127659933]), np.array([2.0]), {"mode": "train", "eps": 0.25})
    np.testing.assert_allclose(out, x, rtol=1e-14, atol=1e-14)


def test_running_averages_follow_the_momentum_rule():
    # stored values of two steps from zeros with momentum 0.8: batches with (mean, biased
    # variance) (1, 1) and then (6, 4)
    bn_param = {"mode": "train", "momentum": 0.8}
    for x, mean, var in ((np.array([[0.0], [2.0]]), 0.2, 0.2), (np.array([[4.0], [8.0]]), 1.36, 0.96)):
        batchnorm_forward(x, np.ones(1), np.zeros(1), bn_param)
        np.testing.assert_allclose(bn_param["running_mean"], [mean], rtol=1e-14)
        np.testing.assert_allclose(bn_param["running_var"], [var], rtol=1e-14)


def test_default_momentum_keeps_ninety_percent_of_the_old_value():
    bn_param = {"mode": "train", "running_mean": np.full(1, 10.0), "running_var": np.full(1, 10.0)}
    x = np.array([[0.0], [2.0]])  # batch mean 1, biased variance 1
    batchnorm_forward(x, np.ones(1), np.zeros(1), bn_param)
    assert bn_param["running_mean"][0] == pytest.approx(9.1)
    assert bn_param["running_var"][0] == pytest.approx(9.1)


def test_running_averages_converge_to_the_population_statistics(rng):
    D = 3
    bn_param = {"mode": "train"}
    for _ in range(300):
        batchnorm_forward(rng.normal(5.0, 2.0, size=(64, D)), np.ones(D), np.zeros(D), bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], 5.0, atol=0.15)
    # the biased batch variance underestimates by (N-1)/N
    np.testing.assert_allclose(bn_param["running_var"], 4.0 * 63 / 64, rtol=0.1)


def test_test_mode_uses_running_statistics_and_is_deterministic(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    D = x.shape[1]
    mean, var = np.linspace(-1, 1, D), np.linspace(0.5, 2, D)
    bn_param = {"mode": "test", "running_mean": mean, "running_var": var}
    out1, _ = batchnorm_forward(x, gamma, beta, bn_param)
    out2, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_array_equal(out1, out2)
    # stored: the test-mode output on a small x with given running statistics
    stored, _ = batchnorm_forward(np.array([[3.0, -1.0], [5.0, 1.0], [0.0, 2.0]]), np.array([2.0, -1.0]),
                                  np.array([0.5, 3.0]), {"mode": "test", "running_mean": np.array([1.0, 0.0]),
                                                         "running_var": np.array([3.0, 0.5])})
    np.testing.assert_allclose(stored, [[2.809397227766331, 4.4141994204496005],
                                        [5.118794455532662, 1.5858005795504],
                                        [-0.6546986138831654, 0.17160115910079998]], rtol=1e-13)
    assert bn_param["running_mean"] is mean and bn_param["running_var"] is var
    # one sample at a time gives the same rows: no dependence on the rest of the batch
    single, _ = batchnorm_forward(x[:1], gamma, beta, bn_param)
    np.testing.assert_array_equal(single, out1[:1])


def test_running_statistics_are_written_back_as_new_arrays(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    old_mean = np.zeros(x.shape[1])
    bn_param = {"mode": "train", "running_mean": old_mean}
    batchnorm_forward(x, gamma, beta, bn_param)
    assert "running_var" in bn_param
    assert bn_param["running_mean"] is not old_mean
    np.testing.assert_array_equal(old_mean, 0)


def test_inputs_are_never_modified(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    batchnorm_backward(dout, cache)
    batchnorm_backward_alt(dout, cache)
    for a, c in zip((x, gamma, beta, dout), copies):
        np.testing.assert_array_equal(a, c)


def test_forward_is_numerically_stable_for_a_large_mean():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(256, 3))
    x = 1e8 + noise
    D = x.shape[1]
    out, _ = batchnorm_forward(x, np.ones(D), np.zeros(D), {"mode": "train", "eps": 1e-12})
    # The exact answer: subtracting 1e8 is exact in float64 for these values up to one ulp
    # of 1e8 (1.5e-8), so normalizing the offset-free noise is the reference.
    centred = x - 1e8
    exact = (centred - centred.mean(axis=0)) / np.sqrt(centred.var(axis=0) + 1e-12)
    assert np.max(np.abs(out - exact)) < 1e-6


def test_a_one_pass_variance_fails_the_stability_test():
    """The stability test has teeth: E[x^2] - E[x]^2 is far off at x = 1e8 + N(0, 1)."""
    rng = np.random.default_rng(0)
    x = 1e8 + rng.normal(size=(256, 3))
    one_pass_var = np.mean(x**2, axis=0) - np.mean(x, axis=0) ** 2
    centred = x - 1e8
    assert np.max(np.abs(one_pass_var - centred.var(axis=0))) > 1.0


def test_float32_stays_float32(bn_inputs):
    x, gamma, beta, dout = (a.astype(np.float32) for a in bn_inputs)
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert out.dtype == np.float32
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32
