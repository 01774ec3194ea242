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
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cs231n_bn import graph
from cs231n_bn.batchnorm import batchnorm_forward
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
