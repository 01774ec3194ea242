"""Mistakes and correct variants of FullyConnectedNet's hidden layers and the update rules.

Same format as catalogue_norm: (implementation, expected words or None for a correct one).
"""

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.fc_net import (
    FullyConnectedNet,
    HiddenLayerCache,
    dropout_backward,
    dropout_forward,
    sigmoid_backward,
    sigmoid_forward,
)
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward


def net_class(order="right", pass_mode=True, dropout_mode=None, dropout_place="after", keep_inverted=False,
              same_gamma=False, activation_on=True, z_is="input", backward="right"):
    """A FullyConnectedNet whose hidden layer carries one switchable mistake."""

    class Net(FullyConnectedNet):
        def _hidden_forward(self, x, i, mode, rng):
            p = self.params
            a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
            k = 1 if same_gamma else i
            act = relu_forward if self.activation == "relu" else sigmoid_forward
            keep = self.dropout_param["p"]
            keep = 1 - keep if keep_inverted and keep != 1 else keep
            drop_mode = dropout_mode or mode

            def norm(v):
                if self.normalization == "batchnorm":
                    if pass_mode:
                        self.bn_params[i - 1]["mode"] = mode
                    return batchnorm_forward(v, p[f"gamma{k}"], p[f"beta{k}"], self.bn_params[i - 1])
                if self.normalization == "layernorm":
                    return layernorm_forward(v, p[f"gamma{k}"], p[f"beta{k}"], self.bn_params[i - 1])
                return v, None

            if dropout_place == "before":
                a, dropout_cache = dropout_forward(a, keep, drop_mode, rng)
            if order == "right":
                z, norm_cache = norm(a)
                h, activation_cache = act(z) if activation_on else (z, None)
            else:  # activation first, normalization after it
                z = a
                h0, activation_cache = act(z)
                h, norm_cache = norm(h0)
            out = h
            if dropout_place == "after":
                out, dropout_cache = dropout_forward(h, keep, drop_mode, rng)
            elif dropout_place == "none":
                dropout_cache = dropout_forward(h, 1.0, "test", rng)[1]
            stored_z = h if z_is == "output" else z
            return out, HiddenLayerCache(affine_cache, norm_cache, stored_z, activation_cache, dropout_cache)

        def _hidden_backward(self, dout, cache, i, grads):
            dh = dout if backward == "no dropout" else dropout_backward(dout, cache.dropout)
            if backward == "no activation":
                dz = dh
            else:
                back = relu_backward if self.activation == "relu" else sigmoid_backward
                if backward == "sigmoid wrong" and self.activation == "sigmoid":
                    dz = dh * cache.activation.out
                elif backward == "activation at a" and self.activation == "relu":
                    dz = dh * (affine_forward(cache.affine.x, cache.affine.w, cache.affine.b)[0] > 0)
                else:
                    dz = back(dh, cache.activation)
            if self.normalization == "batchnorm":
                if backward == "no norm":
                    da, grads[f"gamma{i}"], grads[f"beta{i}"] = dz, np.zeros_like(dz[0]), dz.sum(axis=0)
                else:
                    bn_back = batchnorm_backward if backward == "staged" else batchnorm_backward_alt
                    da, dgamma, dbeta = bn_back(dz, cache.norm)
                    if backward == "swap gamma beta":
                        dgamma, dbeta = dbeta, dgamma
                    grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
            elif self.normalization == "layernorm":
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
            else:
                da = dz
            dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
            if backward == "sign":
                grads[f"W{i}"] = -grads[f"W{i}"]
            return dx

    return Net


def _sigmoid_forward_only(x):
    return sigmoid_forward(x)


