"""Convolution and max-pooling layers for (N, C, H, W) data, vectorized with stride tricks.

`numpy.lib.stride_tricks.sliding_window_view` presents every receptive field of the padded
input as one more pair of axes without copying: windows[n, c, i, j] is the (HH, WW) patch
under output position (i, j). A convolution is then one tensor contraction of the windows
with the filters (the "im2col" product, with numpy doing the unrolling), and pooling is a
maximum over the window axes. No Python loop runs over pixels; the backward passes loop
only over the HH*WW offsets inside a filter (9 for a 3x3 filter), each step vectorized over
every sample, channel and position.

Shapes follow CS231n: x (N, C, H, W), filters w (F, C, HH, WW), biases b (F,),
conv_param {'stride', 'pad'}, pool_param {'pool_height', 'pool_width', 'stride'}.
"""

from dataclasses import dataclass
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cs231n_bn import validation as check


@dataclass(frozen=True)
class ConvCache:
    x: np.ndarray  # (N, C, H, W) input
    x_pad: np.ndarray  # (N, C, H + 2*pad, W + 2*pad) zero-padded input
    w: np.ndarray  # (F, C, HH, WW) filters
    stride: int
    pad: int


@dataclass(frozen=True)
class MaxPoolCache:
    x: np.ndarray  # (N, C, H, W) input
    argmax: np.ndarray  # (N, C, H_out, W_out) flat index of each window's maximum within the window
    pool_height: int
    pool_width: int
    stride: int


def _integer(where, name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _output_size(where, what, size, window, stride):
    """Number of window positions along one axis; the windows must tile it exactly."""
    if window > size or (size - window) % stride:
        raise ValueError(
            f"{where}: a window of {window} with stride {stride} does not fit the {what} of "
            f"{size} exactly ((size - window) must be a non-negative multiple of stride)"
        )
    return (size - window) // stride + 1


def _windows(x_pad, HH, WW, stride):
    """(N, C, H_out, W_out, HH, WW) read-only view of every receptive field of x_pad."""
    return sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_forward(x, w, b, conv_param):
    """Convolutional layer (cross-correlation, as in every deep-learning library), forward pass.

        out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with keys
      - stride: step between neighbouring receptive fields (default 1)
      - pad: zeros added on every side of H and W (default 0)

    Returns a tuple of:
    - out: (N, F, H_out, W_out), H_out = (H + 2*pad - HH) / stride + 1, likewise W_out
    - cache: ConvCache
    """
    where = "conv_forward"
    check.float_array(where, "x", x, ndim=4)
    check.float_array(where, "w", w, ndim=4)
    check.float_array(where, "b", b, ndim=1)
    N, C, H, W = x.shape
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(
            f"{where}: w must have shape (F, {C}, HH, WW), one filter slice per channel of x; got {w.shape}"
        )
    check.same_shape(where, "b", b, (F,), "one bias per filter")
    check.param_dict(where, "conv_param", conv_param)
    stride = _integer(where, "conv_param['stride']", conv_param.get("stride", 1), 1)
    pad = _integer(where, "conv_param['pad']", conv_param.get("pad", 0), 0)
    _output_size(where, "padded height", H + 2 * pad, HH, stride)
    _output_size(where, "padded width", W + 2 * pad, WW, stride)

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = _windows(x_pad, HH, WW, stride)
    # Contract channel and filter offsets: (N, H_out, W_out, F), then filters to axis 1.
    out = np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None]
    return np.ascontiguousarray(out), ConvCache(x=x, x_pad=x_pad, w=w, stride=stride, pad=pad)


