"""sgd_momentum and adam: update rules, their state in the caller's config, and dtypes."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum = Catalogue("sgd_momentum")
adam = Catalogue("adam")


def _msetup(w, dw, config):
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    return config, config["learning_rate"], config["momentum"], config["velocity"]


def _mdone(w, next_w, v, config):
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


@momentum.mistake("Stores the velocity with the opposite sign (v = momentum*v + lr*dw, w - v): the step is right but config['velocity'] is negated.")
def velocity_negated(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v + lr * dw
    return _mdone(w, w - v, v, config)


@momentum.mistake("Steps with the old velocity (w + v) before updating it.")
def steps_with_old_velocity(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    next_w = w + v
    v = mu * v - lr * dw
    return _mdone(w, next_w, v, config)


@momentum.mistake("Takes a Nesterov step: w + momentum * v_new - lr * dw instead of w + v_new.")
def nesterov(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - lr * dw
    return _mdone(w, w + mu * v - lr * dw, v, config)


@momentum.mistake("Dampens the gradient: v = momentum * v - (1 - momentum) * lr * dw.")
def dampened(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - (1 - mu) * lr * dw
    return _mdone(w, w + v, v, config)


@momentum.mistake("Never stores the new velocity in config, so every step starts from the old one.")
def velocity_not_stored(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - lr * dw
    return (w + v).astype(w.dtype, copy=False), config


@momentum.mistake("Returns a new dict holding the state instead of writing it into the caller's config.")
def fresh_config(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, None if config is None else dict(config))
    v = mu * v - lr * dw
    return _mdone(w, w + v, v, config)


@momentum.mistake("Updates w in place (w += v), modifying the caller's weights.")
def w_in_place(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - lr * dw
    w += v.astype(w.dtype)
    return _mdone(w, w, v, config)


@momentum.mistake("Ignores config['learning_rate'] and always uses 1e-2.")
def lr_hard_coded(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - 1e-2 * dw
    return _mdone(w, w + v, v, config)


@momentum.mistake("Accumulates the raw gradient in the velocity and applies the learning rate only to the step: v = momentum*v - dw, w + lr*v.")
def lr_on_step(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - dw
    return _mdone(w, w + lr * v, v, config)


@momentum.mistake("Returns w + v and the velocity without casting, so a float32 w with a float64 velocity in config comes back float64.")
def no_cast(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = mu * v - lr * dw
    config["velocity"] = v
    return w + v, config


@momentum.mistake("Swaps the roles of momentum and learning rate: v = lr * v - momentum * dw.")
def roles_swapped(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = lr * v - mu * dw
    return _mdone(w, w + v, v, config)


@momentum.correct("Updates a copy of the velocity in place (v = v.copy(); v *= momentum; v -= lr * dw).")
def in_place_on_copy(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = v.astype(np.result_type(v, dw), copy=True)
    v *= mu
    v -= lr * dw
    return _mdone(w, w + v, v, config)


@momentum.correct("Computes the update with np.multiply / np.subtract / np.add into fresh arrays.")
def ufuncs(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    v = np.subtract(np.multiply(mu, v), np.multiply(lr, dw))
    return _mdone(w, np.add(w, v), v, config)


@momentum.correct("Writes the velocity with config.update and returns w + config['velocity'] in w's dtype.")
def via_update(w, dw, config=None):
    config, lr, mu, v = _msetup(w, dw, config)
    config.update(velocity=(mu * v - lr * dw).astype(w.dtype))
    return (w + config["velocity"]).astype(w.dtype), config


def _asetup(w, dw, config):
    config = _config("adam", w, dw, config,
                     {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"))
    return config, config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"], config["m"], config["v"]


def _adone(w, next_w, m, v, t, config):
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


def _adam(w, dw, config, mhat=None, vhat=None, step=None, moments=None):
    """Adam with optional replacements: moments(m, v, dw) -> (m, v); mhat/vhat(m, t); step(mhat, vhat)."""
    config, b1, b2, eps, lr, m, v = _asetup(w, dw, config)
    t = config["t"] + 1
    m, v = (b1 * m + (1 - b1) * dw, b2 * v + (1 - b2) * dw**2) if moments is None else moments(m, v, dw, b1, b2)
    mh = m / (1 - b1**t) if mhat is None else mhat(m, t, b1, b2)
    vh = v / (1 - b2**t) if vhat is None else vhat(v, t, b1, b2)
    next_w = w - lr * mh / (np.sqrt(vh) + eps) if step is None else step(w, mh, vh, lr, eps)
    return _adone(w, next_w, m, v, t, config)


@adam.mistake("Skips the bias correction: steps with m / (sqrt(v) + eps).")
def no_bias_correction(w, dw, config=None):
    return _adam(w, dw, config, mhat=lambda m, t, b1, b2: m, vhat=lambda v, t, b1, b2: v)


@adam.mistake("Bias-corrects with the old step count (t before the increment), dividing by 1 - beta**0 = 0 on the first step.")
def old_t_in_correction(w, dw, config=None):
    return _adam(w, dw, config, mhat=lambda m, t, b1, b2: m / (1 - b1 ** (t - 1)),
                 vhat=lambda v, t, b1, b2: v / (1 - b2 ** (t - 1)))


@adam.mistake("Never stores the incremented t in config, so the bias correction restarts at t = 1 every step.")
def t_not_stored(w, dw, config=None):
    told = 0 if config is None else config.get("t", 0)
    next_w, config = _adam(w, dw, config)
    config["t"] = told
    return next_w, config


@adam.mistake("Puts epsilon inside the square root: sqrt(vhat + eps).")
def eps_inside_sqrt(w, dw, config=None):
    return _adam(w, dw, config, step=lambda w, mh, vh, lr, eps: w - lr * mh / np.sqrt(vh + eps))


@adam.mistake("Averages |dw| instead of dw**2 in the second moment.")
def abs_second_moment(w, dw, config=None):
    return _adam(w, dw, config, moments=lambda m, v, dw, b1, b2: (b1 * m + (1 - b1) * dw, b2 * v + (1 - b2) * np.abs(dw)))


@adam.mistake("Bias-corrects the first moment with beta2 instead of beta1: mhat = m / (1 - beta2**t).")
def mhat_with_beta2(w, dw, config=None):
    return _adam(w, dw, config, mhat=lambda m, t, b1, b2: m / (1 - b2**t))


@adam.mistake("Swaps beta1 and 1 - beta1 in the first moment: m = (1 - beta1) * m + beta1 * dw.")
def beta1_swapped(w, dw, config=None):
    return _adam(w, dw, config, moments=lambda m, v, dw, b1, b2: ((1 - b1) * m + b1 * dw, b2 * v + (1 - b2) * dw**2))


@adam.mistake("Bias-corrects only the first moment (vhat = v).")
def only_m_corrected(w, dw, config=None):
    return _adam(w, dw, config, vhat=lambda v, t, b1, b2: v)


@adam.mistake("Updates w in place (w -= ...), modifying the caller's weights.")
def adam_w_in_place(w, dw, config=None):
    def step(w, mh, vh, lr, eps):
        w -= (lr * mh / (np.sqrt(vh) + eps)).astype(w.dtype)
        return w
    return _adam(w, dw, config, step=step)


@adam.mistake("Returns a new dict with the state instead of writing m, v and t into the caller's config.")
def adam_fresh_config(w, dw, config=None):
    return _adam(w, dw, None if config is None else dict(config))


@adam.mistake("Stores the bias-corrected mhat and vhat in config instead of the raw moments m and v.")
def stores_corrected(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _asetup(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    mh, vh = m / (1 - b1**t), v / (1 - b2**t)
    return _adone(w, w - lr * mh / (np.sqrt(vh) + eps), mh, vh, t, config)


@adam.mistake("Steps without the learning rate: w - mhat / (sqrt(vhat) + eps).")
def no_learning_rate(w, dw, config=None):
    return _adam(w, dw, config, step=lambda w, mh, vh, lr, eps: w - mh / (np.sqrt(vh) + eps))


@adam.mistake("Adds the step instead of subtracting it (w + lr * mhat / (sqrt(vhat) + eps)).")
def ascends(w, dw, config=None):
    return _adam(w, dw, config, step=lambda w, mh, vh, lr, eps: w + lr * mh / (np.sqrt(vh) + eps))


@adam.mistake("Returns next_w without casting, so float32 w with float64 moments in config comes back float64.")
def adam_no_cast(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _asetup(w, dw, config)
    t = config["t"] + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * dw**2
    config.update(m=m, v=v, t=t)
    return w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), config


@adam.correct("Bias correction with np.power and the step count read with config.get('t', 0).")
def np_power(w, dw, config=None):
    return _adam(w, dw, config, mhat=lambda m, t, b1, b2: m / (1 - np.power(b1, t)),
                 vhat=lambda v, t, b1, b2: v / (1 - np.power(b2, t)))


@adam.correct("Moments as increments: m += (1 - beta1) * (dw - m) on copies of the stored arrays.")
def increments_on_copies(w, dw, config=None):
    def moments(m, v, dw, b1, b2):
        m, v = m.astype(np.result_type(m, dw)), v.astype(np.result_type(v, dw))
        m += (1 - b1) * (dw - m)
        v += (1 - b2) * (dw * dw - v)
        return m, v
    return _adam(w, dw, config, moments=moments)


@adam.correct("Explicit loop over the entries of w (np.ndindex), each updated with Python floats.")
def loop_entries(w, dw, config=None):
    config, b1, b2, eps, lr, m, v = _asetup(w, dw, config)
    t = config["t"] + 1
    m2, v2, next_w = np.empty_like(w), np.empty_like(w), np.empty_like(w)
    for idx in np.ndindex(w.shape):
        mi = b1 * float(m[idx]) + (1 - b1) * float(dw[idx])
        vi = b2 * float(v[idx]) + (1 - b2) * float(dw[idx]) ** 2
        m2[idx], v2[idx] = mi, vi
        next_w[idx] = float(w[idx]) - lr * (mi / (1 - b1**t)) / (np.sqrt(vi / (1 - b2**t)) + eps)
    return _adone(w, next_w, m2, v2, t, config)
