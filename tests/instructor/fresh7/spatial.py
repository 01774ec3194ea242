"""spatial_batchnorm_forward and spatial_batchnorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.spatial import SpatialBatchNormCache
from tests.instructor.fresh7.scaffold import sbn_backward, sbn_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_batchnorm_forward")
backward = Catalogue("spatial_batchnorm_backward")


def _rows(x):
    """(N*H*W, C), one row per position of one sample."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@forward.mistake("x.reshape(-1, C) without moving the channels last: each 'feature' mixes channels and positions")
@sbn_forward
def sbf_reshape_only(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("rows made channels-last but the output reshaped straight to (N, C, H, W) without transposing back")
@sbn_forward
def sbf_no_transpose_back(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("transposed back with (0, 3, 2, 1): H and W swapped on the way out")
@sbn_forward
def sbf_wrong_back_perm(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 2, 1).reshape(N, C, H, W), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("instance statistics: each (sample, channel) normalized over its own H x W")
@sbn_forward
def sbf_instance(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    eps = bn_param.get("eps", 1e-5)
    out = gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + eps) + beta.reshape(1, C, 1, 1)
    return out.astype(x.dtype), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("passes a copy of bn_param (dict(bn_param)): the running averages never reach the caller's dict")
@sbn_forward
def sbf_param_copy(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("cache.shape records the channels-last shape (N, H, W, C) instead of x's")
@sbn_forward
def sbf_cache_shape(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache((N, H, W, C), bn)


@forward.mistake("casts x to float64 first: a float32 map comes out float64")
@sbn_forward
def sbf_float64(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x).astype(np.float64), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("forces bn_param['mode'] = 'train' before the call, so test mode uses the batch statistics")
@sbn_forward
def sbf_force_train(x, gamma, beta, bn_param):
    bn_param["mode"] = "train"
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("each (channel, position) a feature: x.reshape(N, C*H*W) batch-normed with gamma repeated per position")
@sbn_forward
def sbf_per_position(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    mode = bn_param["mode"]
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    if mode == "train":
        param = {"mode": "train", "eps": bn.eps}
        flat, _ = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), param)
        return flat.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("hand-written per-channel statistics with the unbiased variance (np.var(..., ddof=1))")
@sbn_forward
def sbf_ddof(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    if bn.mode == "train":
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True, ddof=1)
        out = (gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + bn.eps) + beta.reshape(1, C, 1, 1)).astype(x.dtype)
        return out, SpatialBatchNormCache(x.shape, bn)
    return _unrows(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@forward.mistake("output reshaped back through (N, W, H, C) and permuted (0, 3, 2, 1): every map comes back scrambled")
@sbn_forward
def sbf_wh_swapped(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, W, H, C).transpose(0, 3, 2, 1), SpatialBatchNormCache(x.shape, bn)


@forward.correct("channels first: (C, N*H*W) rows transposed, as a contiguous copy")
@sbn_forward
def sbf_ok_channels_first(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    x_cf = x.transpose(1, 0, 2, 3).reshape(C, -1)
    out, bn = batchnorm_forward(np.ascontiguousarray(x_cf.T), gamma, beta, bn_param)
    return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(x.shape, bn)


@forward.correct("np.moveaxis to channels-last and back")
@sbn_forward
def sbf_ok_moveaxis(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(np.moveaxis(x, 1, -1).reshape(-1, C), gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(x.shape, bn)


@forward.correct("channels-last rows, and a contiguous (N, C, H, W) output")
@sbn_forward
def sbf_ok_contiguous(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return np.ascontiguousarray(_unrows(out, x.shape)), SpatialBatchNormCache(x.shape, bn)


# ---- backward ----

def _cf(a):
    """(C, N*H*W).T, the row order of the forward pass's cache."""
    N, C, H, W = a.shape
    return a.transpose(1, 0, 2, 3).reshape(C, -1).T


def _uncf(rows, shape):
    N, C, H, W = shape
    return rows.T.reshape(C, N, H, W).transpose(1, 0, 2, 3)


@backward.mistake("dout.reshape(-1, C) without moving the channels: rows do not match the cache's")
@sbn_backward
def sbb_reshape_only(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, C), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("dx reshaped straight to (N, C, H, W) from the (N*H*W, C) rows")
@sbn_backward
def sbb_no_transpose_back(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_cf(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("dgamma and dbeta returned in CS231n's group-norm layout (1, C, 1, 1)")
@sbn_backward
def sbb_param_layout(dout, cache):
    C = dout.shape[1]
    dx, dgamma, dbeta = batchnorm_backward_alt(_cf(dout), cache.bn)
    return _uncf(dx, dout.shape), dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


@backward.mistake("dout cast to float64 first: a float32 pass returns float64")
@sbn_backward
def sbb_float64(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_cf(dout).astype(np.float64), cache.bn)
    return _uncf(dx, dout.shape), dgamma, dbeta


@backward.mistake("dgamma and dbeta averaged over the H*W positions instead of summed")
@sbn_backward
def sbb_mean_positions(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(_cf(dout), cache.bn)
    return _uncf(dx, dout.shape), dgamma / (H * W), dbeta / (H * W)


@backward.mistake("dx transposed back with (0, 3, 2, 1) from channels-last: H and W swapped")
@sbn_backward
def sbb_wrong_perm(dout, cache):
    N, C, H, W = dout.shape
    rows = _cf(dout)
    dx, dgamma, dbeta = batchnorm_backward_alt(rows, cache.bn)
    # dx rows are in (n, h, w) order; reshaped to (N, H, W, C) but permuted with (0, 3, 2, 1)
    return dx.reshape(N, H, W, C).transpose(0, 3, 2, 1).reshape(N, C, H, W), dgamma, dbeta


@backward.mistake("hand-written with the mean of dout over each sample's positions (axes 2, 3) instead of (0, 2, 3)")
@sbn_backward
def sbb_axes(dout, cache):
    N, C, H, W = dout.shape
    xhat = _uncf(cache.bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g, iv = cache.bn.gamma.reshape(1, C, 1, 1), cache.bn.ivar.reshape(1, C, 1, 1)
    dx = g * iv * (dout - dout.mean(axis=(2, 3), keepdims=True) - xhat * dgamma.reshape(1, C, 1, 1) / (N * H * W))
    return dx, dgamma, dbeta


@backward.mistake("hand-written with M = H * W (positions of one sample) where each channel has N * H * W values")
@sbn_backward
def sbb_count(dout, cache):
    N, C, H, W = dout.shape
    M = H * W
    xhat = _uncf(cache.bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g, iv = cache.bn.gamma.reshape(1, C, 1, 1), cache.bn.ivar.reshape(1, C, 1, 1)
    dx = g * iv * (dout - (dbeta.reshape(1, C, 1, 1) + xhat * dgamma.reshape(1, C, 1, 1)) / M)
    return dx, dgamma, dbeta


@backward.mistake("gamma applied to dout before the vanilla backward, which applies it again: dx and both parameter gradients scaled by gamma")
@sbn_backward
def sbb_gamma_twice(dout, cache):
    C = dout.shape[1]
    dx, dgamma, dbeta = batchnorm_backward_alt(_cf(dout * cache.bn.gamma.reshape(1, C, 1, 1)), cache.bn)
    return _uncf(dx, dout.shape), dgamma, dbeta


@backward.correct("the staged batchnorm_backward on the same rows")
@sbn_backward
def sbb_ok_staged(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(_cf(dout), cache.bn)
    return _uncf(dx, dout.shape), dgamma, dbeta


@backward.correct("channels-last rows for dout: the same (n, h, w) row order as the cache's")
@sbn_backward
def sbb_ok_channels_last(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache.bn)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


@backward.correct("by hand with 4-D broadcasting over axes (0, 2, 3)")
@sbn_backward
def sbb_ok_by_hand(dout, cache):
    N, C, H, W = dout.shape
    M = N * H * W
    xhat = _uncf(cache.bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g, iv = cache.bn.gamma.reshape(1, C, 1, 1), cache.bn.ivar.reshape(1, C, 1, 1)
    dx = g * iv * (dout - (dbeta.reshape(1, C, 1, 1) + xhat * dgamma.reshape(1, C, 1, 1)) / M)
    return dx, dgamma, dbeta


