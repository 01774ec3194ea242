"""The notebook exercises of one notebook, graded by the checks their cells call, on secret inputs.

For the registry's rows of a notebook exercise (cs231n_bn/checks/registry.py, rows with
`cells`), the grader starts one sandboxed student process with a namespace of inputs
drawn from a secret seed, runs there only the student's solution cells, in notebook
order, and gets back the values they define, as data. Then it calls each row's check,
here, exactly as the notebook's check cell does, with those values; a function a cell
defines stays in the student's process and is called through a proxy (a function passed to
it, such as the f of a numeric derivative, is called back here). The check's reference
values come from the instructor's solutions (notebook_reference.py), its own seeds are
mixed with the secret. No check cell, hidden test or instructor notebook enters the job.
"""

import contextlib
import importlib
import io
import secrets
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from classroom import wire
from classroom.grader import references
from classroom.grader.student_process import JobAborted, StudentProcess, secret_seeds
from cs231n_bn import graph
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.checks import reference
from cs231n_bn.checks.display import last_pass


@dataclass(frozen=True)
class NotebookSetup:
    """What a notebook's solution cells start from, in the student's process."""

    data: Callable = lambda rng: {}  # rng -> {name: value}: the variables the notebook has made by then
    prelude: str = ""  # run first, as the notebook's first cells do (the student's package, in the job)
    stand_ins: Callable = lambda data: {}  # data -> {name: object}: arguments the job cannot send back


def _undo_data(rng):
    """Notebook 1's hidden activations h: (N, D), features on very different scales."""
    N, D = 64, 4
    h = rng.normal(loc=rng.uniform(-5, 5, D), scale=rng.uniform(0.2, 4.0, D), size=(N, D))
    return {"N": N, "D": D, "h": h, "eps": 1e-5}


def _staged_data(rng):
    """Notebook 2's batch, drawn afresh, with the forward values its steps may use."""
    N, D = 6, 3
    x = rng.normal(loc=rng.uniform(-4, 4, D), scale=rng.uniform(0.5, 3.0, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1.0, 1.0], D)
    beta = rng.normal(0.0, 1.0, D)
    dout = rng.normal(size=(N, D))
    eps = 1e-5
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    values = graph.forward_values(x, gamma, beta, eps)
    data = {"N": N, "D": D, "x": x, "gamma": gamma, "beta": beta, "dout": dout, "eps": eps, "cache": cache}
    data.update({name: values[name] for name in ("xmu", "var", "sqrtvar", "ivar", "xhat")})
    return data


def _trained_data(rng):
    """Notebook 8's trained nn.BatchNorm1d, as numbers (the job builds the module: TRAINED_LAYER)."""
    D = int(rng.integers(2, 7))
    state = {"D": D, "weight": rng.uniform(0.5, 2.0, D), "bias": rng.normal(0, 1, D),
             "running_mean": rng.normal(0, 2, D), "running_var": rng.uniform(0.3, 5.0, D),
             "momentum": float(rng.uniform(0.05, 0.3)), "eps": float(rng.choice([1e-5, 1e-4, 1e-3])),
             "k": int(rng.integers(1, 50))}
    return {"_trained_state": state, "x_new": rng.normal(2.0, 3.0, size=(10, D))}


TRAINED_LAYER = """
import torch
from cs231n_bn import torch_compat

def _module(D, weight, bias, running_mean, running_var, momentum, eps, k):
    module = torch.nn.BatchNorm1d(D, momentum=momentum, eps=eps, dtype=torch.float64)
    module.load_state_dict({"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias),
                            "running_mean": torch.from_numpy(running_mean),
                            "running_var": torch.from_numpy(running_var),
                            "num_batches_tracked": torch.tensor(k, dtype=torch.long)})
    return module.eval()

trained = _module(**_trained_state)
"""


class TrainedNumbers:
    """The grader's side of notebook 8's trained module: its numbers, and its eval() output
    (PyTorch's test mode: the stored running statistics, as stored)."""

    def __init__(self, state):
        self.momentum, self.eps = state["momentum"], state["eps"]
        self.state = {k: state[k] for k in ("weight", "bias", "running_mean", "running_var")}

    def __call__(self, x):
        s = self.state
        return (x - s["running_mean"]) / np.sqrt(s["running_var"] + self.eps) * s["weight"] + s["bias"]


