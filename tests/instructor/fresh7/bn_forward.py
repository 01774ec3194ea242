"""batchnorm_forward: mistakes and unusual correct variants, each a body of the solution region."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache
from tests.instructor.fresh7.scaffold import bn_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("batchnorm_forward")


def _stats64(x):
    """Batch mean and biased variance summed in float64, rounded to x's dtype (accurate for a large mean)."""
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=0)
    xmu = x64 - mu
    return mu.astype(x.dtype), xmu.astype(x.dtype), (xmu**2).mean(axis=0).astype(x.dtype)


def _finish(x, gamma, beta, mode, mu, xmu, var, eps):
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                               xhat=xhat, gamma=gamma, eps=eps)


def _update(bn_param, momentum, running_mean, running_var, mu, var):
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var


@forward.mistake("variance with ddof=1 (unbiased) where the layer normalizes with the biased one")
@bn_forward
def bnf_unbiased_var(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, _ = _stats64(x)
        var = x.var(axis=0, ddof=1)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("eps added to the standard deviation, outside the square root")
@bn_forward
def bnf_eps_outside_sqrt(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    sqrtvar = np.sqrt(var) + eps
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


@forward.mistake("PyTorch's momentum convention: the running averages keep (1 - momentum) of the old value")
@bn_forward
def bnf_torch_momentum(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("normalizes with the biased variance but stores PyTorch's unbiased N/(N-1) variance in running_var")
@bn_forward
def bnf_running_var_unbiased(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    N = x.shape[0]
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var * N / (N - 1))
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("test mode normalizes with the test batch's own statistics instead of the running ones")
@bn_forward
def bnf_test_uses_batch(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    mu, xmu, var = _stats64(x) if x.shape[0] > 1 else (x[0], x - x[0], np.zeros_like(x[0]))
    if mode == "train":
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("test mode also folds the test batch into the running statistics")
@bn_forward
def bnf_test_updates_running(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
        bmu, _, bvar = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, bmu, bvar)
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("the variance is one scalar over the whole batch (np.var without axis), broadcast silently")
@bn_forward
def bnf_scalar_var(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, _ = _stats64(x)
        var = np.full_like(mu, np.var(x))
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("running statistics updated in place (*=, +=), changing the arrays the caller passed in")
@bn_forward
def bnf_running_inplace(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        running_mean *= momentum
        running_mean += (1 - momentum) * mu
        running_var *= momentum
        running_var += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("running_var averages the batch standard deviation sqrt(var + eps) rather than the variance")
@bn_forward
def bnf_running_std(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, np.sqrt(var + eps))
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("cache.xhat holds the output gamma * xhat + beta")
@bn_forward
def bnf_cache_xhat_is_out(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    out, cache = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return out, BatchNormCache(mode, x, mu, xmu, var, cache.sqrtvar, cache.ivar, out, gamma, eps)


@forward.mistake("cache.var holds var + eps (the documented field is the biased variance itself)")
@bn_forward
def bnf_cache_var_plus_eps(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    var = var + eps
    sqrtvar = np.sqrt(var)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    return gamma * xhat + beta, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


@forward.mistake("cache fields sqrtvar and ivar swapped (output is right)")
@bn_forward
def bnf_cache_swapped_ivar(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    out, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return out, BatchNormCache(mode, x, mu, xmu, var, c.ivar, c.sqrtvar, c.xhat, gamma, eps)


@forward.mistake("cache.mu in train mode holds the updated running mean, not the batch mean")
@bn_forward
def bnf_cache_mu_running(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
        out, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
        return out, BatchNormCache(mode, x, bn_param["running_mean"], xmu, var, c.sqrtvar, c.ivar, c.xhat, gamma, eps)
    mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("test mode divides by sqrt(running_var) without eps")
@bn_forward
def bnf_test_no_eps(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
        return _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, 0.0)


@forward.mistake("test mode returns xhat without gamma and beta")
@bn_forward
def bnf_test_no_affine(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
        return _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    mu, var, xmu = running_mean, running_var, x - running_mean
    _, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return c.xhat, c


@forward.mistake("shift inside the scale: out = gamma * (xhat + beta)")
@bn_forward
def bnf_beta_inside(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    _, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return gamma * (c.xhat + beta), c


@forward.mistake("centres x in place (x -= mu), changing the caller's array")
@bn_forward
def bnf_x_inplace(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, _, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    x -= mu.astype(x.dtype)
    return _finish(x, gamma, beta, mode, mu, x, var, eps)


@forward.mistake("statistics taken in float64 and never cast back: a float32 batch comes out float64")
@bn_forward
def bnf_float64_out(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.mean(axis=0, dtype=np.float64)
        xmu = x - mu
        var = (xmu**2).mean(axis=0)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("reads momentum with PyTorch's default 0.1 when bn_param has none (instead of the scaffold's 0.9)")
@bn_forward
def bnf_default_momentum(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    momentum = bn_param.get("momentum", 0.1)
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("eps hard-coded to 1e-5, ignoring bn_param['eps']")
@bn_forward
def bnf_fixed_eps(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    eps = 1e-5
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("computes the new running averages into locals and never writes them back into bn_param")
@bn_forward
def bnf_running_not_stored(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("variance as E[x^2] - E[x]^2 in x's dtype: cancels catastrophically when |mean| >> std")
@bn_forward
def bnf_one_pass_var(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.mean(axis=0)
        var = np.maximum((x * x).mean(axis=0) - mu * mu, 0)
        xmu = x - mu
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("cache.mode is always 'train', so a test-mode cache is not refused by the backward passes")
@bn_forward
def bnf_cache_mode_train(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, "train", mu, xmu, var, eps)


@forward.mistake("the running mean's update takes the batch variance and the running variance's the batch mean")
@bn_forward
def bnf_running_swapped(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, var, np.abs(mu))
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("mean divides the column sums by D instead of N (x.sum(0) / x.shape[1])")
@bn_forward
def bnf_mean_by_D(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.sum(axis=0) / x.shape[1]
        xmu = x - mu
        var = (xmu**2).mean(axis=0)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("cache.gamma holds beta (copy-paste slip in the cache constructor)")
@bn_forward
def bnf_cache_gamma_beta(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    out, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return out, BatchNormCache(mode, x, mu, xmu, var, c.sqrtvar, c.ivar, c.xhat, beta, eps)


@forward.mistake("cache.x holds the centred x - mu instead of the input")
@bn_forward
def bnf_cache_x_centred(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    out, c = _finish(x, gamma, beta, mode, mu, xmu, var, eps)
    return out, BatchNormCache(mode, xmu, mu, xmu, var, c.sqrtvar, c.ivar, c.xhat, gamma, eps)


@forward.mistake("running average updated with the OLD mean weighted (1 - momentum) and the batch mean momentum, for the mean only")
@bn_forward
def bnf_momentum_mean_only(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.mistake("test mode centres with the running mean but scales with the batch's own variance")
@bn_forward
def bnf_test_mixed_stats(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, xmu = running_mean, x - running_mean
        var = x.var(axis=0)
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


# ---- correct but unusual ----

@forward.correct("np.mean/np.var in float64 and a cast back; everything else as the graph")
@bn_forward
def bnf_ok_npvar(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        x64 = x.astype(np.float64)
        mu, var = x64.mean(axis=0).astype(x.dtype), x64.var(axis=0).astype(x.dtype)
        xmu = (x64 - x64.mean(axis=0)).astype(x.dtype)
        bn_param.update(running_mean=momentum * running_mean + (1 - momentum) * mu,
                        running_var=momentum * running_var + (1 - momentum) * var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.correct("running averages written as running + (1 - momentum) * (batch - running)")
@bn_forward
def bnf_ok_lerp(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        bn_param["running_mean"] = running_mean + (1 - momentum) * (mu - running_mean)
        bn_param["running_var"] = running_var + (1 - momentum) * (var - running_var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    return _finish(x, gamma, beta, mode, mu, xmu, var, eps)


@forward.correct("xhat by division (xmu / sqrtvar) and the output via np.add/np.multiply")
@bn_forward
def bnf_ok_divide(x, gamma, beta, bn_param, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, xmu, var = _stats64(x)
        _update(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var, xmu = running_mean, running_var, x - running_mean
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu / sqrtvar
    out = np.add(np.multiply(xhat, gamma), beta)
    return out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
