"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): mistakes and variants."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_forward
from tests.instructor.fresh10.scaffold import bn_backward_prelude
from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward", forward=batchnorm_forward)
alt = Catalogue("batchnorm_backward_alt", forward=batchnorm_forward)


def _staged(dout, cache, **wrong):
    """The graph walked node by node; `wrong` replaces one node's rule by a function of the others."""
    bn_backward_prelude(dout, cache)
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat,
                                                 cache.gamma, cache.eps)
    g = dict(locals())
    rules = {
        "dbeta": lambda g: g["dout"].sum(axis=0),
        "dgammax": lambda g: g["dout"],
        "dgamma": lambda g: (g["xhat"] * g["dgammax"]).sum(axis=0),
        "dxhat": lambda g: g["gamma"] * g["dgammax"],
        "divar": lambda g: (g["xmu"] * g["dxhat"]).sum(axis=0),
        "dxmu1": lambda g: g["ivar"] * g["dxhat"],
        "dsqrtvar": lambda g: -1.0 / g["sqrtvar"] ** 2 * g["divar"],
        "dvar": lambda g: 0.5 / np.sqrt(g["var"] + g["eps"]) * g["dsqrtvar"],
        "dsq": lambda g: np.ones_like(g["dout"]) / g["N"] * g["dvar"],
        "dxmu2": lambda g: 2 * g["xmu"] * g["dsq"],
        "dx1": lambda g: g["dxmu1"] + g["dxmu2"],
        "dmu": lambda g: -(g["dxmu1"] + g["dxmu2"]).sum(axis=0),
        "dx2": lambda g: np.ones_like(g["dout"]) / g["N"] * g["dmu"],
        "dx": lambda g: g["dx1"] + g["dx2"],
    }
    rules.update(wrong)
    for name, rule in rules.items():
        g[name] = rule(g)
    return g["dx"], g["dgamma"], g["dbeta"]


# ------------------------------------------------------------------ staged: mistakes

@staged.mistake("dbeta averages dout over the batch (mean) instead of summing it.")
def dbeta_mean(dout, cache):
    return _staged(dout, cache, dbeta=lambda g: g["dout"].mean(axis=0))


@staged.mistake("dgamma sums dout * xmu (the centred input) instead of dout * xhat.")
def dgamma_with_xmu(dout, cache):
    return _staged(dout, cache, dgamma=lambda g: (g["xmu"] * g["dgammax"]).sum(axis=0))


@staged.mistake("dxhat is taken as dout itself, forgetting the factor gamma from gammax = gamma * xhat.")
def dxhat_without_gamma(dout, cache):
    return _staged(dout, cache, dxhat=lambda g: g["dgammax"])


@staged.mistake("divar is left elementwise, xmu * dxhat of shape (N, D), not summed over the batch where ivar was broadcast.")
def divar_not_summed(dout, cache):
    return _staged(dout, cache, divar=lambda g: g["xmu"] * g["dxhat"])


@staged.mistake("dsqrtvar has the wrong sign: +1/sqrtvar**2 * divar (the derivative of 1/s is -1/s**2).")
def dsqrtvar_sign(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda g: 1.0 / g["sqrtvar"] ** 2 * g["divar"])


@staged.mistake("dsqrtvar uses -1/sqrtvar instead of -1/sqrtvar**2 for the local gradient of ivar = 1/sqrtvar.")
def dsqrtvar_power(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda g: -1.0 / g["sqrtvar"] * g["divar"])


@staged.mistake("dvar drops the factor 1/2 of the square root's derivative: dvar = dsqrtvar / sqrt(var + eps).")
def dvar_without_half(dout, cache):
    return _staged(dout, cache, dvar=lambda g: 1.0 / np.sqrt(g["var"] + g["eps"]) * g["dsqrtvar"])


@staged.mistake("dvar multiplies by 0.5 * sqrt(var + eps) instead of dividing by 2 * sqrt(var + eps).")
def dvar_multiplies_by_sqrt(dout, cache):
    return _staged(dout, cache, dvar=lambda g: 0.5 * np.sqrt(g["var"] + g["eps"]) * g["dsqrtvar"])