SETUPS = {
    1: NotebookSetup(data=_undo_data),
    2: NotebookSetup(data=_staged_data),
    4: NotebookSetup(prelude="from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward\n"
                             "from cs231n_bn.layers import affine_backward, affine_forward, relu_backward, "
                             "relu_forward, softmax_loss\n"),
    8: NotebookSetup(data=_trained_data, prelude=TRAINED_LAYER,
                     stand_ins=lambda data: {"trained": TrainedNumbers(data["_trained_state"])}),
}


def _nbgrader(cell):
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def solution_sources(student_nb):
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


def _argument(process, name, values, data, stand_ins):
    """The value of one argument of a check cell, or KeyError when nothing defines it."""
    if name.startswith('"'):
        return name.strip('"')
    if name in stand_ins:
        return stand_ins[name]
    if name in values:
        value = values[name]
        if isinstance(value, wire.Foreign) and value.type_name == "function":
            return _function_proxy(process, name)
        return value
    return data[name]


def _function_proxy(process, name):
    def proxy(*args):
        return process.call_name(name, *args)

    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def grade_rows(submission, source, number, rows, student_nb, limits, bwrap, secret=None):
    """{grade_id: (status, message)} of a notebook's rows (registry GradedCells with `cells`).

    Inputs:
    - submission: the sanitized copy (holding cs231n_bn/); source: the instructor's checkout
    - number: the notebook's number; rows: its notebook-exercise rows, in notebook order
    - student_nb: the student's notebook as parsed JSON (untrusted: only its solution
      cells' sources are used)
    - limits: grade.Limits; bwrap: its path or None; secret: the seed (default: a fresh one)
    """
    checks = importlib.import_module("cs231n_bn.checks")
    setup = SETUPS.get(number, NotebookSetup())
    secret = secrets.randbits(63) if secret is None else secret
    data = setup.data(np.random.default_rng([secret, number]))
    sources = solution_sources(student_nb)
    order = list(dict.fromkeys(cell for row in rows for cell in row.cells))
    results = {}
    for row in rows:
        missing = [cell for cell in row.cells if cell not in sources]
        if missing:
            results[row.grade_id] = ("missing", f"its solution cell {missing[0]} is missing from the notebook")
    deadline = time.monotonic() + limits.timeout
    names = sorted({arg for row in rows for arg in row.args if not arg.startswith('"')})
    with tempfile.TemporaryDirectory(prefix="cs231n_notebook_") as work:
        process = None
        try:
            process = StudentProcess(submission, None, {}, limits, bwrap, work, deadline, namespace=data)
            if setup.prelude:
                # an import that fails (a broken package) fails the cells that need it, as in the kernel
                process.run_cell(setup.prelude, ())
            values, raised = {}, {}
            for cell in order:
                if cell in sources:
                    got, err = process.run_cell(sources[cell], names)
                    values.update(got)
                    if err is not None:
                        raised[cell] = err
            stand_ins = setup.stand_ins(data)
            provider = references.instructor_provider(source)
            for row in rows:
                if row.grade_id in results:
                    continue
                failed = next((raised[c] for c in row.cells if c in raised), None)
                if failed is not None:
                    status = "not implemented" if isinstance(failed, NotImplementedError) else "error"
                    results[row.grade_id] = (status, f"your cell raised {type(failed).__name__}: {failed}")
                    continue
                results[row.grade_id] = _judge_row(checks, row, process, values, data, stand_ins, provider, secret)
        except JobAborted as err:
            for row in rows:
                results.setdefault(row.grade_id, (err.status, err.message))
        finally:
            if process is not None:
                process.close()
    return results


def _judge_row(checks, row, process, values, data, stand_ins, provider, secret):
    try:
        args = [_argument(process, name, values, data, stand_ins) for name in row.args]
    except KeyError as err:
        return "fail", f"your cells do not define {err.args[0]}"
    printed = io.StringIO()
    try:
        with secret_seeds(secret), reference.provider(provider), contextlib.redirect_stdout(printed):
            getattr(checks, row.check)(*args)
    except checks.CheckFailed as err:
        return "fail", str(err)
    except NotImplementedError as err:
        return "not implemented", f"NotImplementedError: {err}"
    except Exception as err:  # raised by the student's function where the check does not wrap it
        return "error", f"{type(err).__name__}: {err}"
    return "pass", last_pass(printed.getvalue()) or "PASS"
