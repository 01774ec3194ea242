"""Grade a student's copy of the course offline, exercise by exercise.

    python -m cs231n_bn.classroom grade COPY [--json OUT]

Two kinds of automatically graded exercises:

- package exercises (exercises.py): the instructor's check function runs against the
  copy's package, each in its own time- and memory-limited process;
- notebook check cells (nbgrader metadata `grade: true`): the copy's notebook is run with
  every check cell restored from the instructor's notebook, hidden tests included, and a
  check cell scores its points when it runs without an error.

A check cell that only calls a package exercise's check is not scored twice: its points
become that exercise's points. Written answers (markdown cells with `grade: true`) are
listed with their points for grading by hand.
"""

import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from cs231n_bn.classroom.exercises import EXERCISES, notebook_path
from cs231n_bn.classroom.regions import SOLUTION
from cs231n_bn.classroom.sandbox import run_job

HERE = Path(__file__).resolve().parent
RUN_CHECK = HERE / "run_check.py"
RUN_NOTEBOOK = HERE / "run_notebook.py"
PACKAGE_SOURCE = HERE.parents[1]  # the checkout this grader runs from: the instructor's


@dataclass
class GradeItem:
    exercise: str  # package function, or a notebook cell's grade_id
    kind: str  # "package", "notebook" or "manual"
    notebook: str  # notebook file name ("" for a package exercise not yet in a notebook)
    points: float
    max_points: float
    status: str  # pass, fail, not implemented, error, timeout, missing, manual
    message: str
    counted_in: str = ""  # for a check cell that only calls a package check: that exercise


