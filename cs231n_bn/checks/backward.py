"""Backward passes: compare with the right gradients as data, then say exactly what is known.

The right dx, dgamma and dbeta of the check's inputs come from cs231n_bn.checks.reference
(recorded from the instructor's code; computed by it on the grader's secret inputs), and
so do the three paths from x to the output that make up dx, as arrays:

    P1  the direct path (x -> xhat)
    P2  the path through the mean (x -> mu -> xhat), the same for every entry of a group
    P3  the path through the variance (x -> var -> xhat)

A gradient passes when it agrees with the right one to a few dozen rounding errors of the
largest path (times the conditioning of the group's statistics): correct float64 code of
any form always does, a numeric gradient never does. A wrong dx is fitted, group by group,
as a1 P1 + a2 P2 + a3 P3. When the fit is exact, the factors a1, a2, a3 ARE the student's
paths relative to the right ones: a factor -1 is a sign error on that path, 2 a missing
1/2, n a missing 1/n, 0 a path left out; a factor that varies between groups like
sqrt(var + eps) is a wrong power of the standard deviation. When the fit is not exact,
cs231n_bn.checks.backward_fits tries a wider basis (a path's mean over other axes, gamma
misplaced around a mean, the right values at other positions), whose terms are reference
values too, named by the mistake (expected_mistakes); when nothing fits, no such statement
is made: the message lists what was measured.
"""

import dataclasses

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.backward_fits import (
    STOPS_AT_XHAT,
    VARIANCE_READS_X,
    VARIANCE_UNSUMMED,
    candidates,
    describe_factor,
    fit,
    gamma_per_group_text,
    gamma_varies,
    per_group_quantities,
    positions_text,
    stops_at_xhat,
    wider_fit,
)
from cs231n_bn.checks.core import (
    CheckFailed,
    agrees,
    call,
    factor_text,
    matches,
    rel_error,
    require_array,
    require_unchanged,
    rounding_bound,
    unpack,
)

# What the paths are called in the staged graph (notebook 2) and in notebook 3's derivation.
PATH_NAMES = {
    "staged": (
        "the direct branch (dxmu1, through xhat)",
        "the branch through the mean (dmu, dx2)",
        "the branch through the variance (divar, dsqrtvar, dvar, dsq, dxmu2)",
    ),
    "closed": (
        "the direct path (x -> xhat)",
        "the path through the mean (x -> mu)",
        "the path through the variance (x -> var)",
    ),
}
BACKWARD_VALUES = ("dx", "dgamma", "dbeta", "P1", "P2", "P3", "xhat", "group_mean", "group_var")


def _conditioning(expected):
    """Per group, how much rounding in the statistics can grow: 1 + mean^2 / var."""
    return 1.0 + np.ravel(expected["group_mean"]) ** 2 / np.ravel(expected["group_var"])


def gradient_bounds(layout, dout, expected):
    """(dx, dgamma, dbeta) bounds within which correct code agrees with the reference."""
    cond = _conditioning(expected)
    paths = [np.abs(layout.to_groups(expected[p])) for p in ("P1", "P2", "P3")]
    per_group = sum(p.max(axis=1) for p in paths) * cond
    dx_bound = layout.from_groups(np.broadcast_to(per_group[:, None], paths[0].shape))
    abs_dout = np.abs(dout)
    dbeta_scale = np.sum(abs_dout, axis=layout.param_axes)
    dgamma_scale = np.sum(abs_dout * (np.abs(expected["xhat"]) + 1.0), axis=layout.param_axes) * cond.max()
    shape = np.shape(expected["dgamma"])
    return (rounding_bound(dx_bound), rounding_bound(dgamma_scale).reshape(shape),
            rounding_bound(dbeta_scale).reshape(shape))


def _difference_text(got, right, bound):
    """'largest difference D (allowed B) at index I' for a wrong gradient."""
    diff = np.abs(got - right)
    k = np.unravel_index(int(np.argmax(diff - bound)), diff.shape)
    where = tuple(int(i) for i in k)
    return (f"largest difference {diff[k]:.3g} at index {where if len(where) > 1 else where[0]}, where "
            f"rounding allows {np.broadcast_to(bound, diff.shape)[k]:.2g}; relative error {rel_error(got, right):.2g}")


