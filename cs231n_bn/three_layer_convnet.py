"""CS231n's ThreeLayerConvNet (its `classifiers/cnn.py`), with the same architecture,
constructor and parameter names:

    conv - relu - 2x2 max pool - affine - relu - affine - softmax

The convolution keeps the height and width (stride 1, padding (filter_size - 1) / 2) and
the pool halves them. The interface is CS231n's: parameters in `model.params` (W1, b1 of
the convolution, W2, b2 of the hidden affine layer, W3, b3 of the scores), `model.loss(X)`
returns class scores and `model.loss(X, y)` returns (loss, grads), so a Solver trains it.
`model.reg` is read at every call, so a cell may change it after building the model.
"""

import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n_bn.layers import affine_backward, affine_forward, softmax_loss

WEIGHTS = ("W1", "W2", "W3")


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, for (N, C, H, W) images."""

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """Initialize the network.

        Inputs:
        - input_dim: (C, H, W) of one image; H and W even (the pool halves them)
        - num_filters: F, the number of convolution filters
        - filter_size: k, the odd width and height of the filters (so that padding
          (k - 1) / 2 keeps H and W)
        - hidden_dim: number of units of the hidden affine layer
        - num_classes: number of scores the network outputs
        - weight_scale: standard deviation of the Gaussian initial weights (biases start at 0);
          drawn from NumPy's global generator, as CS231n's are, so np.random.seed fixes them
        - reg: L2 regularization strength >= 0; the loss adds 0.5 * reg * sum(W**2) over W1..W3
        - dtype: floating dtype of the parameters (np.float64 for gradient checks); loss()
          casts floating-point images of another dtype to it
        """
        where = "ThreeLayerConvNet"
        if not isinstance(input_dim, (tuple, list)) or len(input_dim) != 3 or not all(
            _is_integer(d) and d >= 1 for d in input_dim
        ):
            raise ValueError(f"{where}: input_dim must be (C, H, W), three integers >= 1; got {input_dim!r}")
        for name, value in (
            ("num_filters", num_filters), ("filter_size", filter_size),
            ("hidden_dim", hidden_dim), ("num_classes", num_classes),
        ):
            validation.positive_int(where, name, value)
        C, H, W = (int(d) for d in input_dim)
        if H % 2 or W % 2:
            raise ValueError(f"{where}: the 2x2 pool needs an even height and width; got input_dim {tuple(input_dim)}")
        if filter_size % 2 == 0:
            raise ValueError(
                f"{where}: filter_size must be odd, so that padding (filter_size - 1) / 2 keeps "
                f"the height and width; got {filter_size}"
            )
        validation.positive_number(where, "weight_scale", weight_scale)
        if not isinstance(reg, numbers.Real) or isinstance(reg, bool) or not np.isfinite(reg) or reg < 0:
            raise ValueError(f"{where}: reg must be a finite number >= 0; got {reg!r}")
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"{where}: dtype must be a floating-point dtype such as np.float32; got {dtype!r}")
        self.input_dim = (C, H, W)
        self.reg = float(reg)
        self.dtype = np.dtype(dtype)
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        pooled = num_filters * (H // 2) * (W // 2)
        shapes = {
            "W1": (num_filters, C, filter_size, filter_size),
            "W2": (pooled, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for i, name in enumerate(WEIGHTS, start=1):
            self.params[name] = (weight_scale * np.random.standard_normal(shapes[name])).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shapes[name][0] if i == 1 else shapes[name][1], dtype=dtype)

    def loss(self, X, y=None):
        """Class scores for X, or the loss and its gradients when labels y are given.

        Inputs:
        - X: (N, C, H, W) floating-point images; another floating dtype than the network's is
          cast to it (as CS231n's model does); integer, boolean and complex arrays are refused
        - y: (N,) integer labels, or None

        Returns:
        - if y is None: scores, (N, num_classes)
        - else a tuple (loss, grads): the mean softmax loss plus 0.5 * reg * sum(W**2), and a
          dict with the gradient of the loss for every entry of self.params
        """
        where = "ThreeLayerConvNet.loss"
        validation.float_array(where, "X", X, ndim=4)
        if X.shape[1:] != self.input_dim:
            raise ValueError(f"{where}: X must have shape (N, {', '.join(map(str, self.input_dim))}); got {X.shape}")
        X = X.astype(self.dtype, copy=False)
        p = self.params
        pooled, pool_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], self.conv_param, self.pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(p[name] ** 2) for name in WEIGHTS)
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, pool_cache)
        for name in WEIGHTS:
            grads[name] = grads[name] + self.reg * p[name]
        return loss, grads
