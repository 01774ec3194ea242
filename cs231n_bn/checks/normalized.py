"""Judging a normalized output by the properties it must have, and naming what is off.

A forward pass is judged against reference values (cs231n_bn.checks.reference), and when it
differs, by the properties a normalized output must have: (out - beta) / gamma must have
mean 0 over each normalization group, be an increasing affine function of x inside the
group, and have variance var / (var + eps), var being the group's biased variance. Each classic mistake breaks exactly one of
these in a recognizable way (a variance ratio of (n - 1) / n is Bessel's correction, a
group with variance near eps coming out at exactly 1 is a missing eps, ...).
"""

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cs231n_bn.checks.core import CheckFailed, factor_text, matches

MEAN_TOL = 1e-8  # |mean of a normalized group|, on values of order 1
DEFAULT_EPS = 1e-5  # the documented default of bn_param / ln_param / gn_param['eps']
EPS = 1e-3  # the eps the checks pass, large enough that misplacing it shows


@dataclass(frozen=True)
class Layout:
    """Which entries of x share one mean and one variance, and how gamma broadcasts.

    `to_groups` maps an array shaped like x to a (groups, members) matrix whose rows are
    the normalization groups (in the order of their labels); `from_groups` is its inverse.
    `alternatives` are the groupings a mistaken implementation tends to use, each with a
    description (and its own gamma layout when the mistake also misplaces gamma and beta).
    `sizes` names the counts in play ({N: "N"}), to recognize a division by the wrong one.
    """

    groups_text: str
    to_groups: Callable
    from_groups: Callable
    param_view: Callable
    param_axes: tuple
    alternatives: tuple
    sizes: dict
    param_sums: tuple = ()  # ((array shaped like x -> wrong per-parameter sum, description), ...)
    # what one group is called in the notebook that teaches the layer ("feature" in batch norm,
    # whose statistics are taken over the batch), and how its size n reads
    group_word: str = "group"
    n_words: str = "the size of a group"


def grouping(labels):
    """(to_groups, from_groups) for the groups of equal integer labels, an array shaped like x.

    The groups are described by what their members share (an index of x), so no layout
    of x is written out: row k of to_groups(a) holds the entries labelled with the k-th
    smallest label, in the order they have in a.
    """
    flat = np.ravel(labels)
    order = np.argsort(flat, kind="stable")
    n_groups = np.unique(flat).size
    shape = np.shape(labels)

    def to_groups(a):
        return np.reshape(a, -1)[order].reshape(n_groups, -1)

    def from_groups(m):
        out = np.empty(flat.size, dtype=np.result_type(m))
        out[order] = np.ravel(m)
        return out.reshape(shape)

    return to_groups, from_groups


def _by(labels, description, *param_view):
    return (grouping(labels)[0], description, *param_view)


def bn_layout(N, D):
    """Batch norm of (N, D): one group per feature, over the batch."""
    n, d = np.indices((N, D))
    return Layout(
        "over the batch (axis 0), one mean and one variance per feature",
        *grouping(d),
        param_view=lambda p: p,
        param_axes=(0,),
        alternatives=(
            _by(n, "over the features of each sample (axis 1), which is layer norm"),
            _by(np.zeros_like(n), "over all entries at once (no axis given)"),
        ),
        sizes={N: "N", D: "D"},
        group_word="feature",
        n_words="the batch size N",
    )


def ln_layout(N, D):
    """Layer norm of (N, D): one group per sample, over its features."""
    n, d = np.indices((N, D))
    return Layout(
        "over the features of each sample (axis 1), one mean and one variance per sample",
        *grouping(n),
        param_view=lambda p: p,
        param_axes=(0,),
        alternatives=(
            _by(d, "over the batch (axis 0), which is batch norm: layer norm must not look at the "
                   "other samples"),
            _by(np.zeros_like(n), "over all entries at once (no axis given)"),
        ),
        sizes={N: "N", D: "D"},
        group_word="sample",
        n_words="the number of features D",
    )


def _channel_view(C):
    return lambda p: np.reshape(p, (1, C, 1, 1))


def spatial_bn_layout(N, C, H, W):
    """Spatial batch norm of (N, C, H, W): one group per channel, over N, H and W."""
    n, c, h, w = np.indices((N, C, H, W))
    flat = np.arange(N * C * H * W).reshape(N, C, H, W)
    return Layout(
        "over the batch and every position, one mean and one variance per channel",
        *grouping(c),
        param_view=_channel_view(C),
        param_axes=(0, 2, 3),
        alternatives=(
            _by(flat % C,
                "over the columns of x.reshape(-1, C): a reshape that does not first move the "
                "channel axis last mixes channels, so each 'channel' holds values of several",
                lambda p: np.broadcast_to(p, (N * H * W, C)).reshape(N, C, H, W)),
            _by(n * C + c, "over the positions of each image and channel, which is "
                           "instance norm: the batch axis is left out"),
            _by((c * H + h) * W + w, "over the batch only, one statistic per channel AND "
                                     "position: the spatial axes are left out"),
            _by(n, "over each whole sample, which is layer norm"),
        ),
        sizes={N * H * W: "N*H*W", N: "N", H * W: "H*W", N * C: "N*C"},
        param_sums=(
            (lambda a: np.reshape(a, (-1, C)).sum(axis=0),
             "the column sums of dout.reshape(-1, C): a reshape that does not first move the channel "
             "axis last mixes channels"),
        ),
        group_word="channel",
        n_words="N*H*W, the values of one channel",
    )


