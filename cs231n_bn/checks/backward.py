"""Backward passes: compare with numeric gradients, then say exactly what is known.

Inside one normalization group (n entries, dxhat = gamma * dout) the gradient splits into
three paths from x to the output, each with a closed form the checks compute:

    direct    P1 = ivar * dxhat                           (x -> xmu -> xhat)
    mean      P2 = -ivar * mean(dxhat)                    (x -> mu -> xmu), constant in the group
    variance  P3 = -ivar * xhat * mean(dxhat * xhat)      (x -> var -> ivar), proportional to x - mu

and dx = P1 + P2 + P3. A wrong dx is fitted, group by group, as a1 P1 + a2 P2 + a3 P3.
When the fit is exact, the factors a1, a2, a3 ARE the student's paths relative to the right
ones: a factor -1 is a sign error on that path, 2 a missing 1/2, n a missing 1/n, 0 a path
left out; a factor that varies between groups like sqrt(var + eps) is a wrong power of the
standard deviation. When the fit is not exact, no such statement is made: the message
lists what was measured.
"""

import numpy as np

from cs231n_bn.checks.core import CheckFailed, call, factor_text, matches, rel_error, require_array, require_unchanged, unpack
from cs231n_bn.checks.normalized import EPS, group_stats
from cs231n_bn.gradient_check import eval_numerical_gradient_array

GRAD_TOL = 1e-7  # relative error against the numeric gradient (float64, h = 1e-5)

# How the paths are called in the staged graph and in a closed form.
PATH_NAMES = {
    "staged": (
        "the direct branch (dxmu1, through xhat)",
        "the branch through the mean (dmu, dx2)",
        "the branch through the variance (divar, dsqrtvar, dvar, dsq, dxmu2)",
    ),
    "closed": (
        "the dout term (dxhat itself)",
        "the mean term (the mean of dxhat over the group; dbeta / N in batch norm)",
        "the xhat term (xhat times the mean of dxhat * xhat; xhat * dgamma / N in batch norm)",
    ),
}


def numeric_gradients(call_forward, x, gamma, beta, dout):
    return (
        eval_numerical_gradient_array(lambda x_: call_forward(x_, gamma, beta)[0], x, dout),
        eval_numerical_gradient_array(lambda g_: call_forward(x, g_, beta)[0], gamma, dout),
        eval_numerical_gradient_array(lambda b_: call_forward(x, gamma, b_)[0], beta, dout),
    )


def _paths(layout, x, gamma, dout, eps, gamma_power=1):
    """(P1, P2, P3) in grouped layout, and per-group sqrt(var + eps) and sqrt(var)."""
    g = layout.to_groups(np.broadcast_to(layout.param_view(gamma), x.shape) ** gamma_power * dout)
    _, var, xhat = group_stats(layout, x, eps)
    ivar = (var + eps) ** -0.5
    P1 = ivar * g
    P2 = -ivar * g.mean(axis=1, keepdims=True) * np.ones_like(g)
    P3 = -ivar * xhat * np.mean(g * xhat, axis=1, keepdims=True)
    return (P1, P2, P3), np.sqrt(var + eps)[:, 0], np.sqrt(var)[:, 0], xhat, g, ivar


def _fit(target, basis):
    """Per-group least-squares factors of target on the basis terms, and whether it is exact."""
    n_groups = target.shape[0]
    factors = np.empty((n_groups, len(basis)))
    exact = True
    for k in range(n_groups):
        A = np.stack([b[k] for b in basis], axis=1)
        a, *_ = np.linalg.lstsq(A, target[k], rcond=None)
        factors[k] = a
        scale = max(float(np.max(np.abs(target[k]))), float(np.max(np.abs(A))), 1e-300)
        if np.max(np.abs(A @ a - target[k])) > 1e-8 * scale:
            exact = False
    return factors, exact


def _describe_factor(a, n, sizes, per_group):
    """Words for one path's factors a (one per group), or None when nothing fits."""
    if np.all(np.abs(a - a[0]) <= 1e-6 * max(1.0, abs(a[0]))):
        c = float(np.mean(a))
        if abs(c - 1) <= 1e-6:
            return "right"
        return factor_text(c, n, sizes) or f"{c:.6g} times the right one in every group"
    for quantity, words in per_group:
        c = a / quantity
        if np.all(np.abs(c - c[0]) <= 1e-6 * max(1.0, abs(c[0]))):
            c0 = float(np.mean(c))
            if abs(c0 - 1) <= 1e-6:
                return f"{words} times the right one"
            extra = factor_text(c0, n, sizes)
            if extra:
                return f"{words} times the right one, and also {extra}"
    return None