@dataclass
class GradeReport:
    copy: str
    items: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def _graded(self):
        return [i for i in self.items if i.kind != "manual" and i.status != "skipped"]

    @property
    def points(self):
        """Automatic points earned (skipped notebooks and written answers not counted)."""
        return sum(i.points for i in self._graded())

    @property
    def max_points(self):
        return sum(i.max_points for i in self._graded())

    @property
    def manual_points(self):
        return sum(i.max_points for i in self.items if i.kind == "manual")

    def to_json(self):
        return {
            "copy": self.copy,
            "points": self.points,
            "max_points": self.max_points,
            "manual_points_to_grade": self.manual_points,
            "exercises": [asdict(i) for i in self.items],
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Limits:
    timeout: float = 60.0  # seconds per package exercise
    memory_mb: int = 2048  # address space per package exercise
    notebook_timeout: float = 600.0  # seconds per notebook
    cell_timeout: int = 120  # seconds per notebook cell
    notebook_memory_mb: int = 4096  # address space of a notebook run, kernel included


# ---------------------------------------------------------------------------------------
# Reading the instructor's notebooks
# ---------------------------------------------------------------------------------------


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def check_cells(nb):
    """{grade_id: cell} of the cells the autograder scores (code cells with grade: true)."""
    return {
        _nbgrader(c)["grade_id"]: c
        for c in nb.cells
        if c.cell_type == "code" and _nbgrader(c).get("grade") and _nbgrader(c).get("grade_id")
    }


def written_answers(nb):
    return [
        c for c in nb.cells
        if c.cell_type == "markdown" and _nbgrader(c).get("grade") and _nbgrader(c).get("solution")
    ]


def covered_exercises(source):
    """The package exercises whose check a check cell's source calls."""
    return [e for e in EXERCISES if e.check and re.search(rf"\b{e.check}\s*\(", source)]


def _source_notebooks(source):
    return sorted(Path(source, "notebooks").glob("*.ipynb"))


# ---------------------------------------------------------------------------------------
# Running jobs
# ---------------------------------------------------------------------------------------


def _job_failure(job, limit_text):
    if job.timed_out:
        return "timeout", f"stopped after {limit_text}: an infinite loop, or far too slow"
    tail = job.stderr.strip().splitlines()[-1:] or [f"exit status {job.returncode}"]
    if "MemoryError" in tail[0]:
        return "memory", "MemoryError: the memory limit was exceeded"
    if job.returncode < 0:
        return "error", f"the process was killed by signal {-job.returncode} (a crash, or the memory limit)"
    return "error", tail[0]


def run_package_exercise(copy, source, exercise, limits):
    """(status, message) of one package exercise, run in a limited child process.

    The other exercises' functions run the instructor's versions meanwhile (run_check.py).
    """
    with tempfile.TemporaryDirectory() as tmp:
        result, registry = Path(tmp) / "result.json", Path(tmp) / "exercises.json"
        registry.write_text(json.dumps([asdict(e) for e in EXERCISES]), encoding="utf-8")
        argv = [sys.executable, str(RUN_CHECK), str(copy), str(source), str(registry),
                exercise.function, exercise.check, str(result)]
        job = run_job(argv, cwd=copy, pythonpath=copy, timeout=limits.timeout, memory_mb=limits.memory_mb)
        if result.exists() and not job.timed_out:
            verdict = json.loads(result.read_text(encoding="utf-8"))
            return verdict["status"], verdict["message"]
    return _job_failure(job, f"{limits.timeout:g} s")


# Run first in a graded notebook, so that `from cs231n_bn import checks` in its check cells
# gets the instructor's checks, not the copy's (which the student could have edited).
_TRUSTED_CHECKS = """\
import importlib.util as _util, sys as _sys
import cs231n_bn as _package
_spec = _util.spec_from_file_location("cs231n_bn.checks", {path!r})
_sys.modules["cs231n_bn.checks"] = _package.checks = _util.module_from_spec(_spec)
_spec.loader.exec_module(_package.checks)
del _util, _sys, _package, _spec
"""


def run_graded_notebook(copy, source_nb, limits):
    """{grade_id: (status, message)} for one notebook of the copy, check cells restored."""
    student_path = Path(copy, "notebooks", source_nb.name)
    source_cells = check_cells(nbformat.read(source_nb, as_version=4))
    if not student_path.exists():
        return {gid: ("missing", f"notebooks/{source_nb.name} is missing from the copy") for gid in source_cells}
    nb = nbformat.read(student_path, as_version=4)
    seen = set()
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in source_cells:
            # The instructor's version, hidden tests included, whatever the student did to it.
            cell.cell_type, cell.source = "code", source_cells[gid].source
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
            seen.add(gid)
    results = {gid: ("missing", "this check cell was deleted from the notebook") for gid in source_cells if gid not in seen}
    trusted = Path(source_nb).parents[1] / "cs231n_bn" / "checks.py"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_TRUSTED_CHECKS.format(path=str(trusted))))
    with tempfile.TemporaryDirectory() as tmp:
        graded, result = Path(tmp) / source_nb.name, Path(tmp) / "result.json"
        nbformat.write(nb, graded)
        argv = [sys.executable, str(RUN_NOTEBOOK), str(graded), str(student_path.parent), str(result),
                str(limits.cell_timeout)]
        job = run_job(argv, cwd=student_path.parent, pythonpath=copy, timeout=limits.notebook_timeout,
                      memory_mb=limits.notebook_memory_mb)
        if result.exists() and not job.timed_out:
            for gid, outcome in json.loads(result.read_text(encoding="utf-8")).items():
                if gid in seen:
                    results[gid] = (outcome["status"], outcome["message"])
        else:
            status, message = _job_failure(job, f"{limits.notebook_timeout:g} s for the notebook")
            results.update({gid: (status, message) for gid in seen})
    return results


# ---------------------------------------------------------------------------------------
# Grading a copy
# ---------------------------------------------------------------------------------------


def _has_solution_region(text):
    return any(line.strip() == SOLUTION[0] for line in text.splitlines())


def modified_support_files(source, copy):
    """Package files without exercises that differ in the copy (the student edited them)."""
    changed = []
    for path in sorted(Path(source, "cs231n_bn").rglob("*.py")):
        rel = path.relative_to(source)
        text = path.read_text(encoding="utf-8")
        if _has_solution_region(text):
            continue
        theirs = Path(copy, rel)
        if theirs.exists() and theirs.read_text(encoding="utf-8") != text:
            changed.append(str(rel))
    return changed


def _registered_notebook(source, exercise):
    path = notebook_path(source, exercise.notebook)
    return path.name if path else f"{exercise.notebook:02d} ({exercise.topic})"


