"""layernorm_forward and layernorm_backward: mistakes and correct variants.

The cache is the package's LayerNormCache (x, mu, xmu, var, ivar, xhat with (N, 1) statistics,
gamma (D,), eps) unless an entry says otherwise.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import MODES
from cs231n_bn.layernorm import DEFAULT_EPS, LN_PARAM_KEYS, LayerNormCache

from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward")


def _given(x, gamma, beta, ln_param):
    """The stub's checks before the region: (gamma, beta, eps)."""
    where = "layernorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    validation.float_array(where, "x", x, ndim=2)
    D = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p, ndim=1)
        validation.same_shape(where, name, p, (D,), "one value per feature of x")
    validation.param_dict(where, "ln_param", ln_param)
    validation.known_keys(where, "ln_param", ln_param, LN_PARAM_KEYS)
    if "mode" in ln_param:
        validation.choice(where, "ln_param['mode']", ln_param["mode"], MODES)
    eps = validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", DEFAULT_EPS))
    validation.nonempty_batch(where, "x", x)
    if D < 2:
        raise ValueError(f"{where}: layer norm needs at least 2 features per sample; got D={D}")
    return gamma, beta, eps


def _done(x, out, cache):
    validation.finite_variance("layernorm_forward", cache.var, x)
    return out, cache


def _cache(x, mu, xmu, var, gamma, eps, **replaced):
    ivar = 1.0 / np.sqrt(var + eps)
    fields = dict(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xmu * ivar, gamma=gamma, eps=eps)
    fields.update(replaced)
    return LayerNormCache(**fields)


