"""Mistakes and correct variants of the normalization exercises, as data for the catalogue.

Each entry: (exercise, implementation, expected words or None for a correct variant).
An implementation is what the check receives as its first argument; backward entries may
carry their own forward pass as ("forward", fn). The words are what a message that names
the mistake must contain (all of them, case-insensitive).
"""

import numpy as np

from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from cs231n_bn.spatial import GroupNormCache, SpatialBatchNormCache, spatial_groupnorm_forward

# ---------------------------------------------------------------------------------------
# batchnorm_forward
# ---------------------------------------------------------------------------------------


def bn_forward(var_fn="two pass", ddof=0, eps_place="inside", axis=0, momentum_reversed=False,
               test_uses_batch=False, write_back=True, in_place=False, running_var_kind="biased",
               swap=False, no_affine=False, sign=1, start="zeros", default_eps=False,
               cache_edit=None, test_eps="inside", test_centre=True, loops=False, keepdims=False,
               store_batch=False, running_in_place=False):
    """A batchnorm_forward written the long way, with one switchable mistake per argument."""

    def forward(x, gamma, beta, bn_param):
        eps = 1e-5 if default_eps else bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        D = x.shape[1]
        zero = np.zeros(D, x.dtype) if start == "zeros" else np.ones(D, x.dtype)
        running_mean = bn_param.get("running_mean", zero)
        running_var = bn_param.get("running_var", zero)
        mode = bn_param["mode"]
        if mode == "train" or test_uses_batch:
            N = x.shape[0]
            if loops:
                mu = np.array([sum(x[i, j] for i in range(N)) / N for j in range(D)])
                var = np.array([sum((x[i, j] - mu[j]) ** 2 for i in range(N)) / N for j in range(D)])
            elif axis != 0:
                mu = x.mean(axis=axis, keepdims=True)
                var = x.var(axis=axis, ddof=ddof, keepdims=True)
            elif var_fn == "np.var":
                mu, var = x.mean(axis=0, keepdims=keepdims), x.var(axis=0, ddof=ddof, keepdims=keepdims)
            elif var_fn == "einsum":
                mu = np.einsum("nd->d", x) / N
                var = np.einsum("nd,nd->d", x - mu, x - mu) / (N - ddof)
            elif var_fn == "one pass":
                mu = x.mean(axis=0)
                var = (np.mean(x**2, axis=0) - mu**2) * N / (N - ddof)
            else:
                mu = x.mean(axis=0, keepdims=keepdims)
                var = np.sum((x - mu) ** 2, axis=0, keepdims=keepdims) / (N - ddof)
            if in_place:
                x -= mu
                xmu = x
            else:
                xmu = x - mu
            if mode == "train" and write_back:
                keep = 1 - momentum if momentum_reversed else momentum
                batch_var = {"biased": x.var(axis=0), "unbiased": x.var(axis=0, ddof=1),
                             "std": x.std(axis=0)}[running_var_kind] if not in_place else np.ravel(var)
                if store_batch:
                    bn_param["running_mean"], bn_param["running_var"] = np.ravel(mu), batch_var
                elif running_in_place:
                    running_mean *= keep
                    running_mean += (1 - keep) * x.mean(axis=0)
                    running_var *= keep
                    running_var += (1 - keep) * batch_var
                    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
                else:
                    bn_param["running_mean"] = keep * running_mean + (1 - keep) * x.mean(axis=0)
                    bn_param["running_var"] = keep * running_var + (1 - keep) * batch_var
        else:
            mu, var = running_mean, running_var
            xmu = x - mu if test_centre else x
            if test_eps == "missing":
                eps_here = 0.0
            else:
                eps_here = eps
        if mode == "test" and not test_uses_batch and test_eps == "outside":
            sqrtvar = np.sqrt(var) + eps
        elif mode == "test" and not test_uses_batch and test_eps == "missing":
            sqrtvar = np.sqrt(var + eps_here)
        elif eps_place == "inside":
            sqrtvar = np.sqrt(var + eps)
        elif eps_place == "outside":
            sqrtvar = np.sqrt(var) + eps
        elif eps_place == "no root":
            sqrtvar = var + eps
        else:
            sqrtvar = np.sqrt(var)
        ivar = 1.0 / sqrtvar
        xhat = sign * xmu * ivar
        if no_affine:
            out = xhat
        elif swap:
            out = beta * xhat + gamma
        else:
            out = gamma * xhat + beta
        fields = dict(mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar, xhat=xhat,
                      gamma=gamma, eps=eps)
        if cache_edit == "tuple":
            return out, (x, mu, var, xhat)
        if cache_edit is not None:
            fields.update(cache_edit(fields, out))
        return out, BatchNormCache(**fields)

    return forward


BN_FORWARD = [
    (bn_forward(), None),
    (bn_forward(var_fn="np.var"), None),
    (bn_forward(var_fn="einsum"), None),
    (bn_forward(var_fn="one pass"), ["cancellation"]),
    (bn_forward(loops=True), None),
    (bn_forward(keepdims=True), None),
    (bn_forward(var_fn="np.var", keepdims=True), None),
    (bn_forward(ddof=1), ["unbiased"]),
    (bn_forward(var_fn="np.var", ddof=1), ["unbiased"]),
    (bn_forward(eps_place="outside"), ["eps is outside"]),
    (bn_forward(eps_place="missing"), ["eps is missing"]),
    (bn_forward(eps_place="no root"), ["square root is missing"]),
    (bn_forward(default_eps=True), ["eps is not read"]),
    (bn_forward(axis=1), ["wrong axes", "layer norm"]),
    (bn_forward(axis=None), ["wrong axes", "all entries"]),
    (bn_forward(momentum_reversed=True), ["momentum", "reversed"]),
    (bn_forward(test_uses_batch=True), ["test mode uses batch statistics"]),
    (bn_forward(write_back=False), ["not written back"]),
    (bn_forward(running_in_place=True), ["running average was updated in place"]),
    (bn_forward(in_place=True), ["modified its input x in place"]),
    (bn_forward(running_var_kind="unbiased"), ["running_var", "unbiased"]),
    (bn_forward(running_var_kind="std"), ["running_var", "standard deviation"]),
    (bn_forward(swap=True), ["swapped"]),
    (bn_forward(no_affine=True), ["gamma and beta are not applied"]),
    (bn_forward(sign=-1), ["sign"]),
    (bn_forward(start="ones"), ["started at ones"]),
    (bn_forward(store_batch=True), ["batch statistic itself"]),
    (bn_forward(test_eps="missing"), ["eps is missing in test mode"]),
    (bn_forward(test_eps="outside"), ["eps is outside the square root in test mode"]),
    (bn_forward(test_centre=False), ["does not subtract running_mean"]),
    (bn_forward(cache_edit=lambda f, out: {"xhat": out}), ["cache.xhat holds the layer's output"]),
    (bn_forward(cache_edit=lambda f, out: {"ivar": f["sqrtvar"]}), ["cache.ivar holds the standard deviation"]),
    (bn_forward(cache_edit=lambda f, out: {"xhat": None}), ["cache.xhat is none"]),
    (bn_forward(cache_edit=lambda f, out: {"sqrtvar": f["var"]}), ["cache.sqrtvar holds the variance"]),
    (bn_forward(cache_edit=lambda f, out: {"mode": "train"}), ["cache.mode"]),
    # a CS231n-style tuple cache is the student's own contract with their backward pass (issue 22):
    # the forward check judges its outputs, the backward check judges the pair
    (bn_forward(cache_edit="tuple"), None),
]


# ---------------------------------------------------------------------------------------
# batchnorm_backward (staged) and batchnorm_backward_alt (closed form)
# ---------------------------------------------------------------------------------------


