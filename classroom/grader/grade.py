"""Grade a student's copy of the course offline, exercise by exercise.

    python -m classroom grade COPY [--json OUT]

Two kinds of automatically graded exercises:

- package exercises (classroom/edition/exercises.py): the instructor's check runs HERE, in the grading
  process, and calls the student's function through a proxy; the student's code runs in a
  sandboxed process of its own per exercise (judge.py, student_process.py, sandbox.py)
  and only data comes back. Verdicts never come from the student's process;
- notebook check cells (nbgrader metadata `grade: true`): the copy's notebook is run in
  the sandbox with every check cell restored from the instructor's notebook, hidden tests
  included, and a check cell scores its points when it runs without an error. The kernel
  runs the student's code and reports that outcome, so it could forge it: these points are
  reported apart ("kernel-reported", `verified=False`) and are not in the automatic total.
  A check cell that calls a package check earns nothing itself: its points go to that
  exercise, which the grader verifies.

Before anything runs, the submission is copied (regular files only, sizes capped) into a
folder of the grader's; the instructor's checkout is fingerprinted before and after, and
any change is reported. Written answers (markdown cells with `grade: true`) are listed
with their points for grading by hand.
"""

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from classroom import wire
from classroom.edition.exercises import EXERCISES, notebook_path
from classroom.edition.leaks import secret_lines
from classroom.edition.regions import SOLUTION, is_trivial
from classroom.grader import replay, sandbox
from classroom.grader.judge import judge
from classroom.grader.submission import changes, fingerprint, snapshot

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
    counted_in: str = ""  # for a check cell that only calls a package check: that exercise
    verified: bool = True  # False: the outcome is the notebook kernel's word (see the module docstring)


@dataclass
class GradeReport:
    copy: str
    items: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    instructor_changes: list = field(default_factory=list)  # files of the checkout a job changed

    def _graded(self, verified=True):
        return [i for i in self.items if i.kind != "manual" and i.status != "skipped" and i.verified == verified]

    @property
    def points(self):
        """Automatic points earned and verified by the grader (kernel-reported ones apart)."""
        return sum(i.points for i in self._graded())

    @property
    def max_points(self):
        return sum(i.max_points for i in self._graded())

    @property
    def kernel_points(self):
        """Points of notebook check cells as the notebook's kernel reported them."""
        return sum(i.points for i in self._graded(verified=False))

    @property
    def kernel_max_points(self):
        return sum(i.max_points for i in self._graded(verified=False))

    @property
    def manual_points(self):
        return sum(i.max_points for i in self.items if i.kind == "manual")

    def to_json(self):
        return {
            "copy": self.copy,
            "points": self.points,
            "max_points": self.max_points,
            "kernel_reported_points": self.kernel_points,
            "kernel_reported_max_points": self.kernel_max_points,
            "manual_points_to_grade": self.manual_points,
            "exercises": [asdict(i) for i in self.items],
            "warnings": self.warnings,
            "instructor_changes": self.instructor_changes,
        }


@dataclass(frozen=True)
class Limits:
    timeout: float = 60.0  # seconds per package exercise
    memory_mb: int = 2048  # memory per package exercise (per process, and per job where cgroups allow)
    max_processes: int = 16  # processes and threads per job
    notebook_timeout: float = 600.0  # seconds per notebook
    cell_timeout: int = 120  # seconds per notebook cell
    notebook_memory_mb: int = 4096  # memory of a notebook run, kernel included (as memory_mb)
    notebook_processes: int = 64  # processes and threads of a notebook run


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


def covered_exercises(source):
    """The package exercises whose check a check cell's source calls."""
    return [e for e in EXERCISES if e.check and re.search(rf"\b{e.check}\s*\(", source)]


def _source_notebooks(source):
    return sorted(Path(source, "notebooks").glob("*.ipynb"))


# ---------------------------------------------------------------------------------------
# Running jobs
# ---------------------------------------------------------------------------------------


def run_package_exercise(submission, exercise, limits, bwrap):
    """(status, message) of one package exercise; see judge.py."""
    return judge(submission, exercise, limits, bwrap)


