"""sgd_momentum and adam: mistakes and correct variants (the given lines around the region kept)."""

import numpy as np

from cs231n_bn.optim import _config

from tests.instructor.later_catalogue import Catalogue

momentum_cat = Catalogue("sgd_momentum")
adam_cat = Catalogue("adam")


def _sgdm(w, dw, config, region):
    """sgd_momentum with the given lines; region(w, dw, lr, mu, v) -> (next_w, v)."""
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    next_w, v = region(w, dw, config["learning_rate"], config["momentum"], config["velocity"])
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


@momentum_cat.mistake("The velocity adds the gradient step, v = momentum * v + learning_rate * dw, and w = w + v moves uphill.")
def sgdm_plus(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v + lr * dw
        return w + v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("Stores v = momentum * v + learning_rate * dw and steps w - v: the update is right but the stored velocity has the opposite sign.")
def sgdm_positive_velocity(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v + lr * dw
        return w - v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("Nesterov's update w + momentum * v_new - learning_rate * dw instead of plain momentum's w + v_new.")
def sgdm_nesterov(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v - lr * dw
        return w + mu * v - lr * dw, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("Dampening: the gradient enters the velocity as (1 - momentum) * learning_rate * dw.")
def sgdm_dampened(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v - (1 - mu) * lr * dw
        return w + v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("w steps with the old velocity: next_w = w + v before v is updated.")
def sgdm_old_velocity(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        next_w = w + v
        v = mu * v - lr * dw
        return next_w, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("The new velocity is kept in a local variable; config['velocity'] keeps the old one.")
def sgdm_not_stored(w, dw, config=None):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    return (w + v).astype(w.dtype, copy=False), config


@momentum_cat.mistake("w is updated in place (w += v), changing the caller's parameter array.")
def sgdm_w_in_place(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v - lr * dw
        w += v
        return w, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("The learning rate multiplies the whole velocity: v = momentum * v - dw, w = w + learning_rate * v, storing the unscaled v.")
def sgdm_lr_outside(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v - dw
        return w + lr * v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("The momentum multiplies the gradient instead of the velocity: v = v - momentum * learning_rate * dw.")
def sgdm_momentum_on_grad(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = v - mu * lr * dw
        return w + v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.mistake("A fresh zero velocity is used every call (v = np.zeros_like(w)), so momentum never accumulates.")
def sgdm_reset_velocity(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * np.zeros_like(w) - lr * dw
        return w + v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.correct("The step computed as w + momentum * v_old - learning_rate * dw, the same number as w + v_new.")
def sgdm_expanded(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        next_w = w + mu * v - lr * dw
        return next_w, mu * v - lr * dw
    return _sgdm(w, dw, config, region)


@momentum_cat.correct("The velocity updated in place on a copy (v = v.copy(); v *= momentum; v -= learning_rate * dw).")
def sgdm_copy_in_place(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = v.copy()
        v *= mu
        v -= lr * dw
        return w + v, v
    return _sgdm(w, dw, config, region)


@momentum_cat.correct("The update in float64 for float32 w, the given lines casting back.")
def sgdm_float64(w, dw, config=None):
    def region(w, dw, lr, mu, v):
        v = mu * v.astype(np.float64) - lr * dw.astype(np.float64)
        return w.astype(np.float64) + v, v
    return _sgdm(w, dw, config, region)


# ---------------------------------------------------------------- adam

def _adam(w, dw, config, region):
    """adam with the given lines; region(w, dw, config, beta1, beta2, eps, lr, m, v) -> (next_w, m, v, t)."""
    config = _config(
        "adam", w, dw, config,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"),
    )
    next_w, m, v, t = region(w, dw, config, config["beta1"], config["beta2"], config["epsilon"],
                             config["learning_rate"], config["m"], config["v"])
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


def _adam_mistake(description, body):
    def entry(w, dw, config=None):
        return _adam(w, dw, config, body)
    entry.__name__ = body.__name__
    adam_cat.mistake(description)(entry)


def _adam_correct(description, body):
    def entry(w, dw, config=None):
        return _adam(w, dw, config, body)
    entry.__name__ = body.__name__
    adam_cat.correct(description)(entry)


def adam_t_not_incremented(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps), m, v, t


def adam_correct_before_increment(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return w - lr * mhat / (np.sqrt(vhat) + eps), m, v, t + 1


def adam_eps_inside(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + eps), m, v, t


def adam_v_unsquared(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.abs(dw)
    return w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v, t


def adam_no_bias_correction(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v, t


def adam_correct_m_only(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1**t)) / (np.sqrt(v) + eps), m, v, t


def adam_stores_hats(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return w - lr * mhat / (np.sqrt(vhat) + eps), mhat, vhat, t


def adam_betas_swapped(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b2 * m + (1 - b2) * dw
    v = b1 * v + (1 - b1) * dw**2
    return w - lr * (m / (1 - b2**t)) / (np.sqrt(v / (1 - b1**t)) + eps), m, v, t


def adam_no_sqrt(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1**t)) / (v / (1 - b2**t) + eps), m, v, t


def adam_plus(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v, t


def adam_bias_power_1(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps), m, v, t


def adam_w_in_place(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    w -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return w, m, v, t


def adam_t_float(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1.0
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v, t


def adam_dw_for_m(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return w - lr * (dw / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v, t


for _body, _description in (
    (adam_t_not_incremented, "t is used as t + 1 in the bias correction but the stored t is never incremented."),
    (adam_correct_before_increment, "The bias correction uses t before it is incremented (1 - beta**0 = 0 on the first step)."),
    (adam_eps_inside, "epsilon is added inside the square root: sqrt(vhat + epsilon)."),
    (adam_v_unsquared, "The second moment averages |dw| instead of dw**2."),
    (adam_no_bias_correction, "No bias correction: the step uses m and v instead of m / (1 - beta1**t) and v / (1 - beta2**t)."),
    (adam_correct_m_only, "Only the first moment is bias-corrected; v is used uncorrected."),
    (adam_stores_hats, "The bias-corrected mhat and vhat are stored in config instead of m and v."),
    (adam_betas_swapped, "beta1 and beta2 are swapped: m decays with beta2 and v with beta1."),
    (adam_no_sqrt, "The step divides by vhat + epsilon instead of sqrt(vhat) + epsilon."),
    (adam_plus, "The step is added to w instead of subtracted."),
    (adam_bias_power_1, "The bias correction forgets the power t: m / (1 - beta1) and v / (1 - beta2)."),
    (adam_w_in_place, "w is updated in place (w -= ...), changing the caller's parameter array."),
    (adam_t_float, "t is incremented as t + 1.0 and stored as a float, not an integer step count."),
    (adam_dw_for_m, "The step uses the raw gradient dw in place of the bias-corrected first moment."),
):
    _adam_mistake(_description, _body)


def adam_lr_t(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.square(dw)
    mhat = m / (1 - b1**t)
    return w - lr * mhat / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps), m, v, t


def adam_incremental(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = m + (1 - b1) * (dw - m)
    v = v + (1 - b2) * (dw * dw - v)
    return w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v, t


def adam_copies(w, dw, config, b1, b2, eps, lr, m, v):
    t = config["t"] + 1
    m = m.copy()
    m *= b1
    m += (1 - b1) * dw
    v = v.copy()
    v *= b2
    v += (1 - b2) * dw**2
    step = w.copy()
    step -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return step, m, v, t


for _body, _description in (
    (adam_lr_t, "vhat's square root taken as sqrt(v) / sqrt(1 - beta2**t) (the same number) and dw**2 as np.square."),
    (adam_incremental, "The moments as m + (1 - beta1) * (dw - m) and v + (1 - beta2) * (dw*dw - v)."),
    (adam_copies, "In-place arithmetic on copies of m, v and w, leaving the caller's arrays alone."),
):
    _adam_correct(_description, _body)
