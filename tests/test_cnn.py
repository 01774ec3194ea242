"""The small conv net: gradients for every normalization, modes, and that it can learn."""

import numpy as np
import pytest

from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.conv import conv_forward, max_pool_forward
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
        net.params["gamma1"] = (rng.uniform(0.5, 2.0, 4) * rng.choice([-1, 1], 4)).astype(net.dtype)
        net.params["beta1"] = rng.normal(0, 1, 4).astype(net.dtype)
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


DEEP_INPUT = (2, 4, 4)


def deep_model(normalization, block_order, rng, **kwargs):
    """Two blocks on 4x4 images: the second block's maps are 2x2 (or 1x1 after its pool)."""
    net = SmallConvNet(
        input_dim=DEEP_INPUT, num_filters=4, num_classes=3, normalization=normalization, num_groups=2,
        num_blocks=2, block_order=block_order, seed=5, **kwargs,
    )
    if normalization is not None:
        for i in (1, 2):
            net.params[f"gamma{i}"] = rng.uniform(0.5, 2.0, 4) * rng.choice([-1, 1], 4)
            net.params[f"beta{i}"] = rng.normal(0, 1, 4)
    return net


@pytest.mark.parametrize("block_order", ["conv-norm-relu-pool", "conv-relu-pool-norm"])
@pytest.mark.parametrize("normalization", [None, "batchnorm", "groupnorm"])
def test_deep_network_gradients_match_numeric(normalization, block_order, rng):
    X = rng.normal(size=(6, *DEEP_INPUT))
    y = rng.integers(0, 3, size=6)
    net = deep_model(normalization, block_order, rng, reg=0.2)
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if normalization is not None:
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(net.params) == expected
    _, grads = net.loss(X, y)
    assert set(grads) == expected
    for name, param in net.params.items():
        if normalization == "batchnorm" and block_order == "conv-norm-relu-pool" and name in ("b1", "b2"):
            # Batch norm right after the conv subtracts the bias with the channel mean.
            np.testing.assert_allclose(grads[name], 0, atol=1e-12)
            continue
        numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], param, verbose=False)
        # Relative to the parameter's largest gradient entry: behind two norm layers some
        # entries are ~1e-5, where the loss's rounding error (~1e-16 / h) is already 1e-6 of them.
        error = np.max(np.abs(grads[name] - numeric)) / np.max(np.abs(grads[name]) + np.abs(numeric))
        assert error < 1e-6, f"{name}: {error:.1e}"


def test_block_order_puts_the_norm_after_the_pool(rng):
    """Placed after the pool, the last batch norm normalizes the 1x1 maps: one value per image."""
    X = rng.normal(size=(2, *DEEP_INPUT))
    y = np.array([0, 1])
    net = SmallConvNet(input_dim=DEEP_INPUT, num_filters=4, num_classes=3, normalization="batchnorm", num_blocks=2,
                       block_order="conv-relu-pool-norm", seed=5)
    net.loss(X, y)
    # With momentum 0.9 from a zero start, the running mean is 0.1 times the first batch's mean.
    after_pool = net.bn_params[1]["running_mean"] / 0.1
    a = X
    for i in (1, 2):
        a = np.maximum(conv_forward(a, net.params[f"W{i}"], net.params[f"b{i}"], net.conv_param)[0], 0)
        a = max_pool_forward(a, net.pool_param)[0]
        if i == 1:
            # gamma = 1 and beta = 0: block 1's norm maps each channel to mean 0, std 1.
            mu = a.mean(axis=(0, 2, 3), keepdims=True)
            a = (a - mu) / np.sqrt(((a - mu) ** 2).mean(axis=(0, 2, 3), keepdims=True) + 1e-5)
    assert a.shape == (2, 4, 1, 1)
    np.testing.assert_allclose(after_pool, a.mean(axis=(0, 2, 3)), rtol=1e-10, atol=1e-12)


