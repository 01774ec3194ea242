"""FullyConnectedNet._hidden_forward / _hidden_backward: subclasses with one wiring slip each."""

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

fwd = Catalogue("FullyConnectedNet._hidden_forward")
bwd = Catalogue("FullyConnectedNet._hidden_backward")


class _Forward(FullyConnectedNet):
    """The hidden layer written out in steps that subclasses replace one at a time."""

    def _norm(self, a, i, mode):
        p = self.params
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        if self.normalization == "layernorm":
            return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        return a, None

    def _activate(self, z):
        return (relu_forward if self.activation == "relu" else sigmoid_forward)(z)

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class _Backward(FullyConnectedNet):
    def _norm_back(self, dz, cache, i, grads):
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        return da

    def _activation_back(self, dh, cache):
        return (relu_backward if self.activation == "relu" else sigmoid_backward)(dh, cache.activation)

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = self._activation_back(dh, cache)
        da = self._norm_back(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


# ------------------------------------------------------------------ forward: mistakes

@fwd.mistake("Never sets the batch-norm layer's mode, so test-time scores use batch statistics (and keep updating the running ones).")
class FwdModeNotSet(_Forward):
    def _norm(self, a, i, mode):
        if self.normalization == "batchnorm":
            p = self.params
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        return super()._norm(a, i, mode)


@fwd.mistake("Passes bn_params[i] (the next layer's dict) instead of bn_params[i - 1] to hidden layer i's norm.")
class FwdBnParamsIndex(_Forward):
    def _norm(self, a, i, mode):
        p = self.params
        if self.normalization == "batchnorm":
            self.bn_params[i % len(self.bn_params)]["mode"] = mode
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i % len(self.bn_params)])
        return super()._norm(a, i, mode)


