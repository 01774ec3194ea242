"""Notebook 7's SmallConvNet in Keras 3 and PyTorch: its layer list, converters, one step.

Our network (cs231n_bn.cnn.SmallConvNet) is described by `layers_of(net)`, a list of
plain dicts that a framework model is built from, one layer each, in order. Its weights
travel layer by layer through converters, both ways:

| layer        | ours                    | Keras 3 (channels last)            | PyTorch                     |
| ------------ | ----------------------- | ---------------------------------- | --------------------------- |
| input        | (N, C, H, W)            | (N, H, W, C)                       | (N, C, H, W)                |
| conv         | W (F, C, k, k), b (F,)  | kernel (k, k, C, F), bias          | weight (F, C, k, k), bias   |
| spatial BN   | gamma, beta, bn_param   | gamma, beta, moving_mean, _variance| weight, bias, running_*     |
| affine       | W (D, M), rows (F, h, w)| kernel (D, M), rows (h, w, F)      | weight (M, D), bias         |

The affine layer's rows follow the flattened feature maps, which Keras flattens with the
channels last: its kernel is ours with the rows permuted. Batch norm goes through
cs231n_bn.keras_compat and cs231n_bn.torch_compat. SmallConvNet's running variance starts
at 1, like both frameworks', so a fresh network's statistics copy unchanged; after k
training steps PyTorch's averages another estimate of the batch variances (over the
n = N*H*W positions of a channel), which `torch_channel_running_var` converts with the
student's relation (*) of notebook 8.

Keras runs on TensorFlow when it is installed and on PyTorch otherwise (KERAS_BACKEND,
unless already set, before Keras is first imported): import this module before anything
else imports Keras.
"""

import contextlib
import importlib.util
import os
import sys

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import DEFAULT_EPS, DEFAULT_MOMENTUM
from cs231n_bn.cnn import SmallConvNet

# The backend is chosen once, at Keras's first import. The choice is this process's only:
# the variable is removed again, so that the processes it starts (a notebook's kernel
# started by the tests) choose for themselves.
_CHOOSING = "KERAS_BACKEND" not in os.environ
if _CHOOSING:
    os.environ["KERAS_BACKEND"] = "tensorflow" if importlib.util.find_spec("tensorflow") else "torch"


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null inside the block.

    TensorFlow's C++ code logs a few lines at import (oneDNN, CPU features) straight to
    the process's stderr, with a timestamp, before TF_CPP_MIN_LOG_LEVEL is read; Jupyter
    shows them as a cell's stderr, which then differs on every run. Python's exceptions
    still propagate.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


with _native_stderr_silenced():
    from cs231n_bn import keras_compat, torch_compat  # noqa: E402  (after the backend is chosen)
if _CHOOSING:
    del os.environ["KERAS_BACKEND"]
from cs231n_bn.torch_compat import FrameworkMissing  # noqa: E402

keras, torch = keras_compat.keras, torch_compat.torch  # each None when not installed
BACKENDS = ("tensorflow", "torch")
INSTALL_HINT = "pip install -r requirements-torch.txt (and -r requirements-tensorflow.txt for TensorFlow)"


def require(where, *names):
    """Raise FrameworkMissing unless every framework named ('keras', 'torch') is installed."""
    missing = [name for name in names if {"keras": keras, "torch": torch}[name] is None]
    if missing:
        raise FrameworkMissing(f"{where}: needs {' and '.join(missing)}, not installed; {INSTALL_HINT}")


def keras_backend():
    """The backend Keras runs on here ('tensorflow' or 'torch'); others are refused."""
    require("keras_backend", "keras")
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ValueError(f"keras_backend: this module supports the backends {BACKENDS}; Keras runs on {backend!r}")
    return backend


# ---------------------------------------------------------------------------------------
# The layer list
# ---------------------------------------------------------------------------------------