def groupnorm_layout(N, C, H, W, G):
    """Group norm of (N, C, H, W): one group per sample and block of C/G channels."""
    n, c, h, w = np.indices((N, C, H, W))
    flat = np.arange(N * C * H * W).reshape(N, C, H, W)
    K = C // G
    return Layout(
        f"over each sample's groups of C/G = {K} consecutive channels and their positions, one "
        f"mean and one variance per (sample, group)",
        *grouping(n * G + c // K),
        param_view=_channel_view(C),
        param_axes=(0, 2, 3),
        alternatives=(
            _by(n * G + c % G, "over strided channels (channel c in group c % G); the groups are "
                               "blocks of consecutive channels g*C/G ... (g+1)*C/G - 1"),
            _by(n, "over each whole sample (as if G = 1, layer norm)"),
            _by(n * C + c, "over each channel of each sample (as if G = C, instance norm)"),
            _by(c, "over the batch for each channel, which is spatial batch norm: group norm never "
                   "looks across samples"),
            _by(flat // (N * K * H * W), "over groups that span the whole batch: the statistics must "
                                         "be per sample"),
        ),
        sizes={K * H * W: "(C/G)*H*W", C * H * W: "C*H*W", H * W: "H*W", K: "C/G",
               N * K * H * W: "N*(C/G)*H*W"},
        n_words="(C/G)*H*W, the values of one group",
    )


# ---------------------------------------------------------------------------------------
# Seeded inputs
# ---------------------------------------------------------------------------------------
# Inputs are made with elementwise arithmetic only (no sums), so that they come out bit for
# bit the same on every CPU: reference values are recorded for their exact bytes.


def grouped_input(rng, layout, shape, tiny_var):
    """x of this shape whose groups have spreads 1 to 3, but the first group a variance near tiny_var.

    A group with variance comparable to eps is what tells eps-inside-the-root apart from
    eps-outside and eps-missing.
    """
    index_groups = layout.to_groups(np.zeros(shape))
    n_groups, size = index_groups.shape
    z = rng.normal(size=(n_groups, size))
    spread = rng.uniform(1.0, 3.0, size=(n_groups, 1))
    spread[0] = np.sqrt(tiny_var)
    centre = rng.uniform(-3.0, 3.0, size=(n_groups, 1))
    return np.ascontiguousarray(layout.from_groups(centre + spread * z))


def params(rng, shape):
    """gamma far from 1 with mixed signs, beta far from 0."""
    gamma = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    beta = rng.normal(0.0, 2.0, size=shape)
    return gamma, beta


def smooth_input(rng, shape):
    """Unevenly scaled data centred within one spread of 0, for gradient checks.

    |mean| <= spread keeps every group well conditioned, so that correct code of any
    form agrees with the reference to a few rounding errors of the largest term.
    """
    spread = rng.uniform(0.5, 3.0)
    return spread * (rng.uniform(-1.0, 1.0) + rng.normal(size=shape))


# ---------------------------------------------------------------------------------------
# Diagnosing a normalized output
# ---------------------------------------------------------------------------------------


def _is_centred(groups):
    scale = max(1.0, float(np.max(np.abs(groups))))
    return bool(np.all(np.abs(groups.mean(axis=1)) < MEAN_TOL * scale))


def _centred_x(to_groups, x):
    groups_x = to_groups(x)
    return groups_x - groups_x.mean(axis=1, keepdims=True)


def _affine_slope(groups, centred_x):
    """Per-group least-squares slope of groups on centred_x, and whether the fit is exact."""
    slope = np.sum(groups * centred_x, axis=1, keepdims=True) / np.sum(centred_x**2, axis=1, keepdims=True)
    residual = groups - slope * centred_x
    exact = np.max(np.abs(residual)) <= 1e-7 * max(1.0, float(np.max(np.abs(groups))))
    return slope, bool(exact)


def normalizes_instead(layout, out, gamma, beta, other):
    """Whether (out - beta) / gamma is `other`, centred and scaled in each group: out normalizes
    `other` (e.g. the activation's output) where x belonged."""
    groups = layout.to_groups((out - layout.param_view(beta)) / layout.param_view(gamma))
    centred = _centred_x(layout.to_groups, other)
    if not _is_centred(groups) or np.any(np.all(centred == 0, axis=1)):
        return False
    slope, exact = _affine_slope(groups, centred)
    return exact and bool(np.all(slope > 0))


def _normalized_under(to_groups, xhat, x):
    groups = to_groups(xhat)
    if not _is_centred(groups):
        return False
    slope, exact = _affine_slope(groups, _centred_x(to_groups, x))
    return exact and bool(np.all(slope > 0))


def _wrong_grouping(exercise, where, layout, x, out, gamma, beta):
    for alternative in layout.alternatives:
        to_groups, description = alternative[:2]
        param_view = alternative[2] if len(alternative) > 2 else layout.param_view
        xhat = (out - param_view(beta)) / param_view(gamma)
        if _normalized_under(to_groups, xhat, x):
            raise CheckFailed(
                f"{where}: statistics over the wrong axes: your output is normalized "
                f"{description}. It should be normalized {layout.groups_text}",
                exercise, "grouping",
            )


def _axes_text(axes, names):
    return ", ".join(names[a] for a in axes)


def measured_groupings(shape):
    """[(labels shaped like x, description)] of the groupings a reduction or a reshape can make.

    Measured, not listed mistakes: every set of axes reduced over (of x, and for a 4-D x of x
    with its channel axis split in two), and the rows and columns of x reshaped flat into two
    axes, in x's order and with the channel axis moved last.
    """
    size = int(np.prod(shape))
    flat = np.arange(size).reshape(shape)
    views = [(flat, "x", [f"axis {i}" for i in range(len(shape))])]
    if len(shape) == 4:
        N, C, H, W = shape
        views += [(flat.reshape(N, k, C // k, H, W), f"x seen as (N, {k}, C/{k}, H, W)",
                   ["axis 0 (N)", f"axis 1 ({k} blocks of channels)", f"axis 2 (C/{k} channels of a block)",
                    "axis 3 (H)", "axis 4 (W)"]) for k in range(2, C) if C % k == 0]
    found = []
    for view, name, axis_names in views:
        for r in range(1, view.ndim + 1):
            for axes in itertools.combinations(range(view.ndim), r):
                kept = [a for a in range(view.ndim) if a not in axes]
                labels = np.zeros(view.shape, dtype=np.int64)
                for a in kept:
                    labels = labels * view.shape[a] + np.indices(view.shape)[a]
                out = np.empty(size, dtype=np.int64)
                out[view.ravel()] = labels.ravel()
                found.append((out.reshape(shape), f"over {_axes_text(axes, axis_names)} of {name}"))
    orders = [(flat, "x")]
    if len(shape) == 4:
        orders.append((flat.transpose(0, 2, 3, 1), "x with its channel axis moved last"))
    for order, name in orders:
        sequence = order.ravel()
        for k in range(2, size):
            if size % k:
                continue
            splits = ((np.arange(size) // (size // k), f"over each row of {name} reshaped flat to ({k}, -1)"),
                      (np.arange(size) % k, f"over each column of {name} reshaped flat to (-1, {k})"))
            for labels, words in splits:
                out = np.empty(size, dtype=np.int64)
                out[sequence] = labels
                found.append((out.reshape(shape), words))
    return found


def same_partition(a, b):
    """Do two label arrays group the entries the same way?"""
    pairs = np.unique(np.stack([np.ravel(a), np.ravel(b)]), axis=1)
    return pairs.shape[1] == np.unique(np.ravel(a)).size == np.unique(np.ravel(b)).size


def other_groupings(layout, shape):
    """measured_groupings(shape) less the layout's own grouping and those of single entries."""
    right = layout.to_groups(np.arange(int(np.prod(shape))).reshape(shape))
    right_labels = np.empty(right.size, dtype=np.int64)
    right_labels[right] = np.arange(right.shape[0])[:, None]
    return [(labels, description) for labels, description in measured_groupings(shape)
            if not same_partition(labels, right_labels) and np.unique(labels).size < labels.size]


def _measured_grouping(exercise, where, layout, x, xhat):
    """Name the grouping xhat is normalized over, found among every reduction and flat reshape."""
    for labels, description in other_groupings(layout, x.shape):
        if _normalized_under(grouping(labels)[0], xhat, x):
            raise CheckFailed(
                f"{where}: statistics over the wrong entries: measured, (out - beta) / gamma is normalized "
                f"{description} ({np.unique(labels).size} sets of {labels.size // np.unique(labels).size} "
                f"values). It should be normalized {layout.groups_text}", exercise, "grouping",
            )


def _variance_models(v, n, eps, layout):
    """Variance of xhat per group under the right formula and under the usual mistakes."""
    word = layout.group_word
    return (
        ("correct", v / (v + eps), ""),
        (
            "unbiased variance",
            v / (v * n / (n - 1) + eps),
            f"the output's spread matches the unbiased variance (squared deviations summed and "
            f"divided by n - 1 = {n - 1}, n = {n} being {layout.n_words}): its standard deviation is "
            f"sqrt((n-1)/n) of the right one. Training normalizes with the biased batch "
            f"variance (Algorithm 1 of the paper)",
        ),
        (
            "eps missing",
            np.ones_like(v),
            f"eps is missing: a {word} whose variance is as small as eps ({eps:g}) came out "
            f"with variance exactly 1",
        ),
        (
            "eps outside the square root",
            v / (np.sqrt(v) + eps) ** 2,
            "eps is outside the square root: the spread matches a division by the standard "
            "deviation plus eps",
        ),
        (
            "no square root",
            v / (v + eps) ** 2,
            "the square root is missing: the spread matches a division by the variance plus "
            "eps, where the standard deviation belongs",
        ),
        (
            "default eps used",
            v / (v + DEFAULT_EPS),
            f"eps is not read from the parameter dict: the checks passed eps={EPS:g} and the "
            f"output matches eps={DEFAULT_EPS:g}",
        ),
    )


def _measured_divisor(layout, x, v, mean, s2, eps, gamma):
    """Name what the normalized x was divided by, measured from its spread, or None.

    A group of variance v normalized by d has spread v / d^2: d^2 = v / s2 is measured
    and compared with what mistaken code divides by.
    """
    d2 = v / s2
    word = layout.group_word
    if matches(d2, np.ones_like(d2), 1e-6):
        return (f"x - mean is not divided by anything: every {word} keeps its own spread (the division by the "
                f"standard deviation is missing)")
    if matches(d2, v + mean**2 + eps, 1e-6):
        return ("the spread matches a division by sqrt(mean(x^2) + eps): the variance is taken about zero "
                "(the mean of the squares of x), not about the mean")
    if matches(d2, v + mean**2 - mean + eps, 1e-6):
        return ("the spread matches a division by sqrt(mean(x^2) - mean + eps): the variance as the mean of the "
                "squares minus the mean itself, where the square of the mean belongs")
    groups = layout.to_groups(x)
    deviations = np.abs(groups - mean[:, None])
    spreads = {"the range max(x) - min(x)": np.ptp(groups, axis=1),
               "the largest |x - mean|": deviations.max(axis=1),
               "the mean absolute deviation mean(|x - mean|)": deviations.mean(axis=1)}
    for words, spread in spreads.items():
        if matches(d2, spread**2, 1e-4) or matches(d2, (spread + eps) ** 2, 1e-6) or \
                matches(d2, spread**2 + eps, 1e-6):
            return f"the spread matches a division by {words} of each {word}, where the standard deviation belongs"
    if d2.size > 1 and np.allclose(d2, d2[0], rtol=1e-6) and not np.allclose(v, v[0], rtol=1e-3):
        # equal groups: the variance of all entries is the mean of the groups' variances plus the
        # variance of their means
        whole = float(np.mean(v) + np.var(mean))
        which = (f"the variance of all of x's entries together ({whole:.6g}; a variance taken without an axis)"
                 if matches(d2[0], whole + eps, 1e-6) else "one number for the whole array")
        return (f"every {word} is divided by the same number, sqrt({d2[0]:.6g}), although the {word}s' variances "
                f"differ (from {v.min():.3g} to {v.max():.3g}): the variance used is {which}, where each {word} "
                f"needs its own")
    n = groups.shape[1]
    for size, label in layout.sizes.items():
        # sums divided by another count: the mean is c times the right one, and the variance is
        # taken about it
        c = n / size
        if size != n and matches(d2, c * (v + (c - 1) ** 2 * mean**2) + eps, 1e-6):
            return (f"the spread matches statistics whose sums are divided by {label} = {size}, where the count of "
                    f"values in a {word}, n = {n}, belongs (the mean it uses is {c:g} times the {word}'s mean, and "
                    f"the variance is taken about that)")
    for plus_eps, extra in ((eps, ""), (0.0, ", and eps is missing")):
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (d2 - plus_eps) / v
        if np.all(np.isfinite(c)) and np.allclose(c, c[0], rtol=1e-6) and abs(c[0] - 1) > 1e-6:
            words = factor_text(float(c[0]), n, layout.sizes, layout.n_words)
            if words:
                return f"the variance it divides by is {words}{extra}"
    gamma_groups = layout.to_groups(np.broadcast_to(layout.param_view(gamma), x.shape))
    if np.all(gamma_groups == gamma_groups[:, :1]) and matches(d2, gamma_groups[:, 0] ** 2 * v + eps, 1e-6):
        return ("gamma multiplies x before the normalization, which divides it out again: the output's spread "
                "matches gamma * x normalized, and gamma is not applied to the normalized x")
    return None


def _measured_parameters(layout, out, gamma, beta, right):
    """Per parameter entry, the (scale, shift) with out = scale * right + shift, or None if not affine."""
    P = np.size(gamma)
    index = np.broadcast_to(layout.param_view(np.arange(P)), out.shape)
    scale, shift = np.empty(P), np.empty(P)
    for p in range(P):
        r, o = right[index == p], out[index == p]
        A = np.stack([r, np.ones_like(r)], axis=1)
        (scale[p], shift[p]), *_ = np.linalg.lstsq(A, o, rcond=None)
        if np.max(np.abs(A @ (scale[p], shift[p]) - o)) > 1e-9 * max(1.0, float(np.max(np.abs(o)))):
            return None
    return scale, shift


def _parameter_words(measured, gamma, beta, name, known_only):
    """What the measured scale or shift is, in words, or None."""
    g, b = np.ravel(gamma), np.ravel(beta)
    right = g if name == "scale" else b
    candidates = (
        ((g, "gamma"), (np.ones_like(g), "1: gamma is not applied"), (g**2, "gamma^2: gamma is applied twice"),
         (-g, "-gamma: a sign error"), (b, "beta: gamma and beta are swapped"))
        if name == "scale" else
        ((b, "beta"), (np.zeros_like(b), "0: beta is not added"), (g * b, "gamma * beta: beta is scaled by gamma"),
         (b / g, "beta / gamma: beta is divided by gamma"), (g, "gamma: gamma and beta are swapped"),
         (-b, "-beta: beta is subtracted"))
    )
    for value, words in candidates:
        if matches(measured, value):
            return words
    owners = [np.flatnonzero(np.isclose(right, m, rtol=1e-9, atol=0)) for m in measured]
    if all(len(o) for o in owners):
        index = np.array([int(o[0]) for o in owners])
        label = "gamma" if name == "scale" else "beta"
        blocks = [K for K in range(2, index.size) if index.size % K == 0 and
                  np.array_equal(index, np.arange(index.size) // K)]
        if blocks:
            return f"{label}[k // {blocks[0]}] for entry k"
        return f"{label} of other entries (entry k gets the value of entry {index.tolist()}[k])"
    if known_only:
        return None
    return f"{measured[0]:.6g}, {measured[-1]:.6g}, ... where {right[0]:.6g}, {right[-1]:.6g}, ... belong"


def _parameters_of_other_entries(exercise, where, layout, out, gamma, beta, right):
    """Raise when every entry of out is the right normalized value scaled and shifted by SOME
    entry's gamma and beta, but not always its own: the parameters are laid out wrongly."""
    g, b = np.ravel(gamma), np.ravel(beta)
    own = np.broadcast_to(layout.param_view(np.arange(g.size)), out.shape)
    candidates = right[..., None] * g + b  # every entry under every parameter entry
    close = np.abs(out[..., None] - candidates) <= 1e-9 * max(1.0, float(np.max(np.abs(out))))
    if not close.any(axis=-1).all():
        return
    mine = np.take_along_axis(close, own[..., None], axis=-1)[..., 0]
    if mine.all():
        return
    word = "channel" if out.ndim == 4 else "feature"
    raise CheckFailed(
        f"{where}: every entry of out is the right normalized value times a gamma plus a beta, but "
        f"{np.count_nonzero(~mine)} of {out.size} entries get those of another {word}: gamma and beta are "
        f"laid out or broadcast along the wrong axis (each {word}'s value must reach every entry of that "
        f"{word})", exercise, "parameter layout",
    )


def _normalized_before_affine(exercise, where, layout, out):
    """Raise when out itself is normalized per group: gamma and beta went in before the normalization."""
    groups = layout.to_groups(out)
    std = groups.std(axis=1)
    if np.all(np.abs(groups.mean(axis=1)) <= 1e-8 * max(1.0, float(np.max(np.abs(groups))))) and \
            np.all((std > 0.5) & (std <= 1.0 + 1e-9)):
        raise CheckFailed(
            f"{where}: out itself is normalized {layout.groups_text}, whatever gamma and beta are: they are "
            f"applied before the normalization, which takes them out again, instead of to its result",
            exercise, "affine before",
        )


def _diagnose_parameters(exercise, where, layout, out, gamma, beta, right, known_only=False):
    """Name how gamma and beta are applied when out is an affine function of the right xhat."""
    measured = _measured_parameters(layout, out, gamma, beta, right)
    if measured is None:
        return
    words = [_parameter_words(m, gamma, beta, name, known_only) for m, name in zip(measured, ("scale", "shift"))]
    if any(w is None for w in words) or words == ["gamma", "beta"]:
        return
    raise CheckFailed(
        f"{where}: the normalization itself is right (out is an affine function of the right "
        f"normalized x for every entry of gamma), but the scale applied is {words[0]} and the "
        f"shift added is {words[1]}"
        + ("; the parameters are laid out or broadcast along the wrong axis"
           if any("of other entries" in w for w in words) else "")
        + ("; indexed by k // K, a parameter takes one value per block of K consecutive entries (a group's "
           "number), where each entry has its own" if any("[k // " in w for w in words) else ""),
        exercise, "parameters",
    )


def _measured_centre(exercise, where, layout, x, xhat, expected, eps, centres):
    """Name the value subtracted from x when xhat is (x - c) / sqrt(var + eps) with c not the mean.

    Measured per group: xhat is fitted as an affine function of x; its zero is the centre c
    the code subtracted and its slope 1 / the spread it divided by. Only when the spread is
    the right one is c compared with the group's mean and the candidates in `centres`.
    """
    groups_x, groups = layout.to_groups(x), layout.to_groups(xhat)
    slope, shift = np.empty(len(groups)), np.empty(len(groups))
    for k, (gx, g) in enumerate(zip(groups_x, groups)):
        A = np.stack([gx, np.ones_like(gx)], axis=1)
        (slope[k], shift[k]), *_ = np.linalg.lstsq(A, g, rcond=None)
        if np.max(np.abs(A @ (slope[k], shift[k]) - g)) > 1e-7 * max(1.0, float(np.max(np.abs(g)))):
            return
    centre = -shift / slope
    mean = np.ravel(expected["group_mean"])
    word = layout.group_word
    s = np.sqrt(np.ravel(expected["group_var"]) + eps)
    if not matches(1 / slope, s, 1e-6):
        # a spread measured about the same wrong centre: the centre is what is wrong
        about_centre = np.sqrt(np.mean((groups_x - centre[:, None]) ** 2, axis=1) + eps)
        if matches(centre, mean, 1e-6) or not matches(1 / slope, about_centre, 1e-6):
            return
        n = groups_x.shape[1]
        k = float(np.vdot(centre, mean) / np.vdot(mean, mean))
        if matches(centre, k * mean, 1e-6) and abs(k - n / (n - 1)) < 1e-6:
            what = (f"n/(n-1) times the mean (n = {n} being {layout.n_words}): the sum is divided by "
                    f"n - 1 = {n - 1} where the mean divides it by n")
        elif matches(centre, k * mean, 1e-6):
            what = f"{k:.6g} times the mean of each {word}"
        else:
            what = (f"not the mean of each {word}: measured {', '.join(f'{c:.6g}' for c in centre[:3])}, ... "
                    f"where {', '.join(f'{m:.6g}' for m in mean[:3])}, ... belong ({word}s 0, 1, 2)")
        raise CheckFailed(f"{where}: the value subtracted from x is {what}; the variance is then taken about "
                          f"that value, so the spread is off too. Look at how your code computes the mean",
                          exercise, "centre")
    for description, value in (centres or {}).items():
        if matches(centre, np.ravel(value), 1e-6):
            raise CheckFailed(
                f"{where}: in train mode the value subtracted from x is {description}, not the mean of "
                f"this batch (the spread divided by is the batch's, and right)", exercise, "centre",
            )
    if np.all(np.abs(centre) <= 1e-9 * max(1.0, float(np.max(np.abs(groups_x))))):
        raise CheckFailed(f"{where}: the mean is not subtracted: the output is x divided by the right "
                          f"standard deviation, without centring", exercise, "centre")
    raise CheckFailed(
        f"{where}: the spread is right, but the value subtracted from x is not the mean of each {word}: "
        f"measured {', '.join(f'{c:.6g}' for c in centre[:3])}, ... where {', '.join(f'{m:.6g}' for m in mean[:3])}, "
        f"... belong ({word}s 0, 1, 2). Look at what your code subtracts before it divides", exercise, "centre",
    )


def diagnose_normalized(exercise, where, layout, x, out, gamma, beta, eps, expected, centres=None):
    """Raise CheckFailed unless out is gamma times a per-group normalized x, plus beta.

    expected: reference values of this case, {"xhat": x normalized (shaped like x),
    "group_var": each group's biased variance, in the layout's group order, "group_mean":
    its mean}. centres: {description: one value per group} a mistake may subtract in
    place of the mean.
    """
    g_map = np.broadcast_to(layout.param_view(gamma), x.shape)
    b_map = np.broadcast_to(layout.param_view(beta), x.shape)
    right = expected["xhat"]
    for wrong, message, topic in (
        (right, "the output is normalized, but gamma and beta are not applied to it", "gamma beta missing"),
        (right + b_map, "gamma is not applied: the output matches xhat + beta", "gamma missing"),
        (g_map * right, "beta is not added: the output matches gamma * xhat", "beta missing"),
        (b_map * right + g_map, "gamma and beta are swapped: the output matches beta * xhat + gamma. "
                                "gamma is the scale, beta the shift", "gamma beta swapped"),
        (g_map * right + g_map, "gamma is passed as the shift too: the output matches gamma * xhat + gamma, and "
                                "beta is never used", "gamma as beta"),
    ):
        if matches(out, wrong, 1e-9):
            raise CheckFailed(f"{where}: {message}", exercise, topic)
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    groups = layout.to_groups(xhat)
    if not _is_centred(groups):
        swapped = (out - layout.param_view(gamma)) / layout.param_view(beta)
        if _is_centred(layout.to_groups(swapped)):
            raise CheckFailed(
                f"{where}: gamma and beta are swapped: the output matches beta * xhat + gamma. "
                f"gamma is the scale, beta the shift", exercise, "gamma beta swapped",
            )
        _wrong_grouping(exercise, where, layout, x, out, gamma, beta)
        _measured_grouping(exercise, where, layout, x, xhat)
        # a known misuse of gamma or beta first: beta scaled by gamma also shifts the centre
        _diagnose_parameters(exercise, where, layout, out, gamma, beta, right, known_only=True)
        _parameters_of_other_entries(exercise, where, layout, out, gamma, beta, right)
        _normalized_before_affine(exercise, where, layout, out)
        _measured_centre(exercise, where, layout, x, xhat, expected, eps, centres)
        _diagnose_parameters(exercise, where, layout, out, gamma, beta, right)
        worst = float(np.max(np.abs(groups.mean(axis=1))))
        raise CheckFailed(
            f"{where}: (out - beta) / gamma should have mean 0 {layout.groups_text}; its "
            f"mean is off by up to {worst:.3g}, and no other grouping of the axes makes it 0",
            exercise, "not centred",
        )
    # the right xhat is x minus its group's mean, scaled: the basis of an affine fit per group
    slope, exact = _affine_slope(groups, layout.to_groups(right))
    if not exact:
        _wrong_grouping(exercise, where, layout, x, out, gamma, beta)
        _measured_grouping(exercise, where, layout, x, xhat)
        _diagnose_parameters(exercise, where, layout, out, gamma, beta, right)
        raise CheckFailed(
            f"{where}: inside each {layout.group_word} the output should be an affine "
            f"function of x (x minus the {layout.group_word}'s mean, times one number per "
            f"{layout.group_word}, then gamma and beta); yours is not. Entries that do not use their own "
            f"{layout.group_word}'s statistics, "
            f"or something nonlinear applied to x - mean, do this", exercise, "not affine",
        )
    if np.any(slope <= 0) and not np.all(slope <= 0):
        raise CheckFailed(
            f"{where}: (out - beta) / gamma decreases as x grows in some {layout.group_word}s and increases "
            f"in others: the output's scale does not follow gamma in every {layout.group_word}", exercise,
            "sign mixed",
        )
    if np.all(slope <= 0):
        raise CheckFailed(
            f"{where}: the normalized output decreases as x grows: its sign is flipped "
            f"(mean - x where x - mean belongs)", exercise, "sign",
        )
    v = np.ravel(expected["group_var"])
    n = groups.shape[1]
    s2 = np.mean(groups**2, axis=1)
    models = _variance_models(v, n, eps, layout)
    if matches(s2, models[0][1]):
        return
    for name, predicted, message in models[1:]:
        if name == "default eps used" and eps == DEFAULT_EPS:
            continue
        if matches(s2, predicted):
            raise CheckFailed(f"{where}: {message}", exercise, name)
    if eps != DEFAULT_EPS:  # the same mistakes, made with the default eps instead of the one passed
        for name, predicted, message in _variance_models(v, n, DEFAULT_EPS, layout)[1:5]:
            if matches(s2, predicted):
                raise CheckFailed(
                    f"{where}: {message}; and eps is not read from the parameter dict (the output "
                    f"matches eps={DEFAULT_EPS:g}, the checks passed eps={eps:g})", exercise, name,
                )
    measured = _measured_divisor(layout, x, v, np.ravel(expected["group_mean"]), s2, eps, gamma)
    if measured:
        raise CheckFailed(f"{where}: {measured}", exercise, "divisor")
    with np.errstate(divide="ignore", invalid="ignore"):
        eps_used = v * (1 / s2 - 1)  # the eps for which v / (v + eps) is the measured spread
    if np.all(np.isfinite(eps_used)) and eps_used.min() > 0 and np.allclose(eps_used, eps_used[0], rtol=1e-4):
        raise CheckFailed(
            f"{where}: the spread matches eps = {eps_used[0]:.3g} in every {layout.group_word}; the eps in use "
            f"here is {eps:g} ({'the one passed in the parameter dict' if eps != DEFAULT_EPS else 'the documented default'})",
            exercise, "eps value",
        )
    _diagnose_parameters(exercise, where, layout, out, gamma, beta, right, known_only=True)
    ratio = np.sqrt(s2 / models[0][1])
    g = int(np.argmax(np.abs(ratio - 1)))
    raise CheckFailed(
        f"{where}: the output has the wrong spread: the std of (out - beta) / gamma should be "
        f"sqrt(var / (var + eps)) in each {layout.group_word} (var: the biased variance of the "
        f"{layout.group_word}'s values, "
        f"eps={eps:g}); in {layout.group_word} {g} it is {ratio[g]:.6g} times that, and it matches none of "
        f"the usual mistakes (unbiased variance, eps missing or outside the root, no root)",
        exercise, "spread",
    )


# ---------------------------------------------------------------------------------------
# The cache, checked where it is made
# ---------------------------------------------------------------------------------------


def require_settings_kept(exercise, where, name, param, given, written=()):
    """The parameter dict must still hold the settings it was given, and no new keys but `written`.

    param: the dict after the call; given: {key: value} it held before; written: the keys the
    layer may store (batch norm's running statistics).
    """
    changed = [key for key, value in given.items() if key not in written and param.get(key, object()) != value]
    added = sorted(str(key) for key in param if key not in given and key not in written)
    if changed:
        key = changed[0]
        raise CheckFailed(f"{where}: {name}[{key!r}] went in as {given[key]!r} and is {param.get(key, '(gone)')!r} "
                          f"after the call: the layer reads its settings and leaves them to the caller", exercise,
                          "settings changed")
    if added:
        raise CheckFailed(f"{where}: {name} holds {added} after the call, keys that were not there"
                          + (f"; the layer writes only {sorted(written)}" if written else
                             ": the layer keeps no running statistics and writes nothing into it"),
                          exercise, "param written")


def _same_layout(shape, documented, kept):
    """shape is the documented one, or keeps its first `kept` axes and splits the rest."""
    return tuple(shape) == tuple(documented) or (
        tuple(shape[:kept]) == tuple(documented[:kept]) and len(shape) > len(documented)
        and int(np.prod(shape[kept:])) == int(np.prod(documented[kept:]))
    )


def _course_cache_name(cache):
    """The class name of one of the course's layer caches, or "" for anything else."""
    from cs231n_bn.batchnorm import BatchNormCache
    from cs231n_bn.layernorm import LayerNormCache
    from cs231n_bn.spatial import GroupNormCache, SpatialBatchNormCache

    known = (BatchNormCache, LayerNormCache, GroupNormCache, SpatialBatchNormCache)
    return type(cache).__name__ if isinstance(cache, known) else ""


def check_cache_fields(exercise, where, cache, cls, expected, others, shapes=None):
    """Each field of cache must hold the value in `expected` (compared entry by entry).

    expected: {field: value}; others: {description: value} of what a wrong field tends to
    hold, to say what it holds instead. Values are compared in order, whatever the shape (a
    (D,) and a (1, D) statistic are the same statistic). shapes: {field: (shape, kept)} for
    the fields whose class documents a layout the backward pass broadcasts in, e.g. layer
    norm's (N, 1) statistics, whose (N,) would meet the features of an (N, D) array; a field
    must have that shape, or the same first `kept` axes with the rest split into others (group
    norm's M values as (C/G, H, W)). A cache of another type (a
    tuple or dict, CS231n style) is the student's own contract with their backward pass:
    it is not looked into, and the backward check judges the pair by its gradients.
    """
    if not isinstance(cache, cls):
        other = _course_cache_name(cache)
        if other:
            raise CheckFailed(f"{where}: the cache is a {other}, the cache of another layer; this layer's backward "
                              f"pass expects a {cls.__name__} (see its fields)", exercise, "cache type")
        return
    for field, right in expected.items():
        got = getattr(cache, field, None)
        if isinstance(right, (str, int, float)) and not isinstance(right, bool):
            if isinstance(right, str) and got != right:
                raise CheckFailed(f"{where}: cache.{field} is {got!r}; expected {right!r}", exercise,
                                  "cache")
            if not isinstance(right, str) and not matches(got, right):
                raise CheckFailed(f"{where}: cache.{field} is {got!r}; expected {right!r}", exercise,
                                  "cache")
            continue
        if got is None:
            raise CheckFailed(f"{where}: cache.{field} is None; the backward pass needs it",
                              exercise, "cache")
        flat_got = np.ravel(np.asarray(got, dtype=object)) if not isinstance(got, np.ndarray) else got.ravel()
        if matches(flat_got, np.ravel(right)):
            if field in (shapes or {}) and not _same_layout(np.shape(got), *shapes[field]):
                raise CheckFailed(
                    f"{where}: cache.{field} holds the right values but has shape {np.shape(got)}, where "
                    f"{cls.__name__} keeps it as {shapes[field][0]} (see the comment on its field {field}): a "
                    f"backward pass broadcasts the field in that shape, and in yours its values meet other axes",
                    exercise, "cache shape",
                )
            continue
        for description, value in others.items():
            if matches(flat_got, np.ravel(value)):
                raise CheckFailed(
                    f"{where}: cache.{field} holds {description}, not the {field} of this forward pass", exercise,
                    "cache",
                )
        raise CheckFailed(
            f"{where}: cache.{field} does not hold {field} of this forward pass (compared entry "
            f"by entry; shape {np.shape(got)})", exercise, "cache",
        )
