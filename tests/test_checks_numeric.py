"""A numeric gradient does not pass a backward check, whatever its step.

The backward checks compare with the exact reference gradients at a bound of a few
rounding errors of the largest path (checks.backward.gradient_bounds); a numeric gradient
from the edition's differentiators (gradient_check.eval_numerical_gradient_array, centred
differences; graph.numeric_gradient, Richardson extrapolated) is off by far more, on the
public inputs and on secret ones alike.
"""

import warnings

import numpy as np
import pytest

from cs231n_bn import checks, graph
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.checks import core
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n_bn.layernorm import layernorm_forward
from cs231n_bn.spatial import spatial_batchnorm_forward, spatial_groupnorm_forward
from test_checks_secrets import run_with_secret


def _bn(cache):
    return cache.x, cache.gamma, lambda x, g, b: batchnorm_forward(x, g, b, {"mode": "train", "eps": cache.eps})[0]


def _ln(cache):
    return cache.x, cache.gamma, lambda x, g, b: layernorm_forward(x, g, b, {"eps": cache.eps})[0]


def _sbn(cache):
    N, C, H, W = cache.shape
    x = cache.bn.x.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    bn_param = {"mode": "train", "eps": cache.bn.eps}
    return x, cache.bn.gamma, lambda x_, g, b: spatial_batchnorm_forward(x_, g, b, dict(bn_param))[0]


def _gn(cache):
    return cache.x, cache.gamma, lambda x, g, b: spatial_groupnorm_forward(x, g, b, cache.G, {"eps": cache.eps})[0]


def numeric_backward(unpack, h):
    """A backward pass that differentiates the package's forward numerically (beta = 0:
    the cache does not hold it, and it does not change the gradients)."""
    def backward(dout, cache):
        x, gamma, forward = unpack(cache)
        beta = np.zeros_like(gamma)
        return (eval_numerical_gradient_array(lambda a: forward(a, gamma, beta), x.copy(), dout, h=h),
                eval_numerical_gradient_array(lambda g: forward(x, g, beta), gamma.copy(), dout, h=h),
                eval_numerical_gradient_array(lambda b: forward(x, gamma, b), beta.copy(), dout, h=h))
    return backward


BACKWARD_CHECKS = (
    (checks.check_batchnorm_backward, _bn),
    (checks.check_batchnorm_backward_alt, _bn),
    (checks.check_layernorm_backward, _ln),
    (checks.check_spatial_batchnorm_backward, _sbn),
    (checks.check_spatial_groupnorm_backward, _gn),
)


@pytest.mark.parametrize("check, unpack", BACKWARD_CHECKS, ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("h", [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
def test_centred_differences_fail_at_every_step(check, unpack, h):
    with pytest.raises(checks.CheckFailed, match="is not the right gradient"):
        check(numeric_backward(unpack, h))


def _richardson_dx(h):
    """dx from graph.numeric_gradient (Richardson extrapolated), dgamma and dbeta exact."""
    def backward(dout, cache):
        dx = graph.numeric_gradient("dx", cache.x, cache.gamma, np.zeros_like(cache.gamma), dout, eps=cache.eps, h=h)
        return (dx, *batchnorm_backward_alt(dout, cache)[1:])
    return backward


@pytest.mark.parametrize("h", [3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 1e-2])
def test_the_richardson_gradient_of_notebook_2_fails_on_public_and_secret_inputs(h, monkeypatch):
    backward = _richardson_dx(h)
    with pytest.raises(checks.CheckFailed, match="batchnorm_backward called cs231n_bn.graph"):
        checks.check_batchnorm_backward(backward)
    # graph's code copied into the student's own module escapes the watch, not the bound
    monkeypatch.setattr(core, "OFF_LIMITS", core.FRAMEWORKS)
    with pytest.raises(checks.CheckFailed, match="dx is not the right gradient"):
        checks.check_batchnorm_backward(backward)
    for secret in range(10):
        message = run_with_secret(checks.check_batchnorm_backward, secret, backward)
        assert message is not None and "dx is not the right gradient" in message


def _numeric_network(h, richardson):
    """A FullyConnectedNet whose loss() returns numeric gradients of its own loss (centred
    differences at step h; Richardson-extrapolated from h and 2h if asked): what a student
    gets by differentiating the network numerically instead of deriving its backward pass.
    Each gradient is estimated when it is read (the check's own numeric gradients call
    loss() hundreds of times and read none)."""
    class Estimates(dict):
        def __init__(self, net, X, y):
            super().__init__({name: None for name in net.params})
            self.net, self.X, self.y = net, X, y

        def __getitem__(self, name):
            if dict.__getitem__(self, name) is None:
                dict.__setitem__(self, name, self._estimate(self.net.params[name]))
            return dict.__getitem__(self, name)

        def _estimate(self, p):
            def f(_):
                return FullyConnectedNet.loss(self.net, self.X, self.y)[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fine = eval_numerical_gradient(f, p, verbose=False, h=h)
                coarse = eval_numerical_gradient(f, p, verbose=False, h=2 * h) if richardson else fine
            return (4 * fine - coarse) / 3 if richardson else fine

    class Numeric(FullyConnectedNet):
        def loss(self, X, y=None):
            if y is None:
                return super().loss(X)
            return super().loss(X, y)[0], Estimates(self, X, y)
    return Numeric


@pytest.mark.parametrize("h, richardson", [(1e-5, False), (1e-3, True), (1e-4, True)])
def test_a_numerically_differentiated_network_fails_the_network_backward_check(h, richardson):
    with pytest.raises(checks.CheckFailed, match=r"agrees with its numeric gradient, but no closer to the exact "
                                                  r"gradient than a numeric estimate comes"):
        checks.check_fc_net_backward(_numeric_network(h, richardson))
