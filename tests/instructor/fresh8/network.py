"""FullyConnectedNet._hidden_forward and _hidden_backward: subclasses that override one of them.

As the exercise asks, these call the layer functions the network normally calls.
"""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    FullyConnectedNet, HiddenLayerCache, SigmoidCache, dropout_backward, dropout_forward, sigmoid_backward,
    sigmoid_forward,
)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.later_catalogue import Catalogue

fwd = Catalogue("FullyConnectedNet._hidden_forward")
bwd = Catalogue("FullyConnectedNet._hidden_backward")


def _norm(net, a, i, mode, set_mode=True, params=None):
    """The hidden layer's normalization of a; returns (z, cache)."""
    p = net.params
    if net.normalization == "batchnorm":
        bn_param = net.bn_params[i - 1] if params is None else params
        if set_mode:
            bn_param["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
    if net.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    return a, None


def _activation(net, z):
    return relu_forward(z) if net.activation == "relu" else sigmoid_forward(z)


@fwd.mistake("Applies the activation before the normalization: affine -> activation -> norm -> dropout (z is the norm's input).")
class ActivationBeforeNorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        r, act_cache = _activation(self, a)
        h, norm_cache = _norm(self, r, i, mode)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, act_cache, drop)


@fwd.mistake("Never writes the mode into the layer's bn_param, so batch norm keeps normalizing with batch statistics at test time.")
class BnModeNotSet(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode, set_mode=False)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Indexes the layer's norm dict with bn_params[i] instead of bn_params[i - 1] (layers are numbered from 1).")
class BnParamsOffByOne(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        p = self.params
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        else:
            z = a
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Applies dropout before the activation: affine -> norm -> dropout -> activation.")
class DropoutBeforeActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        d, drop = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, act_cache = _activation(self, d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Calls dropout with mode 'train' always, so units are still dropped when scoring in test mode.")
class DropoutAlwaysTrain(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Handles batch norm only: with normalization='layernorm' the layer skips the norm altogether.")
class IgnoresLayernorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        if self.normalization == "batchnorm":
            z, norm_cache = _norm(self, a, i, mode)
        else:
            z, norm_cache = a, None
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Stores the affine output a in the cache's z field instead of the normalized z that the activation sees.")
class CacheZIsAffine(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, act_cache, drop)


@fwd.mistake("Always uses ReLU, ignoring activation='sigmoid'.")
class AlwaysRelu(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = relu_forward(z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Draws the dropout mask from np.random instead of the rng it is given, so a seeded network's masks are not its own.")
class DropoutIgnoresRng(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, np.random)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Passes a copy of the layer's bn_param (dict(...)) to batchnorm_forward, so the running statistics are never kept.")
class BnParamCopied(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        params = dict(self.bn_params[i - 1]) if self.normalization == "batchnorm" else None
        z, norm_cache = _norm(self, a, i, mode, params=params)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.mistake("Uses the next layer's scale and shift, gamma{i+1} and beta{i+1}, falling back to layer i's only for the last hidden layer.")
class NextLayerGamma(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        p = self.params
        j = i + 1 if f"gamma{i + 1}" in p and p[f"gamma{i + 1}"].shape == p[f"gamma{i}"].shape else i
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], self.bn_params[i - 1])
        else:
            z = a
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.correct("Picks the norm and activation functions from dicts keyed by the network's settings.")
class DispatchTables(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            self.bn_params[i - 1].update(mode=mode)
        norms = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
        if self.normalization in norms:
            z, norm_cache = norms[self.normalization](a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = a, None
        h, act_cache = {"relu": relu_forward, "sigmoid": sigmoid_forward}[self.activation](z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.correct("Writes the mode into every norm dict, layer norm's included (layer norm ignores it).")
class ModeForBothNorms(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        if self.normalization is not None:
            self.bn_params[i - 1]["mode"] = mode
        z, norm_cache = _norm(self, a, i, mode, set_mode=False)
        h, act_cache = _activation(self, z)
        out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


@fwd.correct("Skips the dropout call entirely when the network has no dropout, building the same empty DropoutCache.")
class SkipDropoutWhenOff(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        if self.use_dropout:
            out, drop = dropout_forward(h, self.dropout_param["p"], mode, rng)
        else:
            out, drop = dropout_forward(h, 1, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop)


def _norm_backward(net, dz, cache, grads, i):
    if net.normalization == "batchnorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
    elif net.normalization == "layernorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
    else:
        da = dz
    return da


def _act_backward(net, dh, cache):
    return relu_backward(dh, cache.activation) if net.activation == "relu" else sigmoid_backward(dh, cache.activation)


@bwd.mistake("Stores dgamma under beta{i} and dbeta under gamma{i} (the outputs of the norm's backward unpacked in the wrong order).")
class GradsSwapped(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_backward(self, dz, cache, grads, i)
        if self.normalization is not None:
            grads[f"gamma{i}"], grads[f"beta{i}"] = grads[f"beta{i}"], grads[f"gamma{i}"]
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Skips dropout's backward pass: the gradient reaches the dropped units too and is not scaled by 1/keep_ratio.")
class NoDropoutBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dout, cache)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Always backpropagates through ReLU, ignoring activation='sigmoid' (relu_backward on the sigmoid's cache).")
class AlwaysReluBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        act = cache.activation
        dz = dh * (cache.z > 0) if isinstance(act, SigmoidCache) else relu_backward(dh, act)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Forgets the norm's backward pass: passes the activation's gradient straight to the affine layer and leaves the gamma/beta gradients unset.")
class NoNormBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dz, cache.affine)
        return dx


@bwd.mistake("Adds the L2 term reg * W to dW inside the hidden layer too, although loss() adds it once for every layer.")
class DoubleRegularization(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
        grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
        return dx


@bwd.mistake("Uses batch norm's backward pass for layer norm too (batchnorm_backward_alt on a LayerNormCache).")
class BatchnormBackwardForLayernorm(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Computes the sigmoid's local gradient from its input z instead of its output: dz = dh * z * (1 - z).")
class SigmoidGradFromInput(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = relu_backward(dh, cache.activation) if self.activation == "relu" else dh * cache.z * (1 - cache.z)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Unpacks affine_backward's results in the wrong order, dx, grads['b{i}'], grads['W{i}'], so the weights' and biases' gradients trade places.")
class AffineUnpackSwapped(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"b{i}"], grads[f"W{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.correct("Backpropagates through the activation before dropout (both are elementwise products, so the order does not matter).")
class ActivationThenDropout(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(_act_backward(self, dout, cache), cache.dropout)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.correct("Uses the staged batchnorm_backward instead of the closed form (same gradients).")
class StagedBatchnorm(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
        else:
            da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.correct("Writes the sigmoid's backward by hand from the cached output: dz = dh * out * (1 - out).")
class SigmoidByHand(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        if self.activation == "sigmoid":
            s = cache.activation.out
            dz = dh * s * (1 - s)
        else:
            dz = relu_backward(dh, cache.activation)
        da = _norm_backward(self, dz, cache, grads, i)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx
