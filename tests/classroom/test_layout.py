"""The trust boundary, read from the imports: what each side of the classroom tools may load.

- classroom/jail/ (the only code entering the sandbox) and classroom/wire.py (loaded there
  too) import the standard library, numpy and each other only: no course code, nothing of
  the grader;
- the course (cs231n_bn/, checks included) never imports the classroom tools;
- the student edition leaves the whole classroom/ out.
"""

import ast
import sys
from pathlib import Path

from classroom.edition.release import shipped_files

ROOT = Path(__file__).resolve().parents[2]


def imported(path):
    """The top-level names of every module a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_jail_and_the_wire_import_no_course_and_no_grader_code():
    allowed = set(sys.stdlib_module_names) | {"numpy", "wire"}
    for path in [*sorted((ROOT / "classroom" / "jail").glob("*.py")), ROOT / "classroom" / "wire.py"]:
        assert imported(path) <= allowed, (path.name, imported(path) - allowed)


def test_the_course_never_imports_the_classroom_tools():
    for path in sorted((ROOT / "cs231n_bn").rglob("*.py")):
        assert "classroom" not in imported(path), path


def test_the_student_edition_leaves_the_classroom_tools_out():
    shipped = shipped_files(ROOT)
    assert any(rel.startswith("cs231n_bn/") for rel in shipped)
    assert not [rel for rel in shipped if rel.startswith(("classroom/", "tests/classroom/"))]
