"""layernorm_forward and layernorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.layernorm import LayerNormCache, layernorm_forward

from tests.instructor.fresh11.given import ln_given
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward", forward=layernorm_forward)


def _ln(x, gamma, beta, eps, mu, var):
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    return gamma * xhat + beta, cache


@forward.mistake("The statistics are taken over the batch (axis=0), as in batch norm, instead of over each sample's features.")
def ln_axis0(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True))


@forward.mistake("The per-sample mean and variance are taken without keepdims, so (N,) statistics broadcast along the features.")
def ln_no_keepdims(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, x.mean(axis=1), x.var(axis=1))


@forward.mistake("The per-sample variance is the unbiased one (ddof=1).")
def ln_unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, ddof=1, keepdims=True))


@forward.mistake("eps is added outside the square root: xmu / (sqrt(var) + eps).")
def ln_eps_outside(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    ivar = 1 / (np.sqrt(var) + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=x - mu, var=var, ivar=ivar, xhat=xhat,
                                               gamma=gamma, eps=eps)


@forward.mistake("gamma and beta are applied per sample (gamma[:, None]) instead of per feature.")
def ln_gamma_per_sample(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))
    return gamma[:, None] * cache.xhat + beta[:, None], cache


@forward.mistake("In test mode ('mode' set to 'test') the layer skips normalization and returns gamma * x + beta.")
def ln_test_mode_skips(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))
    if ln_param.get("mode") == "test":
        return gamma * x + beta, cache
    return out, cache


@forward.mistake("x is centred in place (x -= mu), modifying the caller's input.")
def ln_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x -= mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = x * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=x, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("The cache keeps the per-sample statistics flattened to shape (N,) instead of (N, 1).")
def ln_cache_flat(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    out, c = _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))
    return out, LayerNormCache(x=x, mu=c.mu.ravel(), xmu=c.xmu, var=c.var.ravel(), ivar=c.ivar.ravel(),
                               xhat=c.xhat, gamma=gamma, eps=eps)


@forward.mistake("The cache's ivar holds sqrt(var + eps) instead of its inverse.")
def ln_cache_sqrtvar(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    out, c = _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))
    return out, LayerNormCache(x=x, mu=c.mu, xmu=c.xmu, var=c.var, ivar=1 / c.ivar, xhat=c.xhat, gamma=gamma, eps=eps)


@forward.mistake("The variance is the mean of squares of x, mean(x**2), without subtracting the mean.")
def ln_raw_second_moment(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), (x**2).mean(axis=1, keepdims=True))


@forward.mistake("Layer norm computed on the transposed (D, N) array, but beta is added before transposing back, so it broadcasts over the samples instead of the features.")
def ln_transposed_beta(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    xt = x.T
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    xhat_t = (xt - mu) / np.sqrt(var + eps)
    out = (gamma[:, None] * xhat_t + beta).T
    _, cache = _ln(x, gamma, beta, eps, mu[:, None], var[:, None])
    return out, cache


@forward.correct("Statistics in float32 for float32 x (the dtype's own sums) with np.var.")
def ln_own_dtype(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))


@forward.correct("Batch norm's computation on the transposed (D, N) array, transposed back, with (N, 1) statistics in the cache.")
def ln_via_transpose(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    xt = x.T
    mu = xt.mean(axis=0)
    xmu_t = xt - mu
    var = (xmu_t**2).mean(axis=0)
    xhat = (xmu_t / np.sqrt(var + eps)).T
    _, cache = _ln(x, gamma, beta, eps, mu[:, None], var[:, None])
    return gamma * xhat + beta, cache


@forward.correct("A loop over the samples, each row normalized on its own.")
def ln_loop(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    N = x.shape[0]
    mu = np.empty((N, 1), x.dtype)
    var = np.empty((N, 1), x.dtype)
    for n in range(N):
        mu[n, 0] = x[n].mean()
        var[n, 0] = ((x[n] - mu[n, 0]) ** 2).mean()
    return _ln(x, gamma, beta, eps, mu, var)


@forward.correct("The per-sample statistics with einsum and xhat by division.")
def ln_einsum(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_given(x, gamma, beta, ln_param)
    D = x.shape[1]
    mu = np.einsum("nd->n", x)[:, None] / D
    xmu = x - mu
    var = np.einsum("nd,nd->n", xmu, xmu)[:, None] / D
    sq = np.sqrt(var + eps)
    xhat = xmu / sq
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=1 / sq, xhat=xhat, gamma=gamma, eps=eps)
    return xhat * gamma + beta, cache


# ---------------------------------------------------------------- backward

def _sums(dout, cache):
    return dout.sum(axis=0), (dout * cache.xhat).sum(axis=0), cache.gamma * dout


@backward.mistake("Batch norm's closed form is used, with means over the batch (axis 0) instead of over each sample's features.")
def lnb_batch_axis(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, dgamma, dbeta


@backward.mistake("dgamma and dbeta are summed over the features (axis=1) instead of over the batch.")
def lnb_param_axis(dout, cache):
    _, _, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, (dout * xhat).sum(axis=1), dout.sum(axis=1)


@backward.mistake("The term mean(dxhat) is dropped from dx.")
def lnb_no_mean(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    return cache.ivar * (dxhat - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)), dgamma, dbeta


@backward.mistake("dx uses dout instead of dxhat = gamma * dout (gamma is forgotten).")
def lnb_no_gamma(dout, cache):
    dbeta, dgamma, _ = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dout - dout.mean(axis=1, keepdims=True) - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("The projection term mean(dxhat * xhat) is taken without keepdims, so it broadcasts along the wrong axis.")
def lnb_no_keepdims(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1))
    return dx, dgamma, dbeta


@backward.mistake("The projection term adds xhat * mean(dxhat * xhat) instead of subtracting it.")
def lnb_sign(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) + xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("dx is not multiplied by ivar.")
def lnb_no_ivar(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    return dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True), dgamma, dbeta


@backward.mistake("The means over the features are sums (the 1/D is dropped).")
def lnb_sums(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("The backward pass upcasts to float64 and returns float64 gradients for a float32 pass.")
def lnb_float64(dout, cache):
    dout = dout.astype(np.float64)
    dbeta, dgamma, dxhat = _sums(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.correct("The closed form as (ivar / D) * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), with einsum.")
def lnb_D_form(dout, cache):
    D = dout.shape[1]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dxhat = dout * cache.gamma
    s1 = np.einsum("nd->n", dxhat)[:, None]
    s2 = np.einsum("nd,nd->n", dxhat, cache.xhat)[:, None]
    return (cache.ivar / D) * (D * dxhat - s1 - cache.xhat * s2), dgamma, dbeta


@backward.correct("Batch norm's closed form on the transposed arrays, transposed back.")
def lnb_transpose(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    g, xh = dxhat.T, cache.xhat.T
    dx_t = cache.ivar.T * (g - g.mean(axis=0) - xh * (g * xh).mean(axis=0))
    return dx_t.T, dgamma, dbeta


@backward.correct("A loop over samples, each row's gradient from its own means.")
def lnb_loop(dout, cache):
    dbeta, dgamma, dxhat = _sums(dout, cache)
    dx = np.empty_like(dout)
    for n in range(dout.shape[0]):
        g, xh = dxhat[n], cache.xhat[n]
        dx[n] = cache.ivar[n, 0] * (g - g.mean() - xh * (g * xh).mean())
    return dx, dgamma, dbeta
