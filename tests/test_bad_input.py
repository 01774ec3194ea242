"""Every bad input raises an error that names the argument, the expectation and what came."""

import warnings

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
    # refused with the message, and with no warning of NumPy's first (under -W error the
    # warning would be all the user saw)
    with warnings.catch_warnings(), pytest.raises(error) as info:
        warnings.simplefilter("error")
        call()
    message = str(info.value)
    assert message.startswith(f"{function}: "), message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_an_overflowing_float32_spatial_batch_norm_is_refused_without_a_warning_first():
    # Its column-major float32 sums of squares go through BLAS (batchnorm.column_sums). The
    # refusal comes from the batchnorm_forward it reuses, and carries that name.
    x = (X4 * 1e25).astype(np.float32)
    with warnings.catch_warnings(), pytest.raises(ValueError, match="too large to normalize in float32"):
        warnings.simplefilter("error")
        spatial_batchnorm_forward(x, G4.astype(np.float32), B4.astype(np.float32), {"mode": "train"})


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


# ------------------------------------------------------------------ around the math
#
# The functions around the layers: convolution and pooling, the Solver and the networks,
# the experiments, claims, the framework converters and the gradient checkers. Same table
# as above: the call, the exception, the function that must open the message, and words
# naming the argument, what was expected and what came.

from cs231n_bn import experiments  # noqa: E402
from cs231n_bn.claims import claim  # noqa: E402
from cs231n_bn.cnn import SmallConvNet  # noqa: E402
from cs231n_bn.conv import conv_forward, conv_forward_naive, max_pool_forward  # noqa: E402
from cs231n_bn.data.cifar10 import download_cifar10, extract_cifar10, load_cifar10_batch  # noqa: E402
from cs231n_bn.data.errors import DatasetMissingError  # noqa: E402
from cs231n_bn.fc_net import FullyConnectedNet  # noqa: E402
from cs231n_bn.keras_compat import bn_param_from_weights, weights_from_bn_param  # noqa: E402
from cs231n_bn.solver import Solver  # noqa: E402
from cs231n_bn.torch_compat import bn_param_from_state_dict, module_from_bn_param, state_dict_from_bn_param  # noqa: E402