def staged(factor=None, eps_dvar=True, sqrtvar_power=2, dmu_sum=True, divar_sum=True, no_dx2=False,
           no_dxmu2=False, dxhat_gamma=True, dxmu1_ivar=True, order="textbook", dgamma_from=None,
           dbeta_axis=0, dvar_sqrt_power=-1, swap_params=False):
    """The staged backward pass with switchable mistakes; factor multiplies one step by a constant."""
    factor = factor or {}

    def f(k):
        return factor.get(k, 1.0)

    def backward(dout, cache):
        N = dout.shape[0]
        xmu, var, sqrtvar, ivar, xhat = cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat
        gamma, eps = cache.gamma, cache.eps
        dbeta = f("dbeta") * np.sum(dout, axis=dbeta_axis)
        dgammax = dout
        source = {None: xhat, "x": cache.x, "xmu": xmu}[dgamma_from]
        dgamma = f("dgamma") * np.sum(source * dgammax, axis=0)
        dxhat = (gamma if dxhat_gamma else 1.0) * dgammax
        divar = f("divar") * (np.sum(xmu * dxhat, axis=0) if divar_sum else xmu * dxhat)
        dxmu1 = f("dxmu1") * (ivar if dxmu1_ivar else 1.0) * dxhat
        dsqrtvar = f("dsqrtvar") * -1.0 / sqrtvar**sqrtvar_power * divar
        dvar = f("dvar") * 0.5 * np.sqrt(var + (eps if eps_dvar else 0.0)) ** dvar_sqrt_power * dsqrtvar
        dsq = f("dsq") * np.ones_like(dout) / N * dvar
        dxmu2 = 0.0 * dsq if no_dxmu2 else f("dxmu2") * 2.0 * xmu * dsq
        if order == "textbook":
            dx1 = dxmu1 + dxmu2
            dmu = f("dmu") * -(np.sum(dxmu1 + dxmu2, axis=0) if dmu_sum else dxmu1 + dxmu2)
            dx2 = f("dx2") * np.ones_like(dout) / N * dmu
            dx = dx1 if no_dx2 else dx1 + dx2
        else:  # another valid order: the mean branch first, dmu from dxmu1 alone (sum dxmu2 = 0)
            dmu = -np.sum(dxmu1, axis=0) - np.sum(dxmu2, axis=0)
            dx = dmu / N + dxmu2 + dxmu1
        if swap_params:
            return dx, dbeta, dgamma
        return dx, dgamma, dbeta

    return backward


def _staged_einsum(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, cache.xhat)
    dxhat = cache.gamma * dout
    dvar = np.einsum("nd,nd->d", dxhat, cache.xmu) * -0.5 * cache.ivar**3
    dmu = -np.einsum("nd->d", dxhat) * cache.ivar + dvar * -2.0 * np.mean(cache.xmu, axis=0)
    dx = dxhat * cache.ivar + dvar * 2.0 * cache.xmu / N + dmu / N
    return dx, dgamma, dbeta


def _staged_keepdims(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * cache.xhat).sum(axis=0, keepdims=True)
    dxhat = cache.gamma * dout
    divar = np.sum(dxhat * cache.xmu, axis=0, keepdims=True)
    dvar = divar * -1.0 / cache.sqrtvar**2 * 0.5 / cache.sqrtvar
    dxmu = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / N
    dx = dxmu - dxmu.sum(axis=0, keepdims=True) / N
    return dx, dgamma.ravel(), dbeta.ravel()


def _staged_loops(dout, cache):
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D), dout.dtype), np.zeros(D, dout.dtype), np.zeros(D, dout.dtype)
    for j in range(D):
        s = cache.sqrtvar[j]
        dbeta[j] = sum(dout[i, j] for i in range(N))
        dgamma[j] = sum(dout[i, j] * cache.xhat[i, j] for i in range(N))
        dxhat = [cache.gamma[j] * dout[i, j] for i in range(N)]
        dvar = sum(dxhat[i] * cache.xmu[i, j] for i in range(N)) * -0.5 / s**3
        dmu = -sum(dxhat) / s
        for i in range(N):
            dx[i, j] = dxhat[i] / s + dvar * 2 * cache.xmu[i, j] / N + dmu / N
    return dx, dgamma, dbeta


BN_BACKWARD = [
    (staged(), None),
    (staged(order="other"), None),
    (_staged_einsum, None),
    (_staged_keepdims, None),
    (_staged_loops, None),
    (batchnorm_backward_alt, None),
    (staged(factor={"dvar": -1}), ["through the variance", "sign error"]),
    (staged(factor={"dsqrtvar": -1}), ["through the variance", "sign error"]),
    (staged(factor={"divar": -1}), ["through the variance", "sign error"]),
    (staged(factor={"dxmu2": -1}), ["through the variance", "sign error"]),
    (staged(factor={"dvar": 2}), ["through the variance", "1/2 is missing"]),
    (staged(factor={"dsq": 6}), ["through the variance", "1/n is missing"]),
    (staged(factor={"dxmu2": 0.5}), ["through the variance", "factor 2 is missing"]),
    (staged(factor={"dsq": 1 / 6}), ["through the variance", "extra factor 1/n"]),
    (staged(factor={"dx2": 6}), ["through the mean", "1/n is missing"]),
    (staged(factor={"dmu": -1}), ["through the mean", "sign error"]),
    (staged(factor={"dxmu1": -1}), ["dxmu1", "sign error"]),
    (staged(factor={"dxmu1": 2}), ["dxmu1", "1/2 is missing"]),
    (staged(no_dx2=True), ["through the mean", "missing"]),
    (staged(no_dxmu2=True), ["through the variance", "missing"]),
    (staged(eps_dvar=False), ["through the variance", "eps is dropped"]),
    (staged(sqrtvar_power=1), ["through the variance", "power of the standard deviation"]),
    (staged(sqrtvar_power=3), ["through the variance", "power of the standard deviation"]),
    (staged(dvar_sqrt_power=1), ["through the variance", "power of the standard deviation"]),
    (staged(dxmu1_ivar=False), ["dxmu1", "power of the standard deviation"]),
    (staged(dxhat_gamma=False), ["1/gamma", "all three paths"]),
    (staged(dmu_sum=False), ["not summed"]),
    (staged(divar_sum=False), ["not summed"]),
    (staged(factor={"dgamma": -1}), ["dgamma", "sign error"]),
    (staged(factor={"dbeta": 1 / 6}), ["dbeta", "extra factor 1/n"]),
    (staged(factor={"dbeta": -1}), ["dbeta", "sign error"]),
    (staged(dgamma_from="x"), ["dgamma", "computed from x"]),
    (staged(dgamma_from="xmu"), ["dgamma", "division by the standard deviation is missing"]),
    (staged(dbeta_axis=1), ["dbeta", "wrong axes"]),
    (staged(swap_params=True), ["swapped"]),
]


def alt(minus_dbeta=1.0, minus_dgamma=1.0, n_shift=0, gamma_on=True, ivar_power=1, xmu_term=False,
        eps_dropped=False, dgamma_extra_gamma=False, dbeta_mean=False, no_xhat_term=False,
        no_dbeta_term=False, form="boxed"):
    """The closed form with switchable mistakes; minus_* are the factors of the two subtracted terms."""

    def backward(dout, cache):
        N = dout.shape[0] - n_shift
        xhat = cache.xhat
        dbeta = dout.sum(axis=0) / (dout.shape[0] if dbeta_mean else 1)
        dgamma = np.sum(dout * xhat, axis=0) * (cache.gamma if dgamma_extra_gamma else 1)
        ivar = 1.0 / np.sqrt(cache.var) if eps_dropped else cache.ivar**ivar_power
        third = (cache.xmu if xmu_term else xhat) * dgamma
        g = cache.gamma if gamma_on else 1.0
        if form == "over N":
            dx = g * ivar / N * (N * dout - minus_dbeta * dbeta - minus_dgamma * third)
        else:
            dx = g * ivar * (dout - (0 if no_dbeta_term else minus_dbeta * dbeta) / N
                             - (0 if no_xhat_term else minus_dgamma * third) / N)
        return dx, dgamma, dbeta

    return backward


