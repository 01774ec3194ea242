"""Checks of the exercises of notebooks 1-3 written in notebook cells, and of the backward
passes on notebook 2's batch.

Right answers come from `reference` (recorded values for the notebooks' own inputs; the
grader's own computation for secret ones), never from code here. Gradients are compared
at a tolerance far below what any numeric differentiation reaches, so only the derived
values pass.
"""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.core import call, factor_text, package_function, require_array, require_unchanged, unpack
from cs231n_bn.checks.display import CheckFailed, passed

# How far a derived gradient may be from the reference, in units of the largest term of
# the chain (machine epsilon ~2.2e-16). Measured on 3000 batches of the grader's family:
# correct code in any order of operations stays below 1.6e-15 of it; graph.numeric_gradient
# (extrapolated, at any step from 1e-5 to 3e-2) stays above 7e-15 on the steps from dsqrtvar on.
# The steps before it are linear enough for a numeric estimate to be exact to round-off:
# there the check recognizes graph.numeric_gradient's estimate itself (NUMERIC_STEPS).
EXACT_GRADIENT_RTOL = 4e-15
NUMERIC_STEPS = (3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6)
EPS = 1e-5


def staged_batch(seed=2):
    """Notebook 2's batch: x (6, 3) with features on different scales, gamma, beta (3,), dout (6, 3).

    The notebook and the recorded reference values use seed 2; the grader draws others.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=[-2.0, 0.5, 4.0], scale=[0.5, 1.0, 3.0], size=(6, 3))
    gamma = np.array([1.5, -0.7, 2.0])
    beta = np.array([0.3, -1.2, 2.5])
    dout = rng.normal(size=(6, 3))
    return x, gamma, beta, dout


def _staged(grad, x, gamma, beta, dout, eps):
    return reference.value(f"staged_backward/{grad}", "staged_backward", x, gamma, beta, dout, eps)


def _chain_scale(x, gamma, beta, dout, eps):
    """The size of the largest term in notebook 2's backward chain on this batch."""
    return max(float(np.max(np.abs(_staged(g, x, gamma, beta, dout, eps)))) for g in ("dxmu1", "dxmu2", "dx", "dvar"))


def _exactly(exercise, what, got, right, scale):
    """Raise unless got equals right to EXACT_GRADIENT_RTOL of scale; returns the error."""
    err = float(np.max(np.abs(got - right), initial=0.0)) / scale
    if err > EXACT_GRADIENT_RTOL:
        close = err < 1e-6
        raise CheckFailed(
            f"{what} is off by {err:.1e} of the largest gradient in the chain. "
            + ("That is close, but not the derived value: a numeric estimate is never this exact, so "
               "derive this step from its local gradient times the upstream gradient."
               if close else "Derive the step's local gradient again: which variable, of which shape, carries "
               "the upstream gradient (the table above), and does every entry it feeds count?"),
            exercise, "value",
        )
    return err


@reference.for_checks
def check_step(grad, value, x, gamma, beta, dout, eps):
    """Check one gradient of notebook 2's staged backward pass.

    Inputs:
    - grad: the step's name ("dbeta", ..., "dx"; "dxmu" for both branches of xmu)
    - value: the student's array for it
    - x, gamma, beta, dout, eps: the batch the steps were computed on
    """
    exercise = "staged_step"
    right = _staged(grad, x, gamma, beta, dout, eps)
    if not isinstance(value, np.ndarray) or value.shape != right.shape:
        raise CheckFailed(f"{grad} must be a numpy array of shape {right.shape} (the shape of the value it is "
                          f"the gradient of); got {getattr(value, 'shape', type(value).__name__)}", exercise, "shape")
    if not np.all(np.isfinite(value)):
        raise CheckFailed(f"{grad} holds NaN or inf", exercise, "nan")
    scale = _chain_scale(x, gamma, beta, dout, eps)
    if np.any(right):
        # a constant factor off everywhere: name it (a sign, a 1/2, a 1/N) without the formula
        c = float(np.sum(value * right) / np.sum(right * right))
        words = factor_text(c, x.shape[0]) if np.allclose(value, c * right, rtol=1e-9, atol=0) else None
        if words is not None and abs(c - 1) > 1e-6:
            raise CheckFailed(f"{grad} is {words}", exercise, "factor")
    numeric = package_function("graph", "numeric_gradient")
    for h in NUMERIC_STEPS:
        if np.array_equal(value, numeric(grad, x, gamma, beta, dout, eps, h=h)):
            raise CheckFailed(f"{grad} is graph.numeric_gradient's estimate (h = {h:g}), not a derived gradient: "
                              f"multiply the step's local gradient by the upstream gradient", exercise, "numeric")
    _exactly(exercise, grad, value, right, scale)
    passed(grad, f"equals the derived gradient to {EXACT_GRADIENT_RTOL:g} of the chain's scale")


