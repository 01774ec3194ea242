"""First-order update rules, with CS231n's interface and CS231n's contract.

Each rule has the signature

    next_w, config = rule(w, dw, config=None)

- w: current parameter array; never modified (the update returns a new array)
- dw: gradient of the loss with respect to w, same shape
- config: dict of hyperparameters and of the rule's state (velocity, moments); None
  starts a fresh dict. The rule fills in missing hyperparameters with their defaults
  (as config.setdefault does), writes its new state INTO THE DICT IT WAS GIVEN and
  returns that same dict. CS231n's optimizer cells rely on this: they call
  `next_w, _ = adam(w, dw, config=config)` and then read `config["m"]`. Pass the dict
  back in on the next step.

Every argument is checked before anything is written, so a refused call leaves config as
it was. A key the rule does not know is refused, naming the known ones: a misspelled
`lr` for `learning_rate` would otherwise train at the default rate without a word.
"""

import numbers

import numpy as np

from cs231n_bn import validation


def _decay(where, name, value):
    """A decay rate in [0, 1): 1 would keep no new information (and break Adam's bias correction)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: {name} must be a number in [0, 1); got {value!r}")
    return float(value)


def _step_count(where, name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0 (the number of steps taken); got {value!r}")
    return int(value)


# How each hyperparameter is checked, whichever rule takes it.
HYPERPARAMETERS = {
    "learning_rate": validation.positive_number,
    "momentum": validation.unit_interval,
    "beta1": _decay,
    "beta2": _decay,
    "decay_rate": _decay,
    "epsilon": validation.positive_number,
    "t": _step_count,
}
# State arrays shaped like w; the averages of squared gradients cannot be negative.
STATE_ARRAYS = {"velocity": False, "m": False, "v": True, "cache": True}


def _config(where, w, dw, config, defaults, state):
    """Check w, dw and config; fill in the defaults; return the caller's dict (or a new one).

    Inputs:
    - where: the rule's name, for messages
    - w, dw: the parameter and its gradient
    - config: the caller's dict or None
    - defaults: hyperparameter name -> default value
    - state: names of the state arrays the rule keeps (zeros like w until the first step)

    Returns:
    - config, holding every key of defaults and state
    """
    validation.float_array(where, "w", w)
    validation.float_array(where, "dw", dw)
    validation.same_shape(where, "dw", dw, w.shape, "the shape of w")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"{where}: config must be a dict or None; got {type(config).__name__}")
    validation.known_keys(where, "config", config, (*defaults, *state))
    for name, value in config.items():
        label = f"config['{name}']"
        if name in HYPERPARAMETERS:
            HYPERPARAMETERS[name](where, label, value)
        else:
            validation.float_array(where, label, value)
            validation.same_shape(where, label, value, w.shape, "the shape of w")
            if STATE_ARRAYS[name] and np.any(value < 0):
                raise ValueError(f"{where}: {label} is an average of squared gradients and cannot be negative")
    for name, value in defaults.items():
        config.setdefault(name, value)
    for name in state:
        config.setdefault(name, np.zeros_like(w))
    return config


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config keys: learning_rate (default 1e-2). The defaults are written into config.
    """
    config = _config("sgd", w, dw, config, {"learning_rate": 1e-2}, ())
    next_w = w - config["learning_rate"] * dw
    return next_w.astype(w.dtype, copy=False), config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum (notebook 5, Exercise 2, states the rule).

    The velocity is a running sum of past steps that decays by `momentum` each step, and w
    moves by the velocity, so steps along a consistent direction add up while oscillating
    components cancel.

    config keys: learning_rate (1e-2), momentum (0.9), velocity (zeros like w). The new
    velocity is stored in the caller's config["velocity"] (CS231n's cells read it there).
    """
    config = _config("sgd_momentum", w, dw, config, {"learning_rate": 1e-2, "momentum": 0.9}, ("velocity",))
    learning_rate, momentum, v = config["learning_rate"], config["momentum"], config["velocity"]
    ### BEGIN SOLUTION
    v = momentum * v - learning_rate * dw
    next_w = w + v
    ### END SOLUTION
    config["velocity"] = v.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


def rmsprop(w, dw, config=None):
    """RMSProp (Tieleman & Hinton, 2012): each entry's step divided by its recent RMS gradient.

        cache <- decay_rate * cache + (1 - decay_rate) * dw^2
        w <- w - learning_rate * dw / (sqrt(cache) + epsilon)

    config keys: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (zeros
    like w). The new cache is stored in the caller's config["cache"].
    """
    config = _config(
        "rmsprop", w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, ("cache",)
    )
    rho = config["decay_rate"]
    mean_square = rho * config["cache"] + (1 - rho) * (dw * dw)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(mean_square) + config["epsilon"])
    config["cache"] = mean_square.astype(w.dtype, copy=False)
    return next_w.astype(w.dtype, copy=False), config


def adam(w, dw, config=None):
    """Adam (Kingma & Ba, 2015): momentum on the gradient, scaled per entry by its RMS
    (notebook 5, Exercise 2, states the rule).

    m and v are decaying averages of the gradient and of its square; they start at zero, so
    without the bias correction the first steps would be too small; with it, the very first
    step moves every entry by learning_rate * sign(dw) (for |dw| >> epsilon).

    config keys: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    m, v (zeros like w), t (0). The new m, v and t are stored in the caller's config.
    """
    config = _config(
        "adam", w, dw, config,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}, ("m", "v"),
    )
    beta1, beta2, eps, lr = config["beta1"], config["beta2"], config["epsilon"], config["learning_rate"]
    m, v = config["m"], config["v"]
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


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