# Run first in a graded notebook, so that `from cs231n_bn import checks` in its check cells
# gets the instructor's checks (copied into the job), not the copy's.
_TRUSTED_CHECKS = """\
import importlib.util as _util, sys as _sys
import cs231n_bn as _package
_spec = _util.spec_from_file_location("cs231n_bn.checks", {init!r}, submodule_search_locations={search!r})
_sys.modules["cs231n_bn.checks"] = _package.checks = _util.module_from_spec(_spec)
_spec.loader.exec_module(_package.checks)
del _util, _sys, _package, _spec
"""


def _restored_notebook(student_path, source_cells):
    """The student's notebook with the instructor's check cells, and the ids found in it."""
    nb = nbformat.read(student_path, as_version=4)
    seen = set()
    for cell in nb.cells:
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if isinstance(gid, str) and gid in source_cells:
            # The instructor's version, hidden tests included, whatever the student did to it.
            cell.cell_type, cell.source = "code", source_cells[gid].source
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
            cell.pop("attachments", None)
            seen.add(gid)
        elif gid is not None:
            meta.pop("grade_id")  # not a check cell of ours: its outcome must not count as one
    return nb, seen


def run_graded_notebook(submission, source_nb, limits, bwrap):
    """{grade_id: (status, message)} for one notebook of the submission, check cells restored."""
    source_cells = check_cells(nbformat.read(source_nb, as_version=4))
    student_path = Path(submission, "notebooks", source_nb.name)
    if not student_path.exists():
        return {gid: ("missing", f"notebooks/{source_nb.name} is missing from the copy") for gid in source_cells}
    try:
        nb, seen = _restored_notebook(student_path, source_cells)
        nbformat.validate(nb)
    except Exception as err:  # malformed JSON, schema, metadata of the wrong type: this notebook only
        reason = f"notebooks/{source_nb.name} cannot be read as a notebook ({type(err).__name__}: {err})"
        return {gid: ("error", reason[:500]) for gid in source_cells}
    results = {gid: ("missing", "this check cell was deleted from the notebook") for gid in source_cells if gid not in seen}
    with tempfile.TemporaryDirectory(prefix="cs231n_nb_") as work:
        work = Path(work)
        jail = sandbox.Jail(work, bwrap)
        trusted = work / "trusted"
        trusted.mkdir()
        checks_source = Path(source_nb).parents[1] / "cs231n_bn"
        if (checks_source / "checks").is_dir():
            shutil.copytree(checks_source / "checks", trusted / "checks", ignore=shutil.ignore_patterns("__pycache__"))
            inside = jail.place(trusted, "/trusted") + "/checks"
            init, search = inside + "/__init__.py", [inside]
        else:
            shutil.copyfile(checks_source / "checks.py", trusted / "checks.py")
            init, search = jail.place(trusted, "/trusted") + "/checks.py", None
        nb.cells.insert(0, nbformat.v4.new_code_cell(_TRUSTED_CHECKS.format(init=init, search=search)))
        runner = work / "grader"
        runner.mkdir()
        sandbox.copy_jail_script("run_notebook.py", runner)
        nbformat.write(nb, runner / source_nb.name)
        root = jail.place(submission, "/submission")
        executable, _, sites = sandbox.python_roots()
        site_inside = [jail.place(site, f"/site{k}") for k, site in enumerate(sites)]
        hide = [(p, f"/site{k}/{p.name}") for k, site in enumerate(sites) for p in site.iterdir()
                if bwrap and ("cs231n_bn" in p.name or p.name.startswith("__editable__"))]
        grader = jail.place(runner, "/grader")
        read_fd, write_fd = os.pipe()
        try:
            job = sandbox.Job(
                [str(executable), "-I", "-S", "-B", f"{grader}/run_notebook.py", f"{grader}/{source_nb.name}",
                 f"{root}/notebooks", str(write_fd), str(limits.cell_timeout), root, *site_inside],
                jail, limits.notebook_memory_mb, limits.notebook_processes, pass_fds=(write_fd,),
                stderr_path=work / "stderr.txt", hide=hide,
            )
        finally:
            os.close(write_fd)
        try:
            outcome = _notebook_outcome(read_fd, time.monotonic() + limits.notebook_timeout, limits)
        finally:
            os.close(read_fd)
            job.kill()
    if isinstance(outcome, tuple):
        results.update({gid: outcome for gid in seen})
        return results
    for gid in seen:
        got = outcome.get(gid)
        if isinstance(got, dict) and got.get("status") == "pass":
            results[gid] = ("pass", "")
        else:
            message = got.get("message") if isinstance(got, dict) else "no outcome reported for this cell"
            results[gid] = ("error", str(message))
    return results