@reference.for_checks
def check_backward_on_staged_batch(batchnorm_backward=None, forward=None):
    """Check batchnorm_backward on notebook 2's batch: the same dx, dgamma, dbeta the steps derive.

    Inputs:
    - batchnorm_backward: the implementation under test (None: the package's)
    - forward: the forward pass that makes its cache (None: the package's batchnorm_forward)
    """
    exercise = "batchnorm_backward"
    backward = batchnorm_backward or package_function("batchnorm", "batchnorm_backward")
    forward = forward or package_function("batchnorm", "batchnorm_forward")
    x, gamma, beta, dout = staged_batch()
    _, cache = unpack(exercise, "batchnorm_forward", call(exercise, "batchnorm_forward", forward, x, gamma, beta,
                                                                 {"mode": "train", "eps": EPS}), ("out", "cache"))
    originals = {"dout": (dout, dout.copy())}
    grads = unpack(exercise, "batchnorm_backward", call(exercise, "batchnorm_backward", backward, dout, cache),
                   ("dx", "dgamma", "dbeta"))
    require_unchanged(exercise, "batchnorm_backward", originals)
    scale = _chain_scale(x, gamma, beta, dout, EPS)
    for name, got in zip(("dx", "dgamma", "dbeta"), grads):
        right = _staged(name, x, gamma, beta, dout, EPS)
        require_array(exercise, "batchnorm_backward", name, got, right.shape)
        _exactly(exercise, f"batchnorm_backward's {name} on notebook 2's batch (the steps' {name} is right)",
                 got, right, scale)
    passed("batchnorm_backward", "returns the derived dx, dgamma, dbeta on notebook 2's batch")


def _backward_case(rng, N, D):
    """A batch where |mu| / sigma stays below ~3, so every correct form agrees to round-off."""
    x = rng.normal(loc=rng.uniform(-3, 3, D), scale=rng.uniform(0.5, 4, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1, 1], D)
    return x, gamma, rng.normal(0, 2, D), rng.normal(size=(N, D))


@reference.for_checks
def check_alt_vs_staged(batchnorm_backward_alt=None, forward=None):
    """Check that the closed form returns the staged gradients, to round-off, on batches of many sizes.

    Inputs:
    - batchnorm_backward_alt: the implementation under test (None: the package's)
    - forward: the forward pass that makes its cache (None: the package's batchnorm_forward)
    """
    exercise = "batchnorm_backward_alt"
    alt = batchnorm_backward_alt or package_function("batchnorm", "batchnorm_backward_alt")
    forward = forward or package_function("batchnorm", "batchnorm_forward")
    rng = np.random.default_rng(33)
    for N, D in ((2, 1), (3, 5), (int(rng.integers(4, 10)), int(rng.integers(1, 13))), (64, 7)):
        x, gamma, beta, dout = _backward_case(rng, N, D)
        _, cache = unpack(exercise, "batchnorm_forward", call(exercise, "batchnorm_forward", forward, x, gamma, beta,
                                                                 {"mode": "train", "eps": EPS}), ("out", "cache"))
        grads = unpack(exercise, "batchnorm_backward_alt", call(exercise, "batchnorm_backward_alt", alt, dout, cache),
                       ("dx", "dgamma", "dbeta"))
        scale = _chain_scale(x, gamma, beta, dout, EPS)
        for name, got in zip(("dx", "dgamma", "dbeta"), grads):
            right = _staged(name, x, gamma, beta, dout, EPS)
            require_array(exercise, "batchnorm_backward_alt", name, got, right.shape)
            _exactly(exercise, f"N={N}, D={D}: {name} of batchnorm_backward_alt (next to the staged one)",
                     got, right, scale)
    passed("batchnorm_backward_alt", "agrees with the staged gradients to round-off for N from 2 to 64")


