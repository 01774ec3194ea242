"""The scaffold a student keeps around each solution region: the argument checks before it
(and the variance check after it), copied from the package's exercise functions.

The catalogue's entries are written as solution regions; `with_scaffold` puts the scaffold
back around them, so that a graded check that feeds bad arguments sees the package's
refusals and judges the region alone. Backward passes of a variant that keeps a cache of
its own (entries with their own forward pass) keep only the checks on dout.
"""

import functools
import numbers

import numpy as np

from cs231n_bn import batchnorm, spatial, validation
from cs231n_bn.batchnorm import BatchNormCache
from cs231n_bn.experiments import _check_history
from cs231n_bn.layernorm import LN_PARAM_KEYS, LayerNormCache
from cs231n_bn.spatial import GN_PARAM_KEYS, GroupNormCache, SpatialBatchNormCache


def _bn_forward(region):
    def batchnorm_forward(x, gamma, beta, bn_param):
        where = "batchnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        batchnorm._check_forward_inputs(where, x, gamma, beta)
        validation.nonempty_batch(where, "x", x)
        N, D = x.shape
        mode = batchnorm.read_bn_param(where, bn_param, D, x.dtype)[0]
        if mode == "train" and N < 2:
            raise ValueError(f"{where}: train mode needs a batch of at least 2 samples; got N={N}")
        out, cache = region(x, gamma, beta, bn_param)
        validation.finite_variance(where, cache.var, x)
        return out, cache
    return batchnorm_forward


def _bn_backward(where):
    def wrap(region):
        def backward(dout, cache):
            batchnorm._check_backward_inputs(where, dout, cache)
            return region(dout, cache)
        return backward
    return wrap


def _ln_forward(region):
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
            validation.choice(where, "ln_param['mode']", ln_param["mode"], batchnorm.MODES)
        validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", 1e-5))
        validation.nonempty_batch(where, "x", x)
        if D < 2:
            raise ValueError(f"{where}: layer norm needs at least 2 features per sample; got D={D}")
        out, cache = region(x, gamma, beta, ln_param)
        if hasattr(cache, "var"):
            validation.finite_variance(where, cache.var, x)
        return out, cache
    return layernorm_forward


def _dout_checks(where, dout, cache, cls, producer, own_cache):
    if not own_cache:
        validation.cache_of(where, cache, cls, producer)
    validation.float_array(where, "dout", dout)


def _ln_backward(region, own_cache=False):
    def layernorm_backward(dout, cache):
        where = "layernorm_backward"
        _dout_checks(where, dout, cache, LayerNormCache, "layernorm_forward", own_cache)
        shape = cache.xhat.shape if own_cache else cache.x.shape
        validation.same_shape(where, "dout", dout, shape, "the shape of x and of out")
        return region(dout, cache)
    return layernorm_backward


def _sbn_forward(region):
    def spatial_batchnorm_forward(x, gamma, beta, bn_param):
        where = "spatial_batchnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        spatial._check_channel_params(where, x, gamma, beta)
        N, C, H, W = x.shape
        spatial._check_bn_param(where, bn_param, C, N * H * W)
        return region(x, gamma, beta, bn_param)
    return spatial_batchnorm_forward


def _sbn_backward(region):
    def spatial_batchnorm_backward(dout, cache):
        where = "spatial_batchnorm_backward"
        validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
        if cache.bn.mode != "train":
            raise ValueError(f"{where}: cache comes from a '{cache.bn.mode}'-mode forward pass")
        validation.float_array(where, "dout", dout)
        validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")
        return region(dout, cache)
    return spatial_batchnorm_backward


def _gn_forward(region):
    def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
        where = "spatial_groupnorm_forward"
        gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
        spatial._check_channel_params(where, x, gamma, beta, group_layout=True)
        G = spatial._check_groups(where, G, x)
        validation.param_dict(where, "gn_param", gn_param)
        validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
        if "mode" in gn_param:
            validation.choice(where, "gn_param['mode']", gn_param["mode"], batchnorm.MODES)
        validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", 1e-5))
        out, cache = region(x, gamma, beta, G, gn_param)
        if hasattr(cache, "var"):
            validation.finite_variance(where, cache.var, x)
        return out, cache
    return spatial_groupnorm_forward


def _gn_backward(region, own_cache=False):
    def spatial_groupnorm_backward(dout, cache):
        where = "spatial_groupnorm_backward"
        _dout_checks(where, dout, cache, GroupNormCache, "spatial_groupnorm_forward", own_cache)
        shape = cache.xhat.shape if own_cache else cache.x.shape
        validation.same_shape(where, "dout", dout, shape, "the shape of x and of out")
        return region(dout, cache)
    return spatial_groupnorm_backward


def _steps_to_reach(region):
    def steps_to_reach(eval_steps, accuracies, target):
        where = "steps_to_reach"
        eval_steps, accuracies = np.asarray(eval_steps), np.asarray(accuracies)
        if eval_steps.ndim != 1 or accuracies.shape != eval_steps.shape:
            raise ValueError(f"{where}: eval_steps and accuracies must be 1-D and of the same length")
        _check_history(where, eval_steps, accuracies)
        target = validation.unit_interval(where, "target", target)
        return region(eval_steps, accuracies, target)
    return steps_to_reach


def _torch_running_var(region):
    def torch_running_var(running_var, N, k, momentum):
        where = "torch_running_var"
        running_var = validation.float_array(where, "running_var", running_var, ndim=1)
        if validation.positive_int(where, "N", N) < 2:
            raise ValueError(f"{where}: N must be >= 2; got {N}")
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 0:
            raise ValueError(f"{where}: k must be an integer >= 0; got {k!r}")
        momentum = validation.unit_interval(where, "momentum", momentum)
        return region(running_var, N, k, momentum)
    return torch_running_var


WRAPPERS = {
    "batchnorm_forward": _bn_forward,
    "batchnorm_backward": _bn_backward("batchnorm_backward"),
    "batchnorm_backward_alt": _bn_backward("batchnorm_backward_alt"),
    "layernorm_forward": _ln_forward,
    "layernorm_backward": _ln_backward,
    "spatial_batchnorm_forward": _sbn_forward,
    "spatial_batchnorm_backward": _sbn_backward,
    "spatial_groupnorm_forward": _gn_forward,
    "spatial_groupnorm_backward": _gn_backward,
    "steps_to_reach": _steps_to_reach,
    "torch_running_var": _torch_running_var,
}
# The forward passes that come with a backward variant keeping a cache of its own.
OWN_CACHE_FORWARD = {"layernorm_backward": _ln_forward, "spatial_groupnorm_backward": _gn_forward}


def with_scaffold(entry, default_forward):
    """The entry with its region wrapped in its exercise's scaffold (network and optimizer
    entries carry theirs already)."""
    wrap = WRAPPERS.get(entry.exercise)
    if wrap is None:
        return entry
    own_cache = entry.forward is not None and entry.forward is not default_forward
    if own_cache:
        function = wrap(entry.function, own_cache=True)
        forward = OWN_CACHE_FORWARD[entry.exercise](entry.forward)
    else:
        function, forward = wrap(entry.function), entry.forward
    function = functools.wraps(entry.function)(function)
    return type(entry)(entry.exercise, entry.name, entry.description, function, entry.correct, forward)