def test_every_block_switches_between_train_and_test_mode(rng):
    X = rng.normal(size=(3, *DEEP_INPUT))
    net = deep_model("batchnorm", "conv-norm-relu-pool", rng)
    net.loss(X, np.array([0, 1, 2]))
    assert [p["mode"] for p in net.bn_params] == ["train", "train"]
    net.loss(X)
    assert [p["mode"] for p in net.bn_params] == ["test", "test"]


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
        ({"input_dim": (8, 8)}, ValueError, r"input_dim must be \(C, H, W\)"),
        ({"filter_size": 4}, ValueError, r"filter_size must be odd"),
        ({"dtype": np.int64}, TypeError, r"dtype must be a floating-point dtype such as np.float32; got <class .numpy.int64.>"),
        ({"num_blocks": 4}, ValueError, r"num_blocks=4 pools halve the height and width 4 times, so both must be at least 16; got input_dim \(1, 8, 8\)"),
        ({"input_dim": (1, 8, 7), "num_blocks": 3}, ValueError, r"num_blocks=3 .* at least 8; got input_dim \(1, 8, 7\)"),
        ({"seed": -1}, ValueError, r"seed must be an integer >= 0 \(or None\); got -1"),
        ({"num_blocks": 0}, ValueError, r"num_blocks must be an integer >= 1; got 0"),
        ({"num_blocks": 2.0}, ValueError, r"num_blocks must be an integer >= 1; got 2.0"),
        ({"block_order": "conv-pool-norm"}, ValueError, r"block_order must be one of 'conv-norm-relu-pool', 'conv-relu-pool-norm'; got 'conv-pool-norm'"),
        ({"num_classes": 0}, ValueError, r"num_classes must be an integer >= 1; got 0"),
        ({"num_filters": 0}, ValueError, r"num_filters must be an integer >= 1; got 0"),
        ({"num_filters": 16.0}, ValueError, r"num_filters must be an integer >= 1; got 16.0"),
        ({"normalization": "groupnorm", "num_groups": 0}, ValueError, r"num_groups must be an integer >= 1; got 0"),
        ({"filter_size": -1}, ValueError, r"filter_size must be an integer >= 1; got -1"),
        ({"reg": -1}, ValueError, r"reg must be a finite number >= 0; got -1"),
        ({"reg": float("nan")}, ValueError, r"reg must be a finite number >= 0; got nan"),
        ({"weight_scale": -1}, ValueError, r"weight_scale must be None \(He initialization\) or a finite number >= 0; got -1"),
        ({"weight_scale": "1e-3"}, ValueError, r"weight_scale must be None .* got '1e-3'"),
        ({"input_dim": (1, 8, 0)}, ValueError, r"input_dim must be \(C, H, W\), three integers >= 1; got \(1, 8, 0\)"),
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


@pytest.mark.parametrize(
    "block_order, sizes", [("conv-norm-relu-pool", [8, 4, 2]), ("conv-relu-pool-norm", [4, 2, 1])]
)
def test_norm_inputs_have_the_shape_of_each_norm_layer(block_order, sizes, rng):
    X = rng.normal(size=(3, 1, 8, 8))
    net = SmallConvNet(num_filters=4, normalization="batchnorm", num_blocks=3, block_order=block_order)
    inputs = net.norm_inputs(X)
    assert [a.shape for a in inputs] == [(3, 4, s, s) for s in sizes]
    # The first norm layer's input is the first conv's output (after the pool when it comes after it).
    first = conv_forward(X, net.params["W1"], net.params["b1"], net.conv_param)[0]
    if block_order == "conv-relu-pool-norm":
        first = max_pool_forward(np.maximum(first, 0), net.pool_param)[0]
    np.testing.assert_allclose(inputs[0], first, rtol=1e-12)
    assert all(p["mode"] == "test" for p in net.bn_params)


