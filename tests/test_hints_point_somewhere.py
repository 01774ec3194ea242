"""Without the formula level (the student edition's default), hint 3 points to the notebook
where the exercise's derivation is worked out, a notebook that exists."""

import re
import sys
from pathlib import Path

import pytest

from cs231n_bn import checks
from cs231n_bn.checks import hints
from cs231n_bn.checks.registry import notebook_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("exercise", sorted(hints.HINTS))
def test_the_last_level_without_the_formula_names_an_existing_notebook(exercise, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cs231n_bn.checks.solution_hints", None)  # as in the student edition
    checks.hint(exercise, 3)
    shown = capsys.readouterr().out
    where = hints.DERIVED_IN[exercise]
    assert where in shown
    numbers = [int(n) for n in re.findall(r"notebook (\d+)", where)]
    assert numbers and all(notebook_path(ROOT, n) is not None for n in numbers), where
    assert "python -m cs231n_bn.progress" in shown
