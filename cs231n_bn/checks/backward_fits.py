"""Fitting a wrong dx against a basis of terms, group by group, and saying what the fit proves.

The right terms of dx, its three paths P1 (direct), P2 (through the mean) and P3 (through
the variance), are reference values (cs231n_bn.checks.reference), and so are the terms a
mistake puts in the place of a path: nothing here computes a gradient or a term of one.
What this module adds is a fit of the student's dx against such terms, and the words for it:

- one factor per path and group from a wider set: powers gamma^-2 ... gamma^2 times powers
  of the standard deviation sqrt(var + eps)^-3 ... ^3, eps left out of a root;
- a path whose mean is taken over other entries (the layout's alternative groupings, then
  every reduction over a set of axes and every flat reshape, as the forward check measures
  them), or of dout where the gradient reaching xhat belongs, or with gamma applied outside
  the mean: each named by its grouping and its placement of gamma (see candidates);
- the right values at the wrong positions (a reshape without its transpose).

A term is named only when dx is, in every group, exactly (to 1e-8 of its size) the sum of
the paths it kept and that term, each times a factor that follows a known pattern: with
more entries per group than unknowns, such a fit does not happen by chance."""

import numpy as np

from cs231n_bn.checks.core import factor_text
from cs231n_bn.checks.normalized import grouping, other_groupings

EXACT = 1e-8  # relative residual of a fit that counts as exact
SAME = 1e-6  # relative spread of a factor that counts as one number


def fit(target, basis):
    """Per-group least-squares factors of target on the basis terms, and whether it is exact."""
    n_groups = target.shape[0]
    factors = np.empty((n_groups, len(basis)))
    exact = True
    for k in range(n_groups):
        A = np.stack([b[k] for b in basis], axis=1)
        a, *_ = np.linalg.lstsq(A, target[k], rcond=None)
        factors[k] = a
        scale = max(float(np.max(np.abs(target[k]))), float(np.max(np.abs(A))), 1e-300)
        if np.max(np.abs(A @ a - target[k])) > EXACT * scale:
            exact = False
    return factors, exact


def per_group_quantities(s, r, gamma_group):
    """Group-wise factors a wrong formula tends to introduce, with their names.

    s: each group's sqrt(var + eps); r: its sqrt(var); gamma_group: gamma of each group,
    or None where gamma is not one number per group (layer norm, group norm).
    """
    out = []
    if gamma_group is not None:
        out += [(gamma_group, "gamma (an extra factor gamma)"), (1 / gamma_group, "1/gamma (gamma is missing)"),
                (gamma_group**2, "gamma^2 (two extra factors gamma)"),
                (gamma_group**-2, "1/gamma^2 (gamma is missing, and divided by once more)")]
        for k in (1, -1, 2, -2):
            out += [(gamma_group * s**k, f"gamma * sqrt(var + eps)^{k} (an extra gamma and a power of the "
                                         f"standard deviation off by {k})"),
                    (s**k / gamma_group, f"sqrt(var + eps)^{k} / gamma (gamma missing and a power of the "
                                         f"standard deviation off by {k})"),
                    (gamma_group**2 * s**k, f"gamma^2 * sqrt(var + eps)^{k} (two extra factors gamma and a "
                                            f"power of the standard deviation off by {k})"),
                    (s**k / gamma_group**2, f"sqrt(var + eps)^{k} / gamma^2 (gamma missing, divided by once "
                                            f"more, and a power of the standard deviation off by {k})")]
    out += [
        (s / r, "sqrt(var + eps) / sqrt(var) (eps is dropped from one sqrt(var + eps))"),
        ((s / r) ** 2, "(var + eps) / var (eps is dropped from one var + eps)"),
        ((s / r) ** 3, "((var + eps) / var)^(3/2) (eps is dropped from (var + eps)^(3/2))"),
    ]
    for k in (1, 2, 3, -1, -2, -3):
        out.append((s**k, f"sqrt(var + eps)^{k} (a wrong power of the standard deviation, off by {k})"))
    return out


def describe_factor(a, n, layout, per_group):
    """Words for one path's factors a (one per group), or None when nothing fits."""
    if np.all(np.abs(a - a[0]) <= SAME * max(1.0, abs(a[0]))):
        c = float(np.mean(a))
        if abs(c - 1) <= SAME:
            return "right"
        return (factor_text(c, n, layout.sizes, layout.n_words)
                or f"{c:.6g} times the right one in every {layout.group_word}")
    for quantity, words in per_group:
        c = a / quantity
        if np.all(np.abs(c - c[0]) <= SAME * max(1.0, abs(c[0]))):
            c0 = float(np.mean(c))
            if abs(c0 - 1) <= SAME:
                return f"{words} times the right one"
            extra = factor_text(c0, n, layout.sizes, layout.n_words)
            if extra:
                return f"{words} times the right one, and also {extra}"
    return None


