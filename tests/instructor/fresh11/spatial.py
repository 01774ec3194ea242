"""spatial_batchnorm_forward and spatial_batchnorm_backward: mistakes and correct variants.

The entries write the (N*H*W, C) batch norm themselves (bn_forward's scaffold) rather than
call the package's solution.
"""

import numpy as np

from cs231n_bn.spatial import SpatialBatchNormCache, spatial_batchnorm_forward

from tests.instructor.fresh11.bn_backward import _staged
from tests.instructor.fresh11.bn_forward import _finish
from tests.instructor.fresh11.given import bn_given
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_batchnorm_forward")
backward = Catalogue("spatial_batchnorm_backward", forward=spatial_batchnorm_forward)


def _rows_bn(rows, gamma, beta, bn_param, momentum_new=False, ddof=0):
    """Batch norm of a (M, C) matrix, with running statistics written into bn_param."""
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(rows, gamma, beta, bn_param)
    if mode == "train":
        mu, var = rows.mean(axis=0), rows.var(axis=0, ddof=ddof)
        keep = 1 - momentum if momentum_new else momentum
        bn_param["running_mean"] = keep * rm + (1 - keep) * mu
        bn_param["running_var"] = keep * rv + (1 - keep) * var
    else:
        mu, var = rm, rv
    return _finish(rows, mode, mu, var, eps, gamma, beta)


def _to_rows(x):
    N, C, H, W = x.shape
    return x.transpose(0, 2, 3, 1).reshape(-1, C)


def _from_rows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@forward.mistake("x is reshaped to (N*H*W, C) without moving the channel axis last first, so each 'channel' column mixes channels and positions.")
def sbn_reshape_no_transpose(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = _rows_bn(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("The output rows are reshaped straight to (N, C, H, W) instead of (N, H, W, C) followed by a transpose back.")
def sbn_no_transpose_back(x, gamma, beta, bn_param):
    out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("The running averages weight the new batch by momentum (PyTorch's convention).")
def sbn_momentum_new(x, gamma, beta, bn_param):
    out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param, momentum_new=True)
    return _from_rows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("Each channel's variance is the unbiased one over its N*H*W values.")
def sbn_unbiased(x, gamma, beta, bn_param):
    out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param, ddof=1)
    return _from_rows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("Each (sample, channel) map is normalized over its own H*W positions (instance norm) instead of over the batch and positions.")
def sbn_instance(x, gamma, beta, bn_param):
    rows_out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    eps = bn.eps
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = xhat * bn.gamma[:, None, None] + np.asarray(beta, xhat.dtype)[:, None, None]
    return out, SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("The statistics are taken over the batch axis only, one per (channel, position), instead of over N, H and W.")
def sbn_batch_axis_only(x, gamma, beta, bn_param):
    rows_out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    mode = bn.mode
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
    else:
        mu, var = bn.mu[:, None, None], bn.var[:, None, None]
    xhat = (x - mu) / np.sqrt(var + bn.eps)
    out = xhat * bn.gamma[:, None, None] + np.asarray(beta, xhat.dtype)[:, None, None]
    return out, SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.mistake("The cache records the shape (N, H, W, C) of the channels-last array instead of x's (N, C, H, W).")
