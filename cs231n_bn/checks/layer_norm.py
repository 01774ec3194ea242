"""Checks of layer norm's exercises: layernorm_forward and layernorm_backward."""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.batch_norm import (
    STATISTICS,
    backward_inputs,
    expected_values,
    forward_call,
    judge_output,
    keeps_float32,
    output_bound,
    run_backward_check,
)
from cs231n_bn.checks.core import CheckFailed, matches, package_function, require_array, require_unchanged
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (DEFAULT_EPS, EPS, check_cache_fields, grouped_input, ln_layout, params,
                                         require_settings_kept)

CACHE_FIELDS = ("mu", "xmu", "var", "ivar")


def _check_ln_cache(exercise, where, cache, x, gamma, out, eps, expected):
    from cs231n_bn.layernorm import LayerNormCache

    right = {"x": x, "gamma": gamma, "eps": eps}
    right.update({k: expected[k] for k in CACHE_FIELDS + ("xhat",)})
    ivar = right["ivar"]
    others = {"the standard deviation sqrt(var + eps)": 1 / ivar, "the variance": right["var"],
              "x - mu (xmu)": right["xmu"], "xhat": right["xhat"], "the input x": x,
              "the layer's output out": out, "1 / sqrt(var + eps) (ivar)": ivar}
    N, D = x.shape
    shapes = {"mu": ((N, 1), 2), "var": ((N, 1), 2), "ivar": ((N, 1), 2), "xmu": ((N, D), 2), "xhat": ((N, D), 2)}
    check_cache_fields(exercise, where, cache, LayerNormCache, right, others, shapes)


def _verify_layernorm_forward(fn):
    exercise = where = "layernorm_forward"
    N, D = 5, 8
    rng = np.random.default_rng(2)
    layout = ln_layout(N, D)
    x = grouped_input(rng, layout, (N, D), EPS)
    gamma, beta = params(rng, (D,))
    expected = expected_values(exercise, STATISTICS + CACHE_FIELDS, x, gamma, beta, {"eps": EPS})
    x_default = grouped_input(np.random.default_rng(12), layout, (N, D), DEFAULT_EPS)
    default_expected = expected_values(exercise, STATISTICS, x_default, gamma, beta, {})

    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, {"eps": EPS})
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x")
    bound = output_bound(layout, x, gamma, beta, expected["group_mean"], expected["group_var"], EPS)
    judge_output(exercise, where, layout, x, out, gamma, beta, EPS, expected, bound)
    _check_ln_cache(exercise, where, cache, x, gamma, out, EPS, expected)

    out_default, _ = forward_call(exercise, where, fn, x_default, gamma, beta, {})
    require_array(exercise, where, "out", out_default, x.shape)
    judge_output(exercise, where, layout, x_default, out_default, gamma, beta, DEFAULT_EPS, default_expected,
                 output_bound(layout, x_default, gamma, beta, default_expected["group_mean"],
                              default_expected["group_var"], DEFAULT_EPS))

    for mode in ("train", "test"):  # a solver writes the mode into every normalization's dict
        ln_param = {"eps": EPS, "mode": mode}
        moded, _ = forward_call(exercise, where, fn, x, gamma, beta, ln_param)
        require_settings_kept(exercise, where, "ln_param", ln_param, {"eps": EPS, "mode": mode})
        if not matches(moded, out, 1e-12):
            raise CheckFailed(
                f"{where}: with ln_param['mode'] = {mode!r} the output differs from the output without "
                f"a mode: layer norm has no running statistics and behaves the same in both modes",
                exercise, "mode",
            )
    keeps_float32(exercise, fn, (4, 6), ({},), lambda out: out, "sample")
    for i in range(N):
        alone, _ = forward_call(exercise, where, fn, x[i:i + 1], gamma, beta, {"eps": EPS})
        if not matches(alone, out[i:i + 1], 1e-12):
            raise CheckFailed(
                f"{where}: sample {i} comes out differently alone than in the batch: the output "
                f"depends on the other samples", exercise, "batch dependence",
            )


@reference.for_checks
def check_layernorm_forward(layernorm_forward=None):
    """Check a layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)."""
    fn = layernorm_forward or package_function("layernorm", "layernorm_forward")
    _verify_layernorm_forward(fn)
    # (the words notebook 6's stored output holds)
    passed("layernorm_forward", "each sample is normalized over its own features (biased variance, eps "
           "inside the root), independently of the rest of the batch")


@reference.for_checks
def check_layernorm_backward(layernorm_backward=None, forward=None):
    """Check a layernorm_backward(dout, cache) -> (dx, dgamma, dbeta) against the right gradients."""
    exercise = "layernorm_backward"
    fn = layernorm_backward or package_function("layernorm", "layernorm_backward")
    forward = forward or package_function("layernorm", "layernorm_forward")
    N, D = 4, 6
    x, gamma, beta, dout = backward_inputs(3, (N, D), D)
    x = x * np.random.default_rng(3).uniform(0.5, 2.0, size=(N, 1))  # samples of different spreads
    run_backward_check(exercise, "closed", fn, forward, _verify_layernorm_forward, ln_layout(N, D),
                       (x, gamma, beta, dout), ({"eps": EPS},))
