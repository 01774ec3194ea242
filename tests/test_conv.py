"""Convolution and max-pooling: fast against naive, both against numeric gradients and PyTorch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import conv
from cs231n_bn.conv import (
    ROW_SHIFT_MIN_CHANNELS,
    conv_backward,
    conv_backward_naive,
    conv_backward_weights,
    conv_forward,
    conv_forward_naive,
    max_pool_backward,
    max_pool_backward_naive,
    max_pool_forward,
    max_pool_forward_naive,
)
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error

CONV_PARAMS = [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 1}, {"stride": 1, "pad": 0}, {"stride": 3, "pad": 1}]
POOL_PARAMS = [
    {"pool_height": 2, "pool_width": 2, "stride": 2},  # windows tile the input: the reshape path
    {"pool_height": 3, "pool_width": 2, "stride": 1},  # overlapping windows
    {"pool_height": 2, "pool_width": 2, "stride": 3},  # gaps between windows
]
CONV = {"fast": (conv_forward, conv_backward), "naive": (conv_forward_naive, conv_backward_naive)}
POOL = {"fast": (max_pool_forward, max_pool_backward), "naive": (max_pool_forward_naive, max_pool_backward_naive)}


def scaled_error(a, b):
    """max |a - b| over max |b|: the tolerance of a sum whose order changed, wherever it cancels."""
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.fixture
def conv_inputs(rng):
    x = rng.normal(size=(2, 3, 7, 7))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    return x, w, b


def conv_by_definition(x, w, b, stride, pad):
    """The definition written independently of both versions, one output entry at a time."""
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n, f, i, j in np.ndindex(N, F, H_out, W_out):
        patch = xp[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
        out[n, f, i, j] = np.einsum("cpq,cpq->", patch, w[f]) + b[f]
    return out


def pool_by_definition(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, (H - ph) // stride + 1, (W - pw) // stride + 1))
    for i, j in np.ndindex(*out.shape[2:]):
        out[:, :, i, j] = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw].max(axis=(2, 3))
    return out


@st.composite
def conv_cases(draw):
    """Shapes, stride, pad and filter size such that the windows tile the padded input."""
    # Few channels take im2col, many the row shifts (see cs231n_bn.conv's docstring)
    N, F = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    C = draw(st.sampled_from([1, 2, 3, ROW_SHIFT_MIN_CHANNELS, ROW_SHIFT_MIN_CHANNELS + 1]))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    # Choose the output size; the padded input that gives it, minus the pad, is the input.
    H_pad = HH + stride * (draw(st.integers(1, 4)) - 1)
    W_pad = WW + stride * (draw(st.integers(1, 4)) - 1)
    pad = min(draw(st.integers(0, 2)), (H_pad - 1) // 2, (W_pad - 1) // 2)
    x_shape = (N, C, H_pad - 2 * pad, W_pad - 2 * pad)
    return x_shape, (F, C, HH, WW), {"stride": stride, "pad": pad}, draw(st.integers(0, 2**32 - 1))


@st.composite
def any_conv_cases(draw):
    """Any stride and pad: windows that need not tile the input, padding wider than the filter."""
    N, F = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    C = draw(st.sampled_from([2, ROW_SHIFT_MIN_CHANNELS]))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 5))
    H = draw(st.integers(max(1, HH - 2 * pad), 8))
    W = draw(st.integers(max(1, WW - 2 * pad), 8))
    return (N, C, H, W), (F, C, HH, WW), {"stride": stride, "pad": pad}, draw(st.integers(0, 2**32 - 1))


@st.composite
def pool_cases(draw):
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H = ph + stride * (draw(st.integers(1, 4)) - 1)
    W = pw + stride * (draw(st.integers(1, 4)) - 1)
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W)
    return shape, {"pool_height": ph, "pool_width": pw, "stride": stride}, draw(st.integers(0, 2**32 - 1))


@settings(max_examples=60)
@given(conv_cases())
def test_fast_and_naive_convolutions_agree(case):
    assert_fast_is_naive(*case)


def assert_fast_is_naive(x_shape, w_shape, conv_param, seed):
    """conv_forward and conv_backward give the loops' results, to round-off, on random data."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
    fast, fast_cache = conv_forward(x, w, b, conv_param)
    naive, naive_cache = conv_forward_naive(x, w, b, conv_param)
    assert scaled_error(fast, naive) < 1e-12
    dout = rng.normal(size=fast.shape)
    for name, a, n in zip(("dx", "dw", "db"), conv_backward(dout, fast_cache), conv_backward_naive(dout, naive_cache)):
        assert scaled_error(a, n) < 1e-12, name


