"""FullyConnectedNet: the whole network's gradients against numeric ones, and its contract."""

import pickle

import numpy as np
import pytest

from cs231n_bn.fc_net import FullyConnectedNet, dropout_forward, sigmoid_backward, sigmoid_forward
from cs231n_bn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

N, D, H1, H2, C = 7, 6, 8, 5, 4


def small_net(normalization, activation="relu", keep=1.0, reg=0.1):
    net = FullyConnectedNet(
        [H1, H2], input_dim=D, num_classes=C, normalization=normalization, reg=reg,
        weight_scale=0.6, dtype=np.float64, seed=3, activation=activation, dropout_keep_ratio=keep,
    )
    # gamma and beta far from 1 and 0 and biases non-zero, so that no term can hide.
    rng = np.random.default_rng(11)
    for name, p in net.params.items():
        if name.startswith(("gamma", "beta", "b")):
            net.params[name] = rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)
    if keep < 1:
        net.dropout_param["seed"] = 5  # the same mask in every call, so the loss is a function
    return net


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, D)), rng.integers(0, C, size=N)


@pytest.mark.parametrize(
    "normalization, activation, keep",
    [
        (None, "relu", 1.0),
        ("batchnorm", "relu", 1.0),
        ("layernorm", "relu", 1.0),
        ("batchnorm", "sigmoid", 1.0),
        ("layernorm", "sigmoid", 0.8),
        ("batchnorm", "relu", 0.8),
    ],
)
def test_every_parameter_gradient_matches_the_numeric_one(batch, normalization, activation, keep):
    """The relative error is a maximum over entries, so the smallest gradient entries set it:
    the numeric gradient of a loss near 4 carries round-off of about 1e-16 * 4 / h = 4e-11,
    i.e. 1e-7 relative for an entry of 4e-4. The seeded batch keeps every entry above that."""
    X, y = batch
    net = small_net(normalization, activation, keep)
    loss, grads = net.loss(X, y)
    assert set(grads) == set(net.params)
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if normalization:
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(net.params) == expected
    for name in sorted(net.params):
        if normalization == "batchnorm" and name in ("b1", "b2"):
            # Batch norm subtracts the batch mean, which removes any bias added before it:
            # the loss does not depend on these biases at all.
            assert np.max(np.abs(grads[name])) < 1e-12, name
            continue
        numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False)
        assert grads[name].shape == net.params[name].shape
        err = rel_error(grads[name], numeric)
        assert err < 1e-7, f"{normalization}/{activation}: {name} relative error {err:.2e}"


def test_reg_adds_half_the_squared_weights(batch):
    X, y = batch
    with_reg, without = small_net("batchnorm", reg=0.7), small_net("batchnorm", reg=0.0)
    loss_reg, _ = with_reg.loss(X, y)
    loss, _ = without.loss(X, y)
    penalty = 0.5 * 0.7 * sum(np.sum(with_reg.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert loss_reg == pytest.approx(loss + penalty, rel=1e-12)


def test_initial_loss_is_log_c_with_small_weights():
    # With tiny weights every class gets the same score, so the loss is -log(1/C).
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 20)), rng.integers(0, 10, size=50)
    for normalization in (None, "batchnorm", "layernorm"):
        net = FullyConnectedNet([30, 30], input_dim=20, num_classes=10, normalization=normalization,
                                weight_scale=1e-4, dtype=np.float64, seed=0)
        loss, _ = net.loss(X, y)
        assert loss == pytest.approx(np.log(10), rel=1e-3), normalization


def test_test_mode_uses_running_statistics_and_leaves_them_alone(batch):
    X, y = batch
    net = small_net("batchnorm")
    # Before any training the running statistics are a standard normal's.
    assert all(np.array_equal(p["running_var"], np.ones(H)) for p, H in zip(net.bn_params, (H1, H2)))
    net.loss(X, y)
    before = [dict(p) for p in net.bn_params]
    scores = net.loss(X)
    assert scores.shape == (N, C)
    for old, new in zip(before, net.bn_params):
        assert new["mode"] == "test"
        np.testing.assert_array_equal(old["running_mean"], new["running_mean"])
    # In test mode a sample's scores do not depend on the rest of the batch.
    np.testing.assert_allclose(net.loss(X[:1]), scores[:1], rtol=1e-12)


def test_same_seed_same_network_and_float32_by_default():
    a = FullyConnectedNet([10, 10], input_dim=4, seed=7, normalization="batchnorm")
    b = FullyConnectedNet([10, 10], input_dim=4, seed=7, normalization="batchnorm")
    c = FullyConnectedNet([10, 10], input_dim=4, seed=8, normalization="batchnorm")
    assert all(p.dtype == np.float32 for p in a.params.values())
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    X = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    loss, grads = a.loss(X, np.arange(8) % 10)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert a.bn_params[0]["running_var"].dtype == np.float32


