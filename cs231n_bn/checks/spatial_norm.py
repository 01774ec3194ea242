"""Checks of the (N, C, H, W) exercises: spatial batch norm and group norm, forward and backward."""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.batch_norm import (
    STATISTICS,
    backward_inputs,
    expected_values,
    forward_call,
    judge_output,
    keeps_float32,
    output_bound,
    run_backward_check,
    verify_batchnorm_like,
)
from cs231n_bn.checks.core import CheckFailed, agrees, package_function, require_array, require_unchanged
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (
    DEFAULT_EPS,
    EPS,
    check_cache_fields,
    grouped_input,
    groupnorm_layout,
    params,
    require_settings_kept,
    spatial_bn_layout,
)

SPATIAL_CACHE_FIELDS = ("mu", "var", "sqrtvar", "ivar")
GN_CACHE_FIELDS = ("mu", "xmu", "var", "ivar")


def _spatial_cache_check(exercise, where):
    from cs231n_bn.batchnorm import BatchNormCache
    from cs231n_bn.spatial import SpatialBatchNormCache

    def cache_check(cache, x, gamma, out, mode, eps, expected):
        label = f"{where} ({mode} mode)"
        N, C, H, W = x.shape
        check_cache_fields(exercise, label, cache, SpatialBatchNormCache, {"shape": np.array(x.shape, dtype=float)},
                           {f"the channels-last shape (N, H, W, C) = {(N, H, W, C)} (the backward pass reshapes dx "
                            f"to it, and dx has x's shape (N, C, H, W))": np.array((N, H, W, C), dtype=float)})
        if not isinstance(cache, SpatialBatchNormCache):
            return
        right = {"mode": mode, "gamma": gamma, "eps": eps}
        right.update({k: expected[k] for k in SPATIAL_CACHE_FIELDS})
        others = {"the standard deviation sqrt(var + eps) (sqrtvar)": right["sqrtvar"],
                  "1 / sqrt(var + eps) (ivar)": right["ivar"], "the variance (var)": right["var"],
                  "mu": right["mu"]}
        check_cache_fields(exercise, f"{label}, cache.bn", cache.bn, BatchNormCache, right, others)

    return cache_check


def _verify_spatial_batchnorm_forward(fn):
    exercise = where = "spatial_batchnorm_forward"
    N, C, H, W = 3, 4, 2, 3
    rng = np.random.default_rng(4)
    layout = spatial_bn_layout(N, C, H, W)
    x = grouped_input(rng, layout, (N, C, H, W), EPS)
    gamma, beta = params(rng, (C,))
    verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, 0.7, N * H * W,
                          _spatial_cache_check(exercise, where), SPATIAL_CACHE_FIELDS)


@reference.for_checks
def check_spatial_batchnorm_forward(spatial_batchnorm_forward=None):
    """Check a spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); gamma (C,)."""
    fn = spatial_batchnorm_forward or package_function("spatial", "spatial_batchnorm_forward")
    _verify_spatial_batchnorm_forward(fn)
    keeps_float32("spatial_batchnorm_forward", fn, (3, 4, 2, 2), ({"mode": "train"},),
                  lambda out: out.transpose(1, 0, 2, 3).reshape(out.shape[1], -1), "channel")
    # (the words notebook 7's stored output holds)
    passed("spatial_batchnorm_forward", "each channel is normalized over (N, H, W), the running "
           "averages are updated, and test mode uses them")


@reference.for_checks
def check_spatial_batchnorm_backward(spatial_batchnorm_backward=None, forward=None):
    """Check a spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) against the right gradients."""
    exercise = "spatial_batchnorm_backward"
    fn = spatial_batchnorm_backward or package_function("spatial", "spatial_batchnorm_backward")
    forward = forward or package_function("spatial", "spatial_batchnorm_forward")
    N, C, H, W = 2, 3, 2, 2
    run_backward_check(exercise, "closed", fn, forward, _verify_spatial_batchnorm_forward,
                       spatial_bn_layout(N, C, H, W), backward_inputs(5, (N, C, H, W), C),
                       ({"mode": "train", "eps": EPS},))


def _check_gn_cache(exercise, where, cache, x, gamma, out, G, eps, expected):
    from cs231n_bn.spatial import GroupNormCache

    right = {"x": x, "G": G, "gamma": gamma, "eps": eps}
    right.update({k: expected[k] for k in GN_CACHE_FIELDS + ("xhat",)})
    ivar = right["ivar"]
    others = {"the standard deviation sqrt(var + eps)": 1 / ivar, "the variance": right["var"],
              "x - mu (xmu)": right["xmu"], "xhat": right["xhat"], "the input x": x,
              "the layer's output out": out}
    N, M = x.shape[0], x[0].size // G
    statistic, values = ((N, G, 1), 2), ((N, G, M), 2)
    # gamma as given: the backward pass returns dgamma in its shape
    shapes = {"mu": statistic, "var": statistic, "ivar": statistic, "xmu": values, "xhat": values,
              "gamma": (np.shape(gamma), np.ndim(gamma))}
    check_cache_fields(exercise, where, cache, GroupNormCache, right, others, shapes)