NET_FORWARD = [
    (net_class(), None),
    (net_class(order="activation first"), ["not between the affine layer and the activation"]),
    (net_class(pass_mode=False), ["test mode"]),
    (net_class(dropout_mode="train"), ["dropout is still active in test mode"]),
    (net_class(dropout_place="before"), ["dropout is applied before the activation"]),
    (net_class(dropout_place="none"), ["dropout is not applied in train mode"]),
    (net_class(keep_inverted=True), ["1 - dropout_keep_ratio"]),
    (net_class(same_gamma=True), ["valueerror", "gamma must have shape"]),
    (net_class(activation_on=False), ["hidden layer 2"]),
    (net_class(z_is="output"), ["activation's output"]),
]

NET_BACKWARD = [
    (net_class(), None),
    (net_class(backward="staged"), None),
    (net_class(backward="no dropout"), ["go wrong with dropout"]),
    (net_class(backward="no activation"), ["even the plain network", "was <= 0 still pass a gradient"]),
    (net_class(backward="sigmoid wrong"), ["go wrong with the sigmoid"]),
    (net_class(backward="no norm"), ["go wrong with batch norm", "norm's backward step itself"]),
    (net_class(backward="swap gamma beta"), ["go wrong with batch norm", "swapped"]),
    (net_class(backward="activation at a"), ["go wrong with batch norm", "local gradient is evaluated at a"]),
    (net_class(backward="sign"), ["even the plain network", "W1, W2"]),
]


def sgd_rule(kind="right"):
    def sgd_momentum(w, dw, config=None):
        config = {} if config is None else config
        lr = config.setdefault("learning_rate", 1e-2)
        mom = config.setdefault("momentum", 0.9)
        v = config.get("velocity", np.zeros_like(w))
        if kind == "right":
            v = mom * v - lr * dw
            next_w = w + v
        elif kind == "in place style":
            v = v * mom
            v -= lr * dw
            next_w = w.copy()
            next_w += v
        elif kind == "velocity sign":
            v = mom * v + lr * dw
            next_w = w + v
        elif kind == "flipped convention":
            v = lr * dw - mom * v
            next_w = w - v
        elif kind == "step sign":
            v = mom * v - lr * dw
            next_w = w - v
        elif kind == "lr twice":
            v = mom * v - lr * dw
            next_w = w + v - lr * dw
        elif kind == "lr missing":
            v = mom * v - dw
            next_w = w + v
        elif kind == "weight decay":
            v = mom * v - lr * (dw + 1e-3 * w)
            next_w = w + v
        elif kind == "old velocity":
            next_w = w + v
            v = mom * v - lr * dw
        elif kind == "not stored":
            next_w = w + (mom * v - lr * dw)
            return next_w, config
        elif kind == "swapped":
            v = lr * v - mom * dw
            next_w = w + v
        elif kind == "no decay":
            v = v - lr * dw
            next_w = w + v
        elif kind == "lr on step":
            v = mom * v - lr * dw
            next_w = w + lr * v
        config["velocity"] = v
        return next_w, config

    return sgd_momentum


def adam_rule(kind="right"):
    def adam(w, dw, config=None):
        config = {} if config is None else config
        lr = config.setdefault("learning_rate", 1e-3)
        b1, b2 = config.setdefault("beta1", 0.9), config.setdefault("beta2", 0.999)
        eps = config.setdefault("epsilon", 1e-8)
        m = config.get("m", np.zeros_like(w))
        v = config.get("v", np.zeros_like(w))
        t = config.get("t", 0)
        if kind != "t after" and kind != "t never" and kind != "t not stored":
            t += 2 if kind == "t twice" else 1
        t_used = t + 1 if kind == "t not stored" else t
        m = (b2 if kind == "betas swapped" else b1) * m + (1 - (b2 if kind == "betas swapped" else b1)) * dw
        v = b2 * v + (1 - b2) * (dw if kind == "v not squared" else m**2 if kind == "v of m" else dw**2)
        if kind == "efficient":
            step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            next_w = w - step * m / (np.sqrt(v) + eps)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                mhat = m if kind == "no correction" else m / (1 - (b1 if kind == "beta not powered" else b1**t_used))
                vhat = v if kind in ("no correction", "v uncorrected") else v / (1 - (b2 if kind == "beta not powered" else b2**t_used))
                if kind == "power on the whole":
                    mhat, vhat = m / (1 - b1) ** t_used, v / (1 - b2) ** t_used
                if kind == "corrections multiplied":
                    mhat, vhat = m * (1 - b1**t_used), v * (1 - b2**t_used)
                if kind == "root corrected":
                    vhat = (np.sqrt(v) / (1 - b2**t_used)) ** 2
                if kind == "eps inside":
                    next_w = w - lr * mhat / np.sqrt(vhat + eps)
                else:
                    next_w = w - lr * mhat / (np.sqrt(vhat) + eps)
        if kind == "weight decay":
            next_w = next_w - lr * 1e-2 * w
        if kind == "t after":
            t += 1
        if kind == "store corrected":
            m = m / (1 - b1**t)
        config.update(m=m, v=v, t=t_used if kind == "t not stored" else t)
        if kind == "t not stored":
            config["t"] = t
        return next_w.astype(w.dtype, copy=False), config  # the scaffold's last line in optim.py

    return adam


