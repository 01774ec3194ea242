"""Our layer against Keras 3's BatchNormalization (PyTorch backend): the same numbers once converted.

Keras computes batch norm in float32 on its PyTorch backend, even for a float64 layer, so
comparisons with a Keras layer allow float32 round-off; conversions of weight lists are exact.
"""

import numpy as np
import pytest

from cs231n_bn import keras_compat
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.keras_compat import (
    bn_param_from_layer,
    bn_param_from_weights,
    layer_from_bn_param,
    weights_from_bn_param,
)

# Keras 3.15 itself converts its variables with np.array(variable), which NumPy 2 flags.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

F32_RTOL = 1e-5  # float32 round-off (about 6e-8 per operation) with room for a few dozen operations


@pytest.fixture
def keras():
    if keras_compat.keras is None:
        pytest.skip(f"Keras 3 is not installed; enable these tests with `{keras_compat.INSTALL_HINT}`")
    return keras_compat.keras


def batches(rng, sizes, D):
    """Training batches of the given sizes, off-centre and scaled per feature."""
    loc, scale = rng.uniform(-3, 3, D), rng.uniform(0.5, 4, D)
    return [rng.normal(loc, scale, size=(N, D)) for N in sizes]


def train_ours(xs, bn_param):
    D = xs[0].shape[1]
    for x in xs:
        batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
    return bn_param


def train_keras(layer, xs):
    for x in xs:
        layer(x, training=True)
    return layer


def keras_layer(keras, D, **kwargs):
    layer = keras.layers.BatchNormalization(dtype="float64", **kwargs)
    layer.build((None, D))
    return layer


def close_in_float32(ours, theirs):
    """Normwise: elementwise relative errors blow up where an output is near zero."""
    theirs = np.asarray(theirs.detach().cpu() if hasattr(theirs, "detach") else theirs)
    return np.max(np.abs(ours - theirs)) <= F32_RTOL * np.max(np.abs(ours))


def test_keras_defaults_read_as_our_bn_param(keras):
    gamma, beta, bn_param = bn_param_from_layer(keras_layer(keras, 3))
    assert bn_param["momentum"] == pytest.approx(0.99) and bn_param["eps"] == pytest.approx(1e-3)
    np.testing.assert_array_equal(bn_param["running_mean"], 0.0)
    np.testing.assert_array_equal(bn_param["running_var"], 1.0)  # Keras starts the variance at ones
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(beta, 0.0)
    assert bn_param["mode"] == "test"


def test_training_forward_and_backward_agree(keras, bn_inputs):
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = bn_inputs
    bn_param = {"mode": "train", "eps": 1e-3}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    layer = keras_layer(keras, x.shape[1])
    layer.set_weights([gamma, beta, np.zeros_like(gamma), np.ones_like(gamma)])
    x_t = torch.tensor(x, requires_grad=True)
    out_t = layer(x_t, training=True)
    out_t.backward(torch.from_numpy(dout))
    for ours, theirs in ((out, out_t), (dx, x_t.grad), (dgamma, layer.gamma.value.grad), (dbeta, layer.beta.value.grad)):
        assert close_in_float32(ours, theirs)


def test_moving_statistics_follow_relation_with_mixed_batch_sizes(keras, rng):
    """(**) has no N/(N-1) factor: batches of different sizes convert exactly too."""
    D, sizes = 4, (2, 50, 3, 40, 7)
    xs = batches(rng, sizes, D)
    ours = train_ours(xs, {"mode": "train", "momentum": 0.99, "eps": 1e-3})
    layer = train_keras(keras_layer(keras, D), xs)
    k = len(sizes)
    moving_mean, moving_var = layer.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, ours["running_mean"], rtol=F32_RTOL)
    np.testing.assert_allclose(moving_var, ours["running_var"] + 0.99**k, rtol=F32_RTOL)
    _, _, converted = bn_param_from_layer(layer, steps=k, mode="train")
    np.testing.assert_allclose(converted["running_var"], ours["running_var"], rtol=F32_RTOL)
    assert converted["mode"] == "train"


def test_copying_as_stored_gives_the_same_inference_outputs(keras, rng):
    D = 5
    layer = keras_layer(keras, D, momentum=0.9)
    layer.set_weights([rng.uniform(0.5, 2, D), rng.normal(size=D), np.zeros(D), np.ones(D)])
    train_keras(layer, batches(rng, [16] * 6, D))
    gamma, beta, bn_param = bn_param_from_layer(layer)
    np.testing.assert_array_equal(bn_param["running_var"], layer.get_weights()[3])
    x = rng.normal(1.0, 2.0, size=(3, D))
    ours, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert close_in_float32(ours, layer(x, training=False))


def test_a_converted_layer_keeps_training_in_step(keras, rng):
    D = 3
    xs = batches(rng, [8, 8, 20, 5, 9, 30, 4], D)
    bn_param = train_ours(xs[:3], {"mode": "train", "momentum": 0.8, "eps": 1e-4})
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    layer = layer_from_bn_param(gamma, beta, bn_param, steps=3)
    assert layer.momentum == pytest.approx(0.8) and layer.epsilon == pytest.approx(1e-4)
    train_ours(xs[3:], bn_param)
    train_keras(layer, xs[3:])
    _, _, back = bn_param_from_layer(layer, steps=len(xs))
    np.testing.assert_allclose(back["running_mean"], bn_param["running_mean"], rtol=F32_RTOL)
    np.testing.assert_allclose(back["running_var"], bn_param["running_var"], rtol=F32_RTOL)


