"""The lines around each solution region that the student edition keeps, and a student's own
correct building blocks that the entries perturb (none calls the instructor's solutions).

Every prelude runs the validation the shipped function runs before its solution region and
returns what the region reads; every builder computes one correct part from the math.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import BatchNormCache, _check_forward_inputs, _check_backward_inputs, read_bn_param
from cs231n_bn.layernorm import LN_PARAM_KEYS, LayerNormCache
from cs231n_bn.batchnorm import MODES
from cs231n_bn.spatial import (
    GN_PARAM_KEYS,
    GroupNormCache,
    SpatialBatchNormCache,
    _check_bn_param,
    _check_channel_params,
    _check_groups,
)
from cs231n_bn.batchnorm import DEFAULT_EPS

__all__ = [
    "BatchNormCache", "LayerNormCache", "GroupNormCache", "SpatialBatchNormCache", "validation",
]


def bn_prelude(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """batchnorm_forward's validation; returns gamma, beta, mode, eps, momentum, running_mean, running_var."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs a batch of at least 2 samples; got N={N}")
    return gamma, beta, mode, eps, momentum, running_mean, running_var


def bn_finish(out, cache, x, where="batchnorm_forward"):
    validation.finite_variance(where, cache.var, x)
    return out, cache


def bn_backward_prelude(dout, cache, where="batchnorm_backward"):
    _check_backward_inputs(where, dout, cache)


def batch_stats(x, axis=0, keepdims=False):
    """Mean, x - mean and biased variance along axis, summed in float64, in x's dtype."""
    mu = x.mean(axis=axis, keepdims=True, dtype=np.float64)
    xmu = (x - mu).astype(x.dtype)
    var = np.mean(xmu.astype(np.float64) ** 2, axis=axis, keepdims=keepdims).astype(x.dtype)
    mu = mu.astype(x.dtype)
    return (mu if keepdims else np.squeeze(mu, axis)), xmu, var


def bn_cache(mode, x, mu, xmu, var, gamma, eps):
    """The cache of the graph's names from mu, xmu and var."""
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    return BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                          xhat=xhat, gamma=gamma, eps=eps)


def student_bn_forward(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """A student's own correct batch norm (what the spatial exercise reuses)."""
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param, where)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return gamma * cache.xhat + beta, cache


def student_bn_backward(dout, cache):
    """A student's own correct closed-form batch norm backward on a BatchNormCache."""
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.xhat, axis=0)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N)
    return dx, dgamma, dbeta


def ln_prelude(x, gamma, beta, ln_param):
    """layernorm_forward's validation; returns gamma, beta, eps."""
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
    eps = validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", DEFAULT_EPS))
    validation.nonempty_batch(where, "x", x)
    if D < 2:
        raise ValueError(f"{where}: layer norm needs at least 2 features per sample; got D={D}")
    return gamma, beta, eps


def ln_cache(x, mu, xmu, var, gamma, eps):
    ivar = 1.0 / np.sqrt(var + eps)
    return LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)


def ln_backward_prelude(dout, cache):
    where = "layernorm_backward"
    validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


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
        raise ValueError(f"{where}: cache comes from a '{cache.bn.mode}'-mode forward pass")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")


def gn_prelude(x, gamma, beta, G, gn_param):
    """spatial_groupnorm_forward's validation; returns gamma, beta, G, eps."""
    where = "spatial_groupnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta, group_layout=True)
    G = _check_groups(where, G, x)
    validation.param_dict(where, "gn_param", gn_param)
    validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
    if "mode" in gn_param:
        validation.choice(where, "gn_param['mode']", gn_param["mode"], MODES)
    eps = validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", DEFAULT_EPS))
    return gamma, beta, G, eps


def gn_finish(out, cache, x):
    validation.finite_variance("spatial_groupnorm_forward", cache.var, x)
    return out, cache


def gn_backward_prelude(dout, cache):
    where = "spatial_groupnorm_backward"
    validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def group_stats(x, G):
    """(N, G, M) groups of x with their (N, G, 1) mean, deviations and biased variance."""
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True, dtype=np.float64)
    xmu = (xg - mu).astype(x.dtype)
    var = np.mean(xmu.astype(np.float64) ** 2, axis=2, keepdims=True).astype(x.dtype)
    return mu.astype(x.dtype), xmu, var


def gn_cache(x, G, mu, xmu, var, gamma, eps):
    ivar = 1.0 / np.sqrt(var + eps)
    return GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
