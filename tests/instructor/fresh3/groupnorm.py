"""spatial_groupnorm_forward and spatial_groupnorm_backward: mistakes and correct variants.

The cache is the package's GroupNormCache (x, G, statistics (N, G, 1), xmu and xhat (N, G, M),
gamma as given, (C,) or (1, C, 1, 1), eps) unless an entry says otherwise.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import DEFAULT_EPS, MODES
from cs231n_bn.spatial import GN_PARAM_KEYS, GroupNormCache, _check_channel_params, _check_groups

from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("spatial_groupnorm_forward")
backward = Catalogue("spatial_groupnorm_backward")


def _given(x, gamma, beta, G, gn_param):
    """The stub's checks before the region: (gamma, beta, G, eps)."""
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


def _done(x, out, cache):
    validation.finite_variance("spatial_groupnorm_forward", cache.var, x)
    return out, cache


def _cache(x, G, mu, xmu, var, gamma, eps, **replaced):
    ivar = 1.0 / np.sqrt(var + eps)
    fields = dict(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
    fields.update(replaced)
    return GroupNormCache(**fields)


def _scale_shift(xhat, gamma, beta, shape):
    N, C, H, W = shape
    return xhat.reshape(shape) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)


def _groups(x, G, eps, gamma, beta, ddof=0):
    """The (N, G, M) statistics of the right groups; returns (out, cache)."""
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, ddof=ddof, keepdims=True)
    cache = _cache(x, G, mu, xg - mu, var, gamma, eps)
    return _scale_shift(cache.xhat, gamma, beta, x.shape), cache


# ================================================================ forward

