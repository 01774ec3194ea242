"""batchnorm_backward (staged) and batchnorm_backward_alt (closed form): mistakes and correct variants."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_forward

from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward", forward=batchnorm_forward)
alt = Catalogue("batchnorm_backward_alt", forward=batchnorm_forward)


def _staged(dout, cache, slip=None):
    """The staged graph, node by node; `slip` names the one node a mistake computes wrongly."""
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat,
                                                 cache.gamma, cache.eps)
    dbeta = dout.sum(axis=0) if slip != "dbeta_axis1" else dout.sum(axis=1)
    dgammax = dout
    dgamma = np.sum(xhat * dgammax, axis=0) if slip != "dgamma_xmu" else np.sum(xmu * dgammax, axis=0)
    dxhat = gamma * dgammax if slip != "dxhat_no_gamma" else dgammax
    divar = np.sum(xmu * dxhat, axis=0) if slip != "divar_xhat" else np.sum(xhat * dxhat, axis=0)
    dxmu1 = ivar * dxhat if slip != "dxmu1_sqrtvar" else sqrtvar * dxhat
    dsqrtvar = -1.0 / sqrtvar**2 * divar if slip != "dsqrtvar_sign" else 1.0 / sqrtvar**2 * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar if slip != "dvar_no_half" else 1.0 / np.sqrt(var + eps) * dsqrtvar
    if slip == "dvar_no_eps":
        dvar = 0.5 / np.sqrt(var) * dsqrtvar
    dsq = np.ones_like(dout) / N * dvar if slip != "dsq_no_N" else np.ones_like(dout) * dvar
    dxmu2 = 2 * xmu * dsq if slip != "dxmu2_no_2" else xmu * dsq
    dx1 = dxmu1 + dxmu2
    if slip == "dx1_no_dxmu2":
        dx1 = dxmu1
    dmu = -np.sum(dxmu1 + dxmu2, axis=0) if slip != "dmu_sign" else np.sum(dxmu1 + dxmu2, axis=0)
    if slip == "dmu_dxmu1_only":
        dmu = -np.sum(dxmu1, axis=0)
    dx2 = np.ones_like(dout) / N * dmu if slip != "dx2_no_N" else np.ones_like(dout) * dmu
    dx = dx1 + dx2 if slip != "dx_only_dx1" else dx1
    return dx, dgamma, dbeta


SLIPS = {
    "dbeta_axis1": "dbeta sums dout over the features (axis=1) instead of over the batch.",
    "dgamma_xmu": "dgamma multiplies dout by xmu instead of xhat.",
    "dxhat_no_gamma": "dxhat is dout itself: the factor gamma of gammax = gamma * xhat is dropped.",
    "divar_xhat": "divar sums xhat * dxhat instead of xmu * dxhat (the other factor of xhat = xmu * ivar).",
    "dxmu1_sqrtvar": "dxmu1 multiplies dxhat by sqrtvar instead of ivar.",
    "dsqrtvar_sign": "dsqrtvar drops the minus sign of the derivative of 1 / sqrtvar.",
    "dvar_no_half": "dvar uses 1 / sqrt(var + eps) instead of 0.5 / sqrt(var + eps) (the 1/2 of the square root's derivative is lost).",
    "dvar_no_eps": "dvar differentiates sqrt(var) instead of sqrt(var + eps), leaving eps out of the local gradient.",
    "dsq_no_N": "dsq spreads dvar to every row without the factor 1/N of the mean.",
    "dxmu2_no_2": "dxmu2 drops the factor 2 of the derivative of xmu**2.",
    "dx1_no_dxmu2": "dx1 takes only the first branch dxmu1; the branch through the variance (dxmu2) is lost.",
    "dmu_sign": "dmu drops the minus sign of xmu = x - mu.",
    "dx2_no_N": "dx2 spreads dmu to every row without the factor 1/N of the mean.",
    "dx_only_dx1": "dx returns dx1 only, without the second branch dx2 through the mean.",
}


def _slip_entry(slip):
    def entry(dout, cache):
        return _staged(dout, cache, slip)
    entry.__name__ = slip
    return entry


for _slip, _description in SLIPS.items():
    staged.mistake(_description)(_slip_entry(_slip))


@staged.mistake("The gradients are returned in the order (dx, dbeta, dgamma).")
def returns_swapped(dout, cache):
    dx, dgamma, dbeta = _staged(dout, cache)
    return dx, dbeta, dgamma


@staged.mistake("dgamma is not summed over the batch: it is the (N, D) array xhat * dout.")
def dgamma_unsummed(dout, cache):
    dx, _, dbeta = _staged(dout, cache)
    return dx, cache.xhat * dout, dbeta


@staged.mistake("dxhat is computed in place into dout (dout *= gamma), changing the caller's upstream gradient.")
def dout_in_place(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(cache.xhat * dout, axis=0)
    dout *= cache.gamma
    N = dout.shape[0]
    divar = np.sum(cache.xmu * dout, axis=0)
    dvar = 0.5 / cache.sqrtvar * (-1.0 / cache.sqrtvar**2 * divar)
    dxmu = cache.ivar * dout + 2 * cache.xmu * dvar / N
    dx = dxmu - dxmu.sum(axis=0) / N
    return dx, dgamma, dbeta


@staged.mistake("The staged pass upcasts dout to float64 and returns float64 gradients for a float32 pass.")
def float64_result(dout, cache):
    return _staged(dout.astype(np.float64), cache)


@staged.correct("dmu sums dxmu1 only: the branch through dxmu2 sums to zero over the batch, since xmu does.")
def dmu_dxmu1_only(dout, cache):
    return _staged(dout, cache, "dmu_dxmu1_only")


@staged.correct("The same graph with the broadcast sums written as einsum and the 1/N spreads as np.full.")
def einsum_staged(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dxhat = dout * cache.gamma
    divar = np.einsum("nd,nd->d", dxhat, cache.xmu)
    dxmu1 = dxhat * cache.ivar
    dsqrtvar = -divar / (cache.sqrtvar * cache.sqrtvar)
    dvar = dsqrtvar * 0.5 / cache.sqrtvar
    dsq = np.full_like(dout, 1.0 / N) * dvar
    dxmu2 = 2.0 * cache.xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.einsum("nd->d", dx1)
    dx2 = np.full_like(dout, 1.0 / N) * dmu
    return dx1 + dx2, dgamma, dbeta


@staged.correct("Staged in float64 for accuracy, every gradient cast back to dout's dtype.")
def float64_cast_back(dout, cache):
    return tuple(g.astype(dout.dtype) for g in _staged(dout.astype(np.float64), cache))


@staged.correct("The closed form in place of the staged nodes (the same gradients).")
def closed_form_in_staged(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


# ---------------------------------------------------------------- closed form

@alt.mistake("The closed form drops the 1/N: dx = gamma * ivar * (dout - dbeta - xhat * dgamma).")
def alt_no_N(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("The xhat * dgamma term is added instead of subtracted.")
def alt_sign(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta - cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx is multiplied by sqrtvar instead of ivar.")
def alt_sqrtvar(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.sqrtvar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx omits the factor gamma.")
def alt_no_gamma(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("N is read as dout.shape[1], the number of features, instead of the batch size.")
def alt_N_features(dout, cache):
    N = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("The mean of dout (dbeta / N) is not subtracted: dx = gamma * ivar * (dout - xhat * dgamma / N).")
def alt_no_dbeta(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - cache.xhat * dgamma / N), dgamma, dbeta


@alt.mistake("The projection uses xmu instead of xhat: dx = gamma * ivar * (dout - (dbeta + xmu * dgamma) / N).")
def alt_xmu(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("dgamma sums dout * x (the raw input) instead of dout * xhat.")
def alt_dgamma_x(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N)
    return dx, (dout * cache.x).sum(axis=0), dbeta


@alt.mistake("dbeta and dgamma are means over the batch instead of sums.")
def alt_means(dout, cache):
    dbeta = dout.mean(axis=0)
    dgamma = (dout * cache.xhat).mean(axis=0)
    return cache.gamma * cache.ivar * (dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.mistake("ivar is squared in dx: gamma * ivar**2 * (...), as if the variance were the scale.")
def alt_ivar_squared(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar**2 * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("The closed form recomputes ivar as 1 / sqrt(var) from the cache, leaving eps out.")
def alt_no_eps(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma / np.sqrt(cache.var) * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dx is returned in float64 for a float32 pass: N is taken as np.float64(N) and promotes the result.")
def alt_float64(dout, cache):
    N = np.float64(dout.shape[0])
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("dout is scaled in place (dout *= gamma * ivar), changing the caller's upstream gradient.")
def alt_dout_in_place(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dout *= cache.gamma * cache.ivar
    return dout - cache.gamma * cache.ivar * (dbeta + cache.xhat * dgamma) / N, dgamma, dbeta


@alt.correct("The closed form as mean-centring: dx = gamma * ivar * (dout - mean(dout) - xhat * mean(dout * xhat)).")
def alt_means_form(dout, cache):
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=0) - cache.xhat * (dout * cache.xhat).mean(axis=0))
    return dx, dgamma, dbeta


@alt.correct("The paper's form with 1/N outside: (gamma * ivar / N) * (N * dout - dbeta - xhat * dgamma), with einsum sums.")
def alt_paper_form(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    return (cache.gamma * cache.ivar / N) * (N * dout - dbeta - cache.xhat * dgamma), dgamma, dbeta


@alt.correct("A loop over the features, each column's gradient from its own sums.")
def alt_loop(dout, cache):
    N, D = dout.shape
    dx = np.empty_like(dout)
    dgamma = np.empty(D, dout.dtype)
    dbeta = np.empty(D, dout.dtype)
    for d in range(D):
        g, xh = dout[:, d], cache.xhat[:, d]
        dbeta[d], dgamma[d] = g.sum(), (g * xh).sum()
        dx[:, d] = cache.gamma[d] * cache.ivar[d] * (g - (dbeta[d] + xh * dgamma[d]) / N)
    return dx, dgamma, dbeta


@alt.correct("Written with xmu and ivar instead of xhat: dx = gamma * ivar * (dout - dbeta/N - xmu * ivar**2 * sum(dout * xmu)/N).")
def alt_xmu_form(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    s = (dout * cache.xmu).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - dbeta / N - cache.xmu * cache.ivar**2 * s / N), dgamma, dbeta
