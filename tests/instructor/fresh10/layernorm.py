"""layernorm_forward and layernorm_backward: mistakes and variants."""

import numpy as np

from cs231n_bn.layernorm import layernorm_forward
from tests.instructor.fresh10.scaffold import bn_stats, ln_backward_prelude, ln_finish, ln_prelude
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("layernorm_forward")
bwd = Catalogue("layernorm_backward", forward=layernorm_forward)


def _stats(x):
    """Right per-sample statistics, shapes (N, 1), summed in float64, in x's dtype."""
    mu, xmu, var = bn_stats(x, axis=1)
    return mu[:, None], xmu, var[:, None]


def _finish(x, mu, xmu, var, gamma, beta, eps, ivar=None, xhat=None):
    ivar = 1.0 / np.sqrt(var + eps) if ivar is None else ivar
    xhat = xmu * ivar if xhat is None else xhat
    return ln_finish(x, mu, xmu, var, ivar, xhat, gamma, eps, gamma * xhat + beta)


# ------------------------------------------------------------------ forward: mistakes

@fwd.mistake("Normalizes each feature over the batch (axis 0), as batch norm does, instead of each sample over its features.")
def ln_over_batch(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = bn_stats(x, axis=0)
    return _finish(x, mu[None, :], xmu, var[None, :], gamma, beta, eps)


@fwd.mistake("Drops keepdims: the (N,) mean is broadcast against the (N, D) x along the feature axis.")
def ln_without_keepdims(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu = x.mean(axis=1)
    xmu = x - mu
    var = (xmu**2).mean(axis=1)
    return _finish(x, mu, xmu, var, gamma, beta, eps)


@fwd.mistake("Adds eps outside the square root: xhat = xmu / (sqrt(var) + eps).")
def ln_eps_outside(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = _stats(x)
    return _finish(x, mu, xmu, var, gamma, beta, eps, ivar=1.0 / (np.sqrt(var) + eps))


@fwd.mistake("Uses the unbiased variance of each sample's features (divides by D - 1).")
def ln_unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, _ = _stats(x)
    var = x.var(axis=1, ddof=1, keepdims=True)
    return _finish(x, mu, xmu, var, gamma, beta, eps)


@fwd.mistake("Keeps the statistics in the cache as (N,) vectors instead of the (N, 1) columns the cache specifies.")
def ln_cache_flat_stats(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = _stats(x)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return ln_finish(x, mu[:, 0], xmu, var[:, 0], ivar[:, 0], xhat, gamma, eps, gamma * xhat + beta)


@fwd.mistake("Copies batch norm's test branch: in mode 'test' it reads ln_param['running_mean'], which layer norm never has.")
def ln_test_mode_running_stats(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    if ln_param.get("mode") == "test":
        mu, var = ln_param["running_mean"], ln_param["running_var"]
        return _finish(x, mu, x - mu, var, gamma, beta, eps)
    return _finish(x, *_stats(x), gamma, beta, eps)


@fwd.mistake("Subtracts each sample's mean from the caller's x in place (x -= mu).")
def ln_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = _stats(x)
    x -= mu
    return _finish(x, mu, x, var, gamma, beta, eps)


@fwd.mistake("Computes the variance as mean(x**2), forgetting to centre before squaring.")
def ln_var_uncentred(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, _ = _stats(x)
    var = (x * x).mean(axis=1, keepdims=True)
    return _finish(x, mu, xmu, var, gamma, beta, eps)


@fwd.mistake("Ignores ln_param['eps'] and always uses 1e-5.")
def ln_eps_ignored(x, gamma, beta, ln_param):
    gamma, beta, _ = ln_prelude(x, gamma, beta, ln_param)
    return _finish(x, *_stats(x), gamma, beta, 1e-5)


@fwd.mistake("Stores sqrt(var + eps) in the cache's ivar field instead of 1 / sqrt(var + eps) (out is right).")
def ln_cache_ivar_std(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmu, var = _stats(x)
    xhat = xmu / np.sqrt(var + eps)
    return _finish(x, mu, xmu, var, gamma, beta, eps, ivar=np.sqrt(var + eps), xhat=xhat)


@fwd.mistake("Applies gamma and beta before normalizing: normalizes gamma * x + beta, so they cancel out.")
def ln_affine_first(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    y = gamma * x + beta
    mu, xmu, var = _stats(y)
    ivar = 1.0 / np.sqrt(var + eps)
    return ln_finish(x, mu, xmu, var, ivar, xmu * ivar, gamma, eps, xmu * ivar)


# ------------------------------------------------------------------ forward: correct variants

@fwd.correct("Statistics with np.var / np.mean keepdims, computed in float64 and rounded to x's dtype.")
def ln_np_var(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=1, keepdims=True)
    var = x64.var(axis=1, keepdims=True).astype(x.dtype)
    return _finish(x, mu.astype(x.dtype), (x64 - mu).astype(x.dtype), var, gamma, beta, eps)


@fwd.correct("Layer norm as batch norm of x.T: statistics over axis 0 of the transpose, transposed back.")
def ln_via_transpose(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    mu, xmuT, var = bn_stats(x.T, axis=0)
    return _finish(x, mu[:, None], np.ascontiguousarray(xmuT.T), var[:, None], gamma, beta, eps)


@fwd.correct("einsum row sums with an explicit 1/D, in float64.")
def ln_einsum(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    D = x.shape[1]
    mu = np.einsum("nd->n", x, dtype=np.float64)[:, None] / D
    xmu = (x - mu).astype(x.dtype)
    var = (np.einsum("nd,nd->n", xmu, xmu, dtype=np.float64)[:, None] / D).astype(x.dtype)
    return _finish(x, mu.astype(x.dtype), xmu, var, gamma, beta, eps)


@fwd.correct("A loop over the samples, each row normalized on its own.")
def ln_loop_rows(x, gamma, beta, ln_param):
    gamma, beta, eps = ln_prelude(x, gamma, beta, ln_param)
    N = x.shape[0]
    mu = np.empty((N, 1), x.dtype)
    var = np.empty((N, 1), x.dtype)
    xmu = np.empty_like(x)
    for n in range(N):
        row = x[n].astype(np.float64)
        m = row.mean()
        mu[n, 0], xmu[n] = m, row - m
        var[n, 0] = ((row - m) ** 2).mean()
    return _finish(x, mu, xmu, var, gamma, beta, eps)


# ------------------------------------------------------------------ backward

def _pre(dout, cache):
    ln_backward_prelude(dout, cache)
    return cache.xhat, cache.gamma, cache.ivar


@bwd.mistake("Returns dgamma per sample, dout * xhat of shape (N, D), without summing over the batch.")
def lnb_dgamma_not_summed(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))
    return dx, dout * xhat, dout.sum(0)


@bwd.mistake("Takes batch norm's means over the batch (axis 0) in dx instead of over each sample's features.")
def lnb_means_over_batch(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Drops the variance term: dx = ivar * (dxhat - mean(dxhat)).")
def lnb_without_variance_term(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Drops the mean term: dx = ivar * (dxhat - xhat * mean(dxhat * xhat)).")
def lnb_without_mean_term(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - xhat * (dxhat * xhat).mean(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Forgets gamma: uses dout for dxhat in dx.")
def lnb_without_gamma(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = dout
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Drops keepdims on the per-sample means, so the (N,) means broadcast along the features.")
def lnb_without_keepdims(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(1) - xhat * (dxhat * xhat).mean(1))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Forgets the outer factor ivar in dx.")
def lnb_without_ivar(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True)
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Averages dbeta over the batch instead of summing it.")
def lnb_dbeta_mean(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dxhat * xhat).mean(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.mean(0)


@bwd.mistake("Divides the sums in dx by D - 1 instead of D.")
def lnb_D_minus_1(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    D = dout.shape[1]
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.sum(1, keepdims=True) / (D - 1)
                 - xhat * (dxhat * xhat).sum(1, keepdims=True) / (D - 1))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.mistake("Uses dout instead of dxhat = gamma * dout inside the variance term only.")
def lnb_variance_term_dout(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(1, keepdims=True) - xhat * (dout * xhat).mean(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@bwd.correct("dx = ivar / D * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), sums with einsum.")
def lnb_factored_einsum(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    D = dout.shape[1]
    dxhat = gamma * dout
    s1 = np.einsum("nd->n", dxhat)[:, None]
    s2 = np.einsum("nd,nd->n", dxhat, xhat)[:, None]
    dx = ivar / D * (D * dxhat - s1 - xhat * s2)
    return dx, np.einsum("nd,nd->d", dout, xhat), np.einsum("nd->d", dout)


@bwd.correct("Batch norm's closed form applied to the transposes (dout.T, xhat.T), transposed back.")
def lnb_via_transpose(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    dxhatT = (gamma * dout).T
    xhatT = xhat.T
    dxT = ivar.T * (dxhatT - dxhatT.mean(0) - xhatT * (dxhatT * xhatT).mean(0))
    return dxT.T, (dout * xhat).sum(0), dout.sum(0)


@bwd.correct("dx written with xmu and var + eps from the cache.")
def lnb_with_xmu(dout, cache):
    xhat, gamma, ivar = _pre(dout, cache)
    D = dout.shape[1]
    s = cache.var + cache.eps
    dxhat = gamma * dout
    dx = (dxhat - dxhat.mean(1, keepdims=True)
          - cache.xmu * (dxhat * cache.xmu).sum(1, keepdims=True) / (D * s)) / np.sqrt(s)
    return dx.astype(dout.dtype, copy=False), (dout * xhat).sum(0), dout.sum(0)
