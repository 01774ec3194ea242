"""Convolution and max-pooling layers for (N, C, H, W) data: readable loops and fast versions.

Two versions of each layer, with CS231n's names and signatures:

- `conv_forward_naive`, `conv_backward_naive`, `max_pool_forward_naive`,
  `max_pool_backward_naive`: loops over samples, filters and output positions, to be read
  against the formulas. Slow, and meant only for small inputs and for testing.
- `conv_forward`, `conv_backward`, `max_pool_forward`, `max_pool_backward`: the same
  results, fast enough to train a convnet on CIFAR-10 in NumPy.

How the fast convolution works ("im2col"): the receptive fields of the padded input are
copied into a matrix of columns, cols of shape (C*HH*WW, N*H_out*W_out), one column per
output position of every sample. The convolution is then a matrix product,
out = w_row @ cols with the filters as rows w_row (F, C*HH*WW), which NumPy hands to
BLAS (cols has one more row, of ones, and w_row one more column, the biases: the product
adds them too). The backward pass is two more products: dw = dout_rows @ cols.T and
dcols = w_row.T @ dout_rows, with dout_rows (F, N*H_out*W_out). dcols is scattered back onto
the input by adding, for each of the HH*WW filter offsets, one strided slice: a loop over the
9 offsets of a 3x3 filter, never over pixels. All of this runs a block of images at a time
(at most IM2COL_BLOCK_COLUMNS columns): cols and dcols are then a block that the product
reads, or the scatter reads, while it is still in the processor's caches, never an array of
the whole batch, and the backward pass copies the columns again from the padded input,
which is all the forward pass keeps.

With many input channels (C >= ROW_SHIFT_MIN_CHANNELS) the fast convolution copies less:
only the WW horizontal offsets are copied into columns, cols of shape (WW*C, N*H*W_out) over
every row of the input, and one product with the filters of all HH vertical offsets stacked
as rows, w_rows (HH*F, WW*C), gives Z (HH, F, N, H, W_out). The vertical offset p is then a
shift along the rows: out[:, :, i] = b + sum_p Z[p, :, :, i*stride + p - pad], each offset
adding onto the output rows whose input row lies inside the image. The padding is never
copied out: its left and right zeros are written into cols with each horizontal offset, and
its top and bottom rows, zero, would only add zeros to Z, so the product leaves them out.
The copy is HH times smaller than im2col's, and the product, (HH*F, WW*C) @ (WW*C, N*H*W_out),
is squarer and runs faster in BLAS than im2col's (F, C*HH*WW) @ (C*HH*WW, N*H_out*W_out). It
runs a block of images at a time, so that cols and Z are still in the processor's caches
when the next step reads them. The backward pass keeps only the input, copies each block's
columns again, and retraces the steps: dout placed on the rows of a zero dZ, two products,
and one strided add per horizontal offset. With few channels (an image's 3) the product is
too thin and im2col is faster.

The layout is channels first, (C, N, H, W) in memory: every row of cols and of out is one
channel over the whole batch, the layout in which one product covers all samples and in
which a per-channel statistic (spatial batch norm) reduces along contiguous memory.
conv_forward returns out as an (N, F, H_out, W_out) view of that memory, which spatial
batch norm reads without a copy; conv_backward takes dout in either layout (without a copy
when it is channels first, as spatial batch norm's dx is) and returns dx as such a view.

Max pooling loops over the offsets inside a window the same way (4 for a 2x2 window), taking
the running maximum of strided slices and remembering which offset won, as a flat index into
x; its backward pass then writes each window's gradient to that index in one scatter.
In the common case of windows that tile the input (e.g. 2x2 with stride 2) the slices come
from a copy of x with the columns of every window moved apart (see _window_offsets), made a
few maps at a time (POOL_BLOCK_ENTRIES).
Pooling works in the memory order of x: a channels-first x (what the convolution, spatial
batch norm and a ReLU after them return) is pooled as the (C, N, H, W) array it is in memory,
and out and the backward pass's dx come back channels first, all without a copy.

Threads (cs231n_bn.threads.for_each_share): the convolution's blocks of images (im2col's and
the row shifts', forward and backward; dw is summed over the blocks in their order) and the
blocks of tiling max pooling are independent, and are shared among the threads that
limit_blas_threads allows, with the same results at every count. im2col's blocks hold a few
images each: one image's copies and product were too short for a second thread to gain from.

Every array keeps its dtype: float32 data and filters give float32 results throughout.
Shapes follow CS231n: x (N, C, H, W), filters w (F, C, HH, WW), biases b (F,),
conv_param {'stride', 'pad'}, pool_param {'pool_height', 'pool_width', 'stride'}.
"""

from dataclasses import dataclass
import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.threads import equal_slices, for_each_share