def _replayed(submission, nb_path, limits, bwrap):
    """The check cells of this notebook verified by replaying its solution cells (replay.py);
    None when the notebook cannot be read (the kernel's run reports why)."""
    try:
        student_nb = json.loads(Path(submission, "notebooks", nb_path.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return replay.replayed_cells(submission, nb_path.name, student_nb, limits, bwrap)


def _notebook_outcome(read_fd, deadline, limits):
    """The job's {grade_id: outcome} dict, or (status, message) when it gave none in time."""
    try:
        body = wire.receive(read_fd, deadline)
        outcome = wire.decode(body) if body is not None else None
    except wire.Timeout:
        return "timeout", f"stopped after {limits.notebook_timeout:g} s for the notebook"
    except wire.WireError as err:
        return "error", f"the notebook job sent no usable outcome ({err})"
    if not isinstance(outcome, dict):
        return "error", "the notebook job ended without an outcome (a crash, or the memory limit)"
    return outcome


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


def _registered_notebook(source, exercise):
    path = notebook_path(source, exercise.notebook)
    return path.name if path else f"{exercise.notebook:02d} ({exercise.topic})"


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
        report.warnings.append(sandbox.notice(bwrap))
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
        item.message = scrub(item.message)
    if len(report.warnings) > MAX_WARNINGS:
        extra = len(report.warnings) - MAX_WARNINGS
        report.warnings = report.warnings[:MAX_WARNINGS] + [f"... and {extra} more warnings like these"]
    report.warnings = [scrub(w) for w in report.warnings]
    return report


def _grade_into(report, submission, source, notebooks, only, limits, bwrap, exercises):
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
            verified = bool(covered) or replay.covers(nb_path.name, gid)
            notebook_items.append(GradeItem(gid, "notebook", nb_path.name, 0.0, 0.0 if covered else points,
                                            "", "", ", ".join(e.function for e in covered), verified=verified))
        for cell in written_answers(nb):
            nbg = _nbgrader(cell)
            report.items.append(GradeItem(nbg.get("grade_id", "?"), "manual", nb_path.name, 0.0,
                                          float(nbg.get("points", 0)), "manual", "graded by hand"))

    for exercise in EXERCISES:
        if exercise.check is None:
            continue  # graded through the check cells of its notebook only
        points = package_points[exercise.function] or float(exercise.points)
        if exercises is not None and exercise.function not in exercises:
            status, message = "skipped", "not graded in this run (--exercise)"
        elif (submission / "cs231n_bn" / exercise.module).is_file():
            status, message = run_package_exercise(submission, exercise, limits, bwrap)
        else:
            status, message = "missing", f"cs231n_bn/{exercise.module} is missing from the copy"
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
        try:
            results = run_graded_notebook(submission, nb_path, limits, bwrap)
        except Exception as err:  # whatever this notebook did, it costs this notebook only
            results = {i.exercise: ("error", f"the notebook could not be graded ({type(err).__name__}: {err})")
                       for i in items}
        replayed = _replayed(submission, nb_path, limits, bwrap)
        for item in items:
            item.status, item.message = results.get(item.exercise, ("missing", "not run"))
            if replayed is not None and replay.covers(nb_path.name, item.exercise):
                item.status, item.message = replayed.get(
                    item.exercise, ("missing", "its solution cell is missing from the notebook"))
            item.points = item.max_points if item.status == "pass" else 0.0
    report.items.extend(notebook_items)
    report.items.sort(key=lambda i: (i.kind == "manual", i.notebook, i.kind != "package", i.exercise))


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
    if report.kernel_max_points:
        lines.append(f"notebook check cells, as reported by the notebook's kernel (not verified by the "
                     f"grader): {report.kernel_points:g} / {report.kernel_max_points:g}")
    if skipped:
        lines.append(f"not run: {len(skipped)} exercises or check cells ({sum(i.max_points for i in skipped):g} points)")
    if report.manual_points:
        lines.append(f"written answers to grade by hand: {report.manual_points:g} points")
    lines.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def write_json(report, path):
    """Write the report as JSON atomically: a reader sees the old file or the whole new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
