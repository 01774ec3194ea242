"""Normalization for convolutional feature maps, shape (N, C, H, W).

Spatial batch norm gives each channel one mean and one variance, taken over the batch and
over every position of the map (axes N, H, W): a convolution applies the same filter
everywhere, so its outputs at all positions are samples of one feature. Rearranged as a
(N*H*W, C) matrix, that is exactly the vanilla batch norm of `cs231n_bn.batchnorm`, which
is reused here.

Group norm (Wu & He 2018) splits the C channels of each sample into G groups of C/G and
normalizes each (sample, group) block over its channels and positions. It never looks
across the batch, so it has no running statistics and behaves the same in training and
at test time. G = 1 is layer norm over (C, H, W); G = C is instance norm over (H, W).

Shapes of gamma and beta: (C,), one scale and one shift per channel, as for
`batchnorm_forward` and `layernorm_forward`, where they are (D,): one convention for every
norm in the package, so a network can switch normalization without reshaping its
parameters. Group norm also takes CS231n's layout for it, (1, C, 1, 1), so CS231n's cells
run unchanged; gamma and beta must then have the same one of the two shapes, and dgamma
and dbeta come back in it. Spatial batch norm takes (C,) only, as in CS231n.
"""

from dataclasses import dataclass
import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import (
    DEFAULT_EPS,
    MODES,
    BatchNormCache,
    batchnorm_backward_alt,
    batchnorm_forward,
    read_bn_param,
)


@dataclass(frozen=True)
class SpatialBatchNormCache:
    """Spatial batch norm's cache: the vanilla batch norm's cache of the (N*H*W, C) matrix."""

    shape: tuple  # (N, C, H, W) of x
    bn: BatchNormCache  # mu, var, xhat, ... of the rows x[n, :, h, w]


@dataclass(frozen=True)
class GroupNormCache:
    """What spatial_groupnorm_forward keeps for the backward pass.

    Statistics have shape (N, G, 1): one per sample and group, broadcast over the group's
    M = (C/G)*H*W values. xhat is kept as (N, G, M), the layout the backward pass needs.
    """

    x: np.ndarray  # (N, C, H, W) input
    G: int  # number of groups
    mu: np.ndarray  # (N, G, 1) mean of each group
    xmu: np.ndarray  # (N, G, M) x - mu
    var: np.ndarray  # (N, G, 1) biased variance of each group
    ivar: np.ndarray  # (N, G, 1) 1 / sqrt(var + eps)
    xhat: np.ndarray  # (N, G, M) xmu * ivar
    gamma: np.ndarray  # (C,) or (1, C, 1, 1) scale, as given; beta has the same shape
    eps: float


# gn_param's keys: CS231n's eps, and the 'mode' a solver writes into every norm's dict
# (group norm behaves the same in both modes). Any other key is refused.
GN_PARAM_KEYS = ("mode", "eps")


def _check_channel_params(where, x, gamma, beta, group_layout=False):
    """x must be (N, C, H, W) floats with N >= 1; gamma and beta (C,) floats.

    With group_layout, gamma and beta may instead both be (1, C, 1, 1), CS231n's layout
    for group norm (see the module docstring).
    """
    validation.float_array(where, "x", x, ndim=4)
    validation.nonempty_batch(where, "x", x)
    C = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p)
        if group_layout and p.shape == (1, C, 1, 1):
            continue
        if p.shape == (1, C, 1, 1):
            raise ValueError(
                f"{where}: {name} must have shape ({C},), one value per channel; got {p.shape}, "
                f"CS231n's group-norm layout, which spatial batch norm does not use (nor does "
                f"CS231n's): pass {name}.reshape({C})"
            )
        layouts = f"({C},) or (1, {C}, 1, 1)" if group_layout else f"({C},)"
        if p.shape != (C,):
            raise ValueError(
                f"{where}: {name} must have shape {layouts}, one value per channel of x; "
                f"got {p.shape}"
            )
    if gamma.shape != beta.shape:
        raise ValueError(
            f"{where}: gamma and beta must have the same shape, ({C},) or (1, {C}, 1, 1); "
            f"got {gamma.shape} and {beta.shape}"
        )


def _check_bn_param(where, bn_param, C, count):
    """Validate bn_param here, so errors carry this function's name rather than batchnorm_forward's."""
    mode = read_bn_param(where, bn_param, C, np.float64)[0]
    if mode == "train" and count < 2:
        raise ValueError(
            f"{where}: train mode needs at least 2 values per channel (N*H*W >= 2) to estimate "
            f"a variance; got N*H*W={count}"
        )


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization, forward pass: batch norm per channel over (N, H, W).

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - gamma: (C,) scale, one per channel
    - beta: (C,) shift, one per channel
    - bn_param: dict as for batchnorm_forward (mode, eps, momentum, running_mean,
      running_var); the running statistics have shape (C,)

    Returns a tuple of:
    - out: (N, C, H, W)
    - cache: SpatialBatchNormCache for spatial_batchnorm_backward
    """
    where = "spatial_batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta)
    N, C, H, W = x.shape
    _check_bn_param(where, bn_param, C, N * H * W)
    ### BEGIN SOLUTION
    # Channels first: row c of x_cf holds channel c over the batch and every position, so
    # x_cf.T is the (N*H*W, C) matrix of the vanilla batch norm, one row per position of one
    # sample. The vanilla layer keeps the memory order of its input: on this transposed view
    # each channel's sums run along contiguous memory, and the cache holds views of
    # (C, N*H*W) arrays. (A conv layer's output is already channels first: no copy then.)
    x_cf = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).reshape(C, N * H * W)
    out_rows, bn_cache = batchnorm_forward(x_cf.T, gamma, beta, bn_param)
    out = out_rows.T.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    cache = SpatialBatchNormCache(shape=x.shape, bn=bn_cache)
    ### END SOLUTION
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalization, backward pass (via the closed-form batchnorm_backward_alt).

    Inputs:
    - dout: (N, C, H, W) upstream gradient
    - cache: SpatialBatchNormCache from a train-mode spatial_batchnorm_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dgamma: (C,)
    - dbeta: (C,)
    All three keep dout's dtype: a float32 pass stays float32.
    """
    where = "spatial_batchnorm_backward"
    validation.cache_of(where, cache, SpatialBatchNormCache, "spatial_batchnorm_forward")
    if cache.bn.mode != "train":
        raise ValueError(
            f"{where}: cache comes from a '{cache.bn.mode}'-mode forward pass; its statistics "
            f"are constants, so backpropagate through a 'train'-mode forward pass instead"
        )
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.shape, "the shape of x and of out")
    ### BEGIN SOLUTION
    N, C, H, W = dout.shape
    dout_cf = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(C, N * H * W)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_cf.T, cache.bn)
    dx = dx_rows.T.reshape(C, N, H, W).transpose(1, 0, 2, 3)
    ### END SOLUTION
    return dx, dgamma, dbeta


