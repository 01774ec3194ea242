"""Notebook check cells verified outside the kernel, by replaying the student's solution cells.

For a notebook listed here, the grader does not take the kernel's word: it sends inputs of
its own (drawn from a secret seed) to a sandboxed student process, runs there only the
student's solution cells, in notebook order, gets back the variables each one defines, as
data, and judges them here with the instructor's code. Hooks, wrappers and helpers defined
in other cells of the notebook are never run, and the only way to return the right values
for inputs nobody saw in advance is to compute them.

A function a solution cell defines stays in the student's process; the grader calls it
there with arguments of its own (`call_name`). A check of the package's own functions on
notebook data (no solution cell of its own) calls them the same way, in the student's
process, through a few lines of the grader's (`CellSpec.after`). Every judge computes the
right answer here with the instructor's code and takes nothing from the student but data.

Covered:
- notebook 1: nb01_check_undo, nb01_check_running_after_k
- notebook 2: the fifteen nb02_check_<grad> cells (the variable <grad> of nb02_solve_<grad>,
  judged with graph.check_gradient) and nb02_check_backward_matches_steps
- notebook 3: nb03_check_alt_vs_staged, nb03_check_dx_from_dxhat
- notebook 4: nb04_check_centered_gradient, nb04_check_pick_h, nb04_check_two_layer
- notebook 5: nb05_check_steps_to_reach
- notebook 6: nb06_check_normalize_over
- notebook 7: nb07_check_sbn_stats, nb07_check_sbn_numeric, nb07_check_gn_special_cases,
  nb07_check_gn_numeric
- notebook 8: nb08_check_torch_running_var, nb08_check_load_trained (the trained
  nn.BatchNorm1d is built from the grader's numbers in the student's process, with PyTorch)
That is every check cell of the course that does not call a package check; those
(`checks.check_...`) score through their exercise, verified by grade.py. A check cell added
to a notebook and not listed here is reported by the kernel (grade.py keeps those points apart).
"""

import contextlib
import io
import secrets
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cs231n_bn import experiments, graph
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.gradient_check import rel_error
from cs231n_bn.layernorm import layernorm_forward
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from cs231n_bn.numerics import finite_difference_gradient
from cs231n_bn.spatial import (spatial_batchnorm_backward, spatial_batchnorm_forward, spatial_groupnorm_backward,
                               spatial_groupnorm_forward)
from classroom.grader.student_process import JobAborted, StudentProcess


def _nbgrader(cell):
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


@dataclass(frozen=True)
class CellSpec:
    """How the grader verifies one check cell: which solution cell, on what, judged how."""

    check_id: str  # the check cell's grade_id
    solve_id: str  # the solution cell whose source is replayed; "" for a check of the package's functions
    names: tuple  # variables (or functions) it must define
    judge: Callable  # judge(values, data, call) raises AssertionError when wrong
    after: str = ""  # the grader's own source, run right after the solution cell (helpers the judge calls)


def _undo_inputs(rng):
    """Notebook 1's hidden activations h: (N, D), features on very different scales."""
    N, D = 64, 4
    h = rng.normal(loc=rng.uniform(-5, 5, D), scale=rng.uniform(0.2, 4.0, D), size=(N, D))
    return {"N": N, "D": D, "h": h}


def _judge_undo(values, data, call):
    h, eps = data["h"], 1e-5
    for name, right in (("gamma_undo", np.sqrt(h.var(axis=0) + eps)), ("beta_undo", h.mean(axis=0))):
        got = values[name]
        assert isinstance(got, np.ndarray) and got.shape == right.shape, (
            f"{name} must be a numpy array of shape {right.shape}")
        assert np.allclose(got, right, rtol=1e-9, atol=0), f"{name} does not undo the normalization of h"


