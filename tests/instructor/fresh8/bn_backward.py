"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): mistakes and correct variants."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_forward
from tests.instructor.fresh8.scaffold import bn_backward_prelude
from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward", forward=batchnorm_forward)
alt = Catalogue("batchnorm_backward_alt", forward=batchnorm_forward)


def _staged(dout, cache, **change):
    """The staged graph walked node by node; `change` replaces one node's rule (a function of the nodes so far)."""
    bn_backward_prelude(dout, cache)
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat,
                                                 cache.gamma, cache.eps)
    g = {"dout": dout, "N": N, "cache": cache}
    rules = {
        "dbeta": lambda g: np.sum(g["dout"], axis=0),
        "dgammax": lambda g: g["dout"],
        "dgamma": lambda g: np.sum(xhat * g["dgammax"], axis=0),
        "dxhat": lambda g: gamma * g["dgammax"],
        "divar": lambda g: np.sum(xmu * g["dxhat"], axis=0),
        "dxmu1": lambda g: ivar * g["dxhat"],
        "dsqrtvar": lambda g: -1.0 / sqrtvar**2 * g["divar"],
        "dvar": lambda g: 0.5 / np.sqrt(var + eps) * g["dsqrtvar"],
        "dsq": lambda g: np.ones_like(g["dout"]) / N * g["dvar"],
        "dxmu2": lambda g: 2 * xmu * g["dsq"],
        "dx1": lambda g: g["dxmu1"] + g["dxmu2"],
        "dmu": lambda g: -np.sum(g["dxmu1"] + g["dxmu2"], axis=0),
        "dx2": lambda g: np.ones_like(g["dout"]) / N * g["dmu"],
        "dx": lambda g: g["dx1"] + g["dx2"],
    }
    rules.update(change)
    for name, rule in rules.items():
        g[name] = rule(g)
    return g["dx"], g["dgamma"], g["dbeta"]


@staged.mistake("Sums dbeta over each sample's features (axis=1) instead of over the batch.")
def st_dbeta_axis1(dout, cache):
    return _staged(dout, cache, dbeta=lambda g: np.sum(g["dout"], axis=1))


@staged.mistake("Computes dgamma from the raw input, sum(x * dout), instead of from xhat.")
def st_dgamma_uses_x(dout, cache):
    return _staged(dout, cache, dgamma=lambda g: np.sum(g["cache"].x * g["dgammax"], axis=0))


@staged.mistake("Forgets gamma's local gradient on the way to xhat: dxhat = dgammax.")
def st_dxhat_no_gamma(dout, cache):
    return _staged(dout, cache, dxhat=lambda g: g["dgammax"])


@staged.mistake("Does not sum divar over the batch although ivar was broadcast over N rows (divar = xmu * dxhat, shape (N, D)).")
def st_divar_not_summed(dout, cache):
    return _staged(dout, cache, divar=lambda g: g["cache"].xmu * g["dxhat"])


@staged.mistake("Drops the minus sign of d(1/s)/ds: dsqrtvar = divar / sqrtvar**2.")
def st_dsqrtvar_sign(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda g: 1.0 / g["cache"].sqrtvar**2 * g["divar"])


@staged.mistake("Forgets the 1/2 of the square root's derivative: dvar = dsqrtvar / sqrt(var + eps).")
def st_dvar_no_half(dout, cache):
    return _staged(dout, cache, dvar=lambda g: 1.0 / np.sqrt(g["cache"].var + g["cache"].eps) * g["dsqrtvar"])


@staged.mistake("Leaves eps out of the square root's derivative: dvar = 0.5 / sqrt(var) * dsqrtvar.")
def st_dvar_no_eps(dout, cache):
    return _staged(dout, cache, dvar=lambda g: 0.5 / np.sqrt(g["cache"].var) * g["dsqrtvar"])


@staged.mistake("Spreads dvar over the rows without the 1/N of the mean: dsq = ones * dvar.")
def st_dsq_no_over_n(dout, cache):
    return _staged(dout, cache, dsq=lambda g: np.ones_like(g["dout"]) * g["dvar"])


