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
