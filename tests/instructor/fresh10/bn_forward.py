"""batchnorm_forward: mistakes and unusual correct variants."""

import numpy as np

from cs231n_bn import validation
from tests.instructor.fresh10.scaffold import bn_cache, bn_prelude, bn_stats
from tests.instructor.later_catalogue import Catalogue

cat = Catalogue("batchnorm_forward")
WHERE = "batchnorm_forward"


def _finish(x, cache, out):
    validation.finite_variance(WHERE, cache.var, x)
    return out, cache


def _train_or_test(x, bn_param, mode, momentum, rm, rv):
    """Right statistics for the mode, running averages written back as new arrays."""
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    return mu, xmu, var


# ------------------------------------------------------------------ mistakes

@cat.mistake("Adds eps to the standard deviation, sqrt(var) + eps, instead of inside the square root.")
def eps_outside_sqrt(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma, sqrtvar=np.sqrt(var) + eps)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Normalizes in train mode with the unbiased batch variance (divides by N - 1) instead of the biased one.")
def unbiased_batch_variance(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        xmu = x - mu
        var = x.var(axis=0, ddof=1)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Uses PyTorch's momentum convention: running = (1 - momentum) * running + momentum * batch statistic.")
def momentum_on_new_value(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Averages the batch standard deviation sqrt(var + eps) into running_var instead of the batch variance.")
def running_var_from_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * np.sqrt(var + eps)
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Test mode normalizes with the test batch's own mean and variance instead of the running statistics.")
def test_mode_uses_batch_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = bn_stats(x)
    if mode == "train":
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Test mode also updates the running statistics with the test batch's mean and variance.")
def test_mode_updates_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "test":
        bmu, _, bvar = bn_stats(x) if x.shape[0] > 1 else (x[0], None, np.zeros_like(rv))
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * bmu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * bvar
        mu, var, xmu = rm, rv, x - rm
    else:
        mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Updates the caller's running_mean and running_var arrays in place (*=, +=) instead of writing new arrays.")
def running_stats_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Takes the mean and variance over axis 1 (each sample's features) instead of over the batch, axis 0.")
def stats_over_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=1)
        xmu = x - mu[:, None]
        var = (xmu**2).mean(axis=1)
        if mu.shape != rm.shape:
            raise ValueError("operands could not be broadcast together")
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
        cache = bn_cache(mode, x, mu, xmu, var, eps, gamma, xhat=xmu / np.sqrt(var + eps)[:, None])
    else:
        cache = bn_cache(mode, x, rm, x - rm, rv, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Forgets to centre: xhat = x / sqrt(var + eps), without subtracting the mean.")
def no_centring(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma, xhat=x / np.sqrt(var + eps))
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Swaps the roles of gamma and beta: out = beta * xhat + gamma.")
def gamma_beta_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, beta * cache.xhat + gamma)


@cat.mistake("Centres the caller's x in place (x -= mu), so x is modified.")
def centres_x_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, _, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    x -= mu
    cache = bn_cache(mode, x, mu, x, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Stores the standard deviation sqrt(var + eps) in the cache's var field instead of the variance.")
def cache_var_is_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    right = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    cache = bn_cache(mode, x, mu, xmu, right.sqrtvar, eps, gamma, right.sqrtvar, right.ivar, right.xhat)
    return _finish(x, cache, gamma * right.xhat + beta)


@cat.mistake("Stores sqrt(var + eps) in the cache's ivar field instead of its reciprocal (out itself is right).")
def cache_ivar_not_inverted(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    right = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma, right.sqrtvar, right.sqrtvar, right.xhat)
    return _finish(x, cache, gamma * right.xhat + beta)


@cat.mistake("Hard-codes mode='train' in the cache, so a test-mode cache claims to come from training.")
def cache_mode_always_train(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache("train", x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Averages the unbiased variance N/(N-1) * var into running_var (PyTorch's habit) instead of the biased one.")
def running_var_unbiased(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        N = x.shape[0]
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var * N / (N - 1)
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Ignores bn_param['eps'] and always uses 1e-5.")
def eps_hard_coded(x, gamma, beta, bn_param):
    gamma, beta, mode, _, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, 1e-5, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Ignores bn_param['momentum'] and always uses 0.9.")
def momentum_hard_coded(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, _, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, 0.9, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Test mode divides x - running_mean by running_var + eps, forgetting the square root.")
def test_mode_no_sqrt(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    if mode == "test":
        cache = bn_cache(mode, x, mu, xmu, var, eps, gamma, sqrtvar=var + eps)
    else:
        cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Averages the mean of the output (gamma * xhat + beta) into running_mean instead of the batch mean mu.")
def running_mean_of_output(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    out = gamma * cache.xhat + beta
    if mode == "train":
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * out.mean(axis=0)
    return _finish(x, cache, out)


@cat.mistake("Stores x - mu in the cache's x field instead of the input x.")
def cache_x_is_xmu(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    mu, xmu, var = _train_or_test(x, bn_param, mode, momentum, rm, rv)
    cache = bn_cache(mode, xmu, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Computes the float32 variance in one pass as mean(x**2) - mu**2 in float32, which cancels catastrophically for data with a large mean.")
def one_pass_variance_float32(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = np.maximum((x * x).mean(axis=0) - mu * mu, 0).astype(x.dtype)
        xmu = x - mu
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.mistake("Writes the running statistics only into local variables, never back into bn_param.")
def running_not_written_back(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        rm = momentum * rm + (1 - momentum) * mu
        rv = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


# ------------------------------------------------------------------ correct variants

@cat.correct("Statistics with einsum sums and an explicit 1/N, float32 summed in float64 and rounded back.")
def einsum_statistics(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu = (np.einsum("nd->d", x, dtype=np.float64) / N)
        xmu = (x - mu).astype(x.dtype)
        var = (np.einsum("nd,nd->d", xmu, xmu, dtype=np.float64) / N).astype(x.dtype)
        mu = mu.astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.correct("Welford's one-pass stable mean and variance, one row at a time, in float64.")
def welford_rows(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mean = np.zeros(x.shape[1])
        m2 = np.zeros(x.shape[1])
        for n, row in enumerate(x.astype(np.float64), start=1):
            delta = row - mean
            mean += delta / n
            m2 += delta * (row - mean)
        mu, var = mean.astype(x.dtype), (m2 / x.shape[0]).astype(x.dtype)
        xmu = (x - mean).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.correct("One-pass variance on data shifted by the first sample, in float64: mean((x-K)^2) - mean(x-K)^2.")
def shifted_one_pass(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        d = x.astype(np.float64) - x[0].astype(np.float64)
        dm = d.mean(axis=0)
        var = ((d * d).mean(axis=0) - dm * dm).astype(x.dtype)
        mu64 = x[0] + dm
        mu, xmu = mu64.astype(x.dtype), (x - mu64).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.correct("Running averages written as running + (1 - momentum) * (batch - running), algebraically the same update.")
def running_as_increment(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    if mode == "train":
        mu, xmu, var = bn_stats(x)
        bn_param["running_mean"] = rm + (1 - momentum) * (mu - rm)
        bn_param["running_var"] = rv + (1 - momentum) * (var - rv)
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.correct("A loop over the D features with np.add.reduce, each column normalized on its own.")
def loop_over_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    N, D = x.shape
    if mode == "train":
        mu = np.empty(D, x.dtype)
        var = np.empty(D, x.dtype)
        xmu = np.empty_like(x)
        for d in range(D):
            col = x[:, d].astype(np.float64)
            m = np.add.reduce(col) / N
            mu[d] = m
            xmu[:, d] = col - m
            var[d] = np.add.reduce((col - m) ** 2) / N
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var, xmu = rm, rv, x - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)


@cat.correct("Computes on a private copy of x and of the running arrays (np.array(..., copy=True)) before any arithmetic.")
def defensive_copies(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_prelude(x, gamma, beta, bn_param)
    xc, rm, rv = np.array(x, copy=True), np.array(rm, copy=True), np.array(rv, copy=True)
    if mode == "train":
        mu, xmu, var = bn_stats(xc)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var, xmu = rm, rv, xc - rm
    cache = bn_cache(mode, x, mu, xmu, var, eps, gamma)
    return _finish(x, cache, gamma * cache.xhat + beta)
