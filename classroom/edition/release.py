"""Write the student edition: the course with every solution region turned into a task.

    python -m classroom release DEST

builds from the last commit (`git archive HEAD`; `--working-tree` takes the files on disk
instead), so an autosaved or half-run notebook is never handed out. It copies the files
git tracks (never .git, .venv or untracked work) into DEST, except the instructor-only
ones (the classroom tools, nbgrader's set-up, CI, tools, benchmarks, and every test but the
student's own, tests/test_exercises.py), and on the way:

- in Python files, each solution region becomes a stub raising
  cs231n_bn.exercise.NotImplementedYet, named as its notebook names the exercise, e.g.
  "Exercise 1 of notebooks/01_forward_pass.ipynb: batchnorm_forward is not implemented yet";
- in notebooks (through nbformat), solution regions become `# YOUR CODE HERE` plus the same
  kind of stub in code cells and "YOUR ANSWER HERE" in markdown cells, hidden-test regions
  are removed, and outputs, execution counts and run-time metadata are cleared;
- README.md becomes the student README (student_readme.md beside this file, with the
  course table of the instructor's README);
- pyproject.toml's pytest settings become the student's (STUDENT_PYTEST): `pytest` runs the
  student's tests, one per package exercise, and lists each skipped one in a line.
"""

import ast
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from classroom.edition.leaks import STATED_ON_PURPOSE, solved_outside_regions, visible_elsewhere
from classroom.edition.regions import HIDDEN_TESTS, SOLUTION, find_regions, replace_regions
from cs231n_bn.checks.registry import BY_FUNCTION, cells_of, notebook_label, notebook_path
from cs231n_bn.exercise import exercise_name, lower_first

# Path prefixes for instructors only: the classroom tools (edition, grader, jail), the nbgrader
# course set-up, CI, the maintainers' tools and benchmarks, the notebook-test set-up of the
# top-level conftest.py, and the tests (they test the instructor's package beyond what the
# exercises ask; STUDENT_TESTS replace them).
INSTRUCTOR_ONLY = (
    "classroom/", "nbgrader_course/", ".ci/", "tools/", "benchmarks/", "conftest.py", "tests/",
)
# The student's tests: one per package exercise, running the exercise's check (what its
# notebook asks for, no more), so that a mistake is one short failure with the check's
# diagnosis and an exercise not started is one skipped line.
STUDENT_TESTS = ("tests/conftest.py", "tests/test_exercises.py")
# The student edition's pytest settings (in pyproject.toml): its tests only (the notebooks are
# checked by their own check cells and by `python -m cs231n_bn.progress`), a line per skip.
STUDENT_PYTEST = (
    '[tool.pytest.ini_options]\n'
    'testpaths = ["tests"]\n'
    '# -rs: one line per exercise not started yet, with its name\n'
    'addopts = "-p no:cacheprovider -rs"\n'
)
# The last hint level states the formulas: a student edition carries it only when the
# instructor asks for it (`release --with-solution-hints`).
SOLUTION_HINTS = "cs231n_bn/checks/solution_hints.py"
STUDENT_README = Path(__file__).with_name("student_readme.md")
STUB_IMPORT = "from cs231n_bn.exercise import NotImplementedYet"
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
    on_purpose: int = 0  # solution lines shown outside a region on purpose (leaks.STATED_ON_PURPOSE)
    uncommitted: list = field(default_factory=list)  # tracked files whose edits were left out