@staged.mistake("Forgets the factor 2 of the square: dxmu2 = xmu * dsq.")
def st_dxmu2_no_two(dout, cache):
    return _staged(dout, cache, dxmu2=lambda g: g["cache"].xmu * g["dsq"])


@staged.mistake("Returns only the first branch into x, dx = dx1, forgetting the branch through mu.")
def st_dx_no_dx2(dout, cache):
    return _staged(dout, cache, dx=lambda g: g["dx1"])


@staged.mistake("Passes dmu to every row without the 1/N of the mean: dx2 = ones * dmu.")
def st_dx2_no_over_n(dout, cache):
    return _staged(dout, cache, dx2=lambda g: np.ones_like(g["dout"]) * g["dmu"])


@staged.mistake("Drops the minus sign of xmu = x - mu when going to mu: dmu = +sum(dxmu1 + dxmu2).")
def st_dmu_sign(dout, cache):
    return _staged(dout, cache, dmu=lambda g: np.sum(g["dxmu1"] + g["dxmu2"], axis=0))


@staged.mistake("Uses the uncentred input in divar: divar = sum(x * dxhat) instead of sum(xmu * dxhat).")
def st_divar_uses_x(dout, cache):
    return _staged(dout, cache, divar=lambda g: np.sum(g["cache"].x * g["dxhat"], axis=0))


@staged.mistake("Returns dgamma without summing it over the batch (xhat * dout, shape (N, D)).")
def st_dgamma_not_summed(dout, cache):
    return _staged(dout, cache, dgamma=lambda g: g["cache"].xhat * g["dgammax"])


@staged.mistake("Forgets the second branch into xmu in x's first branch: dx1 = dxmu1 (dmu still gets both).")
def st_dx1_one_branch(dout, cache):
    return _staged(dout, cache, dx1=lambda g: g["dxmu1"])


@staged.mistake("Builds the 1/N spreads with np.ones((N, D)), float64, so a float32 dout gives float64 gradients.")
def st_float64_ones(dout, cache):
    ones = lambda g: np.ones(g["dout"].shape)  # noqa: E731  (the student's float64 ones)
    return _staged(dout, cache, dsq=lambda g: ones(g) / g["N"] * g["dvar"],
                   dx2=lambda g: ones(g) / g["N"] * g["dmu"])


@staged.mistake("Uses the variance where the standard deviation belongs in d(1/s)/ds: dsqrtvar = -divar / (var + eps)**2.")
def st_dsqrtvar_var_squared(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda g: -1.0 / (g["cache"].var + g["cache"].eps) ** 2 * g["divar"])


@staged.correct("Drops dxmu2 from dmu because sum(2 * xmu * dsq) over the batch is zero (the deviations sum to zero).")
def st_dmu_first_branch_only(dout, cache):
    return _staged(dout, cache, dmu=lambda g: -np.sum(g["dxmu1"], axis=0))


@staged.correct("Folds the chain ivar -> sqrtvar -> var into one step: dvar = -0.5 * ivar**3 * divar.")
def st_folded_dvar(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda g: None,
                   dvar=lambda g: -0.5 * g["cache"].ivar ** 3 * g["divar"])


@staged.correct("Writes every node out explicitly with 1/N spreads by broadcasting a scalar, no ones arrays.")
def st_explicit_broadcast(dout, cache):
    bn_backward_prelude(dout, cache)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (cache.xhat * dout).sum(axis=0)
    dxhat = cache.gamma * dout
    divar = (cache.xmu * dxhat).sum(axis=0)
    dxmu1 = cache.ivar * dxhat
    dsqrtvar = -divar / cache.sqrtvar**2
    dvar = 0.5 * dsqrtvar / cache.sqrtvar
    dxmu2 = 2 * cache.xmu * (dvar / N)
    dmu = -(dxmu1 + dxmu2).sum(axis=0)
    dx = dxmu1 + dxmu2 + dmu / N
    return dx, dgamma, dbeta


