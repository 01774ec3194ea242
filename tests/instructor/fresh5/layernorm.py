"""layernorm_forward and layernorm_backward: solution-region bodies."""

import numpy as np

from cs231n_bn.layernorm import LayerNormCache
from tests.instructor.fresh5.scaffold import ln_forward, ln_backward
from tests.instructor.later_catalogue import Catalogue

ln_fwd = Catalogue("layernorm_forward")
ln_bwd = Catalogue("layernorm_backward")


def _ln(x, gamma, beta, eps, axis=1, ddof=0, keepdims=True, wide=True):
    """Layer norm with knobs for the usual slips; wide: statistics summed in float64."""
    acc = np.float64 if wide else x.dtype
    mu = x.mean(axis=axis, keepdims=keepdims, dtype=acc)
    xmu = (x - (mu if keepdims else np.expand_dims(mu, axis))).astype(x.dtype)
    var = (np.sum(xmu.astype(acc) ** 2, axis=axis, keepdims=keepdims) / (x.shape[axis] - ddof)).astype(x.dtype)
    mu = mu.astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * (ivar if keepdims else np.expand_dims(ivar, axis))
    out = gamma * xhat + beta
    return out, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@ln_fwd.mistake("statistics over axis 0, the batch (batch norm's axis)")
@ln_forward
def ln_batch_axis(x, gamma, beta, ln_param, eps):
    return _ln(x, gamma, beta, eps, axis=0)


@ln_fwd.mistake("statistics without keepdims, broadcast back by transposes: cache.mu, var, ivar are (N,) not (N, 1)")
@ln_forward
def ln_flat_stats(x, gamma, beta, ln_param, eps):
    return _ln(x, gamma, beta, eps, keepdims=False)


@ln_fwd.mistake("the unbiased variance over the features (ddof=1)")
@ln_forward
def ln_unbiased(x, gamma, beta, ln_param, eps):
    return _ln(x, gamma, beta, eps, ddof=1)


@ln_fwd.mistake("eps added to the standard deviation")
@ln_forward
def ln_eps_outside(x, gamma, beta, ln_param, eps):
    out, c = _ln(x, gamma, beta, eps)
    ivar = 1.0 / (np.sqrt(c.var) + eps)
    xhat = c.xmu * ivar
    return gamma * xhat + beta, LayerNormCache(**{**vars(c), "ivar": ivar, "xhat": xhat})


@ln_fwd.mistake("gamma and beta swapped")
@ln_forward
def ln_swapped_params(x, gamma, beta, ln_param, eps):
    out, c = _ln(x, gamma, beta, eps)
    return beta * c.xhat + gamma, c


@ln_fwd.mistake("running statistics kept as in batch norm: new keys written into ln_param")
@ln_forward
def ln_running_stats(x, gamma, beta, ln_param, eps):
    out, c = _ln(x, gamma, beta, eps)
    ln_param["running_mean"] = c.mu.mean()
    ln_param["running_var"] = c.var.mean()
    return out, c


@ln_fwd.mistake("x centred in place: the caller's x changes")
@ln_forward
def ln_in_place(x, gamma, beta, ln_param, eps):
    mu = x.mean(axis=1, keepdims=True)
    x -= mu
    var = (x**2).mean(axis=1, keepdims=True)
    ivar = 1 / np.sqrt(var + eps)
    xhat = x * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=x, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@ln_fwd.mistake("float32 x promoted to float64 and left there: out and cache float64")
@ln_forward
def ln_float64(x, gamma, beta, ln_param, eps):
    return _ln(x.astype(np.float64), gamma, beta, eps)


@ln_fwd.mistake("cache.ivar holds sqrt(var + eps)")
@ln_forward
def ln_cache_std(x, gamma, beta, ln_param, eps):
    out, c = _ln(x, gamma, beta, eps)
    return out, LayerNormCache(**{**vars(c), "ivar": np.sqrt(c.var + eps)})


