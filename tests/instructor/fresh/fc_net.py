"""FullyConnectedNet._hidden_forward / _hidden_backward: the wiring of affine, norm, activation and dropout."""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    HiddenLayerCache,
    dropout_backward,
    dropout_forward,
    sigmoid_backward,
    sigmoid_forward,
)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.fresh.entry import GENERIC, NAMED, Catalogue

forward = Catalogue("FullyConnectedNet._hidden_forward")
backward = Catalogue("FullyConnectedNet._hidden_backward")


def norm(self, a, i, mode):
    p = self.params
    if self.normalization == "batchnorm":
        self.bn_params[i - 1]["mode"] = mode
        return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    if self.normalization == "layernorm":
        return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    return a, None


def activate(self, z):
    return (relu_forward if self.activation == "relu" else sigmoid_forward)(z)


@forward.mistake("activation before the norm: affine -> relu -> norm", judged=NAMED)
def activation_before_norm(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    h, activation_cache = activate(self, a)
    z, norm_cache = norm(self, h, i, mode)
    out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@forward.mistake("bn_param['mode'] never set: batch norm stays in train mode at test time", judged=NAMED)
def mode_not_passed(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    norm_cache = None
    if self.normalization == "batchnorm":
        z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    elif self.normalization == "layernorm":
        z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    else:
        z = a
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("layer norm configured, batch norm called", judged=NAMED)
def layernorm_runs_batchnorm(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = a, None
    if self.normalization is not None:
        param = self.bn_params[i - 1] if self.normalization == "batchnorm" else {"mode": mode}
        param["mode"] = mode
        z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], param)
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("layer i uses the running statistics of layer i+1 (bn_params[i], off by one)", judged=NAMED)
def bn_params_off_by_one(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = a, None
    if self.normalization == "batchnorm":
        self.bn_params[i]["mode"] = mode
        z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i])
    elif self.normalization == "layernorm":
        z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("dropout before the activation", judged=NAMED)