@staged.mistake("dsq forgets the 1/N of the mean: every row receives the whole dvar.")
def dsq_without_1_over_N(dout, cache):
    return _staged(dout, cache, dsq=lambda g: np.ones_like(g["dout"]) * g["dvar"])


@staged.mistake("dsq divides by D, the number of features, instead of the batch size N.")
def dsq_over_D(dout, cache):
    return _staged(dout, cache, dsq=lambda g: np.ones_like(g["dout"]) / g["dout"].shape[1] * g["dvar"])


@staged.mistake("dxmu2 drops the factor 2 of d(xmu**2)/dxmu: dxmu2 = xmu * dsq.")
def dxmu2_without_2(dout, cache):
    return _staged(dout, cache, dxmu2=lambda g: g["xmu"] * g["dsq"])


@staged.mistake("dmu has the wrong sign: +sum(dxmu1 + dxmu2) although xmu = x - mu.")
def dmu_sign(dout, cache):
    return _staged(dout, cache, dmu=lambda g: (g["dxmu1"] + g["dxmu2"]).sum(axis=0))


@staged.mistake("dx2 spreads dmu without the 1/N of the mean: dx2 = dmu on every row.")
def dx2_without_1_over_N(dout, cache):
    return _staged(dout, cache, dx2=lambda g: np.ones_like(g["dout"]) * g["dmu"])


@staged.mistake("dx returns only the first branch dx1 and forgets dx2, the gradient through the mean.")
def dx_one_branch(dout, cache):
    return _staged(dout, cache, dx=lambda g: g["dx1"])


@staged.mistake("dx1 keeps only dxmu1 and forgets to add the variance branch dxmu2.")
def dx1_without_dxmu2(dout, cache):
    return _staged(dout, cache, dx1=lambda g: g["dxmu1"])


@staged.mistake("Returns the gradients in the order (dx, dbeta, dgamma) instead of (dx, dgamma, dbeta).")
def returns_beta_before_gamma(dout, cache):
    dx, dgamma, dbeta = _staged(dout, cache)
    return dx, dbeta, dgamma


@staged.mistake("Builds dsq and dx2 from np.ones(dout.shape), float64, so a float32 pass returns float64 dx.")
def float64_ones(dout, cache):
    return _staged(dout, cache,
                   dsq=lambda g: np.ones(g["dout"].shape) / g["N"] * g["dvar"],
                   dx2=lambda g: np.ones(g["dout"].shape) / g["N"] * g["dmu"])


# ------------------------------------------------------------------ staged: correct variants

@staged.correct("dmu from the first branch only, -sum(dxmu1): the variance branch sums to 2 * dsq * sum(xmu) = 0.")
def dmu_one_branch(dout, cache):
    return _staged(dout, cache, dmu=lambda g: -g["dxmu1"].sum(axis=0))


@staged.correct("dvar in Kratzert's folded form, -0.5 * divar * (var + eps)**-1.5, the same number.")
def dvar_folded(dout, cache):
    return _staged(dout, cache, dvar=lambda g: -0.5 * g["divar"] * (g["var"] + g["eps"]) ** -1.5,
                   dsqrtvar=lambda g: None)


@staged.correct("All the sums over the batch with einsum and the 1/N spreads by broadcasting.")
def staged_einsum(dout, cache):
    return _staged(
        dout, cache,
        dbeta=lambda g: np.einsum("nd->d", g["dout"]),
        dgamma=lambda g: np.einsum("nd,nd->d", g["xhat"], g["dgammax"]),
        divar=lambda g: np.einsum("nd,nd->d", g["xmu"], g["dxhat"]),
        dsq=lambda g: np.broadcast_to(g["dvar"] / g["N"], g["dout"].shape),
        dx2=lambda g: np.broadcast_to(g["dmu"] / g["N"], g["dout"].shape),
    )