def _plain(x, gamma, beta, eps, mu, var):
    cache = _cache(x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


# ================================================================ forward

@forward.mistake("statistics over the batch (axis 0, keepdims): batch norm instead of layer norm")
def ln_stats_over_batch(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    return _plain(x, gamma, beta, eps, x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True))


@forward.mistake("forgets keepdims: x - mu with mu of shape (N,) broadcasts along the features (or fails)")
def ln_without_keepdims(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    return _plain(x, gamma, beta, eps, x.mean(axis=1), x.var(axis=1))


@forward.mistake("unbiased variance over the features (ddof=1)")
def ln_unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    return _plain(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, ddof=1, keepdims=True))


@forward.mistake("eps added to the standard deviation: xmu / (sqrt(var) + eps)")
def ln_eps_outside_sqrt(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    ivar = 1.0 / (np.sqrt(var) + eps)
    cache = _cache(x, mu, x - mu, var, gamma, eps, ivar=ivar, xhat=(x - mu) * ivar)
    return _done(x, gamma * cache.xhat + beta, cache)


@forward.mistake("divides by var + eps, not by its square root")
def ln_divides_by_variance(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    cache = _cache(x, mu, x - mu, var, gamma, eps, ivar=1 / (var + eps), xhat=(x - mu) / (var + eps))
    return _done(x, gamma * cache.xhat + beta, cache)


@forward.mistake("scales and shifts before normalizing: normalizes gamma * x + beta, so gamma and beta cancel out")
def ln_affine_before_normalizing(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    y = gamma * x + beta
    mu, var = y.mean(axis=1, keepdims=True), y.var(axis=1, keepdims=True)
    cache = _cache(y, mu, y - mu, var, gamma, eps)
    return _done(x, cache.xhat, cache)


@forward.mistake("copied batch norm's mode switch: in test mode normalizes over the batch axis instead")
def ln_mode_switch(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    axis = 0 if ln_param.get("mode") == "test" else 1
    return _plain(x, gamma, beta, eps, x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True))


@forward.mistake("computes in float64 (x.astype(np.float64)) and returns float64 for float32 input")
def ln_float64_out(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    x = x.astype(np.float64)
    return _plain(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))


@forward.mistake("centers x in place (x -= mu), changing the caller's array")
def ln_centers_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x -= mu
    cache = _cache(x, mu, x, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@forward.mistake("one-pass variance mean(x**2) - mu**2 in the input's dtype: cancels for float32 samples with a large mean")
def ln_one_pass_variance(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    mu = x.mean(axis=1, keepdims=True)
    return _plain(x, gamma, beta, eps, mu, (x * x).mean(axis=1, keepdims=True) - mu**2)


@forward.mistake("cache keeps the statistics as (N,) vectors (ivar.ravel()), which the backward pass broadcasts along features")
def ln_flat_cache_statistics(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    cache = _cache(x, mu, x - mu, var, gamma, eps)
    flat = LayerNormCache(x=x, mu=mu.ravel(), xmu=cache.xmu, var=var.ravel(), ivar=cache.ivar.ravel(),
                          xhat=cache.xhat, gamma=gamma, eps=eps)
    return _done(x, gamma * cache.xhat + beta, flat)


@forward.mistake("ignores ln_param's eps and always uses 1e-5")
def ln_fixed_eps(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    eps = 1e-5
    return _plain(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))


def _float64_row_stats(x):
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mu) ** 2).mean(axis=1, keepdims=True)
    return mu, (x64 - mu).astype(x.dtype), var.astype(x.dtype)


@forward.correct("batch-norm code reused on x.T: statistics over axis 0 of the transpose, in float64")
def ln_through_transpose(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    xt = x.T.astype(np.float64)
    mu = xt.mean(axis=0)
    xmu_t = xt - mu
    var = (xmu_t**2).mean(axis=0)
    mu, xmu, var = mu[:, None].astype(x.dtype), xmu_t.T.astype(x.dtype), var[:, None].astype(x.dtype)
    cache = _cache(x, mu, xmu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@forward.correct("einsum row sums in float64, rounded to x's dtype")
def ln_einsum(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    D = x.shape[1]
    mu64 = np.einsum("nd->n", x, dtype=np.float64)[:, None] / D
    xmu64 = x - mu64
    var = (np.einsum("nd,nd->n", xmu64, xmu64)[:, None] / D).astype(x.dtype)
    cache = _cache(x, mu64.astype(x.dtype), xmu64.astype(x.dtype), var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@forward.correct("shifted one-pass variance per sample around its first feature, in float64")
def ln_shifted(x, gamma, beta, ln_param):
    gamma, beta, eps = _given(x, gamma, beta, ln_param)
    x64 = x.astype(np.float64)
    d = x64 - x64[:, :1]
    dmean = d.mean(axis=1, keepdims=True)
    var = ((d * d).mean(axis=1, keepdims=True) - dmean**2).astype(x.dtype)
    mu = x64[:, :1] + dmean
    cache = _cache(x, mu.astype(x.dtype), (x64 - mu).astype(x.dtype), var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


# ================================================================ backward

def _ln_dx(dxhat, xhat, ivar):
    return ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)
                   - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))


@backward.mistake("dgamma not summed over the batch: returns the (N, D) array dout * xhat")
def lnb_dgamma_not_summed(dout, cache):
    return _ln_dx(cache.gamma * dout, cache.xhat, cache.ivar), dout * cache.xhat, dout.sum(axis=0)


@backward.mistake("dgamma and dbeta summed over the features (axis=1), one per sample")
def lnb_parameter_sums_over_features(dout, cache):
    dx = _ln_dx(cache.gamma * dout, cache.xhat, cache.ivar)
    return dx, (dout * cache.xhat).sum(axis=1), dout.sum(axis=1)


@backward.mistake("batch norm's closed form unchanged: means over the batch (axis 0)")
def lnb_batchnorm_formula(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - cache.xhat * (dxhat * cache.xhat).mean(axis=0))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dxhat = dout: gamma left out of dx")
def lnb_without_gamma(dout, cache):
    return _ln_dx(dout, cache.xhat, cache.ivar), (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("drops the mean(dxhat) term (the path through mu)")
def lnb_without_mean_term(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - cache.xhat * (dxhat * cache.xhat).mean(axis=1, keepdims=True))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("drops the xhat * mean(dxhat * xhat) term (the path through the variance)")
def lnb_without_variance_term(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("divides the feature sums by D - 1 instead of D")
def lnb_d_minus_one(dout, cache):
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.sum(axis=1, keepdims=True) / (D - 1)
                       - cache.xhat * (dxhat * cache.xhat).sum(axis=1, keepdims=True) / (D - 1))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("sign slip: + xhat * mean(dxhat * xhat)")
def lnb_sign(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)
                       + cache.xhat * (dxhat * cache.xhat).mean(axis=1, keepdims=True))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("multiplies by ivar**2 instead of ivar")
def lnb_ivar_squared(dout, cache):
    return (_ln_dx(cache.gamma * dout, cache.xhat, cache.ivar) * cache.ivar,
            (dout * cache.xhat).sum(axis=0), dout.sum(axis=0))


@backward.mistake("means over the features without keepdims: the (N,) means broadcast along the features (or fail)")
def lnb_without_keepdims(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1) - cache.xhat * (dxhat * cache.xhat).mean(axis=1))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.mistake("dgamma uses dxhat (already scaled by gamma) instead of dout: sum(gamma * dout * xhat)")
def lnb_dgamma_with_gamma(dout, cache):
    dxhat = cache.gamma * dout
    return _ln_dx(dxhat, cache.xhat, cache.ivar), (dxhat * cache.xhat).sum(axis=0), dout.sum(axis=0)


@backward.correct("the staged graph over each sample's features, through xmu and var + eps")
def lnb_staged(dout, cache):
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    dvar = -0.5 * np.sum(dxhat * cache.xmu, axis=1, keepdims=True) * (cache.var + cache.eps) ** -1.5
    dxmu = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / D
    dx = dxmu - dxmu.mean(axis=1, keepdims=True)
    return dx, np.sum(dout * cache.xhat, axis=0), np.sum(dout, axis=0)


@backward.correct("the D * dxhat form with the division by D in front, sums by einsum")
def lnb_d_times(dout, cache):
    D = dout.shape[1]
    dxhat = dout * cache.gamma
    s1 = np.einsum("nd->n", dxhat)[:, None]
    s2 = np.einsum("nd,nd->n", dxhat, cache.xhat)[:, None]
    dx = cache.ivar / D * (D * dxhat - s1 - cache.xhat * s2)
    return dx, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)