@ln_fwd.mistake("eps hard-coded to 1e-5, ignoring ln_param['eps']")
@ln_forward
def ln_eps_hard_coded(x, gamma, beta, ln_param, eps):
    return _ln(x, gamma, beta, 1e-5)


@ln_fwd.mistake("variance as mean(x**2) - mean(x)**2 in float32: cancels when a sample's mean is large")
@ln_forward
def ln_cancelling(x, gamma, beta, ln_param, eps):
    mu = x.mean(axis=1, keepdims=True)
    var = np.maximum((x * x).mean(axis=1, keepdims=True) - mu * mu, 0)
    xmu = x - mu
    ivar = 1 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@ln_fwd.mistake("normalizes over the whole batch at once (one mean and variance for all of x)")
@ln_forward
def ln_global_stats(x, gamma, beta, ln_param, eps):
    out, c = _ln(x.reshape(1, -1), np.ones(1, x.dtype), np.zeros(1, x.dtype), eps)
    xhat = c.xhat.reshape(x.shape)
    N = x.shape[0]
    return gamma * xhat + beta, LayerNormCache(x=x, mu=np.repeat(c.mu, N, 0), xmu=c.xmu.reshape(x.shape),
                                               var=np.repeat(c.var, N, 0), ivar=np.repeat(c.ivar, N, 0),
                                               xhat=xhat, gamma=gamma, eps=eps)


@ln_fwd.correct("batch norm's arithmetic on x.T, transposed back (the notebook's hint), float64 sums")
@ln_forward
def ln_via_transpose(x, gamma, beta, ln_param, eps):
    xt = x.T
    mu = xt.mean(axis=0, dtype=np.float64)
    xmu_t = (xt - mu).astype(x.dtype)
    var = (xmu_t.astype(np.float64) ** 2).mean(axis=0).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = (xmu_t * ivar).T
    cache = LayerNormCache(x=x, mu=mu.astype(x.dtype)[:, None], xmu=xmu_t.T, var=var[:, None], ivar=ivar[:, None],
                           xhat=xhat, gamma=gamma, eps=eps)
    return gamma * xhat + beta, cache


@ln_fwd.correct("np.var with dtype=float64 and einsum for gamma * xhat")
@ln_forward
def ln_np_var(x, gamma, beta, ln_param, eps):
    mu = x.mean(axis=1, keepdims=True, dtype=np.float64)
    var = x.var(axis=1, keepdims=True, dtype=np.float64).astype(x.dtype)
    xmu = (x - mu).astype(x.dtype)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    out = np.einsum("nd,d->nd", xhat, gamma) + beta
    return out, LayerNormCache(x=x, mu=mu.astype(x.dtype), xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


@ln_fwd.correct("one sample at a time in a loop")
@ln_forward
def ln_loop(x, gamma, beta, ln_param, eps):
    N, D = x.shape
    mu = np.empty((N, 1), x.dtype)
    var = np.empty((N, 1), x.dtype)
    for n in range(N):
        row = x[n].astype(np.float64)
        mu[n, 0] = row.mean()
        var[n, 0] = ((row - row.mean()) ** 2).mean()
    xmu = (x - mu.astype(np.float64)).astype(x.dtype) if x.dtype != np.float64 else x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, LayerNormCache(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)


# layernorm_backward

def _means(a, b=None):
    return a.mean(axis=1, keepdims=True) if b is None else (a * b).mean(axis=1, keepdims=True)


@ln_bwd.mistake("means over axis 0: batch norm's closed form")
@ln_backward
def lnb_batch_axis(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0) - cache.xhat * (dxhat * cache.xhat).mean(axis=0))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("dgamma not summed over the batch: (N, D)")
@ln_backward
def lnb_dgamma_unsummed(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - _means(dxhat) - cache.xhat * _means(dxhat, cache.xhat))
    return dx, dout * cache.xhat, dout.sum(axis=0)


