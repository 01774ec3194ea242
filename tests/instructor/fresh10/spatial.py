"""spatial_batchnorm_forward and spatial_batchnorm_backward: mistakes and variants."""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.spatial import SpatialBatchNormCache, spatial_batchnorm_forward
from tests.instructor.fresh10.scaffold import (
    bn_backward_closed,
    bn_cache,
    bn_forward,
    bn_stats,
    from_rows,
    sbn_backward_prelude,
    sbn_prelude,
    to_rows,
)
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("spatial_batchnorm_forward")
bwd = Catalogue("spatial_batchnorm_backward", forward=spatial_batchnorm_forward)
WHERE = "spatial_batchnorm_forward"


def _rows_forward(rows, gamma, beta, bn_param):
    return bn_forward(rows, gamma, beta, bn_param, where=WHERE)


# ------------------------------------------------------------------ forward: mistakes

@fwd.mistake("Reshapes x straight to (N*H*W, C) without moving the channel axis last, mixing channels in each column.")
def reshape_without_transpose(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    C = x.shape[1]
    out_rows, cache = _rows_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out_rows.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.mistake("Normalizes the right (N*H*W, C) rows but reshapes the output straight back to (N, C, H, W) without the inverse transpose.")
def output_without_transpose_back(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out_rows, cache = _rows_forward(to_rows(x), gamma, beta, bn_param)
    return out_rows.reshape(x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.mistake("Transposes the rows back with the axes of H and W swapped, (N, H, W, C) -> (N, C, W, H).")
def output_h_w_swapped(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    out_rows, cache = _rows_forward(to_rows(x), gamma, beta, bn_param)
    return out_rows.reshape(N, H, W, C).transpose(0, 3, 2, 1), SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.mistake("Normalizes every (sample, channel) map over its H*W positions only (instance norm), not over the batch too.")
def instance_statistics(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    rows = x.reshape(N * C, H * W).T  # one column per (sample, channel)
    mu, xmu, var = bn_stats(rows)
    mode = bn_param["mode"]
    rm = bn_param.get("running_mean", np.zeros(C, x.dtype))
    rv = bn_param.get("running_var", np.zeros(C, x.dtype))
    m, eps = bn_param.get("momentum", 0.9), bn_param.get("eps", 1e-5)
    if mode == "train":
        bn_param["running_mean"] = m * rm + (1 - m) * mu.reshape(N, C).mean(0)
        bn_param["running_var"] = m * rv + (1 - m) * var.reshape(N, C).mean(0)
        xhat = (xmu / np.sqrt(var + eps)).T.reshape(x.shape)
    else:
        xhat = (x - rm.reshape(C, 1, 1)) / np.sqrt(rv.reshape(C, 1, 1) + eps)
    out = gamma.reshape(C, 1, 1) * xhat + beta.reshape(C, 1, 1)
    rows_c = to_rows(x)
    cache = bn_cache(mode, rows_c, mu, xmu, var, eps, gamma, xhat=to_rows(xhat))
    return out, SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.mistake("Stores the shape of the (N*H*W, C) matrix in the cache's shape field instead of x's (N, C, H, W).")
def cache_shape_of_rows(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    rows = to_rows(x)
    out_rows, cache = _rows_forward(rows, gamma, beta, bn_param)
    return from_rows(out_rows, x.shape), SpatialBatchNormCache(shape=rows.shape, bn=cache)


@fwd.mistake("Normalizes with the unbiased variance of each channel (divides by N*H*W - 1).")
def unbiased_channel_variance(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    rows = to_rows(x)
    M = rows.shape[0]
    mode, eps, m = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if mode == "train":
        mu, xmu, var = bn_stats(rows)
        var = var * M / (M - 1)
        bn_param["running_mean"] = m * bn_param.get("running_mean", 0) + (1 - m) * mu
        bn_param["running_var"] = m * bn_param.get("running_var", 0) + (1 - m) * var
    else:
        mu, var = bn_param["running_mean"], bn_param["running_var"]
        xmu = rows - mu
    cache = bn_cache(mode, rows, mu, xmu, var, eps, gamma)
    out = gamma * cache.xhat + beta
    return from_rows(out, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.mistake("Hands the vanilla batch norm a copy of bn_param, so the running statistics never reach the caller's dict.")
def bn_param_copy(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    out_rows, cache = _rows_forward(to_rows(x), gamma, beta, dict(bn_param))
    return from_rows(out_rows, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


# ------------------------------------------------------------------ forward: correct variants

@fwd.correct("Statistics over axes (0, 2, 3) of the 4-D array, with the cache built on the channel-first view, as the instructor's.")
def four_d_axes(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    rows = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(C, -1).T
    out_rows, cache = _rows_forward(rows, gamma, beta, bn_param)
    out = out_rows.T.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    return out, SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.correct("Rows taken channels-last, x.transpose(0, 2, 3, 1).reshape(-1, C), a copy rather than a view.")
def channels_last_rows(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    rows = np.ascontiguousarray(to_rows(x))
    out_rows, cache = _rows_forward(rows, gamma, beta, bn_param)
    return np.ascontiguousarray(from_rows(out_rows, x.shape)), SpatialBatchNormCache(shape=x.shape, bn=cache)


@fwd.correct("A loop over channels computing each channel's mean and variance over (N, H, W), then one cache.")
def loop_over_channels(x, gamma, beta, bn_param):
    gamma, beta = sbn_prelude(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    rows = to_rows(x)
    mode, eps, m = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if mode == "train":
        mu, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
        for c in range(C):
            v = x[:, c].astype(np.float64)
            mu[c], var[c] = v.mean(), ((v - v.mean()) ** 2).mean()
        xmu = (rows - mu.astype(np.float64)).astype(x.dtype)
        rm = bn_param.get("running_mean", np.zeros(C, x.dtype))
        rv = bn_param.get("running_var", np.zeros(C, x.dtype))
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = bn_param["running_mean"], bn_param["running_var"]
        xmu = rows - mu
    cache = bn_cache(mode, rows, mu, xmu, var, eps, gamma)
    validation.finite_variance(WHERE, cache.var, x)
    return from_rows(gamma * cache.xhat + beta, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


# ------------------------------------------------------------------ backward

def _rows(dout, cache):
    sbn_backward_prelude(dout, cache)
    return to_rows(dout)


@bwd.mistake("Reshapes dout straight to (N*H*W, C) without moving the channel axis last.")
def b_reshape_without_transpose(dout, cache):
    sbn_backward_prelude(dout, cache)
    dx, dgamma, dbeta = bn_backward_closed(dout.reshape(-1, dout.shape[1]), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Gets the rows of dout right but reshapes dx straight back to (N, C, H, W) without the inverse transpose.")
def b_dx_without_transpose_back(dout, cache):
    dx, dgamma, dbeta = bn_backward_closed(_rows(dout, cache), cache.bn)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Treats the channel statistics as constants: dx = gamma * ivar * dout, without the mean and variance terms.")
def b_constant_statistics(dout, cache):
    rows = _rows(dout, cache)
    bn = cache.bn
    return from_rows(bn.gamma * bn.ivar * rows, dout.shape), (rows * bn.xhat).sum(0), rows.sum(0)


@bwd.mistake("Uses the batch size N instead of N*H*W, the number of values per channel, in the closed form.")
def b_count_is_batch(dout, cache):
    rows = _rows(dout, cache)
    bn, N = cache.bn, dout.shape[0]
    dbeta, dgamma = rows.sum(0), (rows * bn.xhat).sum(0)
    dx = bn.gamma * bn.ivar * (rows - (dbeta + bn.xhat * dgamma) / N)
    return from_rows(dx, dout.shape), dgamma, dbeta


@bwd.mistake("Sums dgamma and dbeta over the batch axis only, returning (C, H, W) arrays instead of (C,).")
def b_sums_over_batch_only(dout, cache):
    dx, _, _ = bn_backward_closed(_rows(dout, cache), cache.bn)
    xhat = from_rows(cache.bn.xhat, dout.shape)
    return from_rows(dx, dout.shape), (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("dgamma sums dout * x (the input) over (N, H, W) instead of dout * xhat.")
def b_dgamma_with_x(dout, cache):
    rows = _rows(dout, cache)
    dx, _, dbeta = bn_backward_closed(rows, cache.bn)
    return from_rows(dx, dout.shape), (rows * cache.bn.x).sum(0), dbeta


@bwd.mistake("Drops the variance term of the closed form: dx = gamma * ivar * (dout - mean of dout per channel).")
def b_without_variance_term(dout, cache):
    rows = _rows(dout, cache)
    bn = cache.bn
    dx = bn.gamma * bn.ivar * (rows - rows.mean(0))
    return from_rows(dx, dout.shape), (rows * bn.xhat).sum(0), rows.sum(0)


@bwd.correct("The closed form in 4-D with means over axes (0, 2, 3) and keepdims.")
def b_four_d(dout, cache):
    sbn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = from_rows(bn.xhat, dout.shape)
    g, iv = bn.gamma.reshape(1, C, 1, 1), bn.ivar.reshape(1, C, 1, 1)
    dx = g * iv * (dout - dout.mean(axis=(0, 2, 3), keepdims=True)
                   - xhat * (dout * xhat).mean(axis=(0, 2, 3), keepdims=True))
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


@bwd.correct("einsum sums per channel and a loop over channels for dx.")
def b_loop_channels(dout, cache):
    sbn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    bn = cache.bn
    M = N * H * W
    xhat = from_rows(bn.xhat, dout.shape)
    dbeta = np.einsum("nchw->c", dout)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat)
    dx = np.empty_like(dout)
    for c in range(C):
        dx[:, c] = bn.gamma[c] * bn.ivar[c] * (dout[:, c] - (dbeta[c] + xhat[:, c] * dgamma[c]) / M)
    return dx, dgamma, dbeta
