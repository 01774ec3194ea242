"""Mistakes and correct variants of notebook 8's relation (*), torch_stats.torch_running_var.

Same format as the other catalogues: (implementation, expected words or None for a correct
one). Each wrong variant gets one thing wrong: the share left of PyTorch's start value, or
the factor on our running variance, or the caller's array.
"""

import numpy as np

from cs231n_bn.torch_stats import torch_running_var


def _relation(factor, start):
    """An implementation: factor(N) * running_var + start(k, momentum), as a new array."""

    def fn(running_var, N, k, momentum):
        return factor(N) * running_var + start(k, momentum)

    return fn


def bessel(N):
    return N / (N - 1)


def kept(k, m):
    return m**k


def _stepwise(running_var, N, k, momentum):
    """Correct, by running PyTorch's start value through k updates one at a time."""
    left = 1.0
    for _ in range(k):
        left *= momentum
    return running_var * N / (N - 1) + left


def _in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


def _factor_on_both(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum**k)


TORCH_RUNNING_VAR = [
    (torch_running_var, None),
    (_stepwise, None),
    (_relation(lambda N: 1 + 1 / (N - 1), lambda k, m: np.prod(np.full(k, m))), None),  # an empty product is 1
    # through logarithms: right for momentum > 0, NaN at momentum 0 (k * log(0) for k = 0)
    (_relation(bessel, lambda k, m: np.exp(k * np.log(m))), ["NaN or inf", "momentum 0"]),
    (_relation(bessel, lambda k, m: (1 - m) ** k), ["start value", "(1 - momentum)", "weight of the new value"]),  # PyTorch's momentum in the power
    (_relation(bessel, lambda k, m: 0.0), ["start value", "none at all"]),  # the start at 1 forgotten
    (_relation(bessel, lambda k, m: 1 - m**k), ["start value"]),  # the zero start's share instead
    (_relation(bessel, lambda k, m: m ** (k - 1)), ["start value", "one batch too few"]),
    (_relation(bessel, lambda k, m: -(m**k)), ["start value", "subtracted"]),
    (_relation(bessel, lambda k, m: m ** (k + 1)), ["start value", "one batch too many"]),  # one update too many
    (_relation(bessel, lambda k, m: 1.0), ["start value", "the same after k + 1 batches"]),  # the start never fades
    (_relation(lambda N: 1.0, kept), ["scales with our running variance", "multiplied by 1,"]),  # no Bessel factor
    (_relation(lambda N: (N - 1) / N, kept), ["scales with our running variance", "upside down"]),  # the factor inverted
    (lambda running_var, N, k, momentum: k * N / (k * N - 1) * running_var + momentum**k,
     ["scales with our running variance", "k*n"]),  # Bessel's factor over every row seen
    (_factor_on_both, ["start value", "bessel's factor corrects the batch variances"]),  # the factor applied to the start value too
    (_in_place, ["modified its input running_var in place"]),
    (lambda running_var, N, k, momentum: float(np.mean(N / (N - 1) * running_var + momentum**k)),
     ["shape"]),  # one number for all features
]
