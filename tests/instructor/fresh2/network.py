"""FullyConnectedNet._hidden_forward and _hidden_backward (notebook 5), as subclasses of the package's net."""

from types import SimpleNamespace

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (FullyConnectedNet, HiddenLayerCache, dropout_backward, dropout_forward,
                              sigmoid_backward, sigmoid_forward)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward
from tests.instructor.later_catalogue import Catalogue

forward = Catalogue("FullyConnectedNet._hidden_forward")
backward = Catalogue("FullyConnectedNet._hidden_backward")


class Student(FullyConnectedNet):
    """A right solution cut into steps, so that each mistake below changes one of them."""

    def _norm(self, a, i, mode):
        p = self.params
        if self.normalization == "batchnorm":
            bn_param = self.bn_params[i - 1]
            bn_param["mode"] = mode
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        if self.normalization == "layernorm":
            return layernorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        return a, None

    def _activate(self, z):
        return sigmoid_forward(z) if self.activation == "sigmoid" else relu_forward(z)

    def _drop(self, h, mode, rng):
        return dropout_forward(h, self.dropout_param["p"], mode, rng)

    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = self._drop(h, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)

    def _norm_backward(self, dz, cache, i, grads):
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
        elif self.normalization == "layernorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
        else:
            da = dz
        return da

    def _activation_backward(self, dh, cache):
        if self.activation == "sigmoid":
            return sigmoid_backward(dh, cache.activation)
        return relu_backward(dh, cache.activation)

    def _hidden_backward(self, dout, cache, i, grads):
        dh = dropout_backward(dout, cache.dropout)
        dz = self._activation_backward(dh, cache)
        da = self._norm_backward(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


def _register(catalogue, description, correct=False):
    def register(cls):
        (catalogue.correct if correct else catalogue.mistake)(description)(cls)
        return cls
    return register


# ---- forward -----------------------------------------------------------------------------------------------

@_register(forward, "bn_param['mode'] never set: batch norm stays in train mode when the net scores")
class fc_mode_not_set(Student):
    def _norm(self, a, i, mode):
        if self.normalization == "batchnorm":
            p = self.params
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        return super()._norm(a, i, mode)


@_register(forward, "dropout applied to z, before the activation")
class fc_dropout_before_activation(Student):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        zd, dropout_cache = self._drop(z, mode, rng)
        out, activation_cache = self._activate(zd)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@_register(forward, "dropout always called with mode 'train', so it also drops units at test time")
class fc_dropout_in_test_mode(Student):
    def _drop(self, h, mode, rng):
        return dropout_forward(h, self.dropout_param["p"], "train", rng)


@_register(forward, "old-style dropout at test time: the activations scaled by the keep ratio")
class fc_test_scaled_by_keep_ratio(Student):
    def _drop(self, h, mode, rng):
        out, cache = super()._drop(h, mode, rng)
        return (out * self.dropout_param["p"] if mode == "test" else out), cache


@_register(forward, "the norm placed after the activation: affine -> relu -> norm")
class fc_norm_after_activation(Student):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        h, activation_cache = self._activate(a)
        z, norm_cache = self._norm(h, i, mode)
        out, dropout_cache = self._drop(z, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@_register(forward, "`if self.normalization:` sends layer norm through batchnorm_forward too")
class fc_layernorm_as_batchnorm(Student):
    def _norm(self, a, i, mode):
        if self.normalization:
            p = self.params
            bn_param = self.bn_params[i - 1]
            bn_param["mode"] = mode
            return batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], bn_param)
        return a, None


@_register(forward, "cache.z holds the affine output a (before the norm), not the activation's input")
class fc_z_before_norm(Student):
    def _hidden_forward(self, x, i, mode, rng):
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = self._drop(h, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, a, activation_cache, dropout_cache)


@_register(forward, "relu whatever self.activation says")
class fc_relu_always(Student):
    def _activate(self, z):
        return relu_forward(z)


@_register(forward, "bn_params indexed with i instead of i - 1 (i is 1-based)")
class fc_bn_params_off_by_one(Student):
    def _norm(self, a, i, mode):
        if self.normalization != "batchnorm":
            return super()._norm(a, i, mode)
        bn_param = self.bn_params[i]
        bn_param["mode"] = mode
        return batchnorm_forward(a, self.params[f"gamma{i}"], self.params[f"beta{i}"], bn_param)


