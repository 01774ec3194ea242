"""CS231n assignment 2's own cells, in essence, run on this package with only the imports changed.

Each test follows one kind of cell of CS231n's BatchNormalization and FullyConnectedNets
notebooks: the same calls, keywords and seeds, and the numbers their text tells a student
to expect. The optimizer cells' inputs are CS231n's (np.linspace over a 4 x 5 grid); the
expected arrays of sgd_momentum and adam are stored numbers, to the 8 decimals CS231n's
cells print (a student's exercise is never checked against a formula written out here).
"""

import warnings

import numpy as np
import pytest

from cs231n_bn import FullyConnectedNet, Solver, adam, rmsprop, sgd_momentum
from cs231n_bn.data import get_data
from cs231n_bn.gradient_check import eval_numerical_gradient, rel_error


@pytest.fixture(scope="module")
def small_data():
    """CS231n's small_data dict, from the digits, in float64 as CS231n's loader gives them."""
    digits = get_data("digits")
    return {key: value.astype(np.float64) if key.startswith("X") else value for key, value in digits.items()}


def linspace_grid(low, high):
    """The 4 x 5 inputs of CS231n's optimizer cells."""
    return np.linspace(low, high, num=20).reshape(4, 5)


def corners(a):
    return a[0, 0], a[-1, -1]


# ---------------------------------------------------------------- optimizer cells


# the 8 decimals CS231n's optimizer cells print their expected arrays with
PRINTED = 5e-9 + 1e-15

SGD_MOMENTUM_NEXT_W = [
    [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
    [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
    [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
    [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
]
SGD_MOMENTUM_VELOCITY = [
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
]
ADAM_NEXT_W = [
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
]
ADAM_V = [
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
]
ADAM_M = [
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
]


def test_sgd_momentum_cell():
    w, dw, v = linspace_grid(-0.4, 0.6), linspace_grid(-0.6, 0.4), linspace_grid(0.6, 0.9)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)  # the cell ignores the returned config
    np.testing.assert_allclose(next_w, SGD_MOMENTUM_NEXT_W, rtol=0, atol=PRINTED)
    np.testing.assert_allclose(config["velocity"], SGD_MOMENTUM_VELOCITY, rtol=0, atol=PRINTED)


def test_rmsprop_cell():
    w, dw, cache = linspace_grid(-0.4, 0.6), linspace_grid(-0.6, 0.4), linspace_grid(0.6, 0.9)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, _ = rmsprop(w, dw, config=config)

    expected_cache = cache + (1 - 0.99) * (np.square(dw) - cache)  # decay_rate defaults to 0.99
    expected_next_w = w - 1e-2 * dw / (1e-8 + np.sqrt(expected_cache))
    # CS231n's text: "You should see relative errors around e-7 or less"
    assert rel_error(expected_next_w, next_w) < 1e-8
    assert rel_error(expected_cache, config["cache"]) < 1e-8
    np.testing.assert_allclose(corners(next_w), (-0.39223849, 0.59576619), rtol=1e-7)
    np.testing.assert_allclose(corners(config["cache"]), (0.5976, 0.8926), rtol=1e-7)


def test_adam_cell():
    w, dw = linspace_grid(-0.4, 0.6), linspace_grid(-0.6, 0.4)
    m, v = linspace_grid(0.6, 0.9), np.linspace(0.7, 0.5, num=20).reshape(4, 5)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = adam(w, dw, config=config)
    # CS231n's note: t is incremented before it is used, so this is step 6.
    assert config["t"] == 6
    np.testing.assert_allclose(next_w, ADAM_NEXT_W, rtol=0, atol=PRINTED)
    np.testing.assert_allclose(config["v"], ADAM_V, rtol=0, atol=PRINTED)
    np.testing.assert_allclose(config["m"], ADAM_M, rtol=0, atol=PRINTED)


# ---------------------------------------------------------------- network cells


@pytest.mark.parametrize(
    "normalization, initial_losses",
    # The "Initial loss" lines of CS231n's FullyConnectedNets and BatchNormalization notebooks
    [(None, (2.300479089768492, 7.052114776533016)), ("batchnorm", (2.2611955101340957, 6.996533220108303))],
)
def test_gradient_check_cell_reproduces_cs231ns_initial_losses(normalization, initial_losses):
    # The weights come from NumPy's global generator, after X and y, as in CS231n.
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg, initial_loss in zip([0, 3.14], initial_losses):
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                                  dtype=np.float64, normalization=normalization)
        loss, grads = model.loss(X, y)
        assert loss == pytest.approx(initial_loss, rel=1e-12)
        for name in sorted(grads):
            f = lambda _: model.loss(X, y)[0]  # noqa: E731 (CS231n's cell)
            with warnings.catch_warnings():
                # with batch norm, b1 and b2 cannot move the loss; the checker says so
                warnings.filterwarnings("ignore", "eval_numerical_gradient: f did not change", UserWarning)
                grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
            if normalization == "batchnorm" and name in ("b1", "b2"):
                assert np.max(np.abs(grads[name])) < 1e-12 and np.max(np.abs(grad_num)) < 1e-9
                continue
            # CS231n's text: between 1e-4 and 1e-10 for W, 1e-8 to 1e-9 for gamma and beta
            assert rel_error(grad_num, grads[name]) < (2e-4 if name.startswith("W") else 1e-6), name


def test_training_cell_float64_data_into_a_float32_net_repeatable_by_np_random_seed(small_data, capsys):
    # BatchNormalization.ipynb: a deep net with and without batch norm, Adam, print_every=20.
    def run():
        np.random.seed(231)
        hidden_dims = [100, 100, 100]
        bn_model = FullyConnectedNet(hidden_dims, input_dim=64, weight_scale=2e-2, normalization="batchnorm")
        model = FullyConnectedNet(hidden_dims, input_dim=64, weight_scale=2e-2, normalization=None)
        solvers = []
        for net in (bn_model, model):
            solver = Solver(net, small_data, num_epochs=2, batch_size=50, update_rule="adam",
                            optim_config={"learning_rate": 1e-3}, verbose=True, print_every=20)
            solver.train()
            solvers.append(solver)
        return solvers

    bn_solver, solver = run()
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [printed[0], f"(Iteration 1 / {bn_solver.num_iterations}) loss: {bn_solver.loss_history[0]:f}"]
    assert printed[0].startswith("(Epoch 0 / 2) train acc: ")
    assert sum(line.startswith("(Epoch") for line in printed) == 2 * 3
    # CS231n's plots draw one accuracy per epoch (and one at the start) and one loss per step.
    for s in (bn_solver, solver):
        assert len(s.train_acc_history) == len(s.val_acc_history) == 3
        assert len(s.loss_history) == s.num_iterations
        assert all(p.dtype == np.float32 for p in s.model.params.values())
    assert bn_solver.best_val_acc > 0.8
    again, _ = run()
    assert again.loss_history == bn_solver.loss_history, "np.random.seed(231) did not make the run repeatable"


@pytest.mark.parametrize("update_rule", ["sgd", "sgd_momentum", "adam", "rmsprop"])
def test_update_rule_comparison_cell(update_rule):
    # FullyConnectedNets.ipynb: the same net trained with each rule, CIFAR-10's shape.
    rng = np.random.default_rng(0)
    cifar_like = {"X_train": rng.normal(size=(100, 3, 32, 32)), "y_train": rng.integers(0, 10, 100),
                  "X_val": rng.normal(size=(50, 3, 32, 32)), "y_val": rng.integers(0, 10, 50)}
    learning_rates = {"sgd": 5e-3, "sgd_momentum": 5e-3, "rmsprop": 1e-4, "adam": 1e-3}
    model = FullyConnectedNet([100, 100], weight_scale=5e-2)
    solver = Solver(model, cifar_like, num_epochs=1, batch_size=50, update_rule=update_rule,
                    optim_config={"learning_rate": learning_rates[update_rule]}, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 2 and np.all(np.isfinite(solver.loss_history))
    # The best model then scores float64 test data, as the notebook's last cells do.
    scores = model.loss(cifar_like["X_val"])
    assert scores.shape == (50, 10) and scores.dtype == np.float32


def test_weight_scale_and_batch_size_cells_are_silent(small_data, capsys):
    # verbose=False (with or without print_every) prints nothing; batch size 5 trains.
    np.random.seed(231)
    for normalization, batch_size in (("batchnorm", 5), ("layernorm", 5), (None, 50)):
        model = FullyConnectedNet([50, 50], input_dim=64, weight_scale=1e-3, normalization=normalization)
        Solver(model, small_data, num_epochs=1, batch_size=batch_size, update_rule="adam",
               optim_config={"learning_rate": 10**-3.5}, verbose=False, print_every=200).train()
    assert capsys.readouterr() == ("", "")