@pytest.mark.parametrize("steps", [None, 0, 6])
def test_weight_lists_round_trip_exactly(rng, steps):
    D = 4
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    bn_param = train_ours(batches(rng, [10] * 6, D), {"mode": "train", "momentum": 0.95, "eps": 2e-3})
    weights = weights_from_bn_param(gamma, beta, bn_param, steps)
    if steps is not None:
        np.testing.assert_allclose(weights[3], bn_param["running_var"] + 0.95**steps, rtol=1e-15)
    g, b, back = bn_param_from_weights(weights, momentum=0.95, eps=2e-3, steps=steps, mode="train")
    np.testing.assert_array_equal(g, gamma)
    np.testing.assert_array_equal(b, beta)
    np.testing.assert_array_equal(back["running_mean"], bn_param["running_mean"])
    np.testing.assert_allclose(back["running_var"], bn_param["running_var"], rtol=1e-14)
    assert {key: back[key] for key in ("mode", "eps", "momentum")} == {"mode": "train", "eps": 2e-3, "momentum": 0.95}


def test_conversions_return_copies(rng):
    weights = [rng.normal(size=2) for _ in range(3)] + [rng.uniform(0.5, 2.0, size=2)]
    gamma, beta, bn_param = bn_param_from_weights(weights)
    assert not any(np.shares_memory(a, w) for a, w in zip((gamma, beta, bn_param["running_mean"], bn_param["running_var"]), weights))
    back = weights_from_bn_param(gamma, beta, bn_param)
    assert not np.shares_memory(back[3], bn_param["running_var"])
    assert not np.shares_memory(back[0], gamma)


def test_a_float32_layer_gives_float32_arrays(keras):
    layer = keras.layers.BatchNormalization()
    layer.build((None, 3))
    gamma, _, bn_param = bn_param_from_layer(layer)
    assert gamma.dtype == bn_param["running_var"].dtype == np.float32
    rebuilt = layer_from_bn_param(gamma, gamma.copy(), bn_param)
    assert all(w.dtype == np.float32 for w in rebuilt.get_weights())


@pytest.mark.parametrize(
    "change, kwargs, error, words",
    [
        ({"length": 3}, {}, ValueError, ["4 arrays", "length 3"]),
        ({3: np.ones(3)}, {}, ValueError, ["moving_variance", "(2,)", "(3,)"]),
        ({0: np.ones(2, dtype=int)}, {}, TypeError, ["gamma", "floating", "int64"]),
        ({}, {"steps": -1}, ValueError, ["steps", ">= 0", "-1"]),
        ({}, {"steps": 2.0}, ValueError, ["steps", "integer", "2.0"]),
        ({}, {"momentum": 1.5}, ValueError, ["momentum", "[0, 1]", "1.5"]),
        ({}, {"mode": "eval"}, ValueError, ["mode", "'eval'"]),
    ],
)
def test_bn_param_from_weights_rejects(change, kwargs, error, words):
    weights = [np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)]
    for key, value in change.items():
        if key == "length":
            weights = weights[:value]
        else:
            weights[key] = value
    with pytest.raises(error) as info:
        bn_param_from_weights(weights, **kwargs)
    message = str(info.value)
    assert message.startswith("bn_param_from_weights: ")
    for word in words:
        assert word in message


def test_writer_rejects_a_param_without_statistics_or_of_another_dtype():
    with pytest.raises(KeyError, match="weights_from_bn_param: bn_param has no 'running_mean'"):
        weights_from_bn_param(np.ones(2), np.zeros(2), {"mode": "train"})
    bn_param = {"mode": "train", "running_mean": np.zeros(2), "running_var": np.ones(2, dtype=np.float32)}
    with pytest.raises(TypeError, match="running_var must have gamma's dtype float64; got float32"):
        weights_from_bn_param(np.ones(2), np.zeros(2), bn_param)


def test_layer_reader_rejects_what_has_no_counterpart(keras):
    with pytest.raises(TypeError, match="BatchNormalization; got Dense"):
        bn_param_from_layer(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="center=False"):
        bn_param_from_layer(keras.layers.BatchNormalization(center=False))
    with pytest.raises(ValueError, match="renorm=True"):
        bn_param_from_layer(keras.layers.BatchNormalization(renorm=True))
    with pytest.raises(ValueError, match="not built yet"):
        bn_param_from_layer(keras.layers.BatchNormalization())


def test_without_keras_the_layer_functions_say_how_to_install_it(monkeypatch):
    monkeypatch.setattr(keras_compat, "keras", None)
    with pytest.raises(keras_compat.FrameworkMissing, match=r"layer_from_bn_param: needs Keras 3.*pip install"):
        layer_from_bn_param(np.ones(2), np.zeros(2), {"running_mean": np.zeros(2), "running_var": np.ones(2)})


def test_a_foreign_key_in_bn_param_is_an_error_naming_the_function_called(keras):
    bn_param = {"mode": "train", "running_mean": np.zeros(2), "running_var": np.ones(2), "epsilon": 1e-3}
    with pytest.raises(ValueError, match=r"^layer_from_bn_param: bn_param has unknown key\(s\) 'epsilon'"):
        layer_from_bn_param(np.ones(2), np.zeros(2), bn_param)
