"""Mistakes and unusual correct variants of spatial_groupnorm_forward and _backward (notebook 7)."""

from dataclasses import dataclass

import numpy as np

from cs231n_bn.layernorm import layernorm_backward, LayerNormCache
from cs231n_bn.spatial import GroupNormCache
from tests.instructor.later_catalogue import Catalogue

gn_forward = Catalogue("spatial_groupnorm_forward")
gn_backward = Catalogue("spatial_groupnorm_backward")


def _scale(gamma, C):
    return gamma.reshape(1, C, 1, 1)


def _groups(x, G, gamma, beta, eps, ddof=0, keepdims=True, eps_outside=False):
    """Per-(sample, group) statistics on (N, G, M), with switches for the mistakes."""
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    xmu = xg - mu
    var = xg.var(axis=2, ddof=ddof, keepdims=True)
    ivar = 1.0 / (np.sqrt(var) + eps) if eps_outside else 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * _scale(gamma, C) + _scale(beta, C)
    if not keepdims:
        mu, var, ivar = mu[..., 0], var[..., 0], ivar[..., 0]
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


def _eps(gn_param):
    return gn_param.get("eps", 1e-5)


@gn_forward.mistake("groups interleaved: reshape(N, C//G, G, H, W) and statistics over axis 1 put channels c, c+G, ... together")
def gn_interleaved_groups(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    x5 = x.reshape(N, C // G, G, H, W)
    mu = x5.mean(axis=(1, 3, 4), keepdims=True)
    var = x5.var(axis=(1, 3, 4), keepdims=True)
    xhat5 = (x5 - mu) / np.sqrt(var + eps)
    xhat = xhat5.reshape(N, C, H, W)
    out = xhat * _scale(gamma, C) + _scale(beta, C)
    muG = mu.reshape(N, G, 1)
    varG = var.reshape(N, G, 1)
    xhatG = xhat.reshape(N, G, -1)
    ivar = 1.0 / np.sqrt(varG + eps)
    return out, GroupNormCache(x, G, muG, xhatG / ivar, varG, ivar, xhatG, gamma, eps)


@gn_forward.mistake("statistics per channel over (H, W) (instance norm): G is ignored")
def gn_ignores_groups(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    out, c = _groups(x, C, gamma, beta, _eps(gn_param))
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat, gamma, c.eps)


@gn_forward.mistake("statistics of each group pooled over the batch too (axes 0 and 2), as in batch norm")
def gn_pools_batch(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    mu = np.broadcast_to(xg.mean(axis=(0, 2), keepdims=True), (N, G, 1)).copy()
    var = np.broadcast_to(xg.var(axis=(0, 2), keepdims=True), (N, G, 1)).copy()
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * _scale(gamma, C) + _scale(beta, C)
    return out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps)


@gn_forward.mistake("caches the statistics as (N, G) (no keepdims) instead of the documented (N, G, 1)")
def gn_cache_flat_statistics(x, gamma, beta, G, gn_param):
    return _groups(x, G, gamma, beta, _eps(gn_param), keepdims=False)


@gn_forward.mistake("caches xhat in the input's layout (N, C, H, W) instead of (N, G, M)")
def gn_cache_xhat_4d(x, gamma, beta, G, gn_param):
    out, c = _groups(x, G, gamma, beta, _eps(gn_param))
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat.reshape(x.shape), gamma, c.eps)


@gn_forward.mistake("caches gamma reshaped to (1, C, 1, 1) whatever shape it came in, so dgamma comes back in the wrong layout")
def gn_cache_gamma_4d(x, gamma, beta, G, gn_param):
    C = x.shape[1]
    out, c = _groups(x, G, gamma, beta, _eps(gn_param))
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat, gamma.reshape(1, C, 1, 1), c.eps)


@gn_forward.mistake("unbiased variance (ddof=1) within each group")
def gn_unbiased(x, gamma, beta, G, gn_param):
    return _groups(x, G, gamma, beta, _eps(gn_param), ddof=1)


@gn_forward.mistake("eps added to the standard deviation instead of inside the square root")
def gn_eps_outside_sqrt(x, gamma, beta, G, gn_param):
    return _groups(x, G, gamma, beta, _eps(gn_param), eps_outside=True)


@gn_forward.mistake("statistics with dtype=float64 left unrounded: float64 out and cache for float32 x")
def gn_float64_leaks(x, gamma, beta, G, gn_param):
    return _groups(x.astype(np.float64), G, gamma, beta, _eps(gn_param))


