"""One test per package exercise: the check its notebook's check cell runs, on the package as
it is on disk (the student edition ships these tests, and only these).

An exercise not started is skipped, in one line naming it; a mistake is one short failure
that carries the check's diagnosis, the same words the check cell shows. Exercises written
in a notebook's own cells are judged by `python -m cs231n_bn.progress`, from the saved
notebook.
"""

import re
from pathlib import Path

import nbformat
import pytest

from cs231n_bn import checks, progress

ROOT = Path(__file__).resolve().parents[1]
# The call a package exercise's check cell makes: checks.check_<name>() or checks.check_<name>(<function>)
CHECK_CALL = re.compile(r"\bchecks\.(check_\w+)\(\s*\w*\s*\)")
# The failure shows at most this many lines of the diagnosis (the check cell shows it all).
SHOWN_LINES = 12


def package_checks():
    """(notebook file name, check name) of every graded check cell calling a package check,
    in the course's order."""
    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            graded = cell.metadata.get("nbgrader", {}).get("grade")
            call = CHECK_CALL.search(cell.source) if cell.cell_type == "code" and graded else None
            if call and (path.name, call[1]) not in found:
                found.append((path.name, call[1]))
    return found


PACKAGE_CHECKS = package_checks()


def test_every_notebook_exercise_of_the_package_has_a_test():
    assert len(PACKAGE_CHECKS) >= 10, PACKAGE_CHECKS


@pytest.mark.parametrize(
    "notebook, check_name", PACKAGE_CHECKS, ids=[name[len("check_"):] for _, name in PACKAGE_CHECKS]
)
def test_exercise(notebook, check_name):
    status, detail = progress.run_check(checks, check_name)
    if status == "not started":
        pytest.skip(f"not implemented yet: {detail}")
    if status != "done":
        lines = detail.strip().split("\n")
        if len(lines) > SHOWN_LINES:
            lines = lines[: SHOWN_LINES - 1] + [f"... (the rest: run the check cell of notebooks/{notebook})"]
        pytest.fail(f"{check_name} (notebooks/{notebook}) fails:\n" + "\n".join(lines), pytrace=False)