def _alt_einsum(dout, cache):
    N = dout.shape[0]
    dbeta = np.einsum("ij->j", dout)
    dgamma = np.einsum("ij,ij->j", dout, cache.xhat)
    dx = np.einsum("j,ij->ij", cache.gamma * cache.ivar / N, N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


BN_BACKWARD_ALT = [
    (alt(), None),
    (alt(form="over N"), None),
    (_alt_einsum, None),
    (staged(), None),
    (alt(minus_dbeta=-1), ["through the mean", "sign error"]),
    (alt(minus_dgamma=-1), ["through the variance", "sign error"]),
    (alt(minus_dbeta=0.0), ["through the mean", "missing"]),
    (alt(no_xhat_term=True), ["through the variance", "missing"]),
    (alt(n_shift=1), ["n/(n-1)", "same factor"]),
    (alt(form="over N", n_shift=1), ["n - 1"]),
    (alt(gamma_on=False), ["1/gamma", "all three paths"]),
    (alt(ivar_power=2), ["all three paths", "power of the standard deviation"]),
    (alt(ivar_power=-1), ["all three paths", "power of the standard deviation"]),
    (alt(xmu_term=True), ["through the variance", "power of the standard deviation"]),
    (alt(eps_dropped=True), ["all three paths", "eps is dropped"]),
    (alt(dgamma_extra_gamma=True), ["dgamma", "extra factor gamma"]),
    (alt(dbeta_mean=True), ["dbeta", "extra factor 1/n"]),
    (alt(minus_dbeta=2.0), ["through the mean", "1/2 is missing"]),
    (alt(minus_dbeta=6.0, minus_dgamma=6.0), ["same factor", "1/n is missing"]),
    (alt(minus_dgamma=0.5), ["through the variance", "factor 2 is missing"]),
]

# ---------------------------------------------------------------------------------------
# layer norm
# ---------------------------------------------------------------------------------------


def ln_forward(axis=1, keepdims=True, ddof=0, eps_place="inside", default_eps=False, cache_edit=None,
               var_fn="two pass"):
    def forward(x, gamma, beta, ln_param):
        eps = 1e-5 if default_eps else ln_param.get("eps", 1e-5)
        mu = x.mean(axis=axis, keepdims=keepdims)
        if var_fn == "np.var":
            var = x.var(axis=axis, ddof=ddof, keepdims=keepdims)
        elif var_fn == "one pass":
            var = np.mean(x**2, axis=axis, keepdims=keepdims) - mu**2
        else:
            var = np.sum((x - mu) ** 2, axis=axis, keepdims=keepdims) / (x.shape[axis] - ddof)
        xmu = x - mu
        sqrtvar = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps,
                   "missing": np.sqrt(var)}[eps_place]
        ivar = 1 / sqrtvar
        xhat = xmu * ivar
        out = gamma * xhat + beta
        fields = dict(x=x, mu=mu, xmu=xmu, var=var, ivar=ivar, xhat=xhat, gamma=gamma, eps=eps)
        if cache_edit:
            fields.update(cache_edit(fields, out))
        return out, LayerNormCache(**fields)

    return forward


def ln_backward(mean_factor=1.0, xhat_factor=1.0, gamma_on=True, axis=1, dgamma_axis=0, form="means",
                ivar_power=1, no_keepdims=False):
    def backward(dout, cache):
        xhat = cache.xhat
        D = dout.shape[1]
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(dout * xhat, axis=dgamma_axis)
        dxhat = (cache.gamma if gamma_on else 1.0) * dout
        ivar = cache.ivar**ivar_power
        if form == "sums":
            dx = ivar / D * (D * dxhat - dxhat.sum(axis=1, keepdims=True)
                             - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True))
        elif no_keepdims:
            dx = ivar * (dxhat - dxhat.mean(axis=1) - xhat * np.mean(dxhat * xhat, axis=1))
        else:
            dx = ivar * (dxhat - mean_factor * dxhat.mean(axis=axis, keepdims=True)
                         - xhat_factor * xhat * np.mean(dxhat * xhat, axis=axis, keepdims=True))
        return dx, dgamma, dbeta

    return backward


LN_FORWARD = [
    (ln_forward(), None),
    (ln_forward(var_fn="np.var"), None),
    (ln_forward(var_fn="one pass"), ["cancellation"]),
    (ln_forward(axis=0), ["wrong axes", "batch norm"]),
    (ln_forward(ddof=1), ["unbiased"]),
    (ln_forward(eps_place="outside"), ["eps is outside"]),
    (ln_forward(eps_place="missing"), ["eps is missing"]),
    (ln_forward(default_eps=True), ["eps is not read"]),
    (ln_forward(keepdims=False), ["valueerror", "broadcast"]),
    (ln_forward(cache_edit=lambda f, out: {"ivar": 1 / f["ivar"]}), ["cache.ivar holds the standard deviation"]),
    (ln_forward(cache_edit=lambda f, out: {"xhat": out}), ["cache.xhat holds the layer's output"]),
]

LN_BACKWARD = [
    (ln_backward(), None),
    (ln_backward(form="sums"), None),
    (ln_backward(mean_factor=-1), ["through the mean", "sign error"]),
    (ln_backward(xhat_factor=-1), ["through the variance", "sign error"]),
    (ln_backward(mean_factor=0.0), ["through the mean", "missing"]),
    (ln_backward(xhat_factor=0.0), ["through the variance", "missing"]),
    (ln_backward(gamma_on=False), ["gamma is missing"]),
    (ln_backward(axis=0), ["axis 0", "batch"]),
    (ln_backward(dgamma_axis=1), ["dgamma", "wrong axes"]),
    (ln_backward(ivar_power=2), ["all three paths", "power of the standard deviation"]),
    (ln_backward(no_keepdims=True), ["valueerror", "broadcast"]),
    (ln_backward(xhat_factor=6.0), ["through the variance", "1/n is missing"]),
]

# ---------------------------------------------------------------------------------------
# spatial batch norm and group norm
# ---------------------------------------------------------------------------------------


def sbn_forward(layout="right", vanilla=batchnorm_forward):
    def forward(x, gamma, beta, bn_param):
        N, C, H, W = x.shape
        if layout == "right":
            rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
        elif layout == "no transpose":
            rows = x.reshape(-1, C)
        else:  # channels moved with swapaxes: (N, W, H, C), also a valid row order
            rows = x.swapaxes(1, 3).reshape(-1, C)
        out_rows, cache = vanilla(rows, gamma, beta, bn_param)
        if layout == "right":
            out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        elif layout == "no transpose":
            out = out_rows.reshape(N, C, H, W)
        else:
            out = out_rows.reshape(N, W, H, C).swapaxes(1, 3)
        return out, SpatialBatchNormCache(shape=x.shape, bn=cache)

    return forward


def sbn_forward_axes(axes, ddof=0):
    """Spatial batch norm written directly with axes; mistakes in the axes."""

    def forward(x, gamma, beta, bn_param):
        eps = bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        C = x.shape[1]
        g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
        if bn_param["mode"] == "train":
            mu = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True, ddof=ddof)
            bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros(C, x.dtype)) + (1 - momentum) * x.mean(axis=(0, 2, 3))
            bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros(C, x.dtype)) + (1 - momentum) * x.var(axis=(0, 2, 3))
        else:
            mu = bn_param["running_mean"].reshape(1, C, 1, 1)
            var = bn_param["running_var"].reshape(1, C, 1, 1)
        out = g * (x - mu) / np.sqrt(var + eps) + b
        rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
        return out, SpatialBatchNormCache(shape=x.shape, bn=batchnorm_forward(rows, gamma, beta, dict(bn_param))[1])

    return forward


