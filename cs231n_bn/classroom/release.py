"""Write the student edition: the course with every solution region turned into a task.

    python -m cs231n_bn.classroom release DEST

copies the files git tracks in this checkout (never .git, .venv or untracked work) into
DEST, except the instructor-only ones, and on the way:

- in Python files, each solution region becomes a stub that raises NotImplementedError
  naming its function and the notebook that explains it (the registry in exercises.py);
- in notebooks (through nbformat), solution regions become `# YOUR CODE HERE` plus a
  raise in code cells and "YOUR ANSWER HERE" in markdown cells, hidden-test regions are
  removed, and outputs, execution counts and run-time metadata are cleared.
"""

import ast
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cs231n_bn.classroom.exercises import BY_FUNCTION, notebook_label
from cs231n_bn.classroom.leaks import visible_elsewhere
from cs231n_bn.classroom.regions import HIDDEN_TESTS, SOLUTION, find_regions, replace_regions

# Files that hold near-solutions or the grader's own tests: instructors only.
INSTRUCTOR_ONLY = ("tests/test_checks.py", "tests/test_classroom.py")
# Cell metadata a student edition keeps; the rest (timings, widget state, ...) is dropped.
KEPT_CELL_METADATA = ("nbgrader", "tags", "editable", "deletable", "jupyter", "slideshow")
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"


class ReleaseError(ValueError):
    """The source cannot be turned into a student edition; the message says where."""


@dataclass
class ReleaseReport:
    """What a release did, for the command's summary and for tests."""

    files: int = 0
    stubbed_functions: list = field(default_factory=list)  # "cs231n_bn/batchnorm.py:batchnorm_forward"
    notebook_regions: int = 0
    hidden_regions: int = 0
    warnings: list = field(default_factory=list)


def shipped_files(source):
    """Relative paths of the files git tracks under `source`, less the instructor-only ones."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=source, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as err:
        raise ReleaseError(
            f"release: the source {source} must be a git checkout (the files git tracks are "
            f"what gets released); `git ls-files` failed: {err}"
        ) from err
    paths = []
    for rel in sorted(p for p in listing.split("\0") if p):
        if rel.startswith(INSTRUCTOR_ONLY) or not (Path(source) / rel).is_file():
            continue
        paths.append(rel)
    return paths


# ---------------------------------------------------------------------------------------
# Python files
# ---------------------------------------------------------------------------------------


def _enclosing_function(tree, lineno):
    """Qualified name ("Class.method" or "function") of the innermost function around a line."""
    best, best_line = None, 0
    stack = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if not child.lineno <= lineno <= child.end_lineno:
                continue
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef) and child.lineno > best_line:
                best, best_line = name, child.lineno
            stack.append((child, f"{name}."))
    return best


def _stub(root, rel, function, indent):
    exercise = BY_FUNCTION.get(function)
    if exercise is None:
        raise ReleaseError(
            f"{rel}: the solution region in {function} has no entry in "
            f"cs231n_bn/classroom/exercises.py (EXERCISES); add one naming its notebook and check"
        )
    if Path(rel).name != exercise.module:
        raise ReleaseError(
            f"{rel}: {function} is registered in cs231n_bn/{exercise.module}, not in {rel}"
        )
    label = notebook_label(root, exercise.notebook, exercise.topic)
    message = f"{function} is not implemented yet: write it in {rel}, as {label} explains"
    return [
        f"{indent}# YOUR CODE HERE: implement {function}; {label} explains it.",
        f"{indent}raise NotImplementedError({message!r})",
    ]


def strip_python(text, rel, root, report):
    """The student version of one Python file's text."""
    lines = text.split("\n")
    hidden = find_regions(lines, HIDDEN_TESTS, rel, strict=False, warnings=report.warnings)
    lines = replace_regions(lines, hidden, lambda region: [])
    report.hidden_regions += len(hidden)
    solutions = find_regions(lines, SOLUTION, rel, strict=False, warnings=report.warnings)
    if not solutions:
        return "\n".join(lines)
    tree = ast.parse(text if not hidden else "\n".join(lines), filename=rel)

    def stub(region):
        function = _enclosing_function(tree, region.begin + 1)
        if function is None:
            raise ReleaseError(f"{rel}:{region.begin + 1}: a solution region must lie inside a function")
        report.stubbed_functions.append(f"{rel}:{function}")
        return _stub(root, rel, function, region.indent)

    stripped = "\n".join(replace_regions(lines, solutions, stub))
    try:
        ast.parse(stripped, filename=rel)
    except SyntaxError as err:
        raise ReleaseError(f"{rel}: the stubbed file does not parse ({err}); check the region's indentation") from err
    return stripped


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------


