"""Grade a student's copy of the course offline, exercise by exercise.

    python -m classroom grade COPY [--json OUT]

Every graded code cell of the course is a row of the registry
(cs231n_bn/checks/registry.py): the check its cell calls, on what, for how many points. The
grader makes the cell's call itself, here, in the grading process, on inputs drawn from a
secret seed; the student's code runs in sandboxed processes (sandbox.py) and only data
comes back:

- a package exercise's cell: the check calls the student's function through a proxy; each
  cell gets a student process of its own (judge.py, student_process.py);
- a notebook exercise's cell: one student process per notebook runs the student's solution
  cells on the grader's inputs, and the check gets the values they define, or proxies of
  the functions they define (notebook_jobs.py).

The notebooks' check cells themselves, their hidden tests and the instructor's notebooks
never run in a student process. A graded cell with no row in the registry is reported.

Before anything runs, the submission is copied (regular files only, sizes capped) into a
folder of the grader's; the instructor's checkout is fingerprinted before and after, and
any change is reported. Written answers (markdown cells with `grade: true`) are listed
with their points for grading by hand.
"""

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from classroom.edition.leaks import secret_lines
from classroom.edition.regions import SOLUTION, is_trivial
from classroom import wire
from classroom.grader import notebook_jobs, sandbox
from classroom.grader.judge import judge
from classroom.grader.plain import plain
from classroom.grader.submission import changes, fingerprint, snapshot
from cs231n_bn.checks.registry import BY_FUNCTION, BY_GRADE_ID, CELLS, notebook_path

MAX_MESSAGE = 2000  # characters of one report message
MAX_WARNINGS = 50  # warnings kept in one report
PACKAGE_SOURCE = sandbox.CLASSROOM.parent  # the checkout this grader runs from: the instructor's


@dataclass
class GradeItem:
    exercise: str  # package function, or a notebook cell's grade_id
    kind: str  # "package", "notebook" or "manual"
    notebook: str  # notebook file name ("" for a package exercise not yet in a notebook)
    points: float
    max_points: float
    status: str  # pass, fail, not implemented, error, timeout, missing, manual
    message: str
    counted_in: str = ""  # for a cell of a package exercise: that exercise


@dataclass
class GradeReport:
    copy: str
    items: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    instructor_changes: list = field(default_factory=list)  # files of the checkout a job changed

    def _graded(self):
        return [i for i in self.items if i.kind != "manual" and i.status != "skipped"]

    @property
    def points(self):
        """Automatic points earned."""
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
            "instructor_changes": self.instructor_changes,
        }


@dataclass(frozen=True)
class Limits:
    timeout: float = 60.0  # seconds per job: a package exercise's cell, or a notebook's exercises
    memory_mb: int = 2048  # memory per job (per process, and per job where cgroups allow)
    max_processes: int = 16  # processes and threads per job
    run_as: str = None  # without bwrap: the unprivileged user student code runs as (sandbox.Job)


# ---------------------------------------------------------------------------------------
# Reading the instructor's notebooks
# ---------------------------------------------------------------------------------------


def _nbgrader(cell):
    """A cell's nbgrader metadata; {} where it is absent or not a dict (a student's notebook)."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


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


def _source_notebooks(source):
    return sorted(Path(source, "notebooks").glob("*.ipynb"))


# ---------------------------------------------------------------------------------------
# Running jobs
# ---------------------------------------------------------------------------------------


def run_package_cell(submission, source, row, limits, bwrap):
    """(status, message) of one graded cell of a package exercise; see judge.py."""
    return judge(submission, BY_FUNCTION[row.exercise], row.check, source, limits, bwrap)


# A notebook's JSON is a few levels deep; its bulk (sources, outputs, images) is strings.
NOTEBOOK_DEPTH = 64
NOTEBOOK_TOKENS = 2_000_000


def read_student_notebook(path):
    """The student's notebook file as a dict, refused (wire.WireError) when its JSON is
    nested deeper or holds more items than any notebook does, before a parser recurses."""
    text = Path(path).read_text(encoding="utf-8")
    return wire.loads_bounded(text, NOTEBOOK_DEPTH, NOTEBOOK_TOKENS, what=f"notebooks/{Path(path).name}")


def run_notebook_cells(submission, source, number, nb_name, rows, limits, bwrap):
    """{grade_id: (status, message)} of a notebook's exercise cells; see notebook_jobs.py."""
    try:
        student_nb = read_student_notebook(Path(submission, "notebooks", nb_name))
    except (OSError, ValueError, wire.WireError) as err:
        reason = f"notebooks/{nb_name} cannot be read as a notebook ({type(err).__name__}: {err})"
        return {row.grade_id: ("missing" if isinstance(err, FileNotFoundError) else "error", reason) for row in rows}
    return notebook_jobs.grade_rows(submission, source, number, rows, student_nb, limits, bwrap)


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
        if theirs.is_file() and theirs.read_bytes() != path.read_bytes():
            changed.append(str(rel))
    return changed


