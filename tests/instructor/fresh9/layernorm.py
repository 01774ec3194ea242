"""layernorm_forward and layernorm_backward: the statistics of each sample over its features."""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import MODES
from cs231n_bn.layernorm import LN_PARAM_KEYS, LayerNormCache, layernorm_forward
from tests.instructor.fresh9.scaffold import centred
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward", forward=layernorm_forward)


def _setup(x, gamma, beta, ln_param):
    """layernorm_forward's argument checks; returns gamma, beta, eps."""
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
    eps = validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", 1e-5))
    validation.nonempty_batch(where, "x", x)
    if D < 2:
        raise ValueError(f"{where}: layer norm needs at least 2 features per sample")
    return gamma, beta, eps


def _ln(x, gamma, beta, eps, mu=None, var=None, sqrt=np.sqrt):
    """The forward pass from given (N, 1) statistics (computed here when not given); xmu is
    centred around the float64 mean (scaffold.centred)."""
    if mu is None:
        mu = x.mean(axis=1, keepdims=True)
    xmu = centred(x, axis=1)
    if var is None:
        var = (xmu * xmu).mean(axis=1, keepdims=True)
    ivar = 1.0 / sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


def _replace(cache, **fields):
    return LayerNormCache(**{**vars(cache), **fields})


