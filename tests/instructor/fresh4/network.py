"""Mistakes and unusual correct variants of FullyConnectedNet._hidden_forward and _hidden_backward
(notebook 5): each entry is a FullyConnectedNet subclass overriding one method."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    DropoutCache,
    FullyConnectedNet,
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


def _norm(net, a, i, mode):
    """The normalization step as the solution does it; returns (z, cache)."""
    p = net.params
    if net.normalization == "batchnorm":
        net.bn_params[i - 1]["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    if net.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    return a, None


def _activate(net, z):
    return (relu_forward if net.activation == "relu" else sigmoid_forward)(z)


class ReluBeforeNorm(FullyConnectedNet):
    """affine -> relu -> norm: the nonlinearity placed before the normalization"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        h, activation_cache = _activate(self, a)
        z, norm_cache = _norm(self, h, i, mode)
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class DropoutBeforeActivation(FullyConnectedNet):
    """dropout applied to the normalized z, before the nonlinearity"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        d, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, activation_cache = _activate(self, d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class BnModeNotSet(FullyConnectedNet):
    """batch norm called with whatever mode its dict last held: the mode argument never reaches it"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class BnParamsOffByOne(FullyConnectedNet):
    """uses bn_params[i] (0-based list indexed with the 1-based layer number), wrapping to the first dict for the last layer"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization is not None:
            d = self.bn_params[i % len(self.bn_params)]
            if self.normalization == "batchnorm":
                d["mode"] = mode
                z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], d)
            else:
                z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], d)
        else:
            z, norm_cache = a, None
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class DropoutGlobalRandom(FullyConnectedNet):
    """dropout mask drawn from np.random.rand instead of the rng it is given"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        p = self.dropout_param["p"]
        if mode == "train" and p != 1:
            mask = ((np.random.rand(*h.shape) < p) / p).astype(h.dtype)
            out, dropout_cache = h * mask, DropoutCache(mask)
        else:
            out, dropout_cache = h, DropoutCache(None)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class DropoutTorchP(FullyConnectedNet):
    """reads dropout_param['p'] as PyTorch's drop probability and keeps 1 - p of the units"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        keep = 1 - self.dropout_param["p"]
        out, dropout_cache = dropout_forward(h, keep if keep > 0 else 1, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class DropoutAlwaysTrain(FullyConnectedNet):
    """dropout called with mode 'train' always, so test-time scores are randomly masked"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class LayernormThroughBatchnorm(FullyConnectedNet):
    """the layer-norm branch copy-pasted from batch norm: calls batchnorm_forward"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization is not None:
            self.bn_params[i - 1]["mode"] = mode
            if self.normalization == "layernorm":
                self.bn_params[i - 1].setdefault("running_mean", np.zeros(a.shape[1], a.dtype))
                self.bn_params[i - 1].setdefault("running_var", np.ones(a.shape[1], a.dtype))
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = a, None
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class CacheZIsAffineOutput(FullyConnectedNet):
    """stores the affine output a in the cache's z instead of the activation's input"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


class AlwaysRelu(FullyConnectedNet):
    """uses relu_forward whatever self.activation says"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = relu_forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class DropoutNotInverted(FullyConnectedNet):
    """plain dropout: units masked but the kept ones not divided by the keep ratio"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        p = self.dropout_param["p"]
        if mode == "train" and p != 1:
            mask = (rng.random(h.shape) < p).astype(h.dtype)
            out, dropout_cache = h * mask, DropoutCache(mask)
        else:
            out, dropout_cache = h, DropoutCache(None)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class BnParamsCopied(FullyConnectedNet):
    """hands batch norm dict(bn_params[i-1], mode=mode), a copy: the running statistics never reach the network"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], dict(self.bn_params[i - 1], mode=mode))
        else:
            z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class NormCacheDropped(FullyConnectedNet):
    """normalizes but stores None as the norm cache (the variable was reused for the activation's cache)"""

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, _ = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, None, z, activation_cache, dropout_cache)


