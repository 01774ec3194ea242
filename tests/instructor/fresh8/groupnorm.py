"""spatial_groupnorm_forward and spatial_groupnorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.spatial import spatial_groupnorm_forward
from tests.instructor.fresh8.scaffold import (
    GroupNormCache, gn_backward_prelude, gn_cache, gn_finish, gn_prelude, group_stats,
)
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("spatial_groupnorm_forward")
bwd = Catalogue("spatial_groupnorm_backward", forward=spatial_groupnorm_forward)


def _out(cache, gamma, beta):
    N, C, H, W = cache.x.shape
    return cache.xhat.reshape(N, C, H, W) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)


@fwd.mistake("Forms the groups with reshape(N, C // G, G, H, W), so channel c lands in group c % G (interleaved) instead of consecutive channels.")
def gn_interleaved_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4)
    mu, xmu, var = group_stats(np.ascontiguousarray(x5), G)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat5 = (xmu * ivar).reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4)
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar,
                           xhat=np.ascontiguousarray(xhat5).reshape(N, G, -1), gamma=gamma, eps=eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Splits the channels into C // G groups of G instead of G groups of C // G.")
def gn_group_count_swapped(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    groups = x.shape[1] // G
    cache = gn_cache(x, groups, *group_stats(x, groups), gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Takes each group's statistics across the whole batch too (over N and the group's channels and positions).")
def gn_across_batch(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=(0, 2), keepdims=True)
    xmu = xg - mu
    var = (xmu**2).mean(axis=(0, 2), keepdims=True)
    cache = gn_cache(x, G, np.broadcast_to(mu, (N, G, 1)).copy(), xmu, np.broadcast_to(var, (N, G, 1)).copy(), gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Normalizes each group with the unbiased variance (ddof=1).")
def gn_unbiased(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    mu, xmu, _ = group_stats(x, G)
    var = np.var(x.reshape(x.shape[0], G, -1), axis=2, keepdims=True, ddof=1)
    cache = gn_cache(x, G, mu, xmu, var, gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Adds eps to the standard deviation instead of the variance: ivar = 1 / (sqrt(var) + eps).")
def gn_eps_outside(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    mu, xmu, var = group_stats(x, G)
    ivar = 1.0 / (np.sqrt(var) + eps)
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Ignores gn_param['eps'] and always uses 1e-5.")
def gn_ignores_eps(x, gamma, beta, G, gn_param):
    gamma, beta, G, _ = gn_prelude(x, gamma, beta, G, gn_param)
    cache = gn_cache(x, G, *group_stats(x, G), gamma, 1e-5)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Flattens a (1, C, 1, 1) gamma to (C,) and caches the flattened one, so the backward pass returns (C,) gradients for CS231n's layout.")
def gn_cache_flat_gamma(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    C = x.shape[1]
    gamma, beta = gamma.reshape(C), beta.reshape(C)
    cache = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Returns the output in the grouped layout (N, G, (C/G)*H*W) without reshaping it back to (N, C, H, W).")
def gn_output_grouped(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    cache = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    return gn_finish(_out(cache, gamma, beta).reshape(cache.xhat.shape), cache, x)


@fwd.mistake("Caches xhat in x's (N, C, H, W) layout instead of the grouped (N, G, M) one.")
def gn_cache_xhat_4d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    c = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    cache = GroupNormCache(x=x, G=G, mu=c.mu, xmu=c.xmu, var=c.var, ivar=c.ivar, xhat=c.xhat.reshape(x.shape),
                           gamma=gamma, eps=eps)
    return gn_finish(_out(c, gamma, beta), cache, x)


@fwd.mistake("Keeps the group statistics without keepdims, shape (N, G), in the cache.")
def gn_cache_flat_stats(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    c = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    cache = GroupNormCache(x=x, G=G, mu=c.mu[..., 0], xmu=c.xmu, var=c.var[..., 0], ivar=c.ivar[..., 0],
                           xhat=c.xhat, gamma=gamma, eps=eps)
    return gn_finish(_out(c, gamma, beta), cache, x)


@fwd.mistake("Centres the groups in place on a reshape of x (xg = x.reshape(N, G, -1); xg -= mu), which is a view, so the caller's x changes.")
def gn_in_place_view(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    mu, _, var = group_stats(x, G)
    xg -= mu
    cache = gn_cache(x, G, mu, xg, var, gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.mistake("Converts x to float64 for the statistics and never converts back, so float32 x gives float64 output and cache.")
def gn_upcast(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    x64 = x.astype(np.float64)
    c = gn_cache(x64, G, *group_stats(x64, G), gamma, eps)
    cache = GroupNormCache(x=x, G=G, mu=c.mu, xmu=c.xmu, var=c.var, ivar=c.ivar, xhat=c.xhat, gamma=gamma, eps=eps)
    return gn_finish(_out(c, gamma, beta), cache, x)


@fwd.mistake("Applies gamma and beta per group (the first G entries of gamma and beta, one per group) instead of per channel.")
def gn_params_per_group(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    cache = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    g, b = gamma.reshape(-1)[:G, None], beta.reshape(-1)[:G, None]
    return gn_finish((cache.xhat * g + b).reshape(x.shape), cache, x)


@fwd.mistake("Normalizes every channel on its own over (H, W) (instance norm), whatever G is, keeping G in the cache.")
def gn_instance_norm(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    mu, xmu, var = group_stats(x, C)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (xmu * ivar).reshape(N, G, -1)
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu.reshape(N, G, -1), var=var, ivar=ivar, xhat=xhat,
                           gamma=gamma, eps=eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.correct("Reshapes gamma and beta to (1, C, 1, 1) whatever layout they came in, and caches them as given.")
def gn_param_layout_4d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    cache = gn_cache(x, G, *group_stats(x, G), gamma, eps)
    out = cache.xhat.reshape(N, C, H, W) * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return gn_finish(out, cache, x)


@fwd.correct("Sums each group with einsum in float64 and rounds the statistics to x's dtype.")
def gn_einsum(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N = x.shape[0]
    xg = x.reshape(N, G, -1)
    M = xg.shape[2]
    mu = np.einsum("ngm->ng", xg, dtype=np.float64)[..., None] / M
    xmu = (xg - mu).astype(x.dtype)
    var = (np.einsum("ngm,ngm->ng", xmu, xmu, dtype=np.float64)[..., None] / M).astype(x.dtype)
    cache = gn_cache(x, G, mu.astype(x.dtype), xmu, var, gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


@fwd.correct("Works in a 5-D view (N, G, C/G, H, W) with statistics over axes (2, 3, 4), then reshapes the cache to (N, G, M).")
def gn_five_d(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x5 = x.reshape(N, G, C // G, H, W)
    mu = x5.mean(axis=(2, 3, 4), keepdims=True, dtype=np.float64)
    xmu = (x5 - mu).astype(x.dtype)
    var = np.mean(np.square(xmu, dtype=np.float64), axis=(2, 3, 4), keepdims=True).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = xhat.reshape(N, C, H, W) * gamma.reshape(C, 1, 1) + beta.reshape(C, 1, 1)
    cache = GroupNormCache(x=x, G=G, mu=mu.astype(x.dtype).reshape(N, G, 1), xmu=xmu.reshape(N, G, -1),
                           var=var.reshape(N, G, 1), ivar=ivar.reshape(N, G, 1), xhat=xhat.reshape(N, G, -1),
                           gamma=gamma, eps=eps)
    return gn_finish(out, cache, x)


@fwd.correct("Copies x before centring in place, and builds the output with in-place *= and += on a fresh array.")
def gn_in_place_on_copy(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1).copy()
    mu, _, var = group_stats(x, G)
    xg -= mu
    cache = gn_cache(x, G, mu, xg, var, gamma, eps)
    out = cache.xhat.reshape(N, C, H, W).copy()
    out *= gamma.reshape(C, 1, 1)
    out += beta.reshape(C, 1, 1)
    return gn_finish(out, cache, x)


@fwd.correct("Loops over the G groups, normalizing x[:, g*C/G:(g+1)*C/G] one slice at a time.")
def gn_loop_groups(x, gamma, beta, G, gn_param):
    gamma, beta, G, eps = gn_prelude(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    k = C // G
    parts = [group_stats(x[:, g * k:(g + 1) * k], 1) for g in range(G)]
    mu, xmu, var = (np.concatenate([p[j] for p in parts], axis=1) for j in range(3))
    cache = gn_cache(x, G, mu, xmu, var, gamma, eps)
    return gn_finish(_out(cache, gamma, beta), cache, x)


def _gb(dout, cache):
    gn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    xhat = cache.xhat
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dgamma = (dout * xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(C, 1, 1)).reshape(N, cache.G, -1)
    return xhat, dxhat, dgamma, dbeta


def _dx(cache, dxhat, xhat, shape):
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(shape)


@bwd.mistake("Always returns dgamma and dbeta with shape (C,), even when gamma came in CS231n's (1, C, 1, 1) layout.")
def gnb_flat_param_grads(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    return _dx(cache, dxhat, xhat, dout.shape), dgamma.reshape(-1), dbeta.reshape(-1)


@bwd.mistake("Forgets gamma in dxhat: uses dout where gamma * dout belongs.")
def gnb_no_gamma(dout, cache):
    xhat, _, dgamma, dbeta = _gb(dout, cache)
    dxhat = dout.reshape(xhat.shape)
    return _dx(cache, dxhat, xhat, dout.shape), dgamma, dbeta


@bwd.mistake("Divides each group's sums by C/G (the channels per group) instead of M = (C/G)*H*W values.")
def gnb_over_channels(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    k = dout.shape[1] // cache.G
    dx = cache.ivar * (dxhat - dxhat.sum(axis=2, keepdims=True) / k - xhat * (dxhat * xhat).sum(axis=2, keepdims=True) / k)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Drops the mean(dxhat) term of dx (the gradient through the group mean).")
def gnb_no_mean_term(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    dx = cache.ivar * (dxhat - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Drops the xhat * mean(dxhat * xhat) term of dx (the gradient through the group variance).")
def gnb_no_var_term(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Takes gamma out of the group means as in batch norm: dx = gamma * ivar * (dout - mean(dout) - xhat * mean(dout * xhat)), though gamma varies inside a group.")
def gnb_gamma_factored_out(dout, cache):
    xhat, _, dgamma, dbeta = _gb(dout, cache)
    N, C, H, W = dout.shape
    d = dout.reshape(xhat.shape)
    inner = cache.ivar * (d - d.mean(axis=2, keepdims=True) - xhat * (d * xhat).mean(axis=2, keepdims=True))
    return inner.reshape(dout.shape) * cache.gamma.reshape(C, 1, 1), dgamma, dbeta


@bwd.mistake("Groups dout with reshape(N, C // G, G, ...), interleaving channels, so dxhat's groups do not match the cached xhat's.")
def gnb_interleaved(dout, cache):
    xhat, _, dgamma, dbeta = _gb(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    dxhat = np.ascontiguousarray((dout * cache.gamma.reshape(C, 1, 1)).reshape(N, C // G, G, H, W)
                                 .transpose(0, 2, 1, 3, 4)).reshape(N, G, -1)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Casts dout to float64 first, so a float32 pass returns float64 gradients.")
def gnb_upcast(dout, cache):
    gn_backward_prelude(dout, cache)
    xhat, dxhat, dgamma, dbeta = _gb(dout.astype(np.float64), cache)
    return _dx(cache, dxhat, xhat, dout.shape), dgamma, dbeta


@bwd.mistake("Adds the xhat term instead of subtracting it in dx.")
def gnb_sign(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) + xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.mistake("Sums dbeta over the batch only, returning a (C, H, W) array instead of summing over the positions too.")
def gnb_dbeta_batch_only(dout, cache):
    xhat, dxhat, dgamma, _ = _gb(dout, cache)
    return _dx(cache, dxhat, xhat, dout.shape), dgamma, dout.sum(axis=0)


@bwd.correct("Works in the 5-D view (N, G, C/G, H, W) with means over axes (2, 3, 4).")
def gnb_five_d(dout, cache):
    gn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat.reshape(N, G, C // G, H, W)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, G, C // G, H, W)
    ivar = cache.ivar.reshape(N, G, 1, 1, 1)
    axes = (2, 3, 4)
    dx = ivar * (dxhat - dxhat.mean(axis=axes, keepdims=True) - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    dgamma = (dout * xhat.reshape(dout.shape)).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
    return dx.reshape(dout.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@bwd.correct("Uses einsum for the parameter sums and the group means.")
def gnb_einsum(dout, cache):
    gn_backward_prelude(dout, cache)
    N, C, H, W = dout.shape
    xhat = cache.xhat
    M = xhat.shape[2]
    dbeta = np.einsum("nchw->c", dout).reshape(cache.gamma.shape)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat.reshape(dout.shape)).reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(C, 1, 1)).reshape(N, cache.G, M)
    s1 = np.einsum("ngm->ng", dxhat)[..., None] / M
    s2 = np.einsum("ngm,ngm->ng", dxhat, xhat)[..., None] / M
    return (cache.ivar * (dxhat - s1 - xhat * s2)).reshape(dout.shape), dgamma, dbeta


@bwd.correct("Goes through xmu and ivar**3 for the variance branch instead of xhat.")
def gnb_xmu_form(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    ivar, xmu = cache.ivar, cache.xmu
    dx = ivar * (dxhat - dxhat.mean(axis=2, keepdims=True)) - ivar**3 * xmu * (dxhat * xmu).mean(axis=2, keepdims=True)
    return dx.reshape(dout.shape), dgamma, dbeta


@bwd.correct("Writes dx as ivar / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) per group.")
def gnb_m_form(dout, cache):
    xhat, dxhat, dgamma, dbeta = _gb(dout, cache)
    M = xhat.shape[2]
    dx = cache.ivar / M * (M * dxhat - dxhat.sum(axis=2, keepdims=True) - xhat * (dxhat * xhat).sum(axis=2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta
