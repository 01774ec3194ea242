"""Our layer against PyTorch's BatchNorm1d: same numbers once the conventions are converted."""

import numpy as np
import pytest

from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.torch_compat import (
    bn_param_from_module,
    bn_param_from_state_dict,
    convert_momentum,
    module_from_bn_param,
    state_dict_from_bn_param,
)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def batches(rng, k, N, D):
    """k training batches, off-centre and scaled per feature."""
    loc, scale = rng.uniform(-3, 3, D), rng.uniform(0.5, 4, D)
    return [rng.normal(loc, scale, size=(N, D)) for _ in range(k)]


def train_ours(xs, gamma, beta, bn_param):
    for x in xs:
        batchnorm_forward(x, gamma, beta, bn_param)
    return bn_param


def train_torch(torch, module, xs):
    module.train()
    with torch.no_grad():
        for x in xs:
            module(torch.from_numpy(x))
    return module


def test_momentum_converts_both_ways():
    assert convert_momentum(0.1) == pytest.approx(0.9)
    assert convert_momentum(0.9) == pytest.approx(0.1)
    assert convert_momentum(convert_momentum(0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError, match=r"convert_momentum: momentum .*\[0, 1\].*1.5"):
        convert_momentum(1.5)


def test_forward_and_backward_agree_with_f_batch_norm(torch, bn_inputs):
    x, gamma, beta, dout = bn_inputs
    eps = 1e-5
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)

    x_t, gamma_t, beta_t = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out_t = torch.nn.functional.batch_norm(x_t, None, None, gamma_t, beta_t, training=True, eps=eps)
    out_t.backward(torch.from_numpy(dout))
    for ours, theirs in ((out, out_t), (dx, x_t.grad), (dgamma, gamma_t.grad), (dbeta, beta_t.grad)):
        np.testing.assert_allclose(theirs.detach().numpy(), ours, rtol=1e-10, atol=1e-12)


def test_training_history_converts_exactly_with_the_batch_size(torch, rng):
    k, N, D = 6, 8, 5
    xs = batches(rng, k, N, D)
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    ours = train_ours(xs, gamma, beta, {"mode": "train"})
    module = torch.nn.BatchNorm1d(D, dtype=torch.float64)
    train_torch(torch, module, xs)
    assert int(module.num_batches_tracked) == k

    _, _, converted = bn_param_from_module(module, batch_size=N)
    np.testing.assert_allclose(converted["running_mean"], ours["running_mean"], rtol=1e-12)
    np.testing.assert_allclose(converted["running_var"], ours["running_var"], rtol=1e-12)
    assert converted["momentum"] == pytest.approx(0.9)
    assert converted["mode"] == "train"

    # and the other way: ours converted with the batch size holds what the module accumulated
    state = state_dict_from_bn_param(gamma, beta, ours, batch_size=N, num_batches_tracked=k)
    np.testing.assert_allclose(state["running_var"].numpy(), module.running_var.numpy(), rtol=1e-12)


def test_copying_running_var_as_stored_gives_identical_test_outputs(torch, rng):
    D = 4
    module = torch.nn.BatchNorm1d(D, dtype=torch.float64)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2, D)))
        module.bias.copy_(torch.from_numpy(rng.normal(size=D)))
    train_torch(torch, module, batches(rng, 5, 10, D))
    module.eval()
    gamma, beta, bn_param = bn_param_from_module(module)
    assert bn_param["mode"] == "test"
    np.testing.assert_array_equal(bn_param["running_var"], module.running_var.numpy())

    x = rng.normal(size=(3, D))
    ours, _ = batchnorm_forward(x, gamma, beta, bn_param)
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_converted_module_keeps_training_in_step(torch, rng):
    N, D = 16, 3
    xs = batches(rng, 7, N, D)
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    bn_param = train_ours(xs[:4], gamma, beta, {"mode": "train", "momentum": 0.8})
    module = module_from_bn_param(gamma, beta, bn_param, batch_size=N, num_batches_tracked=4)
    assert module.momentum == pytest.approx(0.2) and module.training

    train_ours(xs[4:], gamma, beta, bn_param)
    train_torch(torch, module, xs[4:])
    _, _, back = bn_param_from_module(module, batch_size=N)
    np.testing.assert_allclose(back["running_mean"], bn_param["running_mean"], rtol=1e-12)
    np.testing.assert_allclose(back["running_var"], bn_param["running_var"], rtol=1e-12)


@pytest.mark.parametrize("batch_size", [None, 12])
def test_round_trip_returns_the_same_state(torch, rng, batch_size):
    D = 5
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    bn_param = train_ours(batches(rng, 3, 12, D), gamma, beta, {"mode": "train", "eps": 1e-3})
    state = state_dict_from_bn_param(gamma, beta, bn_param, batch_size, num_batches_tracked=3)
    assert set(state) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    assert int(state["num_batches_tracked"]) == 3
    g, b, back = bn_param_from_state_dict(state, momentum=0.1, eps=1e-3, batch_size=batch_size, mode="train")
    np.testing.assert_array_equal(g, gamma)
    np.testing.assert_array_equal(b, beta)
    np.testing.assert_allclose(back["running_var"], bn_param["running_var"], rtol=1e-13)
    np.testing.assert_array_equal(back["running_mean"], bn_param["running_mean"])


