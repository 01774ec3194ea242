"""The parts of the exercises the student edition keeps (argument checks) and the correct
pieces that the entries recompute and then perturb one at a time."""

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import BatchNormCache, _check_forward_inputs, read_bn_param


def bn_setup(x, gamma, beta, bn_param, where="batchnorm_forward"):
    """batchnorm_forward's argument checks; returns gamma, beta, mode, eps, momentum, running stats."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs at least 2 samples")
    return gamma, beta, mode, eps, momentum, running_mean, running_var


def bn_stats(x):
    """Batch mean and biased variance, summed in float64 (a large mean costs float32 nothing),
    the variance from centred data, both returned in x's dtype."""
    mu = x.mean(axis=0, dtype=np.float64)
    xmu = x - mu
    var = (xmu * xmu).mean(axis=0)
    return mu.astype(x.dtype), var.astype(x.dtype)


def centred(x, axis=0):
    """x minus its mean over axis (kept), computed in float64 and rounded once to x's dtype."""
    return (x - x.mean(axis=axis, keepdims=True, dtype=np.float64)).astype(x.dtype, copy=False)


def bn_finish(x, mu, var, gamma, beta, eps, mode):
    """out and the BatchNormCache from the statistics mu and var.

    In train mode xmu is x minus its float64 mean, rounded once to x's dtype: the float32
    rounding of mu then costs xmu nothing when the mean is large.
    """
    xmu = centred(x) if mode == "train" else x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = BatchNormCache(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
                           xhat=xhat, gamma=gamma, eps=eps)
    return out, cache


def bn_forward(x, gamma, beta, bn_param, stats=bn_stats, finish=bn_finish):
    """A correct batch-norm forward pass assembled from the pieces above (swap one to perturb it)."""
    gamma, beta, mode, eps, momentum, running_mean, running_var = bn_setup(x, gamma, beta, bn_param)
    if mode == "train":
        mu, var = stats(x)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    return finish(x, mu, var, gamma, beta, eps, mode)


def bn_alt_dx(dout, xhat, gamma, ivar):
    """The closed-form backward pass over axis 0 of (N, D) arrays: dx, dgamma, dbeta."""
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * ivar * (dout - (dbeta + xhat * dgamma) / N)
    return dx, dgamma, dbeta
