"""The scaffold lines around each solution region, so that every entry keeps them as a student does.

Each decorator turns a `solution(...)` body (what a student writes inside the region) into the
whole exercise function, with the exercise's own validation before it and its epilogue after.
"""

import functools

from cs231n_bn import validation
from cs231n_bn.batchnorm import _check_backward_inputs, _check_forward_inputs, read_bn_param
from cs231n_bn.layernorm import LN_PARAM_KEYS, LayerNormCache
from cs231n_bn.spatial import (GN_PARAM_KEYS, GroupNormCache, SpatialBatchNormCache, _check_bn_param,
                               _check_channel_params, _check_groups)
from cs231n_bn.batchnorm import MODES, DEFAULT_EPS


def bn_forward(body):
    """body(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var) -> out, cache"""
    @functools.wraps(body)
    def batchnorm_forward(x, gamma, beta, bn_param):
        where = "batchnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        _check_forward_inputs(where, x, gamma, beta)
        validation.nonempty_batch(where, "x", x)
        N, D = x.shape
        mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
        if mode == "train" and N < 2:
            raise ValueError(f"{where}: train mode needs a batch of at least 2 samples")
        out, cache = body(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var)
        validation.finite_variance(where, cache.var, x)
        return out, cache
    return batchnorm_forward


def bn_backward(body):
    """body(dout, cache) -> dx, dgamma, dbeta"""
    @functools.wraps(body)
    def batchnorm_backward(dout, cache):
        _check_backward_inputs("batchnorm_backward", dout, cache)
        return body(dout, cache)
    return batchnorm_backward


def ln_forward(body):
    """body(x, gamma, beta, ln_param, eps) -> out, cache"""
    @functools.wraps(body)
    def layernorm_forward(x, gamma, beta, ln_param):
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
        out, cache = body(x, gamma, beta, ln_param, eps)
        validation.finite_variance(where, cache.var, x)
        return out, cache
    return layernorm_forward


def ln_backward(body):
    @functools.wraps(body)
    def layernorm_backward(dout, cache):
        where = "layernorm_backward"
        validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
        validation.float_array(where, "dout", dout)
        validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")
        return body(dout, cache)
    return layernorm_backward


def sbn_forward(body):
    """body(x, gamma, beta, bn_param) -> out, cache"""
    @functools.wraps(body)
    def spatial_batchnorm_forward(x, gamma, beta, bn_param):
        where = "spatial_batchnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        _check_channel_params(where, x, gamma, beta)
        N, C, H, W = x.shape
        _check_bn_param(where, bn_param, C, N * H * W)
        return body(x, gamma, beta, bn_param)
    return spatial_batchnorm_forward


def sbn_backward(body):
    @functools.wraps(body)
    def spatial_batchnorm_backward(dout, cache):
        where = "spatial_batchnorm_backward"
        validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
        if cache.bn.mode != "train":
            raise ValueError(f"{where}: cache comes from a '{cache.bn.mode}'-mode forward pass")
        validation.float_array(where, "dout", dout)
        validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")
        return body(dout, cache)
    return spatial_batchnorm_backward


def gn_forward(body):
    """body(x, gamma, beta, G, gn_param, eps) -> out, cache"""
    @functools.wraps(body)
    def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
        where = "spatial_groupnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        _check_channel_params(where, x, gamma, beta, group_layout=True)
        G = _check_groups(where, G, x)
        validation.param_dict(where, "gn_param", gn_param)
        validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
        if "mode" in gn_param:
            validation.choice(where, "gn_param['mode']", gn_param["mode"], MODES)
        eps = validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", DEFAULT_EPS))
        out, cache = body(x, gamma, beta, G, gn_param, eps)
        validation.finite_variance(where, cache.var, x)
        return out, cache
    return spatial_groupnorm_forward


def gn_backward(body):
    @functools.wraps(body)
    def spatial_groupnorm_backward(dout, cache):
        where = "spatial_groupnorm_backward"
        validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
        validation.float_array(where, "dout", dout)
        validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")
        return body(dout, cache)
    return spatial_groupnorm_backward
