"""What the mistakes of a backward pass compute, for the dx check's fits (instructor-only).

The dx check fits a wrong dx against what a known mistake computes in place of a path of
dx. Those terms have the shape of the right ones (they are the right formula with a mean
taken over other entries, or gamma moved), so they are computed here, beside the right
paths in reference_provider, and reach the shipped checks as reference values named by
the mistake (cs231n_bn.checks.backward_fits names them and says which it tries).
"""

import numpy as np

from cs231n_bn.checks.backward_fits import (
    GAMMA_PLACES,
    STOPS_AT_XHAT,
    VARIANCE_READS_X,
    VARIANCE_UNSUMMED,
    mistake_key,
    term_groupings,
)
from cs231n_bn.checks.normalized import bn_layout, groupnorm_layout, ln_layout, spatial_bn_layout

# backward function -> the layout its check judges by, from x's shape and the forward
# arguments after (x, gamma, beta)
LAYOUTS = {
    "batchnorm_backward": lambda shape, args: bn_layout(*shape),
    "batchnorm_backward_alt": lambda shape, args: bn_layout(*shape),
    "layernorm_backward": lambda shape, args: ln_layout(*shape),
    "spatial_batchnorm_backward": lambda shape, args: spatial_bn_layout(*shape),
    "spatial_groupnorm_backward": lambda shape, args: groupnorm_layout(*shape, args[0]),
}

# a placement of gamma around a path's mean: (gamma inside the mean, gamma outside it)
_PLACES = {"inside": (True, False), "outside": (False, True), "missing": (False, False), "twice": (True, True)}


def _group_means(to_groups, a):
    """An array shaped like a whose every entry is the mean of its group under to_groups."""
    index = to_groups(np.arange(a.size).reshape(a.shape))
    rows = to_groups(a)
    out = np.empty(a.size)
    out[index] = np.broadcast_to(rows.mean(axis=1, keepdims=True), rows.shape)
    return out.reshape(a.shape)


def mistakes(function_name, x, gamma, dout, forward_args, values):
    """{what: value} of the mistakes the dx check tries, for one backward case.

    values: the case's right values (xhat, P1, P3, group_mean, group_var); eps is the
    forward pass's, from its param dict (the last of forward_args).
    """
    layout = LAYOUTS[function_name](x.shape, forward_args)
    gamma_map = np.broadcast_to(layout.param_view(gamma), x.shape)
    dxhat = gamma_map * dout
    xhat = values["xhat"]
    s = np.sqrt(np.ravel(values["group_var"]) + forward_args[-1]["eps"])
    P1, xhat_g, dxhat_g = (layout.to_groups(a) for a in (values["P1"], xhat, dxhat))
    xmu = xhat_g * s[:, None]
    mean = np.ravel(values["group_mean"])[:, None]
    found = {
        STOPS_AT_XHAT: dxhat,
        VARIANCE_UNSUMMED: layout.from_groups(-xhat_g**2 * P1 / P1.shape[1]),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        found[VARIANCE_READS_X] = np.sum((xmu + mean) * dxhat_g, axis=1) / np.sum(xmu * dxhat_g, axis=1)
    # a path through the statistics carries -1/sqrt(var + eps) of its (right) group; a mistaken
    # term is given with that factor, as the path the mistake computes
    factor = layout.from_groups(np.broadcast_to(-1 / s[:, None], P1.shape))
    for name, to_groups, _ in term_groupings(layout, x.shape):
        for place in GAMMA_PLACES:
            inside, outside = _PLACES[place]
            if name == "right" and place == "inside":
                continue  # the right paths, which are values of their own
            u = dout * gamma_map if inside else dout
            w = factor * (gamma_map if outside else 1.0)
            found[mistake_key(name, place, "mean")] = w * _group_means(to_groups, u)
            found[mistake_key(name, place, "variance")] = w * xhat * _group_means(to_groups, u * xhat)
    return found
