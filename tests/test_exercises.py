"""One test per package exercise: the check its notebook's check cell runs, on the package as
it is on disk (the student edition ships these tests, and only these).

An exercise not started is skipped, in one line naming it; a mistake is one short failure
that carries the check's diagnosis, the same words the check cell shows. Exercises written
in a notebook's own cells are judged by `python -m cs231n_bn.progress`, from the saved
notebook.
"""

import re
from pathlib import Path

import pytest

from cs231n_bn import checks
from cs231n_bn.checks.display import CheckFailed
from cs231n_bn.checks.registry import CELLS, notebook_path
from cs231n_bn.exercise import NotImplementedYet, not_started

ROOT = Path(__file__).resolve().parents[1]
# A stub of the student edition, as the release writes it.
STUB = re.compile(r"raise NotImplementedYet\((['\"])(.*?)\1\)")
# The failure shows at most this many lines of the diagnosis (the check cell shows it all).
SHOWN_LINES = 12


def package_checks():
    """(notebook file name, check name) of each package exercise's first graded check cell
    (the registry's rows with an exercise), in the course's order."""
    found = {}  # one test per exercise (its first check), so one mistake is one failure
    for row in CELLS:
        path = notebook_path(ROOT, row.notebook)
        if row.exercise and path is not None and row.exercise not in found:
            found[row.exercise] = (path.name, row.check)
    return list(found.values())


PACKAGE_CHECKS = package_checks()


def test_every_notebook_exercise_of_the_package_has_a_test():
    assert len(PACKAGE_CHECKS) >= 10, PACKAGE_CHECKS


def own_stub(notebook, function):
    """The message of `function`'s stub if the package still holds it (not started), else None."""
    for path in sorted((ROOT / "cs231n_bn").glob("*.py")):
        for _, message in STUB.findall(path.read_text(encoding="utf-8")):
            if f"notebooks/{notebook}: {function} is not implemented yet" in message:
                return message
    return None


def stub_message(err):
    """The message of the NotImplementedYet behind `err` (the stub the check reached)."""
    while err is not None and not isinstance(err, NotImplementedYet):
        err = err.__cause__ or err.__context__
    return str(err)


@pytest.mark.parametrize(
    "notebook, check_name", PACKAGE_CHECKS, ids=[name[len("check_"):] for _, name in PACKAGE_CHECKS]
)
def test_exercise(notebook, check_name):
    function = check_name[len("check_"):]
    try:
        getattr(checks, check_name)()
    except Exception as err:  # the student's code may raise anything: report it in a few lines
        if not_started(err):
            stub = stub_message(err)
            if f"{function} is not implemented yet" in stub:
                pytest.skip(f"not implemented yet: {stub}")
            own = own_stub(notebook, function)
            if own is not None:
                pytest.skip(f"not implemented yet: {own}")
            # The check needs another exercise first (a backward check runs its forward pass).
            pytest.skip(f"{function} (notebooks/{notebook}) cannot be checked before an earlier exercise: {stub}")
        if isinstance(err, CheckFailed) and isinstance(err.__cause__, CheckFailed):
            own = own_stub(notebook, function)
            if own is not None:
                pytest.skip(f"not implemented yet: {own}")
            # The check stopped at another exercise's failure, which that exercise's own test reports.
            pytest.skip(f"{function} (notebooks/{notebook}) cannot be checked before {err.exercise} passes its test")
        diagnosis = str(err) if isinstance(err, AssertionError) else f"{type(err).__name__}: {err}"
    else:
        return
    # Outside the except block, so that the report is the diagnosis alone, without the chain.
    lines = diagnosis.strip().split("\n")
    if len(lines) > SHOWN_LINES:
        lines = lines[: SHOWN_LINES - 1] + [f"... (the rest: run the check cell of notebooks/{notebook})"]
    pytest.fail(f"{check_name} (notebooks/{notebook}) fails:\n" + "\n".join(lines), pytrace=False)
