"""batchnorm_forward: mistakes in the statistics, eps, gamma/beta, running averages, test mode and cache."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, read_bn_param
from tests.instructor.fresh.entry import NAMED, Catalogue

catalogue = Catalogue("batchnorm_forward")
mistake, correct = catalogue.mistake, catalogue.correct


def settings(x, bn_param):
    """What the exercise's stub has read before the solution region starts."""
    return read_bn_param("batchnorm_forward", bn_param, x.shape[1], x.dtype)


def cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps):
    return BatchNormCache(mode=mode, x=x, mu=mu, xmu=x - mu, var=var, sqrtvar=sqrtvar, ivar=1 / sqrtvar,
                          xhat=xhat, gamma=gamma, eps=eps)


def update_running(bn_param, momentum, running_mean, running_var, mu, var):
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var


def plain(x, gamma, beta, bn_param, var_of=lambda x, mu: ((x - mu) ** 2).mean(axis=0)):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = var_of(x, mu)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("unbiased variance (ddof=1) in the normalization", judged=NAMED)
def unbiased_variance(x, gamma, beta, bn_param):
    return plain(x, gamma, beta, bn_param, var_of=lambda x, mu: x.var(axis=0, ddof=1))


@mistake("eps added to the standard deviation, outside the square root", judged=NAMED)
def eps_outside_sqrt(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var) + eps
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("no eps at all", judged=NAMED)
def no_eps(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("divides by the variance instead of the standard deviation", judged=NAMED)
def divides_by_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = var + eps
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("statistics over the features of each sample (axis=1, keepdims): layer norm", judged=NAMED)
def stats_over_features(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    if mode == "train":
        update_running(bn_param, momentum, running_mean, running_var, mu.mean(), var.mean())
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("one mean and one variance over the whole batch (no axis)", judged=NAMED)
def stats_over_everything(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean() * np.ones(x.shape[1]), x.var() * np.ones(x.shape[1])
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("variance of x about zero, mean(x**2), not about the mean", judged=NAMED)
def variance_not_centred(x, gamma, beta, bn_param):
    return plain(x, gamma, beta, bn_param, var_of=lambda x, mu: (x**2).mean(axis=0))


@mistake("forgets to subtract the mean: xhat = x / sqrt(var + eps)", judged=NAMED)
def mean_not_subtracted(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + eps)
    xhat = x / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("gamma and beta swapped: beta * xhat + gamma", judged=NAMED)
def gamma_beta_swapped(x, gamma, beta, bn_param):
    out, cache = plain(x, gamma, beta, bn_param)
    return beta * cache.xhat + gamma, cache


@mistake("shift before scale: gamma * (xhat + beta)", judged=NAMED)
def shift_before_scale(x, gamma, beta, bn_param):
    out, cache = plain(x, gamma, beta, bn_param)
    return gamma * (cache.xhat + beta), cache


@mistake("returns xhat: gamma and beta never applied", judged=NAMED)
def no_gamma_beta(x, gamma, beta, bn_param):
    out, cache = plain(x, gamma, beta, bn_param)
    return cache.xhat, cache


@mistake("subtracts beta: gamma * xhat - beta", judged=NAMED)
def beta_subtracted(x, gamma, beta, bn_param):
    out, cache = plain(x, gamma, beta, bn_param)
    return gamma * cache.xhat - beta, cache


@mistake("gamma applied to x before normalizing, so it cancels out", judged=NAMED)
def gamma_before_normalizing(x, gamma, beta, bn_param):
    out, cache = plain(gamma * x, gamma, beta, bn_param)
    return cache.xhat + beta, cache


@mistake("momentum on the new value: (1 - momentum) * running + momentum * batch (PyTorch's sense)", judged=NAMED)
def momentum_swapped(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * cache.mu
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * cache.var
    return out, cache


@mistake("momentum hard-coded to 0.9, bn_param['momentum'] ignored", judged=NAMED)
def momentum_hard_coded(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        update_running(bn_param, 0.9, running_mean, running_var, cache.mu, cache.var)
    return out, cache


@mistake("running variance stores the unbiased N/(N-1) variance (PyTorch's convention)", judged=NAMED)
def running_var_unbiased(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        N = x.shape[0]
        update_running(bn_param, momentum, running_mean, running_var, cache.mu, cache.var * N / (N - 1))
    return out, cache


@mistake("running variance stores the standard deviation sqrt(var + eps)", judged=NAMED)
def running_var_stores_std(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        update_running(bn_param, momentum, running_mean, running_var, cache.mu, cache.sqrtvar)
    return out, cache


@mistake("running statistics computed into local variables, never written back into bn_param", judged=NAMED)
def running_not_written(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("only the running mean is updated; running_var stays as it was", judged=NAMED)
def running_var_not_updated(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        bn_param["running_var"] = running_var
    return out, cache


@mistake("running statistics overwritten with the batch's, no average", judged=NAMED)
def running_overwritten(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        bn_param["running_mean"], bn_param["running_var"] = cache.mu, cache.var
    return out, cache


@mistake("copy-paste: the running variance is averaged with the batch mean", judged=NAMED)
def running_var_from_mean(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        update_running(bn_param, momentum, running_mean, running_var, cache.mu, cache.mu)
    return out, cache


@mistake("running averages without the (1 - momentum) factor: momentum * running + batch", judged=NAMED)
def running_weights_do_not_add_up(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        bn_param["running_mean"] = momentum * running_mean + cache.mu
        bn_param["running_var"] = momentum * running_var + cache.var
    return out, cache


@mistake("running variance starts at ones when bn_param has none", judged=NAMED)
def running_var_starts_at_ones(x, gamma, beta, bn_param):
    fresh = "running_var" not in bn_param
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if fresh:
        running_var = np.ones_like(running_var)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        update_running(bn_param, momentum, running_mean, running_var, cache.mu, cache.var)
    return out, cache


@mistake("test mode normalizes with the test batch's own statistics", judged=NAMED)
def test_mode_uses_batch_stats(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    mu, var = x.mean(axis=0), x.var(axis=0)
    if mode == "train":
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("test mode also updates the running statistics with the test batch", judged=NAMED)
def test_mode_updates_running(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    update_running(bn_param, momentum, running_mean, running_var, x.mean(axis=0), x.var(axis=0))
    return out, cache


@mistake("test mode divides by sqrt(running_var), without eps", judged=NAMED)
def test_mode_without_eps(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var) + beta
    return out, cache


@mistake("test mode divides by the running variance, not its square root", judged=NAMED)
def test_mode_divides_by_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "test":
        out = gamma * (x - running_mean) / (running_var + eps) + beta
    return out, cache


@mistake("test mode returns the normalized x without gamma and beta", judged=NAMED)
def test_mode_no_gamma_beta(x, gamma, beta, bn_param):
    out, cache = plain(x, gamma, beta, bn_param)
    return (cache.xhat if cache.mode == "test" else out), cache


@mistake("centres x in place (x -= mu), modifying the caller's array", judged=NAMED)
def modifies_x(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    x -= mu
    sqrtvar = np.sqrt(var + eps)
    xhat = x / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x + mu, mu, var, sqrtvar, xhat, gamma, eps)


@mistake("cache.var holds var + eps", judged=NAMED)
def cache_var_with_eps(x, gamma, beta, bn_param):
    out, c = plain(x, gamma, beta, bn_param)
    return out, cache_of(c.mode, c.x, c.mu, c.var + c.eps, c.sqrtvar, c.xhat, c.gamma, c.eps)


@mistake("cache.ivar holds sqrt(var + eps), cache.sqrtvar its inverse (names swapped)", judged=NAMED)
def cache_ivar_sqrtvar_swapped(x, gamma, beta, bn_param):
    out, c = plain(x, gamma, beta, bn_param)
    return out, BatchNormCache(mode=c.mode, x=c.x, mu=c.mu, xmu=c.xmu, var=c.var, sqrtvar=c.ivar, ivar=c.sqrtvar,
                               xhat=c.xhat, gamma=c.gamma, eps=c.eps)


@mistake("cache.xhat holds the output gamma * xhat + beta", judged=NAMED)
def cache_xhat_is_out(x, gamma, beta, bn_param):
    out, c = plain(x, gamma, beta, bn_param)
    return out, cache_of(c.mode, c.x, c.mu, c.var, c.sqrtvar, out, c.gamma, c.eps)


@mistake("float32 x comes back as float64 (eps and statistics promoted through a float64 array)", judged=NAMED)
def float32_promoted(x, gamma, beta, bn_param):
    out, cache = plain(x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), bn_param)
    return out, cache


# Correct, written in unusual ways.

@correct("np.var for the biased variance, out computed in one expression")
def numpy_var(x, gamma, beta, bn_param):
    return plain(x, gamma, beta, bn_param, var_of=lambda x, mu: x.var(axis=0))


@correct("einsum for both batch sums")
def einsum_sums(x, gamma, beta, bn_param):
    N = x.shape[0]
    return plain(x, gamma, beta, bn_param,
                 var_of=lambda x, mu: np.einsum("nd,nd->d", x - mu, x - mu) / N)


@mistake("one-pass variance E[x^2] - E[x]^2, which cancels in float32 far from zero (the course asks for two passes)", judged=NAMED)
def one_pass_variance(x, gamma, beta, bn_param):
    return plain(x, gamma, beta, bn_param, var_of=lambda x, mu: (x**2).mean(axis=0) - mu**2)


@correct("float32 data summed in float64, rounded back to x's dtype")
def float64_accumulation(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, dtype=np.float64)
        var = ((x - mu) ** 2).mean(axis=0).astype(x.dtype)
        mu = mu.astype(x.dtype)
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + x.dtype.type(eps))
    xhat = (x - mu) / sqrtvar
    return gamma * xhat + beta, cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@correct("keepdims statistics of shape (1, D), flattened for the cache and running averages")
def keepdims_statistics(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=0, keepdims=True)
        mu, var = mu.ravel(), var.ravel()
        update_running(bn_param, momentum, running_mean, running_var, mu, var)
    else:
        mu, var = running_mean, running_var
    sqrtvar = np.sqrt(var + eps)
    xhat = (x - mu) * (1 / sqrtvar)
    return xhat * gamma[None, :] + beta[None, :], cache_of(mode, x, mu, var, sqrtvar, xhat, gamma, eps)


@correct("running averages written as running + (1 - momentum) * (batch - running)")
def running_as_increment(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = settings(x, bn_param)
    out, cache = plain(x, gamma, beta, bn_param)
    if mode == "train":
        bn_param["running_mean"] = running_mean + (1 - momentum) * (cache.mu - running_mean)
        bn_param["running_var"] = running_var + (1 - momentum) * (cache.var - running_var)
    return out, cache


ENTRIES = catalogue.entries
