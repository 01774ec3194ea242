"""Notebook check cells verified by replay (classroom/grader/replay.py), beyond notebook 1's
and notebook 2's step cells (tests/classroom/test_grader_attacks.py covers those).

Each notebook is replayed straight through `replayed_cells` (no notebook kernel): a solved
edition earns every replayed cell, a blank one none, a wrong solution (or a wrong package
function, for the checks of the package's functions) costs exactly its own cell, and hooks or
helpers planted in the notebook's other cells forge nothing.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from classroom.grader import sandbox
from classroom.grader.grade import Limits, check_cells, covered_exercises
from classroom.edition.release import release
from classroom.grader.replay import SPECS, covers, replayed_cells
from classroom.grader.sandbox import bwrap_path

SOURCE = Path(__file__).resolve().parents[2]
BWRAP = bwrap_path()
LIMITS = Limits(timeout=60, memory_mb=1024)
# notebook 8's trained layer is an nn.BatchNorm1d, built in the student's process
NEEDS_TORCH = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
NOTEBOOKS = {2: "02_staged_backward.ipynb", 3: "03_simplified_backward.ipynb", 4: "04_gradient_checks.ipynb",
             5: "05_training_with_batchnorm.ipynb", 6: "06_layer_norm.ipynb", 7: "07_conv_nets.ipynb",
             8: "08_frameworks.ipynb"}

# Planted in the notebook's first code cell: the kernel would report every check cell passed.
HOOKS = '''
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"] if any("check" in l for l in lines) else lines)
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
def check_dx_from_dxhat(*args, **kwargs):
    return None
'''

# One wrong solution per replayed cell: (solution grade_id, its source)
WRONG = {
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
    "nb08_torch_running_var": (  # the start term with the wrong momentum
        "def torch_running_var(running_var, N, k, momentum=0.9):\n"
        "    return N / (N - 1) * running_var + (1 - momentum) ** k\n"),
    # converted to our training-history convention, where PyTorch's test mode uses it as stored
    "nb08_load_trained": "gamma_e, beta_e, bn_param_e = torch_compat.bn_param_from_module(trained, batch_size=24)\n",
}

# A wrong package function per check of the package's functions: (module, code appended, cells it costs)
WRONG_PACKAGE = {
    2: ("batchnorm.py", "_right_backward = batchnorm_backward\n"
                        "def batchnorm_backward(dout, cache):\n"
                        "    dx, dgamma, dbeta = _right_backward(dout, cache)\n"
                        "    return dx * (1 + 1e-9), dgamma, dbeta\n", {"nb02_check_backward_matches_steps"}),
    3: ("batchnorm.py", "_right_alt = batchnorm_backward_alt\n"
                        "def batchnorm_backward_alt(dout, cache):\n"
                        "    dx, dgamma, dbeta = _right_alt(dout, cache)\n"
                        "    return dx, dgamma, 2 * dbeta\n", {"nb03_check_alt_vs_staged"}),
    5: ("experiments.py", "_right_steps = steps_to_reach\n"
                          "def steps_to_reach(eval_steps, accuracies, target):\n"
                          "    got = _right_steps(eval_steps, accuracies, target)\n"
                          "    return None if got is None else np.int64(got)  # not a Python int\n",
        {"nb05_check_steps_to_reach"}),
    7: ("spatial.py", "_right_gn_backward = spatial_groupnorm_backward\n"
                      "def spatial_groupnorm_backward(dout, cache):\n"
                      "    dx, dgamma, dbeta = _right_gn_backward(dout, cache)\n"
                      "    return dx, dgamma * 1.001, dbeta\n", {"nb07_check_gn_numeric"}),
}


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    release(SOURCE, root / "solved", strip=False)
    release(SOURCE, root / "blank")
    return root


def notebook(editions, kind, number):
    return json.loads((editions / kind / "notebooks" / NOTEBOOKS[number]).read_text())


def replay(editions, number, nb, kind="solved"):
    results = replayed_cells(editions / kind, NOTEBOOKS[number], nb, LIMITS, BWRAP)
    assert sandbox.STARTED and all(status in ("pass", "fail", "error", "missing") for status, _ in results.values())
    return results


def set_source(nb, grade_id, source):
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    cell["source"] = source


def test_every_notebook_named_here_is_replayed_and_only_these_new_cells():
    checks = {n: {spec.check_id for spec in SPECS[n][1]} for n in NOTEBOOKS if n != 2}
    assert checks == {3: {"nb03_check_alt_vs_staged", "nb03_check_dx_from_dxhat"},
                      4: {"nb04_check_centered_gradient", "nb04_check_pick_h", "nb04_check_two_layer"},
                      5: {"nb05_check_steps_to_reach"}, 6: {"nb06_check_normalize_over"},
                      7: {"nb07_check_sbn_stats", "nb07_check_sbn_numeric", "nb07_check_gn_special_cases",
                          "nb07_check_gn_numeric"},
                      8: {"nb08_check_torch_running_var", "nb08_check_load_trained"}}
    assert covers(NOTEBOOKS[2], "nb02_check_backward_matches_steps")
    assert all(covers(NOTEBOOKS[n], gid) for n in checks for gid in checks[n])  # grade.py: verified
    solutions = {spec.solve_id for n in NOTEBOOKS if n != 2 for spec in SPECS[n][1]} - {""}
    assert solutions == set(WRONG)


def test_no_check_cell_of_the_course_is_left_to_the_kernel():
    """Every check cell either calls a package check (graded as that exercise) or is replayed."""
    left = [(path.name, gid) for path in sorted((SOURCE / "notebooks").glob("*.ipynb"))
            for gid, cell in check_cells(nbformat.read(path, as_version=4)).items()
            if not covered_exercises(cell.source) and not covers(path.name, gid)]
    assert left == []


@pytest.mark.parametrize("number", [3, 4, 5, 6, 7, pytest.param(8, marks=[NEEDS_TORCH, pytest.mark.slow])])
def test_solved_blank_wrong_and_forged(editions, number):
    """Solved: every replayed cell passes; blank: none does; each wrong solution costs its
    own cell only; hooks and a redefined helper in another cell change nothing."""
    specs = SPECS[number][1]
    solved = replay(editions, number, notebook(editions, "solved", number))
    assert solved == {spec.check_id: ("pass", "") for spec in specs}, solved

    blank = replay(editions, number, notebook(editions, "blank", number), kind="blank")
    assert set(blank) == set(solved) and all(status != "pass" for status, _ in blank.values()), blank

    for spec in specs:
        if spec.solve_id:
            nb = notebook(editions, "solved", number)
            set_source(nb, spec.solve_id, WRONG[spec.solve_id])
            wrong = replay(editions, number, nb)
            assert {gid for gid, (status, _) in wrong.items() if status != "pass"} == {spec.check_id}, wrong

    # The blank solutions, with the kernel told to call every check cell passed.
    forged = notebook(editions, "blank", number)
    first = next(c for c in forged["cells"] if c["cell_type"] == "code")
    first["source"] = "".join(first["source"]) + "\n" + HOOKS
    results = replay(editions, number, forged, kind="blank")
    assert results and all(status != "pass" for status, _ in results.values()), results


@pytest.mark.parametrize("number", sorted(WRONG_PACKAGE))
def test_a_wrong_package_function_costs_exactly_the_cell_that_checks_it(editions, tmp_path, number):
    module, code, costs = WRONG_PACKAGE[number]
    shutil.copytree(editions / "solved" / "cs231n_bn", tmp_path / "wrong" / "cs231n_bn")
    with open(tmp_path / "wrong" / "cs231n_bn" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + code)
    results = replayed_cells(tmp_path / "wrong", NOTEBOOKS[number], notebook(editions, "solved", number), LIMITS, BWRAP)
    assert {gid for gid, (status, _) in results.items() if status != "pass"} == costs, results
