"""cs231n_bn: the math behind the batch-normalization course, importable and tested.

The names and signatures match Stanford CS231n's assignment 2, so code moves between them.
The top level exports the layers, the models, the solver and the gradient checks; the
course's other tools live in submodules imported by name: `checks` (the notebooks' check
cells), `graph` (notebook 2's computational graph), `numerics` (notebook 4), `experiments`
(notebooks 5-7), `benchmark`, `torch_compat` (notebook 8), and CS231n's `fast_layers` and
`layer_utils` names. The instructors' tools are the top-level `classroom` package, outside
this one.
"""

from cs231n_bn.batchnorm import (
    BatchNormCache,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)
from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.conv import (
    ConvCache,
    ConvNaiveCache,
    MaxPoolCache,
    conv_backward,
    conv_backward_naive,
    conv_backward_weights,
    conv_forward,
    conv_forward_naive,
    max_pool_backward,
    max_pool_backward_naive,
    max_pool_forward,
    max_pool_forward_naive,
)
from cs231n_bn.data import get_data
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.gradient_check import (
    LowPrecisionWarning,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from cs231n_bn.layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from cs231n_bn.layers import (
    AffineCache,
    ReluCache,
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from cs231n_bn.optim import adam, rmsprop, sgd, sgd_momentum
from cs231n_bn.solver import Solver
from cs231n_bn.spatial import (
    GroupNormCache,
    SpatialBatchNormCache,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_bn.three_layer_convnet import ThreeLayerConvNet

__all__ = [
    "AffineCache",
    "BatchNormCache",
    "ConvCache",
    "ConvNaiveCache",
    "FullyConnectedNet",
    "GroupNormCache",
    "LayerNormCache",
    "LowPrecisionWarning",
    "MaxPoolCache",
    "ReluCache",
    "SmallConvNet",
    "Solver",
    "SpatialBatchNormCache",
    "ThreeLayerConvNet",
    "adam",
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "conv_backward",
    "conv_backward_naive",
    "conv_backward_weights",
    "conv_forward",
    "conv_forward_naive",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "get_data",
    "grad_check_sparse",
    "layernorm_backward",
    "layernorm_forward",
    "max_pool_backward",
    "max_pool_backward_naive",
    "max_pool_forward",
    "max_pool_forward_naive",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
]
