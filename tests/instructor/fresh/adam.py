"""adam: moments, bias corrections, the step count, epsilon's place and the stored state."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

catalogue = Catalogue("adam")
mistake, correct = catalogue.mistake, catalogue.correct
DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}


def read(w, dw, config):
    """What the exercise's stub reads before its solution region."""
    config = _config("adam", w, dw, config, DEFAULTS, ("m", "v"))
    return config, config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"], config["m"], config["v"]


def store(w, next_w, config, m, v, t):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


@mistake("no bias correction: the step uses m and v directly", judged=NAMED)
def no_bias_correction(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return store(w, w - lr * m / (np.sqrt(v) + eps), config, m, v, t)


@mistake("bias correction with the old t, incremented only afterwards (powers t - 1)", judged=NAMED)
def correction_with_old_t(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t_old = config["t"]
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t_old), v / (1 - b2**t_old)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, config["t"] + 1)


@mistake("t incremented twice per step", judged=NAMED)
def t_incremented_twice(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    config["t"] += 1
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("t never stored: every step is corrected as the first", judged=NAMED)
def t_not_stored(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, config["t"])


@mistake("no square root: divides by vhat + epsilon", judged=NAMED)
def no_sqrt(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (vhat + eps), config, m, v, t)


@mistake("epsilon inside the square root: sqrt(vhat + epsilon)", judged=NAMED)
def eps_inside_sqrt(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / np.sqrt(vhat + eps), config, m, v, t)


@mistake("second moment of |dw| instead of dw^2", judged=NAMED)
def v_not_squared(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.abs(dw)
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("beta1 and beta2 exchanged", judged=NAMED)
def betas_exchanged(w, dw, config=None):
    config, b2, b1, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("the new m never stored (config['m'] keeps the old moment)", judged=NAMED)
def m_not_stored(w, dw, config=None):
    config, b1, b2, eps, lr, m_old, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m_old + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m_old, v, t)


@mistake("only m bias-corrected, v used raw", judged=NAMED)
def only_m_corrected(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    return store(w, w - lr * (m / (1 - b1**t)) / (np.sqrt(v) + eps), config, m, v, t)


@mistake("corrections crossed: m / (1 - beta2^t), v / (1 - beta1^t)", judged=NAMED)
def corrections_crossed(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b2**t), v / (1 - b1**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("v's correction squared: v / (1 - beta2^t)^2", judged=GENERIC)
def v_correction_squared(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t) ** 2
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("corrections as powers beta^t instead of 1 - beta^t", judged=GENERIC)
def correction_without_one_minus(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / b1**t, v / b2**t
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("(1 - beta) factors missing: m = beta1 m + dw, v = beta2 v + dw^2", judged=NAMED)
def no_one_minus_beta(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + dw
    v = b2 * v + dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("step along + the gradient (w + learning_rate ...)", judged=NAMED)
def ascent(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w + lr * mhat / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("raw gradient in the numerator: w -= learning_rate dw / (sqrt(vhat) + eps) (RMSProp with correction)", judged=NAMED)
def gradient_numerator(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    vhat = v / (1 - b2**t)
    return store(w, w - lr * dw / (np.sqrt(vhat) + eps), config, m, v, t)


@mistake("the corrected mhat and vhat stored as the moments", judged=NAMED)
def corrected_moments_stored(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, mhat, vhat, t)


@mistake("m updated with the new v's formula order: m from dw^2, v from dw (moments crossed)", judged=NAMED)
def moments_crossed(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw**2
    v = b2 * v + (1 - b2) * dw
    mhat, vhat = m / (1 - b1**t), np.abs(v / (1 - b2**t))
    return store(w, w - lr * mhat / (np.sqrt(vhat) + eps), config, m, np.abs(v), t)


@correct("in-place moment updates on copies, np.power for the corrections")
def in_place_moments(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m, v = m.copy(), v.copy()
    m *= b1
    m += (1 - b1) * dw
    v *= b2
    v += (1 - b2) * np.square(dw)
    step = lr * (m / (1 - np.power(b1, t))) / (np.sqrt(v / (1 - np.power(b2, t))) + eps)
    return store(w, w - step, config, m, v, t)


@correct("Kingma & Ba's efficient form: corrections folded into the step size, epsilon on sqrt(v)")
def efficient_form(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    return store(w, w - alpha * m / (np.sqrt(v) + eps), config, m, v, t)


@correct("moments as m + (1 - beta) (g - m), the EMA increment form")
def increment_form(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = read(w, dw, config)
    t = config["t"] + 1
    m = m + (1 - b1) * (dw - m)
    v = v + (1 - b2) * (dw * dw - v)
    return store(w, w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), config, m, v, t)


ENTRIES = catalogue.entries