@ln_bwd.mistake("dgamma and dbeta summed over the features (axis 1): (N,) per sample")
@ln_backward
def lnb_param_grads_axis1(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - _means(dxhat) - cache.xhat * _means(dxhat, cache.xhat))
    return dx, (dout * cache.xhat).sum(axis=1), dout.sum(axis=1)


@ln_bwd.mistake("gamma applied outside the means (batch norm's gamma * ivar * (...)): wrong when gamma varies by feature")
@ln_backward
def lnb_gamma_outside(dout, cache):
    dx = cache.gamma * cache.ivar * (dout - _means(dout) - cache.xhat * _means(dout, cache.xhat))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("gamma forgotten in dx")
@ln_backward
def lnb_without_gamma(dout, cache):
    dx = cache.ivar * (dout - _means(dout) - cache.xhat * _means(dout, cache.xhat))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("the xhat * mean(dxhat * xhat) term (through the variance) forgotten")
@ln_backward
def lnb_without_variance_term(dout, cache):
    dxhat = cache.gamma * dout
    return cache.ivar * (dxhat - _means(dxhat)), (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("the mean(dxhat) term (through the mean) forgotten")
@ln_backward
def lnb_without_mean_term(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - cache.xhat * _means(dxhat, cache.xhat))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("ivar forgotten in dx")
@ln_backward
def lnb_without_ivar(dout, cache):
    dxhat = cache.gamma * dout
    dx = dxhat - _means(dxhat) - cache.xhat * _means(dxhat, cache.xhat)
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("np.mean(..., dtype=np.float64) in the means: dx comes back float64 for a float32 pass")
@ln_backward
def lnb_float64(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True, dtype=np.float64)
                       - cache.xhat * (dxhat * cache.xhat).mean(axis=1, keepdims=True, dtype=np.float64))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.mistake("the xhat term added instead of subtracted")
@ln_backward
def lnb_sign(dout, cache):
    dxhat = cache.gamma * dout
    dx = cache.ivar * (dxhat - _means(dxhat) + cache.xhat * _means(dxhat, cache.xhat))
    return dx, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)


@ln_bwd.correct("the D-form: ivar / D * (D * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)) with einsum")
@ln_backward
def lnb_d_form(dout, cache):
    D = dout.shape[1]
    dxhat = dout * cache.gamma
    s1 = np.einsum("nd->n", dxhat)[:, None]
    s2 = np.einsum("nd,nd->n", dxhat, cache.xhat)[:, None]
    dx = cache.ivar / D * (D * dxhat - s1 - cache.xhat * s2)
    return dx, np.einsum("nd,nd->d", dout, cache.xhat), np.einsum("nd->d", dout)


@ln_bwd.correct("the staged graph with the axes swapped: dvar, dmu and the three branches of dx")
@ln_backward
def lnb_staged(dout, cache):
    D = dout.shape[1]
    dxhat = dout * cache.gamma
    dvar = np.sum(dxhat * cache.xmu, axis=1, keepdims=True) * -0.5 * cache.ivar**3
    dmu = -np.sum(dxhat * cache.ivar, axis=1, keepdims=True) - 2 * dvar * cache.xmu.mean(axis=1, keepdims=True)
    dx = dxhat * cache.ivar + 2 * cache.xmu * dvar / D + dmu / D
    return dx, np.sum(dout * cache.xhat, axis=0), np.sum(dout, axis=0)


@ln_bwd.correct("batch norm's closed form applied to the transposes, with gamma folded into dxhat first")
@ln_backward
def lnb_transpose(dout, cache):
    dxhat_t = (dout * cache.gamma).T
    xhat_t = cache.xhat.T
    dx_t = cache.ivar.T * (dxhat_t - dxhat_t.mean(axis=0) - xhat_t * (dxhat_t * xhat_t).mean(axis=0))
    return dx_t.T, (dout * cache.xhat).sum(axis=0), dout.sum(axis=0)
