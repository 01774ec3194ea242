"""CS231n's "sandwich" layers (its module `layer_utils`): common chains of layers as one.

Each forward returns (out, cache) and each backward takes (dout, cache), with CS231n's
names and arguments. A cache is a named tuple of the caches of the layers inside it: it
unpacks like CS231n's plain tuples (`conv_cache, relu_cache = cache`) and names its parts
(`cache.conv`). The layers inside never look into each other's caches, so any norm layer
that keeps its own kind of cache would fit the same chain.
"""

from typing import NamedTuple

from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from cs231n_bn.spatial import spatial_batchnorm_backward, spatial_batchnorm_forward


class AffineReluCache(NamedTuple):
    affine: object
    relu: object


class ConvReluCache(NamedTuple):
    conv: object
    relu: object


class ConvBnReluCache(NamedTuple):
    conv: object
    bn: object
    relu: object


class ConvReluPoolCache(NamedTuple):
    conv: object
    relu: object
    pool: object


def affine_relu_forward(x, w, b):
    """Affine layer followed by a ReLU.

    Inputs:
    - x: (N, d_1, ..., d_k) data, flattened per sample to D values
    - w: (D, M) weights
    - b: (M,) biases

    Returns a tuple of:
    - out: (N, M) max(0, x @ w + b)
    - cache: AffineReluCache for affine_relu_backward
    """
    a, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, AffineReluCache(affine_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu_forward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: AffineReluCache from affine_relu_forward

    Returns a tuple of:
    - dx: shaped like x; dw: (D, M); db: (M,)
    """
    da = relu_backward(dout, cache.relu)
    return affine_backward(da, cache.affine)


def conv_relu_forward(x, w, b, conv_param):
    """Convolution (the fast one) followed by a ReLU.

    Inputs:
    - x: (N, C, H, W) data
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride' and 'pad', as for conv_forward

    Returns a tuple of:
    - out: (N, F, H_out, W_out)
    - cache: ConvReluCache for conv_relu_backward
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, ConvReluCache(conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu_forward.

    Inputs:
    - dout: (N, F, H_out, W_out) upstream gradient
    - cache: ConvReluCache from conv_relu_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,)
    """
    da = relu_backward(dout, cache.relu)
    return conv_backward(da, cache.conv)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batch norm, then a ReLU.

    Inputs:
    - x: (N, C, H, W) data
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - gamma, beta: (F,) scale and shift of the batch norm, one per filter
    - conv_param: dict with 'stride' and 'pad', as for conv_forward
    - bn_param: dict as for spatial_batchnorm_forward (its running statistics are updated
      in train mode)

    Returns a tuple of:
    - out: (N, F, H_out, W_out)
    - cache: ConvBnReluCache for conv_bn_relu_backward
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, ConvBnReluCache(conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu_forward (from a train-mode forward pass).

    Inputs:
    - dout: (N, F, H_out, W_out) upstream gradient
    - cache: ConvBnReluCache from conv_bn_relu_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,); dgamma: (F,); dbeta: (F,)
    """
    dan = relu_backward(dout, cache.relu)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, cache.bn)
    dx, dw, db = conv_backward(da, cache.conv)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, then max pooling.

    Inputs:
    - x: (N, C, H, W) data
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride' and 'pad', as for conv_forward
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride', as for max_pool_forward

    Returns a tuple of:
    - out: (N, F, H_pool, W_pool)
    - cache: ConvReluPoolCache for conv_relu_pool_backward
    """
    a, conv_cache = conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward(s, pool_param)
    return out, ConvReluPoolCache(conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool_forward.

    Inputs:
    - dout: (N, F, H_pool, W_pool) upstream gradient
    - cache: ConvReluPoolCache from conv_relu_pool_forward

    Returns a tuple of:
    - dx: (N, C, H, W); dw: (F, C, HH, WW); db: (F,)
    """
    ds = max_pool_backward(dout, cache.pool)
    da = relu_backward(ds, cache.relu)
    return conv_backward(da, cache.conv)
