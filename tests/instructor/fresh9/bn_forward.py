"""batchnorm_forward: mistakes in the statistics, the running averages, the modes and the cache."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache
from tests.instructor.fresh9.scaffold import bn_finish, bn_forward, bn_setup, bn_stats, centred
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("batchnorm_forward")


@forward.mistake("Normalizes with the unbiased batch variance (ddof=1, dividing by N-1) instead of the biased one.")
def unbiased_variance(x, gamma, beta, bn_param):
    return bn_forward(x, gamma, beta, bn_param, stats=lambda x: (x.mean(axis=0), x.var(axis=0, ddof=1)))


@forward.mistake("Adds eps outside the square root: xhat = xmu / (sqrt(var) + eps).")
def eps_outside_sqrt(x, gamma, beta, bn_param):
    def finish(x, mu, var, gamma, beta, eps, mode):
        sqrtvar = np.sqrt(var) + eps
        xmu = x - mu
        xhat = xmu / sqrtvar
        cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=1.0 / sqrtvar,
                               xhat=xhat, gamma=gamma, eps=eps)
        return gamma * xhat + beta, cache
    return bn_forward(x, gamma, beta, bn_param, finish=finish)


@forward.mistake("Swaps the momentum convention: running = (1 - momentum) * running + momentum * batch statistic.")
def momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = (1 - m) * rm + m * mu
        bn_param["running_var"] = (1 - m) * rv + m * var
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Accumulates the batch standard deviation sqrt(var) into running_var instead of the variance.")
def running_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * np.sqrt(var)
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Computes the new running statistics in local variables but never writes them back into bn_param.")
def running_not_stored(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        rm = m * rm + (1 - m) * mu
        rv = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Updates the running statistics in place (*= and +=), changing the arrays the caller passed in bn_param.")
def running_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        rm *= m
        rm += (1 - m) * mu
        rv *= m
        rv += (1 - m) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Test mode normalizes with the statistics of the test batch instead of the running statistics.")
def test_uses_batch_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    mu, var = bn_stats(x)
    if mode == "train":
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Updates the running statistics in test mode too (with the test batch's mean and variance), though it normalizes with the old ones.")
def test_updates_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    mu, var = bn_stats(x)
    bn_param["running_mean"] = m * rm + (1 - m) * mu
    bn_param["running_var"] = m * rv + (1 - m) * var
    if mode == "test":
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Test mode computes out with xhat = (x - running_mean) / sqrt(running_var), forgetting eps (train mode and the cache keep it).")
def test_without_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        return bn_forward(x, gamma, beta, bn_param)
    out, cache = bn_finish(x, rm, rv, gamma, beta, eps, mode)
    xhat = (x - rm) / np.sqrt(rv)
    return gamma * xhat + beta, cache


@forward.mistake("Shifts before scaling: out = gamma * (xhat + beta) instead of gamma * xhat + beta.")
def shift_inside_scale(x, gamma, beta, bn_param):
    out, cache = bn_forward(x, gamma, beta, bn_param)
    return gamma * (cache.xhat + beta), cache


@forward.mistake("Stores sqrt(var + eps) in the cache's var field (the standard deviation where the variance belongs).")
def cache_var_is_std(x, gamma, beta, bn_param):
    out, cache = bn_forward(x, gamma, beta, bn_param)
    fields = dict(vars(cache))
    fields["var"] = cache.sqrtvar
    return out, BatchNormCache(**fields)


@forward.mistake("Swaps the cache's sqrtvar and ivar fields (stores 1/sqrt(var + eps) as sqrtvar and sqrt(var + eps) as ivar).")
def cache_sqrtvar_ivar_swapped(x, gamma, beta, bn_param):
    out, cache = bn_forward(x, gamma, beta, bn_param)
    fields = dict(vars(cache))
    fields["sqrtvar"], fields["ivar"] = cache.ivar, cache.sqrtvar
    return out, BatchNormCache(**fields)


@forward.mistake("Stores the output out in the cache's xhat field instead of the normalized xhat.")
def cache_xhat_is_out(x, gamma, beta, bn_param):
    out, cache = bn_forward(x, gamma, beta, bn_param)
    fields = dict(vars(cache))
    fields["xhat"] = out
    return out, BatchNormCache(**fields)


@forward.mistake("Computes the batch statistics with dtype=np.float64 and never casts back, so float32 x gives a float64 out and cache.")
def float64_statistics(x, gamma, beta, bn_param):
    def stats(x):
        mu = x.mean(axis=0, dtype=np.float64)
        return mu, ((x - mu) ** 2).mean(axis=0)
    return bn_forward(x, gamma, beta, bn_param, stats=stats)


@forward.mistake("Takes the mean and variance with keepdims=True, so mu, var, the cache's statistics and the running statistics have shape (1, D) instead of (D,).")
def keepdims_statistics(x, gamma, beta, bn_param):
    def stats(x):
        mu = x.mean(axis=0, keepdims=True)
        return mu, ((x - mu) ** 2).mean(axis=0, keepdims=True)
    return bn_forward(x, gamma, beta, bn_param, stats=stats)


@forward.mistake("Centres x in place (x -= mu), so the caller's x is overwritten with x - mu.")
def centres_x_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    original = x.copy()
    x -= mu
    sqrtvar = np.sqrt(var + eps)
    xhat = x / sqrtvar
    cache = BatchNormCache(mode=mode, x=original, mu=mu, xmu=x, var=var, sqrtvar=sqrtvar, ivar=1.0 / sqrtvar,
                           xhat=xhat, gamma=gamma, eps=eps)
    return gamma * xhat + beta, cache


@forward.mistake("Stores the unbiased variance N/(N-1) * var in running_var (PyTorch's convention) while normalizing with the biased one.")
def running_var_unbiased(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        N = x.shape[0]
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var * N / (N - 1)
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Ignores bn_param['eps'] and always uses the default 1e-5.")
def eps_hard_coded(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, 1e-5, mode)


@forward.mistake("Ignores bn_param['momentum'] and always averages with the default 0.9.")
def momentum_hard_coded(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = 0.9 * rm + 0.1 * mu
        bn_param["running_var"] = 0.9 * rv + 0.1 * var
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.mistake("Writes the cache's mode as 'train' whatever the mode, so a test-mode cache claims to hold batch statistics.")
def cache_mode_always_train(x, gamma, beta, bn_param):
    out, cache = bn_forward(x, gamma, beta, bn_param)
    fields = dict(vars(cache))
    fields["mode"] = "train"
    return out, BatchNormCache(**fields)


@forward.mistake("Updates running_var from the variance of the previous running mean's deviations, mean((x - running_mean)**2), instead of the batch variance.")
def running_var_about_old_mean(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * ((x - rm) ** 2).mean(axis=0)
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.correct("Mean and variance with einsum over axis 0 ('nd->d', 'nd,nd->d'), accumulated in float64 and cast back to x's dtype.")
def einsum_variance(x, gamma, beta, bn_param):
    def stats(x):
        mu = np.einsum("nd->d", x, dtype=np.float64) / x.shape[0]
        xmu = x - mu
        return mu.astype(x.dtype), (np.einsum("nd,nd->d", xmu, xmu) / x.shape[0]).astype(x.dtype)
    return bn_forward(x, gamma, beta, bn_param, stats=stats)


@forward.correct("One-pass variance E[(x-x0)^2] - E[x-x0]^2 around the first sample, summed in float64 and cast back to x's dtype.")
def shifted_one_pass(x, gamma, beta, bn_param):
    def stats(x):
        d = x.astype(np.float64) - x[0]
        s1 = d.mean(axis=0)
        var = (d * d).mean(axis=0) - s1 * s1
        return (x[0] + s1).astype(x.dtype), var.astype(x.dtype)
    return bn_forward(x, gamma, beta, bn_param, stats=stats)


@forward.correct("A Python loop over the features, each column's np.mean and np.var taken in float64 and written into preallocated arrays of x's dtype.")
def loop_over_features(x, gamma, beta, bn_param):
    def stats(x):
        D = x.shape[1]
        mu, var = np.empty(D, x.dtype), np.empty(D, x.dtype)
        for d in range(D):
            column = x[:, d].astype(np.float64)
            mu[d] = np.mean(column)
            var[d] = np.var(column)
        return mu, var
    return bn_forward(x, gamma, beta, bn_param, stats=stats)


@forward.correct("Running statistics with the algebraically equal form running + (1 - momentum) * (batch - running).")
def running_as_increment(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = rm + (1 - m) * (mu - rm)
        bn_param["running_var"] = rv + (1 - m) * (var - rv)
    else:
        mu, var = rm, rv
    return bn_finish(x, mu, var, gamma, beta, eps, mode)


@forward.correct("Computes ivar with 1/sqrt and xhat by division, out by np.multiply/np.add into fresh arrays.")
def divide_then_fresh_out(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, m, rm, rv = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = bn_stats(x)
        bn_param["running_mean"] = m * rm + (1 - m) * mu
        bn_param["running_var"] = m * rv + (1 - m) * var
    else:
        mu, var = rm, rv
    xmu = np.subtract(x, mu) if mode == "test" else centred(x)
    sqrtvar = np.sqrt(var + eps)
    xhat = xmu / sqrtvar
    out = np.add(np.multiply(gamma, xhat), beta)
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=1 / sqrtvar,
                           xhat=xhat, gamma=gamma, eps=eps)
    return out, cache