def sbn_cache_shape(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    return _from_rows(out, x.shape), SpatialBatchNormCache(shape=(N, H, W, C), bn=bn)


@forward.mistake("gamma is applied along the last axis of the (N, C, H, W) output, out = xhat * gamma + beta with (C,) broadcasting over W.")
def sbn_gamma_last_axis(x, gamma, beta, bn_param):
    out_rows, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    xhat = _from_rows(bn.xhat, x.shape)
    return xhat * bn.gamma + np.asarray(beta, xhat.dtype), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.correct("Channels last through an explicit copy (np.moveaxis + reshape), then moved back.")
def sbn_moveaxis(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = np.moveaxis(x, 1, -1).reshape(-1, C).copy()
    out, bn = _rows_bn(rows, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.correct("Channels first: x.transpose(1, 0, 2, 3).reshape(C, -1).T as the rows, and back the same way.")
def sbn_channels_first(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = x.transpose(1, 0, 2, 3).reshape(C, -1).T
    out, bn = _rows_bn(rows, gamma, beta, bn_param)
    return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(shape=x.shape, bn=bn)


@forward.correct("The output computed directly in 4-D with means over (0, 2, 3); the cache still built on the (N*H*W, C) rows.")
def sbn_direct_4d(x, gamma, beta, bn_param):
    _, bn = _rows_bn(_to_rows(x), gamma, beta, bn_param)
    mu, ivar = bn.mu[:, None, None], bn.ivar[:, None, None]
    out = (x - mu) * ivar * bn.gamma[:, None, None] + np.asarray(beta, x.dtype)[:, None, None]
    return out.astype(x.dtype, copy=False), SpatialBatchNormCache(shape=x.shape, bn=bn)


# ---------------------------------------------------------------- backward

def _rows_alt(dout_rows, bn):
    M = dout_rows.shape[0]
    dbeta = dout_rows.sum(axis=0)
    dgamma = (dout_rows * bn.xhat).sum(axis=0)
    return bn.gamma * bn.ivar * (dout_rows - (dbeta + bn.xhat * dgamma) / M), dgamma, dbeta


@backward.mistake("dout is reshaped to (N*H*W, C) without moving the channel axis last, so its rows do not match the cache's.")
def sbnb_reshape(dout, cache):
    C = dout.shape[1]
    dx, dgamma, dbeta = _rows_alt(dout.reshape(-1, C), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("dx's rows are reshaped straight to (N, C, H, W) without the transpose back.")
def sbnb_no_transpose_back(dout, cache):
    dx, dgamma, dbeta = _rows_alt(_to_rows(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("The closed form divides by N (the batch size) instead of by N*H*W, the number of values per channel.")
def sbnb_divide_by_N(dout, cache):
    N = dout.shape[0]
    rows, bn = _to_rows(dout), cache.bn
    dbeta = rows.sum(axis=0)
    dgamma = (rows * bn.xhat).sum(axis=0)
    dx = bn.gamma * bn.ivar * (rows - (dbeta + bn.xhat * dgamma) / N)
    return _from_rows(dx, dout.shape), dgamma, dbeta


@backward.mistake("dgamma and dbeta are summed over the batch axis only, giving (C, H, W) arrays.")
def sbnb_params_batch_only(dout, cache):
    dx, _, _ = _rows_alt(_to_rows(dout), cache.bn)
    xhat = _from_rows(cache.bn.xhat, dout.shape)
    return _from_rows(dx, dout.shape), (dout * xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dx omits the term with dbeta (the mean of dout per channel is not subtracted).")
def sbnb_no_dbeta(dout, cache):
    rows, bn = _to_rows(dout), cache.bn
    M = rows.shape[0]
    dbeta = rows.sum(axis=0)
    dgamma = (rows * bn.xhat).sum(axis=0)
    dx = bn.gamma * bn.ivar * (rows - bn.xhat * dgamma / M)
    return _from_rows(dx, dout.shape), dgamma, dbeta


@backward.correct("The closed form directly in 4-D with sums over (0, 2, 3).")
def sbnb_direct_4d(dout, cache):
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = _from_rows(bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    M = N * H * W
    scale = (bn.gamma * bn.ivar)[:, None, None]
    dx = scale * (dout - (dbeta[:, None, None] + xhat * dgamma[:, None, None]) / M)
    return dx, dgamma, dbeta


@backward.correct("The staged graph on the (N*H*W, C) rows instead of the closed form.")
def sbnb_staged(dout, cache):
    dx, dgamma, dbeta = _staged(_to_rows(dout), cache.bn)
    return _from_rows(dx, dout.shape), dgamma, dbeta