def tiny_data(n=40, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.arange(n) % classes
    return {"X_train": X, "y_train": y, "X_val": X[:10].copy(), "y_val": y[:10].copy()}


def tiny_net(seed=0):
    return FullyConnectedNet([5], input_dim=6, num_classes=3, dtype=np.float64, seed=seed)


def solver_with(data=None, **kwargs):
    return Solver(tiny_net(), tiny_data() if data is None else data, batch_size=10, num_epochs=1, verbose=False, **kwargs)


def with_split(key, value):
    data = tiny_data()
    data[key] = value
    return data


def returns_transposed(w, dw, config):
    return w.T - 0.0, config


def returns_scalar(w, dw, config):
    return 0.5


def returns_bare_array(w, dw, config):
    return w - 1e-3 * dw


def run(history):
    """A TrainingRun-like record with these steps and validation accuracies."""
    steps, acc = history
    return experiments.TrainingRun("x", np.zeros(0), np.array(steps), np.array(acc), np.array(acc), 0.0, 0, None)


def fc_model(data, normalization=None, seed=0, weight_scale=1e-2):
    return experiments.fully_connected(data, normalization, seed, hidden_dims=(5,), weight_scale=weight_scale)


def no_model(data, normalization=None, seed=0, weight_scale=1e-2):
    fc_model(data, normalization, seed, weight_scale)


def state(**changes):
    base = {"weight": np.ones(3), "bias": np.zeros(3), "running_mean": np.zeros(3), "running_var": np.ones(3),
            "num_batches_tracked": np.array(5)}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def keras_weights(var):
    return [np.ones(3), np.zeros(3), np.zeros(3), np.array(var, dtype=float)]


TRAINED = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.ones(3)}
X_MAPS = np.random.default_rng(3).normal(size=(2, 3, 6, 6))
AROUND = [
    # conv / pool
    ("conv-zero-height", lambda: conv_forward(X_MAPS, np.ones((2, 3, 0, 3)), np.zeros(2), {}), ValueError,
     "conv_forward", ["w", "height and width >= 1", "(2, 3, 0, 3)"]),
    ("conv-zero-width-naive", lambda: conv_forward_naive(X_MAPS, np.ones((2, 3, 3, 0)), np.zeros(2), {}), ValueError,
     "conv_forward_naive", ["w", "height and width >= 1", "(2, 3, 3, 0)"]),
    ("conv-zero-filters", lambda: conv_forward(X_MAPS, np.ones((0, 3, 3, 3)), np.zeros(0), {}), ValueError,
     "conv_forward", ["w", "at least one filter", "(0, 3, 3, 3)"]),
    ("conv-zero-filters-naive", lambda: conv_forward_naive(X_MAPS, np.ones((0, 3, 3, 3)), np.zeros(0), {}), ValueError,
     "conv_forward_naive", ["w", "at least one filter", "(0, 3, 3, 3)"]),
    ("conv-window-too-large", lambda: conv_forward(X_MAPS, np.ones((2, 3, 7, 7)), np.zeros(2), {}), ValueError,
     "conv_forward", ["window of 7", "padded height of 6", "PyTorch refuses"]),
    # Solver
    ("solver-y-val-float", lambda: solver_with(with_split("y_val", np.zeros(10))), TypeError,
     "Solver", ["data['y_val']", "integer", "float64"]),
    ("solver-y-val-negative", lambda: solver_with(with_split("y_val", -np.ones(10, int))), ValueError,
     "Solver", ["data['y_val']", ">= 0", "-1"]),
    ("solver-y-val-too-large", lambda: solver_with(with_split("y_val", np.full(10, 7))), ValueError,
     "Solver", ["data['y_val']", "[0, 2]", "7"]),
    ("solver-y-train-float", lambda: solver_with(with_split("y_train", np.zeros(40))), TypeError,
     "Solver", ["data['y_train']", "integer", "float64"]),
    ("solver-check-accuracy-nan", lambda: solver_with().check_accuracy(np.full((4, 6), np.nan), np.zeros(4, int)),
     FloatingPointError, "Solver.check_accuracy", ["scores", "not finite", "X"]),
    ("solver-transposed-update", lambda: solver_with(update_rule=returns_transposed).train(), ValueError,
     "Solver", ["update rule returns_transposed", "next_w", "(6, 5)", "params['W1']", "(5, 6)"]),
    ("solver-scalar-update", lambda: solver_with(update_rule=returns_scalar).train(), TypeError,
     "Solver", ["update rule returns_scalar", "(next_w, config)", "float"]),
    ("solver-bare-array-update", lambda: solver_with(update_rule=returns_bare_array).train(), TypeError,
     "Solver", ["update rule returns_bare_array", "(next_w, config)", "ndarray"]),
    ("solver-lr-decay-true", lambda: solver_with(lr_decay=True), ValueError,
     "Solver", ["lr_decay", "(0, 1]", "True"]),
    ("solver-seed-negative", lambda: solver_with(seed=-1), ValueError, "Solver", ["seed", "integer >= 0", "-1"]),
    ("solver-seed-text", lambda: solver_with(seed="abc"), ValueError, "Solver", ["seed", "integer >= 0", "'abc'"]),
    ("solver-seed-none", lambda: solver_with(seed=None), ValueError, "Solver", ["seed", "integer >= 0", "None"]),
    ("solver-on-evaluate-int", lambda: solver_with(on_evaluate=5), TypeError,
     "Solver", ["on_evaluate", "function", "int"]),
    ("solver-model-object", lambda: Solver(object(), tiny_data(), verbose=False), TypeError,
     "Solver", ["model", "params", "loss", "object"]),
    ("fc-seed-negative", lambda: FullyConnectedNet([5], seed=-1), ValueError,
     "FullyConnectedNet", ["seed", "integer >= 0", "-1"]),
    ("fc-seed-text", lambda: FullyConnectedNet([5], seed="abc"), ValueError,
     "FullyConnectedNet", ["seed", "integer >= 0", "'abc'"]),
    ("cnn-seed-negative", lambda: SmallConvNet(seed=-1), ValueError, "SmallConvNet", ["seed", "integer >= 0", "-1"]),
    ("cnn-seed-text", lambda: SmallConvNet(seed="abc"), ValueError, "SmallConvNet", ["seed", "integer >= 0", "'abc'"]),
    # experiments
    ("sweep-2d-values", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", np.ones((2, 2))), ValueError,
     "sweep", ["values", "1-D", "(2, 2)"]),
    ("sweep-scalar-values", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", 0.1), ValueError,
     "sweep", ["values", "1-D", "0.1"]),
    ("sweep-string-values", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", "0.1, 0.2"), ValueError,
     "sweep", ["values", "1-D", "'0.1, 0.2'"]),
    ("sweep-empty-values", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", []), ValueError,
     "sweep", ["values", "non-empty", "(0,)"]),
    ("sweep-no-make-model", lambda: experiments.sweep(None, tiny_data(), "weight_scale", [0.1]), TypeError,
     "sweep", ["make_model", "function", "NoneType"]),
    ("sweep-make-model-returns-none", lambda: experiments.sweep(no_model, tiny_data(), "weight_scale", [0.1],
                                                                 num_epochs=1, batch_size=10), TypeError,
     "sweep", ["make_model", "no_model", "None"]),
    ("sweep-misspelled-empty", lambda: experiments.sweep(fc_model, tiny_data(), "wieght_scale", []), ValueError,
     "sweep", ["unknown setting", "'wieght_scale'", "weight_scale"]),
    ("steps-percent", lambda: experiments.steps_to_reach([0, 10], [10.0, 90.0], 0.5), ValueError,
     "steps_to_reach", ["accuracies", "[0, 1]", "10.0", "percent"]),
    ("steps-decreasing", lambda: experiments.steps_to_reach([10, 0], [0.1, 0.9], 0.5), ValueError,
     "steps_to_reach", ["eval_steps", "increasing", "[10, 0]"]),
    ("steps-fractional", lambda: experiments.steps_to_reach([0, 2.5], [0.1, 0.9], 0.5), ValueError,
     "steps_to_reach", ["eval_steps", "whole numbers", "2.5"]),
    ("steps-negative", lambda: experiments.steps_to_reach([-5, 0], [0.1, 0.9], 0.5), ValueError,
     "steps_to_reach", ["eval_steps", ">= 0", "-5"]),
    ("fewer-steps-empty-baseline", lambda: experiments.fewer_steps(run(([], [])), run(([0], [0.5]))), ValueError,
     "fewer_steps", ["baseline.val_acc", "empty"]),
    ("noise-batch-zero", lambda: experiments.statistic_noise(None, X_MAPS, 0), ValueError,
     "statistic_noise", ["batch_size", "integer >= 1", "0"]),
    ("noise-batch-too-large", lambda: experiments.statistic_noise(None, X_MAPS, 3), ValueError,
     "statistic_noise", ["X", "at least batch_size=3", "2 images"]),
    # claims
    ("claim-nan", lambda: claim("it holds", float("nan"), "e"), TypeError, "claim", ["held", "True or False", "nan"]),
    ("claim-text-false", lambda: claim("it holds", "False", "e"), TypeError, "claim", ["held", "True or False", "'False'"]),
    ("claim-array", lambda: claim("it holds", np.array([True, False]), "e"), TypeError,
     "claim", ["held", "True or False", "ndarray"]),
    ("claim-carriage-return", lambda: claim("it\rholds", True, "e"), ValueError, "claim", ["text", "one-line", "\\r"]),
    ("claim-evidence-separator", lambda: claim("it holds", True, "a\u2028b"), ValueError,
     "claim", ["evidence", "one-line", "\\u2028"]),
    # torch_compat / keras_compat
    ("torch-negative-var", lambda: bn_param_from_state_dict(state(running_var=np.array([1.0, -2.0, 1.0]))), ValueError,
     "bn_param_from_state_dict", ["state_dict['running_var']", "finite variances >= 0", "-2.0"]),
    ("torch-inf-var", lambda: bn_param_from_state_dict(state(running_var=np.array([1.0, np.inf, 1.0]))), ValueError,
     "bn_param_from_state_dict", ["state_dict['running_var']", "finite variances >= 0", "inf"]),
    ("torch-conversion-negative", lambda: bn_param_from_state_dict(state(running_var=np.full(3, 0.1)), batch_size=4),
     ValueError, "bn_param_from_state_dict", ["running_var", "decayed start value", "negative", "num_batches_tracked"]),
    ("torch-epsilon-key", lambda: bn_param_from_state_dict(state(epsilon=np.array(1e-3))), ValueError,
     "bn_param_from_state_dict", ["state_dict", "'epsilon'", "'running_var'"]),
    ("torch-out-epsilon", lambda: state_dict_from_bn_param(np.ones(3), np.zeros(3), {**TRAINED, "epsilon": 1e-3}),
     ValueError, "state_dict_from_bn_param", ["bn_param", "'epsilon'", "'eps'"]),
    ("torch-out-negative-var", lambda: state_dict_from_bn_param(np.ones(3), np.zeros(3),
                                                                {**TRAINED, "running_var": -np.ones(3)}), ValueError,
     "state_dict_from_bn_param", ["bn_param['running_var']", "finite variances >= 0", "-1.0"]),
    ("keras-negative-var", lambda: bn_param_from_weights(keras_weights([1.0, -1.0, 1.0])), ValueError,
     "bn_param_from_weights", ["moving_variance", "finite variances >= 0", "-1.0"]),
    ("keras-nan-var", lambda: bn_param_from_weights(keras_weights([1.0, np.nan, 1.0])), ValueError,
     "bn_param_from_weights", ["moving_variance", "finite variances >= 0", "nan"]),
    ("keras-conversion-negative", lambda: bn_param_from_weights(keras_weights([0.5, 0.5, 0.5]), steps=2), ValueError,
     "bn_param_from_weights", ["moving_variance", "decayed start value", "negative", "steps"]),
    ("keras-out-epsilon", lambda: weights_from_bn_param(np.ones(3), np.zeros(3), {**TRAINED, "epsilon": 1e-3}),
     ValueError, "weights_from_bn_param", ["bn_param", "'epsilon'", "'eps'"]),
    # found by a second round: messages named an inner function, or NumPy's
    ("fc-dtype-name", lambda: FullyConnectedNet([5], dtype="abc"), TypeError,
     "FullyConnectedNet", ["dtype", "floating-point", "'abc'"]),
    ("cnn-dtype-name", lambda: SmallConvNet(dtype="abc"), TypeError, "SmallConvNet", ["dtype", "floating-point", "'abc'"]),
    ("sweep-make-model-returns-int", lambda: experiments.sweep(lambda data, normalization=None, seed=0: 3, tiny_data(),
                                                                "batch_size", [10], num_epochs=1), TypeError,
     "sweep", ["make_model", "params", "int"]),
    ("torch-module-epsilon", lambda: module_from_bn_param(np.ones(3), np.zeros(3), {**TRAINED, "epsilon": 1e-3}),
     ValueError, "module_from_bn_param", ["bn_param", "'epsilon'", "'eps'"]),
    ("digits-fractional-split", lambda: get_data("digits", num_validation=2.5), ValueError,
     "get_digits_data", ["num_validation", "integer >= 0", "2.5"]),
    # gradient checks
    ("sparse-vector-f", lambda: grad_check_sparse(lambda x: x * 2, X2.copy(), 2 * X2, verbose=False), ValueError,
     "grad_check_sparse", ["f", "scalar", "(4, 3)"]),
    ("numgrad-f-writes-x", lambda: eval_numerical_gradient(lambda x: float(np.sum(np.square(x, out=x))), X2.copy(),
                                                           verbose=False), ValueError,
     "eval_numerical_gradient", ["f changed its argument x", "restored", "copy"]),
    ("numgrad-array-f-writes-x", lambda: eval_numerical_gradient_array(lambda x: x.sort() or x, X2.copy(),
                                                                       np.ones_like(X2)), ValueError,
     "eval_numerical_gradient_array", ["f changed its argument x", "restored"]),
    ("sparse-f-writes-x", lambda: grad_check_sparse(lambda x: float(np.sum(np.abs(x, out=x))), X2.copy(), 2 * X2,
                                                    verbose=False), ValueError,
     "grad_check_sparse", ["f changed its argument x", "restored"]),
    # found by a third round, written from the docstrings alone
    ("pool-window-names-its-key", lambda: max_pool_forward(X_MAPS, {"pool_height": 7}), ValueError,
     "max_pool_forward", ["pool_param['pool_height']", "a window of 7", "height of 6"]),
    ("conv-window-names-w", lambda: conv_forward(X_MAPS, np.ones((2, 3, 3, 7)), np.zeros(2), {}), ValueError,
     "conv_forward", ["w (its WW)", "a window of 7", "width of 6"]),
    ("solver-x-val-features", lambda: solver_with(with_split("X_val", np.zeros((10, 5)))), ValueError,
     "Solver", ["data['X_val']", "does not suit the model", "(10, 5)"]),
    ("solver-x-train-int", lambda: solver_with(with_split("X_train", np.zeros((40, 6), int))), TypeError,
     "Solver", ["data['X_train']", "floating-point", "int64"]),
    ("solver-y-train-too-large", lambda: solver_with(with_split("y_train", np.full(40, 5))), ValueError,
     "Solver", ["data['y_train']", "[0, 2]", "5"]),
    ("solver-negative-learning-rate", lambda: solver_with(optim_config={"learning_rate": -1.0}), ValueError,
     "Solver", ["optim_config", "'sgd'", "learning_rate", "-1.0"]),
    ("solver-misspelled-config-key", lambda: solver_with(update_rule="adam", optim_config={"learnig_rate": 1e-3}),
     ValueError, "Solver", ["optim_config", "'adam'", "'learnig_rate'"]),
    ("accuracy-zero-samples", lambda: solver_with().check_accuracy(X2, np.zeros(4, int), num_samples=0), ValueError,
     "Solver.check_accuracy", ["num_samples", "integer >= 1", "0"]),
    ("accuracy-zero-batch", lambda: solver_with().check_accuracy(X2, np.zeros(4, int), batch_size=0), ValueError,
     "Solver.check_accuracy", ["batch_size", "integer >= 1", "0"]),
    ("accuracy-short-y", lambda: solver_with().check_accuracy(tiny_data()["X_val"], np.zeros(9, int)), ValueError,
     "Solver.check_accuracy", ["y", "shape (10,)", "(9,)"]),
    ("accuracy-no-samples", lambda: solver_with().check_accuracy(np.zeros((0, 6)), np.zeros(0, int)), ValueError,
     "Solver.check_accuracy", ["X", "at least one sample", "(0, 6)"]),
    ("sweep-no-normalizations", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", [1e-2], (),
                                                           num_epochs=1), ValueError,
     "sweep", ["normalizations", "at least one", "()"]),
    ("sweep-parameter-also-fixed", lambda: experiments.sweep(fc_model, tiny_data(), "weight_scale", [1e-2],
                                                              weight_scale=0.1, num_epochs=1), ValueError,
     "sweep", ["'weight_scale'", "twice"]),
    ("sweep-derived-also-fixed", lambda: experiments.sweep(fc_model, tiny_data(), "batch_size", [10],
                                                            derived={"learning_rate": lambda b: 1e-3 * b},
                                                            learning_rate=0.1, num_epochs=1), ValueError,
     "sweep", ["'learning_rate'", "twice"]),
    ("probe-no-multipliers", lambda: experiments.probe_along_gradient(tiny_net(), tiny_data()["X_train"],
                                                                      tiny_data()["y_train"], 0.1, []), ValueError,
     "probe_along_gradient", ["multipliers", "non-empty", "[]"]),
    ("probe-nan-step", lambda: experiments.probe_along_gradient(tiny_net(), tiny_data()["X_train"],
                                                                tiny_data()["y_train"], np.nan, [1.0]), ValueError,
     "probe_along_gradient", ["step", "finite number > 0", "nan"]),
    ("probe-short-y", lambda: experiments.probe_along_gradient(tiny_net(), tiny_data()["X_train"],
                                                               tiny_data()["y_train"][:-1], 0.1, [1.0]), ValueError,
     "probe_along_gradient", ["y", "(40,)", "(39,)"]),
    ("label-unknown", lambda: experiments.label("bogus"), ValueError, "label", ["normalization", "'bogus'"]),
    ("claim-control-character", lambda: claim("batch norm\x00 helps", True, ""), ValueError,
     "claim", ["text", "printable", "'batch norm\\x00 helps'"]),
    ("claim-tab", lambda: claim("batch norm\thelps", True, ""), ValueError, "claim", ["text", "printable"]),
    ("sparse-empty-x", lambda: grad_check_sparse(lambda x: 0.0, np.zeros(0), np.zeros(0), verbose=False), ValueError,
     "grad_check_sparse", ["x", "at least one entry", "(0,)"]),
    ("fc-layernorm-one-unit", lambda: FullyConnectedNet([1], input_dim=6, normalization="layernorm"), ValueError,
     "FullyConnectedNet", ["hidden_dims", ">= 2", "[1]"]),
    ("fc-one-sample-batchnorm", lambda: FullyConnectedNet([5], input_dim=6, normalization="batchnorm", seed=0).loss(
        np.zeros((1, 6)), np.zeros(1, int)), ValueError, "FullyConnectedNet.loss", ["X", "at least 2 samples", "(1, 6)"]),
    ("fc-activation-inputs-name", lambda: tiny_net().activation_inputs(np.zeros((2, 5))), ValueError,
     "FullyConnectedNet.activation_inputs", ["X", "6 features", "(2, 5)"]),
    ("extract-malformed-md5", lambda: extract_cifar10("missing.tar.gz", md5="xyz"), ValueError,
     "extract_cifar10", ["md5", "32 hex digits", "'xyz'"]),
    ("download-malformed-md5", lambda: download_cifar10(md5="c58f3010", urlopen=None), ValueError,
     "download_cifar10", ["md5", "32 hex digits", "'c58f3010'"]),
    ("batch-malformed-sha256", lambda: load_cifar10_batch(__file__, expected_sha256="abc"), ValueError,
     "load_cifar10_batch", ["expected_sha256", "64 hex digits", "'abc'"]),
]


