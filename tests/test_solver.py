"""The update rules and the Solver: best checkpoint with its running statistics, sampling, decay."""

import copy
import warnings

import numpy as np
import pytest

from cs231n_bn.data import get_data
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.optim import adam, sgd, sgd_momentum
from cs231n_bn.solver import Solver


@pytest.fixture(scope="module")
def digits():
    return get_data("digits")


# ---------------------------------------------------------------- update rules


def test_sgd_returns_a_new_array_and_leaves_w_alone():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    next_w, config = sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [0.95, -2.025])
    np.testing.assert_array_equal(w, [1.0, -2.0])
    assert config == {"learning_rate": 0.1}


def test_momentum_accumulates_velocity():
    w0 = np.array([1.0, 2.0])
    g1, g2 = np.array([1.0, -1.0]), np.array([0.5, 3.0])
    w1, config = sgd_momentum(w0, g1, {"learning_rate": 0.1, "momentum": 0.8})
    w2, config = sgd_momentum(w1, g2, config)
    v1 = -0.1 * g1
    v2 = 0.8 * v1 - 0.1 * g2
    np.testing.assert_allclose(w2, w0 + v1 + v2, rtol=1e-15)
    np.testing.assert_allclose(config["velocity"], v2, rtol=1e-15)


def test_adam_first_step_moves_every_entry_by_the_learning_rate():
    # Bias correction makes mhat = dw and vhat = dw**2 on step 1, whatever beta1 and beta2.
    w = np.zeros(4)
    dw = np.array([1e-3, -2.0, 50.0, -7e-2])
    next_w, config = adam(w, dw, {"learning_rate": 0.01})
    np.testing.assert_allclose(next_w, -0.01 * np.sign(dw), rtol=1e-4)
    assert config["t"] == 1


def test_adam_minimizes_a_badly_scaled_quadratic():
    scales = np.array([1e-2, 1.0, 1e2])
    w, config = np.ones(3), {"learning_rate": 0.05}
    for _ in range(2000):
        w, config = adam(w, scales * w, config)
    assert np.max(np.abs(w)) < 1e-2


def test_float32_stays_float32():
    w, dw = np.ones(3, np.float32), np.ones(3, np.float32)
    for rule in (sgd, sgd_momentum, adam):
        next_w, config = rule(w, dw)
        assert next_w.dtype == np.float32, rule.__name__


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sgd(np.ones(2), np.ones(3)), "sgd: dw must have shape"),
        (lambda: sgd(np.ones(2), np.ones(2), {"learning_rate": -1}), "learning_rate"),
        (lambda: sgd_momentum(np.ones(2), np.ones(2), {"momentum": 1.5}), "momentum"),
        (lambda: adam(np.ones(2), np.ones(2), [1]), "config must be a dict"),
    ],
)
def test_bad_update_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ---------------------------------------------------------------- Solver


