"""A CS231n student's own batch-norm pair, with caches of its own (a tuple or a dict in
train mode, None in test mode), handed to the course's checks: a correct pair must pass, as
a black box (outputs, numeric gradients); the cache-field diagnoses are for the course's
own cache type only. (Instructor-only, like every test but the student's own: the pair
below is a solved exercise.)
"""

import numpy as np
import pytest

from cs231n_bn import checks, eval_numerical_gradient_array, rel_error


def forward(x, gamma, beta, bn_param, cache_type):
    """Batch norm as a CS231n student writes it, with the cache as `cache_type` ("tuple" or "dict")."""
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        xhat = (x - mu) / np.sqrt(var + eps)
        out = gamma * xhat + beta
        parts = (xhat, var, gamma, eps)
        cache = parts if cache_type == "tuple" else dict(zip(("xhat", "var", "gamma", "eps"), parts))
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, cache


def backward(dout, cache):
    """The closed-form backward pass, reading the student's own cache."""
    xhat, var, gamma, eps = cache if isinstance(cache, tuple) else (cache[k] for k in ("xhat", "var", "gamma", "eps"))
    N = dout.shape[0]
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * np.sqrt(var + eps))
    return dx, dgamma, dbeta


@pytest.mark.parametrize("cache_type", ["tuple", "dict"])
def test_the_checks_pass_a_correct_pair_with_its_own_cache(cache_type):
    def own_forward(x, gamma, beta, bn_param):
        return forward(x, gamma, beta, bn_param, cache_type)

    checks.check_batchnorm_forward(own_forward)
    checks.check_batchnorm_backward(backward, forward=own_forward)
    checks.check_batchnorm_backward_alt(backward, forward=own_forward)


def test_the_own_pair_is_right():
    # The pair itself agrees with numeric gradients: a failure above is the checks' doing.
    rng = np.random.default_rng(0)
    x, gamma, beta, dout = 3 * rng.normal(size=(6, 4)) + 2, rng.normal(size=4), rng.normal(size=4), rng.normal(size=(6, 4))
    bn_param = {"mode": "train"}
    _, cache = forward(x, gamma, beta, bn_param, "tuple")
    dx, dgamma, dbeta = backward(dout, cache)
    for value, grad, place in ((x, dx, 0), (gamma, dgamma, 1), (beta, dbeta, 2)):
        def f(v, place=place):
            args = [x, gamma, beta]
            args[place] = v
            return forward(*args, {"mode": "train"}, "tuple")[0]
        assert rel_error(eval_numerical_gradient_array(f, value.copy(), dout), grad) < 1e-7
    assert forward(x, gamma, beta, dict(bn_param, mode="test"), "tuple")[1] is None
