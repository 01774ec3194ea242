"""Moving batch-norm state between our `bn_param` and Keras 3's `BatchNormalization`.

Keras (TensorFlow's layer API since TF 2.16) is closer to CS231n than PyTorch is:

| what                 | ours (CS231n)                       | Keras 3 `BatchNormalization`          |
| -------------------- | ----------------------------------- | ------------------------------------- |
| momentum             | weight kept on the OLD value (0.9)  | weight kept on the OLD value (0.99)   |
| eps default          | 1e-5                                | `epsilon=1e-3`                        |
| moving variance      | biased batch variance (divide by N) | biased batch variance (divide by N)   |
| start values         | zeros                               | mean zeros, variance ones             |
| batches counted      | no                                  | no                                    |
| gamma, beta          | `gamma`, `beta` arrays              | weights `gamma`, `beta`               |
| train / test         | `bn_param['mode']`                  | `layer(x, training=True/False)`       |

(notebook 8 measures every row). With the same momentum, after the same k training
batches of any sizes, the moving mean equals our running mean, and the moving variance is
ours plus what is left of Keras's start value 1: relation (**). Both average the same
biased batch statistics and only the start values differ, so the share left of the start
is the one of PyTorch's relation (*) with the momenta converted, which the conversions take
from the student's `torch_stats.torch_running_var` (notebook 8, Exercise 1). Unlike
PyTorch's relation there is no factor on our running variance, so batches of different
sizes convert exactly too; but Keras does not count its batches, so k has to come from
the caller.

Two conversions, chosen by `steps`:

- `steps=None` (default): moving_variance is copied as it is stored.
- `steps=k`: the variance is converted with (**), so the converted layer holds what it
  would have accumulated itself on the same k batches, and further training keeps the
  two in step.

Keras has no stored mode: a layer normalizes with the batch statistics when called with
`training=True` (unless `layer.trainable` is False, which forces inference), and with its
moving statistics otherwise. On its PyTorch and JAX backends Keras computes batch norm
in float32 even for a float64 layer, so "the same numbers" means equal to float32
round-off. Weights travel as the numpy arrays of `layer.get_weights()` /
`layer.set_weights()`, which every Keras backend supports; this module selects the
PyTorch backend (`KERAS_BACKEND=torch`, unless already set), so no TensorFlow is needed.
"""

import os

from cs231n_bn import validation
from cs231n_bn.batchnorm import BN_PARAM_KEYS, DEFAULT_EPS, DEFAULT_MOMENTUM
from cs231n_bn.torch_compat import (FrameworkMissing, nonnegative_int, remove_start_value, start_share, trained_arrays,
                                    variances)

# Keras picks its backend once, at its first import; the course needs no TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except ImportError:  # Keras is optional: the weight-list side still works on numpy arrays
    keras = None

WEIGHT_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")
KERAS_DEFAULT_MOMENTUM = 0.99
KERAS_DEFAULT_EPS = 1e-3
INSTALL_HINT = "pip install torch==2.13.0 'keras>=3.15,<4'"


def _steps(where, steps):
    # None: no training history to convert; else the training batches the layer has seen
    return None if steps is None else nonnegative_int(where, "steps", steps)


def _require_keras(where):
    if keras is None:
        raise FrameworkMissing(f"{where}: needs Keras 3, which is not installed; install it with `{INSTALL_HINT}`")


def bn_param_from_weights(weights, momentum=KERAS_DEFAULT_MOMENTUM, eps=KERAS_DEFAULT_EPS, steps=None, mode="test"):
    """Our gamma, beta and bn_param from the weight list of a Keras BatchNormalization.

    A weight list holds no hyperparameters, so momentum and eps are Keras's, passed in.

    Inputs:
    - weights: sequence of 4 floating (D,) arrays, in the order layer.get_weights()
      gives them: gamma, beta, moving_mean, moving_variance
    - momentum: Keras's momentum, the weight on the OLD value (our sense too), in [0, 1]
    - eps: Keras's epsilon, > 0
    - steps: None to copy moving_variance as stored, or the
      number k of training batches behind it, to convert it with (**)
    - mode: 'train' or 'test', written into bn_param

    Returns a tuple of:
    - gamma: (D,) copy of gamma
    - beta: (D,) copy of beta
    - bn_param: dict with mode, eps, momentum, running_mean, running_var
    """
    where = "bn_param_from_weights"
    if isinstance(weights, (str, bytes, dict)) or not hasattr(weights, "__len__") or len(weights) != 4:
        raise ValueError(
            f"{where}: weights must be the 4 arrays of layer.get_weights() "
            f"({', '.join(WEIGHT_NAMES)}); got {type(weights).__name__}"
            + (f" of length {len(weights)}" if hasattr(weights, "__len__") else "")
        )
    momentum = validation.unit_interval(where, "momentum", momentum)
    eps = validation.positive_number(where, "eps", eps)
    steps = _steps(where, steps)
    mode = validation.choice(where, "mode", mode, ("train", "test"))
    # Copies: the caller's arrays (or the layer's) must not change under our later updates.
    gamma, beta, running_mean, running_var = (
        validation.float_array(where, f"weights[{i}] ({name})", a, ndim=1).copy()
        for i, (name, a) in enumerate(zip(WEIGHT_NAMES, weights))
    )
    D = gamma.shape[0]
    for name, a in zip(WEIGHT_NAMES[1:], (beta, running_mean, running_var)):
        validation.same_shape(where, name, a, (D,), "the shape of gamma")
    variances(where, "weights[3] (moving_variance)", running_var)
    if steps is not None:
        # (**) solved for ours: remove the decayed start value 1
        running_var = remove_start_value(
            where, "weights[3] (moving_variance)", running_var, start_share(steps, momentum), steps,
            "Check steps and momentum, or pass steps=None",
        )
    bn_param = {
        "mode": mode,
        "eps": eps,
        "momentum": momentum,
        "running_mean": running_mean,
        "running_var": running_var,
    }
    return gamma, beta, bn_param


