"""FullyConnectedNet._hidden_forward and _hidden_backward: mistakes and correct variants.

Every entry is a FullyConnectedNet subclass overriding one of the two methods; the other
method is the package's.
"""

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
from cs231n_bn.layers import AffineCache, affine_backward, affine_forward, relu_backward, relu_forward

from tests.instructor.later_catalogue import Catalogue

hidden_forward = Catalogue("FullyConnectedNet._hidden_forward")
hidden_backward = Catalogue("FullyConnectedNet._hidden_backward")


# ================================================================ forward

class _Forward(FullyConnectedNet):
    """Helpers for the forward entries: the norm step, with the mode written for batch norm."""

    def _norm(self, a, i, mode):
        p = self.params
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        if self.normalization == "layernorm":
            return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        return a, None

    def _activate(self, z):
        return relu_forward(z) if self.activation == "relu" else sigmoid_forward(z)


@hidden_forward.mistake("applies the ReLU before the norm: affine -> relu -> norm")
class ReluBeforeNorm(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        h, activation_cache = self._activate(a)
        z, norm_cache = self._norm(h, i, mode)
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@hidden_forward.mistake("never writes the mode into bn_params, so test-time scores use batch statistics (and update the running averages)")
class ModeNotSet(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("indexes bn_params[i] with the 1-based layer number (off by one)")
class BnParamsOffByOne(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            self.bn_params[i]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        else:
            z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("forgets dropout: the hidden layer ends at the activation")
class NoDropout(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        return h, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, DropoutCache(mask=None))


@hidden_forward.mistake("calls dropout_forward with mode 'train' always, so test-time scores are dropped out too")
class DropoutAtTest(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("handles only batch norm: a layer-norm network runs without normalization")
class LayerNormIgnored(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = a, None
        if self.normalization == "batchnorm":
            z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("normalizes the layer's input x before the affine map instead of the affine output")
class NormBeforeAffine(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        z, norm_cache = self._norm(x, i, mode)
        a, affine_cache = affine_forward(z, self.params[f"W{i}"], self.params[f"b{i}"])
        h, activation_cache = self._activate(a)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@hidden_forward.mistake("stores the affine output as z (the activation's input) in the cache instead of the normalized one")
class CacheZIsAffineOutput(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@hidden_forward.mistake("always applies the ReLU, even in a network built with activation='sigmoid'")
class AlwaysRelu(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = relu_forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("passes a fresh {'mode': mode} dict to batchnorm_forward, so the running averages are thrown away")
class FreshBnParam(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        if self.normalization == "batchnorm":
            param = {"mode": mode}
            if mode == "test":
                param.update(running_mean=self.bn_params[i - 1]["running_mean"],
                             running_var=self.bn_params[i - 1]["running_var"])
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], param)
        else:
            z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("draws the dropout mask from np.random instead of the rng it is given (ignores the seed)")
class DropoutIgnoresRng(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, np.random.default_rng())
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.correct("writes the affine map out by hand (x.reshape(N, -1) @ W + b) and builds its AffineCache")
class HandWrittenAffine(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        W, b = self.params[f"W{i}"], self.params[f"b{i}"]
        a = x.reshape(x.shape[0], -1) @ W + b
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(AffineCache(x=x, w=W, b=b), norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.correct("picks the norm from a table of functions, and sets bn_param['mode'] through dict.update")
class NormTable(FullyConnectedNet):
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
        activations = {"relu": relu_forward, "sigmoid": sigmoid_forward}
        h, activation_cache = activations[self.activation](z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


# ================================================================ backward

class _Backward(FullyConnectedNet):
    def _deactivate(self, dh, cache):
        return relu_backward(dh, cache.activation) if self.activation == "relu" else sigmoid_backward(dh, cache.activation)

    def _denorm(self, dz, cache, i, grads):
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        return da


@hidden_backward.mistake("calls batchnorm_backward_alt for layer norm as well")
class BatchnormBackwardForLayernorm(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("skips the norm's backward pass: the affine layer receives dz as if there were no normalization")
class SkipsNormBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dz, cache.affine)
        return dx


@hidden_backward.mistake("skips dropout's backward pass: dropped units still pass their gradient")
class SkipsDropoutBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dout, cache)
        da = self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("stores the norm gradients under the previous layer's keys (gamma{i-1}, beta{i-1})")
class GradientKeysOffByOne(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        scratch = {}
        da = self._denorm(dz, cache, i, scratch)
        for name in ("gamma", "beta"):
            if f"{name}{i}" in scratch:
                grads[f"{name}{i - 1}"] = scratch[f"{name}{i}"]
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("adds the L2 term reg * W to dW here as well, so loss() regularizes the hidden weights twice")
class RegularizesTwice(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        da = self._denorm(dz, cache, i, grads)
        dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
        grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
        return dx


@hidden_backward.mistake("returns da (the gradient at the affine output) instead of dx to the layer below")
class ReturnsDa(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        da = self._denorm(dz, cache, i, grads)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return da


@hidden_backward.mistake("always calls relu_backward, even in a network built with activation='sigmoid'")
class AlwaysReluBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = relu_backward(dropout_backward(dout, cache.dropout), cache.activation)
        da = self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("unpacks the norm's gradients as (da, dbeta, dgamma): gamma's and beta's gradients swapped")
class SwapsGammaBeta(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        if self.normalization is not None:
            backward = batchnorm_backward_alt if self.normalization == "batchnorm" else layernorm_backward
            da, grads[f"beta{i}"], grads[f"gamma{i}"] = backward(dz, cache.norm)
        else:
            da = dz
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("masks the ReLU gradient by the sign of the upstream gradient (dh > 0) instead of the ReLU's input (z > 0)")
class ReluMaskFromDout(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = dh * (dh > 0) if self.activation == "relu" else sigmoid_backward(dh, cache.activation)
        da = self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("skips the activation's backward pass: the norm receives the gradient at the activation's output")
class SkipsActivationBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(dout, cache.dropout)
        da = self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("uses the staged batchnorm_backward instead of the closed form")
class StagedBatchnorm(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._deactivate(dropout_backward(dout, cache.dropout), cache)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
        else:
            da = self._denorm(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("writes the ReLU mask (z > 0) and the affine gradients out by hand")
class HandWrittenBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = dh * (cache.z > 0) if self.activation == "relu" else self._deactivate(dh, cache)
        da = self._denorm(dz, cache, i, grads)
        x = cache.affine.x
        grads[f"W{i}"] = x.reshape(x.shape[0], -1).T @ da
        grads[f"b{i}"] = da.sum(axis=0)
        return (da @ cache.affine.w.T).reshape(x.shape)