def _verify_spatial_groupnorm_forward(fn):
    exercise = where = "spatial_groupnorm_forward"
    N, C, H, W, G = 2, 6, 2, 2, 3
    rng = np.random.default_rng(6)
    layout = groupnorm_layout(N, C, H, W, G)
    x = grouped_input(rng, layout, (N, C, H, W), EPS)
    gamma, beta = params(rng, (C,))
    expected = expected_values(exercise, STATISTICS + GN_CACHE_FIELDS, x, gamma, beta, G, {"eps": EPS})
    x_default = grouped_input(np.random.default_rng(13), layout, (N, C, H, W), DEFAULT_EPS)
    default_expected = expected_values(exercise, STATISTICS, x_default, gamma, beta, G, {})

    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, G, {"eps": EPS})
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x, (N, C, H, W)")
    bound = output_bound(layout, x, gamma, beta, expected["group_mean"], expected["group_var"], EPS)
    judge_output(exercise, where, layout, x, out, gamma, beta, EPS, expected, bound)
    _check_gn_cache(exercise, where, cache, x, gamma, out, G, EPS, expected)

    # CS231n's layout of gamma and beta, (1, C, 1, 1), gives the same output
    out_4d, cache_4d = forward_call(exercise, where, fn, x, gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1), G,
                                    {"eps": EPS})
    if not isinstance(out_4d, np.ndarray) or out_4d.shape != x.shape or not agrees(out_4d, expected["out"], bound):
        raise CheckFailed(
            f"{where}: with gamma and beta of shape (1, C, 1, 1) (CS231n's layout) the output is not "
            f"the one gamma and beta of shape (C,) give (shape {getattr(out_4d, 'shape', None)}); both "
            f"layouts hold one value per channel, and the contract accepts both", exercise, "param layout",
        )
    from cs231n_bn.spatial import GroupNormCache

    cached = np.shape(getattr(cache_4d, "gamma", None))
    if isinstance(cache_4d, GroupNormCache) and cached != (1, C, 1, 1):
        raise CheckFailed(
            f"{where}: with gamma of shape (1, C, 1, 1) (CS231n's layout) cache.gamma has shape {cached}: the "
            f"cache keeps gamma as given, so that the backward pass returns dgamma and dbeta in the caller's "
            f"shape", exercise, "cache gamma layout",
        )

    out_default, _ = forward_call(exercise, where, fn, x_default, gamma, beta, G, {})
    require_array(exercise, where, "out", out_default, x.shape)
    judge_output(exercise, where, layout, x_default, out_default, gamma, beta, DEFAULT_EPS, default_expected,
                 output_bound(layout, x_default, gamma, beta, default_expected["group_mean"],
                              default_expected["group_var"], DEFAULT_EPS))

    for mode in ("train", "test"):  # a solver writes the mode into every normalization's dict
        gn_param = {"eps": EPS, "mode": mode}
        moded, _ = forward_call(exercise, where, fn, x, gamma, beta, G, gn_param)
        require_settings_kept(exercise, where, "gn_param", gn_param, {"eps": EPS, "mode": mode})
        if not isinstance(moded, np.ndarray) or moded.shape != x.shape or not agrees(moded, out, bound):
            raise CheckFailed(f"{where}: with gn_param['mode'] = {mode!r} the output differs from the output without "
                              f"a mode: group norm has no running statistics and behaves the same in both modes",
                              exercise, "mode")
    keeps_float32(exercise, fn, (2, 6, 2, 2), (3, {}), lambda out: out.reshape(2 * 3, -1), "(sample, group)")


@reference.for_checks
def check_spatial_groupnorm_forward(spatial_groupnorm_forward=None):
    """Check a spatial_groupnorm_forward(x, gamma, beta, G, gn_param) -> (out, cache); gamma (C,) or (1, C, 1, 1)."""
    fn = spatial_groupnorm_forward or package_function("spatial", "spatial_groupnorm_forward")
    _verify_spatial_groupnorm_forward(fn)
    passed("spatial_groupnorm_forward", "each (sample, group of C/G channels) block is normalized "
           "over its channels and positions, with per-channel gamma and beta")


@reference.for_checks
def check_spatial_groupnorm_backward(spatial_groupnorm_backward=None, forward=None):
    """Check a spatial_groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta) against the right gradients."""
    exercise = "spatial_groupnorm_backward"
    fn = spatial_groupnorm_backward or package_function("spatial", "spatial_groupnorm_backward")
    forward = forward or package_function("spatial", "spatial_groupnorm_forward")
    N, C, H, W, G = 2, 4, 2, 2, 2
    run_backward_check(exercise, "closed", fn, forward, _verify_spatial_groupnorm_forward,
                       groupnorm_layout(N, C, H, W, G), backward_inputs(8, (N, C, H, W), C), (G, {"eps": EPS}),
                       param_shapes=((1, C, 1, 1),))
