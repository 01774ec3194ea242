"""FullyConnectedNet._hidden_forward and _hidden_backward: subclasses overriding one method each."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (FullyConnectedNet, HiddenLayerCache, dropout_backward, dropout_forward,
                              sigmoid_backward, sigmoid_forward)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.later_catalogue import Catalogue

hidden_forward = Catalogue("FullyConnectedNet._hidden_forward")
hidden_backward = Catalogue("FullyConnectedNet._hidden_backward")


def _forward(self, x, i, mode, rng, slip=None):
    """The solution region of _hidden_forward, with one named slip."""
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    norm_cache = None
    j = 1 if slip == "first_gamma" else i
    if self.normalization == "batchnorm" or (slip == "ln_as_bn" and self.normalization == "layernorm"):
        param = self.bn_params[i - 1]
        if slip == "ln_as_bn":
            param = {"mode": mode}
        if slip == "param_copy":
            param = dict(param)
        if slip != "mode_not_set":
            param["mode"] = "train" if slip == "always_train" else mode
        if slip == "fresh_param":
            param = {"mode": mode}
        z, norm_cache = batchnorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], param)
    elif self.normalization == "layernorm":
        z, norm_cache = layernorm_forward(a, p[f"gamma{j}"], p[f"beta{j}"], self.bn_params[i - 1])
    else:
        z = a
    use_sigmoid = self.activation == "sigmoid" and slip != "always_relu"
    act = sigmoid_forward if use_sigmoid else relu_forward
    keep = self.dropout_param["p"]
    if slip == "keep_is_drop":
        keep = 1 - keep if keep < 1 else keep
    drop_mode = "train" if slip == "dropout_always_train" else mode
    drop_rng = np.random if slip == "global_rng" else rng
    if slip == "dropout_first":
        z_drop, dropout_cache = dropout_forward(z, keep, drop_mode, drop_rng)
        h, activation_cache = act(z_drop)
        return h, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)
    h, activation_cache = act(z)
    out, dropout_cache = dropout_forward(h, keep, drop_mode, drop_rng)
    recorded = a if slip == "z_is_a" else (h if slip == "z_is_h" else z)
    return out, HiddenLayerCache(affine_cache, norm_cache, recorded, activation_cache, dropout_cache)


def _fwd_entry(description, slip, correct=False):
    register = hidden_forward.correct if correct else hidden_forward.mistake

    def make(name):
        cls = type(name, (FullyConnectedNet,), {
            "_hidden_forward": lambda self, x, i, mode, rng: _forward(self, x, i, mode, rng, slip),
        })
        register(description)(cls)
        return cls
    return make


_fwd_entry("every layer's batch or layer norm uses gamma1 and beta1 (the first layer's parameters)", "first_gamma")("HFFirstGamma")
_fwd_entry("never writes the mode into the layer's bn_param, so test-time scores use batch statistics", "mode_not_set")("HFModeNotSet")
_fwd_entry("writes mode 'train' into bn_param whatever the network's mode", "always_train")("HFAlwaysTrain")
_fwd_entry("passes a copy of the layer's bn_param: its running statistics never update", "param_copy")("HFParamCopy")
_fwd_entry("a fresh bn_param dict each call: running statistics start from zero every step and are lost", "fresh_param")("HFFreshParam")
_fwd_entry("layer norm's branch calls batchnorm_forward (normalizes over the batch)", "ln_as_bn")("HFLnAsBn")
_fwd_entry("dropout applied before the activation", "dropout_first")("HFDropoutFirst")
_fwd_entry("cache.z records the affine output a, not what the nonlinearity sees", "z_is_a")("HFZIsA")
_fwd_entry("cache.z records the activation's output h", "z_is_h")("HFZIsH")
_fwd_entry("ReLU used whatever self.activation says", "always_relu")("HFAlwaysRelu")
_fwd_entry("dropout given 1 - p, reading p as the drop probability", "keep_is_drop")("HFKeepIsDrop")
_fwd_entry("dropout always called in 'train' mode, so test-time scores are masked", "dropout_always_train")("HFDropoutTrain")
_fwd_entry("dropout masks drawn from np.random instead of the rng the network passes (seeded runs not repeatable)", "global_rng")("HFGlobalRng")


class HFNormAfterActivation(FullyConnectedNet):
    """affine -> activation -> norm: the norm placed after the nonlinearity."""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        act = sigmoid_forward if self.activation == "sigmoid" else relu_forward
        h, activation_cache = act(a)
        norm_cache = None
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            h, norm_cache = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        elif self.normalization == "layernorm":
            h, norm_cache = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


hidden_forward.mistake("the norm placed after the activation (affine -> relu -> norm)")(HFNormAfterActivation)


class HFWrongLayerParam(FullyConnectedNet):
    """bn_params indexed by i (1-based) instead of i - 1: each layer uses the next layer's statistics."""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        k = i % len(self.bn_params) if self.bn_params else 0
        if self.normalization == "batchnorm":
            self.bn_params[k]["mode"] = mode
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[k])
        elif self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[k])
        else:
            z = a
        act = sigmoid_forward if self.activation == "sigmoid" else relu_forward
        h, activation_cache = act(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_forward.mistake("bn_params[i % L] instead of bn_params[i - 1]: each layer's running statistics land in another layer's dict")(HFWrongLayerParam)

_fwd_entry("the reference order with a mode written on every call (correct)", None, correct=True)("HFOkReference")


class HFOkLayerNormFresh(FullyConnectedNet):
    """Layer norm given an empty dict: it has no state and eps defaults alike."""

    def _hidden_forward(self, x, i, mode, rng):
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        norm_cache = None
        if self.normalization == "layernorm":
            z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], {})
        elif self.normalization == "batchnorm":
            bn_param = self.bn_params[i - 1]
            bn_param.update(mode=mode)
            z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        else:
            z = a
        h, activation_cache = (relu_forward if self.activation == "relu" else sigmoid_forward)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