def positions_text(got, right):
    """What is known when got holds right's values at other positions, else None."""
    if got.shape != right.shape or not np.allclose(np.sort(got, axis=None), np.sort(right, axis=None),
                                                   rtol=1e-9, atol=0):
        return None
    wrong = int(np.sum(~np.isclose(got, right, rtol=1e-9, atol=0)))
    return (f"dx holds the right values, but {wrong} of {got.size} are at the wrong positions: the "
            f"gradient is right where it is computed, and the way it is put back into the shape of x "
            f"(a reshape without the transpose that undoes the one of the forward pass) moves entries")


# What three more mistakes compute, by the names their reference values are asked for under:
# a dx that stops at xhat; the variance path with each entry's own share where the group's sum
# belongs (an x-shaped term); and the factor, per group, that reading x where x - mean belongs
# in the variance path's sum puts on that path.
STOPS_AT_XHAT = "mistaken dx, stopping at xhat"
VARIANCE_UNSUMMED = "mistaken variance term, not summed over the group"
VARIANCE_READS_X = "mistaken variance factor, x in the sum where x - mean belongs"


# Where gamma sits around a path's mean, by the name its terms are asked for under, and what
# that means
_GAMMA_PLACES = (
    ("inside", ""),
    ("outside", "gamma is outside the means: they are means of dout, and gamma multiplies afterwards, where "
                "the means should be of the gradient that reaches xhat, which already carries gamma"),
    ("missing", "its mean is of dout alone: gamma is missing inside the mean (the gradient that reaches "
                "xhat already carries gamma)"),
    ("twice", "gamma is applied twice: inside the mean and once more outside it"),
)
GAMMA_PLACES = tuple(place for place, _ in _GAMMA_PLACES)


def term_groupings(layout, shape):
    """[(name, to_groups, where)]: the groupings a path's mean may be taken over by mistake.

    The layout's own grouping (named "right", where None), its alternatives, then every
    other reduction and flat reshape, as the forward check measures them.
    """
    found = [("right", layout.to_groups, None)]
    found += [(f"alternative {i}", alt[0], alt[1]) for i, alt in enumerate(layout.alternatives)]
    found += [(f"measured {i}", grouping(labels)[0], words)
              for i, (labels, words) in enumerate(other_groupings(layout, shape))]
    return found


def mistake_key(grouping_name, place, term):
    """The name of the term ("mean" or "variance") a mistake puts in place of a path: its mean
    taken over the grouping named grouping_name, gamma placed as `place` around it."""
    return f"mistaken {term} term, means over the {grouping_name} grouping, gamma {place}"


def gamma_varies(layout, gamma, shape):
    """Does gamma differ inside a normalization group (else it is one number per group)?"""
    gamma_groups = layout.to_groups(np.broadcast_to(layout.param_view(gamma), shape))
    return not np.all(gamma_groups == gamma_groups[:, :1])


def candidates(layout, shape, varies):
    """[(grouping words, upstream words, mean key, variance key)] of the terms a mistake puts in
    place of the paths through the statistics, in the order the fits try them.

    The right grouping appears only with gamma misplaced (and only where gamma differs
    inside a group: else gamma inside or outside its mean is the same); the alternative
    groupings with every placement of gamma, where gamma outside goes unremarked when it
    would be right in the right grouping.
    """
    found = []
    for name, _, where in term_groupings(layout, shape):
        for place, words in _GAMMA_PLACES:
            if where is None and (not words or not varies):
                continue  # the right paths themselves, or the right ones times a power of gamma
            if place == "outside" and not varies:
                words = ""
            found.append((where, words, mistake_key(name, place, "mean"), mistake_key(name, place, "variance")))
    return found


def _term_words(where, words, layout, both):
    parts = []
    if where is not None:
        taken = "their means are taken" if both else "its mean is taken"
        parts.append(f"{taken} {where}; the means belong {layout.groups_text}")
    if words:
        parts.append(words)
    return "; and ".join(parts)


