"""The diagnostic checks: the right implementations pass, each classic mistake is named.

Every broken implementation below is written out deliberately, one mistake each, and the
test asserts that the check's message names that mistake. This file holds near-solutions,
so the student edition leaves it out (see cs231n_bn.classroom.release).
"""

import numpy as np
import pytest

from cs231n_bn import checks
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.spatial import spatial_groupnorm_forward

ALL_CHECKS = [
    checks.check_fc_net_forward,
    checks.check_fc_net_backward,
    checks.check_sgd_momentum,
    checks.check_adam,
    checks.check_batchnorm_forward,
    checks.check_batchnorm_backward,
    checks.check_batchnorm_backward_alt,
    checks.check_layernorm_forward,
    checks.check_layernorm_backward,
    checks.check_spatial_batchnorm_forward,
    checks.check_spatial_batchnorm_backward,
    checks.check_spatial_groupnorm_forward,
    checks.check_spatial_groupnorm_backward,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_package_passes_with_one_pass_line(check, capsys):
    check()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("PASS"), lines


def test_check_failed_is_an_assertion_error():
    assert issubclass(checks.CheckFailed, AssertionError)


def test_an_unimplemented_exercise_reaches_the_student_untouched():
    def stub(x, gamma, beta, bn_param):
        raise NotImplementedError("batchnorm_forward: implement me (notebook 1)")

    with pytest.raises(NotImplementedError, match="notebook 1"):
        checks.check_batchnorm_forward(stub)


def expect(check, fn, *words):
    """Run check(fn); it must raise CheckFailed whose message contains every word."""
    with pytest.raises(checks.CheckFailed) as info:
        check(fn)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    return message


# ---------------------------------------------------------------------------------------
# batchnorm_forward, broken one way at a time
# ---------------------------------------------------------------------------------------


def broken_bn_forward(
    ddof=0,
    eps_place="inside",
    axis=0,
    reversed_momentum=False,
    test_uses_batch=False,
    write_back=True,
    in_place=False,
    running_var_ddof=0,
    swap_gamma_beta=False,
):
    def forward(x, gamma, beta, bn_param):
        eps = bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        D = x.shape[1]
        running_mean = bn_param.get("running_mean", np.zeros(D))
        running_var = bn_param.get("running_var", np.zeros(D))
        if bn_param["mode"] == "train" or test_uses_batch:
            mean = x.mean(axis=axis, keepdims=True)
            var = x.var(axis=axis, ddof=ddof, keepdims=True)
            stored = x.var(axis=0, ddof=running_var_ddof)
            if in_place:
                x -= mean
                centred = x
            else:
                centred = x - mean
            if bn_param["mode"] == "train" and write_back:
                keep = 1 - momentum if reversed_momentum else momentum
                bn_param["running_mean"] = keep * running_mean + (1 - keep) * x.mean(axis=0)
                bn_param["running_var"] = keep * running_var + (1 - keep) * stored
        else:
            mean, var = running_mean, running_var
            centred = x - mean
        if eps_place == "inside":
            scaled = centred / np.sqrt(var + eps)
        elif eps_place == "outside":
            scaled = centred / (np.sqrt(var) + eps)
        else:
            scaled = centred / np.sqrt(var)
        if swap_gamma_beta:
            return beta * scaled + gamma, None
        return gamma * scaled + beta, None

    return forward


def test_the_broken_forward_without_breakage_passes(capsys):
    checks.check_batchnorm_forward(broken_bn_forward())
    assert capsys.readouterr().out.startswith("PASS")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"ddof": 1}, ["unbiased", "biased batch variance", "by n"]),
        ({"eps_place": "outside"}, ["eps is outside the square root"]),
        ({"eps_place": "missing"}, ["eps is missing"]),
        ({"axis": 1}, ["wrong axis", "axis 1"]),
        ({"reversed_momentum": True}, ["momentum reversed"]),
        ({"test_uses_batch": True}, ["test mode uses batch statistics"]),
        ({"write_back": False}, ["not written back"]),
        ({"in_place": True}, ["modified its input x in place"]),
        ({"running_var_ddof": 1}, ["running_var looks like the unbiased variance"]),
        ({"swap_gamma_beta": True}, ["gamma and beta are swapped"]),
    ],
)
def test_batchnorm_forward_mistakes_are_named(kwargs, words):
    expect(checks.check_batchnorm_forward, broken_bn_forward(**kwargs), *words)


