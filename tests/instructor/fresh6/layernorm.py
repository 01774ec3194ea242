"""Layer norm (notebook 6): the forward and backward passes."""

import numpy as np

from cs231n_bn.layernorm import LayerNormCache, layernorm_forward
from tests.instructor.fresh6 import scaffold as S
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward", forward=layernorm_forward)


def _finish(x, mu, var, gamma, beta, eps):
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return S.ln_forward_end(out, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps), x)


@forward.mistake("normalizes over the batch (axis=0), batch norm's axis")
def ln_batch_axis(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    return _finish(x, x.mean(axis=0), x.var(axis=0), gamma, beta, eps)


@forward.mistake("unbiased variance over the features (ddof=1)")
def ln_unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    return _finish(x, x.mean(axis=1, keepdims=True), x.var(axis=1, ddof=1, keepdims=True), gamma, beta, eps)


@forward.mistake("statistics without keepdims, broadcast by transposing, and cached with shape (N,) not (N, 1)")
def ln_flat_stats(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1), x.var(axis=1)
    xmu = (x.T - mu).T
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (xmu.T * ivar).T
    out = gamma * xhat + beta
    return S.ln_forward_end(out, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps), x)


@forward.mistake("eps added to the standard deviation instead of the variance")
def ln_eps_outside(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    xmu = x - mu
    ivar = 1.0 / (np.sqrt(var) + eps)
    xhat = xmu * ivar
    return S.ln_forward_end(gamma * xhat + beta, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps), x)


