"""layernorm_forward and layernorm_backward (notebook 6): batch norm's algebra along axis 1."""

from types import SimpleNamespace

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward_alt
from cs231n_bn.layernorm import LayerNormCache
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward")


def _cache(x, gamma, mu, var, eps):
    xmu = x - mu
    ivar = 1 / np.sqrt(var + eps)
    return LayerNormCache(x, mu, xmu, var, ivar, xmu * ivar, gamma, eps)


def _forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    cache = _cache(x, gamma, mu, ((x - mu) ** 2).mean(axis=1, keepdims=True), eps)
    return gamma * cache.xhat + beta, cache


# ---- forward --------------------------------------------------------------------------------------

@forward.mistake("keepdims on the mean but not on the variance: var (N,) broadcasts along the features")
def ln_var_without_keepdims(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, LayerNormCache(x, mu, x - mu, var, 1 / np.sqrt(var + eps), xhat, gamma, eps)


@forward.mistake("unbiased variance over the features (np.var with ddof=1)")
def ln_unbiased(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    cache = _cache(x, gamma, mu, x.var(axis=1, ddof=1, keepdims=True), eps)
    return gamma * cache.xhat + beta, cache


@forward.mistake("the batch norm code kept: statistics over axis 0 with keepdims")
def ln_batch_axis(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=0, keepdims=True)
    cache = _cache(x, gamma, mu, ((x - mu) ** 2).mean(axis=0, keepdims=True), eps)
    return gamma * cache.xhat + beta, cache


@forward.mistake("copied the mode switch of batch norm: in test mode the input passes through unnormalized")
def ln_test_mode_identity(x, gamma, beta, ln_param):
    out, cache = _forward(x, gamma, beta, ln_param)
    if ln_param.get("mode") == "test":
        return gamma * x + beta, cache
    return out, cache


@forward.mistake("keeps running statistics in ln_param like batch norm (writes new keys into the caller's dict)")
def ln_running_stats(x, gamma, beta, ln_param):
    out, cache = _forward(x, gamma, beta, ln_param)
    ln_param["running_mean"] = 0.9 * ln_param.get("running_mean", 0) + 0.1 * cache.mu.mean()
    return out, cache


@forward.mistake("eps hard-coded to 1e-5, ln_param's eps ignored")
def ln_eps_hard_coded(x, gamma, beta, ln_param):
    return _forward(x, gamma, beta, {})


@forward.mistake("cache.var holds the standard deviation sqrt(var + eps)")
def ln_cache_var_is_std(x, gamma, beta, ln_param):
    out, c = _forward(x, gamma, beta, ln_param)
    return out, LayerNormCache(c.x, c.mu, c.xmu, np.sqrt(c.var + c.eps), c.ivar, c.xhat, c.gamma, c.eps)


@forward.mistake("cache.xhat stored transposed, (D, N), from the transpose trick")
def ln_cache_xhat_transposed(x, gamma, beta, ln_param):
    out, c = _forward(x, gamma, beta, ln_param)
    return out, LayerNormCache(c.x, c.mu, c.xmu, c.var, c.ivar, c.xhat.T, c.gamma, c.eps)


@forward.mistake("statistics of the float32 batch computed and returned in float64")
def ln_promotes_float32(x, gamma, beta, ln_param):
    return _forward(x.astype(np.float64), gamma, beta, ln_param)


@forward.mistake("the mean subtracted twice: xmu = x - mu, then xhat = (xmu - mu) * ivar")
def ln_mean_twice(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    c = _cache(x, gamma, mu, ((x - mu) ** 2).mean(axis=1, keepdims=True), eps)
    xhat = (c.xmu - mu) * c.ivar
    return gamma * xhat + beta, LayerNormCache(x, mu, c.xmu, c.var, c.ivar, xhat, gamma, eps)


@forward.correct("the transpose trick: batch norm's statistics on x.T, transposed back")
def ln_transpose_trick(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xt = x.T
    mu, var = xt.mean(axis=0), xt.var(axis=0)
    cache = _cache(x, gamma, mu[:, None], var[:, None], eps)
    return gamma * cache.xhat + beta, cache


@forward.correct("np.var with keepdims, eps read with a default, out by np.multiply/np.add")
def ln_np_var(x, gamma, beta, ln_param):
    eps = ln_param["eps"] if "eps" in ln_param else 1e-5
    cache = _cache(x, gamma, np.mean(x, axis=1, keepdims=True), np.var(x, axis=1, keepdims=True), eps)
    return np.add(np.multiply(gamma, cache.xhat), beta), cache


@forward.correct("statistics accumulated in float64 and cast back to x's dtype")
def ln_float64_statistics(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    cache = _cache(x, gamma, mu.astype(x.dtype), var.astype(x.dtype), eps)
    return gamma * cache.xhat + beta, cache


# ---- backward ---------------------------------------------------------------------------------------

def _backward(dout, cache, **changed):
    """Layer norm's closed form; `changed` replaces one named piece of it."""
    v = SimpleNamespace(dout=dout, c=cache, D=dout.shape[1])
    steps = {
        "dbeta": lambda v: v.dout.sum(axis=0),
        "dgamma": lambda v: (v.dout * v.c.xhat).sum(axis=0),
        "dxhat": lambda v: v.dout * v.c.gamma,
        "mean_dxhat": lambda v: v.dxhat.mean(axis=1, keepdims=True),
        "mean_dxhat_xhat": lambda v: (v.dxhat * v.c.xhat).mean(axis=1, keepdims=True),
        "dx": lambda v: v.c.ivar * (v.dxhat - v.mean_dxhat - v.c.xhat * v.mean_dxhat_xhat),
    }
    for name, step in steps.items():
        setattr(v, name, changed.get(name, step)(v))
    return v.dx, v.dgamma, v.dbeta


BACKWARD_MISTAKES = {
    "ln_dgamma_over_features": ("dgamma and dbeta summed over axis 1 (the direction of the statistics)",
                                dict(dgamma=lambda v: (v.dout * v.c.xhat).sum(axis=1),
                                     dbeta=lambda v: v.dout.sum(axis=1))),
    "ln_batchnorm_means": ("dx takes its means over axis 0, batch norm's formula unchanged",
                           dict(mean_dxhat=lambda v: v.dxhat.mean(axis=0, keepdims=True),
                                mean_dxhat_xhat=lambda v: (v.dxhat * v.c.xhat).mean(axis=0, keepdims=True))),
    "ln_gamma_on_one_path": ("the first mean uses dout instead of dout * gamma (gamma missing on one path)",
                             dict(mean_dxhat=lambda v: v.dout.mean(axis=1, keepdims=True))),
    "ln_divides_by_n": ("the sums divided by N (rows) instead of D (features)",
                        dict(mean_dxhat=lambda v: v.dxhat.sum(axis=1, keepdims=True) / v.dout.shape[0],
                             mean_dxhat_xhat=lambda v: (v.dxhat * v.c.xhat).sum(axis=1, keepdims=True)
                             / v.dout.shape[0])),
    "ln_sum_without_keepdims": ("the second mean without keepdims: (N,) broadcast along the features",
                                dict(mean_dxhat_xhat=lambda v: (v.dxhat * v.c.xhat).mean(axis=1))),
    "ln_dgamma_with_xmu": ("dgamma sums dout * xmu instead of dout * xhat",
                           dict(dgamma=lambda v: (v.dout * v.c.xmu).sum(axis=0))),
    "ln_dbeta_mean": ("dbeta is the mean of dout over the rows, not the sum",
                      dict(dbeta=lambda v: v.dout.mean(axis=0))),
    "ln_xmu_in_dx": ("the last term of dx uses xmu where xhat belongs",
                     dict(dx=lambda v: v.c.ivar * (v.dxhat - v.mean_dxhat - v.c.xmu * v.mean_dxhat_xhat))),
    "ln_ivar_squared": ("ivar**2 in front of dx (the variance's local gradient taken for the whole)",
                        dict(dx=lambda v: v.c.ivar ** 2 * (v.dxhat - v.mean_dxhat - v.c.xhat * v.mean_dxhat_xhat))),
}

for _name, (_description, _changed) in BACKWARD_MISTAKES.items():
    def _mistake(dout, cache, _changed=_changed):
        return _backward(dout, cache, **_changed)
    _mistake.__name__ = _name
    backward.mistake(_description)(_mistake)


@backward.correct("the transpose trick: batch norm's closed form on the transposed arrays, dgamma and dbeta apart")
def ln_backward_via_batchnorm(dout, cache):
    # Per row, layer norm is batch norm of x.T with gamma = 1; gamma scales dout first.
    ivar = cache.ivar[:, 0]
    bn = BatchNormCache("train", cache.x.T, cache.mu[:, 0], cache.xmu.T, cache.var[:, 0], 1 / ivar, ivar,
                        cache.xhat.T, np.ones_like(ivar), cache.eps)
    dxt, _, _ = batchnorm_backward_alt((dout * cache.gamma).T, bn)
    return dxt.T, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.correct("recomputes the statistics from cache.x and cache.eps instead of reading them")
def ln_backward_recomputes(dout, cache):
    mu = cache.x.mean(axis=1, keepdims=True)
    ivar = 1 / np.sqrt(((cache.x - mu) ** 2).mean(axis=1, keepdims=True) + cache.eps)
    xhat = (cache.x - mu) * ivar
    D = dout.shape[1]
    dxhat = dout * cache.gamma
    dx = ivar / D * (D * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


@backward.correct("einsum for every reduction")
def ln_backward_einsum(dout, cache):
    dxhat = dout * cache.gamma
    D = dout.shape[1]
    m1 = np.einsum("nd->n", dxhat)[:, None] / D
    m2 = np.einsum("nd,nd->n", dxhat, cache.xhat)[:, None] / D
    dx = cache.ivar * (dxhat - m1 - cache.xhat * m2)
    return dx, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=forward.entries + backward.entries)
