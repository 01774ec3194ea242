"""FullyConnectedNet._hidden_forward and _hidden_backward: subclasses overriding one method each."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    FullyConnectedNet, HiddenLayerCache, dropout_backward, dropout_forward,
    sigmoid_backward, sigmoid_forward,
)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import ReluCache, affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.later_catalogue import Catalogue

hidden_fwd = Catalogue("FullyConnectedNet._hidden_forward")
hidden_bwd = Catalogue("FullyConnectedNet._hidden_backward")


def _norm(net, a, i, mode, params=None):
    """The normalization step of layer i as the reference wires it (mode set on its own dict)."""
    p = net.params
    if net.normalization == "batchnorm":
        bn_param = net.bn_params[i - 1] if params is None else params
        bn_param["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
    if net.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    return a, None


def _activate(net, z):
    return relu_forward(z) if net.activation == "relu" else sigmoid_forward(z)


class NormAfterActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        h, activation_cache = _activate(self, a)
        z, norm_cache = _norm(self, h, i, mode)
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


hidden_fwd.mistake("the norm placed after the activation: affine -> relu -> norm")(NormAfterActivation)


class ModeNeverSet(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z = a
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("mode never written into the batch-norm dicts: scoring (test mode) still uses and updates batch statistics")(ModeNeverSet)


class DropoutAlwaysTrain(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("dropout always in 'train' mode: scores at test time are masked")(DropoutAlwaysTrain)


class BnParamsIndexI(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        params = self.bn_params[i % len(self.bn_params)] if self.bn_params else None
        z, norm_cache = _norm(self, a, i, mode, params)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("bn_params indexed with i (1-based) and wrapped round: each layer keeps another layer's running statistics")(BnParamsIndexI)


class LayernormAsBatchnorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        z = a
        if self.normalization is not None:
            bn_param = self.bn_params[i - 1]
            bn_param["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("any normalization runs batchnorm_forward: a layer-norm network gets batch norm")(LayernormAsBatchnorm)


class DropoutBeforeActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        d, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, activation_cache = _activate(self, d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("dropout before the activation (norm -> dropout -> activation): wrong for the sigmoid, whose sigma(0) is 1/2")(DropoutBeforeActivation)


class DropRatioAsKeep(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        keep = 1 - self.dropout_param["p"] if self.dropout_param["p"] < 1 else 1
        out, dropout_cache = dropout_forward(h, keep, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("dropout_param['p'] read as PyTorch's drop probability: keeps 1 - p of the units")(DropRatioAsKeep)


class AlwaysRelu(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = relu_forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("always ReLU, ignoring activation='sigmoid'")(AlwaysRelu)


class CacheZAfterActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, h, activation_cache, dropout_cache)


hidden_fwd.mistake("the cache's z holds the activation's output instead of its input")(CacheZAfterActivation)


class FreshBnParam(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], {"mode": mode})
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], {})
        else:
            z = a
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("a fresh {'mode': mode} dict on every call: running statistics never kept (test mode crashes)")(FreshBnParam)


class CopiedBnParam(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        params = dict(self.bn_params[i - 1]) if self.bn_params else None
        z, norm_cache = _norm(self, a, i, mode, params)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("batch norm given a copy of the layer's dict: the running statistics stay at their start values")(CopiedBnParam)


class OwnDropoutRng(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, np.random.default_rng())
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("dropout masks from a fresh unseeded generator instead of rng: the seed no longer fixes them")(OwnDropoutRng)


class BiasTwice(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        z = z + p[f"b{i}"]
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.mistake("the bias added again after the norm (Keras-style Dense then a second bias)")(BiasTwice)


class ManualLayers(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1].update(mode=mode)
            z, norm_cache = batchnorm_forward(a, p["gamma%d" % i], p["beta%d" % i], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p["gamma%d" % i], p["beta%d" % i], {"mode": mode})
        else:
            z = a
        if self.activation == "relu":
            h, activation_cache = np.maximum(z, 0), ReluCache(x=z)
        else:
            h, activation_cache = sigmoid_forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_fwd.correct("ReLU by hand with its ReluCache, mode via dict.update, layer norm given its own small dict")(ManualLayers)


class DropoutByHand(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine=affine_cache, norm=norm_cache, z=z, activation=activation_cache,
                                     dropout=dropout_cache)


hidden_fwd.correct("the reference wiring with keyword fields and the normalization in a helper")(DropoutByHand)


# _hidden_backward

def _norm_back(net, dz, cache, i, grads, staged=False):
    if net.normalization == "batchnorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = (batchnorm_backward if staged else batchnorm_backward_alt)(dz, cache.norm)
        return da
    if net.normalization == "layernorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        return da
    return dz


def _act_back(net, dh, cache):
    return relu_backward(dh, cache.activation) if net.activation == "relu" else sigmoid_backward(dh, cache.activation)


class SkipsDropoutBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dout, cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("dropout's backward step skipped: gradients flow through dropped units")(SkipsDropoutBackward)


class GradKeysShifted(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        if self.normalization is not None and i > 1:
            grads[f"gamma{i - 1}"], grads[f"beta{i - 1}"] = grads.pop(f"gamma{i}"), grads.pop(f"beta{i}")
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("gamma/beta gradients stored under the previous layer's keys (an off-by-one in the key)")(GradKeysShifted)


class BatchnormBackForLayernorm(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            from cs231n_bn.batchnorm import BatchNormCache
            c = cache.norm
            if not isinstance(c, BatchNormCache):
                N = dz.shape[0]
                dbeta = dz.sum(axis=0)
                dgamma = (dz * c.xhat).sum(axis=0)
                da = c.gamma * c.ivar * (dz - (dbeta + c.xhat * dgamma) / N)
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
            else:
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, c)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("batch norm's closed form used for layer norm too (means over the batch)")(BatchnormBackForLayernorm)


class RegularizedHere(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
        grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
        return dx


hidden_bwd.mistake("L2 regularization added to dW here too: loss() adds it again")(RegularizedHere)


class ReluBackwardAlways(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = dh * (cache.z > 0)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("ReLU's backward step whatever the activation (wrong for sigmoid networks)")(ReluBackwardAlways)


class SwappedNormGrads(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        if self.normalization is not None:
            grads[f"gamma{i}"], grads[f"beta{i}"] = grads[f"beta{i}"], grads[f"gamma{i}"]
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("unpacks the norm's backward as (dx, dbeta, dgamma): the two gradients swapped")(SwappedNormGrads)


class DropoutScaledTwice(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout) / self.dropout_param["p"]
        dz = _act_back(self, dh, cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("dropout's gradient divided by the keep ratio again (the mask already holds 1/p)")(DropoutScaledTwice)


class ReturnsDa(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dz @ self.params[f"W{i}"].T


hidden_bwd.mistake("dx taken as dz @ W.T, skipping the norm's backward step on the way to x")(ReturnsDa)


class NoNormBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            grads[f"gamma{i}"] = (dz * cache.norm.xhat).sum(axis=0)
            grads[f"beta{i}"] = dz.sum(axis=0)
            da = dz * self.params[f"gamma{i}"]
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.mistake("the norm's backward reduced to dz * gamma, as if mean and variance were constants")(NoNormBackward)


class BiasGradMean(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], _ = affine_backward(da, cache.affine)
        grads[f"b{i}"] = da.mean(axis=0)
        return dx


hidden_bwd.mistake("db averaged over the batch instead of summed (the loss already averages)")(BiasGradMean)


class StagedAndManual(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dout if cache.dropout.mask is None else dout * cache.dropout.mask
        if self.activation == "relu":
            dz = np.where(cache.z > 0, dh, 0).astype(dh.dtype)
        else:
            s = cache.activation.out
            dz = dh * s * (1 - s)
        da = _norm_back(self, dz, cache, i, grads, staged=True)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


hidden_bwd.correct("dropout and the activations' backward steps by hand, the staged batchnorm_backward")(StagedAndManual)


class AffineByHand(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        x = cache.affine.x.reshape(da.shape[0], -1)
        grads[f"W{i}"] = x.T @ da
        grads[f"b{i}"] = da.sum(axis=0)
        return (da @ self.params[f"W{i}"].T).reshape(cache.affine.x.shape)


hidden_bwd.correct("the affine backward step by hand: x.T @ da, sum of da, da @ W.T")(AffineByHand)