CONV_KEYS = ("stride", "pad")
# From this many input channels on, the convolution copies only the horizontal offsets and
# shifts its product along the rows for the vertical ones (see the module docstring). Forward
# and backward pass of 50 maps, 32 filters of 3x3, float32, one thread, AVX-512 kernel, against
# im2col: 3.4 ms against 5.3 with 16 channels of 16x16, 2.35 against 2.75 with 8 of 16x16, the
# same 9.2 with 8 of 32x32; with an image's 3 channels im2col is faster, 4.7 against 5.6.
ROW_SHIFT_MIN_CHANNELS = 8
# Entries of the product Z (see _row_shift_forward) computed at a time at most (whole images;
# _image_blocks): 1.5 MiB of float32, 16 of block 2's images (32 channels of 16x16, 32 filters
# of 3x3). For 50 of them, float32, 2-vCPU Zen 3 machine, medians of 5 interleaved rounds:
# forward and backward 4.49 and 8.44 ms in 10 blocks of 5 images, 4.07 and 8.18 in 4 of 12-13
# on one thread; 2.78 and 5.06, 2.31 and 4.54 on two.
ROW_SHIFT_BLOCK_ENTRIES = 3 * 2**17
# Columns of im2col's cols computed at a time at most (whole images, at least one; _image_blocks):
# 16 CIFAR-10 images, 1.75 MiB of float32 cols. Blocks that fit a core's L2 cache lose to fewer,
# longer calls: 50 such images, 3 channels and 32 filters of 3x3, float32, on a 2-vCPU Zen 3
# machine (L2 512 KiB per core), medians of 5 interleaved rounds: forward and backward 2.48 and
# 6.62 ms in blocks of 4 images, 2.37 and 5.93 in 7 of 7-8, 2.29 and 5.53 in 4 of 12-13, 2.27
# and 5.57 in 2 of 25 on one thread; 1.85 and 4.94, 1.81 and 4.07, 1.54 and 3.45, 1.49 and 3.26
# on two. Four blocks still give four threads one each. (On a machine with 2 MiB of L2 per core,
# blocks of 8 images were also faster than blocks of 4: forward 1.30 ms against 1.38 on one thread.)
IM2COL_BLOCK_COLUMNS = 16384
# Bytes in one of the processor's cache lines. The rows of a matrix that lie a multiple of
# 4 KiB apart (1,024 float32 columns, or 2,048, 4,096: blocks of whole 16x16 or 32x32 maps
# have such widths) share a few cache sets, column by column, and a BLAS product that reads
# or writes such a matrix waits on them: (96 x 96) @ (96 x 1,024), float32, one thread, AVX-512
# kernel, 102 ns a column against 82 for 1,088 columns; (96 x 24) @ (24 x 2,048) 52 against 23.
# The convolution's own matrices get rows an odd number of cache lines apart (_matrix).
CACHE_LINE_BYTES = 64
POOL_KEYS = ("pool_height", "pool_width", "stride")
# Entries of x pooled at a time when the windows tile it (1 MiB of float32): the
# transposing copy is read by the running maximum while it is in cache, and is never a
# fresh array the size of x. 2x2 windows over 50 x 32 maps of 32x32, float32, medians of
# five runs of 30: one thread 3.9 ms for 2^17 or 2^18 entries, 3.5 for 2^19, 3.9 for 2^20;
# two threads 3.7 for 2^17, 3.0 for 2^18, 2.8 for 2^19 (fewer, longer NumPy calls hand the
# GIL back and forth less often), 3.6 for 2^20; 2^18 still cuts block 2's 16x16 maps in two.
# Any block size gives the same bits.
POOL_BLOCK_ENTRIES = 2**18


@dataclass(frozen=True)
class ConvCache:
    """What conv_forward keeps for conv_backward."""

    x_shape: tuple  # (N, C, H, W) of the input
    # the input channels first, from which the backward pass copies the columns again:
    # zero-padded, (C, N, Hp, Wp), for im2col; as it is, (C, N, H, W), for the row shifts
    # (C >= ROW_SHIFT_MIN_CHANNELS), which write the padding's zeros as they copy (module
    # docstring). A view of x itself when x already is channels first in memory.
    x_cf: np.ndarray
    w: np.ndarray  # (F, C, HH, WW) filters
    stride: int
    pad: int

    @property
    def row_shift(self):
        """Whether the row-shift convolution ran (many input channels), rather than im2col."""
        return self.x_shape[1] >= ROW_SHIFT_MIN_CHANNELS


@dataclass(frozen=True)
class ConvNaiveCache:
    """What conv_forward_naive keeps for conv_backward_naive."""

    x: np.ndarray  # (N, C, H, W) input
    w: np.ndarray  # (F, C, HH, WW) filters
    stride: int
    pad: int


@dataclass(frozen=True)
class MaxPoolCache:
    """What max_pool_forward and max_pool_forward_naive keep for the backward passes."""

    x: np.ndarray  # (N, C, H, W) input
    out: np.ndarray  # (N, C, H_out, W_out) the maximum of each window
    # flat index of each window's first maximum into x's memory: into x in (N, C, H, W) order,
    # or, if channels_first, into x.transpose(1, 0, 2, 3); shaped like out in that order
    argmax: np.ndarray
    channels_first: bool  # x was channels first in memory, and was pooled as such
    pool_height: int
    pool_width: int
    stride: int


