"""Vanilla batch norm (notebooks 1 to 3): the forward pass and both backward passes."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_forward
from tests.instructor.fresh6 import scaffold as S
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("batchnorm_forward")
staged = Catalogue("batchnorm_backward", forward=batchnorm_forward)
alt = Catalogue("batchnorm_backward_alt", forward=batchnorm_forward)


def _normalize(x, mode, mu, var, gamma, beta, eps):
    """The part of a student's region after the statistics: xhat, out and the cache."""
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                           xhat=xhat, gamma=gamma, eps=eps)
    return out, cache


def _train_stats(x):
    mu = x.mean(axis=0)
    return mu, ((x - mu) ** 2).mean(axis=0)


# ---------------------------------------------------------------------------------------
# batchnorm_forward
# ---------------------------------------------------------------------------------------

@forward.mistake("normalizes with the unbiased batch variance (ddof=1) instead of the biased one")
def bn_unbiased_variance(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("adds eps to the standard deviation instead of the variance: xmu / (sqrt(var) + eps)")
def bn_eps_outside_sqrt(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    sqrtvar = np.sqrt(var) + eps
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("PyTorch's momentum convention: running = (1 - momentum) * running + momentum * batch")
def bn_torch_momentum(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = (1 - m) * rm + m * mu
        bn_param["running_var"] = (1 - m) * rv + m * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("stores PyTorch's unbiased variance N/(N-1) var in the running variance")
def bn_running_var_unbiased(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var * N / (N - 1)
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("test mode normalizes with the test batch's own statistics instead of the running ones")
def bn_test_uses_batch_stats(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    mu, var = _train_stats(x)
    if mode == "train":
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("test mode also updates the running statistics with the test batch's")
def bn_test_updates_running(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    bmu, bvar = _train_stats(x)
    bn_param["running_mean"] = m * rm + (1 - m) * bmu
    bn_param["running_var"] = m * rv + (1 - m) * bvar
    mu, var = (bmu, bvar) if mode == "train" else (rm, rv)
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("updates the running statistics in place (*=, +=), changing the caller's arrays")
def bn_running_in_place(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        rm *= m
        rm += (1 - m) * mu
        rv *= m
        rv += (1 - m) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("computes the new running statistics into locals and never writes them back into bn_param")
def bn_running_not_stored(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        rm = m * rm + (1 - m) * mu
        rv = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("takes the statistics over each sample's features (axis=1, layer norm's axis)")
def bn_wrong_axis(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        bn_param["running_mean"] = m * rm + (1 - m) * mu.mean()
        bn_param["running_var"] = m * rv + (1 - m) * var.mean()
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("divides by var + eps, forgetting the square root")
def bn_no_sqrt(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    sqrtvar = var + eps
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return S.bn_forward_end(out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps), x)


@forward.mistake("caches var + eps under sqrtvar (the output is right, the cache is not)")
def bn_cache_sqrtvar_is_var(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    cache = BatchNormCache(mode, x, mu, cache.xmu, var, var + eps, cache.ivar, cache.xhat, gamma, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("caches the output gamma * xhat + beta under xhat")
def bn_cache_xhat_is_out(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, c = _normalize(x, mode, mu, var, gamma, beta, eps)
    cache = BatchNormCache(mode, x, mu, c.xmu, var, c.sqrtvar, c.ivar, out, gamma, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("caches the statistics with keepdims, shape (1, D) instead of the documented (D,)")
def bn_cache_keepdims(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=0, keepdims=True)
        bn_param["running_mean"] = m * rm + (1 - m) * mu.ravel()
        bn_param["running_var"] = m * rv + (1 - m) * var.ravel()
    else:
        mu, var = rm.reshape(1, D), rv.reshape(1, D)
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("writes mode='train' into every cache, so a test-mode cache is not refused by the backward pass")
def bn_cache_mode_train(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, "train", mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("ignores bn_param's eps and always uses 1e-5")
def bn_hardcoded_eps(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, 1e-5)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("ignores bn_param's momentum and always keeps 0.9 of the old running value")
def bn_hardcoded_momentum(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = 0.9 * rm + 0.1 * mu
        bn_param["running_var"] = 0.9 * rv + 0.1 * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("computes the statistics in float64 for accuracy and returns float64 for float32 x")
def bn_float64_for_float32(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, dtype=np.float64)
        var = ((x - mu) ** 2).mean(axis=0)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("centres x in place (x -= mu), overwriting the caller's input")
def bn_centres_in_place(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    x -= mu
    xmu = x
    sqrtvar = np.sqrt(var + eps)
    xhat = xmu / sqrtvar
    out = gamma * xhat + beta
    return S.bn_forward_end(out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, 1 / sqrtvar, xhat, gamma, eps), x)


@forward.mistake("averages the standard deviation, not the variance, into running_var")
def bn_running_std(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * np.sqrt(var + eps)
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("test mode divides by sqrt(running_var), leaving out eps")
def bn_test_no_eps(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
        out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    else:
        out, cache = _normalize(x, mode, rm, rv, gamma, beta, eps)
        out = gamma * (x - rm) / np.sqrt(rv) + beta
    return S.bn_forward_end(out, cache, x)


@forward.mistake("variance as E[x^2] - E[x]^2, which cancels catastrophically in float32 when |mean| >> std")
def bn_one_pass_variance(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = (x * x).mean(axis=0) - mu * mu
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("warm start from Keras habits: the first batch (running stats all zero) is copied in, not averaged")
def bn_warm_start(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        fresh = not rm.any() and not rv.any()
        bn_param["running_mean"] = mu.copy() if fresh else m * rm + (1 - m) * mu
        bn_param["running_var"] = var.copy() if fresh else m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("shifts by subtracting beta: gamma * xhat - beta")
def bn_minus_beta(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, -beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("one mean and variance for the whole batch (x.mean()), not one per feature")
def bn_scalar_stats(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = np.full(D, x.mean(), x.dtype), np.full(D, x.var(), x.dtype)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.mistake("caches a copy of x's centred values under x (cache.x must be the input)")
def bn_cache_x_is_xmu(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, c = _normalize(x, mode, mu, var, gamma, beta, eps)
    cache = BatchNormCache(mode, c.xmu, mu, c.xmu, var, c.sqrtvar, c.ivar, c.xhat, gamma, eps)
    return S.bn_forward_end(out, cache, x)


@forward.correct("a loop over the D features, each normalized with np.mean and np.var")
def bn_feature_loop(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = np.empty(D, x.dtype), np.empty(D, x.dtype)
        for d in range(D):
            mu[d], var[d] = np.mean(x[:, d]), np.var(x[:, d])
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.correct("running averages written as a lerp: running + (1 - momentum) * (batch - running)")
def bn_lerp_running(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x)
        bn_param["running_mean"] = rm + (1 - m) * (mu - rm)
        bn_param["running_var"] = rv + (1 - m) * (var - rv)
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.correct("statistics accumulated in float64 and every array cast back to x's dtype")
def bn_float64_accumulate(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        x64 = x.astype(np.float64)
        mu64 = x64.mean(axis=0)
        mu, var = mu64.astype(x.dtype), ((x64 - mu64) ** 2).mean(axis=0).astype(x.dtype)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    out, cache = _normalize(x, mode, mu, var, gamma, beta, eps)
    return S.bn_forward_end(out, cache, x)


@forward.correct("xhat divided rather than multiplied by the inverse, and out via np.add/np.multiply")
def bn_divide(x, gamma, beta, bn_param):
    gamma, beta, N, D, mode, eps, m, rm, rv = S.bn_forward_begin(x, gamma, beta, bn_param)
    if mode == "train":
        mu = np.mean(x, axis=0)
        xmu = x - mu
        var = np.mean(np.square(xmu), axis=0)
        bn_param.update(running_mean=m * rm + (1 - m) * mu, running_var=m * rv + (1 - m) * var)
    else:
        mu, var = rm, rv
        xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    xhat = xmu / sqrtvar
    out = np.add(np.multiply(gamma, xhat), beta)
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, 1.0 / sqrtvar, xhat, gamma, eps)
    return S.bn_forward_end(out, cache, x)


# ---------------------------------------------------------------------------------------
# batchnorm_backward (staged)
# ---------------------------------------------------------------------------------------

def _staged(dout, cache, *, drop_dxmu2=False, drop_dx2=False, sign=-1.0, two=2.0, denom=None,
            gamma_in=True, dmu_sign=-1.0, dgamma_from="xhat", eps_in_dvar=True, ones=None):
    """The staged graph with one switch per node that students get wrong; defaults are right."""
    N = dout.shape[0] if denom is None else denom
    c = cache
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum((c.xhat if dgamma_from == "xhat" else c.xmu) * dout, axis=0)
    dxhat = c.gamma * dout if gamma_in else dout
    divar = np.sum(c.xmu * dxhat, axis=0)
    dxmu1 = c.ivar * dxhat
    dsqrtvar = sign / c.sqrtvar**2 * divar
    dvar = 0.5 / np.sqrt(c.var + c.eps if eps_in_dvar else c.var) * dsqrtvar
    dsq = (ones if ones is not None else np.ones_like(dout)) / N * dvar
    dxmu2 = 0 * dsq if drop_dxmu2 else two * c.xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = dmu_sign * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = np.ones_like(dout) / dout.shape[0] * dmu
    dx = dx1 if drop_dx2 else dx1 + dx2
    return dx, dgamma, dbeta


@staged.mistake("returns dbeta unsummed, dout itself of shape (N, D)")
def sb_dbeta_not_summed(dout, cache):
    S.bn_backward_begin(dout, cache)
    dx, dgamma, _ = _staged(dout, cache)
    return dx, dgamma, dout


@staged.mistake("dgamma from the centred input xmu instead of xhat")
def sb_dgamma_xmu(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, dgamma_from="xmu")


@staged.mistake("drops the branch through the variance (dxmu2): xmu's gradient only through xhat")
def sb_no_variance_branch(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, drop_dxmu2=True)


@staged.mistake("drops the branch through the mean (dx2): treats mu as a constant")
def sb_no_mean_branch(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, drop_dx2=True)


@staged.mistake("d(1/s)/ds taken as +1/s^2 (sign lost)")
def sb_inverse_sign(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, sign=1.0)


@staged.mistake("dvar's local gradient 0.5/sqrt(var) without eps")
def sb_dvar_no_eps(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, eps_in_dvar=False)


@staged.mistake("the mean of the squares backpropagated with 1/(N-1), as if the variance were unbiased")
def sb_n_minus_one(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, denom=dout.shape[0] - 1)


@staged.mistake("d(xmu^2) = xmu * dsq, the factor 2 forgotten")
def sb_square_no_two(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, two=1.0)


@staged.mistake("dmu not negated (x - mu differentiated as x + mu)")
def sb_dmu_sign(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, dmu_sign=1.0)


@staged.mistake("dxhat = dout, forgetting that xhat was scaled by gamma")
def sb_no_gamma(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, gamma_in=False)


@staged.mistake("dgamma and dbeta averaged over the batch (np.mean) instead of summed")
def sb_mean_not_sum(dout, cache):
    S.bn_backward_begin(dout, cache)
    dx, dgamma, dbeta = _staged(dout, cache)
    N = dout.shape[0]
    return dx, dgamma / N, dbeta / N


@staged.mistake("dsq built from np.ones((N, D)), float64, so a float32 pass returns float64 dx")
def sb_float64_ones(dout, cache):
    S.bn_backward_begin(dout, cache)
    return _staged(dout, cache, ones=np.ones(dout.shape))


@staged.mistake("scales the upstream gradient in place (dout *= gamma), changing the caller's dout")
def sb_dout_in_place(dout, cache):
    S.bn_backward_begin(dout, cache)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * cache.xhat).sum(axis=0)
    dout *= cache.gamma
    dx, _, _ = _staged(dout, cache, gamma_in=False)
    return dx, dgamma, dbeta


@staged.mistake("divar summed over the features (axis=1) instead of over the batch")
def sb_divar_axis(dout, cache):
    S.bn_backward_begin(dout, cache)
    c = cache
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (c.xhat * dout).sum(axis=0)
    dxhat = c.gamma * dout
    divar = np.sum(c.xmu * dxhat, axis=1, keepdims=True)
    dxmu1 = c.ivar * dxhat
    dvar = 0.5 / c.sqrtvar * (-1.0 / c.sqrtvar**2 * divar)
    dxmu2 = 2 * c.xmu * dvar / N
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.mistake("returns (dx, dbeta, dgamma): dgamma and dbeta in swapped places")
def sb_swapped_returns(dout, cache):
    S.bn_backward_begin(dout, cache)
    dx, dgamma, dbeta = _staged(dout, cache)
    return dx, dbeta, dgamma


@staged.correct("dmu from dxmu1 alone: dxmu2 sums to zero over the batch because xmu does")
def sb_dmu_first_branch(dout, cache):
    S.bn_backward_begin(dout, cache)
    c = cache
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (c.xhat * dout).sum(axis=0)
    dxhat = c.gamma * dout
    divar = np.sum(c.xmu * dxhat, axis=0)
    dxmu1 = c.ivar * dxhat
    dvar = 0.5 * c.ivar * (-(c.ivar**2) * divar)
    dxmu2 = 2 * c.xmu * dvar / N
    dmu = -np.sum(dxmu1, axis=0)
    return dxmu1 + dxmu2 + dmu / N, dgamma, dbeta


@staged.correct("each node through einsum and broadcasting, dsq never materialized")
def sb_einsum(dout, cache):
    S.bn_backward_begin(dout, cache)
    c = cache
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, c.xhat)
    dxhat = dout * c.gamma
    dvar = -0.5 * np.einsum("nd,nd->d", dxhat, c.xmu) * c.ivar**3
    dxmu = dxhat * c.ivar + 2.0 * c.xmu * dvar / N
    return dxmu - dxmu.mean(axis=0), dgamma, dbeta


@staged.correct("the staged graph with keepdims sums everywhere, dgamma and dbeta raveled at the end")
def sb_keepdims(dout, cache):
    S.bn_backward_begin(dout, cache)
    c = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * c.xhat).sum(axis=0, keepdims=True)
    dxhat = dout * c.gamma
    divar = (dxhat * c.xmu).sum(axis=0, keepdims=True)
    dsqrtvar = -divar / c.sqrtvar**2
    dvar = dsqrtvar / (2 * c.sqrtvar)
    dxmu = dxhat * c.ivar + 2 * c.xmu * dvar / N
    dmu = -dxmu.sum(axis=0, keepdims=True)
    return dxmu + dmu / N, dgamma.ravel(), dbeta.ravel()


# ---------------------------------------------------------------------------------------
# batchnorm_backward_alt
# ---------------------------------------------------------------------------------------

def _alt_begin(dout, cache):
    S.bn_backward_begin(dout, cache, "batchnorm_backward_alt")
    return dout.shape[0], cache.xhat, cache.gamma, cache.ivar


@alt.mistake("leaves gamma out of dx")
def ab_no_gamma(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("divides the two sums by N - 1")
def ab_n_minus_one(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / (N - 1)), dgamma, dbeta


@alt.mistake("adds the xhat * dgamma term instead of subtracting it")
def ab_plus_xhat(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - dbeta / N + xhat * dgamma / N), dgamma, dbeta


@alt.mistake("uses xmu where xhat belongs in the last term (forgets one factor ivar)")
def ab_xmu_for_xhat(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - (dbeta + cache.xmu * dgamma) / N), dgamma, dbeta


@alt.mistake("recomputes the scale as 1/sqrt(var), without eps")
def ab_no_eps(dout, cache):
    N, xhat, gamma, _ = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma / np.sqrt(cache.var) * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("forgets the 1/N of the CS231n form (1/N) gamma ivar (N dout - dbeta - xhat dgamma)")
def ab_missing_one_over_n(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (N * dout - dbeta - xhat * dgamma), dgamma, dbeta


@alt.mistake("means over the features (axis=1) in dx, layer norm's closed form")
def ab_feature_means(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    dxhat = gamma * dout
    dx = ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta


@alt.mistake("accumulates the sums in float64 (dtype=np.float64), returning float64 for a float32 pass")
def ab_float64_sums(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta = dout.sum(axis=0, dtype=np.float64)
    dgamma = (dout * xhat).sum(axis=0, dtype=np.float64)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("squares the inverse std: gamma * ivar**2 * (...)")
def ab_ivar_squared(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar**2 * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.mistake("subtracts the mean term from dout in place (dout -= ...), changing the caller's gradient")
def ab_dout_in_place(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    dout -= (dbeta + xhat * dgamma) / N
    return gamma * ivar * dout, dgamma, dbeta


@alt.mistake("dgamma summed over xmu * dout rather than xhat * dout")
def ab_dgamma_xmu(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta = dout.sum(axis=0)
    dx = gamma * ivar * (dout - (dbeta + xhat * (dout * xhat).sum(axis=0)) / N)
    return dx, (dout * cache.xmu).sum(axis=0), dbeta


@alt.mistake("drops the mean of dout: dx = gamma * ivar * (dout - xhat * dgamma / N)")
def ab_no_dbeta_term(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * ivar * (dout - xhat * dgamma / N), dgamma, dbeta


@alt.mistake("multiplies by the cached sqrtvar instead of dividing (ivar confused with sqrtvar)")
def ab_sqrtvar(dout, cache):
    N, xhat, gamma, _ = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return gamma * cache.sqrtvar * (dout - (dbeta + xhat * dgamma) / N), dgamma, dbeta


@alt.correct("the mean form: gamma * ivar * (dout - mean(dout) - xhat * mean(dout * xhat))")
def ab_means(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dx = gamma * ivar * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


@alt.correct("CS231n's form (1/N) gamma ivar (N dout - dbeta - xhat dgamma)")
def ab_cs231n_form(dout, cache):
    N, xhat, gamma, ivar = _alt_begin(dout, cache)
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    return (1.0 / N) * gamma * ivar * (N * dout - dbeta - xhat * dgamma), dgamma, dbeta


@alt.correct("written from xmu and var with the inverse std recomputed including eps")
def ab_from_xmu(dout, cache):
    N, xhat, gamma, _ = _alt_begin(dout, cache)
    istd = 1.0 / np.sqrt(cache.var + cache.eps)
    dbeta, dgamma = dout.sum(axis=0), (dout * cache.xmu).sum(axis=0) * istd
    dx = gamma * istd / N * (N * dout - dbeta - cache.xmu * istd * dgamma)
    return dx, dgamma, dbeta
