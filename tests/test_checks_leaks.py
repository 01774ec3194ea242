"""Leaks by meaning: no shipped check function computes an answer, no text states a formula.

The release's line matching (classroom/edition/leaks.py) finds solution lines copied
verbatim; these tests judge the shipped check modules by what they compute on the
exercises' inputs, and the texts a student reads by what they state
(classroom/edition/meaning_leaks.py).
"""

import contextlib
import io
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from classroom.edition.meaning_leaks import (COMPUTED_ON_PURPOSE, ON_PURPOSE_ANSWERS, callable_leaks, capture_cases,
                                             edition_leaks, formula_texts)
from classroom.edition.release import release
from classroom.grader.references import SOURCE
from cs231n_bn.batchnorm import batchnorm_forward
from cs231n_bn.checks.hints import HINTS
from test_checks_catalogue import run_catalogue

@pytest.fixture(scope="module")
def cases():
    return capture_cases()


def test_the_cases_cover_every_exercise_with_reference_values_and_its_modes(cases):
    names = {case.function_name for case in cases}
    assert {"batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
            "layernorm_backward", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
            "spatial_groupnorm_forward", "spatial_groupnorm_backward", "sgd_momentum", "adam",
            "staged_backward", "running_mean_after", "dx_from_dxhat", "normalize_over", "torch_running_var"} <= names
    assert any(case.function_name == "batchnorm_forward" and "out" in case.answers
               and any(isinstance(a, dict) and a.get("mode") == "test" for a in case.inputs) for case in cases)


def test_no_shipped_check_function_computes_an_answer_on_the_exercises_inputs(cases):
    leaks = callable_leaks(cases)
    assert leaks == [], leaks


def test_the_finder_finds_a_function_that_computes_an_answer(cases):
    def planted(x, gamma, beta, bn_param):
        return batchnorm_forward(x, gamma, beta, dict(bn_param))[0] * 1.0

    def harmless(x, gamma, beta, bn_param):
        return np.sort(x, axis=0)

    def velocity_step(w, dw, config):
        return w + config["momentum"] * config["velocity"] - config["learning_rate"] * dw

    def second_moment(w, dw, config):
        return config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2

    found = callable_leaks(cases, [("planted", planted), ("harmless", harmless), ("velocity_step", velocity_step),
                                   ("second_moment", second_moment)])
    assert ("planted", "batchnorm_forward/out") in found
    assert ("velocity_step", "sgd_momentum/next_w") in found
    assert ("second_moment", "adam/v") in found
    assert not [f for f in found if f[0] == "harmless"]


def test_no_hint_below_the_last_level_and_no_failure_message_states_a_formula():
    with contextlib.redirect_stdout(io.StringIO()):
        _, _, messages = run_catalogue()
    # a message quotes the student's own line ("at <file>, line n: <their code>"): not ours
    ours = ["\n".join(line for line in m.splitlines() if not line.startswith("at ")) for m in messages if m]
    texts = ours + [text for levels in HINTS.values() for text in levels]
    assert len(texts) > 200
    assert formula_texts(texts) == []


@pytest.mark.parametrize("text", [
    "dxhat = gamma * dout, then ...",
    "rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
    "xg = x.reshape(N, G, -1)",
    "out = gamma * (x - mu) / np.sqrt(var + eps) + beta",
    "take the mean over axis=1, keepdims=True",
])
def test_the_text_scan_finds_formulas(text):
    assert formula_texts([text])


def test_no_function_of_the_student_edition_computes_an_answer_but_the_graph_on_purpose(cases, tmp_path):
    # Every module the student receives, imported from a built edition (where the exercises
    # are stubs), each function called on the exercises' inputs in a process of its own;
    # one module planted in it shows that the scan finds an answer where one is computed.
    edition = tmp_path / "student"
    release(SOURCE, edition)
    (edition / "cs231n_bn" / "planted.py").write_text(
        "def normalized(x, bn_param):\n"
        "    mu = x.mean(axis=0)\n"
        "    return (x - mu) / (((x - mu) ** 2).mean(axis=0) + bn_param['eps']) ** 0.5\n")
    scan = edition_leaks(cases, edition)
    assert scan["functions"] > 300  # the whole package, not a module that failed to import
    assert ["cs231n_bn.planted.normalized", "batchnorm_forward/xhat"] in scan["leaks"]
    unexpected = [(fn, answer) for fn, answer in scan["leaks"] if fn != "cs231n_bn.planted.normalized"
                  and (fn not in COMPUTED_ON_PURPOSE or answer not in ON_PURPOSE_ANSWERS)]
    assert unexpected == [], unexpected


