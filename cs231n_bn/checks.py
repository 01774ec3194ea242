"""Check cells for the exercises: say *pass*, or say what is wrong and how to fix it.

Each `check_*` function runs an implementation (by default the package's own) on seeded
float64 inputs with non-trivial gamma and beta, then either prints one line starting with
"PASS" or raises `CheckFailed` naming the mistake.

This module ships in the student edition, so it contains no solution. Forward passes are
judged by the properties a correct output must have: (out - beta) / gamma has mean 0 over
each normalization group, is an increasing affine function of x inside the group, and
has variance var / (var + eps). Backward passes are judged against centered-difference
gradients of the (already checked) forward pass. Common mistakes leave recognizable
signatures, and those are what the messages name: a variance ratio of (n - 1) / n is
Bessel's correction, an error in dx that is constant inside each group is a missing path
through the mean, one proportional to x - mean is a missing path through the variance.
"""

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cs231n_bn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

MEAN_TOL = 1e-8  # |mean of a normalized group|, on values of order 1
MODEL_RTOL = 1e-6  # relative tolerance when matching a variance or a running average
GRAD_TOL = 1e-7  # relative error against the numeric gradient (float64, h = 1e-5)
DEFAULT_EPS = 1e-5  # the documented default of bn_param / ln_param / gn_param['eps']
EPS = 1e-3  # the eps the checks pass, large enough that misplacing it shows


class CheckFailed(AssertionError):
    """An exercise's implementation is wrong; the message says what and how to fix it."""


# ---------------------------------------------------------------------------------------
# How a normalization groups the entries of x
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which entries of x share one mean and one variance, and how gamma broadcasts.

    `to_groups` maps an array shaped like x to a (groups, members) matrix whose rows are
    the normalization groups; `from_groups` is its inverse. `alternatives` are the
    groupings a mistaken implementation tends to use, each with a description (and its
    own gamma layout when the mistake also misplaces gamma and beta).
    """

    groups_text: str  # where the statistics are taken, in words
    to_groups: Callable
    from_groups: Callable
    param_view: Callable  # gamma as passed -> broadcastable against x
    param_axes: tuple  # axes of x that dgamma and dbeta sum over
    alternatives: tuple  # ((to_groups, description[, param_view]), ...)


def _bn_layout():
    """Batch norm of (N, D): one group per feature, over the batch."""
    return Layout(
        groups_text="over the batch (axis 0), one mean and one variance per feature",
        to_groups=lambda a: a.T,
        from_groups=lambda m: m.T,
        param_view=lambda p: p,
        param_axes=(0,),
        alternatives=(
            (lambda a: a, "over the features of each sample (axis 1), which is layer norm"),
            (lambda a: a.reshape(1, -1), "over all entries at once (no axis given)"),
        ),
    )


def _ln_layout():
    """Layer norm of (N, D): one group per sample, over its features."""
    return Layout(
        groups_text="over the features of each sample (axis 1), one mean and one variance per sample",
        to_groups=lambda a: a,
        from_groups=lambda m: m,
        param_view=lambda p: p,
        param_axes=(0,),
        alternatives=(
            (
                lambda a: a.T,
                "over the batch (axis 0), which is batch norm: layer norm must not look "
                "at the other samples",
            ),
            (lambda a: a.reshape(1, -1), "over all entries at once (no axis given)"),
        ),
    )


def _spatial_bn_layout(N, C, H, W):
    """Spatial batch norm of (N, C, H, W): one group per channel, over N, H and W."""
    return Layout(
        groups_text="over the batch and every position (axes 0, 2, 3), one mean and one "
        "variance per channel",
        to_groups=lambda a: a.transpose(1, 0, 2, 3).reshape(C, -1),
        from_groups=lambda m: m.reshape(C, N, H, W).transpose(1, 0, 2, 3),
        param_view=lambda p: p.reshape(1, C, 1, 1),
        param_axes=(0, 2, 3),
        alternatives=(
            (
                lambda a: a.reshape(-1, C).T,
                "over the columns of x.reshape(-1, C): reshaping without first moving the "
                "channel axis last mixes channels. Transpose to (N, H, W, C) before reshaping",
                lambda p: np.broadcast_to(p, (N * H * W, C)).reshape(N, C, H, W),
            ),
            (
                lambda a: a.reshape(N * C, H * W),
                "over the positions of each image and channel (axes 2, 3), which is instance "
                "norm: include the batch axis 0",
            ),
            (
                lambda a: a.reshape(N, -1).T,
                "over the batch only (axis 0), one statistic per channel AND position: "
                "include the spatial axes 2 and 3",
            ),
            (
                lambda a: a.reshape(N, -1),
                "over each whole sample (axes 1, 2, 3), which is layer norm",
            ),
        ),
    )


def _groupnorm_layout(N, C, H, W, G):
    """Group norm of (N, C, H, W): one group per sample and block of C/G channels."""
    return Layout(
        groups_text=f"over each sample's groups of C/G = {C // G} consecutive channels and "
        f"their positions, one mean and one variance per (sample, group)",
        to_groups=lambda a: a.reshape(N * G, -1),
        from_groups=lambda m: m.reshape(N, C, H, W),
        param_view=lambda p: p.reshape(1, C, 1, 1),
        param_axes=(0, 2, 3),
        alternatives=(
            (
                lambda a: a.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N * G, -1),
                "over strided channels (channel c in group c % G): group g holds the "
                "consecutive channels g*C/G ... (g+1)*C/G - 1, which x.reshape(N, G, -1) lines up",
            ),
            (
                lambda a: a.reshape(N, -1),
                "over each whole sample (G = 1, layer norm): split the channels into G groups",
            ),
            (
                lambda a: a.reshape(N * C, -1),
                "over each channel of each sample (G = C, instance norm): a group holds C/G channels",
            ),
            (
                lambda a: a.transpose(1, 0, 2, 3).reshape(C, -1),
                "over the batch for each channel, which is spatial batch norm: group norm "
                "never looks across samples",
            ),
            (
                lambda a: a.reshape(G, -1),
                "over groups that span the whole batch: the statistics must be per sample, "
                "reshape to (N, G, -1)",
            ),
        ),
    )


# ---------------------------------------------------------------------------------------
# Seeded inputs
# ---------------------------------------------------------------------------------------


def _grouped_input(rng, layout, groups_shape, tiny_var):
    """x whose groups have known biased variances, the first one equal to `tiny_var`.

    A group with variance comparable to eps is what tells eps-inside-the-root apart from
    eps-outside and eps-missing; the others have variances of order 1 to 10.
    """
    n_groups, size = groups_shape
    z = rng.normal(size=groups_shape)
    z -= z.mean(axis=1, keepdims=True)
    z /= np.sqrt(np.mean(z**2, axis=1, keepdims=True))
    spread = rng.uniform(1.0, 3.0, size=(n_groups, 1))
    spread[0] = np.sqrt(tiny_var)
    centre = rng.uniform(-3.0, 3.0, size=(n_groups, 1))
    return np.ascontiguousarray(layout.from_groups(centre + spread * z))


def _params(rng, shape):
    """gamma far from 1 with mixed signs, beta far from 0."""
    gamma = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    beta = rng.normal(0.0, 2.0, size=shape)
    return gamma, beta


def _smooth_input(rng, shape):
    """Off-centre, unevenly scaled data with no tiny variances, for gradient checks."""
    return rng.uniform(-3, 3) + rng.uniform(0.5, 3.0) * rng.normal(size=shape)


# ---------------------------------------------------------------------------------------
# Calling the student's function
# ---------------------------------------------------------------------------------------


def _call(function_name, fn, *args):
    """Call fn; an exception on valid input becomes a CheckFailed, except NotImplementedError.

    NotImplementedError passes through untouched: it is the student edition's stub saying
    which exercise comes next.
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        shapes = ", ".join(str(a.shape) for a in args if isinstance(a, np.ndarray))
        raise CheckFailed(
            f"{function_name} raised {type(err).__name__}: {err}\n"
            f"The inputs were valid (array shapes {shapes}). If this is a broadcasting "
            f"error, check the axis of every mean and sum and whether it keeps its dimension "
            f"(keepdims=True)."
        ) from err


