"""batchnorm_forward: what students write in its solution region (see scaffold.bn_forward)."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache
from tests.instructor.fresh5.scaffold import bn_forward
from tests.instructor.later_catalogue import Catalogue

bn_fwd = Catalogue("batchnorm_forward")


def _finish(x, gamma, beta, mode, eps, mu, var, xmu=None, ivar=None):
    """The usual tail: normalize, scale, shift, and the cache with the documented fields."""
    xmu = x - mu if xmu is None else xmu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar if ivar is None else ivar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                               xhat=xhat, gamma=gamma, eps=eps)


def _stats(x):
    """Batch mean and biased variance in x's dtype, summed in float64 (float32-careful)."""
    mu = x.mean(axis=0, dtype=np.float64)
    var = ((x - mu) ** 2).mean(axis=0)
    return mu.astype(x.dtype), var.astype(x.dtype)


@bn_fwd.mistake("the unbiased variance (ddof=1) normalizes the batch; the contract uses the biased one")
@bn_forward
def unbiased_batch_variance(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, _ = _stats(x)
        var = x.var(axis=0, ddof=1).astype(x.dtype)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("eps added to the standard deviation instead of inside the square root")
@bn_forward
def eps_outside_sqrt(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    ivar = 1.0 / (np.sqrt(var) + eps)
    return _finish(x, gamma, beta, mode, eps, mu, var, ivar=ivar)


@bn_fwd.mistake("PyTorch's momentum convention: the running averages keep 1 - momentum of the old value")
@bn_forward
def pytorch_momentum(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("test mode normalizes with the test batch's own statistics instead of the running ones")
@bn_forward
def test_uses_batch_stats(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    mu, var = _stats(x)
    if mode == "train":
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("test mode also updates the running averages with the test batch")
@bn_forward
def test_updates_running(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    mu, var = _stats(x)
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    if mode == "test":
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("the running variance averages the standard deviation sqrt(var + eps) instead of the variance")
@bn_forward
def running_std(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * np.sqrt(var + eps)
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("the running variance averages the unbiased variance N/(N-1) var, as PyTorch stores it")
@bn_forward
def running_unbiased(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var * N / (N - 1)
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("running averages updated in place (*=, +=): the caller's arrays in bn_param change")
@bn_forward
def running_in_place(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        running_mean *= momentum
        running_mean += (1 - momentum) * mu
        running_var *= momentum
        running_var += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("the running averages are computed into local variables and never written back into bn_param")
@bn_forward
def running_not_stored(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("statistics taken over axis 1 (each sample's features, layer norm's axis) instead of the batch")
@bn_forward
def stats_over_features(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu.mean()
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var.mean()
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("gamma and beta swapped: out = beta * xhat + gamma")
@bn_forward
def gamma_beta_swapped(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    out, cache = _finish(x, beta, gamma, mode, eps, mu, var)
    return out, BatchNormCache(**{**vars(cache), "gamma": gamma})


@bn_fwd.mistake("beta added before scaling: out = gamma * (xhat + beta)")
@bn_forward
def shift_before_scale(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    out, cache = _finish(x, gamma, beta, mode, eps, mu, var)
    return gamma * (cache.xhat + beta), cache


@bn_fwd.mistake("cache.ivar holds sqrt(var + eps) (the name misread), so the backward pass multiplies by the std")
@bn_forward
def cache_ivar_is_std(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    out, cache = _finish(x, gamma, beta, mode, eps, mu, var)
    return out, BatchNormCache(**{**vars(cache), "ivar": cache.sqrtvar})


@bn_fwd.mistake("cache.var holds var + eps, so the backward pass adds eps twice")
@bn_forward
def cache_var_with_eps(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    var_eps = var + eps
    sqrtvar = np.sqrt(var_eps)
    xmu = x - mu
    xhat = xmu / sqrtvar
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var_eps, sqrtvar=sqrtvar, ivar=1 / sqrtvar,
                           xhat=xhat, gamma=gamma, eps=eps)
    return gamma * xhat + beta, cache


@bn_fwd.mistake("cache.xhat holds the layer's output gamma * xhat + beta")
@bn_forward
def cache_xhat_is_out(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    out, cache = _finish(x, gamma, beta, mode, eps, mu, var)
    return out, BatchNormCache(**{**vars(cache), "xhat": out})


@bn_fwd.mistake("float32 x computed in float64 and never cast back: out and the cache come back float64")
@bn_forward
def float64_everywhere(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    x = x.astype(np.float64)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma.astype(np.float64), beta.astype(np.float64), mode, eps, mu, var)


@bn_fwd.mistake("x centred in place (x -= mu): the caller's data changes")
@bn_forward
def centre_x_in_place(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    x -= mu
    return _finish(x, gamma, beta, mode, eps, mu, var, xmu=x)


@bn_fwd.mistake("test mode divides by sqrt(running_var) without eps")
@bn_forward
def test_without_eps(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        return _finish(x, gamma, beta, mode, eps, mu, var)
    return _finish(x, gamma, beta, mode, eps, running_mean, running_var, ivar=1 / np.sqrt(running_var))


@bn_fwd.mistake("mean and variance with keepdims=True: cache.mu, cache.var and the running averages are (1, D)")
@bn_forward
def keepdims_stats(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=0, keepdims=True)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("variance as E[x^2] - E[x]^2 in float32: cancels catastrophically when |mean| >> std")
@bn_forward
def one_pass_cancelling(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu = x.mean(axis=0)
        var = np.maximum((x * x).mean(axis=0) - mu * mu, 0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("mode compared with Keras's 'training': train mode falls into the test branch")
@bn_forward
def keras_mode_name(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if bn_param["mode"] == "training":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("momentum re-read with PyTorch's default 0.1 when bn_param has none")
@bn_forward
def default_momentum_pytorch(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    momentum = bn_param.get("momentum", 0.1)
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("the running variance is updated with the batch mean (copy-pasted line)")
@bn_forward
def running_var_from_mean(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * mu
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("the test-mode cache says mode='train', so the backward passes accept constant statistics")
@bn_forward
def test_cache_says_train(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, "train", eps, mu, var)


@bn_fwd.mistake("divides by the variance instead of the standard deviation")
@bn_forward
def divide_by_variance(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var, ivar=1 / (var + eps))


@bn_fwd.mistake("cache.xmu holds x itself (the subtraction done inline when computing xhat)")
@bn_forward
def cache_xmu_is_x(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    out, cache = _finish(x, gamma, beta, mode, eps, mu, var)
    return out, BatchNormCache(**{**vars(cache), "xmu": x})


@bn_fwd.mistake("the running averages start from the first batch's statistics (zeros treated as 'unset')")
@bn_forward
def running_warm_start(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        if not running_mean.any() and not running_var.any():
            bn_param["running_mean"], bn_param["running_var"] = mu.copy(), var.copy()
        else:
            bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
            bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.mistake("eps hard-coded to 1e-5, ignoring bn_param['eps']")
@bn_forward
def eps_hard_coded(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    eps = 1e-5
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


# Correct variants.

@bn_fwd.correct("statistics accumulated in float64 and rounded once to x's dtype; running averages via bn_param.update")
@bn_forward
def float64_accumulation(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param.update(running_mean=momentum * running_mean + (1 - momentum) * mu,
                        running_var=momentum * running_var + (1 - momentum) * var)
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.correct("shifted one-pass sums around the first sample (large means lose nothing), einsum for the squares")
@bn_forward
def shifted_one_pass(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        k = x[0].astype(np.float64)
        d = x - k
        s1 = np.einsum("nd->d", d, dtype=np.float64)
        s2 = np.einsum("nd,nd->d", d, d, dtype=np.float64)
        mu = (k + s1 / N).astype(x.dtype)
        var = np.maximum(s2 / N - (s1 / N) ** 2, 0).astype(x.dtype)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.correct("Welford's online mean and variance, one loop over the samples in float64")
@bn_forward
def welford_loop(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mean = np.zeros(D)
        m2 = np.zeros(D)
        for n, row in enumerate(x.astype(np.float64), start=1):
            delta = row - mean
            mean += delta / n
            m2 += delta * (row - mean)
        mu, var = mean.astype(x.dtype), (m2 / N).astype(x.dtype)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.correct("running averages written as old + (1 - momentum) * (new - old), the 'lerp' form")
@bn_forward
def lerp_running(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = running_mean + (1 - momentum) * (mu - running_mean)
        bn_param["running_var"] = running_var + (1 - momentum) * (var - running_var)
    else:
        mu, var = running_mean, running_var
    return _finish(x, gamma, beta, mode, eps, mu, var)


@bn_fwd.correct("normalizes with (x - mu) / sqrt(var + eps) directly and fills ivar for the cache afterwards")
@bn_forward
def divide_then_cache(x, gamma, beta, bn_param, N, D, mode, eps, momentum, running_mean, running_var):
    if mode == "train":
        mu, var = _stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    xhat = xmu / sqrtvar
    out = xhat * gamma + beta
    cache = BatchNormCache(mode=mode, x=x.copy(), mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=1.0 / sqrtvar,
                           xhat=xhat, gamma=gamma.copy(), eps=eps)
    return out, cache