def _judge_running_after_k(values, data, call):
    rng = np.random.default_rng(data["seed"])
    mu = rng.normal(size=data["D"])
    for k, momentum in ((1, 0.9), (int(rng.integers(2, 60)), float(rng.uniform(0.3, 0.99))), (120, 0.99)):
        got = np.asarray(call("running_mean_after", k, momentum, mu), dtype=float)
        right = (1 - momentum**k) * mu
        assert got.shape == right.shape and np.allclose(got, right, rtol=1e-9), (
            f"running_mean_after({k}, {momentum:.3g}, batch_mean) is not the running mean after {k} "
            f"identical batches")


def _staged_backward_inputs(rng):
    """Notebook 2's data, drawn afresh: a batch, gamma, beta, dout and the forward values."""
    N, D = 6, 3
    x = rng.normal(loc=rng.uniform(-4, 4, D), scale=rng.uniform(0.5, 3.0, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1.0, 1.0], D)
    beta = rng.normal(0.0, 1.0, D)
    dout = rng.normal(size=(N, D))
    eps = 1e-5
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    values = graph.forward_values(x, gamma, beta, eps)
    namespace = {"N": N, "D": D, "x": x, "gamma": gamma, "beta": beta, "dout": dout, "eps": eps, "cache": cache}
    namespace.update({name: values[name] for name in ("xmu", "var", "sqrtvar", "ivar", "xhat")})
    return namespace


def _gradient_judge(grad):
    def judge(values, data, call):
        graph.check_gradient(grad, values[grad], x=data["x"], gamma=data["gamma"], beta=data["beta"],
                             dout=data["dout"], eps=data["eps"])

    return judge


def _call_checked(call, name, args):
    """The student's function `name` on args (copies are kept), refused if it changed them."""
    before = [np.copy(a) for a in args]
    got = call(name, *args)
    for k, (a, b) in enumerate(zip(args, before)):
        assert np.array_equal(a, b), f"{name} modified its argument {k + 1}; work on new arrays"
    return got


def _close(name, got, right, rtol):
    """Assert that got is an array of right's shape within rtol of it (relative to its size)."""
    got = np.asarray(got) if isinstance(got, (np.ndarray, list, tuple, float, int)) else None
    shape = "no array" if got is None else got.shape
    assert got is not None and got.dtype.kind in "biuf" and got.shape == right.shape, (
        f"{name} must be a numeric array of shape {right.shape}; got {shape}")
    err = np.max(np.abs(got - right), initial=0.0) / max(np.max(np.abs(right), initial=0.0), 1e-300)
    assert err < rtol, f"{name} is off by {err:.1e} (relative to its largest entry), more than {rtol:g}"


def _judge_dx_from_dxhat(values, data, call):
    rng = np.random.default_rng([data["seed"], 3])
    for N, D in ((int(rng.integers(2, 8)), int(rng.integers(1, 5))), (int(rng.integers(20, 60)), 7)):
        x = rng.normal(loc=rng.uniform(-2, 2, D), scale=rng.uniform(0.5, 3, D), size=(N, D))
        dxhat = rng.normal(size=(N, D))
        ones, zeros = np.ones(D), np.zeros(D)
        _, cache = batchnorm_forward(x, ones, zeros, {"mode": "train"})
        # gamma = 1: the layer's output is xhat, so its dx for dout = dxhat is the one asked for
        right = batchnorm_backward_alt(dxhat, cache)[0]
        got = _call_checked(call, "dx_from_dxhat", [dxhat, cache.xhat.copy(), cache.ivar.copy()])
        _close(f"N={N}, D={D}: dx_from_dxhat(dxhat, xhat, ivar)", got, right, 1e-9)


CENTERED_WRAPPER = """
def _replayed_centered_gradient(w, c, x, h):
    return centered_gradient(lambda a: float(np.sum(np.sin(w * a) * np.exp(c * a))), x, h)
"""


