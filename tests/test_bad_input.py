"""Every bad input raises an error that names the argument, the expectation and what came."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    get_data,
    grad_check_sparse,
    layernorm_backward,
    layernorm_forward,
    rel_error,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_forward,
    spatial_groupnorm_forward,
)
from cs231n_bn.numerics import finite_difference_gradient

D = 3


def ok():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, D)), np.ones(D), np.zeros(D)


@pytest.mark.parametrize(
    "x, gamma, beta, bn_param, error, words",
    [
        (np.ones((4, D, 1)), np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["x", "2-D", "(4, 3, 1)"]),
        (np.ones(D), np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["x", "2-D", "1-D"]),
        (np.ones((4, D), dtype=int), np.ones(D), np.zeros(D), {"mode": "train"}, TypeError, ["x", "floating", "int64"]),
        ([[1.0, 2.0, 3.0]] * 4, np.ones(D), np.zeros(D), {"mode": "train"}, TypeError, ["x", "numpy array", "list"]),
        (ok()[0], np.ones(D + 1), np.zeros(D), {"mode": "train"}, ValueError, ["gamma", "(3,)", "(4,)"]),
        (ok()[0], np.ones((1, D)), np.zeros(D), {"mode": "train"}, ValueError, ["gamma", "1-D", "(1, 3)"]),
        (ok()[0], np.ones(D), np.zeros(2), {"mode": "train"}, ValueError, ["beta", "(3,)", "(2,)"]),
        # Integer gamma and beta are cast (CS231n's cells write them so); booleans are a mistake.
        (ok()[0], np.ones(D, dtype=bool), np.zeros(D), {"mode": "train"}, TypeError, ["gamma", "floating", "bool"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "training"}, ValueError, ["mode", "'train'", "'test'", "'training'"]),
        (ok()[0], np.ones(D), np.zeros(D), {}, ValueError, ["mode", "required"]),
        (ok()[0], np.ones(D), np.zeros(D), None, TypeError, ["bn_param", "dict", "NoneType"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": 0.0}, ValueError, ["eps", "> 0", "0.0"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": -1e-5}, ValueError, ["eps", "> 0", "-1e-05"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": float("nan")}, ValueError, ["eps", "nan"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "momentum": 1.5}, ValueError, ["momentum", "[0, 1]", "1.5"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "momentum": -0.1}, ValueError, ["momentum", "[0, 1]", "-0.1"]),
        (ok()[0][:1], np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["train mode", "at least 2", "N=1"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "test"}, ValueError, ["test mode", "running_mean", "got none"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "test", "running_mean": np.zeros(D)}, ValueError, ["running_var", "got none"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "running_mean": np.zeros(D + 2)}, ValueError, ["running_mean", "(3,)", "(5,)"]),
    ],
)
def test_batchnorm_forward_rejects(x, gamma, beta, bn_param, error, words):
    with pytest.raises(error) as info:
        batchnorm_forward(x, gamma, beta, bn_param)
    message = str(info.value)
    assert message.startswith("batchnorm_forward:")
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_failed_call_leaves_bn_param_untouched():
    x, gamma, beta = ok()
    bn_param = {"mode": "train", "momentum": 2.0}
    with pytest.raises(ValueError):
        batchnorm_forward(x, gamma, beta, bn_param)
    assert bn_param == {"mode": "train", "momentum": 2.0}


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_rejects(backward):
    x, gamma, beta = ok()
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    name = backward.__name__
    with pytest.raises(ValueError, match=rf"^{name}: dout must have shape \(4, 3\).*got \(3, 4\)"):
        backward(np.ones((3, 4)), cache)
    with pytest.raises(TypeError, match=rf"^{name}: dout must have a floating-point dtype.*int64"):
        backward(np.ones((4, 3), dtype=np.int64), cache)
    with pytest.raises(TypeError, match=rf"^{name}: cache must be the BatchNormCache.*got tuple"):
        backward(np.ones((4, 3)), (x, gamma))
    bn_param = {"mode": "test", "running_mean": np.zeros(D), "running_var": np.ones(D)}
    _, test_cache = batchnorm_forward(x, gamma, beta, bn_param)
    with pytest.raises(ValueError, match=rf"^{name}: cache comes from a 'test'-mode"):
        backward(np.ones((4, 3)), test_cache)


def test_layernorm_rejects():
    x, gamma, beta = ok()
    with pytest.raises(ValueError, match=r"^layernorm_forward: x must be a 2-D array; got 3-D"):
        layernorm_forward(x[None], gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_forward: gamma must have shape \(3,\).*got \(2,\)"):
        layernorm_forward(x, gamma[:2], beta, {})
    with pytest.raises(TypeError, match=r"^layernorm_forward: x must have a floating-point dtype.*int64"):
        layernorm_forward(x.astype(np.int64), gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_forward: ln_param\['eps'\] must be a finite number > 0; got 0"):
        layernorm_forward(x, gamma, beta, {"eps": 0})
    with pytest.raises(ValueError, match=r"^layernorm_forward: layer norm needs at least 2 features.*D=1"):
        layernorm_forward(x[:, :1], gamma[:1], beta[:1], {})
    _, cache = layernorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_backward: dout must have shape \(4, 3\)"):
        layernorm_backward(np.ones((4, 4)), cache)


# ------------------------------------------------------------------ the catalogue, as a table
#
# One row per kind of bad input and function: the call, the exception type, and words the
# message must contain. Every message starts with the function's name and names the
# argument; the words check what was expected and what came.


def maps():
    rng = np.random.default_rng(1)
    return rng.normal(size=(2, 4, 3, 3)), np.ones(4), np.zeros(4)


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def fd_quadratic(x):
    return float(np.sum(x**2))


X2, G3, B3 = ok()
X4, G4, B4 = maps()
TEST_STATS = {"running_mean": np.zeros(D), "running_var": np.ones(D)}
CATALOGUE = [
    # wrong container, dtype and rank
    ("bn-list", lambda: batchnorm_forward(X2.tolist(), G3, B3, {"mode": "train"}), TypeError,
     "batchnorm_forward", ["x", "numpy array", "list"]),
    ("bn-bool", lambda: batchnorm_forward(X2 > 0, G3, B3, {"mode": "train"}), TypeError,
     "batchnorm_forward", ["x", "floating", "bool"]),
    ("bn-complex", lambda: batchnorm_forward(X2 + 0j, G3, B3, {"mode": "train"}), TypeError,
     "batchnorm_forward", ["x", "floating", "complex128"]),
    ("ln-object", lambda: layernorm_forward(X2.astype(object), G3, B3, {}), TypeError,
     "layernorm_forward", ["x", "floating", "object"]),
    ("gn-3d", lambda: spatial_groupnorm_forward(X4[0], G4, B4, 2, {}), ValueError,
     "spatial_groupnorm_forward", ["x", "4-D", "3-D"]),
    # empty batches
    ("bn-test-N0", lambda: batchnorm_forward(X2[:0], G3, B3, {"mode": "test", **TEST_STATS}), ValueError,
     "batchnorm_forward", ["x", "at least one sample", "N=0"]),
    ("ln-N0", lambda: layernorm_forward(X2[:0], G3, B3, {}), ValueError,
     "layernorm_forward", ["x", "at least one sample", "(0, 3)"]),
    ("sbn-N0", lambda: spatial_batchnorm_forward(X4[:0], G4, B4, {"mode": "train"}), ValueError,
     "spatial_batchnorm_forward", ["x", "at least one sample", "N=0"]),
    ("gn-N0", lambda: spatial_groupnorm_forward(X4[:0], G4, B4, 2, {}), ValueError,
     "spatial_groupnorm_forward", ["x", "at least one sample", "(0, 4, 3, 3)"]),
    ("softmax-N0", lambda: softmax_loss(np.zeros((0, 3)), np.zeros(0, dtype=int)), ValueError,
     "softmax_loss", ["x", "at least one sample", "N=0"]),
    # misspelled or foreign keys in parameter dicts
    ("bn-epsilon", lambda: batchnorm_forward(X2, G3, B3, {"mode": "train", "epsilon": 1e-3}), ValueError,
     "batchnorm_forward", ["bn_param", "'epsilon'", "'eps'", "'momentum'", "'running_var'"]),
    ("bn-momentun", lambda: batchnorm_forward(X2, G3, B3, {"mode": "train", "momentun": 0.5}), ValueError,
     "batchnorm_forward", ["bn_param", "'momentun'", "'momentum'"]),
    ("ln-epsilon", lambda: layernorm_forward(X2, G3, B3, {"epsilon": 1e-3}), ValueError,
     "layernorm_forward", ["ln_param", "'epsilon'", "'eps'", "'mode'"]),
    ("ln-bad-mode", lambda: layernorm_forward(X2, G3, B3, {"mode": "eval"}), ValueError,
     "layernorm_forward", ["ln_param['mode']", "'train'", "'eval'"]),
    ("gn-epsilon", lambda: spatial_groupnorm_forward(X4, G4, B4, 2, {"epsilon": 1e-3}), ValueError,
     "spatial_groupnorm_forward", ["gn_param", "'epsilon'", "'eps'"]),
    ("sbn-epsilon", lambda: spatial_batchnorm_forward(X4, G4, B4, {"mode": "train", "epsilon": 1e-3}), ValueError,
     "spatial_batchnorm_forward", ["bn_param", "'epsilon'", "'eps'"]),
    # running statistics that cannot be variances
    ("bn-negative-running-var", lambda: batchnorm_forward(X2, G3, B3, {"mode": "test", "running_mean": np.zeros(D),
     "running_var": np.array([1.0, -0.5, 1.0])}), ValueError,
     "batchnorm_forward", ["bn_param['running_var']", ">= 0", "-0.5"]),
    ("bn-inf-running-var", lambda: batchnorm_forward(X2, G3, B3, {"mode": "test", "running_mean": np.zeros(D),
     "running_var": np.array([1.0, np.inf, 1.0])}), ValueError,
     "batchnorm_forward", ["bn_param['running_var']", "finite", "inf"]),
    # inputs whose variance overflows: every output would silently be beta
    ("bn-overflow", lambda: batchnorm_forward(X2 * 1e160, G3, B3, {"mode": "train"}), ValueError,
     "batchnorm_forward", ["x", "too large", "float64", "e+16"]),
    ("bn-overflow-float32", lambda: batchnorm_forward((X2 * 1e25).astype(np.float32), G3, B3, {"mode": "train"}),
     ValueError, "batchnorm_forward", ["x", "too large", "float32", "e+25"]),
    ("ln-overflow", lambda: layernorm_forward(X2 * 1e160, G3, B3, {}), ValueError,
     "layernorm_forward", ["x", "too large", "e+16"]),
    ("gn-overflow", lambda: spatial_groupnorm_forward(X4 * 1e160, G4, B4, 2, {}), ValueError,
     "spatial_groupnorm_forward", ["x", "too large", "e+16"]),
    # group norm's layouts for gamma and beta
    ("gn-mixed-layouts", lambda: spatial_groupnorm_forward(X4, G4.reshape(1, 4, 1, 1), B4, 2, {}), ValueError,
     "spatial_groupnorm_forward", ["gamma and beta", "same shape", "(1, 4, 1, 1)", "(4,)"]),
    ("gn-zero-groups", lambda: spatial_groupnorm_forward(X4, G4, B4, 0, {}), ValueError,
     "spatial_groupnorm_forward", ["G", "between 1 and C=4", "G=0"]),
    # caches from the wrong forward pass
    ("relu-affine-cache", lambda: relu_backward(np.ones((4, 2)), affine_forward(X2, np.ones((D, 2)), np.zeros(2))[1]),
     TypeError, "relu_backward", ["cache", "ReluCache", "relu_forward", "AffineCache"]),
    ("relu-array-cache", lambda: relu_backward(np.ones((4, D)), X2), TypeError,
     "relu_backward", ["cache", "ReluCache", "ndarray"]),
    ("affine-relu-cache", lambda: affine_backward(np.ones((4, D)), relu_forward(X2)[1]), TypeError,
     "affine_backward", ["cache", "AffineCache", "affine_forward", "ReluCache"]),
    ("affine-tuple-cache", lambda: affine_backward(np.ones((4, 2)), (X2, np.ones((D, 2)), np.zeros(2))), TypeError,
     "affine_backward", ["cache", "AffineCache", "tuple"]),
    ("ln-tuple-cache", lambda: layernorm_backward(np.ones((4, D)), (X2, G3)), TypeError,
     "layernorm_backward", ["cache", "LayerNormCache", "tuple"]),
    # the gradient checkers nudge x in place: a read-only x is refused with the fix
    ("numgrad-read-only", lambda: eval_numerical_gradient(fd_quadratic, read_only(X2), verbose=False), ValueError,
     "eval_numerical_gradient", ["x", "read-only", "x.copy()"]),
    ("numgrad-array-read-only", lambda: eval_numerical_gradient_array(lambda x: x * 2, read_only(X2), np.ones_like(X2)),
     ValueError, "eval_numerical_gradient_array", ["x", "read-only", "x.copy()"]),
    ("sparse-read-only", lambda: grad_check_sparse(fd_quadratic, read_only(X2), 2 * X2, verbose=False), ValueError,
     "grad_check_sparse", ["x", "read-only", "x.copy()"]),
    ("fd-read-only", lambda: finite_difference_gradient(fd_quadratic, read_only(X2)), ValueError,
     "finite_difference_gradient", ["x", "read-only", "x.copy()"]),
    # counts, steps, seeds and return values of the checkers
    ("sparse-fractional-count", lambda: grad_check_sparse(fd_quadratic, X2.copy(), 2 * X2, num_checks=2.7,
     verbose=False), ValueError, "grad_check_sparse", ["num_checks", "integer >= 1", "2.7"]),
    ("sparse-negative-count", lambda: grad_check_sparse(fd_quadratic, X2.copy(), 2 * X2, num_checks=-1,
     verbose=False), ValueError, "grad_check_sparse", ["num_checks", "integer >= 1", "-1"]),
    ("sparse-list-gradient", lambda: grad_check_sparse(fd_quadratic, X2.copy(), (2 * X2).tolist(), verbose=False),
     TypeError, "grad_check_sparse", ["analytic_grad", "numpy array", "list"]),
    ("sparse-text-seed", lambda: grad_check_sparse(fd_quadratic, X2.copy(), 2 * X2, seed="abc", verbose=False),
     ValueError, "grad_check_sparse", ["seed", "integer >= 0", "'abc'"]),
    ("numgrad-zero-step", lambda: eval_numerical_gradient(fd_quadratic, X2.copy(), verbose=False, h=0), ValueError,
     "eval_numerical_gradient", ["h", "> 0", "0"]),
    ("numgrad-text-value", lambda: eval_numerical_gradient(lambda x: "big", X2.copy(), verbose=False), TypeError,
     "eval_numerical_gradient", ["f", "real number", "str"]),
    ("rel-error-strings", lambda: rel_error("abc", "abd"), TypeError,
     "rel_error", ["x", "number", "<U3"]),
    ("rel-error-bools", lambda: rel_error(np.ones(2, bool), np.ones(2)), TypeError,
     "rel_error", ["x", "number", "bool"]),
    # the data loaders' arguments
    ("get-data-list-name", lambda: get_data(["digits"]), TypeError,
     "get_data", ["name", "'digits'", "['digits']"]),
    ("get-data-text-seed", lambda: get_data("digits", seed="abc"), ValueError,
     "get_digits_data", ["seed", "integer >= 0", "'abc'"]),
]


@pytest.mark.parametrize("call, error, function, words", [row[1:] for row in CATALOGUE],
                         ids=[row[0] for row in CATALOGUE])
def test_the_catalogue_of_bad_input_is_refused_by_name(call, error, function, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{function}: "), message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_a_refusal_leaves_the_inputs_untouched():
    x = X2 * 1e160
    copy = x.copy()
    bn_param = {"mode": "train", "running_mean": np.zeros(D), "running_var": np.ones(D)}
    with pytest.raises(ValueError):
        batchnorm_forward(x, G3, B3, bn_param)
    np.testing.assert_array_equal(x, copy)


# ------------------------------------------------------------------ low precision, right answers
#
# float16 and float32 inputs are normalized in their own dtype; the answer is compared with
# the same normalization of the same values in long double. Far from zero (1e8 + N(0, 1) in
# float32, 300 + N(0, 1) in float16) a plain low-precision mean is off by more than the spread.


def reference(x, gamma, beta, axes, eps=1e-5):
    xl = x.astype(np.longdouble)
    mu = xl.mean(axis=axes, keepdims=True)
    var = ((xl - mu) ** 2).mean(axis=axes, keepdims=True)
    return gamma.astype(np.longdouble) * (xl - mu) / np.sqrt(var + eps) + beta.astype(np.longdouble)


def channel(p):
    return p.reshape(1, -1, 1, 1)


NORMS = {
    # name: (function of (x, gamma, beta) for a 4-D x, axes its statistics run over)
    "batchnorm": (lambda x, g, b: batchnorm_forward(x.reshape(x.shape[0], -1), np.tile(g, 4), np.tile(b, 4),
                                                     {"mode": "train"})[0].reshape(x.shape), (0,)),
    "layernorm": (lambda x, g, b: layernorm_forward(x.reshape(x.shape[0], -1), np.tile(g, 4), np.tile(b, 4),
                                                     {})[0].reshape(x.shape), (1, 2, 3)),
    "spatial_batchnorm": (lambda x, g, b: spatial_batchnorm_forward(x, g, b, {"mode": "train"})[0], (0, 2, 3)),
    "spatial_groupnorm": (lambda x, g, b: spatial_groupnorm_forward(x, g, b, 1, {})[0], (1, 2, 3)),
}
# float32 at the edge of its precision and float16 near 300: the dtype, centres of the data,
# and the largest error allowed relative to the output's size
PRECISIONS = {"float32": (np.float32, [0.0, 1e3, 1e8], 1e-4), "float16": (np.float16, [0.0, 300.0], 2e-2)}


@given(
    norm=st.sampled_from(sorted(NORMS)),
    precision=st.sampled_from(sorted(PRECISIONS)),
    N=st.integers(2, 40),
    C=st.integers(1, 3),
    offset_index=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_low_precision_inputs_get_the_right_answer_in_their_own_dtype(norm, precision, N, C, offset_index, seed):
    dtype, offsets, tolerance = PRECISIONS[precision]
    offset = offsets[offset_index % len(offsets)]
    forward, axes = NORMS[norm]
    rng = np.random.default_rng(seed)
    x = (offset + rng.normal(size=(N, C, 2, 2))).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, C).astype(dtype)
    beta = rng.normal(size=C).astype(dtype)
    out = forward(x, gamma, beta)
    assert out.dtype == dtype
    if norm in ("batchnorm", "layernorm"):
        # per feature of the flattened (N, C*4): gamma and beta repeat along the 4 positions
        g, b = np.tile(gamma, 4).reshape(1, C, 2, 2), np.tile(beta, 4).reshape(1, C, 2, 2)
        xf = x.reshape(N, -1)
        flat_axes = (0,) if norm == "batchnorm" else (1,)
        expected = reference(xf, g.reshape(-1), b.reshape(-1), flat_axes).reshape(x.shape)
    else:
        expected = reference(x, channel(gamma), channel(beta), axes)
    error = np.max(np.abs(out.astype(np.longdouble) - expected)) / max(1.0, float(np.max(np.abs(expected))))
    assert error < tolerance, f"{norm} {precision} offset {offset}: error {float(error):.2e}"


def test_the_cases_that_used_to_be_silently_wrong():
    rng = np.random.default_rng(0)
    # float32, 1e8 + N(0, 1), N = 64: each column is constant in float32, so out is beta
    x = (1e8 + rng.normal(size=(64, 3))).astype(np.float32)
    out, cache = batchnorm_forward(x, np.ones(3, np.float32), np.full(3, 0.5, np.float32), {"mode": "train"})
    assert np.all(np.ptp(x, axis=0) == 0)
    np.testing.assert_array_equal(out, 0.5)
    assert cache.var.dtype == np.float32 and np.all(cache.var == 0)
    # float16, 300 + N(0, 1): within float16's own precision of the exact answer
    x = (300 + rng.normal(size=(64, 3))).astype(np.float16)
    ones, zeros = np.ones(3, np.float16), np.zeros(3, np.float16)
    for out, axes in ((batchnorm_forward(x, ones, zeros, {"mode": "train"})[0], (0,)),
                      (layernorm_forward(x.T.copy(), np.ones(64, np.float16), np.zeros(64, np.float16), {})[0].T, (0,))):
        expected = reference(x, ones, zeros, axes)
        assert out.dtype == np.float16
        assert np.max(np.abs(out - expected)) < 1e-2
