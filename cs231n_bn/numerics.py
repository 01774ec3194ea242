"""Finite differences as an object of study: one-sided vs centered, and the choice of h.

`cs231n_bn.gradient_check` is the tool for checking a backward pass; this module is the
tool for understanding why that check works and where it stops working (notebook 4).
By Taylor's theorem, for a smooth f,

    forward   (f(x + h) - f(x)) / h       = f'(x) + h/2 f''(x)    + O(h^2)
    backward  (f(x) - f(x - h)) / h       = f'(x) - h/2 f''(x)    + O(h^2)
    centered  (f(x + h) - f(x - h)) / 2h  = f'(x) + h^2/6 f'''(x) + O(h^4)

That is the truncation error. On top comes round-off: f is only known to about
eps_machine * |f|, and dividing that by h makes it grow as h shrinks. The total error is
therefore V-shaped in h, with its minimum where the two meet (see `best_step`).

Unlike gradient_check, nothing here warns about float32: running the same sweep in float32
and float64 is the point of the exercise.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.gradient_check import rel_error

SCHEMES = ("forward", "backward", "centered")
ORDER = {"forward": 1, "backward": 1, "centered": 2}


def _value(f, x):
    value = np.asarray(f(x))
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(
            f"finite_difference_gradient: f must return a real number; got dtype {value.dtype}"
        )
    if value.shape != ():
        raise ValueError(
            f"finite_difference_gradient: f must return a scalar; got an array of shape {value.shape}"
        )
    # Converting after f has computed in x's precision keeps f's round-off but adds none.
    return float(value)


def _difference(f, x, ix, h, scheme):
    """f(x + a h e_ix) - f(x - b h e_ix) for the scheme's a, b; x restored exactly afterwards."""
    old = x[ix]
    try:
        if scheme == "centered":
            x[ix] = old + h
            upper = _value(f, x)
            x[ix] = old - h
            lower = _value(f, x)
        elif scheme == "forward":
            x[ix] = old + h
            upper = _value(f, x)
            x[ix] = old
            lower = _value(f, x)
        else:
            x[ix] = old
            upper = _value(f, x)
            x[ix] = old - h
            lower = _value(f, x)
    finally:
        x[ix] = old
    return upper - lower


def finite_difference_gradient(f, x, h=1e-5, scheme="centered"):
    """Numeric gradient of a scalar function f at x by forward, backward or centered differences.

    Each entry of x is nudged in place and restored bit for bit (even if f raises), so f
    may read x through its argument or through a closure; a read-only x is refused. Works in any floating dtype
    without warning: the nudged x keeps x's dtype, so f computes in that precision.

    Inputs:
    - f: function of one array returning a scalar
    - x: floating-point array
    - h: step size > 0 (the nominal step; in low precision x + h is itself rounded)
    - scheme: 'forward', 'backward' or 'centered'

    Returns:
    - grad: float64 array shaped like x
    """
    where = "finite_difference_gradient"
    validation.float_array(where, "x", x)
    validation.writable(where, "x", x)
    h = validation.positive_number(where, "h", h)
    validation.choice(where, "scheme", scheme, SCHEMES)
    width = 2 * h if scheme == "centered" else h
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        grad[ix] = _difference(f, x, ix, h, scheme) / width
    return grad


def step_size_sweep(f, x, grad, hs, scheme="centered"):
    """Relative error of the finite-difference gradient against a known gradient, for each h.

    Inputs:
    - f: function of one array returning a scalar
    - x: floating-point array; restored exactly on return
    - grad: the exact gradient of f at x, shaped like x
    - hs: sequence of step sizes, each > 0
    - scheme: 'forward', 'backward' or 'centered'

    Returns:
    - errors: (len(hs),) float64 array, rel_error(numeric, grad) at each h
    """
    where = "step_size_sweep"
    validation.float_array(where, "x", x)
    validation.writable(where, "x", x)
    grad = np.asarray(grad)
    if grad.shape != x.shape:
        raise ValueError(f"{where}: grad must have the shape of x, {x.shape}; got {grad.shape}")
    if not np.issubdtype(np.asarray(hs).dtype, np.number):
        raise ValueError(f"{where}: hs must be a sequence of step sizes > 0; got {hs!r}")
    hs = np.asarray(hs, dtype=np.float64)
    if hs.ndim != 1 or hs.size == 0 or not np.all(hs > 0):
        raise ValueError(f"{where}: hs must be a non-empty 1-D sequence of step sizes > 0; got {hs!r}")
    return np.array([rel_error(finite_difference_gradient(f, x, h, scheme), grad) for h in hs])


def loglog_slope(hs, errors):
    """Least-squares slope of log(error) against log(h): the observed order of the error.

    In the truncation regime a forward difference gives about 1 and a centered one about 2;
    in the round-off regime the slope is about -1.

    Inputs:
    - hs: (K,) step sizes > 0, K >= 2, not all equal
    - errors: (K,) errors > 0

    Returns:
    - slope: float
    """
    where = "loglog_slope"
    hs, errors = np.asarray(hs, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    if hs.ndim != 1 or hs.shape != errors.shape or hs.size < 2:
        raise ValueError(
            f"{where}: hs and errors must be 1-D with the same length >= 2; got shapes "
            f"{hs.shape} and {errors.shape}"
        )
    if not (np.all(hs > 0) and np.all(errors > 0)):
        raise ValueError(f"{where}: hs and errors must all be > 0 to take logarithms")
    if np.ptp(hs) == 0:
        raise ValueError(f"{where}: hs must contain at least two different step sizes")
    slope, _ = np.polyfit(np.log(hs), np.log(errors), 1)
    return float(slope)


def best_step(dtype, scheme="centered"):
    """The step size where truncation and round-off balance, up to a factor of order one.

    Notebook 4 derives it from the scheme's order and the dtype's machine epsilon (its
    exercise "pick h" asks for it). The constants depend on f's derivatives, so read the
    result as an order of magnitude.

    Inputs:
    - dtype: a floating-point dtype, e.g. np.float64
    - scheme: 'forward', 'backward' or 'centered'

    Returns:
    - h: float
    """
    where = "best_step"
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"best_step: dtype must be a floating-point dtype; got {dtype}")
    validation.choice(where, "scheme", scheme, SCHEMES)
    ### BEGIN SOLUTION
    eps = float(np.finfo(dtype).eps)
    return eps ** (1.0 / (ORDER[scheme] + 1))
    ### END SOLUTION
