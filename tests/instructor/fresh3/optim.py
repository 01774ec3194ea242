"""sgd_momentum and adam: mistakes and correct variants.

`_momentum_config` and `_adam_config` are the stub's lines before the region (checks and
defaults); each entry ends with the stub's lines after it (state stored, next_w cast to w's
dtype) unless the mistake is in those very lines' inputs.
"""

import numpy as np

from cs231n_bn.optim import _config

from tests.instructor.later_catalogue import Catalogue

momentum_catalogue = Catalogue("sgd_momentum")
adam_catalogue = Catalogue("adam")


def _momentum_config(w, dw, config):
    return _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))


def _momentum_done(w, next_w, v, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


def _adam_config(w, dw, config):
    return _config("adam", w, dw, config,
                   {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"))


def _adam_done(w, next_w, m, v, t, config):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


# ================================================================ sgd_momentum

@momentum_catalogue.mistake("stores the velocity with the opposite sign: v = momentum * v + lr * dw; w = w - v")
def velocity_sign_flipped(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"] + config["learning_rate"] * dw
    return _momentum_done(w, w - v, v, config)


@momentum_catalogue.mistake("keeps the learning rate out of the velocity: v = momentum * v - dw; w = w + lr * v")
def learning_rate_outside_velocity(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"] - dw
    return _momentum_done(w, w + config["learning_rate"] * v, v, config)


@momentum_catalogue.mistake("dampens the gradient: v = momentum * v - (1 - momentum) * lr * dw")
def dampened(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    mu = config["momentum"]
    v = mu * config["velocity"] - (1 - mu) * config["learning_rate"] * dw
    return _momentum_done(w, w + v, v, config)


@momentum_catalogue.mistake("never stores the new velocity in config (momentum is lost between steps)")
def velocity_not_stored(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return (w + v).astype(w.dtype, copy=False), config


@momentum_catalogue.mistake("updates the caller's w in place (w += v) and returns it")
def updates_w_in_place(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    w += v
    return _momentum_done(w, w, v, config)


@momentum_catalogue.mistake("steps with the old velocity and updates the velocity afterwards")
def steps_with_old_velocity(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    next_w = w + config["velocity"]
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return _momentum_done(w, next_w, v, config)


@momentum_catalogue.mistake("Nesterov's look-ahead step w + momentum * v - lr * dw instead of classical momentum")
def nesterov(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    mu, lr = config["momentum"], config["learning_rate"]
    v = mu * config["velocity"] - lr * dw
    return _momentum_done(w, w + mu * v - lr * dw, v, config)


@momentum_catalogue.mistake("works on a copy of config (dict(config)) and returns the copy, so the caller's dict keeps the old velocity")
def returns_config_copy(w, dw, config=None):
    config = dict(_momentum_config(w, dw, config))
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return _momentum_done(w, w + v, v, config)


@momentum_catalogue.mistake("rebinds w to a float64 copy for accuracy, so float32 parameters come back float64")
def float64_w(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    w = w.astype(np.float64)
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return _momentum_done(w, w + v, v, config)


@momentum_catalogue.mistake("leftover hard-coded learning rate 1e-2 instead of config['learning_rate']")
def hard_coded_learning_rate(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"] - 1e-2 * dw
    return _momentum_done(w, w + v, v, config)


@momentum_catalogue.correct("the velocity updated in a new array with np.multiply/np.subtract, the step with np.add")
def momentum_ufuncs(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = np.subtract(np.multiply(config["momentum"], config["velocity"]), np.multiply(config["learning_rate"], dw))
    return _momentum_done(w, np.add(w, v), v, config)


@momentum_catalogue.correct("float32-careful: velocity and step computed in float64, rounded to w's dtype at the end")
def momentum_float64(w, dw, config=None):
    config = _momentum_config(w, dw, config)
    v = config["momentum"] * config["velocity"].astype(np.float64) - config["learning_rate"] * dw.astype(np.float64)
    return _momentum_done(w, w.astype(np.float64) + v, v, config)


# ================================================================ adam

@adam_catalogue.mistake("no bias correction: steps with m / (sqrt(v) + eps)")
def no_bias_correction(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    return _adam_done(w, w - lr * m / (np.sqrt(v) + eps), m, v, t, config)


@adam_catalogue.mistake("bias-corrects with the step count before incrementing it: the first step divides by 1 - beta**0 = 0")
def correction_before_increment(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"]
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        next_w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return _adam_done(w, next_w, m, v, t + 1, config)


@adam_catalogue.mistake("computes t + 1 for the correction but never stores it, so every step is corrected as the first")
def t_not_stored(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, config["t"], config)


@adam_catalogue.mistake("eps inside the square root: sqrt(vhat + eps)")
def eps_inside_sqrt(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("stores the bias-corrected mhat and vhat as the moments")
def stores_corrected_moments(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = (b1 * config["m"] + (1 - b1) * dw) / (1 - b1**t)
    v = (b2 * config["v"] + (1 - b2) * dw**2) / (1 - b2**t)
    return _adam_done(w, w - lr * m / (np.sqrt(v) + eps), m, v, t, config)


@adam_catalogue.mistake("corrects the second moment with beta1: vhat = v / (1 - beta1**t)")
def second_moment_with_beta1(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b1**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("corrects the first moment only; the second moment enters uncorrected")
def only_first_moment_corrected(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("second moment averages |dw| instead of dw**2 (the square replaced by an absolute value)")
def second_moment_not_squared(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * np.abs(dw)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("steps uphill: w + lr * mhat / (sqrt(vhat) + eps)")
def steps_uphill(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("first moment without the (1 - beta1) factor: m = beta1 * m + dw")
def first_moment_undamped(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("bias correction written (1 - beta)**t instead of 1 - beta**t")
def correction_power_misplaced(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1) ** t) / (np.sqrt(v / (1 - b2) ** t) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.mistake("updates the caller's w in place (w -= step) and returns it")
def adam_w_in_place(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    w -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, w, m, v, t, config)


@adam_catalogue.mistake("works on a copy of config and returns the copy: the caller's dict keeps m, v and t of before")
def adam_config_copy(w, dw, config=None):
    config = dict(_adam_config(w, dw, config))
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)


@adam_catalogue.correct("the paper's efficient form: lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t), eps scaled to match")
def adam_folded_step_size(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    m = b1 * config["m"] + (1 - b1) * dw
    v = b2 * config["v"] + (1 - b2) * dw * dw
    c2 = np.sqrt(1 - b2**t)
    lr_t = lr * c2 / (1 - b1**t)
    # dividing numerator and denominator by sqrt(1 - beta2**t) moves eps to eps * sqrt(1 - beta2**t)
    return _adam_done(w, w - lr_t * m / (np.sqrt(v) + eps * c2), m, v, t, config)


@adam_catalogue.correct("moments updated as m + (1 - beta1) * (dw - m), in float64, rounded to w's dtype")
def adam_increment_form(w, dw, config=None):
    config = _adam_config(w, dw, config)
    b1, b2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    t = config["t"] + 1
    g = dw.astype(np.float64)
    m = config["m"] + (1 - b1) * (g - config["m"])
    v = config["v"] + (1 - b2) * (g * g - config["v"])
    next_w = w.astype(np.float64) - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_done(w, next_w, m, v, t, config)