SGD = [
    (sgd_rule(), None),
    (sgd_rule("in place style"), None),
    (sgd_rule("velocity sign"), ["velocity", "wrong sign"]),
    (sgd_rule("flipped convention"), ["velocity", "-1 times"]),
    (sgd_rule("step sign"), ["step has the wrong sign"]),
    (sgd_rule("lr twice"), ["learning rate is applied twice"]),
    (sgd_rule("lr missing"), ["learning rate is not applied"]),
    (sgd_rule("weight decay"), ["velocity", "proportional to w", "weight decay"]),
    (sgd_rule("old velocity"), ["old velocity"]),
    (sgd_rule("not stored"), ["not stored"]),
    (sgd_rule("swapped"), ["swapped"]),
    (sgd_rule("no decay"), ["not decayed"]),
    (sgd_rule("lr on step"), ["learning rate again"]),
]

ADAM = [
    (adam_rule(), None),
    (adam_rule("efficient"), None),
    (adam_rule("weight decay"), ["proportional to w", "weight decay"]),
    (adam_rule("t never"), ["not incremented"]),
    (adam_rule("t after"), ["before it was incremented"]),
    (adam_rule("t not stored"), ["config['t']"]),
    (adam_rule("t twice"), ["incremented twice"]),
    (adam_rule("no correction"), ["bias correction is missing"]),
    (adam_rule("v uncorrected"), ["only m is bias-corrected"]),
    (adam_rule("eps inside"), ["epsilon is inside"]),
    (adam_rule("betas swapped"), ["beta2", "first moment"]),
    (adam_rule("v not squared"), ["squared"]),
    (adam_rule("beta not powered"), ["power t"]),
    (adam_rule("store corrected"), ["bias-corrected moment"]),
]


class _ZIsAffineOutput(FullyConnectedNet):
    """A right forward pass that keeps the affine output, not the normalized one, as z."""

    def _hidden_forward(self, x, i, mode, rng):
        out, cache = super()._hidden_forward(x, i, mode, rng)
        return out, HiddenLayerCache(cache.affine, cache.norm, cache.affine.x @ cache.affine.w + cache.affine.b,
                                     cache.activation, cache.dropout)


NET_FORWARD += [(_ZIsAffineOutput, ["the scores are right", "cache's z"])]


def _sgd_ignoring(key):
    def sgd_momentum(w, dw, config=None):
        config = {} if config is None else config
        lr = 1e-2 if key == "learning_rate" else config.setdefault("learning_rate", 1e-2)
        mom = 0.9 if key == "momentum" else config.setdefault("momentum", 0.9)
        v = mom * config.get("velocity", np.zeros_like(w)) - lr * dw
        config["velocity"] = v
        return w + v, config

    return sgd_momentum