def test_norm_inputs_needs_norm_layers(rng):
    with pytest.raises(ValueError, match=r"^SmallConvNet.norm_inputs: this network has no norm layers"):
        SmallConvNet(normalization=None).norm_inputs(rng.normal(size=(2, 1, 8, 8)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_images_are_cast_to_the_network_dtype(dtype, batch, rng):
    """The rule FullyConnectedNet follows too: a floating X of another dtype is cast, as in CS231n."""
    X, y = batch
    net = model("batchnorm", rng, dtype=dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    loss_cast, grads_cast = net.loss(X.astype(other), y)
    loss_same, grads_same = net.loss(X.astype(other).astype(dtype), y)
    assert loss_cast == loss_same
    assert all(grads_cast[name].dtype == dtype for name in net.params)
    assert net.loss(X.astype(other)).dtype == dtype


@pytest.mark.parametrize(
    "X, error, pattern",
    [
        (np.ones((5, 2, 6, 6), dtype=np.int64), TypeError, r"X must have a floating-point dtype .*got int64"),
        (np.ones((5, 2, 6, 6), dtype=bool), TypeError, r"X must have a floating-point dtype .*got bool"),
        (np.ones((5, 2, 6, 6), dtype=complex), TypeError, r"X must have a floating-point dtype .*got complex128"),
        (np.ones((5, 2, 6, 6), dtype=object), TypeError, r"X must have a floating-point dtype .*got object"),
        ([[[[1.0]]]], TypeError, r"X must be a numpy array; got list"),
        (np.ones((5, 2, 6)), ValueError, r"X must be a 4-D array; got 3-D"),
        (np.ones((5, 3, 6, 6)), ValueError, r"X must have shape \(N, 2, 6, 6\); got \(5, 3, 6, 6\)"),
    ],
)
def test_loss_refuses_what_is_not_a_batch_of_images(X, error, pattern, rng):
    net = model(None, rng)
    with pytest.raises(error, match=r"^SmallConvNet.loss: " + pattern):
        net.loss(X)
    with pytest.raises(error, match=r"^SmallConvNet.loss: " + pattern):
        net.loss(X, np.zeros(5, dtype=int))


@pytest.fixture
def tiny_images(rng):
    """A learnable 3-class problem on 4x4 images: the class sets which quadrant is bright."""
    def split(n):
        y = rng.integers(0, 3, size=n)
        X = rng.normal(0, 0.3, size=(n, 1, 4, 4))
        for i, label in enumerate(y):
            X[i, 0, 2 * (label // 2) : 2 * (label // 2) + 2, 2 * (label % 2) : 2 * (label % 2) + 2] += 2.0
        return X, y
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = split(60), split(30), split(30)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val, "X_test": X_test, "y_test": y_test}


def test_sweep_trains_convnets_with_a_derived_learning_rate(tiny_images):
    from cs231n_bn import experiments

    result = experiments.sweep(
        experiments.convnet, tiny_images, "batch_size", [4, 12], ("batchnorm", "groupnorm"), seed=1,
        derived={"learning_rate": lambda b: 0.02 * b}, update_rule="sgd_momentum", momentum=0.9,
        num_epochs=2, num_filters=4, num_groups=2,
    )
    assert list(result.values) == [4, 12]
    assert set(result.test_acc) == set(result.models) == {"batchnorm", "groupnorm"}
    for label, models in result.models.items():
        assert len(models) == 2 and all(isinstance(m, SmallConvNet) for m in models)
        # the recorded test accuracy is the kept checkpoint's
        for model, accuracy in zip(models, result.test_acc[label]):
            assert accuracy == np.mean(model.loss(tiny_images["X_test"]).argmax(axis=1) == tiny_images["y_test"])
    assert result.models["groupnorm"][0].num_groups == 2
    assert np.all(result.best_val_acc["batchnorm"] > 0.6), result.best_val_acc


def test_sweep_refuses_a_setting_nobody_takes(tiny_images):
    from cs231n_bn import experiments

    with pytest.raises(ValueError, match=r"^sweep: unknown setting\(s\) 'num_filter'; known: the keywords of convnet"):
        experiments.sweep(experiments.convnet, tiny_images, "batch_size", [4], ("batchnorm",), num_filter=4)


def test_statistic_noise_is_zero_for_the_whole_set_and_grows_as_batches_shrink(tiny_images):
    from cs231n_bn import experiments

    net = SmallConvNet(input_dim=(1, 4, 4), num_filters=4, num_classes=3, normalization="batchnorm", seed=0)
    X = tiny_images["X_train"]
    mean_all, std_all = experiments.statistic_noise(net, X, len(X))
    assert mean_all < 1e-12 and std_all < 1e-12  # one batch of every image: the population itself
    errors = [experiments.statistic_noise(net, X, b) for b in (2, 6, 20)]
    assert errors[0][0] > errors[1][0] > errors[2][0] > 0


def test_odd_image_sizes_pool_down_like_pytorch_and_the_gradients_stay_right():
    """A 7x5 image after two 2x2 pools is 1x1, as PyTorch's floor gives; the loss's gradient checks."""
    net = SmallConvNet(input_dim=(1, 7, 5), num_blocks=2, num_filters=4, num_classes=3, normalization="batchnorm",
                       dtype=np.float64, seed=1)
    X = np.random.default_rng(0).normal(size=(4, 1, 7, 5))
    y = np.array([0, 1, 2, 1])
    _, grads = net.loss(X, y)
    for name in ("W1", "W2", "gamma1"):
        numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False)
        assert rel_error(numeric, grads[name]) < 1e-6, name