def _scrubber(source):
    """A function that caps a report message and removes the instructor's secret lines.

    Secret: the lines of solution and hidden-test regions, and every line of the grader's
    own source, wherever they come from (an error message can carry anything).
    """
    files = [p.relative_to(source).as_posix() for p in sorted(Path(source, "cs231n_bn").glob("*.py"))]
    files += [p.relative_to(source).as_posix() for p in _source_notebooks(source)]
    secret = set(secret_lines(source, files))
    for path in sorted(sandbox.CLASSROOM.rglob("*.py")):
        secret.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if not is_trivial(line))

    # Also caught inside a longer line: code of some substance (a bare name such as
    # "spatial_groupnorm_forward)" would strike every message that names the exercise).
    long_secrets = [line for line in secret if len(line) >= 12 and " " in line]

    def scrub(message):
        kept, removed = [], 0
        for line in str(message)[: MAX_MESSAGE * 4].splitlines():
            if line.strip() in secret or any(s in line for s in long_secrets):
                removed += 1
            else:
                kept.append(line)
        text = "\n".join(kept)
        if removed:
            text += f"\n[{removed} line(s) of the instructor's source removed from this message]"
        return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " [... message cut]"

    return scrub


def grade(copy, source=PACKAGE_SOURCE, notebooks=True, only=None, limits=Limits(), use_bwrap=True, exercises=None):
    """Grade the copy at `copy` against the instructor's checkout `source`.

    Inputs:
    - copy: folder of the student's copy (it should contain cs231n_bn/)
    - source: the instructor's checkout: its notebooks' check cells count, and it is
      fingerprinted before and after; the package exercises are checked by the checks of
      the cs231n_bn this grader runs from
    - notebooks: also run the notebooks (False grades the package exercises only)
    - only: names of the notebooks to run (default: all of them)
    - limits: time and memory limits
    - use_bwrap: run student code under bubblewrap when it is available
    - exercises: names of the package exercises to grade (default: all of them; the others
      are listed as skipped)

    Returns a GradeReport. Nothing in the copy can make this raise: a bad submission
    scores what it earns, with reasons.
    """
    copy, source = Path(copy).resolve(), Path(source).resolve()
    if not copy.is_dir():
        raise FileNotFoundError(f"grade: COPY must be a folder holding a copy of the course; got {copy}")
    bwrap = sandbox.bwrap_path() if use_bwrap else None
    report = GradeReport(copy=str(copy))
    if not bwrap:
        if limits.run_as:
            sandbox.job_user(limits.run_as)  # ValueError now, not in every job
        report.warnings.append(sandbox.notice(bwrap, limits.run_as))
    sandbox.clean_stale_cgroups()
    if not sandbox.cgroup_kind():
        report.warnings.append(sandbox.cgroup_notice(""))
    before = fingerprint(source)
    scrub = _scrubber(source)
    with tempfile.TemporaryDirectory(prefix="cs231n_submission_") as work:
        submission = Path(work) / "copy"
        report.warnings.extend(snapshot(copy, submission))
        if not (submission / "cs231n_bn").is_dir():
            report.warnings.append("the copy has no cs231n_bn/ folder: every package exercise is missing")
        for rel in modified_support_files(source, submission):
            report.warnings.append(f"{rel} differs from the instructor's version (the instructor's checks grade it)")
        _grade_into(report, submission, source, notebooks, only, limits, bwrap, exercises)
    after = fingerprint(source)
    changed = changes(before, after)
    if changed:
        shown = ", ".join(changed[:20]) + (f" and {len(changed) - 20} more" if len(changed) > 20 else "")
        report.warnings.append(f"the instructor's checkout CHANGED while this copy was graded: {shown}")
        report.instructor_changes = changed
    for item in report.items:
        item.message = plain(scrub(item.message))
    if len(report.warnings) > MAX_WARNINGS:
        extra = len(report.warnings) - MAX_WARNINGS
        report.warnings = report.warnings[:MAX_WARNINGS] + [f"... and {extra} more warnings like these"]
    report.warnings = [plain(scrub(w)) for w in report.warnings]
    report.instructor_changes = [plain(p) for p in report.instructor_changes]
    report.copy = plain(report.copy)
    return report


