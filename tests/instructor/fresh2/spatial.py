"""Spatial batch norm and group norm (notebook 7), forward and backward."""

from types import SimpleNamespace

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.layernorm import LayerNormCache, layernorm_backward
from cs231n_bn.spatial import GroupNormCache, SpatialBatchNormCache
from tests.instructor.later_catalogue import Catalogue

sbn_forward = Catalogue("spatial_batchnorm_forward")
sbn_backward = Catalogue("spatial_batchnorm_backward")
gn_forward = Catalogue("spatial_groupnorm_forward")
gn_backward = Catalogue("spatial_groupnorm_backward")


def _rows(a):
    """(N, C, H, W) -> (N*H*W, C): channels last, then one row per position."""
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


def _maps(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


# ---- spatial batch norm, forward -----------------------------------------------------------------------

@sbn_forward.mistake("transposes on the way in, but only reshapes on the way out")
def sbn_out_not_transposed_back(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("the way out inverts the wrong permutation: H and W come back swapped")
def sbn_h_w_swapped(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 2, 1).reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("x.reshape(-1, C) and back: the rows cut across channels")
def sbn_plain_reshape(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(x.reshape(-1, x.shape[1]), gamma, beta, bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("one mean per (channel, position): batch norm of x.reshape(N, -1), gamma repeated")
def sbn_per_position(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("passes a copy of bn_param, so the running averages never reach the caller")
def sbn_copies_bn_param(x, gamma, beta, bn_param):
    out, bn = batchnorm_forward(_rows(x), gamma, beta, dict(bn_param))
    return _maps(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("a debugging line left in: bn_param['mode'] = 'train' before the call")
def sbn_forces_train(x, gamma, beta, bn_param):
    bn_param["mode"] = "train"
    out, bn = batchnorm_forward(_rows(x), gamma, beta, bn_param)
    return _maps(out, x.shape), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.mistake("the cache keeps the shape of the (N*H*W, C) matrix instead of x's")
def sbn_cache_shape_of_rows(x, gamma, beta, bn_param):
    rows = _rows(x)
    out, bn = batchnorm_forward(rows, gamma, beta, bn_param)
    return _maps(out, x.shape), SpatialBatchNormCache(rows.shape, bn)


@sbn_forward.correct("channels moved last with transpose(0, 3, 2, 1) (W and H swapped both ways)")
def sbn_other_permutation(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(x.transpose(0, 3, 2, 1).reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, W, H, C).transpose(0, 3, 2, 1), SpatialBatchNormCache(x.shape, bn)


@sbn_forward.correct("np.moveaxis to put the channels last, np.ascontiguousarray on the way out")
def sbn_moveaxis(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, bn = batchnorm_forward(np.moveaxis(x, 1, -1).reshape(-1, C), gamma, beta, bn_param)
    return np.ascontiguousarray(np.moveaxis(out.reshape(N, H, W, C), -1, 1)), SpatialBatchNormCache(x.shape, bn)


# ---- spatial batch norm, backward -------------------------------------------------------------------------

@sbn_backward.mistake("dout.reshape(-1, C) without the transpose the forward pass made")
def sbn_dout_not_transposed(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.reshape(-1, dout.shape[1]), cache.bn)
    return _maps(dx, cache.shape), dgamma, dbeta


@sbn_backward.mistake("dx comes back with H and W swapped")
def sbn_dx_h_w_swapped(dout, cache):
    N, C, H, W = cache.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return dx.reshape(N, H, W, C).transpose(0, 3, 2, 1).reshape(cache.shape), dgamma, dbeta


@sbn_backward.mistake("dgamma and dbeta returned in CS231n's group-norm layout (1, C, 1, 1)")
def sbn_params_1c11(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    C = dout.shape[1]
    return _maps(dx, cache.shape), dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


@sbn_backward.mistake("dgamma recomputed by hand as the sum of dout * x over (N, H, W)")
def sbn_dgamma_from_x(dout, cache):
    dx, _, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _maps(dx, cache.shape), (dout * _maps(cache.bn.x, cache.shape)).sum(axis=(0, 2, 3)), dbeta


@sbn_backward.mistake("dx divided by H * W, as if the positions were averaged a second time")
def sbn_dx_over_positions(dout, cache):
    N, C, H, W = cache.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _maps(dx, cache.shape) / (H * W), dgamma, dbeta


@sbn_backward.mistake("dgamma and dbeta averaged over the positions (summed over N only)")
def sbn_params_mean_over_positions(dout, cache):
    N, C, H, W = cache.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(_rows(dout), cache.bn)
    return _maps(dx, cache.shape), dgamma / (H * W), dbeta / (H * W)


@sbn_backward.correct("the staged batchnorm_backward instead of the closed form")
def sbn_backward_staged(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(_rows(dout), cache.bn)
    return _maps(dx, cache.shape), dgamma, dbeta


@sbn_backward.correct("np.moveaxis both ways")
def sbn_backward_moveaxis(dout, cache):
    N, C, H, W = cache.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(np.moveaxis(dout, 1, -1).reshape(-1, C), cache.bn)
    return np.moveaxis(dx.reshape(N, H, W, C), -1, 1), dgamma, dbeta


# ---- group norm, forward ---------------------------------------------------------------------------------

def _eps(gn_param):
    return gn_param.get("eps", 1e-5)


def _group(x, G, gamma, beta, eps, xg, ungroup):
    """Normalize every row of xg (N, G, M); ungroup maps (N, G, M) back to x's layout."""
    mu = xg.mean(axis=2, keepdims=True)
    xmu = xg - mu
    var = (xmu ** 2).mean(axis=2, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    C = x.shape[1]
    out = ungroup(xhat) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


def _gn(x, gamma, beta, G, eps):
    N = x.shape[0]
    return _group(x, G, gamma, beta, eps, x.reshape(N, G, -1), lambda a: a.reshape(x.shape))


@gn_forward.mistake("groups interleaved: reshape(N, C/G, G, ...) puts channels g, g+G, ... in one group")
def gn_strided_groups(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, G, H * W).transpose(0, 2, 1, 3).reshape(N, G, -1)
    return _group(x, G, gamma, beta, _eps(gn_param), xg,
                  lambda a: a.reshape(N, G, C // G, H * W).transpose(0, 2, 1, 3).reshape(x.shape))


@gn_forward.mistake("channels moved last first (copied from spatial batch norm): groups cut across positions")
def gn_channels_last_groups(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xg = x.transpose(0, 2, 3, 1).reshape(N, G, -1)
    return _group(x, G, gamma, beta, _eps(gn_param), xg,
                  lambda a: a.reshape(N, H, W, C).transpose(0, 3, 1, 2))


@gn_forward.mistake("statistics over the group's channels only, one per position (reduced over axis 2 of (N, G, C/G, HW))")
def gn_channels_only(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, C // G, H * W)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + eps)).reshape(x.shape)
    out, cache = _gn(x, gamma, beta, G, eps)
    return xhat * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1), cache


@gn_forward.mistake("unbiased variance of each group (ddof=1)")
def gn_unbiased(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = xg.var(axis=2, ddof=1, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps)


@gn_forward.mistake("G ignored: every sample normalized as one group (layer norm)")
def gn_one_group(x, gamma, beta, G, gn_param):
    return _gn(x, gamma, beta, 1, _eps(gn_param))


@gn_forward.mistake("cache.xhat kept as (N, C, H, W) instead of the (N, G, M) the cache documents")
def gn_cache_xhat_maps(x, gamma, beta, G, gn_param):
    out, c = _gn(x, gamma, beta, G, _eps(gn_param))
    return out, GroupNormCache(c.x, c.G, c.mu, c.xmu, c.var, c.ivar, c.xhat.reshape(x.shape), c.gamma, c.eps)


@gn_forward.mistake("eps added to the variance and again under the square root")
def gn_eps_twice(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = ((xg - mu) ** 2).mean(axis=2, keepdims=True) + eps
    ivar = 1 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps)


@gn_forward.mistake("keepdims on the mean only: the variance (N, G) meets (N, G, M)")
def gn_var_without_keepdims(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = ((xg - mu) ** 2).mean(axis=2)
    ivar = 1 / np.sqrt(var + eps)
    xhat = (xg - mu) * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xg - mu, var, ivar, xhat, gamma, eps)


@gn_forward.mistake("gn_param's eps ignored (1e-5 always)")
def gn_eps_ignored(x, gamma, beta, G, gn_param):
    return _gn(x, gamma, beta, G, 1e-5)


@gn_forward.mistake("batch norm's mode switch copied: test mode returns gamma * x + beta")
def gn_test_mode_identity(x, gamma, beta, G, gn_param):
    out, cache = _gn(x, gamma, beta, G, _eps(gn_param))
    if gn_param.get("mode") == "test":
        C = x.shape[1]
        return x * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1), cache
    return out, cache


@gn_forward.correct("statistics over (C/G, H, W) of a 5-D view, with np.var")
def gn_five_d(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    x5 = x.reshape(N, G, C // G, H, W)
    mu = x5.mean(axis=(2, 3, 4), keepdims=True)
    var = x5.var(axis=(2, 3, 4), keepdims=True)
    xhat = (x5 - mu) / np.sqrt(var + eps)
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    M = x5[0, 0].size
    return out, GroupNormCache(x, G, mu.reshape(N, G, 1), (x5 - mu).reshape(N, G, M), var.reshape(N, G, 1),
                               1 / np.sqrt(var.reshape(N, G, 1) + eps), xhat.reshape(N, G, M), gamma, eps)


@gn_forward.correct("group statistics with np.einsum, accumulated in float64, cast back")
def gn_einsum_float64(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    eps = _eps(gn_param)
    xg = x.reshape(N, G, -1)
    M = xg.shape[2]
    mu = (np.einsum("ngm->ng", xg, dtype=np.float64) / M)[:, :, None].astype(x.dtype)
    xmu = xg - mu
    var = (np.einsum("ngm,ngm->ng", xmu, xmu, dtype=np.float64) / M)[:, :, None].astype(x.dtype)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(x.shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x, G, mu, xmu, var, ivar, xhat, gamma, eps)


# ---- group norm, backward ----------------------------------------------------------------------------------

def _gn_backward(dout, cache, **changed):
    """Group norm's closed form; `changed` replaces one named piece of it."""
    N, C, H, W = dout.shape
    v = SimpleNamespace(dout=dout, c=cache, N=N, C=C, G=cache.G, g=cache.gamma.reshape(1, C, 1, 1))
    steps = {
        "xhat_maps": lambda v: v.c.xhat.reshape(v.dout.shape),
        "dbeta": lambda v: v.dout.sum(axis=(0, 2, 3)).reshape(v.c.gamma.shape),
        "dgamma": lambda v: (v.dout * v.xhat_maps).sum(axis=(0, 2, 3)).reshape(v.c.gamma.shape),
        "dxhat": lambda v: (v.dout * v.g).reshape(v.N, v.G, -1),
        "mean_dxhat": lambda v: v.dxhat.mean(axis=2, keepdims=True),
        "mean_dxhat_xhat": lambda v: (v.dxhat * v.c.xhat).mean(axis=2, keepdims=True),
        "dx": lambda v: (v.c.ivar * (v.dxhat - v.mean_dxhat - v.c.xhat * v.mean_dxhat_xhat)).reshape(v.dout.shape),
    }
    for name, step in steps.items():
        setattr(v, name, changed.get(name, step)(v))
    return v.dx, v.dgamma, v.dbeta


def _channels_per_group(v):
    return v.C // v.G


GN_BACKWARD_MISTAKES = {
    "gnb_xhat_transposed": ("xhat brought back to (N, C, H, W) through a transpose of (N, G, M): dgamma pairs the wrong entries",
                            dict(xhat_maps=lambda v: v.c.xhat.transpose(0, 2, 1).reshape(v.dout.shape))),
    "gnb_divides_by_channels": ("the group size taken as C/G (channels per group) instead of (C/G)*H*W",
                                dict(mean_dxhat=lambda v: v.dxhat.sum(axis=2, keepdims=True) / _channels_per_group(v),
                                     mean_dxhat_xhat=lambda v: (v.dxhat * v.c.xhat).sum(axis=2, keepdims=True)
                                     / _channels_per_group(v))),
    "gnb_means_without_gamma": ("both means over the group take dout, not dout * gamma",
                                dict(mean_dxhat=lambda v: v.dout.reshape(v.N, v.G, -1).mean(axis=2, keepdims=True),
                                     mean_dxhat_xhat=lambda v: (v.dout.reshape(v.N, v.G, -1) * v.c.xhat)
                                     .mean(axis=2, keepdims=True))),
    "gnb_gamma_after_reduction": ("dx computed from dout alone, then multiplied by gamma per channel",
                                  dict(dxhat=lambda v: v.dout.reshape(v.N, v.G, -1),
                                       dx=lambda v: (v.c.ivar * (v.dxhat - v.mean_dxhat - v.c.xhat * v.mean_dxhat_xhat))
                                       .reshape(v.dout.shape) * v.g)),
    "gnb_means_over_groups": ("the means taken over axis 1 (the groups) instead of axis 2 (the group's entries)",
                              dict(mean_dxhat=lambda v: v.dxhat.mean(axis=1, keepdims=True),
                                   mean_dxhat_xhat=lambda v: (v.dxhat * v.c.xhat).mean(axis=1, keepdims=True))),
    "gnb_dgamma_always_c": ("dgamma and dbeta always (C,), even when gamma came in CS231n's (1, C, 1, 1)",
                            dict(dbeta=lambda v: v.dout.sum(axis=(0, 2, 3)),
                                 dgamma=lambda v: (v.dout * v.xhat_maps).sum(axis=(0, 2, 3)))),
    "gnb_dgamma_keepdims": ("dgamma and dbeta summed with keepdims: (1, C, 1, 1) even for a (C,) gamma",
                            dict(dbeta=lambda v: v.dout.sum(axis=(0, 2, 3), keepdims=True),
                                 dgamma=lambda v: (v.dout * v.xhat_maps).sum(axis=(0, 2, 3), keepdims=True))),
    "gnb_dbeta_over_batch_only": ("dbeta summed over the batch only, shape (C, H, W)",
                                  dict(dbeta=lambda v: v.dout.sum(axis=0))),
    "gnb_ivar_squared_on_mean": ("the mean term multiplied by ivar twice",
                                 dict(mean_dxhat=lambda v: v.dxhat.mean(axis=2, keepdims=True) * v.c.ivar)),
}

for _name, (_description, _changed) in GN_BACKWARD_MISTAKES.items():
    def _mistake(dout, cache, _changed=_changed):
        return _gn_backward(dout, cache, **_changed)
    _mistake.__name__ = _name
    gn_backward.mistake(_description)(_mistake)


@gn_backward.mistake("instance norm's backward: the means per channel over (H, W)")
def gnb_instance_means(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _gn_backward(dout, cache)
    g = cache.gamma.reshape(1, C, 1, 1)
    xhat = cache.xhat.reshape(dout.shape)
    dxhat = dout * g
    ivar = np.repeat(cache.ivar[:, :, 0], C // cache.G, axis=1)[:, :, None, None]
    dx = ivar * (dxhat - dxhat.mean(axis=(2, 3), keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=(2, 3), keepdims=True))
    return dx, dgamma, dbeta


@gn_backward.correct("layer norm's backward on the (N*G, M) rows, with gamma 1 there and gamma applied to dout first")
def gnb_via_layernorm(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    _, dgamma, dbeta = _gn_backward(dout, cache)
    M = cache.xhat.shape[2]
    rows = LayerNormCache(cache.x.reshape(N * G, M), cache.mu.reshape(-1, 1), cache.xmu.reshape(N * G, M),
                          cache.var.reshape(-1, 1), cache.ivar.reshape(-1, 1), cache.xhat.reshape(N * G, M),
                          np.ones(M, dtype=dout.dtype), cache.eps)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N * G, M)
    dx, _, _ = layernorm_backward(dxhat, rows)
    return dx.reshape(dout.shape), dgamma, dbeta


@gn_backward.correct("statistics recomputed from cache.x; the sums with einsum")
def gnb_recomputes(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    xg = cache.x.reshape(N, G, -1)
    M = xg.shape[2]
    mu = xg.mean(axis=2, keepdims=True)
    ivar = 1 / np.sqrt(((xg - mu) ** 2).mean(axis=2, keepdims=True) + cache.eps)
    xhat = (xg - mu) * ivar
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, G, M)
    s1 = np.einsum("ngm->ng", dxhat)[:, :, None]
    s2 = np.einsum("ngm,ngm->ng", dxhat, xhat)[:, :, None]
    dx = (ivar / M * (M * dxhat - s1 - xhat * s2)).reshape(dout.shape)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat.reshape(dout.shape)).reshape(cache.gamma.shape)
    return dx, dgamma, np.einsum("nchw->c", dout).reshape(cache.gamma.shape)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=sbn_forward.entries + sbn_backward.entries + gn_forward.entries
                            + gn_backward.entries)
