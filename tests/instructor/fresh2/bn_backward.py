"""batchnorm_backward (notebook 2, staged) and batchnorm_backward_alt (notebook 3, closed form)."""

from types import SimpleNamespace

import numpy as np

from tests.instructor.later_catalogue import Catalogue

staged = Catalogue("batchnorm_backward")
closed = Catalogue("batchnorm_backward_alt")

# The staged graph, one step per gradient, in the order notebook 2 derives them; a mistake
# replaces one step and leaves the others right.
STEPS = {
    "dbeta": lambda v: v.dout.sum(axis=0),
    "dgammax": lambda v: v.dout,
    "dgamma": lambda v: (v.dgammax * v.xhat).sum(axis=0),
    "dxhat": lambda v: v.dgammax * v.gamma,
    "divar": lambda v: (v.dxhat * v.xmu).sum(axis=0),
    "dxmu1": lambda v: v.dxhat * v.ivar,
    "dsqrtvar": lambda v: -v.divar / v.sqrtvar ** 2,
    "dvar": lambda v: 0.5 / np.sqrt(v.var + v.eps) * v.dsqrtvar,
    "dsq": lambda v: np.ones_like(v.xmu) * v.dvar / v.N,
    "dxmu2": lambda v: 2 * v.xmu * v.dsq,
    "dxmu": lambda v: v.dxmu1 + v.dxmu2,
    "dx1": lambda v: v.dxmu,
    "dmu": lambda v: -v.dxmu.sum(axis=0),
    "dx2": lambda v: np.ones_like(v.xmu) * v.dmu / v.N,
    "dx": lambda v: v.dx1 + v.dx2,
}


def _staged(dout, cache, **changed):
    v = SimpleNamespace(dout=dout, N=dout.shape[0], **{k: getattr(cache, k) for k in
                        ("x", "mu", "xmu", "var", "sqrtvar", "ivar", "xhat", "gamma", "eps")})
    for name, step in STEPS.items():
        setattr(v, name, changed.get(name, step)(v))
    return v.dx, v.dgamma, v.dbeta


def _mistake(description, **changed):
    def backward(dout, cache):
        return _staged(dout, cache, **changed)
    return description, backward


def _scale_in_place(array, factor):
    array *= factor
    return array


