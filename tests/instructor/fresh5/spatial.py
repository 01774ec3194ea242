"""spatial_batchnorm_forward and spatial_batchnorm_backward: solution-region bodies."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.spatial import SpatialBatchNormCache
from tests.instructor.fresh5.scaffold import sbn_backward, sbn_forward
from tests.instructor.later_catalogue import Catalogue

sbn_fwd = Catalogue("spatial_batchnorm_forward")
sbn_bwd = Catalogue("spatial_batchnorm_backward")


def _rows(a):
    """(N, C, H, W) -> (N*H*W, C), channels last."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@sbn_fwd.mistake("x.reshape(-1, C) without moving the channels last: the columns mix channels and positions")
@sbn_forward
def sbn_plain_reshape(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("channels moved last correctly, but the output reshaped straight to (N, C, H, W) without transposing back")
@sbn_forward
def sbn_no_inverse_transpose(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("transposed back with (0, 3, 2, 1), which swaps H and W")
@sbn_forward
def sbn_wrong_inverse(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, W, H, C).transpose(0, 3, 2, 1), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("the output normalized per sample over (C, H, W), layer norm's axes (the cache and running averages are right)")
@sbn_forward
def sbn_per_sample(x, gamma, beta, bn_param, N, C, H, W):
    _, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    mu = x.mean(axis=(1, 2, 3), keepdims=True)
    var = x.var(axis=(1, 2, 3), keepdims=True)
    xhat = (x - mu) / np.sqrt(var + bn.eps)
    return xhat * gamma[:, None, None] + beta[:, None, None], SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("direct formulas with the unbiased variance over (N, H, W)")
@sbn_forward
def sbn_unbiased(x, gamma, beta, bn_param, N, C, H, W):
    rows = _rows(x)
    out, bn = batchnorm_forward(rows, gamma, beta, bn_param)
    if bn.mode == "train":
        M = rows.shape[0]
        var = bn.var * M / (M - 1)
        ivar = 1 / np.sqrt(var + bn.eps)
        xhat = bn.xmu * ivar
        bn = BatchNormCache(**{**vars(bn), "var": var, "sqrtvar": 1 / ivar, "ivar": ivar, "xhat": xhat})
        out = gamma * xhat + beta
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("gamma and beta (C,) broadcast against the last axis W of the (N, C, H, W) xhat")
@sbn_forward
def sbn_gamma_on_w(x, gamma, beta, bn_param, N, C, H, W):
    rows = _rows(x)
    _, bn = batchnorm_forward(rows, np.ones(C, x.dtype), np.zeros(C, x.dtype), bn_param)
    xhat = _unrows(bn.xhat, x.shape)
    return xhat * gamma + beta, SpatialBatchNormCache(shape=x.shape, bn=BatchNormCache(**{**vars(bn), "gamma": gamma}))


@sbn_fwd.mistake("returns the vanilla BatchNormCache itself instead of a SpatialBatchNormCache")
@sbn_forward
def sbn_plain_cache(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), bn


@sbn_fwd.mistake("cache.shape records the channels-last shape (N, H, W, C)")
@sbn_forward
def sbn_cache_shape_nhwc(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=(N, H, W, C), bn=bn)


@sbn_fwd.mistake("forces bn_param['mode'] = 'train' (copied from a training loop): test mode uses batch statistics")
@sbn_forward
def sbn_forces_train(x, gamma, beta, bn_param, N, C, H, W):
    bn_param["mode"] = "train"
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("x cast to float64 before the vanilla layer: float64 output and running averages for float32 x")
@sbn_forward
def sbn_float64(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x.astype(np.float64)), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("hands the vanilla layer a copy of bn_param: the running averages never reach the caller")
@sbn_forward
def sbn_param_copy(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.mistake("statistics over the batch axis only, per (C, H, W) position, done by hand with per-channel running means")
@sbn_forward
def sbn_batch_axis_only(x, gamma, beta, bn_param, N, C, H, W):
    rows = _rows(x)
    out, bn = batchnorm_forward(rows, gamma, beta, bn_param)
    if bn.mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        xhat = (x - mu) / np.sqrt(var + bn.eps)
        return gamma[:, None, None] * xhat + beta[:, None, None], SpatialBatchNormCache(shape=x.shape, bn=bn)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.correct("channels last with transpose(0, 2, 3, 1), as CS231n's solutions do")
@sbn_forward
def sbn_channels_last(x, gamma, beta, bn_param, N, C, H, W):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.correct("np.moveaxis to channels last and back")
@sbn_forward
def sbn_moveaxis(x, gamma, beta, bn_param, N, C, H, W):
    rows = np.moveaxis(x, 1, -1).reshape(-1, C)
    out, bn = batchnorm_forward(rows, gamma, beta, bn_param)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(shape=x.shape, bn=bn)


@sbn_fwd.correct("channels first as (C, N*H*W), the vanilla layer on its transpose, output made contiguous")
@sbn_forward
def sbn_channels_first(x, gamma, beta, bn_param, N, C, H, W):
    cf = x.transpose(1, 0, 2, 3).reshape(C, -1)
    out, bn = batchnorm_forward(cf.T, gamma, beta, bn_param)
    return np.ascontiguousarray(out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3)), SpatialBatchNormCache(x.shape, bn)


# spatial_batchnorm_backward

@sbn_bwd.mistake("dout.reshape(-1, C) without moving the channels last")
@sbn_backward
def sbnb_plain_reshape(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, C), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@sbn_bwd.mistake("dx reshaped straight back to (N, C, H, W) without the inverse transpose")
@sbn_backward
def sbnb_no_inverse(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@sbn_bwd.mistake("dx returned as the (N*H*W, C) matrix")
@sbn_backward
def sbnb_rows_returned(dout, cache):
    return batchnorm_backward_alt(_rows(dout), cache.bn)


@sbn_bwd.mistake("own closed form with the means over N only, though each channel has N*H*W samples")
@sbn_backward
def sbnb_mean_over_n(dout, cache):
    N, C, H, W = dout.shape
    bn = cache.bn
    d = _rows(dout)
    dbeta = d.sum(axis=0)
    dgamma = (d * bn.xhat).sum(axis=0)
    dx = bn.gamma * bn.ivar * (d - (dbeta + bn.xhat * dgamma) / N)
    return _unrows(dx, dout.shape), dgamma, dbeta


@sbn_bwd.mistake("dgamma and dbeta summed over the batch only: shape (C, H, W)")
@sbn_backward
def sbnb_param_grads_over_n(dout, cache):
    dx, _, _ = batchnorm_backward_alt(_rows(dout), cache.bn)
    xhat = _unrows(cache.bn.xhat, dout.shape)
    return _unrows(dx, dout.shape), (dout * xhat).sum(axis=0), dout.sum(axis=0)


@sbn_bwd.mistake("dout cast to float64 before the vanilla backward: float64 gradients for a float32 pass")
@sbn_backward
def sbnb_float64(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout.astype(np.float64)), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@sbn_bwd.mistake("inverse transpose (0, 3, 2, 1), swapping H and W")
@sbn_backward
def sbnb_wrong_inverse(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(N, W, H, C).transpose(0, 3, 2, 1), dgamma, dbeta


@sbn_bwd.mistake("dgamma taken as sum(dout * x), the raw input in place of xhat")
@sbn_backward
def sbnb_dgamma_raw(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), (_rows(dout) * cache.bn.x).sum(axis=0), dbeta


@sbn_bwd.correct("the staged batchnorm_backward instead of the closed form")
@sbn_backward
def sbnb_staged(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(_rows(dout), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@sbn_bwd.correct("own closed form on (N, C, H, W) directly, means over axes (0, 2, 3)")
@sbn_backward
def sbnb_direct(dout, cache):
    shape = dout.shape
    bn = cache.bn
    xhat = _unrows(bn.xhat, shape)
    g = bn.gamma[:, None, None]
    iv = bn.ivar[:, None, None]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dx = g * iv * (dout - dout.mean(axis=(0, 2, 3), keepdims=True)
                   - xhat * (dout * xhat).mean(axis=(0, 2, 3), keepdims=True))
    return dx, dgamma, dbeta


@sbn_bwd.correct("np.moveaxis both ways around the closed-form vanilla backward")
@sbn_backward
def sbnb_moveaxis(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(np.moveaxis(dout, 1, -1).reshape(-1, C), cache.bn)
    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta
