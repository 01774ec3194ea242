"""spatial_groupnorm_forward and spatial_groupnorm_backward: solution-region bodies."""

import numpy as np

from cs231n_bn.spatial import GroupNormCache
from tests.instructor.fresh5.scaffold import gn_backward, gn_forward
from tests.instructor.later_catalogue import Catalogue

gn_fwd = Catalogue("spatial_groupnorm_forward")
gn_bwd = Catalogue("spatial_groupnorm_backward")


def _gn(x, gamma, G, eps, ddof=0):
    """Group statistics (float64 sums) and the cache; returns xhat as (N, C, H, W) too."""
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    M = xg.shape[2]
    mu = xg.mean(axis=2, keepdims=True, dtype=np.float64)
    xmu = (xg - mu).astype(x.dtype)
    var = ((xmu.astype(np.float64) ** 2).sum(axis=2, keepdims=True) / (M - ddof)).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    cache = GroupNormCache(x=x, G=G, mu=mu.astype(x.dtype), xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    return xhat.reshape(x.shape), cache


def _affine(xhat4, gamma, beta):
    C = xhat4.shape[1]
    return xhat4 * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)


@gn_fwd.mistake("groups interleaved: channel c placed in group c % G via reshape(N, C//G, G, H, W)")
@gn_forward
def gn_interleaved(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xi = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4)
    xhat_i, cache = _gn(np.ascontiguousarray(xi).reshape(N, C, H, W), gamma, G, eps)
    xhat = xhat_i.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(cache), "x": x})


@gn_fwd.mistake("statistics over (H, W) of each channel: instance norm whatever G")
@gn_forward
def gn_instance(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xhat, cache = _gn(x, gamma, C, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(cache), "G": G})


@gn_fwd.mistake("statistics over all of (C, H, W) per sample: layer norm whatever G")
@gn_forward
def gn_layer(x, gamma, beta, G, gn_param, eps):
    xhat, cache = _gn(x, gamma, 1, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(cache), "G": G})


@gn_fwd.mistake("gamma and beta (C,) multiplied straight onto (N, C, H, W): they broadcast along W")
@gn_forward
def gn_gamma_on_w(x, gamma, beta, G, gn_param, eps):
    xhat, cache = _gn(x, gamma, G, eps)
    return xhat * gamma + beta, cache


@gn_fwd.mistake("the unbiased variance of each group")
@gn_forward
def gn_unbiased(x, gamma, beta, G, gn_param, eps):
    xhat, cache = _gn(x, gamma, G, eps, ddof=1)
    return _affine(xhat, gamma, beta), cache


@gn_fwd.mistake("eps added to the standard deviation")
@gn_forward
def gn_eps_outside(x, gamma, beta, G, gn_param, eps):
    _, c = _gn(x, gamma, G, eps)
    ivar = 1.0 / (np.sqrt(c.var) + eps)
    xhat = c.xmu * ivar
    return _affine(xhat.reshape(x.shape), gamma, beta), GroupNormCache(**{**vars(c), "ivar": ivar, "xhat": xhat})


@gn_fwd.mistake("cache.xhat kept as (N, C, H, W), not the documented (N, G, M)")
@gn_forward
def gn_cache_xhat_4d(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x, gamma, G, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(c), "xhat": xhat})


@gn_fwd.mistake("statistics without keepdims: cache.mu, var, ivar are (N, G)")
@gn_forward
def gn_flat_stats(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x, gamma, G, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(c), "mu": c.mu[..., 0], "var": c.var[..., 0],
                                                           "ivar": c.ivar[..., 0]})


@gn_fwd.mistake("cache.gamma always reshaped to (1, C, 1, 1), not kept as given")
@gn_forward
def gn_cache_gamma_4d(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x, gamma, G, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(c), "gamma": gamma.reshape(1, -1, 1, 1)})


@gn_fwd.mistake("eps hard-coded to 1e-5, ignoring gn_param['eps']")
@gn_forward
def gn_eps_hard_coded(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x, gamma, G, 1e-5)
    return _affine(xhat, gamma, beta), c


@gn_fwd.mistake("float32 x computed in float64 and never cast back")
@gn_forward
def gn_float64(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x.astype(np.float64), gamma, G, eps)
    return _affine(xhat, gamma, beta), c