@forward.mistake("the transpose trick done halfway: gamma and beta applied while still transposed (runs only when N == D)")
def ln_transposed_affine(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    xt = x.T
    mu, var = xt.mean(axis=0), xt.var(axis=0)
    xhat_t = (xt - mu) / np.sqrt(var + eps)
    out = (gamma * xhat_t + beta).T
    mu, var = mu[:, None], var[:, None]
    return S.ln_forward_end(out, LayerNormCache(x, mu, x - mu, var, 1 / np.sqrt(var + eps), xhat_t.T, gamma, eps), x)


@forward.mistake("variance as mean(x**2) - mu**2, which cancels in float32 when a sample's mean is large")
def ln_one_pass(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu = x.mean(axis=1, keepdims=True)
    return _finish(x, mu, (x * x).mean(axis=1, keepdims=True) - mu * mu, gamma, beta, eps)


@forward.mistake("treats ln_param like bn_param: in test mode normalizes with the statistics of the last training call")
def ln_running_stats(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    if ln_param.get("mode") == "test":
        mu, var = np.full_like(mu, mu.mean()), np.full_like(var, var.mean())
    return _finish(x, mu, var, gamma, beta, eps)


@forward.mistake("statistics summed in float64 and never cast back: float64 output for float32 x")
def ln_float64_leak(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return _finish(x, mu, var, gamma, beta, eps)


@forward.mistake("caches 1/(var + eps) under ivar (the square root forgotten in the cache only)")
def ln_cache_ivar(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    xmu = x - mu
    xhat = xmu / np.sqrt(var + eps)
    return S.ln_forward_end(gamma * xhat + beta, LayerNormCache(x, mu, xmu, var, 1 / (var + eps), xhat, gamma, eps), x)


@forward.mistake("ignores ln_param's eps, always 1e-5")
def ln_fixed_eps(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    return _finish(x, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True), gamma, beta, 1e-5)


@forward.mistake("normalizes x in place (x -= mu; x /= std), destroying the caller's input")
def ln_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x -= mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = x * ivar
    return S.ln_forward_end(gamma * xhat + beta, LayerNormCache(x, mu, x, var, ivar, xhat, gamma, eps), x)


@forward.correct("the transpose trick: batch norm's statistics of x.T, transposed back")
def ln_transpose_trick(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    xt = x.T
    mu = xt.mean(axis=0)[:, None]
    var = ((xt - mu.T) ** 2).mean(axis=0)[:, None]
    return _finish(x, mu, var, gamma, beta, eps)


@forward.correct("per-sample loop with np.mean and np.var, statistics kept as (N, 1)")
def ln_row_loop(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    N = x.shape[0]
    mu, var = np.empty((N, 1), x.dtype), np.empty((N, 1), x.dtype)
    for n in range(N):
        mu[n, 0], var[n, 0] = np.mean(x[n]), np.var(x[n])
    return _finish(x, mu, var, gamma, beta, eps)


@forward.correct("statistics in float64, every cached array cast back to x's dtype")
def ln_float64_cast(x, gamma, beta, ln_param):
    gamma, beta, eps = S.ln_forward_begin(x, gamma, beta, ln_param)
    x64 = x.astype(np.float64)
    mu64 = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mu64) ** 2).mean(axis=1, keepdims=True).astype(x.dtype)
    return _finish(x, mu64.astype(x.dtype), var, gamma, beta, eps)


def _ln_sums(dout, xhat):
    return dout.sum(axis=0), (dout * xhat).sum(axis=0)


@backward.mistake("batch norm's closed form pasted: means over the batch (axis=0)")
def lb_batch_axis(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, dgamma, dbeta


@backward.mistake("dgamma and dbeta summed over the features (axis=1), shape (N,)")
def lb_param_axis(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, (dout * xhat).sum(axis=1), dout.sum(axis=1)


@backward.mistake("uses dout instead of dxhat = gamma * dout inside the means")
def lb_gamma_outside_means(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=1, keepdims=True)
                                     - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("forgets the mean of dxhat (treats the per-sample mean as a constant)")
def lb_no_mean_term(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    return cache.ivar * (dxhat - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)), dgamma, dbeta


@backward.mistake("forgets the xhat * mean(dxhat * xhat) term (treats the variance as a constant)")
def lb_no_var_term(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    return cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)), dgamma, dbeta


@backward.mistake("means taken as sums divided by D - 1")
def lb_d_minus_one(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    D = dout.shape[1]
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - (dxhat.sum(axis=1, keepdims=True) + xhat * (dxhat * xhat).sum(axis=1, keepdims=True)) / (D - 1))
    return dx, dgamma, dbeta


@backward.mistake("divides dgamma and dbeta by N (averages over the batch)")
def lb_param_means(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, (dout * xhat).mean(axis=0), dout.mean(axis=0)


@backward.mistake("multiplies dout by gamma in place, changing the caller's dout")
def lb_dout_in_place(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dout *= cache.gamma
    dx = cache.ivar * (dout - dout.mean(axis=1, keepdims=True) - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("the mean term added rather than subtracted")
def lb_sign(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat + dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("means in float64 for accuracy: dx comes back float64 for a float32 pass")
def lb_float64(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    dbeta, dgamma = _ln_sums(dout, xhat)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True, dtype=np.float64)
                       - xhat * (dxhat * xhat).mean(axis=1, keepdims=True, dtype=np.float64))
    return dx, dgamma, dbeta


@backward.correct("the transpose trick: batch norm's closed form on the transposed arrays, gamma applied first")
def lb_transpose(dout, cache):
    S.ln_backward_begin(dout, cache)
    D = dout.shape[1]
    xhat_t, dxhat_t = cache.xhat.T, (cache.gamma * dout).T
    dx_t = cache.ivar.T / D * (D * dxhat_t - dxhat_t.sum(axis=0) - xhat_t * (dxhat_t * xhat_t).sum(axis=0))
    return dx_t.T, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)


@backward.correct("the staged graph over axis 1, through xmu and var")
def lb_staged(dout, cache):
    S.ln_backward_begin(dout, cache)
    c = cache
    D = dout.shape[1]
    dxhat = c.gamma * dout
    dvar = -0.5 * (dxhat * c.xmu).sum(axis=1, keepdims=True) * c.ivar**3
    dxmu = dxhat * c.ivar + 2 * c.xmu * dvar / D
    dx = dxmu - dxmu.mean(axis=1, keepdims=True)
    return dx, (dout * c.xhat).sum(axis=0), dout.sum(axis=0)


@backward.correct("the sum form (1/D) ivar (D dxhat - sum dxhat - xhat sum(dxhat xhat))")
def lb_sum_form(dout, cache):
    S.ln_backward_begin(dout, cache)
    xhat = cache.xhat
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    dx = cache.ivar / D * (D * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
