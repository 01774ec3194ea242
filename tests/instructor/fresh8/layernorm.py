"""layernorm_forward and layernorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.layernorm import layernorm_forward
from tests.instructor.fresh8.scaffold import (
    LayerNormCache, batch_stats, ln_backward_prelude, ln_cache, ln_prelude, validation,
)
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("layernorm_forward")
bwd = Catalogue("layernorm_backward", forward=layernorm_forward)


def _finish(out, cache, x):
    validation.finite_variance("layernorm_forward", cache.var, x)
    return out, cache


@fwd.mistake("Copies batch norm's axes: takes each feature's mean and variance over the batch (axis=0) instead of each sample's over its features.")
def ln_axis0(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=0, keepdims=True)
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Keeps the statistics without keepdims, shape (N,), in the cache (normalizing correctly through [:, None]).")
def ln_cache_flat_stats(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=False)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar[:, None]
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    return _finish(gamma * xhat + beta, cache, x)


@fwd.mistake("Normalizes each sample with the unbiased variance (ddof=1).")
def ln_unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, _ = batch_stats(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True, ddof=1)
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Adds eps to the standard deviation instead of the variance: ivar = 1 / (sqrt(var) + eps).")
def ln_eps_outside(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    ivar = 1.0 / (np.sqrt(var) + eps)
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Ignores ln_param['eps'] and always uses 1e-5.")
def ln_ignores_eps(x, gamma, beta, ln_param):
    gamma, beta, _ = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    cache = ln_cache(x, mu, xmu, var, gamma, 1e-5)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Copied from batch norm, stores running_mean and running_var of the per-sample statistics into ln_param.")
def ln_writes_running(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    ln_param["running_mean"] = 0.9 * ln_param.get("running_mean", 0.0) + 0.1 * mu.mean()
    ln_param["running_var"] = 0.9 * ln_param.get("running_var", 0.0) + 0.1 * var.mean()
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Accumulates the statistics in float64 and never casts back, so float32 x gives float64 output and cache.")
def ln_float64_leak(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    xmu = x - mu
    var = np.mean(xmu**2, axis=1, keepdims=True)
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Centres x in place (x -= mu), overwriting the caller's array.")
def ln_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, _, var = batch_stats(x, axis=1, keepdims=True)
    x -= mu
    cache = ln_cache(x, mu, x, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Forgets to divide by the standard deviation: out = gamma * (x - mu) + beta (xhat cached as xmu).")
def ln_no_scale(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    c = ln_cache(x, mu, xmu, var, gamma, eps)
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=c.ivar, xhat=xmu, gamma=gamma, eps=eps)
    return _finish(gamma * xmu + beta, cache, x)


@fwd.mistake("Caches the standard deviation sqrt(var + eps) under ivar instead of its inverse (the output is right).")
def ln_cache_ivar_is_std(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    c = ln_cache(x, mu, xmu, var, gamma, eps)
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=np.sqrt(var + eps), xhat=c.xhat, gamma=gamma, eps=eps)
    return _finish(gamma * c.xhat + beta, cache, x)


@fwd.mistake("Computes the variance as mean(x**2) without subtracting the mean first.")
def ln_var_uncentred(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, _ = batch_stats(x, axis=1, keepdims=True)
    var = np.mean(x * x, axis=1, keepdims=True)
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.mistake("Adds beta before scaling: out = gamma * (xhat + beta).")
def ln_shift_then_scale(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    cache = ln_cache(x, mu, xmu, var, gamma, eps)
    return _finish(gamma * (cache.xhat + beta), cache, x)


@fwd.mistake("Normalizes by the range of each sample (max - min) instead of its standard deviation.")
def ln_range_scale(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    ivar = 1.0 / (np.ptp(x, axis=1, keepdims=True) + eps)
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.correct("Transposes x and applies per-column batch-norm statistics to x.T, transposing the (N, 1) statistics back.")
def ln_via_transpose(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu_t, xmu_t, var_t = batch_stats(x.T, axis=0, keepdims=True)
    cache = ln_cache(x, mu_t.T, xmu_t.T, var_t.T, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.correct("Uses np.var and np.mean with a float64 accumulator and casts each statistic back to x's dtype.")
def ln_np_var_float64(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu = np.mean(x, axis=1, keepdims=True, dtype=np.float64)
    var = np.var(x, axis=1, keepdims=True, dtype=np.float64).astype(x.dtype)
    xmu = (x - mu).astype(x.dtype)
    cache = ln_cache(x, mu.astype(x.dtype), xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.correct("Sums each sample's statistics with einsum in float64, then rounds to x's dtype.")
def ln_einsum(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    D = x.shape[1]
    mu = np.einsum("nd->n", x, dtype=np.float64)[:, None] / D
    xmu = (x - mu).astype(x.dtype)
    var = (np.einsum("nd,nd->n", xmu, xmu, dtype=np.float64)[:, None] / D).astype(x.dtype)
    cache = ln_cache(x, mu.astype(x.dtype), xmu, var, gamma, eps)
    return _finish(gamma * cache.xhat + beta, cache, x)


@fwd.correct("Computes xhat as (x - mu) / sqrt(var + eps) with a division and builds the output with np.add(np.multiply(...)).")
def ln_divide(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    xhat = xmu / std
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=1.0 / std, xhat=xhat, gamma=gamma, eps=eps)
    return _finish(np.add(np.multiply(gamma, xhat), beta), cache, x)


def _bwd(dout, cache):
    ln_backward_prelude(dout, cache)
    return cache.xhat, cache.gamma * dout, dout.shape[1]


@bwd.mistake("Sums dgamma over each sample's features (axis=1) instead of over the batch.")
def lnb_dgamma_axis1(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=1), dout.sum(axis=0)


@bwd.mistake("Keeps batch norm's closed form for dx, with the means taken over the batch (axis=0) instead of each sample's features.")
def lnb_means_over_batch(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0, keepdims=True) - xhat * (dxhat * xhat).mean(axis=0, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Forgets gamma in dxhat: uses dout where gamma * dout belongs.")
def lnb_no_gamma(dout, cache):
    xhat, _, D = _bwd(dout, cache)
    dxhat = dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Drops the mean(dxhat) term of dx (the gradient through the mean).")
def lnb_no_mean_term(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Drops the xhat * mean(dxhat * xhat) term of dx (the gradient through the variance).")
def lnb_no_var_term(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Averages dbeta over the batch instead of summing it.")
def lnb_dbeta_mean(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.mean(axis=0)


@bwd.mistake("Multiplies dx by gamma once more at the end although dxhat already holds gamma * dout.")
def lnb_gamma_twice(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return cache.gamma * dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Casts dout to float64 first, so a float32 pass returns float64 gradients.")
def lnb_upcast(dout, cache):
    xhat, _, D = _bwd(dout, cache)
    dout = dout.astype(np.float64)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Adds the xhat term instead of subtracting it: dx = ivar * (dxhat - mean(dxhat) + xhat * mean(dxhat * xhat)).")
def lnb_sign(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) + xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.mistake("Divides the per-sample sums by D - 1 instead of D in dx.")
def lnb_d_minus_one(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    s1 = dxhat.sum(axis=1, keepdims=True) / (D - 1)
    s2 = (dxhat * xhat).sum(axis=1, keepdims=True) / (D - 1)
    return cache.ivar * (dxhat - s1 - xhat * s2), np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.correct("Writes dx as ivar / D * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) with per-sample sums.")
def lnb_d_form(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    dx = cache.ivar / D * (D * dxhat - dxhat.sum(axis=1, keepdims=True)
                           - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


@bwd.correct("Transposes everything and reuses batch norm's closed form per column of the transposed arrays.")
def lnb_via_transpose(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    t, xt, it = dxhat.T, xhat.T, cache.ivar.T
    dx_t = it * (t - t.mean(axis=0) - xt * (t * xt).mean(axis=0))
    return dx_t.T, np.einsum("nd,nd->d", dout, xhat), np.einsum("nd->d", dout)


@bwd.correct("Goes through xmu and ivar**3 instead of xhat for the variance branch.")
def lnb_xmu_form(dout, cache):
    xhat, dxhat, D = _bwd(dout, cache)
    ivar, xmu = cache.ivar, cache.xmu
    dx = ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)) - ivar**3 * xmu * (dxhat * xmu).mean(axis=1, keepdims=True)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)