def _grade_into(report, submission, source, notebooks, only, limits, bwrap, exercises):
    present = {}
    for nb_path in _source_notebooks(source):
        nb = nbformat.read(nb_path, as_version=4)
        present[nb_path.name] = nb
        for gid in check_cells(nb):
            if gid not in BY_GRADE_ID:
                report.warnings.append(f"notebooks/{nb_path.name}: the graded cell {gid} has no row in "
                                       f"cs231n_bn/checks/registry.py, so nothing grades it")
        for cell in written_answers(nb):
            nbg = _nbgrader(cell)
            report.items.append(GradeItem(nbg.get("grade_id", "?"), "manual", nb_path.name, 0.0,
                                          float(nbg.get("points", 0)), "manual", "graded by hand"))

    by_notebook = {}
    for row in CELLS:
        path = notebook_path(source, row.notebook)
        if path is None or path.name not in present:
            continue
        item = GradeItem(row.grade_id, "package" if row.exercise else "notebook", path.name, 0.0,
                         float(row.points), "", "", row.exercise)
        report.items.append(item)
        if row.exercise:
            exercise = BY_FUNCTION[row.exercise]
            if exercises is not None and row.exercise not in exercises:
                item.status, item.message = "skipped", "not graded in this run (--exercise)"
            elif (submission / "cs231n_bn" / exercise.module).is_file():
                item.status, item.message = run_package_cell(submission, source, row, limits, bwrap)
            else:
                item.status, item.message = "missing", f"cs231n_bn/{exercise.module} is missing from the copy"
        elif not notebooks or (only and path.name not in only):
            item.status, item.message = "skipped", "notebooks not run (--no-notebooks or --notebook)"
        else:
            by_notebook.setdefault((row.notebook, path.name), []).append((row, item))

    for (number, name), pairs in by_notebook.items():
        rows = [row for row, _ in pairs]
        try:
            results = run_notebook_cells(submission, source, number, name, rows, limits, bwrap)
        except Exception as err:  # whatever this notebook did, it costs this notebook only
            results = {row.grade_id: ("error", f"the notebook could not be graded ({type(err).__name__}: {err})")
                       for row in rows}
        for row, item in pairs:
            item.status, item.message = results.get(row.grade_id, ("missing", "not graded"))
    for item in report.items:
        if item.kind != "manual":
            item.points = item.max_points if item.status == "pass" else 0.0
    report.items.sort(key=lambda i: (i.kind == "manual", i.notebook, i.exercise))


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
            result = f"[{i.counted_in}] {result}"
        rows.append((i.exercise, i.kind, i.notebook, f"{got}/{i.max_points:g}", result[:width]))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = ["  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("-" * len(lines[0]))
    lines.append(f"automatic total: {report.points:g} / {report.max_points:g}")
    if skipped:
        lines.append(f"not run: {len(skipped)} exercises or check cells ({sum(i.max_points for i in skipped):g} points)")
    if report.manual_points:
        lines.append(f"written answers to grade by hand: {report.manual_points:g} points")
    lines.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(plain(line) for line in lines)


def write_json(report, path):
    """Write the report as JSON atomically: a reader sees the old file or the whole new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
