"""spatial_batchnorm_forward and spatial_batchnorm_backward: mistakes and correct variants.

The cache is the package's SpatialBatchNormCache (shape, and bn: the BatchNormCache of the
(N*H*W, C) matrix whose rows run over n, h, w in that order) unless an entry says otherwise.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.spatial import SpatialBatchNormCache, _check_bn_param, _check_channel_params

from tests.instructor.fresh3 import bn_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_batchnorm_forward")
backward = Catalogue("spatial_batchnorm_backward")


def _given(x, gamma, beta, bn_param):
    """The stub's checks before the region: (gamma, beta)."""
    where = "spatial_batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta)
    N, C, H, W = x.shape
    _check_bn_param(where, bn_param, C, N * H * W)
    return gamma, beta


def _rows(a):
    """(N, C, H, W) -> (N*H*W, C), rows in n, h, w order."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def _direct(x, gamma, beta, bn_param, ddof=0, momentum_swap=False, test_uses_batch=False, reshape_gamma=True):
    """Spatial batch norm written directly on (N, C, H, W), with switches for the mistakes."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    C = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(C, dtype=x.dtype))
    rv = bn_param.get("running_var", np.zeros(C, dtype=x.dtype))
    if mode == "train" or test_uses_batch:
        mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=ddof)
        if mode == "train":
            keep = 1 - momentum if momentum_swap else momentum
            bn_param["running_mean"] = keep * rm + (1 - keep) * mu
            bn_param["running_var"] = keep * rv + (1 - keep) * var
    else:
        mu, var = rm, rv
    xhat = (x - mu.reshape(1, C, 1, 1)) / np.sqrt(var.reshape(1, C, 1, 1) + eps)
    if reshape_gamma:
        out = gamma.reshape(1, C, 1, 1) * xhat + beta.reshape(1, C, 1, 1)
    else:
        out = gamma * xhat + beta
    rows = _rows(x)
    cache = bn_forward._cache(mode, rows, mu, rows - mu, var, gamma, eps)
    return out, SpatialBatchNormCache(shape=x.shape, bn=cache)


# ================================================================ forward