def _integer(where, name, value, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _output_size(where, what, size, window, stride, name):
    """Number of window positions along one axis, rounded down as PyTorch does.

    `name` is the argument that set the window (e.g. "w" or "pool_param['pool_height']").

    When the stride does not divide (size - window), the last rows or columns that no
    whole window reaches are left out of the output (and get a zero gradient).
    """
    if window > size:
        raise ValueError(
            f"{where}: {name}, a window of {window}, does not fit the {what} of {size}: the window must "
            f"be at most as large as the input (PyTorch refuses this too)"
        )
    return (size - window) // stride + 1


def _read_conv_inputs(where, x, w, b, conv_param):
    """Validate the forward inputs; returns (stride, pad, H_out, W_out)."""
    validation.float_array(where, "x", x, ndim=4)
    validation.float_array(where, "w", w, ndim=4)
    validation.float_array(where, "b", b, ndim=1)
    C, H, W = x.shape[1:]
    F, Cw, HH, WW = w.shape
    if Cw != C:
        raise ValueError(
            f"{where}: w must have shape (F, {C}, HH, WW), one filter slice per channel of x; got {w.shape}"
        )
    if HH < 1 or WW < 1:
        raise ValueError(
            f"{where}: w must have filters of height and width >= 1, shape (F, C, HH, WW); got {w.shape} "
            f"(an empty filter would output only the biases; PyTorch refuses it too)"
        )
    if F < 1:
        raise ValueError(
            f"{where}: w must hold at least one filter, shape (F, C, HH, WW) with F >= 1; got {w.shape} "
            f"(a layer without filters has no output to train)"
        )
    validation.same_shape(where, "b", b, (F,), "one bias per filter")
    validation.param_dict(where, "conv_param", conv_param)
    validation.known_keys(where, "conv_param", conv_param, CONV_KEYS)
    stride = _integer(where, "conv_param['stride']", conv_param.get("stride", 1), 1)
    pad = _integer(where, "conv_param['pad']", conv_param.get("pad", 0), 0)
    H_out = _output_size(where, "padded height", H + 2 * pad, HH, stride, "w (its HH)")
    W_out = _output_size(where, "padded width", W + 2 * pad, WW, stride, "w (its WW)")
    return stride, pad, H_out, W_out


def _check_conv_dout(where, dout, x_shape, w_shape, stride, pad):
    """Raise unless dout has the shape of the forward pass's out; returns (H_out, W_out)."""
    N, _, H, W = x_shape
    F, _, HH, WW = w_shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, (N, F, H_out, W_out), "the shape of out")
    return H_out, W_out


def _read_pool_inputs(where, x, pool_param):
    """Validate the forward inputs; returns (pool_height, pool_width, stride, H_out, W_out)."""
    validation.float_array(where, "x", x, ndim=4)
    validation.param_dict(where, "pool_param", pool_param)
    validation.known_keys(where, "pool_param", pool_param, POOL_KEYS)
    ph = _integer(where, "pool_param['pool_height']", pool_param.get("pool_height", 2), 1)
    pw = _integer(where, "pool_param['pool_width']", pool_param.get("pool_width", 2), 1)
    stride = _integer(where, "pool_param['stride']", pool_param.get("stride", 2), 1)
    H, W = x.shape[2:]
    H_out = _output_size(where, "height", H, ph, stride, "pool_param['pool_height']")
    W_out = _output_size(where, "width", W, pw, stride, "pool_param['pool_width']")
    return ph, pw, stride, H_out, W_out


def _offset(p, q, stride, H_out, W_out):
    """Index of the pixels that offset (p, q) of a window touches, over all window positions."""
    return (
        slice(None), slice(None),
        slice(p, p + stride * (H_out - 1) + 1, stride), slice(q, q + stride * (W_out - 1) + 1, stride),
    )


def _pad(x, pad):
    """x zero-padded by `pad` on every side of H and W, in x's dtype."""
    if pad == 0:
        return x
    N, C, H, W = x.shape
    x_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    x_pad[:, :, pad : pad + H, pad : pad + W] = x
    return x_pad


def _pad_channels_first(x, pad):
    """x as (C, N, H + 2*pad, W + 2*pad), zero-padded, contiguous, in x's dtype.

    The transposing copy moves whole rows of W values, so it costs about as much as a plain copy.
    """
    N, C, H, W = x.shape
    x_pad = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=x.dtype) if pad else np.empty((C, N, H, W), dtype=x.dtype)
    x_pad[:, :, pad : pad + H, pad : pad + W] = x.transpose(1, 0, 2, 3)
    return x_pad


def _channels_first(a):
    """(N, C, H, W) a as a (C, N*H*W) matrix: a view when a already is channels first in memory."""
    N, C, H, W = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(C, N * H * W)


def _window_origins(x_shape, stride, H_out, W_out):
    """Flat index into x of the top-left pixel of every window, as two terms to add.

    The index is planes + corners: planes (N, C, 1, 1) the start of every (n, c) map,
    corners (H_out, W_out) the window's corner within a map; the caller adds them in place
    rather than building an (N, C, H_out, W_out) array of origins.
    """
    N, C, H, W = x_shape
    planes = np.arange(N * C, dtype=np.intp).reshape(N, C, 1, 1) * (H * W)
    rows = np.arange(H_out, dtype=np.intp).reshape(H_out, 1) * (stride * W)
    return planes, rows + np.arange(W_out, dtype=np.intp) * stride


# ---------------------------------------------------------------------------------------
# Readable versions: the formulas as loops.