def _explain_dx(exercise, where, style, layout, gamma, dout, dx, expected, bound):
    """Raise CheckFailed saying what is known about a wrong dx."""
    names = PATH_NAMES[style]
    head = f"{where}: dx is not the right gradient ({_difference_text(dx, expected['dx'], bound)})."
    P1, P2, P3 = (layout.to_groups(expected[p]) for p in ("P1", "P2", "P3"))
    xhat = layout.to_groups(expected["xhat"])
    var = np.ravel(expected["group_var"])
    s, r = np.sqrt(var + expected["eps"]), np.sqrt(var)
    target = layout.to_groups(dx)
    n = target.shape[1]
    gamma_g = None
    gamma_map = layout.to_groups(np.broadcast_to(layout.param_view(gamma), dx.shape))
    if np.all(gamma_map == gamma_map[:, :1]):
        gamma_g = gamma_map[:, 0]
    per_group = per_group_quantities(s, r, gamma_g)
    moved = positions_text(dx, expected["dx"])
    if moved:
        raise CheckFailed(f"{head}\n{moved}.", exercise, "positions")
    relative = float(np.max(np.abs(dx - expected["dx"]))) / max(float(np.max(np.abs(expected["dx"]))), 1e-300)
    if relative < 1e-5:
        # far above float64's rounding, yet right to five digits: the size of float32's
        # rounding (1.2e-7) compounded over a few operations, or of a numeric estimate's error
        raise CheckFailed(f"{head}\nIt is right to five digits, far beyond float64's rounding: either an "
                          f"intermediate was held in float32 (an astype, or an array made with dtype=np.float32) "
                          f"in a float64 computation, or this is a numeric estimate, not the derived gradient",
                          exercise, "close but not exact")
    if stops_at_xhat(target, layout.to_groups(expected[STOPS_AT_XHAT])):
        raise CheckFailed(f"{head}\nIt is the gradient that reaches xhat, not x: the backward pass stops "
                          f"there, before the paths through x - mean, the mean and the variance.", exercise,
                          "stops at xhat")

    factors, exact = fit(target, (P1, P2, P3))
    if exact:
        words = [describe_factor(factors[:, j], n, layout, per_group)
                 for j in range(3)]
        if all(w is not None for w in words):
            a = factors.mean(axis=0)
            same = lambda i, j: np.allclose(factors[:, i], factors[:, j], rtol=1e-6, atol=1e-9)  # noqa: E731
            lines = [head, f"Split into its three paths from x to out, {layout.group_word} by {layout.group_word}:"]
            lines += [f"- {name}: {w}" for name, w in zip(names, words)]
            verdict, topic = _verdict(style, words, same, a, n, layout.group_word)
            lines.append(verdict)
            raise CheckFailed("\n".join(lines), exercise, topic)

    # the variance path with each entry's own share where the group's sum belongs
    f2, exact2 = fit(target, (P1, P2, layout.to_groups(expected[VARIANCE_UNSUMMED])))
    if exact2 and np.allclose(f2[:, [0, 2]], 1, rtol=1e-6):
        raise CheckFailed(
            f"{head}\nThe direct path and the path through the mean are right; the path through "
            f"the variance uses each entry's own product dxhat * xhat where the sum over the "
            f"{layout.group_word} belongs: the gradient of a statistic shared by the {layout.group_word} is "
            f"not summed.",
            exercise, "variance path not summed",
        )
    # the variance path reading x where x - mean belongs: in its sum (one factor per group), or
    # entry by entry on the way back to x
    mean = np.ravel(expected["group_mean"])[:, None]
    xmu = xhat * s[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entrywise = P3 * (xmu + mean) / xmu
    in_sum = np.ravel(expected[VARIANCE_READS_X])
    if exact and np.allclose(factors[:, :2], 1, rtol=1e-6) and matches(factors[:, 2], in_sum, 1e-6):
        raise CheckFailed(f"{head}\nThe direct path and the path through the mean are right; the path through the "
                          f"variance sums dxhat times x where x - mean belongs (the sum that gives the gradient of "
                          f"the inverse standard deviation).", exercise, "variance path reads x")
    if np.all(np.isfinite(entrywise)):
        f3, exact3 = fit(target, (P1, P2, entrywise))
        if exact3 and np.allclose(f3, 1, rtol=1e-6):
            raise CheckFailed(f"{head}\nThe direct path and the path through the mean are right; on its way back to "
                              f"x the path through the variance multiplies by x where x - mean belongs (the local "
                              f"gradient of the square).", exercise, "variance path reads x")
    for key, what in (("dx_without_gamma", "gamma is missing"), ("dx_gamma_twice", "gamma is applied twice")):
        if matches(target, layout.to_groups(expected[key])):
            raise CheckFailed(
                f"{head}\nIt is what the right backward pass gives when gamma is replaced by "
                f"{'1' if key == 'dx_without_gamma' else 'gamma^2'}: {what} where the gradient "
                f"enters xhat.", exercise, "gamma in dxhat",
            )
    per_group_gamma = gamma_per_group_text(layout, target, gamma, expected)
    if per_group_gamma:
        raise CheckFailed(f"{head}\n{per_group_gamma}.", exercise, "gamma per group")
    fitted = wider_fit(layout, target, dout, gamma, expected, per_group)
    if fitted:
        raise CheckFailed("\n".join([head] + fitted), exercise, "means taken wrongly")
    if exact:
        # It splits into the paths, but some factor follows no pattern the checks know: say
        # what was measured, path by path, and no more.
        lines = [head, f"Split into its three paths from x to out, {layout.group_word} by {layout.group_word}:"]
        for j, name in enumerate(names):
            w = words[j] or (f"{factors[:, j].min():.4g} to {factors[:, j].max():.4g} times the right "
                             f"one, a factor that differs between {layout.group_word}s")
            lines.append(f"- {name}: {w}")
        lines.append("The paths marked with a varying factor follow none of the patterns the checks "
                     "recognize (a constant, gamma, a power of the standard deviation, eps left out).")
        raise CheckFailed("\n".join(lines), exercise, "paths unexplained")
    raise CheckFailed(f"{head}\n{_measured_text(layout, target, (P1, P2, P3), factors)}", exercise, "unexplained")


def _measured_text(layout, target, paths, factors):
    """What was measured of a dx that no fit explains, and where to look."""
    word = layout.group_word
    error = np.abs(target - sum(paths))
    scale = np.max(np.abs(sum(paths)), axis=1)
    right_groups = [int(k) for k in np.flatnonzero(np.max(error, axis=1) <= 1e-9 * scale)]
    residual = target - sum(f[:, None] * p for f, p in zip(factors.T, paths))
    share = float(np.linalg.norm(residual) / max(np.linalg.norm(target - sum(paths)), 1e-300))
    sums = np.abs(target.sum(axis=1))
    zero_sum = bool(np.all(sums <= 1e-9 * np.abs(target).sum(axis=1)))
    worst = int(np.argmax(np.max(error, axis=1)))
    first = int(np.argmax(np.max(error, axis=0)))
    return (f"It does not split into the three paths (direct, through the mean, through the variance) "
            f"with one factor per path and {word}, so the mistake is not a wrong constant or a wrong power on "
            f"one path; nor is it one of those paths with its mean taken over other axes, or with gamma "
            f"misplaced around a mean. What was measured: dgamma and dbeta are right; the best fit with one "
            f"factor per path and {word} leaves {share:.0%} of the error unexplained; dx "
            f"{'does' if zero_sum else 'does not'} sum to zero over each {word} (a right dx does, because "
            f"shifting a whole {word} does not change the output); "
            + (f"{word}s {right_groups} are right; " if right_groups else "")
            + f"the largest error is in {word} {worst}, and at position {first} of the {word}s' entries "
            f"(counted in the order of x). Where to look: a term of dx that is not one number per {word} "
            f"times a path, such as a reduction over a mixture of axes or an entry-wise product where a sum "
            f"belongs. Compare your intermediate gradients one at a time with numeric ones (notebook 2 "
            f"shows how).")


def _verdict(style, words, same, a, n, group_word):
    """The sentence that names the mistake, from the per-path descriptions."""
    off = [i for i, w in enumerate(words) if w != "right"]
    if not off:
        return "All three paths are right, but the total is not: the paths are not added up.", "sum"
    if len(off) == 1:
        short = ("the direct path", "the path through the mean", "the path through the variance")[off[0]]
        extra = ""
        if off[0] == 2 and words[2].startswith("sqrt(var + eps)^-1 "):
            # one division by the standard deviation too many: what xhat in place of x - mean gives
            extra = (" One division by the standard deviation too many on that path is what xhat in place "
                     "of x - mean (xmu) gives, where the variance's gradient meets the data.")
        return (f"So the mistake is on {short} alone.{extra}",
                ("direct", "mean", "variance")[off[0]] + " path")
    if off == [0, 1] and same(0, 1):
        where = ("in dxmu1, which feeds both dx1 and (through dmu) dx2" if style == "staged"
                 else "common to these two paths, in what they share before the mean is taken")
        return (f"The direct path and the path through the mean are off by the same factor: the "
                f"mistake is {where}."), "dxmu1"
    if off == [0, 1, 2] and same(0, 1) and same(1, 2):
        where = ("before the paths split (dgammax, dxhat) or in the final sum" if style == "staged"
                 else "in a factor the three paths share (before they split, or after they are added)")
        return f"All three paths are off by the same factor: the mistake is {where}.", "common factor"
    if off == [1, 2] and same(1, 2):
        return ("The path through the mean and the path through the variance are off by the same "
                "factor: the mistake is common to the two paths through the statistics."), "both terms"
    if off == [0, 1, 2] or off == [0, 2]:
        if abs(a[1]) < 1e-9 and np.allclose([a[0], a[2]], (n - 1) / n, rtol=1e-6):
            return (f"This is the signature of a mean-path gradient that was not summed over the {group_word}: "
                    "each entry subtracts only its own 1/n share."), "mean path not summed"
    return "Several paths are off; each line above says by how much.", "several paths"


def _reduction_note(name, got, dout, layout, param_shape):
    """Name the axes a wrongly shaped dgamma/dbeta was summed over, when recognizable."""
    axes_text = ", ".join(str(a) for a in layout.param_axes)
    note = (f"{name} has the shape of its parameter, {param_shape}: the parameter is shared "
            f"across axes ({axes_text}) of x")
    if not isinstance(got, np.ndarray) or got.shape == param_shape:
        return note
    # (reading, the sum of dout it stands for): dbeta's values say which one it is; dgamma's
    # shape alone may fit several, and then all of them are named
    candidates = []
    for axes in dict.fromkeys(((1,), tuple(range(1, dout.ndim)), (0, 1), None)):  # distinct, in order
        if axes is None or max(axes) < dout.ndim:
            where = "all axes" if axes is None else f"axis {axes if len(axes) > 1 else axes[0]}"
            candidates.append((f"a sum over {where}", np.sum(dout, axis=axes)))
    if dout.ndim == 4 and got.ndim == 1 and 1 < got.size < dout.shape[1] and dout.shape[1] % got.size == 0:
        groups = dout.reshape(dout.shape[0], got.size, -1).sum(axis=(0, 2))
        candidates.append((f"one value per group of {dout.shape[1] // got.size} consecutive channels", groups))
    fits = [reading for reading, value in candidates if value.shape == got.shape
            and (name != "dbeta" or np.allclose(got, value, rtol=1e-9, atol=0))]
    if fits:
        return f"Its shape is that of {' or '.join(fits)}: summed over the wrong axes. {note}"
    return note


def _explain_param(exercise, where, name, got, right, other_right, bound, layout, x, dout, gamma, n, expected):
    """Raise CheckFailed for a wrong dgamma or dbeta, naming the mistake when it is recognizable."""
    head = f"{where}: {name} is not the right gradient ({_difference_text(got, right, bound)})."
    other = "dbeta" if name == "dgamma" else "dgamma"
    if matches(got, other_right) and name == "dbeta":
        raise CheckFailed(f"{head} It equals the right {other}: dgamma and dbeta are swapped.",
                          exercise, "swapped")
    if matches(got, other_right):  # dgamma equal to the right dbeta, with dbeta itself right
        raise CheckFailed(f"{head} It equals the right dbeta, the plain sum of dout, while dbeta is right: the "
                          f"factor that gamma multiplies in the forward pass is missing from dgamma's sum.",
                          exercise, "dgamma factor missing")
    axes = layout.param_axes
    known = {}
    if name == "dgamma":
        means = layout.to_groups(x) * 0 + np.ravel(expected["group_mean"])[:, None]
        known = {
            "the sum of dout * x: computed from x where xhat belongs": np.sum(dout * x, axis=axes),
            "the sum of dout * (x - mean): the division by the standard deviation is missing":
                np.sum(dout * (x - layout.from_groups(means)), axis=axes),
            "the sum of dout alone: the factor xhat is missing": np.sum(dout, axis=axes),
        }
        # xhat recomputed in the backward pass with another divisor than the forward pass's
        groups, var, eps = layout.to_groups(x), np.ravel(expected["group_var"])[:, None], expected["eps"]
        m = groups.shape[1]
        divisors = {"without eps (eps is dropped from sqrt(var + eps))": np.sqrt(var),
                    "with eps outside the square root": np.sqrt(var) + eps}
        if m > 1:
            divisors[f"from the unbiased variance (divided by n - 1 = {m - 1})"] = np.sqrt(var * m / (m - 1) + eps)
        for words, divisor in divisors.items():
            xhat = layout.from_groups((groups - means) / divisor)
            known[f"the sum of dout * xhat with xhat recomputed {words}, not the forward pass's xhat"] = \
                np.sum(dout * xhat, axis=axes)
    else:
        known = {description: f(dout) for f, description in layout.param_sums}
    # summed over blocks of consecutive parameter entries (a group's channels) and repeated
    P = np.size(right)
    for K in range(2, P):
        if P % K == 0:
            blocks = np.repeat(np.reshape(right, (-1, K)).sum(axis=1), K)
            known[f"the right {name} summed over each block of {K} consecutive entries (a group's channels) and "
                  f"repeated: one value per group, where each channel has its own"] = blocks
    for description, value in known.items():
        if matches(got, np.reshape(value, np.shape(right))):
            raise CheckFailed(f"{head} It equals {description}.", exercise, f"{name} formula")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = got / right
    if np.all(np.isfinite(ratio)):
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6):
            words = factor_text(float(ratio.flat[0]), n, layout.sizes, layout.n_words)
            if words:
                raise CheckFailed(f"{head} It is {words}.", exercise, f"{name} factor")
        per_param = [(gamma, "gamma (an extra factor gamma)"), (1 / gamma, "1/gamma"),
                     (gamma**2, "gamma^2 (two extra factors gamma)"), (gamma**-2, "1/gamma^2")]
        var = np.ravel(expected["group_var"])
        if var.size == right.size:  # one group per parameter entry: batch norm's layouts
            s, r = np.sqrt(var + expected["eps"]).reshape(right.shape), np.sqrt(var).reshape(right.shape)
            per_param += [(s / r, "sqrt(var + eps) / sqrt(var) (eps is dropped from one sqrt(var + eps))")]
            per_param += [(s**k, f"sqrt(var + eps)^{k} (a wrong power of the standard deviation)") for k in (1, -1, 2, -2)]
        for quantity, words in per_param:
            if matches(got, quantity * right):
                raise CheckFailed(f"{head} It is {words} times the right one.", exercise, f"{name} factor")
    if np.all(np.isfinite(ratio)) and np.allclose(ratio, ratio.flat[0], rtol=1e-6):
        raise CheckFailed(f"{head} It is {float(ratio.flat[0]):.6g} times the right one in every entry.",
                          exercise, f"{name} factor")
    raise CheckFailed(
        f"{head} It is not a constant multiple of the right one, nor one of the usual mistakes "
        f"(x or x - mean in place of xhat, the two swapped); entries off: "
        f"{int(np.sum(~np.isclose(got, right, rtol=1e-6)))} of {right.size}.",
        exercise, f"{name} unexplained",
    )


