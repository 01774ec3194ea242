"""Mistakes and unusual correct variants of spatial_batchnorm_forward and _backward (notebook 7)."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward, batchnorm_backward_alt, batchnorm_forward, read_bn_param
from cs231n_bn.spatial import SpatialBatchNormCache
from tests.instructor.later_catalogue import Catalogue

sbn_forward = Catalogue("spatial_batchnorm_forward")
sbn_backward = Catalogue("spatial_batchnorm_backward")


def _rows(x):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _maps(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@sbn_forward.mistake("reshapes (N, C, H, W) straight to (-1, C) without moving the channels last: rows mix channels")
def sbn_reshape_without_transpose(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("moves the channels last for batch norm but reshapes the result straight back to (N, C, H, W)")
def sbn_no_inverse_transpose(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("flattens each sample to C*H*W features (gamma repeated per position): statistics per position, not per channel")
def sbn_per_position(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    mode = bn_param["mode"]
    # running statistics of shape (C*H*W,) are what vanilla batch norm keeps here
    param = {k: v for k, v in bn_param.items() if k not in ("running_mean", "running_var")}
    if mode == "test":
        param["running_mean"] = np.repeat(bn_param["running_mean"], H * W)
        param["running_var"] = np.repeat(bn_param["running_var"], H * W)
    out, bn = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), param)
    bn_param.update(param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


def _manual(x, gamma, beta, bn_param, axes=(0, 2, 3), ddof=0, test_batch=False, update=True):
    N, C, H, W = x.shape
    mode, eps, momentum, rm, rv = read_bn_param("spatial_batchnorm_forward", bn_param, C, x.dtype)
    if mode == "train" or test_batch:
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, ddof=ddof, keepdims=True)
        if mode == "train" and update:
            bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu.mean(axis=(0, 2, 3))
            bn_param["running_var"] = momentum * rv + (1 - momentum) * var.mean(axis=(0, 2, 3))
    else:
        mu, var = rm.reshape(1, C, 1, 1), rv.reshape(1, C, 1, 1)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma.reshape(1, C, 1, 1) * xhat + beta.reshape(1, C, 1, 1)
    rows = _rows(x)
    m, v = mu.mean(axis=(0, 2, 3)), var.mean(axis=(0, 2, 3))
    sqrtvar = np.sqrt(v + eps)
    bn = BatchNormCache(mode, rows, m, rows - m, v, sqrtvar, 1.0 / sqrtvar, _rows(xhat), gamma, eps)
    return out, SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("statistics per sample and channel, over (H, W) only: instance norm instead of batch norm")
def sbn_instance_statistics(x, gamma, beta, bn_param):
    return _manual(x, gamma, beta, bn_param, axes=(2, 3))


@sbn_forward.mistake("hand-written over axes (0, 2, 3) but never updates the running statistics")
def sbn_manual_no_running_update(x, gamma, beta, bn_param):
    return _manual(x, gamma, beta, bn_param, update=False)


@sbn_forward.mistake("hand-written over axes (0, 2, 3) with the unbiased variance (ddof=1)")
def sbn_manual_unbiased(x, gamma, beta, bn_param):
    return _manual(x, gamma, beta, bn_param, ddof=1)


@sbn_forward.mistake("hand-written; test mode normalizes with the test batch's statistics")
def sbn_manual_test_batch(x, gamma, beta, bn_param):
    return _manual(x, gamma, beta, bn_param, test_batch=True)


@sbn_forward.mistake("cache records the channels-last shape (N, H, W, C) it worked in instead of x's shape")
def sbn_cache_shape_channels_last(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _maps(out, x.shape), SpatialBatchNormCache((N, H, W, C), bn)


@sbn_forward.mistake("hand-written; centers the caller's x in place (x -= mean)")
def sbn_centers_caller_x(x, gamma, beta, bn_param):
    out, cache = _manual(x, gamma, beta, bn_param)
    x -= x.mean(axis=(0, 2, 3), keepdims=True)
    return out, cache


@sbn_forward.mistake("hand-written with mean(dtype=float64): float64 out for float32 x")
def sbn_float64_out(x, gamma, beta, bn_param):
    out, cache = _manual(x.astype(np.float64), gamma, beta, bn_param)
    N, C, H, W = x.shape
    # the running statistics are cast back, the output is not
    for key in ("running_mean", "running_var"):
        bn_param[key] = bn_param[key].astype(x.dtype)
    return out, cache


@sbn_forward.mistake("passes the caller's bn_param through a copy (dict(bn_param)): running statistics never reach the caller")
def sbn_param_copy(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _maps(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("gamma and beta broadcast as (C, 1) over the last two axes: scales rows of the map, not channels (square maps)")
def sbn_gamma_wrong_broadcast(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    xhat, bn = batchnorm_forward(_rows(x), np.ones(C, x.dtype), np.zeros(C, x.dtype), bn_param)
    xhat = _maps(xhat, x.shape)
    g = np.resize(gamma, H).reshape(H, 1)
    b = np.resize(beta, H).reshape(H, 1)
    bn = BatchNormCache(bn.mode, bn.x, bn.mu, bn.xmu, bn.var, bn.sqrtvar, bn.ivar, bn.xhat, gamma, bn.eps)
    return g * xhat + b, SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("CS231n's layout: transpose(0, 2, 3, 1), reshape to (-1, C), and back")
def sbn_channels_last(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _maps(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("moveaxis to channels last, ascontiguousarray, and moveaxis back")
def sbn_moveaxis(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, C)
    out, bn = batchnorm_forward(rows, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("hand-written over axes (0, 2, 3) with keepdims, the cache assembled in the (N*H*W, C) layout")
def sbn_manual(x, gamma, beta, bn_param):
    return _manual(x, gamma, beta, bn_param)


# ---- backward ----

@sbn_backward.mistake("reshapes dout straight to (-1, C) and dx straight back, without transposes")
def sbnb_reshape_without_transpose(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, C), cache.bn)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@sbn_backward.mistake("moves dout's channels last but reshapes dx straight back to (N, C, H, W)")
def sbnb_no_inverse_transpose(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@sbn_backward.mistake("returns dgamma and dbeta as (1, C, 1, 1), group norm's layout")
def sbnb_params_4d(dout, cache):
    C = dout.shape[1]
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _maps(dx, dout.shape), dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


def _manual_back(dout, cache, count=None, keep_hw=False):
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = _maps(bn.xhat, dout.shape)
    M = N * H * W if count is None else count
    axes = (0,) if keep_hw else (0, 2, 3)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    db = dout.sum(axis=(0, 2, 3)).reshape(1, C, 1, 1)
    dg = (dout * xhat).sum(axis=(0, 2, 3)).reshape(1, C, 1, 1)
    dx = (bn.gamma * bn.ivar).reshape(1, C, 1, 1) * (dout - (db + xhat * dg) / M)
    return dx, dgamma, dbeta


@sbn_backward.mistake("hand-written closed form that divides by the batch size N instead of N*H*W")
def sbnb_divides_by_n(dout, cache):
    return _manual_back(dout, cache, count=dout.shape[0])


@sbn_backward.mistake("hand-written; dgamma and dbeta summed over the batch only, left as (C, H, W)")
def sbnb_params_keep_positions(dout, cache):
    return _manual_back(dout, cache, keep_hw=True)


@sbn_backward.mistake("hand-written; reads xhat back with reshape(N, C, H, W), without undoing the channels-last layout")
def sbnb_xhat_misaligned(dout, cache):
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = np.ascontiguousarray(bn.xhat).reshape(N, C, H, W)
    db = dout.sum(axis=(0, 2, 3))
    dg = (dout * xhat).sum(axis=(0, 2, 3))
    M = N * H * W
    dx = (bn.gamma * bn.ivar).reshape(1, C, 1, 1) * (dout - (db.reshape(1, C, 1, 1) + xhat * dg.reshape(1, C, 1, 1)) / M)
    return dx, dg, db


@sbn_backward.mistake("transposes dout in place through a view and scales it by gamma (dout *= gamma), changing the caller's array")
def sbnb_dout_in_place(dout, cache):
    C = dout.shape[1]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * _maps(cache.bn.xhat, dout.shape)).sum(axis=(0, 2, 3))
    dout *= cache.bn.gamma.reshape(1, C, 1, 1)
    xhat = _maps(cache.bn.xhat, dout.shape)
    M = dout.size // C
    dxhat = dout
    dx = cache.bn.ivar.reshape(1, C, 1, 1) * (dxhat - dxhat.mean(axis=(0, 2, 3), keepdims=True)
                                              - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True) / M)
    return dx, dgamma, dbeta


@sbn_backward.mistake("hand-written into np.zeros(dout.shape): float64 dx for float32 dout")
def sbnb_float64(dout, cache):
    dx, dgamma, dbeta = _manual_back(dout, cache)
    buffer = np.zeros(dout.shape)
    buffer[...] = dx
    return buffer, dgamma, dbeta


@sbn_backward.correct("hand-written closed form over axes (0, 2, 3), xhat brought back to (N, C, H, W)")
def sbnb_manual(dout, cache):
    return _manual_back(dout, cache)


@sbn_backward.correct("channels-last layout through the staged batchnorm_backward")
def sbnb_staged(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(_rows(dout), cache.bn)
    return _maps(dx, dout.shape), dgamma, dbeta


@sbn_backward.correct("closed form with einsum over n, h, w")
def sbnb_einsum(dout, cache):
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = _maps(bn.xhat, dout.shape)
    dbeta = np.einsum("nchw->c", dout)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat)
    M = N * H * W
    k = (bn.gamma * bn.ivar / M)[:, None, None]
    return k * (M * dout - dbeta[:, None, None] - xhat * dgamma[:, None, None]), dgamma, dbeta
