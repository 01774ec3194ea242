"""spatial_groupnorm_forward and spatial_groupnorm_backward: statistics per (sample, group)."""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import DEFAULT_EPS, MODES
from cs231n_bn.spatial import (GN_PARAM_KEYS, GroupNormCache, _check_channel_params, _check_groups,
                               spatial_groupnorm_forward)
from tests.instructor.fresh9.scaffold import centred
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_groupnorm_forward")
backward = Catalogue("spatial_groupnorm_backward", forward=spatial_groupnorm_forward)


def _setup(x, gamma, beta, G, gn_param):
    where = "spatial_groupnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta, group_layout=True)
    G = _check_groups(where, G, x)
    validation.param_dict(where, "gn_param", gn_param)
    validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
    if "mode" in gn_param:
        validation.choice(where, "gn_param['mode']", gn_param["mode"], MODES)
    eps = validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", DEFAULT_EPS))
    return gamma, beta, G, eps


def _stats(xg):
    mu = xg.mean(axis=2, keepdims=True)
    xmu = xg - mu
    return mu, (xmu * xmu).mean(axis=2, keepdims=True)


def _gn(x, gamma, beta, G, eps, group=None, stats=_stats, scale=None):
    """Group norm from pieces: group(x) -> (N, G, M); scale(xhat4, gamma, beta) -> out; xmu
    centred around the float64 mean of each group (scaffold.centred)."""
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1) if group is None else group(x, G)
    mu, var = stats(xg)
    xmu = centred(xg, axis=2)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    xhat4 = xhat.reshape(N, C, H, W)
    if scale is None:
        out = xhat4 * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    else:
        out = scale(xhat4, gamma, beta)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


def _replace(cache, **fields):
    return GroupNormCache(**{**vars(cache), **fields})


@forward.mistake("Forms the groups by striding (channel c goes to group c % G, via reshape(N, C//G, G, H, W)) instead of G consecutive blocks of C/G channels.")
def strided_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape

    def group(x, G):
        return x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)
    out, cache = _gn(x, gamma, beta, G, eps, group=group)
    xhat4 = cache.xhat.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
    return xhat4 * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1), cache


