"""batchnorm_forward: mistakes and correct variants, each a whole solution region after the shipped validation."""

import numpy as np

from tests.instructor.fresh8.scaffold import (
    BatchNormCache, batch_stats, bn_cache, bn_finish, bn_prelude,
)
from tests.instructor.later_catalogue import Catalogue

cat = Catalogue("batchnorm_forward")


def _update(bn_param, momentum, rm, rv, mu, var):
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * var


def _test_stats(x, rm, rv):
    return rm, x - rm, rv


@cat.mistake("Takes the mean and variance over each sample's features (axis=1, keepdims) instead of over the batch, and averages those per-sample statistics into the running averages.")
def bn_stats_over_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x, axis=1, keepdims=True)
        _update(bn_param, momentum, rm, rv, mu.mean(), var.mean())
        cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    else:
        cache = bn_cache(mode, x, *_test_stats(x, rm, rv), gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Normalizes with the unbiased batch variance (np.var with ddof=1) instead of the biased one.")
def bn_unbiased_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        xmu = x - mu
        var = np.var(x, axis=0, ddof=1)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Adds eps to the standard deviation, sqrt(var) + eps, instead of inside the square root.")
def bn_eps_outside_sqrt(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    sqrtvar = np.sqrt(var) + eps
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
    return bn_finish(gamma * xhat + beta, cache, x)


@cat.mistake("Uses PyTorch's momentum convention: running = (1 - momentum) * running + momentum * batch statistic.")
def bn_momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Averages the batch standard deviation sqrt(var + eps) into running_var instead of the variance.")
def bn_running_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, np.sqrt(var + eps))
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Normalizes with the batch's own mean and variance in test mode too, never reading the running statistics.")
def bn_test_uses_batch(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = batch_stats(x)
    if mode == "train":
        _update(bn_param, momentum, rm, rv, mu, var)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Updates the running averages with the batch statistics in test mode as well (the update sits outside the train branch).")
def bn_test_updates_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    bmu, _, bvar = batch_stats(x)
    _update(bn_param, momentum, rm, rv, bmu, bvar)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Computes the new running averages into local variables and never writes them back into bn_param.")
def bn_running_not_stored(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        rm = momentum * rm + (1 - momentum) * mu
        rv = momentum * rv + (1 - momentum) * var
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Updates the caller's running_mean and running_var arrays in place (*= and +=) instead of storing new arrays in bn_param.")
def bn_running_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Centres the input in place with x -= mu, so the caller's x is overwritten (and the cache's x is the centred one).")
def bn_centres_x_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, _, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, var = rm, rv
    x -= mu.astype(x.dtype)
    cache = bn_cache(mode, x, mu, x, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Swaps the roles of the parameters: out = beta * xhat + gamma.")
def bn_gamma_beta_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(beta * cache.xhat + gamma, cache, x)


@cat.mistake("Forgets the shift: out = gamma * xhat, without + beta.")
def bn_no_beta(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat, cache, x)


@cat.mistake("Divides by the variance instead of the standard deviation: xhat = (x - mu) / (var + eps), with ivar = 1 / (var + eps) in the cache.")
def bn_divides_by_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / (var + eps)
    xhat = xmu * ivar
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
    return bn_finish(gamma * xhat + beta, cache, x)


@cat.mistake("Computes the variance in one pass as mean(x**2) - mean(x)**2 in x's own dtype, which cancels catastrophically in float32 when the mean is large against the spread.")
def bn_one_pass_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = np.maximum((x * x).mean(axis=0) - mu * mu, 0)
        xmu = x - mu
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Stores var + eps in the cache's var field instead of the biased batch variance itself.")
def bn_cache_var_plus_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    c = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    cache = BatchNormCache(mode, x, mu, xmu, var + eps, c.sqrtvar, c.ivar, c.xhat, gamma, eps)
    return bn_finish(gamma * c.xhat + beta, cache, x)


@cat.mistake("Caches the layer output gamma * xhat + beta under the name xhat instead of the normalized xhat.")
def bn_cache_xhat_is_out(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    c = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    out = gamma * c.xhat + beta
    cache = BatchNormCache(mode, x, mu, xmu, var, c.sqrtvar, c.ivar, out, gamma, eps)
    return bn_finish(out, cache, x)


@cat.mistake("Writes mode='train' into every cache, so a test-mode cache is not recognisable as one.")
def bn_cache_mode_always_train(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache("train", x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Stores PyTorch's unbiased N/(N-1) * var in running_var while normalizing with the biased variance.")
def bn_running_var_unbiased(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var * N / (N - 1))
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Converts x to float64 at the start (x = x.astype(np.float64)) so a float32 input comes back as float64 output and cache.")
def bn_upcasts_to_float64(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    x = x.astype(np.float64)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Leaves eps out in test mode only: xhat = (x - running_mean) / sqrt(running_var).")
def bn_test_no_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
        cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
        return bn_finish(gamma * cache.xhat + beta, cache, x)
    sqrtvar = np.sqrt(rv)
    with np.errstate(divide="ignore", invalid="ignore"):
        ivar = 1.0 / sqrtvar
    xhat = (x - rm) * ivar
    cache = BatchNormCache(mode, x, rm, x - rm, rv, sqrtvar, ivar, xhat, gamma, eps)
    return bn_finish(gamma * xhat + beta, cache, x)


@cat.mistake("Ignores bn_param['eps'] and always adds the default 1e-5.")
def bn_ignores_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    eps = 1e-5
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Ignores bn_param['momentum'] and always keeps 0.9 of the old running value.")
def bn_ignores_momentum(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, 0.9, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Starts the running variance at ones (PyTorch's start) when bn_param holds none, instead of zeros.")
def bn_running_var_starts_at_one(x, gamma, beta, bn_param):
    had_var = "running_var" in bn_param
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if not had_var:
        rv = np.ones_like(rv)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Caches sqrt(var) without eps as sqrtvar (while normalizing correctly with eps).")
def bn_cache_sqrtvar_no_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    c = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    cache = BatchNormCache(mode, x, mu, xmu, var, np.sqrt(var), c.ivar, c.xhat, gamma, eps)
    return bn_finish(gamma * c.xhat + beta, cache, x)


@cat.mistake("Normalizes with one mean and variance over the whole array (x.mean(), x.var()) instead of per feature, and averages those scalars into the running statistics.")
def bn_global_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = np.full(x.shape[1], x.mean(), dtype=x.dtype)
        xmu = x - mu
        var = np.full(x.shape[1], np.mean(xmu**2), dtype=x.dtype)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Mixes up the running statistics' keys: stores the averaged variance under running_mean and the averaged mean under running_var.")
def bn_running_keys_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        bn_param["running_var"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_mean"] = momentum * rv + (1 - momentum) * var
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("Replaces the running statistics by the last batch's mean and variance instead of averaging them with momentum.")
def bn_running_is_last_batch(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        bn_param["running_mean"], bn_param["running_var"] = mu.copy(), var.copy()
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.mistake("In test mode subtracts the running mean but divides by the batch's own standard deviation.")
def bn_test_batch_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu = rm, x - rm
        var = x.var(axis=0)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


# ---- correct variants ----

@cat.correct("Sums the statistics with einsum in float64 and casts them back to x's dtype.")
def bn_einsum_float64_sums(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu = (np.einsum("nd->d", x, dtype=np.float64) / N).astype(x.dtype)
        xmu = x - mu
        var = (np.einsum("nd,nd->d", xmu, xmu, dtype=np.float64) / N).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
    return bn_finish(gamma * xhat + beta, cache, x)


@cat.correct("Shifts the data by its first sample before summing (x - x[0]), so a large mean costs no float32 accuracy.")
def bn_shifted_sums(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        shifted = x - x[0]
        dmu = shifted.mean(axis=0, dtype=np.float64)
        mu = (x[0] + dmu).astype(x.dtype)
        xmu = (shifted - dmu).astype(x.dtype)
        var = np.mean(np.square(xmu, dtype=np.float64), axis=0).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.correct("Uses np.var with a float64 accumulator (two passes inside numpy) for the biased variance.")
def bn_np_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
        var = np.var(x, axis=0, dtype=np.float64).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.correct("Writes the running update as rm + (1 - momentum) * (mu - rm) and stores both with bn_param.update.")
def bn_update_as_lerp(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        bn_param.update(running_mean=rm + (1 - momentum) * (mu - rm), running_var=rv + (1 - momentum) * (var - rv))
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.correct("Divides by sqrtvar for xhat (rather than multiplying by ivar) and builds out with np.multiply/np.add into fresh arrays.")
def bn_divide_and_out_arrays(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, xmu, var = _test_stats(x, rm, rv)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu / sqrtvar
    out = np.multiply(xhat, gamma)
    np.add(out, beta, out=out)
    cache = BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)
    return bn_finish(out, cache, x)


@cat.correct("Copies x first and centres the copy in place (xmu = x.copy(); xmu -= mu), leaving the caller's x alone.")
def bn_in_place_on_copy(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, _, var = batch_stats(x)
        _update(bn_param, momentum, rm, rv, mu, var)
    else:
        mu, var = rm, rv
    xmu = x.copy()
    xmu -= mu
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)


@cat.correct("Handles test mode first with an early return and keeps the train branch flat.")
def bn_early_return_test(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "test":
        cache = bn_cache(mode, x, rm, x - rm, rv, gamma, eps)
        return bn_finish(gamma * cache.xhat + beta, cache, x)
    mu, xmu, var = batch_stats(x)
    bn_param["running_mean"] = np.add(momentum * rm, (1 - momentum) * mu)
    bn_param["running_var"] = np.add(momentum * rv, (1 - momentum) * var)
    cache = bn_cache(mode, x, mu, xmu, var, gamma, eps)
    return bn_finish(gamma * cache.xhat + beta, cache, x)