def test_ignoring_the_eps_in_bn_param_is_named():
    def forward(x, gamma, beta, bn_param):
        params = dict(bn_param, eps=1e-5)
        return batchnorm_forward(x, gamma, beta, params)

    expect(checks.check_batchnorm_forward, forward, "not read from the parameter dict")


def test_running_statistics_that_do_not_start_at_zero_are_named():
    def forward(x, gamma, beta, bn_param):
        if "running_mean" not in bn_param:
            bn_param["running_mean"] = x.mean(axis=0)
            bn_param["running_var"] = x.var(axis=0)
        return batchnorm_forward(x, gamma, beta, bn_param)

    expect(checks.check_batchnorm_forward, forward, "start at zeros")


def test_a_crash_on_valid_input_becomes_a_check_failure():
    def forward(x, gamma, beta, bn_param):
        return x - x.mean(axis=1), None  # (N, D) - (N,) does not broadcast for N != D

    expect(checks.check_batchnorm_forward, forward, "raised ValueError", "keepdims")


def test_a_bare_array_instead_of_a_tuple_is_named():
    expect(checks.check_batchnorm_forward, lambda x, g, b, p: x, "must return a tuple")


# ---------------------------------------------------------------------------------------
# batchnorm_backward and batchnorm_backward_alt
# ---------------------------------------------------------------------------------------


def broken_bn_backward(mean_path=True, var_path=True, dgamma_from_x=False, sum_axis=0):
    """Closed-form pieces from the cache, with the chosen paths or reductions wrong."""

    def backward(dout, cache):
        N = dout.shape[0]
        dbeta = dout.sum(axis=sum_axis)
        source = cache.x if dgamma_from_x else cache.xhat
        dgamma = np.sum(dout * source, axis=sum_axis)
        dxhat = cache.gamma * dout
        dx = dxhat * cache.ivar
        if mean_path:
            dx = dx - cache.ivar * dxhat.sum(axis=0) / N
        if var_path:
            dx = dx - cache.ivar * cache.xhat * np.sum(dxhat * cache.xhat, axis=0) / N
        return dx, dgamma, dbeta

    return backward


@pytest.mark.parametrize("check", [checks.check_batchnorm_backward, checks.check_batchnorm_backward_alt])
def test_the_broken_backward_without_breakage_passes(check, capsys):
    check(broken_bn_backward())
    assert capsys.readouterr().out.startswith("PASS")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"mean_path": False}, ["missing the path through the mean"]),
        ({"var_path": False}, ["missing the path through the variance"]),
        ({"mean_path": False, "var_path": False}, ["mean AND the variance"]),
        ({"dgamma_from_x": True}, ["dgamma computed from x instead of xhat"]),
        ({"sum_axis": 1}, ["summed over the wrong axis", "dbeta", "axis 1"]),
    ],
)
@pytest.mark.parametrize("check", [checks.check_batchnorm_backward, checks.check_batchnorm_backward_alt])
def test_batchnorm_backward_mistakes_are_named(check, kwargs, words):
    expect(check, broken_bn_backward(**kwargs), *words)


def test_a_backward_that_modifies_dout_is_named():
    def backward(dout, cache):
        grads = broken_bn_backward()(dout.copy(), cache)
        dout *= 2
        return grads

    expect(checks.check_batchnorm_backward, backward, "modified its input dout in place")


def test_the_backward_check_refuses_a_broken_forward():
    with pytest.raises(checks.CheckFailed, match="until batchnorm_forward passes"):
        checks.check_batchnorm_backward(broken_bn_backward(), broken_bn_forward(ddof=1))


# ---------------------------------------------------------------------------------------
# Layer norm
# ---------------------------------------------------------------------------------------


def broken_ln_forward(axis=1, ddof=0):
    def forward(x, gamma, beta, ln_param):
        eps = ln_param.get("eps", 1e-5)
        centred = x - x.mean(axis=axis, keepdims=True)
        return gamma * centred / np.sqrt(x.var(axis=axis, ddof=ddof, keepdims=True) + eps) + beta, None

    return forward