def _judge_centered_gradient(values, data, call):
    rng = np.random.default_rng([data["seed"], 4])
    w, c = float(rng.uniform(2, 4)), float(rng.uniform(0.3, 0.7))

    def exact(a):
        return np.exp(c * a) * (w * np.cos(w * a) + c * np.sin(w * a))

    for shape in ((3, 2), tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4))))):
        x = rng.uniform(-1, 1, size=shape)
        got = _call_checked(call, "_replayed_centered_gradient", [w, c, x, 1e-5])
        _close(f"centered_gradient on shape {shape} at h = 1e-5", got, exact(x), 1e-8)
    # The order: a centered error falls ~100x from h = 1e-2 to 1e-3 (one-sided ~10x). At a
    # point where the error's h^2 term dominates (w * a away from the third derivative's zeros).
    x1 = np.array([float(rng.uniform(-0.2, 0.2))])
    errors = [abs(np.asarray(_call_checked(call, "_replayed_centered_gradient", [w, c, x1, h]), dtype=float).ravel()[0]
                  - exact(x1)[0]) for h in (1e-2, 1e-3)]
    assert 30 < errors[0] / max(errors[1], 1e-300) < 300, (
        f"the error fell by {errors[0] / max(errors[1], 1e-300):.0f}x when h went from 1e-2 to 1e-3; a centered "
        "difference gives about 100x (error O(h^2)): evaluate f at x + h AND x - h")


def _step_error(h, dtype, seed):
    """Relative error of the centered difference with step h in dtype on notebook 4's batch."""
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=1.0, scale=2.0, size=(8, 4))
    g, b, d = rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=(8, 4))
    _, cache = batchnorm_forward(x, g, b, {"mode": "train"})

    def f(a):
        out, _ = batchnorm_forward(a, g.astype(a.dtype), b.astype(a.dtype), {"mode": "train"})
        return np.sum(out * d.astype(a.dtype))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numeric = finite_difference_gradient(f, x.astype(dtype), h, "centered")
    return rel_error(numeric, batchnorm_backward_alt(d, cache)[0])


def _judge_pick_h(values, data, call):
    # Only two numbers come from the student; the notebook's own batches judge them (the
    # error of a float32 difference varies too much from batch to batch for random ones).
    for name, dtype, threshold, seeds in (("h_float64", np.float64, 1e-7, (21, 22)),
                                          ("h_float32", np.float32, 1e-3, (21, 23))):
        h = values[name]
        assert isinstance(h, float) and not isinstance(h, bool) and 0 < h < 1, f"{name} must be a float step in (0, 1)"
        for seed in seeds:
            err = _step_error(h, dtype, seed)
            assert err < threshold, f"{name} = {h:g} gives relative error {err:.1e} >= {threshold:g}"


def _two_layer_reference(p, X, y):
    """The loss and gradients of affine -> batch norm -> relu -> affine -> softmax, trusted."""
    a, cache_a = affine_forward(X, p["W1"], p["b1"])
    z, cache_bn = batchnorm_forward(a, p["gamma"], p["beta"], {"mode": "train"})
    r, cache_relu = relu_forward(z)
    s, cache_s = affine_forward(r, p["W2"], p["b2"])
    loss, ds = softmax_loss(s, y)
    dr, dW2, db2 = affine_backward(ds, cache_s)
    da, dgamma, dbeta = batchnorm_backward_alt(relu_backward(dr, cache_relu), cache_bn)
    _, dW1, db1 = affine_backward(da, cache_a)
    return loss, {"W1": dW1, "b1": db1, "gamma": dgamma, "beta": dbeta, "W2": dW2, "b2": db2}


def _judge_two_layer(values, data, call):
    rng = np.random.default_rng([data["seed"], 44])
    N, D, H, C = (int(n) for n in rng.integers((6, 3, 3, 2), (16, 8, 9, 6)))
    X, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
    p = {"W1": rng.normal(0, 0.5, (D, H)), "b1": rng.normal(0, 0.5, H), "gamma": rng.uniform(0.5, 2, H),
         "beta": rng.normal(0, 0.5, H), "W2": rng.normal(0, 0.5, (H, C)), "b2": rng.normal(0, 0.5, C)}
    before = {k: v.copy() for k, v in p.items()}
    got = call("two_layer_loss", p, X.copy(), y.copy())
    assert all(np.array_equal(p[k], before[k]) for k in p), "two_layer_loss modified params"
    assert isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict), (
        "two_layer_loss must return (loss, grads)")
    loss, grads = got
    right_loss, right = _two_layer_reference(before, X, y)
    assert set(grads) == set(right), f"grads must have the keys {sorted(right)}; got {sorted(map(str, grads))}"
    assert isinstance(loss, (float, np.floating)) and abs(loss - right_loss) <= 1e-9 * right_loss, (
        f"the loss is {loss!r}, but the softmax loss of this network is {right_loss:.6g}")
    for name in right:
        if name == "b1":  # cancelled by batch norm: ~0, compared absolutely
            assert np.shape(grads[name]) == (H,) and np.max(np.abs(grads[name])) < 1e-9, (
                "b1 cancels in batch norm, so its gradient must be ~0")
            continue
        _close(f"grads['{name}']", grads[name], right[name], 1e-7)


