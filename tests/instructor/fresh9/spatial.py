"""spatial_batchnorm_forward and spatial_batchnorm_backward: batch norm per channel over (N, H, W)."""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.spatial import (SpatialBatchNormCache, _check_bn_param, _check_channel_params,
                               spatial_batchnorm_forward)
from cs231n_bn.batchnorm import read_bn_param
from tests.instructor.fresh9.scaffold import bn_alt_dx, bn_finish, bn_stats
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_batchnorm_forward")
backward = Catalogue("spatial_batchnorm_backward", forward=spatial_batchnorm_forward)


def _setup(x, gamma, beta, bn_param):
    where = "spatial_batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta)
    N, C, H, W = x.shape
    _check_bn_param(where, bn_param, C, N * H * W)
    mode, eps, momentum, rm, rv = read_bn_param(where, bn_param, C, x.dtype)
    return gamma, beta, mode, eps, momentum, rm, rv


def _rows(x):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _unrows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def _vanilla(rows, gamma, beta, bn_param, mode, eps, m, rm, rv, stats=bn_stats, update=True):
    if mode == "train":
        mu, var = stats(rows)
        if update:
            bn_param["running_mean"] = m * rm + (1 - m) * mu
            bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    return bn_finish(rows, mu, var, gamma, beta, eps, mode)


