"""The update rules: their math, CS231n's contract (the caller's config is updated and
returned), and a clear refusal of every config that would silently train wrong."""

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from cs231n_bn.optim import UPDATE_RULES, adam, rmsprop, sgd, sgd_momentum

RULES = (sgd, sgd_momentum, rmsprop, adam)


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
    # stored values (worked out by hand once), not the update written out again
    np.testing.assert_allclose(w1, [0.9, 2.1], rtol=1e-15)
    np.testing.assert_allclose(config["velocity"], [-0.13, -0.22], rtol=1e-14)
    np.testing.assert_allclose(w2, [0.77, 1.88], rtol=1e-14)


def test_adam_continues_from_the_state_it_stored():
    # stored values of two steps from a fresh config, on inputs whose numbers are easy to follow
    w0 = np.array([1.0, -1.0])
    w1, config = adam(w0, np.array([0.5, -2.0]), {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75})
    w2, config = adam(w1, np.array([1.0, 2.0]), config)
    assert config["t"] == 2
    np.testing.assert_allclose(config["m"], [0.625, 0.5], rtol=1e-14)
    np.testing.assert_allclose(config["v"], [0.296875, 1.75], rtol=1e-14)
    np.testing.assert_allclose(w1, [0.9, -0.9], rtol=1e-7)
    np.testing.assert_allclose(w2, [0.7988371734502562, -0.9333333336666666], rtol=1e-12)


def test_rmsprop_divides_each_step_by_the_running_rms_gradient():
    w = np.array([0.0, 0.0])
    dw1, dw2 = np.array([2.0, -1e-3]), np.array([1.0, 4e-3])
    w1, config = rmsprop(w, dw1, {"learning_rate": 0.1, "decay_rate": 0.5})
    w2, config = rmsprop(w1, dw2, config)
    mean_square = 0.25 * dw1**2 + 0.5 * dw2**2  # both steps' squares, the older one decayed twice
    np.testing.assert_allclose(config["cache"], mean_square, rtol=1e-15)
    np.testing.assert_allclose(w2 - w1, -0.1 * dw2 / (np.sqrt(mean_square) + 1e-8), rtol=1e-12)
    # The first step moves both entries by the same amount, whatever their gradients' scales.
    np.testing.assert_allclose(np.abs(w1), 0.1 / np.sqrt(0.5), rtol=1e-4)


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
    for rule in RULES:
        next_w, config = rule(w, dw, {"learning_rate": 1e-3})
        assert next_w.dtype == np.float32, rule.__name__
        assert all(v.dtype == np.float32 for v in config.values() if isinstance(v, np.ndarray)), rule.__name__


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_callers_config_is_updated_in_place_and_returned(rule):
    # CS231n's check cells call `next_w, _ = rule(w, dw, config=config)` and read config.
    w, dw = np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(2, -1, 6).reshape(2, 3)
    config = {"learning_rate": 0.5}
    next_w, returned = rule(w, dw, config=config)
    assert returned is config
    # setdefault semantics: the given rate is kept, the other defaults are filled in
    assert config["learning_rate"] == 0.5 and set(config) == set(rule(w, dw)[1])
    assert not np.array_equal(next_w, w)
    # The next call continues from the state stored in that dict.
    dw2 = np.linspace(-3, 0.5, 6).reshape(2, 3)
    again, _ = rule(next_w, dw2, config)
    fresh, _ = rule(next_w, dw2, {"learning_rate": 0.5})
    assert rule is sgd or not np.allclose(again, fresh)


def test_none_starts_a_fresh_dict_with_every_default():
    w, dw = np.ones(2), np.ones(2)
    assert sgd(w, dw)[1] == {"learning_rate": 1e-2}
    _, config = sgd_momentum(w, dw)
    assert config["learning_rate"] == 1e-2 and config["momentum"] == 0.9
    _, config = rmsprop(w, dw)
    assert (config["learning_rate"], config["decay_rate"], config["epsilon"]) == (1e-2, 0.99, 1e-8)
    _, config = adam(w, dw)
    assert (config["learning_rate"], config["beta1"], config["beta2"], config["epsilon"], config["t"]) == (
        1e-3, 0.9, 0.999, 1e-8, 1)