def _per_group_quantities(s, r, gamma_group):
    """Group-wise factors a wrong formula tends to introduce, with their names."""
    out = []
    if gamma_group is not None:
        out += [(gamma_group, "gamma (an extra factor gamma)"), (1 / gamma_group, "1/gamma (gamma is missing)")]
        for k in (1, -1, 2, -2):
            out += [(gamma_group * s**k, f"gamma * sqrt(var + eps)^{k} (an extra gamma and a power of the "
                                         f"standard deviation off by {k})"),
                    (s**k / gamma_group, f"sqrt(var + eps)^{k} / gamma (gamma missing and a power of the "
                                         f"standard deviation off by {k})")]
    out += [
        (s / r, "sqrt(var + eps) / sqrt(var) (eps is dropped from one sqrt(var + eps))"),
        ((s / r) ** 2, "(var + eps) / var (eps is dropped from one var + eps)"),
        ((s / r) ** 3, "((var + eps) / var)^(3/2) (eps is dropped from (var + eps)^(3/2))"),
    ]
    for k in (1, 2, 3, -1, -2, -3):
        out.append((s**k, f"sqrt(var + eps)^{k} (a wrong power of the standard deviation, off by {k})"))
    return out


def _explain_dx(exercise, where, style, layout, x, gamma, dout, eps, dx, err):
    """Raise CheckFailed saying what is known about a wrong dx."""
    names = PATH_NAMES[style]
    head = f"{where}: dx disagrees with the numeric gradient (relative error {err:.2g})."
    (P1, P2, P3), s, r, xhat, g, ivar = _paths(layout, x, gamma, dout, eps)
    target = layout.to_groups(dx)
    n = target.shape[1]
    gamma_g = None
    gamma_map = layout.to_groups(np.broadcast_to(layout.param_view(gamma), x.shape))
    if np.all(gamma_map == gamma_map[:, :1]):
        gamma_g = gamma_map[:, 0]

    factors, exact = _fit(target, (P1, P2, P3))
    if exact:
        words = [_describe_factor(factors[:, j], n, layout.sizes, _per_group_quantities(s, r, gamma_g))
                 for j in range(3)]
        if all(w is not None for w in words):
            a = factors.mean(axis=0)
            same = lambda i, j: np.allclose(factors[:, i], factors[:, j], rtol=1e-6, atol=1e-9)  # noqa: E731
            lines = [head, "Split into its three paths from x to out, group by group:"]
            lines += [f"- {name}: {w}" for name, w in zip(names, words)]
            verdict, topic = _verdict(style, words, same, a, n, names)
            lines.append(verdict)
            raise CheckFailed("\n".join(lines), exercise, topic)

    unsummed_var = -ivar * xhat * (g * xhat) / n
    f2, exact2 = _fit(target, (P1, P2, unsummed_var))
    if exact2 and np.allclose(f2[:, [0, 2]], 1, rtol=1e-6):
        raise CheckFailed(
            f"{head}\nThe direct path and the path through the mean are right; the path through "
            f"the variance uses each entry's own product dxhat * xhat where the sum over the "
            f"group belongs: the gradient of a statistic shared by the group is not summed.",
            exercise, "variance path not summed",
        )
    for power, what in ((0, "gamma is missing"), (2, "gamma is applied twice")):
        alt_paths = _paths(layout, x, gamma, dout, eps, gamma_power=power)[0]
        if matches(target, sum(alt_paths)):
            raise CheckFailed(
                f"{head}\nIt matches the right gradient computed with dxhat = dout * gamma^{power} "
                f"instead of gamma * dout: {what} where the gradient enters xhat.",
                exercise, "gamma in dxhat",
            )
    if exact:
        # It splits into the paths, but some factor follows no pattern the checks know: say
        # what was measured, path by path, and no more.
        lines = [head, "Split into its three paths from x to out, group by group:"]
        for j, name in enumerate(names):
            w = words[j] or (f"{factors[:, j].min():.4g} to {factors[:, j].max():.4g} times the right "
                             f"one, a factor that differs between groups")
            lines.append(f"- {name}: {w}")
        lines.append("The paths marked with a varying factor follow none of the patterns the checks "
                     "recognize (a constant, gamma, a power of the standard deviation, eps left out).")
        raise CheckFailed("\n".join(lines), exercise, "paths unexplained")
    sums = np.abs(target.sum(axis=1))
    zero_sum = bool(np.all(sums <= 1e-9 * np.abs(target).sum(axis=1)))
    worst = np.unravel_index(int(np.argmax(np.abs(target - (P1 + P2 + P3)))), target.shape)
    raise CheckFailed(
        f"{head}\nIt does not split into the three paths (direct, through the mean, through the "
        f"variance) with one factor per path and group, so the mistake is not a wrong constant "
        f"or a wrong power on one path. What is known: dgamma and dbeta are right; dx "
        f"{'does' if zero_sum else 'does not'} sum to zero over each group (a right dx does, "
        f"because shifting a whole group does not change the output); the largest error is in "
        f"group {int(worst[0])}. Compare your intermediate gradients one at a time with numeric "
        f"ones (notebook 2 shows how).",
        exercise, "unexplained",
    )


