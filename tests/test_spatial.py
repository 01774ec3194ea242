"""Spatial batch norm and group norm: gradients, the statistics they use, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_bn.layernorm import layernorm_forward
from cs231n_bn.spatial import (
    GroupNormCache,
    SpatialBatchNormCache,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

N, C, H, W = 3, 6, 3, 4


@pytest.fixture
def maps(rng):
    """x off-centre and scaled per channel, gamma/beta far from 1/0, a random dout."""
    x = rng.normal(size=(N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(-3, 3, (1, C, 1, 1))
    gamma = rng.uniform(0.5, 2.0, C) * rng.choice([-1, 1], C)
    beta = rng.normal(0, 2, C)
    dout = rng.normal(size=(N, C, H, W))
    return x, gamma, beta, dout


def assert_gradients_match(forward, backward, x, gamma, beta, dout):
    """Analytic (dx, dgamma, dbeta) against centered differences of sum(forward(...) * dout)."""
    _, cache = forward(x, gamma, beta)
    analytic = backward(dout, cache)
    numeric = (
        eval_numerical_gradient_array(lambda x_: forward(x_, gamma, beta)[0], x, dout),
        eval_numerical_gradient_array(lambda g_: forward(x, g_, beta)[0], gamma, dout),
        eval_numerical_gradient_array(lambda b_: forward(x, gamma, b_)[0], beta, dout),
    )
    for name, a, n in zip(("dx", "dgamma", "dbeta"), analytic, numeric):
        assert a.shape == n.shape, f"{name}: shape {a.shape}, expected {n.shape}"
        # Entries of dx near zero inflate the elementwise relative error, so also compare
        # the largest difference with the gradient's own scale.
        scaled = np.max(np.abs(a - n)) / np.max(np.abs(n))
        assert rel_error(a, n) < 1e-5 and scaled < 1e-8, f"{name}: rel {rel_error(a, n):.1e}, scaled {scaled:.1e}"


def normalize(x, axes, eps=1e-5):
    """Reference normalization over `axes`, from numpy's own mean and (biased) variance."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    return centred / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)


def per_channel(p):
    return p.reshape(1, -1, 1, 1)


# --- spatial batch norm --------------------------------------------------------------------


def test_spatial_batchnorm_gradients(maps):
    assert_gradients_match(
        lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
        spatial_batchnorm_backward,
        *maps,
    )


def test_spatial_batchnorm_normalizes_each_channel_over_batch_and_positions(maps):
    x, gamma, beta, _ = maps
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    expected = per_channel(gamma) * normalize(x, (0, 2, 3)) + per_channel(beta)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_spatial_batchnorm_running_statistics_are_per_channel(maps):
    x, gamma, beta, _ = maps
    bn_param = {"mode": "train", "momentum": 0.0}
    spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn_param["running_var"], x.var(axis=(0, 2, 3)))
    # In test mode the same statistics, now constants, reproduce the training output.
    bn_param["mode"] = "test"
    train_out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    test_out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(test_out, train_out, rtol=1e-10, atol=1e-10)


# --- group norm ----------------------------------------------------------------------------


@pytest.mark.parametrize("G", [1, 2, 3, C])
def test_spatial_groupnorm_gradients(maps, G):
    assert_gradients_match(
        lambda x, g, b: spatial_groupnorm_forward(x, g, b, G, {}),
        spatial_groupnorm_backward,
        *maps,
    )


def test_one_group_is_layer_norm_over_channels_and_positions(maps):
    x, gamma, beta, _ = maps
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 1, {})
    expected = per_channel(gamma) * normalize(x, (1, 2, 3)) + per_channel(beta)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    # The package's layer norm on flattened samples agrees too, with gamma repeated per position.
    flat, _ = layernorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), {})
    np.testing.assert_allclose(out, flat.reshape(x.shape), rtol=1e-12, atol=1e-12)


def test_one_channel_per_group_is_instance_norm(maps):
    x, gamma, beta, _ = maps
    out, _ = spatial_groupnorm_forward(x, gamma, beta, C, {})
    expected = per_channel(gamma) * normalize(x, (2, 3)) + per_channel(beta)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_groups_are_consecutive_channels(maps):
    x, gamma, beta, _ = maps
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    for g, channels in enumerate((slice(0, 3), slice(3, 6))):
        expected = per_channel(gamma[channels]) * normalize(x[:, channels], (1, 2, 3)) + per_channel(beta[channels])
        np.testing.assert_allclose(out[:, channels], expected, rtol=1e-12, atol=1e-12, err_msg=f"group {g}")


