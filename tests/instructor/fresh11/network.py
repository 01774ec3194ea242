"""FullyConnectedNet._hidden_forward and _hidden_backward: subclasses that override one method."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    FullyConnectedNet,
    DropoutCache,
    HiddenLayerCache,
    dropout_backward,
    dropout_forward,
    sigmoid_backward,
    sigmoid_forward,
)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward

from tests.instructor.later_catalogue import Catalogue

hidden_forward = Catalogue("FullyConnectedNet._hidden_forward")
hidden_backward = Catalogue("FullyConnectedNet._hidden_backward")


def _norm(net, a, i, mode, bn_param=None):
    p = net.params
    if net.normalization == "batchnorm":
        param = net.bn_params[i - 1] if bn_param is None else bn_param
        param["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], param)
    if net.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    return a, None


def _activation(net, z):
    return relu_forward(z) if net.activation == "relu" else sigmoid_forward(z)


@hidden_forward.mistake("bn_params' mode is never set, so batch norm always runs in the mode its dict was built with ('train'), also at test time.")
class ModeNotSet(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("Batch norm gets a copy of the layer's bn_param (dict(...)), so the running statistics it updates are lost.")
class BnParamCopy(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode, dict(self.bn_params[i - 1]) if self.normalization == "batchnorm" else None)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("Layer i uses bn_params[i] instead of bn_params[i - 1] (off by one; the last hidden layer has none).")
class BnParamIndex(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            self.bn_params[i]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        else:
            z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("The activation is applied before the normalization: affine -> activation -> norm.")
class ActivationBeforeNorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        h, act_cache = _activation(self, a)
        z, norm_cache = _norm(self, h, i, mode)
        out, drop_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, act_cache, drop_cache)


@hidden_forward.mistake("Dropout is applied before the activation, to the normalized values.")
class DropoutBeforeActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        d, drop_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, act_cache = _activation(self, d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("Dropout always runs in 'train' mode, so test-time scores are computed with random masks.")
class DropoutAlwaysTrain(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("The dropout masks are drawn from np.random instead of the rng passed in, ignoring the network's seed.")
class DropoutGlobalRng(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, np.random.default_rng())
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("The cache's z records the activation's output instead of its input.")
class ZAfterActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, h, act_cache, drop_cache)


@hidden_forward.mistake("The activation is always ReLU, ignoring activation='sigmoid'.")
class AlwaysRelu(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = relu_forward(z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("Any normalization other than None runs batch norm, so layer-norm networks get batch norm.")
class LayernormAsBatchnorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        z = a
        if self.normalization is not None:
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("The affine layer uses the next layer's weights, W{i+1} and b{i+1}.")
class WeightsOffByOne(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i + 1}"], p[f"b{i + 1}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.mistake("The layer returns the activation's output h, so dropout's result is computed but never used.")
class ReturnsBeforeDropout(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        _, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return h, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.correct("Batch norm's mode set through a dict update, norm chosen by a lookup table of forward functions.")
class TableOfNorms(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norms = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
        z, norm_cache = a, None
        if self.normalization in norms:
            param = self.bn_params[i - 1]
            if self.normalization == "batchnorm":
                param.update(mode=mode)
            z, norm_cache = norms[self.normalization](a, p[f"gamma{i}"], p[f"beta{i}"], param)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.correct("Sets mode on layer norm's dict too (layer norm ignores it).")
class ModeOnEveryDict(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization is not None:
            self.bn_params[i - 1]["mode"] = mode
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.correct("Dropout called only in train mode; at test time the activation passes through with an empty DropoutCache.")
class DropoutOnlyInTrain(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = _activation(self, z)
        if mode == "train":
            out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        else:
            out, drop_cache = h, DropoutCache(mask=None)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


@hidden_forward.correct("The activation chosen from a dict {'relu': relu_forward, 'sigmoid': sigmoid_forward}.")
class ActivationTable(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, act_cache = {"relu": relu_forward, "sigmoid": sigmoid_forward}[self.activation](z)
        out, drop_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, act_cache, drop_cache)


# ---------------------------------------------------------------- backward

def _norm_backward(net, dz, cache):
    if net.normalization == "batchnorm":
        return batchnorm_backward_alt(dz, cache.norm)
    if net.normalization == "layernorm":
        return layernorm_backward(dz, cache.norm)
    return dz, None, None


def _act_backward(net, dh, cache):
    return (relu_backward if net.activation == "relu" else sigmoid_backward)(dh, cache.activation)


def _store(grads, i, net, dgamma, dbeta):
    if net.normalization is not None:
        grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta


@hidden_backward.mistake("The dropout backward step is skipped: the gradient also flows through the dropped units.")
class NoDropoutBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dout, cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("The activation's backward pass is skipped (dz = dh).")
class NoActivationBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(dout, cache.dropout)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("The activation's backward pass is always ReLU's, so sigmoid networks get the wrong gradient.")
class AlwaysReluBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = relu_backward(dh, cache.activation) if self.activation == "relu" else dh * (cache.z > 0)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("The gamma and beta gradients are stored under layer i - 1's names (gamma{i-1}, beta{i-1}).")
class NormKeysOffByOne(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i - 1, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("dgamma and dbeta are stored under each other's names.")
class NormGradsSwapped(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dbeta, dgamma)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("The normalization's backward pass is skipped: the affine layer receives dz.")
class NoNormBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        _, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dz, cache.affine)
        return dx


@hidden_backward.mistake("The method returns da, the gradient at the affine layer's output, instead of dx at its input.")
class ReturnsDa(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return da


@hidden_backward.mistake("dW and db of the layer are never written into grads.")
class NoAffineGrads(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, _, _ = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("Layer norm's gradient is computed with batchnorm_backward_alt, which refuses the layer-norm cache.")
class BatchnormBackwardForLayernorm(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("The dropout mask applied after the activation's backward pass: both are elementwise factors, so the order does not matter.")
class DropoutMaskLast(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(_act_backward(self, dout, cache), cache.dropout)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("Batch norm's gradient through the staged batchnorm_backward instead of the closed form.")
class StagedBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
        else:
            da, dgamma, dbeta = _norm_backward(self, dz, cache)
            _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("The ReLU backward written by hand from the cached z, dz = dh * (z > 0).")
class ReluByHand(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = dh * (cache.z > 0) if self.activation == "relu" else sigmoid_backward(dh, cache.activation)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(grads, i, self, dgamma, dbeta)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("Gradients collected in a local dict and merged into grads with update().")
class LocalGradsThenUpdate(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        local = {}
        dz = _act_backward(self, dropout_backward(dout, cache.dropout), cache)
        da, dgamma, dbeta = _norm_backward(self, dz, cache)
        _store(local, i, self, dgamma, dbeta)
        dx, local[f"W{i}"], local[f"b{i}"] = affine_backward(da, cache.affine)
        grads.update(local)
        return dx
