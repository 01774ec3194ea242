"""The given parts of each exercise (validation around the solution region, cache classes) and
plain right computations of the norms, written from the math, that the entries perturb.

Nothing here calls the package's solution functions: only its validation helpers and the
dataclasses the contracts name.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import MODES, BatchNormCache, _check_backward_inputs, _check_forward_inputs, read_bn_param
from cs231n_bn.layernorm import LN_PARAM_KEYS, LayerNormCache
from cs231n_bn.spatial import (
    GN_PARAM_KEYS,
    GroupNormCache,
    SpatialBatchNormCache,
    _check_bn_param,
    _check_channel_params,
    _check_groups,
)


# ---------------------------------------------------------------- batch norm (N, D)

def bn_prelude(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """What batchnorm_forward does before its solution region; returns gamma, beta, mode, eps, momentum, rm, rv."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, rm, rv = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs N >= 2; got {N}")
    return gamma, beta, mode, eps, momentum, rm, rv


def bn_cache(mode, x, mu, xmu, var, eps, gamma, sqrtvar=None, ivar=None, xhat=None):
    sqrtvar = np.sqrt(var + eps) if sqrtvar is None else sqrtvar
    ivar = 1.0 / sqrtvar if ivar is None else ivar
    xhat = xmu * ivar if xhat is None else xhat
    return BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                          xhat=xhat, gamma=gamma, eps=eps)


def bn_forward(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """A plain right batch norm forward pass (two-pass variance, in x's dtype)."""
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param, where)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    out = gamma * cache.xhat + beta
    validation.finite_variance(where, cache.var, x)
    return out, cache


def bn_stats(x, axis=0):
    """Mean, x - mean and biased variance along axis, summed in float64 and rounded to x's dtype."""
    mu64 = x.mean(axis=axis, dtype=np.float64)
    xmu = (x - np.expand_dims(mu64, axis)).astype(x.dtype)
    var = (xmu.astype(np.float64) ** 2).mean(axis=axis).astype(x.dtype)
    return mu64.astype(x.dtype), xmu, var


def bn_backward_prelude(dout, cache, where="batchnorm_backward"):
    _check_backward_inputs(where, dout, cache)


def bn_backward_closed(dout, cache):
    """dx = gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), the closed form."""
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- layer norm

def ln_prelude(x, gamma, beta, ln_param):
    where = "layernorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    validation.float_array(where, "x", x, ndim=2)
    D = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p, ndim=1)
        validation.same_shape(where, name, p, (D,), "one value per feature of x")
    validation.param_dict(where, "ln_param", ln_param)
    validation.known_keys(where, "ln_param", ln_param, LN_PARAM_KEYS)
    if "mode" in ln_param:
        validation.choice(where, "ln_param['mode']", ln_param["mode"], MODES)
    eps = validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", 1e-5))
    validation.nonempty_batch(where, "x", x)
    if D < 2:
        raise ValueError(f"{where}: D must be >= 2")
    return gamma, beta, eps


def ln_finish(x, mu, xmu, var, ivar, xhat, gamma, eps, out):
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    validation.finite_variance("layernorm_forward", cache.var, x)
    return out, cache


def ln_backward_prelude(dout, cache):
    where = "layernorm_backward"
    validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


# ---------------------------------------------------------------- spatial batch norm

def sbn_prelude(x, gamma, beta, bn_param):
    where = "spatial_batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta)
    N, C, H, W = x.shape
    _check_bn_param(where, bn_param, C, N * H * W)
    return gamma, beta


def sbn_backward_prelude(dout, cache):
    where = "spatial_batchnorm_backward"
    validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
    if cache.bn.mode != "train":
        raise ValueError(f"{where}: cache comes from a test-mode forward pass")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")


def to_rows(a):
    """(N, C, H, W) -> (N*H*W, C), one row per position of one sample."""
    N, C, H, W = a.shape
    return a.transpose(0, 2, 3, 1).reshape(-1, C)


def from_rows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- group norm

def gn_prelude(x, gamma, beta, G, gn_param):
    where = "spatial_groupnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta, group_layout=True)
    G = _check_groups(where, G, x)
    validation.param_dict(where, "gn_param", gn_param)
    validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
    if "mode" in gn_param:
        validation.choice(where, "gn_param['mode']", gn_param["mode"], MODES)
    eps = validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", 1e-5))
    return gamma, beta, G, eps


def gn_finish(x, G, mu, xmu, var, ivar, xhat, gamma, eps, out):
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    validation.finite_variance("spatial_groupnorm_forward", cache.var, x)
    return out, cache


def gn_backward_prelude(dout, cache):
    where = "spatial_groupnorm_backward"
    validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def channel(p, C):
    """gamma or beta of either layout as (C, 1, 1), to broadcast over (N, C, H, W)."""
    return p.reshape(C, 1, 1)
