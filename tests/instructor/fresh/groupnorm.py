"""spatial_groupnorm_forward / _backward: which channels form a group, over which axes, gamma per channel."""

import numpy as np

from cs231n_bn.spatial import GroupNormCache
from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

forward = Catalogue("spatial_groupnorm_forward")
backward = Catalogue("spatial_groupnorm_backward")


def per_channel(p, C):
    return p.reshape(1, C, 1, 1)


def gn_cache(x, G, xg, mu, var, eps, gamma):
    """The course's cache from group statistics of shape (N, G, 1) over xg of shape (N, G, M)."""
    ivar = 1 / np.sqrt(var + eps)
    return GroupNormCache(x=x, G=G, mu=mu, xmu=xg - mu, var=var, ivar=ivar, xhat=(xg - mu) * ivar, gamma=gamma, eps=eps)


def gn(x, gamma, beta, G, gn_param, ddof=0, eps_inside=True):
    N, C, H, W = x.shape
    eps = gn_param.get("eps", 1e-5)
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, ddof=ddof, keepdims=True)
    std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    xhat = ((xg - mu) / std).reshape(N, C, H, W)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), gn_cache(x, G, xg, mu, var, eps, gamma)


def right_cache(x, gamma, G, gn_param):
    """What a student's cache would hold for the right grouping, whatever their output's mistake."""
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    return gn_cache(x, G, xg, xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True),
                    gn_param.get("eps", 1e-5), gamma)


def normalized(x, axes, eps):
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


