"""A fully connected network with optional batch or layer normalization (CS231n-compatible).

Every hidden layer is

    affine -> [batchnorm | layernorm] -> activation -> [dropout]

and the last layer is an affine map to class scores, trained with the softmax loss:

    {affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax

The parameters live in `net.params` under CS231n's names (W1, b1, gamma1, beta1, ..., WL,
bL); the batch-norm running statistics live in `net.bn_params`, one dict per hidden
layer, which is why a Solver must save them together with the weights.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss

NORMALIZATIONS = (None, "batchnorm", "layernorm")
ACTIVATIONS = ("relu", "sigmoid")


@dataclass(frozen=True)
class SigmoidCache:
    out: np.ndarray  # sigma(x); the local gradient is out * (1 - out)


@dataclass(frozen=True)
class DropoutCache:
    mask: np.ndarray  # (N, H) kept units divided by keep_ratio, zeros elsewhere; None at test time


@dataclass(frozen=True)
class HiddenLayerCache:
    """One hidden layer's caches, in forward order, and z, the input of its activation."""

    affine: object
    norm: object  # BatchNormCache, LayerNormCache, or None without normalization
    z: np.ndarray  # (N, H) what the nonlinearity sees (Figure 1 of the paper tracks it)
    activation: object
    dropout: DropoutCache


def sigmoid_forward(x):
    """Logistic sigmoid, 1 / (1 + exp(-x)), elementwise, without overflow for any x.

    Returns a tuple of:
    - out: shaped like x
    - cache: SigmoidCache
    """
    validation.float_array("sigmoid_forward", "x", x)
    # exp(-|x|) <= 1 never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, SigmoidCache(out=out)


def sigmoid_backward(dout, cache):
    """Sigmoid, backward pass: dx = dout * out * (1 - out)."""
    validation.float_array("sigmoid_backward", "dout", dout)
    validation.same_shape("sigmoid_backward", "dout", dout, cache.out.shape, "the shape of x")
    return dout * cache.out * (1 - cache.out)


def dropout_forward(x, keep_ratio, mode, rng):
    """Inverted dropout: keep each unit with probability keep_ratio, and scale by 1/keep_ratio.

    The scaling makes the expected output equal to x, so test mode is the identity.

    Inputs:
    - x: (N, H) activations
    - keep_ratio: probability of keeping a unit, in (0, 1]
    - mode: 'train' or 'test'
    - rng: np.random.Generator drawing the mask

    Returns a tuple of:
    - out: shaped like x
    - cache: DropoutCache
    """
    validation.choice("dropout_forward", "mode", mode, ("train", "test"))
    if mode == "test" or keep_ratio == 1:
        return x, DropoutCache(mask=None)
    mask = (rng.random(x.shape) < keep_ratio) / x.dtype.type(keep_ratio)
    return x * mask.astype(x.dtype), DropoutCache(mask=mask.astype(x.dtype))


def dropout_backward(dout, cache):
    """Inverted dropout, backward pass: the gradient flows through the kept units only."""
    return dout if cache.mask is None else dout * cache.mask


