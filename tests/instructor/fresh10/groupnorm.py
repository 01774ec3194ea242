"""spatial_groupnorm_forward and spatial_groupnorm_backward: mistakes and variants."""

import numpy as np

from cs231n_bn.spatial import spatial_groupnorm_forward
from tests.instructor.fresh10.scaffold import channel, gn_backward_prelude, gn_finish, gn_prelude
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("spatial_groupnorm_forward")
bwd = Catalogue("spatial_groupnorm_backward", forward=spatial_groupnorm_forward)


def _group_stats(xg):
    """Right (N, G, 1) mean and variance of (N, G, M) groups, in float64 rounded to xg's dtype."""
    mu = xg.mean(axis=2, keepdims=True, dtype=np.float64)
    xmu = (xg - mu).astype(xg.dtype)
    var = (xmu.astype(np.float64) ** 2).mean(axis=2, keepdims=True).astype(xg.dtype)
    return mu.astype(xg.dtype), xmu, var


def _gn(x, gamma, beta, G, eps, xg=None, stats=None, eps_inside=True):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1) if xg is None else xg
    mu, xmu, var = _group_stats(xg) if stats is None else stats
    ivar = 1.0 / np.sqrt(var + eps) if eps_inside else 1.0 / (np.sqrt(var) + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * channel(gamma, C) + channel(beta, C)
    return gn_finish(x, G, mu, xmu, var, ivar, xhat, gamma, eps, out)


# ------------------------------------------------------------------ forward: mistakes

@fwd.mistake("Makes C // G groups of G channels instead of G groups of C // G channels (reshapes to (N, C // G, -1)).")
def groups_and_size_swapped(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C = x.shape[:2]
    return _gn(x, gamma, beta, C // G, eps)


@fwd.mistake("Forms groups of interleaved channels (channel c in group c % G) instead of consecutive channels.")
def interleaved_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, C // G, G, H, W)
    mu = x5.mean(axis=(1, 3, 4), keepdims=True)
    var = x5.var(axis=(1, 3, 4), keepdims=True)
    xhat = ((x5 - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    out = xhat * channel(gamma, C) + channel(beta, C)
    xg = xhat.reshape(N, G, -1)
    return gn_finish(x, G, mu.reshape(N, G, 1), xg, var.reshape(N, G, 1), 1.0 / np.sqrt(var.reshape(N, G, 1) + eps),
                     xg, gamma, eps, out)


@fwd.mistake("Ignores G and normalizes each sample over all its channels and positions (layer norm over (C, H, W)).")
def ignores_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, 1, eps)


@fwd.mistake("Takes each group's statistics over the batch as well (means over axes 0 and 2 of the (N, G, M) array).")
def statistics_across_batch(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=(0, 2), keepdims=True)
    xmu = xg - mu
    var = (xmu**2).mean(axis=(0, 2), keepdims=True)
    stats = (np.broadcast_to(mu, (N, G, 1)), xmu, np.broadcast_to(var, (N, G, 1)))
    return _gn(x, gamma, beta, G, eps, xg=xg, stats=stats)


@fwd.mistake("Broadcasts gamma and beta as gamma[:, None, None], which only works for the (C,) layout and breaks on (1, C, 1, 1).")
def gamma_only_flat_layout(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, xmu, var = _group_stats(xg)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma[:, None, None] + beta[:, None, None]
    if out.shape != x.shape:
        raise ValueError(f"could not broadcast to {x.shape}")
    return gn_finish(x, G, mu, xmu, var, ivar, xhat, gamma, eps, out)


@fwd.mistake("Keeps the cache's statistics as (N, G) instead of the (N, G, 1) the cache specifies.")
def cache_stats_without_keepdims(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    out, c = _gn(x, gamma, beta, G, eps)
    return gn_finish(x, G, c.mu[..., 0], c.xmu, c.var[..., 0], c.ivar[..., 0], c.xhat, gamma, eps, out)


@fwd.mistake("Keeps xhat in the cache as (N, C, H, W) instead of the (N, G, M) the cache specifies.")
def cache_xhat_four_d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    out, c = _gn(x, gamma, beta, G, eps)
    return gn_finish(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat.reshape(x.shape), gamma, eps, out)


@fwd.mistake("Stores gamma in the cache reshaped to (C,) even when it was given as (1, C, 1, 1).")
def cache_gamma_flattened(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    out, c = _gn(x, gamma, beta, G, eps)
    return gn_finish(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat, gamma.reshape(-1), eps, out)


@fwd.mistake("Adds eps outside the square root: xhat = xmu / (sqrt(var) + eps).")
def gn_eps_outside(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, G, eps, eps_inside=False)


@fwd.mistake("Uses each group's unbiased variance (divides by M - 1).")
def gn_unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu, xmu, _ = _group_stats(xg)
    var = xg.var(axis=2, ddof=1, keepdims=True).astype(x.dtype)
    return _gn(x, gamma, beta, G, eps, xg=xg, stats=(mu, xmu, var))


@fwd.mistake("Centres through a reshaped view of x in place (xg -= mu), which modifies the caller's x.")
def gn_in_place(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu, _, var = _group_stats(xg)
    xg -= mu
    return _gn(x, gamma, beta, G, eps, xg=xg, stats=(mu, xg, var))


@fwd.mistake("Groups along the last axis: reshapes x to (N, -1, G) and normalizes over axis 1.")
def groups_on_last_axis(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, -1, G).transpose(0, 2, 1)
    return _gn(x, gamma, beta, G, eps, xg=xg)


@fwd.mistake("Ignores gn_param['eps'] and always uses 1e-5.")
def gn_eps_ignored(x, gamma, beta, G, gn_param):
    gamma, beta, G, _ = gn_prelude(x, gamma, beta, G, gn_param)
    return _gn(x, gamma, beta, G, 1e-5)


# ------------------------------------------------------------------ forward: correct variants

@fwd.correct("A loop over the G groups, slicing C // G consecutive channels each.")
def gn_loop_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    Cg = C // G
    mu, var = np.empty((N, G, 1), x.dtype), np.empty((N, G, 1), x.dtype)
    xmu = np.empty((N, G, Cg * H * W), x.dtype)
    for g in range(G):
        block = x[:, g * Cg:(g + 1) * Cg].reshape(N, -1).astype(np.float64)
        m = block.mean(axis=1, keepdims=True)
        mu[:, g], xmu[:, g] = m, block - m
        var[:, g] = ((block - m) ** 2).mean(axis=1, keepdims=True)
    return _gn(x, gamma, beta, G, eps, stats=(mu, xmu, var))


@fwd.correct("A 5-D reshape (N, G, C // G, H, W) with statistics over axes (2, 3, 4), flattened into the cache.")
def gn_five_d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, G, C // G, H, W).astype(np.float64)
    mu = x5.mean(axis=(2, 3, 4), keepdims=True)
    var = ((x5 - mu) ** 2).mean(axis=(2, 3, 4), keepdims=True)
    stats = (mu.reshape(N, G, 1).astype(x.dtype), (x5 - mu).reshape(N, G, -1).astype(x.dtype),
             var.reshape(N, G, 1).astype(x.dtype))
    return _gn(x, gamma, beta, G, eps, stats=stats)


@fwd.correct("einsum sums with np.add.reduce means, float64, and gamma broadcast via reshape(1, C, 1, 1).")
def gn_einsum(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    M = xg.shape[2]
    mu = (np.add.reduce(xg.astype(np.float64), axis=2) / M)[..., None]
    xmu = (xg - mu).astype(x.dtype)
    var = (np.einsum("ngm,ngm->ng", xmu, xmu, dtype=np.float64)[..., None] / M).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return gn_finish(x, G, mu.astype(x.dtype), xmu, var, ivar, xhat, gamma, eps, out)


@fwd.correct("Works on a contiguous copy of x (np.array(x)) so nothing it does can reach the caller's array.")
def gn_on_copy(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    xc = np.array(x, order="C", copy=True)
    N = x.shape[0]
    xg = xc.reshape(N, G, -1)
    mu, _, var = _group_stats(xg)
    xg -= mu
    return _gn(x, gamma, beta, G, eps, xg=xg, stats=(mu, xg, var))


# ------------------------------------------------------------------ backward

def _pre(dout, cache):
    gn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    return N, C, H, W, cache.xhat, cache.xhat.shape[2]


def _dx(dxhat, xhat, ivar):
    return ivar * (dxhat - dxhat.mean(2, keepdims=True) - xhat * (dxhat * xhat).mean(2, keepdims=True))


@bwd.mistake("Always returns dgamma and dbeta as (C,), even when gamma was given as (1, C, 1, 1).")
def gb_flat_gradients(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = _dx(dxhat, xhat, cache.ivar).reshape(dout.shape)
    return dx, (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)), dout.sum((0, 2, 3))


@bwd.mistake("Sums dgamma per group, (G,) values repeated over the group's channels, instead of per channel.")
def gb_dgamma_per_group(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    G = cache.G
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, G, M)
    dx = _dx(dxhat, xhat, cache.ivar).reshape(dout.shape)
    per_group = (dout.reshape(N, G, M) * xhat).sum((0, 2))
    dgamma = np.repeat(per_group, C // G).reshape(cache.gamma.shape)
    return dx, dgamma, dout.sum((0, 2, 3)).reshape(cache.gamma.shape)


@bwd.mistake("Drops the mean term: dx = ivar * (dxhat - xhat * mean(dxhat * xhat)) per group.")
def gb_without_mean_term(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = cache.ivar * (dxhat - xhat * (dxhat * xhat).mean(2, keepdims=True))
    shape = cache.gamma.shape
    return dx.reshape(dout.shape), (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), \
        dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("Takes dx's means over each sample's whole (C, H, W) instead of over each group.")
def gb_means_over_sample(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    G = cache.G
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, 1, G * M)
    xs = xhat.reshape(N, 1, G * M)
    dx = cache.ivar.reshape(N, G, 1) * (dxhat - dxhat.mean(2, keepdims=True)
                                         - xs * (dxhat * xs).mean(2, keepdims=True)).reshape(N, G, M)
    shape = cache.gamma.shape
    return dx.reshape(dout.shape), (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), \
        dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("Forgets gamma in dxhat: uses dout itself inside dx.")
def gb_without_gamma(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dx = _dx(dout.reshape(N, cache.G, M), xhat, cache.ivar).reshape(dout.shape)
    shape = cache.gamma.shape
    return dx, (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("Divides the group sums by C // G, the channels per group, instead of M = (C // G) * H * W values.")
def gb_count_channels_only(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    k = C // cache.G
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = cache.ivar * (dxhat - dxhat.sum(2, keepdims=True) / k - xhat * (dxhat * xhat).sum(2, keepdims=True) / k)
    shape = cache.gamma.shape
    return dx.reshape(dout.shape), (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), \
        dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("dgamma sums dout * xmu (the centred input) instead of dout * xhat.")
def gb_dgamma_with_xmu(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = _dx(dxhat, xhat, cache.ivar).reshape(dout.shape)
    shape = cache.gamma.shape
    return dx, (dout * cache.xmu.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("Returns dx in the group layout (N, G, M) without reshaping it back to (N, C, H, W).")
def gb_dx_group_layout(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    shape = cache.gamma.shape
    return _dx(dxhat, xhat, cache.ivar), (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), \
        dout.sum((0, 2, 3)).reshape(shape)


@bwd.mistake("Sums dbeta over the batch axis only, returning (C, H, W) instead of one value per channel.")
def gb_dbeta_batch_only(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = _dx(dxhat, xhat, cache.ivar).reshape(dout.shape)
    return dx, (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(cache.gamma.shape), dout.sum(0)


@bwd.correct("A loop over groups, layer norm's closed form on each (N, M) block of channels.")
def gb_loop_groups(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    G, Cg = cache.G, C // cache.G
    dxhat = dout * channel(cache.gamma, C)
    dx = np.empty_like(dout)
    for g in range(G):
        d = dxhat[:, g * Cg:(g + 1) * Cg].reshape(N, M)
        xh = xhat[:, g]
        dx[:, g * Cg:(g + 1) * Cg] = (cache.ivar[:, g] * (d - d.mean(1, keepdims=True)
                                      - xh * (d * xh).mean(1, keepdims=True))).reshape(N, Cg, H, W)
    shape = cache.gamma.shape
    xh4 = xhat.reshape(dout.shape)
    return dx, np.add.reduce(dout * xh4, axis=(0, 2, 3)).reshape(shape), np.add.reduce(dout, axis=(0, 2, 3)).reshape(shape)


@bwd.correct("The factored form ivar / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) with einsum sums.")
def gb_factored(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    s1 = np.einsum("ngm->ng", dxhat)[..., None]
    s2 = np.einsum("ngm,ngm->ng", dxhat, xhat)[..., None]
    dx = (cache.ivar / M * (M * dxhat - s1 - xhat * s2)).reshape(dout.shape)
    shape = cache.gamma.shape
    return (dx, np.einsum("nchw,nchw->c", dout, xhat.reshape(dout.shape)).reshape(shape),
            np.einsum("nchw->c", dout).reshape(shape))


@bwd.correct("dx written with xmu and var + eps from the cache instead of xhat and ivar.")
def gb_with_xmu(dout, cache):
    N, C, H, W, xhat, M = _pre(dout, cache)
    s = cache.var + cache.eps
    dxhat = (dout * channel(cache.gamma, C)).reshape(N, cache.G, M)
    dx = (dxhat - dxhat.mean(2, keepdims=True) - cache.xmu * (dxhat * cache.xmu).sum(2, keepdims=True) / (M * s))
    dx = (dx / np.sqrt(s)).astype(dout.dtype, copy=False).reshape(dout.shape)
    shape = cache.gamma.shape
    return dx, (dout * xhat.reshape(dout.shape)).sum((0, 2, 3)).reshape(shape), dout.sum((0, 2, 3)).reshape(shape)