def test_the_broken_layernorm_without_breakage_passes(capsys):
    checks.check_layernorm_forward(broken_ln_forward())
    assert capsys.readouterr().out.startswith("PASS")


def test_layer_norm_normalizing_over_the_batch_is_named():
    expect(checks.check_layernorm_forward, broken_ln_forward(axis=0), "wrong axis", "over the batch")


def test_layer_norm_unbiased_variance_is_named():
    expect(checks.check_layernorm_forward, broken_ln_forward(ddof=1), "unbiased")


def broken_ln_backward(mean_path=True, var_path=True, sum_axis=0):
    def backward(dout, cache):
        D = dout.shape[1]
        dxhat = cache.gamma * dout
        dx = dxhat
        if mean_path:
            dx = dx - dxhat.sum(axis=1, keepdims=True) / D
        if var_path:
            dx = dx - cache.xhat * np.sum(dxhat * cache.xhat, axis=1, keepdims=True) / D
        return cache.ivar * dx, np.sum(dout * cache.xhat, axis=sum_axis), dout.sum(axis=sum_axis)

    return backward


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({}, None),
        ({"mean_path": False}, ["path through the mean"]),
        ({"var_path": False}, ["path through the variance"]),
        ({"sum_axis": 1}, ["summed over the wrong axis"]),
    ],
)
def test_layernorm_backward_mistakes_are_named(kwargs, words, capsys):
    if words is None:
        checks.check_layernorm_backward(broken_ln_backward())
        assert capsys.readouterr().out.startswith("PASS")
    else:
        expect(checks.check_layernorm_backward, broken_ln_backward(**kwargs), *words)


# ---------------------------------------------------------------------------------------
# Spatial batch norm and group norm
# ---------------------------------------------------------------------------------------


def test_spatial_batchnorm_reshaped_without_transpose_is_named():
    def forward(x, gamma, beta, bn_param):
        N, C, H, W = x.shape
        out, cache = batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
        return out.reshape(N, C, H, W), cache

    expect(checks.check_spatial_batchnorm_forward, forward, "wrong axis", "reshape(-1, C)")


def test_spatial_batchnorm_per_position_is_named():
    def forward(x, gamma, beta, bn_param):
        N, C, H, W = x.shape
        mean = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        out = (x - mean) / np.sqrt(var + bn_param.get("eps", 1e-5))
        return gamma.reshape(1, C, 1, 1) * out + beta.reshape(1, C, 1, 1), None

    expect(checks.check_spatial_batchnorm_forward, forward, "wrong axis", "spatial axes 2 and 3")


def test_group_norm_with_strided_groups_is_named():
    def forward(x, gamma, beta, G, gn_param):
        N, C, H, W = x.shape
        permuted = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
        order = np.arange(C).reshape(C // G, G).T.ravel()
        out, cache = spatial_groupnorm_forward(permuted, gamma[order], beta[order], G, gn_param)
        inverse = np.argsort(order)
        return out[:, inverse], cache

    expect(checks.check_spatial_groupnorm_forward, forward, "wrong axis", "c % G")


def test_group_norm_as_layer_norm_is_named():
    def forward(x, gamma, beta, G, gn_param):
        return spatial_groupnorm_forward(x, gamma, beta, 1, gn_param)

    expect(checks.check_spatial_groupnorm_forward, forward, "wrong axis", "G = 1")


def test_group_norm_eps_missing_is_named():
    def forward(x, gamma, beta, G, gn_param):
        return spatial_groupnorm_forward(x, gamma, beta, G, dict(gn_param, eps=1e-300))

    expect(checks.check_spatial_groupnorm_forward, forward, "eps is missing")


def test_group_norm_backward_missing_mean_path_is_named():
    def backward(dout, cache):
        N, C, H, W = dout.shape
        dxhat = (cache.gamma[:, None, None] * dout).reshape(N, cache.G, -1)
        dx = cache.ivar * (dxhat - cache.xhat * np.mean(dxhat * cache.xhat, axis=2, keepdims=True))
        xhat = cache.xhat.reshape(N, C, H, W)
        return dx.reshape(N, C, H, W), np.sum(dout * xhat, axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))

    expect(checks.check_spatial_groupnorm_backward, backward, "path through the mean")