def _unpack(function_name, result, names):
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise CheckFailed(
            f"{function_name} must return a tuple ({', '.join(names)}); got {got}"
        )
    return result


def _forward(function_name, fn, *args):
    """(out, cache) from a forward pass, or CheckFailed saying what came back instead."""
    return _unpack(function_name, _call(function_name, fn, *args), ("out", "cache"))


def _require_array(function_name, name, a, shape, hint=""):
    if not isinstance(a, np.ndarray):
        raise CheckFailed(f"{function_name}: {name} must be a numpy array; got {type(a).__name__}")
    if a.shape != tuple(shape):
        raise CheckFailed(
            f"{function_name}: {name} has shape {a.shape}; expected {tuple(shape)}. {hint}".rstrip()
        )
    if a.dtype != np.float64:
        raise CheckFailed(
            f"{function_name}: {name} has dtype {a.dtype} for float64 inputs; keep the input's "
            f"precision (no casts, no integer arrays)"
        )
    if not np.all(np.isfinite(a)):
        raise CheckFailed(
            f"{function_name}: {name} contains NaN or inf on ordinary inputs; look for a "
            f"division by a zero variance or a square root of a negative number"
        )


def _require_unchanged(function_name, originals):
    """originals: {name: (array as passed, copy taken before the call)}."""
    for name, (now, before) in originals.items():
        if now.shape != before.shape or not np.array_equal(now, before):
            raise CheckFailed(
                f"{function_name} modified its input {name} in place. Build new arrays "
                f"(e.g. `centred = x - mean`) instead of updating the argument (`x -= mean`, "
                f"`x[...] = ...`): the caller still needs its {name}"
            )


# ---------------------------------------------------------------------------------------
# Diagnosing a normalized output
# ---------------------------------------------------------------------------------------


def _is_centred(groups):
    scale = max(1.0, float(np.max(np.abs(groups))))
    return bool(np.all(np.abs(groups.mean(axis=1)) < MEAN_TOL * scale))


def _matches(a, b, rtol=MODEL_RTOL):
    """Do a and b agree to rtol, entry by entry? False for anything not numeric."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape:
        return False
    return bool(np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(b), 1e-300) + 1e-14))


def _variance_models(v, n, eps):
    """Variance of xhat per group under the right formula and under the usual mistakes."""
    return (
        ("correct", v / (v + eps), ""),
        (
            "unbiased variance",
            v / (v * n / (n - 1) + eps),
            f"the variance looks unbiased: the normalized output's std is sqrt((n-1)/n) of "
            f"what it should be for groups of n = {n}. Divide the sum of squared deviations "
            f"by n (np.mean, or np.var with the default ddof=0), not by n - 1: training "
            f"normalizes with the biased batch variance (Algorithm 1 of the paper)",
        ),
        (
            "eps missing",
            np.ones_like(v),
            "eps is missing: a group whose variance is as small as eps came out with variance "
            "exactly 1. Divide by sqrt(var + eps)",
        ),
        (
            "eps outside the square root",
            v / (np.sqrt(v) + eps) ** 2,
            "eps is outside the square root: you divide by sqrt(var) + eps. Divide by "
            "sqrt(var + eps)",
        ),
        (
            "no square root",
            v / (v + eps) ** 2,
            "the square root is missing: you divide by var + eps. Divide by the standard "
            "deviation sqrt(var + eps)",
        ),
        (
            "default eps used",
            v / (v + DEFAULT_EPS),
            f"eps is not read from the parameter dict: the checks passed eps={EPS:g} and the "
            f"output matches eps={DEFAULT_EPS:g}. Use param.get('eps', {DEFAULT_EPS:g})",
        ),
    )


def _centred_x(layout_to_groups, x):
    groups_x = layout_to_groups(x)
    return groups_x - groups_x.mean(axis=1, keepdims=True)


def _affine_slope(groups, centred_x):
    """Per-group least-squares slope of groups on centred_x, and whether the fit is exact."""
    slope = np.sum(groups * centred_x, axis=1, keepdims=True) / np.sum(centred_x**2, axis=1, keepdims=True)
    residual = groups - slope * centred_x
    exact = np.max(np.abs(residual)) <= 1e-7 * max(1.0, float(np.max(np.abs(groups))))
    return slope, bool(exact)


def _normalized_under(to_groups, xhat, x):
    """Is xhat, grouped this way, centred and an increasing affine function of x per group?"""
    groups = to_groups(xhat)
    if not _is_centred(groups):
        return False
    slope, exact = _affine_slope(groups, _centred_x(to_groups, x))
    return exact and bool(np.all(slope > 0))


def _wrong_grouping(function_name, layout, x, out, gamma, beta):
    """Raise CheckFailed if out is normalized with one of the layout's mistaken groupings."""
    for alternative in layout.alternatives:
        to_groups, description = alternative[:2]
        param_view = alternative[2] if len(alternative) > 2 else layout.param_view
        xhat = (out - param_view(beta)) / param_view(gamma)
        if _normalized_under(to_groups, xhat, x):
            raise CheckFailed(
                f"{function_name}: statistics over the wrong axis: your output is "
                f"normalized {description}. It should be normalized {layout.groups_text}"
            )


