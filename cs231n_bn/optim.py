"""First-order update rules, with CS231n's interface.

Each rule has the signature

    next_w, config = rule(w, dw, config=None)

- w: current parameter array; never modified (the update returns a new array)
- dw: gradient of the loss with respect to w, same shape
- config: dict of hyperparameters and of the rule's state (velocity, moments); None
  starts a fresh state with the defaults. The returned config is a new dict holding the
  updated state; pass it back in on the next step.
"""

import numpy as np

from cs231n_bn import validation as check


def _start(where, w, dw, config, defaults):
    """A fresh copy of config with the defaults filled in, after checking w and dw."""
    check.float_array(where, "w", w)
    check.float_array(where, "dw", dw)
    check.same_shape(where, "dw", dw, w.shape, "the shape of w")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"{where}: config must be a dict or None; got {type(config).__name__}")
    config = {**defaults, **(config or {})}
    check.positive_number(where, "config['learning_rate']", config["learning_rate"])
    return config


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config keys: learning_rate (default 1e-2).
    """
    config = _start("sgd", w, dw, config, {"learning_rate": 1e-2})
    next_w = w - config["learning_rate"] * dw
    return next_w.astype(w.dtype, copy=False), config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

        v <- momentum * v - learning_rate * dw
        w <- w + v

    The velocity v is a running sum of past steps that decays by `momentum` each step, so
    steps along a consistent direction add up while oscillating components cancel.

    config keys: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    config = _start("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9})
    check.unit_interval("sgd_momentum", "config['momentum']", config["momentum"])
    v = config.get("velocity", np.zeros_like(w))
    ### BEGIN SOLUTION
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    ### END SOLUTION
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


def adam(w, dw, config=None):
    """Adam (Kingma & Ba, 2015): momentum on the gradient, scaled per entry by its RMS.

        t <- t + 1
        m <- beta1 m + (1 - beta1) dw                  first moment
        v <- beta2 v + (1 - beta2) dw^2                second moment
        m^ = m / (1 - beta1^t),  v^ = v / (1 - beta2^t)          bias correction
        w <- w - learning_rate m^ / (sqrt(v^) + epsilon)

    m and v start at zero, so without the correction the first steps would be too small;
    with it, the very first step moves every entry by learning_rate * sign(dw) (for
    |dw| >> epsilon).

    config keys: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    m, v (zeros like w), t (0).
    """
    config = _start(
        "adam", w, dw, config, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}
    )
    beta1, beta2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    ### BEGIN SOLUTION
    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    mhat = m / (1 - beta1**t)
    vhat = v / (1 - beta2**t)
    next_w = w - lr * mhat / (np.sqrt(vhat) + eps)
    ### END SOLUTION
    config.update(m=m.astype(w.dtype, copy=False), v=v.astype(w.dtype, copy=False), t=t)
    return next_w.astype(w.dtype, copy=False), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}