def sbn_backward(layout="right", count="N*H*W"):
    def backward(dout, cache):
        N, C, H, W = dout.shape
        if layout == "right":
            drows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
        else:
            drows = dout.reshape(-1, C)
        bn = cache.bn
        M = drows.shape[0] if count == "N*H*W" else N
        dbeta = drows.sum(axis=0)
        dgamma = np.sum(drows * bn.xhat, axis=0)
        dx_rows = bn.gamma * bn.ivar * (drows - (dbeta + bn.xhat * dgamma) / M)
        if layout == "right":
            dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        else:
            dx = dx_rows.reshape(N, C, H, W)
        return dx, dgamma, dbeta

    return backward


def gn_forward(grouping="right", ddof=0, eps_place="inside", stats_keepdims=True, param_layouts="both"):
    def forward(x, gamma, beta, G, gn_param):
        eps = gn_param.get("eps", 1e-5)
        N, C, H, W = x.shape
        if grouping == "right":
            xg = x.reshape(N, G, -1)
        elif grouping == "strided":
            xg = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)
        elif grouping == "whole batch":
            xg = x.reshape(G, -1)
        elif grouping == "layer":
            xg = x.reshape(N, 1, -1)
        else:
            xg = x.reshape(N, C, -1)
        mu = xg.mean(axis=-1, keepdims=True)
        xmu = xg - mu
        var = xg.var(axis=-1, ddof=ddof, keepdims=True)
        sqrtvar = np.sqrt(var + eps) if eps_place == "inside" else np.sqrt(var) + eps
        xhat = xmu / sqrtvar
        if grouping == "strided":
            xhat_map = xhat.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
        else:
            xhat_map = xhat.reshape(N, C, H, W)
        if param_layouts == "both":  # (C,) and CS231n's (1, C, 1, 1), as the contract says
            out = gamma.reshape(C, 1, 1) * xhat_map + beta.reshape(C, 1, 1)
        else:
            out = gamma[:, None, None] * xhat_map + beta[:, None, None]
        if grouping != "right":
            return out, spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[1]
        return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xmu, var=var, ivar=1 / sqrtvar, xhat=xhat,
                                   gamma=gamma, eps=eps)

    return forward


def gn_backward(mean_factor=1.0, xhat_factor=1.0, gamma_on=True, dgamma_axes=(0, 2, 3), count=None,
                param_layouts="both"):
    def backward(dout, cache):
        N, C, H, W = dout.shape
        xhat = cache.xhat
        dbeta = dout.sum(axis=(0, 2, 3))
        dgamma = np.sum(dout * xhat.reshape(N, C, H, W), axis=dgamma_axes)
        if param_layouts == "both" and dgamma_axes == (0, 2, 3):  # gradients shaped like gamma, as the contract says
            dgamma, dbeta = dgamma.reshape(cache.gamma.shape), dbeta.reshape(cache.gamma.shape)
        dxhat = ((cache.gamma.reshape(C, 1, 1) if gamma_on else 1.0) * dout).reshape(N, cache.G, -1)
        M = dxhat.shape[2] if count is None else count
        dx = cache.ivar * (dxhat - mean_factor * dxhat.sum(axis=2, keepdims=True) / M
                           - xhat_factor * xhat * np.sum(dxhat * xhat, axis=2, keepdims=True) / M)
        return dx.reshape(N, C, H, W), dgamma, dbeta

    return backward


SBN_FORWARD = [
    (sbn_forward(), None),
    (sbn_forward("swapaxes"), None),
    (sbn_forward_axes((0, 2, 3)), None),
    (sbn_forward("no transpose"), ["wrong axes", "reshape"]),
    (sbn_forward_axes((2, 3)), ["wrong axes", "instance norm"]),
    (sbn_forward_axes((0,)), ["wrong axes", "batch only"]),
    (sbn_forward_axes((1, 2, 3)), ["wrong axes", "layer norm"]),
    (sbn_forward_axes((0, 2, 3), ddof=1), ["unbiased"]),
    (sbn_forward(vanilla=bn_forward(momentum_reversed=True)), ["momentum", "reversed"]),
    (sbn_forward(vanilla=bn_forward(test_uses_batch=True)), ["test mode uses batch statistics"]),
]

SBN_BACKWARD = [
    (sbn_backward(), None),
    (sbn_backward(count="N"), ["same factor", "divided by n where"]),
    (sbn_backward(layout="no transpose"), ["dbeta", "mixes channels"]),
]

GN_FORWARD = [
    (gn_forward(), None),
    (gn_forward("strided"), ["wrong axes", "strided"]),
    (gn_forward("whole batch"), ["wrong axes", "whole batch"]),
    (gn_forward("layer"), ["wrong axes", "g = 1"]),
    (gn_forward("instance"), ["wrong axes", "g = c"]),
    (gn_forward(ddof=1), ["unbiased"]),
    (gn_forward(eps_place="outside"), ["eps is outside"]),
    (gn_forward(param_layouts="(C,) only"), ["(1, c, 1, 1)"]),
]

GN_BACKWARD = [
    (gn_backward(), None),
    (gn_backward(mean_factor=-1), ["through the mean", "sign error"]),
    (gn_backward(xhat_factor=0.0), ["through the variance", "missing"]),
    (gn_backward(gamma_on=False), ["gamma is missing"]),
    (gn_backward(count=2), ["same factor"]),
    (gn_backward(dgamma_axes=(0, 1)), ["dgamma"]),
    (gn_backward(param_layouts="(C,) only"), ["gamma and beta of shape (1, 4, 1, 1)", "dbeta has shape (4,)"]),
]


def _bn_without(part):
    def forward(x, gamma, beta, bn_param):
        out, cache = batchnorm_forward(x, gamma, beta, bn_param)
        xhat = (out - beta) / gamma
        return {"gamma": xhat + beta, "beta": gamma * xhat}[part], cache

    return forward


def _ln_without(part):
    def forward(x, gamma, beta, ln_param):
        out, cache = layernorm_forward(x, gamma, beta, ln_param)
        return {"gamma": cache.xhat + beta, "beta": gamma * cache.xhat}[part], cache

    return forward


BN_FORWARD += [
    (_bn_without("gamma"), ["gamma is not applied"]),
    (_bn_without("beta"), ["beta is not added"]),
    (bn_forward(cache_edit=lambda f, out: {"sqrtvar": np.sqrt(f["var"])}), ["cache.sqrtvar holds sqrt(var) without eps"]),
    (bn_forward(cache_edit=lambda f, out: {"xhat": f["gamma"] * f["xhat"]}), ["cache.xhat holds gamma * xhat"]),
    (bn_forward(cache_edit=lambda f, out: {"xmu": f["x"]}), ["cache.xmu holds the input x"]),
]
LN_FORWARD += [
    (_ln_without("gamma"), ["gamma is not applied"]),
    (_ln_without("beta"), ["beta is not added"]),
]


def _bn_train_uses_running(x, gamma, beta, bn_param):
    params = dict(bn_param)
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)  # updates the running statistics
    if bn_param["mode"] == "train":
        params.update(mode="test", running_mean=bn_param["running_mean"], running_var=bn_param["running_var"])
        out, _ = batchnorm_forward(x, gamma, beta, params)
    return out, cache


BN_FORWARD.append((_bn_train_uses_running, ["train mode normalizes with the running statistics"]))


