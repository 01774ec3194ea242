"""A small convolutional network whose normalization layer can be switched.

    conv 3x3 (same padding) - norm - relu - 2x2 max pool - affine - softmax

with norm one of "batchnorm" (spatial batch norm), "groupnorm" (group norm with
`num_groups` groups) or None. The interface is CS231n's: parameters in `model.params`,
`model.loss(X)` returns class scores, `model.loss(X, y)` returns (loss, grads), and the
normalization's parameter dicts live in `model.bn_params` (one dict per norm layer), where
the forward pass writes batch norm's running statistics, so a Solver can train it.
"""

import numpy as np

from cs231n_bn import validation as check
from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from cs231n_bn.spatial import (
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

NORMALIZATIONS = (None, "batchnorm", "groupnorm")


class SmallConvNet:
    """conv - norm - relu - pool - affine, for (N, C, H, W) images.

    Parameters (in self.params):
    - W1: (F, C, k, k) filters, b1: (F,) their biases
    - gamma1, beta1: (F,) scale and shift of the norm layer (only with a normalization)
    - W2: (F * H/2 * W/2, num_classes) weights of the classifier, b2: (num_classes,)
    """

    def __init__(
        self,
        input_dim=(1, 8, 8),
        num_filters=16,
        filter_size=3,
        num_classes=10,
        normalization=None,
        num_groups=4,
        weight_scale=None,
        reg=0.0,
        dtype=np.float64,
        seed=0,
    ):
        """Initialize the network.

        Inputs:
        - input_dim: (C, H, W) of one image; H and W must be even (for the 2x2 pool)
        - num_filters: F, the number of convolution filters (channels after the conv)
        - filter_size: k, an odd filter width, so that padding (k - 1) / 2 keeps H and W
        - num_classes: number of scores the network outputs
        - normalization: None, "batchnorm" or "groupnorm"
        - num_groups: G for group norm; must divide num_filters
        - weight_scale: standard deviation of the initial weights; None scales each layer's
          weights by sqrt(2 / fan_in) (He et al. 2015), which suits the ReLU
        - reg: L2 regularization strength; the loss adds 0.5 * reg * sum(W**2)
        - dtype: floating dtype of the parameters (float64 for gradient checks)
        - seed: seed of the generator that draws the initial weights
        """
        where = "SmallConvNet"
        check.choice(where, "normalization", normalization, NORMALIZATIONS)
        if len(input_dim) != 3:
            raise ValueError(f"{where}: input_dim must be (C, H, W); got {input_dim!r}")
        C, H, W = input_dim
        if H % 2 or W % 2:
            raise ValueError(f"{where}: the 2x2 pool needs an even height and width; got input_dim {input_dim!r}")
        if filter_size % 2 == 0:
            raise ValueError(f"{where}: filter_size must be odd so 'same' padding exists; got {filter_size}")
        if normalization == "groupnorm" and num_filters % num_groups:
            raise ValueError(
                f"{where}: num_groups must divide num_filters={num_filters}; got num_groups={num_groups}"
            )
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{where}: dtype must be a floating-point type; got {dtype!r}")
        self.normalization = normalization
        self.num_groups = num_groups
        self.reg = reg
        self.dtype = dtype
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        rng = np.random.default_rng(seed)
        F, k = num_filters, filter_size
        pooled = F * (H // 2) * (W // 2)

        def scale(fan_in):
            return np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale

        self.params = {
            "W1": rng.normal(0.0, scale(C * k * k), size=(F, C, k, k)),
            "b1": np.zeros(F),
            "W2": rng.normal(0.0, scale(pooled), size=(pooled, num_classes)),
            "b2": np.zeros(num_classes),
        }
        if normalization is not None:
            self.params["gamma1"] = np.ones(F)
            self.params["beta1"] = np.zeros(F)
        self.params = {name: p.astype(dtype) for name, p in self.params.items()}
        # Batch norm needs a mode and keeps running statistics; group norm needs neither. The
        # running statistics start as the identity (mean 0, variance 1), so that the untrained
        # network can already be evaluated in test mode (the Solver measures accuracy first).
        self.bn_params = {
            None: [],
            "batchnorm": [{"mode": "train", "running_mean": np.zeros(F, dtype=dtype), "running_var": np.ones(F, dtype=dtype)}],
            "groupnorm": [{}],
        }[normalization]

    def loss(self, X, y=None):
        """Class scores for X, or the loss and its gradients when labels y are given.

        Inputs:
        - X: (N, C, H, W) images
        - y: (N,) integer labels, or None

        Returns:
        - if y is None: scores, (N, num_classes); batch norm runs in test mode
        - else a tuple (loss, grads): the mean softmax loss plus L2 regularization, and a
          dict with the gradient of the loss for every entry of self.params
        """
        if self.normalization == "batchnorm":
            self.bn_params[0]["mode"] = "test" if y is None else "train"
        p = self.params

        a, conv_cache = conv_forward(X, p["W1"], p["b1"], self.conv_param)
        if self.normalization == "batchnorm":
            a, norm_cache = spatial_batchnorm_forward(a, p["gamma1"], p["beta1"], self.bn_params[0])
        elif self.normalization == "groupnorm":
            a, norm_cache = spatial_groupnorm_forward(a, p["gamma1"], p["beta1"], self.num_groups, self.bn_params[0])
        a, relu_cache = relu_forward(a)
        a, pool_cache = max_pool_forward(a, self.pool_param)
        scores, affine_cache = affine_forward(a, p["W2"], p["b2"])
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        grads = {}
        da, grads["W2"], grads["b2"] = affine_backward(dscores, affine_cache)
        da = max_pool_backward(da, pool_cache)
        da = relu_backward(da, relu_cache)
        if self.normalization == "batchnorm":
            da, grads["gamma1"], grads["beta1"] = spatial_batchnorm_backward(da, norm_cache)
        elif self.normalization == "groupnorm":
            da, grads["gamma1"], grads["beta1"] = spatial_groupnorm_backward(da, norm_cache)
        _, grads["W1"], grads["b1"] = conv_backward(da, conv_cache)
        grads["W1"] += self.reg * p["W1"]
        grads["W2"] += self.reg * p["W2"]
        return loss, grads
