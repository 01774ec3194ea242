"""The lines the student edition keeps around each solution region, shared by the entries."""

from cs231n_bn import validation
from cs231n_bn.batchnorm import _check_backward_inputs, _check_forward_inputs, read_bn_param
from cs231n_bn.layernorm import DEFAULT_EPS, LN_PARAM_KEYS, MODES, LayerNormCache
from cs231n_bn.spatial import GN_PARAM_KEYS, GroupNormCache, SpatialBatchNormCache, _check_bn_param
from cs231n_bn.spatial import _check_channel_params, _check_groups


def bn_forward_begin(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """batchnorm_forward's lines before its region: (gamma, beta, N, D, mode, eps, momentum, rm, rv)."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs N >= 2")
    return gamma, beta, N, D, mode, eps, momentum, running_mean, running_var


def bn_forward_end(out, cache, x, where="batchnorm_forward"):
    validation.finite_variance(where, cache.var, x)
    return out, cache


def bn_backward_begin(dout, cache, where="batchnorm_backward"):
    _check_backward_inputs(where, dout, cache)


def ln_forward_begin(x, gamma, beta, ln_param):
    """layernorm_forward's lines before its region: (gamma, beta, eps)."""
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
        raise ValueError(f"{where}: D < 2")
    return gamma, beta, eps


def ln_forward_end(out, cache, x):
    validation.finite_variance("layernorm_forward", cache.var, x)
    return out, cache


def ln_backward_begin(dout, cache):
    where = "layernorm_backward"
    validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def sbn_forward_begin(x, gamma, beta, bn_param):
    where = "spatial_batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta)
    N, C, H, W = x.shape
    _check_bn_param(where, bn_param, C, N * H * W)
    return gamma, beta


def sbn_backward_begin(dout, cache):
    where = "spatial_batchnorm_backward"
    validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
    if cache.bn.mode != "train":
        raise ValueError(f"{where}: test-mode cache")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")


def gn_forward_begin(x, gamma, beta, G, gn_param):
    """spatial_groupnorm_forward's lines before its region: (gamma, beta, G, eps)."""
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


def gn_forward_end(out, cache, x):
    validation.finite_variance("spatial_groupnorm_forward", cache.var, x)
    return out, cache


def gn_backward_begin(dout, cache):
    where = "spatial_groupnorm_backward"
    validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")