class FullyConnectedNet:
    """A multi-layer fully connected classifier; see the module docstring for its layout."""

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
        activation="relu",
    ):
        """Initialize the network.

        Inputs:
        - hidden_dims: list of the sizes of the hidden layers, each >= 1 (>= 2 for layer norm)
        - input_dim: number of input features (pixels of a flattened image)
        - num_classes: number of classes
        - dropout_keep_ratio: probability of keeping a hidden unit, in (0, 1]; 1 is no dropout
        - normalization: None, "batchnorm" or "layernorm", after every hidden affine layer
        - reg: L2 regularization strength; the loss gets 0.5 * reg * sum(W ** 2) per W
        - weight_scale: standard deviation of the Gaussian initial weights (biases start at 0,
          gamma at 1, beta at 0)
        - dtype: floating-point dtype of every parameter (float64 for gradient checks);
          loss() casts floating-point inputs to it, as CS231n's network does
        - seed: seed of the weight initialization and of the dropout masks. None (the
          default) draws both from NumPy's global generator, as CS231n's network does, so
          that np.random.seed(231) before building the network makes a run repeatable;
          an integer uses a generator of its own, untouched by np.random.seed
        - activation: "relu" (default) or "sigmoid" (the paper's Figure 1)
        """
        where = "FullyConnectedNet"
        # A 1-D integer array (np.arange(...), a row of a grid) is a list of sizes too.
        if isinstance(hidden_dims, np.ndarray) and hidden_dims.ndim == 1 and np.issubdtype(hidden_dims.dtype, np.integer):
            hidden_dims = hidden_dims.tolist()
        if not isinstance(hidden_dims, (list, tuple)) or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden_dims
        ):
            raise ValueError(f"{where}: hidden_dims must be a list of integers >= 1; got {hidden_dims!r}")
        for name, value in (("input_dim", input_dim), ("num_classes", num_classes)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{where}: {name} must be an integer >= 1; got {value!r}")
        self.normalization = validation.choice(where, "normalization", normalization, NORMALIZATIONS)
        self.activation = validation.choice(where, "activation", activation, ACTIVATIONS)
        keep = validation.unit_interval(where, "dropout_keep_ratio", dropout_keep_ratio)
        if keep == 0:
            raise ValueError(f"{where}: dropout_keep_ratio must be in (0, 1]; got 0 (every unit dropped)")
        if not isinstance(reg, numbers.Real) or isinstance(reg, bool) or not np.isfinite(reg) or reg < 0:
            raise ValueError(f"{where}: reg must be a finite number >= 0; got {reg!r}")
        validation.positive_number(where, "weight_scale", weight_scale)
        validation.float_dtype(where, "dtype", dtype)
        if normalization == "layernorm" and min(hidden_dims, default=2) < 2:
            raise ValueError(
                f"{where}: hidden_dims must be >= 2 with layer norm: it needs hidden layers of at least 2 units (over 1 unit, x - mean is 0 "
                f"and the layer would output beta whatever its input, so nothing could train); got {hidden_dims!r}"
            )
        validation.seed(where, "seed", seed)

        self.use_dropout = keep != 1
        self.reg = float(reg)
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = np.dtype(dtype)
        self.params = {}
        # The legacy module-level functions np.random.standard_normal and np.random.random
        # draw from the global generator that np.random.seed sets.
        rng = np.random if seed is None else np.random.default_rng(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[i - 1], dims[i]
            self.params[f"W{i}"] = (weight_scale * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out, dtype=dtype)
                self.params[f"beta{i}"] = np.zeros(fan_out, dtype=dtype)

        # Dropout masks come from the seed's generator (None: the global one, kept out of
        # the object so that a network can be pickled), or from a fresh one seeded by
        # dropout_param["seed"] if that key is set (a fixed mask, for gradient checks).
        self.dropout_param = {"mode": "train", "p": keep}
        self._dropout_rng = None if seed is None else rng
        # One dict per hidden layer; batch norm keeps its running statistics here. Layer norm
        # gets the same dicts and ignores 'mode', so a Solver can treat both alike.
        self.bn_params = []
        if normalization == "batchnorm":
            # Running statistics start as a standard normal (mean 0, variance 1, as in
            # PyTorch), so that test mode is defined before the first training step.
            self.bn_params = [
                {"mode": "train", "running_mean": np.zeros(h, dtype=dtype), "running_var": np.ones(h, dtype=dtype)}
                for h in hidden_dims
            ]
        elif normalization == "layernorm":
            self.bn_params = [{"mode": "train"} for _ in hidden_dims]

    def _hidden_forward(self, x, i, mode, rng):
        """Hidden layer i (1-based): affine -> [norm] -> activation -> [dropout]."""
        p = self.params
        ### BEGIN SOLUTION
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z = a
        forward = relu_forward if self.activation == "relu" else sigmoid_forward
        h, activation_cache = forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        ### END SOLUTION
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)

    def _hidden_backward(self, dout, cache, i, grads):
        """Backward through hidden layer i; writes its parameter gradients into grads."""
        ### BEGIN SOLUTION
        dh = dropout_backward(dout, cache.dropout)
        backward = relu_backward if self.activation == "relu" else sigmoid_backward
        dz = backward(dh, cache.activation)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        ### END SOLUTION
        return dx

    def _forward(self, X, mode, where="FullyConnectedNet.loss"):
        """Scores and every layer's cache; validates X against the network (messages start with `where`)."""
        validation.float_array(where, "X", X)
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != self.params["W1"].shape[0]:
            raise ValueError(
                f"{where}: X must hold samples of {self.params['W1'].shape[0]} features, shape "
                f"(N, {self.params['W1'].shape[0]}) or (N, d_1, ..., d_k); got shape {X.shape}"
            )
        if mode == "train" and self.normalization == "batchnorm" and self.num_layers > 1 and X.shape[0] < 2:
            raise ValueError(
                f"{where}: X must hold at least 2 samples to train with batch norm (a batch's variance needs "
                f"two; PyTorch refuses one too); got shape {X.shape}. Without labels y, loss(X) scores one sample"
            )
        # As in CS231n: data loaders give float64, the network computes in its own dtype.
        X = X.astype(self.dtype, copy=False)
        rng = np.random if self._dropout_rng is None else self._dropout_rng
        if "seed" in self.dropout_param:
            rng = np.random.default_rng(self.dropout_param["seed"])
        caches = []
        h = X
        for i in range(1, self.num_layers):
            h, cache = self._hidden_forward(h, i, mode, rng)
            caches.append(cache)
        L = self.num_layers
        scores, last_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        return scores, caches, last_cache

    def loss(self, X, y=None):
        """Class scores (test mode), or the loss and its gradients (training mode).

        Inputs:
        - X: (N, d_1, ..., d_k) floating-point data; cast to the network's dtype (as
          CS231n's network does: data loaders give float64); integer, boolean and complex
          data are refused
        - y: (N,) integer labels, or None for test mode

        Returns:
        - if y is None: scores, (N, C), computed with batch norm's running statistics and
          without dropout
        - else a tuple of:
          - loss: scalar, softmax loss plus 0.5 * reg * sum of squared weights
          - grads: dict with the same keys as self.params
        """
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        scores, caches, last_cache = self._forward(X, mode)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        L = self.num_layers
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            dh = self._hidden_backward(dh, caches[i - 1], i, grads)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * W
        return loss, grads

    def activation_inputs(self, X):
        """What each hidden layer's nonlinearity receives, in test mode (no dropout).

        The paper's Figure 1(b, c) follows the percentiles of one such input over training.

        Inputs:
        - X: (N, d_1, ..., d_k) floating-point data, cast to the network's dtype

        Returns:
        - list of (N, H_i) arrays, one per hidden layer
        """
        self.dropout_param["mode"] = "test"
        _, caches, _ = self._forward(X, "test", "FullyConnectedNet.activation_inputs")
        return [cache.z for cache in caches]
