"""sgd_momentum and adam: the solution region filled in between the scaffold's lines.

Each function below is the whole rule as a student hands it in: the scaffold's first lines
(config checks, locals), a solution region, and the scaffold's last lines (state written
back, next_w cast to w's dtype).
"""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_rule = Catalogue("sgd_momentum")
adam_rule = Catalogue("adam")


def _momentum_head(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _momentum_tail(w, next_w, v, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


def _rename(function, name):
    function.__name__ = name
    return function


def _momentum(name, description, correct=False):
    """Register a body(w, dw, learning_rate, momentum, v) -> (next_w, v) under name."""
    def register(body):
        def sgd_momentum(w, dw, config=None):
            config, learning_rate, momentum, v = _momentum_head(w, dw, config)
            next_w, v = body(w, dw, learning_rate, momentum, v)
            return _momentum_tail(w, next_w, v, config)
        _rename(sgd_momentum, name)
        (momentum_rule.correct if correct else momentum_rule.mistake)(description)(sgd_momentum)
        return body
    return register


@_momentum("positive_velocity", "velocity stored with the opposite sign (v = mu v + lr dw; w - v): config['velocity'] is negated")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v + learning_rate * dw
    return w - v, v


@_momentum("velocity_not_updated", "the step uses momentum * v - lr * dw but the old velocity is stored back")
def _(w, dw, learning_rate, momentum, v):
    return w + momentum * v - learning_rate * dw, v


@_momentum("nesterov", "Nesterov's look-ahead step w + mu * v_new - lr * dw instead of w + v_new")
def _(w, dw, learning_rate, momentum, v):
    v_new = momentum * v - learning_rate * dw
    return w + momentum * v_new - learning_rate * dw, v_new


@_momentum("lr_outside_velocity", "v = mu v - dw and w + lr v: the velocity no longer holds steps")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v - dw
    return w + learning_rate * v, v


@_momentum("pytorch_buffer", "PyTorch's buffer v = mu v + dw, w - lr v: another velocity, and another step from the second on")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v + dw
    return w - learning_rate * v, v


@_momentum("w_in_place", "w updated in place (w += v): the caller's parameter array changes")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v - learning_rate * dw
    w += v
    return w, v


@_momentum("old_velocity_step", "steps with the old velocity, then updates it (lines in the wrong order)")
def _(w, dw, learning_rate, momentum, v):
    next_w = w + v
    return next_w, momentum * v - learning_rate * dw


@_momentum("dampened", "an exponential average: v = mu v - (1 - mu) lr dw")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v - (1 - momentum) * learning_rate * dw
    return w + v, v


@_momentum("hard_coded_lr", "learning rate hard-coded to 1e-2, ignoring config['learning_rate']")
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v - 1e-2 * dw
    return w + v, v


@_momentum("momentum_on_gradient", "momentum multiplies the gradient: v = v - mu * lr * dw")
def _(w, dw, learning_rate, momentum, v):
    v = v - momentum * learning_rate * dw
    return w + v, v


@_momentum("expanded_step", "step written out as w - lr * dw + mu * v, the new velocity as next_w - w", correct=True)
def _(w, dw, learning_rate, momentum, v):
    next_w = w - learning_rate * dw + momentum * v
    return next_w, next_w - w


@_momentum("np_functions", "np.multiply / np.subtract into new arrays", correct=True)
def _(w, dw, learning_rate, momentum, v):
    v = np.subtract(np.multiply(momentum, v), np.multiply(learning_rate, dw))
    return np.add(w, v), v


@_momentum("float32_careful", "the update computed in float64 and cast back by the scaffold", correct=True)
def _(w, dw, learning_rate, momentum, v):
    v = momentum * v.astype(np.float64) - learning_rate * dw.astype(np.float64)
    return w.astype(np.float64) + v, v


# Adam

ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}


def _adam(name, description, correct=False):
    """Register a body(w, dw, config, beta1, beta2, eps, lr, m, v) -> (next_w, m, v, t) under name."""
    def register(body):
        def adam(w, dw, config=None):
            config = _config("adam", w, dw, config, dict(ADAM_DEFAULTS), ("m", "v"))
            beta1, beta2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
            m, v = config["m"], config["v"]
            next_w, m, v, t = body(w, dw, config, beta1, beta2, eps, lr, m, v)
            config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
            return next_w.astype(w.dtype, copy=False), config
        _rename(adam, name)
        (adam_rule.correct if correct else adam_rule.mistake)(description)(adam)
        return body
    return register


@_adam("no_bias_correction", "no bias correction: the first steps are far too small")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v, t


@_adam("t_not_incremented", "t never incremented: the bias correction divides by 1 - beta**0 = 0")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("correction_t_plus_one", "t incremented, then the correction uses t + 1 again")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1 ** (t + 1))) / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps), m, v, t


@_adam("eps_inside_sqrt", "epsilon inside the square root: sqrt(v_hat + eps)")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v, t


@_adam("v_not_squared", "the second moment averages |dw| instead of dw**2")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.abs(dw)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("betas_swapped_in_m", "m = (1 - beta1) m + beta1 dw: the weights of old and new swapped")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = (1 - beta1) * m + beta1 * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("no_sqrt", "divides by v_hat instead of sqrt(v_hat)")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (v / (1 - beta2**t) + eps), m, v, t


@_adam("m_uncorrected", "only v is bias-corrected; the step uses the raw m")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("ascends", "w + step: climbs the gradient")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w + lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("corrected_moments_stored", "the bias-corrected m_hat and v_hat stored as the state")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * dw**2) / (1 - beta2**t)
    return w - lr * m / (np.sqrt(v) + eps), m, v, t


@_adam("t_not_stored", "the correction uses t + 1 but t is never advanced in config")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1 ** (t + 1))) / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps), m, v, t


@_adam("scalar_v", "v averages the mean of dw**2 over all entries (one number broadcast), not each entry's square")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.mean(dw**2) * np.ones_like(dw)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@_adam("eps_hard_coded", "epsilon hard-coded to 1e-6 (PyTorch-ish habit), ignoring config['epsilon']")
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + 1e-6), m, v, t


@_adam("lerp_moments", "moments written as m + (1 - beta1) (dw - m), np.square, np.power for the corrections", correct=True)
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = m + (1 - beta1) * (dw - m)
    v = v + (1 - beta2) * (np.square(dw) - v)
    mhat = m / (1 - np.power(beta1, t))
    vhat = v / (1 - np.power(beta2, t))
    return w - lr * mhat / (np.sqrt(vhat) + eps), m, v, t


@_adam("float64_inside", "moments and step computed in float64, the scaffold casts them back", correct=True)
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    d = dw.astype(np.float64)
    m = beta1 * m.astype(np.float64) + (1 - beta1) * d
    v = beta2 * v.astype(np.float64) + (1 - beta2) * d * d
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w.astype(np.float64) - step, m, v, t


@_adam("config_reads", "reads t from config, writes config['t'] itself too (the scaffold writes the same t)", correct=True)
def _(w, dw, config, beta1, beta2, eps, lr, m, v):
    config["t"] = config["t"] + 1
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw * dw)
    return w - lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps), m, v, t
