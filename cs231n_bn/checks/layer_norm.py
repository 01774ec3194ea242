"""Checks of layer norm's exercises: layernorm_forward and layernorm_backward."""

import numpy as np

from cs231n_bn.checks.backward import check_backward
from cs231n_bn.checks.batch_norm import forward_call, gradients_passed, needs_forward
from cs231n_bn.checks.core import CheckFailed, matches, package_function, require_array, require_unchanged
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (
    DEFAULT_EPS,
    EPS,
    check_cache_fields,
    diagnose_normalized,
    group_stats,
    grouped_input,
    ln_layout,
    params,
    smooth_input,
)


def _check_ln_cache(exercise, where, cache, x, gamma, out, eps):
    from cs231n_bn.layernorm import LayerNormCache

    mu, var, _ = group_stats(ln_layout(*x.shape), x, eps)
    xmu = x - mu
    ivar = (var + eps) ** -0.5
    expected = {"x": x, "mu": mu, "xmu": xmu, "var": var, "ivar": ivar, "xhat": xmu * ivar,
                "gamma": gamma, "eps": eps}
    others = {"the standard deviation sqrt(var + eps)": 1 / ivar, "the variance": var,
              "x - mu (xmu)": xmu, "xhat": xmu * ivar, "the input x": x, "the layer's output out": out,
              "1 / sqrt(var + eps) (ivar)": ivar}
    check_cache_fields(exercise, where, cache, LayerNormCache, expected, others)


def _verify_layernorm_forward(fn):
    exercise = where = "layernorm_forward"
    N, D = 5, 8
    rng = np.random.default_rng(2)
    layout = ln_layout(N, D)
    x = grouped_input(rng, layout, (N, D), EPS)
    gamma, beta = params(rng, (D,))
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, {"eps": EPS})
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x")
    diagnose_normalized(exercise, where, layout, x, out, gamma, beta, EPS)
    _check_ln_cache(exercise, where, cache, x, gamma, out, EPS)

    x_default = grouped_input(np.random.default_rng(12), layout, (N, D), DEFAULT_EPS)
    out_default, _ = forward_call(exercise, where, fn, x_default, gamma, beta, {})
    require_array(exercise, where, "out", out_default, x.shape)
    diagnose_normalized(exercise, where, layout, x_default, out_default, gamma, beta, DEFAULT_EPS)

    for i in range(N):
        alone, _ = forward_call(exercise, where, fn, x[i:i + 1], gamma, beta, {"eps": EPS})
        if not matches(alone, out[i:i + 1], 1e-12):
            raise CheckFailed(
                f"{where}: sample {i} comes out differently alone than in the batch: the output "
                f"depends on the other samples", exercise, "batch dependence",
            )


def check_layernorm_forward(layernorm_forward=None):
    """Check a layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)."""
    fn = layernorm_forward or package_function("layernorm", "layernorm_forward")
    _verify_layernorm_forward(fn)
    # (the words notebook 6's stored output holds)
    passed("layernorm_forward", "each sample is normalized over its own features (biased variance, eps "
           "inside the root), independently of the rest of the batch")


def check_layernorm_backward(layernorm_backward=None, forward=None):
    """Check a layernorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically."""
    exercise = "layernorm_backward"
    fn = layernorm_backward or package_function("layernorm", "layernorm_backward")
    forward = forward or package_function("layernorm", "layernorm_forward")
    needs_forward(exercise, exercise, "layernorm_forward", _verify_layernorm_forward, forward)
    N, D = 4, 6
    rng = np.random.default_rng(3)
    x = smooth_input(rng, (N, D)) * rng.uniform(0.5, 2.0, size=(N, 1))
    gamma, beta = params(rng, (D,))
    dout = rng.normal(size=(N, D))
    check_backward(exercise, exercise, "closed", fn, lambda x_, g_, b_: forward(x_, g_, b_, {"eps": EPS}),
                   ln_layout(N, D), x, gamma, beta, dout, EPS)
    gradients_passed(exercise)