def conv_backward(dout, cache):
    """Convolutional layer, backward pass.

    Every input pixel fed several outputs (one per filter offset that covered it), so dx
    collects, for each offset (p, q), the upstream gradient routed back through w[:, :, p, q]
    onto the pixels that offset touched.

    Inputs:
    - dout: (N, F, H_out, W_out) upstream gradient
    - cache: ConvCache from conv_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    where = "conv_backward"
    check.cache_of(where, cache, ConvCache, "conv_forward")
    x_pad, w, stride, pad = cache.x_pad, cache.w, cache.stride, cache.pad
    N = x_pad.shape[0]
    F, C, HH, WW = w.shape
    H_out = (x_pad.shape[2] - HH) // stride + 1
    W_out = (x_pad.shape[3] - WW) // stride + 1
    check.float_array(where, "dout", dout)
    check.same_shape(where, "dout", dout, (N, F, H_out, W_out), "the shape of out")

    db = dout.sum(axis=(0, 2, 3))
    dw = np.tensordot(dout, _windows(x_pad, HH, WW, stride), axes=([0, 2, 3], [0, 2, 3]))
    dx_pad = np.zeros(x_pad.shape, dtype=np.result_type(dout, w))
    for p in range(HH):
        for q in range(WW):
            # Offset (p, q) touched the pixels x_pad[:, :, p + stride*i, q + stride*j].
            covered = (
                slice(None), slice(None),
                slice(p, p + stride * H_out, stride), slice(q, q + stride * W_out, stride),
            )
            dx_pad[covered] += np.einsum("nfij,fc->ncij", dout, w[:, :, p, q])
    H, W = cache.x.shape[2:]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    return np.ascontiguousarray(dx), dw, db


def max_pool_forward(x, pool_param):
    """Max-pooling layer, forward pass: the largest value of each window, per channel.

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - pool_param: dict with keys pool_height, pool_width (default 2 each) and stride
      (default 2); the windows must tile H and W exactly

    Returns a tuple of:
    - out: (N, C, H_out, W_out), H_out = (H - pool_height) / stride + 1, likewise W_out
    - cache: MaxPoolCache
    """
    where = "max_pool_forward"
    check.float_array(where, "x", x, ndim=4)
    check.param_dict(where, "pool_param", pool_param)
    ph = _integer(where, "pool_param['pool_height']", pool_param.get("pool_height", 2), 1)
    pw = _integer(where, "pool_param['pool_width']", pool_param.get("pool_width", 2), 1)
    stride = _integer(where, "pool_param['stride']", pool_param.get("stride", 2), 1)
    N, C, H, W = x.shape
    H_out = _output_size(where, "height", H, ph, stride)
    W_out = _output_size(where, "width", W, pw, stride)

    flat = _windows(x, ph, pw, stride).reshape(N, C, H_out, W_out, ph * pw)
    argmax = flat.argmax(axis=4)
    out = np.take_along_axis(flat, argmax[..., None], axis=4)[..., 0]
    return out, MaxPoolCache(x=x, argmax=argmax, pool_height=ph, pool_width=pw, stride=stride)


def max_pool_backward(dout, cache):
    """Max-pooling layer, backward pass: each window's gradient goes to its maximum.

    A tie sends the whole gradient to the first maximum in the window (row-major), as
    PyTorch does. Where windows overlap, a pixel that is the maximum of several windows
    receives the sum of their gradients.

    Inputs:
    - dout: (N, C, H_out, W_out) upstream gradient
    - cache: MaxPoolCache from max_pool_forward

    Returns:
    - dx: (N, C, H, W)
    """
    where = "max_pool_backward"
    check.cache_of(where, cache, MaxPoolCache, "max_pool_forward")
    check.float_array(where, "dout", dout)
    check.same_shape(where, "dout", dout, cache.argmax.shape, "the shape of out")
    N, C, H_out, W_out = dout.shape
    # Pixel coordinates of each window's maximum: window origin plus offset inside it.
    p, q = np.divmod(cache.argmax, cache.pool_width)
    rows = np.arange(H_out)[:, None] * cache.stride + p
    cols = np.arange(W_out)[None, :] * cache.stride + q
    n = np.arange(N)[:, None, None, None]
    c = np.arange(C)[None, :, None, None]
    dx = np.zeros(cache.x.shape, dtype=dout.dtype)
    # add.at, not fancy-index assignment, so overlapping windows accumulate.
    np.add.at(dx, (n, c, rows, cols), dout)
    return dx
