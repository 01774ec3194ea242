"""batchnorm_backward_alt (closed form): factors and terms of dx = gamma ivar (dout - (dbeta + xhat dgamma) / N)."""

import numpy as np

from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

catalogue = Catalogue("batchnorm_backward_alt")
mistake, correct = catalogue.mistake, catalogue.correct


def sums(dout, cache):
    return dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)


@mistake("the 1/N of the two mean terms forgotten", judged=NAMED)
def missing_one_over_n(dout, cache):
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@mistake("1/(N-1) instead of 1/N (Bessel's correction where there is none)", judged=NAMED)
def one_over_n_minus_1(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / (N - 1)), dgamma, dbeta


@mistake("N factored out wrongly: gamma ivar / N (dout - dbeta - xhat dgamma), dout not multiplied by N", judged=NAMED)
def n_factored_wrongly(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar / N * (dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@mistake("gamma missing from dx", judged=NAMED)
def dx_without_gamma(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("ivar missing from dx", judged=NAMED)
def dx_without_ivar(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("ivar squared (1 / (var + eps)) instead of 1 / sqrt(var + eps)", judged=NAMED)
def ivar_squared(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar**2 * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("ivar recomputed without eps: 1 / sqrt(var)", judged=NAMED)
def ivar_without_eps(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma / np.sqrt(cache.var) * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("sign of the variance term flipped: + xhat dgamma", judged=NAMED)
def xhat_term_sign(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta - cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("the mean term dbeta / N dropped", judged=NAMED)
def mean_term_dropped(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - cache.xhat * dgamma / N), dgamma, dbeta


@mistake("the variance term xhat dgamma / N dropped", judged=NAMED)
def variance_term_dropped(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta / N), dgamma, dbeta


@mistake("xmu in place of xhat in the variance term", judged=NAMED)
def xmu_for_xhat(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@mistake("dgamma taken as sum(dxhat * xhat), gamma folded in twice", judged=NAMED)
def dgamma_with_gamma(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.gamma * cache.xhat, axis=0)
    dx = cache.ivar * (cache.gamma * dout - (cache.gamma * dbeta + cache.xhat * dgamma) / N)
    return dx, dgamma, dbeta


@mistake("the variance term uses gamma twice: gamma ivar (dout - (dbeta + xhat gamma dgamma) / N)", judged=NAMED)
def variance_term_gamma_twice(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * cache.gamma * dgamma) / N), dgamma, dbeta


@mistake("sums over the features (axis=1, keepdims) in the dx formula", judged=GENERIC)
def sums_over_features(dout, cache):
    D = dout.shape[1]
    dbeta, dgamma = sums(dout, cache)
    dbeta_row = dout.sum(axis=1, keepdims=True)
    dgamma_row = np.sum(dout * cache.xhat, axis=1, keepdims=True)
    return cache.gamma * cache.ivar * (dout - (dbeta_row + cache.xhat * dgamma_row) / D), dgamma, dbeta


@mistake("dx = gamma * ivar * dout: forgets that mu and var depend on x", judged=NAMED)
def statistics_constant(dout, cache):
    dbeta, dgamma = sums(dout, cache)
    return cache.gamma * cache.ivar * dout, dgamma, dbeta


@mistake("overall sign of dx flipped", judged=NAMED)
def dx_sign(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = sums(dout, cache)
    return -cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@mistake("dgamma and dbeta as batch means (the 1/N put on them instead of on the dx terms)", judged=NAMED)
def parameter_means(dout, cache):
    dbeta, dgamma = dout.mean(axis=0), np.mean(dout * cache.xhat, axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma)), dgamma, dbeta


# Correct in unusual forms.

@correct("N dout - dbeta - xhat dgamma, all over N, with einsum sums")
def n_times_dout(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    return cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@correct("the mean form: ivar (dxhat - mean(dxhat) - xhat mean(dxhat xhat))")
def mean_form(dout, cache):
    dxhat = dout * cache.gamma
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - cache.xhat * (dxhat * cache.xhat).mean(axis=0))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@correct("written with xmu and var instead of xhat and ivar (the paper's form)")
def paper_form(dout, cache):
    N = dout.shape[0]
    xmu, var, eps, gamma = cache.xmu, cache.var, cache.eps, cache.gamma
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = -np.sum(dxhat, axis=0) / np.sqrt(var + eps) + dvar * -2 * xmu.mean(axis=0)
    dx = dxhat / np.sqrt(var + eps) + dvar * 2 * xmu / N + dmu / N
    return dx, np.sum(dout * xmu / np.sqrt(var + eps), axis=0), dout.sum(axis=0)


def minimal_forward(x, gamma, beta, bn_param):
    """A forward pass whose cache is the tuple (xhat, gamma, ivar), all the closed form needs."""
    from tests.instructor.fresh.bn_forward import plain

    out, c = plain(x, gamma, beta, bn_param)
    return out, (c.xhat, c.gamma, c.ivar)


@correct("closed form on a minimal tuple cache (xhat, gamma, ivar)", forward=minimal_forward)
def minimal_cache(dout, cache):
    xhat, gamma, ivar = cache
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


ENTRIES = catalogue.entries