def _bn_variant(kind):
    """batchnorm_forward around the package's, with one more kind of mistake."""

    def forward(x, gamma, beta, bn_param):
        params = dict(bn_param)
        if kind == "eps 1e-8" and "eps" not in params:
            params["eps"] = 1e-8
        if kind == "momentum 0.99" and "momentum" not in params:
            params["momentum"] = 0.99
        out, cache = batchnorm_forward(x, gamma, beta, params)
        for key in ("running_mean", "running_var"):
            if key in params:
                bn_param[key] = params[key]
        if kind == "running of output" and bn_param["mode"] == "train":
            m = bn_param.get("momentum", 0.9)
            before_mean = (params["running_mean"] - (1 - m) * x.mean(axis=0)) / m if m else 0
            before_var = (params["running_var"] - (1 - m) * x.var(axis=0)) / m if m else 0
            bn_param["running_mean"] = m * before_mean + (1 - m) * out.mean(axis=0)
            bn_param["running_var"] = m * before_var + (1 - m) * out.var(axis=0)
        if kind == "test without gamma beta" and bn_param["mode"] == "test":
            out = (out - beta) / gamma
        return out, cache

    return forward


BN_FORWARD += [
    (_bn_variant("eps 1e-8"), ["matches eps = 1e-08"]),
    (_bn_variant("momentum 0.99"), ["used momentum 0.99"]),
    (_bn_variant("running of output"), ["statistic of the layer's output"]),
    (_bn_variant("test without gamma beta"), ["does not apply gamma and beta"]),
]


def _staged_dxmu2_without_xmu(dout, cache):
    """dxmu2 = 2 * dsq: the local gradient of the square loses its xmu."""
    N = dout.shape[0]
    dxhat = cache.gamma * dout
    divar = np.sum(cache.xmu * dxhat, axis=0)
    dvar = 0.5 / cache.sqrtvar * (-divar / cache.sqrtvar**2)
    dxmu = cache.ivar * dxhat + 2.0 * np.ones_like(dout) / N * dvar
    dx = dxmu - dxmu.sum(axis=0) / N
    return dx, np.sum(dout * cache.xhat, axis=0), dout.sum(axis=0)


def _alt_third_term_bare(dout, cache):
    """The xhat term subtracted outside the factor gamma * ivar."""
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)
    dx = cache.gamma * cache.ivar * (dout - dbeta / N) - cache.xhat * dgamma / N
    return dx, dgamma, dbeta


# the constant dxmu2 is cancelled by the mean path: what is left is the variance path, missing
BN_BACKWARD.append((_staged_dxmu2_without_xmu, ["through the variance", "zero: it is missing"]))
BN_BACKWARD_ALT.append((_alt_third_term_bare, ["through the variance", "sqrt(var + eps)^1 / gamma"]))


def _bn_test_mixes(which):
    def forward(x, gamma, beta, bn_param):
        if bn_param["mode"] != "test":
            return batchnorm_forward(x, gamma, beta, bn_param)
        eps = bn_param.get("eps", 1e-5)
        mean = x.mean(axis=0) if which == "batch mean" else bn_param["running_mean"]
        var = x.var(axis=0) if which == "batch var" else bn_param["running_var"]
        return gamma * (x - mean) / np.sqrt(var + eps) + beta, batchnorm_forward(x, gamma, beta, dict(bn_param))[1]

    return forward


BN_FORWARD += [(_bn_test_mixes("batch mean"), ["subtracts the batch's mean"]),
               (_bn_test_mixes("batch var"), ["divides by the batch's standard deviation"])]