def _verdict(style, words, same, a, n, names):
    """The sentence that names the mistake, from the per-path descriptions."""
    off = [i for i, w in enumerate(words) if w != "right"]
    if not off:
        return "All three paths are right, but the total is not: the paths are not added up.", "sum"
    if len(off) == 1:
        short = (("the direct path", "the path through the mean", "the path through the variance")
                 if style == "staged" else ("the dout term", "the mean term", "the xhat term"))[off[0]]
        return f"So the mistake is on {short} alone.", ("direct", "mean", "variance")[off[0]] + " path"
    if off == [0, 1] and same(0, 1):
        where = ("in dxmu1, which feeds both dx1 and (through dmu) dx2" if style == "staged"
                 else "common to the dout term and the mean term (dxhat minus its mean)")
        return (f"The direct path and the path through the mean are off by the same factor: the "
                f"mistake is {where}."), "dxmu1"
    if off == [0, 1, 2] and same(0, 1) and same(1, 2):
        where = ("before the paths split (dgammax, dxhat) or in the final sum" if style == "staged"
                 else "in the factor in front of all three terms (gamma * ivar, or a 1/N outside)")
        return f"All three paths are off by the same factor: the mistake is {where}.", "common factor"
    if off == [1, 2] and same(1, 2):
        return ("The path through the mean and the path through the variance are off by the same "
                "factor (both subtracted terms): the mistake is common to them."), "both terms"
    if off == [0, 1, 2] or off == [0, 2]:
        if abs(a[1]) < 1e-9 and np.allclose([a[0], a[2]], (n - 1) / n, rtol=1e-6):
            return ("This is the signature of a mean-path gradient that was not summed over the group: "
                    "each entry subtracts only its own 1/n share."), "mean path not summed"
    return "Several paths are off; each line above says by how much.", "several paths"


def _reduction_note(name, got, dout, layout, param_shape):
    """Name the axes a wrongly shaped dgamma/dbeta was summed over, when recognizable."""
    axes_text = ", ".join(str(a) for a in layout.param_axes)
    note = (f"{name} has the shape of its parameter, {param_shape}: the parameter is shared "
            f"across axes ({axes_text}) of x")
    if isinstance(got, np.ndarray):
        for axes in ((1,), tuple(range(1, dout.ndim)), (0, 1), None):
            if axes is not None and max(axes) >= dout.ndim:
                continue
            if got.shape == np.sum(dout, axis=axes).shape and got.shape != param_shape:
                where = "all axes" if axes is None else f"axis {axes if len(axes) > 1 else axes[0]}"
                return f"Its shape is that of a sum over {where}: summed over the wrong axes. {note}"
    return note