@settings(max_examples=30, deadline=None)
@given(
    N_=st.integers(1, 4),
    G=st.integers(1, 4),
    per_group=st.integers(1, 3),
    H_=st.integers(1, 4),
    W_=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_group_has_zero_mean_and_unit_variance(N_, G, per_group, H_, W_, seed):
    rng = np.random.default_rng(seed)
    C_ = G * per_group
    x = rng.uniform(-50, 50) + rng.uniform(0.1, 10) * rng.normal(size=(N_, C_, H_, W_))
    out, _ = spatial_groupnorm_forward(x, np.ones(C_), np.zeros(C_), G, {"eps": 1e-12})
    groups = out.reshape(N_, G, -1)
    np.testing.assert_allclose(groups.mean(axis=2), 0, atol=1e-9)
    # eps inside the root shrinks the std below 1 where a group's variance is tiny
    var = x.reshape(N_, G, -1).var(axis=2)
    np.testing.assert_allclose(groups.std(axis=2), np.sqrt(var / (var + 1e-12)), rtol=1e-6)


def test_groupnorm_sample_does_not_depend_on_the_batch_or_the_mode(maps):
    x, gamma, beta, _ = maps
    whole, _ = spatial_groupnorm_forward(x, gamma, beta, 3, {})
    alone, _ = spatial_groupnorm_forward(x[1:2], gamma, beta, 3, {"mode": "test"})
    np.testing.assert_array_equal(alone, whole[1:2])


def test_inputs_are_never_modified(maps):
    copies = [a.copy() for a in maps]
    x, gamma, beta, dout = maps
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    spatial_batchnorm_backward(dout, cache)
    _, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    spatial_groupnorm_backward(dout, cache)
    for a, c in zip(maps, copies):
        np.testing.assert_array_equal(a, c)


def test_caches_are_named(maps):
    x, gamma, beta, _ = maps
    _, bn_cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    _, gn_cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    assert isinstance(bn_cache, SpatialBatchNormCache) and bn_cache.bn.xhat.shape == (N * H * W, C)
    assert isinstance(gn_cache, GroupNormCache) and gn_cache.mu.shape == (N, 2, 1)


# --- bad input -----------------------------------------------------------------------------


def good():
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 4, 3, 3)), np.ones(4), np.zeros(4)


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((np.ones((2, 4, 3)), np.ones(4), np.zeros(4)), ValueError, ["x", "4-D", "3-D"]),
        ((np.ones((2, 4, 3, 3), dtype=int), np.ones(4), np.zeros(4)), TypeError, ["x", "floating", "int64"]),
        ((good()[0], np.ones((4, 1)), np.zeros(4)), ValueError, ["gamma", "(4,)", "(4, 1)"]),
        ((good()[0], np.ones(4), np.zeros(3)), ValueError, ["beta", "(4,)", "(3,)"]),
        # Integer gamma and beta are cast (CS231n's cells write them so); booleans are a mistake.
        ((good()[0], np.ones(4, dtype=bool), np.zeros(4)), TypeError, ["gamma", "floating", "bool"]),
    ],
)
@pytest.mark.parametrize("name", ["spatial_batchnorm_forward", "spatial_groupnorm_forward"])
def test_forward_rejects_bad_arrays(name, args, error, words):
    call = {
        "spatial_batchnorm_forward": lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
        "spatial_groupnorm_forward": lambda x, g, b: spatial_groupnorm_forward(x, g, b, 2, {}),
    }[name]
    with pytest.raises(error) as info:
        call(*args)
    message = str(info.value)
    assert message.startswith(f"{name}:"), message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_group_layout_is_refused_by_spatial_batchnorm_and_mixed_layouts_by_group_norm():
    x, gamma, beta = good()
    with pytest.raises(ValueError, match=r"^spatial_batchnorm_forward: gamma must have shape \(4,\).*"
                                         r"got \(1, 4, 1, 1\).*gamma\.reshape\(4\)"):
        spatial_batchnorm_forward(x, gamma.reshape(1, 4, 1, 1), beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"^spatial_groupnorm_forward: gamma and beta must have the same "
                                         r"shape.*got \(1, 4, 1, 1\) and \(4,\)"):
        spatial_groupnorm_forward(x, gamma.reshape(1, 4, 1, 1), beta, 2, {})


def test_group_norm_takes_cs231n_layout_and_returns_gradients_in_it(maps):
    x, gamma, beta, dout = maps
    out, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    out4, cache4 = spatial_groupnorm_forward(x, gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1), 2, {})
    np.testing.assert_array_equal(out4, out)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    dx4, dgamma4, dbeta4 = spatial_groupnorm_backward(dout, cache4)
    assert dgamma.shape == dbeta.shape == (C,)
    assert dgamma4.shape == dbeta4.shape == (1, C, 1, 1)
    np.testing.assert_array_equal(dx4, dx)
    np.testing.assert_array_equal(dgamma4.ravel(), dgamma)
    np.testing.assert_array_equal(dbeta4.ravel(), dbeta)
    forward = lambda x_, g_, b_: spatial_groupnorm_forward(x_, g_, b_, 2, {})  # noqa: E731
    layout = (1, C, 1, 1)
    assert_gradients_match(forward, spatial_groupnorm_backward, x, gamma.reshape(layout).copy(),
                           beta.reshape(layout).copy(), dout)