def _check_groups(where, G, x):
    """G must be an integer in [1, C] that divides C, leaving >= 2 values per group."""
    N, C, H, W = x.shape
    if not isinstance(G, numbers.Integral) or isinstance(G, bool):
        raise TypeError(f"{where}: G must be an integer number of groups; got {G!r}")
    if not 1 <= G <= C:
        raise ValueError(f"{where}: G must be between 1 and C={C} (the channels of x); got G={G}")
    if C % G:
        divisors = [g for g in range(1, C + 1) if C % g == 0]
        raise ValueError(
            f"{where}: G must divide the number of channels C={C} so every group has the "
            f"same size; got G={G}. Divisors of {C}: {divisors}"
        )
    if (C // G) * H * W < 2:
        raise ValueError(
            f"{where}: each group must hold at least 2 values to estimate a variance; "
            f"got (C/G)*H*W = {(C // G) * H * W} for x of shape {x.shape} and G={G}"
        )
    return int(G)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalization, forward pass. Same in training and at test time.

    Each sample's channels are split into G consecutive groups of C/G; every group is
    normalized with its own mean and biased variance over its (C/G)*H*W values, then each
    channel is scaled and shifted by its gamma and beta.

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - gamma: (C,) scale, one per channel, or CS231n's layout (1, C, 1, 1)
    - beta: shift, shaped like gamma
    - G: number of groups, an integer that divides C
    - gn_param: dict; optional keys eps (default 1e-5) and mode ('train' or 'test', as a
      solver writes it; ignored, because group norm behaves the same in both modes). Any
      other key is refused.

    float16 and float32 x are normalized in their own dtype, with each group's statistics
    summed in float64. An x so large that its variance overflows is refused.

    Returns a tuple of:
    - out: (N, C, H, W)
    - cache: GroupNormCache for spatial_groupnorm_backward
    """
    where = "spatial_groupnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_channel_params(where, x, gamma, beta, group_layout=True)
    G = _check_groups(where, G, x)
    validation.param_dict(where, "gn_param", gn_param)
    validation.known_keys(where, "gn_param", gn_param, GN_PARAM_KEYS)
    if "mode" in gn_param:
        validation.choice(where, "gn_param['mode']", gn_param["mode"], MODES)
    eps = validation.positive_number(where, "gn_param['eps']", gn_param.get("eps", DEFAULT_EPS))
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    # Consecutive channels are contiguous in memory, so one reshape lines up each group's
    # (C/G)*H*W values along the last axis (a copy only if x is not in (N, C, H, W) order).
    xg = np.ascontiguousarray(x).reshape(N, G, -1)
    M = xg.shape[2]
    # Sums in float64 whatever x's dtype (as in layer norm), results rounded to x's dtype.
    # The subtraction runs in float64 too and is rounded once on the way into xmu, in
    # buffer-sized chunks rather than through a float64 copy of x.
    acc = np.promote_types(x.dtype, np.float64)
    mu = np.einsum("ngm->ng", xg, dtype=acc)[..., None] / M
    xmu = np.empty_like(xg)
    np.subtract(xg, mu, out=xmu, casting="same_kind")
    var = (np.einsum("ngm,ngm->ng", xmu, xmu, dtype=acc)[..., None] / M).astype(x.dtype)
    mu = mu.astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    # reshape(C, 1, 1) serves gamma and beta of shape (C,) and (1, C, 1, 1) alike
    out = xhat.reshape(N, C, H, W) * gamma.reshape(C, 1, 1)
    out += beta.reshape(C, 1, 1)
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    ### END SOLUTION
    validation.finite_variance(where, cache.var, x)
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Group normalization, backward pass in closed form (notebook 7).

    Inputs:
    - dout: (N, C, H, W) upstream gradient
    - cache: GroupNormCache from spatial_groupnorm_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dgamma: summed over the batch and the positions; shaped like the forward's gamma,
      (C,) or (1, C, 1, 1)
    - dbeta: shaped like dgamma
    All three keep dout's dtype: a float32 pass stays float32.
    """
    where = "spatial_groupnorm_backward"
    validation.cache_of(where, cache, GroupNormCache, "spatial_groupnorm_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")
    ### BEGIN SOLUTION
    # Inside one group this is layer norm's backward pass: with dxhat = gamma * dout and
    # means over each group's values, dx = ivar * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    N, C, H, W = dout.shape
    xhat = cache.xhat
    M = xhat.shape[2]
    # gamma and beta share one shape (C,) or (1, C, 1, 1); the gradients come back in it
    dbeta = np.einsum("nchw->c", dout).reshape(cache.gamma.shape)
    dgamma = np.einsum("nchw,nchw->c", dout, xhat.reshape(N, C, H, W)).reshape(cache.gamma.shape)
    dxhat = (dout * cache.gamma.reshape(C, 1, 1)).reshape(N, cache.G, M)
    # The (N, G, 1) means are folded first, and every pass after the first runs in place.
    dx = xhat * (np.einsum("ngm,ngm->ng", dxhat, xhat)[..., None] / M)
    dx += dxhat.mean(axis=2, keepdims=True)
    np.subtract(dxhat, dx, out=dx)
    dx *= cache.ivar
    dx = dx.reshape(N, C, H, W)
    ### END SOLUTION
    return dx, dgamma, dbeta