def conv_forward_naive(x, w, b, conv_param):
    """Convolutional layer, forward pass, as loops (slow; read it against the formula).

        out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]

    Inputs and returns as conv_forward; the cache is a ConvNaiveCache for conv_backward_naive.
    """
    b = validation.integer_param_as_float(b, x)
    stride, pad, H_out, W_out = _read_conv_inputs("conv_forward_naive", x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    x_pad = _pad(x, pad)
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    field = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(field * w[f]) + b[f]
    return out, ConvNaiveCache(x=x, w=w, stride=stride, pad=pad)


def conv_backward_naive(dout, cache):
    """Convolutional layer, backward pass, as loops (slow; read it against the formula).

    Output (n, f, i, j) was w[f] dotted with one receptive field plus b[f], so its upstream
    gradient dout[n, f, i, j] adds w[f] times itself onto that field of dx_pad, the field
    times itself onto dw[f], and itself onto db[f].

    Inputs and returns as conv_backward, with the ConvNaiveCache of conv_forward_naive.
    """
    where = "conv_backward_naive"
    validation.cache_of(where, cache, ConvNaiveCache, "conv_forward_naive")
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = _check_conv_dout(where, dout, x.shape, w.shape, stride, pad)
    x_pad = _pad(x, pad)
    dtype = np.result_type(dout, x, w)
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = np.zeros(F, dtype=dtype)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    field = (n, slice(None), slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW))
                    dx_pad[field] += w[f] * dout[n, f, i, j]
                    dw[f] += x_pad[field] * dout[n, f, i, j]
                    db[f] += dout[n, f, i, j]
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max-pooling layer, forward pass, as loops: the largest value of each window, per channel.

    Inputs and returns as max_pool_forward.
    """
    ph, pw, stride, H_out, W_out = _read_pool_inputs("max_pool_forward_naive", x, pool_param)
    N, C = x.shape[:2]
    H, W = x.shape[2:]
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    argmax = np.zeros((N, C, H_out, W_out), dtype=np.intp)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    out[n, c, i, j] = window.max()
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    argmax[n, c, i, j] = ((n * C + c) * H + i * stride + p) * W + j * stride + q
    cache = MaxPoolCache(x=x, out=out, argmax=argmax, channels_first=False, pool_height=ph, pool_width=pw,
                         stride=stride)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Max-pooling layer, backward pass, as loops: each window's gradient goes to its maximum.

    A tie sends the whole gradient to the first maximum of the window in row-major order,
    as PyTorch does, and a window holding a NaN (its maximum is NaN) sends it to its first
    NaN, also as PyTorch does; where windows overlap, a pixel that is the maximum of several
    windows receives the sum of their gradients. Inputs and returns as max_pool_backward.
    """
    where = "max_pool_backward_naive"
    validation.cache_of(where, cache, MaxPoolCache, "max_pool_forward_naive")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.out.shape, "the shape of out")
    x, ph, pw, stride = cache.x, cache.pool_height, cache.pool_width, cache.stride
    N, C, H_out, W_out = dout.shape
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


# ---------------------------------------------------------------------------------------
# Fast versions: the same results from matrix products and strided slices.


def conv_forward(x, w, b, conv_param):
    """Convolutional layer (cross-correlation, as in every deep-learning library), forward pass.

        out[n, f, i, j] = b[f] + sum_{c, p, q} w[f, c, p, q] * x_pad[n, c, i*stride + p, j*stride + q]

    computed as matrix products with the receptive fields as columns (im2col, or row shifts
    with many input channels; see the module docstring). Same inputs and results as
    conv_forward_naive.

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with keys
      - stride: step between neighbouring receptive fields (default 1)
      - pad: zeros added on every side of H and W (default 0)

    Returns a tuple of:
    - out: (N, F, H_out, W_out), H_out = (H + 2*pad - HH) // stride + 1 (rounded down, as
      in PyTorch), likewise W_out
    - cache: ConvCache for conv_backward
    """
    b = validation.integer_param_as_float(b, x)
    stride, pad, H_out, W_out = _read_conv_inputs("conv_forward", x, w, b, conv_param)
    N, C = x.shape[:2]
    F, _, HH, WW = w.shape
    if C >= ROW_SHIFT_MIN_CHANNELS:
        x_cf = np.ascontiguousarray(x.transpose(1, 0, 2, 3))
        out = _row_shift_forward(x_cf, w, b, stride, pad, H_out, W_out)
    else:
        x_cf = _pad_channels_first(x, pad)
        out = _im2col_forward(x_cf, w, b, stride, H_out, W_out)
    cache = ConvCache(x_shape=x.shape, x_cf=x_cf, w=w, stride=stride, pad=pad)
    return out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3), cache


def conv_backward(dout, cache):
    """Convolutional layer, backward pass, as matrix products (see the module docstring).

    Every input pixel fed several outputs (one per filter offset that covered it), so dx
    collects, for each offset (p, q), the upstream gradient routed back through w[:, :, p, q]
    onto the pixels that offset touched. Same results as conv_backward_naive.

    Inputs:
    - dout: (N, F, H_out, W_out) upstream gradient
    - cache: ConvCache from conv_forward

    Returns a tuple of:
    - dx: (N, C, H, W)
    - dw: (F, C, HH, WW)
    - db: (F,)
    """
    dx, dw, db = _conv_backward("conv_backward", dout, cache, with_dx=True)
    return dx, dw, db


