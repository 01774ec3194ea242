"""sgd_momentum: the velocity's rule, its sign, its start, and where it is stored."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

catalogue = Catalogue("sgd_momentum")
mistake, correct = catalogue.mistake, catalogue.correct
DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9}


def read(w, dw, config):
    """What the exercise's stub reads before its solution region."""
    config = _config("sgd_momentum", w, dw, config, DEFAULTS, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def store(w, v, next_w, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


@mistake("dampened momentum: v = momentum v + (1 - momentum) dw, w -= learning_rate v", judged=GENERIC)
def dampened(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = mu * v + (1 - mu) * dw
    return store(w, v, w - lr * v, config)


@mistake("velocity starts at ones when config has none", judged=NAMED)
def velocity_starts_at_ones(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("velocity", np.ones_like(w))
    config, lr, mu, v = read(w, dw, config)
    v = mu * v - lr * dw
    return store(w, v, w + v, config)


@mistake("Nesterov's look-ahead step: w + momentum v_new - learning_rate dw", judged=NAMED)
def nesterov(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v_new = mu * v - lr * dw
    return store(w, v_new, w + mu * v_new - lr * dw, config)


@mistake("velocity stored with the opposite sign: v = momentum v + learning_rate dw, w -= v", judged=NAMED)
def velocity_sign(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = mu * v + lr * dw
    return store(w, v, w - v, config)


@mistake("the new velocity never stored in config", judged=NAMED)
def velocity_not_stored(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v_new = mu * v - lr * dw
    return (w + v_new).astype(w.dtype, copy=False), config


@mistake("step taken with the old velocity, then the velocity updated", judged=NAMED)
def step_with_old_velocity(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    next_w = w + v
    v = mu * v - lr * dw
    return store(w, v, next_w, config)


@mistake("momentum hard-coded to 0.9", judged=NAMED)
def momentum_hard_coded(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = 0.9 * v - lr * dw
    return store(w, v, w + v, config)


@mistake("learning rate applied twice: v = momentum v - learning_rate dw, w += learning_rate v", judged=NAMED)
def learning_rate_twice(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = mu * v - lr * dw
    return store(w, v, w + lr * v, config)


@mistake("learning rate on the velocity instead of the gradient: v = learning_rate (momentum v - dw)", judged=GENERIC)
def learning_rate_on_velocity(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = lr * (mu * v - dw)
    return store(w, v, w + v, config)


@mistake("w updated in place (w += v), the caller's array modified", judged=NAMED)
def in_place(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = mu * v - lr * dw
    w += v
    return store(w, v, w, config)


@mistake("state written into a copy of config, returned, the caller's dict left as it was", judged=NAMED)
def config_copied(w, dw, config=None):
    config, lr, mu, v = read(w, dw, dict(config or {}))
    v = mu * v - lr * dw
    return store(w, v, w + v, config)


@mistake("momentum and learning rate exchanged: v = learning_rate v - momentum dw", judged=NAMED)
def hyperparameters_exchanged(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = lr * v - mu * dw
    return store(w, v, w + v, config)


@correct("velocity updated in place on a copy: v *= momentum; v -= learning_rate dw")
def in_place_on_copy(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    v = v.copy()
    v *= mu
    v -= lr * dw
    return store(w, v, w + v, config)


@correct("float32 w and dw kept float32 through np.float32 hyperparameters")
def float32_arithmetic(w, dw, config=None):
    config, lr, mu, v = read(w, dw, config)
    t = w.dtype.type
    v = t(mu) * v - t(lr) * dw
    return store(w, v, w + v, config)


ENTRIES = catalogue.entries
