"""spatial_groupnorm_forward and spatial_groupnorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.spatial import GroupNormCache, spatial_groupnorm_forward

from tests.instructor.fresh11.given import gn_given
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_groupnorm_forward")
backward = Catalogue("spatial_groupnorm_backward", forward=spatial_groupnorm_forward)


def _gn(x, gamma, beta, G, eps, ddof=0):
    """A correct group norm's output and cache, from x grouped as (N, G, M)."""
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True, ddof=ddof)
    xmu = xg - mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("The channels are grouped as x.reshape(N, C // G, G, H, W), so a group takes every G-th channel instead of C/G consecutive ones.")
def gn_interleaved(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    xi = x.reshape(N, C // G, G, H, W)
    mu = xi.mean(axis=(1, 3, 4), keepdims=True)
    var = xi.var(axis=(1, 3, 4), keepdims=True)
    xhat = ((xi - mu) / np.sqrt(var + eps)).reshape(x.shape)
    _, cache = _gn(x, gamma, beta, G, eps)
    return xhat * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1), cache


@forward.mistake("Each group's statistics are taken over its channels only (axis of C/G) and not over the positions H, W.")
def gn_channels_only(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, C // G, H, W)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(x.shape)
    _, cache = _gn(x, gamma, beta, G, eps)
    return xhat * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1), cache


@forward.mistake("Each group's variance is the unbiased one (ddof=1).")
def gn_unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    return _gn(x, gamma, beta, G, eps, ddof=1)


@forward.mistake("The statistics are pooled over the batch too: one mean and variance per group over all samples.")
def gn_across_batch(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=(0, 2), keepdims=True)
    var = xg.var(axis=(0, 2), keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(x.shape)
    _, cache = _gn(x, gamma, beta, G, eps)
    return xhat * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1), cache


@forward.mistake("gamma and beta are indexed per group, gamma[:G], instead of one per channel.")
def gn_gamma_per_group(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    _, cache = _gn(x, gamma, beta, G, eps)
    out = cache.xhat * gamma.reshape(-1)[:G, None] + beta.reshape(-1)[:G, None]
    return out.reshape(x.shape), cache


@forward.mistake("gamma is broadcast as gamma[None, :, None, None], which is right for (C,) but gives a 6-D output for CS231n's (1, C, 1, 1) layout.")
def gn_gamma_one_layout(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    _, cache = _gn(x, gamma, beta, G, eps)
    xhat = cache.xhat.reshape(x.shape)
    return xhat * gamma[None, :, None, None] + beta[None, :, None, None], cache


@forward.mistake("eps is added outside the square root: xmu / (sqrt(var) + eps).")
def gn_eps_outside(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    _, c = _gn(x, gamma, beta, G, eps)
    ivar = 1 / (np.sqrt(c.var) + eps)
    xhat = c.xmu * ivar
    cache = GroupNormCache(x=x, G=G, mu=c.mu, xmu=c.xmu, var=c.var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    return xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1), cache


@forward.mistake("The cache keeps xhat as (N, C, H, W) instead of the (N, G, M) layout the backward pass reads.")
def gn_cache_xhat_4d(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    out, c = _gn(x, gamma, beta, G, eps)
    cache = GroupNormCache(x=x, G=G, mu=c.mu, xmu=c.xmu, var=c.var, ivar=c.ivar, xhat=c.xhat.reshape(x.shape),
                           gamma=gamma, eps=eps)
    return out, cache


@forward.mistake("The cache stores gamma flattened to (C,) even when it was given as (1, C, 1, 1), so dgamma comes back in the wrong layout.")
def gn_cache_gamma_flat(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    out, c = _gn(x, gamma, beta, G, eps)
    cache = GroupNormCache(x=x, G=G, mu=c.mu, xmu=c.xmu, var=c.var, ivar=c.ivar, xhat=c.xhat,
                           gamma=gamma.reshape(-1), eps=eps)
    return out, cache


@forward.mistake("The number of groups is taken as C // G (the group size) instead of G when reshaping.")
def gn_groups_swapped(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    return _gn(x, gamma, beta, x.shape[1] // G, eps)


@forward.mistake("x's grouped view is centred in place (xg -= mu), which modifies the caller's x.")
def gn_in_place(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    xg -= mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xg * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xg, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.correct("A loop over the groups, each block x[:, g*C/G:(g+1)*C/G] normalized over its channels and positions.")
def gn_loop(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    size = C // G
    mu = np.empty((N, G, 1), x.dtype)
    var = np.empty((N, G, 1), x.dtype)
    for g in range(G):
        block = x[:, g * size:(g + 1) * size].reshape(N, -1)
        mu[:, g, 0] = block.mean(axis=1)
        var[:, g, 0] = block.var(axis=1)
    xmu = x.reshape(N, G, -1) - mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.correct("Statistics summed in x's own dtype with np.var, gamma reshaped to (1, C, 1, 1) whatever its layout.")
def gn_own_dtype(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    return _gn(x, gamma, beta, G, eps)


@forward.correct("Statistics in float64 from a (N*G, M) view, cast back to x's dtype.")
def gn_float64_rows(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    rows = x.reshape(N * G, -1).astype(np.float64)
    mu64 = rows.mean(axis=1, keepdims=True)
    var = ((rows - mu64) ** 2).mean(axis=1, keepdims=True).reshape(N, G, 1).astype(x.dtype)
    xmu = (rows - mu64).reshape(N, G, -1).astype(x.dtype)
    mu = mu64.reshape(N, G, 1).astype(x.dtype)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.correct("Statistics over a (N, G, C/G, H, W) view with axis=(2, 3, 4), reshaped to the cache's layout.")
def gn_five_d(x, gamma, beta, G, gn_param):
    gamma, beta, eps = gn_given(x, gamma, beta, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, G, C // G, H, W)
    mu = x5.mean(axis=(2, 3, 4)).reshape(N, G, 1)
    var = x5.var(axis=(2, 3, 4)).reshape(N, G, 1)
    xmu = x.reshape(N, G, -1) - mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = (x5 - mu[..., None, None]) * ivar[..., None, None]
    out = out.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


# ---------------------------------------------------------------- backward

def _gnb(dout, cache, dgamma_shape=True):
    N, C, H, W = dout.shape
    G = cache.G
    xhat4 = cache.xhat.reshape(dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat4).sum(axis=(0, 2, 3))
    if dgamma_shape:
        dbeta, dgamma = dbeta.reshape(cache.gamma.shape), dgamma.reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(C, 1, 1)).reshape(N, G, -1)
    return dbeta, dgamma, dxhat


def _gn_dx(dxhat, cache, shape):
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(shape)


@backward.mistake("dgamma and dbeta always come back as (C,), even when gamma was given as (1, C, 1, 1).")
def gnb_flat_params(dout, cache):
    dbeta, dgamma, dxhat = _gnb(dout, cache, dgamma_shape=False)
    return _gn_dx(dxhat, cache, dout.shape), dgamma, dbeta


@backward.mistake("dgamma and dbeta are summed over the batch only, giving (C, H, W) arrays.")
def gnb_params_batch_only(dout, cache):
    _, _, dxhat = _gnb(dout, cache)
    xhat4 = cache.xhat.reshape(dout.shape)
    return _gn_dx(dxhat, cache, dout.shape), (dout * xhat4).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dxhat is dout itself: gamma is not applied before the group's closed form.")
def gnb_no_gamma(dout, cache):
    dbeta, dgamma, _ = _gnb(dout, cache)
    return _gn_dx(dout.reshape(cache.xhat.shape), cache, dout.shape), dgamma, dbeta


@backward.mistake("The means inside the closed form are taken over the batch axis (as in batch norm) instead of within each group.")
def gnb_batch_means(dout, cache):
    dbeta, dgamma, dxhat = _gnb(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0, keepdims=True) - xhat * (dxhat * xhat).mean(axis=0, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("The projection term xhat * mean(dxhat * xhat) is dropped from dx.")
def gnb_no_projection(dout, cache):
    dbeta, dgamma, dxhat = _gnb(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("The group means divide by C/G (channels per group) instead of by M = (C/G)*H*W values.")
def gnb_divide_by_group_size(dout, cache):
    dbeta, dgamma, dxhat = _gnb(dout, cache)
    size = dout.shape[1] // cache.G
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.sum(axis=2, keepdims=True) / size
                       - xhat * (dxhat * xhat).sum(axis=2, keepdims=True) / size)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("gamma is broadcast along W, dout * gamma with a (C,) gamma against (N, C, H, W).")
def gnb_gamma_last_axis(dout, cache):
    dbeta, dgamma, _ = _gnb(dout, cache)
    dxhat = (dout * cache.gamma.reshape(-1)).reshape(cache.xhat.shape)
    return _gn_dx(dxhat, cache, dout.shape), dgamma, dbeta


@backward.mistake("The upstream gradient is scaled in place (dout *= gamma), changing the caller's dout.")
def gnb_dout_in_place(dout, cache):
    N, C, H, W = dout.shape
    dbeta, dgamma, _ = _gnb(dout, cache)
    dout *= cache.gamma.reshape(C, 1, 1)
    return _gn_dx(dout.reshape(cache.xhat.shape), cache, dout.shape), dgamma, dbeta


@backward.correct("A loop over groups, layer norm's closed form on each group's (N, M) block.")
def gnb_loop(dout, cache):
    dbeta, dgamma, dxhat = _gnb(dout, cache)
    dx = np.empty_like(dxhat)
    for g in range(cache.G):
        d, xh, iv = dxhat[:, g], cache.xhat[:, g], cache.ivar[:, g]
        dx[:, g] = iv * (d - d.mean(axis=1, keepdims=True) - xh * (d * xh).mean(axis=1, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.correct("The closed form with sums and M outside: (ivar / M) * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), via einsum.")
def gnb_einsum(dout, cache):
    N, C, H, W = dout.shape
    M = cache.xhat.shape[2]
    dbeta = np.einsum("nchw->c", dout).reshape(cache.gamma.shape)
    dgamma = np.einsum("nchw,nchw->c", dout, cache.xhat.reshape(dout.shape)).reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, cache.G, M)
    s1 = np.einsum("ngm->ng", dxhat)[..., None]
    s2 = np.einsum("ngm,ngm->ng", dxhat, cache.xhat)[..., None]
    return ((cache.ivar / M) * (M * dxhat - s1 - cache.xhat * s2)).reshape(dout.shape), dgamma, dbeta