def wider_fit(layout, target, dout, gamma, expected, per_group):
    """Lines naming what dx is made of, when a fit against the wider basis is exact; else None.

    target: the student's dx as (groups, members); expected: the reference values, with
    the terms of every candidate (see candidates); per_group: what per_group_quantities
    gives, to name a term's factor.
    """
    P1, P2, P3 = (layout.to_groups(expected[p]) for p in ("P1", "P2", "P3"))
    gamma_groups = layout.to_groups(np.broadcast_to(layout.param_view(gamma), dout.shape))
    varies = gamma_varies(layout, gamma, dout.shape)
    n = target.shape[1]
    if n < 2 * 3:  # three unknowns per group: with fewer than twice as many entries a fit proves little
        return None
    if varies:  # gamma differs inside a group: one factor per group cannot stand for it
        whole = ((1, "gamma", "gamma multiplies the whole gradient once more after the paths are added (it "
                              "already entered through the gradient that reaches xhat): gamma is applied twice"),
                 (-1, "1/gamma", "the whole gradient is divided by gamma after the paths are added"))
        for k, label, words in whole:
            factors, exact = fit(target / gamma_groups**k, (P1, P2, P3))
            if exact and np.allclose(factors, 1, rtol=SAME):
                return [f"Fitted {layout.group_word} by {layout.group_word}, dx is exactly the right sum of the "
                        f"three paths, each entry times {label} of its own parameter: {words}."]
    # a replaced term is the path as the mistake computes it (a reference value), so its
    # factors read like those of the right paths: 1 where only the mean was taken wrongly
    for where, words, mean_key, var_key in candidates(layout, dout.shape, varies):
        M, V = layout.to_groups(expected[mean_key]), layout.to_groups(expected[var_key])
        for replaced, basis in (("both", (P1, M, V)), ("mean", (P1, M, P3)), ("variance", (P1, P2, V))):
            factors, exact = fit(target, basis)
            if not exact:
                continue
            described = [describe_factor(factors[:, j], n, layout, per_group) for j in range(3)]
            if any(d is None for d in described):
                continue
            how = _term_words(where, words, layout, replaced == "both" and described[1] == described[2])
            return _fit_lines(layout, replaced, described, how)
    return None


def _fit_lines(layout, replaced, described, how):
    names = ("the direct path (x -> xhat)", "the path through the mean (x -> mu)",
             "the path through the variance (x -> var)")
    lines = [f"Fitted {layout.group_word} by {layout.group_word}, dx is exactly the sum of:",
             f"- {names[0]}: {described[0]}"]
    if replaced == "both" and described[1] == described[2]:
        extra = "" if described[1] == "right" else f" (and both carry {described[1]})"
        lines.append(f"- the paths through the mean and through the variance, each with its right factor, but "
                     f"{how}{extra}")
    else:
        for j, term in ((1, "mean"), (2, "variance")):
            if replaced in (term, "both"):
                extra = "" if described[j] == "right" else f" (and its factor is {described[j]})"
                lines.append(f"- {names[j]}, but {how}{extra}")
            else:
                lines.append(f"- {names[j]}: {described[j]}")
    which = {"both": "both paths through the statistics take their means",
             "mean": "the path through the mean takes its mean",
             "variance": "the path through the variance takes its mean"}[replaced]
    lines.append(f"So the mistake is in how {which}.")
    return lines


def gamma_per_group_text(layout, target, gamma, expected):
    """Words for a dx that is one number per group times the gradient without gamma, else None.

    Where gamma differs inside a group, that number standing for it is a measured mistake:
    its mean over the group, or some other single value.
    """
    gamma_groups = layout.to_groups(np.broadcast_to(layout.param_view(gamma), expected["dx"].shape))
    if np.all(gamma_groups == gamma_groups[:, :1]):
        return None
    factors, exact = fit(target, (layout.to_groups(expected["dx_without_gamma"]),))
    if not exact:
        return None
    a = factors[:, 0]
    word = layout.group_word
    if np.allclose(a, gamma_groups.mean(axis=1), rtol=SAME):
        return (f"dx is, {word} by {word}, the right gradient for gamma = 1 times the mean of gamma over the "
                f"{word}: gamma enters as one number per {word}, its mean, where each entry's own gamma belongs")
    return (f"dx is, {word} by {word}, the right gradient for gamma = 1 times one number per {word} (measured "
            f"{', '.join(f'{v:.6g}' for v in a[:3])}, ...): gamma enters as one number per {word}, where each "
            f"entry's own gamma belongs")


def stops_at_xhat(target, stopped):
    """Is dx what a backward pass that stops at xhat gives (stopped, a reference value)?"""
    return bool(np.allclose(target, stopped, rtol=1e-9, atol=1e-12 * float(np.max(np.abs(stopped)))))
