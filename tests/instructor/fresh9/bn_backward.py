"""batchnorm_backward (staged, node by node) and batchnorm_backward_alt (closed form)."""

import numpy as np

from cs231n_bn.batchnorm import _check_backward_inputs, batchnorm_forward
from tests.instructor.fresh9.scaffold import bn_alt_dx
from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward", forward=batchnorm_forward)
alt = Catalogue("batchnorm_backward_alt", forward=batchnorm_forward)

# The nodes of the staged backward pass, in order; an entry replaces one of them.
STEPS = ("dbeta", "dgammax", "dgamma", "dxhat", "divar", "dxmu1", "dsqrtvar", "dvar", "dsq", "dxmu2",
         "dx1", "dmu", "dx2", "dx")


def _staged(dout, cache, **swap):
    """The staged backward pass; swap maps a node name to a function of the values so far."""
    _check_backward_inputs("batchnorm_backward", dout, cache)
    N = dout.shape[0]
    v = dict(xmu=cache.xmu, var=cache.var, sqrtvar=cache.sqrtvar, ivar=cache.ivar, xhat=cache.xhat,
             gamma=cache.gamma, eps=cache.eps, dout=dout, N=N, x=cache.x)
    right = {
        "dbeta": lambda v: np.sum(v["dout"], axis=0),
        "dgammax": lambda v: v["dout"],
        "dgamma": lambda v: np.sum(v["xhat"] * v["dgammax"], axis=0),
        "dxhat": lambda v: v["gamma"] * v["dgammax"],
        "divar": lambda v: np.sum(v["xmu"] * v["dxhat"], axis=0),
        "dxmu1": lambda v: v["ivar"] * v["dxhat"],
        "dsqrtvar": lambda v: -1.0 / v["sqrtvar"] ** 2 * v["divar"],
        "dvar": lambda v: 0.5 / np.sqrt(v["var"] + v["eps"]) * v["dsqrtvar"],
        "dsq": lambda v: np.ones_like(v["dout"]) / v["N"] * v["dvar"],
        "dxmu2": lambda v: 2.0 * v["xmu"] * v["dsq"],
        "dx1": lambda v: v["dxmu1"] + v["dxmu2"],
        "dmu": lambda v: -np.sum(v["dxmu1"] + v["dxmu2"], axis=0),
        "dx2": lambda v: np.ones_like(v["dout"]) / v["N"] * v["dmu"],
        "dx": lambda v: v["dx1"] + v["dx2"],
    }
    for step in STEPS:
        v[step] = swap.get(step, right[step])(v)
    return v["dx"], v["dgamma"], v["dbeta"]


@staged.mistake("Sums dbeta over the features (axis=1) instead of over the batch (axis=0).")
def dbeta_axis1(dout, cache):
    return _staged(dout, cache, dbeta=lambda v: np.sum(v["dout"], axis=1))


@staged.mistake("Computes dgamma from the raw input x instead of xhat: sum(x * dout, axis=0).")
def dgamma_from_x(dout, cache):
    return _staged(dout, cache, dgamma=lambda v: np.sum(v["x"] * v["dgammax"], axis=0))


@staged.mistake("Forgets the factor gamma in dxhat (dxhat = dgammax).")
def dxhat_without_gamma(dout, cache):
    return _staged(dout, cache, dxhat=lambda v: v["dgammax"])


@staged.mistake("Computes divar from xhat instead of xmu: sum(xhat * dxhat, axis=0).")
def divar_from_xhat(dout, cache):
    return _staged(dout, cache, divar=lambda v: np.sum(v["xhat"] * v["dxhat"], axis=0))


@staged.mistake("Drops the minus sign of the derivative of 1/sqrtvar: dsqrtvar = divar / sqrtvar**2.")
def dsqrtvar_sign(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda v: 1.0 / v["sqrtvar"] ** 2 * v["divar"])


@staged.mistake("Differentiates 1/sqrtvar as -1/sqrtvar (not squared): dsqrtvar = -divar / sqrtvar.")
def dsqrtvar_not_squared(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda v: -1.0 / v["sqrtvar"] * v["divar"])


@staged.mistake("Forgets the 1/2 of the square root's derivative: dvar = dsqrtvar / sqrt(var + eps).")
def dvar_without_half(dout, cache):
    return _staged(dout, cache, dvar=lambda v: 1.0 / np.sqrt(v["var"] + v["eps"]) * v["dsqrtvar"])


@staged.mistake("Leaves eps out of the square root's derivative: dvar = 0.5 / sqrt(var) * dsqrtvar.")
def dvar_without_eps(dout, cache):
    return _staged(dout, cache, dvar=lambda v: 0.5 / np.sqrt(v["var"]) * v["dsqrtvar"])