@forward.mistake("Splits the channels into C/G groups of G channels (reshape(N, C // G, -1)) instead of G groups of C/G.")
def groups_and_size_swapped(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x, gamma, beta, x.shape[1] // G, eps)
    return out, _replace(cache, G=G)


@forward.mistake("Normalizes the output of each group over its channels at every position separately (statistics over the C/G axis only, not over H and W); the cache keeps the per-group statistics.")
def per_position(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    out, cache = _gn(x, gamma, beta, G, eps)
    xg = x.reshape(N, G, C // G, H, W)
    xhat = (xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    return xhat.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1), cache


@forward.mistake("Uses the unbiased group variance (dividing by M - 1).")
def unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, G, eps, stats=lambda xg: (xg.mean(axis=2, keepdims=True), xg.var(axis=2, ddof=1, keepdims=True)))


@forward.mistake("Stores the statistics as (N, G) (no keepdims) in the cache instead of (N, G, 1).")
def cache_stats_squeezed(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x, gamma, beta, G, eps)
    return out, _replace(cache, mu=cache.mu[..., 0], var=cache.var[..., 0], ivar=cache.ivar[..., 0])


@forward.mistake("Multiplies xhat reshaped to (N, C, H, W) by gamma as given, so a (C,) gamma broadcasts along W (right only for the (1, C, 1, 1) layout).")
def gamma_broadcast_along_w(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, G, eps, scale=lambda xhat4, g, b: xhat4 * g + b)


@forward.mistake("Ignores gn_param['eps'] and always uses 1e-5.")
def eps_ignored(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x, gamma, beta, G, 1e-5)
    return out, _replace(cache, eps=eps)


@forward.mistake("Computes in float64 (x.astype(np.float64)) and never casts back, so float32 x gives a float64 out.")
def upcast(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x.astype(np.float64), gamma, beta, G, eps)
    return out, _replace(cache, x=x)


@forward.mistake("Stores gamma reshaped to (C,) in the cache even when it came as (1, C, 1, 1), so the gradients come back in the wrong layout.")
def cache_gamma_flattened(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x, gamma, beta, G, eps)
    return out, _replace(cache, gamma=gamma.reshape(-1))


@forward.mistake("Stores xhat in the cache as (N, C, H, W) instead of the (N, G, M) layout the cache fixes.")
def cache_xhat_4d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    out, cache = _gn(x, gamma, beta, G, eps)
    return out, _replace(cache, xhat=cache.xhat.reshape(x.shape))


@forward.mistake("Adds eps after the square root: ivar = 1 / (sqrt(var) + eps).")
def eps_after_sqrt(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = _stats(xg)
    ivar = 1.0 / (np.sqrt(var) + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xg - mu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("Indexes gamma and beta by group instead of channel: scales and shifts every channel of group g by gamma[g] and beta[g] (the first G entries).")
def gamma_per_group(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    out, cache = _gn(x, gamma, beta, G, eps)
    g, b = gamma.reshape(-1)[:G], beta.reshape(-1)[:G]
    return (cache.xhat * g[:, None] + b[:, None]).reshape(x.shape), cache


@forward.correct("gamma and beta reshaped to (1, C, 1, 1) whatever their layout; statistics with np.var over the (N, G, M) view.")
def np_var(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, G, eps, stats=lambda xg: (xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)))


@forward.correct("A loop over the G groups on the (N, C, H, W) array, slicing C/G channels at a time.")
def loop_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    Cg = C // G
    mu, var = np.empty((N, G, 1), x.dtype), np.empty((N, G, 1), x.dtype)
    for g in range(G):
        block = x[:, g * Cg:(g + 1) * Cg]
        mu[:, g, 0] = block.mean(axis=(1, 2, 3))
        var[:, g, 0] = ((block - mu[:, g, 0, None, None, None]) ** 2).mean(axis=(1, 2, 3))
    return _gn(x, gamma, beta, G, eps, stats=lambda xg: (mu, var))


@forward.correct("Statistics summed in float64 with einsum, cast back to x's dtype; gamma broadcast as gamma.reshape(C, 1, 1).")
def einsum_float64(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    C = x.shape[1]

    def stats(xg):
        M = xg.shape[2]
        mu = np.einsum("ngm->ng", xg, dtype=np.float64)[..., None] / M
        d = xg - mu
        return mu.astype(x.dtype), (np.einsum("ngm,ngm->ng", d, d)[..., None] / M).astype(x.dtype)
    return _gn(x, gamma, beta, G, eps, stats=stats,
               scale=lambda xhat4, g, b: xhat4 * g.reshape(C, 1, 1) + b.reshape(C, 1, 1))


@forward.correct("Group norm as layer norm of the (N*G, M) matrix, then reshaped back.")
def as_layernorm_rows(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _setup(x, gamma, beta, G, gn_param)
    N = x.shape[0]

    def stats(xg):
        rows = xg.reshape(N * G, -1)
        mu = rows.mean(axis=1, keepdims=True)
        return mu.reshape(N, G, 1), ((rows - mu) ** 2).mean(axis=1, keepdims=True).reshape(N, G, 1)
    return _gn(x, gamma, beta, G, eps, stats=stats)


def _bsetup(dout, cache):
    where = "spatial_groupnorm_backward"
    validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def _gback(dout, cache, dx=None, params=None):
    _bsetup(dout, cache)
    N, C, H, W = dout.shape
    G, xhat = cache.G, cache.xhat
    xhat4 = xhat.reshape(N, C, H, W)
    if params is None:
        dbeta = dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
        dgamma = (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    else:
        dgamma, dbeta = params(dout, xhat4, cache.gamma)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    if dx is None:
        dx = lambda g, xhat, ivar: ivar * (g - g.mean(axis=2, keepdims=True) - xhat * (g * xhat).mean(axis=2, keepdims=True))
    return dx(dxhat, xhat, cache.ivar).reshape(N, C, H, W), dgamma, dbeta


@backward.mistake("Returns dgamma and dbeta as (C,) whatever the layout of gamma (wrong for (1, C, 1, 1)).")
def params_always_flat(dout, cache):
    return _gback(dout, cache, params=lambda d, xhat4, g: ((d * xhat4).sum(axis=(0, 2, 3)), d.sum(axis=(0, 2, 3))))


@backward.mistake("Sums dgamma and dbeta over (2, 3) only, leaving a batch axis: shape (N, C) instead of per channel.")
def params_keep_batch(dout, cache):
    return _gback(dout, cache, params=lambda d, xhat4, g: ((d * xhat4).sum(axis=(2, 3)), d.sum(axis=(2, 3))))


@backward.mistake("Leaves gamma out of dxhat (dxhat = dout).")
def no_gamma(dout, cache):
    dx, dgamma, dbeta = _gback(dout, cache)
    N, C, H, W = dout.shape
    d = dout.reshape(N, cache.G, -1)
    xhat = cache.xhat
    dx = cache.ivar * (d - d.mean(axis=2, keepdims=True) - xhat * (d * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("Takes dx's means over the groups (axis=1 of the (N, G, M) arrays) instead of over each group's values.")
def means_over_groups(dout, cache):
    return _gback(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True)))


@backward.mistake("Drops the xhat * mean(dxhat * xhat) term of dx (the path through the variance).")
def no_variance_term(dout, cache):
    return _gback(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=2, keepdims=True)))


@backward.mistake("Divides dx's sums by C/G (channels per group) instead of M = (C/G)*H*W values per group.")
def divides_by_channels_per_group(dout, cache):
    k = dout.shape[1] // cache.G
    return _gback(dout, cache, lambda g, xhat, ivar: ivar * (g - g.sum(axis=2, keepdims=True) / k - xhat * (g * xhat).sum(axis=2, keepdims=True) / k))


@backward.mistake("Computes in float64 (dout.astype(np.float64)), so a float32 pass returns float64 gradients.")
def back_upcast(dout, cache):
    return _gback(dout.astype(np.float64), cache)


@backward.mistake("Multiplies dout by gamma as given, so a (C,) gamma broadcasts along W when forming dxhat.")
def dxhat_gamma_along_w(dout, cache):
    _bsetup(dout, cache)
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _gback(dout, cache)
    g = (dout * cache.gamma).reshape(N, cache.G, -1)
    xhat = cache.xhat
    dx = cache.ivar * (g - g.mean(axis=2, keepdims=True) - xhat * (g * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("Computes dgamma from the input x instead of xhat: sum(dout * x) per channel.")
def dgamma_from_x(dout, cache):
    return _gback(dout, cache, params=lambda d, xhat4, g: ((d * cache.x).sum(axis=(0, 2, 3)).reshape(g.shape),
                                                          d.sum(axis=(0, 2, 3)).reshape(g.shape)))


@backward.correct("dgamma and dbeta summed with keepdims over (0, 2, 3) and reshaped to gamma's shape; dx in the sum form with M.")
def keepdims_sum_form(dout, cache):
    def dx(g, xhat, ivar):
        M = g.shape[2]
        return ivar / M * (M * g - g.sum(axis=2, keepdims=True) - xhat * (g * xhat).sum(axis=2, keepdims=True))
    return _gback(dout, cache, dx, params=lambda d, xhat4, g: ((d * xhat4).sum(axis=(0, 2, 3), keepdims=True).reshape(g.shape),
                                                              d.sum(axis=(0, 2, 3), keepdims=True).reshape(g.shape)))


@backward.correct("A loop over the G groups, the staged per-group graph (dvar and dmu nodes) on channel slices.")
def back_loop_groups(dout, cache):
    _bsetup(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    Cg = C // G
    gamma = cache.gamma.reshape(C)
    xmu4 = cache.xmu.reshape(N, C, H, W)
    ivar = cache.ivar
    dx = np.empty_like(dout)
    M = Cg * H * W
    for g in range(G):
        sl = slice(g * Cg, (g + 1) * Cg)
        dxhat = dout[:, sl] * gamma[sl, None, None]
        xmu = xmu4[:, sl]
        iv = ivar[:, g, 0][:, None, None, None]
        dvar = -0.5 * iv**3 * (dxhat * xmu).sum(axis=(1, 2, 3), keepdims=True)
        dxmu = dxhat * iv + 2 * xmu * dvar / M
        dx[:, sl] = dxmu - dxmu.sum(axis=(1, 2, 3), keepdims=True) / M
    xhat4 = cache.xhat.reshape(N, C, H, W)
    return dx, np.einsum("nchw,nchw->c", dout, xhat4).reshape(cache.gamma.shape), np.einsum("nchw->c", dout).reshape(cache.gamma.shape)


@backward.correct("Group norm's backward pass as layer norm's on the (N*G, M) rows.")
def back_as_layernorm_rows(dout, cache):
    N = dout.shape[0]
    G = cache.G

    def dx(g, xhat, ivar):
        g2, x2, i2 = g.reshape(N * G, -1), xhat.reshape(N * G, -1), ivar.reshape(N * G, 1)
        return (i2 * (g2 - g2.mean(axis=1, keepdims=True) - x2 * (g2 * x2).mean(axis=1, keepdims=True))).reshape(g.shape)
    return _gback(dout, cache, dx)