def layers_of(net):
    """Our network as a list of layers, in the order the forward pass applies them.

    Inputs:
    - net: a SmallConvNet with normalization "batchnorm" or None

    Returns:
    - list of dicts, each with "kind" and what a framework needs to build the layer:
      {"kind": "input", "shape": (C, H, W)}
      {"kind": "conv", "filters": F, "size": k, "pad": p, "params": ("Wi", "bi")}
      {"kind": "spatial_batchnorm", "eps": eps, "momentum": m (weight on the old value),
       "block": i, "shape": (F, H_i, W_i) of the maps it normalizes,
       "params": ("gammai", "betai")}
      {"kind": "relu"}
      {"kind": "max_pool", "size": 2, "stride": 2}
      {"kind": "flatten", "shape": (F, H', W')}   (the feature maps it flattens)
      {"kind": "affine", "units": M, "params": ("W{L+1}", "b{L+1}")}
    """
    where = "layers_of"
    if not isinstance(net, SmallConvNet):
        raise TypeError(f"{where}: net must be a SmallConvNet; got {type(net).__name__}")
    if net.normalization not in (None, "batchnorm"):
        raise ValueError(f"{where}: only batch norm or no normalization is converted; got {net.normalization!r}")
    F, _, k, _ = net.params["W1"].shape
    pool = net.pool_param["pool_height"]
    C, H, W = net.input_dim
    layers = [{"kind": "input", "shape": (C, H, W)}]
    for i in range(1, net.num_blocks + 1):
        # the maps block i normalizes: before its pool, or after it (half as high and wide)
        side = 2 ** (i - 1 if net.block_order == "conv-norm-relu-pool" else i)
        conv = {"kind": "conv", "filters": F, "size": k, "pad": net.conv_param["pad"], "params": (f"W{i}", f"b{i}")}
        norm = []
        if net.normalization == "batchnorm":
            bn_param = net.bn_params[i - 1]
            norm = [{"kind": "spatial_batchnorm", "eps": bn_param.get("eps", DEFAULT_EPS),
                     "momentum": bn_param.get("momentum", DEFAULT_MOMENTUM), "block": i,
                     "shape": (F, H // side, W // side),
                     "params": (f"gamma{i}", f"beta{i}")}]
        relu_pool = [{"kind": "relu"}, {"kind": "max_pool", "size": pool, "stride": net.pool_param["stride"]}]
        layers += [conv] + (norm + relu_pool if net.block_order == "conv-norm-relu-pool" else relu_pool + norm)
    shrink = 2**net.num_blocks
    last = net.num_blocks + 1
    layers.append({"kind": "flatten", "shape": (F, H // shrink, W // shrink)})
    layers.append({"kind": "affine", "units": net.params[f"W{last}"].shape[1], "params": (f"W{last}", f"b{last}")})
    return layers


def feature_shape(layers):
    """(F, H, W) of the maps the layer list's flatten layer flattens."""
    return next(layer["shape"] for layer in layers if layer["kind"] == "flatten")


# ---------------------------------------------------------------------------------------
# Converters, one layer at a time (numpy arrays in, new numpy arrays out)
# ---------------------------------------------------------------------------------------

def conv_to_keras(w, b):
    """Our conv weights (F, C, k, k) and bias (F,) as Keras's [kernel (k, k, C, F), bias]."""
    validation.float_array("conv_to_keras", "w", w, ndim=4)
    return [np.ascontiguousarray(w.transpose(2, 3, 1, 0)), b.copy()]


def conv_from_keras(kernel, bias):
    """Keras's Conv2D kernel (k, k, C, F) and bias as our (w (F, C, k, k), b (F,))."""
    validation.float_array("conv_from_keras", "kernel", kernel, ndim=4)
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)), bias.copy()


def affine_to_keras(w, b, map_shape):
    """Our affine weights (F*H*W, M), rows in (F, H, W) order, as Keras's [kernel, bias].

    Keras flattens (N, H, W, F) maps, so its kernel's rows are in (H, W, F) order.
    map_shape: (F, H, W), the maps the layer's input flattens.
    """
    validation.float_array("affine_to_keras", "w", w, ndim=2)
    F, H, W = map_shape
    if w.shape[0] != F * H * W:
        raise ValueError(f"affine_to_keras: w must have F*H*W = {F * H * W} rows for maps {map_shape}; got {w.shape}")
    M = w.shape[1]
    return [np.ascontiguousarray(w.reshape(F, H, W, M).transpose(1, 2, 0, 3).reshape(-1, M)), b.copy()]


def affine_from_keras(kernel, bias, map_shape):
    """Keras's Dense kernel (H*W*F, M), rows in (H, W, F) order, as our (w, b)."""
    validation.float_array("affine_from_keras", "kernel", kernel, ndim=2)
    F, H, W = map_shape
    if kernel.shape[0] != F * H * W:
        raise ValueError(
            f"affine_from_keras: kernel must have H*W*F = {F * H * W} rows for maps {map_shape}; got {kernel.shape}")
    M = kernel.shape[1]
    return np.ascontiguousarray(kernel.reshape(H, W, F, M).transpose(2, 0, 1, 3).reshape(-1, M)), bias.copy()


def affine_to_torch(w, b):
    """Our affine weights (D, M) and bias as PyTorch's Linear [weight (M, D), bias]."""
    validation.float_array("affine_to_torch", "w", w, ndim=2)
    return [np.ascontiguousarray(w.T), b.copy()]


def affine_from_torch(weight, bias):
    """PyTorch's Linear weight (M, D) and bias as our (w (D, M), b)."""
    validation.float_array("affine_from_torch", "weight", weight, ndim=2)
    return np.ascontiguousarray(weight.T), bias.copy()


def torch_channel_running_var(running_var, momentum, positions, steps, start=1.0):
    """PyTorch's running_var after the k steps that gave SmallConvNet's running_var.

    Both start from the same r0 (1 for a fresh network) and average with the same
    momentum, but over other estimates of the batch variances. Relation (*) of notebook 8
    (torch_stats.torch_running_var, for a start at 0 on our side and at 1 on PyTorch's) is
    affine in our running variance: its slope applies to what the k steps added to ours,
    and its value at 0 is the share left of a start of 1, here of r0 on both sides.

    Inputs:
    - running_var: (C,) ours
    - momentum: m, ours (the weight on the old value)
    - positions: n = N*H*W, the values each channel's batch statistic averaged (every batch
      the same size)
    - steps: k, the training steps behind running_var
    - start: r0, the running variance k steps before (a number or a (C,) array)

    Returns:
    - (C,) new array
    """
    where = "torch_channel_running_var"
    validation.float_array(where, "running_var", running_var, ndim=1)
    m = validation.unit_interval(where, "momentum", momentum)
    n = validation.positive_int(where, "positions", positions)
    if n < 2:
        raise ValueError(f"{where}: positions must be >= 2 (PyTorch refuses one value per channel); got {n}")
    slope, share = torch_compat.affine_relation(n, torch_compat.nonnegative_int(where, "steps", steps), m)
    decayed = share * np.asarray(start, dtype=running_var.dtype)  # what is left of r0, on both sides
    return (slope * (running_var - decayed) + decayed).astype(running_var.dtype, copy=False)


# ---------------------------------------------------------------------------------------
# Framework models
# ---------------------------------------------------------------------------------------

def torch_convnet(layers):
    """A torch.nn.Sequential (float32) with the layers of `layers_of(net)`, in order.

    (Its Keras counterpart is notebook 9's exercise, so the package does not hold one.)

    Batch norm's momentum becomes PyTorch's 1 - m (its momentum weighs the new value).
    """
    require("torch_convnet", "torch")
    nn = torch.nn
    modules, channels = [], layers[0]["shape"][0]
    for layer in layers[1:]:
        kind = layer["kind"]
        if kind == "conv":
            modules.append(nn.Conv2d(channels, layer["filters"], layer["size"], padding=layer["pad"]))
            channels = layer["filters"]
        elif kind == "spatial_batchnorm":
            modules.append(nn.BatchNorm2d(channels, eps=layer["eps"],
                                          momentum=torch_compat.convert_momentum(layer["momentum"])))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "max_pool":
            modules.append(nn.MaxPool2d(layer["size"], stride=layer["stride"]))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "affine":
            modules.append(nn.Linear(int(np.prod(feature_shape(layers))), layer["units"]))
        else:
            raise ValueError(f"torch_convnet: unknown layer kind {kind!r}")
    return nn.Sequential(*modules)


# ---------------------------------------------------------------------------------------
# Moving the weights
# ---------------------------------------------------------------------------------------

_WEIGHTED = ("conv", "spatial_batchnorm", "affine")


def _weighted(layers):
    return [layer for layer in layers if layer["kind"] in _WEIGHTED]


def keras_weighted_layers(where, model, layers):
    """Pairs (our layer dict, the Keras layer holding its weights), in order; where names the caller."""
    found = [layer for layer in model.layers if layer.weights]
    expected = _weighted(layers)
    if len(found) != len(expected):
        raise ValueError(
            f"{where}: the Keras model has {len(found)} layers with weights "
            f"({', '.join(type(layer).__name__ for layer in found) or 'none'}); our network has {len(expected)} "
            f"({', '.join(layer['kind'] for layer in expected)})")
    return list(zip(expected, found))


def _set_weights(where, target, arrays, name):
    """target.set_weights(arrays), with a message naming the layer when the shapes differ."""
    shapes = [tuple(w.shape) for w in target.get_weights()]
    wanted = [a.shape for a in arrays]
    if shapes != wanted:
        raise ValueError(f"{where}: Keras layer {target.name} ({type(target).__name__}) has weights of shapes "
                         f"{shapes}; our {name} converts to {wanted}")
    target.set_weights(arrays)  # Keras casts to each variable's dtype


def to_keras(net, model):
    """Copy our network's weights and batch-norm statistics into a Keras model (in place).

    Inputs:
    - net: SmallConvNet
    - model: a built Keras model whose layers with weights are, in order, Conv2D,
      BatchNormalization and Dense layers matching layers_of(net)

    Returns:
    - model
    """
    where = "to_keras"
    require(where, "keras")
    layers = layers_of(net)
    p = net.params
    for layer, target in keras_weighted_layers(where, model, layers):
        first, second = layer["params"]
        if layer["kind"] == "conv":
            arrays = conv_to_keras(p[first], p[second])
        elif layer["kind"] == "affine":
            arrays = affine_to_keras(p[first], p[second], feature_shape(layers))
        else:
            arrays = keras_compat.weights_from_bn_param(p[first], p[second], net.bn_params[layer["block"] - 1])
        _set_weights(where, target, arrays, f"{layer['kind']} ({first}, {second})")
    return model


def from_keras(model, net):
    """Our params and bn_params from a Keras model shaped like net (net is not changed).

    Returns a tuple of:
    - params: dict of new arrays, net.params's names and shapes (net's dtype)
    - bn_params: list of dicts with running_mean and running_var (empty without batch norm)
    """
    where = "from_keras"
    require(where, "keras")
    layers = layers_of(net)
    params, bn_params = {}, []
    for layer, source in keras_weighted_layers(where, model, layers):
        first, second = layer["params"]
        weights = [np.asarray(w, dtype=net.dtype) for w in source.get_weights()]
        if layer["kind"] == "conv":
            params[first], params[second] = conv_from_keras(*weights)
        elif layer["kind"] == "affine":
            params[first], params[second] = affine_from_keras(*weights, feature_shape(layers))
        else:
            params[first], params[second], bn_param = keras_compat.bn_param_from_weights(
                weights, momentum=source.momentum, eps=source.epsilon)
            bn_params.append({key: bn_param[key] for key in ("running_mean", "running_var")})
    return params, bn_params


def torch_weighted_layers(where, module, layers):
    """Pairs (our layer dict, the PyTorch module holding its weights), in order."""
    kinds = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)
    found = [m for m in module.modules() if isinstance(m, kinds)]
    expected = _weighted(layers)
    if len(found) != len(expected):
        raise ValueError(f"{where}: the PyTorch module has {len(found)} Conv2d/BatchNorm2d/Linear layers; "
                         f"our network has {len(expected)} ({', '.join(layer['kind'] for layer in expected)})")
    return list(zip(expected, found))


def to_torch(net, module):
    """Copy our network's weights and batch-norm statistics into a PyTorch module (in place).

    The module keeps its dtype (float32 from torch_convnet; call .double() before for float64).

    Our running statistics are copied as stored (exact for a fresh network, and for
    inference); `torch_channel_running_var` converts a training history.

    Returns:
    - module
    """
    where = "to_torch"
    require(where, "torch")
    p = net.params
    with torch.no_grad():
        for layer, target in torch_weighted_layers(where, module, layers_of(net)):
            first, second = layer["params"]
            if layer["kind"] == "spatial_batchnorm":
                state = torch_compat.state_dict_from_bn_param(p[first], p[second], net.bn_params[layer["block"] - 1])
                target.load_state_dict(state)  # copied into the module's tensors, in their dtype
                continue
            arrays = [p[first], p[second]] if layer["kind"] == "conv" else affine_to_torch(p[first], p[second])
            for tensor, a in zip((target.weight, target.bias), arrays):
                if tuple(tensor.shape) != a.shape:
                    raise ValueError(f"{where}: {type(target).__name__} has a weight of shape {tuple(tensor.shape)}; "
                                     f"our {layer['kind']} ({first}, {second}) converts to {a.shape}")
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(a)))  # cast to the module's dtype
    return module


