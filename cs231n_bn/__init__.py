"""cs231n_bn: the math behind the batch-normalization course, importable and tested.

The names and signatures match Stanford CS231n's assignment 2, so code moves between them.
"""

from cs231n_bn.batchnorm import (
    BatchNormCache,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
)
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

__all__ = [
    "AffineCache",
    "BatchNormCache",
    "LayerNormCache",
    "LowPrecisionWarning",
    "ReluCache",
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "layernorm_backward",
    "layernorm_forward",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
]
