"""sgd_momentum and adam (notebook 5), written inside the package's own argument handling (_config)."""

from types import SimpleNamespace

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_rule = Catalogue("sgd_momentum")
adam_rule = Catalogue("adam")

SGD_DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9}
ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}


def _sgd_start(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, SGD_DEFAULTS, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _sgd_end(w, next_w, v, config, key="velocity"):
    config[key] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


# ---- sgd_momentum --------------------------------------------------------------------------------------

@momentum_rule.mistake("the velocity stored under a misspelled key, config['velocty']")
def sgdm_key_misspelled(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v - lr * dw
    return _sgd_end(w, w + v, v, config, key="velocty")


@momentum_rule.mistake("w moved by the old velocity, then the velocity updated")
def sgdm_step_with_old_velocity(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    next_w = w + v
    v = momentum * v - lr * dw
    return _sgd_end(w, next_w, v, config)


@momentum_rule.mistake("Nesterov's look-ahead step instead of plain momentum")
def sgdm_nesterov(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v_new = momentum * v - lr * dw
    return _sgd_end(w, w - momentum * v + (1 + momentum) * v_new, v_new, config)


@momentum_rule.mistake("a learning-rate decay built in: config['learning_rate'] *= 0.95 every step")
def sgdm_lr_decay(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v - lr * dw
    config["learning_rate"] = lr * 0.95
    return _sgd_end(w, w + v, v, config)


@momentum_rule.mistake("weight decay added to the gradient (dw + 5e-4 * w)")
def sgdm_weight_decay(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v - lr * (dw + 5e-4 * w)
    return _sgd_end(w, w + v, v, config)


@momentum_rule.mistake("w updated in place (w += v) and returned")
def sgdm_in_place(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v - lr * dw
    w += v
    return _sgd_end(w, w, v, config)


@momentum_rule.mistake("dampening: the new gradient weighted by (1 - momentum)")
def sgdm_dampening(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v - (1 - momentum) * lr * dw
    return _sgd_end(w, w + v, v, config)


@momentum_rule.mistake("the step uses momentum * v - lr * dw but the stored velocity is never updated")
def sgdm_velocity_not_updated(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    next_w = w + momentum * v - lr * dw
    return _sgd_end(w, next_w, v, config)


@momentum_rule.mistake("PyTorch's form: the velocity accumulates gradients (v = m v + dw), w -= lr * v")
def sgdm_pytorch_velocity(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v + dw
    return _sgd_end(w, w - lr * v, v, config)


@momentum_rule.mistake("the velocity adds the gradient step (v = m v + lr dw) and w += v: uphill")
def sgdm_uphill(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = momentum * v + lr * dw
    return _sgd_end(w, w + v, v, config)


@momentum_rule.correct("the same rule with np.multiply / np.subtract / np.add, each into a new array")
def sgdm_ufuncs(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    v = np.subtract(np.multiply(momentum, v), np.multiply(lr, dw))
    return _sgd_end(w, np.add(w, v), v, config)


@momentum_rule.correct("the velocity written as a step towards -lr * dw / (1 - m) (algebraically the same)")
def sgdm_lerp(w, dw, config=None):
    config, lr, momentum, v = _sgd_start(w, dw, config)
    # momentum < 1 always: _config refuses 1, which would keep no new information.
    v = v + (1 - momentum) * (-lr * dw / (1 - momentum) - v)
    return _sgd_end(w, w + v, v, config)


# ---- adam --------------------------------------------------------------------------------------------------

def _adam_start(w, dw, config):
    config = _config("adam", w, dw, config, ADAM_DEFAULTS, ("m", "v"))
    c = config
    return config, c["beta1"], c["beta2"], c["epsilon"], c["learning_rate"], c["m"], c["v"], c["t"]


def _adam_end(w, next_w, m, v, t, config, m_key="m"):
    config.update({m_key: m.astype(w.dtype, copy=False), "v": v.astype(w.dtype, copy=False), "t": t})
    return next_w.astype(w.dtype, copy=False), config


def _moments(beta1, beta2, m, v, dw):
    return beta1 * m + (1 - beta1) * dw, beta2 * v + (1 - beta2) * dw * dw


@adam_rule.mistake("t incremented after the bias correction, which then divides by 1 - beta**0 = 0 on the first step")
def adam_t_incremented_late(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    m, v = _moments(beta1, beta2, m, v, dw)
    with np.errstate(divide="ignore", invalid="ignore"):
        next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t + 1, config)


@adam_rule.mistake("t starts at 1: t + 1 is stored, and the correction uses t + 1 again")
def adam_t_from_one(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** (t + 1))) / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("only the first moment is bias-corrected")
def adam_vhat_missing(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("the first moment averages dw**2 and the second dw (the two updates swapped)")
def adam_moments_swapped(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m = beta1 * m + (1 - beta1) * dw * dw
    v = beta2 * v + (1 - beta2) * dw
    with np.errstate(invalid="ignore"):
        next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("beta1 and beta2 swapped in the moment updates (the corrections are right)")
def adam_betas_swapped(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta2, beta1, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("the first moment stored under config['M'] (capital), so the next call refuses the key")
def adam_key_misspelled(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config, m_key="M")


@adam_rule.mistake("a 1/sqrt(t) learning-rate decay built into the step")
def adam_lr_decay(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr / np.sqrt(t) * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("AdamW's decoupled weight decay added (w -= lr * 1e-2 * w)")
def adam_weight_decay(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps) - lr * 1e-2 * w
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("w updated in place (w -= step)")
def adam_in_place(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    w -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, w, m, v, t, config)


@adam_rule.mistake("the bias-corrected m^ and v^ stored in config instead of the raw moments")
def adam_stores_corrected(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    mhat, vhat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return _adam_end(w, w - lr * mhat / (np.sqrt(vhat) + eps), mhat, vhat, t, config)


@adam_rule.mistake("t used as t + 1 but never stored: every step is corrected as the first")
def adam_t_not_stored(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1)) / (np.sqrt(v / (1 - beta2)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("the second moment averages |dw| instead of dw**2")
def adam_v_of_abs(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.abs(dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("no square root: divides by v^ + epsilon")
def adam_without_root(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (v / (1 - beta2 ** t) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.mistake("epsilon inside the square root: sqrt(v^ + epsilon)")
def adam_eps_inside_root(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    next_w = w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps)
    return _adam_end(w, next_w, m, v, t, config)


@adam_rule.correct("Kingma & Ba's efficient ordering: the corrections folded into the step size")
def adam_efficient(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return _adam_end(w, w - lr_t * m / (np.sqrt(v) + eps), m, v, t, config)


@adam_rule.correct("the corrections folded in exactly, epsilon rescaled by sqrt(1 - beta2**t)")
def adam_folded_exact(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m, v = _moments(beta1, beta2, m, v, dw)
    root = np.sqrt(1 - beta2 ** t)
    return _adam_end(w, w - lr * root / (1 - beta1 ** t) * m / (np.sqrt(v) + eps * root), m, v, t, config)


@adam_rule.correct("the moments as steps towards the new values: m += (1 - beta1) * (dw - m)")
def adam_lerp_moments(w, dw, config=None):
    config, beta1, beta2, eps, lr, m, v, t = _adam_start(w, dw, config)
    t = t + 1
    m = m + (1 - beta1) * (dw - m)
    v = v + (1 - beta2) * (dw * dw - v)
    next_w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return _adam_end(w, next_w, m, v, t, config)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=momentum_rule.entries + adam_rule.entries)
