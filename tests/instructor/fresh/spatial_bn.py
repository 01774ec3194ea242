"""spatial_batchnorm_forward / _backward: the (N, C, H, W) <-> (N*H*W, C) rearrangement and the axes of the statistics."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.spatial import SpatialBatchNormCache
from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

forward = Catalogue("spatial_batchnorm_forward")
backward = Catalogue("spatial_batchnorm_backward")


def rows(a):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    N, C, H, W = a.shape
    return a.transpose(0, 2, 3, 1).reshape(-1, C)


def maps(r, shape):
    N, C, H, W = shape
    return r.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@forward.mistake("x.reshape(-1, C) without moving the channels last first", judged=NAMED)
def reshape_without_transpose(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out_rows, cache = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out_rows.reshape(N, C, H, W), SpatialBatchNormCache(x.shape, cache)


@forward.mistake("channels moved last on the way in, but the output reshaped straight to (N, C, H, W)", judged=NAMED)
def output_not_transposed_back(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out_rows, cache = batchnorm_forward(rows(x), gamma, beta, bn_param)
    return out_rows.reshape(N, C, H, W), SpatialBatchNormCache(x.shape, cache)


@forward.mistake("output transposed back with (0, 3, 2, 1): H and W exchanged", judged=NAMED)
def wrong_inverse_transpose(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out_rows, cache = batchnorm_forward(rows(x), gamma, beta, bn_param)
    return out_rows.reshape(N, H, W, C).transpose(0, 3, 2, 1), SpatialBatchNormCache(x.shape, cache)


@forward.mistake("(C, N*H*W) matrix passed to batchnorm_forward without the final .T", judged=NAMED)
def channel_rows_not_transposed(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    x_cf = x.transpose(1, 0, 2, 3).reshape(C, -1)
    out_cf, cache = batchnorm_forward(x_cf, gamma, beta, bn_param)
    return out_cf.reshape(C, N, H, W).transpose(1, 0, 2, 3), SpatialBatchNormCache(x.shape, cache)


def own_stats(x, gamma, beta, bn_param, axes, ddof=0):
    """Per-channel statistics written by hand over `axes`; running averages of their channel means."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    C = x.shape[1]
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if bn_param["mode"] == "train":
        mu = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, ddof=ddof, keepdims=True)
        for key, stat in (("running_mean", mu), ("running_var", var)):
            old = bn_param.get(key, np.zeros(C))
            bn_param[key] = momentum * old + (1 - momentum) * stat.mean(axis=(0, 2, 3))
    else:
        mu = bn_param["running_mean"].reshape(1, C, 1, 1)
        var = bn_param["running_var"].reshape(1, C, 1, 1)
    out = g * (x - mu) / np.sqrt(var + eps) + b
    _, cache = batchnorm_forward(rows(x), gamma, beta, {"mode": "train", "eps": eps})
    return out, SpatialBatchNormCache(x.shape, cache)


@forward.mistake("statistics over the batch only (axis 0): one mean per channel and position", judged=NAMED)
def stats_over_batch_only(x, gamma, beta, bn_param):
    return own_stats(x, gamma, beta, bn_param, axes=0)


@forward.mistake("statistics over H and W only (instance norm)", judged=NAMED)
def stats_over_positions_only(x, gamma, beta, bn_param):
    return own_stats(x, gamma, beta, bn_param, axes=(2, 3))


@forward.mistake("statistics over (N, C, H, W) minus the wrong axis: over (0, 1, 2), per column W", judged=GENERIC)
def stats_per_column(x, gamma, beta, bn_param):
    return own_stats(x, gamma, beta, bn_param, axes=(0, 1, 2))


@forward.mistake("unbiased variance over (N, H, W)", judged=NAMED)
def unbiased(x, gamma, beta, bn_param):
    return own_stats(x, gamma, beta, bn_param, axes=(0, 2, 3), ddof=1)


@forward.mistake("bn_param copied before the call (dict(bn_param)), so the running averages never reach the caller", judged=NAMED)
def bn_param_copied(x, gamma, beta, bn_param):
    out_rows, cache = batchnorm_forward(rows(x), gamma, beta, dict(bn_param))
    return maps(out_rows, x.shape), SpatialBatchNormCache(x.shape, cache)


@forward.mistake("test mode normalizes with the batch's own statistics (mode forced to 'train')", judged=NAMED)
def test_mode_batch_stats(x, gamma, beta, bn_param):
    param = {**bn_param, "mode": "train"}
    out_rows, cache = batchnorm_forward(rows(x), gamma, beta, param)
    if bn_param["mode"] == "train":
        bn_param.update(running_mean=param["running_mean"], running_var=param["running_var"])
    return maps(out_rows, x.shape), SpatialBatchNormCache(x.shape, cache)


@forward.mistake("gamma and beta applied per position (reshaped to (1, 1, 1, C)) after normalizing with gamma 1, beta 0", judged=GENERIC)
def gamma_on_last_axis(x, gamma, beta, bn_param):
    C = x.shape[1]
    out_rows, cache = batchnorm_forward(rows(x), np.ones(C), np.zeros(C), bn_param)
    return maps(out_rows, x.shape) * gamma.reshape(1, 1, 1, C) + beta.reshape(1, 1, 1, C), \
        SpatialBatchNormCache(x.shape, cache)