def dropout_before_activation(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = norm(self, a, i, mode)
    d, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
    out, activation_cache = activate(self, d)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("dropout always in train mode, also at test time", judged=NAMED)
def dropout_at_test_time(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = norm(self, a, i, mode)
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], "train", rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("relu whatever self.activation says", judged=NAMED)
def always_relu(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = norm(self, a, i, mode)
    h, activation_cache = relu_forward(z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("cache.z holds the activation's output instead of its input", judged=NAMED)
def z_is_activation_output(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = norm(self, a, i, mode)
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, h, activation_cache, dropout_cache)


@forward.mistake("gamma passed for beta too: batchnorm_forward(a, gamma, gamma, ...)", judged=NAMED)
def gamma_for_beta(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    norm_cache, z = None, a
    if self.normalization == "batchnorm":
        self.bn_params[i - 1]["mode"] = mode
        z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"gamma{i}"], self.bn_params[i - 1])
    elif self.normalization == "layernorm":
        z, norm_cache = layernorm_forward(a, p[f"gamma{i}"], p[f"gamma{i}"], self.bn_params[i - 1])
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("layer norm branch forgotten: no normalization with normalization='layernorm'", judged=NAMED)
def layernorm_skipped(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    z, norm_cache = (norm(self, a, i, mode) if self.normalization == "batchnorm" else (a, None))
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.mistake("the layer's bias b skipped: a = x @ W", judged=GENERIC)
def bias_skipped(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], np.zeros_like(p[f"b{i}"]))
    z, norm_cache = norm(self, a, i, mode)
    h, activation_cache = activate(self, z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@forward.correct("the norm chosen from a dict of functions, activation likewise")
def dispatch_tables(self, x, i, mode, rng):
    p = self.params
    a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
    if self.bn_params:
        self.bn_params[i - 1]["mode"] = mode
    norms = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}
    if self.normalization in norms:
        z, norm_cache = norms[self.normalization](a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
    else:
        z, norm_cache = a, None
    h, activation_cache = {"relu": relu_forward, "sigmoid": sigmoid_forward}[self.activation](z)
    out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
    return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


# _hidden_backward

def activation_backward(self, dh, cache):
    return (relu_backward if self.activation == "relu" else sigmoid_backward)(dh, cache.activation)


def norm_backward(self, dz, cache, i, grads):
    if self.normalization == "batchnorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
    elif self.normalization == "layernorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
    else:
        da = dz
    return da


@backward.mistake("regularization added to dgamma: grads['gamma'] += reg * gamma", judged=NAMED)
def reg_on_gamma(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    da = norm_backward(self, dz, cache, i, grads)
    if self.normalization is not None:
        grads[f"gamma{i}"] = grads[f"gamma{i}"] + self.reg * self.params[f"gamma{i}"]
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("regularization gradient added here as well as in loss(): reg * W twice", judged=NAMED)
def reg_twice(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    da = norm_backward(self, dz, cache, i, grads)
    dx, dW, grads[f"b{i}"] = affine_backward(da, cache.affine)
    grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
    return dx


@backward.mistake("dgamma and dbeta stored under each other's names", judged=GENERIC)
def gamma_beta_names_swapped(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    da = norm_backward(self, dz, cache, i, grads)
    if self.normalization is not None:
        grads[f"gamma{i}"], grads[f"beta{i}"] = grads[f"beta{i}"], grads[f"gamma{i}"]
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("the activation's backward pass skipped", judged=GENERIC)
def activation_skipped(self, dout, cache, i, grads):
    da = norm_backward(self, dropout_backward(dout, cache.dropout), cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("dropout's backward pass skipped", judged=GENERIC)
def dropout_skipped(self, dout, cache, i, grads):
    dz = activation_backward(self, dout, cache)
    da = norm_backward(self, dz, cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("norm backward before the activation's (the forward order, not reversed)", judged=GENERIC)
def norm_before_activation(self, dout, cache, i, grads):
    dh = dropout_backward(dout, cache.dropout)
    dn = norm_backward(self, dh, cache, i, grads)
    da = activation_backward(self, dn, cache)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("batch norm's backward for layer norm too", judged=NAMED)
def layernorm_uses_batchnorm_backward(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    if self.normalization in ("batchnorm", "layernorm"):
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
    else:
        da = dz
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("the norm's backward skipped: dz passed straight to the affine layer", judged=GENERIC)
def norm_skipped(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    if self.normalization is not None:
        grads[f"gamma{i}"] = (dz * cache.norm.xhat).sum(axis=0)
        grads[f"beta{i}"] = dz.sum(axis=0)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dz, cache.affine)
    return dx


@backward.mistake("relu's backward used with the sigmoid activation", judged=GENERIC)
def always_relu_backward(self, dout, cache, i, grads):
    dh = dropout_backward(dout, cache.dropout)
    dz = dh * (cache.z > 0)
    da = norm_backward(self, dz, cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("dropout's gradient divided by the keep ratio a second time", judged=GENERIC)
def dropout_scaled_twice(self, dout, cache, i, grads):
    dh = dropout_backward(dout, cache.dropout)
    if cache.dropout.mask is not None:
        dh = dh / self.dropout_param["p"]
    dz = activation_backward(self, dh, cache)
    da = norm_backward(self, dz, cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


@backward.mistake("returns the gradient of the affine output (da) instead of the layer's input (dx)", judged=GENERIC)
def returns_da(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    da = norm_backward(self, dz, cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return da


@backward.correct("the staged batchnorm_backward instead of the closed form")
def staged_norm(self, dout, cache, i, grads):
    dz = activation_backward(self, dropout_backward(dout, cache.dropout), cache)
    if self.normalization == "batchnorm":
        da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
    else:
        da = norm_backward(self, dz, cache, i, grads)
    dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
    return dx


ENTRIES = [*forward.entries, *backward.entries]