@settings(max_examples=100)
@given(any_conv_cases())
def test_convolutions_agree_at_any_stride_and_pad(case):
    # The row shifts clip every offset to the rows and columns that read real input: the
    # edges of that clipping are where padding wider than the filter, or a stride that
    # leaves the last rows unread, would show.
    assert_fast_is_naive(*case)


@settings(max_examples=60)
@given(pool_cases())
def test_fast_and_naive_pooling_agree(case):
    shape, pool_param, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    fast, fast_cache = max_pool_forward(x, pool_param)
    naive, naive_cache = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(fast, naive)
    dout = rng.normal(size=fast.shape)
    # Overlapping windows add several gradients into one pixel, in a different order in each version.
    assert scaled_error(max_pool_backward(dout, fast_cache), max_pool_backward_naive(dout, naive_cache)) < 1e-12


@pytest.mark.parametrize("version", ["fast", "naive"])
@pytest.mark.parametrize("conv_param", CONV_PARAMS)
def test_conv_forward_matches_the_definition(conv_inputs, conv_param, version):
    x, w, b = conv_inputs
    out, _ = CONV[version][0](x, w, b, conv_param)
    assert scaled_error(out, conv_by_definition(x, w, b, conv_param["stride"], conv_param["pad"])) < 1e-12


@pytest.mark.parametrize("version", ["fast", "naive"])
@pytest.mark.parametrize("conv_param", CONV_PARAMS)
def test_conv_gradients(conv_inputs, conv_param, version, rng):
    forward, backward = CONV[version]
    x, w, b = conv_inputs
    if version == "naive":  # each numeric derivative runs the loops twice: fewer samples and channels
        x, w, b = x[:1, :2], w[:2, :2], b[:2]
    out, cache = forward(x, w, b, conv_param)
    dout = rng.normal(size=out.shape)
    analytic = backward(dout, cache)
    numeric = (
        eval_numerical_gradient_array(lambda x_: forward(x_, w, b, conv_param)[0], x, dout),
        eval_numerical_gradient_array(lambda w_: forward(x, w_, b, conv_param)[0], w, dout),
        eval_numerical_gradient_array(lambda b_: forward(x, w, b_, conv_param)[0], b, dout),
    )
    for name, a, n in zip(("dx", "dw", "db"), analytic, numeric):
        assert a.shape == n.shape, name
        assert rel_error(a, n) < 1e-6, f"{name}: {rel_error(a, n):.1e}"