@fwd.mistake("Normalizes after the activation: affine -> relu -> norm instead of affine -> norm -> relu.")
class FwdNormAfterActivation(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        h, activation_cache = self._activate(a)
        z, norm_cache = self._norm(h, i, mode)
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@fwd.mistake("Applies dropout before the activation instead of after it.")
class FwdDropoutBeforeActivation(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        d, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, activation_cache = self._activate(d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@fwd.mistake("Calls dropout with mode 'train' always, so test-time scores are still dropped out.")
class FwdDropoutAlwaysTrain(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@fwd.mistake("Skips the normalization layer whatever self.normalization says.")
class FwdNoNorm(_Forward):
    def _norm(self, a, i, mode):
        return a, None


@fwd.mistake("Calls batchnorm_forward in train mode for a layer-norm network, normalizing each unit over the batch instead of each sample over its units.")
class FwdLayernormAsBatchnorm(_Forward):
    def _norm(self, a, i, mode):
        if self.normalization == "layernorm":
            p = self.params
            param = {"mode": "train"}
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], param)
        return super()._norm(a, i, mode)


@fwd.mistake("Always uses ReLU, ignoring activation='sigmoid'.")
class FwdAlwaysRelu(_Forward):
    def _activate(self, z):
        return relu_forward(z)


@fwd.mistake("Stores the affine output a in the cache's z instead of the normalized value the activation sees.")
class FwdCacheZIsAffine(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@fwd.mistake("Leaves dropout out of the hidden layer entirely.")
class FwdNoDropout(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        _, dropout_cache = dropout_forward(h, 1, mode, rng)
        return h, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@fwd.mistake("Passes a fresh {'mode': mode} dict to batch norm each call, so the running statistics never reach self.bn_params.")
class FwdFreshBnParam(_Forward):
    def _norm(self, a, i, mode):
        if self.normalization == "batchnorm":
            p = self.params
            stored = self.bn_params[i - 1]
            param = {"mode": mode, "running_mean": stored["running_mean"], "running_var": stored["running_var"]}
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], param)
        return super()._norm(a, i, mode)


@fwd.mistake("Passes beta as the scale and gamma as the shift to the norm layer.")
class FwdGammaBetaSwapped(_Forward):
    def _norm(self, a, i, mode):
        p = self.params
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            return batchnorm_forward(a, p[f"beta{i}"], p[f"gamma{i}"], self.bn_params[i - 1])
        if self.normalization == "layernorm":
            return layernorm_forward(a, p[f"beta{i}"], p[f"gamma{i}"], self.bn_params[i - 1])
        return a, None


@fwd.mistake("Draws the dropout mask from np.random instead of the rng it is given.")
class FwdDropoutGlobalRng(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        return super()._hidden_forward(x, i, mode, np.random)


@fwd.mistake("Uses the previous layer's weights: affine with W{i-1}, b{i-1} for layers after the first.")
class FwdWeightIndex(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        j = max(i - 1, 1)
        a, affine_cache = affine_forward(x, self.params[f"W{j}"], self.params[f"b{j}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


# ------------------------------------------------------------------ forward: correct variants

@fwd.correct("Sets the mode with dict.update and looks the layer's parameters up once.")
class FwdUpdateMode(_Forward):
    def _norm(self, a, i, mode):
        gamma, beta = self.params.get(f"gamma{i}"), self.params.get(f"beta{i}")
        if self.normalization == "batchnorm":
            param = self.bn_params[i - 1]
            param.update(mode=mode)
            return batchnorm_forward(a, gamma, beta, param)
        if self.normalization == "layernorm":
            return layernorm_forward(a, gamma, beta, self.bn_params[i - 1])
        return a, None


@fwd.correct("Sets mode into the layer-norm dict as well (layer norm ignores it).")
class FwdModeIntoLayernorm(_Forward):
    def _norm(self, a, i, mode):
        if self.normalization == "layernorm":
            self.bn_params[i - 1]["mode"] = mode
        return super()._norm(a, i, mode)


@fwd.correct("Calls dropout only when the network uses it, building the empty DropoutCache(mask=None) itself otherwise.")
class FwdDropoutOnlyWhenUsed(_Forward):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        if self.use_dropout:
            out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        else:
            out, dropout_cache = h, DropoutCache(mask=None)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


# ------------------------------------------------------------------ backward: mistakes

@bwd.mistake("Writes the affine gradients under the next layer's keys, W{i+1} and b{i+1}.")
class BwdKeysShifted(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        da = self._norm_back(self._activation_back(dh, cache), cache, i, grads)
        dx, grads[f"W{i + 1}"], grads[f"b{i + 1}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Skips dropout's backward pass: the gradient also flows through dropped units, unscaled.")
class BwdNoDropoutBackward(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        da = self._norm_back(self._activation_back(dout, cache), cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.mistake("Always backpropagates through ReLU, even in a sigmoid network.")
class BwdAlwaysRelu(_Backward):
    def _activation_back(self, dh, cache):
        if self.activation == "sigmoid":
            return dh * (cache.z > 0)
        return relu_backward(dh, cache.activation)


@bwd.mistake("Skips the norm layer's backward pass: passes dz straight to the affine layer (and leaves dgamma, dbeta unset).")
class BwdNoNormBackward(_Backward):
    def _norm_back(self, dz, cache, i, grads):
        return dz


@bwd.mistake("Stores dbeta under gamma{i} and dgamma under beta{i}.")
class BwdGammaBetaSwapped(_Backward):
    def _norm_back(self, dz, cache, i, grads):
        da = super()._norm_back(dz, cache, i, grads)
        if self.normalization is not None:
            grads[f"gamma{i}"], grads[f"beta{i}"] = grads[f"beta{i}"], grads[f"gamma{i}"]
        return da


@bwd.mistake("Returns da, the gradient at the affine output, instead of dx, the gradient at the layer's input.")
class BwdReturnsDa(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        da = self._norm_back(self._activation_back(dh, cache), cache, i, grads)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return da


@bwd.mistake("Adds the L2 term reg * W{i} to dW{i} itself, which loss() then adds a second time.")
class BwdDoubleReg(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return dx


@bwd.mistake("Backpropagates the sigmoid with z * (1 - z), the input, instead of out * (1 - out).")
class BwdSigmoidOfInput(_Backward):
    def _activation_back(self, dh, cache):
        if self.activation == "sigmoid":
            return dh * cache.z * (1 - cache.z)
        return relu_backward(dh, cache.activation)


@bwd.mistake("Uses batch norm's backward pass for a layer-norm network too.")
class BwdLayernormAsBatchnorm(_Backward):
    def _norm_back(self, dz, cache, i, grads):
        if self.normalization == "layernorm":
            n = cache.norm
            N = dz.shape[0]
            grads[f"gamma{i}"], grads[f"beta{i}"] = (dz * n.xhat).sum(0), dz.sum(0)
            return n.gamma * n.ivar * (dz - (dz.sum(0) + n.xhat * (dz * n.xhat).sum(0)) / N)
        return super()._norm_back(dz, cache, i, grads)


# ------------------------------------------------------------------ backward: correct variants

@bwd.correct("Activation backward before dropout backward: both are elementwise factors, so the order does not matter.")
class BwdActivationFirst(_Backward):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = dropout_backward(self._activation_back(dout, cache), cache.dropout)
        da = self._norm_back(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@bwd.correct("ReLU and sigmoid gradients written by hand from the cache: dh * (z > 0), dh * s * (1 - s).")
class BwdActivationByHand(_Backward):
    def _activation_back(self, dh, cache):
        if self.activation == "relu":
            return dh * (cache.z > 0)
        s = cache.activation.out
        return dh * s * (1 - s)


@bwd.correct("Uses the staged batchnorm_backward instead of the closed form: the same gradients.")
class BwdStagedBatchnorm(_Backward):
    def _norm_back(self, dz, cache, i, grads):
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
            return da
        return super()._norm_back(dz, cache, i, grads)
