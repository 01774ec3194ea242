"""Convolution and max-pooling: against loop references, numeric gradients and PyTorch."""

import numpy as np
import pytest

from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error

CONV_PARAMS = [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 1}, {"stride": 1, "pad": 0}, {"stride": 3, "pad": 1}]
POOL_PARAMS = [
    {"pool_height": 2, "pool_width": 2, "stride": 2},
    {"pool_height": 3, "pool_width": 2, "stride": 1},  # overlapping windows
]


@pytest.fixture
def conv_inputs(rng):
    x = rng.normal(size=(2, 3, 7, 7))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    return x, w, b


def conv_by_loops(x, w, b, stride, pad):
    """The definition, one output entry at a time (slow, obviously right)."""
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    patch = xp[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    return out


def pool_by_loops(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - ph) // stride + 1, (W - pw) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw].max(axis=(2, 3))
    return out


@pytest.mark.parametrize("conv_param", CONV_PARAMS)
def test_conv_forward_matches_the_definition(conv_inputs, conv_param):
    x, w, b = conv_inputs
    out, _ = conv_forward(x, w, b, conv_param)
    np.testing.assert_allclose(out, conv_by_loops(x, w, b, conv_param["stride"], conv_param["pad"]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("conv_param", CONV_PARAMS)
def test_conv_gradients(conv_inputs, conv_param, rng):
    x, w, b = conv_inputs
    out, cache = conv_forward(x, w, b, conv_param)
    dout = rng.normal(size=out.shape)
    analytic = conv_backward(dout, cache)
    numeric = (
        eval_numerical_gradient_array(lambda x_: conv_forward(x_, w, b, conv_param)[0], x, dout),
        eval_numerical_gradient_array(lambda w_: conv_forward(x, w_, b, conv_param)[0], w, dout),
        eval_numerical_gradient_array(lambda b_: conv_forward(x, w, b_, conv_param)[0], b, dout),
    )
    for name, a, n in zip(("dx", "dw", "db"), analytic, numeric):
        assert a.shape == n.shape, name
        assert rel_error(a, n) < 1e-6, f"{name}: {rel_error(a, n):.1e}"


@pytest.mark.parametrize("pool_param", POOL_PARAMS)
def test_max_pool_forward_and_gradient(pool_param, rng):
    x = rng.normal(size=(2, 3, 6, 6))
    out, cache = max_pool_forward(x, pool_param)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    np.testing.assert_array_equal(out, pool_by_loops(x, ph, pw, s))
    dout = rng.normal(size=out.shape)
    numeric = eval_numerical_gradient_array(lambda x_: max_pool_forward(x_, pool_param)[0], x, dout)
    assert rel_error(max_pool_backward(dout, cache), numeric) < 1e-8


def test_max_pool_tie_sends_gradient_to_first_maximum():
    x = np.zeros((1, 1, 2, 2))
    _, cache = max_pool_forward(x, {})
    dx = max_pool_backward(np.full((1, 1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])


def test_overlapping_windows_accumulate_at_a_shared_maximum():
    x = np.zeros((1, 1, 1, 3))
    x[0, 0, 0, 1] = 1.0  # the maximum of both windows [0:2] and [1:3]
    _, cache = max_pool_forward(x, {"pool_height": 1, "pool_width": 2, "stride": 1})
    dx = max_pool_backward(np.array([[[[2.0, 3.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0, 0], [0.0, 5.0, 0.0])


def test_inputs_are_never_modified(conv_inputs, rng):
    x, w, b = conv_inputs
    copies = [a.copy() for a in conv_inputs]
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.normal(size=out.shape)
    dout_copy = dout.copy()
    conv_backward(dout, cache)
    pooled, pool_cache = max_pool_forward(x[:, :, :6, :6], {})
    max_pool_backward(np.ones_like(pooled), pool_cache)
    for a, c in zip((*conv_inputs, dout), (*copies, dout_copy)):
        np.testing.assert_array_equal(a, c)


def test_agrees_with_pytorch(conv_inputs, rng):
    torch = pytest.importorskip("torch")
    x, w, b = conv_inputs
    out, cache = conv_forward(x, w, b, {"stride": 2, "pad": 1})
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=2, padding=1)
    dout = rng.normal(size=out.shape)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(conv_backward(dout, cache), (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)

    pooled, pool_cache = max_pool_forward(x[:, :, :6, :6], {})
    xt = torch.tensor(x[:, :, :6, :6], requires_grad=True)
    pooled_t = torch.nn.functional.max_pool2d(xt, 2)
    dpool = rng.normal(size=pooled.shape)
    pooled_t.backward(torch.tensor(dpool))
    np.testing.assert_array_equal(pooled, pooled_t.detach().numpy())
    np.testing.assert_array_equal(max_pool_backward(dpool, pool_cache), xt.grad.numpy())


@pytest.mark.parametrize(
    "x, w, b, conv_param, error, pattern",
    [
        (np.ones((2, 3, 5)), np.ones((4, 3, 3, 3)), np.ones(4), {}, ValueError, r"x must be a 4-D array; got 3-D"),
        (np.ones((2, 3, 5, 5), dtype=int), np.ones((4, 3, 3, 3)), np.ones(4), {}, TypeError, r"x must have a floating-point dtype.*int64"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3)), np.ones(4), {}, ValueError, r"w must have shape \(F, 3, HH, WW\).*got \(4, 2, 3, 3\)"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(3), {}, ValueError, r"b must have shape \(4,\).*got \(3,\)"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4), {"stride": 0}, ValueError, r"conv_param\['stride'\] must be an integer >= 1; got 0"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4), {"pad": -1}, ValueError, r"conv_param\['pad'\] must be an integer >= 0; got -1"),
        (np.ones((2, 3, 6, 6)), np.ones((4, 3, 3, 3)), np.ones(4), {"stride": 2}, ValueError, r"a window of 3 with stride 2 does not fit the padded height of 6"),
        (np.ones((2, 3, 2, 2)), np.ones((4, 3, 3, 3)), np.ones(4), {}, ValueError, r"a window of 3 with stride 1 does not fit the padded height of 2"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4), None, TypeError, r"conv_param must be a dict; got NoneType"),
    ],
)
def test_conv_forward_rejects(x, w, b, conv_param, error, pattern):
    with pytest.raises(error, match=r"^conv_forward: " + pattern):
        conv_forward(x, w, b, conv_param)


def test_pool_and_backward_reject():
    x = np.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"^max_pool_forward: a window of 2 with stride 2 does not fit the height of 5"):
        max_pool_forward(x, {})
    with pytest.raises(ValueError, match=r"^max_pool_forward: pool_param\['pool_width'\] must be an integer >= 1; got 1.5"):
        max_pool_forward(x, {"pool_width": 1.5})
    _, pool_cache = max_pool_forward(x[:, :, :4, :4], {})
    with pytest.raises(ValueError, match=r"^max_pool_backward: dout must have shape \(1, 2, 2, 2\).*got \(1, 2, 4, 4\)"):
        max_pool_backward(np.ones((1, 2, 4, 4)), pool_cache)
    _, conv_cache = conv_forward(x, np.ones((3, 2, 3, 3)), np.zeros(3), {"pad": 1})
    with pytest.raises(ValueError, match=r"^conv_backward: dout must have shape \(1, 3, 5, 5\).*got \(1, 2, 5, 5\)"):
        conv_backward(np.ones((1, 2, 5, 5)), conv_cache)
    with pytest.raises(TypeError, match=r"^conv_backward: cache must be the ConvCache.*MaxPoolCache"):
        conv_backward(np.ones((1, 3, 5, 5)), pool_cache)
    with pytest.raises(TypeError, match=r"^max_pool_backward: cache must be the MaxPoolCache.*ConvCache"):
        max_pool_backward(np.ones((1, 2, 2, 2)), conv_cache)