def conv_backward_weights(dout, cache):
    """Convolutional layer, backward pass for the filters and biases only: (dw, db).

    For a network's first layer, whose input (the images) needs no gradient: the product
    that routes dout back onto the input and the scatter onto dx are left out, as PyTorch's
    autograd leaves them out for an input that does not require a gradient.

    Inputs: as conv_backward. Returns dw (F, C, HH, WW) and db (F,), as conv_backward's.
    """
    _, dw, db = _conv_backward("conv_backward_weights", dout, cache, with_dx=False)
    return dw, db


def _conv_backward(where, dout, cache, with_dx):
    """conv_backward's checks and work; (dx, dw, db), dx None unless with_dx."""
    validation.cache_of(where, cache, ConvCache, "conv_forward")
    w, stride, pad = cache.w, cache.stride, cache.pad
    N = cache.x_shape[0]
    F = w.shape[0]
    H_out, W_out = _check_conv_dout(where, dout, cache.x_shape, w.shape, stride, pad)

    dout_rows = _channels_first(dout)  # (F, N*H_out*W_out), a view when dout came from conv_forward
    db = dout_rows.sum(axis=1)
    dout_cf = dout_rows.reshape(F, N, H_out, W_out)
    backward = _row_shift_backward if cache.row_shift else _im2col_backward
    dx_cf, dw = backward(dout_cf, cache.x_cf, w, stride, pad, with_dx)
    if not with_dx:
        return None, dw, db
    return dx_cf.transpose(1, 0, 2, 3), dw, db


def _im2col(x_pad, HH, WW, stride, H_out, W_out, cols):
    """Write into cols (at least C*HH*WW rows) the receptive fields of channels-first x_pad.

    cols[(c, p, q), (n, i, j)] = x_pad[c, n, i*stride + p, j*stride + q], over the n images
    of x_pad (C, n, Hp, Wp): one strided copy per filter offset. Returns the filled part of
    cols, (C*HH*WW, n*H_out*W_out).
    """
    C, n = x_pad.shape[:2]
    filled = cols[: C * HH * WW, : n * H_out * W_out]
    fields = filled.reshape(C, HH, WW, n, H_out, W_out)
    for p in range(HH):
        for q in range(WW):
            fields[:, p, q] = x_pad[_offset(p, q, stride, H_out, W_out)]
    return filled


def _im2col_forward(x_pad, w, b, stride, H_out, W_out):
    """im2col's convolution of channels-first x_pad, a few images at a time (module docstring).

    Returns out (F, N*H_out*W_out), channels first.
    """
    C, N = x_pad.shape[:2]
    F, _, HH, WW = w.shape
    K, positions = C * HH * WW, H_out * W_out
    out = np.empty((F, N * positions), dtype=np.result_type(x_pad, w, b))
    # the filters with a last column of biases, against a last row of ones in cols, so that
    # the product adds the bias (no pass over out of its own)
    w_b = np.concatenate([w.reshape(F, K), b[:, None]], axis=1, dtype=np.result_type(w, b))

    def convolve(n):
        cols = _matrix(K + 1, (n.stop - n.start) * positions, x_pad.dtype)
        cols[K] = 1
        _im2col(x_pad[:, n], HH, WW, stride, H_out, W_out, cols)
        # The product goes to a matrix of its own and is then copied: out's rows lie
        # N*H_out*W_out entries apart, a multiple of 4 KiB for 32x32 maps (CACHE_LINE_BYTES),
        # and the product straight into them took 1.50 ms of the benchmark's block 1 against
        # 1.15 with the copy (float32, one thread)
        block = np.matmul(w_b, cols, out=_matrix(F, cols.shape[1], out.dtype))
        out[:, n.start * positions : n.stop * positions] = block

    for_each_share(convolve, [(n,) for n in _image_blocks(N, positions, IM2COL_BLOCK_COLUMNS)])
    return out


def _im2col_backward(dout_cf, x_pad, w, stride, pad, with_dx):
    """Backward pass of _im2col_forward; returns (dx channels first, or None unless with_dx; dw).

    dout_cf is (F, N, H_out, W_out). Per block of images: the block's columns copied again
    from x_pad, dw's share dout_rows @ cols.T, and with dx, dcols = w_row.T @ dout_rows and
    one strided add per filter offset onto dx_pad.
    """
    F, N, H_out, W_out = dout_cf.shape
    C, _, Hp, Wp = x_pad.shape
    _, _, HH, WW = w.shape
    K, positions = C * HH * WW, H_out * W_out
    dout_rows = dout_cf.reshape(F, N * positions)
    w_col = w.reshape(F, K).T
    dtype = np.result_type(dout_cf, x_pad, w)
    dx_pad = np.zeros((C, N, Hp, Wp), dtype=dtype) if with_dx else None
    blocks = _image_blocks(N, positions, IM2COL_BLOCK_COLUMNS)
    dw_blocks = [None] * len(blocks)  # each block's share of dw, added up in block order below

    def backprop(k, n):
        d = dout_rows[:, n.start * positions : n.stop * positions]
        cols = _matrix(K, d.shape[1], x_pad.dtype)
        dw_blocks[k] = d @ _im2col(x_pad[:, n], HH, WW, stride, H_out, W_out, cols).T
        if not with_dx:
            return
        fields = np.matmul(w_col, d, out=_matrix(K, d.shape[1], dtype)).reshape(C, HH, WW, -1, H_out, W_out)
        dx_block = dx_pad[:, n]
        for p in range(HH):
            for q in range(WW):
                # Within one offset no two positions touch the same pixel, so += on the slice is exact.
                dx_block[_offset(p, q, stride, H_out, W_out)] += fields[:, p, q]

    # The blocks write disjoint images of dx_pad and their own dw_blocks: they are shared
    # among the threads, and dw is summed in one order whatever the thread count.
    for_each_share(backprop, enumerate(blocks))
    dw = _sum_in_order(dw_blocks, dtype).reshape(w.shape)
    if not with_dx:
        return None, dw
    return dx_pad[:, :, pad : Hp - pad, pad : Wp - pad], dw


