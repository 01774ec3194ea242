"""Mistakes and unusual correct variants of batchnorm_forward (notebook 1)."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, read_bn_param
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("batchnorm_forward")
WHERE = "batchnorm_forward"


def _settings(x, bn_param):
    # the scaffold's validation, which a student keeps
    return read_bn_param(WHERE, bn_param, x.shape[1], x.dtype)


def _finish(x, gamma, beta, mode, mu, var, eps):
    """The shared tail: normalize with mu and var, build the documented cache."""
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


def _stats(x):
    mu = x.mean(axis=0)
    return mu, ((x - mu) ** 2).mean(axis=0)


@forward.mistake("normalizes with the unbiased variance (ddof=1, torch.var's default) instead of the biased one")
def unbiased_batch_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("running averages in PyTorch's convention: momentum weights the NEW batch statistic")
def torch_momentum_convention(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("normalizes with the biased variance but stores the unbiased N/(N-1) one in running_var, as PyTorch does")
def running_var_unbiased(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var * N / (N - 1)
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("updates the caller's running_mean and running_var arrays in place (*=, +=) instead of writing new arrays")
def running_stats_in_place(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("test mode normalizes with the test batch's own statistics instead of the running ones")
def test_mode_batch_statistics(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    mu, var = _stats(x)
    if mode == "train":
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("test mode uses the running statistics but also folds the test batch into them")
def test_mode_updates_running(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    bmu, bvar = _stats(x)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * bmu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * bvar
    mu, var = (bmu, bvar) if mode == "train" else (rm, rv)
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("eps added to the standard deviation, xmu / (sqrt(var) + eps), instead of inside the square root")
def eps_outside_sqrt(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    xmu = x - mu
    sqrtvar = np.sqrt(var) + eps
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


@forward.mistake("computes the new running averages into local variables and never writes them back into bn_param")
def running_stats_not_stored(x, gamma, beta, bn_param):
    mode, eps, momentum, running_mean, running_var = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("statistics over each sample's features (axis=1, keepdims) as in layer norm, not over the batch")
def statistics_over_features(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu.mean()
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var.mean()
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("works in float64 for accuracy and returns float64 out and cache for float32 x")
def float64_leaks_out(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    x64 = x.astype(np.float64)
    if mode == "train":
        mu, var = _stats(x64)
        bn_param["running_mean"] = (momentum * rm + (1 - momentum) * mu).astype(x.dtype)
        bn_param["running_var"] = (momentum * rv + (1 - momentum) * var).astype(x.dtype)
    else:
        mu, var = rm.astype(np.float64), rv.astype(np.float64)
    return _finish(x64, gamma, beta, mode, mu, var, eps)


@forward.mistake("batch mean taken in float64 (mean(dtype=float64)): out stays float32 but the running statistics become float64")
def running_stats_float64(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu64 = x.mean(axis=0, dtype=np.float64)
        var64 = ((x - mu64) ** 2).mean(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu64
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var64
        mu, var = mu64.astype(x.dtype), var64.astype(x.dtype)
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("stores var + eps in the cache's var field (folded eps early), so the staged backward adds eps twice")
def cache_var_includes_eps(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    var = var + eps
    xmu = x - mu
    sqrtvar = np.sqrt(var)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    return gamma * xhat + beta, BatchNormCache(mode, x, mu, xmu, var, sqrtvar, ivar, xhat, gamma, eps)


@forward.mistake("caches the layer's output gamma * xhat + beta in the xhat field")
def cache_xhat_is_out(x, gamma, beta, bn_param):
    out, c = batchnorm_reference_like(x, gamma, beta, bn_param)
    return out, BatchNormCache(c.mode, c.x, c.mu, c.xmu, c.var, c.sqrtvar, c.ivar, out, c.gamma, c.eps)


def batchnorm_reference_like(x, gamma, beta, bn_param):
    """A correct forward pass that the cache mistakes start from."""
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("caches the uncentered x in the xmu field (the centered array was a temporary)")
def cache_xmu_is_x(x, gamma, beta, bn_param):
    out, c = batchnorm_reference_like(x, gamma, beta, bn_param)
    return out, BatchNormCache(c.mode, c.x, c.mu, c.x, c.var, c.sqrtvar, c.ivar, c.xhat, c.gamma, c.eps)


@forward.mistake("caches sqrtvar in the ivar field and 1/sqrtvar in sqrtvar (names read the wrong way round)")
def cache_ivar_sqrtvar_swapped(x, gamma, beta, bn_param):
    out, c = batchnorm_reference_like(x, gamma, beta, bn_param)
    return out, BatchNormCache(c.mode, c.x, c.mu, c.xmu, c.var, c.ivar, c.sqrtvar, c.xhat, c.gamma, c.eps)


@forward.mistake("always labels the cache mode='train', so a test-mode cache is not refused by the backward pass")
def cache_mode_always_train(x, gamma, beta, bn_param):
    out, c = batchnorm_reference_like(x, gamma, beta, bn_param)
    return out, BatchNormCache("train", c.x, c.mu, c.xmu, c.var, c.sqrtvar, c.ivar, c.xhat, c.gamma, c.eps)


@forward.mistake("reads bn_param.get('momentum', 0.1), PyTorch's default, instead of the scaffold's 0.9")
def torch_default_momentum(x, gamma, beta, bn_param):
    mode, eps, _, rm, rv = _settings(x, bn_param)
    momentum = bn_param.get("momentum", 0.1)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("reads bn_param.get('eps', 1e-3), Keras's default epsilon, instead of 1e-5")
def keras_default_eps(x, gamma, beta, bn_param):
    mode, _, momentum, rm, rv = _settings(x, bn_param)
    eps = bn_param.get("eps", 1e-3)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("starts a missing running_var at ones (PyTorch's start) instead of zeros")
def running_var_starts_at_one(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, _ = _settings(x, bn_param)
    rv = bn_param.get("running_var", np.ones(x.shape[1], dtype=x.dtype))
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("gamma and beta swapped: out = beta * xhat + gamma")
def gamma_beta_swapped(x, gamma, beta, bn_param):
    out, c = batchnorm_reference_like(x, gamma, beta, bn_param)
    return beta * c.xhat + gamma, c


@forward.mistake("test mode divides by sqrt(running_var) without eps")
def test_mode_no_eps(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        return batchnorm_reference_like(x, gamma, beta, bn_param)
    xmu = x - rm
    sqrtvar = np.sqrt(rv)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    return gamma * xhat + beta, BatchNormCache(mode, x, rm, xmu, rv, sqrtvar, ivar, xhat, gamma, eps)


@forward.mistake("test mode divides by the running variance itself rather than its square root")
def test_mode_divides_by_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        return batchnorm_reference_like(x, gamma, beta, bn_param)
    xhat = (x - rm) / (rv + eps)
    sqrtvar = np.sqrt(rv + eps)
    return gamma * xhat + beta, BatchNormCache(mode, x, rm, x - rm, rv, sqrtvar, 1.0 / sqrtvar, xhat, gamma, eps)


@forward.mistake("one-pass variance E[x^2] - E[x]^2 in x's dtype: cancels catastrophically for float32 data with a large mean")
def one_pass_variance(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = (x * x).mean(axis=0) - mu * mu
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("running_var averages the batch standard deviation sqrt(var + eps) instead of the variance")
def running_average_of_std(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * np.sqrt(var + eps)
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("running_var averages var + eps, so test mode adds eps twice")
def running_var_with_eps(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * (var + eps)
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("centers x in place (x -= mu), changing the caller's data")
def centers_caller_x(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    x_in = x.copy()
    x -= mu
    sqrtvar = np.sqrt(var + eps)
    xhat = x / sqrtvar
    return gamma * xhat + beta, BatchNormCache(mode, x_in, mu, x, var, sqrtvar, 1.0 / sqrtvar, xhat, gamma, eps)


@forward.mistake("x.mean() and x.var() without an axis: one mean and variance for the whole batch")
def statistics_without_axis(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu = np.full(x.shape[1], x.mean(), dtype=x.dtype)
        var = np.full(x.shape[1], x.var(), dtype=x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.mistake("running_mean is updated with the mean of the layer's output instead of the batch mean")
def running_mean_of_output(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = _stats(x)
        out, cache = _finish(x, gamma, beta, mode, mu, var, eps)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * out.mean(axis=0)
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
        return out, cache
    return _finish(x, gamma, beta, mode, rm, rv, eps)


@forward.mistake("writes mode 'train' back into bn_param after a test-mode call (a 'reset' line copied from a solver)")
def resets_mode(x, gamma, beta, bn_param):
    result = batchnorm_reference_like(x, gamma, beta, bn_param)
    bn_param["mode"] = "train"
    return result


# ---- correct variants ----

@forward.correct("statistics with einsum, squared deviations summed without a temporary")
def einsum_statistics(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu = np.einsum("nd->d", x) / N
        xmu = x - mu
        var = np.einsum("nd,nd->d", xmu, xmu) / N
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.correct("Welford's one-pass running mean and M2 over the rows, accumulated in float64, rounded to x's dtype")
def welford_rows(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mean = np.zeros(x.shape[1])
        m2 = np.zeros(x.shape[1])
        for n, row in enumerate(x.astype(np.float64), start=1):
            delta = row - mean
            mean += delta / n
            m2 += delta * (row - mean)
        mu, var = mean.astype(x.dtype), (m2 / x.shape[0]).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.correct("shifted one-pass variance around the first sample, sums in float64, results cast back to x's dtype")
def shifted_one_pass(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        shift = x[0].astype(np.float64)
        d = x - shift
        s1, s2 = d.mean(axis=0), (d * d).mean(axis=0)
        mu = (shift + s1).astype(x.dtype)
        var = (s2 - s1 * s1).astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.correct("np.var for the biased variance, running averages written as rm + (1 - momentum) * (mu - rm)")
def np_var_incremental_average(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = rm + (1 - momentum) * (mu - rm)
        bn_param["running_var"] = rv + (1 - momentum) * (var - rv)
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.correct("a loop over the features, one column at a time, filling preallocated arrays")
def loop_over_features(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    N, D = x.shape
    if mode == "train":
        mu, var = np.empty(D, x.dtype), np.empty(D, x.dtype)
        for d in range(D):
            column = x[:, d]
            mu[d] = column.mean()
            var[d] = ((column - mu[d]) ** 2).mean()
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)


@forward.correct("keepdims statistics for the arithmetic, squeezed to (D,) for the cache and the running averages")
def keepdims_then_squeeze(x, gamma, beta, bn_param):
    mode, eps, momentum, rm, rv = _settings(x, bn_param)
    if mode == "train":
        mu2 = x.mean(axis=0, keepdims=True)
        var2 = np.mean(np.square(x - mu2), axis=0, keepdims=True)
        mu, var = mu2[0], var2[0]
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, gamma, beta, mode, mu, var, eps)