STAGED_MISTAKES = {
    "dgamma_with_gammax": _mistake("dgamma sums dout times the node's output gammax = gamma * xhat, not its other input",
                                   dgamma=lambda v: (v.dout * v.gamma * v.xhat).sum(axis=0)),
    "dgamma_with_xmu": _mistake("dgamma sums dout * xmu: the centred x, not the normalized one",
                                dgamma=lambda v: (v.dout * v.xmu).sum(axis=0)),
    "dbeta_mean": _mistake("dbeta averages dout over the batch instead of summing it",
                           dbeta=lambda v: v.dout.mean(axis=0)),
    "dbeta_keepdims": _mistake("dbeta summed with keepdims=True (shape (1, D)) while dgamma is (D,)",
                               dbeta=lambda v: v.dout.sum(axis=0, keepdims=True)),
    "direct_path_without_gamma": _mistake("the direct path dxmu1 uses dout * ivar (gamma forgotten there only)",
                                          dxmu1=lambda v: v.dout * v.ivar),
    "divar_with_xhat": _mistake("divar sums dxhat * xhat instead of dxhat * xmu",
                                divar=lambda v: (v.dxhat * v.xhat).sum(axis=0)),
    "dsqrtvar_not_squared": _mistake("d(1/s)/ds taken as -1/s instead of -1/s^2",
                                     dsqrtvar=lambda v: -v.divar / v.sqrtvar),
    "dsqrtvar_sign": _mistake("d(1/s)/ds taken as +1/s^2 (sign lost)",
                              dsqrtvar=lambda v: v.divar / v.sqrtvar ** 2),
    "dvar_without_eps": _mistake("dvar = 0.5 / sqrt(var) * dsqrtvar: eps dropped from the local gradient",
                                 dvar=lambda v: 0.5 / np.sqrt(v.var) * v.dsqrtvar),
    "dvar_unbiased_recomputed": _mistake("dvar recomputes sqrt from x.var(ddof=1) instead of the cached var",
                                         dvar=lambda v: 0.5 / np.sqrt(v.x.var(axis=0, ddof=1) + v.eps) * v.dsqrtvar),
    "dsq_bessel": _mistake("dsq divides by N - 1, as if the variance were unbiased",
                           dsq=lambda v: np.ones_like(v.xmu) * v.dvar / (v.N - 1)),
    "dxmu2_without_xmu": _mistake("the local gradient of sq = xmu**2 taken as 2, not 2 * xmu",
                                  dxmu2=lambda v: 2 * v.dsq),
    "dx1_from_one_branch": _mistake("dx1 takes dxmu1 alone: the two branches into xmu are never added",
                                    dx1=lambda v: v.dxmu1),
    "dmu_sign": _mistake("dmu = +sum(dxmu): the minus of xmu = x - mu forgotten",
                         dmu=lambda v: v.dxmu.sum(axis=0)),
    "dx2_not_divided": _mistake("dx2 broadcasts dmu without dividing by N",
                                dx2=lambda v: np.ones_like(v.xmu) * v.dmu),
    "dx_without_dx2": _mistake("dx is dx1 only: the path through mu is dropped",
                               dx=lambda v: v.dx1),
    "dx_minus_dx2": _mistake("dx = dx1 - dx2: the minus already inside dmu applied again",
                             dx=lambda v: v.dx1 - v.dx2),
    "ivar_rounded_to_float32": _mistake("ivar cast to float32 on the direct path (float dtypes mixed)",
                                        dxmu1=lambda v: v.dxhat * v.ivar.astype(np.float32)),
    "dout_scaled_in_place": _mistake("dxhat = dout; dxhat *= gamma: the caller's dout is scaled in place",
                                     dxhat=lambda v: _scale_in_place(v.dgammax, v.gamma)),
    "cache_xmu_scaled_in_place": _mistake("dxmu2 = xmu; dxmu2 *= 2 * dsq: cache.xmu is overwritten",
                                          dxmu2=lambda v: _scale_in_place(v.xmu, 2 * v.dsq)),
}

for _name, (_description, _backward) in STAGED_MISTAKES.items():
    _backward.__name__ = _name
    staged.mistake(_description)(_backward)


@staged.mistake("returns (dx, dbeta, dgamma): the last two in the wrong order")
def returns_dbeta_dgamma(dout, cache):
    dx, dgamma, dbeta = _staged(dout, cache)
    return dx, dbeta, dgamma


@staged.correct("dmu sums dxmu1 only: the dxmu2 branch sums to zero in exact arithmetic")
def dmu_without_vanishing_term(dout, cache):
    return _staged(dout, cache, dmu=lambda v: -v.dxmu1.sum(axis=0))


@staged.correct("dsqrtvar and dvar folded into one step: dvar = -0.5 * divar * ivar**3")
def dvar_in_one_step(dout, cache):
    return _staged(dout, cache, dsqrtvar=lambda v: None, dvar=lambda v: -0.5 * v.divar * v.ivar ** 3)


@staged.correct("every reduction written as np.einsum")
def staged_einsum(dout, cache):
    return _staged(dout, cache, dbeta=lambda v: np.einsum("nd->d", v.dout),
                   dgamma=lambda v: np.einsum("nd,nd->d", v.dgammax, v.xhat),
                   divar=lambda v: np.einsum("nd,nd->d", v.dxhat, v.xmu),
                   dmu=lambda v: -np.einsum("nd->d", v.dxmu))


# ---- the closed form ------------------------------------------------------------------------------

def _sums(dout, cache):
    return dout.sum(axis=0), (dout * cache.xhat).sum(axis=0)