@gn_forward.mistake("G read as the size of each group: reshape(N, C // G, -1) makes C/G groups of G channels")
def gn_g_as_group_size(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    out, c = _groups(x, C // G, gamma, beta, _eps(gn_param))
    return out, GroupNormCache(x, G, c.mu, c.xmu, c.var, c.ivar, c.xhat, gamma, c.eps)


@gn_forward.mistake("scales with gamma[None, :, None, None], which only fits gamma of shape (C,), not CS231n's (1, C, 1, 1)")
def gn_gamma_indexing(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma[None, :, None, None] + beta[None, :, None, None]
    return out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps)


@gn_forward.mistake("keeps running statistics in gn_param as batch norm does, writing new keys into the caller's dict")
def gn_writes_running_stats(x, gamma, beta, G, gn_param):
    out, c = _groups(x, G, gamma, beta, _eps(gn_param))
    gn_param["running_mean"] = c.mu.mean(axis=0)
    gn_param["running_var"] = c.var.mean(axis=0)
    return out, c


@gn_forward.mistake("centers through a reshape view of the caller's x (xg = x.reshape(...); xg -= mu)")
def gn_centers_caller_x(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    x_in = x.copy()
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    xg -= mu
    var = (xg**2).mean(axis=2, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xg * ivar
    out = xhat.reshape(x.shape) * _scale(gamma, C) + _scale(beta, C)
    return out, GroupNormCache(x_in, G, mu, xg.copy(), var, ivar, xhat, gamma, eps)


@gn_forward.mistake("test mode (as a solver writes it) skips normalization, copied from a batch-norm template")
def gn_test_mode_identity(x, gamma, beta, G, gn_param):
    out, c = _groups(x, G, gamma, beta, _eps(gn_param))
    if gn_param.get("mode") == "test":
        C = x.shape[1]
        return x * _scale(gamma, C) + _scale(beta, C), c
    return out, c


@gn_forward.correct("a loop over groups on the (N, C, H, W) array, statistics over axes (1, 2, 3) of each slice")
def gn_group_loop(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    K = C // G
    mu = np.empty((N, G, 1), x.dtype)
    var = np.empty((N, G, 1), x.dtype)
    for g in range(G):
        block = x[:, g * K:(g + 1) * K]
        mu[:, g, 0] = block.mean(axis=(1, 2, 3))
        var[:, g, 0] = block.var(axis=(1, 2, 3))
    xg = x.reshape(N, G, -1)
    xmu = xg - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * _scale(gamma, C) + _scale(beta, C)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


@gn_forward.correct("5-D reshape (N, G, C//G, H, W), statistics over axes (2, 3, 4), float64 sums rounded back")
def gn_five_d(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    x5 = x.reshape(N, G, C // G, H, W)
    mu64 = x5.mean(axis=(2, 3, 4), dtype=np.float64).reshape(N, G, 1)
    xmu = (x.reshape(N, G, -1) - mu64).astype(x.dtype)
    var = np.mean(xmu.astype(np.float64) ** 2, axis=2, keepdims=True).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = (xhat.reshape(x.shape) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)).astype(x.dtype)
    return out, GroupNormCache(x, G, mu64.astype(x.dtype), xmu, var, ivar, xhat, gamma, eps)


@gn_forward.correct("Welford-free shifted variance: each group shifted by its first value before summing")
def gn_shifted(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    d = xg.astype(np.float64) - xg[:, :, :1]
    s1 = d.mean(axis=2, keepdims=True)
    var = (np.mean(d * d, axis=2, keepdims=True) - s1 * s1).astype(x.dtype)
    mu = (xg[:, :, :1] + s1).astype(x.dtype)
    xmu = xg - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * _scale(gamma, C) + _scale(beta, C)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


# ---- backward ----

def _back(dout, c, axis=2, count=None, gamma_in_dxhat=True, projection=True):
    N, C, H, W = dout.shape
    G = c.G
    xhat = c.xhat
    M = xhat.shape[2] if count is None else count
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    dgamma = (dout * xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    dxhat = (dout * _scale(c.gamma, C) if gamma_in_dxhat else dout).reshape(N, G, -1)
    a = dxhat.sum(axis=axis, keepdims=True) / M
    b = (dxhat * xhat).sum(axis=axis, keepdims=True) / M if projection else 0
    dx = c.ivar * (dxhat - a - xhat * b)
    return dx.reshape(dout.shape), dgamma, dbeta


@gn_backward.mistake("returns dgamma and dbeta as (C,) even when gamma came as (1, C, 1, 1)")
def gnb_params_always_flat(dout, c):
    dx, dgamma, dbeta = _back(dout, c)
    return dx, dgamma.ravel(), dbeta.ravel()


@gn_backward.mistake("returns dgamma and dbeta as (1, C, 1, 1) (sum with keepdims over 0, 2, 3) whatever gamma's shape")
def gnb_params_always_4d(dout, c):
    dx, dgamma, dbeta = _back(dout, c)
    C = dout.shape[1]
    return dx, dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


@gn_backward.mistake("the closed form's means taken over the groups (axis 1) instead of within each group")
def gnb_means_over_groups(dout, c):
    return _back(dout, c, axis=1, count=c.G)


@gn_backward.mistake("dxhat = dout regrouped, without gamma")
def gnb_without_gamma(dout, c):
    return _back(dout, c, gamma_in_dxhat=False)


@gn_backward.mistake("dgamma sums dout * xmu instead of dout * xhat")
def gnb_dgamma_with_xmu(dout, c):
    dx, _, dbeta = _back(dout, c)
    return dx, (dout * c.xmu.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(c.gamma.shape), dbeta


@gn_backward.mistake("drops the projection on xhat: dx = ivar * (dxhat - mean(dxhat))")
def gnb_no_projection(dout, c):
    return _back(dout, c, projection=False)


@gn_backward.mistake("divides the group means by the channels per group C/G instead of the values per group (C/G)*H*W")
def gnb_divides_by_channels(dout, c):
    return _back(dout, c, count=dout.shape[1] // c.G)


@gn_backward.mistake("dgamma and dbeta summed over the batch only (axis 0), left as (C, H, W)")
def gnb_params_keep_positions(dout, c):
    dx, _, _ = _back(dout, c)
    return dx, (dout * c.xhat.reshape(dout.shape)).sum(axis=0), dout.sum(axis=0)


@gn_backward.mistake("multiplies the caller's dout by gamma in place to form dxhat")
def gnb_dout_in_place(dout, c):
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    dgamma = (dout * c.xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    dout *= _scale(c.gamma, C)
    dxhat = dout.reshape(N, c.G, -1)
    dx = c.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - c.xhat * (dxhat * c.xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@gn_backward.mistake("builds dx in np.zeros((N, G, M)): float64 dx for float32 dout")
def gnb_float64(dout, c):
    dx, dgamma, dbeta = _back(dout, c)
    buffer = np.zeros(c.xhat.shape)
    buffer[...] = dx.reshape(c.xhat.shape)
    return buffer.reshape(dout.shape), dgamma, dbeta


@gn_backward.mistake("dxhat regrouped before gamma is applied per group (gamma's first G entries broadcast over the groups)")
def gnb_gamma_per_group(dout, c):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _back(dout, c)
    dxhat = dout.reshape(N, c.G, -1) * c.gamma.ravel()[: c.G].reshape(1, c.G, 1)
    dx = c.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - c.xhat * (dxhat * c.xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@gn_backward.correct("each group handed to layer norm's backward pass as an (N*G, M) layer-norm problem")
def gnb_via_layernorm(dout, c):
    N, C, H, W = dout.shape
    G, M = c.G, c.xhat.shape[2]
    dxhat = (dout * _scale(c.gamma, C)).reshape(N * G, M)
    xhat = c.xhat.reshape(N * G, M)
    ln = LayerNormCache(xhat, c.mu.reshape(-1, 1), c.xmu.reshape(N * G, M), c.var.reshape(-1, 1),
                        c.ivar.reshape(-1, 1), xhat, np.ones(M, dout.dtype), c.eps)
    dx, _, _ = layernorm_backward(dxhat, ln)
    dbeta = np.einsum("nchw->c", dout).reshape(c.gamma.shape)
    dgamma = np.einsum("nchw,nchw->c", dout, c.xhat.reshape(dout.shape)).reshape(c.gamma.shape)
    return dx.reshape(dout.shape), dgamma, dbeta


@gn_backward.correct("a loop over the groups on the (N, C, H, W) arrays")
def gnb_group_loop(dout, c):
    N, C, H, W = dout.shape
    K = C // c.G
    xhat = c.xhat.reshape(dout.shape)
    dxhat = dout * _scale(c.gamma, C)
    dx = np.empty_like(dout)
    for g in range(c.G):
        s = slice(g * K, (g + 1) * K)
        d, h = dxhat[:, s], xhat[:, s]
        a = d.mean(axis=(1, 2, 3), keepdims=True)
        b = (d * h).mean(axis=(1, 2, 3), keepdims=True)
        dx[:, s] = c.ivar[:, g].reshape(N, 1, 1, 1) * (d - a - h * b)
    return dx, (dout * xhat).sum(axis=(0, 2, 3)).reshape(c.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(c.gamma.shape)


@dataclass(frozen=True)
class GroupCache:
    """A valid alternative cache: xhat in the input's layout, ivar per group, gamma, G."""

    xhat: np.ndarray
    ivar: np.ndarray
    gamma: np.ndarray
    G: int


def gn_forward_own_cache(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = gn_param.get("eps", 1e-5)
    xg = x.reshape(N, G, -1)
    ivar = 1.0 / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    xhat = ((xg - xg.mean(axis=2, keepdims=True)) * ivar).reshape(x.shape)
    return xhat * _scale(gamma, C) + _scale(beta, C), GroupCache(xhat, ivar, gamma, G)


@gn_backward.correct("a cache of its own (xhat as (N, C, H, W), ivar, gamma, G) from its own forward pass",
                     forward=gn_forward_own_cache)
def gnb_own_cache(dout, c):
    N, C, H, W = dout.shape
    dxhat = (dout * _scale(c.gamma, C)).reshape(N, c.G, -1)
    xhat = c.xhat.reshape(N, c.G, -1)
    dx = c.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    dgamma = (dout * c.xhat).sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    return dx.reshape(dout.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
