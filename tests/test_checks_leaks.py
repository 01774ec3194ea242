"""Leaks by meaning: no shipped check function computes an answer, no text states a formula.

The release's line matching (classroom/edition/leaks.py) finds solution lines copied
verbatim; these tests judge the shipped check modules by what they compute on the
exercises' inputs, and the texts a student reads by what they state
(classroom/edition/meaning_leaks.py).
"""

import contextlib
import io

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