@forward.mistake("groups strided channels together: reshape (N, C/G, G, H, W) and statistics over axes (1, 3, 4)")
def gn_strided_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, C // G, G, H, W)
    mu, var = x5.mean(axis=(1, 3, 4), keepdims=True), x5.var(axis=(1, 3, 4), keepdims=True)
    xhat = ((x5 - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    _, cache = _groups(x, G, eps, gamma, beta)
    return _done(x, _scale_shift(xhat, gamma, beta, x.shape), cache)


@forward.mistake("statistics of each group over the whole batch too (axes (0, 2) of the (N, G, M) view)")
def gn_across_batch(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    xg = x.reshape(x.shape[0], G, -1)
    mu, var = xg.mean(axis=(0, 2), keepdims=True), xg.var(axis=(0, 2), keepdims=True)
    cache = _cache(x, G, mu, xg - mu, var, gamma, eps)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


@forward.mistake("reshapes x to (G, -1), so each group mixes the samples of the batch")
def gn_groups_over_flat_batch(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    xg = x.reshape(G, -1)
    mu, var = xg.mean(axis=1, keepdims=True), xg.var(axis=1, keepdims=True)
    xhat = (xg - mu) / np.sqrt(var + eps)
    _, cache = _groups(x, G, eps, gamma, beta)
    return _done(x, _scale_shift(xhat, gamma, beta, x.shape), cache)


@forward.mistake("unbiased variance within each group (ddof=1)")
def gn_unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    out, cache = _groups(x, G, eps, gamma, beta, ddof=1)
    return _done(x, out, cache)


@forward.mistake("multiplies gamma of shape (C,) straight onto (N, C, H, W): it broadcasts along W (or fails)")
def gn_gamma_along_width(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    _, cache = _groups(x, G, eps, gamma, beta)
    return _done(x, cache.xhat.reshape(x.shape) * gamma + beta, cache)


@forward.mistake("ignores G: one group per channel (reshape (N, C, -1)), i.e. instance norm")
def gn_ignores_g_instance(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    out, _ = _groups(x, x.shape[1], eps, gamma, beta)
    _, cache = _groups(x, G, eps, gamma, beta)
    return _done(x, out, cache)


@forward.mistake("ignores G: one group for all channels (reshape (N, 1, -1)), i.e. layer norm")
def gn_ignores_g_layer(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    out, _ = _groups(x, 1, eps, gamma, beta)
    _, cache = _groups(x, G, eps, gamma, beta)
    return _done(x, out, cache)


@forward.mistake("eps added to the standard deviation: xmu / (sqrt(var) + eps)")
def gn_eps_outside_sqrt(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    xg = x.reshape(x.shape[0], G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    ivar = 1.0 / (np.sqrt(var) + eps)
    cache = _cache(x, G, mu, xg - mu, var, gamma, eps, ivar=ivar, xhat=(xg - mu) * ivar)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


@forward.mistake("indexes gamma[None, :, None, None], which turns CS231n's (1, C, 1, 1) gamma into a 5-D array")
def gn_assumes_flat_gamma(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    _, cache = _groups(x, G, eps, gamma, beta)
    out = cache.xhat.reshape(x.shape) * gamma[None, :, None, None] + beta[None, :, None, None]
    return _done(x, out, cache)


@forward.mistake("computes in float64 (x.astype(np.float64)) and returns float64 for float32 input")
def gn_float64_out(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    out, cache = _groups(x.astype(np.float64), G, eps, gamma, beta)
    return _done(x, out, cache)


@forward.mistake("cache keeps xhat in (N, C, H, W) layout instead of the (N, G, M) groups the backward pass works on")
def gn_cache_xhat_nchw(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    out, cache = _groups(x, G, eps, gamma, beta)
    cache = _cache(x, G, cache.mu, cache.xmu, cache.var, gamma, eps, xhat=cache.xhat.reshape(x.shape))
    return _done(x, out, cache)


@forward.mistake("centers x in place through the reshaped view (xg -= mu), changing the caller's array")
def gn_centers_in_place(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    xg = x.reshape(x.shape[0], G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    xg -= mu
    cache = _cache(x, G, mu, xg, var, gamma, eps)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


@forward.mistake("scales the flattened (N, C*H*W) rows by np.tile(gamma, H*W), which cycles channels per position, instead of np.repeat")
def gn_tile_instead_of_repeat(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    _, cache = _groups(x, G, eps, gamma, beta)
    out = cache.xhat.reshape(N, -1) * np.tile(gamma.ravel(), H * W) + np.tile(beta.ravel(), H * W)
    return _done(x, out.reshape(x.shape), cache)


def _float64_groups(x, xg64, G, gamma, beta, eps):
    """Statistics of the float64 (N, G, M) groups xg64, rounded to x's dtype; returns (out, cache)."""
    mu = xg64.mean(axis=2, keepdims=True)
    var = ((xg64 - mu) ** 2).mean(axis=2, keepdims=True).astype(x.dtype)
    cache = _cache(x, G, mu.astype(x.dtype), (xg64 - mu).astype(x.dtype), var, gamma, eps)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


@forward.correct("a 5-D view (N, G, C/G, H, W) with statistics over axes (2, 3, 4), in float64")
def gn_five_dimensional(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.astype(np.float64).reshape(N, G, C // G, H, W)
    mu = x5.mean(axis=(2, 3, 4), keepdims=True)
    var = ((x5 - mu) ** 2).mean(axis=(2, 3, 4), keepdims=True)
    M = (C // G) * H * W
    cache = _cache(x, G, mu.reshape(N, G, 1).astype(x.dtype), (x5 - mu).reshape(N, G, M).astype(x.dtype),
                   var.reshape(N, G, 1).astype(x.dtype), gamma, eps)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


@forward.correct("one row per (sample, group): reshape (N*G, -1), statistics over axis 1 in float64")
def gn_rows(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    rows = x.astype(np.float64).reshape(N * G, -1)
    return _float64_groups(x, rows.reshape(N, G, -1), G, gamma, beta, eps)


@forward.correct("shifted one-pass variance per group around its first value, in float64")
def gn_shifted(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = _given(x, gamma, beta, G, gn_param)
    xg = x.astype(np.float64).reshape(x.shape[0], G, -1)
    d = xg - xg[:, :, :1]
    dmean = d.mean(axis=2, keepdims=True)
    mu = xg[:, :, :1] + dmean
    var = ((d * d).mean(axis=2, keepdims=True) - dmean**2).astype(x.dtype)
    cache = _cache(x, G, mu.astype(x.dtype), (xg - mu).astype(x.dtype), var, gamma, eps)
    return _done(x, _scale_shift(cache.xhat, gamma, beta, x.shape), cache)


# ================================================================ backward

def _gn_backward(dout, cache, terms=(True, True), count=None, with_gamma=True, param_axes=(0, 2, 3),
                 ivar_power=1, sign=-1.0):
    """Group norm's closed form with switches for the mistakes; defaults are correct."""
    N, C, H, W = dout.shape
    G, xhat = cache.G, cache.xhat
    M = count or xhat.shape[2]
    gamma = cache.gamma.reshape(1, C, 1, 1)
    dbeta = dout.sum(axis=param_axes)
    dgamma = (dout * xhat.reshape(dout.shape)).sum(axis=param_axes)
    if param_axes == (0, 2, 3):
        dbeta, dgamma = dbeta.reshape(cache.gamma.shape), dgamma.reshape(cache.gamma.shape)
    dxhat = ((gamma if with_gamma else 1.0) * dout).reshape(N, G, -1)
    dx = M * dxhat
    if terms[0]:
        dx = dx - dxhat.sum(axis=2, keepdims=True)
    if terms[1]:
        dx = dx + sign * xhat * (dxhat * xhat).sum(axis=2, keepdims=True)
    return (cache.ivar**ivar_power / M * dx).reshape(dout.shape), dgamma, dbeta


@backward.mistake("divides the group sums by C/G (channels per group) instead of (C/G)*H*W")
def gnb_count_channels(dout, cache):
    return _gn_backward(dout, cache, count=dout.shape[1] // cache.G)


@backward.mistake("dxhat = dout: gamma left out of dx")
def gnb_without_gamma(dout, cache):
    return _gn_backward(dout, cache, with_gamma=False)


@backward.mistake("drops the xhat * mean(dxhat * xhat) term (the path through the group variance)")
def gnb_without_variance_term(dout, cache):
    return _gn_backward(dout, cache, terms=(True, False))


@backward.mistake("drops the mean(dxhat) term (the path through the group mean)")
def gnb_without_mean_term(dout, cache):
    return _gn_backward(dout, cache, terms=(False, True))


@backward.mistake("sign slip: + xhat * mean(dxhat * xhat)")
def gnb_sign(dout, cache):
    return _gn_backward(dout, cache, sign=+1.0)


@backward.mistake("multiplies by ivar**2 instead of ivar")
def gnb_ivar_squared(dout, cache):
    return _gn_backward(dout, cache, ivar_power=2)


@backward.mistake("dgamma and dbeta always returned as (C,), even for CS231n's (1, C, 1, 1) gamma")
def gnb_flat_parameter_gradients(dout, cache):
    dx, dgamma, dbeta = _gn_backward(dout, cache)
    return dx, dgamma.reshape(-1), dbeta.reshape(-1)


@backward.mistake("dgamma and dbeta summed over H and W only, one per sample and channel (N, C)")
def gnb_parameters_per_sample(dout, cache):
    return _gn_backward(dout, cache, param_axes=(2, 3))


@backward.mistake("means taken over the batch in the (N, G, M) view (axis 0), as in batch norm")
def gnb_batch_means(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _gn_backward(dout, cache)
    dxhat = (cache.gamma.reshape(1, C, 1, 1) * dout).reshape(N, cache.G, -1)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx.reshape(dout.shape), dgamma, dbeta


@backward.mistake("reshapes dx from (N, G, M) back with reshape(N, H, W, C).transpose(0, 3, 1, 2), as if channels were last")
def gnb_channels_last_unreshape(dout, cache):
    dx, dgamma, dbeta = _gn_backward(dout, cache)
    N, C, H, W = dout.shape
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


@backward.correct("a 5-D view (N, G, C/G, H, W) with the sums over axes (2, 3, 4)")
def gnb_five_dimensional(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    shape5 = (N, G, C // G, H, W)
    xhat = cache.xhat.reshape(shape5)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(shape5)
    axes = (2, 3, 4)
    dx = cache.ivar.reshape(N, G, 1, 1, 1) * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                                              - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    dgamma = (dout * xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    return dx.reshape(dout.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@backward.correct("the staged graph inside each group, through xmu and var + eps")
def gnb_staged(dout, cache):
    N, C, H, W = dout.shape
    M = cache.xhat.shape[2]
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, cache.G, M)
    dvar = -0.5 * (dxhat * cache.xmu).sum(axis=2, keepdims=True) * (cache.var + cache.eps) ** -1.5
    dxmu = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / M
    dx = dxmu - dxmu.mean(axis=2, keepdims=True)
    dgamma = (dout * cache.xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    return dx.reshape(dout.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