class GammaOfNextLayer(FullyConnectedNet):
    """normalizes with gamma and beta of layer i+1 where they exist (keys built from the wrong counter)"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        j = i + 1 if f"gamma{i + 1}" in p else i
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], self.bn_params[i - 1])
        else:
            z, norm_cache = a, None
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class SkipsBeta(FullyConnectedNet):
    """batch norm called with zeros for beta (gamma only, copied from a scale-only example)"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], np.zeros_like(p[f"beta{i}"]), self.bn_params[i - 1])
        else:
            z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class ForwardLiteral(FullyConnectedNet):
    """the layer written with explicit if/else on the mode and a dict lookup for the activation"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = a, None
        if self.normalization == "batchnorm":
            bn_param = self.bn_params[i - 1]
            bn_param["mode"] = "test" if mode == "test" else "train"
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        if self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        h, activation_cache = {"relu": relu_forward, "sigmoid": sigmoid_forward}[self.activation](z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class ForwardLayernormWithMode(FullyConnectedNet):
    """writes the mode into layer norm's dict too (layer norm accepts and ignores it)"""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization is None:
            z, norm_cache = a, None
        else:
            d = self.bn_params[i - 1]
            d["mode"] = mode
            norm = batchnorm_forward if self.normalization == "batchnorm" else layernorm_forward
            z, norm_cache = norm(a, p[f"gamma{i}"], p[f"beta{i}"], d)
        h, activation_cache = _activate(self, z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


for _cls in (ReluBeforeNorm, DropoutBeforeActivation, BnModeNotSet, BnParamsOffByOne, DropoutGlobalRandom,
             DropoutTorchP, DropoutAlwaysTrain, LayernormThroughBatchnorm, CacheZIsAffineOutput, AlwaysRelu,
             DropoutNotInverted, BnParamsCopied, NormCacheDropped, GammaOfNextLayer, SkipsBeta):
    hidden_forward.mistake(_cls.__doc__)(_cls)
for _cls in (ForwardLiteral, ForwardLayernormWithMode):
    hidden_forward.correct(_cls.__doc__)(_cls)


# ---- backward ----

def _norm_back(net, dz, cache, i, grads, staged=False):
    if net.normalization == "batchnorm":
        backward = batchnorm_backward if staged else batchnorm_backward_alt
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = backward(dz, cache.norm)
        return da
    if net.normalization == "layernorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        return da
    return dz


def _act_back(net, dh, cache):
    return (relu_backward if net.activation == "relu" else sigmoid_backward)(dh, cache.activation)


class GradsUnderPreviousKeys(FullyConnectedNet):
    """stores the layer's gradients under W{i-1}, b{i-1}, ... (loop counter from 0)"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i - 1, grads)
        dx, grads[f"W{i - 1}"], grads[f"b{i - 1}"] = affine_backward(da, cache.affine)
        return dx


class NoNormGrads(FullyConnectedNet):
    """backpropagates through the normalization but never stores dgamma and dbeta"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        scratch = {}
        da = _norm_back(self, dz, cache, i, scratch)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class BackwardAlwaysRelu(FullyConnectedNet):
    """a ReLU mask (z > 0) on the way back whatever the activation"""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = dh * (cache.z > 0)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class SkipsDropoutBackward(FullyConnectedNet):
    """forgets the dropout mask on the way back"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dout, cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class LayernormBackwardViaBatchnorm(FullyConnectedNet):
    """the layer-norm branch calls batchnorm_backward_alt (copy-paste), which refuses a LayerNormCache"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class RegularizesHiddenW(FullyConnectedNet):
    """adds reg * W to the hidden layer's weight gradient, which loss() then adds a second time"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
        grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
        return dx


class ReturnsDa(FullyConnectedNet):
    """returns the gradient at the affine output (da) instead of at the layer's input"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return da


class DropoutScaledTwice(FullyConnectedNet):
    """divides by the keep ratio again on the way back, though the cached mask already holds 1/keep"""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        if cache.dropout.mask is not None:
            dh = dh / self.dropout_param["p"]
        dz = _act_back(self, dh, cache)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class SigmoidGradFromZ(FullyConnectedNet):
    """sigmoid's local gradient computed as z * (1 - z) from its input z rather than its output"""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        if self.activation == "sigmoid":
            dz = dh * cache.z * (1 - cache.z)
        else:
            dz = relu_backward(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class GradsAccumulated(FullyConnectedNet):
    """accumulates into grads with +=, starting from the parameters' own values (grads.setdefault(k, p.copy()))"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        local = {}
        da = _norm_back(self, dz, cache, i, local)
        dx, local[f"W{i}"], local[f"b{i}"] = affine_backward(da, cache.affine)
        for key, g in local.items():
            grads.setdefault(key, self.params[key].copy())
            grads[key] += g
        return dx


class ActivationBeforeDropoutBackward(FullyConnectedNet):
    """activation's backward before dropout's: both multiply elementwise, so the order does not matter"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(_act_back(self, dout, cache), cache.dropout)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class StagedBatchnormBackward(FullyConnectedNet):
    """uses the staged batchnorm_backward instead of the closed form (same gradients)"""

    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self, dropout_backward(dout, cache.dropout), cache)
        da = _norm_back(self, dz, cache, i, grads, staged=True)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


class InlineMasks(FullyConnectedNet):
    """the dropout mask and the ReLU mask applied inline; sigmoid's gradient from the cached output"""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dout if cache.dropout.mask is None else dout * cache.dropout.mask
        if self.activation == "relu":
            dz = np.where(cache.z > 0, dh, 0).astype(dh.dtype)
        else:
            s = cache.activation.out
            dz = dh * s * (1 - s)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


for _cls in (GradsUnderPreviousKeys, NoNormGrads, BackwardAlwaysRelu, SkipsDropoutBackward,
             LayernormBackwardViaBatchnorm, RegularizesHiddenW, ReturnsDa, DropoutScaledTwice, SigmoidGradFromZ,
             GradsAccumulated):
    hidden_backward.mistake(_cls.__doc__)(_cls)
for _cls in (ActivationBeforeDropoutBackward, StagedBatchnormBackward, InlineMasks):
    hidden_backward.correct(_cls.__doc__)(_cls)