@pytest.mark.parametrize("images_per_block", ["default", "one"])
@pytest.mark.parametrize("conv_param", CONV_PARAMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_channels_take_the_row_shifts_and_agree(conv_param, dtype, images_per_block, rng, monkeypatch):
    """The row-shift convolution against the definition and the naive backward pass, in both dtypes,
    in one block of images and one image per block."""
    if images_per_block == "one":
        monkeypatch.setattr(conv, "ROW_SHIFT_BLOCK_ENTRIES", 1)
    x = rng.normal(size=(3, ROW_SHIFT_MIN_CHANNELS, 7, 6)).astype(dtype)
    w = rng.normal(size=(4, ROW_SHIFT_MIN_CHANNELS, 3, 2)).astype(dtype)
    b = rng.normal(size=4).astype(dtype)
    out, cache = conv_forward(x, w, b, conv_param)
    assert cache.row_shift  # the row-shift path
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    reference = conv_by_definition(*(a.astype(np.float64) for a in (x, w, b)), conv_param["stride"], conv_param["pad"])
    assert out.dtype == dtype and scaled_error(out.astype(np.float64), reference) < tolerance
    dout = rng.normal(size=out.shape).astype(dtype)
    _, naive_cache = conv_forward_naive(x, w, b, conv_param)
    for name, a, n in zip(("dx", "dw", "db"), conv_backward(dout, cache), conv_backward_naive(dout, naive_cache)):
        assert a.dtype == dtype and scaled_error(a, n) < tolerance, name


def test_row_shift_gradients(rng):
    x = rng.normal(size=(2, ROW_SHIFT_MIN_CHANNELS, 4, 5))
    w = rng.normal(size=(3, ROW_SHIFT_MIN_CHANNELS, 3, 3))
    b = rng.normal(size=3)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward(x, w, b, conv_param)
    assert cache.row_shift
    dout = rng.normal(size=out.shape)
    numeric = (
        eval_numerical_gradient_array(lambda x_: conv_forward(x_, w, b, conv_param)[0], x, dout),
        eval_numerical_gradient_array(lambda w_: conv_forward(x, w_, b, conv_param)[0], w, dout),
        eval_numerical_gradient_array(lambda b_: conv_forward(x, w, b_, conv_param)[0], b, dout),
    )
    for name, a, n in zip(("dx", "dw", "db"), conv_backward(dout, cache), numeric):
        assert a.shape == n.shape, name
        assert rel_error(a, n) < 1e-6, f"{name}: {rel_error(a, n):.1e}"


@pytest.mark.parametrize("version", ["fast", "naive"])
@pytest.mark.parametrize("pool_param", POOL_PARAMS)
def test_max_pool_forward_and_gradient(pool_param, version, rng):
    forward, backward = POOL[version]
    x = rng.normal(size=(2, 3, 8, 8))
    out, cache = forward(x, pool_param)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    np.testing.assert_array_equal(out, pool_by_definition(x, ph, pw, s))
    dout = rng.normal(size=out.shape)
    numeric = eval_numerical_gradient_array(lambda x_: forward(x_, pool_param)[0], x, dout)
    assert rel_error(backward(dout, cache), numeric) < 1e-8


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_float32_stays_float32(version, rng):
    x = rng.normal(size=(2, 3, 8, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    out, cache = CONV[version][0](x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    assert [g.dtype for g in CONV[version][1](out, cache)] == [np.float32] * 3
    pooled, pool_cache = POOL[version][0](x, {})
    assert pooled.dtype == np.float32 and POOL[version][1](pooled, pool_cache).dtype == np.float32
    reference, _ = conv_forward_naive(*(a.astype(np.float64) for a in (x, w, b)), {"stride": 1, "pad": 1})
    assert scaled_error(out.astype(np.float64), reference) < 1e-6


@pytest.mark.parametrize("version", ["fast", "naive"])
@pytest.mark.parametrize("pool_param", [{}, {"pool_height": 2, "pool_width": 2, "stride": 1}])
def test_max_pool_tie_sends_gradient_to_first_maximum(version, pool_param):
    forward, backward = POOL[version]
    x = np.zeros((1, 1, 2, 2))  # after a ReLU, ties at zero are common
    _, cache = forward(x, pool_param)
    dx = backward(np.full((1, 1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_overlapping_windows_accumulate_at_a_shared_maximum(version):
    forward, backward = POOL[version]
    x = np.zeros((1, 1, 1, 3))
    x[0, 0, 0, 1] = 1.0  # the maximum of both windows [0:2] and [1:3]
    _, cache = forward(x, {"pool_height": 1, "pool_width": 2, "stride": 1})
    dx = backward(np.array([[[[2.0, 3.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0, 0], [0.0, 5.0, 0.0])


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_inputs_are_never_modified(conv_inputs, version, rng):
    x, w, b = conv_inputs
    copies = [a.copy() for a in conv_inputs]
    out, cache = CONV[version][0](x, w, b, {"stride": 1, "pad": 1})
    dout = rng.normal(size=out.shape)
    dout_copy = dout.copy()
    CONV[version][1](dout, cache)
    pooled, pool_cache = POOL[version][0](x[:, :, :6, :6], {})
    dpooled = rng.normal(size=pooled.shape)
    dpooled_copy = dpooled.copy()
    POOL[version][1](dpooled, pool_cache)
    for a, c in zip((*conv_inputs, dout, dpooled), (*copies, dout_copy, dpooled_copy)):
        np.testing.assert_array_equal(a, c)


def test_pooling_reads_any_memory_layout(rng):
    """A transposed view (as a norm layer may return) pools exactly like its contiguous copy."""
    x = rng.normal(size=(2, 4, 4, 3)).transpose(0, 3, 1, 2)
    assert not x.flags.c_contiguous
    out, cache = max_pool_forward(x, {})
    expected, expected_cache = max_pool_forward(np.ascontiguousarray(x), {})
    np.testing.assert_array_equal(out, expected)
    dout = rng.normal(size=out.shape)
    np.testing.assert_array_equal(max_pool_backward(dout, cache), max_pool_backward(dout, expected_cache))


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
        (np.ones((2, 3, 2, 2)), np.ones((4, 3, 3, 3)), np.ones(4), {}, ValueError, r"w \(its HH\), a window of 3, does not fit the padded height of 2"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 0, 3)), np.ones(4), {}, ValueError, r"w must have filters of height and width >= 1.*got \(4, 3, 0, 3\)"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 0)), np.ones(4), {}, ValueError, r"w must have filters of height and width >= 1.*got \(4, 3, 3, 0\)"),
        (np.ones((2, 3, 5, 5)), np.ones((0, 3, 3, 3)), np.ones(0), {}, ValueError, r"w must hold at least one filter.*got \(0, 3, 3, 3\)"),
        (np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4), None, TypeError, r"conv_param must be a dict; got NoneType"),
    ],
)
def test_conv_forward_rejects(x, w, b, conv_param, error, pattern):
    with pytest.raises(error, match=r"^conv_forward: " + pattern):
        conv_forward(x, w, b, conv_param)


def test_pool_and_backward_reject():
    x = np.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"^max_pool_forward: pool_param\['pool_height'\], a window of 6, does not fit the height of 5"):
        max_pool_forward(x, {"pool_height": 6, "stride": 1})
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


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_unknown_keys_are_refused(version, rng):
    """A misspelled key would otherwise be ignored and its default used without a word."""
    x = rng.normal(size=(1, 2, 4, 4))
    forward = CONV[version][0]
    with pytest.raises(ValueError, match=rf"^{forward.__name__}: conv_param has unknown key\(s\) 'padding'; known keys: 'stride', 'pad'$"):
        forward(x, np.ones((3, 2, 3, 3)), np.zeros(3), {"padding": 1})
    forward = POOL[version][0]
    with pytest.raises(ValueError, match=rf"^{forward.__name__}: pool_param has unknown key\(s\) 'height', 'width'; known keys: 'pool_height', 'pool_width', 'stride'$"):
        forward(x, {"height": 2, "width": 2})


def test_naive_versions_reject_like_the_fast_ones():
    x = np.ones((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"^conv_forward_naive: w \(its HH\), a window of 3, does not fit the padded height of 2"):
        conv_forward_naive(np.ones((1, 2, 2, 6)), np.ones((3, 2, 3, 3)), np.zeros(3), {"stride": 2})
    with pytest.raises(ValueError, match=r"^conv_forward_naive: w must hold at least one filter"):
        conv_forward_naive(x, np.ones((0, 2, 3, 3)), np.zeros(0), {})
    with pytest.raises(ValueError, match=r"^conv_forward_naive: w must have filters of height and width >= 1"):
        conv_forward_naive(x, np.ones((3, 2, 0, 0)), np.zeros(3), {})
    with pytest.raises(ValueError, match=r"^max_pool_forward_naive: pool_param\['pool_width'\], a window of 6, does not fit the width of 5"):
        max_pool_forward_naive(x, {"pool_width": 6})
    _, fast_cache = conv_forward(x, np.ones((3, 2, 3, 3)), np.zeros(3), {"pad": 1})
    with pytest.raises(TypeError, match=r"^conv_backward_naive: cache must be the ConvNaiveCache returned by conv_forward_naive; got ConvCache"):
        conv_backward_naive(np.ones((1, 3, 5, 5)), fast_cache)
    _, pool_cache = max_pool_forward_naive(x[:, :, :4, :4], {})
    with pytest.raises(ValueError, match=r"^max_pool_backward_naive: dout must have shape \(1, 2, 2, 2\).*got \(1, 2, 4, 4\)"):
        max_pool_backward_naive(np.ones((1, 2, 4, 4)), pool_cache)


@pytest.mark.parametrize("version", ["fast", "naive"])
def test_strides_that_do_not_divide_the_input_round_down_like_pytorch(version, rng):
    """H - HH not a multiple of the stride: the last rows no whole window reaches are left out."""
    conv_f, conv_b = CONV[version]
    pool_f, pool_b = POOL[version]
    x = rng.normal(size=(2, 3, 6, 7))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    out, cache = conv_f(x, w, b, {"stride": 2, "pad": 0})
    assert out.shape == (2, 4, 2, 3)
    expected = conv_forward_naive(x[:, :, :5, :7], w, b, {"stride": 2, "pad": 0})[0]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dx, _, _ = conv_b(np.ones_like(out), cache)
    assert dx.shape == x.shape and np.all(dx[:, :, 5, :] == 0)
    pooled, pool_cache = pool_f(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert pooled.shape == (2, 3, 3, 3)
    dx = pool_b(np.ones_like(pooled), pool_cache)
    assert np.all(dx[:, :, :, 6] == 0) and dx.sum() == pooled.size


def test_rounded_down_shapes_agree_with_pytorch(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 6, 7))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    out = conv_forward(x, w, b, {"stride": 2, "pad": 1})[0]
    out_t = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1)
    np.testing.assert_allclose(out, out_t.numpy(), rtol=1e-10, atol=1e-10)
    pooled = max_pool_forward(x, {"pool_height": 2, "pool_width": 3, "stride": 2})[0]
    pooled_t = torch.nn.functional.max_pool2d(torch.tensor(x), (2, 3), stride=2)
    np.testing.assert_array_equal(pooled, pooled_t.numpy())


@pytest.mark.parametrize("pool_param", POOL_PARAMS)
def test_a_window_holding_a_nan_sends_its_gradient_to_the_nan_in_both_versions(pool_param, rng):
    x = rng.normal(size=(2, 2, 7, 7))
    x[0, 1, 2, 3] = np.nan
    x[1, 0, 0, 0] = np.nan
    x[1, 0, 0, 1] = np.nan  # two NaNs in one window: the first one in row-major order takes it
    dout_shape = max_pool_forward(x, pool_param)[0].shape
    dout = rng.normal(size=dout_shape)
    results = []
    for forward, backward in POOL.values():
        out, cache = forward(x, pool_param)
        results.append((out, backward(dout, cache)))
    (out_fast, dx_fast), (out_naive, dx_naive) = results
    np.testing.assert_array_equal(out_fast, out_naive)
    # overlapping windows add their gradients in another order: equal up to round-off
    np.testing.assert_allclose(dx_fast, dx_naive, rtol=1e-12, atol=1e-15)
    assert np.array_equal(dx_fast == 0, dx_naive == 0)
    # every window's gradient arrived somewhere: none was dropped
    np.testing.assert_allclose(dx_fast.sum(), dout.sum())


def test_nan_routing_agrees_with_pytorch(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(1, 2, 6, 6))
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 4, 5] = np.nan
    dout = rng.normal(size=(1, 2, 3, 3))
    out, cache = max_pool_forward(x, {})
    dx = max_pool_backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.max_pool2d(xt, 2)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


@pytest.mark.parametrize("maps_per_block", [1, 3])
@pytest.mark.parametrize("layout", ["(N, C, H, W)", "channels first"])
def test_pooling_a_few_maps_at_a_time_agrees_with_the_naive_version(layout, maps_per_block, rng, monkeypatch):
    """Tiling windows are pooled block by block of maps: blocks that split a sample's channels,
    ties (the first maximum wins) and a NaN in a later block all give the naive results."""
    monkeypatch.setattr(conv, "POOL_BLOCK_ENTRIES", maps_per_block * 6 * 4)
    x = rng.integers(-2, 3, size=(3, 5, 6, 4)).astype(np.float32)  # small integers: many ties
    x[2, 3, 4, 1] = np.nan
    if layout == "channels first":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    out, cache = max_pool_forward(x, {})
    out_naive, cache_naive = max_pool_forward_naive(x, {})
    np.testing.assert_array_equal(out, out_naive)
    dout = rng.normal(size=out.shape).astype(np.float32)
    np.testing.assert_array_equal(max_pool_backward(dout, cache), max_pool_backward_naive(dout, cache_naive))


@pytest.mark.parametrize("images_per_block", ["all", "one", "two"])
@pytest.mark.parametrize("conv_param", CONV_PARAMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_a_few_images_at_a_time_agrees(conv_param, dtype, images_per_block, rng, monkeypatch):
    """im2col block by block of images (one, two with a last block of one, or all three at
    once) against the definition and the naive backward pass."""
    x = rng.normal(size=(3, 2, 7, 6)).astype(dtype)
    w = rng.normal(size=(4, 2, 3, 2)).astype(dtype)
    b = rng.normal(size=4).astype(dtype)
    out, cache = conv_forward(x, w, b, conv_param)
    positions = out.shape[2] * out.shape[3]
    monkeypatch.setattr(conv, "IM2COL_BLOCK_COLUMNS", {"all": 3, "one": 1, "two": 2}[images_per_block] * positions)
    out, cache = conv_forward(x, w, b, conv_param)
    assert not cache.row_shift
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    reference = conv_by_definition(*(a.astype(np.float64) for a in (x, w, b)), conv_param["stride"], conv_param["pad"])
    assert out.dtype == dtype and scaled_error(out.astype(np.float64), reference) < tolerance
    dout = rng.normal(size=out.shape).astype(dtype)
    _, naive_cache = conv_forward_naive(x, w, b, conv_param)
    for name, a, n in zip(("dx", "dw", "db"), conv_backward(dout, cache), conv_backward_naive(dout, naive_cache)):
        assert a.dtype == dtype and scaled_error(a, n) < tolerance, name


@pytest.mark.parametrize("channels", [3, ROW_SHIFT_MIN_CHANNELS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_weights_only_backward_pass_gives_conv_backwards_dw_and_db(channels, dtype, rng):
    """Both paths (im2col with 3 channels, row shifts with many): the same dw and db, bit for bit."""
    x = rng.normal(size=(3, channels, 7, 6)).astype(dtype)
    w = rng.normal(size=(4, channels, 3, 3)).astype(dtype)
    b = rng.normal(size=4).astype(dtype)
    out, cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.normal(size=out.shape).astype(dtype)
    _, dw, db = conv_backward(dout, cache)
    dw_only, db_only = conv_backward_weights(dout, cache)
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)
    assert dw_only.dtype == dtype and db_only.dtype == dtype