def test_every_rule_is_registered_for_the_solver():
    assert UPDATE_RULES == {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


W2 = np.ones(2)


@pytest.mark.parametrize(
    "rule, w, dw, config, message",
    [
        (sgd, np.ones(2), np.ones(3), None, "sgd: dw must have shape"),
        (sgd, np.ones(2, int), np.ones(2), None, "sgd: w must have a floating-point dtype"),
        (adam, np.ones(2), np.ones(2), [1], "adam: config must be a dict"),
        # misspelled or foreign keys: refused, naming the known ones
        (sgd, W2, W2, {"lr": 0.1}, "sgd: config has unknown key\\(s\\) 'lr'; known keys: 'learning_rate'"),
        (sgd_momentum, W2, W2, {"momentun": 0.5}, "sgd_momentum: config has unknown key\\(s\\) 'momentun'; "
         "known keys: 'learning_rate', 'momentum', 'velocity'"),
        (adam, W2, W2, {"lr": 0.1}, "adam: config has unknown key\\(s\\) 'lr'; known keys: 'learning_rate', 'beta1', "
         "'beta2', 'epsilon', 't', 'm', 'v'"),
        (rmsprop, W2, W2, {"beta1": 0.9}, "rmsprop: config has unknown key\\(s\\) 'beta1'; known keys: "
         "'learning_rate', 'decay_rate', 'epsilon', 'cache'"),
        # hyperparameters out of range
        (sgd, W2, W2, {"learning_rate": -1}, "sgd: config\\['learning_rate'\\] must be a finite number > 0"),
        (sgd, W2, W2, {"learning_rate": True}, "sgd: config\\['learning_rate'\\] must be a finite number > 0"),
        (sgd_momentum, W2, W2, {"momentum": 1.5}, "sgd_momentum: config\\['momentum'\\] must be a number in \\[0, 1\\]"),
        (adam, W2, W2, {"beta1": 1}, "adam: config\\['beta1'\\] must be a number in \\[0, 1\\)"),
        (adam, W2, W2, {"beta1": 1.5}, "adam: config\\['beta1'\\] must be a number in \\[0, 1\\)"),
        (adam, W2, W2, {"beta2": -0.5}, "adam: config\\['beta2'\\] must be a number in \\[0, 1\\)"),
        (adam, W2, W2, {"epsilon": -1e-8}, "adam: config\\['epsilon'\\] must be a finite number > 0"),
        (adam, W2, W2, {"epsilon": 0}, "adam: config\\['epsilon'\\] must be a finite number > 0"),
        (adam, W2, W2, {"t": -1}, "adam: config\\['t'\\] must be an integer >= 0"),
        (adam, W2, W2, {"t": "3"}, "adam: config\\['t'\\] must be an integer >= 0 \\(the number of steps taken\\); "
         "got '3'"),
        (adam, W2, W2, {"t": 2.5}, "adam: config\\['t'\\] must be an integer >= 0"),
        (rmsprop, W2, W2, {"decay_rate": 1.0}, "rmsprop: config\\['decay_rate'\\] must be a number in \\[0, 1\\)"),
        # state arrays of the wrong shape, dtype or sign: never broadcast, never cast
        (adam, W2, W2, {"m": np.ones(1)}, "adam: config\\['m'\\] must have shape \\(2,\\) \\(the shape of w\\); got \\(1,\\)"),
        (adam, W2, W2, {"v": np.ones((2, 1))}, "adam: config\\['v'\\] must have shape \\(2,\\)"),
        (adam, W2, W2, {"v": -W2}, "adam: config\\['v'\\] is an average of squared gradients and cannot be negative"),
        (sgd_momentum, W2, W2, {"velocity": np.ones(1)}, "sgd_momentum: config\\['velocity'\\] must have shape \\(2,\\)"),
        (sgd_momentum, W2, W2, {"velocity": np.ones(2, int)},
         "sgd_momentum: config\\['velocity'\\] must have a floating-point dtype"),
        (sgd_momentum, W2, W2, {"velocity": None}, "sgd_momentum: config\\['velocity'\\] must be a numpy array"),
        (rmsprop, W2, W2, {"cache": np.ones(3)}, "rmsprop: config\\['cache'\\] must have shape \\(2,\\)"),
    ],
)
def test_bad_update_arguments_are_named(rule, w, dw, config, message):
    before = None if not isinstance(config, dict) else dict(config)
    with pytest.raises((ValueError, TypeError), match=message):
        rule(w, dw, config)
    if before is not None:
        assert set(config) == set(before), "a refused call filled in defaults"
        assert all(config[k] is before[k] for k in before), "a refused call changed config"


@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_any_shape_w_and_dw_untouched_state_shaped_like_w(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    w_before, dw_before = w.copy(), dw.copy()
    for rule in RULES:
        config = {}
        for _ in range(2):
            next_w, returned = rule(w, dw, config)
            assert returned is config and next_w.shape == w.shape and next_w.dtype == dtype
        for value in config.values():
            assert not isinstance(value, np.ndarray) or (value.shape == w.shape and value.dtype == dtype)
        np.testing.assert_array_equal(w, w_before)
        np.testing.assert_array_equal(dw, dw_before)
