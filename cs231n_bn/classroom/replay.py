"""Notebook check cells verified outside the kernel, by replaying the student's solution cells.

For a notebook listed here, the grader does not take the kernel's word: it sends inputs of
its own (drawn from a secret seed) to a sandboxed student process, runs there only the
student's solution cells, in notebook order, gets back the variables each one defines, as
data, and judges them here with the instructor's code. Hooks, wrappers and helpers defined
in other cells of the notebook are never run, and the only way to return the right values
for inputs nobody saw in advance is to compute them.

A function a solution cell defines stays in the student's process; the grader calls it
there with arguments of its own (`call_name`). Covered: notebook 1's `nb01_check_undo` and
`nb01_check_running_after_k`, and notebook 2's fifteen `nb02_check_<grad>` cells (each
judges the variable `<grad>` from `nb02_solve_<grad>` with graph.check_gradient). Every
other notebook check cell is reported by the kernel (grade.py keeps those points apart).
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

from cs231n_bn import graph
from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.gradient_check import rel_error
from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss
from cs231n_bn.numerics import finite_difference_gradient
from cs231n_bn.classroom.student_process import JobAborted, StudentProcess


def _nbgrader(cell):
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


@dataclass(frozen=True)
class CellSpec:
    """How the grader verifies one check cell: which solution cell, on what, judged how."""

    check_id: str  # the check cell's grade_id
    solve_id: str  # the solution cell whose source is replayed
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
    assert got is not None and got.dtype.kind in "biuf" and got.shape == right.shape, (
        f"{name} must be a numeric array of shape {right.shape}; got {np.shape(got) if got is not None else 'no array'}")
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
    assert isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict), "two_layer_loss must return (loss, grads)"
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
    for N, k in ((int(rng.integers(2, 9)), int(rng.integers(1, 5))), (int(rng.integers(10, 80)), int(rng.integers(5, 40)))):
        m, D = float(rng.uniform(0.5, 0.99)), int(rng.integers(1, 6))
        ours = rng.uniform(0.1, 4.0, D) * (1 - m**k)  # a running variance after k batches, from zeros
        # PyTorch's relation (*), as torch_compat states it (the numbers, not its tensors)
        right = N / (N - 1) * ours + m**k
        got = _call_checked(call, "torch_running_var", [ours, N, k, m])
        _close(f"torch_running_var(running_var, N={N}, k={k}, momentum={m:.3g})", got, right, 1e-10)


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
        CellSpec(f"nb02_check_{g}", f"nb02_solve_{g}", (g,), _gradient_judge(g)) for g in _GRADIENTS
    ]),
    3: (_no_inputs, [CellSpec("nb03_check_dx_from_dxhat", "nb03_dx_from_dxhat", ("dx_from_dxhat",), _judge_dx_from_dxhat)]),
    4: (_no_inputs, [
        CellSpec("nb04_check_centered_gradient", "nb04_centered_gradient", ("centered_gradient",),
                 _judge_centered_gradient, after=CENTERED_WRAPPER),
        CellSpec("nb04_check_pick_h", "nb04_pick_h", ("h_float64", "h_float32"), _judge_pick_h),
        CellSpec("nb04_check_two_layer", "nb04_two_layer_loss", ("two_layer_loss",), _judge_two_layer),
    ]),
    6: (_no_inputs, [
        CellSpec("nb06_check_normalize_over", "nb06_normalize_over", ("normalize_over", "normalization_axes", "group_norm"),
                 _judge_normalize_over),
    ]),
    8: (_no_inputs, [
        CellSpec("nb08_check_torch_running_var", "nb08_torch_running_var", ("torch_running_var",),
                 _judge_torch_running_var),
    ]),
}

# What a notebook's solution cells may use from the package, as its first cell imports it
# (run in the student's process, so it is the student's package, as in the kernel).
PRELUDES = {
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
               for spec in specs if spec.solve_id not in sources}
    deadline = time.monotonic() + limits.timeout
    with tempfile.TemporaryDirectory(prefix="cs231n_replay_") as work:
        process = None
        try:
            process = StudentProcess(submission, None, {}, limits, bwrap, work, deadline, namespace=data)
            if _number(notebook_name) in PRELUDES:
                # an import that fails (a broken package) fails the cells that need it, as in the kernel
                process.run_cell(PRELUDES[_number(notebook_name)], ())
            for spec in specs:
                if spec.solve_id in sources:
                    results[spec.check_id] = _replay_one(process, spec, sources[spec.solve_id], dict(data, seed=seed))
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
        return "fail", f"your cell does not define {', '.join(missing)}"
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            spec.judge(values, data, process.call_name)
        except AssertionError as err:
            return "fail", str(err)
        except Exception as err:  # raised by the student's function, re-raised here
            return "error", f"{type(err).__name__}: {err}"
    return "pass", ""