def _inside(p, stride, pad, size, size_out):
    """Offset p along one axis of size `size`, padded by `pad`: which outputs see real input.

    Output i reads input i*stride + p - pad, a zero of the padding unless it lies within
    0 .. size-1. Returns (outputs, inputs): the slice of outputs that read real input and
    the slice of the inputs they read, in the same order; two empty slices if none do.
    """
    lo = max(0, -((p - pad) // stride))
    hi = min(size_out, (size - 1 + pad - p) // stride + 1)
    if hi <= lo:
        return slice(0, 0), slice(0, 0)
    first = lo * stride + p - pad
    return slice(lo, hi), slice(first, first + stride * (hi - lo - 1) + 1, stride)


def _sum_in_order(parts, dtype):
    """The blocks' shares of a gradient added up one after the other, from zero, in dtype.

    Always in the blocks' order, whichever thread computed which: the same bits at every
    thread count.
    """
    total = np.zeros(parts[0].shape, dtype=dtype)
    for part in parts:
        total += part
    return total


def _matrix(rows, cols, dtype):
    """An uninitialized (rows, cols) matrix whose rows start an odd number of cache lines apart."""
    per_line = max(1, CACHE_LINE_BYTES // np.dtype(dtype).itemsize)
    lines = -(-cols // per_line)
    lines += 1 - lines % 2
    return np.empty((rows, lines * per_line), dtype=dtype)[:, :cols]


def _image_blocks(N, entries_per_image, block_entries):
    """The fewest equal slices of range(N) with at most block_entries / entries_per_image images each (at least one)."""
    return equal_slices(N, max(1, block_entries // entries_per_image))


def _row_shift_cols(x_cf, WW, stride, pad, W_out):
    """cols[(q, c), (n, r, j)] = x_cf[c, n, r, j*stride + q - pad] (0 in the padding), shape (WW*C, N*H*W_out).

    The horizontal offsets only, over every row r of the unpadded channels-first x_cf
    (C, N, H, W), so that the product with w_rows holds every vertical offset of every
    output row. The zeros of the left and right padding are written here, as columns of
    cols; the top and bottom padding are rows that the vertical shifts leave out.
    """
    C, N, H, W = x_cf.shape
    matrix = _matrix(WW * C, N * H * W_out, x_cf.dtype)
    cols = matrix.reshape(WW, C, N, H, W_out)  # a view: its rows are whole rows of matrix
    for q in range(WW):
        outputs, inputs = _inside(q, stride, pad, W, W_out)
        cols[q, ..., outputs] = x_cf[..., inputs]
        cols[q, ..., : outputs.start] = 0
        cols[q, ..., outputs.stop :] = 0
    return matrix


def _row_shift_forward(x_cf, w, b, stride, pad, H_out, W_out):
    """The convolution of channels-first x_cf, copying horizontal offsets only (module docstring).

    Returns out (F, N, H_out, W_out), channels first.
    """
    C, N, H, _ = x_cf.shape
    F, _, HH, WW = w.shape
    # w_rows[(p, f), (q, c)] = w[f, c, p, q]: one product for all offsets
    w_rows = w.transpose(2, 0, 3, 1).reshape(HH * F, WW * C)
    out = np.empty((F, N, H_out, W_out), dtype=np.result_type(x_cf, w, b))
    rows = [_inside(p, stride, pad, H, H_out) for p in range(HH)]
    # An offset that every output row reads real input with (the middle one of a "same"
    # convolution) writes its rows plus the bias; the others add onto theirs. With none,
    # the bias is written first.
    whole = [p for p, (outputs, _) in enumerate(rows) if outputs == slice(0, H_out)]
    bias = b[:, None, None, None]

    def convolve(n):
        cols = _row_shift_cols(x_cf[:, n], WW, stride, pad, W_out)
        Z = np.matmul(w_rows, cols, out=_matrix(HH * F, cols.shape[1], out.dtype)).reshape(HH, F, -1, H, W_out)
        out_n = out[:, n]
        if whole:
            np.add(Z[whole[0], :, :, rows[whole[0]][1]], bias, out=out_n)
        else:
            out_n[...] = bias
        # out[:, :, i] += Z[p, :, :, i*stride + p - pad], over the rows i that read real input
        for p, (outputs, inputs) in enumerate(rows):
            if p not in whole[:1]:
                out_n[:, :, outputs] += Z[p, :, :, inputs]

    # A few images at a time: cols and Z stay in the processor's caches from the copy to
    # the row sum, and neither is ever a fresh array of the whole batch (for a 32-channel
    # layer, allocating and filling those took about as long as the product itself). Every
    # block writes its own images of out: the blocks are shared among the threads.
    for_each_share(convolve, [(n,) for n in _image_blocks(N, HH * F * H * W_out, ROW_SHIFT_BLOCK_ENTRIES)])
    return out


def _row_shift_backward(dout_cf, x_cf, w, stride, pad, with_dx):
    """Backward pass of _row_shift_forward; returns (dx channels first, or None unless with_dx; dw).

    dout_cf is (F, N, H_out, W_out), x_cf the unpadded (C, N, H, W) input. The steps of the
    forward pass in reverse, a few images at a time: the row sum sends dout to the rows of
    Z it read (zero elsewhere), the product gives dw's share and, with dx, dcols, and each
    horizontal offset's copy adds its columns back onto x.
    """
    F, N, H_out, W_out = dout_cf.shape
    C, _, H, W = x_cf.shape
    _, _, HH, WW = w.shape
    w_rows = w.transpose(2, 0, 3, 1).reshape(HH * F, WW * C)
    rows = [_inside(p, stride, pad, H, H_out) for p in range(HH)]
    columns = [_inside(q, stride, pad, W, W_out) for q in range(WW)]
    # An offset whose columns land on every pixel of x, one column each (the middle one of
    # a "same" convolution with stride 1), writes dx; the others add onto it. With none, dx
    # starts from zeros.
    whole = [q for q, (_, inputs) in enumerate(columns) if inputs == slice(0, W, 1)]
    dx = None
    if with_dx:
        allocate = np.empty if whole else np.zeros
        dx = allocate((C, N, H, W), dtype=np.result_type(dout_cf, w))
    blocks = _image_blocks(N, HH * F * H * W_out, ROW_SHIFT_BLOCK_ENTRIES)
    dw_blocks = [None] * len(blocks)  # each block's share of dw, added up in block order below

    def backprop(k, n):
        dZ = _matrix(HH * F, (n.stop - n.start) * H * W_out, dout_cf.dtype)
        dZ[...] = 0
        for p, (outputs, inputs) in enumerate(rows):
            dZ.reshape(HH, F, -1, H, W_out)[p, :, :, inputs] = dout_cf[:, n, outputs]
        dw_blocks[k] = dZ @ _row_shift_cols(x_cf[:, n], WW, stride, pad, W_out).T
        if not with_dx:
            return
        dcols = np.matmul(w_rows.T, dZ, out=_matrix(WW * C, dZ.shape[1], dx.dtype)).reshape(WW, C, -1, H, W_out)
        dx_n = dx[:, n]
        if whole:
            dx_n[...] = dcols[whole[0], ..., columns[whole[0]][0]]
        for q, (outputs, inputs) in enumerate(columns):
            # Within one offset no two columns touch the same pixel, so += on the slice is exact.
            if q not in whole[:1]:
                dx_n[..., inputs] += dcols[q, ..., outputs]

    # The blocks write disjoint images of dx and their own dw_blocks: they are shared
    # among the threads, and dw is summed in one order whatever the thread count.
    for_each_share(backprop, enumerate(blocks))
    dw_rows = _sum_in_order(dw_blocks, np.result_type(dout_cf, x_cf))
    dw = dw_rows.reshape(HH, F, WW, C).transpose(1, 3, 0, 2)
    return dx, np.ascontiguousarray(dw)


def _tiles(x, ph, pw, stride, H_out, W_out):
    """Whether the windows tile x: stride equal to the window, no row or column left over."""
    H, W = x.shape[2:]
    return stride == ph == pw and H == ph * H_out and W == pw * W_out


def _window_offsets(x, ph, pw, stride, H_out, W_out):
    """The ph*pw strided views x[:, :, p + stride*i, q + stride*j], offsets in row-major order.

    When the windows tile x (_tiles) the views come from one copy of x with the pw columns of
    every window moved apart, x_q[q] = x[..., q::pw]: NumPy's elementwise loops are many times
    faster along contiguous runs of W_out values than along every pw-th value, and the one
    transposing copy costs about one pass over x. Otherwise the views are strided slices of x.
    """
    N, C = x.shape[:2]
    if _tiles(x, ph, pw, stride, H_out, W_out):
        x_q = np.ascontiguousarray(x.reshape(-1, pw).T).reshape(pw, N, C, H_out, ph, W_out)
        return [x_q[q, :, :, :, p] for p in range(ph) for q in range(pw)]
    return [x[_offset(p, q, stride, H_out, W_out)] for p in range(ph) for q in range(pw)]


def _running_max(views, offsets, out, argmax):
    """Write into out the maximum of the views, and into argmax the offset of the first one.

    offsets[k] is the flat distance from a window's corner to the pixel of views[k]; they
    grow with k, so the running maximum of larger * offsets[k], larger where views[k] is
    strictly larger than all before it, is the first maximum's offset in row-major order.
    (np.copyto with where= would write it directly, but takes several times as long.)
    argmax must start at zero. A NaN is the maximum of its window, as in PyTorch:
    np.maximum propagates it, and only when out holds one at the end is the pass redone
    with the NaN rule (the first NaN claims the window, and nothing compares larger than
    NaN afterwards), which costs three more temporaries per offset.
    """
    offset = np.empty_like(argmax)  # larger * offsets[k], one array for every k
    np.copyto(out, views[0])
    for view, k_offset in zip(views[1:], offsets[1:]):
        np.multiply(view > out, k_offset, out=offset)
        np.maximum(argmax, offset, out=argmax)
        np.maximum(out, view, out=out)
    if not np.isnan(out).any():
        return
    np.copyto(out, views[0])
    argmax[...] = 0
    for view, k_offset in zip(views[1:], offsets[1:]):
        larger = view > out
        larger |= np.isnan(view) & ~np.isnan(out)
        np.multiply(larger, k_offset, out=offset)
        np.maximum(argmax, offset, out=argmax)
        np.maximum(out, view, out=out)


def max_pool_forward(x, pool_param):
    """Max-pooling layer, forward pass: the largest value of each window, per channel.

    The running maximum over the window's offsets, each a strided view of x, and the flat
    index into x of the first maximum of each window, which the backward pass routes the
    gradient to (see the module docstring). Same inputs and results as max_pool_forward_naive.

    Inputs:
    - x: (N, C, H, W) floating-point data; never modified
    - pool_param: dict with keys pool_height, pool_width (default 2 each) and stride
      (default 2); rows and columns that no whole window reaches are left out, as in PyTorch

    Returns a tuple of:
    - out: (N, C, H_out, W_out), H_out = (H - pool_height) // stride + 1, likewise W_out
    - cache: MaxPoolCache for max_pool_backward
    """
    ph, pw, stride, H_out, W_out = _read_pool_inputs("max_pool_forward", x, pool_param)
    # Pooling treats every channel of every sample alike, so channels-first x (a conv or
    # batch norm output, and what follows them elementwise) is pooled in its own memory
    # order, as a (C, N, H, W) array, with no copy; out is then channels first too.
    channels_first = not x.flags.c_contiguous and x.transpose(1, 0, 2, 3).flags.c_contiguous
    x_mem = x.transpose(1, 0, 2, 3) if channels_first else x
    A, B, H, W = x_mem.shape
    out = np.empty((A, B, H_out, W_out), dtype=x.dtype)
    argmax = np.zeros(out.shape, dtype=np.intp)
    offsets = [p * W + q for p in range(ph) for q in range(pw)]
    planes, corners = _window_origins(x_mem.shape, stride, H_out, W_out)
    if _tiles(x_mem, ph, pw, stride, H_out, W_out) and x_mem.flags.c_contiguous:
        # A few (H, W) maps at a time, so that their transposing copy (_window_offsets) is
        # still in cache when the running maximum reads it, and is never a fresh array of
        # the size of x. The blocks are independent: they are shared among the threads.
        maps = x_mem.reshape(A * B, 1, H, W)
        out_maps, argmax_maps = out.reshape(A * B, 1, H_out, W_out), argmax.reshape(A * B, 1, H_out, W_out)
        step = max(1, POOL_BLOCK_ENTRIES // (H * W))

        planes_maps = planes.reshape(A * B, 1, 1, 1)

        def pool_block(block):
            views = _window_offsets(maps[block], ph, pw, stride, H_out, W_out)
            _running_max(views, offsets, out_maps[block], argmax_maps[block])
            # the offsets become flat indices into x's memory: each window's origin added in place
            argmax_maps[block] += planes_maps[block]
            argmax_maps[block] += corners

        for_each_share(pool_block, [(slice(m, m + step),) for m in range(0, A * B, step)])
    else:
        _running_max(_window_offsets(x_mem, ph, pw, stride, H_out, W_out), offsets, out, argmax)
        argmax += planes
        argmax += corners
    if channels_first:
        out = out.transpose(1, 0, 2, 3)
    cache = MaxPoolCache(x=x, out=out, argmax=argmax, channels_first=channels_first, pool_height=ph,
                         pool_width=pw, stride=stride)
    return out, cache


def max_pool_backward(dout, cache):
    """Max-pooling layer, backward pass: each window's gradient goes to its maximum.

    A tie sends the whole gradient to the first maximum of the window in row-major order,
    as PyTorch does: the forward pass recorded that pixel's index (cache.argmax). Where windows overlap, a pixel that is the maximum of several
    windows receives the sum of their gradients. Same results as max_pool_backward_naive.

    Inputs:
    - dout: (N, C, H_out, W_out) upstream gradient
    - cache: MaxPoolCache from max_pool_forward (or max_pool_forward_naive)

    Returns:
    - dx: (N, C, H, W)
    """
    where = "max_pool_backward"
    validation.cache_of(where, cache, MaxPoolCache, "max_pool_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.out.shape, "the shape of out")
    # dx in the memory order of x, as the forward pass's indices count
    x_mem_shape = cache.argmax.shape[:2] + cache.x.shape[2:]
    dout_mem = dout.transpose(1, 0, 2, 3) if cache.channels_first else dout
    dx = np.zeros(cache.x.size, dtype=dout.dtype)
    if cache.stride >= max(cache.pool_height, cache.pool_width):
        # Windows that do not overlap have distinct maxima: one scatter writes every gradient.
        dx[cache.argmax.ravel()] = dout_mem.ravel()
    else:
        # A pixel may be the maximum of several windows: add.at sums their gradients in window order.
        np.add.at(dx, cache.argmax.ravel(), dout_mem.ravel())
    dx = dx.reshape(x_mem_shape)
    return dx.transpose(1, 0, 2, 3) if cache.channels_first else dx