@closed.mistake("N - 1 in the closed form: the two sums divided by N - 1 instead of N")
def alt_n_minus_one(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar * (dout - dbeta / (N - 1) - cache.xhat * dgamma / (N - 1))
    return dx, dgamma, dbeta


@closed.mistake("gamma multiplies N * dout only, not the two sums")
def alt_gamma_on_first_term(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.ivar / N * (N * cache.gamma * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


@closed.mistake("multiplies by sqrtvar where ivar belongs")
def alt_sqrtvar_for_ivar(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.sqrtvar / N * (N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


@closed.mistake("the last term uses xmu where xhat belongs")
def alt_xmu_for_xhat(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xmu * dgamma)
    return dx, dgamma, dbeta


@closed.mistake("the two sums swapped inside dx: N * dout - dgamma - xhat * dbeta")
def alt_sums_swapped(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar / N * (N * dout - dgamma - cache.xhat * dbeta)
    return dx, dgamma, dbeta


@closed.mistake("dx takes its means along axis=1 (layer norm's direction)")
def alt_means_over_features(dout, cache):
    dbeta, dgamma = _sums(dout, cache)
    g = dout * cache.gamma
    dx = cache.ivar * (g - g.mean(axis=1, keepdims=True) - cache.xhat * (g * cache.xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@closed.mistake("the sum inside dx uses dout * xmu (unnormalized) instead of dgamma")
def alt_xmu_sum_in_dx(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * (dout * cache.xmu).sum(axis=0))
    return dx, dgamma, dbeta


@closed.mistake("ivar recomputed as 1 / sqrt(cache.var), without eps")
def alt_ivar_without_eps(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    ivar = 1 / np.sqrt(cache.var)
    dx = cache.gamma * ivar / N * (N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


@closed.mistake("the whole dx computed in float32 (cast for speed), returned as float32")
def alt_float32(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    f = np.float32
    dx = (cache.gamma.astype(f) * cache.ivar.astype(f) / N
          * (N * dout.astype(f) - dbeta.astype(f) - cache.xhat.astype(f) * dgamma.astype(f)))
    return dx, dgamma, dbeta


@closed.mistake("dgamma returned as a mean over the batch (the sum inside dx is right)")
def alt_dgamma_mean(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar / N * (N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma / N, dbeta


@closed.mistake("dout scaled by gamma in place to save a temporary")
def alt_dout_in_place(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dout *= cache.gamma
    dx = cache.ivar / N * (N * dout - cache.gamma * dbeta - cache.gamma * cache.xhat * dgamma)
    return dx, dgamma, dbeta


@closed.mistake("dx misses the 1/N on the dbeta term only")
def alt_dbeta_not_divided(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = _sums(dout, cache)
    dx = cache.gamma * cache.ivar * (dout - dbeta - cache.xhat * dgamma / N)
    return dx, dgamma, dbeta


@closed.correct("means instead of sums: gamma * ivar * (dout - mean(dout) - xhat * mean(dout * xhat))")
def alt_mean_form(dout, cache):
    dbeta, dgamma = _sums(dout, cache)
    N = dout.shape[0]
    dx = cache.gamma * cache.ivar * (dout - dbeta / N - cache.xhat * (dgamma / N))
    return dx, dgamma, dbeta


@closed.correct("the xmu form with powers of var + eps, as often derived on paper")
def alt_xmu_form(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xmu).sum(axis=0) * cache.ivar
    s = cache.var + cache.eps
    dx = (cache.gamma / N) * s ** -0.5 * (N * dout - dbeta - cache.xmu / s * (dout * cache.xmu).sum(axis=0))
    return dx, dgamma, dbeta


@closed.correct("the two sums with np.einsum, dx in one expression")
def alt_einsum(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dx = np.einsum("d,d,nd->nd", cache.gamma, cache.ivar / N, N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


@closed.correct("dxhat first, then dx from dxhat with the two means (notebook 3's section 4 shape)")
def alt_via_dxhat(dout, cache):
    dxhat = dout * cache.gamma
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - cache.xhat * (dxhat * cache.xhat).mean(axis=0))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=staged.entries + closed.entries)