@pytest.mark.parametrize("call, error, function, words", [row[1:] for row in AROUND], ids=[row[0] for row in AROUND])
def test_bad_input_around_the_math_is_refused_by_name(call, error, function, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{function}: "), message
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_an_f_that_writes_into_x_leaves_x_as_it_was():
    for check in (lambda f, x: eval_numerical_gradient(f, x, verbose=False),
                  lambda f, x: eval_numerical_gradient_array(f, x, np.ones(())),
                  lambda f, x: grad_check_sparse(f, x, np.ones_like(x), verbose=False)):
        x = X2.copy()

        def f(x):
            x[0, 0] += 1.0  # a stray in-place update
            return np.sum(x)

        with pytest.raises(ValueError, match="f changed its argument x"):
            check(f, x)
        np.testing.assert_array_equal(x, X2)


def test_a_step_below_the_resolution_of_x_warns_in_both_checkers():
    x = np.full((2, 2), 1.0)
    with pytest.warns(UserWarning, match=r"h=1e-20 is below the spacing of x's float64 values"):
        grad = eval_numerical_gradient_array(lambda x: 3 * x, x, np.ones((2, 2)), h=1e-20)
    assert not grad.any()
    with pytest.warns(UserWarning, match=r"h=1e-20 is below the spacing"):
        eval_numerical_gradient(lambda x: float(np.sum(x**2)), x, verbose=False, h=1e-20)


def test_nan_in_x_val_is_recorded_as_divergence_not_as_an_accuracy():
    data = tiny_data()
    data["X_val"][3, 2] = np.nan
    solver = solver_with(data)
    solver.train()
    assert solver.diverged_at == 0
    assert solver.val_acc_history == [] and solver.step_count == 0


def test_the_refusals_leave_their_inputs_untouched():
    data = with_split("y_val", np.full(10, 7))
    snapshot = {k: v.copy() for k, v in data.items()}
    with pytest.raises(ValueError):
        solver_with(data).train()
    for k, v in data.items():
        np.testing.assert_array_equal(v, snapshot[k])
    sd = state(running_var=np.full(3, 0.1))
    with pytest.raises(ValueError):
        bn_param_from_state_dict(sd, batch_size=4)
    np.testing.assert_array_equal(sd["running_var"], np.full(3, 0.1))
    bn_param = {**TRAINED, "epsilon": 1e-3}
    with pytest.raises(ValueError):
        state_dict_from_bn_param(np.ones(3), np.zeros(3), bn_param)
    assert set(bn_param) == {"mode", "running_mean", "running_var", "epsilon"}


def test_the_third_round_valid_inputs_are_accepted():
    # A 1-D integer array is a list of layer sizes, and a digest in capitals is the same digest.
    net = FullyConnectedNet(np.array([5, 4]), input_dim=6)
    assert net.params["W2"].shape == (5, 4)
    with pytest.raises(DatasetMissingError, match=r"^extract_cifar10: missing\.tar\.gz is missing"):
        extract_cifar10("missing.tar.gz", md5="C58F30108F718F92721AF3B95E74349A")