# A gradient's name on the left of an equals sign, in code or in LaTeX: `dmu = ...`,
# $\text{dxhat} = ...$, $d\hat x_i = ...$, $d\sigma^2 &= ...$ (dout is an input, dtype not a gradient;
# "= 0" states a property, as in $\sum_i dx_i = 0$, which notebook 3's first question asks to show).
GRADIENT_EQUATION = re.compile(
    r"(?:\\text\{d[a-z0-9]+\}|\bd(?!out\b|type\b)[a-z][a-z0-9]*(?![a-z0-9])|d\\(?:sigma|mu|beta|gamma|hat\s*\{?x\}?)(?:\^2)?)"
    r"(?:_(?:\{[a-z0-9]+\}|[a-z0-9])(?![a-z0-9_]))?\s*&?=(?!=)(?!\s*\.\.\.)(?!\s*0(?![.\d]))")


def gradient_equations(texts):
    """[(equation, text)] of the texts that write a gradient as an equation."""
    return [(m.group(0), text) for text in texts for m in GRADIENT_EQUATION.finditer(text)]


@pytest.mark.parametrize("text", [
    r"$$ \text{dxhat} = \gamma \cdot \text{dgammax} . $$",  # notebook 2's step 4, as it was
    r"$$ \text{dsq}_{ij} = \frac{1}{N} \cdot \text{dvar}_j . $$",
    r"d\beta = \sum_{i=1}^N dout_i, \qquad d\hat x_i = \gamma\, dout_i",  # notebook 3's parameters
    r"d\sigma^2 &= \sum_{k} d\hat x_k\,(x_k-\mu)",
    "What remains is $d\\mu = -\\,\\text{ivar}\\sum_k d\\hat x_k$.",
    "write `dx1 = dxmu1` and `dmu = -np.sum(dxmu1, axis=0)`",  # notebook 2's question 2, as it was
    "dx = dx1 + dx2",  # the graph figure's label where x's branches meet, as it was
    r"dx_{ij} = \frac{1}{\sqrt{\sigma_i^2+\epsilon}}\left(d\hat x_{ij}",  # notebook 6's layer norm, as it was
])
def test_the_equation_scan_finds_a_gradient_written_out(text):
    assert gradient_equations([text])


def test_no_notebook_text_nor_the_graph_writes_a_gradient_out(tmp_path):
    # The student reads the notebooks' markdown and what the graph module prints (its table
    # of steps, its descriptions of the checks): none of it may state a step or a closed form
    # (notebooks 6 and 7's layer norm and group norm are notebook 3's with other axes). The
    # function scan above cannot see texts; this one reads them in a built edition.
    # "e.g. `dxhat = ...`" names an exercise's variable without its value and passes.
    edition = tmp_path / "student"
    release(SOURCE, edition)
    notebooks = sorted((edition / "notebooks").glob("*.ipynb"))
    texts = [cell.source for path in notebooks for cell in nbformat.read(path, as_version=4).cells
             if cell.cell_type == "markdown"]
    assert len(notebooks) == 9 and len(texts) > 200
    scan = ("from cs231n_bn import graph\n"
            "print(graph.__file__)\n"
            "print(graph.backward_table())\n"
            "for grad in graph.BACKWARD_ORDER + ('dxmu',):\n"
            "    print(graph.describe_check(grad))\n")
    printed = subprocess.run([sys.executable, "-c", scan], cwd=edition, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(edition)}).stdout
    assert printed.startswith(str(edition / "cs231n_bn" / "graph.py")) and "| 14 | `dx` |" in printed
    assert gradient_equations(texts + [printed]) == []