def _diagnose_normalized(function_name, layout, x, out, gamma, beta, eps):
    """Raise CheckFailed unless out is gamma times a per-group normalized x, plus beta."""
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    groups = layout.to_groups(xhat)
    if not _is_centred(groups):
        swapped = (out - layout.param_view(gamma)) / layout.param_view(beta)
        if _is_centred(layout.to_groups(swapped)):
            raise CheckFailed(
                f"{function_name}: gamma and beta are swapped: the output is beta * xhat + "
                f"gamma. gamma is the scale (multiply xhat by it), beta the shift (add it last)"
            )
        if _is_centred(layout.to_groups(out)):
            raise CheckFailed(
                f"{function_name}: the output is normalized but gamma and beta are not "
                f"applied. Finish by scaling xhat with gamma and shifting by beta"
            )
        _wrong_grouping(function_name, layout, x, out, gamma, beta)
        worst = float(np.max(np.abs(groups.mean(axis=1))))
        raise CheckFailed(
            f"{function_name}: (out - beta) / gamma should have mean 0 {layout.groups_text}, "
            f"so that the mean of out is beta; its mean is off by up to {worst:.3g}. Subtract "
            f"the mean taken {layout.groups_text}, and apply gamma and beta last"
        )
    centred_x = _centred_x(layout.to_groups, x)
    slope, exact = _affine_slope(groups, centred_x)
    if not exact:
        _wrong_grouping(function_name, layout, x, out, gamma, beta)
        raise CheckFailed(
            f"{function_name}: inside each normalization group, the output should be an "
            f"affine function of x (x - mean, divided by one standard deviation, times gamma, "
            f"plus beta); yours is not. Check that every entry uses its own group's "
            f"statistics, and that nothing nonlinear (abs, clipping, squares) is applied to "
            f"x - mean"
        )
    if np.any(slope <= 0):
        raise CheckFailed(
            f"{function_name}: the normalized output decreases as x grows: compute x - mean, "
            f"not mean - x"
        )
    v = np.mean(centred_x**2, axis=1)
    n = groups.shape[1]
    s2 = np.mean(groups**2, axis=1)
    models = _variance_models(v, n, eps)
    if _matches(s2, models[0][1]):
        return
    for name, predicted, message in models[1:]:
        if name == "default eps used" and eps == DEFAULT_EPS:
            continue
        if _matches(s2, predicted):
            raise CheckFailed(f"{function_name}: {message}")
    ratio = np.sqrt(s2 / models[0][1])
    g = int(np.argmax(np.abs(ratio - 1)))
    raise CheckFailed(
        f"{function_name}: the output has the wrong spread: the std of (out - beta) / gamma "
        f"should be sqrt(var / (var + eps)) in each group (var: the biased variance of the "
        f"group, eps={eps:g}); in group {g} it is {ratio[g]:.6g} times that. Normalize by "
        f"sqrt(var + eps) with var = mean of (x - mean)**2 over the group"
    )


# ---------------------------------------------------------------------------------------
# Batch norm's running statistics and test mode (vanilla and spatial)
# ---------------------------------------------------------------------------------------


def _check_running_update(function_name, bn_param, old_mean, old_var, batch_mean, batch_var,
                          momentum, n):
    """bn_param after one training step must hold momentum * old + (1 - momentum) * batch."""
    keep, new = momentum, 1.0 - momentum
    for key, old, batch in (("running_mean", old_mean, batch_mean), ("running_var", old_var, batch_var)):
        got = bn_param.get(key)
        if got is None or (isinstance(got, np.ndarray) and got.shape == old.shape and np.array_equal(got, old)):
            raise CheckFailed(
                f"{function_name}: running statistics not written back: after a training "
                f"step bn_param['{key}'] still holds its old value. Store the updated "
                f"average in the dict: bn_param['{key}'] = ..."
            )
        if not isinstance(got, np.ndarray) or got.shape != old.shape:
            raise CheckFailed(
                f"{function_name}: bn_param['{key}'] must be an array of shape {old.shape} "
                f"(one value per feature); got {getattr(got, 'shape', type(got).__name__)}"
            )
        if _matches(got, keep * old + new * batch):
            continue
        if _matches(got, new * old + keep * batch):
            raise CheckFailed(
                f"{function_name}: running-average momentum reversed: bn_param['{key}'] "
                f"weighs the old value by 1 - momentum. Here momentum is the weight kept on "
                f"the OLD value: running = momentum * running + (1 - momentum) * batch "
                f"(PyTorch's momentum=0.1 is the opposite convention)"
            )
        if _matches(got, batch):
            raise CheckFailed(
                f"{function_name}: bn_param['{key}'] was replaced by the batch statistic; it "
                f"should be an exponential running average: momentum * running + "
                f"(1 - momentum) * batch"
            )
        if key == "running_var" and _matches(got, keep * old + new * batch * n / (n - 1)):
            raise CheckFailed(
                f"{function_name}: running_var looks like the unbiased variance (it is "
                f"n/(n-1) times too large for n = {n}); store the biased one (divide by n), "
                f"the same variance the training step normalizes with"
            )
        if key == "running_var" and _matches(got, keep * old + new * np.sqrt(batch)):
            raise CheckFailed(
                f"{function_name}: running_var averages the standard deviation; average the "
                f"variance"
            )
        raise CheckFailed(
            f"{function_name}: bn_param['{key}'] after a training step is not "
            f"momentum * old + (1 - momentum) * batch statistic (momentum={momentum:g})"
        )


def _check_running_start(function_name, bn_param, batch_mean, batch_var, momentum):
    """Without running statistics in bn_param, they start at zeros (CS231n's convention)."""
    for key, batch in (("running_mean", batch_mean), ("running_var", batch_var)):
        got = bn_param.get(key)
        if got is None:
            raise CheckFailed(
                f"{function_name}: running statistics not written back: bn_param has no "
                f"'{key}' after a training step"
            )
        if not _matches(got, (1.0 - momentum) * batch):
            raise CheckFailed(
                f"{function_name}: when bn_param has no '{key}' yet, it should start at zeros "
                f"and become (1 - momentum) * batch statistic after the first step; got "
                f"something else. Use bn_param.get('{key}', np.zeros(...))"
            )


