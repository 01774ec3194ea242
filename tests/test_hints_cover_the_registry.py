"""Every graded exercise has hints, and no level below the last holds a line of its solution.

The exercises are the registry's rows (cs231n_bn/checks/registry.py), package and notebook
exercises alike. A hint level below the last may move the student one step; it may not
state a line of the answer, in code or in words ("momentum times v minus ..."): the test
reads every solution line of the exercise as a sequence of names and operators, reads the
hint the same way with the words of arithmetic turned into operators, and looks for the
line's right-hand side, or one of its terms, in the hint.
"""

import ast
import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

from classroom.edition.regions import SOLUTION, find_regions, is_trivial
from classroom.grader.notebook_reference import solution_sources
from cs231n_bn import checks
from cs231n_bn.checks.hints import DERIVED_IN, HINTS
from cs231n_bn.checks.registry import BY_FUNCTION, CELLS
from cs231n_bn.checks.solution_hints import SOLUTIONS

ROOT = Path(__file__).resolve().parents[1]
# Package exercises whose hints go by the name the notebook gives them.
HINT_NAMES = {"FullyConnectedNet._hidden_forward": "fc_net_forward",
              "FullyConnectedNet._hidden_backward": "fc_net_backward"}


def hint_name(row):
    """The key of HINTS that the row's check offers in its failures."""
    if row.exercise:
        return HINT_NAMES.get(row.exercise, row.exercise)
    return "staged_step" if row.check == "check_step" else row.check.removeprefix("check_")


def _region_lines(text, where, strict, within=None):
    """The non-trivial lines of the solution regions of text that begin within (first, last) lines."""
    lines = text.split("\n")
    first, last = within or (0, len(lines))
    return [line.strip() for region in find_regions(lines, SOLUTION, where, strict=strict, warnings=[])
            if first <= region.begin < last for line in lines[region.begin + 1:region.end] if not is_trivial(line)]


def _function_lines(path, qualified):
    """(first, last) 0-based line numbers of function `name` or `Class.method` in a module file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    *owner, name = qualified.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and owner and node.name == owner[0]:
            tree = node
    found = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    return found.lineno - 1, found.end_lineno


def solution_lines(name):
    """The non-trivial lines of every solution region of the exercise `name`."""
    lines = []
    for row in CELLS:
        if hint_name(row) != name:
            continue
        if row.exercise:
            module = ROOT / "cs231n_bn" / BY_FUNCTION[row.exercise].module
            lines += _region_lines(module.read_text(encoding="utf-8"), row.exercise, strict=False,
                                   within=_function_lines(module, row.exercise))
        else:
            sources = solution_sources(ROOT, row.notebook)
            lines += [line for cell in row.cells for line in _region_lines(sources[cell], cell, strict=True)]
    return list(dict.fromkeys(lines))


# Arithmetic in words, as a hint might state it.
WORDS = ((r"\bdivided by\b", " / "), (r"\btimes\b", " * "), (r"\bminus\b", " - "), (r"\bplus\b", " + "),
         (r"\bsquared\b", " ** 2 "), (r"\bto the power( of)?\b", " ** "), (r"\bsquare root of\b", " sqrt "))
TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e-?\d+)?|\*\*|//|[-+*/@]")
OPERATORS = {"*", "/", "//", "**", "@"}


def tokens(text):
    text = re.sub(r"\b(np|self|math)\.", "", text)
    for pattern, symbol in WORDS:
        text = re.sub(pattern, symbol, text)
    return TOKEN.findall(text)


def fingerprints(line):
    """What states this line: its right-hand side, and each of its products or quotients with its sign."""
    try:
        statement = next(iter(ast.parse(line.strip()).body), None)  # None for a comment
    except SyntaxError:  # a line of a compound statement ("if ...:"), read as it stands
        statement = None
    value = getattr(statement, "value", None)
    rhs = tokens(ast.unparse(value) if value is not None else line.split("#", 1)[0])
    found = [rhs] if len(rhs) >= 3 else []
    term = []
    for token in rhs + ["+"]:
        if token in "+-" and term:
            if len(term) >= 3 and OPERATORS & set(term):
                found.append(term)
            term = []
        term.append(token)
    return [" ".join(f) for f in found]


def states_a_line(text, lines):
    """The solution lines that `text` states, in code or in words."""
    said = f" {' '.join(tokens(text))} "
    return [line for line in lines if any(f" {f} " in said for f in fingerprints(line))]


def test_every_graded_exercise_has_hints_a_last_level_and_a_place_that_derives_it():
    names = {hint_name(row) for row in CELLS}
    assert names - set(HINTS) == set()
    assert set(HINTS) == set(DERIVED_IN) == set(SOLUTIONS)
    assert all(len(HINTS[name]) == 2 and all(len(level) > 80 for level in HINTS[name]) for name in names)


@pytest.mark.parametrize("name", sorted({hint_name(row) for row in CELLS}))
def test_no_level_below_the_last_states_a_line_of_the_solution(name):
    lines = solution_lines(name)
    assert lines, f"no solution region found for {name}"
    leaks = {level + 1: states_a_line(text, lines) for level, text in enumerate(HINTS[name])}
    assert not any(leaks.values()), leaks


@pytest.mark.parametrize("text, name", [
    ("The velocity decays by momentum and gains minus learning_rate times dw.", "sgd_momentum"),
    ("Return (1 - momentum**k) * batch_mean.", "running_mean_after"),
    ("then reached = np.flatnonzero(accuracies >= target)", "steps_to_reach"),
    ("dx is ivar divided by N times (N times dxhat minus its column sums ...)", "dx_from_dxhat"),
])
def test_the_scan_finds_a_line_stated_in_code_or_in_words(text, name):
    assert states_a_line(text, solution_lines(name))


def test_the_scan_leaves_a_hint_that_only_names_the_quantities():
    assert not states_a_line("Write the velocity update first; which way must it point relative to dw?",
                             solution_lines("sgd_momentum"))


def _broken(*args, **kwargs):
    raise ValueError("a planted mistake")


def _wrong_arguments(row):
    """Arguments on which the row's check must fail: functions that raise, or wrong values."""
    if row.check == "check_step":
        x, gamma, beta, dout = checks.staged_batch()
        return [row.args[0].strip('"'), np.zeros_like(x), x, gamma, beta, dout, 1e-5]
    if row.check == "check_undo":
        x, _, _, _ = checks.staged_batch()
        return [np.ones(3), np.zeros(3), x, 1e-5]
    if row.check == "check_pick_h":
        return [1.0, 1.0]
    if row.check == "check_load_trained":
        return [np.ones(3), np.zeros(3), {"mode": "train"}, _broken, np.zeros((2, 3))]
    return [_broken] * len(row.args)


@pytest.mark.parametrize("row", [row for row in CELLS if not row.exercise], ids=lambda row: row.grade_id)
def test_a_notebook_exercise_s_failure_offers_its_hints(row):
    with pytest.raises(checks.CheckFailed) as failure, contextlib.redirect_stdout(io.StringIO()):
        getattr(checks, row.check)(*_wrong_arguments(row))
    assert failure.value.exercise == hint_name(row)
    assert f"checks.hint({hint_name(row)!r})" in str(failure.value)
