"""spatial_groupnorm_forward and spatial_groupnorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.spatial import GroupNormCache
from tests.instructor.fresh7.scaffold import gn_backward, gn_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_groupnorm_forward")
backward = Catalogue("spatial_groupnorm_backward")


def _group_stats(xg, ddof=0):
    """Mean, centred values and variance of each (sample, group) row of xg (N, G, M), summed in float64."""
    x64 = xg.astype(np.float64)
    mu = x64.mean(axis=2, keepdims=True)
    xmu = x64 - mu
    var = (xmu**2).sum(axis=2, keepdims=True) / (xg.shape[2] - ddof)
    return mu.astype(xg.dtype), xmu.astype(xg.dtype), var.astype(xg.dtype)


def _gn(x, gamma, beta, G, eps, ddof=0):
    N, C, H, W = x.shape
    mu, xmu, var = _group_stats(x.reshape(N, G, -1), ddof)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("groups of strided channels (c % G) from reshape(N, C // G, G, ...) instead of consecutive ones")
@gn_forward
def gnf_strided(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xs = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4)
    mu, xmu, var = _group_stats(xs.reshape(N, G, -1))
    ivar = 1.0 / np.sqrt(var + eps)
    xhat_s = (xmu * ivar).reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
    out = xhat_s * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xmu * ivar, gamma, eps)


@forward.mistake("each group's variance with ddof=1")
@gn_forward
def gnf_ddof(x, gamma, beta, G, gn_param, eps):
    return _gn(x, gamma, beta, G, eps, ddof=1)


@forward.mistake("statistics pooled over the batch as well (mean over axes 0 and 2 of (N, G, M))")
@gn_forward
def gnf_over_batch(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1).astype(np.float64)
    mu = xg.mean(axis=(0, 2), keepdims=True)
    var = xg.var(axis=(0, 2), keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = ((xg - mu) * ivar).astype(x.dtype)
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    c = (np.broadcast_to(a, (N, G, 1)).astype(x.dtype) for a in (mu, var, ivar))
    mu, var, ivar = c
    return out, GroupNormCache(x, G, mu, (xg - mu).astype(x.dtype), var, ivar, xhat, gamma, eps)


@forward.mistake("cache.xhat kept as (N, C, H, W) where the cache documents the (N, G, M) layout")
@gn_forward
def gnf_cache_layout(x, gamma, beta, G, gn_param, eps):
    out, c = _gn(x, gamma, beta, G, eps)
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat.reshape(x.shape), gamma, eps)


@forward.mistake("cache statistics kept as (N, G) without the trailing axis")
@gn_forward
def gnf_cache_flat(x, gamma, beta, G, gn_param, eps):
    out, c = _gn(x, gamma, beta, G, eps)
    return out, GroupNormCache(x, G, c.mu[..., 0], c.xmu, c.var[..., 0], c.ivar[..., 0], c.xhat, gamma, eps)


@forward.mistake("G read as the group SIZE: reshape(N, C // G, -1) makes C/G groups of G channels")
@gn_forward
def gnf_group_size(x, gamma, beta, G, gn_param, eps):
    out, c = _gn(x, gamma, beta, x.shape[1] // G, eps)
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat, gamma, eps)


@forward.mistake("eps added outside the square root")
@gn_forward
def gnf_eps_outside(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    mu, xmu, var = _group_stats(x.reshape(N, G, -1))
    ivar = 1.0 / (np.sqrt(var) + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.mistake("float64 statistics never cast back: float32 x gives float64 output")
@gn_forward
def gnf_float64(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True, dtype=np.float64)
    xmu = xg - mu
    var = (xmu**2).mean(axis=2, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.mistake("centres the reshaped view in place (xg -= mu), which writes into the caller's x")
@gn_forward
def gnf_inplace(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, _, var = _group_stats(xg)
    xg -= mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xg * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xg, var, ivar, xhat, gamma, eps)


@forward.mistake("gamma[:, None, None] and beta[:, None, None]: right for (C,), a 6-D output for CS231n's (1, C, 1, 1)")
@gn_forward
def gnf_param_index(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    _, c = _gn(x, gamma, beta, G, eps)
    out = c.xhat.reshape(x.shape) * gamma[:, None, None] + beta[:, None, None]
    return out, c


@forward.mistake("eps hard-coded 1e-5, ignoring gn_param['eps']")
@gn_forward
def gnf_fixed_eps(x, gamma, beta, G, gn_param, eps):
    return _gn(x, gamma, beta, G, 1e-5)


@forward.mistake("gamma and beta indexed per group (gamma[:G]) and broadcast over each group's channels")
@gn_forward
def gnf_gamma_per_group(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    _, c = _gn(x, gamma, beta, G, eps)
    g, b = gamma.reshape(-1)[:G].reshape(1, G, 1), beta.reshape(-1)[:G].reshape(1, G, 1)
    return (c.xhat * g + b).reshape(x.shape), c


@forward.correct("statistics with np.mean/np.var over a (N, G, C/G, H, W) view, axes (2, 3, 4)")
@gn_forward
def gnf_ok_5d(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    x5 = x.reshape(N, G, C // G, H, W).astype(np.float64)
    mu = x5.mean(axis=(2, 3, 4)).reshape(N, G, 1)
    var = x5.var(axis=(2, 3, 4)).reshape(N, G, 1)
    xmu = (x5.reshape(N, G, -1) - mu).astype(x.dtype)
    var, mu = var.astype(x.dtype), mu.astype(x.dtype)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.correct("layer norm over each group by transposing (N*G, M) to (M, N*G), batch norm's axis")
@gn_forward
def gnf_ok_transpose(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    cols = x.reshape(N * G, -1).T.astype(np.float64)
    mu = cols.mean(axis=0)
    xmu = cols - mu
    var = (xmu**2).mean(axis=0)
    mu, var = mu.reshape(N, G, 1).astype(x.dtype), var.reshape(N, G, 1).astype(x.dtype)
    xmu = xmu.T.reshape(N, G, -1).astype(x.dtype)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.correct("xhat by division, gamma and beta reshaped to (C, 1, 1)")
@gn_forward
def gnf_ok_divide(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    mu, xmu, var = _group_stats(x.reshape(N, G, -1))
    sd = np.sqrt(var + eps)
    xhat = xmu / sd
    out = xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, 1 / sd, xhat, gamma, eps)


# ---- backward ----

def _gn_back(dout, cache, slip=None):
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat
    M = (C // G) if slip == "M_channels" else xhat.shape[2]
    x4 = xhat.reshape(N, C, H, W)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * (cache.xmu.reshape(N, C, H, W) if slip == "dgamma_xmu" else x4)).sum(axis=(0, 2, 3))
    g = np.ones(C, dout.dtype) if slip == "no_gamma" else cache.gamma.reshape(C)
    dxhat = (dout * g.reshape(1, C, 1, 1)).reshape(N, G, -1)
    if slip == "whole_sample":
        dxhat, xhat = dxhat.reshape(N, 1, -1), xhat.reshape(N, 1, -1)
    term = 0 if slip == "no_xhat_term" else xhat * (dxhat * xhat).sum(axis=2, keepdims=True) / M
    dx = (dxhat - dxhat.sum(axis=2, keepdims=True) / M - term)
    dx = (dx.reshape(N, G, -1) * cache.ivar).reshape(N, C, H, W)
    shape = cache.gamma.shape
    if slip == "flat_params":
        return dx, dgamma, dbeta
    if slip == "always_4d":
        return dx, dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)
    return dx, dgamma.reshape(shape), dbeta.reshape(shape)


@backward.mistake("dgamma and dbeta always returned as (C,), even for CS231n's (1, C, 1, 1) gamma")
@gn_backward
def gnb_flat_params(dout, cache):
    return _gn_back(dout, cache, "flat_params")


@backward.mistake("dgamma and dbeta always returned as (1, C, 1, 1), even for a (C,) gamma")
@gn_backward
def gnb_always_4d(dout, cache):
    return _gn_back(dout, cache, "always_4d")


@backward.mistake("dgamma sums dout * xmu (unnormalized) instead of dout * xhat")
@gn_backward
def gnb_dgamma_xmu(dout, cache):
    return _gn_back(dout, cache, "dgamma_xmu")


@backward.mistake("the means over the whole sample (all C*H*W values) instead of over each group")
@gn_backward
def gnb_whole_sample(dout, cache):
    return _gn_back(dout, cache, "whole_sample")


@backward.mistake("gamma left out of dxhat")
@gn_backward
def gnb_no_gamma(dout, cache):
    return _gn_back(dout, cache, "no_gamma")


@backward.mistake("the variance term xhat * mean(dxhat * xhat) forgotten")
@gn_backward
def gnb_no_xhat_term(dout, cache):
    return _gn_back(dout, cache, "no_xhat_term")


@backward.mistake("group size M taken as C/G, forgetting the H*W positions of each channel")
@gn_backward
def gnb_M_channels(dout, cache):
    return _gn_back(dout, cache, "M_channels")


@backward.mistake("means with dtype=np.float64 never cast back: a float32 pass returns float64 dx")
@gn_backward
def gnb_float64(dout, cache):
    dx, dgamma, dbeta = _gn_back(dout, cache)
    return dx + np.zeros((), np.float64), dgamma, dbeta


@backward.mistake("dxhat built in place in dout (dout *= gamma)")
@gn_backward
def gnb_inplace(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _gn_back(dout, cache)
    dout *= cache.gamma.reshape(1, C, 1, 1)
    return dx, dgamma, dbeta


@backward.mistake("dgamma and dbeta summed over the batch only, keeping the positions: shape (C, H, W)")
@gn_backward
def gnb_positions_kept(dout, cache):
    N, C, H, W = dout.shape
    dx, _, _ = _gn_back(dout, cache)
    return dx, (dout * cache.xhat.reshape(N, C, H, W)).sum(axis=0), dout.sum(axis=0)


@backward.mistake("gamma applied to dxhat per group (first G entries), after the reshape to (N, G, M)")
@gn_backward
def gnb_gamma_per_group(dout, cache):
    N, C, H, W = dout.shape
    G, M = cache.G, cache.xhat.shape[2]
    dxhat = dout.reshape(N, G, M) * cache.gamma.reshape(-1)[:G].reshape(1, G, 1)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(2, keepdims=True) - xhat * (dxhat * xhat).mean(2, keepdims=True))
    _, dgamma, dbeta = _gn_back(dout, cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@backward.correct("the layer-norm backward applied to (N*G, M) rows with gamma folded in first")
@gn_backward
def gnb_ok_rows(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N * G, -1)
    xhat = cache.xhat.reshape(N * G, -1)
    ivar = cache.ivar.reshape(N * G, 1)
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))
    dgamma = np.einsum("nchw,nchw->c", dout, cache.xhat.reshape(N, C, H, W)).reshape(cache.gamma.shape)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@backward.correct("the staged form with per-group dvar and dmu")
@gn_backward
def gnb_ok_staged(dout, cache):
    N, C, H, W = dout.shape
    G, M = cache.G, cache.xhat.shape[2]
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, G, M)
    dvar = -0.5 * cache.ivar**3 * (dxhat * cache.xmu).sum(2, keepdims=True)
    dmu = -cache.ivar * dxhat.sum(2, keepdims=True) - 2 * dvar * cache.xmu.mean(2, keepdims=True)
    dx = dxhat * cache.ivar + 2 * dvar * cache.xmu / M + dmu / M
    dgamma = (dout * cache.xhat.reshape(N, C, H, W)).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    return dx.reshape(N, C, H, W), dgamma, dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@backward.correct("parameter gradients with keepdims then reshaped to gamma's shape")
@gn_backward
def gnb_ok_keepdims(dout, cache):
    dx, _, _ = _gn_back(dout, cache)
    N, C, H, W = dout.shape
    dgamma = (dout * cache.xhat.reshape(N, C, H, W)).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    return dx, dgamma.reshape(cache.gamma.shape), dbeta.reshape(cache.gamma.shape)
