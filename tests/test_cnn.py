"""The small conv net: gradients for every normalization, modes, and that it can learn."""

import numpy as np
import pytest

from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.gradient_check import eval_numerical_gradient, rel_error

INPUT = (2, 6, 6)


@pytest.fixture
def batch(rng):
    X = rng.normal(size=(5, *INPUT))
    y = rng.integers(0, 4, size=5)
    return X, y


def model(normalization, rng, **kwargs):
    net = SmallConvNet(input_dim=INPUT, num_filters=4, num_classes=4, normalization=normalization, num_groups=2, seed=3, **kwargs)
    if normalization is not None:
        # Non-trivial gamma and beta, so that a backward pass ignoring them cannot pass.
        net.params["gamma1"] = rng.uniform(0.5, 2.0, 4) * rng.choice([-1, 1], 4)
        net.params["beta1"] = rng.normal(0, 1, 4)
    return net


@pytest.mark.parametrize("normalization", [None, "batchnorm", "groupnorm"])
def test_gradients_match_numeric(normalization, batch, rng):
    X, y = batch
    net = model(normalization, rng, reg=0.3)
    _, grads = net.loss(X, y)
    assert set(grads) == set(net.params)
    for name, param in net.params.items():
        if normalization == "batchnorm" and name == "b1":
            continue  # checked below: batch norm cancels it exactly
        numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], param, verbose=False)
        assert rel_error(grads[name], numeric) < 1e-6, f"{name}: {rel_error(grads[name], numeric):.1e}"


def test_batchnorm_makes_the_conv_bias_irrelevant(batch, rng):
    X, y = batch
    net = model("batchnorm", rng)
    _, grads = net.loss(X, y)
    np.testing.assert_allclose(grads["b1"], 0, atol=1e-12)


def test_scores_and_modes(batch, rng):
    X, y = batch
    net = model("batchnorm", rng)
    net.loss(X, y)
    assert net.bn_params[0]["mode"] == "train"
    running_mean = net.bn_params[0]["running_mean"].copy()
    scores = net.loss(X)
    assert scores.shape == (5, 4)
    assert net.bn_params[0]["mode"] == "test"
    np.testing.assert_array_equal(net.bn_params[0]["running_mean"], running_mean)
    # In test mode a sample's scores no longer depend on the rest of the batch.
    np.testing.assert_allclose(net.loss(X[2:3]), scores[2:3], rtol=1e-12)


def test_groupnorm_scores_do_not_depend_on_the_batch(batch, rng):
    X, y = batch
    net = model("groupnorm", rng)
    np.testing.assert_allclose(net.loss(X[1:2]), net.loss(X)[1:2], rtol=1e-12)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "groupnorm"])
def test_learns_a_small_training_set(normalization, rng):
    """Twenty images, plain gradient descent: the training loss must fall and the net must fit them."""
    X = rng.normal(size=(20, 1, 8, 8))
    y = rng.integers(0, 3, size=20)
    net = SmallConvNet(input_dim=(1, 8, 8), num_filters=8, num_classes=3, normalization=normalization, seed=0)
    first, _ = net.loss(X, y)
    for _ in range(100):
        loss, grads = net.loss(X, y)
        for name in net.params:
            net.params[name] -= 0.1 * grads[name]
    assert loss < 0.5 * first, f"loss went from {first:.3f} to {loss:.3f}"
    accuracy = np.mean(net.loss(X).argmax(axis=1) == y)
    assert accuracy == 1.0, f"training accuracy {accuracy:.2f} after 100 steps"


def test_parameters_have_the_requested_dtype():
    net = SmallConvNet(normalization="groupnorm", dtype=np.float32)
    assert {p.dtype for p in net.params.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"normalization": "layernorm"}, ValueError, r"normalization must be one of None, 'batchnorm', 'groupnorm'; got 'layernorm'"),
        ({"normalization": "groupnorm", "num_filters": 6, "num_groups": 4}, ValueError, r"num_groups must divide num_filters=6; got num_groups=4"),
        ({"input_dim": (1, 7, 8)}, ValueError, r"the 2x2 pool needs an even height and width"),
        ({"input_dim": (8, 8)}, ValueError, r"input_dim must be \(C, H, W\)"),
        ({"filter_size": 4}, ValueError, r"filter_size must be odd"),
        ({"dtype": np.int64}, TypeError, r"dtype must be a floating-point type"),
    ],
)
def test_rejects_bad_configuration(kwargs, error, pattern):
    with pytest.raises(error, match=r"^SmallConvNet: " + pattern):
        SmallConvNet(**kwargs)


def test_untrained_batchnorm_net_can_be_evaluated(batch, rng):
    """Running statistics start at mean 0, variance 1, so test mode works before any training step."""
    X, _ = batch
    net = model("batchnorm", rng)
    np.testing.assert_array_equal(net.bn_params[0]["running_mean"], np.zeros(4))
    np.testing.assert_array_equal(net.bn_params[0]["running_var"], np.ones(4))
    scores = net.loss(X)
    assert scores.shape == (5, 4) and np.all(np.isfinite(scores))
