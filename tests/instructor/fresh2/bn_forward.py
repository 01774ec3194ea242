"""batchnorm_forward (notebook 1): mistakes in the statistics, the running averages, the cache."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, read_bn_param
from tests.instructor.later_catalogue import Catalogue

catalogue = Catalogue("batchnorm_forward")


def _settings(x, bn_param):
    return read_bn_param("batchnorm_forward", bn_param, x.shape[1], x.dtype)


def _normalize(x, gamma, beta, mu, var, eps, mode="train"):
    """out and the cache, from given statistics: the part most mistakes below leave alone."""
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    return gamma * xhat + beta, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


def _test_mode(x, gamma, beta, eps, running_mean, running_var):
    return _normalize(x, gamma, beta, running_mean, running_var, eps, mode="test")


def _store(bn_param, momentum, running_mean, running_var, mu, var):
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var


# ---- the statistics -----------------------------------------------------------------------

@catalogue.mistake("the running variance is updated with the variance of xhat (about 1), not of x")
def running_var_of_xhat(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, cache.xhat.var(axis=0))
    return out, cache


@catalogue.mistake("the running mean and variance are taken from out (so they track beta and gamma**2)")
def running_stats_of_out(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    out, cache = _normalize(x, gamma, beta, x.mean(axis=0), x.var(axis=0), eps)
    _store(bn_param, momentum, rm, rv, out.mean(axis=0), out.var(axis=0))
    return out, cache


@catalogue.mistake("eps added twice: var already holds var + eps when the square root adds eps again")
def eps_twice(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0) + eps
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var - eps)
    return out, cache


@catalogue.mistake("eps added to the standard deviation, outside the root, with np.std")
def eps_added_to_std(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, std = x.mean(axis=0), x.std(axis=0)
    xmu = x - mu
    sqrtvar = std + eps
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    _store(bn_param, momentum, rm, rv, mu, std ** 2)
    return gamma * xhat + beta, BatchNormCache("train", x, mu, xmu, std ** 2, sqrtvar, ivar, xhat, gamma, eps)


@catalogue.mistake("variance as E[x^2] - E[x]^2 in one pass, without a shift (cancels for a large mean)")
def one_pass_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = x.mean(axis=0)
    var = (x * x).mean(axis=0) - mu * mu
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("the mean over the whole batch (axis=None) but the variance per feature")
def mean_over_everything(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = np.full(x.shape[1], x.mean())
    out, cache = _normalize(x, gamma, beta, mu, x.var(axis=0), eps)
    _store(bn_param, momentum, rm, rv, mu, x.var(axis=0))
    return out, cache


@catalogue.mistake("keepdims=True for the mean only: running_mean becomes (1, D)")
def keepdims_mean_only(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = x.mean(axis=0, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("the batch is cast to float32 for speed, so a float64 batch comes back float32")
def computes_in_float32(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    x32 = x.astype(np.float32)
    if mode == "test":
        return _test_mode(x32, gamma.astype(np.float32), beta.astype(np.float32), eps, rm, rv)
    mu, var = x32.mean(axis=0), x32.var(axis=0)
    out, cache = _normalize(x32, gamma.astype(np.float32), beta.astype(np.float32), mu, var, np.float32(eps))
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("a float32 batch is promoted to float64 (statistics in float64 never cast back)")
def float32_promoted(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    x64 = x.astype(np.float64)
    if mode == "test":
        return _test_mode(x64, gamma, beta, eps, rm, rv)
    mu, var = x64.mean(axis=0), x64.var(axis=0)
    out, cache = _normalize(x64, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("x centred in place (x -= mu): the caller's batch is overwritten")
def centres_x_in_place(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = x.mean(axis=0)
    original = x.copy()
    x -= mu
    var = (x ** 2).mean(axis=0)
    out, cache = _normalize(original, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


# ---- the running averages -------------------------------------------------------------------

@catalogue.mistake("PyTorch's momentum convention: the weight momentum goes on the NEW statistic")
def momentum_on_new(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
    bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    return out, cache


@catalogue.mistake("the running mean follows the batch variance and the running variance the batch mean")
def running_stats_crossed(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * var
    bn_param["running_var"] = momentum * rv + (1 - momentum) * mu
    return out, cache


@catalogue.mistake("momentum applied to the running mean only; running_var is replaced by the batch's")
def momentum_on_mean_only(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = var
    return out, cache


@catalogue.mistake("running_var stores the unbiased N/(N-1) variance (PyTorch's habit) while normalizing with the biased")
def running_var_unbiased(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, x.var(axis=0, ddof=1))
    return out, cache


@catalogue.mistake("running_var averages the standard deviation sqrt(var + eps)")
def running_std(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, cache.sqrtvar)
    return out, cache


@catalogue.mistake("the running averages are also updated in test mode, from the test batch")
def updates_in_test_mode(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    mu, var = x.mean(axis=0), x.var(axis=0)
    if mode == "test":
        out, cache = _test_mode(x, gamma, beta, eps, rm, rv)
    else:
        out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("the running arrays are updated in place (*=, +=), changing the arrays the caller holds")
def running_in_place(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    rm *= momentum
    rm += (1 - momentum) * mu
    rv *= momentum
    rv += (1 - momentum) * var
    bn_param["running_mean"], bn_param["running_var"] = rm, rv
    return out, cache


@catalogue.mistake("the new running averages are computed but never written back into bn_param")
def running_not_written_back(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    rm = momentum * rm + (1 - momentum) * mu
    rv = momentum * rv + (1 - momentum) * var
    return out, cache


@catalogue.mistake("momentum hard-coded to 0.9 instead of read from bn_param")
def momentum_hard_coded(x, gamma, beta, bn_param):
    mode, eps, _, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, 0.9, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("eps hard-coded to 1e-5 instead of read from bn_param")
def eps_hard_coded(x, gamma, beta, bn_param):
    mode, _, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, 1e-5, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, 1e-5)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


# ---- test mode --------------------------------------------------------------------------------

@catalogue.mistake("test mode divides by running_var + eps, without the square root")
def test_mode_without_root(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return gamma * (x - rm) / (rv + eps) + beta, BatchNormCache("test", x, rm, x - rm, rv, rv + eps,
                                                                    1 / (rv + eps), (x - rm) / (rv + eps), gamma, eps)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("test mode leaves out gamma and beta (returns the normalized x)")
def test_mode_without_affine(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        out, cache = _test_mode(x, gamma, beta, eps, rm, rv)
        return cache.xhat, cache
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.mistake("test mode uses the running mean with the batch's own variance")
def test_mode_batch_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, x.var(axis=0))
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


# ---- the cache -----------------------------------------------------------------------------------

def _train_with_cache(x, gamma, beta, bn_param, edit):
    """A correct train mode whose cache goes through `edit` (a field filled with the wrong value)."""
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, edit(cache, out, beta)


def _replace(cache, **fields):
    return BatchNormCache(**{**cache.__dict__, **fields})


@catalogue.mistake("cache fields swapped: sqrtvar holds 1/sqrt(var + eps) and ivar holds sqrt(var + eps)")
def cache_sqrtvar_ivar_swapped(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param,
                             lambda c, out, beta: _replace(c, sqrtvar=c.ivar, ivar=c.sqrtvar))


@catalogue.mistake("cache.xhat holds out = gamma * xhat + beta")
def cache_xhat_is_out(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param, lambda c, out, beta: _replace(c, xhat=out))


@catalogue.mistake("cache.gamma holds beta (both parameters stored under one wrong name)")
def cache_gamma_is_beta(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param, lambda c, out, beta: _replace(c, gamma=beta))


@catalogue.mistake("cache.var holds var + eps (the quantity under the root)")
def cache_var_with_eps(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param, lambda c, out, beta: _replace(c, var=c.var + c.eps))


@catalogue.mistake("cache.xmu holds x, not x - mu")
def cache_xmu_is_x(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param, lambda c, out, beta: _replace(c, xmu=c.x))


@catalogue.mistake("cache.mode says 'test' after a train-mode pass (mode string copied from the wrong branch)")
def cache_mode_test(x, gamma, beta, bn_param):
    return _train_with_cache(x, gamma, beta, bn_param, lambda c, out, beta: _replace(c, mode="test"))


@catalogue.mistake("beta inside the scale: out = gamma * (xhat + beta)")
def beta_inside_scale(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        out, cache = _test_mode(x, gamma, beta, eps, rm, rv)
    else:
        out, cache = _normalize(x, gamma, beta, x.mean(axis=0), x.var(axis=0), eps)
        _store(bn_param, momentum, rm, rv, cache.mu, cache.var)
    return gamma * (cache.xhat + beta), cache


# ---- correct variants ----------------------------------------------------------------------------

@catalogue.correct("statistics with np.einsum sums; the running averages as new arrays")
def einsum_statistics(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    N = x.shape[0]
    mu = np.einsum("nd->d", x) / N
    xmu = x - mu
    var = np.einsum("nd,nd->d", xmu, xmu) / N
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.correct("one-pass variance around a shift (the first sample), stable for a large mean")
def shifted_one_pass(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    shifted = x - x[0]
    s = shifted.mean(axis=0)
    mu = x[0] + s
    var = np.maximum((shifted * shifted).mean(axis=0) - s * s, 0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.correct("statistics accumulated in float64 and cast back to x's dtype (float32-friendly)")
def float64_accumulation(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu = x.mean(axis=0, dtype=np.float64)
    var = ((x - mu) ** 2).mean(axis=0)
    mu, var = mu.astype(x.dtype), var.astype(x.dtype)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    _store(bn_param, momentum, rm, rv, mu, var)
    return out, cache


@catalogue.correct("test mode folded into one affine map: x * scale + (beta - running_mean * scale)")
def folded_test_mode(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        _, cache = _test_mode(x, gamma, beta, eps, rm, rv)
        scale = gamma / np.sqrt(rv + eps)
        return x * scale + (beta - rm * scale), cache
    out, cache = _normalize(x, gamma, beta, x.mean(axis=0), x.var(axis=0), eps)
    _store(bn_param, momentum, rm, rv, cache.mu, cache.var)
    return out, cache


@catalogue.correct("running averages by np.add with explicit weights, the batch statistics from np.var")
def running_by_lerp(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "test":
        return _test_mode(x, gamma, beta, eps, rm, rv)
    mu, var = np.mean(x, axis=0), np.var(x, axis=0)
    out, cache = _normalize(x, gamma, beta, mu, var, eps)
    # rm + (1 - m)(mu - rm) is the same average, written as a step towards the batch value.
    bn_param["running_mean"] = rm + (1 - momentum) * (mu - rm)
    bn_param["running_var"] = rv + (1 - momentum) * (var - rv)
    return out, cache
