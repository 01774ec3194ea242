"""The reference values of the normalization checks, computed by the instructor's package.

Its `computations()` join the others in classroom.grader.references, the one provider
the grader and the edition's recording tool use. This module is instructor-only: it calls
the solutions.

Every value is named "<function>/<what>"; one computation per (function, inputs) serves
all of its values. Besides the exercise's outputs it gives, in the check's group order
(one row per normalization group), what the diagnoses measure against:

- group_mean, group_var: each group's mean and biased variance (the conditioning of the
  tolerance, and the spread a normalized group must have)
- xhat: the normalized input, shaped like x
- P1, P2, P3 (backward): the three paths of dx (direct, through the mean, through the
  variance), shaped like x, summing to dx
- what the mistakes the dx check fits against compute (backward; see backward_mistakes)
"""

import importlib

import numpy as np

from classroom.grader import backward_mistakes


def _module(name):
    return importlib.import_module(f"cs231n_bn.{name}")


def _bn_forward(x, gamma, beta, bn_param):
    param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in bn_param.items()}
    out, cache = _module("batchnorm").batchnorm_forward(x, gamma, beta, param)
    values = {"out": out, "mu": cache.mu, "xmu": cache.xmu, "var": cache.var, "sqrtvar": cache.sqrtvar,
              "ivar": cache.ivar, "xhat": cache.xhat, "group_mean": cache.mu, "group_var": cache.var}
    values.update({k: param[k] for k in ("running_mean", "running_var") if k in param})
    return values, cache


def _ln_forward(x, gamma, beta, ln_param):
    out, cache = _module("layernorm").layernorm_forward(x, gamma, beta, dict(ln_param))
    return {"out": out, "mu": cache.mu, "xmu": cache.xmu, "var": cache.var, "ivar": cache.ivar,
            "xhat": cache.xhat, "group_mean": cache.mu.ravel(), "group_var": cache.var.ravel()}, cache


def _sbn_forward(x, gamma, beta, bn_param):
    param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in bn_param.items()}
    out, cache = _module("spatial").spatial_batchnorm_forward(x, gamma, beta, param)
    N, C, H, W = x.shape
    bn = cache.bn
    values = {"out": out, "mu": bn.mu, "var": bn.var, "sqrtvar": bn.sqrtvar, "ivar": bn.ivar,
              "xhat": bn.xhat.reshape(N, H, W, C).transpose(0, 3, 1, 2), "group_mean": bn.mu,
              "group_var": bn.var, "shape": np.array(x.shape, dtype=float)}
    values.update({k: param[k] for k in ("running_mean", "running_var") if k in param})
    return values, cache


def _gn_forward(x, gamma, beta, G, gn_param):
    out, cache = _module("spatial").spatial_groupnorm_forward(x, gamma, beta, G, dict(gn_param))
    return {"out": out, "mu": cache.mu, "xmu": cache.xmu, "var": cache.var, "ivar": cache.ivar,
            "xhat": cache.xhat.reshape(x.shape), "group_mean": cache.mu.ravel(),
            "group_var": cache.var.ravel()}, cache


def _groups_bn(a):
    return a.T


def _groups_ln(a):
    return a


def _groups_sbn(a):
    return a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)


FORWARDS = {
    "batchnorm_forward": _bn_forward,
    "layernorm_forward": _ln_forward,
    "spatial_batchnorm_forward": _sbn_forward,
    "spatial_groupnorm_forward": _gn_forward,
}

# backward function -> (module, forward computation, number of forward arguments after
# (x, gamma, beta), grouping of an x-shaped array into (groups, members) rows)
BACKWARDS = {
    "batchnorm_backward": ("batchnorm", _bn_forward, 1, _groups_bn),
    "batchnorm_backward_alt": ("batchnorm", _bn_forward, 1, _groups_bn),
    "layernorm_backward": ("layernorm", _ln_forward, 1, _groups_ln),
    "spatial_batchnorm_backward": ("spatial", _sbn_forward, 1, _groups_sbn),
    "spatial_groupnorm_backward": ("spatial", _gn_forward, 2, None),
}


def _backward(function_name, x, gamma, beta, *rest):
    module, forward, n_args, to_groups = BACKWARDS[function_name]
    forward_args, dout = rest[:n_args], rest[n_args]
    values, cache = forward(x, gamma, beta, *forward_args)
    dx, dgamma, dbeta = getattr(_module(module), function_name)(dout, cache)
    if to_groups is None:  # group norm: G consecutive channel blocks of each sample
        G = forward_args[0]
        to_groups = lambda a: a.reshape(x.shape[0] * G, -1)  # noqa: E731
    shape = to_groups(x).shape
    gamma_map = np.broadcast_to(gamma.reshape(1, -1, *([1] * (x.ndim - 2))) if gamma.ndim == 1 else gamma, x.shape)
    ivar = 1.0 / np.sqrt(values["group_var"] + forward_args[-1]["eps"])
    P1 = ivar[:, None] * to_groups(gamma_map * dout)
    P2 = np.broadcast_to(-P1.mean(axis=1, keepdims=True), shape)
    P3 = to_groups(dx) - P1 - P2
    back = lambda m: _ungroup(m, to_groups, x.shape)  # noqa: E731
    values.update({"dx": dx, "dgamma": dgamma, "dbeta": dbeta, "P1": back(P1), "P2": back(P2), "P3": back(P3)})
    values.update(backward_mistakes.mistakes(function_name, x, gamma, dout, forward_args, values))
    return values


def _ungroup(m, to_groups, shape):
    """Inverse of to_groups, found by grouping the entry indices."""
    index = to_groups(np.arange(int(np.prod(shape))).reshape(shape)).ravel()
    flat = np.empty(index.size)
    flat[index] = np.ravel(m)
    return flat.reshape(shape)


def computations():
    """{function_name: fn(*inputs) -> {what: value}} of the normalization exercises."""
    found = {name: (lambda forward: lambda *inputs: forward(*inputs)[0])(forward) for name, forward in FORWARDS.items()}
    found.update({name: (lambda name: lambda *inputs: _backward(name, *inputs))(name) for name in BACKWARDS})
    return found