def _adam_variant(kind):
    def adam(w, dw, config=None):
        config = {} if config is None else config
        lr = 1e-3 if kind == "lr ignored" else config.setdefault("learning_rate", 1e-3)
        eps = 1e-8 if kind == "eps ignored" else config.setdefault("epsilon", 1e-8)
        b1, b2 = config.setdefault("beta1", 0.9), config.setdefault("beta2", 0.999)
        t = config.get("t", 0) + 1
        m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * (dw**2 if kind == "m squared" else dw)
        v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw**2
        next_w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        config.update(m=m, v=v, t=t)
        return next_w, config

    return adam


SGD += [(_sgd_ignoring("momentum"), ["config['momentum'] is not used"]),
        (_sgd_ignoring("learning_rate"), ["config['learning_rate'] is not used"])]
ADAM += [(_adam_variant("lr ignored"), ["config['learning_rate'] is not used"]),
         (_adam_variant("eps ignored"), ["config['epsilon'] is not used"]),
         (_adam_variant("m squared"), ["averages the squared gradient"])]


class _AlwaysRelu(FullyConnectedNet):
    """Applies ReLU whatever self.activation says."""

    def _hidden_forward(self, x, i, mode, rng):
        asked = self.activation
        self.activation = "relu"
        try:
            return super()._hidden_forward(x, i, mode, rng)
        finally:
            self.activation = asked


NET_FORWARD.append((_AlwaysRelu, ["with relu as its activation"]))


