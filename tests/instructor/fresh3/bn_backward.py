"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): mistakes and correct variants.

Unless an entry names its own forward pass, its cache is the package's BatchNormCache
(fields x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps).
"""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_forward

from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward")
alt = Catalogue("batchnorm_backward_alt")


def _staged(dout, cache, *, var_path=True, mean_path=True, sign=-1.0, dvar_factor=0.5,
            sq_divisor=None, square_factor=2.0, sqrtvar_power=2, eps_in_ivar_grad=True):
    """The staged graph with switches a mistake turns: every default is the correct graph."""
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar,
                                                 cache.xhat, cache.gamma, cache.eps)
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(xhat * dout, axis=0)
    dxhat = gamma * dout
    divar = np.sum(xmu * dxhat, axis=0)
    dxmu1 = ivar * dxhat
    denominator = sqrtvar**sqrtvar_power if eps_in_ivar_grad else var
    dsqrtvar = sign / denominator * divar
    dvar = dvar_factor / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(dout) / (sq_divisor or N) * dvar
    dxmu2 = square_factor * xmu * dsq if var_path else 0
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = np.ones_like(dout) / N * dmu if mean_path else 0
    return dx1 + dx2, dgamma, dbeta


# ================================================================ staged

@staged.mistake("drops the variance branch: dx gets only xmu's path through xhat and the mean (no dxmu2)")
def missing_variance_branch(dout, cache):
    return _staged(dout, cache, var_path=False)


@staged.mistake("drops the mean branch: dx = dx1, the gradient through mu (dx2) is never added")
def missing_mean_branch(dout, cache):
    return _staged(dout, cache, mean_path=False)


@staged.mistake("wrong sign in the local gradient of 1/sqrtvar: +1/sqrtvar**2")
def ivar_gradient_sign(dout, cache):
    return _staged(dout, cache, sign=+1.0)


@staged.mistake("local gradient of 1/sqrtvar written -1/sqrtvar (power 1 instead of 2)")
def ivar_gradient_power(dout, cache):
    return _staged(dout, cache, sqrtvar_power=1)


@staged.mistake("local gradient of 1/sqrtvar written -1/var, leaving eps out of sqrtvar**2")
def ivar_gradient_without_eps(dout, cache):
    return _staged(dout, cache, eps_in_ivar_grad=False)


@staged.mistake("local gradient of sqrt written 1/sqrt(var + eps), without the factor 1/2")
def sqrt_gradient_without_half(dout, cache):
    return _staged(dout, cache, dvar_factor=1.0)


@staged.mistake("local gradient of the variance's mean divides by N - 1 (dsq = dvar / (N - 1))")
def mean_gradient_n_minus_one(dout, cache):
    return _staged(dout, cache, sq_divisor=dout.shape[0] - 1)


@staged.mistake("local gradient of xmu**2 written xmu (forgets the factor 2)")
def square_gradient_without_two(dout, cache):
    return _staged(dout, cache, square_factor=1.0)


@staged.mistake("dvar multiplies by sqrt(var + eps) instead of dividing: 0.5 * sqrt(var + eps) * dsqrtvar")
def sqrt_gradient_inverted(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = cache.gamma * dout
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dxmu1 = cache.ivar * dxhat
    dsqrtvar = -1.0 / cache.sqrtvar**2 * divar
    dvar = 0.5 * np.sqrt(cache.var + cache.eps) * dsqrtvar
    dxmu2 = 2 * cache.xmu * dvar / N
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.mistake("dx2 = dmu: the mean's local gradient 1/N forgotten")
def mean_gradient_without_one_over_n(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = cache.gamma * dout
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dxmu1 = cache.ivar * dxhat
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu2 = 2 * cache.xmu * dvar / dout.shape[0]
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu, dgamma, dbeta


@staged.mistake("divar not summed over the batch: an (N, D) gradient for the (D,) node ivar")
def divar_not_summed(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = cache.gamma * dout
    divar = cache.xmu * dxhat
    dxmu1 = cache.ivar * dxhat
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu2 = 2 * cache.xmu * dvar / N
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.mistake("dxhat = dout: forgets that xhat was scaled by gamma")
def dxhat_without_gamma(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = dout
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dxmu1 = cache.ivar * dxhat
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu2 = 2 * cache.xmu * dvar / N
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.mistake("dgamma = sum(dout * x): multiplies by the input instead of xhat")
def dgamma_with_x(dout, cache):
    dx, _, dbeta = _staged(dout, cache)
    return dx, np.sum(dout * cache.x, axis=0), dbeta


@staged.mistake("dbeta = dout.mean(axis=0): averages instead of summing over the batch")
def dbeta_mean(dout, cache):
    dx, dgamma, _ = _staged(dout, cache)
    return dx, dgamma, dout.mean(axis=0)


@staged.mistake("dgamma and dbeta summed over the features (axis=1): one value per sample")
def parameter_sums_over_features(dout, cache):
    dx, _, _ = _staged(dout, cache)
    return dx, np.sum(cache.xhat * dout, axis=1), np.sum(dout, axis=1)


@staged.mistake("scales the caller's dout in place (dxhat = dout; dxhat *= gamma) after taking dbeta")
def scales_dout_in_place(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = dout
    dxhat *= cache.gamma
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dxmu1 = cache.ivar * dxhat
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu2 = 2 * cache.xmu * dvar / N
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.mistake("accumulates dxmu into the cache's xmu array in place, so a second backward call reads a corrupted cache")
def writes_into_cache(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dxhat = cache.gamma * dout
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu = cache.xmu
    dxmu *= 2 * dvar / N
    dxmu += cache.ivar * dxhat
    dmu = -np.sum(dxmu, axis=0)
    return dxmu + dmu / N, dgamma, dbeta


@staged.correct("merges ivar, sqrtvar and var into one node: dvar = -0.5 * (var + eps)**-1.5 * sum(dxhat * xmu)")
def merged_variance_node(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.xhat, axis=0)
    dxhat = dout * cache.gamma
    dvar = -0.5 * np.sum(dxhat * cache.xmu, axis=0) * (cache.var + cache.eps) ** -1.5
    dmu = -np.sum(dxhat * cache.ivar, axis=0) - 2.0 * dvar * cache.xmu.mean(axis=0)
    dx = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / N + dmu / N
    return dx, dgamma, dbeta


def _tuple_forward(x, gamma, beta, bn_param):
    """The package's forward pass, keeping only a tuple (xhat, xmu, ivar, gamma) as the cache."""
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    return out, (cache.xhat, cache.xmu, cache.ivar, cache.gamma)