@pytest.mark.parametrize(
    "bn_param, words",
    [
        ({}, ["mode", "required"]),
        ({"mode": "eval"}, ["mode", "'eval'"]),
        ({"mode": "train", "eps": 0.0}, ["eps", "> 0"]),
        ({"mode": "train", "eps": -1e-5}, ["eps", "> 0"]),
        ({"mode": "train", "momentum": 1.5}, ["momentum", "[0, 1]"]),
        ({"mode": "test"}, ["test mode", "running_mean", "got none"]),
        ({"mode": "train", "running_var": np.ones(3)}, ["running_var", "(4,)", "(3,)"]),
    ],
)
def test_spatial_batchnorm_rejects_bad_bn_param(bn_param, words):
    with pytest.raises(ValueError) as info:
        spatial_batchnorm_forward(*good(), bn_param)
    message = str(info.value)
    assert message.startswith("spatial_batchnorm_forward:"), message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_spatial_batchnorm_needs_two_values_per_channel_in_training():
    x, gamma, beta = good()
    with pytest.raises(ValueError, match=r"^spatial_batchnorm_forward: train mode needs at least 2.*N\*H\*W=1"):
        spatial_batchnorm_forward(x[:1, :, :1, :1], gamma, beta, {"mode": "train"})


@pytest.mark.parametrize(
    "G, error, pattern",
    [
        (3, ValueError, r"G must divide the number of channels C=4.*got G=3.*\[1, 2, 4\]"),
        (0, ValueError, r"G must be between 1 and C=4.*got G=0"),
        (8, ValueError, r"G must be between 1 and C=4.*got G=8"),
        (2.0, TypeError, r"G must be an integer.*got 2.0"),
        (True, TypeError, r"G must be an integer.*got True"),
    ],
)
def test_spatial_groupnorm_rejects_bad_groups(G, error, pattern):
    with pytest.raises(error, match=r"^spatial_groupnorm_forward: " + pattern):
        spatial_groupnorm_forward(*good(), G, {})


def test_spatial_groupnorm_rejects_bad_gn_param_and_tiny_groups():
    x, gamma, beta = good()
    with pytest.raises(ValueError, match=r"^spatial_groupnorm_forward: gn_param\['eps'\] must be a finite number > 0; got 0"):
        spatial_groupnorm_forward(x, gamma, beta, 2, {"eps": 0})
    with pytest.raises(TypeError, match=r"^spatial_groupnorm_forward: gn_param must be a dict; got NoneType"):
        spatial_groupnorm_forward(x, gamma, beta, 2, None)
    with pytest.raises(ValueError, match=r"^spatial_groupnorm_forward: each group must hold at least 2 values.*= 1"):
        spatial_groupnorm_forward(x[:, :, :1, :1], gamma, beta, 4, {})


def test_backward_rejects_wrong_dout_and_caches():
    x, gamma, beta = good()
    _, bn_cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    _, gn_cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    for backward, cache in ((spatial_batchnorm_backward, bn_cache), (spatial_groupnorm_backward, gn_cache)):
        name = backward.__name__
        with pytest.raises(ValueError, match=rf"^{name}: dout must have shape \(2, 4, 3, 3\).*got \(2, 4, 9\)"):
            backward(np.ones((2, 4, 9)), cache)
        with pytest.raises(TypeError, match=rf"^{name}: dout must have a floating-point dtype.*int64"):
            backward(np.ones((2, 4, 3, 3), dtype=np.int64), cache)
    with pytest.raises(TypeError, match=r"^spatial_batchnorm_backward: cache must be the SpatialBatchNormCache.*GroupNormCache"):
        spatial_batchnorm_backward(np.ones_like(x), gn_cache)
    with pytest.raises(TypeError, match=r"^spatial_groupnorm_backward: cache must be the GroupNormCache.*tuple"):
        spatial_groupnorm_backward(np.ones_like(x), (x, gamma))
    bn_param = {"mode": "test", "running_mean": np.zeros(4), "running_var": np.ones(4)}
    _, test_cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    with pytest.raises(ValueError, match=r"^spatial_batchnorm_backward: cache comes from a 'test'-mode"):
        spatial_batchnorm_backward(np.ones_like(x), test_cache)
