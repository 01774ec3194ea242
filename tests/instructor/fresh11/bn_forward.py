"""batchnorm_forward: mistakes and correct variants of the solution region."""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache

from tests.instructor.fresh11.given import bn_given
from tests.instructor.later_catalogue import Catalogue

catalogue = Catalogue("batchnorm_forward")


def _finish(x, mode, mu, var, eps, gamma, beta, xmu=None):
    """The rest of a correct region once mu and var are known: xhat, out and the cache."""
    xmu = x - mu if xmu is None else xmu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    return out, BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                               xhat=xhat, gamma=gamma, eps=eps)


def _train_stats(x, bn_param, momentum, running_mean, running_var):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    return mu, var


@catalogue.mistake("The batch variance is the unbiased one (divided by N - 1) instead of the biased mean of squared deviations.")
def unbiased_variance(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("eps is added to the standard deviation, xmu / (sqrt(var) + eps), instead of inside the square root.")
def eps_outside_sqrt(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    xmu = x - mu
    sqrtvar = np.sqrt(var) + eps
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar, xhat=xhat,
                           gamma=gamma, eps=eps)
    return gamma * xhat + beta, cache


@catalogue.mistake("The running averages weight the new batch statistic by momentum and the old value by 1 - momentum (PyTorch's convention).")
def momentum_swapped(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu
        bn_param["running_var"] = (1 - momentum) * rv + momentum * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("Test mode normalizes with the statistics of the test batch instead of the running averages.")
def test_uses_batch_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    mu, var = x.mean(axis=0), x.var(axis=0)
    if mode == "train":
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("The updated running averages are computed into local variables and never written back into bn_param.")
def running_not_stored(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        rm = momentum * rm + (1 - momentum) * mu
        rv = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("running_var averages the batch standard deviation sqrt(var) instead of the variance.")
def running_std(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * np.sqrt(var)
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("Test mode also updates the running averages, with the test batch's statistics.")
def test_updates_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * x.mean(axis=0)
    bn_param["running_var"] = momentum * rv + (1 - momentum) * x.var(axis=0)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("The output forgets the shift: out = gamma * xhat, beta is never added.")
def no_beta(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    out, cache = _finish(x, mode, mu, var, eps, gamma, beta)
    return out - beta, cache


@catalogue.mistake("The shift is added before scaling: out = gamma * (xhat + beta) instead of gamma * xhat + beta.")
def beta_inside(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    _, cache = _finish(x, mode, mu, var, eps, gamma, beta)
    return gamma * (cache.xhat + beta), cache


@catalogue.mistake("x is centred in place (x -= mu), so the caller's input array is modified.")
def centres_x_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    x -= mu
    return _finish(x, mode, mu, var, eps, gamma, beta, xmu=x)


@catalogue.mistake("The running averages are updated in place (running_mean *= momentum, ...), changing the caller's arrays instead of storing new ones.")
def running_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        rm *= momentum
        rm += (1 - momentum) * mu
        rv *= momentum
        rv += (1 - momentum) * var
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("Test mode divides by sqrt(running_var) without eps.")
def test_without_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
        return _finish(x, mode, mu, var, eps, gamma, beta)
    out, cache = _finish(x, mode, rm, rv, eps, gamma, beta)
    return gamma * (x - rm) / np.sqrt(rv) + beta, cache


@catalogue.mistake("Test mode divides by running_var itself instead of by sqrt(running_var + eps).")
def test_divides_by_var(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
        return _finish(x, mode, mu, var, eps, gamma, beta)
    out, cache = _finish(x, mode, rm, rv, eps, gamma, beta)
    return gamma * (x - rm) / (rv + eps) + beta, cache


@catalogue.mistake("The mode test compares with 'training', so train mode runs the test branch and never uses batch statistics.")
def wrong_mode_string(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "training":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("The statistics are taken over each sample's features (axis=1, keepdims) instead of over the batch.")
def stats_over_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("The batch mean is kept with keepdims=True, so the running mean and the cache's mu and var become (1, D) instead of (D,).")
def keepdims_stats(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("When bn_param has no running mean yet, the first batch's statistics are stored as is instead of being averaged with zeros.")
def starts_from_first_batch(x, gamma, beta, bn_param):
    had_stats = "running_mean" in bn_param
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        if not had_stats:
            rm, rv = mu, var
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("eps is re-read from bn_param with a default of 1e-3 instead of 1e-5 when the key is missing.")
def eps_default_wrong(x, gamma, beta, bn_param):
    gamma, beta, mode, _, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    eps = bn_param.get("eps", 1e-3)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.mistake("The cache holds sqrtvar where ivar belongs (the field ivar = sqrt(var + eps), not its inverse); out is right.")
def cache_ivar_is_sqrtvar(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    out, c = _finish(x, mode, mu, var, eps, gamma, beta)
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=c.xmu, var=var, sqrtvar=c.sqrtvar, ivar=c.sqrtvar,
                           xhat=c.xhat, gamma=gamma, eps=eps)
    return out, cache


@catalogue.mistake("The cache stores xhat before the subtraction of the mean, x * ivar, instead of (x - mu) * ivar; out is right.")
def cache_xhat_uncentred(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    out, c = _finish(x, mode, mu, var, eps, gamma, beta)
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=c.xmu, var=var, sqrtvar=c.sqrtvar, ivar=c.ivar,
                           xhat=x * c.ivar, gamma=gamma, eps=eps)
    return out, cache


@catalogue.mistake("The cache's var field holds var + eps (the value under the square root) instead of the batch variance.")
def cache_var_plus_eps(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    out, c = _finish(x, mode, mu, var, eps, gamma, beta)
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=c.xmu, var=var + eps, sqrtvar=c.sqrtvar, ivar=c.ivar,
                           xhat=c.xhat, gamma=gamma, eps=eps)
    return out, cache


@catalogue.mistake("The cache records mode 'train' even for a test-mode pass, so the backward passes accept a test-mode cache.")
def cache_mode_always_train(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    return _finish(x, "train", mu, var, eps, gamma, beta)


@catalogue.mistake("The running variance is updated with the variance of the normalized output (about 1) instead of the batch variance of x.")
def running_var_of_output(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        out, cache = _finish(x, mode, mu, var, eps, gamma, beta)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * cache.xhat.var(axis=0)
        return out, cache
    return _finish(x, mode, rm, rv, eps, gamma, beta)


@catalogue.mistake("The variance is computed as mean(x**2) - mu (the mean subtracted, not its square).")
def variance_minus_mu(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu = x.mean(axis=0)
        var = np.abs((x**2).mean(axis=0) - mu)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


# ---------------------------------------------------------------- correct variants

@catalogue.correct("Statistics with np.var and the running averages as old + (1 - momentum) * (new - old).")
def incremental_running(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = rm + (1 - momentum) * (mu - rm)
        bn_param["running_var"] = rv + (1 - momentum) * (var - rv)
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.correct("Sums with einsum and xhat by division by sqrt(var + eps).")
def einsum_division(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    N = x.shape[0]
    if mode == "train":
        mu = np.einsum("nd->d", x) / N
        xmu = x - mu
        var = np.einsum("nd,nd->d", xmu, xmu) / N
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
        xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu / sqrtvar
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar, xhat=xhat,
                           gamma=gamma, eps=eps)
    return xhat * gamma + beta, cache


@catalogue.correct("A loop over the features, each normalized on its own column.")
def loop_features(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    D = x.shape[1]
    if mode == "train":
        mu = np.array([x[:, d].mean() for d in range(D)], dtype=x.dtype)
        var = np.array([((x[:, d] - mu[d]) ** 2).mean() for d in range(D)], dtype=x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.correct("Statistics accumulated in float64 and cast back to x's dtype before use.")
def float64_accumulation(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu64 = x.mean(axis=0, dtype=np.float64)
        var = ((x - mu64) ** 2).mean(axis=0).astype(x.dtype)
        mu = mu64.astype(x.dtype)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mu, var = rm, rv
    return _finish(x, mode, mu, var, eps, gamma, beta)


@catalogue.correct("Works on a copy of x (x = x.copy()) and centres that copy in place.")
def centres_copy_in_place(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    x_in = x
    xmu = x.copy()
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
    else:
        mu, var = rm, rv
    xmu -= mu
    return _finish(x_in, mode, mu, var, eps, gamma, beta, xmu=xmu)


@catalogue.correct("Test mode folds the running statistics into one scale and shift per feature, out = x * scale + shift.")
def test_folded_affine(x, gamma, beta, bn_param):
    gamma, beta, mode, eps, momentum, rm, rv = bn_given(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = _train_stats(x, bn_param, momentum, rm, rv)
        return _finish(x, mode, mu, var, eps, gamma, beta)
    _, cache = _finish(x, mode, rm, rv, eps, gamma, beta)
    scale = gamma / np.sqrt(rv + eps)
    return x * scale + (beta - rm * scale), cache
