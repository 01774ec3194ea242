"""layernorm_forward and layernorm_backward: batch norm's algebra with the axes swapped, and the ways that goes wrong."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.layernorm import LayerNormCache
from tests.instructor.fresh.entry import NAMED, Catalogue

forward = Catalogue("layernorm_forward")
backward = Catalogue("layernorm_backward")


def eps_of(ln_param):
    return ln_param.get("eps", 1e-5)


def ln_cache(x, mu, var, ivar, xhat, gamma, eps):
    return LayerNormCache(x=x, mu=mu, xmu=x - mu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


def ln(x, gamma, beta, ln_param, axis=1, ddof=0, eps_inside=True):
    eps = eps_of(ln_param)
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    ivar = 1 / np.sqrt(var + eps) if eps_inside else 1 / (np.sqrt(var) + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, ln_cache(x, mu, var, ivar, xhat, gamma, eps)


@forward.mistake("statistics over the batch (axis=0): batch norm, not layer norm", judged=NAMED)
def over_batch(x, gamma, beta, ln_param):
    return ln(x, gamma, beta, ln_param, axis=0)


@forward.mistake("mean and variance without keepdims, so x - mu broadcasts along the wrong axis", judged=NAMED)
def without_keepdims(x, gamma, beta, ln_param):
    eps = eps_of(ln_param)
    mu, var = x.mean(axis=1), x.var(axis=1)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, ln_cache(x, mu, var, 1 / np.sqrt(var + eps), xhat, gamma, eps)


@forward.mistake("unbiased variance (ddof=1) over each sample's features", judged=NAMED)
def unbiased(x, gamma, beta, ln_param):
    return ln(x, gamma, beta, ln_param, ddof=1)


@forward.mistake("eps outside the square root", judged=NAMED)
def eps_outside(x, gamma, beta, ln_param):
    return ln(x, gamma, beta, ln_param, eps_inside=False)


@forward.mistake("batch norm reused on x.T with gamma and beta passed along (they now line up with the batch)", judged=NAMED)
def batchnorm_on_transpose_with_gamma(x, gamma, beta, ln_param):
    outT, _ = batchnorm_forward(x.T, gamma, beta, {"mode": "train", "eps": eps_of(ln_param)})
    out = outT.T
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    ivar = 1 / np.sqrt(var + eps_of(ln_param))
    return out, ln_cache(x, mu, var, ivar, (x - mu) * ivar, gamma, eps_of(ln_param))


@forward.mistake("x.reshape(D, N) instead of x.T before normalizing over axis 0", judged=NAMED)
def reshape_not_transpose(x, gamma, beta, ln_param):
    N, D = x.shape
    eps = eps_of(ln_param)
    xr = x.reshape(D, N)
    xhat = ((xr - xr.mean(axis=0)) / np.sqrt(xr.var(axis=0) + eps)).reshape(N, D)
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return gamma * xhat + beta, ln_cache(x, mu, var, 1 / np.sqrt(var + eps), xhat, gamma, eps)


@forward.mistake("gamma and beta swapped", judged=NAMED)
def gamma_beta_swapped(x, gamma, beta, ln_param):
    out, cache = ln(x, gamma, beta, ln_param)
    return beta * cache.xhat + gamma, cache


@forward.mistake("gamma and beta not applied", judged=NAMED)
def no_gamma_beta(x, gamma, beta, ln_param):
    out, cache = ln(x, gamma, beta, ln_param)
    return cache.xhat, cache


@forward.mistake("variance about zero: mean(x**2) over the features", judged=NAMED)
def variance_not_centred(x, gamma, beta, ln_param):
    eps = eps_of(ln_param)
    mu = x.mean(axis=1, keepdims=True)
    var = (x**2).mean(axis=1, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, ln_cache(x, mu, var, ivar, xhat, gamma, eps)


@forward.mistake("one mean and variance over the whole batch", judged=NAMED)
def over_everything(x, gamma, beta, ln_param):
    return ln(x, gamma, beta, ln_param, axis=None)


@forward.mistake("copied batch norm's test branch: no normalization when ln_param['mode'] is 'test'", judged=NAMED)
def test_mode_skips_normalization(x, gamma, beta, ln_param):
    out, cache = ln(x, gamma, beta, ln_param)
    if ln_param.get("mode") == "test":
        out = gamma * x + beta
    return out, cache


@forward.mistake("cache.ivar holds sqrt(var + eps)", judged=NAMED)
def cache_ivar_is_sqrt(x, gamma, beta, ln_param):
    out, c = ln(x, gamma, beta, ln_param)
    return out, ln_cache(c.x, c.mu, c.var, 1 / c.ivar, c.xhat, c.gamma, c.eps)


@forward.mistake("divides by the variance, not the standard deviation", judged=NAMED)
def divides_by_variance(x, gamma, beta, ln_param):
    eps = eps_of(ln_param)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    ivar = 1 / (var + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, ln_cache(x, mu, var, ivar, xhat, gamma, eps)


@forward.mistake("through batch norm on x.T with float64 gamma = 1, beta = 0: a float32 x comes back float64, where the contract keeps its dtype", judged=NAMED)
def via_batchnorm_transpose(x, gamma, beta, ln_param):
    N, D = x.shape
    eps = eps_of(ln_param)
    xhatT, _ = batchnorm_forward(np.ascontiguousarray(x.T), np.ones(N), np.zeros(N), {"mode": "train", "eps": eps})
    xhat = xhatT.T
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return gamma * xhat + beta, ln_cache(x, mu, var, 1 / np.sqrt(var + eps), xhat, gamma, eps)


@forward.mistake("einsum statistics and the one-pass variance, which cancels in float32 far from zero (the course asks for two passes)", judged=NAMED)
def einsum_one_pass(x, gamma, beta, ln_param):
    eps = eps_of(ln_param)
    D = x.shape[1]
    mu = np.einsum("nd->n", x)[:, None] / D
    var = np.einsum("nd,nd->n", x, x)[:, None] / D - mu**2
    ivar = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * ivar
    return gamma * xhat + beta, ln_cache(x, mu, var, ivar, xhat, gamma, eps)


# layernorm_backward

def dx_mean_form(dxhat, xhat, ivar, axis=1, divisor=None):
    D = xhat.shape[axis] if divisor is None else divisor
    return ivar * (dxhat - dxhat.sum(axis=axis, keepdims=True) / D
                   - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True) / D)


def params(dout, cache):
    return np.sum(dout * cache.xhat, axis=0), dout.sum(axis=0)


@backward.mistake("batch norm's closed form copied unchanged: means over the batch (axis=0)", judged=NAMED)
def batch_axis_means(dout, cache):
    dgamma, dbeta = params(dout, cache)
    return dx_mean_form(dout * cache.gamma, cache.xhat, cache.ivar, axis=0), dgamma, dbeta


@backward.mistake("gamma applied outside the means: gamma ivar (dout - mean(dout) - xhat mean(dout xhat))", judged=NAMED)
def gamma_outside_means(dout, cache):
    dgamma, dbeta = params(dout, cache)
    return cache.gamma * dx_mean_form(dout, cache.xhat, cache.ivar), dgamma, dbeta


@backward.mistake("gamma forgotten: dxhat = dout", judged=NAMED)
def without_gamma(dout, cache):
    dgamma, dbeta = params(dout, cache)
    return dx_mean_form(dout, cache.xhat, cache.ivar), dgamma, dbeta


@backward.mistake("dgamma and dbeta summed over the features (axis=1)", judged=NAMED)
def params_over_features(dout, cache):
    dx = dx_mean_form(dout * cache.gamma, cache.xhat, cache.ivar)
    return dx, np.sum(dout * cache.xhat, axis=1), dout.sum(axis=1)


@backward.mistake("dgamma and dbeta as means over the batch", judged=NAMED)
def params_means(dout, cache):
    dx = dx_mean_form(dout * cache.gamma, cache.xhat, cache.ivar)
    return dx, np.mean(dout * cache.xhat, axis=0), dout.mean(axis=0)


@backward.mistake("the variance term xhat mean(dxhat xhat) dropped", judged=NAMED)
def variance_term_dropped(dout, cache):
    dgamma, dbeta = params(dout, cache)
    dxhat = dout * cache.gamma
    return cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)), dgamma, dbeta


@backward.mistake("the mean term mean(dxhat) dropped", judged=NAMED)
def mean_term_dropped(dout, cache):
    dgamma, dbeta = params(dout, cache)
    dxhat = dout * cache.gamma
    return cache.ivar * (dxhat - cache.xhat * (dxhat * cache.xhat).mean(axis=1, keepdims=True)), dgamma, dbeta


@backward.mistake("divides the sums by D - 1", judged=NAMED)
def d_minus_1(dout, cache):
    dgamma, dbeta = params(dout, cache)
    D = dout.shape[1]
    return dx_mean_form(dout * cache.gamma, cache.xhat, cache.ivar, divisor=D - 1), dgamma, dbeta


@backward.mistake("means over the features without keepdims ((N,) broadcast against the D columns)", judged=NAMED)
def means_without_keepdims(dout, cache):
    dgamma, dbeta = params(dout, cache)
    dxhat = dout * cache.gamma
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1) - cache.xhat * (dxhat * cache.xhat).mean(axis=1))
    return dx, dgamma, dbeta


@backward.mistake("dx = gamma * ivar * dout: the per-sample statistics treated as constants", judged=NAMED)
def statistics_constant(dout, cache):
    dgamma, dbeta = params(dout, cache)
    return cache.gamma * cache.ivar * dout, dgamma, dbeta


@backward.mistake("batch norm's backward on the transposed arrays, gamma never folded into dout (the transposed cache has gamma 1)", judged=NAMED)
def batchnorm_backward_on_transpose(dout, cache):
    from cs231n_bn.batchnorm import BatchNormCache

    N = dout.shape[0]
    ones = np.ones(N)
    c = cache
    bn = BatchNormCache(mode="train", x=c.x.T, mu=c.mu.ravel(), xmu=c.xmu.T, var=c.var.ravel(),
                        sqrtvar=1 / c.ivar.ravel(), ivar=c.ivar.ravel(), xhat=c.xhat.T, gamma=ones, eps=c.eps)
    dxT, _, _ = batchnorm_backward_alt(dout.T, bn)
    dgamma, dbeta = params(dout, cache)
    return dxT.T, dgamma, dbeta


@backward.mistake("ivar squared in dx", judged=NAMED)
def ivar_squared(dout, cache):
    dgamma, dbeta = params(dout, cache)
    return dx_mean_form(dout * cache.gamma, cache.xhat, cache.ivar**2), dgamma, dbeta


@backward.correct("batch norm's closed form on the transposed arrays, gamma folded into dout first")
def batchnorm_on_transpose(dout, cache):
    from cs231n_bn.batchnorm import BatchNormCache

    c = cache
    N = dout.shape[0]
    bn = BatchNormCache(mode="train", x=c.x.T, mu=c.mu.ravel(), xmu=c.xmu.T, var=c.var.ravel(),
                        sqrtvar=1 / c.ivar.ravel(), ivar=c.ivar.ravel(), xhat=c.xhat.T, gamma=np.ones(N), eps=c.eps)
    dxT, _, _ = batchnorm_backward_alt((dout * c.gamma).T, bn)
    return dxT.T, np.sum(dout * c.xhat, axis=0), dout.sum(axis=0)


def tuple_forward(x, gamma, beta, ln_param):
    """A layer norm forward pass whose cache is a tuple (xhat, gamma, ivar)."""
    out, c = ln(x, gamma, beta, ln_param)
    return out, (c.xhat, c.gamma, c.ivar)


@backward.correct("N-times form on a tuple cache (xhat, gamma, ivar), einsum sums", forward=tuple_forward)
def tuple_cache(dout, cache):
    xhat, gamma, ivar = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = ivar / D * (D * dxhat - np.einsum("nd->n", dxhat)[:, None]
                     - xhat * np.einsum("nd,nd->n", dxhat, xhat)[:, None])
    return dx, np.einsum("nd,nd->d", dout, xhat), np.einsum("nd->d", dout)


ENTRIES = [*forward.entries, *backward.entries]