@gn_fwd.mistake("cache.G holds the group size C // G instead of the number of groups")
@gn_forward
def gn_cache_group_size(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(x, gamma, G, eps)
    return _affine(xhat, gamma, beta), GroupNormCache(**{**vars(c), "G": x.shape[1] // G})


@gn_fwd.mistake("variance as mean(x**2) - mean**2 in float32: cancels when a group's mean is large")
@gn_forward
def gn_cancelling(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = np.maximum((xg * xg).mean(axis=2, keepdims=True) - mu * mu, 0)
    xmu = xg - mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    cache = GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
    return _affine(xhat.reshape(x.shape), gamma, beta), cache


@gn_fwd.mistake("groups split along the batch: x.reshape(G, -1) mixes samples in one group")
@gn_forward
def gn_groups_across_batch(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    xb = x.reshape(G, -1)
    mu = xb.mean(axis=1, keepdims=True)
    xhat = ((xb - mu) / np.sqrt(xb.var(axis=1, keepdims=True) + eps)).reshape(x.shape)
    _, c = _gn(x, gamma, G, eps)
    return _affine(xhat, gamma, beta), c


@gn_fwd.correct("reshape to (N*G, M) and back, np.var in float64")
@gn_forward
def gn_flat_groups(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    rows = x.reshape(N * G, -1)
    mu = rows.mean(axis=1, keepdims=True, dtype=np.float64)
    var = rows.var(axis=1, keepdims=True, dtype=np.float64).astype(x.dtype)
    xmu = (rows - mu).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    M = rows.shape[1]
    cache = GroupNormCache(x=x, G=G, mu=mu.astype(x.dtype).reshape(N, G, 1), xmu=xmu.reshape(N, G, M),
                           var=var.reshape(N, G, 1), ivar=ivar.reshape(N, G, 1), xhat=xhat.reshape(N, G, M),
                           gamma=gamma, eps=eps)
    return _affine(xhat.reshape(x.shape), gamma, beta), cache


@gn_fwd.correct("a loop over the groups, einsum for the scale and shift")
@gn_forward
def gn_loop(x, gamma, beta, G, gn_param, eps):
    N, C, H, W = x.shape
    K = C // G
    M = K * H * W
    mu = np.empty((N, G, 1), x.dtype)
    var = np.empty((N, G, 1), x.dtype)
    xmu = np.empty((N, G, M), x.dtype)
    for g in range(G):
        block = x[:, g * K:(g + 1) * K].reshape(N, M).astype(np.float64)
        m = block.mean(axis=1, keepdims=True)
        mu[:, g] = m
        xmu[:, g] = block - m
        var[:, g] = ((block - m) ** 2).mean(axis=1, keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = np.einsum("nchw,c->nchw", xhat.reshape(x.shape), gamma.reshape(C)) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@gn_fwd.correct("a non-contiguous x (a transposed view) handled with np.reshape's copy; shift by (1, C, 1, 1) views")
@gn_forward
def gn_reshape_copy(x, gamma, beta, G, gn_param, eps):
    xhat, c = _gn(np.array(x, order="C"), gamma, G, eps)
    C = x.shape[1]
    out = xhat * np.reshape(gamma, (1, C, 1, 1))
    out += np.reshape(beta, (1, C, 1, 1))
    return out, GroupNormCache(**{**vars(c), "x": x})


# spatial_groupnorm_backward

def _parts(dout, cache):
    N, C, H, W = dout.shape
    xhat4 = cache.xhat.reshape(N, C, H, W)
    dxhat = (dout * cache.gamma.reshape(1, C, 1, 1)).reshape(N, cache.G, -1)
    return N, C, H, W, xhat4, dxhat


def _dx(dxhat, cache, shape):
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True) - xhat * (dxhat * xhat).mean(axis=2, keepdims=True))
    return dx.reshape(shape)


@gn_bwd.mistake("dgamma and dbeta always returned as (C,), even for CS231n's (1, C, 1, 1) gamma")
@gn_backward
def gnb_flat_param_grads(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    return _dx(dxhat, cache, dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


@gn_bwd.mistake("dgamma and dbeta always summed with keepdims=True: (1, C, 1, 1) even for a (C,) gamma")
@gn_backward
def gnb_keepdims_param_grads(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    return (_dx(dxhat, cache, dout.shape), (dout * xhat4).sum(axis=(0, 2, 3), keepdims=True),
            dout.sum(axis=(0, 2, 3), keepdims=True))


@gn_bwd.mistake("means over each channel's (H, W), instance norm's backward pass")
@gn_backward
def gnb_channel_means(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    d4 = dxhat.reshape(dout.shape)
    ivar4 = np.repeat(cache.ivar[..., 0], C // cache.G, axis=1)[:, :, None, None]
    dx = ivar4 * (d4 - d4.mean(axis=(2, 3), keepdims=True) - xhat4 * (d4 * xhat4).mean(axis=(2, 3), keepdims=True))
    return dx, (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("means over the batch axis, batch norm's backward pass")
@gn_backward
def gnb_batch_means(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx.reshape(dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("gamma forgotten: dxhat = dout")
@gn_backward
def gnb_without_gamma(dout, cache):
    N, C, H, W, xhat4, _ = _parts(dout, cache)
    dx = _dx(dout.reshape(N, cache.G, -1), cache, dout.shape)
    return dx, (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("gamma applied after the group means, though it varies across the channels of a group")
@gn_backward
def gnb_gamma_outside(dout, cache):
    N, C, H, W, xhat4, _ = _parts(dout, cache)
    dx = _dx(dout.reshape(N, cache.G, -1), cache, dout.shape) * cache.gamma.reshape(1, C, 1, 1)
    return dx, (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("dx left in the (N, G, M) layout")
@gn_backward
def gnb_dx_grouped(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    dx = _dx(dxhat, cache, dxhat.shape)
    return dx, (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("dgamma summed in the group layout: one value per group, shape (G,)")
@gn_backward
def gnb_dgamma_per_group(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    dgamma = (dout.reshape(N, cache.G, -1) * cache.xhat).sum(axis=(0, 2))
    return _dx(dxhat, cache, dout.shape), dgamma, dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("means with dtype=np.float64: dx comes back float64 for a float32 pass")
@gn_backward
def gnb_float64(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    xhat = cache.xhat
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True, dtype=np.float64)
                       - xhat * (dxhat * xhat).mean(axis=2, keepdims=True, dtype=np.float64))
    return dx.reshape(dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.mistake("dbeta summed over the batch only: (C, H, W)")
@gn_backward
def gnb_dbeta_over_n(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    return _dx(dxhat, cache, dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=0)


@gn_bwd.mistake("the variance term (xhat * mean(dxhat * xhat)) forgotten")
@gn_backward
def gnb_without_variance_term(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    dx = cache.ivar * (dxhat - dxhat.mean(axis=2, keepdims=True))
    return dx.reshape(dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.correct("layer norm's backward applied group by group in a loop")
@gn_backward
def gnb_loop(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    dx = np.empty_like(dxhat)
    for g in range(cache.G):
        d, xh, iv = dxhat[:, g], cache.xhat[:, g], cache.ivar[:, g]
        dx[:, g] = iv * (d - d.mean(axis=1, keepdims=True) - xh * (d * xh).mean(axis=1, keepdims=True))
    return dx.reshape(dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)


@gn_bwd.correct("einsum sums and the M-form: ivar / M * (M * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))")
@gn_backward
def gnb_einsum(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    M = dxhat.shape[2]
    s1 = np.einsum("ngm->ng", dxhat)[..., None]
    s2 = np.einsum("ngm,ngm->ng", dxhat, cache.xhat)[..., None]
    dx = (cache.ivar / M * (M * dxhat - s1 - cache.xhat * s2)).reshape(dout.shape)
    return dx, np.einsum("nchw,nchw->c", dout, xhat4).reshape(cache.gamma.shape), np.einsum("nchw->c", dout).reshape(cache.gamma.shape)


@gn_bwd.correct("the staged graph per group: dvar and dmu with keepdims, then three branches")
@gn_backward
def gnb_staged(dout, cache):
    N, C, H, W, xhat4, dxhat = _parts(dout, cache)
    M = dxhat.shape[2]
    dvar = np.sum(dxhat * cache.xmu, axis=2, keepdims=True) * -0.5 * cache.ivar**3
    dmu = -np.sum(dxhat * cache.ivar, axis=2, keepdims=True)
    dx = dxhat * cache.ivar + 2 * cache.xmu * dvar / M + dmu / M
    return dx.reshape(dout.shape), (dout * xhat4).sum(axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(cache.gamma.shape)