_AXES = {"batch norm": (0, 2, 3), "layer norm": (1, 2, 3), "instance norm": (2, 3)}


def _normalized(x, axes, eps=1e-5):
    """x normalized over `axes` with the biased variance, two passes (the reference)."""
    xmu = x - x.mean(axis=axes, keepdims=True)
    return xmu / np.sqrt(np.mean(xmu**2, axis=axes, keepdims=True) + eps)


def _judge_normalize_over(values, data, call):
    rng = np.random.default_rng([data["seed"], 6])
    N, H, W = (int(n) for n in rng.integers((2, 2, 2), (6, 5, 6)))
    x = rng.normal(loc=rng.uniform(-3, 3), scale=rng.uniform(0.5, 3), size=(N, 6, H, W))
    for kind, axes in _AXES.items():
        theirs = call("normalization_axes", kind)
        got = _call_checked(call, "normalize_over", [x, theirs])
        _close(f"normalize_over(x, normalization_axes({kind!r}))", got, _normalized(x, axes), 1e-10)
    for G in (2, 3):
        got = _call_checked(call, "group_norm", [x, G])
        right = _normalized(x.reshape(N, G, 6 // G, H, W), (2, 3, 4)).reshape(x.shape)
        _close(f"group_norm(x, {G})", got, right, 1e-10)
    # Two passes: a large common offset must not destroy the variance.
    far = _call_checked(call, "normalize_over", [x + 1e6, _AXES["layer norm"]])
    _close("normalize_over(x + 1e6, layer norm's axes)", far, _normalized(x, _AXES["layer norm"]), 1e-6)


def _judge_torch_running_var(values, data, call):
    rng = np.random.default_rng([data["seed"], 8])
    for N, k in ((int(rng.integers(2, 9)), int(rng.integers(1, 5))),
                 (int(rng.integers(10, 80)), int(rng.integers(5, 40)))):
        m, D = float(rng.uniform(0.5, 0.99)), int(rng.integers(1, 6))
        ours = rng.uniform(0.1, 4.0, D) * (1 - m**k)  # a running variance after k batches, from zeros
        # PyTorch's relation (*), as torch_compat states it (the numbers, not its tensors)
        right = N / (N - 1) * ours + m**k
        got = _call_checked(call, "torch_running_var", [ours, N, k, m])
        _close(f"torch_running_var(running_var, N={N}, k={k}, momentum={m:.3g})", got, right, 1e-10)


# Checks of the student's package functions on notebook data (no solution cell of their own):
# the functions are called in the student's process on the grader's data; a cache is built
# there by the student's forward pass, as in the kernel (a cache sent from here stays data).

BACKWARDS = """
from cs231n_bn import batchnorm as _replayed_batchnorm

def _replayed_backwards(x, gamma, beta, dout, eps):
    _, cache = _replayed_batchnorm.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    return (_replayed_batchnorm.batchnorm_backward(dout, cache),
            _replayed_batchnorm.batchnorm_backward_alt(dout, cache))
"""


def _judge_matches_steps(values, data, call):
    got = call("_replayed_backwards", data["x"], data["gamma"], data["beta"], data["dout"], data["eps"])[0]
    assert isinstance(got, tuple) and len(got) == 3, "batchnorm_backward must return (dx, dgamma, dbeta)"
    for name, pkg in zip(("dx", "dgamma", "dbeta"), got):
        mine = values[name]
        assert isinstance(pkg, np.ndarray) and isinstance(mine, np.ndarray) and pkg.shape == mine.shape, (
            f"batchnorm_backward's {name} and the step-by-step {name} must be arrays of one shape")
        err = rel_error(pkg, mine)
        assert err < 1e-12, (f"batchnorm_backward's {name} differs from the one you derived step by step "
                             f"(relative error {err:.1e})")


def _judge_alt_vs_staged(values, data, call):
    rng = np.random.default_rng([data["seed"], 33])
    for N, D in ((int(rng.integers(2, 10)), int(rng.integers(1, 13))),
                 (int(rng.integers(10, 200)), int(rng.integers(1, 8)))):
        # |mu|/sigma stays below ~3, where the two must agree to round-off (notebook 3, section 2)
        x = rng.normal(loc=rng.uniform(-3, 3, D), scale=rng.uniform(0.5, 4, D), size=(N, D))
        gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1, 1], D)
        beta, dout = rng.normal(0, 2, D), rng.normal(size=(N, D))
        staged, alt = call("_replayed_backwards", x, gamma, beta, dout, 1e-5)
        for which, got in (("batchnorm_backward", staged), ("batchnorm_backward_alt", alt)):
            assert isinstance(got, tuple) and len(got) == 3 and all(
                isinstance(g, np.ndarray) and g.shape == e.shape for g, e in zip(got, (x, gamma, beta))), (
                f"{which} must return the tuple (dx, dgamma, dbeta) shaped like (x, gamma, beta)")
        for name, a, b in zip(("dx", "dgamma", "dbeta"), alt, staged):
            diff = np.max(np.abs(a - b))
            assert diff < 1e-12, (f"N={N}, D={D}: {name} of batchnorm_backward_alt differs from the staged "
                                  f"batchnorm_backward by up to {diff:.1e}")


