"""Relation (*), torch_stats.torch_running_var: against PyTorch itself, and the converters that
call it (so that in the student edition they follow the student's function, not an answer)."""

import numpy as np
import pytest

from cs231n_bn import keras_compat, torch_compat, torch_stats
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.framework_convnet import torch_channel_running_var


@pytest.mark.parametrize("N, k, momentum", [(2, 1, 0.9), (7, 13, 0.75), (32, 0, 0.9), (5, 40, 0.5)])
def test_it_gives_what_a_pytorch_module_holds_after_the_same_batches(N, k, momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(N * 100 + k)
    D = 3
    module = torch.nn.BatchNorm1d(D, momentum=torch_compat.convert_momentum(momentum), dtype=torch.float64)
    bn_param = {"mode": "train", "momentum": momentum, "running_var": np.zeros(D), "running_mean": np.zeros(D)}
    with torch.no_grad():
        for _ in range(k):
            x = rng.normal(1.0, rng.uniform(0.5, 3, D), size=(N, D))
            batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
            module(torch.from_numpy(x))
    before = bn_param["running_var"].copy()
    got = torch_stats.torch_running_var(bn_param["running_var"], N, k, momentum)
    np.testing.assert_allclose(got, module.running_var.numpy(), rtol=1e-12)
    assert np.array_equal(bn_param["running_var"], before)


@pytest.mark.parametrize("args, message", [
    ((np.ones(2), 1, 3, 0.9), "N must be >= 2"),
    ((np.ones(2), 4, -1, 0.9), "k must be an integer >= 0"),
    ((np.ones(2), 4, 2.0, 0.9), "k must be an integer >= 0"),
    ((np.ones(2), 4, 3, 1.5), "momentum must be a number in"),
    ((np.ones((2, 2)), 4, 3, 0.9), "running_var must be a 1-D array"),
])
def test_it_refuses_what_has_no_training_history(args, message):
    with pytest.raises(ValueError, match="torch_running_var: " + message):
        torch_stats.torch_running_var(*args)


def _planted(running_var, N, k, momentum):
    """Not (*): an affine stand-in whose slope and start value no converter could guess."""
    return 2.5 * running_var + 0.125 * (N + k + momentum)


def test_the_converters_follow_the_exercise_function(monkeypatch):
    monkeypatch.setattr(torch_stats, "torch_running_var", _planted)
    D, N, k, m = 3, 6, 4, 0.8
    ours = np.array([0.5, 1.0, 2.0])
    start = 0.125 * (N + k + m)
    slope, share = torch_compat.affine_relation(N, k, m)
    assert (slope, share) == (2.5, start)
    assert torch_compat.start_share(k, m) == _planted(np.zeros(1), 2, k, m)[0]

    # PyTorch's state dict read back through the inverse: ours again
    theirs = _planted(ours, N, k, m)
    state = {"weight": np.ones(D), "bias": np.zeros(D), "running_mean": np.zeros(D), "running_var": theirs,
             "num_batches_tracked": np.array(k)}
    _, _, bn_param = torch_compat.bn_param_from_state_dict(state, momentum=1 - m, batch_size=N)
    np.testing.assert_allclose(bn_param["running_var"], ours, rtol=1e-12)

    # Keras's (**) takes the start share from the same function
    weights = keras_compat.weights_from_bn_param(np.ones(D), np.zeros(D), {"mode": "train", "momentum": m,
                                                 "running_mean": np.zeros(D), "running_var": ours}, steps=k)
    np.testing.assert_allclose(weights[3], ours + _planted(np.zeros(1), 2, k, m)[0], rtol=1e-12)

    # the convnet's version, with a start r0 on both sides
    r0 = 1.5
    decayed = share * r0
    np.testing.assert_allclose(torch_channel_running_var(ours, m, N, k, start=r0),
                               2.5 * (ours - decayed) + decayed, rtol=1e-12)


def test_the_pytorch_writer_follows_the_exercise_function(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(torch_stats, "torch_running_var", _planted)
    D, N, k, m = 2, 5, 3, 0.9
    ours = np.array([0.25, 4.0])
    bn_param = {"mode": "train", "momentum": m, "running_mean": np.zeros(D), "running_var": ours}
    state = torch_compat.state_dict_from_bn_param(np.ones(D), np.zeros(D), bn_param, batch_size=N,
                                                  num_batches_tracked=k)
    np.testing.assert_allclose(state["running_var"].numpy(), _planted(ours, N, k, m), rtol=1e-12)
