"""The network's hidden layer (notebook 5): FullyConnectedNet._hidden_forward and _hidden_backward.

Each entry is a FullyConnectedNet subclass whose overridden method is the student's region
between the scaffold's first and last lines.
"""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (DropoutCache, FullyConnectedNet, HiddenLayerCache, dropout_backward, dropout_forward,
                              sigmoid_backward, sigmoid_forward)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.later_catalogue import Catalogue

hidden_forward = Catalogue("FullyConnectedNet._hidden_forward")
hidden_backward = Catalogue("FullyConnectedNet._hidden_backward")


def _norm(net, a, i, mode):
    """The right normalization step of hidden layer i: (z, norm_cache)."""
    p = net.params
    if net.normalization == "batchnorm":
        net.bn_params[i - 1]["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    if net.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
    return a, None


def _act(net):
    return relu_forward if net.activation == "relu" else sigmoid_forward


# ---------------------------------------------------------------------------------------
# _hidden_forward
# ---------------------------------------------------------------------------------------

@hidden_forward.mistake("activation before normalization: affine -> relu -> norm")
class ReluBeforeNorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z = a
        h, activation_cache = _act(self)(z)
        h, norm_cache = _norm(self, h, i, mode)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("dropout before the activation: affine -> norm -> dropout -> relu")
class DropoutBeforeActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        d, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        out, activation_cache = _act(self)(d)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("never writes the mode into the layer's bn_param, so test-time scores use batch statistics")
class ModeNotSet(FullyConnectedNet):
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
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("bn_params[i] for the 1-based layer i: the next layer's statistics (and an IndexError on the last)")
class BnParamOffByOne(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
        else:
            z = a
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("always ReLU, ignoring activation='sigmoid'")
class AlwaysRelu(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = relu_forward(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("dropout always called in 'train' mode, so test-time scores are random")
class DropoutAlwaysTrain(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("reads dropout_param['p'] as the drop probability (Keras/PyTorch habit), keeping 1 - p")
class DropProbability(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        keep = 1 - self.dropout_param["p"] if self.use_dropout else 1
        out, dropout_cache = dropout_forward(h, keep, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("records the activation's output as z, which must be what the nonlinearity sees")
class ZAfterActivation(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        pre, norm_cache = _norm(self, a, i, mode)
        z, activation_cache = _act(self)(pre)
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("handles batch norm only: a layer-norm network runs unnormalized")
class NoLayerNorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        z = a
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("replaces the layer's bn_param with a fresh {'mode': mode} on every call, losing the running statistics")
class FreshBnParam(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1] = {"mode": mode}
            if mode == "train":
                z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            else:
                D = a.shape[1]
                self.bn_params[i - 1].update(running_mean=np.zeros(D, a.dtype), running_var=np.ones(D, a.dtype))
                z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z = a
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("draws the dropout mask from np.random instead of the generator it is handed")
class GlobalRandom(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, np.random)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("hand-written dropout that keeps units with probability p but does not divide by p")
class DropoutNotInverted(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        out, dropout_cache = h, DropoutCache(mask=None)
        if self.use_dropout and mode == "train":
            mask = (rng.random(h.shape) < self.dropout_param["p"]).astype(h.dtype)
            out, dropout_cache = h * mask, DropoutCache(mask=mask)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("any normalization goes through batchnorm_forward (if self.normalization:)")
class BatchnormForAll(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        z = a
        if self.normalization:
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.mistake("uses the first layer's gamma1 and beta1 in every hidden layer")
class FirstLayerGamma(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p["gamma1"], p["beta1"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p["gamma1"], p["beta1"], self.bn_params[i - 1])
        else:
            z = a
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.correct("dispatch through a dict of forward functions, and the mode set with dict.update")
class DispatchDict(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norms = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
        z, norm_cache = a, None
        if self.normalization in norms:
            self.bn_params[i - 1].update(mode=mode)
            z, norm_cache = norms[self.normalization](a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        activations = {"relu": relu_forward, "sigmoid": sigmoid_forward}
        h, activation_cache = activations[self.activation](z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.correct("skips dropout_forward when use_dropout is off, with an empty DropoutCache")
class SkipDropout(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        if self.use_dropout:
            out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        else:
            out, dropout_cache = h, DropoutCache(mask=None)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@hidden_forward.correct("reads the mode for dropout from self.dropout_param, which loss() sets to the same mode")
class DropoutParamMode(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        z, norm_cache = _norm(self, a, i, mode)
        h, activation_cache = _act(self)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], self.dropout_param["mode"], rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


# ---------------------------------------------------------------------------------------
# _hidden_backward
# ---------------------------------------------------------------------------------------

def _act_back(net):
    return relu_backward if net.activation == "relu" else sigmoid_backward


def _norm_back(net, dz, cache, i, grads):
    if net.normalization == "batchnorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
    elif net.normalization == "layernorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
    else:
        da = dz
    return da


@hidden_backward.mistake("batchnorm_backward_alt for any normalization (fails on a layer-norm cache)")
class AltForAll(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        da = dz
        if self.normalization is not None:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("skips the dropout backward pass")
class NoDropoutBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = _act_back(self)(dout, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("always relu_backward, ignoring activation='sigmoid'")
class AlwaysReluBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = relu_backward(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("gamma and beta gradients stored under the previous layer's keys (i - 1)")
class GradKeysOffByOne(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        local = {}
        da = _norm_back(self, dz, cache, i, local)
        for key, value in local.items():
            grads[key[:-len(str(i))] + str(i - 1)] = value
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("adds the L2 term reg * W here too, so loss() adds it a second time")
class DoubleRegularization(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
        grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
        return dx


@hidden_backward.mistake("computes the gamma and beta gradients but never stores them in grads")
class NormGradsDropped(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, {})
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("the activation's backward pass after the norm's (steps in forward order)")
class BackwardOrderSwapped(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        da = _norm_back(self, dh, cache, i, grads)
        da = _act_back(self)(da, cache.activation)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("divides the dropout gradient by keep_ratio again (the mask is already scaled)")
class DropoutDoubleScale(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout) / self.dropout_param["p"]
        dz = _act_back(self)(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("regularizes gamma as well: grads['gamma'] += reg * gamma")
class RegularizesGamma(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        if f"gamma{i}" in grads:
            grads[f"gamma{i}"] = grads[f"gamma{i}"] + self.reg * self.params[f"gamma{i}"]
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.mistake("returns the gradient before the affine layer (da) instead of dx")
class ReturnsDa(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        _, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return da


@hidden_backward.mistake("the ReLU gradient masked where the affine output a > 0, not where z (after the norm) > 0")
class ReluMaskFromAffine(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        if self.activation == "relu":
            x = cache.affine.x
            a = x.reshape(x.shape[0], -1) @ self.params[f"W{i}"] + self.params[f"b{i}"]
            dz = dh * (a > 0)
        else:
            dz = sigmoid_backward(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("the staged batchnorm_backward instead of the closed form")
class StagedBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = _act_back(self)(dh, cache.activation)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
        else:
            da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("dropout and ReLU backward written inline from the cached mask and z")
class InlineBackward(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        mask = cache.dropout.mask
        dh = dout if mask is None else dout * mask
        dz = dh * (cache.z > 0) if self.activation == "relu" else sigmoid_backward(dh, cache.activation)
        da = _norm_back(self, dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@hidden_backward.correct("dispatch dicts for the norm and activation backward passes, grads set by update")
class BackwardDispatch(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = {"relu": relu_backward, "sigmoid": sigmoid_backward}[self.activation](dh, cache.activation)
        norms = {"batchnorm": batchnorm_backward_alt, "layernorm": layernorm_backward}
        da = dz
        if self.normalization in norms:
            da, dgamma, dbeta = norms[self.normalization](dz, cache.norm)
            grads.update({f"gamma{i}": dgamma, f"beta{i}": dbeta})
        dx, dW, db = affine_backward(da, cache.affine)
        grads.update({f"W{i}": dW, f"b{i}": db})
        return dx
