import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import eval_numerical_gradient_array, layernorm_backward, layernorm_forward, rel_error


def test_backward_matches_numeric_gradient(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    _, cache = layernorm_forward(x, gamma, beta, {})
    analytic = layernorm_backward(dout, cache)
    numeric = (
        eval_numerical_gradient_array(lambda x_: layernorm_forward(x_, gamma, beta, {})[0], x, dout),
        eval_numerical_gradient_array(lambda g_: layernorm_forward(x, g_, beta, {})[0], gamma, dout),
        eval_numerical_gradient_array(lambda b_: layernorm_forward(x, gamma, b_, {})[0], beta, dout),
    )
    for name, a, n in zip(("dx", "dgamma", "dbeta"), analytic, numeric):
        assert a.shape == n.shape, name
        assert rel_error(a, n) < 1e-8, f"{name}: {rel_error(a, n):.2e}"


@settings(max_examples=30, deadline=None)
@given(N=st.integers(1, 20), D=st.integers(2, 30), seed=st.integers(0, 2**32 - 1))
def test_each_sample_is_normalized_over_its_features(N, D, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-50, 50, size=(N, 1)) + rng.uniform(0.1, 10, size=(N, 1)) * rng.normal(size=(N, D))
    out, _ = layernorm_forward(x, np.ones(D), np.zeros(D), {"eps": 1e-12})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-9)
    # eps inside the root shrinks the std below 1 where a sample's variance is tiny
    var = x.var(axis=1)
    np.testing.assert_allclose(out.std(axis=1), np.sqrt(var / (var + 1e-12)), rtol=1e-6)


def test_a_sample_does_not_depend_on_the_rest_of_the_batch(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    whole, _ = layernorm_forward(x, gamma, beta, {})
    alone, _ = layernorm_forward(x[2:3], gamma, beta, {})
    np.testing.assert_array_equal(alone, whole[2:3])


def test_inputs_are_never_modified(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    copies = [a.copy() for a in bn_inputs]
    _, cache = layernorm_forward(x, gamma, beta, {})
    layernorm_backward(dout, cache)
    for a, c in zip(bn_inputs, copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_mode_key_is_ignored(bn_inputs, mode):
    x, gamma, beta, _ = bn_inputs
    np.testing.assert_array_equal(
        layernorm_forward(x, gamma, beta, {"mode": mode})[0], layernorm_forward(x, gamma, beta, {})[0]
    )