class RecordingModel:
    """A stub model: predicts class X[:, 0]; records the sample indices X[:, 1] it sees."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}
        self.batches, self.seen = [], []

    def loss(self, X, y=None):
        if y is None:
            self.seen.append(X[:, 1].copy())
            return np.eye(10)[X[:, 0].astype(int) % 10]
        self.batches.append(X[:, 1].astype(int))
        return 1.0, {"w": np.ones(1)}


def stub_data(n=100):
    X = np.stack([np.arange(n) % 10, np.arange(n)], axis=1).astype(np.float64)
    y = np.arange(n) % 10
    y[::4] = (y[::4] + 1) % 10  # a quarter of the labels disagree with the prediction
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


def test_each_epoch_visits_every_sample_once_and_drops_the_remainder():
    model = RecordingModel()
    solver = Solver(model, stub_data(103), batch_size=10, num_epochs=2, verbose=False)
    solver.train()
    assert solver.step_count == 20 and all(len(b) == 10 for b in model.batches)
    for epoch in (model.batches[:10], model.batches[10:]):
        seen = np.concatenate(epoch)
        assert len(np.unique(seen)) == 100  # 100 distinct of 103: three left for no batch of one


def test_accuracy_samples_are_drawn_without_replacement():
    model = RecordingModel()
    data = stub_data(100)
    solver = Solver(model, data, batch_size=10, verbose=False)
    for _ in range(20):
        model.seen.clear()
        acc = solver.check_accuracy(data["X_val"], data["y_val"], num_samples=60, batch_size=7)
        rows = np.concatenate(model.seen)
        assert len(rows) == 60 and len(np.unique(rows)) == 60, "a sample was drawn twice"
        assert acc == np.mean(data["y_val"][rows.astype(int)] == rows.astype(int) % 10)
    model.seen.clear()
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == 0.75


def test_learning_rate_decays_once_per_epoch(digits):
    net = FullyConnectedNet([20], input_dim=64, seed=0)
    solver = Solver(net, digits, update_rule="sgd", optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                    batch_size=400, num_epochs=3, verbose=False)
    solver.train()
    assert all(c["learning_rate"] == pytest.approx(0.1 * 0.5**2) for c in solver.optim_configs.values())


def test_best_checkpoint_restores_weights_and_running_statistics(digits):
    net = FullyConnectedNet([50, 50], input_dim=64, normalization="batchnorm", weight_scale=0.1, seed=1)
    snapshots = {}

    def remember(solver):
        snapshots[solver.step_count] = (copy.deepcopy(solver.model.params), copy.deepcopy(solver.model.bn_params))

    solver = Solver(net, digits, update_rule="sgd_momentum", optim_config={"learning_rate": 0.3},
                    batch_size=20, num_epochs=4, eval_every=10, on_evaluate=remember, seed=0, verbose=False)
    solver.train()
    # The run must end somewhere other than its best point, or restoring proves nothing.
    assert solver.best_step != solver.step_count
    assert solver.val_acc_history[-1] != solver.best_val_acc
    params, bn_params = snapshots[solver.best_step]
    for name in params:
        np.testing.assert_array_equal(net.params[name], params[name])
    for restored, saved in zip(net.bn_params, bn_params):
        np.testing.assert_array_equal(restored["running_mean"], saved["running_mean"])
        np.testing.assert_array_equal(restored["running_var"], saved["running_var"])
    assert solver.check_accuracy(digits["X_val"], digits["y_val"]) == solver.best_val_acc
    # With the best weights but the LAST running statistics, the accuracy is not the recorded one:
    # this is what a Solver that saves only the weights would report.
    _, last_bn = snapshots[solver.step_count]
    net.bn_params = copy.deepcopy(last_bn)
    assert solver.check_accuracy(digits["X_val"], digits["y_val"]) != solver.best_val_acc


def test_same_seed_same_history(digits):
    def run(seed):
        net = FullyConnectedNet([30], input_dim=64, normalization="batchnorm", seed=0)
        s = Solver(net, digits, update_rule="adam", optim_config={"learning_rate": 1e-3},
                   batch_size=50, num_epochs=1, num_train_samples=200, seed=seed, verbose=False)
        return s.train()

    a, b, c = run(0), run(0), run(1)
    assert a.loss_history == b.loss_history and a.train_acc_history == b.train_acc_history
    assert a.loss_history != c.loss_history


def test_divergence_stops_training_quietly(digits):
    net = FullyConnectedNet([100, 100, 100], input_dim=64, weight_scale=1.0, seed=0)
    solver = Solver(net, digits, update_rule="sgd", optim_config={"learning_rate": 1e3},
                    batch_size=50, num_epochs=2, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solver.train()
    assert solver.diverged_at is not None and solver.step_count < solver.num_iterations
    assert np.all(np.isfinite(solver.loss_history))


def test_the_progress_bar_can_be_silenced(digits, capsys):
    net = FullyConnectedNet([10], input_dim=64, seed=0)
    Solver(net, digits, batch_size=100, num_epochs=1, verbose=False).train()
    assert capsys.readouterr().err == ""
    Solver(net, digits, batch_size=100, num_epochs=1, verbose=True, desc="digits").train()
    assert "digits" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 1}, "batch_size must be between 2"),
        ({"batch_size": 10**6}, "batch_size must be between 2"),
        ({"update_rule": "rmsprop"}, "update_rule"),
        ({"lr_decay": 0}, "lr_decay"),
        ({"num_epochs": 0}, "num_epochs"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_bad_solver_arguments_are_named(digits, kwargs, message):
    with pytest.raises(ValueError, match=f"Solver: {message}"):
        Solver(FullyConnectedNet([10], input_dim=64), digits, verbose=False, **kwargs)


def test_missing_data_keys_are_named():
    with pytest.raises(KeyError, match="X_val"):
        Solver(RecordingModel(), {"X_train": np.zeros((4, 2)), "y_train": np.zeros(4, int)})