@reference.for_checks
def check_undo(gamma_undo, beta_undo, h, eps):
    """Check notebook 1's Exercise 2: gamma and beta with which batchnorm_forward gives h back.

    Judged by the property itself: the package's batchnorm_forward, run with them on h.
    """
    exercise = "undo"
    D = h.shape[1]
    for name, p in (("gamma_undo", gamma_undo), ("beta_undo", beta_undo)):
        if not isinstance(p, np.ndarray) or p.shape != (D,):
            raise CheckFailed(
                f"{name} must be a numpy array of shape ({D},), one value per feature; got "
                f"{getattr(p, 'shape', type(p).__name__)}", exercise, "shape",
            )
    forward = package_function("batchnorm", "batchnorm_forward")

    def spread_and_mean(g, b):
        out, _ = call(exercise, "batchnorm_forward", forward, h, g, b, {"mode": "train", "eps": eps})
        return out, out.std(axis=0), out.mean(axis=0)

    out, spread, mean = spread_and_mean(gamma_undo, beta_undo)
    if np.allclose(out, h, rtol=1e-10, atol=1e-10 * float(np.max(np.abs(h)))):
        passed("undo", "batchnorm_forward gives the batch back (to 1e-10)")
        return
    swapped, _, _ = spread_and_mean(beta_undo, gamma_undo)
    if np.allclose(swapped, h, rtol=1e-9, atol=1e-9 * float(np.max(np.abs(h)))):
        raise CheckFailed("gamma_undo and beta_undo are swapped: the scale and the shift trade places",
                          exercise, "swapped")
    ratio = spread / h.std(axis=0)
    if not np.allclose(ratio, 1.0, rtol=1e-9):
        raise CheckFailed(f"with gamma_undo the output's spread per feature is {np.round(ratio, 4)} times the "
                          f"input's, not 1: gamma_undo must undo the division", exercise, "gamma")
    raise CheckFailed(f"the output's spread is right, but its mean per feature is off by "
                      f"{np.round(mean - h.mean(axis=0), 4)}: beta_undo must put the mean back", exercise, "beta")


@reference.for_checks
def check_running_mean_after(running_mean_after):
    """Check notebook 1's Exercise 3: the running mean after k identical batches, from zeros.

    Inputs:
    - running_mean_after: the student's function (k, momentum, batch_mean) -> (D,)
    """
    exercise = "running_mean_after"
    rng = np.random.default_rng(18)
    cases = [(1, 0.9), (5, 0.9), (int(rng.integers(2, 60)), float(rng.uniform(0.3, 0.99))), (120, 0.99)]
    batch_mean = rng.normal(size=4)
    for k, momentum in cases:
        got = call(exercise, "running_mean_after", running_mean_after, k, momentum, batch_mean.copy())
        got = np.asarray(got, dtype=float) if isinstance(got, (np.ndarray, float, list)) else got
        right = reference.value("running_mean_after/value", "running_mean_after", k, momentum, batch_mean)
        if not isinstance(got, np.ndarray) or got.shape != right.shape:
            raise CheckFailed(f"running_mean_after({k}, {momentum:.3g}, batch_mean) must return an array of shape "
                              f"{right.shape}, one value per feature; got {getattr(got, 'shape', type(got).__name__)}",
                              exercise, "shape")
        if np.allclose(got, right, rtol=1e-10, atol=0):
            continue
        words = "the running mean batchnorm_forward would hold"
        if np.allclose(got, batch_mean, rtol=1e-10):
            words += ": it starts at zero, so it has not reached the batch mean yet"
        elif np.allclose(got, batch_mean - right, rtol=1e-9):
            words += ": you returned what is still missing from the batch mean, not what has been reached"
        raise CheckFailed(f"running_mean_after({k}, {momentum:.3g}, batch_mean) differs from {words}", exercise,
                          "value")
    passed("running_mean_after", f"matches the running mean for k = {', '.join(str(k) for k, _ in cases)}")


@reference.for_checks
def check_dx_from_dxhat(dx_from_dxhat):
    """Check notebook 3's exercise: dx from dxhat, xhat and ivar, on batches of several sizes.

    Inputs:
    - dx_from_dxhat: the student's function (dxhat, xhat, ivar) -> dx, all (N, D) but ivar (D,)
    """
    exercise = "dx_from_dxhat"
    rng = np.random.default_rng(15)
    for N, D in ((2, 3), (int(rng.integers(3, 8)), int(rng.integers(1, 5))), (50, 7)):
        x = rng.normal(loc=rng.uniform(-2, 2, D), scale=rng.uniform(0.5, 3, D), size=(N, D))
        dxhat = rng.normal(size=(N, D))
        # xhat and ivar of a real batch, as the forward graph computes them
        ones, zeros = np.ones(D), np.zeros(D)
        xhat, ivar = (_staged(name, x, ones, zeros, dxhat, EPS) for name in ("xhat", "ivar"))
        inputs = (dxhat, xhat, ivar)
        originals = {name: (a, a.copy()) for name, a in zip(("dxhat", "xhat", "ivar"), inputs)}
        got = call(exercise, "dx_from_dxhat", dx_from_dxhat, *inputs)
        require_unchanged(exercise, "dx_from_dxhat", originals)
        right = reference.value("dx_from_dxhat/dx", "dx_from_dxhat", dxhat, xhat, ivar)
        require_array(exercise, "dx_from_dxhat", "dx", got, right.shape)
        scale = float(np.max(np.abs(dxhat)) * np.max(ivar))
        _exactly(exercise, f"N={N}, D={D}: dx_from_dxhat(dxhat, xhat, ivar)", got, right, scale)
    passed("dx_from_dxhat", "equals the derived dx for N = 2 to 50")