def _cache_arrays(cache, name, depth=2):
    """(name, array) of the arrays a cache holds: fields of a dataclass, entries of a tuple or
    dict, and of the caches nested in them."""
    if isinstance(cache, np.ndarray):
        return [(name, cache)]
    if depth == 0:
        return []
    if dataclasses.is_dataclass(cache) and not isinstance(cache, type):
        members = [(f".{f.name}", getattr(cache, f.name)) for f in dataclasses.fields(cache)]
    elif isinstance(cache, dict):
        members = [(f"[{k!r}]", v) for k, v in cache.items()]
    elif isinstance(cache, (tuple, list)):
        members = [(f"[{i}]", v) for i, v in enumerate(cache)]
    else:
        return []
    return [found for suffix, value in members for found in _cache_arrays(value, name + suffix, depth - 1)]


def check_backward(exercise, where, style, backward, call_forward, layout, x, gamma, beta, dout, expected):
    """Compare backward(dout, cache) with the reference gradients; cache from call_forward(x, gamma, beta).

    call_forward: a forward pass that passed its own check (the student's: their cache,
    of whatever type, is theirs to read). expected: the reference values of this case
    (BACKWARD_VALUES, "dx_without_gamma", "dx_gamma_twice", "eps", and what
    expected_mistakes gives).
    style: "staged" or "closed", the vocabulary of the paths in the messages.
    """
    _, cache = unpack(exercise, "the forward pass", call(exercise, "the forward pass", call_forward, x, gamma, beta),
                      ("out", "cache"))
    originals = {"dout": (dout, dout.copy()), "x": (x, x.copy())}
    held = {name: (a, a.copy()) for name, a in _cache_arrays(cache, "cache")}
    grads = unpack(exercise, where, call(exercise, where, backward, dout, cache), ("dx", "dgamma", "dbeta"))
    require_unchanged(exercise, where, originals)
    changed = [name for name, (a, before) in held.items() if not np.array_equal(a, before, equal_nan=True)]
    if changed:
        raise CheckFailed(f"{where}: the backward pass changed {', '.join(changed)} in place, so a second call on "
                          f"the same cache (another backward pass, a gradient check) starts from other values: "
                          f"compute into new arrays and leave the cache as the forward pass left it",
                          exercise, "cache changed")
    dx, dgamma, dbeta = grads
    require_array(exercise, where, "dx", dx, x.shape, "dx has the shape of x")
    for name, got in (("dbeta", dbeta), ("dgamma", dgamma)):
        require_array(exercise, where, name, got, gamma.shape,
                      _reduction_note(name, got, dout, layout, gamma.shape))
    dx_bound, dgamma_bound, dbeta_bound = gradient_bounds(layout, dout, expected)
    n = layout.to_groups(x).shape[1]
    right_dgamma, right_dbeta = expected["dgamma"], expected["dbeta"]
    if not agrees(dbeta, right_dbeta, dbeta_bound):
        _explain_param(exercise, where, "dbeta", dbeta, right_dbeta, right_dgamma, dbeta_bound, layout, x, dout,
                       gamma, n, expected)
    if not agrees(dgamma, right_dgamma, dgamma_bound):
        _explain_param(exercise, where, "dgamma", dgamma, right_dgamma, right_dbeta, dgamma_bound, layout, x,
                       dout, gamma, n, expected)
    if not agrees(dx, expected["dx"], dx_bound):
        _explain_dx(exercise, where, style, layout, gamma, dout, dx, expected, dx_bound)


