"""batchnorm_forward: mistakes and correct variants of the solution region.

`_given` and `_done` are the lines of the student edition around the region (argument checks,
and the variance check after it); every entry's body between them is what a student wrote.
"""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import BatchNormCache, _check_forward_inputs, read_bn_param

from tests.instructor.later_catalogue import Catalogue

catalogue = Catalogue("batchnorm_forward")


def _given(x, gamma, beta, bn_param):
    """The stub's checks before the region: (gamma, beta, mode, eps, momentum, running_mean, running_var)."""
    where = "batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs a batch of at least 2 samples; got N={N}")
    return gamma, beta, mode, eps, momentum, running_mean, running_var


def _done(x, out, cache):
    validation.finite_variance("batchnorm_forward", cache.var, x)
    return out, cache


def _cache(mode, x, mu, xmu, var, gamma, eps, **replaced):
    """A BatchNormCache from the statistics; `replaced` overrides fields a mistake stores wrongly."""
    sqrtvar = np.sqrt(var + eps)
    fields = dict(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=1.0 / sqrtvar,
                  xhat=xmu / sqrtvar, gamma=gamma, eps=eps)
    fields.update(replaced)
    return BatchNormCache(**fields)


def _plain(x, gamma, beta, bn_param, mean_var):
    """A correct forward pass whose batch statistics come from mean_var(x) -> (mu, var)."""
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = mean_var(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    cache = _cache(mode, x, mu, xmu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


# ---------------------------------------------------------------- statistics

@catalogue.mistake("normalizes each sample over its features (mean and variance over axis 1, keepdims), i.e. layer norm")
def stats_over_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    cache = _cache(mode, x, mu, xmu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("uses the unbiased batch variance (ddof=1) to normalize and in the running average")
def unbiased_variance(x, gamma, beta, bn_param):
    return _plain(x, gamma, beta, bn_param, lambda x: (x.mean(axis=0), x.var(axis=0, ddof=1)))


@catalogue.mistake("keeps the batch dimension in the statistics (keepdims=True), so the running averages become (1, D)")
def keepdims_statistics(x, gamma, beta, bn_param):
    return _plain(x, gamma, beta, bn_param,
                  lambda x: (x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)))


@catalogue.mistake("one-pass variance E[x^2] - E[x]^2 in the input's dtype: cancels catastrophically for float32 data with a large mean")
def one_pass_variance(x, gamma, beta, bn_param):
    return _plain(x, gamma, beta, bn_param,
                  lambda x: (x.mean(axis=0), (x * x).mean(axis=0) - x.mean(axis=0) ** 2))


@catalogue.mistake("divides the squared deviations by N but the mean by N - 1 (sum(x) / (N - 1))")
def mean_over_n_minus_one(x, gamma, beta, bn_param):
    N = x.shape[0]
    return _plain(x, gamma, beta, bn_param,
                  lambda x: (x.sum(axis=0) / (N - 1), ((x - x.sum(axis=0) / (N - 1)) ** 2).mean(axis=0)))


# ---------------------------------------------------------------- eps and the square root

@catalogue.mistake("adds eps to the standard deviation instead of the variance: xmu / (sqrt(var) + eps)")
def eps_outside_sqrt(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    sqrtvar = np.sqrt(var) + eps
    cache = _cache(mode, x, mu, xmu, var, gamma, eps, sqrtvar=sqrtvar, ivar=1 / sqrtvar, xhat=xmu / sqrtvar)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("forgets eps: divides by sqrt(var)")
def no_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    cache = _cache(mode, x, mu, xmu, var, gamma, 0.0)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("divides by the variance (plus eps) instead of its square root")
def divides_by_variance(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    xhat = xmu / (var + eps)
    cache = _cache(mode, x, mu, xmu, var, gamma, eps, xhat=xhat)
    return _done(x, gamma * xhat + beta, cache)


@catalogue.mistake("test mode divides by the running variance instead of its square root (train mode is right)")
def test_mode_divides_by_running_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
        xhat = (x - mu) / np.sqrt(var + eps)
    else:
        mu, var = rm, rv
        xhat = (x - mu) / (var + eps)
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps, xhat=xhat)
    return _done(x, gamma * xhat + beta, cache)


# ---------------------------------------------------------------- gamma and beta

@catalogue.mistake("swaps gamma and beta: beta * xhat + gamma")
def gamma_beta_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, beta * cache.xhat + gamma, cache)


@catalogue.mistake("adds beta before scaling: gamma * (xhat + beta)")
def beta_inside_scale(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * (cache.xhat + beta), cache)


@catalogue.mistake("test mode has its own formula that forgets gamma and beta: out = (x - running_mean) / sqrt(running_var + eps)")
def test_mode_without_gamma_beta(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
        cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
        out = gamma * cache.xhat + beta
    else:
        cache = _cache(mode, x, rm, x - rm, rv, gamma, eps)
        out = (x - rm) / np.sqrt(rv + eps)
    return _done(x, out, cache)


# ---------------------------------------------------------------- train and test mode

@catalogue.mistake("no test branch: always normalizes with the batch statistics (and updates the running averages in test mode too)")
def always_batch_statistics(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    mu, var = x.mean(axis=0), x.var(axis=0)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("test mode normalizes with the running statistics but then also folds the test batch into them")
def test_mode_updates_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * x.mean(axis=0)
    bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0)
    mu, var = (x.mean(axis=0), x.var(axis=0)) if mode == "train" else (rm, rv)
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("compares mode with 'training', so train batches take the test branch")
def mode_string_typo(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "training":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


# ---------------------------------------------------------------- running averages

@catalogue.mistake("momentum on the wrong side (PyTorch's convention): running = (1 - momentum) * running + momentum * batch")
def momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("averages the standard deviation sqrt(var + eps) into running_var instead of the variance")
def running_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * np.sqrt(var + eps)
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("normalizes with the biased variance but averages the unbiased one into running_var (as PyTorch stores it)")
def running_var_unbiased(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0, ddof=1)
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("updates local variables running_mean/running_var but never writes them back into bn_param")
def running_not_stored(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        rm = momentum * rm + (1 - momentum) * mu
        rv = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("updates the caller's running arrays in place (*=, +=) instead of storing new arrays in bn_param")
def running_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("replaces the running averages by the last batch's statistics (no momentum at all)")
def running_is_last_batch(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"], bn_param["running_var"] = mu, var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


# ---------------------------------------------------------------- inputs, dtype, cache

@catalogue.mistake("centers x in place (x -= mu), changing the caller's array")
def centers_x_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    x -= mu
    cache = _cache(mode, x, mu, x, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("casts x to float64 for accuracy and never back: float32 input gives float64 out and running averages")
def float64_throughout(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    x = x.astype(np.float64)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("cache's var field holds the standard deviation sqrt(var + eps), which the staged backward pass reads as a variance")
def cache_var_is_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps, var=np.sqrt(var + eps))
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("cache's xmu field holds x itself (uncentered), which the staged backward pass multiplies by")
def cache_xmu_is_x(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    cache = _cache(mode, x, mu, x - mu, var, gamma, eps)
    cache = _cache(mode, x, mu, x, var, gamma, eps, xhat=cache.xhat)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.mistake("cache's xhat field holds the output gamma * xhat + beta (the name 'out' reused)")
def cache_xhat_is_out(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return _done(x, out, _cache(mode, x, mu, x - mu, var, gamma, eps, xhat=out))


# ---------------------------------------------------------------- correct variants

def _float64_stats(x):
    """Two-pass mean and biased variance of x's columns, accumulated in float64."""
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=0)
    return mu, ((x64 - mu) ** 2).mean(axis=0)


def _finish(x, gamma, beta, bn_param, mode, eps, momentum, rm, rv, mu64=None, var64=None):
    """Running averages and output from float64 statistics (train mode).

    xmu is taken from the float64 mean and rounded once: subtracting the mean rounded to
    float32 first would cost up to half an ulp of the mean, a lot for data far from 0.
    """
    if mode == "train":
        mu, var = mu64.astype(x.dtype), var64.astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu64, mu, var = rm, rm, rv
    xmu = (x.astype(np.float64) - mu64).astype(x.dtype)
    cache = _cache(mode, x, mu, xmu, var, gamma, eps)
    return _done(x, gamma * cache.xhat + beta, cache)


@catalogue.correct("statistics accumulated in float64 (two passes), x - mu rounded once to x's dtype")
def float64_accumulation(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    stats = _float64_stats(x) if mode == "train" else ()
    return _finish(x, gamma, beta, bn_param, mode, eps, momentum, rm, rv, *stats)


@catalogue.correct("Welford's one-pass running mean and variance over the rows, in float64")
def welford(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    stats = ()
    if mode == "train":
        mean = np.zeros(x.shape[1])
        m2 = np.zeros(x.shape[1])
        for n, row in enumerate(x.astype(np.float64), start=1):
            delta = row - mean
            mean += delta / n
            m2 += delta * (row - mean)
        stats = (mean, m2 / x.shape[0])
    return _finish(x, gamma, beta, bn_param, mode, eps, momentum, rm, rv, *stats)


@catalogue.correct("shifted one-pass variance around the first sample, E[(x-K)^2] - E[x-K]^2 with K = x[0], in float64")
def shifted_one_pass(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    stats = ()
    if mode == "train":
        K = x[0].astype(np.float64)
        d = x.astype(np.float64) - K
        dmean = d.mean(axis=0)
        stats = (K + dmean, (d * d).mean(axis=0) - dmean**2)
    return _finish(x, gamma, beta, bn_param, mode, eps, momentum, rm, rv, *stats)


@catalogue.correct("einsum sums in float64; running averages written as new arrays via np.add")
def einsum_statistics(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        N = x.shape[0]
        mu64 = np.einsum("nd->d", x, dtype=np.float64) / N
        xmu64 = x - mu64
        mu, var = mu64.astype(x.dtype), (np.einsum("nd,nd->d", xmu64, xmu64) / N).astype(x.dtype)
        bn_param["running_mean"] = np.add(momentum * rm, (1 - momentum) * mu)
        bn_param["running_var"] = np.add(momentum * rv, (1 - momentum) * var)
    else:
        mu64, mu, var = rm, rm, rv
    cache = _cache(mode, x, mu, (x - mu64).astype(x.dtype), var, gamma, eps)
    return _done(x, cache.xhat * gamma + beta, cache)


@catalogue.correct("computes out from xhat with np.multiply/np.add into fresh arrays, gamma applied after the cache is built")
def ufunc_output(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = _given(x, gamma, beta, bn_param)
    if mode == "train":
        mu64, var64 = _float64_stats(x)
        mu, var = mu64.astype(x.dtype), var64.astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu64, mu, var = rm, rm, rv
    cache = _cache(mode, x, mu, np.subtract(x, mu64, dtype=np.float64).astype(x.dtype), var, gamma, eps)
    return _done(x, np.add(np.multiply(cache.xhat, gamma), beta), cache)
