"""Numeric gradients by centered differences, and the relative error that compares them.

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)        error O(h^2)

Each entry of x is nudged *in place* and put back, so `f` may read x either through its
argument or through a closure (e.g. a model's parameter dict). Every function here
restores x bit for bit, even when `f` raises. For the same reason x must be writable:
a read-only x is refused rather than copied, because a copy would be invisible to an f
that reads the original through a closure (pass a writable copy and let f read that).

Round-off matters: f is only known to about machine epsilon times its size, so the
difference quotient carries an error of roughly eps_machine / h. In float64 (eps ~ 1e-16)
that is ~1e-11 at h = 1e-5; in float32 (eps ~ 1e-7) it is ~1e-2, which swamps the check.
Hence the warning below for anything but float64 (notebook 4 shows it).
"""

import warnings

import numpy as np

from cs231n_bn import validation


class LowPrecisionWarning(UserWarning):
    """A gradient check was asked to run in less than float64 precision."""


def _require_float(where, name, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array; got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{where}: {name} must have a floating-point dtype, ideally float64; got {x.dtype} "
            f"(nudging an integer array by h would round the nudge away)"
        )
    if x.dtype != np.float64:
        warnings.warn(
            f"{where}: {name} has dtype {x.dtype}; its round-off error (about "
            f"{np.finfo(x.dtype).eps:.0e} relative) divided by h swamps the truncation "
            f"error, so this check cannot tell a right gradient from a slightly wrong one. "
            f"Use float64",
            LowPrecisionWarning,
            stacklevel=3,
        )


def _warn_if_low_precision_output(where, value):
    dtype = np.asarray(value).dtype
    if np.issubdtype(dtype, np.floating) and np.finfo(dtype).bits < 64:
        warnings.warn(
            f"{where}: f returned {dtype} values; their round-off error swamps the check. "
            f"Compute f in float64",
            LowPrecisionWarning,
            stacklevel=3,
        )


def _as_float64(where, value):
    """f's value as a float64 array (a fresh copy), or a clear error if it is not numeric."""
    dtype = np.asarray(value).dtype
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise TypeError(f"{where}: f must return a real number or array of them; got {type(value).__name__} of dtype {dtype}")
    return np.array(value, dtype=np.float64, copy=True)


def _call_read_only(where, f, x, expected):
    """f(x), after which x must still equal `expected` (x with its one nudge); else x is reset and f refused.

    An f that writes into its argument (x += ..., x.sort(), a layer that updates its input in
    place) makes every later difference quotient meaningless, so it is refused at once.
    """
    value = f(x)
    # The NaN-aware comparison is slower: it only runs when the plain one found a difference.
    if not (np.array_equal(x, expected) or np.array_equal(x, expected, equal_nan=True)):
        changed = np.flatnonzero(~((x == expected) | (np.isnan(x) & np.isnan(expected))).ravel())
        x[...] = expected
        raise ValueError(
            f"{where}: f changed its argument x in place ({changed.size} entries, e.g. flat index "
            f"{changed[0]}); a gradient check needs an f that only reads x. x has been restored. Make f "
            f"work on a copy, e.g. f = lambda x: g(x.copy())"
        )
    return value