STEPS_IMPORT = "from cs231n_bn.experiments import steps_to_reach as _replayed_steps_to_reach\n"


def _judge_steps_to_reach(values, data, call):
    rng = np.random.default_rng([data["seed"], 5])
    for case in range(12):
        E = int(rng.integers(0, 10)) if case else 0
        steps = np.cumsum(rng.integers(1, 30, size=E)) - (1 if case % 3 == 0 else 0)
        acc = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9, 1.0], size=E)
        target = float(rng.choice(acc)) if E and case % 2 else float(rng.choice([0.0, 0.3, 0.75, 0.95, 1.0]))
        args = [steps, acc] if case % 4 else [steps.tolist(), acc.tolist()]
        right = experiments.steps_to_reach(steps, acc, target)
        got = call("_replayed_steps_to_reach", *args, target)
        assert (got is None and right is None) or (type(got) is int and got == right), (
            f"steps_to_reach({steps.tolist()}, {acc.tolist()}, {target}) returned {got!r}, expected {right!r}: "
            f"the FIRST step whose accuracy is >= target (as a Python int), None if none is")


SPATIAL_CALLS = """
from cs231n_bn import spatial as _replayed_spatial

def _replayed_sbn_out(x, gamma, beta, eps):
    return _replayed_spatial.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})[0]

def _replayed_sbn_grads(x, gamma, beta, dout):
    _, cache = _replayed_spatial.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return _replayed_spatial.spatial_batchnorm_backward(dout, cache)

def _replayed_gn_out(x, gamma, beta, G):
    return _replayed_spatial.spatial_groupnorm_forward(x, gamma, beta, G, {})[0]

def _replayed_gn_grads(x, gamma, beta, dout, G):
    _, cache = _replayed_spatial.spatial_groupnorm_forward(x, gamma, beta, G, {})
    return _replayed_spatial.spatial_groupnorm_backward(dout, cache)
"""


