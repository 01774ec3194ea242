"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): solution-region bodies."""

import numpy as np

from tests.instructor.fresh5.scaffold import bn_backward
from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward")
alt = Catalogue("batchnorm_backward_alt")


def _staged(dout, cache, **change):
    """The staged pass with one step replaced: change maps a step's name to f(locals) -> value."""
    N = dout.shape[0]
    c = cache
    s = {}
    s["dbeta"] = change.get("dbeta", lambda s: np.sum(dout, axis=0))(s)
    s["dgammax"] = dout
    s["dgamma"] = change.get("dgamma", lambda s: np.sum(c.xhat * dout, axis=0))(s)
    s["dxhat"] = change.get("dxhat", lambda s: c.gamma * dout)(s)
    s["divar"] = change.get("divar", lambda s: np.sum(c.xmu * s["dxhat"], axis=0))(s)
    s["dxmu1"] = c.ivar * s["dxhat"]
    s["dsqrtvar"] = change.get("dsqrtvar", lambda s: -1.0 / c.sqrtvar**2 * s["divar"])(s)
    s["dvar"] = change.get("dvar", lambda s: 0.5 / np.sqrt(c.var + c.eps) * s["dsqrtvar"])(s)
    s["dsq"] = change.get("dsq", lambda s: np.ones_like(dout) / N * s["dvar"])(s)
    s["dxmu2"] = 2 * c.xmu * s["dsq"]
    s["dx1"] = change.get("dx1", lambda s: s["dxmu1"] + s["dxmu2"])(s)
    s["dmu"] = change.get("dmu", lambda s: -np.sum(s["dxmu1"] + s["dxmu2"], axis=0))(s)
    s["dx2"] = change.get("dx2", lambda s: np.ones_like(dout) / N * s["dmu"])(s)
    s["dx"] = change.get("dx", lambda s: s["dx1"] + s["dx2"])(s)
    return s["dx"], s["dgamma"], s["dbeta"]


@staged.mistake("dbeta not summed over the batch: returned (N, D) like dout")
@bn_backward("batchnorm_backward")
def dbeta_unsummed(dout, cache):
    return _staged(dout, cache, dbeta=lambda s: dout.copy())


@staged.mistake("dgamma = sum(dout), forgetting the local gradient xhat")
@bn_backward("batchnorm_backward")
def dgamma_without_xhat(dout, cache):
    return _staged(dout, cache, dgamma=lambda s: dout.sum(axis=0))


@staged.mistake("dvar with the power -1/2 instead of -3/2: -0.5 * (var + eps)**-0.5 * divar")
@bn_backward("batchnorm_backward")
def dvar_wrong_power(dout, cache):
    return _staged(dout, cache, dvar=lambda s: -0.5 * (cache.var + cache.eps) ** -0.5 * s["divar"])


@staged.mistake("dsq forgets the 1/N of the mean: np.ones_like(dout) * dvar")
@bn_backward("batchnorm_backward")
def dsq_without_mean(dout, cache):
    return _staged(dout, cache, dsq=lambda s: np.ones_like(dout) * s["dvar"])


@staged.mistake("dx = dx1 only: the branch through mu is dropped")
@bn_backward("batchnorm_backward")
def dx_without_mu_branch(dout, cache):
    return _staged(dout, cache, dx=lambda s: s["dx1"])


@staged.mistake("dx1 = dxmu1 only: the branch through the variance is dropped from x's first branch")
@bn_backward("batchnorm_backward")
def dx1_without_variance_branch(dout, cache):
    return _staged(dout, cache, dx1=lambda s: cache.ivar * s["dxhat"])


@staged.mistake("dmu with the wrong sign: +sum(dxmu1 + dxmu2)")
@bn_backward("batchnorm_backward")
def dmu_sign(dout, cache):
    return _staged(dout, cache, dmu=lambda s: np.sum(s["dxmu1"] + s["dxmu2"], axis=0))