def from_torch(module, net, gradients=False):
    """Our params (or, with gradients=True, their gradients) and bn_params from a PyTorch module.

    Running variances are returned as PyTorch stores them (unbiased updates); see
    `torch_channel_running_var`.

    Returns: as from_keras (bn_params empty when gradients=True).
    """
    where = "from_torch"
    require(where, "torch")
    params, bn_params = {}, []

    def numpy(t):
        t = t.grad if gradients else t
        if t is None:
            raise ValueError(f"{where}: a parameter has no gradient; call loss.backward() first")
        return t.detach().numpy().astype(net.dtype)

    for layer, source in torch_weighted_layers(where, module, layers_of(net)):
        first, second = layer["params"]
        w, b = numpy(source.weight), numpy(source.bias)
        if layer["kind"] == "affine":
            w, b = affine_from_torch(w, b)
        params[first], params[second] = w, b
        if layer["kind"] == "spatial_batchnorm" and not gradients:
            bn_params.append({"running_mean": source.running_mean.numpy().astype(net.dtype),
                              "running_var": source.running_var.numpy().astype(net.dtype)})
    return params, bn_params


def nhwc(X):
    """(N, C, H, W) images as a new float32 (N, H, W, C) array, Keras's default layout."""
    validation.float_array("nhwc", "X", X, ndim=4)
    return np.ascontiguousarray(X.transpose(0, 2, 3, 1), dtype=np.float32)