@forward.correct("hand-written statistics over axes (0, 2, 3) with keepdims, the vanilla pass only for the cache")
def keepdims_axes(x, gamma, beta, bn_param):
    out_rows, cache = batchnorm_forward(rows(x), gamma, beta, bn_param)
    C = x.shape[1]
    eps = bn_param.get("eps", 1e-5)
    mu, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    if bn_param["mode"] == "test":
        mu, var = bn_param["running_mean"].reshape(1, C, 1, 1), bn_param["running_var"].reshape(1, C, 1, 1)
    out = gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + eps) + beta.reshape(1, C, 1, 1)
    return out, SpatialBatchNormCache(x.shape, cache)


@forward.correct("moveaxis to channels last, float32 kept float32")
def moveaxis(x, gamma, beta, bn_param):
    C = x.shape[1]
    out_rows, cache = batchnorm_forward(np.moveaxis(x, 1, -1).reshape(-1, C), gamma, beta, bn_param)
    return np.moveaxis(out_rows.reshape(x.shape[0], x.shape[2], x.shape[3], C), -1, 1), \
        SpatialBatchNormCache(x.shape, cache)


# spatial_batchnorm_backward (the cache's bn holds the (N*H*W, C) rows)

@backward.mistake("dout.reshape(-1, C) without moving the channels last first", judged=NAMED)
def dout_reshape_without_transpose(dout, cache):
    C = dout.shape[1]
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(np.ascontiguousarray(dout).reshape(-1, C), cache.bn)
    return maps(dx_rows, dout.shape), dgamma, dbeta


@backward.mistake("dx reshaped straight to (N, C, H, W), not transposed back", judged=GENERIC)
def dx_not_transposed_back(dout, cache):
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(rows(dout), cache.bn)
    return dx_rows.reshape(dout.shape), dgamma, dbeta


@backward.mistake("closed form with N = dout.shape[0] instead of the N*H*W values per channel", judged=NAMED)
def count_is_batch_only(dout, cache):
    N = dout.shape[0]
    d = rows(dout)
    c = cache.bn
    dbeta, dgamma = d.sum(axis=0), (d * c.xhat).sum(axis=0)
    return maps(c.gamma * c.ivar * (d - (dbeta + c.xhat * dgamma) / N), dout.shape), dgamma, dbeta


@backward.mistake("dgamma and dbeta summed over the batch only, left per position (C, H, W)", judged=NAMED)
def params_per_position(dout, cache):
    dx_rows, _, _ = batchnorm_backward_alt(rows(dout), cache.bn)
    xhat = maps(cache.bn.xhat, dout.shape)
    return maps(dx_rows, dout.shape), (dout * xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dgamma and dbeta swapped", judged=NAMED)
def params_swapped(dout, cache):
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(rows(dout), cache.bn)
    return maps(dx_rows, dout.shape), dbeta, dgamma


@backward.mistake("dx = gamma ivar dout per channel: the statistics' dependence on x forgotten", judged=NAMED)
def statistics_constant(dout, cache):
    c = cache.bn
    d = rows(dout)
    return maps(c.gamma * c.ivar * d, dout.shape), (d * c.xhat).sum(axis=0), d.sum(axis=0)


@backward.mistake("the staged pass's 1/N taken per sample: divides by H*W", judged=GENERIC)
def count_is_positions(dout, cache):
    N, C, H, W = dout.shape
    d = rows(dout)
    c = cache.bn
    dbeta, dgamma = d.sum(axis=0), (d * c.xhat).sum(axis=0)
    return maps(c.gamma * c.ivar * (d - (dbeta + c.xhat * dgamma) / (H * W)), dout.shape), dgamma, dbeta


@backward.mistake("H and W exchanged on the way back (transpose (0, 3, 2, 1))", judged=GENERIC)
def dx_wrong_inverse_transpose(dout, cache):
    N, C, H, W = dout.shape
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(rows(dout), cache.bn)
    return dx_rows.reshape(N, H, W, C).transpose(0, 3, 2, 1), dgamma, dbeta


@backward.correct("closed form over axes (0, 2, 3) on the maps themselves, with einsum")
def on_maps(dout, cache):
    N, C, H, W = dout.shape
    c = cache.bn
    xhat = maps(c.xhat, dout.shape)
    M = N * H * W
    dbeta = np.einsum("nchw->c", dout)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat)
    k = (c.gamma * c.ivar).reshape(1, C, 1, 1)
    dx = k * (dout - (dbeta.reshape(1, C, 1, 1) + xhat * dgamma.reshape(1, C, 1, 1)) / M)
    return dx, dgamma, dbeta


def stats_forward(x, gamma, beta, bn_param):
    """A spatial forward pass of its own whose cache is (xhat maps, gamma, ivar)."""
    C = x.shape[1]
    out_rows, c = batchnorm_forward(rows(x), gamma, beta, bn_param)
    return maps(out_rows, x.shape), (maps(c.xhat, x.shape), gamma, c.ivar.reshape(1, C, 1, 1))


@backward.correct("mean form on a cache of its own (xhat maps, gamma, ivar)", forward=stats_forward)
def own_cache(dout, cache):
    xhat, gamma, ivar = cache
    C = dout.shape[1]
    dxhat = dout * gamma.reshape(1, C, 1, 1)
    axes = (0, 2, 3)
    dx = ivar * (dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


ENTRIES = [*forward.entries, *backward.entries]