@staged.mistake("divar not summed over the batch: the (N, D) product broadcasts through the later steps")
@bn_backward("batchnorm_backward")
def divar_unsummed(dout, cache):
    return _staged(dout, cache, divar=lambda s: cache.xmu * s["dxhat"])


@staged.mistake("dsqrtvar = -divar / sqrtvar, the derivative of 1/s taken as -1/s")
@bn_backward("batchnorm_backward")
def dsqrtvar_not_squared(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda s: -s["divar"] / cache.sqrtvar)


@staged.mistake("dxhat = dout, gamma's factor forgotten")
@bn_backward("batchnorm_backward")
def dxhat_without_gamma(dout, cache):
    return _staged(dout, cache, dxhat=lambda s: dout)


@staged.mistake("divar uses x instead of xmu as the other factor of xhat = xmu * ivar")
@bn_backward("batchnorm_backward")
def divar_with_x(dout, cache):
    return _staged(dout, cache, divar=lambda s: np.sum(cache.x * s["dxhat"], axis=0))


@staged.mistake("dx2 = dmu broadcast, forgetting the mean's 1/N")
@bn_backward("batchnorm_backward")
def dx2_without_mean(dout, cache):
    return _staged(dout, cache, dx2=lambda s: np.ones_like(dout) * s["dmu"])


@staged.mistake("np.ones(dout.shape) / N in dsq and dx2: float64 gradients for a float32 pass")
@bn_backward("batchnorm_backward")
def ones_float64(dout, cache):
    N = dout.shape[0]
    return _staged(dout, cache, dsq=lambda s: np.ones(dout.shape) / N * s["dvar"],
                   dx2=lambda s: np.ones(dout.shape) / N * s["dmu"])


@staged.mistake("dout scaled by gamma in place (dout *= gamma): the caller's upstream gradient changes")
@bn_backward("batchnorm_backward")
def dout_scaled_in_place(dout, cache):
    dx, dgamma, dbeta = _staged(dout.copy(), cache)
    dout *= cache.gamma
    return dx, dgamma, dbeta


@staged.mistake("N read as dout.shape[1], the number of features")
@bn_backward("batchnorm_backward")
def n_from_features(dout, cache):
    D = dout.shape[1]
    return _staged(dout, cache, dsq=lambda s: np.ones_like(dout) / D * s["dvar"],
                   dx2=lambda s: np.ones_like(dout) / D * s["dmu"])


@staged.mistake("dvar without the 1/2 of the square root's derivative")
@bn_backward("batchnorm_backward")
def dvar_without_half(dout, cache):
    return _staged(dout, cache, dvar=lambda s: 1.0 / np.sqrt(cache.var + cache.eps) * s["dsqrtvar"])


@staged.correct("dmu from dxmu1 alone: the dxmu2 branch sums to zero over the batch since sum(xmu) = 0")
@bn_backward("batchnorm_backward")
def dmu_without_dxmu2(dout, cache):
    return _staged(dout, cache, dmu=lambda s: -np.sum(s["dxmu1"], axis=0))


@staged.correct("dvar in power form -0.5 * (var + eps)**-1.5 * divar, skipping dsqrtvar")
@bn_backward("batchnorm_backward")
def dvar_power_form(dout, cache):
    return _staged(dout, cache, dvar=lambda s: -0.5 * (cache.var + cache.eps) ** -1.5 * s["divar"])


