"""Mistakes and unusual correct variants of sgd_momentum and adam (notebook 5).

Every rule keeps the scaffold of cs231n_bn/optim.py: its first line (config from _config and
the hyperparameters read out of it) and its last lines (the state written into the caller's
dict, the casts); only the lines of the solution region differ, as a student writes them.
"""

import numpy as np

from cs231n_bn.optim import _config
from tests.instructor.later_catalogue import Catalogue

momentum_rules = Catalogue("sgd_momentum")
adam_rules = Catalogue("adam")


def momentum_rule(region):
    """sgd_momentum with the scaffold around `region(w, dw, learning_rate, momentum, v, config) -> (v, next_w)`."""

    def sgd_momentum(w, dw, config=None):
        config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
        learning_rate, momentum, v = config["learning_rate"], config["momentum"], config["velocity"]
        v, next_w = region(w, dw, learning_rate, momentum, v, config)
        config["velocity"] = v.astype(w.dtype, copy=False)
        return next_w.astype(w.dtype, copy=False), config

    sgd_momentum.__name__ = region.__name__
    sgd_momentum.__doc__ = region.__doc__
    return sgd_momentum


def adam_rule(region):
    """adam with the scaffold around `region(w, dw, config, beta1, beta2, eps, lr, m, v) -> (t, m, v, next_w)`."""

    def adam(w, dw, config=None):
        config = _config(
            "adam", w, dw, config,
            {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"),
        )
        beta1, beta2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
        m, v = config["m"], config["v"]
        t, m, v, next_w = region(w, dw, config, beta1, beta2, eps, lr, m, v)
        config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
        return next_w.astype(w.dtype, copy=False), config

    adam.__name__ = region.__name__
    return adam


def _momentum(description, correct=False):
    register = momentum_rules.correct if correct else momentum_rules.mistake
    return lambda region: register(description)(momentum_rule(region))


def _adam(description, correct=False):
    register = adam_rules.correct if correct else adam_rules.mistake
    return lambda region: register(description)(adam_rule(region))


@_momentum("velocity kept with the opposite sign: v = momentum*v + lr*dw, w = w - v (the stored velocity is negated)")
def velocity_sign_flipped(w, dw, learning_rate, momentum, v, config):
    v = momentum * v + learning_rate * dw
    return v, w - v


@_momentum("Nesterov's look-ahead step w + momentum*v_new - lr*dw instead of the plain w + v_new")
def nesterov_step(w, dw, learning_rate, momentum, v, config):
    v_new = momentum * v - learning_rate * dw
    return v_new, w + momentum * v_new - learning_rate * dw


@_momentum("steps by momentum * v_new only: next_w = w + momentum * v")
def steps_by_momentum_times_v(w, dw, learning_rate, momentum, v, config):
    v = momentum * v - learning_rate * dw
    return v, w + momentum * v


@_momentum("updates the caller's w in place (w += v) and returns it")
def w_in_place(w, dw, learning_rate, momentum, v, config):
    v = momentum * v - learning_rate * dw
    w += v
    return v, w


@_momentum("PyTorch's form: v = momentum*v + dw, w -= lr*v; same steps, but config['velocity'] holds a different quantity")
def torch_velocity(w, dw, learning_rate, momentum, v, config):
    v = momentum * v + dw
    return v, w - learning_rate * v


@_momentum("hard-codes the step size 1e-2 instead of config['learning_rate']")
def hardcoded_learning_rate(w, dw, learning_rate, momentum, v, config):
    v = momentum * v - 1e-2 * dw
    return v, w + v


@_momentum("velocity as an exponential average v = momentum*v + (1 - momentum)*dw, then w -= lr*v")
def velocity_as_average(w, dw, learning_rate, momentum, v, config):
    v = momentum * v + (1 - momentum) * dw
    return v, w - learning_rate * v


@_momentum("stores the velocity under config['v'] too (Adam's name), a key sgd_momentum refuses on the next call")
def velocity_under_v(w, dw, learning_rate, momentum, v, config):
    v = momentum * v - learning_rate * dw
    config["v"] = v
    return v, w + v


@_momentum("learning rate and momentum swapped: v = lr*v - momentum*dw")
def lr_momentum_swapped(w, dw, learning_rate, momentum, v, config):
    v = learning_rate * v - momentum * dw
    return v, w + v


@_momentum("the old velocity is not decayed: v = v - lr*dw")
def velocity_not_decayed(w, dw, learning_rate, momentum, v, config):
    v = v - learning_rate * dw
    return v, w + v


@_momentum("next_w = w + momentum*v_old - lr*dw, the same step written without the new velocity", correct=True)
def step_from_old_velocity(w, dw, learning_rate, momentum, v, config):
    next_w = w + momentum * v - learning_rate * dw
    return momentum * v - learning_rate * dw, next_w


@_momentum("the velocity computed into a fresh array with np.multiply/np.subtract and out=", correct=True)
def ufuncs_with_out(w, dw, learning_rate, momentum, v, config):
    v_new = np.multiply(v, momentum)
    np.subtract(v_new, learning_rate * dw, out=v_new)
    return v_new, np.add(w, v_new)


@_momentum("the update accumulated in float64 and rounded by the scaffold's casts", correct=True)
def float64_accumulation(w, dw, learning_rate, momentum, v, config):
    v = momentum * v.astype(np.float64) - learning_rate * dw.astype(np.float64)
    return v, w.astype(np.float64) + v


# ---- adam ----

@_adam("no bias correction: steps with m / (sqrt(v) + eps)")
def no_bias_correction(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return t, m, v, w - lr * m / (np.sqrt(v) + eps)


@_adam("never increments t: the first step divides by 1 - beta**0 = 0")
def t_not_incremented(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("bias correction with t + 1 after t was already incremented")
def correction_one_step_ahead(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1 ** (t + 1)), v / (1 - beta2 ** (t + 1))
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("epsilon inside the square root: sqrt(vhat + eps)")
def eps_inside_sqrt(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / np.sqrt(vhat + eps)


@_adam("stores the bias-corrected mhat and vhat as the state instead of m and v")
def stores_corrected_moments(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, mhat, vhat, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("second moment averages |dw| instead of dw**2")
def second_moment_abs(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.abs(dw)
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("beta1 and beta2 swapped between the two moments")
def betas_swapped(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta2 * m + (1 - beta2) * dw
    v = beta1 * v + (1 - beta1) * dw**2
    mhat, vhat = m / (1 - beta2**t), v / (1 - beta1**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("ascends: w + lr * mhat / (sqrt(vhat) + eps)")
def ascends(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w + lr * mhat / (np.sqrt(vhat) + eps)


@_adam("increments config['t'] in place and then again in t = config['t'] + 1: t advances by two")
def t_incremented_twice(w, dw, config, beta1, beta2, eps, lr, m, v):
    config["t"] += 1
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("second moment fed the new first moment: v averages m**2 instead of dw**2")
def second_moment_of_m(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * m**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("updates the caller's w in place (w -= step)")
def adam_w_in_place(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    w -= lr * mhat / (np.sqrt(vhat) + eps)
    return t, m, v, w


@_adam("the paper's 'efficient' ordering with t still at its old value: lr_t = lr*sqrt(1-beta2**t)/(1-beta1**t), t incremented after")
def efficient_form_stale_t(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    k = t if t > 0 else 1
    lr_t = lr * np.sqrt(1 - beta2**k) / (1 - beta1**k)
    return t + 1, m, v, w - lr_t * m / (np.sqrt(v) + eps)


@_adam("moment updates written as m += (1 - beta1) * (dw - m), on fresh arrays", correct=True)
def incremental_moments(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = m + (1 - beta1) * (dw - m)
    v = v + (1 - beta2) * (dw * dw - v)
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w - lr * mhat / (np.sqrt(vhat) + eps)


@_adam("bias corrections computed once as scalars and folded into the division", correct=True)
def folded_corrections(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.square(dw)
    c1, c2 = 1.0 / (1 - beta1**t), 1.0 / (1 - beta2**t)
    return t, m, v, w - lr * (m * c1) / (np.sqrt(v * c2) + eps)


@_adam("the whole step in float64, rounded by the scaffold's casts", correct=True)
def adam_float64(w, dw, config, beta1, beta2, eps, lr, m, v):
    t = config["t"] + 1
    g = dw.astype(np.float64)
    m = beta1 * m.astype(np.float64) + (1 - beta1) * g
    v = beta2 * v.astype(np.float64) + (1 - beta2) * g * g
    mhat, vhat = m / (1 - beta1**t), v / (1 - beta2**t)
    return t, m, v, w.astype(np.float64) - lr * mhat / (np.sqrt(vhat) + eps)
