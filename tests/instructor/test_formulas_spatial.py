"""Spatial batch norm and group norm against formulas of their own (instructor-only).

These tests state what the exercises compute (which axes, which groups, the running
statistics) as code, so the student edition leaves this folder out; the student's tests
(tests/test_spatial.py) compare with stored values instead.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn.layernorm import layernorm_forward
from cs231n_bn.spatial import spatial_batchnorm_forward, spatial_groupnorm_forward

N, C, H, W = 3, 6, 3, 4


@pytest.fixture
def maps(rng):
    """x off-centre and scaled per channel, gamma/beta far from 1/0, a random dout."""
    x = rng.normal(size=(N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(-3, 3, (1, C, 1, 1))
    gamma = rng.uniform(0.5, 2.0, C) * rng.choice([-1, 1], C)
    beta = rng.normal(0, 2, C)
    dout = rng.normal(size=(N, C, H, W))
    return x, gamma, beta, dout


def normalize(x, axes, eps=1e-5):
    """Reference normalization over `axes`, from numpy's own mean and (biased) variance."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    return centred / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)


def per_channel(p):
    return p.reshape(1, -1, 1, 1)


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