@forward.mistake("Normalizes every feature over the batch (axis=0, batch norm's axis) instead of every sample over its features.")
def batch_axis(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return out, LayerNormCache(x=x, mu=mu, xmu=x - mu, var=var, ivar=1 / np.sqrt(var + eps), xhat=xhat,
                               gamma=gamma, eps=eps)


@forward.mistake("Takes the per-sample mean and variance without keepdims, so x - mu broadcasts the (N,) means along the features (wrong unless it crashes).")
def no_keepdims(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    mu = x.mean(axis=1)
    xmu = x - mu
    var = (xmu**2).mean(axis=1)
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@forward.mistake("Uses the unbiased per-sample variance (dividing by D - 1).")
def unbiased(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, var=x.var(axis=1, ddof=1, keepdims=True))


@forward.mistake("Adds eps after the square root: ivar = 1 / (sqrt(var) + eps).")
def eps_after_sqrt(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, 0.0, sqrt=lambda v: np.sqrt(v) + eps)
    return out, _replace(cache, eps=eps)


@forward.mistake("Ignores ln_param['eps'] and always uses 1e-5.")
def eps_ignored(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, 1e-5)


@forward.mistake("Stores the statistics squeezed to shape (N,) in the cache (mu, var, ivar) instead of (N, 1).")
def cache_squeezed(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, eps)
    return out, _replace(cache, mu=cache.mu[:, 0], var=cache.var[:, 0], ivar=cache.ivar[:, 0])


@forward.mistake("Promotes x to float64 for the statistics and never casts back, so float32 x gives a float64 out.")
def upcast(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    out, cache = _ln(x.astype(np.float64), gamma, beta, eps)
    return out, _replace(cache, x=x)


@forward.mistake("Centres x in place (x -= mu), overwriting the caller's x with x - mu.")
def centres_in_place(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    original = x.copy()
    mu = x.mean(axis=1, keepdims=True)
    x -= mu
    out, cache = _ln(x, gamma, beta, eps, mu=np.zeros_like(mu))
    return out, _replace(cache, x=original, mu=mu)


@forward.mistake("Stores sqrt(var + eps) in the cache's ivar field instead of its inverse.")
def cache_ivar_is_std(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, eps)
    return out, _replace(cache, ivar=1 / cache.ivar)


@forward.mistake("Scales and shifts the wrong way round: out = (xhat + beta) * gamma.")
def shift_then_scale(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    out, cache = _ln(x, gamma, beta, eps)
    return (cache.xhat + beta) * gamma, cache


@forward.mistake("Normalizes by the per-sample standard deviation of the raw x around zero, var = mean(x**2), forgetting to centre it.")
def var_not_centred(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, var=(x * x).mean(axis=1, keepdims=True))


@forward.correct("Transposes x and runs batch norm's column statistics on x.T, then transposes back.")
def via_transpose(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    xt = x.T
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    return _ln(x, gamma, beta, eps, mu=mu[:, None], var=var[:, None])


@forward.correct("Statistics with einsum summed in float64, cast back to x's dtype.")
def einsum_float64(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    D = x.shape[1]
    mu = np.einsum("nd->n", x, dtype=np.float64)[:, None] / D
    d = x - mu
    var = (np.einsum("nd,nd->n", d, d)[:, None] / D).astype(x.dtype)
    return _ln(x, gamma, beta, eps, mu=mu.astype(x.dtype), var=var)


@forward.correct("np.mean / np.var with keepdims=True, and xhat by division.")
def np_var_keepdims(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    return _ln(x, gamma, beta, eps, mu=np.mean(x, axis=1, keepdims=True), var=np.var(x, axis=1, keepdims=True))


@forward.correct("Loops over the samples, normalizing each row on its own.")
def loop_rows(x, gamma, beta, ln_param):
    gamma, beta, eps = _setup(x, gamma, beta, ln_param)
    N = x.shape[0]
    mu, var = np.empty((N, 1), x.dtype), np.empty((N, 1), x.dtype)
    for n in range(N):
        mu[n, 0] = x[n].mean()
        var[n, 0] = ((x[n] - mu[n, 0]) ** 2).mean()
    return _ln(x, gamma, beta, eps, mu=mu, var=var)


def _bsetup(dout, cache):
    where = "layernorm_backward"
    validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def _back(dout, cache, dx=None):
    _bsetup(dout, cache)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dxhat = cache.gamma * dout
    xhat = cache.xhat
    if dx is None:
        dx = lambda dxhat, xhat, ivar: ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)
                                               - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx(dxhat, xhat, cache.ivar), dgamma, dbeta


@backward.mistake("Sums dgamma over each sample's features (axis=1) instead of over the batch.")
def dgamma_axis1(dout, cache):
    dx, dgamma, dbeta = _back(dout, cache)
    return dx, (dout * cache.xhat).sum(axis=1), dbeta


@backward.mistake("Leaves gamma out of dxhat (dxhat = dout).")
def no_gamma(dout, cache):
    _, dgamma, dbeta = _back(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dout - dout.mean(axis=1, keepdims=True) - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@backward.mistake("Takes the means of dx over the batch (axis=0), batch norm's axis, instead of over each sample's features.")
def means_over_batch(dout, cache):
    return _back(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0)))


@backward.mistake("Drops the xhat * mean(dxhat * xhat) term of dx (the path through the variance).")
def no_variance_term(dout, cache):
    return _back(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=1, keepdims=True)))


@backward.mistake("Divides the two sums of dx by D - 1 instead of D.")
def d_minus_one(dout, cache):
    D = dout.shape[1]
    return _back(dout, cache, lambda g, xhat, ivar: ivar * (g - g.sum(axis=1, keepdims=True) / (D - 1)
                                                             - xhat * (g * xhat).sum(axis=1, keepdims=True) / (D - 1)))


@backward.mistake("Returns dbeta summed over the features (axis=1) instead of over the batch.")
def dbeta_axis1(dout, cache):
    dx, dgamma, dbeta = _back(dout, cache)
    return dx, dgamma, dout.sum(axis=1)


@backward.mistake("Computes the means with dtype=np.float64 and never casts back, so a float32 pass returns a float64 dx.")
def means_float64(dout, cache):
    return _back(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=1, keepdims=True, dtype=np.float64)
                                                             - xhat * (g * xhat).mean(axis=1, keepdims=True, dtype=np.float64)))


@backward.mistake("Multiplies dx by the variance term with a plus sign: ivar * (dxhat - mean(dxhat) + xhat * mean(dxhat * xhat)).")
def variance_term_sign(dout, cache):
    return _back(dout, cache, lambda g, xhat, ivar: ivar * (g - g.mean(axis=1, keepdims=True)
                                                             + xhat * (g * xhat).mean(axis=1, keepdims=True)))


@backward.mistake("Scales dx by ivar squared (1 / (var + eps)) instead of ivar.")
def ivar_squared(dout, cache):
    dx, dgamma, dbeta = _back(dout, cache)
    return dx * cache.ivar, dgamma, dbeta


@backward.correct("dx = ivar / D * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)), sums over axis 1.")
def sum_form(dout, cache):
    D = dout.shape[1]
    return _back(dout, cache, lambda g, xhat, ivar: ivar / D * (D * g - g.sum(axis=1, keepdims=True)
                                                                 - xhat * (g * xhat).sum(axis=1, keepdims=True)))


@backward.correct("Transposes to (D, N) and applies batch norm's closed form over axis 0 per sample, then transposes back.")
def back_via_transpose(dout, cache):
    _bsetup(dout, cache)
    g = (cache.gamma * dout).T
    xhat = cache.xhat.T
    D = g.shape[0]
    dx = cache.ivar.T * (g - (g.sum(axis=0) + xhat * (g * xhat).sum(axis=0)) / D)
    return dx.T, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)


@backward.correct("The staged graph per sample: dvar and dmu as explicit nodes over axis 1 with keepdims.")
def staged_rows(dout, cache):
    _bsetup(dout, cache)
    D = dout.shape[1]
    dxhat = cache.gamma * dout
    divar = (dxhat * cache.xmu).sum(axis=1, keepdims=True)
    dvar = -0.5 * cache.ivar**3 * divar
    dxmu = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / D
    dx = dxmu - dxmu.sum(axis=1, keepdims=True) / D
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)