class _DropoutBackwardTwice(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        return super()._hidden_backward(dropout_backward(dout, cache.dropout), cache, i, grads)


class _BiasGradientDoubled(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        grads[f"b{i}"] = 2 * grads[f"b{i}"]
        return dx


NET_BACKWARD += [(_DropoutBackwardTwice, ["go wrong with dropout"]),
                 (_BiasGradientDoubled, ["b1 (2 times the right one", "even the plain network"])]


# ---- Entries written from the update rules' math (issue 21), before running the checks on them.


def _sgd_written(kind):
    def sgd_momentum(w, dw, config=None):
        if config is None:
            config = {}
        lr = config.setdefault("learning_rate", 1e-2)
        mom = config.setdefault("momentum", 0.99 if kind == "default momentum" else 0.9)
        v = config.get("velocity", np.ones_like(w) if kind == "starts at ones" else np.zeros_like(w))
        v_old = v
        if kind == "damped":
            v = mom * v - lr * (1 - mom) * dw
        elif kind == "momentum squared":
            v = mom**2 * v - lr * dw
        elif kind == "w for dw":
            v = mom * v - lr * w
        elif kind == "negated sum":
            v = -(lr * dw - mom * v)
        else:
            v = mom * v - lr * dw
        if kind in ("nesterov", "nesterov sutskever"):
            next_w = w + mom * v - lr * dw if kind == "nesterov" else w - mom * v_old + (1 + mom) * v
        else:
            next_w = w + v
        if kind != "stored before":
            config["velocity"] = v
        else:
            config["velocity"] = v_old
        return next_w, config

    return sgd_momentum


def _adam_written(kind):
    def adam(w, dw, config=None):
        if config is None:
            config = {}
        lr = config.setdefault("learning_rate", 1e-3)
        b1, b2 = config.setdefault("beta1", 0.9), config.setdefault("beta2", 0.999)
        eps = config.setdefault("epsilon", 1e-8)
        start = np.ones_like(w) if kind == "state at ones" else np.zeros_like(w)
        m, v = config.get("m", start), config.get("v", start)
        t = config.get("t", 1 if kind == "t starts at 1" else 0)
        t_used = t if kind == "t at the end" else t + 1
        m_new = (b1**2 if kind == "beta1 squared" else b1) * m + (1 - b1) * dw
        v_new = (v if kind == "v not decayed" else b2 * v) + (1 - b2) * dw * dw
        power = t_used + 1 if kind in ("t plus one", "t at the end") else t_used
        mhat = m_new / (1 - np.power(b1, power))
        vhat = v_new / (1 - np.power(b1 if kind == "beta1 corrects v" else b2, power))
        if kind == "no sqrt":
            step = lr * mhat / (vhat + eps)
        elif kind == "eps in uncorrected root":
            step = lr * mhat / np.sqrt((v_new + eps) / (1 - b2**power))
        elif kind == "dw for m":
            step = lr * dw / (np.sqrt(vhat) + eps)
        elif kind == "folded":
            step = lr * np.sqrt(1 - b2**power) / (1 - b1**power) * m_new / (np.sqrt(v_new) + eps)
        else:
            step = lr * mhat * (1.0 / (np.sqrt(vhat) + eps))
        if kind != "not stored":
            config["m"], config["v"] = m_new, v_new
        config["t"] = t + 1
        return (w - step).astype(w.dtype, copy=False), config  # the scaffold's last line in optim.py

    return adam


# (implementation, words a message naming the mistake must hold, or None for a correct variant)
SGD_WRITTEN = [
    (_sgd_written("right, in the caller's dict"), None),
    (_sgd_written("negated sum"), None),
    (_sgd_written("damped"), ["damped", "1 - momentum"]),
    (_sgd_written("starts at ones"), ["started at ones"]),
    (_sgd_written("nesterov"), ["nesterov"]),
    (_sgd_written("nesterov sutskever"), ["nesterov"]),
    (_sgd_written("stored before"), ["not stored"]),
    (_sgd_written("momentum squared"), ["momentum is applied twice"]),
    (_sgd_written("w for dw"), ["mix of the old velocity and w", "where its gradient dw belongs"]),
    (_sgd_written("default momentum"), ["defaults", "momentum=0.9"]),
]
ADAM_WRITTEN = [
    (_adam_written("right, in the caller's dict"), None),
    (_adam_written("t at the end"), None),
    (_adam_written("folded"), None),
    (_adam_written("beta1 corrects v"), ["beta1**", "v's"]),
    (_adam_written("no sqrt"), ["not by its square root"]),
    (_adam_written("eps in uncorrected root"), ["inside the square root"]),
    (_adam_written("not stored"), ["config['m']", "not stored"]),
    (_adam_written("t plus one"), ["one power more", "stored correctly"]),
    (_adam_written("state at ones"), ["started at 1 "]),
    (_adam_written("t starts at 1"), ["config['t'] is 2"]),
    (_adam_written("dw for m"), ["gradient dw where it should use the first moment"]),
    (_adam_written("beta1 squared"), ["config['m']", "beta1**2"]),
    (_adam_written("v not decayed"), ["config['v']", "keeps 1 of its old value"]),
]


# ---- Network entries written from the math (issue 21): regularization in the wrong place.


class _GammaRegularized(FullyConnectedNet):
    """Adds reg * gamma to gamma's gradient, as if the loss regularized gamma too."""

    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        if f"gamma{i}" in grads:
            grads[f"gamma{i}"] = grads[f"gamma{i}"] + self.reg * self.params[f"gamma{i}"]
        return dx


class _WeightRegularizedTwice(FullyConnectedNet):
    """Adds reg * W in the hidden layer's backward, on top of what loss() adds."""

    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        return dx


class _HiddenGradientsNotPassedOn(FullyConnectedNet):
    """Returns the gradient it received instead of the one with respect to its input."""

    def _hidden_backward(self, dout, cache, i, grads):
        super()._hidden_backward(dout, cache, i, grads)
        return dout @ self.params[f"W{i}"].T if dout.shape[1] == self.params[f"W{i}"].shape[1] else dout


NET_BACKWARD_WRITTEN = [
    (_GammaRegularized, ["gamma1 (reg * gamma1 is added", "regularization is handled in the wrong place"]),
    (_WeightRegularizedTwice, ["W1 (reg * W1 is added once too often", "regularization"]),
    (_HiddenGradientsNotPassedOn, ["even the plain network", "W1"]),
]

SGD += SGD_WRITTEN
ADAM += ADAM_WRITTEN
NET_BACKWARD += NET_BACKWARD_WRITTEN


def _sgd_rebinds_w(w, dw, config=None):
    """w rebound to a float64 copy inside the scaffold, whose last lines then keep float64."""
    config = {} if config is None else config
    lr, mom = config.setdefault("learning_rate", 1e-2), config.setdefault("momentum", 0.9)
    w = w.astype(np.float64)
    v = mom * config.get("velocity", np.zeros_like(w)) - lr * dw
    config["velocity"] = v.astype(w.dtype, copy=False)
    return (w + v).astype(w.dtype, copy=False), config


SGD.append((_sgd_rebinds_w, ["float32 w and dw", "next_w is float64"]))


class _FreshBnParam(FullyConnectedNet):
    """Hands batch norm a new dict in training, so the running averages never reach self.bn_params."""

    def _hidden_forward(self, x, i, mode, rng):
        if self.normalization != "batchnorm" or mode != "train":
            return super()._hidden_forward(x, i, mode, rng)
        saved = self.bn_params[i - 1]
        self.bn_params[i - 1] = dict(saved)
        try:
            return super()._hidden_forward(x, i, mode, rng)
        finally:
            self.bn_params[i - 1] = saved


class _DropoutFromGlobalRng(FullyConnectedNet):
    """Draws the dropout mask from NumPy's global generator instead of the rng it is given."""

    def _hidden_forward(self, x, i, mode, rng):
        return super()._hidden_forward(x, i, mode, np.random.default_rng())


class _KeysOfTheLayerBelow(FullyConnectedNet):
    """Stores a hidden layer's gamma and beta gradients under the keys of the layer below."""

    def _hidden_backward(self, dout, cache, i, grads):
        own = {}
        dx = super()._hidden_backward(dout, cache, i, own)
        grads.update({name: g for name, g in own.items() if not name.startswith(("gamma", "beta"))})
        if self.normalization is not None:  # layer 1's go under gamma0 and beta0
            grads[f"gamma{i - 1}"], grads[f"beta{i - 1}"] = own[f"gamma{i}"], own[f"beta{i}"]
        return dx


def _written_backward(relu_mask_from_dout=False, returns_da=False, dropout="right"):
    """A hidden layer's backward pass written out, with one of: the ReLU's mask taken from the
    sign of the upstream gradient; the gradient at the affine output returned instead of dx;
    dropout's step skipped ("skipped") or its mask divided by the keep ratio once more ("twice")."""

    class Net(FullyConnectedNet):
        def _hidden_backward(self, dout, cache, i, grads):
            if dropout == "skipped" or cache.dropout.mask is None:
                dh = dout
            else:
                dh = dropout_backward(dout, cache.dropout) / (self.dropout_param["p"] if dropout == "twice" else 1)
            if self.activation != "relu":
                dz = sigmoid_backward(dh, cache.activation)
            else:
                dz = dh * (dh > 0) if relu_mask_from_dout else relu_backward(dh, cache.activation)
            if self.normalization == "batchnorm":
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(dz, cache.norm)
            elif self.normalization == "layernorm":
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dz, cache.norm)
            else:
                da = dz
            dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
            return da if returns_da else dx

    return Net


NET_FORWARD += [(_FreshBnParam, ["held before the training step", "never reached"]),
                (_DropoutFromGlobalRng, ["not drawn from the rng"])]
NET_BACKWARD += [(_KeysOfTheLayerBelow, ["the shape of beta2", "another layer's keys"]),
                 (_written_backward(relu_mask_from_dout=True), ["sign of the gradient"]),
                 (_written_backward(returns_da=True), ["gradient handed to", "some other array than its own input"])]
ADAM.append((adam_rule("power on the whole"), ["(1 - beta)**t"]))


class _ActivationBeforeNorm(FullyConnectedNet):
    """affine -> activation -> norm, and z is the norm's output."""

    def _hidden_forward(self, x, i, mode, rng):
        if self.normalization is None:
            return super()._hidden_forward(x, i, mode, rng)
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        h, activation_cache = (relu_forward if self.activation == "relu" else sigmoid_forward)(a)
        if self.normalization == "batchnorm":
            self.bn_params[i - 1]["mode"] = mode
            z, norm_cache = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        else:
            z, norm_cache = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        out, dropout_cache = dropout_forward(z, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class _NormCacheDropped(FullyConnectedNet):
    """Keeps None where the norm's cache belongs."""

    def _hidden_forward(self, x, i, mode, rng):
        out, cache = super()._hidden_forward(x, i, mode, rng)
        return out, HiddenLayerCache(cache.affine, None, cache.z, cache.activation, cache.dropout)


class _LayerNormThroughBatchnorm(FullyConnectedNet):
    """Calls batchnorm_forward for layer norm too."""

    def _hidden_forward(self, x, i, mode, rng):
        if self.normalization != "layernorm":
            return super()._hidden_forward(x, i, mode, rng)
        p = self.params
        a, affine_cache = affine_forward(x, p[f"W{i}"], p[f"b{i}"])
        self.bn_params[i - 1]["mode"] = mode
        z, norm_cache = batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
        h, activation_cache = (relu_forward if self.activation == "relu" else sigmoid_forward)(z)
        out, dropout_cache = dropout_forward(h, self.dropout_param["p"], mode, rng)
        return out, HiddenLayerCache(affine_cache, norm_cache, z, activation_cache, dropout_cache)


class _GradientsOnTopOfParameters(FullyConnectedNet):
    """Adds each gradient to a copy of its parameter."""

    def _hidden_backward(self, dout, cache, i, grads):
        own = {}
        dx = super()._hidden_backward(dout, cache, i, own)
        for name, g in own.items():
            grads[name] = self.params[name] + g
        return dx


class _SigmoidNetsGetReluMask(FullyConnectedNet):
    """relu's mask for every activation on the way back."""

    def _hidden_backward(self, dout, cache, i, grads):
        if self.activation == "sigmoid":
            cache = HiddenLayerCache(cache.affine, cache.norm, cache.z, relu_forward(cache.z)[1], cache.dropout)
            self.activation = "relu"
            try:
                return super()._hidden_backward(dout, cache, i, grads)
            finally:
                self.activation = "sigmoid"
        return super()._hidden_backward(dout, cache, i, grads)


NET_FORWARD += [(_ActivationBeforeNorm, ["normalizes the activation's output"]),
                (_NormCacheDropped, ["holds none as its norm cache"]),
                (_LayerNormThroughBatchnorm, ["called batchnorm_forward"]),
                (net_class(keep_inverted=False, dropout_place="after"), None)]
NET_BACKWARD += [(_GradientsOnTopOfParameters, ["plus the parameter's own value"]),
                 (_written_backward(dropout="skipped"), ["still pass a gradient", "skipped"]),
                 (_written_backward(dropout="twice"), ["divided by dropout_keep_ratio twice"]),
                 (_SigmoidNetsGetReluMask, ["the relu's mask (z > 0)"])]
ADAM.append((adam_rule("v of m"), ["square of the new first moment"]))


class _NormBackwardFirst(FullyConnectedNet):
    """The backward steps in forward order: the norm's before the activation's."""

    def _hidden_backward(self, dout, cache, i, grads):
        if self.normalization is None:
            return super()._hidden_backward(dout, cache, i, grads)
        dh = dropout_backward(dout, cache.dropout)
        norm_back = batchnorm_backward_alt if self.normalization == "batchnorm" else layernorm_backward
        dnorm, grads[f"gamma{i}"], grads[f"beta{i}"] = norm_back(dh, cache.norm)
        da = relu_backward(dnorm, cache.activation) if self.activation == "relu" else \
            sigmoid_backward(dnorm, cache.activation)
        dx, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache.affine)
        return dx


NET_BACKWARD.append((_NormBackwardFirst, ["before the activation's backward step masks it"]))
ADAM += [(adam_rule("corrections multiplied"), ["multiply m and v"]),
         (adam_rule("root corrected"), ["divides the root of v"])]
