"""Notebook check cells verified outside the kernel, by replaying the student's solution cells.

For a notebook listed here, the grader does not take the kernel's word: it sends inputs of
its own (drawn from a secret seed) to a sandboxed student process, runs there only the
student's solution cells, in notebook order, gets back the variables each one defines, as
data, and judges them here with the instructor's code. Hooks, wrappers and helpers defined
in other cells of the notebook are never run, and the only way to return the right values
for inputs nobody saw in advance is to compute them.

Covered: notebook 2 (the staged backward pass: each `nb02_check_<grad>` judges the
variable `<grad>` set by the cell `nb02_solve_<grad>`, with graph.check_gradient).
"""

import contextlib
import io
import secrets
import tempfile
import time

import numpy as np

from cs231n_bn import graph
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.classroom.student_process import JobAborted, StudentProcess


def _nbgrader(cell):
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


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


def _judge_gradient(grad, value, data):
    graph.check_gradient(grad, value, x=data["x"], gamma=data["gamma"], beta=data["beta"], dout=data["dout"],
                         eps=data["eps"])


# notebook number -> (check-cell prefix, solution-cell prefix, inputs, judge)
SPECS = {2: ("nb02_check_", "nb02_solve_", _staged_backward_inputs, _judge_gradient)}


def covers(notebook_name, grade_id):
    """Whether this check cell is verified by replay rather than reported by the kernel."""
    spec = SPECS.get(_number(notebook_name))
    return spec is not None and grade_id.startswith(spec[0])


def _number(notebook_name):
    head = notebook_name[:2]
    return int(head) if head.isdigit() else None


def replayed_cells(submission, notebook_name, student_nb, limits, bwrap):
    """{check grade_id: (status, message)} verified here, or {} for a notebook not covered.

    student_nb: the student's notebook as parsed JSON (untrusted; only the sources of its
    solution cells are used).
    """
    if _number(notebook_name) not in SPECS:
        return {}
    check_prefix, solve_prefix, inputs, judge = SPECS[_number(notebook_name)]
    solutions = []
    cells = student_nb.get("cells") if isinstance(student_nb, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        gid = _nbgrader(cell).get("grade_id")
        source = cell.get("source")
        source = "".join(source) if isinstance(source, list) and all(isinstance(p, str) for p in source) else source
        if isinstance(gid, str) and gid.startswith(solve_prefix) and isinstance(source, str):
            solutions.append((gid[len(solve_prefix):], source))
    data = inputs(np.random.default_rng(secrets.randbits(63)))
    results = {}
    deadline = time.monotonic() + limits.timeout
    with tempfile.TemporaryDirectory(prefix="cs231n_replay_") as work:
        process = None
        try:
            process = StudentProcess(submission, None, {}, limits, bwrap, work, deadline, namespace=data)
            for name, source in solutions:
                values, raised = process.run_cell(source, [name])
                if raised is not None:
                    results[check_prefix + name] = ("error", f"your cell raised {type(raised).__name__}: {raised} "
                                                             f"(the grader replays only the solution cells)")
                    continue
                if name not in values:
                    results[check_prefix + name] = ("fail", f"your cell does not define {name}")
                    continue
                with contextlib.redirect_stdout(io.StringIO()):
                    try:
                        judge(name, values[name], data)
                        results[check_prefix + name] = ("pass", "")
                    except AssertionError as err:
                        results[check_prefix + name] = ("fail", str(err))
        except JobAborted as err:
            for name, _ in solutions:
                results.setdefault(check_prefix + name, (err.status, err.message))
        finally:
            if process is not None:
                process.close()
    return results
