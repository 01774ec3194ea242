"""Spatial batch norm and group norm: gradients, the statistics they use, and bad input."""

import numpy as np
import pytest

from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
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





def test_spatial_batchnorm_gradients(maps):
    assert_gradients_match(
        lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
        spatial_batchnorm_backward,
        *maps,
    )


# Stored values (computed once by the instructor's code): what the outputs must be on a small
# input, without a formula that would hand over the exercise.
X_SMALL = np.array([1.0, 2, 4, 7, -1, 0, 3, 5, 2, 2, 8, 1, 0, 6, -2, 3]).reshape(2, 4, 1, 2)
GAMMA_SMALL, BETA_SMALL = np.array([1.0, 2.0, -1.0, 0.5]), np.array([0.0, 1.0, -2.0, 3.0])


def test_spatial_batchnorm_gives_the_stored_output_and_running_statistics():
    bn_param = {"mode": "train", "eps": 0.25, "momentum": 0.5}
    out, _ = spatial_batchnorm_forward(X_SMALL, GAMMA_SMALL, BETA_SMALL, bn_param)
    expected = [[[[-1.133893419028, 0.377964473009]], [[0.281578791893, 2.436842416214]],
                 [[-1.201379141525, -1.556321745292]], [[3.142373699363, 3.522036897664]]],
                [[[0.377964473009, 0.377964473009]], [[3.155263624321, -1.873684832428]],
                 [[-1.556321745292, -3.685977367891]], [[2.19321570361, 3.142373699363]]]]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-11)
    np.testing.assert_allclose(bn_param["running_mean"], [0.875, 2.5, 0.625, 1.125], rtol=1e-14)
    np.testing.assert_allclose(bn_param["running_var"], [0.09375, 3.75, 3.84375, 3.34375], rtol=1e-14)
    # In test mode the running statistics are constants: a sample's output ignores the batch.
    bn_param["mode"] = "test"
    whole, _ = spatial_batchnorm_forward(X_SMALL, GAMMA_SMALL, BETA_SMALL, bn_param)
    alone, _ = spatial_batchnorm_forward(X_SMALL[1:], GAMMA_SMALL, BETA_SMALL, bn_param)
    np.testing.assert_array_equal(alone, whole[1:])


# --- group norm ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", [(4,), (1, 4, 1, 1)])
def test_spatial_groupnorm_gives_the_stored_output_in_both_parameter_layouts(layout):
    out, _ = spatial_groupnorm_forward(X_SMALL, GAMMA_SMALL.reshape(layout), BETA_SMALL.reshape(layout), 2,
                                       {"eps": 0.25})
    expected = [[[[-1.066003581778, -0.639602149067]], [[1.426401432711, 3.984810028979]],
                 [[-0.871423812706, -1.28181515354]], [[3.256494588021, 3.666885928855]]],
                [[[-0.443678254708, -0.443678254708]], [[4.371954735781, -0.597241716949]],
                 [[-1.43034807886, -3.383440379911]], [[2.389658655922, 3.203447114693]]]]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-11)


@pytest.mark.parametrize("G", [1, 2, 3, C])
def test_spatial_groupnorm_gradients(maps, G):
    assert_gradients_match(
        lambda x, g, b: spatial_groupnorm_forward(x, g, b, G, {}),
        spatial_groupnorm_backward,
        *maps,
    )


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