@staged.correct("its own forward pass keeps a tuple (xhat, xmu, ivar, gamma); the graph is walked from ivar alone",
                forward=_tuple_forward)
def tuple_cache(dout, cache):
    xhat, xmu, ivar, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    divar = (dxhat * xmu).sum(axis=0)
    # ivar = (var + eps)**-1/2, so divar/dvar = -ivar**3 / 2
    dvar = -0.5 * ivar**3 * divar
    dxmu = dxhat * ivar + 2.0 * xmu * dvar / N
    return dxmu - dxmu.mean(axis=0), dgamma, dbeta


@staged.correct("float32-careful: every batch sum accumulated in float64, results rounded to dout's dtype")
def float64_sums(dout, cache):
    d = dout.astype(np.float64)
    xhat, xmu = cache.xhat.astype(np.float64), cache.xmu.astype(np.float64)
    ivar, gamma = cache.ivar.astype(np.float64), cache.gamma.astype(np.float64)
    N = d.shape[0]
    dbeta = d.sum(axis=0)
    dgamma = (xhat * d).sum(axis=0)
    dxhat = gamma * d
    dsqrtvar = -ivar**2 * (xmu * dxhat).sum(axis=0)
    dvar = 0.5 * ivar * dsqrtvar
    dxmu = ivar * dxhat + 2.0 * xmu * dvar / N
    dx = dxmu - dxmu.sum(axis=0) / N
    dtype = np.result_type(dout, cache.xhat)
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


# ================================================================ closed form

@alt.mistake("forgets to divide the xhat * dgamma term by N: gamma * ivar * (dout - dbeta/N - xhat * dgamma)")
def alt_dgamma_term_without_n(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - dbeta / N - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("dx lacks the factor gamma: ivar * (dout - (dbeta + xhat * dgamma) / N)")
def alt_without_gamma(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("divides the two sums by N - 1 instead of N")
def alt_n_minus_one(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("sign slip: + xhat * dgamma / N")
def alt_sign(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - dbeta / N + cache.xhat * dgamma / N), dgamma, dbeta


@alt.mistake("recomputes the inverse std as 1/sqrt(var), leaving out eps")
def alt_ivar_without_eps(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    ivar = 1.0 / np.sqrt(cache.var)
    return cache.gamma * ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("multiplies by ivar**2 (one over the variance) instead of ivar")
def alt_ivar_squared(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar**2 * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("the textbook N * dout form without the final division by N")
def alt_missing_final_division(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("uses xmu where xhat belongs in the dgamma term: (dbeta + xmu * dgamma) / N")
def alt_xmu_for_xhat(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("dgamma = sum(dout * xmu): the unnormalized deviation instead of xhat")
def alt_dgamma_with_xmu(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N)
    return dx, (dout * cache.xmu).sum(axis=0), dbeta


@alt.mistake("dgamma and dbeta kept as (1, D) rows (keepdims=True)")
def alt_keepdims(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * cache.xhat).sum(axis=0, keepdims=True)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("returns (dx, dbeta, dgamma): the two parameter gradients in the wrong order")
def alt_returns_swapped(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dbeta, dgamma


@alt.mistake("means taken over each sample's features (axis=1, keepdims): layer norm's formula")
def alt_means_over_features(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    mean_dout = dout.mean(axis=1, keepdims=True)
    mean_dout_xhat = (dout * cache.xhat).mean(axis=1, keepdims=True)
    return cache.gamma * cache.ivar * (dout - mean_dout - cache.xhat * mean_dout_xhat), dgamma, dbeta


@alt.mistake("drops the mean term: gamma * ivar * (dout - xhat * dgamma / N)")
def alt_without_mean_term(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - cache.xhat * dgamma / N), dgamma, dbeta


@alt.correct("the N * dout form with the division by N in front: gamma * ivar / N * (N * dout - dbeta - xhat * dgamma)")
def alt_n_times_dout(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.correct("einsum sums accumulated in float64, dx rounded to dout's dtype")
def alt_einsum_float64(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout, dtype=np.float64)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat, dtype=np.float64)
    dx = (cache.gamma * cache.ivar).astype(np.float64) * (dout - (dbeta + cache.xhat * dgamma) / N)
    dtype = np.result_type(dout, cache.xhat)
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


@alt.correct("written with xmu and var + eps instead of xhat and ivar")
def alt_in_xmu_and_var(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xmu).sum(axis=0) / np.sqrt(cache.var + cache.eps)
    std = np.sqrt(cache.var + cache.eps)
    dx = cache.gamma / (N * std) * (N * dout - dbeta - cache.xmu * (dout * cache.xmu).sum(axis=0) / std**2)
    return dx, dgamma, dbeta