def _explain_param(exercise, where, name, got, right, other_right, layout, x, dout, gamma, n):
    """Raise CheckFailed for a wrong dgamma or dbeta, naming the mistake when it is recognizable."""
    err = rel_error(got, right)
    head = f"{where}: {name} disagrees with the numeric gradient (relative error {err:.2g})."
    other = "dbeta" if name == "dgamma" else "dgamma"
    if matches(got, other_right):
        raise CheckFailed(f"{head} It equals the right {other}: dgamma and dbeta are swapped.",
                          exercise, "swapped")
    axes = layout.param_axes
    known = {}
    if name == "dgamma":
        centred = layout.from_groups(layout.to_groups(x) - layout.to_groups(x).mean(axis=1, keepdims=True))
        known = {
            "the sum of dout * x: computed from x where xhat belongs": np.sum(dout * x, axis=axes),
            "the sum of dout * (x - mean): the division by the standard deviation is missing":
                np.sum(dout * centred, axis=axes),
            "the sum of dout alone: the factor xhat is missing": np.sum(dout, axis=axes),
        }
    else:
        known = {description: f(dout) for f, description in layout.param_sums}
    for description, value in known.items():
        if matches(got, value):
            raise CheckFailed(f"{head} It equals {description}.", exercise, f"{name} formula")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = got / right
    if np.all(np.isfinite(ratio)):
        if np.allclose(ratio, ratio.flat[0], rtol=1e-6):
            words = factor_text(float(ratio.flat[0]), n, layout.sizes)
            if words:
                raise CheckFailed(f"{head} It is {words}.", exercise, f"{name} factor")
        per_param = [(gamma, "gamma (an extra factor gamma)"), (1 / gamma, "1/gamma")]
        groups_x = layout.to_groups(x)
        if groups_x.shape[0] == right.size:  # one group per parameter entry: batch norm's layouts
            var = groups_x.var(axis=1)
            s, r = np.sqrt(var + EPS), np.sqrt(var)  # every backward check passes EPS
            per_param += [(s / r, "sqrt(var + eps) / sqrt(var) (eps is dropped from one sqrt(var + eps))")]
            per_param += [(s**k, f"sqrt(var + eps)^{k} (a wrong power of the standard deviation)") for k in (1, -1, 2, -2)]
        for quantity, words in per_param:
            if matches(got, quantity * right):
                raise CheckFailed(f"{head} It is {words} times the right one.", exercise, f"{name} factor")
    raise CheckFailed(
        f"{head} It is not a constant multiple of the right one, nor one of the usual mistakes "
        f"(x or x - mean in place of xhat, the two swapped); entries off: "
        f"{int(np.sum(~np.isclose(got, right, rtol=1e-6)))} of {right.size}.",
        exercise, f"{name} unexplained",
    )


def check_backward(exercise, where, style, backward, call_forward, layout, x, gamma, beta, dout, eps):
    """Compare backward(dout, cache) with centered differences of call_forward (a checked forward).

    style: "staged" or "closed", the vocabulary of the paths in the messages.
    """
    _, cache = call_forward(x, gamma, beta)
    originals = {"dout": (dout, dout.copy()), "x": (x, x.copy())}
    grads = unpack(exercise, where, call(exercise, where, backward, dout, cache), ("dx", "dgamma", "dbeta"))
    require_unchanged(exercise, where, originals)
    dx, dgamma, dbeta = grads
    require_array(exercise, where, "dx", dx, x.shape, "dx has the shape of x")
    for name, got in (("dbeta", dbeta), ("dgamma", dgamma)):
        require_array(exercise, where, name, got, gamma.shape,
                      _reduction_note(name, got, dout, layout, gamma.shape))
    numeric_dx, numeric_dgamma, numeric_dbeta = numeric_gradients(call_forward, x, gamma, beta, dout)
    n = layout.to_groups(x).shape[1]
    if rel_error(dbeta, numeric_dbeta) > GRAD_TOL:
        _explain_param(exercise, where, "dbeta", dbeta, numeric_dbeta, numeric_dgamma, layout, x, dout, gamma, n)
    if rel_error(dgamma, numeric_dgamma) > GRAD_TOL:
        _explain_param(exercise, where, "dgamma", dgamma, numeric_dgamma, numeric_dbeta, layout, x, dout, gamma, n)
    err = rel_error(dx, numeric_dx)
    if err > GRAD_TOL:
        _explain_dx(exercise, where, style, layout, x, gamma, dout, eps, dx, err)