def _git(source, *args):
    try:
        return subprocess.run(["git", *args], cwd=source, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise ReleaseError(
            f"release: the source {source} must be a git checkout (the files git tracks are "
            f"what gets released); `git {' '.join(args)}` failed: {err}"
        ) from err


def shipped_files(source, solution_hints=False):
    """Relative paths of the files git tracks under `source`, less the instructor-only ones
    (and less the formula hints unless `solution_hints`)."""
    listing = _git(source, "ls-files", "-z").decode()
    left_out = INSTRUCTOR_ONLY if solution_hints else (*INSTRUCTOR_ONLY, SOLUTION_HINTS)
    return [
        rel for rel in sorted(p for p in listing.split("\0") if p)
        if (rel in STUDENT_TESTS or not rel.startswith(left_out)) and (Path(source) / rel).is_file()
    ]


def uncommitted_files(source):
    """Tracked files whose content on disk differs from the last commit."""
    status = _git(source, "status", "--porcelain", "-z", "--untracked-files=no").decode()
    return sorted(entry[3:] for entry in status.split("\0") if len(entry) > 3 and entry[2] == " ")


def committed_tree(source, into):
    """Extract the last commit of `source` (git archive HEAD) into the folder `into`, with
    an empty .git so that `git ls-files` there lists exactly the committed files."""
    archive = _git(source, "archive", "--format=tar", "HEAD")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    _git(into, "init", "-q")
    _git(into, "add", "-A", "-f")
    return into


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


def _exercise_cell(cells, exercise):
    """Index of the cell that presents a package exercise: its first graded cell in the
    registry, else the first markdown cell naming the function in backticks, else None."""
    short = exercise.function.rsplit(".", 1)[-1]
    graded = {row.grade_id for row in cells_of(exercise.function)}
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") in graded:
            return index
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and f"`{short}" in cell.source:
            return index
    return None


def package_exercise_name(root, exercise):
    """"Exercise 1 of notebooks/01_forward_pass.ipynb: batchnorm_forward": as the notebook
    explaining it names it (its number and topic while that notebook does not exist)."""
    path = notebook_path(root, exercise.notebook)
    label = notebook_label(root, exercise.notebook, exercise.topic)
    if path is None:
        return f"{label}: {exercise.function}"
    cells = nbformat.read(path, as_version=4).cells
    index = _exercise_cell(cells, exercise)
    if index is None:
        return f"{label}: {exercise.function}"
    return exercise_name(cells, index, label, exercise.function)


def _stub(root, rel, function, indent):
    exercise = BY_FUNCTION.get(function)
    if exercise is None:
        raise ReleaseError(
            f"{rel}: the solution region in {function} has no entry in "
            f"cs231n_bn/checks/registry.py (PACKAGE_EXERCISES); add one naming its notebook"
        )
    if Path(rel).name != exercise.module:
        raise ReleaseError(
            f"{rel}: {function} is registered in cs231n_bn/{exercise.module}, not in {rel}"
        )
    name = package_exercise_name(root, exercise)
    message = f"{name} is not implemented yet: write it in {rel}"
    return [
        f"{indent}# YOUR CODE HERE: implement {function}, {lower_first(name.split(':')[0])}.",
        f"{indent}raise NotImplementedYet({message!r})",
    ]


def _with_stub_import(text, rel):
    """`text` with the stub exception imported after the module's last top-level import
    (before its first function or class), so that its stubs can raise it."""
    tree = ast.parse(text, filename=rel)
    after = 0
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            break
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (after == 0 and isinstance(node, ast.Expr)):
            after = node.end_lineno
    lines = text.split("\n")
    return "\n".join(lines[:after] + [STUB_IMPORT] + lines[after:])


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

    stripped = _with_stub_import("\n".join(replace_regions(lines, solutions, stub)), rel)
    try:
        ast.parse(stripped, filename=rel)
    except SyntaxError as err:
        raise ReleaseError(f"{rel}: the stubbed file does not parse ({err}); check the region's indentation") from err
    return stripped


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------


def _asked_for(source, region):
    """What a notebook's solution region asks for: the function it lies in, else the names
    it assigns, as one string for messages."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= region.begin < node.end_lineno:
                return node.name
    names = []
    for line in source.split("\n")[region.begin + 1:region.end]:
        assigned = re.match(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=[^=]", line)
        if assigned and not line.startswith(region.indent + " "):
            names += [n.strip() for n in assigned[1].split(",") if n.strip() not in names]
    return ", ".join(names) if names else "the code this exercise asks for"


def _code_stub(cells, index, rel, source):
    def stub(region):
        name = exercise_name(cells, index, rel, _asked_for(source, region))
        message = f"{name}: write your code here, in place of these lines"
        return [
            f"{region.indent}# YOUR CODE HERE",
            f"{region.indent}{STUB_IMPORT}",
            f"{region.indent}raise NotImplementedYet({message!r})",
        ]

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
    original = nbformat.from_dict(nb).cells  # headings and sources as the instructor wrote them
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
            lines = replace_regions(lines, solutions, _code_stub(original, index, rel, "\n".join(lines)))
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


def release(source, dest, strip=True, committed=False, solution_hints=False):
    """Copy the course from `source` to the new folder `dest`, as the student edition.

    With committed=True the files come from the last commit (git archive HEAD), and the
    tracked files whose edits that leaves out are listed in the report; otherwise from
    the working tree. With strip=False the copy keeps its solutions and README (the
    instructor edition: the same files, for grading tests). With solution_hints=True the
    student edition keeps the last hint level (the formulas, cs231n_bn/checks/solution_hints.py). The copy is built beside
    dest and renamed into place at the end, so a failed release leaves nothing behind.
    Returns a ReleaseReport.
    """
    source, dest = Path(source).resolve(), Path(dest).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ReleaseError(f"release: DEST must be a new or empty folder; {dest} is not")
    if source == dest or source in dest.parents:
        raise ReleaseError(f"release: DEST must lie outside the source checkout {source}; got {dest}")
    report = ReleaseReport()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    with tempfile.TemporaryDirectory(prefix="release-head-") as head:
        try:
            if committed:
                report.uncommitted = uncommitted_files(source)
                source = committed_tree(source, Path(head))
            _build(source, partial, strip, report, solution_hints or not strip)
            if dest.exists():
                dest.rmdir()
            partial.rename(dest)
        finally:
            if partial.exists():
                shutil.rmtree(partial)
    return report


def _build(source, out, strip, report, solution_hints):
    files = shipped_files(source, solution_hints)
    for rel in files:
        _write(source, out, rel, strip, report)
    if not strip:
        return
    (out / "README.md").write_text(student_readme(source), encoding="utf-8")
    for line, where in sorted(visible_elsewhere(source, files).items()):
        if line in STATED_ON_PURPOSE:
            report.on_purpose += 1
            continue
        report.warnings.append(
            f"a solution line is also visible outside any region, in {', '.join(where)}: {line!r}"
        )
    for name, exercise, where in solved_outside_regions(source, files):
        report.warnings.append(
            f"{exercise} asks for {name}, but {where} defines it outside a solution region: "
            f"the student edition hands out the answer"
        )


def _section(markdown, title):
    """The body of the `## title` section of a markdown text (without its heading)."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, flags=re.S | re.M)
    if found is None:
        raise ReleaseError(f"release: README.md has no '## {title}' section for the student README")
    return found[1].strip()


def student_readme(source):
    """The student edition's README: student_readme.md with the instructor README's
    description of the course (its "## The course" section) filled in."""
    instructor = Path(source, "README.md").read_text(encoding="utf-8")
    template = STUDENT_README.read_text(encoding="utf-8")
    return template.replace("{course}", _section(instructor, "The course"))


def student_pyproject(text):
    """pyproject.toml's text with its [tool.pytest.ini_options] table replaced by STUDENT_PYTEST."""
    found = re.search(r"^\[tool\.pytest\.ini_options\]\n.*?(?=^\[|\Z)", text, flags=re.S | re.M)
    if found is None:
        raise ReleaseError("release: pyproject.toml has no [tool.pytest.ini_options] table to replace")
    return text[: found.start()] + STUDENT_PYTEST + ("\n" if found.end() < len(text) else "") + text[found.end():]


def _write(source, dest, rel, strip, report):
    src, out = source / rel, dest / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    report.files += 1
    if strip and rel == "pyproject.toml":
        out.write_text(student_pyproject(src.read_text(encoding="utf-8")), encoding="utf-8")
    elif strip and rel.endswith(".py"):
        text = src.read_text(encoding="utf-8")
        out.write_text(strip_python(text, rel, source, report), encoding="utf-8")
        shutil.copymode(src, out)
    elif strip and rel.endswith(".ipynb"):
        nb = nbformat.read(src, as_version=4)
        nbformat.write(strip_notebook(nb, rel, report), out)
    else:
        shutil.copy2(src, out)