def grade(copy, source=PACKAGE_SOURCE, notebooks=True, only=None, limits=Limits()):
    """Grade the copy at `copy` against the instructor's checkout `source`.

    Inputs:
    - copy: folder of the student's copy (it must contain cs231n_bn/)
    - source: the instructor's checkout: its checks and its notebooks' check cells count
    - notebooks: also run the notebooks (False grades the package exercises only)
    - only: names of the notebooks to run (default: all of them)
    - limits: time and memory limits

    Returns a GradeReport.
    """
    copy, source = Path(copy).resolve(), Path(source).resolve()
    if not (copy / "cs231n_bn" / "__init__.py").exists():
        raise FileNotFoundError(f"grade: COPY must be a copy of the course with cs231n_bn/; got {copy}")
    report = GradeReport(copy=str(copy))
    for rel in modified_support_files(source, copy):
        report.warnings.append(f"{rel} differs from the instructor's version (grading uses the instructor's checks)")

    package_points = {e.function: 0.0 for e in EXERCISES}
    package_notebook = {e.function: _registered_notebook(source, e) for e in EXERCISES}
    notebook_items = []
    for nb_path in _source_notebooks(source):
        nb = nbformat.read(nb_path, as_version=4)
        for gid, cell in check_cells(nb).items():
            points = float(_nbgrader(cell).get("points", 0))
            covered = covered_exercises(cell.source)
            for exercise in covered:
                package_points[exercise.function] += points / len(covered)
                package_notebook[exercise.function] = nb_path.name
            # A covered cell still runs and shows its result, but its points are the exercise's.
            notebook_items.append(GradeItem(gid, "notebook", nb_path.name, 0.0, 0.0 if covered else points,
                                            "", "", ", ".join(e.function for e in covered)))
        for cell in written_answers(nb):
            nbg = _nbgrader(cell)
            report.items.append(GradeItem(nbg.get("grade_id", "?"), "manual", nb_path.name, 0.0,
                                          float(nbg.get("points", 0)), "manual", "graded by hand"))

    for exercise in EXERCISES:
        if exercise.check is None:
            continue  # graded through the check cells of its notebook only
        points = package_points[exercise.function] or float(exercise.points)
        status, message = run_package_exercise(copy, source, exercise, limits)
        earned = points if status == "pass" else 0.0
        report.items.append(GradeItem(exercise.function, "package", package_notebook[exercise.function],
                                      earned, points, status, message))

    for nb_path in _source_notebooks(source):
        items = [i for i in notebook_items if i.notebook == nb_path.name]
        if not items:
            continue
        if not notebooks or (only and nb_path.name not in only):
            for item in items:
                item.status, item.message = "skipped", "notebooks not run (--no-notebooks or --notebook)"
            continue
        results = run_graded_notebook(copy, nb_path, limits)
        for item in items:
            item.status, item.message = results.get(item.exercise, ("missing", "not run"))
            item.points = item.max_points if item.status == "pass" else 0.0
    report.items.extend(notebook_items)
    report.items.sort(key=lambda i: (i.kind == "manual", i.notebook, i.kind != "package", i.exercise))
    return report


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def format_table(report, width=100):
    """The per-exercise points table the command prints."""
    rows = [("exercise", "kind", "notebook", "points", "result")]
    skipped = [i for i in report.items if i.status == "skipped"]
    for i in report.items:
        if i.status == "skipped":
            continue
        got = "-" if i.kind == "manual" else f"{i.points:g}"
        first_line = (i.message.splitlines() or [""])[0]
        result = i.status if i.status == "pass" or not first_line else f"{i.status}: {first_line}"
        if i.counted_in:
            result = f"[points in {i.counted_in}] {result}"
        rows.append((i.exercise, i.kind, i.notebook, f"{got}/{i.max_points:g}", result[:width]))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = ["  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("-" * len(lines[0]))
    lines.append(f"automatic total: {report.points:g} / {report.max_points:g}")
    if skipped:
        lines.append(f"not run: {len(skipped)} notebook check cells ({sum(i.max_points for i in skipped):g} points)")
    if report.manual_points:
        lines.append(f"written answers to grade by hand: {report.manual_points:g} points")
    lines.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def write_json(report, path):
    Path(path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