@staged.mistake("Spreads dvar over the rows without dividing by N: dsq = ones * dvar.")
def dsq_without_mean(dout, cache):
    return _staged(dout, cache, dsq=lambda v: np.ones_like(v["dout"]) * v["dvar"])


@staged.mistake("Forgets the factor 2 of the square's derivative: dxmu2 = xmu * dsq.")
def dxmu2_without_two(dout, cache):
    return _staged(dout, cache, dxmu2=lambda v: v["xmu"] * v["dsq"])


@staged.mistake("Builds dx1 from the first branch only (dx1 = dxmu1), dropping dxmu2 from x's first path.")
def dx1_first_branch_only(dout, cache):
    return _staged(dout, cache, dx1=lambda v: v["dxmu1"])


@staged.mistake("Drops the minus sign of x - mu's derivative with respect to mu: dmu = +sum(dxmu1 + dxmu2).")
def dmu_sign(dout, cache):
    return _staged(dout, cache, dmu=lambda v: np.sum(v["dxmu1"] + v["dxmu2"], axis=0))


@staged.mistake("Spreads dmu over the rows without dividing by N: dx2 = ones * dmu.")
def dx2_without_mean(dout, cache):
    return _staged(dout, cache, dx2=lambda v: np.ones_like(v["dout"]) * v["dmu"])


@staged.mistake("Returns dx1 as dx, forgetting the second branch through mu (dx2).")
def dx_without_dx2(dout, cache):
    return _staged(dout, cache, dx=lambda v: v["dx1"])


@staged.mistake("Builds the (N, D) ones of dsq and dx2 with np.ones(shape) (float64), so a float32 pass returns a float64 dx.")
def ones_float64(dout, cache):
    return _staged(dout, cache,
                   dsq=lambda v: np.ones(v["dout"].shape) / v["N"] * v["dvar"],
                   dx2=lambda v: np.ones(v["dout"].shape) / v["N"] * v["dmu"])


@staged.mistake("Scales dout in place to form dxhat (dout *= gamma), overwriting the caller's upstream gradient.")
def dout_scaled_in_place(dout, cache):
    return _staged(dout, cache, dxhat=lambda v: v["dout"].__imul__(v["gamma"]))


@staged.correct("Folds the ivar nodes into one: dvar = -0.5 * divar * ivar**3, with the other nodes unchanged.")
def folded_dvar(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda v: v["divar"],
                   dvar=lambda v: -0.5 * v["dsqrtvar"] * v["ivar"] ** 3)


@staged.correct("Replaces the sums over the batch by einsum and the broadcast ones by division by N, in dout's dtype.")
def einsum_nodes(dout, cache):
    return _staged(dout, cache,
                   dbeta=lambda v: np.einsum("nd->d", v["dout"]),
                   dgamma=lambda v: np.einsum("nd,nd->d", v["xhat"], v["dgammax"]),
                   divar=lambda v: np.einsum("nd,nd->d", v["xmu"], v["dxhat"]),
                   dsq=lambda v: np.broadcast_to(v["dvar"] / v["N"], v["dout"].shape),
                   dx2=lambda v: np.broadcast_to(v["dmu"] / v["N"], v["dout"].shape))


@staged.correct("Computes dmu from dxmu1 alone, which is exact: the dxmu2 branch sums to zero because xmu sums to zero over the batch.")
def dmu_without_zero_branch(dout, cache):
    return _staged(dout, cache, dmu=lambda v: -np.sum(v["dxmu1"], axis=0))


@staged.correct("Writes the nodes with explicit Python loops over the D features.")
def loop_features(dout, cache):
    _check_backward_inputs("batchnorm_backward", dout, cache)
    N, D = dout.shape
    dx, dgamma, dbeta = np.empty_like(dout), np.empty(D, dout.dtype), np.empty(D, dout.dtype)
    for d in range(D):
        g, xmu, ivar, sqrtvar = cache.gamma[d], cache.xmu[:, d], cache.ivar[d], cache.sqrtvar[d]
        dbeta[d] = dout[:, d].sum()
        dgamma[d] = (cache.xhat[:, d] * dout[:, d]).sum()
        dxhat = g * dout[:, d]
        divar = (xmu * dxhat).sum()
        dvar = 0.5 / sqrtvar * (-1.0 / sqrtvar**2 * divar)
        dxmu = ivar * dxhat + 2.0 * xmu * dvar / N
        dx[:, d] = dxmu - dxmu.sum() / N
    return dx, dgamma, dbeta


