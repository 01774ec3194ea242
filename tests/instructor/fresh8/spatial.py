"""spatial_batchnorm_forward and spatial_batchnorm_backward: mistakes and correct variants.

The entries reuse a student's own vanilla batch norm (scaffold.student_bn_forward /
student_bn_backward), as the exercise invites, never the instructor's.
"""

import numpy as np

from cs231n_bn.spatial import spatial_batchnorm_forward
from tests.instructor.fresh8.scaffold import (
    SpatialBatchNormCache, bn_cache, sbn_backward_prelude, sbn_prelude, student_bn_backward, student_bn_forward,
)
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("spatial_batchnorm_forward")
bwd = Catalogue("spatial_batchnorm_backward", forward=spatial_batchnorm_forward)

WHERE = "spatial_batchnorm_forward"


def _rows(a):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@fwd.mistake("Reshapes x straight to (N*H*W, C) with x.reshape(-1, C), without moving the channel axis last first (and reshapes the output straight back).")
def sbn_reshape_no_transpose(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    C = x.shape[1]
    out, bn = student_bn_forward(x.reshape(-1, C), gamma, beta, bn_param, WHERE)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Transposes x to channels last correctly but reshapes the output rows straight to (N, C, H, W) without transposing back.")
def sbn_output_no_transpose_back(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(_rows(x), gamma, beta, bn_param, WHERE)
    return out.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Passes a copy of bn_param, dict(bn_param), to the vanilla batch norm, so the running averages never reach the caller.")
def sbn_bn_param_copy(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(_rows(x), gamma, beta, dict(bn_param), WHERE)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Subtracts the channel means from x in place (x -= mu[:, None, None]) before normalizing, overwriting the caller's x.")
def sbn_in_place(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(_rows(x).copy(), gamma, beta, bn_param, WHERE)
    if bn.mode == "train":
        x -= bn.mu[:, None, None]
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Converts x to float64 before the vanilla batch norm, so a float32 input gives a float64 output.")
def sbn_upcast(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(_rows(x).astype(np.float64), gamma, beta, bn_param, WHERE)
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Always normalizes with the batch statistics, ignoring test mode (calls the vanilla layer with mode forced to 'train' and restores the mode afterwards).")
def sbn_forces_train(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    mode = bn_param["mode"]
    bn_param["mode"] = "train"
    out, bn = student_bn_forward(_rows(x), gamma, beta, bn_param, WHERE)
    bn_param["mode"] = mode
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Records the channels-last shape (N, H, W, C) in the cache's shape field instead of x's (N, C, H, W).")
def sbn_cache_shape_channels_last(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(_rows(x), gamma, beta, bn_param, WHERE)
    N, C, H, W = x.shape
    return _unrows(out, x.shape), SpatialBatchNormCache(shape=(N, H, W, C), bn=bn)


@fwd.mistake("Normalizes each sample's channel over its own (H, W) positions (instance norm), averaging the per-sample statistics into the running averages and the cache.")
def sbn_instance_stats(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    _, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if bn_param["mode"] == "test":
        out, bn = student_bn_forward(_rows(x), gamma, beta, bn_param, WHERE)
        return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    for key, stat in (("running_mean", mu), ("running_var", var)):
        old = bn_param.get(key, np.zeros(C, x.dtype))
        bn_param[key] = momentum * old + (1 - momentum) * stat.mean(axis=(0, 2, 3))
    rows = _rows(x)
    bn = bn_cache("train", rows, mu.mean(axis=(0, 2, 3)), _rows(x - mu), var.mean(axis=(0, 2, 3)), gamma, eps)
    return gamma[:, None, None] * xhat + beta[:, None, None], SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.mistake("Takes the variance over the whole array (all channels together) while each channel keeps its own mean.")
def sbn_var_all_channels(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    rows = _rows(x)
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if mode == "test":
        out, bn = student_bn_forward(rows, gamma, beta, bn_param, WHERE)
        return _unrows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)
    mu = rows.mean(axis=0)
    xmu = rows - mu
    var = np.full(x.shape[1], np.mean(xmu**2), dtype=x.dtype)
    C = x.shape[1]
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros(C, x.dtype)) + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros(C, x.dtype)) + (1 - momentum) * var
    bn = bn_cache(mode, rows, mu, xmu, var, gamma, eps)
    return _unrows(gamma * bn.xhat + beta, x.shape), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.correct("Moves the channel axis last with np.moveaxis, runs the vanilla batch norm on the (N*H*W, C) rows and moves it back.")
def sbn_moveaxis(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, bn = student_bn_forward(np.moveaxis(x, 1, -1).reshape(-1, C), gamma, beta, bn_param, WHERE)
    return np.moveaxis(out.reshape(N, H, W, C), -1, 1), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.correct("Puts channels first, (C, N*H*W), and runs the vanilla batch norm on its transpose (rows ordered by channel-major memory).")
def sbn_channels_first(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    x_cf = x.transpose(1, 0, 2, 3).reshape(C, -1)
    out, bn = student_bn_forward(x_cf.T, gamma, beta, bn_param, WHERE)
    return out.T.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.correct("Orders the rows by (h, w, n) instead of (n, h, w): any order of the rows is the same batch.")
def sbn_other_row_order(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out, bn = student_bn_forward(x.transpose(2, 3, 0, 1).reshape(-1, C), gamma, beta, bn_param, WHERE)
    return out.reshape(H, W, N, C).transpose(2, 3, 0, 1), SpatialBatchNormCache(shape=x.shape, bn=bn)


@fwd.correct("Copies the rows into a contiguous array (np.ascontiguousarray) before the vanilla layer, and returns a contiguous output.")
def sbn_contiguous(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out, bn = student_bn_forward(np.ascontiguousarray(_rows(x)), gamma, beta, bn_param, WHERE)
    return np.ascontiguousarray(_unrows(out, x.shape)), SpatialBatchNormCache(shape=x.shape, bn=bn)


def _sb(dout, cache):
    sbn_backward_prelude(dout, cache)
    return dout.shape[1], _rows(dout)


@bwd.mistake("Reshapes dout straight to (N*H*W, C) without moving the channel axis last (and dx straight back).")
def sbnb_reshape_no_transpose(dout, cache):
    C, _ = _sb(dout, cache)
    dx, dgamma, dbeta = student_bn_backward(dout.reshape(-1, C), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Brings dout to rows correctly but reshapes dx straight to (N, C, H, W) without transposing back.")
def sbnb_dx_no_transpose_back(dout, cache):
    C, rows = _sb(dout, cache)
    dx, dgamma, dbeta = student_bn_backward(rows, cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Computes dgamma as the sum of dout * x over (N, H, W), using the raw input instead of xhat.")
def sbnb_dgamma_uses_x(dout, cache):
    C, rows = _sb(dout, cache)
    dx, _, dbeta = student_bn_backward(rows, cache.bn)
    return _unrows(dx, dout.shape), np.sum(rows * cache.bn.x, axis=0), dbeta


@bwd.mistake("Averages dbeta over the H*W positions: sums dout over (N, H, W) and divides by H*W.")
def sbnb_dbeta_per_position(dout, cache):
    C, rows = _sb(dout, cache)
    dx, dgamma, dbeta = student_bn_backward(rows, cache.bn)
    N, C, H, W = dout.shape
    return _unrows(dx, dout.shape), dgamma, dbeta / (H * W)


@bwd.mistake("Divides by N (the batch size) instead of the N*H*W values per channel in dx's two mean terms.")
def sbnb_over_batch_only(dout, cache):
    C, rows = _sb(dout, cache)
    N = dout.shape[0]
    bn = cache.bn
    dbeta, dgamma = rows.sum(axis=0), (rows * bn.xhat).sum(axis=0)
    dx = bn.gamma * bn.ivar * (rows - (dbeta + bn.xhat * dgamma) / N)
    return _unrows(dx, dout.shape), dgamma, dbeta


@bwd.mistake("Leaves gamma out of dx (dxhat taken as dout).")
def sbnb_no_gamma(dout, cache):
    C, rows = _sb(dout, cache)
    bn, M = cache.bn, rows.shape[0]
    dbeta, dgamma = rows.sum(axis=0), (rows * bn.xhat).sum(axis=0)
    dx = bn.ivar * (rows - (dbeta + bn.xhat * dgamma) / M)
    return _unrows(dx, dout.shape), dgamma, dbeta


@bwd.mistake("Casts dout to float64 before the backward pass, so a float32 pass returns float64 gradients.")
def sbnb_upcast(dout, cache):
    _sb(dout, cache)
    dx, dgamma, dbeta = student_bn_backward(_rows(dout.astype(np.float64)), cache.bn)
    return _unrows(dx, dout.shape), dgamma, dbeta


@bwd.mistake("Drops the xhat * dgamma term of dx (the gradient through the variance).")
def sbnb_no_var_term(dout, cache):
    C, rows = _sb(dout, cache)
    bn, M = cache.bn, rows.shape[0]
    dbeta, dgamma = rows.sum(axis=0), (rows * bn.xhat).sum(axis=0)
    dx = bn.gamma * bn.ivar * (rows - dbeta / M)
    return _unrows(dx, dout.shape), dgamma, dbeta


@bwd.mistake("Recomputes the scale from the cached variance without eps: 1 / sqrt(var).")
def sbnb_no_eps(dout, cache):
    C, rows = _sb(dout, cache)
    bn, M = cache.bn, rows.shape[0]
    dbeta, dgamma = rows.sum(axis=0), (rows * bn.xhat).sum(axis=0)
    dx = bn.gamma / np.sqrt(bn.var) * (rows - (dbeta + bn.xhat * dgamma) / M)
    return _unrows(dx, dout.shape), dgamma, dbeta


@bwd.correct("Works on the 4-D arrays directly, with sums over axes (0, 2, 3) and (C, 1, 1)-shaped factors.")
def sbnb_four_d(dout, cache):
    _sb(dout, cache)
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = _unrows(bn.xhat, dout.shape)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    M = N * H * W
    scale = (bn.gamma * bn.ivar)[:, None, None]
    dx = scale * (dout - (dbeta[:, None, None] + xhat * dgamma[:, None, None]) / M)
    return dx, dgamma, dbeta


@bwd.correct("Uses einsum on the channels-first view for both sums and the closed form on its transpose.")
def sbnb_einsum(dout, cache):
    _sb(dout, cache)
    N, C, H, W = dout.shape
    bn = cache.bn
    d_cf = dout.transpose(1, 0, 2, 3).reshape(C, -1)
    xh_cf = bn.xhat.T
    dbeta = np.einsum("cm->c", d_cf)
    dgamma = np.einsum("cm,cm->c", d_cf, xh_cf)
    M = d_cf.shape[1]
    dx_cf = (bn.gamma * bn.ivar)[:, None] * (d_cf - (dbeta[:, None] + xh_cf * dgamma[:, None]) / M)
    return dx_cf.reshape(C, N, H, W).transpose(1, 0, 2, 3), dgamma, dbeta


@bwd.correct("Moves axes with np.moveaxis and calls its own closed-form backward on the rows.")
def sbnb_moveaxis(dout, cache):
    _sb(dout, cache)
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = student_bn_backward(np.moveaxis(dout, 1, -1).reshape(-1, C), cache.bn)
    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta
