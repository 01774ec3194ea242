"""The experiments on tiny budgets: shapes, determinism, and the effects notebook 5 reports."""

import numpy as np
import pytest

from cs231n_bn import experiments as ex
from cs231n_bn.data import get_data


@pytest.fixture(scope="module")
def digits():
    return get_data("digits")


@pytest.fixture(scope="module")
def small(digits):
    """A fifth of the digits, for the runs whose numbers only need the right shapes."""
    return {k: v[: len(v) // 5] for k, v in digits.items()}


def test_batchnorm_rescues_a_deep_net_with_small_initial_weights(digits):
    runs = ex.compare_normalizations(digits, (None, "batchnorm"), num_epochs=3, eval_every=23)
    base, bn = runs["baseline"], runs["batchnorm"]
    assert base.normalization == "baseline" and bn.normalization == "batchnorm"
    assert len(base.loss) == 3 * 23 and list(base.eval_steps) == [0, 23, 46, 69]
    assert bn.best_val_acc > base.best_val_acc + 0.3, (bn.best_val_acc, base.best_val_acc)
    assert bn.loss[-10:].mean() < base.loss[-10:].mean()


def test_the_same_arguments_give_the_same_numbers(small):
    a = ex.compare_normalizations(small, ("layernorm",), hidden_dims=(20, 20), num_epochs=2)
    b = ex.compare_normalizations(small, ("layernorm",), hidden_dims=(20, 20), num_epochs=2)
    np.testing.assert_array_equal(a["layernorm"].loss, b["layernorm"].loss)
    np.testing.assert_array_equal(a["layernorm"].val_acc, b["layernorm"].val_acc)


def test_weight_scale_sweep_shapes_and_the_vanishing_baseline(digits):
    scales = np.array([1e-4, 1e-1])
    result = ex.weight_scale_sweep(digits, scales, num_epochs=2)
    assert result.parameter == "weight_scale" and np.array_equal(result.values, scales)
    assert set(result.best_val_acc) == {"baseline", "batchnorm"}
    assert result.best_val_acc["baseline"].shape == (2,) and result.final_loss["batchnorm"].shape == (2,)
    # With weights of 1e-4 through five layers nothing reaches the output: the baseline's
    # loss stays at log(10) and it guesses; batch norm restores each layer's scale and
    # learns, far above the 10% of guessing even in two epochs.
    assert result.final_loss["baseline"][0] == pytest.approx(np.log(10), abs=0.01)
    assert result.best_val_acc["baseline"][0] < 0.15
    assert result.best_val_acc["batchnorm"][0] > 0.3


def test_learning_rate_sweep_records_divergence(small):
    result = ex.learning_rate_sweep(small, [1e-2, 10.0], hidden_dims=(50, 50, 50), num_epochs=2, batch_size=20)
    assert result.diverged["baseline"].tolist() == [False, True]
    assert np.isnan(result.final_loss["baseline"][1])
    assert not result.diverged["batchnorm"].any()


def test_batch_size_sweep_takes_layernorm_and_any_batch_sizes(small):
    result = ex.batch_size_sweep(small, batch_sizes=(2, 16), normalizations=("batchnorm", "layernorm"),
                                 hidden_dims=(30, 30), num_epochs=1)
    assert result.parameter == "batch_size" and result.values.tolist() == [2, 16]
    assert set(result.best_val_acc) == {"batchnorm", "layernorm"}
    for values in result.best_val_acc.values():
        assert values.shape == (2,) and np.all((0 <= values) & (values <= 1))


def test_figure1_records_test_accuracy_and_ordered_percentiles(small):
    runs = ex.figure1(small, num_epochs=4, eval_every=2, hidden_dims=(20, 20, 20), batch_size=20)
    for name, run in runs.items():
        assert run.levels == (15, 50, 85)
        assert run.steps.tolist() == list(range(0, 4 * (len(small["y_train"]) // 20) + 1, 2))
        assert run.test_acc.shape == run.steps.shape
        assert run.percentiles.shape == (len(run.steps), 3)
        assert np.all(np.diff(run.percentiles, axis=1) >= 0), name
    # Before any step both networks are the same: same weights, and batch norm's running
    # statistics (mean 0, variance 1) leave its input almost unchanged.
    np.testing.assert_allclose(runs["baseline"].percentiles[0], runs["batchnorm"].percentiles[0], rtol=1e-4)


def test_steps_to_reach_is_the_first_step_at_or_above_the_target():
    steps, acc = [0, 10, 20, 30], [0.1, 0.5, 0.8, 0.7]
    assert ex.steps_to_reach(steps, acc, 0.5) == 10
    assert ex.steps_to_reach(steps, acc, 0.75) == 20
    assert ex.steps_to_reach(steps, acc, 0.05) == 0
    assert ex.steps_to_reach(steps, acc, 0.9) is None
    assert ex.steps_to_reach(np.array(steps), np.array(acc), 0.8) == 20
    assert type(ex.steps_to_reach(np.array(steps), np.array(acc), 0.5)) is int
    assert ex.steps_to_reach([], [], 0.1) is None


@pytest.mark.parametrize(
    "steps, acc, target, message",
    [
        ([0, 10], [0.1], 0.5, r"same length; got shapes \(2,\) and \(1,\)"),
        ([[0, 10]], [[0.1, 0.2]], 0.5, r"1-D .* got shapes \(1, 2\)"),
        ([0, 10], [0.1, 0.2], 1.5, r"target must be a number in \[0, 1\]; got 1.5"),
    ],
)
def test_steps_to_reach_refuses_mismatched_histories_and_targets_outside_0_1(steps, acc, target, message):
    with pytest.raises(ValueError, match="steps_to_reach: .*" + message):
        ex.steps_to_reach(steps, acc, target)


def test_fewer_steps_divides_the_baselines_steps_by_the_normalized_ones():
    class Run:
        def __init__(self, steps, acc):
            self.eval_steps, self.val_acc = np.array(steps), np.array(acc)

    baseline = Run([0, 10, 20, 30, 40], [0.1, 0.3, 0.6, 0.8, 0.7])
    fast = Run([0, 10, 20, 30, 40], [0.1, 0.85, 0.9, 0.9, 0.9])
    result = ex.fewer_steps(baseline, fast)
    assert (result.target, result.baseline_steps, result.normalized_steps, result.ratio) == (0.8, 30, 10, 3.0)
    slow = Run([0, 10, 20, 30, 40], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert np.isnan(ex.fewer_steps(baseline, slow).ratio)
    assert ex.fewer_steps(baseline, slow).normalized_steps is None


def test_labels():
    assert [ex.label(n) for n in (None, "batchnorm", "layernorm")] == ["baseline", "batchnorm", "layernorm"]


def test_probing_the_landscape_leaves_the_model_untouched(small):
    net = ex.make_network(small, (20, 20), normalization="batchnorm", seed=0)
    X, y = small["X_train"][:30], small["y_train"][:30]
    net.loss(X, y)
    params = {k: v.copy() for k, v in net.params.items()}
    running = [p["running_mean"].copy() for p in net.bn_params]
    loss, loss_range, change = ex.probe_along_gradient(net, X, y, 0.1, (0.5, 1.0, 2.0))
    assert all(np.array_equal(net.params[k], params[k]) for k in params)
    assert all(np.array_equal(p["running_mean"], r) for p, r in zip(net.bn_params, running))
    assert loss == pytest.approx(net.loss(X, y)[0]) and loss_range >= 0 and change > 0


def test_a_step_too_long_for_the_landscape_reports_infinity(small):
    net = ex.make_network(small, (50, 50, 50), weight_scale=1.0, seed=0)
    X, y = small["X_train"][:30], small["y_train"][:30]
    _, loss_range, change = ex.probe_along_gradient(net, X, y, 1e30, (1.0,))
    assert loss_range == np.inf and change == np.inf


def test_loss_landscape_records_one_probe_per_evaluation(small):
    runs = ex.loss_landscape(small, hidden_dims=(20, 20), num_epochs=2, eval_every=3)
    for run in runs.values():
        steps_per_epoch = len(small["y_train"]) // 50
        assert run.steps.tolist() == sorted(set(list(range(0, 2 * steps_per_epoch + 1, 3)) + [2 * steps_per_epoch]))
        assert run.loss.shape == run.loss_range.shape == run.gradient_change.shape == run.steps.shape
        assert np.all(run.loss_range >= 0) and run.multipliers == (0.5, 1.0, 2.0, 4.0)