@forward.mistake("reshapes x to (-1, C) without moving the channels last, so every 'feature' mixes channels and positions")
def sbn_reshape_without_transpose(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("moves the channels last for batch norm but reshapes the result straight to (N, C, H, W) without transposing back")
def sbn_no_transpose_back(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    out, cache = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("per-position batch norm: flattens to (N, C*H*W) with gamma and beta repeated, so statistics are over N only")
def sbn_per_position(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("statistics over H and W only (axes (2, 3)): instance norm, one mean per sample and channel")
def sbn_instance_statistics(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    out = gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + bn_param.get("eps", 1e-5)) + beta.reshape(1, C, 1, 1)
    _, cache = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out, SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("direct formula with the unbiased variance over (N, H, W) (ddof=1)")
def sbn_unbiased(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    return _direct(x, gamma, beta, bn_param, ddof=1)


@forward.mistake("direct formula multiplying by gamma of shape (C,) without reshaping, so it broadcasts along W (or fails)")
def sbn_gamma_along_width(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    return _direct(x, gamma, beta, bn_param, reshape_gamma=False)


@forward.mistake("direct formula with momentum on the new value (PyTorch's convention) in the running averages")
def sbn_momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    return _direct(x, gamma, beta, bn_param, momentum_swap=True)


@forward.mistake("direct formula that normalizes with the batch statistics in test mode too")
def sbn_test_uses_batch(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    return _direct(x, gamma, beta, bn_param, test_uses_batch=True)


@forward.mistake("hands batchnorm_forward a copy of bn_param (dict(bn_param)), so the running averages never reach the caller")
def sbn_param_copy(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    out, cache = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("passes the (C, N*H*W) channels-first matrix to batchnorm_forward without .T (channels as samples)")
def sbn_channels_as_samples(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    x_cf = x.transpose(1, 0, 2, 3).reshape(C, -1)
    out, cache = batchnorm_forward(x_cf, gamma, beta, bn_param)
    return out.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("runs batchnorm_forward on x.astype(np.float64): float32 input gives float64 out and running averages")
def sbn_float64_out(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    out, cache = batchnorm_forward(_rows(x.astype(np.float64)), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.correct("CS231n's route: transpose (0, 2, 3, 1), reshape (-1, C), batchnorm_forward, reshape and transpose (0, 3, 1, 2)")
def sbn_channels_last(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    out, cache = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.correct("its own vanilla forward pass (float64 statistics) on the channels-last rows, with np.moveaxis")
def sbn_moveaxis_own_bn(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    rows = np.moveaxis(x, 1, -1).reshape(-1, C)
    out, cache = bn_forward.float64_accumulation(rows, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.correct("channels-first rows x.transpose(1, 0, 2, 3).reshape(C, -1).T, the vanilla layer on that view")
def sbn_channels_first_view(x, gamma, beta, bn_param):
    gamma, beta = _given(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    rows = x.transpose(1, 0, 2, 3).reshape(C, -1).T
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(shape=x.shape, bn=cache)


# ================================================================ backward

def _xhat(cache):
    """The cache's xhat in (N, C, H, W) layout."""
    N, C, H, W = cache.shape
    return cache.bn.xhat.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def _direct_backward(dout, cache, axes=(0, 2, 3), count=None, with_gamma=True):
    N, C, H, W = dout.shape
    xhat, ivar = _xhat(cache), cache.bn.ivar.reshape(1, C, 1, 1)
    gamma = cache.bn.gamma.reshape(1, C, 1, 1) if with_gamma else 1.0
    M = count or int(np.prod([dout.shape[a] for a in axes]))
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dxhat = gamma * dout
    dx = ivar / M * (M * dxhat - dxhat.sum(axis=axes, keepdims=True)
                     - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("reshapes dout to (-1, C) without moving the channels last: rows no longer match the cache's")
def sbnb_reshape_without_transpose(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, C), cache.bn)
    return dx.reshape(N, C, H, W), dgamma, dbeta


@backward.mistake("moves dout's channels last correctly but reshapes dx straight back to (N, C, H, W)")
def sbnb_no_transpose_back(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("direct formula whose means divide by N instead of N*H*W")
def sbnb_count_n(dout, cache):
    return _direct_backward(dout, cache, count=dout.shape[0])


@backward.mistake("direct formula with the means over the batch axis only (axis 0), per position")
def sbnb_means_over_batch(dout, cache):
    return _direct_backward(dout, cache, axes=(0,))


@backward.mistake("direct formula with the means over H and W only (axes (2, 3)), per sample")
def sbnb_means_over_positions(dout, cache):
    return _direct_backward(dout, cache, axes=(2, 3))


@backward.mistake("direct formula without gamma in dx")
def sbnb_without_gamma(dout, cache):
    return _direct_backward(dout, cache, with_gamma=False)


@backward.mistake("dgamma and dbeta summed over the batch only, shaped (C, H, W)")
def sbnb_parameter_sums_over_batch(dout, cache):
    dx, _, _ = _direct_backward(dout, cache)
    return dx, (dout * _xhat(cache)).sum(axis=0), dout.sum(axis=0)


@backward.mistake("hands batchnorm_backward_alt the channels-first (C, N*H*W) matrix without .T")
def sbnb_channels_as_samples(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(1, 0, 2, 3).reshape(C, -1), cache.bn)
    return dx.reshape(C, N, H, W).transpose(1, 0, 2, 3), dgamma, dbeta


@backward.mistake("direct formula computed in float64 (dout.astype(np.float64)): float32 dout gives float64 gradients")
def sbnb_float64(dout, cache):
    return _direct_backward(dout.astype(np.float64), cache)


@backward.correct("CS231n's route: channels-last rows, batchnorm_backward_alt, back to (N, C, H, W)")
def sbnb_channels_last(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@backward.correct("direct formula on (N, C, H, W) with keepdims sums over (0, 2, 3)")
def sbnb_direct(dout, cache):
    return _direct_backward(dout, cache)
