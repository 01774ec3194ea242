"""layernorm_forward and layernorm_backward: mistakes and correct variants."""

import numpy as np

from cs231n_bn.layernorm import LayerNormCache
from tests.instructor.fresh7.scaffold import ln_backward, ln_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward")


def _stats(x, axis=1, ddof=0):
    """Per-sample mean and variance in float64, rounded to x's dtype, keepdims."""
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=axis, keepdims=True)
    xmu = x64 - mu
    var = (xmu**2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
    return mu.astype(x.dtype), xmu.astype(x.dtype), var.astype(x.dtype)


def _finish(x, gamma, beta, mu, xmu, var, eps):
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("statistics over the batch (axis=0), i.e. batch norm without running averages")
@ln_forward
def lnf_axis0(x, gamma, beta, ln_param, eps):
    return _finish(x, gamma, beta, *_stats(x, axis=0), eps)


@forward.mistake("each sample's variance with ddof=1")
@ln_forward
def lnf_unbiased(x, gamma, beta, ln_param, eps):
    return _finish(x, gamma, beta, *_stats(x, ddof=1), eps)


@forward.mistake("eps added outside the square root")
@ln_forward
def lnf_eps_outside(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    ivar = 1.0 / (np.sqrt(var) + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.mistake("cache statistics kept flat, shape (N,), where the cache documents (N, 1)")
@ln_forward
def lnf_flat_stats(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    out, c = _finish(x, gamma, beta, mu, xmu, var, eps)
    return out, LayerNormCache(x, mu[:, 0], xmu, var[:, 0], c.ivar[:, 0], c.xhat, gamma, eps)


@forward.mistake("cache.ivar holds sqrt(var + eps), the standard deviation, not its reciprocal")
@ln_forward
def lnf_cache_std(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    out, c = _finish(x, gamma, beta, mu, xmu, var, eps)
    return out, LayerNormCache(x, mu, xmu, var, np.sqrt(var + eps), c.xhat, gamma, eps)


@forward.mistake("centres x in place through a view (x -= mu), changing the caller's array")
@ln_forward
def lnf_x_inplace(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    x -= mu
    return _finish(x, gamma, beta, mu, x, var, eps)


@forward.mistake("float64 statistics never cast back: float32 x gives a float64 output")
@ln_forward
def lnf_float64(x, gamma, beta, ln_param, eps):
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    xmu = x - mu
    var = (xmu**2).mean(axis=1, keepdims=True)
    return _finish(x, gamma, beta, mu, xmu, var, eps)


@forward.mistake("eps hard-coded 1e-5, ignoring ln_param['eps']")
@ln_forward
def lnf_fixed_eps(x, gamma, beta, ln_param, eps):
    return _finish(x, gamma, beta, *_stats(x), 1e-5)


@forward.mistake("copied from batch norm: test mode (ln_param['mode']) skips normalization and returns gamma * x + beta")
@ln_forward
def lnf_test_mode(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    out, cache = _finish(x, gamma, beta, mu, xmu, var, eps)
    if ln_param.get("mode") == "test":
        out = gamma * x + beta
    return out, cache


@forward.mistake("copied from batch norm: writes running averages into ln_param, which then refuses its own keys")
@ln_forward
def lnf_writes_running(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    ln_param["running_mean"] = 0.9 * ln_param.get("running_mean", 0) + 0.1 * mu
    ln_param["running_var"] = 0.9 * ln_param.get("running_var", 0) + 0.1 * var
    return _finish(x, gamma, beta, mu, xmu, var, eps)


@forward.mistake("variance as mean(x^2) - mean(x)^2 in x's dtype: wrong for samples far from zero")
@ln_forward
def lnf_one_pass(x, gamma, beta, ln_param, eps):
    mu = x.mean(axis=1, keepdims=True)
    var = np.maximum((x * x).mean(axis=1, keepdims=True) - mu * mu, 0)
    return _finish(x, gamma, beta, mu, x - mu, var, eps)


@forward.mistake("cache.xhat holds the scaled-and-shifted output")
@ln_forward
def lnf_cache_out(x, gamma, beta, ln_param, eps):
    out, c = _finish(x, gamma, beta, *_stats(x), eps)
    return out, LayerNormCache(x, c.mu, c.xmu, c.var, c.ivar, out, gamma, eps)


@forward.mistake("divides by var + eps, the square root forgotten")
@ln_forward
def lnf_no_sqrt(x, gamma, beta, ln_param, eps):
    mu, xmu, var = _stats(x)
    ivar = 1.0 / (var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x, mu, xmu, var, ivar, xhat, gamma, eps)


@forward.correct("statistics with np.mean/np.var(keepdims) in float64, then cast")
@ln_forward
def lnf_ok_npvar(x, gamma, beta, ln_param, eps):
    x64 = x.astype(np.float64)
    mu64 = x64.mean(axis=1, keepdims=True)
    var = x64.var(axis=1, keepdims=True).astype(x.dtype)
    return _finish(x, gamma, beta, mu64.astype(x.dtype), (x64 - mu64).astype(x.dtype), var, eps)


@forward.correct("through the transpose: batch-norm arithmetic on x.T, gamma and beta applied after transposing back")
@ln_forward
def lnf_ok_transpose(x, gamma, beta, ln_param, eps):
    mu, xmu, var = (a.T for a in _stats(x.T, axis=0))
    return _finish(x, gamma, beta, mu, xmu, var, eps)


@forward.correct("xhat by division and the mode key read but not used")
@ln_forward
def lnf_ok_divide(x, gamma, beta, ln_param, eps):
    ln_param.get("mode", "train")
    mu, xmu, var = _stats(x)
    sd = np.sqrt(var + eps)
    xhat = xmu / sd
    return xhat * gamma + beta, LayerNormCache(x, mu, xmu, var, 1 / sd, xhat, gamma, eps)


# ---- backward ----

def _ln_back(dout, cache, slip=None):
    xhat = cache.xhat
    axis = 0 if slip == "axis0" else 1
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=1 if slip == "dgamma_axis1" else 0)
    dxhat = dout if slip == "no_gamma" else cache.gamma * dout
    ivar = 1 / np.sqrt(cache.var) if slip == "no_eps" else cache.ivar
    term = 0 if slip == "no_xhat_term" else xhat * np.mean(dxhat * xhat, axis=axis, keepdims=True)
    sign = -1 if slip == "sign" else 1
    dx = ivar * (dxhat - dxhat.mean(axis=axis, keepdims=True) - sign * term)
    return dx, dgamma, dbeta


@backward.mistake("the means taken over the batch (axis=0), batch norm's backward")
@ln_backward
def lnb_axis0(dout, cache):
    return _ln_back(dout, cache, "axis0")


@backward.mistake("dgamma summed over the features (axis=1): one value per sample")
@ln_backward
def lnb_dgamma_axis1(dout, cache):
    return _ln_back(dout, cache, "dgamma_axis1")


@backward.mistake("gamma left out: dxhat = dout")
@ln_backward
def lnb_no_gamma(dout, cache):
    return _ln_back(dout, cache, "no_gamma")


@backward.mistake("ivar recomputed as 1/sqrt(var) without eps")
@ln_backward
def lnb_no_eps(dout, cache):
    return _ln_back(dout, cache, "no_eps")


@backward.mistake("the term through the variance (xhat * mean(dxhat * xhat)) forgotten")
@ln_backward
def lnb_no_xhat_term(dout, cache):
    return _ln_back(dout, cache, "no_xhat_term")


@backward.mistake("sign of the variance term flipped")
@ln_backward
def lnb_sign(dout, cache):
    return _ln_back(dout, cache, "sign")


@backward.mistake("float64 means (dtype=np.float64) never cast back: a float32 pass returns float64")
@ln_backward
def lnb_float64(dout, cache):
    dxhat = cache.gamma * dout
    m1 = dxhat.mean(axis=1, keepdims=True, dtype=np.float64)
    m2 = (dxhat * cache.xhat).mean(axis=1, keepdims=True, dtype=np.float64)
    return cache.ivar * (dxhat - m1 - cache.xhat * m2), (dout * cache.xhat).sum(0), dout.sum(0)


@backward.mistake("dxhat computed in place in dout (dout *= gamma)")
@ln_backward
def lnb_inplace(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dout *= cache.gamma
    dx = cache.ivar * (dout - dout.mean(1, keepdims=True) - cache.xhat * (dout * cache.xhat).mean(1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("the sums form with D read as dout.shape[0]: ivar / D * (D * dxhat - sum - xhat * sum)")
@ln_backward
def lnb_D_is_N(dout, cache):
    D = dout.shape[0]
    dxhat = cache.gamma * dout
    s1 = dxhat.sum(axis=1, keepdims=True)
    s2 = (dxhat * cache.xhat).sum(axis=1, keepdims=True)
    return cache.ivar / D * (D * dxhat - s1 - cache.xhat * s2), (dout * cache.xhat).sum(0), dout.sum(0)


@backward.mistake("dbeta left per sample: dout itself, (N, D)")
@ln_backward
def lnb_dbeta_unsummed(dout, cache):
    dx, dgamma, _ = _ln_back(dout, cache)
    return dx, dgamma, dout.copy()


@backward.mistake("dxhat uses gamma and dgamma uses xmu rather than xhat")
@ln_backward
def lnb_dgamma_xmu(dout, cache):
    dx, _, dbeta = _ln_back(dout, cache)
    return dx, (dout * cache.xmu).sum(axis=0), dbeta


@backward.correct("the sums form with D = dout.shape[1]: ivar / D * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))")
@ln_backward
def lnb_ok_sums(dout, cache):
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    s1 = dxhat.sum(axis=1, keepdims=True)
    s2 = (dxhat * cache.xhat).sum(axis=1, keepdims=True)
    return cache.ivar / D * (D * dxhat - s1 - cache.xhat * s2), (dout * cache.xhat).sum(0), dout.sum(0)


@backward.correct("batch norm's closed form applied to the transposes")
@ln_backward
def lnb_ok_transpose(dout, cache):
    dxhat_t = (cache.gamma * dout).T
    xt, ivt = cache.xhat.T, cache.ivar.T
    N = dxhat_t.shape[0]
    dx_t = ivt * (dxhat_t - dxhat_t.sum(0) / N - xt * (dxhat_t * xt).sum(0) / N)
    return dx_t.T, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)


@backward.correct("the staged graph with per-sample statistics (dvar, dmu)")
@ln_backward
def lnb_ok_staged(dout, cache):
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    dvar = np.sum(dxhat * cache.xmu, axis=1, keepdims=True) * -0.5 * cache.ivar**3
    dmu = -np.sum(dxhat * cache.ivar, axis=1, keepdims=True) - 2 * dvar * cache.xmu.mean(axis=1, keepdims=True)
    dx = dxhat * cache.ivar + dvar * 2 * cache.xmu / D + dmu / D
    return dx, (dout * cache.xhat).sum(0), dout.sum(0)
