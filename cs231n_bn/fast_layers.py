"""CS231n's names for the fast convolution and pooling layers (its module `fast_layers`).

CS231n ships its fast layers apart from the readable ones, under names ending in `_fast`;
here the fast versions are `cs231n_bn.conv`'s own (im2col matrix products), so these
names are the same functions, and a cell written for CS231n, e.g.

    from cs231n_bn.fast_layers import conv_forward_fast, conv_backward_fast

runs unchanged. Their caches belong to the fast versions: pass the cache of
conv_forward_fast to conv_backward_fast, not to conv_backward_naive.
"""

from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward

conv_forward_fast = conv_forward
conv_backward_fast = conv_backward
max_pool_forward_fast = max_pool_forward
max_pool_backward_fast = max_pool_backward

__all__ = ["conv_backward_fast", "conv_forward_fast", "max_pool_backward_fast", "max_pool_forward_fast"]
