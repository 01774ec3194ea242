"""The Solver: best checkpoint with its running statistics, sampling, decay, CS231n's keywords."""

import copy
import pickle
import re
import warnings

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from cs231n_bn.data import get_data
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.solver import Solver


@pytest.fixture(scope="module")
def digits():
    return get_data("digits")


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


def test_the_progress_bar_can_be_silenced_and_leaves_no_line(digits, capsys):
    net = FullyConnectedNet([10], input_dim=64, seed=0)
    Solver(net, digits, batch_size=100, num_epochs=1, verbose=False).train()
    assert capsys.readouterr() == ("", "")
    Solver(net, digits, batch_size=100, num_epochs=1, verbose=True, desc="digits").train()
    out, err = capsys.readouterr()
    assert out == "" and "digits" in err
    # tqdm draws with carriage returns; what is left on the terminal is after the last one.
    assert err.split("\r")[-1].strip() == "", "a finished bar stays on screen"


class NotebookRecorder(NotebookClient):
    """Executes a notebook and records every display message the kernel sent."""

    def output(self, outs, msg, display_id, cell_index):
        self.sent = getattr(self, "sent", []) + [(msg["msg_type"], msg["content"].get("data"))]
        return super().output(outs, msg, display_id, cell_index)


def test_in_jupyter_the_bar_is_live_and_the_stored_notebook_keeps_no_frozen_bar():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from cs231n_bn.data import get_data\n"
        "from cs231n_bn.fc_net import FullyConnectedNet\n"
        "from cs231n_bn.solver import Solver\n"
        "print('before')\n"
        "net = FullyConnectedNet([10], input_dim=64, seed=0)\n"
        "Solver(net, get_data('digits'), batch_size=100, num_epochs=2, desc='baseline').train()\n"
        "print('after')"
    )]
    client = NotebookRecorder(nb, timeout=120, kernel_name="python3")
    client.execute()
    shown = [data for kind, data in client.sent if kind == "display_data"]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0], "no live widget"
    # nbval compares the text of the first display (it ignores updates) with the stored one.
    assert shown[0]["text/plain"] == ""
    stored = nb.cells[0].outputs
    assert [o.output_type for o in stored] == ["stream", "display_data", "stream"]
    assert stored[1].data == {"text/plain": ""}, "the stored notebook keeps the bar"
    assert stored[0].text + stored[2].text == "before\nafter\n"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 1}, "batch_size must be between 2"),
        ({"batch_size": 10**6}, "batch_size must be between 2"),
        ({"update_rule": "nesterov"}, "update_rule"),
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


@pytest.mark.parametrize(
    "data, error, message",
    [
        ({"X_train": np.zeros((4, 2)), "y_train": np.zeros(3, int)}, ValueError,
         r"Solver: data\['y_train'\] must hold one label per sample of data\['X_train'\], shape \(4,\); got shape \(3,\)"),
        ({"X_train": np.zeros((4, 2)), "y_train": np.zeros((4, 1), int)}, ValueError,
         r"data\['y_train'\] must hold one label per sample .* got shape \(4, 1\)"),
        ({"X_val": np.zeros((4, 2)), "y_val": np.zeros(5, int)}, ValueError,
         r"data\['y_val'\] must hold one label per sample of data\['X_val'\], shape \(4,\); got shape \(5,\)"),
        ({"X_val": np.zeros((0, 2)), "y_val": np.zeros(0, int)}, ValueError, r"data\['X_val'\] holds no samples"),
        ({"X_train": [[0.0, 1.0]] * 4}, TypeError, r"data\['X_train'\] must be a numpy array of samples; got list"),
    ],
)
def test_data_whose_labels_do_not_match_the_samples_is_refused(data, error, message):
    good = {"X_train": np.zeros((4, 2)), "y_train": np.zeros(4, int), "X_val": np.zeros((2, 2)), "y_val": np.zeros(2, int)}
    with pytest.raises(error, match=message):
        Solver(RecordingModel(), {**good, **data}, batch_size=2)