def _centered_difference(where, f, x, ix, h, x0):
    """(f(x + h e_ix) - f(x - h e_ix)), with x restored exactly afterwards.

    x0 is a copy of x as it was before the check: after every call of f, x must equal it
    up to the one entry being nudged.
    """
    old = x[ix]
    try:
        x[ix] = old + h
        x0[ix] = x[ix]
        fxph = _as_float64(where, _call_read_only(where, f, x, x0))
        x[ix] = old - h
        x0[ix] = x[ix]
        fxmh = _as_float64(where, _call_read_only(where, f, x, x0))
    finally:
        x[ix] = old
        x0[ix] = old
    return fxph - fxmh


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numeric gradient of a scalar function f at x, by centered differences.

    Inputs:
    - f: function of one array returning a scalar
    - x: floating-point array (float64 for a meaningful check); restored exactly on return
    - verbose: print every entry's index and numeric gradient
    - h: step size

    Returns:
    - grad: array shaped like x
    """
    where = "eval_numerical_gradient"
    _require_float(where, "x", x)
    validation.writable(where, "x", x)
    h = validation.positive_number(where, "h", h)
    x0 = x.copy()
    _warn_if_low_precision_output(where, _call_read_only(where, f, x, x0))
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        diff = _centered_difference(where, f, x, ix, h, x0)
        if diff.shape != ():
            raise ValueError(
                f"{where}: f must return a scalar; got an array of shape {diff.shape}. "
                f"Use eval_numerical_gradient_array for array-valued functions"
            )
        grad[ix] = diff / (2 * h)
        if verbose:
            print(ix, grad[ix])
    _warn_if_unchanged(where, x, grad, h)
    return grad


def _warn_if_unchanged(where, x, grad, h):
    """Warn when no nudge changed f: h below x's resolution, or an f that ignores x."""
    if not x.size or np.any(grad):
        return
    lost = np.all((x + x.dtype.type(h)) == x)
    reason = (
        f"h={h} is below the spacing of x's {x.dtype} values, so x + h == x; use h = 1e-5"
        if lost else "does f actually read x?"
    )
    warnings.warn(f"{where}: f did not change at all when any entry of x was nudged by h={h}; {reason}", stacklevel=3)


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) with respect to x, for an array-valued f.

    `df` plays the upstream gradient dL/df. Use a random df: with df all ones some
    layers (batch norm among them) have a gradient that is identically zero, and then
    a wrong backward pass passes the check.

    Inputs:
    - f: function of one array returning an array shaped like df
    - x: floating-point array; restored exactly on return
    - df: upstream gradient, shaped like f(x)
    - h: step size

    Returns:
    - grad: array shaped like x
    """
    where = "eval_numerical_gradient_array"
    _require_float(where, "x", x)
    validation.writable(where, "x", x)
    _require_float(where, "df", df)
    h = validation.positive_number(where, "h", h)
    x0 = x.copy()
    fx = _call_read_only(where, f, x, x0)
    _warn_if_low_precision_output(where, fx)
    if np.shape(fx) != df.shape:
        raise ValueError(f"{where}: df must have the shape of f(x), {np.shape(fx)}; got {df.shape}")
    grad = np.zeros(x.shape, dtype=np.float64)
    changed = False
    for ix in np.ndindex(*x.shape):
        diff = _centered_difference(where, f, x, ix, h, x0)
        changed = changed or bool(np.any(diff))
        grad[ix] = np.sum(diff * df) / (2 * h)
    # Judged on f itself, not on grad: with df orthogonal to every change, grad is 0 rightly.
    _warn_if_unchanged(where, x, np.array(changed), h)
    return grad


def rel_error(x, y):
    """Largest elementwise relative error, max |x - y| / max(1e-8, |x| + |y|).

    The shapes must match exactly: broadcasting a (D,) array against an (N, D) one would
    hide a shape bug behind a small number.
    """
    x, y = np.asarray(x), np.asarray(y)
    for name, a in (("x", x), ("y", y)):
        if not np.issubdtype(a.dtype, np.number):
            raise TypeError(f"rel_error: {name} must be a number or an array of numbers; got dtype {a.dtype}")
    if x.shape != y.shape:
        raise ValueError(f"rel_error: x and y must have the same shape; got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=0, verbose=True):
    """Compare an analytic gradient with centered differences at a few random entries.

    Entries are drawn without replacement from a seeded generator, so a run is
    reproducible and never checks the same entry twice.

    Inputs:
    - f: function of one array returning a scalar
    - x: floating-point array; restored exactly on return
    - analytic_grad: gradient of f at x, shaped like x
    - num_checks: how many entries to check, an integer >= 1 (capped at x.size)
    - h: step size
    - seed: seed for choosing the entries
    - verbose: print one line per entry

    Returns:
    - errors: (num_checks,) relative error at each checked entry
    """
    where = "grad_check_sparse"
    _require_float(where, "x", x)
    validation.writable(where, "x", x)
    validation.float_array(where, "analytic_grad", analytic_grad)
    validation.same_shape(where, "analytic_grad", analytic_grad, x.shape, "the shape of x")
    if x.size == 0:
        # No entry to check would return no errors: a check that cannot fail.
        raise ValueError(f"{where}: x must have at least one entry to check; got shape {x.shape}")
    num_checks = min(validation.positive_int(where, "num_checks", num_checks), x.size)
    h = validation.positive_number(where, "h", h)
    rng = np.random.default_rng(validation.seed(where, "seed", seed))
    flat = rng.choice(x.size, size=num_checks, replace=False)
    errors = np.empty(num_checks)
    x0 = x.copy()
    for k, i in enumerate(flat):
        ix = np.unravel_index(i, x.shape)
        diff = _centered_difference(where, f, x, ix, h, x0)
        if diff.shape != ():
            raise ValueError(
                f"{where}: f must return a scalar (the loss); got an array of shape {diff.shape}. "
                f"Sum it, or use eval_numerical_gradient_array for array-valued functions"
            )
        numeric = float(diff) / (2 * h)
        analytic = float(analytic_grad[ix])
        errors[k] = rel_error(np.array(numeric), np.array(analytic))
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {errors[k]:e}")
    return errors
