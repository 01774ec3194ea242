"""Argument checks shared by the layers: fail early, name the argument, say what came.

Every check raises instead of "fixing" the input, because a silently reshaped or
cast array is exactly the kind of bug a gradient check cannot see.
"""

import numbers

import numpy as np


def float_array(where, name, a, ndim=None):
    """Return `a` if it is a floating-point ndarray (of rank `ndim`, if given), else raise.

    Inputs:
    - where: name of the calling function, used as the prefix of every message
    - name: the argument's name as the caller knows it, e.g. "x" or "gamma"
    - a: the value to check
    - ndim: required number of dimensions, or None for any

    Returns:
    - a, unchanged (never a copy, never cast)
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array; got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(
            f"{where}: {name} must have a floating-point dtype (float32 or float64); "
            f"got {a.dtype}. Cast it yourself, e.g. {name}.astype(np.float64)"
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(
            f"{where}: {name} must be a {ndim}-D array; got {a.ndim}-D with shape {a.shape}"
        )
    return a


def float_dtype(where, name, value):
    """Return np.dtype(value) if it names a floating-point dtype (np.float32, "float64"), else raise."""
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or not np.issubdtype(dtype, np.floating):
        raise TypeError(f"{where}: {name} must be a floating-point dtype such as np.float32; got {value!r}")
    return dtype


def same_shape(where, name, a, shape, meaning=None):
    """Raise unless the array `a` has exactly `shape` (no broadcasting is implied)."""
    if a.shape != tuple(shape):
        what = f" ({meaning})" if meaning else ""
        raise ValueError(f"{where}: {name} must have shape {tuple(shape)}{what}; got {a.shape}")
    return a


def positive_number(where, name, value):
    """Return `value` as a float if it is a finite real number > 0, else raise."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: {name} must be a finite number > 0; got {value!r}")
    return float(value)


def unit_interval(where, name, value):
    """Return `value` as a float if it is a real number in [0, 1], else raise."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: {name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def choice(where, name, value, allowed):
    """Return `value` if it is one of `allowed`, else raise naming the options."""
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{where}: {name} must be one of {options}; got {value!r}")
    return value


def param_dict(where, name, params):
    """Raise unless `params` is a dict (the layers write running statistics back into it)."""
    if not isinstance(params, dict):
        raise TypeError(f"{where}: {name} must be a dict; got {type(params).__name__}")
    return params


def known_keys(where, name, params, known):
    """Raise if the dict `params` holds a key outside `known`: a misspelled key would be ignored."""
    unknown = sorted(set(params) - set(known), key=str)
    if unknown:
        raise ValueError(
            f"{where}: {name} has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(map(repr, known))}"
        )
    return params


def cache_of(where, cache, cls, producer):
    """Raise unless `cache` is an instance of `cls`, the cache that `producer` returns."""
    if not isinstance(cache, cls):
        raise TypeError(
            f"{where}: cache must be the {cls.__name__} returned by {producer}; "
            f"got {type(cache).__name__}"
        )
    return cache


def positive_int(where, name, value):
    """Return `value` as an int if it is an integer >= 1 (not a bool, not 2.7), else raise."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1; got {value!r}")
    return int(value)


def writable(where, name, a):
    """Raise unless the array `a` may be written: the numeric gradients nudge x in place."""
    if not a.flags.writeable:
        raise ValueError(
            f"{where}: {name} is read-only, but the check nudges its entries in place (and "
            f"restores them). Pass a writable copy, {name}.copy(), and make f read that copy"
        )
    return a


def seed(where, name, value, allow_none=True):
    """Return `value` if it is a seed np.random.default_rng takes: an integer >= 0, or None.

    NumPy's own messages for -1 or 'abc' name neither the function nor the argument.
    With allow_none=False only an integer passes (a run that must be repeatable).
    """
    if value is None and allow_none:
        return value
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        alternative = " (or None)" if allow_none else ""
        raise ValueError(f"{where}: {name} must be an integer >= 0{alternative}; got {value!r}")
    return value


def nonempty_batch(where, name, a):
    """Raise if the array `a` has no samples (a statistic of zero samples is 0/0)."""
    if a.shape[0] == 0:
        raise ValueError(f"{where}: {name} must hold at least one sample; got shape {a.shape} (N=0)")
    return a


def finite_variance(where, var, x):
    """Raise if a variance computed from x came out +inf: the squares of x overflowed.

    Left alone, an infinite variance makes xhat exactly 0, so the layer would return beta
    (and zero gradients) without any sign of trouble. NaN is not caught here: it comes from
    NaN or inf in x itself and stays visible in the output.
    """
    if np.isposinf(var).any():
        scale = float(np.max(np.abs(x)))
        limit = float(np.sqrt(np.finfo(x.dtype).max))
        raise ValueError(
            f"{where}: x is too large to normalize in {x.dtype}: its entries reach {scale:.3g} in "
            f"magnitude, and squares above {limit:.3g} overflow, so the variance is inf and every "
            f"output would be beta. Rescale x (divide it by a power of 10) first"
        )
    return var


def integer_param_as_float(p, x):
    """A parameter array of integers (CS231n's cells write `np.asarray([3, 4, 5])` for gamma
    and `np.array([0, 128])` for a bias) as the floating dtype of the input x; anything
    else unchanged, for the usual checks to accept or refuse.

    Inputs:
    - p: the parameter as given (gamma, beta, a bias)
    - x: the layer's input; only its dtype is used, and only if it is floating point

    Returns:
    - p.astype(x.dtype) (a new array) if p is an integer ndarray and x a floating one; else p
    """
    if (
        isinstance(p, np.ndarray) and isinstance(x, np.ndarray)
        and np.issubdtype(p.dtype, np.integer) and np.issubdtype(x.dtype, np.floating)
    ):
        return p.astype(x.dtype)
    return p