def _spatial_batch(rng, C):
    N, H, W = (int(n) for n in rng.integers((2, 2, 2), (5, 4, 4)))
    x = rng.normal(size=(N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(-2, 2, (1, C, 1, 1))
    gamma = rng.uniform(0.5, 2.0, C) * rng.choice([-1.0, 1.0], C)
    return x, gamma, rng.normal(size=C), rng.normal(size=x.shape)


def _grads_close(what, got, right):
    assert isinstance(got, tuple) and len(got) == 3, f"{what} must return (dx, dgamma, dbeta)"
    for name, g, r in zip(("dx", "dgamma", "dbeta"), got, right):
        _close(f"{what}: {name}", g, r, 1e-8)


def _judge_sbn_stats(values, data, call):
    rng = np.random.default_rng([data["seed"], 71])
    C = int(rng.integers(2, 6))
    x = rng.normal(size=(5, C, 4, 3)) * rng.uniform(1, 5, (1, C, 1, 1)) + rng.uniform(-10, 10, (1, C, 1, 1))
    out = _call_checked(call, "_replayed_sbn_out", [x, np.ones(C), np.zeros(C), 1e-12])
    right, _ = spatial_batchnorm_forward(x, np.ones(C), np.zeros(C), {"mode": "train", "eps": 1e-12})
    _close("spatial_batchnorm_forward (per-channel statistics over N, H, W)", out, right, 1e-9)


def _judge_sbn_numeric(values, data, call):
    rng = np.random.default_rng([data["seed"], 72])
    x, gamma, beta, dout = _spatial_batch(rng, int(rng.integers(1, 5)))
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    got = _call_checked(call, "_replayed_sbn_grads", [x, gamma, beta, dout])
    _grads_close("spatial_batchnorm_backward", got, spatial_batchnorm_backward(dout, cache))


def _judge_gn_special_cases(values, data, call):
    rng = np.random.default_rng([data["seed"], 73])
    C = int(rng.choice([2, 4, 6]))
    x, gamma, beta, _ = _spatial_batch(rng, C)
    N, _, H, W = x.shape
    as_layer_norm, _ = layernorm_forward(x.reshape(N, -1), np.repeat(gamma, H * W), np.repeat(beta, H * W), {})
    got = _call_checked(call, "_replayed_gn_out", [x, gamma, beta, 1])
    _close("spatial_groupnorm_forward with G = 1 (layer norm over C, H, W)", got, as_layer_norm.reshape(x.shape), 1e-10)
    xmu = x - x.mean(axis=(2, 3), keepdims=True)
    instance = xmu / np.sqrt((xmu**2).mean(axis=(2, 3), keepdims=True) + 1e-5)
    right = gamma.reshape(1, C, 1, 1) * instance + beta.reshape(1, C, 1, 1)
    got = _call_checked(call, "_replayed_gn_out", [x, gamma, beta, C])
    _close("spatial_groupnorm_forward with G = C (instance norm over H, W)", got, right, 1e-10)


def _judge_gn_numeric(values, data, call):
    rng = np.random.default_rng([data["seed"], 74])
    x, gamma, beta, dout = _spatial_batch(rng, 6)
    for G in (1, 2, 3, 6):
        _, cache = spatial_groupnorm_forward(x, gamma, beta, G, {})
        got = _call_checked(call, "_replayed_gn_grads", [x, gamma, beta, dout, G])
        _grads_close(f"spatial_groupnorm_backward with G={G}", got, spatial_groupnorm_backward(dout, cache))


def _trained_layer(rng):
    """Notebook 8's trained nn.BatchNorm1d, as numbers (the student's process builds it: PRELUDES)."""
    D = int(rng.integers(2, 7))
    state = {"D": D, "weight": rng.uniform(0.5, 2.0, D), "bias": rng.normal(0, 1, D),
             "running_mean": rng.normal(0, 2, D), "running_var": rng.uniform(0.3, 5.0, D),
             "momentum": float(rng.uniform(0.05, 0.3)), "eps": float(rng.choice([1e-5, 1e-4, 1e-3])),
             "k": int(rng.integers(1, 50))}
    return {"_replayed_trained": state, "x_new": rng.normal(2.0, 3.0, size=(10, D))}


TRAINED_LAYER = """
import torch
from cs231n_bn import torch_compat

def _replayed_module(D, weight, bias, running_mean, running_var, momentum, eps, k):
    module = torch.nn.BatchNorm1d(D, momentum=momentum, eps=eps, dtype=torch.float64)
    module.load_state_dict({"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias),
                            "running_mean": torch.from_numpy(running_mean),
                            "running_var": torch.from_numpy(running_var),
                            "num_batches_tracked": torch.tensor(k, dtype=torch.long)})
    return module.eval()

trained = _replayed_module(**_replayed_trained)
"""


def _judge_load_trained(values, data, call):
    t, x_new = data["_replayed_trained"], data["x_new"]
    gamma_e, beta_e, bn_param_e = values["gamma_e"], values["beta_e"], values["bn_param_e"]
    assert isinstance(bn_param_e, dict) and bn_param_e.get("mode") == "test", (
        "bn_param_e must be a dict with mode 'test': a module in eval() converts to mode 'test'")
    out, _ = batchnorm_forward(x_new, gamma_e, beta_e, dict(bn_param_e))
    # PyTorch's eval(): the stored statistics, as stored
    right = (x_new - t["running_mean"]) / np.sqrt(t["running_var"] + t["eps"]) * t["weight"] + t["bias"]
    err = rel_error(out, right)
    assert err < 1e-10, f"our test-mode output differs from the trained module's eval() output by {err:.1e} (relative)"
    assert np.isclose(bn_param_e.get("momentum"), 1.0 - t["momentum"], rtol=1e-12, atol=0), (
        "bn_param_e['momentum'] is not the module's momentum converted (ours is 1 - PyTorch's)")
    assert bn_param_e.get("eps") == t["eps"], "bn_param_e['eps'] is not the module's eps"


def _no_inputs(rng):
    return {}


# notebook number -> (inputs(rng) -> namespace data, [CellSpec, ...] in notebook order)
_GRADIENTS = graph.BACKWARD_ORDER[:10] + ("dxmu",) + graph.BACKWARD_ORDER[10:]
SPECS = {
    1: (_undo_inputs, [
        CellSpec("nb01_check_undo", "nb01_undo", ("gamma_undo", "beta_undo"), _judge_undo),
        CellSpec("nb01_check_running_after_k", "nb01_running_after_k", ("running_mean_after",),
                 _judge_running_after_k),
    ]),
    2: (_staged_backward_inputs, [
        *(CellSpec(f"nb02_check_{g}", f"nb02_solve_{g}", (g,), _gradient_judge(g)) for g in _GRADIENTS),
        CellSpec("nb02_check_backward_matches_steps", "", ("dx", "dgamma", "dbeta"), _judge_matches_steps,
                 after=BACKWARDS),
    ]),
    3: (_no_inputs, [
        CellSpec("nb03_check_alt_vs_staged", "", (), _judge_alt_vs_staged, after=BACKWARDS),
        CellSpec("nb03_check_dx_from_dxhat", "nb03_dx_from_dxhat", ("dx_from_dxhat",), _judge_dx_from_dxhat),
    ]),
    4: (_no_inputs, [
        CellSpec("nb04_check_centered_gradient", "nb04_centered_gradient", ("centered_gradient",),
                 _judge_centered_gradient, after=CENTERED_WRAPPER),
        CellSpec("nb04_check_pick_h", "nb04_pick_h", ("h_float64", "h_float32"), _judge_pick_h),
        CellSpec("nb04_check_two_layer", "nb04_two_layer_loss", ("two_layer_loss",), _judge_two_layer),
    ]),
    5: (_no_inputs, [CellSpec("nb05_check_steps_to_reach", "", (), _judge_steps_to_reach, after=STEPS_IMPORT)]),
    6: (_no_inputs, [
        CellSpec("nb06_check_normalize_over", "nb06_normalize_over",
                 ("normalize_over", "normalization_axes", "group_norm"), _judge_normalize_over),
    ]),
    7: (_no_inputs, [
        CellSpec(f"nb07_check_{name}", "", (), judge, after=SPATIAL_CALLS)
        for name, judge in (("sbn_stats", _judge_sbn_stats), ("sbn_numeric", _judge_sbn_numeric),
                            ("gn_special_cases", _judge_gn_special_cases), ("gn_numeric", _judge_gn_numeric))
    ]),
    8: (_trained_layer, [
        CellSpec("nb08_check_torch_running_var", "nb08_torch_running_var", ("torch_running_var",),
                 _judge_torch_running_var),
        CellSpec("nb08_check_load_trained", "nb08_load_trained", ("gamma_e", "beta_e", "bn_param_e"),
                 _judge_load_trained),
    ]),
}

# What a notebook's solution cells may use, as its first cells set it up (run in the student's
# process, so it is the student's package, as in the kernel; notebook 8's trained layer is the
# grader's, with PyTorch in the student's process).
PRELUDES = {
    8: TRAINED_LAYER,
    4: "from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward\n"
       "from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss\n",
}


def _number(notebook_name):
    head = notebook_name[:2]
    return int(head) if head.isdigit() else None


def covers(notebook_name, grade_id):
    """Whether this check cell is verified by replay rather than reported by the kernel."""
    spec = SPECS.get(_number(notebook_name))
    return spec is not None and any(cell.check_id == grade_id for cell in spec[1])


def _solution_sources(student_nb):
    """{grade_id: source} of the student's cells (untrusted JSON, read defensively)."""
    cells = student_nb.get("cells") if isinstance(student_nb, dict) else None
    sources = {}
    for cell in cells if isinstance(cells, list) else []:
        gid = _nbgrader(cell).get("grade_id")
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if isinstance(gid, str) and isinstance(source, str):
            sources.setdefault(gid, source)
    return sources


def replayed_cells(submission, notebook_name, student_nb, limits, bwrap):
    """{check grade_id: (status, message)} verified here, or {} for a notebook not covered.

    student_nb: the student's notebook as parsed JSON (untrusted; only the sources of its
    solution cells are used).
    """
    if _number(notebook_name) not in SPECS:
        return {}
    inputs, specs = SPECS[_number(notebook_name)]
    sources = _solution_sources(student_nb)
    seed = secrets.randbits(63)
    data = inputs(np.random.default_rng(seed))
    results = {spec.check_id: ("missing", f"its solution cell {spec.solve_id} is missing from the notebook")
               for spec in specs if spec.solve_id and spec.solve_id not in sources}
    deadline = time.monotonic() + limits.timeout
    with tempfile.TemporaryDirectory(prefix="cs231n_replay_") as work:
        process = None
        try:
            process = StudentProcess(submission, None, {}, limits, bwrap, work, deadline, namespace=data)
            if _number(notebook_name) in PRELUDES:
                # an import that fails (a broken package) fails the cells that need it, as in the kernel
                process.run_cell(PRELUDES[_number(notebook_name)], ())
            for spec in specs:
                if spec.check_id not in results:
                    results[spec.check_id] = _replay_one(process, spec, sources.get(spec.solve_id, ""),
                                                         dict(data, seed=seed))
        except JobAborted as err:
            for spec in specs:
                results.setdefault(spec.check_id, (err.status, err.message))
        finally:
            if process is not None:
                process.close()
    return results


def _replay_one(process, spec, source, data):
    values, raised = process.run_cell(source, spec.names)
    if raised is not None:
        return "error", f"your cell raised {type(raised).__name__}: {raised} (the grader replays only the solution cells)"
    if spec.after:
        process.run_cell(spec.after, ())
    missing = [name for name in spec.names if name not in values]
    if missing:
        where = "your cell does" if spec.solve_id else "the solution cells above do"
        return "fail", f"{where} not define {', '.join(missing)}"
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            spec.judge(values, data, process.call_name)
        except AssertionError as err:
            return "fail", str(err)
        except Exception as err:  # raised by the student's function, re-raised here
            return "error", f"{type(err).__name__}: {err}"
    return "pass", ""
