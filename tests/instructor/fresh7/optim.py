"""sgd_momentum and adam: mistakes and correct variants, each the solution region inside the scaffold."""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_rule = Catalogue("sgd_momentum")
adam_rule = Catalogue("adam")


def _momentum(region):
    """The scaffold of sgd_momentum around region(w, dw, learning_rate, momentum, v) -> (next_w, v)."""
    def sgd_momentum(w, dw, config=None):
        config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
        learning_rate, momentum, v = config["learning_rate"], config["momentum"], config["velocity"]
        next_w, v = region(w, dw, learning_rate, momentum, v)
        config["velocity"] = v.astype(w.dtype, copy=False)
        return next_w.astype(w.dtype, copy=False), config
    sgd_momentum.__name__ = region.__name__
    return sgd_momentum


@momentum_rule.mistake("velocity stored with the opposite sign (v = m v + lr dw; w - v): same steps, but config['velocity'] is -v")
@_momentum
def mom_sign_flipped(w, dw, learning_rate, momentum, v):
    v = momentum * v + learning_rate * dw
    return w - v, v


@momentum_rule.mistake("steps with the OLD velocity: w + v, then v updated")
@_momentum
def mom_old_velocity(w, dw, learning_rate, momentum, v):
    next_w = w + v
    v = momentum * v - learning_rate * dw
    return next_w, v


@momentum_rule.mistake("learning rate forgotten in the velocity: v = m v - dw")
@_momentum
def mom_no_lr(w, dw, learning_rate, momentum, v):
    v = momentum * v - dw
    return w + v, v


@momentum_rule.mistake("velocity as an exponential average: v = m v - (1 - m) lr dw")
@_momentum
def mom_ema(w, dw, learning_rate, momentum, v):
    v = momentum * v - (1 - momentum) * learning_rate * dw
    return w + v, v


@momentum_rule.mistake("updates w in place (w += v), changing the caller's parameter array")
@_momentum
def mom_w_inplace(w, dw, learning_rate, momentum, v):
    v = momentum * v - learning_rate * dw
    w += v
    return w, v


@momentum_rule.mistake("Nesterov's step (w + m v_new - lr dw) where the contract is plain momentum")
@_momentum
def mom_nesterov(w, dw, learning_rate, momentum, v):
    v = momentum * v - learning_rate * dw
    return w + momentum * v - learning_rate * dw, v


@momentum_rule.mistake("momentum hard-coded 0.9, ignoring config['momentum']")
@_momentum
def mom_fixed_momentum(w, dw, learning_rate, momentum, v):
    v = 0.9 * v - learning_rate * dw
    return w + v, v


@momentum_rule.mistake("the velocity is updated but never returned: config keeps the old one")
@_momentum
def mom_velocity_lost(w, dw, learning_rate, momentum, v):
    new_v = momentum * v - learning_rate * dw
    return w + new_v, v


@momentum_rule.mistake("momentum and learning rate swapped: v = lr v - m dw")
@_momentum
def mom_swapped(w, dw, learning_rate, momentum, v):
    v = learning_rate * v - momentum * dw
    return w + v, v


@momentum_rule.mistake("the gradient added to w: v = m v + lr dw and w + v (ascent)")
@_momentum
def mom_ascent(w, dw, learning_rate, momentum, v):
    v = momentum * v + learning_rate * dw
    return w + v, v


@momentum_rule.correct("v updated in place in a fresh array; np.add for the step")
@_momentum
def mom_ok_inplace_fresh(w, dw, learning_rate, momentum, v):
    v = v * momentum
    v -= learning_rate * dw
    return np.add(w, v), v


@momentum_rule.correct("the velocity written as -(lr dw - m v)")
@_momentum
def mom_ok_rearranged(w, dw, learning_rate, momentum, v):
    v = -(learning_rate * dw - momentum * v)
    return w - (-v), v


def _adam(region):
    """The scaffold of adam around region(config, w, dw, beta1, beta2, eps, lr, m, v) -> (next_w, m, v, t)."""
    def adam(w, dw, config=None):
        config = _config("adam", w, dw, config,
                         {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"))
        beta1, beta2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
        m, v = config["m"], config["v"]
        next_w, m, v, t = region(config, w, dw, beta1, beta2, eps, lr, m, v)
        config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
        return next_w.astype(w.dtype, copy=False), config
    adam.__name__ = region.__name__
    return adam


@adam_rule.mistake("t used before it is incremented: the first step divides by 1 - beta**0 = 0")
@_adam
def adam_t_late(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        next_w = w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return next_w, m, v, t + 1


@adam_rule.mistake("no bias correction: w - lr m / (sqrt(v) + eps)")
@_adam
def adam_no_correction(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v, t


@adam_rule.mistake("eps inside the square root: sqrt(vhat + eps)")
@_adam
def adam_eps_inside(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v, t


@adam_rule.mistake("second moment of |dw| instead of dw**2")
@_adam
def adam_abs(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.abs(dw)
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@adam_rule.mistake("stores the bias-corrected mhat and vhat in config as m and v")
@_adam
def adam_store_hat(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * dw**2) / (1 - beta2**t)
    return w - lr * m / (np.sqrt(v) + eps), m, v, t


@adam_rule.mistake("beta1 and beta2 swapped in the moment updates")
@_adam
def adam_betas_swapped(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta2 * m + (1 - beta2) * dw
    v = beta1 * v + (1 - beta1) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@adam_rule.mistake("v's bias correction uses beta1: vhat = v / (1 - beta1**t)")
@_adam
def adam_vhat_beta1(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta1**t)) + eps), m, v, t


@adam_rule.mistake("the step count is used as t + 1 but config['t'] is stored unchanged")
@_adam
def adam_t_not_stored(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**(t + 1))) / (np.sqrt(v / (1 - beta2**(t + 1))) + eps), m, v, t


@adam_rule.mistake("updates w in place (w -= ...), changing the caller's parameter array")
@_adam
def adam_w_inplace(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    w -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w, m, v, t


@adam_rule.mistake("bias correction applied to sqrt(v) rather than v: sqrt(v) / (1 - beta2**t)")
@_adam
def adam_sqrt_corrected(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v) / (1 - beta2**t) + eps), m, v, t


@adam_rule.mistake("v's update uses (1 - beta1): v = beta2 v + (1 - beta1) dw**2")
@_adam
def adam_v_weight(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta1) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@adam_rule.mistake("the step uses the raw gradient where mhat belongs (RMSProp with Adam's v)")
@_adam
def adam_raw_grad(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * dw / (np.sqrt(v / (1 - beta2**t)) + eps), m, v, t


@adam_rule.mistake("bias corrections multiplied instead of divided: m * (1 - beta1**t), v * (1 - beta2**t)")
@_adam
def adam_correction_multiplied(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * (m * (1 - beta1**t)) / (np.sqrt(v * (1 - beta2**t)) + eps), m, v, t


@adam_rule.correct("the moments as lerps: m + (1 - beta1) (dw - m), v + (1 - beta2) (dw*dw - v)")
@_adam
def adam_ok_lerp(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = m + (1 - beta1) * (dw - m)
    v = v + (1 - beta2) * (dw * dw - v)
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * mhat / (np.sqrt(vhat) + eps), m, v, t


@adam_rule.correct("vhat's square root taken as sqrt(v) / sqrt(1 - beta2**t)")
@_adam
def adam_ok_split_sqrt(config, w, dw, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.square(dw)
    denom = np.sqrt(v) / np.sqrt(1 - beta2**t) + eps
    return w - lr * (m / (1 - np.power(beta1, t))) / denom, m, v, t
