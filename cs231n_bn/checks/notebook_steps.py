"""Checks of exercises written in notebook cells: notebook 1's undo, notebook 2's steps."""

import numpy as np

from cs231n_bn.checks.core import CheckFailed, matches, package_function
from cs231n_bn.checks.display import passed


def check_step(grad, value, x, gamma, beta, dout, eps):
    """Check one gradient of notebook 2's staged backward pass against its numeric value.

    Inputs:
    - grad: the step's name ("dbeta", ..., "dx"; "dxmu" for both branches of xmu)
    - value: the student's array for it
    - x, gamma, beta, dout, eps: the batch of notebook 2
    """
    from cs231n_bn import graph

    try:
        graph.check_gradient(grad, value, x=x, gamma=gamma, beta=beta, dout=dout, eps=eps)
    except AssertionError as err:
        raise CheckFailed(str(err), "batchnorm_backward", topic=grad) from None


def check_undo(gamma_undo, beta_undo, h, eps):
    """Check notebook 1's Exercise 2: gamma and beta with which batchnorm_forward returns h."""
    exercise = "undo"
    D = h.shape[1]
    for name, p in (("gamma_undo", gamma_undo), ("beta_undo", beta_undo)):
        if not isinstance(p, np.ndarray) or p.shape != (D,):
            raise CheckFailed(
                f"{name} must be a numpy array of shape ({D},), one value per feature; got "
                f"{getattr(p, 'shape', type(p).__name__)}", exercise, "shape",
            )
    mean = h.sum(axis=0) / len(h)
    biased = ((h - mean) ** 2).sum(axis=0) / len(h)
    unbiased = biased * len(h) / (len(h) - 1)
    if matches(gamma_undo, mean) and matches(beta_undo, np.sqrt(biased + eps)):
        raise CheckFailed("gamma_undo and beta_undo are swapped: the scale and the shift trade places",
                          exercise, "swapped")
    gamma_mistakes = (
        (np.sqrt(biased), "gamma_undo leaves eps out: the layer divided by a standard deviation with eps inside"),
        (np.sqrt(unbiased), "gamma_undo uses the unbiased variance (divided by N - 1); batch norm uses the biased one"),
        (np.sqrt(unbiased + eps), "gamma_undo uses the unbiased variance (divided by N - 1); batch norm uses the biased one"),
        (biased + eps, "gamma_undo is a variance, not a standard deviation: the square root is missing"),
        (1 / np.sqrt(biased + eps), "gamma_undo is the reciprocal of what undoes the division"),
    )
    if not matches(gamma_undo, np.sqrt(biased + eps), 1e-9):
        for wrong, message in gamma_mistakes:
            if matches(gamma_undo, wrong, 1e-9):
                raise CheckFailed(message, exercise, "gamma")
        raise CheckFailed("gamma_undo does not undo the division: the output's spread per feature "
                          "differs from the input's", exercise, "gamma")
    if not matches(beta_undo, mean, 1e-9):
        words = "the output's mean per feature differs from the input's"
        if matches(beta_undo, -mean, 1e-9):
            words = "beta_undo has the wrong sign"
        raise CheckFailed(f"{words}: beta_undo does not put the mean back", exercise, "beta")
    forward = package_function("batchnorm", "batchnorm_forward")
    undone, _ = forward(h, gamma_undo, beta_undo, {"mode": "train", "eps": eps})
    if not np.allclose(undone, h, rtol=1e-10, atol=1e-10):
        raise CheckFailed(f"batchnorm_forward with your gamma_undo and beta_undo changes the batch by "
                          f"up to {np.max(np.abs(undone - h)):.3g}", exercise, "undo")
    passed("undo", "batchnorm_forward gives the batch back (max difference < 1e-10)")