def _alt(dout, cache, dx=None):
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    right = bn_alt_dx(dout, cache.xhat, cache.gamma, cache.ivar)
    return right if dx is None else (dx(dout, cache, *right[1:]), *right[1:])


@alt.mistake("Forgets gamma in dx: dx = ivar * (dout - (dbeta + xhat * dgamma) / N).")
def alt_without_gamma(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.ivar * (d - (db + c.xhat * dg) / d.shape[0]))


@alt.mistake("Divides the two sums by N - 1 instead of N in dx.")
def alt_n_minus_one(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.ivar * (d - (db + c.xhat * dg) / (d.shape[0] - 1)))


@alt.mistake("Adds the xhat * dgamma term instead of subtracting it: dx = gamma*ivar*(dout - dbeta/N + xhat*dgamma/N).")
def alt_xhat_term_sign(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.ivar * (d - db / d.shape[0] + c.xhat * dg / d.shape[0]))


@alt.mistake("Multiplies by sqrtvar instead of ivar in dx (by the standard deviation instead of its inverse).")
def alt_sqrtvar_for_ivar(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.sqrtvar * (d - (db + c.xhat * dg) / d.shape[0]))


@alt.mistake("Divides only dbeta by N: dx = gamma*ivar*(dout - dbeta/N - xhat*dgamma).")
def alt_dgamma_not_over_n(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.ivar * (d - db / d.shape[0] - c.xhat * dg))


@alt.mistake("Computes dgamma as sum(dout * x) with the raw input instead of xhat (dx uses the right dgamma).")
def alt_dgamma_from_x(dout, cache):
    dx, dgamma, dbeta = _alt(dout, cache)
    return dx, np.sum(dout * cache.x, axis=0), dbeta


@alt.mistake("Returns the mean of dout over the batch as dbeta instead of its sum.")
def alt_dbeta_mean(dout, cache):
    dx, dgamma, dbeta = _alt(dout, cache)
    return dx, dgamma, dout.mean(axis=0)


@alt.mistake("Takes the means in dx over the features (axis=1, keepdims) instead of over the batch.")
def alt_means_over_features(dout, cache):
    def dx(d, c, dg, db):
        return c.gamma * c.ivar * (d - d.mean(axis=1, keepdims=True)
                                   - c.xhat * (d * c.xhat).mean(axis=1, keepdims=True))
    return _alt(dout, cache, dx)


@alt.mistake("Casts dout to float64 first (dout.astype(np.float64)), so a float32 pass returns float64 gradients.")
def alt_float64(dout, cache):
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    return bn_alt_dx(dout.astype(np.float64), cache.xhat, cache.gamma, cache.ivar)


@alt.mistake("Subtracts the means from dout in place (dout -= ...), overwriting the caller's upstream gradient.")
def alt_dout_in_place(dout, cache):
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dout -= (dbeta + cache.xhat * dgamma) / N
    dout *= cache.gamma * cache.ivar
    return dout, dgamma, dbeta


@alt.mistake("Uses xmu in place of xhat in the dgamma term of dx: dx = gamma*ivar*(dout - (dbeta + xmu*dgamma)/N).")
def alt_xmu_for_xhat(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.ivar * (d - (db + c.xmu * dg) / d.shape[0]))


@alt.correct("dx = gamma * ivar / N * (N * dout - dbeta - xhat * dgamma), the form of the CS231n derivation.")
def alt_times_n(dout, cache):
    return _alt(dout, cache, lambda d, c, dg, db: c.gamma * c.ivar / d.shape[0] * (d.shape[0] * d - db - c.xhat * dg))


@alt.correct("dx from dxhat = gamma * dout: ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), means over axis 0.")
def alt_via_dxhat(dout, cache):
    def dx(d, c, dg, db):
        dxhat = c.gamma * d
        return c.ivar * (dxhat - dxhat.mean(axis=0) - c.xhat * (dxhat * c.xhat).mean(axis=0))
    return _alt(dout, cache, dx)


@alt.correct("Sums with einsum and dx through xmu: gamma*ivar*(dout - dbeta/N - xmu*ivar*dgamma/N), preserving float32.")
def alt_einsum_xmu(dout, cache):
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dx = cache.gamma * cache.ivar * (dout - dbeta / N - cache.xmu * cache.ivar * dgamma / N)
    return dx.astype(dout.dtype, copy=False), dgamma, dbeta


@alt.correct("Works on a copy of dout (dout.copy()) and updates that copy in place.")
def alt_in_place_on_copy(dout, cache):
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dx = dout.copy()
    dx -= (dbeta + cache.xhat * dgamma) / N
    dx *= cache.gamma * cache.ivar
    return dx, dgamma, dbeta
