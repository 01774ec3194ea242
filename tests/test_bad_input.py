"""Every bad input raises an error that names the argument, the expectation and what came."""

import numpy as np
import pytest

from cs231n_bn import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)

D = 3


def ok():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, D)), np.ones(D), np.zeros(D)


@pytest.mark.parametrize(
    "x, gamma, beta, bn_param, error, words",
    [
        (np.ones((4, D, 1)), np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["x", "2-D", "(4, 3, 1)"]),
        (np.ones(D), np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["x", "2-D", "1-D"]),
        (np.ones((4, D), dtype=int), np.ones(D), np.zeros(D), {"mode": "train"}, TypeError, ["x", "floating", "int64"]),
        ([[1.0, 2.0, 3.0]] * 4, np.ones(D), np.zeros(D), {"mode": "train"}, TypeError, ["x", "numpy array", "list"]),
        (ok()[0], np.ones(D + 1), np.zeros(D), {"mode": "train"}, ValueError, ["gamma", "(3,)", "(4,)"]),
        (ok()[0], np.ones((1, D)), np.zeros(D), {"mode": "train"}, ValueError, ["gamma", "1-D", "(1, 3)"]),
        (ok()[0], np.ones(D), np.zeros(2), {"mode": "train"}, ValueError, ["beta", "(3,)", "(2,)"]),
        (ok()[0], np.ones(D, dtype=np.int32), np.zeros(D), {"mode": "train"}, TypeError, ["gamma", "floating", "int32"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "training"}, ValueError, ["mode", "'train'", "'test'", "'training'"]),
        (ok()[0], np.ones(D), np.zeros(D), {}, ValueError, ["mode", "required"]),
        (ok()[0], np.ones(D), np.zeros(D), None, TypeError, ["bn_param", "dict", "NoneType"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": 0.0}, ValueError, ["eps", "> 0", "0.0"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": -1e-5}, ValueError, ["eps", "> 0", "-1e-05"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "eps": float("nan")}, ValueError, ["eps", "nan"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "momentum": 1.5}, ValueError, ["momentum", "[0, 1]", "1.5"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "momentum": -0.1}, ValueError, ["momentum", "[0, 1]", "-0.1"]),
        (ok()[0][:1], np.ones(D), np.zeros(D), {"mode": "train"}, ValueError, ["train mode", "at least 2", "N=1"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "test"}, ValueError, ["test mode", "running_mean", "got none"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "test", "running_mean": np.zeros(D)}, ValueError, ["running_var", "got none"]),
        (ok()[0], np.ones(D), np.zeros(D), {"mode": "train", "running_mean": np.zeros(D + 2)}, ValueError, ["running_mean", "(3,)", "(5,)"]),
    ],
)
def test_batchnorm_forward_rejects(x, gamma, beta, bn_param, error, words):
    with pytest.raises(error) as info:
        batchnorm_forward(x, gamma, beta, bn_param)
    message = str(info.value)
    assert message.startswith("batchnorm_forward:")
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"


def test_failed_call_leaves_bn_param_untouched():
    x, gamma, beta = ok()
    bn_param = {"mode": "train", "momentum": 2.0}
    with pytest.raises(ValueError):
        batchnorm_forward(x, gamma, beta, bn_param)
    assert bn_param == {"mode": "train", "momentum": 2.0}


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_rejects(backward):
    x, gamma, beta = ok()
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    name = backward.__name__
    with pytest.raises(ValueError, match=rf"^{name}: dout must have shape \(4, 3\).*got \(3, 4\)"):
        backward(np.ones((3, 4)), cache)
    with pytest.raises(TypeError, match=rf"^{name}: dout must have a floating-point dtype.*int64"):
        backward(np.ones((4, 3), dtype=np.int64), cache)
    with pytest.raises(TypeError, match=rf"^{name}: cache must be the BatchNormCache.*got tuple"):
        backward(np.ones((4, 3)), (x, gamma))
    bn_param = {"mode": "test", "running_mean": np.zeros(D), "running_var": np.ones(D)}
    _, test_cache = batchnorm_forward(x, gamma, beta, bn_param)
    with pytest.raises(ValueError, match=rf"^{name}: cache comes from a 'test'-mode"):
        backward(np.ones((4, 3)), test_cache)


def test_layernorm_rejects():
    x, gamma, beta = ok()
    with pytest.raises(ValueError, match=r"^layernorm_forward: x must be a 2-D array; got 3-D"):
        layernorm_forward(x[None], gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_forward: gamma must have shape \(3,\).*got \(2,\)"):
        layernorm_forward(x, gamma[:2], beta, {})
    with pytest.raises(TypeError, match=r"^layernorm_forward: x must have a floating-point dtype.*int64"):
        layernorm_forward(x.astype(np.int64), gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_forward: ln_param\['eps'\] must be a finite number > 0; got 0"):
        layernorm_forward(x, gamma, beta, {"eps": 0})
    with pytest.raises(ValueError, match=r"^layernorm_forward: layer norm needs at least 2 features.*D=1"):
        layernorm_forward(x[:, :1], gamma[:1], beta[:1], {})
    _, cache = layernorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match=r"^layernorm_backward: dout must have shape \(4, 3\)"):
        layernorm_backward(np.ones((4, 4)), cache)
