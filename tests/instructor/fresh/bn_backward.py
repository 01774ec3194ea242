"""batchnorm_backward (staged): one node of the graph wrong at a time, and caches of one's own."""

import numpy as np

from tests.instructor.fresh.entry import NAMED, Catalogue

catalogue = Catalogue("batchnorm_backward")
mistake, correct = catalogue.mistake, catalogue.correct


def staged(dout, cache):
    """The graph walked node by node, right."""
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, gamma, eps = (cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat,
                                                 cache.gamma, cache.eps)
    dbeta = dout.sum(axis=0)
    dgammax = dout
    dgamma = np.sum(xhat * dgammax, axis=0)
    dxhat = dgammax * gamma
    divar = np.sum(xmu * dxhat, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / sqrtvar**2 * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(dout) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = np.ones_like(dout) / N * dmu
    return dx1 + dx2, dgamma, dbeta


# Most mistakes change one node's local rule of the staged pass (staged_with), so that an
# entry's code shows just the line a student got wrong.

@mistake("dgamma summed over xmu * dout instead of xhat * dout", judged=NAMED)
def dgamma_from_xmu(dout, cache):
    dx, _, dbeta = staged(dout, cache)
    dgamma = np.sum(cache.xmu * dout, axis=0)
    return dx, dgamma, dbeta


@mistake("dgamma averaged over the batch (mean instead of sum)", judged=NAMED)
def dgamma_mean(dout, cache):
    dx, _, dbeta = staged(dout, cache)
    return dx, np.mean(cache.xhat * dout, axis=0), dbeta


@mistake("dbeta averaged over the batch (mean instead of sum)", judged=NAMED)
def dbeta_mean(dout, cache):
    dx, dgamma, _ = staged(dout, cache)
    return dx, dgamma, dout.mean(axis=0)


@mistake("dbeta and dgamma summed over the features (axis=1)", judged=NAMED)
def param_sums_over_features(dout, cache):
    dx, _, _ = staged(dout, cache)
    return dx, np.sum(cache.xhat * dout, axis=1), dout.sum(axis=1)


@mistake("dgamma and dbeta returned in swapped order", judged=NAMED)
def dgamma_dbeta_swapped(dout, cache):
    dx, dgamma, dbeta = staged(dout, cache)
    return dx, dbeta, dgamma


@mistake("dxhat = dout: gamma's local gradient forgotten", judged=NAMED)
def dxhat_without_gamma(dout, cache):
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat, eps = cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat, cache.eps
    dbeta, dgamma = dout.sum(axis=0), np.sum(xhat * dout, axis=0)
    dxhat = dout
    divar = np.sum(xmu * dxhat, axis=0)
    dxmu1 = dxhat * ivar
    dvar = 0.5 / np.sqrt(var + eps) * (-1.0 / sqrtvar**2 * divar)
    dxmu2 = 2 * xmu * np.ones_like(dout) / N * dvar
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


def staged_with(dout, cache, **change):
    """The staged pass with one node's local rule replaced (a function of the upstream values)."""
    N = dout.shape[0]
    c = cache
    dxhat = dout * c.gamma
    divar = change.get("divar", lambda: np.sum(c.xmu * dxhat, axis=0))()
    dxmu1 = change.get("dxmu1", lambda: dxhat * c.ivar)()
    dsqrtvar = change.get("dsqrtvar", lambda: -1.0 / c.sqrtvar**2 * divar)()
    dvar = change.get("dvar", lambda d: 0.5 / np.sqrt(c.var + c.eps) * d)(dsqrtvar)
    dsq = change.get("dsq", lambda d: np.ones_like(dout) / N * d)(dvar)
    dxmu2 = change.get("dxmu2", lambda d: 2 * c.xmu * d)(dsq)
    dx1 = change.get("dx1", lambda a, b: a + b)(dxmu1, dxmu2)
    dmu = change.get("dmu", lambda a, b: -np.sum(a + b, axis=0))(dxmu1, dxmu2)
    dx2 = change.get("dx2", lambda d: np.ones_like(dout) / N * d)(dmu)
    dx = change.get("dx", lambda a, b: a + b)(dx1, dx2)
    return dx, np.sum(c.xhat * dout, axis=0), dout.sum(axis=0)


@mistake("divar not summed over the batch (ivar was broadcast over N rows)", judged=NAMED)
def divar_not_summed(dout, cache):
    return staged_with(dout, cache, divar=lambda: cache.xmu * dout * cache.gamma)


@mistake("divar summed over xhat * dxhat instead of xmu * dxhat", judged=NAMED)
def divar_from_xhat(dout, cache):
    return staged_with(dout, cache, divar=lambda: np.sum(cache.xhat * dout * cache.gamma, axis=0))


@mistake("dxmu1 multiplies by sqrtvar instead of ivar", judged=NAMED)
def dxmu1_times_sqrtvar(dout, cache):
    return staged_with(dout, cache, dxmu1=lambda: dout * cache.gamma * cache.sqrtvar)


@mistake("d(1/s)/ds taken as +1/s^2: sign of dsqrtvar flipped", judged=NAMED)
def dsqrtvar_sign(dout, cache):
    divar = np.sum(cache.xmu * dout * cache.gamma, axis=0)
    return staged_with(dout, cache, dsqrtvar=lambda: 1.0 / cache.sqrtvar**2 * divar)


@mistake("d(1/s)/ds taken as -1/s (power of sqrtvar dropped)", judged=NAMED)
def dsqrtvar_power(dout, cache):
    divar = np.sum(cache.xmu * dout * cache.gamma, axis=0)
    return staged_with(dout, cache, dsqrtvar=lambda: -1.0 / cache.sqrtvar * divar)


@mistake("d sqrt(v)/dv without the factor 1/2", judged=NAMED)
def dvar_no_half(dout, cache):
    return staged_with(dout, cache, dvar=lambda d: 1.0 / np.sqrt(cache.var + cache.eps) * d)


@mistake("d sqrt(v + eps)/dv written without eps: 0.5 / sqrt(var)", judged=NAMED)
def dvar_without_eps(dout, cache):
    return staged_with(dout, cache, dvar=lambda d: 0.5 / np.sqrt(cache.var) * d)


@mistake("dsq without 1/N: the mean's local gradient taken as 1", judged=NAMED)
def dsq_no_mean(dout, cache):
    return staged_with(dout, cache, dsq=lambda d: np.ones_like(dout) * d)


@mistake("dsq with 1/(N-1), as if var were the unbiased variance", judged=NAMED)
def dsq_unbiased(dout, cache):
    N = dout.shape[0]
    return staged_with(dout, cache, dsq=lambda d: np.ones_like(dout) / (N - 1) * d)


@mistake("dxmu2 without the 2 of d(xmu^2)", judged=NAMED)
def dxmu2_no_two(dout, cache):
    return staged_with(dout, cache, dxmu2=lambda d: cache.xmu * d)


@mistake("the variance branch dropped: dx1 = dxmu1 only", judged=NAMED)
def variance_branch_dropped(dout, cache):
    return staged_with(dout, cache, dx1=lambda a, b: a, dmu=lambda a, b: -np.sum(a, axis=0))


@correct("dmu collects only dxmu1: the variance branch's batch sum 2 sum(xmu) dsq is zero anyway")
def dmu_first_branch_only(dout, cache):
    return staged_with(dout, cache, dmu=lambda a, b: -np.sum(a, axis=0))


@mistake("dmu with a + sign: the minus of xmu = x - mu forgotten", judged=NAMED)
def dmu_sign(dout, cache):
    return staged_with(dout, cache, dmu=lambda a, b: np.sum(a + b, axis=0))


@mistake("dmu not summed over the batch: mu was broadcast, its gradient kept per row", judged=NAMED)
def dmu_not_summed(dout, cache):
    return staged_with(dout, cache, dmu=lambda a, b: -(a + b))


@mistake("dx2 without 1/N: mean's local gradient taken as 1", judged=NAMED)
def dx2_no_mean(dout, cache):
    return staged_with(dout, cache, dx2=lambda d: np.ones_like(dout) * d)


@mistake("the mean branch forgotten: dx = dx1", judged=NAMED)
def mean_branch_dropped(dout, cache):
    return staged_with(dout, cache, dx=lambda a, b: a)


@mistake("returns dxhat as dx (stops half way through the graph)", judged=NAMED)
def returns_dxhat(dout, cache):
    _, dgamma, dbeta = staged(dout, cache)
    return dout * cache.gamma, dgamma, dbeta


@mistake("dx = gamma * ivar * dout: the statistics treated as constants", judged=NAMED)
def statistics_constant(dout, cache):
    _, dgamma, dbeta = staged(dout, cache)
    return dout * cache.gamma * cache.ivar, dgamma, dbeta


# Correct, with caches of their own (checked with the forward pass that makes them).

def tuple_forward(x, gamma, beta, bn_param):
    """A CS231n-style forward pass whose cache is a tuple of the graph's values."""
    from tests.instructor.fresh.bn_forward import plain

    out, c = plain(x, gamma, beta, bn_param)
    return out, (c.xhat, c.gamma, c.xmu, c.ivar, c.sqrtvar, c.var, c.eps)


@correct("staged pass on a tuple cache (xhat, gamma, xmu, ivar, sqrtvar, var, eps)", forward=tuple_forward)
def staged_tuple_cache(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar**2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / N * np.ones(dout.shape, dout.dtype) * dvar  # (in dout's dtype: a float32 pass stays float32)
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / N * np.ones(dout.shape, dout.dtype) * dmu
    return dx1 + dx2, dgamma, dbeta


def dict_forward(x, gamma, beta, bn_param):
    """A forward pass whose cache is a dict holding only x, gamma, eps and the batch statistics."""
    from tests.instructor.fresh.bn_forward import plain

    out, c = plain(x, gamma, beta, bn_param)
    return out, {"x": x, "gamma": gamma, "mu": c.mu, "var": c.var, "eps": c.eps}


@correct("staged pass recomputing xmu, sqrtvar, ivar, xhat from a dict of x and the statistics",
         forward=dict_forward)
def staged_dict_cache(dout, cache):
    x, gamma, mu, var, eps = cache["x"], cache["gamma"], cache["mu"], cache["var"], cache["eps"]
    N = x.shape[0]
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dvar = -0.5 * ivar**3 * (dxhat * xmu).sum(axis=0)
    dmu = -ivar * dxhat.sum(axis=0) - 2 * dvar * xmu.mean(axis=0)
    return dxhat * ivar + 2 * xmu * dvar / N + dmu / N, dgamma, dbeta


@correct("float32-friendly einsum sums for every reduction")
def einsum_reductions(dout, cache):
    c = cache
    N = dout.shape[0]
    dxhat = dout * c.gamma
    divar = np.einsum("nd,nd->d", c.xmu, dxhat)
    dvar = 0.5 / c.sqrtvar * (-divar / c.sqrtvar**2)
    dxmu = dxhat * c.ivar + 2 * c.xmu * dvar / N
    dmu = -np.einsum("nd->d", dxmu)
    return dxmu + dmu / N, np.einsum("nd,nd->d", dout, c.xhat), np.einsum("nd->d", dout)


ENTRIES = catalogue.entries