hidden_forward.correct("layer norm given a fresh {} (it keeps no state and ignores mode); bn_param.update(mode=...)")(HFOkLayerNormFresh)


# ---- backward ----

def _backward(self, dout, cache, i, grads, slip=None):
    dh = dout if slip == "no_dropout" else dropout_backward(dout, cache.dropout)
    if self.activation == "relu" or slip == "always_relu":
        dz = relu_backward(dh, cache.activation)
    else:
        dz = sigmoid_backward(dh, cache.activation)
    if slip == "relu_first":
        dz = dropout_backward(relu_backward(dout, cache.activation), cache.dropout) if self.activation == "relu" else dz
    norm_back = batchnorm_backward if slip == "staged" else batchnorm_backward_alt
    if self.normalization == "batchnorm":
        da, dgamma, dbeta = norm_back(dz, cache.norm)
    elif self.normalization == "layernorm":
        da, dgamma, dbeta = layernorm_backward(dz, cache.norm)
    else:
        da = dz
    if self.normalization is not None:
        if slip == "swapped_names":
            dgamma, dbeta = dbeta, dgamma
        if slip == "skip_norm":
            da = dz
        k = i - 1 if slip == "prev_index" and i > 1 else i
        grads[f"gamma{k}"], grads[f"beta{k}"] = dgamma, dbeta
    dx, dW, db = affine_backward(dz if slip == "affine_gets_dz" else da, cache.affine)
    if slip == "reg_twice":
        dW = dW + self.reg * cache.affine.w
    grads[f"W{i}"] = dW
    grads[f"b{i}"] = db.sum() * np.ones_like(db) / db.size if slip == "db_mean" else db
    return dx


def _bwd_entry(description, slip, correct=False):
    register = hidden_backward.correct if correct else hidden_backward.mistake

    def make(name):
        cls = type(name, (FullyConnectedNet,), {
            "_hidden_backward": lambda self, dout, cache, i, grads: _backward(self, dout, cache, i, grads, slip),
        })
        register(description)(cls)
        return cls
    return make


_bwd_entry("dropout's backward skipped: the gradient reaches units that were dropped", "no_dropout")("HBNoDropout")
_bwd_entry("relu_backward used whatever the activation (the sigmoid's local gradient lost)", "always_relu")("HBAlwaysRelu")
_bwd_entry("gamma's and beta's gradients stored under each other's names", "swapped_names")("HBSwappedNames")
_bwd_entry("the norm's backward computed for its parameters but skipped for the input (da = dz)", "skip_norm")("HBSkipNorm")
_bwd_entry("gamma/beta gradients written under the previous layer's index (gamma{i-1})", "prev_index")("HBPrevIndex")
_bwd_entry("affine_backward receives dz, the gradient before the norm's backward", "affine_gets_dz")("HBAffineGetsDz")
_bwd_entry("the L2 term added to dW here too, so loss() adds it a second time", "reg_twice")("HBRegTwice")
_bwd_entry("db spread evenly over the units (its mean) instead of the per-unit sums", "db_mean")("HBDbMean")
_bwd_entry("ReLU's backward before dropout's: elementwise masks commute, so the gradients are the same", "relu_first", correct=True)("HBOkReluFirst")
_bwd_entry("the staged batchnorm_backward instead of the closed form", "staged", correct=True)("HBOkStaged")
_bwd_entry("the reference order", None, correct=True)("HBOkReference")


class HBNoTranspose(FullyConnectedNet):
    """The affine backward by hand with dx = da @ W, the transpose forgotten."""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = (relu_backward if self.activation == "relu" else sigmoid_backward)(dh, cache.activation)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        x, w = cache.affine.x, cache.affine.w
        grads[f"W{i}"] = x.reshape(x.shape[0], -1).T @ da
        grads[f"b{i}"] = da.sum(axis=0)
        return da @ w


hidden_backward.mistake("dx = da @ W instead of da @ W.T (the shapes agree for square layers, so it runs there)")(HBNoTranspose)


class HBOkManualAffine(FullyConnectedNet):
    """The affine backward written out by hand."""

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = (relu_backward if self.activation == "relu" else sigmoid_backward)(dh, cache.activation)
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        x, w = cache.affine.x, cache.affine.w
        grads[f"W{i}"] = x.reshape(x.shape[0], -1).T @ da
        grads[f"b{i}"] = da.sum(axis=0)
        return (da @ w.T).reshape(x.shape)


hidden_backward.correct("the affine backward written out by hand: dW = x.T @ da, db = sum, dx = da @ W.T")(HBOkManualAffine)
