"""No false verdicts: every check of a notebook-side row passes the instructor's own answers on
many secrets, the way the grader draws them (in this process: no sandbox needed to judge the checks).

A few hundred secrets per row run by default; `-m exhaustive` runs 10,000 per row. The rows are the
registry's whose checks live in cs231n_bn/checks/notebook_steps.py and notebook_functions.py.
"""

import contextlib
import importlib
import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest

from classroom.grader import notebook_jobs, notebook_reference, references
from classroom.grader.student_process import secret_seeds
from cs231n_bn.checks import reference

SOURCE = Path(__file__).resolve().parents[2]
CHECKS = importlib.import_module("cs231n_bn.checks")
ROWS = [row for row in notebook_reference.notebook_rows()
        if row.notebook != 8 or importlib.util.find_spec("torch") is not None]
SOLUTIONS = notebook_reference._reader(SOURCE)  # the instructor's solution cells, each notebook read once


def instructor_arguments(row, data):
    """The row's arguments as the instructor's solution cells make them from `data`."""
    if row.exercise:
        return []  # the check's default: the instructor's package
    setup = notebook_jobs.SETUPS.get(row.notebook, notebook_jobs.NotebookSetup())
    namespace = notebook_reference._namespace(**data)
    if setup.prelude:
        exec(compile(setup.prelude, "<prelude>", "exec"), namespace)
    cells = SOLUTIONS(row.notebook)
    for cell in dict.fromkeys(c for other in ROWS if other.notebook == row.notebook for c in other.cells):
        exec(compile(cells[cell], f"<{cell}>", "exec"), namespace)
    stand_ins = setup.stand_ins(data)
    return [arg.strip('"') if arg.startswith('"') else stand_ins.get(arg, namespace.get(arg, data.get(arg)))
            for arg in row.args]


def rejections(row, secrets):
    """The secrets on which the row's check rejects the instructor's answers, with the messages."""
    provider = references.instructor_provider(SOURCE)
    setup = notebook_jobs.SETUPS.get(row.notebook, notebook_jobs.NotebookSetup())
    rejected = []
    for secret in secrets:
        args = instructor_arguments(row, setup.data(np.random.default_rng([secret, row.notebook])))
        try:
            with secret_seeds(secret), reference.provider(provider), contextlib.redirect_stdout(io.StringIO()):
                getattr(CHECKS, row.check)(*args)
        except AssertionError as err:
            rejected.append((secret, str(err).splitlines()[0]))
    return rejected


@pytest.mark.parametrize("row", ROWS, ids=[row.grade_id for row in ROWS])
def test_the_instructors_answers_pass_a_few_hundred_secrets(row):
    count = 20 if row.check in ("check_group_numeric", "check_spatial_numeric", "check_pick_h") else 200
    assert rejections(row, range(1, count + 1)) == []


@pytest.mark.exhaustive
@pytest.mark.parametrize("row", ROWS, ids=[row.grade_id for row in ROWS])
def test_the_instructors_answers_pass_ten_thousand_secrets(row):
    assert rejections(row, range(10_000, 20_000)) == []