def bn_param_from_layer(layer, steps=None, mode="test"):
    """Our gamma, beta and bn_param from a built Keras BatchNormalization (thin wrapper).

    Reads momentum and epsilon from the layer. Keras stores no mode (the call's `training`
    argument chooses), so `mode` says which one bn_param should hold.

    Inputs:
    - layer: built keras.layers.BatchNormalization with center=True, scale=True and
      renorm=False
    - steps, mode: as bn_param_from_weights

    Returns: as bn_param_from_weights.
    """
    where = "bn_param_from_layer"
    _require_keras(where)
    if not isinstance(layer, keras.layers.BatchNormalization):
        raise TypeError(f"{where}: layer must be a keras.layers.BatchNormalization; got {type(layer).__name__}")
    if not (layer.center and layer.scale) or layer.renorm:
        raise ValueError(
            f"{where}: layer must have center=True, scale=True and renorm=False (otherwise it has "
            f"no gamma/beta, or statistics our layer does not keep); got center={layer.center}, "
            f"scale={layer.scale}, renorm={layer.renorm}"
        )
    if not layer.built:
        raise ValueError(f"{where}: layer is not built yet, so it has no weights; call it once or layer.build(shape)")
    return bn_param_from_weights(layer.get_weights(), layer.momentum, layer.epsilon, steps, mode)


def weights_from_bn_param(gamma, beta, bn_param, steps=None):
    """The weight list of a Keras BatchNormalization from our gamma, beta and bn_param.

    Inputs:
    - gamma, beta: (D,) floating arrays
    - bn_param: dict with running_mean and running_var of shape (D,), of gamma's dtype
      (after at least one training batch; our layer creates them then)
    - steps: None to copy running_var as stored, or the
      number k of training batches behind it, to convert it with (**)

    Returns:
    - list of 4 new (D,) arrays: gamma, beta, moving_mean, moving_variance, ready for
      layer.set_weights
    """
    where = "weights_from_bn_param"
    arrays = [a.copy() for a in trained_arrays(where, gamma, beta, bn_param)]
    steps = _steps(where, steps)
    if steps is not None:
        momentum = validation.unit_interval(where, "bn_param['momentum']", bn_param.get("momentum", DEFAULT_MOMENTUM))
        arrays[3] = arrays[3] + start_share(steps, momentum)
    return arrays


def layer_from_bn_param(gamma, beta, bn_param, steps=None):
    """A built keras.layers.BatchNormalization that holds our gamma, beta and bn_param.

    Momentum needs no conversion (both weigh the old value); eps becomes epsilon; the
    layer's dtype is gamma's. bn_param['mode'] is not stored: call the layer with
    training=True for 'train' and training=False for 'test'.

    Inputs: as weights_from_bn_param.

    Returns:
    - keras.layers.BatchNormalization for inputs of shape (N, D)
    """
    where = "layer_from_bn_param"
    _require_keras(where)
    validation.param_dict(where, "bn_param", bn_param)
    validation.known_keys(where, "bn_param", bn_param, BN_PARAM_KEYS)
    weights = weights_from_bn_param(gamma, beta, bn_param, steps)
    layer = keras.layers.BatchNormalization(
        momentum=validation.unit_interval(where, "bn_param['momentum']", bn_param.get("momentum", DEFAULT_MOMENTUM)),
        epsilon=validation.positive_number(where, "bn_param['eps']", bn_param.get("eps", DEFAULT_EPS)),
        dtype=str(gamma.dtype),
    )
    layer.build((None, gamma.shape[0]))
    layer.set_weights(weights)
    return layer