def test_cs231n_keywords_are_accepted_with_their_meaning(digits, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = FullyConnectedNet([20], input_dim=64, normalization="batchnorm", seed=0)
    optim_config = {"learning_rate": 1e-2}
    solver = Solver(
        net, digits, update_rule="sgd_momentum", optim_config=optim_config, lr_decay=0.9, batch_size=100,
        num_epochs=2, num_train_samples=50, num_val_samples=40, checkpoint_name="run", print_every=3, verbose=True,
    )
    solver.train()
    assert optim_config == {"learning_rate": 1e-2}, "the caller's optim_config was changed"
    steps = solver.iterations_per_epoch * 2
    out, err = capsys.readouterr()
    assert err == "", "print_every prints CS231n's lines instead of a progress bar"
    lines = out.splitlines()
    iterations = [line for line in lines if line.startswith("(Iteration")]
    assert [line.split(")")[0] for line in iterations] == [f"(Iteration {t} / {steps}" for t in range(1, steps + 1, 3)]
    assert all(re.fullmatch(r"\(Iteration \d+ / \d+\) loss: \d+\.\d{6}", line) for line in iterations)
    epochs = [line for line in lines if line.startswith("(Epoch")]
    assert [line.split(")")[0] for line in epochs] == ["(Epoch 0 / 2", "(Epoch 1 / 2", "(Epoch 2 / 2"]
    assert all(re.fullmatch(r"\(Epoch \d / 2\) train acc: \d\.\d{6}; val_acc: \d\.\d{6}", line) for line in epochs)
    assert f"{solver.val_acc_history[1]:f}" in epochs[1]
    # One checkpoint before training and one per epoch, with CS231n's keys and the running statistics.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_epoch_0.pkl", "run_epoch_1.pkl", "run_epoch_2.pkl"]
    assert [line for line in lines if line.startswith("Saving")] == [
        f'Saving checkpoint to "run_epoch_{e}.pkl"' for e in range(3)]
    with open(tmp_path / "run_epoch_1.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    cs231n_keys = {"model", "update_rule", "lr_decay", "optim_config", "batch_size", "num_train_samples",
                   "num_val_samples", "epoch", "loss_history", "train_acc_history", "val_acc_history"}
    assert cs231n_keys <= set(checkpoint) and checkpoint["epoch"] == 1
    assert len(checkpoint["loss_history"]) == solver.iterations_per_epoch
    assert checkpoint["model"].bn_params[0]["running_mean"].shape == (20,)
    assert checkpoint["val_acc_history"] == solver.val_acc_history[:2]


def test_no_checkpoint_file_and_no_line_unless_asked(digits, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    net = FullyConnectedNet([10], input_dim=64, seed=0)
    Solver(net, digits, batch_size=200, num_epochs=1, verbose=False, print_every=1).train()
    Solver(net, digits, batch_size=200, num_epochs=1, verbose=False, checkpoint_name="quiet").train()
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quiet_epoch_0.pkl", "quiet_epoch_1.pkl"]
    for p in tmp_path.iterdir():
        p.unlink()
    Solver(net, digits, batch_size=200, num_epochs=1, verbose=False).train()
    assert list(tmp_path.iterdir()) == []


def test_divergence_is_reported_on_the_printed_lines(digits, capsys):
    net = FullyConnectedNet([100, 100, 100], input_dim=64, weight_scale=1.0, seed=0)
    solver = Solver(net, digits, update_rule="sgd", optim_config={"learning_rate": 1e3}, batch_size=50,
                    num_epochs=2, print_every=100)
    solver.train()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"(Iteration {solver.diverged_at + 1} / {solver.num_iterations}) the loss overflowed: training stopped")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"print_every": 0}, ValueError, "print_every must be an integer >= 1; got 0"),
        ({"checkpoint_name": 3}, TypeError, "checkpoint_name must be a file name prefix"),
        ({"optim_config": [("learning_rate", 1)]}, TypeError, "optim_config must be a dict or None; got list"),
        ({"num_val_samples": 0}, ValueError, "num_val_samples must be an integer >= 1"),
    ],
)
def test_bad_cs231n_keywords_are_named(digits, kwargs, error, message):
    with pytest.raises(error, match=f"Solver: {re.escape(message)}"):
        Solver(FullyConnectedNet([10], input_dim=64), digits, **kwargs)


def test_an_unknown_optim_config_key_is_refused_at_construction(digits):
    with pytest.raises(ValueError, match="^Solver: optim_config does not suit update_rule 'adam': adam: config has "
                                         "unknown key\\(s\\) 'lr'; known keys: 'learning_rate'"):
        Solver(FullyConnectedNet([10], input_dim=64, seed=0), digits, update_rule="adam",
               optim_config={"lr": 1e-3}, verbose=False)
