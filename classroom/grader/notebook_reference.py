"""Reference values of the notebook exercises, computed by the instructor's own solution cells.

Instructor-only: it runs the solutions. Its `computations(source)` join the others in
classroom.grader.references, the one provider of the grader; recorded under a
`reference.Recorder`, `run_notebook_checks(source)` gives the values the shipped data
file holds for the checks' public inputs.

Each computation runs the solution cells of the instructor's notebook (`source`'s
notebooks/) in a fresh namespace holding numpy, the package's top-level names and the
inputs, and returns {what: value}; a value is named "<function>/<what>".
"""

import importlib

import nbformat
import numpy as np

from cs231n_bn.checks.registry import CELLS, STAGED_STEPS, notebook_path


def solution_sources(source, number):
    """{grade_id: source} of the solution cells of the instructor's notebook `number`."""
    path = notebook_path(source, number)
    cells = nbformat.read(path, as_version=4).cells if path else []
    found = {}
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            found[meta["grade_id"]] = cell.source
    return found


def _namespace(**inputs):
    package = importlib.import_module("cs231n_bn")
    names = {name: getattr(package, name) for name in getattr(package, "__all__", ()) if hasattr(package, name)}
    return {"np": np, **names, **inputs}


def _defined(cells, cell_id, name, **inputs):
    """The object `name` that the instructor's cell `cell_id` defines; cells(number) gives
    {grade_id: source} of a notebook's solution cells."""
    namespace = _namespace(**inputs)
    exec(compile(cells(int(cell_id[2:4]))[cell_id], f"<{cell_id}>", "exec"), namespace)
    return namespace[name]


def _reader(source):
    """cells(number): the solution cells of the instructor's notebook, each notebook read once."""
    read = {}

    def cells(number):
        if number not in read:
            read[number] = solution_sources(source, number)
        return read[number]

    return cells


def computations(source):
    """{function_name: fn(*inputs) -> {what: value}} for every notebook reference value (and
    steps_to_reach and torch_running_var, package functions judged the way a notebook cell
    would be)."""
    cells = _reader(source)

    def staged_backward(x, gamma, beta, dout, eps):
        forward = importlib.import_module("cs231n_bn.batchnorm").batchnorm_forward
        _, cache = forward(x, gamma, beta, {"mode": "train", "eps": eps})
        N, D = x.shape
        namespace = _namespace(N=N, D=D, x=x, gamma=gamma, beta=beta, dout=dout, eps=eps, xmu=cache.xmu,
                               var=cache.var, sqrtvar=cache.sqrtvar, ivar=cache.ivar, xhat=cache.xhat)
        for step in STAGED_STEPS:
            exec(compile(cells(2)[f"nb02_solve_{step}"], f"<nb02_solve_{step}>", "exec"), namespace)
        return {**{step: namespace[step] for step in STAGED_STEPS}, "xhat": cache.xhat, "ivar": cache.ivar}

    def two_layer_loss(params, X, y):
        loss, grads = _defined(cells, "nb04_two_layer_loss", "two_layer_loss")(params, X, y)
        return {"loss": loss, **grads}

    def normalization_axes(x, kind):
        # recorded as x normalized over the kind's axes, never as the axes themselves: the student
        # edition ships these values, and the axes are the exercise's answer whatever x is
        axes = _defined(cells, "nb06_normalize_over", "normalization_axes")(kind)
        return {"out": _defined(cells, "nb06_normalize_over", "normalize_over")(x, axes)}

    def steps_to_reach(steps, accuracies, target):
        got = importlib.import_module("cs231n_bn.experiments").steps_to_reach(steps, accuracies, target)
        return {"step": np.nan if got is None else got}

    def torch_running_var(running_var, N, k, momentum):
        return {"value": importlib.import_module("cs231n_bn.torch_stats").torch_running_var(running_var, N, k, momentum)}

    def cell_function(cell_id, name, what):
        return lambda *inputs: {what: _defined(cells, cell_id, name)(*inputs)}

    return {
        "staged_backward": staged_backward,
        "steps_to_reach": steps_to_reach,
        "running_mean_after": cell_function("nb01_running_after_k", "running_mean_after", "value"),
        "dx_from_dxhat": cell_function("nb03_dx_from_dxhat", "dx_from_dxhat", "dx"),
        "two_layer_loss": two_layer_loss,
        "normalize_over": cell_function("nb06_normalize_over", "normalize_over", "out"),
        "normalization_axes": normalization_axes,
        "group_norm": cell_function("nb06_normalize_over", "group_norm", "out"),
        "torch_running_var": torch_running_var,
    }


def notebook_rows():
    """The registry rows whose checks ask for notebook reference values."""
    modules = ("cs231n_bn.checks.notebook_steps", "cs231n_bn.checks.notebook_functions")
    checks = importlib.import_module("cs231n_bn.checks")
    return [row for row in CELLS if getattr(checks, row.check).__module__ in modules]


def run_notebook_checks(source):
    """Run every check of notebook_rows() with the instructor's answers on its public inputs.

    Under a reference.Recorder this records what the shipped data file must hold for them.
    """
    staged = importlib.import_module("cs231n_bn.checks.notebook_steps").staged_batch()
    x, gamma, beta, dout = staged
    values = computations(source)["staged_backward"](x, gamma, beta, dout, 1e-5)
    inputs = {"x": x, "gamma": gamma, "beta": beta, "dout": dout, "eps": 1e-5, **values}
    checks = importlib.import_module("cs231n_bn.checks")
    for row in notebook_rows():
        if row.exercise:  # the instructor's package function itself
            getattr(checks, row.check)(None)
            continue
        if row.check in ("check_undo", "check_load_trained"):
            continue  # judged by the package's forward pass, or the trained module's own numbers
        args = []
        for arg in row.args:
            if arg.startswith('"'):
                args.append(arg.strip('"'))
            elif arg in inputs:
                args.append(inputs[arg])
            else:
                args.append(_defined(_reader(source), row.cells[-1], arg))
        getattr(checks, row.check)(*args)