@staged.correct("every step with einsum, dsq and dx2 as (D,) rows broadcast instead of ones_like")
@bn_backward("batchnorm_backward")
def einsum_steps(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dxhat = dout * cache.gamma
    divar = np.einsum("nd,nd->d", dxhat, cache.xmu)
    dvar = divar * (-1.0 / cache.sqrtvar**2) * (0.5 / cache.sqrtvar)
    dxmu = dxhat * cache.ivar + 2 * cache.xmu * (dvar / N)
    dx = dxmu - np.einsum("nd->d", dxmu) / N
    return dx, dgamma, dbeta


# batchnorm_backward_alt

def _alt(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return N, dbeta, dgamma


@alt.mistake("the 1/N of the closed form forgotten: gamma * ivar * (dout - dbeta - xhat * dgamma)")
@bn_backward("batchnorm_backward_alt")
def alt_without_n(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("gamma left out of dx")
@bn_backward("batchnorm_backward_alt")
def alt_without_gamma(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("multiplies by sqrtvar instead of ivar")
@bn_backward("batchnorm_backward_alt")
def alt_times_std(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.sqrtvar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("the xhat term added instead of subtracted")
@bn_backward("batchnorm_backward_alt")
def alt_xhat_sign(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - dbeta / N + cache.xhat * dgamma / N), dgamma, dbeta


@alt.mistake("dgamma = sum(dout * x), the raw input instead of xhat")
@bn_backward("batchnorm_backward_alt")
def alt_dgamma_raw_x(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N)
    return dx, (dout * cache.x).sum(axis=0), dbeta


@alt.mistake("means over axis 1 (layer norm's closed form pasted into batch norm)")
@bn_backward("batchnorm_backward_alt")
def alt_feature_means(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    dxhat = dout * cache.gamma
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)
                       - cache.xhat * (dxhat * cache.xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@alt.mistake("ivar recomputed as 1 / sqrt(var), without eps")
@bn_backward("batchnorm_backward_alt")
def alt_no_eps(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma / np.sqrt(cache.var) * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("the dbeta (mean of dout) term forgotten")
@bn_backward("batchnorm_backward_alt")
def alt_without_dbeta_term(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - cache.xhat * dgamma / N), dgamma, dbeta


@alt.mistake("dgamma and dbeta summed with keepdims=True: shape (1, D)")
@bn_backward("batchnorm_backward_alt")
def alt_keepdims(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * cache.xhat).sum(axis=0, keepdims=True)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("divides by N - 1, mixing in the unbiased variance's factor")
@bn_backward("batchnorm_backward_alt")
def alt_n_minus_one(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("dout cast to float64 first: every gradient comes back float64 for a float32 pass")
@bn_backward("batchnorm_backward_alt")
def alt_float64(dout, cache):
    dout = dout.astype(np.float64)
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx built inside dout in place: the caller's dout is overwritten")
@bn_backward("batchnorm_backward_alt")
def alt_in_place(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    dout -= (dbeta + cache.xhat * dgamma) / N
    dout *= cache.gamma * cache.ivar
    return dout, dgamma, dbeta


@alt.mistake("dgamma and dbeta returned in swapped order")
@bn_backward("batchnorm_backward_alt")
def alt_swapped_returns(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dbeta, dgamma


@alt.correct("the N-form: gamma * ivar / N * (N * dout - dbeta - xhat * dgamma)")
@bn_backward("batchnorm_backward_alt")
def alt_n_form(dout, cache):
    N, dbeta, dgamma = _alt(dout, cache)
    return cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.correct("einsum sums, xhat rebuilt from xmu * ivar, means instead of sums / N")
@bn_backward("batchnorm_backward_alt")
def alt_einsum_means(dout, cache):
    xhat = cache.xmu * cache.ivar
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    return dx, dgamma, dbeta


@alt.correct("dx from dxhat = gamma * dout with the variance written out: (var + eps)**-0.5")
@bn_backward("batchnorm_backward_alt")
def alt_dxhat_form(dout, cache):
    N = dout.shape[0]
    dxhat = dout * cache.gamma
    inv = (cache.var + cache.eps) ** -0.5
    dx = inv / N * (N * dxhat - dxhat.sum(axis=0) - cache.xhat * (dxhat * cache.xhat).sum(axis=0))
    return dx, np.sum(dout * cache.xhat, axis=0), np.sum(dout, axis=0)