def test_varying_batch_sizes_cannot_be_converted_exactly(torch, rng):
    """The limitation the module documents: one factor N/(N-1) cannot undo a mix of sizes."""
    D = 3
    xs = [rng.normal(size=(N, D)) for N in (2, 50, 3, 40)]
    ours = train_ours(xs, np.ones(D), np.zeros(D), {"mode": "train"})
    module = train_torch(torch, torch.nn.BatchNorm1d(D, dtype=torch.float64), xs)
    for N in (2, 3, 40, 50):
        _, _, converted = bn_param_from_module(module, batch_size=N)
        assert np.max(np.abs(converted["running_var"] / ours["running_var"] - 1)) > 1e-3


def test_float32_state_gives_float32_arrays(torch):
    module = torch.nn.BatchNorm1d(3)
    gamma, beta, bn_param = bn_param_from_module(module)
    assert gamma.dtype == beta.dtype == bn_param["running_var"].dtype == np.float32


def test_reading_a_state_dict_needs_no_torch():
    D = 2
    state = {
        "weight": np.full(D, 2.0), "bias": np.zeros(D), "running_mean": np.ones(D),
        "running_var": np.full(D, 1.5), "num_batches_tracked": np.array(1),
    }
    _, _, bn_param = bn_param_from_state_dict(state, momentum=0.1, batch_size=4)
    # (*) with k = 1, N = 4: ours = 3/4 * (1.5 - 0.9)
    np.testing.assert_allclose(bn_param["running_var"], 0.75 * 0.6)
    assert bn_param["mode"] == "test"


def test_arrays_read_from_a_numpy_state_dict_are_copies():
    state = {"weight": np.ones(2), "bias": np.zeros(2), "running_mean": np.zeros(2), "running_var": np.ones(2)}
    gamma, _, bn_param = bn_param_from_state_dict(state)
    assert not np.shares_memory(gamma, state["weight"])
    assert not np.shares_memory(bn_param["running_var"], state["running_var"])


def test_state_arrays_are_copies(torch):
    module = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    _, _, bn_param = bn_param_from_module(module)
    with torch.no_grad():
        module.running_mean.add_(1.0)
    np.testing.assert_array_equal(bn_param["running_mean"], 0.0)


def test_batch_of_one_is_refused_by_both(torch):
    x = np.ones((1, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.nn.BatchNorm1d(4, dtype=torch.float64).train()(torch.from_numpy(x))
    with pytest.raises(ValueError, match="batchnorm_forward: train mode needs a batch of at least 2"):
        batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})


@pytest.mark.parametrize(
    "state_change, kwargs, error, words",
    [
        ({"bias": None}, {}, KeyError, ["lacks", "bias"]),
        ({"num_batches_tracked": None}, {"batch_size": 4}, KeyError, ["num_batches_tracked"]),
        ({}, {"batch_size": 1}, ValueError, ["batch_size", ">= 2", "1"]),
        ({}, {"momentum": 2.0}, ValueError, ["momentum", "[0, 1]", "2.0"]),
        ({"running_var": np.ones(3)}, {}, ValueError, ["running_var", "(2,)", "(3,)"]),
        ({"weight": np.ones(2, dtype=int)}, {}, TypeError, ["weight", "floating", "int64"]),
        ({"num_batches_tracked": np.array(2.5)}, {"batch_size": 4}, ValueError, ["num_batches_tracked", "integer", "2.5"]),
    ],
)
def test_bn_param_from_state_dict_rejects(state_change, kwargs, error, words):
    state = {"weight": np.ones(2), "bias": np.zeros(2), "running_mean": np.zeros(2),
             "running_var": np.ones(2), "num_batches_tracked": np.array(0)}
    for key, value in state_change.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    with pytest.raises(error) as info:
        bn_param_from_state_dict(state, **kwargs)
    message = str(info.value)
    assert "bn_param_from_state_dict: " in message
    for word in words:
        assert word in message


def test_module_reader_rejects_what_has_no_counterpart(torch):
    with pytest.raises(ValueError, match="momentum=None"):
        bn_param_from_module(torch.nn.BatchNorm1d(3, momentum=None))
    with pytest.raises(ValueError, match="affine=False"):
        bn_param_from_module(torch.nn.BatchNorm1d(3, affine=False))
    with pytest.raises(ValueError, match="track_running_stats=False"):
        bn_param_from_module(torch.nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(TypeError, match="BatchNorm1d; got Linear"):
        bn_param_from_module(torch.nn.Linear(3, 3))


def test_writer_rejects_a_param_without_running_statistics(torch):
    with pytest.raises(KeyError, match="running_mean"):
        state_dict_from_bn_param(np.ones(2), np.zeros(2), {"mode": "train"})
    bn_param = {"mode": "train", "running_mean": np.zeros(2), "running_var": np.ones(2, dtype=np.float32)}
    with pytest.raises(TypeError, match="running_var must have gamma's dtype float64; got float32"):
        state_dict_from_bn_param(np.ones(2), np.zeros(2), bn_param)


def test_without_torch_the_writers_say_in_one_line_how_to_install_it(monkeypatch):
    from cs231n_bn import torch_compat

    monkeypatch.setattr(torch_compat, "torch", None)
    bn_param = {"mode": "test", "running_mean": np.zeros(2), "running_var": np.ones(2)}
    with pytest.raises(torch_compat.FrameworkMissing, match=r"state_dict_from_bn_param: needs PyTorch.*pip install torch==2.13.0") as info:
        state_dict_from_bn_param(np.ones(2), np.zeros(2), bn_param)
    assert isinstance(info.value, ImportError)
    # what IPython shows in place of a traceback
    assert info.value._render_traceback_() == [f"FrameworkMissing: {info.value}"]
