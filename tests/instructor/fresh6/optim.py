"""The update rules (notebook 5): sgd_momentum and adam. Each body is the region between the
scaffold's config line and its store-and-return lines, which are kept as they are."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_rule = Catalogue("sgd_momentum")
adam_rule = Catalogue("adam")


def _momentum_begin(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _momentum_end(w, v, next_w, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


@momentum_rule.mistake("stores the velocity with the opposite sign: v = momentum * v + lr * dw, w - v")
def sm_positive_velocity(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v + learning_rate * dw
    next_w = w - v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("Nesterov's look-ahead step instead of plain momentum")
def sm_nesterov(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v_prev = v
    v = momentum * v - learning_rate * dw
    next_w = w - momentum * v_prev + (1 + momentum) * v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("learning rate applied outside the velocity: v = momentum * v - dw; w + lr * v")
def sm_lr_outside(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v - dw
    next_w = w + learning_rate * v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("updates the velocity but steps with the plain gradient: w - lr * dw")
def sm_plain_step(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v - learning_rate * dw
    next_w = w - learning_rate * dw
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("new velocity kept in another name, so the scaffold stores the old one")
def sm_velocity_not_stored(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v_next = momentum * v - learning_rate * dw
    next_w = w + v_next
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("updates w in place (w += v), changing the caller's parameter")
def sm_w_in_place(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v - learning_rate * dw
    w += v
    next_w = w
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("an exponential moving average of the gradients, v = momentum * v + (1 - momentum) * dw, stepped by lr")
def sm_ema(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v + (1 - momentum) * dw
    next_w = w - learning_rate * v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("steps with the old velocity: next_w = w + v before v is updated")
def sm_old_velocity(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    next_w = w + v
    v = momentum * v - learning_rate * dw
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("PyTorch's dampening-free form with lr outside and the stored velocity being the gradient sum")
def sm_torch_form(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = momentum * v + dw
    next_w = w - learning_rate * v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.mistake("momentum and learning rate swapped: v = lr * v - momentum * dw")
def sm_swapped(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = learning_rate * v - momentum * dw
    next_w = w + v
    return _momentum_end(w, v, next_w, config)


@momentum_rule.correct("velocity and step through np.subtract and np.add into new arrays")
def sm_ufuncs(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = np.subtract(momentum * v, learning_rate * dw)
    next_w = np.add(w, v)
    return _momentum_end(w, v, next_w, config)


@momentum_rule.correct("w - (lr * dw - momentum * v), the velocity negated twice")
def sm_rearranged(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    step = learning_rate * dw - momentum * v
    v = -step
    next_w = w - step
    return _momentum_end(w, v, next_w, config)


@momentum_rule.correct("works on a copy of the velocity, updated in place")
def sm_copy_in_place(w, dw, config=None):
    config, learning_rate, momentum, v = _momentum_begin(w, dw, config)
    v = v.copy()
    v *= momentum
    v -= learning_rate * dw
    next_w = w + v
    return _momentum_end(w, v, next_w, config)


def _adam_begin(w, dw, config):
    config = _config("adam", w, dw, config,
                     {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"))
    return config, config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"], config["m"], config["v"]


def _adam_end(w, m, v, t, next_w, config):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


@adam_rule.mistake("no bias correction: steps with m / (sqrt(v) + eps)")
def ad_no_correction(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * m / (np.sqrt(v) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("bias correction with the old t (0 on the first step: division by zero), t incremented afterwards")
def ad_correction_before_increment(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        next_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    t += 1
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("corrects with t + 1 but never increments the stored t")
def ad_t_not_stored(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * (m / (1 - beta1 ** (t + 1))) / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("epsilon inside the square root: sqrt(vhat + eps)")
def ad_eps_inside(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("stores the bias-corrected moments back into m and v")
def ad_stores_corrected(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * dw**2) / (1 - beta2**t)
    next_w = w - lr * m / (np.sqrt(v) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("beta1 and beta2 swapped between the two moments")
def ad_betas_swapped(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta2 * m + (1 - beta2) * dw
    v = beta1 * v + (1 - beta1) * dw**2
    next_w = w - lr * (m / (1 - beta2**t)) / (np.sqrt(v / (1 - beta1**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("second moment of the first moment: v from m**2 instead of dw**2")
def ad_v_from_m(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * m**2
    next_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("steps with the raw gradient over the RMS (RMSProp with bias correction), m unused")
def ad_no_momentum(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * dw / (np.sqrt(v / (1 - beta2**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("updates w in place (w -= ...), changing the caller's parameter")
def ad_w_in_place(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    w -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    next_w = w
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("hard-codes the default betas 0.9 and 0.999, ignoring config's")
def ad_fixed_betas(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = 0.9 * m + 0.1 * dw
    v = 0.999 * v + 0.001 * dw**2
    next_w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("steps up the gradient: w + lr * mhat / (sqrt(vhat) + eps)")
def ad_ascent(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w + lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.mistake("bias correction divides by beta**t instead of 1 - beta**t")
def ad_correction_inverted(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * (m / beta1**t) / (np.sqrt(v / beta2**t) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.correct("the correction factors through np.power and the step split into named parts")
def ad_named_parts(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.square(dw)
    mhat = m / (1 - np.power(beta1, t))
    vhat = v / (1 - np.power(beta2, t))
    step = lr * mhat / (np.sqrt(vhat) + eps)
    next_w = w - step
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.correct("moments written as lerps: m + (1 - beta1) * (dw - m)")
def ad_lerp(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    t = config["t"] + 1
    m = m + (1 - beta1) * (dw - m)
    v = v + (1 - beta2) * (dw * dw - v)
    next_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)


@adam_rule.correct("t incremented in the dict first (config['t'] += 1) and read back")
def ad_increment_in_dict(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v = _adam_begin(w, dw, config)
    config["t"] += 1
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    next_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return _adam_end(w, m, v, t, next_w, config)
