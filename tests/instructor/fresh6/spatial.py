"""Convolutional normalization (notebook 7): spatial batch norm and group norm, both passes."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from cs231n_bn.spatial import GroupNormCache, SpatialBatchNormCache, spatial_batchnorm_forward
from cs231n_bn.spatial import spatial_groupnorm_forward
from tests.instructor.fresh6 import scaffold as S
from tests.instructor.later_catalogue import Catalogue

sbn_forward = Catalogue("spatial_batchnorm_forward")
sbn_backward = Catalogue("spatial_batchnorm_backward", forward=spatial_batchnorm_forward)
gn_forward = Catalogue("spatial_groupnorm_forward")
gn_backward = Catalogue("spatial_groupnorm_backward", forward=spatial_groupnorm_forward)


def _rows(a):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------
# spatial_batchnorm_forward
# ---------------------------------------------------------------------------------------

@sbn_forward.mistake("reshapes (N, C, H, W) straight to (-1, C) without moving the channel axis last")
def sf_reshape_only(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    out, bn = batchnorm_forward(x.reshape(-1, x.shape[1]), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("moves channels last on the way in but only reshapes on the way out")
def sf_no_transpose_back(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("returns the output channels last, shape (N, H, W, C)")
def sf_channels_last_out(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, H, W, C), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("passes a copy of bn_param to batchnorm_forward, so the running statistics never reach the caller")
def sf_param_copy(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    out, bn = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("one statistic per (channel, position): batch norm of the (N, C*H*W) matrix, gamma tiled")
def sf_per_position(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    local = dict(bn_param)
    for key in ("running_mean", "running_var"):
        if key in local:
            local[key] = np.repeat(local[key], H * W)
    out, bn = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), local)
    for key in ("running_mean", "running_var"):
        bn_param[key] = local[key].reshape(C, H * W).mean(axis=1)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("normalizes with gamma = 1, beta = 0 and applies the (C,) parameters afterwards, so the cache's gamma is ones")
def sf_affine_outside(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    C = x.shape[1]
    rows, bn = batchnorm_forward(_rows(x), np.ones(C, x.dtype), np.zeros(C, x.dtype), bn_param)
    out = _unrows(rows, x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("caches the shape of the (N*H*W, C) matrix instead of x's shape")
def sf_cache_rows_shape(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    xr = _rows(x)
    out, bn = batchnorm_forward(xr, gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(xr.shape, bn)


@sbn_forward.mistake("casts x to float64 before normalizing, so float32 input gives float64 output")
def sf_float64(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    out, bn = batchnorm_forward(_rows(x).astype(np.float64), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("hand-written: statistics over (N, H, W) with np.var(ddof=1)")
def sf_manual_unbiased(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(
        _rows(x), gamma, beta, bn_param, "spatial_batchnorm_forward")
    xr = _rows(x)
    if mode == "train":
        mu, var = xr.mean(axis=0), xr.var(axis=0, ddof=1)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    sqrtvar = np.sqrt(var + eps)
    xhat = (xr - mu) / sqrtvar
    bn = BatchNormCache(mode, xr, mu, xr - mu, var, sqrtvar, 1 / sqrtvar, xhat, gamma, eps)
    return _unrows(gamma * xhat + beta, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("layer norm per sample over (C, H, W) instead of batch norm per channel")
def sf_layer_norm(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    _, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    mu = x.mean(axis=(1, 2, 3), keepdims=True)
    var = x.var(axis=(1, 2, 3), keepdims=True)
    out = (x - mu) / np.sqrt(var + bn.eps) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("channels to the front: x.swapaxes(0, 1).reshape(C, -1).T, and back the same way")
def sf_channels_first(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(x.swapaxes(0, 1).reshape(C, -1).T, gamma, beta, bn_param)
    return out.T.reshape(C, N, H, W).swapaxes(0, 1), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("np.moveaxis to channels last, a contiguous copy, and np.moveaxis back")
def sf_moveaxis(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    xr = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, C)
    out, bn = batchnorm_forward(xr, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("channels last via transpose(0, 2, 3, 1), back via transpose(0, 3, 1, 2)")
def sf_transpose(x, gamma, beta, bn_param):
    gamma, beta = S.sbn_forward_begin(x, gamma, beta, bn_param)
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


# ---------------------------------------------------------------------------------------
# spatial_batchnorm_backward
# ---------------------------------------------------------------------------------------

@sbn_backward.mistake("reshapes dout straight to (-1, C), rows not matching the cache's")
def sg_reshape_only(dout, cache):
    S.sbn_backward_begin(dout, cache)
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, dout.shape[1]), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@sbn_backward.mistake("moves channels last on the way in, only reshapes dx on the way out")
def sg_no_transpose_back(dout, cache):
    S.sbn_backward_begin(dout, cache)
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@sbn_backward.mistake("returns dgamma and dbeta in CS231n's group-norm layout (1, C, 1, 1)")
def sg_param_layout(dout, cache):
    S.sbn_backward_begin(dout, cache)
    C = dout.shape[1]
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


@sbn_backward.mistake("hand-written closed form dividing by N instead of N*H*W")
def sg_wrong_count(dout, cache):
    S.sbn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    xhat = _unrows(cache.bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    scale = (cache.bn.gamma * cache.bn.ivar).reshape(1, C, 1, 1)
    dx = scale * (dout - (dbeta.reshape(1, C, 1, 1) + xhat * dgamma.reshape(1, C, 1, 1)) / N)
    return dx, dgamma, dbeta


@sbn_backward.mistake("hand-written closed form with sums over the batch axis only (per position)")
def sg_per_position(dout, cache):
    S.sbn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    xhat = _unrows(cache.bn.xhat, dout.shape)
    scale = (cache.bn.gamma * cache.bn.ivar).reshape(1, C, 1, 1)
    dx = scale * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


@sbn_backward.mistake("casts dout to float64 first, so a float32 pass returns float64")
def sg_float64(dout, cache):
    S.sbn_backward_begin(dout, cache)
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout).astype(np.float64), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@sbn_backward.mistake("returns (dx, dbeta, dgamma)")
def sg_swapped(dout, cache):
    S.sbn_backward_begin(dout, cache)
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), dbeta, dgamma


@sbn_backward.mistake("forgets gamma: rebuilds the closed form with the scale ivar alone")
def sg_no_gamma(dout, cache):
    S.sbn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    xhat = _unrows(cache.bn.xhat, dout.shape)
    ivar = cache.bn.ivar.reshape(1, C, 1, 1)
    dx = ivar * (dout - dout.mean(axis=(0, 2, 3), keepdims=True)
                 - xhat * (dout * xhat).mean(axis=(0, 2, 3), keepdims=True))
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


@sbn_backward.correct("through the staged batchnorm_backward instead of the closed form")
def sg_staged(dout, cache):
    S.sbn_backward_begin(dout, cache)
    dx, dgamma, dbeta = batchnorm_backward(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@sbn_backward.correct("the closed form by hand, means over axes (0, 2, 3) with keepdims")
def sg_by_hand(dout, cache):
    S.sbn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    xhat = _unrows(cache.bn.xhat, dout.shape)
    scale = (cache.bn.gamma * cache.bn.ivar).reshape(1, C, 1, 1)
    dx = scale * (dout - dout.mean(axis=(0, 2, 3), keepdims=True)
                  - xhat * (dout * xhat).mean(axis=(0, 2, 3), keepdims=True))
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


@sbn_backward.correct("channels to the front with swapaxes, as a copy")
def sg_swapaxes(dout, cache):
    S.sbn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.swapaxes(0, 1).reshape(C, -1).T.copy(), cache.bn)
    return dx.T.reshape(C, N, H, W).swapaxes(0, 1), dgamma, dbeta


# ---------------------------------------------------------------------------------------
# spatial_groupnorm_forward
# ---------------------------------------------------------------------------------------

def _gn_finish(x, G, mu, var, gamma, beta, eps, xg=None):
    """Normalize the (N, G, M) groups with the given statistics, scale per channel, build the cache."""
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1) if xg is None else xg
    xmu = xg - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return S.gn_forward_end(out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps), x)


@gn_forward.mistake("groups of strided channels (reshape(N, C//G, G, ...)): channel c lands in group c % G")
def gf_strided_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, C // G, G, H, W)
    mu = x5.mean(axis=(1, 3, 4), keepdims=True)
    var = x5.var(axis=(1, 3, 4), keepdims=True)
    xhat5 = (x5 - mu) / np.sqrt(var + eps)
    out = xhat5.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    mu, var = mu.reshape(N, G, 1), var.reshape(N, G, 1)
    xg = xhat5.transpose(0, 2, 1, 3, 4).reshape(N, G, -1)
    cache = GroupNormCache(x, G, mu, xg * np.sqrt(var + eps), var, 1 / np.sqrt(var + eps), xg, gamma, eps)
    return S.gn_forward_end(out, cache, x)


@gn_forward.mistake("unbiased variance inside each group (ddof=1)")
def gf_unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    xg = x.reshape(x.shape[0], G, -1)
    return _gn_finish(x, G, xg.mean(axis=2, keepdims=True), xg.var(axis=2, ddof=1, keepdims=True), gamma, beta, eps)


@gn_forward.mistake("ignores G: one mean and variance per sample over (C, H, W), i.e. layer norm")
def gf_ignores_g(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xs = x.reshape(N, 1, -1)
    mu = np.repeat(xs.mean(axis=2, keepdims=True), G, axis=1)
    var = np.repeat(xs.var(axis=2, keepdims=True), G, axis=1)
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.mistake("reads G as the group size: reshape(N, C // G, -1)")
def gf_g_as_size(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C = x.shape[:2]
    groups = C // G
    xg = x.reshape(N, groups, -1)
    return _gn_finish(x, groups, xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True), gamma, beta, eps)


@gn_forward.mistake("eps added to the standard deviation instead of the variance")
def gf_eps_outside(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    ivar = 1 / (np.sqrt(var) + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return S.gn_forward_end(out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps), x)


@gn_forward.mistake("indexes gamma as gamma[None, :, None, None], which only works for the (C,) layout")
def gf_gamma_index(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma[None, :, None, None] + beta[None, :, None, None]
    return S.gn_forward_end(out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps), x)


@gn_forward.mistake("caches xhat and xmu in x's layout (N, C, H, W) instead of the documented (N, G, M)")
def gf_cache_layout(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    out, c = _gn_finish(x, G, *_group_stats(x, G), gamma, beta, eps)
    cache = GroupNormCache(x, G, c.mu, c.xmu.reshape(x.shape), c.var, c.ivar, c.xhat.reshape(x.shape), gamma, eps)
    return out, cache


@gn_forward.mistake("caches the statistics without keepdims, shape (N, G)")
def gf_cache_flat_stats(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    out, c = _gn_finish(x, G, *_group_stats(x, G), gamma, beta, eps)
    cache = GroupNormCache(x, G, c.mu[..., 0], c.xmu, c.var[..., 0], c.ivar[..., 0], c.xhat, gamma, eps)
    return out, cache


@gn_forward.mistake("statistics in float64 that leak into the output: float64 for float32 x")
def gf_float64(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    xg = x.reshape(x.shape[0], G, -1)
    mu = xg.mean(axis=2, keepdims=True, dtype=np.float64)
    var = ((xg - mu) ** 2).mean(axis=2, keepdims=True)
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.mistake("centres the reshaped view in place (xg -= mu), overwriting the caller's x")
def gf_in_place(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    xg -= mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xg * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return S.gn_forward_end(out, GroupNormCache(x, G, mu, xg, var, ivar, xhat, gamma, eps), x)


@gn_forward.mistake("statistics per group over the batch as well (axes 0 and 2), batch norm's habit")
def gf_over_batch(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu = np.broadcast_to(xg.mean(axis=(0, 2), keepdims=True), (N, G, 1)).copy()
    var = np.broadcast_to(xg.var(axis=(0, 2), keepdims=True), (N, G, 1)).copy()
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.mistake("ignores gn_param's eps, always 1e-5")
def gf_fixed_eps(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    return _gn_finish(x, G, *_group_stats(x, G), gamma, beta, 1e-5)


@gn_forward.mistake("instance norm: one statistic per (sample, channel) whatever G")
def gf_instance(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = xhat * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    gmu, gvar = _group_stats(x, G)
    cache = GroupNormCache(x, G, gmu, x.reshape(N, G, -1) - gmu, gvar, 1 / np.sqrt(gvar + eps),
                           xhat.reshape(N, G, -1), gamma, eps)
    return S.gn_forward_end(out, cache, x)


def _group_stats(x, G):
    xg = x.reshape(x.shape[0], G, -1)
    return xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)


@gn_forward.correct("a loop over the G groups, slicing C//G consecutive channels")
def gf_loop(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    size = C // G
    mu, var = np.empty((N, G, 1), x.dtype), np.empty((N, G, 1), x.dtype)
    for g in range(G):
        block = x[:, g * size:(g + 1) * size]
        mu[:, g, 0] = block.mean(axis=(1, 2, 3))
        var[:, g, 0] = block.var(axis=(1, 2, 3))
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.correct("a 5-D reshape (N, G, C//G, H, W) with statistics over axes (2, 3, 4)")
def gf_five_d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, G, C // G, H, W)
    mu = x5.mean(axis=(2, 3, 4)).reshape(N, G, 1)
    var = x5.var(axis=(2, 3, 4)).reshape(N, G, 1)
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.correct("layer norm of the (N*G, M) rows with unit gamma, then the per-channel scale and shift")
def gf_via_layernorm(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    rows = x.reshape(N * G, -1)
    M = rows.shape[1]
    _, ln = layernorm_forward(rows, np.ones(M, x.dtype), np.zeros(M, x.dtype), {"eps": eps})
    mu, var = ln.mu.reshape(N, G, 1), ln.var.reshape(N, G, 1)
    return _gn_finish(x, G, mu, var, gamma, beta, eps)


@gn_forward.correct("gamma and beta broadcast through reshape(1, -1, 1, 1), which serves both layouts")
def gf_reshape_params(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = S.gn_forward_begin(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = np.mean(xg, axis=-1, keepdims=True)
    xmu = xg - mu
    var = np.mean(xmu * xmu, axis=-1, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1)
    return S.gn_forward_end(out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps), x)


# ---------------------------------------------------------------------------------------
# spatial_groupnorm_backward
# ---------------------------------------------------------------------------------------

def _gn_back(dout, cache, *, per_group=True, gamma_in=True, var_term=True, count=None):
    """The closed form of the right answer, with one switch per thing students get wrong."""
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat.reshape(N, C, H, W)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dxhat = dout * cache.gamma.reshape(1, C, 1, 1) if gamma_in else dout
    groups = G if per_group else 1
    dxg, xg = dxhat.reshape(N, groups, -1), xhat.reshape(N, groups, -1)
    M = dxg.shape[2] if count is None else count
    mean1 = dxg.sum(axis=2, keepdims=True) / M
    mean2 = (dxg * xg).sum(axis=2, keepdims=True) / M if var_term else 0
    dx = (dxg - mean1 - xg * mean2).reshape(N, G, -1) * cache.ivar
    return dx.reshape(N, C, H, W), dgamma, dbeta


@gn_backward.mistake("dgamma and dbeta always returned as (C,), even when gamma came as (1, C, 1, 1)")
def gb_flat_params(dout, cache):
    S.gn_backward_begin(dout, cache)
    dx, dgamma, dbeta = _gn_back(dout, cache)
    return dx, dgamma.ravel(), dbeta.ravel()


@gn_backward.mistake("dgamma and dbeta summed over the batch only, shape (C, H, W)")
def gb_sum_batch_only(dout, cache):
    S.gn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    dx, _, _ = _gn_back(dout, cache)
    return dx, (dout * cache.xhat.reshape(N, C, H, W)).sum(axis=0), dout.sum(axis=0)


@gn_backward.mistake("means over the whole sample (C, H, W) instead of over each group")
def gb_whole_sample(dout, cache):
    S.gn_backward_begin(dout, cache)
    return _gn_back(dout, cache, per_group=False)


@gn_backward.mistake("dxhat = dout: gamma left out of dx")
def gb_no_gamma(dout, cache):
    S.gn_backward_begin(dout, cache)
    return _gn_back(dout, cache, gamma_in=False)


@gn_backward.mistake("the group's size taken as C // G, forgetting H * W")
def gb_group_size(dout, cache):
    S.gn_backward_begin(dout, cache)
    return _gn_back(dout, cache, count=dout.shape[1] // cache.G)


@gn_backward.mistake("drops the xhat * mean(dxhat * xhat) term")
def gb_no_var_term(dout, cache):
    S.gn_backward_begin(dout, cache)
    return _gn_back(dout, cache, var_term=False)


@gn_backward.mistake("returns dx in the cache's (N, G, M) layout")
def gb_group_layout(dout, cache):
    S.gn_backward_begin(dout, cache)
    dx, dgamma, dbeta = _gn_back(dout, cache)
    return dx.reshape(dout.shape[0], cache.G, -1), dgamma, dbeta


@gn_backward.mistake("means accumulated in float64: float64 dx for a float32 pass")
def gb_float64(dout, cache):
    S.gn_backward_begin(dout, cache)
    dx, dgamma, dbeta = _gn_back(dout.astype(np.float64), cache)
    return dx, dgamma.astype(dout.dtype), dbeta.astype(dout.dtype)


@gn_backward.mistake("scales dout by gamma in place, changing the caller's dout")
def gb_dout_in_place(dout, cache):
    S.gn_backward_begin(dout, cache)
    C = dout.shape[1]
    dgamma_dbeta = _gn_back(dout, cache)[1:]
    dout *= cache.gamma.reshape(1, C, 1, 1)
    dx, _, _ = _gn_back(dout, cache, gamma_in=False)
    return (dx, *dgamma_dbeta)


@gn_backward.mistake("strided groups in the backward pass (channel c in group c % G)")
def gb_strided(dout, cache):
    S.gn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat.reshape(N, C, H, W)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, C // G, G, H, W)
    x5 = xhat.reshape(N, C // G, G, H, W)
    ivar = cache.ivar.reshape(N, 1, G, 1, 1)
    dx = ivar * (dxhat - dxhat.mean(axis=(1, 3, 4), keepdims=True)
                 - x5 * (dxhat * x5).mean(axis=(1, 3, 4), keepdims=True))
    return dx.reshape(N, C, H, W), dgamma, dbeta


@gn_backward.correct("layer norm's backward pass on the (N*G, M) rows with unit gamma")
def gb_via_layernorm(dout, cache):
    S.gn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    c = cache
    dxhat = (dout * c.gamma.reshape(1, C, 1, 1)).reshape(N * G, -1)
    M = dxhat.shape[1]
    ln = LayerNormCache(c.x.reshape(N * G, -1), c.mu.reshape(-1, 1), c.xmu.reshape(N * G, -1),
                        c.var.reshape(-1, 1), c.ivar.reshape(-1, 1), c.xhat.reshape(N * G, -1),
                        np.ones(M, dout.dtype), c.eps)
    dx, _, _ = layernorm_backward(dxhat, ln)
    xhat = c.xhat.reshape(N, C, H, W)
    shape = c.gamma.shape
    return dx.reshape(N, C, H, W), (dout * xhat).sum(axis=(0, 2, 3)).reshape(shape), dout.sum(axis=(0, 2, 3)).reshape(shape)


@gn_backward.correct("a loop over the groups, each group's closed form with np.mean")
def gb_loop(dout, cache):
    S.gn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    size = C // G
    xhat = cache.xhat.reshape(N, C, H, W)
    dxhat = dout * cache.gamma.reshape(1, C, 1, 1)
    dx = np.empty_like(dout)
    for g in range(G):
        sl = slice(g * size, (g + 1) * size)
        d, xh = dxhat[:, sl], xhat[:, sl]
        iv = cache.ivar[:, g, :].reshape(N, 1, 1, 1)
        dx[:, sl] = iv * (d - d.mean(axis=(1, 2, 3), keepdims=True)
                          - xh * (d * xh).mean(axis=(1, 2, 3), keepdims=True))
    shape = cache.gamma.shape
    return dx, (dout * xhat).sum(axis=(0, 2, 3)).reshape(shape), dout.sum(axis=(0, 2, 3)).reshape(shape)


@gn_backward.correct("the sum form (1/M) ivar (M dxhat - sum dxhat - xhat sum(dxhat xhat)), params via keepdims sums")
def gb_sum_form(dout, cache):
    S.gn_backward_begin(dout, cache)
    N, C, H, W = dout.shape
    xhat = cache.xhat
    M = xhat.shape[2]
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(xhat.shape)
    dx = cache.ivar / M * (M * dxhat - dxhat.sum(axis=2, keepdims=True) - xhat * (dxhat * xhat).sum(axis=2, keepdims=True))
    x4 = xhat.reshape(N, C, H, W)
    dgamma = (dout * x4).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    if cache.gamma.ndim == 1:
        dgamma, dbeta = dgamma.ravel(), dbeta.ravel()
    return dx.reshape(N, C, H, W), dgamma, dbeta
