"""sgd_momentum and adam: mistakes and correct variants, each with the shipped lines around the region."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

sgdm = Catalogue("sgd_momentum")
adam_cat = Catalogue("adam")


def _sgdm_prelude(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _sgdm_finish(w, next_w, v, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


@sgdm.mistake("Keeps the velocity with the opposite sign, v = momentum * v + learning_rate * dw and w - v, so the stored velocity points uphill.")
def sgdm_velocity_sign(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = mom * v + lr * dw
    return _sgdm_finish(w, w - v, v, config)


@sgdm.mistake("Uses the Nesterov look-ahead step, w + momentum * v_new - learning_rate * dw, instead of w + v_new.")
def sgdm_nesterov(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = mom * v - lr * dw
    return _sgdm_finish(w, w + mom * v - lr * dw, v, config)


@sgdm.mistake("Names the new velocity v_new and steps with it, but the shipped line then stores the old velocity, so config['velocity'] never changes.")
def sgdm_velocity_not_stored(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v_new = mom * v - lr * dw
    return _sgdm_finish(w, w + v_new, v, config)


@sgdm.mistake("Dampens the gradient: v = momentum * v - (1 - momentum) * learning_rate * dw.")
def sgdm_dampening(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = mom * v - (1 - mom) * lr * dw
    return _sgdm_finish(w, w + v, v, config)


@sgdm.mistake("Steps with the old velocity before updating it: next_w = w + v, then v = momentum * v - learning_rate * dw.")
def sgdm_old_velocity_step(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    next_w = w + v
    v = mom * v - lr * dw
    return _sgdm_finish(w, next_w, v, config)


@sgdm.mistake("Updates w in place (w += v), changing the caller's array.")
def sgdm_w_in_place(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = mom * v - lr * dw
    w += v
    return _sgdm_finish(w, w, v, config)


@sgdm.mistake("Ignores config['momentum'] and always uses 0.9.")
def sgdm_fixed_momentum(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = 0.9 * v - lr * dw
    return _sgdm_finish(w, w + v, v, config)


@sgdm.mistake("Scales the decayed velocity by the learning rate as well: v = learning_rate * (momentum * v - dw).")
def sgdm_lr_on_velocity(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = lr * (mom * v - dw)
    return _sgdm_finish(w, w + v, v, config)


@sgdm.correct("Builds the new velocity as a fresh array (v = v * momentum) and then subtracts the gradient step from it in place.")
def sgdm_fresh_then_in_place(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = v * mom
    v -= lr * dw
    return _sgdm_finish(w, w + v, v, config)


@sgdm.correct("Copies w and adds the velocity to the copy in place.")
def sgdm_copy_w(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = np.subtract(mom * v, lr * dw)
    next_w = w.copy()
    next_w += v
    return _sgdm_finish(w, next_w, v, config)


@sgdm.correct("Writes the update in terms of the velocity's change: v_new = v - (1 - momentum) * v - learning_rate * dw.")
def sgdm_rearranged(w, dw, config=None):
    config, lr, mom, v = _sgdm_prelude(w, dw, config)
    v = v - (1 - mom) * v - lr * dw
    return _sgdm_finish(w, w + v, v, config)


def _adam_prelude(w, dw, config):
    config = _config(
        "adam", w, dw, config,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"),
    )
    return config, config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"], config["m"], config["v"]


def _adam_finish(w, next_w, m, v, t, config):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


@adam_cat.mistake("Leaves out the bias correction: w - learning_rate * m / (sqrt(v) + epsilon).")
def adam_no_bias_correction(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return _adam_finish(w, w - lr * m / (np.sqrt(v) + eps), m, v, t, config)


@adam_cat.mistake("Bias-corrects with the step count before incrementing it (t = config['t'] in beta**t, incremented afterwards).")
def adam_old_t(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t + 1, config)


@adam_cat.mistake("Uses t + 1 in the bias correction but never stores the incremented t, so config['t'] stays at its old value.")
def adam_t_not_stored(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Puts epsilon inside the square root: w - learning_rate * mhat / sqrt(vhat + epsilon).")
def adam_eps_inside(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Averages |dw| instead of dw**2 into the second moment v.")
def adam_abs_not_square(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.abs(dw)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Decays the first moment with beta2 instead of beta1: m = beta2 * m + (1 - beta2) * dw.")
def adam_m_with_beta2(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b2 * m + (1 - b2) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Bias-corrects the second moment with beta1: vhat = v / (1 - beta1**t).")
def adam_vhat_beta1(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b1**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Bias-corrects the first moment only; the second moment enters uncorrected.")
def adam_correct_m_only(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Stores the bias-corrected mhat and vhat in config instead of the raw moments m and v.")
def adam_stores_corrected(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return _adam_finish(w, w - lr * mhat / (np.sqrt(vhat) + eps), mhat, vhat, t, config)


@adam_cat.mistake("Multiplies by the bias-correction factors instead of dividing: mhat = m * (1 - beta1**t), vhat = v * (1 - beta2**t).")
def adam_correction_multiplied(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m * (1 - b1**t)) / (np.sqrt(v * (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.mistake("Steps uphill: w + learning_rate * mhat / (sqrt(vhat) + epsilon).")
def adam_plus(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.correct("Uses the paper's efficient form: step size lr * sqrt(1 - beta2**t) / (1 - beta1**t) with epsilon scaled by sqrt(1 - beta2**t).")
def adam_efficient_form(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    c2 = np.sqrt(1 - b2**t)
    next_w = w - lr * c2 / (1 - b1**t) * m / (np.sqrt(v) + eps * c2)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.correct("Updates the moments as increments, m += (1 - beta1) * (dw - m), on fresh copies of the stored arrays.")
def adam_increments_on_copies(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    t = config["t"] + 1
    m = m.copy()
    v = v.copy()
    m += (1 - b1) * (dw - m)
    v += (1 - b2) * (dw * dw - v)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)


@adam_cat.correct("Uses np.square and np.divide, and writes the new t back through config['t'] += 1 before the shipped update.")
def adam_numpy_calls(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_prelude(w, dw, config)
    config["t"] += 1
    t = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.square(dw)
    next_w = w - lr * np.divide(m / (1 - b1**t), np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_finish(w, next_w, m, v, t, config)