def test_spatial_batchnorm_backward_dgamma_from_x_is_named():
    def backward(dout, cache):
        from cs231n_bn.spatial import spatial_batchnorm_backward

        dx, _, dbeta = spatial_batchnorm_backward(dout, cache)
        N, C, H, W = dout.shape
        x = cache.bn.x.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        return dx, np.sum(dout * x, axis=(0, 2, 3)), dbeta

    expect(checks.check_spatial_batchnorm_backward, backward, "dgamma computed from x instead of xhat")


# ---------------------------------------------------------------------------------------
# FullyConnectedNet and the update rules
# ---------------------------------------------------------------------------------------


class ForgetsTheNorm(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        normalization, self.normalization = self.normalization, None
        try:
            return super()._hidden_forward(x, i, mode, rng)
        finally:
            self.normalization = normalization


class AlwaysTrainMode(FullyConnectedNet):
    def _hidden_forward(self, x, i, mode, rng):
        return super()._hidden_forward(x, i, "train", rng)


class DoubleGammaGradient(FullyConnectedNet):
    def _hidden_backward(self, dout, cache, i, grads):
        dx = super()._hidden_backward(dout, cache, i, grads)
        if f"gamma{i}" in grads:
            grads[f"gamma{i}"] = 2 * grads[f"gamma{i}"]
        return dx


@pytest.mark.parametrize(
    "cls, check, words",
    [
        (ForgetsTheNorm, checks.check_fc_net_forward, ["hidden layer 1", "batchnorm layer must come"]),
        (AlwaysTrainMode, checks.check_fc_net_forward, ["test mode", "batch statistics"]),
        (DoubleGammaGradient, checks.check_fc_net_backward, ["grads['gamma"]),
        (ForgetsTheNorm, checks.check_fc_net_backward, ["cannot be checked until its forward pass"]),
    ],
)
def test_network_mistakes_are_named(cls, check, words):
    expect(check, cls, *words)


def broken_sgd_momentum(mistake):
    def rule(w, dw, config=None):
        config = {"learning_rate": 1e-2, "momentum": 0.9, **(config or {})}
        lr, mom = config["learning_rate"], config["momentum"]
        if mistake == "swap":
            lr, mom = mom, lr
        v = mom * config.get("velocity", np.zeros_like(w)) - lr * dw
        if mistake == "forget":
            return w + v, {k: val for k, val in config.items() if k != "velocity"}
        step = -v if mistake == "sign" else v
        return w + step, dict(config, velocity=v)

    return rule


@pytest.mark.parametrize(
    "mistake, words",
    [(None, None), ("swap", ["swapped"]), ("forget", ["not stored"]), ("sign", ["wrong sign"])],
)
def test_sgd_momentum_mistakes_are_named(mistake, words, capsys):
    if words is None:
        checks.check_sgd_momentum(broken_sgd_momentum(None))
        assert capsys.readouterr().out.startswith("PASS")
    else:
        expect(checks.check_sgd_momentum, broken_sgd_momentum(mistake), *words)


def broken_adam(mistake):
    def rule(w, dw, config=None):
        config = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0, **(config or {})}
        b1, b2, eps = config["beta1"], config["beta2"], config["epsilon"]
        t = config["t"] + 1
        m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
        v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
        if mistake == "no correction":
            m_used, v_used = m, v
        else:
            m_used, v_used = m / (1 - b1**t), v / (1 - b2**t)
        if mistake == "eps inside":
            denominator = np.sqrt(v_used + eps)
        else:
            denominator = np.sqrt(v_used) + eps
        return w - config["learning_rate"] * m_used / denominator, dict(config, m=m, v=v, t=t)

    return rule


@pytest.mark.parametrize(
    "mistake, words",
    [(None, None), ("no correction", ["bias correction is missing"]), ("eps inside", ["inside the square root"])],
)
def test_adam_mistakes_are_named(mistake, words, capsys):
    if words is None:
        checks.check_adam(broken_adam(None))
        assert capsys.readouterr().out.startswith("PASS")
    else:
        expect(checks.check_adam, broken_adam(mistake), *words)
