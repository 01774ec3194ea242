"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): mistakes and correct variants."""

import numpy as np


from tests.instructor.fresh7.scaffold import bn_backward
from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward")
alt = Catalogue("batchnorm_backward_alt")


def _staged(dout, cache, slip=None):
    """The graph walked node by node; `slip` names one step a mistake below gets wrong."""
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat,
                                                 cache.gamma, cache.eps)
    dbeta = dout.sum(axis=0)
    dgammax = dout
    dgamma = np.sum(dgammax * (xmu if slip == "dgamma_xmu" else xhat), axis=0)
    dxhat = dgammax if slip == "no_gamma" else gamma * dgammax
    divar = np.sum((xhat if slip == "divar_xhat" else xmu) * dxhat, axis=0)
    dxmu1 = dxhat if slip == "dxmu1_no_ivar" else ivar * dxhat
    dsqrtvar = (1.0 if slip == "dsqrtvar_sign" else -1.0) / sqrtvar**2 * divar
    if slip == "dvar_no_half":
        dvar = 1.0 / np.sqrt(var + eps) * dsqrtvar
    elif slip == "dvar_no_eps":
        dvar = 0.5 / np.sqrt(var) * dsqrtvar
    else:
        dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = (np.ones_like(dout) if slip == "dsq_no_N" else np.ones_like(dout) / N) * dvar
    dxmu2 = (1.0 if slip == "dxmu2_no_2" else 2.0) * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dxmu1 if slip == "dmu_one_branch" else dxmu1 + dxmu2, axis=0)
    dx2 = np.ones_like(dout) / (dout.shape[1] if slip == "dx2_by_D" else N) * dmu
    if slip == "dx_no_mean_branch":
        return dx1, dgamma, dbeta
    if slip == "dx2_subtracted":
        return dx1 - dx2, dgamma, dbeta
    return dx1 + dx2, dgamma, dbeta


@staged.mistake("dgamma sums dout * xmu (the centred input) instead of dout * xhat")
@bn_backward
def bbs_dgamma_xmu(dout, cache):
    return _staged(dout, cache, "dgamma_xmu")


@staged.mistake("dxhat = dout: gamma's local gradient forgotten on the x branch")
@bn_backward
def bbs_no_gamma(dout, cache):
    return _staged(dout, cache, "no_gamma")


@staged.mistake("divar sums xhat * dxhat: the wrong factor of the product xmu * ivar")
@bn_backward
def bbs_divar_xhat(dout, cache):
    return _staged(dout, cache, "divar_xhat")


@staged.mistake("dxmu1 = dxhat: the ivar factor of xhat = xmu * ivar dropped on the first branch")
@bn_backward
def bbs_dxmu1_no_ivar(dout, cache):
    return _staged(dout, cache, "dxmu1_no_ivar")


@staged.mistake("d(1/s)/ds taken as +1/s^2 (sign of the reciprocal's derivative lost)")
@bn_backward
def bbs_dsqrtvar_sign(dout, cache):
    return _staged(dout, cache, "dsqrtvar_sign")


@staged.mistake("d sqrt(u)/du taken as 1/sqrt(u): the 1/2 forgotten")
@bn_backward
def bbs_dvar_no_half(dout, cache):
    return _staged(dout, cache, "dvar_no_half")


@staged.mistake("dvar uses 0.5 / sqrt(var) without eps: wrong when eps is not negligible")
@bn_backward
def bbs_dvar_no_eps(dout, cache):
    return _staged(dout, cache, "dvar_no_eps")


@staged.mistake("the mean node's 1/N forgotten: dsq = ones * dvar")
@bn_backward
def bbs_dsq_no_N(dout, cache):
    return _staged(dout, cache, "dsq_no_N")


@staged.mistake("d(xmu^2) taken as xmu (factor 2 lost)")
@bn_backward
def bbs_dxmu2_no_2(dout, cache):
    return _staged(dout, cache, "dxmu2_no_2")


@staged.correct("dmu sums only dxmu1: the variance branch adds 2 * dvar * sum(xmu) / N, and xmu sums to zero")
@bn_backward
def bbs_ok_dmu_one_branch(dout, cache):
    return _staged(dout, cache, "dmu_one_branch")


@staged.mistake("dx2 spreads dmu over D (dout.shape[1]) instead of N")
@bn_backward
def bbs_dx2_by_D(dout, cache):
    return _staged(dout, cache, "dx2_by_D")


@staged.mistake("dx = dx1 only: the branch through mu = mean(x) forgotten")
@bn_backward
def bbs_dx_no_mean_branch(dout, cache):
    return _staged(dout, cache, "dx_no_mean_branch")


@staged.mistake("the two branches into x subtracted (dx1 - dx2) although dmu already carries the minus")
@bn_backward
def bbs_dx2_subtracted(dout, cache):
    return _staged(dout, cache, "dx2_subtracted")


@staged.mistake("dbeta summed over the features (axis=1): one value per sample")
@bn_backward
def bbs_dbeta_axis1(dout, cache):
    dx, dgamma, _ = _staged(dout, cache)
    return dx, dgamma, dout.sum(axis=1)


@staged.mistake("dxhat computed in place into dout (dout *= gamma), changing the caller's upstream gradient")
@bn_backward
def bbs_dout_inplace(dout, cache):
    dbeta = dout.sum(axis=0)
    dout *= cache.gamma
    dx, dgamma, _ = _staged(dout / cache.gamma, cache)
    return dx, dgamma, dbeta