@_register(forward, "the bias left out of the affine layer (x @ W), 'batch norm makes it redundant'")
class fc_forward_without_bias(Student):
    def _hidden_forward(self, x, i, mode, rng):
        b = self.params[f"b{i}"]
        a, affine_cache = affine_forward(x, self.params[f"W{i}"], np.zeros_like(b))
        z, norm_cache = self._norm(a, i, mode)
        h, activation_cache = self._activate(z)
        out, dropout_cache = self._drop(h, mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


@_register(forward, "norm layers chosen from a dict of functions; dropout skipped when the keep ratio is 1",
           correct=True)
class fc_forward_dispatch(Student):
    def _norm(self, a, i, mode):
        if self.normalization is None:
            return a, None
        param = self.bn_params[i - 1]
        param["mode"] = mode
        norm = {"batchnorm": batchnorm_forward, "layernorm": layernorm_forward}[self.normalization]
        return norm(a, self.params[f"gamma{i}"], self.params[f"beta{i}"], param)

    def _drop(self, h, mode, rng):
        if self.use_dropout:
            return dropout_forward(h, self.dropout_param["p"], mode, rng)
        return h, dropout_forward(h, 1, mode, rng)[1]


# ---- backward ------------------------------------------------------------------------------------------------

@_register(backward, "regularization added to the bias gradient as well: db += reg * b")
class fc_reg_on_b(Student):
    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        grads[f"b{i}"] = grads[f"b{i}"] + self.reg * self.params[f"b{i}"]
        return dx


@_register(backward, "reg * W added in the hidden layer too, on top of the one loss() adds")
class fc_reg_twice(Student):
    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return dx


@_register(backward, "gamma and beta gradients written for batch norm only; layer norm's are dropped")
class fc_layernorm_grads_dropped(Student):
    def _norm_backward(self, dz, cache, i, grads):
        if self.normalization == "layernorm":
            da, _, _ = layernorm_backward(dz, cache.norm)
            return da
        return super()._norm_backward(dz, cache, i, grads)


@_register(backward, "the dropout mask not applied on the way back")
class fc_dropout_backward_skipped(Student):
    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._activation_backward(dout, cache)
        da = self._norm_backward(dz, cache, i, grads)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


@_register(backward, "relu_backward whatever the activation (sigmoid nets get relu's gradient)")
class fc_relu_backward_always(Student):
    def _activation_backward(self, dh, cache):
        return relu_backward(dh, cache.activation) if self.activation == "relu" else dh * (cache.z > 0)


@_register(backward, "dgamma stored under beta and dbeta under gamma")
class fc_gamma_beta_grads_swapped(Student):
    def _norm_backward(self, dz, cache, i, grads):
        da = super()._norm_backward(dz, cache, i, grads)
        if self.normalization is not None:
            grads[f"gamma{i}"], grads[f"beta{i}"] = grads[f"beta{i}"], grads[f"gamma{i}"]
        return da


@_register(backward, "the gradient of the activation taken at the norm's input a instead of at z")
class fc_activation_gradient_at_a(Student):
    def _activation_backward(self, dh, cache):
        if self.activation == "sigmoid":
            s = 1 / (1 + np.exp(-cache.affine_output))
            return dh * s * (1 - s)
        return dh * (cache.affine_output > 0)

    def _hidden_forward(self, x, i, mode, rng):
        out, cache = super()._hidden_forward(x, i, mode, rng)
        return out, _WithA(cache, affine_forward(x, self.params[f"W{i}"], self.params[f"b{i}"])[0])


@_register(backward, "the affine gradient taken from dz (the norm skipped on the way back)")
class fc_norm_backward_skipped(Student):
    def _norm_backward(self, dz, cache, i, grads):
        super()._norm_backward(dz, cache, i, grads)
        return dz


@_register(backward, "batch norm's staged backward instead of the closed form", correct=True)
class fc_backward_staged(Student):
    def _norm_backward(self, dz, cache, i, grads):
        if self.normalization == "batchnorm":
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, cache.norm)
            return da
        return super()._norm_backward(dz, cache, i, grads)


@_register(backward, "grads filled with dict.update; the sigmoid's gradient from cache.z directly", correct=True)
class fc_backward_update(Student):
    def _activation_backward(self, dh, cache):
        if self.activation == "sigmoid":
            s = 1 / (1 + np.exp(-cache.z))
            return dh * s * (1 - s)
        return dh * (cache.z > 0)

    def _hidden_backward(self, dout, cache, i, grads):
        dz = self._activation_backward(dropout_backward(dout, cache.dropout), cache)
        own = {}
        da = self._norm_backward(dz, cache, i, own)
        dx, own[f"W{i}"], own[f"b{i}"] = affine_backward(da, cache.affine)
        grads.update(own)
        return dx


class _WithA(HiddenLayerCache):
    """HiddenLayerCache plus the affine output, for the mistake that differentiates at the wrong point."""

    def __init__(self, cache, affine_output):
        super().__init__(cache.affine, cache.norm, cache.z, cache.activation, cache.dropout)
        object.__setattr__(self, "affine_output", affine_output)


# The runner reads one list per module.
catalogue = SimpleNamespace(entries=forward.entries + backward.entries)
