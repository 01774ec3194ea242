"""Layer normalization for (N, D) data: each sample is normalized over its own D features.

The algebra is batch norm's with the roles of the axes swapped, so there is no batch
dependence, no running statistics and no train/test difference (notebook 6).
"""

from dataclasses import dataclass

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import MODES

DEFAULT_EPS = 1e-5
# ln_param's keys: CS231n's eps, and the 'mode' a solver writes into every norm's dict
# (layer norm behaves the same in both modes). Any other key is refused.
LN_PARAM_KEYS = ("mode", "eps")


@dataclass(frozen=True)
class LayerNormCache:
    """What layernorm_forward keeps for the backward pass; statistics have shape (N, 1)."""

    x: np.ndarray  # (N, D) input
    mu: np.ndarray  # (N, 1) mean of each sample's features
    xmu: np.ndarray  # (N, D) x - mu
    var: np.ndarray  # (N, 1) biased variance of each sample's features
    ivar: np.ndarray  # (N, 1) 1 / sqrt(var + eps)
    xhat: np.ndarray  # (N, D) xmu * ivar
    gamma: np.ndarray  # (D,) scale, one per feature as in batch norm
    eps: float


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization, forward pass. Same in training and at test time.

    Inputs:
    - x: (N, D) floating-point data; never modified
    - gamma: (D,) scale
    - beta: (D,) shift
    - ln_param: dict; optional keys eps (default 1e-5) and mode ('train' or 'test', as a
      solver writes it; ignored, because layer norm behaves the same in both modes). Any
      other key is refused.

    float16 and float32 x are normalized in their own dtype, with each sample's statistics
    summed in float64. An x so large that its variance overflows is refused.

    Returns a tuple of:
    - out: (N, D) gamma * xhat + beta
    - cache: LayerNormCache for layernorm_backward
    """
    where = "layernorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    validation.float_array(where, "x", x, ndim=2)
    D = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p, ndim=1)
        validation.same_shape(where, name, p, (D,), "one value per feature of x")
    validation.param_dict(where, "ln_param", ln_param)
    validation.known_keys(where, "ln_param", ln_param, LN_PARAM_KEYS)
    if "mode" in ln_param:
        validation.choice(where, "ln_param['mode']", ln_param["mode"], MODES)
    eps = validation.positive_number(where, "ln_param['eps']", ln_param.get("eps", DEFAULT_EPS))
    validation.nonempty_batch(where, "x", x)
    if D < 2:
        raise ValueError(
            f"{where}: layer norm needs at least 2 features per sample to estimate a "
            f"variance; got x with shape {x.shape} (D={D})"
        )
    ### BEGIN SOLUTION
    # Sums in float64 whatever x's dtype: in float16, the mean of values near 300 is
    # only known to 0.25, a quarter of a unit-variance sample's spread. x - mu is
    # computed in float64 too, then rounded once to x's dtype.
    acc = np.promote_types(x.dtype, np.float64)
    mu = x.mean(axis=1, keepdims=True, dtype=acc)
    xmu = (x - mu).astype(x.dtype, copy=False)
    with np.errstate(over="ignore"):  # an overflowing variance is refused below, by name
        var = np.mean(xmu**2, axis=1, keepdims=True, dtype=acc).astype(x.dtype)
    mu = mu.astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    ### END SOLUTION
    validation.finite_variance(where, cache.var, x)
    return out, cache


def layernorm_backward(dout, cache):
    """Layer normalization, backward pass in closed form (notebook 6).

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: LayerNormCache from layernorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma: (D,) summed over the batch, since gamma is shared by all samples
    - dbeta: (D,)
    All three keep dout's dtype: a float32 pass stays float32.
    """
    where = "layernorm_backward"
    validation.cache_of(where, cache, LayerNormCache, "layernorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")
    ### BEGIN SOLUTION
    # Batch norm's closed form with the roles of the axes swapped: with dxhat = gamma * dout
    # and means over each sample's D features,
    #     dx = ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    xhat = cache.xhat
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = cache.gamma * dout
    dx = cache.ivar * (
        dxhat
        - dxhat.mean(axis=1, keepdims=True)
        - xhat * np.mean(dxhat * xhat, axis=1, keepdims=True)
    )
    ### END SOLUTION
    return dx, dgamma, dbeta