@staged.mistake("dsq = np.ones((N, D)) / N * dvar: the float64 ones make a float32 pass return float64")
@bn_backward
def bbs_ones_float64(dout, cache):
    dx, dgamma, dbeta = _staged(dout, cache)
    N, D = dout.shape
    return dx + 0 * np.ones((N, D)), dgamma, dbeta


@staged.mistake("dgamma is left unsummed, (N, D): the broadcast of gamma over the batch not undone")
@bn_backward
def bbs_dgamma_unsummed(dout, cache):
    dx, _, dbeta = _staged(dout, cache)
    return dx, dout * cache.xhat, dbeta


@staged.mistake("dgamma and dbeta returned in swapped order")
@bn_backward
def bbs_swapped_returns(dout, cache):
    dx, dgamma, dbeta = _staged(dout, cache)
    return dx, dbeta, dgamma


@staged.correct("the staged graph with the gradients through mu, and the ones arrays, in dout's dtype")
@bn_backward
def bbs_ok_staged(dout, cache):
    return _staged(dout, cache)


@staged.correct("the closed form in the staged function (same gradients, fewer steps)")
@bn_backward
def bbs_ok_closed(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


@staged.correct("dvar from ivar: d(ivar)/d(var) = -0.5 * ivar**3, so dvar = -0.5 * ivar**3 * divar")
@bn_backward
def bbs_ok_ivar_cubed(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dxhat = cache.gamma * dout
    dvar = -0.5 * cache.ivar**3 * (cache.xmu * dxhat).sum(axis=0)
    dmu = -cache.ivar * dxhat.sum(axis=0) - 2.0 * dvar * cache.xmu.mean(axis=0)
    dx = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / N + dmu / N
    return dx, dgamma, dbeta


# ---- closed form ----

def _alt(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return N, dbeta, dgamma


@alt.mistake("gamma left out of dx")
@bn_backward
def bba_no_gamma(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("multiplies by sqrtvar where the formula has ivar = 1 / sqrtvar")
@bn_backward
def bba_sqrtvar(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.sqrtvar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("N read as dout.shape[1] (the number of features)")
@bn_backward
def bba_N_is_D(dout, cache):
    _, dbeta, dgamma = _alt(dout, cache)
    N = dout.shape[1]
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("the 1/N applied to dbeta only: dout - dbeta / N - xhat * dgamma")
@bn_backward
def bba_half_N(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta / N - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("xmu where the formula has xhat in the dgamma term of dx")
@bn_backward
def bba_xmu_term(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("dgamma sums dout * xmu")
@bn_backward
def bba_dgamma_xmu(dout, cache):
    N, dbeta, _ = _alt(dout, cache)
    dgamma = (dout * cache.xmu).sum(axis=0)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * (dout * cache.xhat).sum(axis=0)) / N)
    return dx, dgamma, dbeta


@alt.mistake("the sums taken with dtype=np.float64 and never cast back: a float32 pass returns float64")
@bn_backward
def bba_float64(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, dtype=np.float64)
    dgamma = (dout * cache.xhat).sum(axis=0, dtype=np.float64)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("divides by N - 1, as if the variance had been the unbiased one")
@bn_backward
def bba_N_minus_1(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("dx evaluated in place in dout (dout -= ...; dout *= ...), overwriting the caller's gradient")
@bn_backward
def bba_dout_inplace(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    dout -= (dbeta + cache.xhat * dgamma) / N
    dout *= cache.gamma * cache.ivar
    return dout, dgamma, dbeta


@alt.mistake("sign of the xhat term flipped: dout - dbeta/N + xhat * dgamma/N")
@bn_backward
def bba_sign(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta / N + cache.xhat * dgamma / N), dgamma, dbeta


@alt.mistake("the mean of dout taken over each sample's features (axis=1) instead of over the batch")
@bn_backward
def bba_mean_axis1(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=1, keepdims=True) - cache.xhat * dgamma / N)
    return dx, dgamma, dbeta


@alt.mistake("ivar recomputed as 1/sqrt(cache.var) without eps")
@bn_backward
def bba_no_eps(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    ivar = 1 / np.sqrt(cache.var)
    return cache.gamma * ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("xhat recomputed from cache.x with the unbiased variance (ddof=1)")
@bn_backward
def bba_recompute_ddof(dout, cache):
    N = dout.shape[0]
    xhat = (cache.x - cache.x.mean(axis=0)) / np.sqrt(cache.x.var(axis=0, ddof=1) + cache.eps)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx keeps only the direct term gamma * ivar * dout (the statistics treated as constants)")
@bn_backward
def bba_constants(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * dout, dgamma, dbeta


@alt.mistake("gamma squared: gamma applied to dout and again to the whole bracket")
@bn_backward
def bba_gamma_twice(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (cache.gamma * dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.correct("CS231n's form: (1/N) * gamma * ivar * (N * dout - dbeta - xhat * dgamma)")
@bn_backward
def bba_ok_cs231n(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return (1.0 / N) * cache.gamma * cache.ivar * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.correct("in terms of dxhat = gamma * dout and means over the batch")
@bn_backward
def bba_ok_dxhat(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - cache.xhat * (dxhat * cache.xhat).mean(axis=0))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@alt.correct("the sums by einsum and matrix products with a ones vector, in dout's dtype")
@bn_backward
def bba_ok_einsum(dout, cache):
    N = dout.shape[0]
    ones = np.ones(N, dtype=dout.dtype)
    dbeta = ones @ dout
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.correct("the forward's own xmu and ivar: dgamma = sum(dout * xmu) * ivar")
@bn_backward
def bba_ok_xmu_ivar(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xmu).sum(axis=0) * cache.ivar
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


