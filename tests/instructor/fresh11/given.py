"""The lines of each exercise that the student edition gives around the solution region.

Entries call these before (and after) what they compute, so that each entry's own body is
only what a student would write between the solution markers.
"""

from cs231n_bn import validation
from cs231n_bn.batchnorm import _check_forward_inputs, read_bn_param


def bn_given(x, gamma, beta, bn_param):
    """batchnorm_forward's checks: (gamma, beta, mode, eps, momentum, running_mean, running_var)."""
    where = "batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(f"{where}: train mode needs a batch of at least 2 samples; got N={N}")
    return gamma, beta, mode, eps, momentum, running_mean, running_var


def ln_given(x, gamma, beta, ln_param):
    """layernorm_forward's checks: (gamma, beta, eps)."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    return gamma, beta, ln_param.get("eps", 1e-5)


def gn_given(x, gamma, beta, gn_param):
    """spatial_groupnorm_forward's checks: (gamma, beta, eps)."""
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    return gamma, beta, gn_param.get("eps", 1e-5)