@staged.correct("The graph walked in the closed form at the end: dx from dxhat, dgamma and dbeta in one expression.")
def staged_closed_form(dout, cache):
    bn_backward_prelude(dout, cache)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dxhat = cache.gamma * dout
    dx = cache.ivar / N * (N * dxhat - dxhat.sum(axis=0) - cache.xhat * (dxhat * cache.xhat).sum(axis=0))
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ closed form

def _alt_pre(dout, cache):
    bn_backward_prelude(dout, cache, "batchnorm_backward_alt")
    return dout.shape[0], cache.xhat, cache.gamma, cache.ivar


@alt.mistake("dx forgets gamma: ivar * (dout - (dbeta + xhat * dgamma) / N).")
def alt_without_gamma(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx subtracts xhat * dgamma without dividing it by N (only dbeta is divided).")
def alt_dgamma_term_not_divided(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - dbeta / N - xhat * dgamma), dgamma, dbeta


@alt.mistake("dx uses xmu instead of xhat in the correction term: (dbeta + xmu * dgamma) / N.")
def alt_xmu_in_correction(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("dx adds the xhat * dgamma term instead of subtracting it: dout - (dbeta - xhat * dgamma) / N.")
def alt_sign_of_dgamma_term(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - (dbeta - xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx multiplies by sqrtvar instead of ivar = 1/sqrtvar.")
def alt_times_sqrtvar(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * cache.sqrtvar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx divides the correction by N - 1 instead of N (mixing in the unbiased variance).")
def alt_N_minus_1(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("dx drops the mean term dbeta / N and keeps only the xhat * dgamma / N correction.")
def alt_without_mean_term(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - xhat * dgamma / N), dgamma, dbeta


@alt.mistake("dgamma sums dout * xmu instead of dout * xhat (dx is right).")
def alt_dgamma_xmu(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    dx = gamma * ivar * (dout - (dbeta + xhat * dgamma) / N)
    return dx, (dout * cache.xmu).sum(0), dbeta


@alt.mistake("Takes N from dout.shape[1] (the number of features D) instead of the batch size.")
def alt_N_is_D(dout, cache):
    _, xhat, gamma, ivar = _alt_pre(dout, cache)
    N = dout.shape[1]
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Sums dbeta and dgamma over axis 1 (features) instead of over the batch, axis 0.")
def alt_sums_over_features(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(1), (dout * xhat).sum(1)
    if dbeta.shape != gamma.shape:
        raise ValueError("operands could not be broadcast together")
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx uses ivar**2 (1/(var + eps)) instead of ivar as the outer factor.")
def alt_ivar_squared(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar**2 * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Accumulates dbeta and dgamma in float64 (np.sum(..., dtype=np.float64)), so a float32 pass returns float64 gradients.")
def alt_float64_sums(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta = np.sum(dout, axis=0, dtype=np.float64)
    dgamma = np.sum(dout * xhat, axis=0, dtype=np.float64)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.correct("dx = gamma * ivar / N * (N * dout - dbeta - xhat * dgamma), the factor 1/N pulled out.")
def alt_factored(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    return gamma * ivar / N * (N * dout - dbeta - xhat * dgamma), dgamma, dbeta


@alt.correct("dx from dxhat = gamma * dout with means: ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).")
def alt_through_dxhat(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).mean(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)


@alt.correct("dx written with xmu and var + eps from the cache instead of xhat.")
def alt_with_xmu(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta, dgamma = dout.sum(0), (dout * xhat).sum(0)
    s = cache.var + cache.eps
    dx = gamma / np.sqrt(s) * (dout - dout.mean(0) - cache.xmu * (dout * cache.xmu).sum(0) / (N * s))
    return dx.astype(dout.dtype, copy=False), dgamma, dbeta


@alt.correct("einsum for both sums and a loop over features for dx.")
def alt_einsum_loop(dout, cache):
    N, xhat, gamma, ivar = _alt_pre(dout, cache)
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = np.empty_like(dout)
    for d in range(dout.shape[1]):
        dx[:, d] = gamma[d] * ivar[d] * (dout[:, d] - (dbeta[d] + xhat[:, d] * dgamma[d]) / N)
    return dx, dgamma, dbeta