def _bn_returns_cache_first(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    return cache, out


def _bn_eps_squared(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        eps = bn_param.get("eps", 1e-5)
        out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps**2) + beta
    return out, cache


def _alt_dgamma_without_eps(dout, cache):
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (dout * cache.xmu / np.sqrt(cache.var)).sum(axis=0)
    return cache.gamma * cache.ivar * (dout - (dbeta + cache.xhat * dgamma) / N), dgamma, dbeta


def _gn_eps_missing(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    xhat = ((xg - xg.mean(axis=2, keepdims=True)) / xg.std(axis=2, keepdims=True)).reshape(N, C, H, W)
    return gamma[:, None, None] * xhat + beta[:, None, None], spatial_groupnorm_forward(x, gamma, beta, G, gn_param)[1]


BN_FORWARD += [(_bn_returns_cache_first, ["the order is (out, cache)"]),
               (_bn_eps_squared, ["matches eps = 1e-06"])]
BN_BACKWARD_ALT += [(_alt_dgamma_without_eps, ["dgamma", "eps is dropped"]),
                    (alt(minus_dgamma=6.0), ["through the variance alone", "1/n is missing"])]
GN_FORWARD += [(_gn_eps_missing, ["eps is missing"])]


def _ln_default_eps_outside(x, gamma, beta, ln_param):
    mu, sd = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    return gamma * (x - mu) / (sd + 1e-5) + beta, layernorm_forward(x, gamma, beta, ln_param)[1]


LN_FORWARD.append((_ln_default_eps_outside, ["eps is outside", "eps is not read"]))


# ---------------------------------------------------------------------------------------
# Mistakes of the kinds issue 21 lists, written from the math: how gamma and beta are
# applied, layer norm's test mode, a gradient divided by the wrong count.
# ---------------------------------------------------------------------------------------


def _bn_beta_times_gamma(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    return gamma * (cache.xhat + beta), cache


def _bn_gamma_reversed(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    return gamma[::-1] * cache.xhat + beta, cache


def _ln_test_mode_without_affine(x, gamma, beta, ln_param):
    out, cache = layernorm_forward(x, gamma, beta, {k: v for k, v in ln_param.items() if k != "mode"})
    return (cache.xhat if ln_param.get("mode") == "test" else out), cache


def _ln_backward_dbeta_over_n(dout, cache):
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    return dx, dgamma, dbeta / dout.shape[0]


def _gn_beta_times_gamma(x, gamma, beta, G, gn_param):
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    C = x.shape[1]
    return gamma.reshape(C, 1, 1) * (cache.xhat.reshape(x.shape) + beta.reshape(C, 1, 1)), cache


BN_FORWARD += [(_bn_beta_times_gamma, ["beta is scaled by gamma"]),
               (_bn_gamma_reversed, ["gamma of other entries"])]
LN_FORWARD += [(_ln_test_mode_without_affine, ["ln_param['mode'] = 'test'"])]

def _bn_momentum_hard_coded(x, gamma, beta, bn_param):
    # written from the math: the running averages use 0.9 whatever bn_param says
    param = dict(bn_param, momentum=0.9)
    out, cache = batchnorm_forward(x, gamma, beta, param)
    if bn_param.get("mode") == "train":
        bn_param.update(running_mean=param["running_mean"], running_var=param["running_var"])
    return out, cache


def _bn_running_weights_not_summing_to_one(x, gamma, beta, bn_param):
    # written from the math: momentum * old + batch, the (1 - momentum) forgotten
    m = bn_param.get("momentum", 0.9)
    old_mean, old_var = bn_param.get("running_mean"), bn_param.get("running_var")
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param.get("mode") == "train" and old_mean is not None:
        bn_param["running_mean"] = m * old_mean + x.mean(axis=0)
        bn_param["running_var"] = m * old_var + x.var(axis=0)
    return out, cache


BN_FORWARD += [(_bn_momentum_hard_coded, ["momentum is hard-coded"]),
               (_bn_running_weights_not_summing_to_one, ["add up to 1"])]
LN_BACKWARD += [(_ln_backward_dbeta_over_n, ["dbeta", "1/n of the right one"])]
GN_FORWARD += [(_gn_beta_times_gamma, ["beta is scaled by gamma"])]


# ---------------------------------------------------------------------------------------
# A student's own forward/backward pair with its own cache (CS231n style: a tuple, a dict,
# None in test mode): correct, judged as a black box by its outputs and gradients. The
# backward check gets the pair's forward through the `forward` attribute.
# ---------------------------------------------------------------------------------------


def with_forward(backward, forward):
    backward.forward = forward
    return backward


def _bn_forward_tuple(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, x.dtype))
    if bn_param["mode"] == "train":
        mu = x.mean(axis=0)
        var = np.mean((x - mu) ** 2, axis=0)
        xhat = (x - mu) / np.sqrt(var + eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        return gamma * xhat + beta, (xhat, gamma, 1 / np.sqrt(var + eps))
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, None


def _bn_backward_tuple(dout, cache):
    xhat, gamma, ivar = cache
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * xhat, axis=0)
    dx = gamma * ivar / N * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def _ln_forward_dict(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = np.einsum("nd->n", x)[:, None] / x.shape[1]
    xmu = x - mu
    ivar = 1 / np.sqrt(np.einsum("nd,nd->n", xmu, xmu)[:, None] / x.shape[1] + eps)
    return gamma * xmu * ivar + beta, {"xhat": xmu * ivar, "ivar": ivar, "gamma": gamma}


def _ln_backward_dict(dout, cache):
    xhat, ivar, gamma = cache["xhat"], cache["ivar"], cache["gamma"]
    g = dout * gamma
    dx = ivar * (g - g.mean(axis=1, keepdims=True) - xhat * np.mean(g * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


BN_FORWARD += [(_bn_forward_tuple, None)]
BN_BACKWARD += [(with_forward(_bn_backward_tuple, _bn_forward_tuple), None)]
BN_BACKWARD_ALT += [(with_forward(lambda dout, cache: _bn_backward_tuple(dout, cache), _bn_forward_tuple), None)]
LN_FORWARD += [(_ln_forward_dict, None)]
LN_BACKWARD += [(with_forward(_ln_backward_dict, _ln_forward_dict), None)]


def _alt_dx_over_gamma_squared(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return dx / cache.gamma**2, dgamma, dbeta


def _alt_dgamma_times_gamma_squared(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return dx, dgamma * cache.gamma**2, dbeta


BN_BACKWARD_ALT += [(_alt_dx_over_gamma_squared, ["all three paths", "1/gamma^2"]),
                    (_alt_dgamma_times_gamma_squared, ["dgamma", "gamma^2"])]


def _sbn_back_without_transpose(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(N, C, H, W), SpatialBatchNormCache(shape=x.shape, bn=cache)


SBN_FORWARD += [(_sbn_back_without_transpose, ["right values", "wrong positions"])]


# ---------------------------------------------------------------------------------------
# Backward passes that do not split into one factor per path (issue 21), written from the
# math: means taken over the wrong axes, gamma on the wrong side of the means, one path with
# its own power of gamma or of the standard deviation, dx put back without its transpose.
# And correct code of unusual forms: float32 arithmetic, einsum, the means as sums.
# ---------------------------------------------------------------------------------------


def _alt_means_over_samples(dout, cache):
    # the bracket's two means taken along each sample (axis 1) instead of over the batch
    g = cache.gamma * cache.ivar
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)
    dx = g * (dout - dout.mean(axis=1, keepdims=True) - cache.xhat * np.mean(dout * cache.xhat, axis=1, keepdims=True))
    return dx, dgamma, dbeta


def _alt_mean_path_over_samples(dout, cache):
    # only the mean path's mean is taken along axis 1
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=1, keepdims=True) - cache.xhat * dgamma / N)
    return dx, dgamma, dbeta


def _alt_variance_path_gamma_squared(dout, cache):
    # the variance path picks up gamma once more: gamma^2 * ivar * xhat * dgamma / N
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)
    g = cache.gamma * cache.ivar
    return g * (dout - dbeta / N) - cache.gamma * g * cache.xhat * dgamma / N, dgamma, dbeta


def _alt_variance_path_ivar_cubed(dout, cache):
    # the variance path with ivar^3 (the 1/(var + eps)^(3/2) of dvar) on top of xhat, which already holds ivar
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * cache.xhat, axis=0)
    g = cache.gamma * cache.ivar
    return g * (dout - dbeta / N) - g * cache.ivar**2 * cache.xhat * dgamma / N, dgamma, dbeta


def _alt_any_dtype(dout, cache):
    # the closed form written for any float dtype (float32 inputs stay float32): constants in dout's dtype
    f = dout.dtype.type
    N = f(dout.shape[0])
    dbeta = dout.sum(axis=0, dtype=dout.dtype)
    dgamma = np.sum(dout * cache.xhat.astype(dout.dtype), axis=0)
    dx = (cache.gamma * cache.ivar).astype(dout.dtype) / N * (N * dout - dbeta - cache.xhat * dgamma)
    return dx, dgamma, dbeta


def _ln_gamma_outside_means(dout, cache):
    # gamma multiplies the whole bracket, so the means are of dout, not of the gradient that enters xhat
    xhat = cache.xhat
    dx = cache.gamma * cache.ivar * (dout - dout.mean(axis=1, keepdims=True)
                                     - xhat * np.mean(dout * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def _ln_means_over_everything(dout, cache):
    # np.mean without an axis: one mean over the whole array
    xhat, dxhat = cache.xhat, cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean() - xhat * np.mean(dxhat * xhat))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def _ln_variance_path_without_gamma(dout, cache):
    # the mean path is right; the variance path's mean is of dout * xhat, gamma left out there
    xhat, dxhat = cache.xhat, cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * np.mean(dout * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def _ln_einsum(dout, cache):
    xhat, D = cache.xhat, dout.shape[1]
    dxhat = np.einsum("d,nd->nd", cache.gamma, dout)
    dx = cache.ivar / D * (D * dxhat - np.einsum("nd->n", dxhat)[:, None]
                           - xhat * np.einsum("nd,nd->n", dxhat, xhat)[:, None])
    return dx, np.einsum("nd,nd->d", dout, xhat), np.einsum("nd->d", dout)


def _sbn_dx_without_transpose(dout, cache):
    # the rows are made right, but dx is put back with a reshape alone
    N, C, H, W = dout.shape
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache.bn)
    return dx_rows.reshape(N, C, H, W), dgamma, dbeta


def _gn_means_per_channel(dout, cache):
    # spatial batch norm's means (over N, H, W per channel) in a group norm backward
    N, C, H, W = dout.shape
    xhat = cache.xhat.reshape(N, C, H, W)
    ivar = np.broadcast_to(cache.ivar, (N, cache.G, C // cache.G * H * W)).reshape(N, C, H, W)
    dxhat = cache.gamma.reshape(1, C, 1, 1) * dout
    dx = ivar * (dxhat - dxhat.mean(axis=(0, 2, 3), keepdims=True)
                 - xhat * np.mean(dxhat * xhat, axis=(0, 2, 3), keepdims=True))
    return dx, np.sum(dout * xhat, axis=(0, 2, 3)).reshape(cache.gamma.shape), dout.sum(axis=(0, 2, 3)).reshape(
        cache.gamma.shape)


def _gn_gamma_outside_means(dout, cache):
    N, C, H, W = dout.shape
    G = cache.G
    xhat = cache.xhat
    d = dout.reshape(N, G, -1)
    bracket = d - d.mean(axis=2, keepdims=True) - xhat * np.mean(d * xhat, axis=2, keepdims=True)
    dx = cache.gamma.reshape(1, C, 1, 1) * (cache.ivar * bracket).reshape(N, C, H, W)
    shape = cache.gamma.shape
    return (dx, np.sum(dout * xhat.reshape(N, C, H, W), axis=(0, 2, 3)).reshape(shape),
            dout.sum(axis=(0, 2, 3)).reshape(shape))


BN_BACKWARD_ALT += [
    (_alt_means_over_samples, ["axis 1"]),
    (_alt_mean_path_over_samples, ["through the mean", "axis 1"]),
    (_alt_variance_path_gamma_squared, ["through the variance", "extra factor gamma"]),
    (_alt_variance_path_ivar_cubed, ["through the variance", "power of the standard deviation"]),
    (_alt_any_dtype, None),
]
LN_BACKWARD += [
    (_ln_gamma_outside_means, ["gamma", "outside the means"]),
    (_ln_means_over_everything, ["all entries"]),
    (_ln_variance_path_without_gamma, ["through the variance", "gamma is missing"]),
    (_ln_einsum, None),
]
SBN_BACKWARD += [(_sbn_dx_without_transpose, ["right values", "wrong positions"])]
GN_BACKWARD += [
    (_gn_means_per_channel, ["spatial batch norm"]),
    (_gn_gamma_outside_means, ["gamma", "outside the means"]),
]


# ---------------------------------------------------------------------------------------
# Forward passes that centre with the wrong statistic or put values back at the wrong
# positions (issue 21), written from the math.
# ---------------------------------------------------------------------------------------


def _bn_train_centres_with_updated_running_mean(x, gamma, beta, bn_param):
    # the running mean is updated first, then subtracted in place of the batch's mean
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        eps = bn_param.get("eps", 1e-5)
        out = gamma * (x - bn_param["running_mean"]) / np.sqrt(x.var(axis=0) + eps) + beta
    return out, cache


def _bn_train_centres_with_old_running_mean(x, gamma, beta, bn_param):
    # the running mean as it was before this step, subtracted in place of the batch's mean
    D = x.shape[1]
    old = np.array(bn_param.get("running_mean", np.zeros(D)), dtype=float)
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        eps = bn_param.get("eps", 1e-5)
        out = gamma * (x - old) / np.sqrt(x.var(axis=0) + eps) + beta
    return out, cache


def _sbn_rows_swapaxes_back_transpose(x, gamma, beta, bn_param):
    # rows made from (N, W, H, C), put back as if they were (N, H, W, C)
    N, C, H, W = x.shape
    out_rows, cache = batchnorm_forward(x.transpose(0, 3, 2, 1).reshape(-1, C), gamma, beta, bn_param)
    return out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2), SpatialBatchNormCache(shape=x.shape, bn=cache)


def _sbn_gamma_on_last_axis(x, gamma, beta, bn_param):
    # gamma and beta of shape (C,) broadcast against (N, C, H, W) as they are
    C = x.shape[1]
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    _, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    xhat = cache.xhat.reshape(x.shape[0], x.shape[2], x.shape[3], C).transpose(0, 3, 1, 2)
    return gamma * xhat + beta, SpatialBatchNormCache(shape=x.shape, bn=cache)


def _gn_xhat_put_back_wrongly(x, gamma, beta, G, gn_param):
    # the grouped xhat put back through (N, H, W, C) before gamma and beta are applied
    N, C, H, W = x.shape
    _, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    xhat = cache.xhat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return gamma.reshape(1, C, 1, 1) * xhat + beta.reshape(1, C, 1, 1), cache


BN_FORWARD += [
    (_bn_train_centres_with_updated_running_mean, ["running_mean", "train mode"]),
    (_bn_train_centres_with_old_running_mean, ["running_mean", "train mode"]),
]
SBN_FORWARD += [
    (_sbn_rows_swapaxes_back_transpose, ["right values", "wrong positions"]),
    (_sbn_gamma_on_last_axis, ["broadcast", "last axis"]),
]
GN_FORWARD += [(_gn_xhat_put_back_wrongly, ["normalized values", "wrong positions"])]


# ---------------------------------------------------------------------------------------
# A second round from the math (issue 21): one path's mean over another axis, gamma applied
# twice, spatial means over too few axes; and correct code in other forms.
# ---------------------------------------------------------------------------------------


def _staged_divar_from_xhat(dout, cache):
    # divar sums dxhat * xhat, where the local gradient of xmu * ivar with respect to ivar is xmu
    N = dout.shape[0]
    dxhat = cache.gamma * dout
    divar = np.sum(dxhat * cache.xhat, axis=0)
    dvar = -0.5 / cache.sqrtvar**3 * divar
    dxmu = dxhat * cache.ivar + 2.0 * cache.xmu * dvar / N
    dx = dxmu - dxmu.sum(axis=0) / N
    return dx, np.sum(dout * cache.xhat, axis=0), dout.sum(axis=0)


def _ln_mean_path_over_batch(dout, cache):
    xhat, dxhat = cache.xhat, cache.gamma * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=0, keepdims=True)
                       - xhat * np.mean(dxhat * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def _ln_gamma_twice(dout, cache):
    # gamma enters the gradient of xhat, and multiplies the whole result once more
    xhat, dxhat = cache.xhat, cache.gamma * dout
    dx = cache.gamma * cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True)
                                     - xhat * np.mean(dxhat * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def _gn_means_per_channel_and_sample(dout, cache):
    # instance norm's means (over H, W of each sample and channel) in a group norm backward
    N, C, H, W = dout.shape
    xhat = cache.xhat.reshape(N, C, H, W)
    ivar = np.broadcast_to(cache.ivar, (N, cache.G, C // cache.G * H * W)).reshape(N, C, H, W)
    dxhat = cache.gamma.reshape(1, C, 1, 1) * dout
    dx = ivar * (dxhat - dxhat.mean(axis=(2, 3), keepdims=True)
                 - xhat * np.mean(dxhat * xhat, axis=(2, 3), keepdims=True))
    shape = cache.gamma.shape
    return dx, np.sum(dout * xhat, axis=(0, 2, 3)).reshape(shape), dout.sum(axis=(0, 2, 3)).reshape(shape)


def _sbn_backward_means_over_batch_only(dout, cache):
    # means over axis 0 alone, one per channel and position, in a spatial batch norm backward
    N, C, H, W = dout.shape
    bn = cache.bn
    xhat = bn.xhat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    g = (bn.gamma * bn.ivar).reshape(1, C, 1, 1)
    dx = g * (dout - dout.mean(axis=0, keepdims=True) - xhat * np.mean(dout * xhat, axis=0, keepdims=True))
    return dx, np.sum(dout * xhat, axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def _sbn_backward_moveaxis(dout, cache):
    N, C, H, W = dout.shape
    drows = np.moveaxis(dout, 1, -1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache.bn)
    return np.moveaxis(dx_rows.reshape(N, H, W, C), -1, 1), dgamma, dbeta


def _gn_backward_einsum(dout, cache):
    N, C, H, W = dout.shape
    G, xhat = cache.G, cache.xhat
    M = C // G * H * W
    dxhat = np.einsum("c,nchw->nchw", cache.gamma.ravel(), dout).reshape(N, G, M)
    dx = cache.ivar / M * (M * dxhat - np.einsum("ngm->ng", dxhat)[:, :, None]
                           - xhat * np.einsum("ngm,ngm->ng", dxhat, xhat)[:, :, None])
    shape = cache.gamma.shape
    xmap = xhat.reshape(N, C, H, W)
    return (dx.reshape(N, C, H, W), np.einsum("nchw,nchw->c", dout, xmap).reshape(shape),
            np.einsum("nchw->c", dout).reshape(shape))


def _gn_forward_one_pass(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu = xg.mean(axis=2, keepdims=True)
    var = np.mean(xg**2, axis=2, keepdims=True) - mu**2
    xhat = (xg - mu) / np.sqrt(var + eps)
    out = gamma.reshape(1, C, 1, 1) * xhat.reshape(N, C, H, W) + beta.reshape(1, C, 1, 1)
    return out, GroupNormCache(x=x, G=G, mu=mu, xmu=xg - mu, var=var, ivar=1 / np.sqrt(var + eps), xhat=xhat,
                               gamma=gamma, eps=eps)


def _ln_gamma_beta_swapped(x, gamma, beta, ln_param):
    out, cache = layernorm_forward(x, gamma, beta, ln_param)
    return beta * cache.xhat + gamma, cache


BN_BACKWARD += [(_staged_divar_from_xhat, ["through the variance", "power of the standard deviation"])]
LN_BACKWARD += [
    (_ln_mean_path_over_batch, ["through the mean", "axis 0"]),
    (_ln_gamma_twice, ["gamma", "twice"]),
]
GN_BACKWARD += [(_gn_means_per_channel_and_sample, ["instance norm"]), (_gn_backward_einsum, None)]
SBN_BACKWARD += [(_sbn_backward_means_over_batch_only, ["batch only"]), (_sbn_backward_moveaxis, None)]
GN_FORWARD += [(_gn_forward_one_pass, ["cancellation"])]
LN_FORWARD += [(_ln_gamma_beta_swapped, ["swapped"])]


def _bn_reshape_for_transpose(x, gamma, beta, bn_param):
    # x.reshape(D, N) taken for x.T, normalized along its rows, and reshaped back
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        N, D = x.shape
        rows = x.reshape(D, N)
        xhat = ((rows - rows.mean(axis=1, keepdims=True)) / np.sqrt(rows.var(axis=1, keepdims=True)
                                                                    + bn_param.get("eps", 1e-5))).reshape(N, D)
        out = gamma * xhat + beta
    return out, cache


BN_FORWARD.append((_bn_reshape_for_transpose, ["wrong entries", "reshaped flat"]))
SBN_FORWARD.append((sbn_forward_axes((0, 3)), ["wrong entries", "axis 0, axis 3"]))


def _ln_returns_dxhat(dout, cache):
    # the chain stops at xhat: its gradient returned as dx
    return cache.gamma * dout, np.sum(dout * cache.xhat, axis=0), dout.sum(axis=0)


def _ln_gamma_mean(dout, cache):
    # one gamma for all features, its mean, in the gradient reaching xhat
    xhat, dxhat = cache.xhat, np.mean(cache.gamma) * dout
    dx = cache.ivar * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * np.mean(dxhat * xhat, axis=1, keepdims=True))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


LN_BACKWARD += [(_ln_returns_dxhat, ["gradient that reaches xhat", "stops"]),
                (_ln_gamma_mean, ["mean of gamma", "one number per sample"])]


def _sbn_variance_about_zero(x, gamma, beta, bn_param):
    # the variance as the mean of x^2, forgetting to centre it first
    out, cache = sbn_forward()(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        C = x.shape[1]
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = np.mean(x**2, axis=(0, 2, 3), keepdims=True)
        out = gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + bn_param.get("eps", 1e-5)) + beta.reshape(1, C, 1, 1)
    return out, cache


SBN_FORWARD.append((_sbn_variance_about_zero, ["variance is taken about zero"]))


def _bn_statistics_in_float64(x, gamma, beta, bn_param):
    # the batch statistics accumulated with dtype=np.float64 and never cast back
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        mu = x.mean(axis=0, dtype=np.float64)
        var = x.var(axis=0, dtype=np.float64)
        out = gamma * (x - mu) / np.sqrt(var + bn_param.get("eps", 1e-5)) + beta
    return out, cache


BN_FORWARD.append((_bn_statistics_in_float64, ["float32", "precision"]))


def _sbn_per_position(x, gamma, beta, bn_param):
    """Batch norm of x.reshape(N, C*H*W) with gamma and beta repeated: statistics per (channel, position)."""
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), bn_param)
    return out.reshape(x.shape), SpatialBatchNormCache(x.shape, cache)


SBN_FORWARD.append((_sbn_per_position, ["c*h*w features", "each position gets its own statistics"]))


def _staged_loops_float64(dout, cache):
    """The loops above, into arrays made without a dtype: float32 gradients come back float64."""
    dx, dgamma, dbeta = _staged_loops(dout, cache)
    return dx.astype(np.float64), dgamma.astype(np.float64), dbeta.astype(np.float64)


BN_BACKWARD.append((_staged_loops_float64, ["float32", "dx is float64"]))


def _sbn_forward_float64(x, gamma, beta, bn_param):
    """Spatial batch norm computed on a float64 copy of x, returned as it is."""
    N, C, H, W = x.shape
    rows = x.astype(np.float64).transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), SpatialBatchNormCache(x.shape, cache)


SBN_FORWARD.append((_sbn_forward_float64, ["dtype float64 for float32 x"]))


def _bn_mean_over_n_minus_one(x, gamma, beta, bn_param):
    """The mean taken as sum(x) / (N - 1), the variance about it divided by N."""
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        mu = x.sum(axis=0) / (x.shape[0] - 1)
        var = np.mean((x - mu) ** 2, axis=0)
        out = gamma * (x - mu) / np.sqrt(var + bn_param.get("eps", 1e-5)) + beta
    return out, cache


def _bn_no_test_branch(x, gamma, beta, bn_param):
    """Every call runs the training branch, test mode included."""
    return batchnorm_forward(x, gamma, beta, dict(bn_param, mode="train") if bn_param["mode"] == "test" else bn_param)


def _bn_no_test_branch_updating(x, gamma, beta, bn_param):
    """Every call runs the training branch and writes the running averages back, test mode included."""
    mode = bn_param["mode"]
    bn_param["mode"] = "train"
    try:
        return batchnorm_forward(x, gamma, beta, bn_param)
    finally:
        bn_param["mode"] = mode


def _ln_affine_first(x, gamma, beta, ln_param):
    """gamma and beta applied first, then the normalization, which takes them out again."""
    return layernorm_forward(gamma * x + beta, np.ones_like(gamma), np.zeros_like(beta), ln_param)


def _gn_tiled_parameters(x, gamma, beta, G, gn_param):
    """gamma and beta spread over the flattened (N, C*H*W) rows with np.tile, which cycles the channels."""
    out, cache = spatial_groupnorm_forward(x, np.ones(x.shape[1]), np.zeros(x.shape[1]), G, gn_param)
    N, C, H, W = x.shape
    flat = out.reshape(N, -1) * np.tile(np.ravel(gamma), H * W) + np.tile(np.ravel(beta), H * W)
    return flat.reshape(x.shape), cache


BN_FORWARD += [(_bn_mean_over_n_minus_one, ["n/(n-1) times the mean"]),
               (_bn_no_test_branch, ["test mode uses batch statistics"]),
               (_bn_no_test_branch_updating, ["test mode changed", "runs the training branch"])]
LN_FORWARD.append((_ln_affine_first, ["applied before the normalization"]))
GN_FORWARD.append((_gn_tiled_parameters, ["another channel", "wrong axis"]))


def _bn_resets_mode(x, gamma, beta, bn_param):
    """Puts bn_param['mode'] back to 'train' after a test-mode call."""
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    bn_param["mode"] = "train"
    return out, cache


def _bn_running_in_float64(x, gamma, beta, bn_param):
    """Stores the running statistics as float64 whatever x's dtype."""
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    if bn_param["mode"] == "train":
        bn_param["running_mean"] = bn_param["running_mean"].astype(np.float64)
        bn_param["running_var"] = bn_param["running_var"].astype(np.float64)
    return out, cache


def _gn_writes_gn_param(x, gamma, beta, G, gn_param):
    """Stores per-group statistics in the caller's gn_param, as batch norm would."""
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    gn_param["running_mean"] = cache.mu.mean(axis=0)
    return out, cache


def _gn_cache_gamma_4d(x, gamma, beta, G, gn_param):
    """Keeps gamma in the cache as (1, C, 1, 1) whatever shape it came in."""
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
    fields = {f: getattr(cache, f) for f in ("x", "G", "mu", "xmu", "var", "ivar", "xhat", "eps")}
    return out, GroupNormCache(gamma=np.reshape(gamma, (1, -1, 1, 1)), **fields)


BN_FORWARD += [(_bn_resets_mode, ["bn_param['mode'] went in as 'test'"]),
               (_bn_running_in_float64, ["running_mean'] has dtype float64"])]
GN_FORWARD += [(_gn_writes_gn_param, ["gn_param holds ['running_mean']"]),
               (_gn_cache_gamma_4d, ["cache.gamma", "(1, 6, 1, 1)"])]