def _sbn(x, gamma, beta, bn_param, rows=_rows, unrows=_unrows, **kw):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    out_rows, cache = _vanilla(rows(x), gamma, beta, bn_param, mode, eps, m, rm, rv, **kw)
    return unrows(out_rows, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("Reshapes x straight to (N*H*W, C) without moving the channel axis last, mixing channels and positions in each column.")
def reshape_without_transpose(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, rows=lambda x: x.reshape(-1, x.shape[1]),
                unrows=lambda r, shape: r.reshape(shape))


@forward.mistake("Transposes to channels last correctly but reshapes the output straight back to (N, C, H, W) without transposing back.")
def output_not_transposed_back(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, unrows=lambda r, shape: r.reshape(shape))


@forward.mistake("In train mode, normalizes the output over (H, W) per sample and channel (instance norm) instead of over (N, H, W) per channel; the cache and running statistics keep the per-channel statistics.")
def instance_norm(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    out, cache = _sbn(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=(2, 3), keepdims=True)
        var = x.var(axis=(2, 3), keepdims=True)
        out = gamma[:, None, None] * (x - mu) / np.sqrt(var + eps) + beta[:, None, None]
    return out, cache


@forward.mistake("Uses the unbiased variance over the N*H*W values of each channel.")
def unbiased(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, stats=lambda r: (r.mean(axis=0), r.var(axis=0, ddof=1)))


@forward.mistake("Divides the channel sums by N instead of N*H*W (sums over the positions, averages over the batch only).")
def divides_by_n(x, gamma, beta, bn_param):
    N = x.shape[0]
    def stats(r):
        mu = r.sum(axis=0) / N
        return mu, ((r - mu) ** 2).sum(axis=0) / N
    return _sbn(x, gamma, beta, bn_param, stats=stats)


@forward.mistake("Never writes the running statistics back into bn_param.")
def running_not_stored(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, update=False)


@forward.mistake("Swaps the momentum convention: running = (1 - momentum) * running + momentum * batch statistic.")
def momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    return _sbn(x, gamma, beta, bn_param) if mode == "test" else _swapped(x, gamma, beta, bn_param, eps, m, rm, rv)


def _swapped(x, gamma, beta, bn_param, eps, m, rm, rv):
    rows = _rows(x)
    mu, var = bn_stats(rows)
    bn_param["running_mean"] = (1 - m) * rm + m * mu
    bn_param["running_var"] = (1 - m) * rv + m * var
    out_rows, cache = bn_finish(rows, mu, var, gamma, beta, eps, "train")
    return _unrows(out_rows, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("Test mode normalizes with the test batch's per-channel statistics instead of the running ones.")
def test_batch_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    rows = _rows(x)
    mu, var = bn_stats(rows)
    out_rows, cache = bn_finish(rows, mu, var, gamma, beta, eps, mode)
    if mode == "train":
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    return _unrows(out_rows, x.shape), SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.mistake("Stores the channels-last shape (N, H, W, C) in the cache's shape field instead of x.shape.")
def cache_shape_channels_last(x, gamma, beta, bn_param):
    out, cache = _sbn(x, gamma, beta, bn_param)
    N, C, H, W = x.shape
    return out, SpatialBatchNormCache(shape=(N, H, W, C), bn=cache.bn)


@forward.mistake("Casts x to float64 before normalizing and never back, so float32 x gives a float64 out.")
def upcast(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, rows=lambda x: _rows(x.astype(np.float64)))


@forward.mistake("Leaves eps out of the output's normalization, out = gamma * xmu / sqrt(var) + beta, in both modes (the cache keeps sqrt(var + eps)).")
def no_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    out, cache = _sbn(x, gamma, beta, bn_param)
    b = cache.bn
    xhat = b.xmu / np.sqrt(b.var)
    return _unrows(gamma * xhat + beta, x.shape), cache


@forward.correct("Per-channel statistics with mean/var over axes (0, 2, 3) and keepdims, the cache built from the channels-last rows.")
def axes_023(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = _setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    xmu = x - x.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64) if mode == "train" else x - mu[:, None, None]
    xmu = xmu.astype(x.dtype, copy=False)
    out = gamma[:, None, None] * xmu / np.sqrt(var[:, None, None] + eps) + beta[:, None, None]
    _, cache = bn_finish(_rows(x), mu, var, gamma, beta, eps, mode)
    return out, SpatialBatchNormCache(shape=x.shape, bn=cache)


@forward.correct("Channels-last rows from np.moveaxis(x, 1, -1) copied with np.ascontiguousarray.")
def moveaxis_rows(x, gamma, beta, bn_param):
    return _sbn(x, gamma, beta, bn_param, rows=lambda x: np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, x.shape[1]),
                unrows=lambda r, s: np.moveaxis(r.reshape(s[0], s[2], s[3], s[1]), -1, 1))


@forward.correct("Loops over the channels, each normalized over its N*H*W values; the cache from the channels-last rows.")
def loop_channels(x, gamma, beta, bn_param):
    C = x.shape[1]
    def stats(rows):
        mu, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
        for c in range(C):
            mu[c] = rows[:, c].mean()
            var[c] = ((rows[:, c] - mu[c]) ** 2).mean()
        return mu, var
    return _sbn(x, gamma, beta, bn_param, stats=stats)


def _bsetup(dout, cache):
    where = "spatial_batchnorm_backward"
    validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
    if cache.bn.mode != "train":
        raise ValueError(f"{where}: cache comes from a test-mode forward pass")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")


def _sback(dout, cache, rows=_rows, unrows=_unrows, alt=bn_alt_dx):
    _bsetup(dout, cache)
    b = cache.bn
    dx_rows, dgamma, dbeta = alt(rows(dout), b.xhat, b.gamma, b.ivar)
    return unrows(dx_rows, dout.shape), dgamma, dbeta


@backward.mistake("Reshapes dout straight to (N*H*W, C) without moving the channels last (and reshapes dx straight back).")
def back_reshape_without_transpose(dout, cache):
    return _sback(dout, cache, rows=lambda d: d.reshape(-1, d.shape[1]), unrows=lambda r, s: r.reshape(s))


@backward.mistake("Transposes dout to channels last but reshapes dx straight back to (N, C, H, W) without transposing.")
def dx_not_transposed_back(dout, cache):
    return _sback(dout, cache, unrows=lambda r, s: r.reshape(s))


@backward.mistake("Divides by N (the batch size) instead of N*H*W, the number of values per channel, in dx.")
def back_divides_by_n(dout, cache):
    N = dout.shape[0]
    def alt(d, xhat, gamma, ivar):
        dbeta, dgamma = d.sum(axis=0), (d * xhat).sum(axis=0)
        return gamma * ivar * (d - (dbeta + xhat * dgamma) / N), dgamma, dbeta
    return _sback(dout, cache, alt=alt)


@backward.mistake("Sums dgamma and dbeta over the batch axis only, returning (C, H, W) arrays instead of (C,).")
def sums_over_batch_only(dout, cache):
    dx, _, _ = _sback(dout, cache)
    xhat = _unrows(cache.bn.xhat, dout.shape)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("Leaves gamma out of dx.")
def no_gamma(dout, cache):
    def alt(d, xhat, gamma, ivar):
        return bn_alt_dx(d, xhat, np.ones_like(gamma), ivar)[0], (d * xhat).sum(axis=0), d.sum(axis=0)
    return _sback(dout, cache, alt=alt)


@backward.mistake("Computes in float64 (dout.astype(np.float64)), so a float32 pass returns float64 gradients.")
def back_upcast(dout, cache):
    return _sback(dout, cache, rows=lambda d: _rows(d.astype(np.float64)))


@backward.mistake("Drops the xhat * dgamma / (N*H*W) term of dx (the path through the variance).")
def no_variance_term(dout, cache):
    def alt(d, xhat, gamma, ivar):
        dbeta, dgamma = d.sum(axis=0), (d * xhat).sum(axis=0)
        return gamma * ivar * (d - dbeta / d.shape[0]), dgamma, dbeta
    return _sback(dout, cache, alt=alt)


@backward.mistake("Returns dgamma and dbeta in swapped order.")
def swapped_returns(dout, cache):
    dx, dgamma, dbeta = _sback(dout, cache)
    return dx, dbeta, dgamma


@backward.correct("Closed form over axes (0, 2, 3) directly on the (N, C, H, W) arrays, no reshaping of dout.")
def back_axes_023(dout, cache):
    _bsetup(dout, cache)
    b = cache.bn
    xhat = _unrows(b.xhat, dout.shape)
    M = dout.shape[0] * dout.shape[2] * dout.shape[3]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dx = (b.gamma * b.ivar)[:, None, None] * (dout - (dbeta[:, None, None] + xhat * dgamma[:, None, None]) / M)
    return dx, dgamma, dbeta


@backward.correct("The staged node-by-node backward pass on the channels-last rows.")
def staged_rows(dout, cache):
    def alt(d, xhat, gamma, ivar):
        M = d.shape[0]
        b = cache.bn
        dxhat = gamma * d
        dvar = -0.5 * ivar**3 * (dxhat * b.xmu).sum(axis=0)
        dxmu = dxhat * ivar + 2 * b.xmu * dvar / M
        return dxmu - dxmu.sum(axis=0) / M, (d * xhat).sum(axis=0), d.sum(axis=0)
    return _sback(dout, cache, alt=alt)


@backward.correct("Channels-first (C, N*H*W) layout with sums over axis 1, einsum for dgamma.")
def channels_first(dout, cache):
    _bsetup(dout, cache)
    N, C, H, W = dout.shape
    b = cache.bn
    d = dout.transpose(1, 0, 2, 3).reshape(C, -1)
    xhat = _rows_cf(b.xhat, dout.shape)
    dbeta = d.sum(axis=1)
    dgamma = np.einsum("cm,cm->c", d, xhat)
    dx = (b.gamma * b.ivar)[:, None] * (d - (dbeta[:, None] + xhat * dgamma[:, None]) / d.shape[1])
    return dx.reshape(C, N, H, W).transpose(1, 0, 2, 3), dgamma, dbeta


def _rows_cf(xhat_rows, shape):
    """The cache's (N*H*W, C) rows as (C, N*H*W) in the same (n, h, w) order as dout's channels-first view."""
    return _unrows(xhat_rows, shape).transpose(1, 0, 2, 3).reshape(shape[1], -1)