@staged.correct("Sums with keepdims=True on the way and ravels the (1, D) parameter gradients at the end.")
def st_keepdims_then_ravel(dout, cache):
    bn_backward_prelude(dout, cache)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = np.sum(cache.xhat * dout, axis=0, keepdims=True)
    dxhat = dout * cache.gamma
    divar = np.sum(dxhat * cache.xmu, axis=0, keepdims=True)
    dvar = 0.5 / cache.sqrtvar * (-divar / cache.sqrtvar**2)
    dxmu = dxhat * cache.ivar + 2 * cache.xmu * dvar / N
    dx = dxmu - dxmu.sum(axis=0, keepdims=True) / N
    return dx, dgamma.ravel(), dbeta.ravel()


def _alt_prelude(dout, cache):
    bn_backward_prelude(dout, cache, "batchnorm_backward_alt")
    return dout.shape[0], cache.xhat, cache.gamma, cache.ivar


@alt.mistake("Forgets the 1/N on the dgamma term: dx = gamma * ivar * (dout - dbeta / N - xhat * dgamma).")
def alt_dgamma_term_no_over_n(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - dbeta / N - xhat * dgamma), dgamma, dbeta


@alt.mistake("Leaves gamma out of dx: dx = ivar * (dout - (dbeta + xhat * dgamma) / N).")
def alt_no_gamma(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Multiplies by the standard deviation instead of dividing: dx = gamma * sqrtvar * (...).")
def alt_times_sqrtvar(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * cache.sqrtvar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Adds the xhat term instead of subtracting it: dx = gamma * ivar * (dout - dbeta / N + xhat * dgamma / N).")
def alt_xhat_term_sign(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - dbeta / N + xhat * dgamma / N), dgamma, dbeta


@alt.mistake("Divides the two batch sums by N - 1 instead of N in dx.")
def alt_n_minus_one(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("Drops the mean term of dx: dx = gamma * ivar * (dout - xhat * dgamma / N).")
def alt_no_mean_term(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - xhat * dgamma / N), dgamma, dbeta


@alt.mistake("Computes dgamma from the centred input, sum(dout * xmu), instead of sum(dout * xhat), and uses it in dx with xmu.")
def alt_dgamma_from_xmu(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * cache.xmu).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("Averages dbeta over the batch (dout.mean(axis=0)) instead of summing it.")
def alt_dbeta_mean(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * ivar * (dout - (dout.sum(axis=0) + xhat * dgamma) / N)
    return dx, dgamma, dout.mean(axis=0)


@alt.mistake("Casts dout to float64 for accuracy and returns float64 gradients for a float32 pass.")
def alt_upcast(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dout = dout.astype(np.float64)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Recomputes ivar from the cached variance without eps: ivar = 1 / sqrt(var).")
def alt_ivar_no_eps(dout, cache):
    N, xhat, gamma, _ = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma / np.sqrt(cache.var) * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("Takes the two means of dx over each sample's features (axis=1, keepdims) instead of over the batch.")
def alt_means_over_features(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    dx = gamma * ivar * (dout - dout.mean(axis=1, keepdims=True) - xhat * (dout * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@alt.mistake("Uses ivar squared instead of ivar as the overall factor: dx = gamma * ivar**2 * (...).")
def alt_ivar_squared(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar**2 * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.correct("Writes the paper's form: dx = ivar / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) with dxhat = gamma * dout.")
def alt_n_dxhat_form(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dxhat = gamma * dout
    dx = ivar / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


@alt.correct("Expresses dx through xmu and ivar**3: dx = ivar * (dxhat - mean(dxhat)) - ivar**3 * xmu * mean(dxhat * xmu).")
def alt_xmu_form(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(axis=0)) - ivar**3 * cache.xmu * (dxhat * cache.xmu).mean(axis=0)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


@alt.correct("Uses einsum for both sums and folds the (D,) factors before the one elementwise expression.")
def alt_einsum(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    scale = gamma * ivar
    dx = scale * dout - scale * dbeta / N - xhat * (scale * dgamma / N)
    return dx, dgamma, dbeta


@alt.correct("Keeps a float32 pass float32 by casting the (D,) factors to dout's dtype before combining them.")
def alt_float32_factors(dout, cache):
    N, xhat, gamma, ivar = _alt_prelude(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    scale = (gamma * ivar).astype(dout.dtype)
    dx = scale * (dout - (dbeta + xhat * dgamma) / dout.dtype.type(N))
    return dx.astype(dout.dtype), dgamma.astype(dout.dtype), dbeta
