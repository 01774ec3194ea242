"""sgd_momentum and adam: mistakes and variants (the validation around the region is the package's)."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_cat = Catalogue("sgd_momentum")
adam_cat = Catalogue("adam")


def _momentum_pre(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _momentum_post(w, next_w, v, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


# ------------------------------------------------------------------ sgd_momentum

@momentum_cat.mistake("Stores the velocity with the opposite sign: v = momentum * v + lr * dw and w - v (w is right, config['velocity'] is negated).")
def velocity_negated(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    u = mu * v + lr * dw
    return _momentum_post(w, w - u, u, config)


@momentum_cat.mistake("Uses Nesterov's look-ahead step, w + momentum * v_new - lr * dw, instead of w + v_new.")
def nesterov(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = mu * v - lr * dw
    return _momentum_post(w, w + mu * v - lr * dw, v, config)


@momentum_cat.mistake("Dampens the gradient: v = momentum * v - (1 - momentum) * lr * dw.")
def dampened(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = mu * v - (1 - mu) * lr * dw
    return _momentum_post(w, w + v, v, config)


@momentum_cat.mistake("Never stores the new velocity: config['velocity'] stays at its old value.")
def velocity_not_stored(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v_new = mu * v - lr * dw
    return (w + v_new).astype(w.dtype, copy=False), config


@momentum_cat.mistake("Moves w with the old velocity before updating it: next_w = w + v_old.")
def step_with_old_velocity(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    next_w = w + v
    v = mu * v - lr * dw
    return _momentum_post(w, next_w, v, config)


@momentum_cat.mistake("Updates w in place (w += v) and returns it, modifying the caller's array.")
def w_in_place(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = mu * v - lr * dw
    w += v.astype(w.dtype)
    return _momentum_post(w, w, v, config)


@momentum_cat.mistake("Stores the velocity under config['v'] instead of config['velocity'].")
def velocity_wrong_key(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = mu * v - lr * dw
    config["v"] = v
    return (w + v).astype(w.dtype, copy=False), config


@momentum_cat.mistake("Works on a copy of config (dict(config)) and returns that, so the caller's dict never sees the velocity.")
def config_copied(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    config = dict(config)
    v = mu * v - lr * dw
    return _momentum_post(w, w + v, v, config)


@momentum_cat.mistake("Ignores config['momentum'] and always uses 0.9.")
def momentum_fixed(w, dw, config=None):
    config, lr, _, v = _momentum_pre(w, dw, config)
    v = 0.9 * v - lr * dw
    return _momentum_post(w, w + v, v, config)


@momentum_cat.mistake("Keeps the learning rate out of the velocity: v = momentum * v - dw, w + lr * v (config['velocity'] has the wrong scale).")
def lr_outside_velocity(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = mu * v - dw
    return _momentum_post(w, w + lr * v, v, config)


@momentum_cat.mistake("Decays the gradient instead of the velocity: v = v - momentum * lr * dw.")
def momentum_on_gradient(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v = v - mu * lr * dw
    return _momentum_post(w, w + v, v, config)


@momentum_cat.correct("Builds both arrays with ufuncs into fresh outputs (np.multiply/np.subtract with out=).")
def momentum_ufuncs(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    v_new = np.multiply(v, mu, out=np.empty_like(v, dtype=np.result_type(v, dw)))
    np.subtract(v_new, lr * dw, out=v_new)
    return _momentum_post(w, np.add(w, v_new), v_new, config)


@momentum_cat.correct("Casts the hyperparameters to w's dtype first, so a float32 update stays float32 throughout.")
def momentum_float32(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    lr, mu = w.dtype.type(lr), w.dtype.type(mu)
    v = mu * v.astype(w.dtype) - lr * dw.astype(w.dtype)
    return _momentum_post(w, w + v, v, config)


@momentum_cat.correct("Writes the velocity into config first, then steps with config['velocity'].")
def momentum_via_config(w, dw, config=None):
    config, lr, mu, v = _momentum_pre(w, dw, config)
    config["velocity"] = (mu * v - lr * dw).astype(w.dtype, copy=False)
    return (w + config["velocity"]).astype(w.dtype, copy=False), config


# ------------------------------------------------------------------ adam

def _adam_pre(w, dw, config):
    config = _config("adam", w, dw, config,
                     {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"))
    return config, config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"], config["m"], config["v"]


def _adam_post(w, next_w, m, v, t, config):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


def _moments(dw, b1, b2, m, v):
    return b1 * m + (1 - b1) * dw, b2 * v + (1 - b2) * dw**2


@adam_cat.mistake("Bias-corrects with the old step count t instead of t + 1 (on the first step 1 - beta**0 = 0).")
def adam_old_t(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t_old = config["t"]
    m, v = _moments(dw, b1, b2, m, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        next_w = w - lr * (m / (1 - b1**t_old)) / (np.sqrt(v / (1 - b2**t_old)) + eps)
    return _adam_post(w, next_w, m, v, t_old + 1, config)


@adam_cat.mistake("Leaves out the bias correction: steps with m / (sqrt(v) + eps).")
def adam_no_correction(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    return _adam_post(w, w - lr * m / (np.sqrt(v) + eps), m, v, t, config)


@adam_cat.mistake("Never stores the incremented step count: config['t'] stays at its old value.")
def adam_t_not_stored(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_post(w, next_w, m, v, t - 1, config)


@adam_cat.mistake("Puts epsilon inside the square root: sqrt(vhat + eps).")
def adam_eps_inside_sqrt(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w - lr * (m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Averages dw, not dw**2, into the second moment v.")
def adam_v_not_squared(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * np.abs(dw)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Stores the bias-corrected mhat and vhat in config instead of the raw moments m and v.")
def adam_stores_corrected(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
    return _adam_post(w, w - lr * mhat / (np.sqrt(vhat) + eps), mhat, vhat, t, config)


@adam_cat.mistake("Swaps beta1 and beta2: m decays with 0.999 and v with 0.9.")
def adam_betas_swapped(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b2, b1, m, v)
    next_w = w - lr * (m / (1 - b2**t)) / (np.sqrt(v / (1 - b1**t)) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Weights the first moment the other way round: m = (1 - beta1) * m + beta1 * dw.")
def adam_m_weights_flipped(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m = (1 - b1) * m + b1 * dw
    v = b2 * v + (1 - b2) * dw**2
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Steps uphill: w + lr * mhat / (sqrt(vhat) + eps).")
def adam_sign(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w + lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Writes the bias correction as m / (1 - beta1)**t instead of m / (1 - beta1**t).")
def adam_correction_parentheses(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w - lr * (m / (1 - b1) ** t) / (np.sqrt(v / (1 - b2) ** t) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Corrects the first moment only: divides mhat by sqrt(v) + eps with the raw v.")
def adam_v_uncorrected(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v) + eps)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.mistake("Updates the caller's w in place (w -= step) and returns it.")
def adam_w_in_place(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    w -= (lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)).astype(w.dtype)
    return _adam_post(w, w, m, v, t, config)


@adam_cat.mistake("Returns a fresh dict with m, v and t instead of updating the caller's config.")
def adam_new_dict(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return _adam_post(w, next_w, m, v, t, dict(config))


@adam_cat.correct("Kingma & Ba's efficient form: lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t) and eps scaled by sqrt(1 - beta2**t).")
def adam_efficient_form(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    m, v = _moments(dw, b1, b2, m, v)
    c2 = np.sqrt(1 - b2**t)
    next_w = w - lr * c2 / (1 - b1**t) * m / (np.sqrt(v) + eps * c2)
    return _adam_post(w, next_w, m, v, t, config)


@adam_cat.correct("np.square and np.power, the hyperparameters cast to w's dtype so float32 stays float32.")
def adam_float32(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    t = config["t"] + 1
    f = w.dtype.type
    dw = dw.astype(w.dtype)
    m = f(b1) * m + f(1 - b1) * dw
    v = f(b2) * v + f(1 - b2) * np.square(dw)
    mhat = m / f(1 - np.power(b1, t))
    vhat = v / f(1 - np.power(b2, t))
    return _adam_post(w, w - f(lr) * mhat / (np.sqrt(vhat) + f(eps)), m, v, t, config)


@adam_cat.correct("Writes m, v and t into config one key at a time as it goes, then steps from config's values.")
def adam_step_by_step(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _adam_pre(w, dw, config)
    config["t"] = config["t"] + 1
    config["m"] = (b1 * m + (1 - b1) * dw).astype(w.dtype, copy=False)
    config["v"] = (b2 * v + (1 - b2) * dw * dw).astype(w.dtype, copy=False)
    t = config["t"]
    next_w = w - lr * (config["m"] / (1 - b1**t)) / (np.sqrt(config["v"] / (1 - b2**t)) + eps)
    return next_w.astype(w.dtype, copy=False), config
