"""The building blocks around batch norm: affine, ReLU and the softmax loss."""

from dataclasses import dataclass

import numpy as np

from cs231n_bn import validation


@dataclass(frozen=True)
class AffineCache:
    x: np.ndarray  # input as given, (N, d_1, ..., d_k)
    w: np.ndarray  # (D, M), D = d_1 * ... * d_k
    b: np.ndarray  # (M,)


@dataclass(frozen=True)
class ReluCache:
    x: np.ndarray  # input of the ReLU


def affine_forward(x, w, b):
    """Fully connected layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: (N, d_1, ..., d_k) data; each sample is flattened to D = d_1 * ... * d_k values
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M)
    - cache: AffineCache
    """
    where = "affine_forward"
    validation.float_array(where, "x", x)
    validation.float_array(where, "w", w, ndim=2)
    validation.float_array(where, "b", b, ndim=1)
    if x.ndim < 2:
        raise ValueError(f"{where}: x must have a batch axis and at least one feature axis; got shape {x.shape}")
    N, D = x.shape[0], int(np.prod(x.shape[1:]))
    if w.shape[0] != D:
        raise ValueError(
            f"{where}: w must have shape ({D}, M) to match x's {D} features per sample; got {w.shape}"
        )
    validation.same_shape(where, "b", b, (w.shape[1],), "one bias per output unit")
    out = x.reshape(N, D) @ w + b
    return out, AffineCache(x=x, w=w, b=b)


def affine_backward(dout, cache):
    """Fully connected layer, backward pass.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: AffineCache from affine_forward

    Returns a tuple of:
    - dx: gradient with respect to x, shaped like x
    - dw: (D, M)
    - db: (M,)
    """
    where = "affine_backward"
    validation.cache_of(where, cache, AffineCache, "affine_forward")
    x, w = cache.x, cache.w
    N = x.shape[0]
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, (N, w.shape[1]), "the shape of out")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: out = max(0, x), elementwise.

    Returns a tuple of:
    - out: shaped like x
    - cache: ReluCache
    """
    validation.float_array("relu_forward", "x", x)
    return np.maximum(x, 0), ReluCache(x=x)


def relu_backward(dout, cache):
    """ReLU, backward pass: the gradient flows where the input was positive.

    Returns:
    - dx: shaped like x
    """
    where = "relu_backward"
    # An AffineCache also has an x: without this check its x would pass for the ReLU's input
    validation.cache_of(where, cache, ReluCache, "relu_forward")
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x")
    return dout * (cache.x > 0)


def softmax_loss(x, y):
    """Mean cross-entropy loss of a softmax classifier, and its gradient.

    Inputs:
    - x: (N, C) class scores
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar
    - dx: (N, C) gradient of the loss with respect to x
    """
    where = "softmax_loss"
    validation.float_array(where, "x", x, ndim=2)
    N, C = x.shape
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{where}: y must be an integer numpy array of labels; got {getattr(y, 'dtype', type(y).__name__)}")
    validation.same_shape(where, "y", y, (N,), "one label per row of x")
    # The mean loss of no samples is 0/0: refuse instead of returning NaN
    validation.nonempty_batch(where, "x", x)
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"{where}: labels y must lie in [0, {C - 1}]; got values from {y.min()} to {y.max()}")
    # Shifting by the row maximum leaves the softmax unchanged and keeps exp() from overflowing.
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    return loss, dx