def test_activation_inputs_are_what_the_nonlinearity_sees(batch):
    X, y = batch
    net = small_net("layernorm", activation="sigmoid")
    z1, z2 = net.activation_inputs(X)
    assert z1.shape == (N, H1) and z2.shape == (N, H2)
    # Layer 1's sigmoid input is its affine output normalized over each sample's features,
    # then scaled by gamma1 and shifted by beta1: judged by those properties.
    a1 = X @ net.params["W1"] + net.params["b1"]
    xhat = (z1 - net.params["beta1"]) / net.params["gamma1"]
    np.testing.assert_allclose(xhat.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(xhat.var(axis=1), 1.0, atol=1e-3)  # eps keeps it a little below 1
    for row, a_row in zip(xhat, a1):  # each row an increasing affine function of its affine output
        scale, shift = np.polyfit(a_row, row, 1)
        assert scale > 0
        np.testing.assert_allclose(row, scale * a_row + shift, atol=1e-10)


def test_dropout_keeps_the_expected_value_and_is_off_at_test_time():
    rng = np.random.default_rng(0)
    x = np.ones((2000, 50))
    out, _ = dropout_forward(x, 0.3, "train", rng)
    assert abs((out != 0).mean() - 0.3) < 0.01 and out.mean() == pytest.approx(1.0, abs=0.03)
    same, _ = dropout_forward(x, 0.3, "test", rng)
    assert same is x


def test_sigmoid_is_stable_and_its_gradient_checks():
    x = np.array([[-1000.0, -3.0, 0.0, 2.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise"):
        out, cache = sigmoid_forward(x)
    np.testing.assert_allclose(out, [[0.0, 1 / (1 + np.exp(3)), 0.5, 1 / (1 + np.exp(-2)), 1.0]], atol=1e-300)
    x = np.random.default_rng(2).normal(size=(4, 3))
    dout = np.random.default_rng(3).normal(size=(4, 3))
    _, cache = sigmoid_forward(x)
    numeric = eval_numerical_gradient_array(lambda v: sigmoid_forward(v)[0], x, dout)
    assert rel_error(sigmoid_backward(dout, cache), numeric) < 1e-9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_dims": [10, 0]}, "hidden_dims"),
        ({"hidden_dims": [10], "normalization": "groupnorm"}, "normalization"),
        ({"hidden_dims": [10], "activation": "tanh"}, "activation"),
        ({"hidden_dims": [10], "dropout_keep_ratio": 0}, "dropout_keep_ratio"),
        ({"hidden_dims": [10], "reg": -1}, "reg"),
        ({"hidden_dims": [10], "weight_scale": 0}, "weight_scale"),
        ({"hidden_dims": [10], "dtype": np.int32}, "dtype"),
        ({"hidden_dims": [1], "normalization": "layernorm"}, "hidden_dims must be >= 2 with layer norm"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=f"FullyConnectedNet: {message}"):
        FullyConnectedNet(input_dim=4, **kwargs)


def test_floating_inputs_are_cast_to_the_network_dtype(batch):
    # CS231n's data loaders give float64 and its network casts; a float32 network trained on
    # float64 data computes exactly what it computes on the same data cast beforehand.
    X, y = batch
    net = FullyConnectedNet([5], input_dim=D, num_classes=C, normalization="batchnorm", seed=0)  # float32
    loss64, grads64 = net.loss(X, y)
    loss32, grads32 = net.loss(X.astype(np.float32), y)
    assert loss64 == loss32 and all(np.array_equal(grads64[k], grads32[k]) for k in grads32)
    assert all(g.dtype == np.float32 for g in grads64.values())
    for X_other in (X.astype(np.float16), X):
        assert net.loss(X_other).dtype == np.float32
    X_copy = X.copy()
    net.loss(X, y)
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.ones((N, D), dtype=np.int64), TypeError, "X must have a floating-point dtype"),
        (np.ones((N, D), dtype=bool), TypeError, "X must have a floating-point dtype"),
        (np.ones((N, D), dtype=complex), TypeError, "X must have a floating-point dtype"),
        (np.ones((N, D), dtype=object), TypeError, "X must have a floating-point dtype"),
        ([[0.5] * D] * N, TypeError, "X must be a numpy array; got list"),
        (np.ones((N, D + 1)), ValueError, f"X must hold samples of {D} features"),
        (np.ones(D), ValueError, f"X must hold samples of {D} features"),
    ],
)
def test_inputs_that_are_not_floating_arrays_of_the_right_size_are_refused(X, error, message):
    net = FullyConnectedNet([5], input_dim=D, num_classes=C, seed=0)
    with pytest.raises(error, match=f"FullyConnectedNet.loss: {message}"):
        net.loss(X)


def test_seed_none_draws_from_numpys_global_generator(batch):
    # CS231n's cells call np.random.seed(231) and then build a network without a seed.
    def build():
        return FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, normalization="batchnorm",
                                 dropout_keep_ratio=0.7, dtype=np.float64)

    X, y = batch
    np.random.seed(231)
    a = build()
    loss_a, _ = a.loss(X, y)  # dropout draws its mask from the global generator too
    np.random.seed(231)
    b = build()
    loss_b, _ = b.loss(X, y)
    c = build()  # the generator has moved on: another network
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params) and loss_a == loss_b
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    # An explicit seed keeps its own generator, whatever np.random.seed says.
    np.random.seed(0)
    d = FullyConnectedNet([H1], input_dim=D, seed=5)
    np.random.seed(1)
    e = FullyConnectedNet([H1], input_dim=D, seed=5)
    assert np.array_equal(d.params["W1"], e.params["W1"])


def test_a_network_can_be_pickled_whatever_its_seed():
    # The Solver's checkpoint_name pickles the model, as CS231n's does.
    for seed in (None, 3):
        net = FullyConnectedNet([4], input_dim=3, normalization="batchnorm", dropout_keep_ratio=0.5, seed=seed)
        copy = pickle.loads(pickle.dumps(net))
        assert all(np.array_equal(copy.params[k], net.params[k]) for k in net.params)
        copy.loss(np.ones((2, 3)), np.array([0, 1]))