def _code_stub(cell, where):
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", where)
    message = f"{grade_id}: write your code here, in place of these two lines"

    def stub(region):
        return [f"{region.indent}# YOUR CODE HERE", f"{region.indent}raise NotImplementedError({message!r})"]

    return stub


def _parses(source):
    """Does a code cell parse as Python, its IPython magics and shell lines aside?"""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return True


def strip_notebook(nb, rel, report):
    """Student version of a notebook (a new NotebookNode; `nb` is left as it was)."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    grade_ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    for grade_id in sorted({g for g in grade_ids if g and grade_ids.count(g) > 1}):
        report.warnings.append(f"{rel}: grade_id {grade_id!r} is used by more than one cell; nbgrader needs unique ids")
    for index, cell in enumerate(nb.cells):
        where = f"{rel} cell {index}"
        lines = cell.source.split("\n")
        hidden = find_regions(lines, HIDDEN_TESTS, where, warnings=report.warnings)
        lines = replace_regions(lines, hidden, lambda region: [])
        report.hidden_regions += len(hidden)
        solutions = find_regions(lines, SOLUTION, where, warnings=report.warnings)
        if cell.cell_type == "code":
            lines = replace_regions(lines, solutions, _code_stub(cell, where))
        else:
            lines = replace_regions(lines, solutions, lambda region: [ANSWER_PLACEHOLDER])
        report.notebook_regions += len(solutions)
        nbgrader = cell.metadata.get("nbgrader", {})
        if solutions and not nbgrader.get("solution"):
            report.warnings.append(f"{where}: has a solution region but no nbgrader metadata with solution: true")
        if hidden and not nbgrader.get("grade"):
            report.warnings.append(f"{where}: has hidden tests but no nbgrader metadata with grade: true")
        if nbgrader.get("solution") and not solutions:
            report.warnings.append(f"{where}: nbgrader marks it as a solution cell but it has no solution region")
        cell.source = "\n".join(lines)
        if cell.cell_type == "code" and solutions and not _parses(cell.source):
            report.warnings.append(
                f"{where}: the student version of this cell is not valid Python; put the solution "
                f"region around whole statements"
            )
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


# ---------------------------------------------------------------------------------------
# The whole course
# ---------------------------------------------------------------------------------------


def release(source, dest, strip=True):
    """Copy the course from `source` to the new folder `dest`, as the student edition.

    With strip=False the copy keeps its solutions (the instructor edition: the same
    files, for grading tests). The copy is built beside dest and renamed into place at
    the end, so a failed release leaves nothing behind. Returns a ReleaseReport.
    """
    source, dest = Path(source).resolve(), Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ReleaseError(f"release: DEST must be a new or empty folder; {dest} is not")
    if source == dest or source in dest.parents:
        raise ReleaseError(f"release: DEST must lie outside the source checkout {source}; got {dest}")
    report = ReleaseReport()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        files = shipped_files(source)
        for rel in files:
            _write(source, partial, rel, strip, report)
        if strip:
            for line, where in sorted(visible_elsewhere(source, files).items()):
                report.warnings.append(
                    f"a solution line is also visible outside any region, in {', '.join(where)}: {line!r}"
                )
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return report


def _write(source, dest, rel, strip, report):
    src, out = source / rel, dest / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    report.files += 1
    if strip and rel.endswith(".py"):
        text = src.read_text(encoding="utf-8")
        out.write_text(strip_python(text, rel, source, report), encoding="utf-8")
        shutil.copymode(src, out)
    elif strip and rel.endswith(".ipynb"):
        nb = nbformat.read(src, as_version=4)
        nbformat.write(strip_notebook(nb, rel, report), out)
    else:
        shutil.copy2(src, out)
