"""A small convolutional network whose normalization layer can be switched.

    [conv 3x3 (same padding) - norm - relu - 2x2 max pool] x num_blocks - affine - softmax

with norm one of "batchnorm" (spatial batch norm), "groupnorm" (group norm with
`num_groups` groups) or None. Every block halves the height and width, so a deeper
network's later norm layers see fewer positions per image: on 8x8 digits the third block
normalizes 2x2 maps, and a batch of two images gives batch norm only 8 values per channel.
With block_order="conv-relu-pool-norm" the norm comes after the pool instead, so the third
block normalizes 1x1 maps: one value per image and channel, as in a fully connected layer.

The interface is CS231n's: parameters in `model.params`, `model.loss(X)` returns class
scores, `model.loss(X, y)` returns (loss, grads), and the normalization's parameter dicts
live in `model.bn_params` (one dict per norm layer), where the forward pass writes batch
norm's running statistics, so a Solver can train it.
"""

from dataclasses import dataclass
import numbers

import numpy as np

from cs231n_bn import validation
from cs231n_bn.conv import conv_backward, conv_backward_weights, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from cs231n_bn.spatial import (
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_bn.threads import blas_yields_to_shares

NORMALIZATIONS = (None, "batchnorm", "groupnorm")
BLOCK_ORDERS = ("conv-norm-relu-pool", "conv-relu-pool-norm")


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class BlockCache:
    """What one conv - norm - relu - pool block keeps for its backward pass."""

    conv: object
    norm: object  # None without normalization
    relu: object
    pool: object


class SmallConvNet:
    """[conv - norm - relu - pool] x num_blocks - affine, for (N, C, H, W) images.

    (or [conv - relu - pool - norm] x num_blocks - affine, with block_order="conv-relu-pool-norm")

    Parameters (in self.params), for blocks i = 1 .. L (L = num_blocks):
    - Wi: (F, C_i, k, k) filters, bi: (F,) their biases (C_1 = C, later C_i = F)
    - gammai, betai: (F,) scale and shift of block i's norm layer (only with a normalization)
    - W{L+1}: (F * H/2^L * W/2^L, num_classes) weights of the classifier, b{L+1}: (num_classes,)
    With one block (the default) these are W1, b1, gamma1, beta1 and the classifier's W2, b2.
    """

    def __init__(
        self,
        input_dim=(1, 8, 8),
        num_filters=16,
        filter_size=3,
        num_classes=10,
        normalization=None,
        num_groups=4,
        num_blocks=1,
        block_order="conv-norm-relu-pool",
        weight_scale=None,
        reg=0.0,
        dtype=np.float64,
        seed=0,
    ):
        """Initialize the network.

        Inputs:
        - input_dim: (C, H, W) of one image; H and W at least 2**num_blocks (each pool halves
          them, rounding down as PyTorch does)
        - num_filters: F >= 1, the number of convolution filters of every block
        - filter_size: k, an odd filter width, so that padding (k - 1) / 2 keeps H and W
        - num_classes: number of scores the network outputs, >= 1
        - normalization: None, "batchnorm" or "groupnorm"
        - num_groups: G >= 1 for group norm; must divide num_filters
        - num_blocks: L, the number of conv - norm - relu - pool blocks, an integer >= 1
        - block_order: "conv-norm-relu-pool" (the usual place of the norm, before the
          nonlinearity) or "conv-relu-pool-norm" (the norm sees the pooled, 4x smaller maps)
        - weight_scale: standard deviation (>= 0) of the initial weights; None scales each
          layer's weights by sqrt(2 / fan_in) (He et al. 2015), which suits the ReLU
        - reg: L2 regularization strength >= 0; the loss adds 0.5 * reg * sum(W**2) over all W
        - dtype: floating dtype of the parameters (float64 for gradient checks); loss() casts
          floating-point images of another dtype to it, as CS231n's models do
        - seed: seed of the generator that draws the initial weights
        """
        where = "SmallConvNet"
        validation.choice(where, "normalization", normalization, NORMALIZATIONS)
        validation.choice(where, "block_order", block_order, BLOCK_ORDERS)
        if not isinstance(input_dim, (tuple, list)) or len(input_dim) != 3 or not all(
            _is_integer(d) and d >= 1 for d in input_dim
        ):
            raise ValueError(f"{where}: input_dim must be (C, H, W), three integers >= 1; got {input_dim!r}")
        for name, value in (
            ("num_blocks", num_blocks), ("num_filters", num_filters), ("num_classes", num_classes),
            ("num_groups", num_groups), ("filter_size", filter_size),
        ):
            if not _is_integer(value) or value < 1:
                raise ValueError(f"{where}: {name} must be an integer >= 1; got {value!r}")
        if not _is_real(reg) or not np.isfinite(reg) or reg < 0:
            raise ValueError(f"{where}: reg must be a finite number >= 0; got {reg!r}")
        if weight_scale is not None and (not _is_real(weight_scale) or not np.isfinite(weight_scale) or weight_scale < 0):
            raise ValueError(
                f"{where}: weight_scale must be None (He initialization) or a finite number >= 0; got {weight_scale!r}"
            )
        C, H, W = (int(d) for d in input_dim)
        # Each 2x2 pool halves the maps, rounding down as PyTorch does (an odd last row or
        # column is left out), so num_blocks pools leave H // 2**num_blocks rows.
        shrink = 2**num_blocks
        if H < shrink or W < shrink:
            raise ValueError(
                f"{where}: num_blocks={num_blocks} pools halve the height and width {num_blocks} times, "
                f"so both must be at least {shrink}; got input_dim {input_dim!r}"
            )
        if filter_size % 2 == 0:
            raise ValueError(f"{where}: filter_size must be odd so 'same' padding exists; got {filter_size}")
        if normalization == "groupnorm" and num_filters % num_groups:
            raise ValueError(
                f"{where}: num_groups must divide num_filters={num_filters}; got num_groups={num_groups}"
            )
        validation.float_dtype(where, "dtype", dtype)
        validation.seed(where, "seed", seed)
        self.normalization = normalization
        self.num_groups = num_groups
        self.num_blocks = num_blocks
        self.block_order = block_order
        self.reg = reg
        self.input_dim = (C, H, W)
        self.dtype = np.dtype(dtype)
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        rng = np.random.default_rng(seed)
        F, k = num_filters, filter_size
        pooled = F * (H // shrink) * (W // shrink)

        def scale(fan_in):
            return np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale

        self.params = {}
        for i in range(1, num_blocks + 1):
            channels_in = C if i == 1 else F
            self.params[f"W{i}"] = rng.normal(0.0, scale(channels_in * k * k), size=(F, channels_in, k, k))
            self.params[f"b{i}"] = np.zeros(F)
            if normalization is not None:
                self.params[f"gamma{i}"] = np.ones(F)
                self.params[f"beta{i}"] = np.zeros(F)
        last = num_blocks + 1
        self.params[f"W{last}"] = rng.normal(0.0, scale(pooled), size=(pooled, num_classes))
        self.params[f"b{last}"] = np.zeros(num_classes)
        self.params = {name: p.astype(dtype) for name, p in self.params.items()}
        # Batch norm needs a mode and keeps running statistics; group norm needs neither. The
        # running statistics start as the identity (mean 0, variance 1), so that the untrained
        # network can already be evaluated in test mode (the Solver measures accuracy first).
        if normalization == "batchnorm":
            self.bn_params = [
                {"mode": "train", "running_mean": np.zeros(F, dtype=dtype), "running_var": np.ones(F, dtype=dtype)}
                for _ in range(num_blocks)
            ]
        elif normalization == "groupnorm":
            self.bn_params = [{} for _ in range(num_blocks)]
        else:
            self.bn_params = []

    def _norm_forward(self, a, i, seen=None):
        """Block i's normalization of feature maps a; returns (out, cache), cache None without one.

        If `seen` is a list, the norm layer's input a is appended to it.
        """
        p = self.params
        if seen is not None:
            seen.append(a)
        if self.normalization == "batchnorm":
            out, cache = spatial_batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        elif self.normalization == "groupnorm":
            out, cache = spatial_groupnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.num_groups, self.bn_params[i - 1])
        else:
            return a, None
        # Spatial batch norm returns a view of channels-first memory (it works on (C, N*H*W)
        # rows), as the convolution does. It is passed on without a copy: the ReLU keeps the
        # layout, max pooling pools in it, and the gradients come back in it, so batch norm's
        # and the convolution's backward passes read them without a copy either.
        return out, cache

    def _norm_backward(self, dout, cache, i, grads):
        """Backward through block i's normalization; writes dgamma_i and dbeta_i into grads."""
        if self.normalization == "batchnorm":
            dout, grads[f"gamma{i}"], grads[f"beta{i}"] = spatial_batchnorm_backward(dout, cache)
        elif self.normalization == "groupnorm":
            dout, grads[f"gamma{i}"], grads[f"beta{i}"] = spatial_groupnorm_backward(dout, cache)
        # No copy here: spatial batch norm returns dx channels first, the layout in which
        # conv_backward, next in line, reads it without one.
        return dout

    def _block_forward(self, x, i, seen=None):
        """Block i (1-based) in self.block_order; returns (out, BlockCache)."""
        a, conv_cache = conv_forward(x, self.params[f"W{i}"], self.params[f"b{i}"], self.conv_param)
        if self.block_order == "conv-norm-relu-pool":
            a, norm_cache = self._norm_forward(a, i, seen)
        # The pool before the ReLU: max(0, largest of a window) is the largest of max(0, x) over
        # it, and the gradient reaches the same pixel either way (the window's first maximum if
        # that is positive, none otherwise), so the network and its gradients are the same, while
        # the ReLU and its backward pass run over the pooled maps, a quarter of the entries.
        a, pool_cache = max_pool_forward(a, self.pool_param)
        a, relu_cache = relu_forward(a)
        if self.block_order == "conv-relu-pool-norm":
            a, norm_cache = self._norm_forward(a, i, seen)
        return a, BlockCache(conv=conv_cache, norm=norm_cache, relu=relu_cache, pool=pool_cache)

    def _block_backward(self, dout, cache, i, grads):
        """Backward through block i; writes its parameters' gradients into grads, returns dx.

        Block 1 returns None: its input is the images, whose gradient no step needs.
        """
        da = dout
        if self.block_order == "conv-relu-pool-norm":
            da = self._norm_backward(da, cache.norm, i, grads)
        da = relu_backward(da, cache.relu)
        da = max_pool_backward(da, cache.pool)
        if self.block_order == "conv-norm-relu-pool":
            da = self._norm_backward(da, cache.norm, i, grads)
        if i == 1:
            grads[f"W{i}"], grads[f"b{i}"] = conv_backward_weights(da, cache.conv)
            return None
        dx, grads[f"W{i}"], grads[f"b{i}"] = conv_backward(da, cache.conv)
        return dx

    def _images(self, where, X):
        """X checked against input_dim and cast to the network's dtype (a view if it already is)."""
        validation.float_array(where, "X", X, ndim=4)
        if X.shape[1:] != self.input_dim:
            raise ValueError(f"{where}: X must have shape (N, {', '.join(map(str, self.input_dim))}); got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def norm_inputs(self, X):
        """The feature maps entering every norm layer, in test mode (running statistics).

        Inputs:
        - X: (N, C, H, W) floating-point images (cast to the network's dtype)

        Returns:
        - list of num_blocks arrays, block i's of shape (N, F, H_i, W_i): H_i = H / 2^(i-1)
          with the norm before the pool, H / 2^i with the norm after it
        """
        if self.normalization is None:
            raise ValueError("SmallConvNet.norm_inputs: this network has no norm layers (normalization=None)")
        X = self._images("SmallConvNet.norm_inputs", X)
        for bn_param in self.bn_params:
            bn_param["mode"] = "test"
        seen, a = [], X
        for i in range(1, self.num_blocks + 1):
            a, _ = self._block_forward(a, i, seen)
        return seen

    def loss(self, X, y=None):
        """Class scores for X, or the loss and its gradients when labels y are given.

        Inputs:
        - X: (N, C, H, W) floating-point images; another floating dtype than the network's
          is cast to it (as CS231n's models do); integer, bool and complex arrays are refused
        - y: (N,) integer labels, or None

        Returns:
        - if y is None: scores, (N, num_classes); batch norm runs in test mode
        - else a tuple (loss, grads): the mean softmax loss plus L2 regularization, and a
          dict with the gradient of the loss for every entry of self.params
        """
        X = self._images("SmallConvNet.loss", X)
        # The layers share their passes and products among the cores themselves (cs231n_bn.threads)
        with blas_yields_to_shares():
            return self._loss(X, y)

    def _loss(self, X, y):
        """loss() on checked images X."""
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = "test" if y is None else "train"
        p = self.params
        last = self.num_blocks + 1

        a, caches = X, []
        for i in range(1, last):
            a, cache = self._block_forward(a, i)
            caches.append(cache)
        scores, affine_cache = affine_forward(a, p[f"W{last}"], p[f"b{last}"])
        if y is None:
            return scores

        weights = [f"W{i}" for i in range(1, last + 1)]
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(p[name] ** 2) for name in weights)
        grads = {}
        da, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, affine_cache)
        for i in range(self.num_blocks, 0, -1):
            da = self._block_backward(da, caches[i - 1], i, grads)
        for name in weights:
            grads[name] += self.reg * p[name]
        return loss, grads
