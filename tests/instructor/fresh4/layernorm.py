"""Mistakes and unusual correct variants of layernorm_forward and layernorm_backward (notebook 6)."""

from dataclasses import dataclass

import numpy as np

from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.layernorm import LayerNormCache
from tests.instructor.later_catalogue import Catalogue

ln_forward = Catalogue("layernorm_forward")
ln_backward = Catalogue("layernorm_backward")


def _eps(ln_param):
    return ln_param.get("eps", 1e-5)


def _cache(x, gamma, mu, var, eps):
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return xhat, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps)


@ln_forward.mistake("statistics over the batch (axis=0, keepdims) as in batch norm, not over each sample's features")
def ln_over_batch(x, gamma, beta, ln_param):
    mu = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return gamma * xhat + beta, cache


@ln_forward.mistake("unbiased variance (ddof=1, torch.var's default) over the features")
def ln_unbiased(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, ddof=1, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return gamma * xhat + beta, cache


@ln_forward.mistake("caches mu, var and ivar as (N,) (statistics without keepdims, broadcast by hand) instead of (N, 1)")
def ln_cache_flat_statistics(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    mu = x.mean(axis=1)
    xmu = x - mu[:, None]
    var = (xmu**2).mean(axis=1)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar[:, None]
    return gamma * xhat + beta, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps)


@ln_forward.mistake("copies batch norm's bookkeeping: writes running_mean and running_var into ln_param")
def ln_writes_running_stats(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    ln_param["running_mean"] = mu.ravel()
    ln_param["running_var"] = var.ravel()
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return gamma * xhat + beta, cache


@ln_forward.mistake("statistics taken with dtype=float64 and never rounded back: float64 out and cache for float32 x")
def ln_float64_leaks(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return gamma * xhat + beta, cache


@ln_forward.mistake("eps added to the standard deviation instead of inside the square root")
def ln_eps_outside_sqrt(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    ivar = 1.0 / (np.sqrt(var) + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, LayerNormCache(x, mu, x - mu, var, ivar, xhat, gamma, eps)


@ln_forward.mistake("hard-codes eps = 1e-5 and ignores ln_param['eps']")
def ln_ignores_eps(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, 1e-5)
    return gamma * xhat + beta, cache


@ln_forward.mistake("CS231n's transpose trick with gamma and beta handed to batch norm per sample, so gamma[n] scales sample n")
def ln_transpose_gamma_per_sample(x, gamma, beta, ln_param):
    N, D = x.shape
    eps = _eps(ln_param)
    # gamma and beta have D entries but the transposed problem has N features: the
    # student tiles them to length N and keeps the first N
    g = np.resize(gamma, N).astype(x.dtype)
    b = np.resize(beta, N).astype(x.dtype)
    outT, bn = batchnorm_forward(x.T, g, b, {"mode": "train", "eps": eps})
    mu, var = bn.mu[:, None], bn.var[:, None]
    xhat, cache = _cache(x, gamma, mu, var, eps)
    return outT.T, cache


@ln_forward.mistake("caches the output gamma * xhat + beta in the xhat field")
def ln_cache_xhat_is_out(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat, c = _cache(x, gamma, mu, var, _eps(ln_param))
    out = gamma * xhat + beta
    return out, LayerNormCache(c.x, c.mu, c.xmu, c.var, c.ivar, out, c.gamma, c.eps)


@ln_forward.mistake("centers the caller's x in place (x -= mu)")
def ln_centers_caller_x(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    x_in = x.copy()
    mu = x.mean(axis=1, keepdims=True)
    x -= mu
    var = (x**2).mean(axis=1, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = x * ivar
    return gamma * xhat + beta, LayerNormCache(x_in, mu, x, var, ivar, xhat, gamma, eps)


@ln_forward.mistake("gamma and beta swapped: out = beta * xhat + gamma")
def ln_gamma_beta_swapped(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return beta * xhat + gamma, cache


@ln_forward.mistake("divides by the standard deviation but forgets to subtract the mean (RMSNorm-like)")
def ln_no_centering(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = x * ivar
    return gamma * xhat + beta, LayerNormCache(x, mu, x - mu, var, ivar, xhat, gamma, eps)


@ln_forward.mistake("variance as mean(x**2) - mean(x)**2 in x's dtype: loses the spread of float32 samples with a large mean")
def ln_one_pass_variance(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = (x * x).mean(axis=1, keepdims=True) - mu * mu
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    return gamma * xhat + beta, cache


@ln_forward.mistake("'test' mode copied from batch norm: returns gamma * x + beta without normalizing")
def ln_test_mode_skips(x, gamma, beta, ln_param):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat, cache = _cache(x, gamma, mu, var, _eps(ln_param))
    if ln_param.get("mode") == "test":
        return gamma * x + beta, cache
    return gamma * xhat + beta, cache


@ln_forward.correct("CS231n's transpose trick done right: batch norm of x.T with unit scale, gamma and beta applied after")
def ln_transpose_trick(x, gamma, beta, ln_param):
    N, D = x.shape
    eps = _eps(ln_param)
    xhatT, bn = batchnorm_forward(x.T, np.ones(N, x.dtype), np.zeros(N, x.dtype), {"mode": "train", "eps": eps})
    xhat = xhatT.T
    cache = LayerNormCache(x, bn.mu[:, None], bn.xmu.T, bn.var[:, None], bn.ivar[:, None], xhat, gamma, eps)
    return gamma * xhat + beta, cache


@ln_forward.correct("einsum statistics in float64, every cached array rounded to x's dtype")
def ln_einsum_float64(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    D = x.shape[1]
    mu64 = np.einsum("nd->n", x, dtype=np.float64)[:, None] / D
    xmu = (x - mu64).astype(x.dtype)
    var = (np.einsum("nd,nd->n", xmu, xmu, dtype=np.float64)[:, None] / D).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x, mu64.astype(x.dtype), xmu, var, ivar, xhat, gamma, eps)


@ln_forward.correct("a loop over the samples, each normalized on its own")
def ln_row_loop(x, gamma, beta, ln_param):
    eps = _eps(ln_param)
    N, D = x.shape
    mu = np.empty((N, 1), x.dtype)
    var = np.empty((N, 1), x.dtype)
    for n in range(N):
        mu[n, 0] = x[n].mean()
        var[n, 0] = np.mean((x[n] - mu[n, 0]) ** 2)
    xhat, cache = _cache(x, gamma, mu, var, eps)
    return gamma * xhat + beta, cache


# ---- backward ----

@ln_backward.mistake("dgamma not summed over the batch: returns dout * xhat, shape (N, D)")
def lnb_dgamma_unsummed(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.mean(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, dout * c.xhat, dout.sum(axis=0)


@ln_backward.mistake("dgamma and dbeta summed over the features (axis=1), as if gamma were per sample")
def lnb_param_grads_over_features(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.mean(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=1), dout.sum(axis=1)


@ln_backward.mistake("batch norm's closed form copied unchanged: means over the batch (axis=0)")
def lnb_batch_axes(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=0) - c.xhat * np.mean(dxhat * c.xhat, axis=0))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("dxhat = dout: gamma forgotten inside the closed form")
def lnb_without_gamma(dout, c):
    dx = c.ivar * (dout - dout.mean(axis=1, keepdims=True) - c.xhat * np.mean(dout * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("drops the term through the variance: dx = ivar * (dxhat - mean(dxhat))")
def lnb_no_variance_term(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("divides the projection term by D - 1 (unbiased variance) instead of D")
def lnb_d_minus_one(dout, c):
    D = dout.shape[1]
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.sum(dxhat * c.xhat, axis=1, keepdims=True) / (D - 1))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("the projection term takes the mean of dout * xhat, forgetting gamma there only")
def lnb_projection_without_gamma(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.mean(dout * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("sums instead of means over the features inside the closed form")
def lnb_sums_not_means(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.sum(axis=1, keepdims=True) - c.xhat * np.sum(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("scales the caller's dout in place (dout *= gamma) to get dxhat")
def lnb_dout_in_place(dout, c):
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * c.xhat, axis=0)
    dout *= c.gamma
    dx = c.ivar * (dout - dout.mean(axis=1, keepdims=True) - c.xhat * np.mean(dout * c.xhat, axis=1, keepdims=True))
    return dx, dgamma, dbeta


@ln_backward.mistake("ivar taken as 1/sqrt(var) from the cache's var, without eps")
def lnb_ivar_without_eps(dout, c):
    ivar = 1.0 / np.sqrt(c.var)
    dxhat = c.gamma * dout
    dx = ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.mean(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.mistake("D read from cache.gamma.shape[0] but N and D swapped in the closed form: divides by N")
def lnb_divides_by_n(dout, c):
    N = dout.shape[0]
    dxhat = c.gamma * dout
    dx = c.ivar / N * (N * dxhat - dxhat.sum(axis=1, keepdims=True) - c.xhat * np.sum(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.correct("staged graph for layer norm (statistics per sample), summed with keepdims")
def lnb_staged(dout, c):
    D = dout.shape[1]
    dxhat = c.gamma * dout
    divar = np.sum(dxhat * c.xmu, axis=1, keepdims=True)
    dvar = -0.5 * c.ivar**3 * divar
    dxmu = dxhat * c.ivar + 2.0 * c.xmu * dvar / D
    dx = dxmu - dxmu.mean(axis=1, keepdims=True)
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


@ln_backward.correct("closed form with einsum and the 1/D folded into ivar")
def lnb_einsum(dout, c):
    D = dout.shape[1]
    dxhat = dout * c.gamma
    a = np.einsum("nd->n", dxhat)[:, None]
    b = np.einsum("nd,nd->n", dxhat, c.xhat)[:, None]
    dx = (c.ivar / D) * (D * dxhat - a - c.xhat * b)
    return dx, np.einsum("nd,nd->d", dout, c.xhat), np.einsum("nd->d", dout)


@dataclass(frozen=True)
class SlimLayerNormCache:
    """A valid alternative cache: just what the closed form needs."""

    xhat: np.ndarray
    ivar: np.ndarray
    gamma: np.ndarray


def ln_forward_slim(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    ivar = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, SlimLayerNormCache(xhat, ivar, gamma)


@ln_backward.correct("a slim cache of its own (xhat, ivar, gamma) from its own forward pass", forward=ln_forward_slim)
def lnb_slim_cache(dout, c):
    dxhat = c.gamma * dout
    dx = c.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - c.xhat * np.mean(dxhat * c.xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)
