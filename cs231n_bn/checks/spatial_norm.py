"""Checks of the (N, C, H, W) exercises: spatial batch norm and group norm, forward and backward."""

import numpy as np

from cs231n_bn.checks.batch_norm import backward_inputs, forward_call, run_backward_check, verify_batchnorm_like
from cs231n_bn.checks.core import package_function, require_array, require_unchanged
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (
    DEFAULT_EPS,
    EPS,
    check_cache_fields,
    diagnose_normalized,
    group_stats,
    grouped_input,
    groupnorm_layout,
    params,
    spatial_bn_layout,
)


def _spatial_cache_check(exercise, where):
    from cs231n_bn.batchnorm import BatchNormCache
    from cs231n_bn.spatial import SpatialBatchNormCache

    def cache_check(cache, x, gamma, out, mode, eps, running_mean=None, running_var=None):
        label = f"{where} ({mode} mode)"
        check_cache_fields(exercise, label, cache, SpatialBatchNormCache,
                           {"shape": np.array(x.shape, dtype=float)}, {})
        axes = (0, 2, 3)
        mu, var = (running_mean, running_var) if mode == "test" else (x.mean(axis=axes), x.var(axis=axes))
        std = (var + eps) ** 0.5
        expected = {"mode": mode, "mu": mu, "var": var, "sqrtvar": std, "ivar": 1 / std,
                    "gamma": gamma, "eps": eps}
        others = {"the standard deviation sqrt(var + eps) (sqrtvar)": std, "1 / sqrt(var + eps) (ivar)": 1 / std,
                  "the variance (var)": var, "mu": mu}
        check_cache_fields(exercise, f"{label}, cache.bn", cache.bn, BatchNormCache, expected, others)

    return cache_check


def _verify_spatial_batchnorm_forward(fn):
    exercise = where = "spatial_batchnorm_forward"
    N, C, H, W = 3, 4, 2, 3
    rng = np.random.default_rng(4)
    layout = spatial_bn_layout(N, C, H, W)
    x = grouped_input(rng, layout, (C, N * H * W), EPS)
    gamma, beta = params(rng, (C,))
    verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, 0.7, N * H * W,
                          _spatial_cache_check(exercise, where))


def check_spatial_batchnorm_forward(spatial_batchnorm_forward=None):
    """Check a spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); gamma (C,)."""
    fn = spatial_batchnorm_forward or package_function("spatial", "spatial_batchnorm_forward")
    _verify_spatial_batchnorm_forward(fn)
    # (the words notebook 7's stored output holds)
    passed("spatial_batchnorm_forward", "each channel is normalized over (N, H, W), the running "
           "averages are updated, and test mode uses them")


def check_spatial_batchnorm_backward(spatial_batchnorm_backward=None, forward=None):
    """Check a spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    exercise = "spatial_batchnorm_backward"
    fn = spatial_batchnorm_backward or package_function("spatial", "spatial_batchnorm_backward")
    forward = forward or package_function("spatial", "spatial_batchnorm_forward")
    N, C, H, W = 2, 3, 2, 2
    run_backward_check(exercise, "closed", fn, forward, _verify_spatial_batchnorm_forward,
                       spatial_bn_layout(N, C, H, W), backward_inputs(5, (N, C, H, W), C),
                       ({"mode": "train", "eps": EPS},))


def _check_gn_cache(exercise, where, cache, x, gamma, out, G, eps):
    from cs231n_bn.spatial import GroupNormCache

    layout = groupnorm_layout(*x.shape, G)
    mu, var, _ = group_stats(layout, x, eps)
    xmu = layout.to_groups(x) - mu
    ivar = (var + eps) ** -0.5
    expected = {"x": x, "G": G, "mu": mu, "xmu": xmu, "var": var, "ivar": ivar, "xhat": xmu * ivar,
                "gamma": gamma, "eps": eps}
    others = {"the standard deviation sqrt(var + eps)": 1 / ivar, "the variance": var,
              "x - mu (xmu)": xmu, "xhat": xmu * ivar, "the input x": x, "the layer's output out": out}
    check_cache_fields(exercise, where, cache, GroupNormCache, expected, others)


def _verify_spatial_groupnorm_forward(fn):
    exercise = where = "spatial_groupnorm_forward"
    N, C, H, W, G = 2, 6, 2, 2, 3
    rng = np.random.default_rng(6)
    layout = groupnorm_layout(N, C, H, W, G)
    x = grouped_input(rng, layout, (N * G, (C // G) * H * W), EPS)
    gamma, beta = params(rng, (C,))
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, G, {"eps": EPS})
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x, (N, C, H, W)")
    diagnose_normalized(exercise, where, layout, x, out, gamma, beta, EPS)
    _check_gn_cache(exercise, where, cache, x, gamma, out, G, EPS)

    x_default = grouped_input(np.random.default_rng(13), layout, (N * G, (C // G) * H * W), DEFAULT_EPS)
    out, _ = forward_call(exercise, where, fn, x_default, gamma, beta, G, {})
    require_array(exercise, where, "out", out, x.shape)
    diagnose_normalized(exercise, where, layout, x_default, out, gamma, beta, DEFAULT_EPS)


def check_spatial_groupnorm_forward(spatial_groupnorm_forward=None):
    """Check a spatial_groupnorm_forward(x, gamma, beta, G, gn_param) -> (out, cache); gamma (C,)."""
    fn = spatial_groupnorm_forward or package_function("spatial", "spatial_groupnorm_forward")
    _verify_spatial_groupnorm_forward(fn)
    passed("spatial_groupnorm_forward", "each (sample, group of C/G channels) block is normalized "
           "over its channels and positions, with per-channel gamma and beta")


def check_spatial_groupnorm_backward(spatial_groupnorm_backward=None, forward=None):
    """Check a spatial_groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    exercise = "spatial_groupnorm_backward"
    fn = spatial_groupnorm_backward or package_function("spatial", "spatial_groupnorm_backward")
    forward = forward or package_function("spatial", "spatial_groupnorm_forward")
    N, C, H, W, G = 2, 4, 2, 2, 2
    run_backward_check(exercise, "closed", fn, forward, _verify_spatial_groupnorm_forward,
                       groupnorm_layout(N, C, H, W, G), backward_inputs(8, (N, C, H, W), C), (G, {"eps": EPS}))