@forward.mistake("interleaved groups: channel c in group c % G (reshape (N, C/G, G, H, W), stats over axes 1, 3, 4)", judged=NAMED)
def interleaved_groups(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xhat = normalized(x.reshape(N, C // G, G, H, W), (1, 3, 4), gn_param.get("eps", 1e-5)).reshape(N, C, H, W)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.mistake("G read as the group size: C/G groups of G channels", judged=GENERIC)
def g_is_group_size(x, gamma, beta, G, gn_param):
    return gn(x, gamma, beta, x.shape[1] // G, gn_param)


@forward.mistake("statistics over the group's channels at each position, not over H and W too", judged=GENERIC)
def stats_per_position(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xhat = normalized(x.reshape(N, G, C // G, H, W), 2, gn_param.get("eps", 1e-5)).reshape(N, C, H, W)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.mistake("statistics per channel over H and W (instance norm whatever G)", judged=NAMED)
def per_channel_stats(x, gamma, beta, G, gn_param):
    C = x.shape[1]
    xhat = normalized(x, (2, 3), gn_param.get("eps", 1e-5))
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.mistake("statistics over the whole sample (layer norm whatever G)", judged=NAMED)
def per_sample_stats(x, gamma, beta, G, gn_param):
    return gn(x, gamma, beta, 1, gn_param)


@forward.mistake("groups taken across the batch: x.reshape(G, -1), statistics mixing samples", judged=GENERIC)
def groups_across_batch(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xg = x.transpose(1, 0, 2, 3).reshape(G, -1)
    xhat = normalized(xg, 1, gn_param.get("eps", 1e-5)).reshape(C, N, H, W).transpose(1, 0, 2, 3)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.mistake("channels moved last, then reshape (N, G, -1): each group mixes positions and channels", judged=GENERIC)
def transpose_then_reshape(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xl = x.transpose(0, 2, 3, 1)
    xhat = normalized(xl.reshape(N, G, -1), 2, gn_param.get("eps", 1e-5)).reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.mistake("unbiased variance within each group", judged=NAMED)
def unbiased(x, gamma, beta, G, gn_param):
    return gn(x, gamma, beta, G, gn_param, ddof=1)


@forward.mistake("eps outside the square root", judged=NAMED)
def eps_outside(x, gamma, beta, G, gn_param):
    return gn(x, gamma, beta, G, gn_param, eps_inside=False)


@forward.mistake("output left in the (N, G, M) layout of the groups", judged=NAMED)
def output_in_group_layout(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    out, cache = gn(x, gamma, beta, G, gn_param)
    return out.reshape(N, G, -1), cache


@forward.mistake("gamma and beta one per group: the first G entries, broadcast over each group", judged=NAMED)
def gamma_per_group(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    _, cache = gn(x, gamma, beta, G, gn_param)
    g, b = np.ravel(gamma)[:G].reshape(1, G, 1), np.ravel(beta)[:G].reshape(1, G, 1)
    return (g * cache.xhat + b).reshape(N, C, H, W), cache


@forward.mistake("gamma and beta swapped", judged=NAMED)
def gamma_beta_swapped(x, gamma, beta, G, gn_param):
    return gn(x, beta, gamma, G, gn_param)


@forward.mistake("gamma and beta not applied", judged=NAMED)
def no_gamma_beta(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    _, cache = gn(x, gamma, beta, G, gn_param)
    return cache.xhat.reshape(N, C, H, W), cache


@forward.mistake("gamma[None, :, None] (shape (1, C, 1)) broadcast against (N, C, H, W)", judged=GENERIC)
def gamma_three_axes(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    _, cache = gn(x, gamma, beta, G, gn_param)
    g, b = np.ravel(gamma)[None, :, None], np.ravel(beta)[None, :, None]
    return g * cache.xhat.reshape(N, C, H, W) + b, cache


@forward.correct("reshape to (N, G, C/G, H, W), statistics over axes (2, 3, 4) with keepdims")
def five_axes(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xhat = normalized(x.reshape(N, G, C // G, H, W), (2, 3, 4), gn_param.get("eps", 1e-5)).reshape(N, C, H, W)
    return per_channel(gamma, C) * xhat + per_channel(beta, C), right_cache(x, gamma, G, gn_param)


@forward.correct("einsum sums, one-pass variance, float32 kept float32")
def einsum_one_pass(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = gn_param.get("eps", 1e-5)
    xg = x.reshape(N, G, -1).astype(np.float64)
    M = xg.shape[2]
    mu = np.einsum("ngm->ng", xg)[..., None] / M
    var = np.einsum("ngm,ngm->ng", xg, xg)[..., None] / M - mu**2
    xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W).astype(x.dtype)
    out = per_channel(gamma, C) * xhat + per_channel(beta, C)
    return out.astype(x.dtype), right_cache(x, gamma, G, gn_param)


# spatial_groupnorm_backward

def grads(dout, cache, M_divisor=None, mean_axis=2, gamma_inside=True, with_mean=True, with_var=True, ivar_power=1):
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat
    M = xhat.shape[2] if M_divisor is None else M_divisor
    g = per_channel(cache.gamma, C)
    dxhat = (dout * g if gamma_inside else dout).reshape(N, G, -1)
    dx = dxhat.copy()
    if with_mean:
        dx -= dxhat.sum(axis=mean_axis, keepdims=True) / M
    if with_var:
        dx -= xhat * (dxhat * xhat).sum(axis=mean_axis, keepdims=True) / M
    dx = (cache.ivar**ivar_power * dx).reshape(N, C, H, W)
    if not gamma_inside:
        dx = g * dx
    xhat4 = xhat.reshape(N, C, H, W)
    shape = np.shape(cache.gamma)
    return dx, (dout * xhat4).sum(axis=(0, 2, 3)).reshape(shape), dout.sum(axis=(0, 2, 3)).reshape(shape)


@backward.mistake("gamma applied outside the group means: gamma ivar (dout - mean(dout) - xhat mean(dout xhat))", judged=GENERIC)
def gamma_outside_means(dout, cache):
    return grads(dout, cache, gamma_inside=False)


@backward.mistake("the group's count M taken as H*W instead of (C/G)*H*W", judged=GENERIC)
def count_positions_only(dout, cache):
    N, C, H, W = dout.shape
    return grads(dout, cache, M_divisor=H * W)


@backward.mistake("means over the groups (axis 1 of (N, G, M)) instead of within each group", judged=GENERIC)
def means_over_groups(dout, cache):
    return grads(dout, cache, mean_axis=1, M_divisor=cache.G)


@backward.mistake("the variance term xhat mean(dxhat xhat) dropped", judged=NAMED)
def variance_term_dropped(dout, cache):
    return grads(dout, cache, with_var=False)


@backward.mistake("the mean term mean(dxhat) dropped", judged=NAMED)
def mean_term_dropped(dout, cache):
    return grads(dout, cache, with_mean=False)


@backward.mistake("ivar squared", judged=NAMED)
def ivar_squared(dout, cache):
    return grads(dout, cache, ivar_power=2)


@backward.mistake("dgamma and dbeta summed over the batch only, left per position", judged=NAMED)
def params_per_position(dout, cache):
    N, C, H, W = dout.shape
    dx, _, _ = grads(dout, cache)
    return dx, (dout * cache.xhat.reshape(N, C, H, W)).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dgamma and dbeta summed per group, shape (G,)", judged=NAMED)
def params_per_group(dout, cache):
    N, C, H, W = dout.shape
    dx, _, _ = grads(dout, cache)
    xhat4 = cache.xhat.reshape(N, C, H, W)
    return dx, (dout * xhat4).reshape(N, cache.G, -1).sum(axis=(0, 2)), dout.reshape(N, cache.G, -1).sum(axis=(0, 2))


@backward.mistake("dgamma and dbeta always (C,), even when gamma came in CS231n's (1, C, 1, 1)", judged=NAMED)
def params_always_flat(dout, cache):
    dx, dgamma, dbeta = grads(dout, cache)
    return dx, dgamma.ravel(), dbeta.ravel()


@backward.mistake("dgamma from x instead of xhat", judged=NAMED)
def dgamma_from_x(dout, cache):
    dx, _, dbeta = grads(dout, cache)
    return dx, (dout * cache.x).sum(axis=(0, 2, 3)).reshape(np.shape(cache.gamma)), dbeta


@backward.mistake("gamma folded in per group (its mean over the group's channels) instead of per channel", judged=GENERIC)
def gamma_per_group_mean(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    g = np.ravel(cache.gamma).reshape(G, -1).mean(axis=1).reshape(1, G, 1)
    dxhat = dout.reshape(N, G, -1) * g
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    _, dgamma, dbeta = grads(dout, cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@backward.mistake("dxhat reshaped (N, -1, G): the groups' entries scrambled", judged=GENERIC)
def dxhat_wrong_reshape(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    dxhat = (dout * per_channel(cache.gamma, C)).reshape(N, -1, G).transpose(0, 2, 1)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    _, dgamma, dbeta = grads(dout, cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@backward.correct("N-times form with einsum and an explicit (N, G, C/G, H, W) view")
def einsum_five_axes(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    M = (C // G) * H * W
    xhat = cache.xhat.reshape(N, G, C // G, H, W)
    dxhat = (dout * per_channel(cache.gamma, C)).reshape(N, G, C // G, H, W)
    s1 = np.einsum("ngchw->ng", dxhat)[:, :, None, None, None]
    s2 = np.einsum("ngchw,ngchw->ng", dxhat, xhat)[:, :, None, None, None]
    dx = cache.ivar[..., None, None] / M * (M * dxhat - s1 - xhat * s2)
    shape = np.shape(cache.gamma)
    xhat4 = xhat.reshape(N, C, H, W)
    return dx.reshape(N, C, H, W), np.einsum("nchw,nchw->c", dout, xhat4).reshape(shape), \
        np.einsum("nchw->c", dout).reshape(shape)


def tuple_forward(x, gamma, beta, G, gn_param):
    """A group norm forward pass whose cache is a tuple (xhat maps, gamma, per-group ivar, G)."""
    out, c = gn(x, gamma, beta, G, gn_param)
    return out, (c.xhat.reshape(x.shape), gamma, c.ivar, G)


@backward.correct("mean form on a tuple cache (xhat maps, gamma, ivar, G)", forward=tuple_forward)
def tuple_cache(dout, cache):
    xhat4, gamma, ivar, G = cache
    N, C, H, W = dout.shape
    dxhat = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    xhat = xhat4.reshape(N, G, -1)
    dx = ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    shape = np.shape(gamma)
    return dx.reshape(N, C, H, W), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(shape), \
        dout.sum(axis=(0, 2, 3)).reshape(shape)


ENTRIES = [*forward.entries, *backward.entries]