def expected_gradients(function_name, layout, x, gamma, beta, forward_args, dout):
    """The reference values a backward check judges by, for these inputs.

    forward_args: what the forward pass takes after (x, gamma, beta), its param dict last.
    Also the right dx for gamma left out of, or applied twice to, the gradient entering
    xhat (the reference at dout / gamma and dout * gamma), which two mistakes produce.
    """
    def value(what, d):
        return reference.value(f"{function_name}/{what}", function_name, x, gamma, beta, *forward_args, d)

    expected = {what: value(what, dout) for what in BACKWARD_VALUES}
    gamma_map = np.broadcast_to(layout.param_view(gamma), x.shape)
    expected["dx_without_gamma"] = value("dx", dout / gamma_map)
    expected["dx_gamma_twice"] = value("dx", dout * gamma_map)
    expected["eps"] = forward_args[-1]["eps"]
    return expected


def expected_mistakes(function_name, layout, x, gamma, beta, forward_args, dout):
    """The reference values of what the mistakes a wrong dx is fitted against compute, for these inputs.

    Asked for with the right gradients, before the check calls the code under test: the
    terms a path's mean over another grouping or with gamma misplaced gives (see
    backward_fits.candidates), and the three mistakes of STOPS_AT_XHAT, VARIANCE_UNSUMMED
    and VARIANCE_READS_X.
    """
    terms = candidates(layout, x.shape, gamma_varies(layout, gamma, x.shape))
    whats = [STOPS_AT_XHAT, VARIANCE_UNSUMMED, VARIANCE_READS_X]
    whats += [key for *_, mean_key, var_key in terms for key in (mean_key, var_key)]
    return {what: reference.value(f"{function_name}/{what}", function_name, x, gamma, beta, *forward_args, dout)
            for what in whats}
