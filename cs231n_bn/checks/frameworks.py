"""Check of notebook 9's exercise: a Keras model built from our network's layer list.

The verdict comes from the model's behaviour, not from its code: our weights must load
into it through the converters of cs231n_bn.framework_convnet, and then one inference
forward pass and one training step (loss, gradients, updated weights, moving statistics)
must agree with our SmallConvNet's, on networks and images the check chooses.
"""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.core import call
from cs231n_bn.checks.display import CheckFailed, passed
from cs231n_bn.cnn import SmallConvNet

EXERCISE = "keras_convnet"
TOLERANCE = 1e-4  # float32 round-off of a few hundred terms, relative to the largest value

# (description, SmallConvNet arguments): networks unlike the notebook's, so that numbers
# copied from its layer list do not pass
_NETWORKS = (
    ("one block, 3-channel 8x8 images, 6 filters of 5x5",
     dict(input_dim=(3, 8, 8), num_filters=6, filter_size=5, num_classes=4, normalization="batchnorm")),
    ("two blocks with the norm after the pool",
     dict(input_dim=(2, 8, 8), num_filters=5, num_classes=3, normalization="batchnorm", num_blocks=2,
          block_order="conv-relu-pool-norm")),
)


def _network(arguments, rng):
    """A float32 SmallConvNet whose batch norms have non-trivial gamma, beta, eps, momentum and statistics."""
    net = SmallConvNet(dtype=np.float32, seed=int(rng.integers(1000)), **arguments)
    for i, bn_param in enumerate(net.bn_params, start=1):
        F = net.params[f"gamma{i}"].shape[0]
        net.params[f"gamma{i}"] = rng.uniform(0.5, 2.0, F).astype(np.float32)
        net.params[f"beta{i}"] = rng.normal(0, 0.5, F).astype(np.float32)
        bn_param.update(eps=1e-2, momentum=0.8, running_mean=rng.normal(0, 0.5, F).astype(np.float32),
                        running_var=rng.uniform(0.5, 2.0, F).astype(np.float32))
    return net


def _symptoms(comparison):
    """The quantities of a StepComparison above the tolerance, as 'name (difference)' strings."""
    named = {"inference forward pass": comparison.forward, "training loss": comparison.loss}
    named.update({f"gradient of {k}": v for k, v in comparison.grads.items()})
    named.update({f"updated {k}": v for k, v in comparison.params.items()})
    named.update({f"moving statistic {k}": v for k, v in comparison.running.items()})
    return [f"{name} ({value:.1e})" for name, value in named.items() if not value <= TOLERANCE]


@reference.for_checks
def check_keras_convnet(keras_convnet):
    """Check a function that builds a Keras model from a layer list of framework_convnet.layers_of.

    Inputs:
    - keras_convnet: function(layers) -> a built keras.Model with those layers, in order
    """
    from cs231n_bn import framework_convnet as fc
    from cs231n_bn import side_by_side

    fc.require("check_keras_convnet", "keras")
    rng = np.random.default_rng(90)
    for description, arguments in _NETWORKS:
        net = _network(arguments, rng)
        layers = fc.layers_of(net)
        model = call(EXERCISE, "keras_convnet", keras_convnet, layers)
        if not isinstance(model, fc.keras.Model):
            raise CheckFailed(f"keras_convnet returned {type(model).__name__}, not a Keras model "
                              f"(network: {description})", EXERCISE, "not a model")
        if not model.built or not model.weights:
            raise CheckFailed(f"the model keras_convnet returned has no weights yet: it is not built, so "
                              f"ours cannot be loaded (network: {description})", EXERCISE, "not built")
        C, H, W = net.input_dim
        X = rng.normal(size=(6, C, H, W)).astype(np.float32)
        y = rng.integers(0, arguments["num_classes"], size=6)
        try:
            comparison = side_by_side.one_step(net, X, y, keras_model=model, frameworks=("Keras",))["Keras"]
        except ValueError as err:
            raise CheckFailed(f"our weights do not load into the model (network: {description}): {err}",
                              EXERCISE, "weight transfer") from None
        wrong = _symptoms(comparison)
        if wrong:
            raise CheckFailed(
                f"our weights load, but the model does not compute what ours does (network: {description}); "
                f"differences relative to the largest value, above {TOLERANCE:.0e}: {', '.join(wrong)}",
                EXERCISE, "forward" if comparison.forward > TOLERANCE else "training step")
    passed(EXERCISE, f"our weights load into the model, and an inference forward pass and a training step agree "
                     f"with ours within {TOLERANCE:.0e} on {len(_NETWORKS)} networks")