def _check_test_mode(function_name, layout, call, x, gamma, beta, running_mean, running_var, eps):
    """Test mode: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, per row."""
    bn_param = {"mode": "test", "eps": eps, "running_mean": running_mean.copy(),
                "running_var": running_var.copy()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, _ = _forward(function_name, call, x, gamma, beta, bn_param)
    _require_unchanged(function_name, originals)
    _require_array(function_name, "out (test mode)", out, x.shape)
    for key, before in (("running_mean", running_mean), ("running_var", running_var)):
        after = bn_param.get(key)
        if not isinstance(after, np.ndarray) or not np.array_equal(after, before):
            raise CheckFailed(
                f"{function_name}: test mode changed bn_param['{key}']; only training updates "
                f"the running statistics"
            )
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    if _is_centred(layout.to_groups(xhat)):
        raise CheckFailed(
            f"{function_name}: test mode uses batch statistics: its output is normalized "
            f"with the mean and variance of the test batch. Test mode must use "
            f"bn_param['running_mean'] and bn_param['running_var'], so that a sample's output "
            f"does not depend on the rest of the batch"
        )
    running_mean_map = np.broadcast_to(layout.param_view(running_mean), x.shape)
    centred = layout.to_groups(x) - layout.to_groups(running_mean_map)
    hint = "divide by sqrt(running_var + eps)"
    _expect(
        function_name, layout.to_groups(xhat), (1.0 / np.sqrt(running_var + eps))[:, None] * centred,
        (
            ((1.0 / np.sqrt(running_var))[:, None] * centred, f"eps is missing in test mode: {hint}"),
            ((1.0 / (np.sqrt(running_var) + eps))[:, None] * centred,
             f"eps is outside the square root in test mode: {hint}"),
            ((1.0 / (running_var + eps))[:, None] * centred, f"the square root is missing in test mode: {hint}"),
        ),
        "in test mode each feature should be the affine map gamma * (x - running_mean) / "
        "sqrt(running_var + eps) + beta, which equals beta at x = running_mean; yours is not. Use "
        "the running statistics from bn_param in place of the batch statistics",
    )


# ---------------------------------------------------------------------------------------
# Backward passes against numeric gradients
# ---------------------------------------------------------------------------------------


def _reduction_hint(name, got, dout, layout, param_shape):
    """Name the axes a wrongly shaped dgamma/dbeta was summed over, when recognizable."""
    axes_text = ", ".join(str(a) for a in layout.param_axes)
    hint = (
        f"{name} must have the shape of its parameter, {param_shape}: the parameter is shared "
        f"across axes ({axes_text}) of x, so its gradient sums over exactly those axes"
    )
    if isinstance(got, np.ndarray):
        for axes in ((1,), tuple(range(1, dout.ndim)), (0, 1), None):
            if axes is not None and max(axes) >= dout.ndim:
                continue
            if got.shape == np.sum(dout, axis=axes).shape and got.shape != param_shape:
                where = "all axes" if axes is None else f"axis {axes if len(axes) > 1 else axes[0]}"
                return (
                    f"gradients summed over the wrong axis: {name} has shape {got.shape}, as if "
                    f"summed over {where}. {hint}"
                )
    return hint


def _numeric(call, x, gamma, beta, dout):
    return (
        eval_numerical_gradient_array(lambda x_: call(x_, gamma, beta)[0], x, dout),
        eval_numerical_gradient_array(lambda g_: call(x, g_, beta)[0], gamma, dout),
        eval_numerical_gradient_array(lambda b_: call(x, gamma, b_)[0], beta, dout),
    )


def _explain_dx(function_name, layout, x, dx, numeric_dx):
    """Recognize dx errors by their shape inside each normalization group."""
    diff = layout.to_groups(dx - numeric_dx)
    centred_x = _centred_x(layout.to_groups, x)
    tol = 1e-5 * float(np.max(np.abs(diff)))
    constant = diff - diff.mean(axis=1, keepdims=True)
    if np.max(np.abs(constant)) < tol:
        raise CheckFailed(
            f"{function_name}: dx is missing the path through the mean: it is off by a "
            f"constant in each normalization group, which is exactly the term that reaches x "
            f"through mu. mu depends on every x_i of its group: add dmu / n to every entry "
            f"(the branch dx2 of the staged graph)"
        )
    k = np.sum(diff * centred_x, axis=1, keepdims=True) / np.sum(centred_x**2, axis=1, keepdims=True)
    if np.max(np.abs(diff - k * centred_x)) < tol:
        raise CheckFailed(
            f"{function_name}: dx is missing the path through the variance: its error is "
            f"proportional to x - mean in each group, the shape of the term that reaches x "
            f"through var. Include dvar and the branch dxmu2 = 2 * xmu * dvar / n"
        )
    k = np.sum(constant * centred_x, axis=1, keepdims=True) / np.sum(centred_x**2, axis=1, keepdims=True)
    if np.max(np.abs(constant - k * centred_x)) < tol:
        raise CheckFailed(
            f"{function_name}: dx is missing the paths through the mean AND the variance: "
            f"dx = gamma * dout / sqrt(var + eps) treats mu and var as constants, but both "
            f"depend on x. Backpropagate through var and mu too"
        )
    worst = np.unravel_index(int(np.argmax(np.abs(dx - numeric_dx))), dx.shape)
    raise CheckFailed(
        f"{function_name}: dx disagrees with the numeric gradient (relative error "
        f"{rel_error(dx, numeric_dx):.2g}, worst at index {tuple(int(i) for i in worst)}). "
        f"Compare your intermediate gradients one by one with numeric ones"
    )


def _check_backward(function_name, backward, call, layout, x, gamma, beta, dout):
    """Compare backward(dout, cache) with centered differences of `call`, a checked forward."""
    _, cache = call(x, gamma, beta)
    originals = {"dout": (dout, dout.copy()), "x": (x, x.copy())}
    grads = _unpack(function_name, _call(function_name, backward, dout, cache), ("dx", "dgamma", "dbeta"))
    _require_unchanged(function_name, originals)
    dx, dgamma, dbeta = grads
    _require_array(function_name, "dx", dx, x.shape, "dx has the shape of x")
    for name, got in (("dbeta", dbeta), ("dgamma", dgamma)):
        hint = _reduction_hint(name, got, dout, layout, gamma.shape)
        _require_array(function_name, name, got, gamma.shape, hint)
    numeric_dx, numeric_dgamma, numeric_dbeta = _numeric(call, x, gamma, beta, dout)
    if rel_error(dbeta, numeric_dbeta) > GRAD_TOL:
        raise CheckFailed(
            f"{function_name}: dbeta disagrees with the numeric gradient (relative error "
            f"{rel_error(dbeta, numeric_dbeta):.2g}). beta is added to every output, so dbeta is "
            f"dout summed over axes {layout.param_axes}"
        )
    if rel_error(dgamma, numeric_dgamma) > GRAD_TOL:
        from_x = np.sum(dout * x, axis=layout.param_axes)
        centred = layout.from_groups(layout.to_groups(x) - layout.to_groups(x).mean(axis=1, keepdims=True))
        if rel_error(dgamma, from_x) < GRAD_TOL:
            raise CheckFailed(
                f"{function_name}: dgamma computed from x instead of xhat: gamma multiplies "
                f"the normalized xhat, so dgamma = sum of dout * xhat (over axes "
                f"{layout.param_axes})"
            )
        if rel_error(dgamma, np.sum(dout * centred, axis=layout.param_axes)) < GRAD_TOL:
            raise CheckFailed(
                f"{function_name}: dgamma computed from x - mean instead of xhat (not divided "
                f"by the standard deviation): dgamma = sum of dout * xhat"
            )
        if rel_error(dgamma, gamma * numeric_dgamma) < GRAD_TOL:
            raise CheckFailed(
                f"{function_name}: dgamma has an extra factor gamma: the local gradient of "
                f"the output with respect to gamma is xhat alone"
            )
        raise CheckFailed(
            f"{function_name}: dgamma disagrees with the numeric gradient (relative error "
            f"{rel_error(dgamma, numeric_dgamma):.2g}); dgamma = sum of dout * xhat over axes "
            f"{layout.param_axes}"
        )
    if rel_error(dx, numeric_dx) > GRAD_TOL:
        _explain_dx(function_name, layout, x, dx, numeric_dx)
    return rel_error(dx, numeric_dx)


def _print_gradients_pass(function_name):
    print(f"PASS {function_name}: dx, dgamma and dbeta match numeric gradients (relative error < {GRAD_TOL:g})")


def _needs_forward(function_name, forward_name, verify, forward):
    """Run a forward check quietly; a backward pass cannot be judged on a broken forward."""
    try:
        verify(forward)
    except CheckFailed as err:
        raise CheckFailed(
            f"{function_name} cannot be checked until {forward_name} passes its check, "
            f"because the numeric gradient differentiates your forward pass. {err}"
        ) from err


def _package_function(module, name):
    """The package's implementation, looked up at call time (so edits and reloads count)."""
    import importlib

    return getattr(importlib.import_module(f"cs231n_bn.{module}"), name)


# ---------------------------------------------------------------------------------------
# Batch norm
# ---------------------------------------------------------------------------------------


def _verify_batchnorm_like(function_name, fn, layout, x, gamma, beta, momentum, n):
    """The training step of batch norm or spatial batch norm; returns nothing or raises."""
    groups_x = layout.to_groups(x)
    batch_mean = groups_x.mean(axis=1)
    batch_var = np.mean((groups_x - batch_mean[:, None]) ** 2, axis=1)
    rng = np.random.default_rng(7)
    old_mean = rng.normal(size=batch_mean.shape)
    old_var = rng.uniform(0.5, 2.0, size=batch_mean.shape)

    bn_param = {"mode": "train", "eps": EPS, "momentum": momentum,
                "running_mean": old_mean.copy(), "running_var": old_var.copy()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, _ = _forward(function_name, fn, x, gamma, beta, bn_param)
    _require_unchanged(function_name, originals)
    _require_array(function_name, "out", out, x.shape, "out has the shape of x")
    if np.shares_memory(out, x):
        raise CheckFailed(
            f"{function_name}: out shares memory with x, so x was overwritten in place; "
            f"return a new array"
        )
    _diagnose_normalized(function_name, layout, x, out, gamma, beta, EPS)
    _check_running_update(function_name, bn_param, old_mean, old_var, batch_mean, batch_var, momentum, n)

    fresh = {"mode": "train"}
    x_default = _grouped_input(np.random.default_rng(11), layout, groups_x.shape, DEFAULT_EPS)
    out, _ = _forward(function_name, fn, x_default, gamma, beta, fresh)
    _require_array(function_name, "out", out, x.shape)
    _diagnose_normalized(function_name, layout, x_default, out, gamma, beta, DEFAULT_EPS)
    g = layout.to_groups(x_default)
    default_mean = g.mean(axis=1)
    _check_running_start(function_name, fresh, default_mean,
                         np.mean((g - default_mean[:, None]) ** 2, axis=1), 0.9)

    running_var = old_var.copy()
    running_var[0] = EPS  # a running variance as small as eps exposes a misplaced eps
    _check_test_mode(function_name, layout, fn, x, gamma, beta, old_mean, running_var, EPS)


def _verify_batchnorm_forward(fn):
    N, D = 8, 5
    rng = np.random.default_rng(0)
    layout = _bn_layout()
    x = _grouped_input(rng, layout, (D, N), EPS)
    gamma, beta = _params(rng, (D,))
    _verify_batchnorm_like("batchnorm_forward", fn, layout, x, gamma, beta, 0.7, N)


def check_batchnorm_forward(batchnorm_forward=None):
    """Check a batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache).

    Train mode: per-feature normalization with the biased batch variance and eps inside
    the square root, gamma and beta applied, running averages with CS231n's momentum
    convention written back into bn_param (starting from zeros). Test mode: the running
    statistics, row by row. Inputs never modified.
    """
    fn = batchnorm_forward or _package_function("batchnorm", "batchnorm_forward")
    _verify_batchnorm_forward(fn)
    print(
        "PASS batchnorm_forward: train mode normalizes each feature over the batch (biased "
        "variance, eps inside the root), updates the running averages, and test mode uses them"
    )


def _check_bn_backward(function_name, backward, forward):
    forward = forward or _package_function("batchnorm", "batchnorm_forward")
    _needs_forward(function_name, "batchnorm_forward", _verify_batchnorm_forward, forward)
    N, D = 6, 4
    rng = np.random.default_rng(1)
    x = _smooth_input(rng, (N, D))
    gamma, beta = _params(rng, (D,))
    dout = rng.normal(size=(N, D))
    _check_backward(
        function_name, backward,
        lambda x_, g_, b_: forward(x_, g_, b_, {"mode": "train", "eps": EPS}),
        _bn_layout(), x, gamma, beta, dout,
    )


def check_batchnorm_backward(batchnorm_backward=None, batchnorm_forward=None):
    """Check a staged batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically.

    The cache comes from `batchnorm_forward` (default: the package's), which must pass
    check_batchnorm_forward first.
    """
    fn = batchnorm_backward or _package_function("batchnorm", "batchnorm_backward")
    _check_bn_backward("batchnorm_backward", fn, batchnorm_forward)
    _print_gradients_pass("batchnorm_backward")


def check_batchnorm_backward_alt(batchnorm_backward_alt=None, batchnorm_forward=None):
    """Check the closed-form batchnorm_backward_alt(dout, cache) numerically."""
    fn = batchnorm_backward_alt or _package_function("batchnorm", "batchnorm_backward_alt")
    _check_bn_backward("batchnorm_backward_alt", fn, batchnorm_forward)
    _print_gradients_pass("batchnorm_backward_alt")


# ---------------------------------------------------------------------------------------
# Layer norm
# ---------------------------------------------------------------------------------------


def _verify_layernorm_forward(fn):
    function_name = "layernorm_forward"
    N, D = 5, 8
    rng = np.random.default_rng(2)
    layout = _ln_layout()
    x = _grouped_input(rng, layout, (N, D), EPS)
    gamma, beta = _params(rng, (D,))
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, _ = _forward(function_name, fn, x, gamma, beta, {"eps": EPS})
    _require_unchanged(function_name, originals)
    _require_array(function_name, "out", out, x.shape, "out has the shape of x")
    _diagnose_normalized(function_name, layout, x, out, gamma, beta, EPS)

    x_default = _grouped_input(np.random.default_rng(12), layout, (N, D), DEFAULT_EPS)
    out, _ = _forward(function_name, fn, x_default, gamma, beta, {})
    _require_array(function_name, "out", out, x.shape)
    _diagnose_normalized(function_name, layout, x_default, out, gamma, beta, DEFAULT_EPS)

    whole, _ = fn(x, gamma, beta, {"eps": EPS})
    for i in range(N):
        alone, _ = _forward(function_name, fn, x[i:i + 1], gamma, beta, {"eps": EPS})
        if not _matches(alone, whole[i:i + 1], 1e-12):
            raise CheckFailed(
                f"{function_name}: sample {i} comes out differently alone than in the batch; "
                f"layer norm must not depend on the other samples"
            )


def check_layernorm_forward(layernorm_forward=None):
    """Check a layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)."""
    fn = layernorm_forward or _package_function("layernorm", "layernorm_forward")
    _verify_layernorm_forward(fn)
    print(
        "PASS layernorm_forward: each sample is normalized over its own features (biased "
        "variance, eps inside the root), independently of the rest of the batch"
    )


def check_layernorm_backward(layernorm_backward=None, layernorm_forward=None):
    """Check a layernorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    function_name = "layernorm_backward"
    fn = layernorm_backward or _package_function("layernorm", "layernorm_backward")
    forward = layernorm_forward or _package_function("layernorm", "layernorm_forward")
    _needs_forward(function_name, "layernorm_forward", _verify_layernorm_forward, forward)
    N, D = 4, 6
    rng = np.random.default_rng(3)
    x = _smooth_input(rng, (N, D)) * rng.uniform(0.5, 2.0, size=(N, 1))
    gamma, beta = _params(rng, (D,))
    dout = rng.normal(size=(N, D))
    _check_backward(
        function_name, fn, lambda x_, g_, b_: forward(x_, g_, b_, {"eps": EPS}),
        _ln_layout(), x, gamma, beta, dout,
    )
    _print_gradients_pass("layernorm_backward")


# ---------------------------------------------------------------------------------------
# Spatial batch norm and group norm, (N, C, H, W)
# ---------------------------------------------------------------------------------------


def _verify_spatial_batchnorm_forward(fn):
    N, C, H, W = 3, 4, 2, 3
    rng = np.random.default_rng(4)
    layout = _spatial_bn_layout(N, C, H, W)
    x = _grouped_input(rng, layout, (C, N * H * W), EPS)
    gamma, beta = _params(rng, (C,))
    _verify_batchnorm_like("spatial_batchnorm_forward", fn, layout, x, gamma, beta, 0.7, N * H * W)


def check_spatial_batchnorm_forward(fn=None):
    """Check a spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); gamma (C,)."""
    fn = fn or _package_function("spatial", "spatial_batchnorm_forward")
    _verify_spatial_batchnorm_forward(fn)
    print(
        "PASS spatial_batchnorm_forward: each channel is normalized over (N, H, W), the "
        "running averages are updated, and test mode uses them"
    )


def check_spatial_batchnorm_backward(fn=None, forward=None):
    """Check a spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    function_name = "spatial_batchnorm_backward"
    fn = fn or _package_function("spatial", "spatial_batchnorm_backward")
    forward = forward or _package_function("spatial", "spatial_batchnorm_forward")
    _needs_forward(function_name, "spatial_batchnorm_forward", _verify_spatial_batchnorm_forward, forward)
    N, C, H, W = 2, 3, 2, 2
    rng = np.random.default_rng(5)
    x = _smooth_input(rng, (N, C, H, W))
    gamma, beta = _params(rng, (C,))
    dout = rng.normal(size=x.shape)
    _check_backward(
        function_name, fn, lambda x_, g_, b_: forward(x_, g_, b_, {"mode": "train", "eps": EPS}),
        _spatial_bn_layout(N, C, H, W), x, gamma, beta, dout,
    )
    _print_gradients_pass("spatial_batchnorm_backward")


def _verify_spatial_groupnorm_forward(fn):
    function_name = "spatial_groupnorm_forward"
    N, C, H, W, G = 2, 6, 2, 2, 3
    rng = np.random.default_rng(6)
    layout = _groupnorm_layout(N, C, H, W, G)
    x = _grouped_input(rng, layout, (N * G, (C // G) * H * W), EPS)
    gamma, beta = _params(rng, (C,))
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, _ = _forward(function_name, fn, x, gamma, beta, G, {"eps": EPS})
    _require_unchanged(function_name, originals)
    _require_array(function_name, "out", out, x.shape, "out has the shape of x, (N, C, H, W)")
    _diagnose_normalized(function_name, layout, x, out, gamma, beta, EPS)

    x_default = _grouped_input(np.random.default_rng(13), layout, (N * G, (C // G) * H * W), DEFAULT_EPS)
    out, _ = _forward(function_name, fn, x_default, gamma, beta, G, {})
    _require_array(function_name, "out", out, x.shape)
    _diagnose_normalized(function_name, layout, x_default, out, gamma, beta, DEFAULT_EPS)


def check_spatial_groupnorm_forward(fn=None):
    """Check a spatial_groupnorm_forward(x, gamma, beta, G, gn_param) -> (out, cache); gamma (C,)."""
    fn = fn or _package_function("spatial", "spatial_groupnorm_forward")
    _verify_spatial_groupnorm_forward(fn)
    print(
        "PASS spatial_groupnorm_forward: each (sample, group of C/G channels) block is "
        "normalized over its channels and positions, with per-channel gamma and beta"
    )


def check_spatial_groupnorm_backward(fn=None, forward=None):
    """Check a spatial_groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    function_name = "spatial_groupnorm_backward"
    fn = fn or _package_function("spatial", "spatial_groupnorm_backward")
    forward = forward or _package_function("spatial", "spatial_groupnorm_forward")
    _needs_forward(function_name, "spatial_groupnorm_forward", _verify_spatial_groupnorm_forward, forward)
    N, C, H, W, G = 2, 4, 2, 2, 2
    rng = np.random.default_rng(8)
    x = _smooth_input(rng, (N, C, H, W))
    gamma, beta = _params(rng, (C,))
    dout = rng.normal(size=x.shape)
    _check_backward(
        function_name, fn, lambda x_, g_, b_: forward(x_, g_, b_, G, {"eps": EPS}),
        _groupnorm_layout(N, C, H, W, G), x, gamma, beta, dout,
    )
    _print_gradients_pass("spatial_groupnorm_backward")


# ---------------------------------------------------------------------------------------
# FullyConnectedNet: the hidden layers
# ---------------------------------------------------------------------------------------

NET_CONFIGS = (  # (normalization, activation, dropout keep ratio)
    (None, "relu", 1.0),
    ("batchnorm", "relu", 1.0),
    ("layernorm", "sigmoid", 1.0),
    ("batchnorm", "sigmoid", 0.7),
)


def _activation(name, z):
    if name == "relu":
        return np.maximum(z, 0.0)
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic sigmoid, written without overflow


def _small_net(cls, normalization, activation, keep, seed):
    """A float64 net with 2 hidden layers and non-trivial biases, gamma and beta."""
    net = cls([5, 4], input_dim=4, num_classes=3, normalization=normalization, activation=activation,
              dropout_keep_ratio=keep, dtype=np.float64, weight_scale=0.7, seed=seed, reg=0.1)
    rng = np.random.default_rng(seed + 100)
    for name, p in net.params.items():
        if name.startswith("gamma"):
            net.params[name] = rng.uniform(0.5, 2.0, p.shape) * rng.choice([-1.0, 1.0], p.shape)
        elif name.startswith(("beta", "b")):
            net.params[name] = rng.normal(0.0, 0.5, p.shape)
    return net


def _net_label(normalization, activation, keep):
    extra = f", dropout_keep_ratio={keep:g}" if keep != 1 else ""
    return f"normalization={normalization!r}, activation={activation!r}{extra}"


def _verify_fc_net_forward(cls):
    # Without dropout, so that the batch statistics of the training step are those of the
    # test-mode pass on the same X (dropout's train mode is covered by the gradient check).
    for normalization, activation in dict.fromkeys((n, a) for n, a, _ in NET_CONFIGS):
        keep = 1.0
        label = _net_label(normalization, activation, keep)
        net = _small_net(cls, normalization, activation, keep, seed=3)
        for bn_param in net.bn_params:
            bn_param["momentum"] = 0.0  # after one step the running statistics ARE the batch's
        rng = np.random.default_rng(9)
        X = rng.normal(size=(8, 4))
        # A training-mode forward pass alone (loss(X, y) would also run the backward pass).
        _call("FullyConnectedNet._forward", net._forward, X, "train")
        zs = _call("FullyConnectedNet.activation_inputs", net.activation_inputs, X)
        scores = _call("FullyConnectedNet.loss", net.loss, X)
        layer_input = X
        for i, z in enumerate(zs, start=1):
            where = f"FullyConnectedNet ({label}), hidden layer {i}"
            a = layer_input @ net.params[f"W{i}"] + net.params[f"b{i}"]
            _require_array(where, "the activation's input z", z, a.shape)
            if normalization is None:
                if not _matches(z, a, 1e-9):
                    raise CheckFailed(
                        f"{where}: without normalization the activation's input must be the "
                        f"affine output h @ W{i} + b{i} of the previous layer's activations h"
                    )
            else:
                layout = _bn_layout() if normalization == "batchnorm" else _ln_layout()
                try:
                    _diagnose_normalized(where, layout, a, z, net.params[f"gamma{i}"],
                                         net.params[f"beta{i}"], DEFAULT_EPS)
                except CheckFailed as err:
                    raise CheckFailed(
                        f"{err}\n(The {normalization} layer must come right after the affine "
                        f"layer, use gamma{i} and beta{i}, and, for batch norm, the mode of the "
                        f"pass: train mode updates bn_params[{i - 1}], test mode uses it.)"
                    ) from err
            layer_input = _activation(activation, z)
        if normalization == "batchnorm":
            few = _call("FullyConnectedNet.activation_inputs", net.activation_inputs, X[:3])
            if not all(_matches(z_few, z[:3], 1e-9) for z_few, z in zip(few, zs)):
                raise CheckFailed(
                    f"FullyConnectedNet ({label}): in test mode a sample's output depends on the "
                    f"rest of the batch, so batch norm still uses batch statistics. Pass the "
                    f"pass's mode on: set bn_params[i - 1]['mode'] before calling batchnorm_forward"
                )
        L = net.num_layers
        expected = layer_input @ net.params[f"W{L}"] + net.params[f"b{L}"]
        if not _matches(scores, expected, 1e-9):
            raise CheckFailed(
                f"FullyConnectedNet ({label}): the scores are not the last affine layer applied "
                f"to the last hidden layer's {activation} output; check the activation and that "
                f"test mode applies no dropout"
            )


def check_fc_net_forward(FullyConnectedNet=None):
    """Check the hidden layers' forward pass: affine -> [norm] -> activation -> [dropout]."""
    cls = FullyConnectedNet or _package_function("fc_net", "FullyConnectedNet")
    _verify_fc_net_forward(cls)
    print(
        "PASS FullyConnectedNet forward: every hidden layer is affine -> [batch/layer norm] -> "
        "activation, in train and test mode"
    )


def check_fc_net_backward(FullyConnectedNet=None):
    """Check every gradient of FullyConnectedNet.loss against numeric gradients."""
    cls = FullyConnectedNet or _package_function("fc_net", "FullyConnectedNet")
    try:
        _verify_fc_net_forward(cls)
    except CheckFailed as err:
        raise CheckFailed(
            f"the network's backward pass cannot be checked until its forward pass passes "
            f"check_fc_net_forward. {err}"
        ) from err
    for config in NET_CONFIGS:
        net = _small_net(cls, *config, seed=4)
        net.dropout_param["seed"] = 5  # the same dropout mask on every call
        rng = np.random.default_rng(10)
        X = rng.normal(size=(6, 4))
        y = rng.integers(0, 3, size=6)
        _, grads = _call("FullyConnectedNet.loss", net.loss, X, y)
        for name in sorted(net.params):
            where = f"FullyConnectedNet ({_net_label(*config)})"
            if name not in grads:
                raise CheckFailed(f"{where}: grads has no '{name}'; every parameter needs its gradient")
            _require_array(where, f"grads['{name}']", grads[name], net.params[name].shape)
            with warnings.catch_warnings():
                # b right before batch norm does not move the loss; that is the point, not a bug
                warnings.simplefilter("ignore", UserWarning)
                numeric = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False)
            error = rel_error(grads[name], numeric)
            # b right before batch norm has a true gradient of 0: compare absolutely there.
            if error > 1e-6 and np.max(np.abs(grads[name] - numeric)) > 1e-8:
                hint = (
                    "take it from the normalization layer's backward pass"
                    if name.startswith(("gamma", "beta"))
                    else "backpropagate through the layers in reverse order: dropout, "
                    "activation, normalization, then the affine layer"
                )
                raise CheckFailed(
                    f"{where}: grads['{name}'] disagrees with the numeric gradient (relative "
                    f"error {error:.2g}); {hint}"
                )
    print(
        "PASS FullyConnectedNet backward: every gradient matches its numeric gradient, with batch "
        "norm, layer norm and dropout"
    )


# ---------------------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------------------


def _run_rule(function_name, rule, w, dw, config):
    originals = {"w": (w, w.copy()), "dw": (dw, dw.copy())}
    result = _call(function_name, rule, w, dw, config)
    next_w, new_config = _unpack(function_name, result, ("next_w", "config"))
    _require_unchanged(function_name, originals)
    _require_array(function_name, "next_w", next_w, w.shape)
    if not isinstance(new_config, dict):
        raise CheckFailed(
            f"{function_name}: the second return value must be the config dict; got "
            f"{type(new_config).__name__}"
        )
    return next_w, new_config


def _expect(function_name, got, right, mistakes, otherwise):
    """Return if `got` matches `right`; else raise naming the first mistake it matches.

    mistakes: ((what that mistake would give, message), ...); otherwise: generic message.
    """
    if _matches(got, right):
        return
    for wrong, message in mistakes:
        if _matches(got, wrong):
            raise CheckFailed(f"{function_name}: {message}")
    raise CheckFailed(f"{function_name}: {otherwise}")


def check_sgd_momentum(sgd_momentum=None):
    """Check sgd_momentum(w, dw, config) -> (next_w, config): v <- momentum*v - lr*dw; w <- w + v."""
    name = "sgd_momentum"
    rule = sgd_momentum or _package_function("optim", "sgd_momentum")
    rng = np.random.default_rng(20)
    w, dw, v_old = (rng.normal(size=(3, 4)) for _ in range(3))
    lr, mom = 0.1, 0.8
    config = {"learning_rate": lr, "momentum": mom, "velocity": v_old.copy()}
    next_w, config = _run_rule(name, rule, w, dw, config)
    v_right = mom * v_old + (-lr) * dw
    _expect(
        name, config.get("velocity", v_old), v_right,
        (
            (v_old, "the new velocity is not stored: return it in config['velocity'] for the next step"),
            (lr * v_old - mom * dw,
             "learning_rate and momentum are swapped: v <- momentum * v - learning_rate * dw"),
        ),
        "config['velocity'] should be momentum * v - learning_rate * dw; it is not",
    )
    _expect(
        name, next_w, w + v_right,
        (
            (w - v_right, "the step has the wrong sign: the velocity already points downhill, so w <- w + v"),
            (w + v_old, "w moved by the OLD velocity; update v first, then w <- w + v"),
        ),
        "next_w should be w + v with the new velocity v; it is not",
    )
    next_w, _ = _run_rule(name, rule, w, dw, None)
    _expect(
        name, next_w, w - 1e-2 * dw, (),
        "with config=None the velocity starts at zeros, so the first step is -learning_rate * dw "
        "(learning_rate defaults to 1e-2)",
    )
    print("PASS sgd_momentum: the velocity and the step follow v <- momentum * v - learning_rate * dw, w <- w + v")


def check_adam(adam=None):
    """Check adam(w, dw, config) -> (next_w, config) over two steps, bias correction included."""
    name = "adam"
    rule = adam or _package_function("optim", "adam")
    rng = np.random.default_rng(21)
    w, dw1, dw2 = (rng.normal(size=(3, 4)) for _ in range(3))
    # epsilon larger than the default, so that where it goes shows in the result
    lr, b1, b2, tiny = 1e-2, 0.9, 0.999, 1e-4
    eps_inside = "epsilon is inside the square root; divide by sqrt(vhat) + epsilon"

    first_w, config = _run_rule(name, rule, w, dw1, {"learning_rate": lr, "epsilon": tiny})
    if config.get("t") != 1:
        raise CheckFailed(f"{name}: config['t'] counts the steps: 1 after the first; got {config.get('t')!r}")
    _expect(
        name, first_w - w, -lr * dw1 / (np.abs(dw1) + tiny),
        (
            (-lr * (1 - b1) * dw1 / (np.sqrt(1 - b2) * np.abs(dw1) + tiny),
             "the bias correction is missing: m and v start at zero, so divide them by "
             "1 - beta1**t and 1 - beta2**t; the first step is then about learning_rate * sign(dw)"),
            (-lr * dw1 / np.sqrt(dw1**2 + tiny), eps_inside),
        ),
        "the first step from a fresh config should be -learning_rate * dw / (|dw| + epsilon), "
        "about learning_rate * sign(dw); it is not",
    )

    second_w, config = _run_rule(name, rule, first_w, dw2, config)
    first_moment = b1 * (1 - b1) * dw1 + (1 - b1) * dw2
    second_moment = b2 * (1 - b2) * dw1**2 + (1 - b2) * dw2**2
    for key, right, what in (("m", first_moment, "gradients"), ("v", second_moment, "squared gradients")):
        _expect(name, config.get(key, np.nan), right, (),
                f"config['{key}'] after two steps is not the exponential average of the {what}")
    unbiased_first, unbiased_second = first_moment / (1 - b1**2), second_moment / (1 - b2**2)
    _expect(
        name, second_w, first_w - lr * unbiased_first / (np.sqrt(unbiased_second) + tiny),
        ((first_w - lr * unbiased_first / np.sqrt(unbiased_second + tiny), eps_inside),),
        "the second step is wrong: increment t first, correct m and v by 1 - beta**t, and step "
        "by learning_rate * mhat / (sqrt(vhat) + epsilon)",
    )
    print("PASS adam: moments, bias correction and steps match over two updates")
