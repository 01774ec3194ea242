"""Notebook exercises graded by the checks their cells call (classroom/grader/notebook_jobs.py),
beyond notebook 2's step cells (tests/classroom/test_grader_attacks.py covers those).

Each notebook's rows are graded straight through `grade_rows` (no notebook kernel): a solved
edition earns every row, a blank one none, a wrong solution (or a wrong package function,
for the cells that check the package's functions) costs exactly its own cell, and hooks or
helpers planted in the notebook's other cells forge nothing.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from classroom.edition.release import release
from classroom.grader import sandbox
from classroom.grader.grade import Limits, check_cells, run_package_cell
from classroom.grader.notebook_jobs import grade_rows
from classroom.grader.sandbox import bwrap_path
from cs231n_bn.checks import registry

SOURCE = Path(__file__).resolve().parents[2]
BWRAP = bwrap_path()
LIMITS = Limits(timeout=60, memory_mb=1024)
# notebook 8's trained layer is an nn.BatchNorm1d, built in the student's process
NEEDS_TORCH = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
NOTEBOOKS = {1: "01_forward_pass.ipynb", 3: "03_simplified_backward.ipynb", 4: "04_gradient_checks.ipynb",
             6: "06_layer_norm.ipynb", 8: "08_frameworks.ipynb"}


def rows_of(number):
    return [row for row in registry.CELLS if row.notebook == number and row.cells]


# Planted in the notebook's first code cell: the kernel would report every check cell passed.
HOOKS = '''
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"] if any("check" in l for l in lines) else lines)
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
def check_dx_from_dxhat(*args, **kwargs):
    return None
'''

# One wrong solution per solution cell: (solution grade_id, its source)
WRONG = {
    "nb01_undo": "eps = 1e-5\ngamma_undo = np.sqrt(h.var(axis=0))  # eps left out\nbeta_undo = h.mean(axis=0)\n",
    "nb01_running_after_k": "def running_mean_after(k, momentum, batch_mean):\n    return momentum**k * batch_mean\n",
    "nb03_dx_from_dxhat": "def dx_from_dxhat(dxhat, xhat, ivar):\n    return ivar * (dxhat - dxhat.mean(axis=0))\n",
    "nb04_centered_gradient": (
        "def centered_gradient(f, x, h=1e-5):\n"
        "    grad = np.zeros(x.shape)\n"
        "    for i in range(x.size):\n"
        "        saved = x.flat[i]\n"
        "        base = f(x)\n"
        "        x.flat[i] = saved + h\n"
        "        grad.flat[i] = (f(x) - base) / h  # one-sided\n"
        "        x.flat[i] = saved\n"
        "    return grad\n"),
    "nb04_pick_h": "h_float64 = 1e-12\nh_float32 = 1e-2\n",
    "nb04_two_layer_loss": (  # forgets the relu on the way back
        "def two_layer_loss(params, X, y):\n"
        "    a, ca = affine_forward(X, params['W1'], params['b1'])\n"
        "    z, cb = batchnorm_forward(a, params['gamma'], params['beta'], {'mode': 'train'})\n"
        "    r, _ = relu_forward(z)\n"
        "    s, cs = affine_forward(r, params['W2'], params['b2'])\n"
        "    loss, ds = softmax_loss(s, y)\n"
        "    dr, dW2, db2 = affine_backward(ds, cs)\n"
        "    da, dgamma, dbeta = batchnorm_backward_alt(dr, cb)\n"
        "    _, dW1, db1 = affine_backward(da, ca)\n"
        "    return loss, {'W1': dW1, 'b1': db1, 'gamma': dgamma, 'beta': dbeta, 'W2': dW2, 'b2': db2}\n"),
    "nb06_normalize_over": (  # one-pass variance: wrong far from zero
        "def normalize_over(x, axes, eps=1e-5):\n"
        "    mu = x.mean(axis=axes, keepdims=True)\n"
        "    var = (x**2).mean(axis=axes, keepdims=True) - mu**2\n"
        "    return (x - mu) / np.sqrt(var + eps)\n"
        "def normalization_axes(kind):\n"
        "    return {'batch norm': (0, 2, 3), 'layer norm': (1, 2, 3), 'instance norm': (2, 3)}[kind]\n"
        "def group_norm(x, G, eps=1e-5):\n"
        "    N, C, H, W = x.shape\n"
        "    return normalize_over(x.reshape(N, G, C // G, H, W), (2, 3, 4), eps).reshape(N, C, H, W)\n"),
    # converted to our training-history convention, where PyTorch's test mode uses it as stored
    "nb08_load_trained": "gamma_e, beta_e, bn_param_e = torch_compat.bn_param_from_module(trained, batch_size=24)\n",
}

# A wrong package function per further check of the package's functions: (module, code appended, cells it costs)
WRONG_PACKAGE = {
    "nb02_check_backward_matches_steps": ("batchnorm.py", "_right_backward = batchnorm_backward\n"
                                          "def batchnorm_backward(dout, cache):\n"
                                          "    dx, dgamma, dbeta = _right_backward(dout, cache)\n"
                                          "    return dx * (1 + 1e-9), dgamma, dbeta\n"),
    "nb03_check_alt_vs_staged": ("batchnorm.py", "_right_alt = batchnorm_backward_alt\n"
                                 "def batchnorm_backward_alt(dout, cache):\n"
                                 "    dx, dgamma, dbeta = _right_alt(dout, cache)\n"
                                 "    return dx, dgamma, 2 * dbeta\n"),
    "nb05_check_steps_to_reach": ("experiments.py", "_right_steps = steps_to_reach\n"
                                  "def steps_to_reach(eval_steps, accuracies, target):\n"
                                  "    got = _right_steps(eval_steps, accuracies, target)\n"
                                  "    return None if got is None else np.int64(got)  # not a Python int\n"),
    "nb07_check_sbn_stats": ("spatial.py", "_right_sbn = spatial_batchnorm_forward\n"
                             "def spatial_batchnorm_forward(x, gamma, beta, bn_param):\n"
                             "    out, cache = _right_sbn(x, gamma, beta, bn_param)\n"
                             "    return out * 1.01, cache\n"),
    "nb07_check_sbn_numeric": ("spatial.py", "_right_sbn_backward = spatial_batchnorm_backward\n"
                               "def spatial_batchnorm_backward(dout, cache):\n"
                               "    dx, dgamma, dbeta = _right_sbn_backward(dout, cache)\n"
                               "    return dx, dgamma, dbeta * 1.001\n"),
    "nb07_check_gn_special_cases": ("spatial.py", "_right_gn = spatial_groupnorm_forward\n"
                                    "def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):\n"
                                    "    out, cache = _right_gn(x, gamma, beta, G, gn_param)\n"
                                    "    return out + 0.01, cache\n"),
    "nb07_check_gn_numeric": ("spatial.py", "_right_gn_backward = spatial_groupnorm_backward\n"
                              "def spatial_groupnorm_backward(dout, cache):\n"
                              "    dx, dgamma, dbeta = _right_gn_backward(dout, cache)\n"
                              "    return dx, dgamma * 1.001, dbeta\n"),
    "nb08_check_torch_running_var": ("torch_stats.py", "def torch_running_var(running_var, N, k, momentum):\n"
                                     "    return N / (N - 1) * running_var + (1 - momentum) ** k  # PyTorch's m\n"),
}


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook_jobs")
    release(SOURCE, root / "solved", strip=False)
    release(SOURCE, root / "blank")
    return root


def notebook(editions, kind, number):
    return json.loads((editions / kind / "notebooks" / NOTEBOOKS[number]).read_text())


def graded(editions, number, nb, kind="solved"):
    results = grade_rows(editions / kind, SOURCE, number, rows_of(number), nb, LIMITS, BWRAP)
    assert sandbox.STARTED and all(status in ("pass", "fail", "error", "missing", "not implemented")
                                   for status, _ in results.values())
    return results


def set_source(nb, grade_id, source):
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    cell["source"] = source


def test_every_graded_cell_of_the_course_has_one_registry_row_and_calls_its_check():
    found = {}
    for path in sorted((SOURCE / "notebooks").glob("*.ipynb")):
        for gid, cell in check_cells(nbformat.read(path, as_version=4)).items():
            found[gid] = (path, cell)
    assert set(found) == set(registry.BY_GRADE_ID)
    for gid, (path, cell) in found.items():
        row = registry.BY_GRADE_ID[gid]
        assert path.name == registry.notebook_path(SOURCE, row.notebook).name
        shown = cell.source.split("### BEGIN HIDDEN TESTS")[0].strip().splitlines()
        assert shown[-1] == registry.call_source(row) and len(shown) <= 3, (gid, shown)
        assert cell.metadata["nbgrader"]["points"] == row.points, gid
    solutions = {cell for row in registry.CELLS for cell in row.cells}
    assert solutions >= set(WRONG)


@pytest.mark.parametrize("number", [1, 3, 4, 6, pytest.param(8, marks=[NEEDS_TORCH, pytest.mark.slow])])
def test_solved_blank_wrong_and_forged(editions, number):
    """Solved: every row passes; blank: none does; each wrong solution costs its own cell only;
    hooks and a redefined check in another cell change nothing."""
    rows = rows_of(number)
    solved = graded(editions, number, notebook(editions, "solved", number))
    assert {gid: status for gid, (status, _) in solved.items()} == {row.grade_id: "pass" for row in rows}, solved

    blank = graded(editions, number, notebook(editions, "blank", number), kind="blank")
    assert set(blank) == set(solved) and all(status != "pass" for status, _ in blank.values()), blank

    for row in rows:
        nb = notebook(editions, "solved", number)
        set_source(nb, row.cells[-1], WRONG[row.cells[-1]])
        wrong = graded(editions, number, nb)
        assert {gid for gid, (status, _) in wrong.items() if status != "pass"} == {row.grade_id}, wrong

    # The blank solutions, with the kernel told to call every check cell passed.
    forged = notebook(editions, "blank", number)
    first = next(c for c in forged["cells"] if c["cell_type"] == "code")
    first["source"] = "".join(first["source"]) + "\n" + HOOKS
    results = graded(editions, number, forged, kind="blank")
    assert results and all(status != "pass" for status, _ in results.values()), results


@pytest.mark.parametrize("grade_id", sorted(WRONG_PACKAGE))
def test_a_wrong_package_function_costs_the_cell_that_checks_it(editions, tmp_path, grade_id):
    module, code = WRONG_PACKAGE[grade_id]
    shutil.copytree(editions / "solved", tmp_path / "wrong")
    with open(tmp_path / "wrong" / "cs231n_bn" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + code)
    status, message = run_package_cell(tmp_path / "wrong", SOURCE, registry.BY_GRADE_ID[grade_id], LIMITS, BWRAP)
    assert status == "fail", message
    right, message = run_package_cell(editions / "solved", SOURCE, registry.BY_GRADE_ID[grade_id], LIMITS, BWRAP)
    assert right == "pass", message
