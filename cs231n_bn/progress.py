"""Where do I stand? Every exercise of the course: done, failing, or not started, with points.

    python -m cs231n_bn.progress [--course DIR]

For the student, as self-assessment (the instructor grades with checks of their own):

- the check cell of a package exercise (its row in cs231n_bn/checks/registry.py names the
  exercise) is run here and now, in this process, on the package as it is on disk: done,
  failing with the check's diagnosis, or not started while the exercise's stub is still in place;
- a check cell of a notebook exercise (code written in the notebook itself) is judged by
  the saved notebook: not started while the exercise's cell still holds its stub, else as
  its check cell's stored output left it (done, failing, or not checked yet);
- a written answer is answered or not; its points are the instructor's to give.

The exercises are found in the notebooks' nbgrader metadata (check cells carry
`grade: true` and their points), so the command needs nothing but the course folder.
"""

import argparse
import contextlib
import importlib
import io
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cs231n_bn.checks.registry import BY_GRADE_ID
from cs231n_bn.exercise import heading_before, not_started, plain_text

STUB_WORDS = ("NotImplementedYet", "YOUR CODE HERE", "raise NotImplementedError")
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
DETAIL_LINES = 12  # lines of a failure's diagnosis shown under its exercise


@dataclass
class Standing:
    """One graded item of a notebook, as it stands."""

    notebook: str  # e.g. "notebooks/01_forward_pass.ipynb"
    name: str  # e.g. "Exercise 1: batchnorm_forward"
    status: str  # done | failing | not started | not checked | answered | not answered
    points: float  # earned (for written answers: 0, the instructor decides)
    max_points: float
    detail: str = ""  # the diagnosis of a failure, or what to do next

    @property
    def written(self):
        return self.status in ("answered", "not answered")


def course_root(start=None):
    """The course folder: `start` if given, else the one this package was installed from
    (editable install), else the current folder; it must hold notebooks/."""
    here = Path(__file__).resolve().parents[1]
    for root in ([Path(start)] if start else [here, Path.cwd()]):
        if (root / "notebooks").is_dir():
            return root.resolve()
    where = start or f"{here} or {Path.cwd()}"
    raise FileNotFoundError(f"progress: no notebooks/ folder in {where}; pass --course DIR, the course folder")


def run_check(checks, name):
    """(status, detail) of one check function of `checks`, called on the installed package."""
    check = getattr(checks, name, None)
    if check is None:
        return "failing", f"cs231n_bn.checks has no {name}: is your copy of checks.py intact?"
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            check()
    except Exception as err:  # the student's code may raise anything; report it, go on
        if not_started(err):
            return "not started", _stub_message(err)
        message = str(err) if isinstance(err, AssertionError) else f"{type(err).__name__}: {err}"
        return "failing", message
    return "done", ""


def _stub_message(err):
    while err is not None and not type(err).__name__ == "NotImplementedYet":
        err = err.__cause__ or err.__context__
    return str(err) if err is not None else ""


def _failing_line(traceback_lines):
    """The cell's line that raised, from a saved traceback (IPython marks it with an arrow):
    what a bare `assert` leaves as its only reason. '' when there is none."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(traceback_lines))
    found = re.findall(r"^-+>\s*\d+\s+(.*)$", text, flags=re.MULTILINE)
    return f"the check's line `{found[-1].strip()}` failed" if found else "the cell failed without a message"


def _stored_result(cell):
    """(status, detail) of a check cell from its saved outputs."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            if output.get("ename") == "NotImplementedYet":
                return "not started", output.get("evalue", "")
            reason = output.get("evalue") or _failing_line(output.get("traceback", []))
            return "failing", f"{output.get('ename')}: {reason}"
    if cell.get("execution_count") is None:
        return "not checked", "run the notebook down to its check cell, then save the notebook"
    return "done", ""


def _question_name(cells, index):
    before = cells[index - 1].source if index else ""
    found = re.findall(r"\*\*(Question\s+\d+|Q\d+)\.?\*\*", before)
    return found[-1] if found else f'the question under "{heading_before(cells, index)}"'


def _title(heading):
    """A notebook heading as plain text: no LaTeX dollars, backslashes or backticks."""
    if heading is None:
        return "(before the first heading)"
    text = plain_text(heading)
    return text if len(text) <= 90 else text[:87] + "..."


def notebook_standings(path, rel, checks, results, rows=BY_GRADE_ID):
    """[Standing] of one notebook; `results` caches check results across notebooks; `rows`:
    {grade_id: registry row} of the graded cells."""
    cells = nbformat.read(path, as_version=4).cells
    standings, solution, last = [], None, None
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            solution = cell
            continue
        if not meta.get("grade"):
            continue
        max_points = meta.get("points", 0) or 0
        title = _title(heading_before(cells, index))
        if cell.cell_type == "markdown":
            answered = ANSWER_PLACEHOLDER not in cell.source and cell.source.strip() != ""
            standings.append(Standing(rel, _question_name(cells, index),
                                      "answered" if answered else "not answered", 0, max_points))
            continue
        # A package exercise's cell (its registry row names the exercise) is checked here
        # on the installed package; a notebook exercise's cell is judged from the notebook as
        # saved, like any in-notebook exercise.
        row = rows.get(meta.get("grade_id"))
        if row is not None and row.exercise:
            if row.check not in results:
                results[row.check] = run_check(checks, row.check)
            status, detail = results[row.check]
            function = row.exercise.rsplit(".", 1)[0]
            name = title if function in title else f"{title}: {function}"
            if row.check != f"check_{function}":
                name = f"{name} ({row.check[len('check_'):].replace('_', ' ')})"
        elif solution is not None:
            if any(word in solution.source for word in STUB_WORDS):
                status, detail = "not started", ""
            else:
                status, detail = _stored_result(cell)
            name, solution = title, None
        else:
            # A further check of the exercise above, run in the notebook's own context: it
            # cannot pass before that exercise does.
            name = f"{last.name} (further check)" if last is not None else title
            if last is not None and last.status != "done":
                status = last.status
                detail = (f"it checks more of the same exercise and cannot pass while the check above "
                          f"({last.name}) fails" if last.status == "failing" else "")
            else:
                status, detail = _stored_result(cell)
        last = Standing(rel, name, status, max_points if status == "done" else 0, max_points, detail)
        standings.append(last)
    return standings


def standings(root, checks=None, rows=BY_GRADE_ID):
    """[Standing] of every notebook of the course at `root`, in order. `checks` is the
    module of check functions (default: cs231n_bn.checks); `rows`: {grade_id: registry row}
    of the graded cells (default: the course's registry)."""
    if checks is None:
        checks = importlib.import_module("cs231n_bn.checks")
    results = {}
    found = []
    for path in sorted(Path(root, "notebooks").glob("[0-9][0-9]_*.ipynb")):
        found += notebook_standings(path, f"notebooks/{path.name}", checks, results, rows)
    return found


def _points(value):
    return f"{value:g}"


def format_standings(items):
    """The report: one line per exercise, a failure's diagnosis under it, and the totals."""
    lines, notebook = [], None
    for item in items:
        if item.notebook != notebook:
            notebook = item.notebook
            lines += ["", notebook]
        shown = f"-/{_points(item.max_points)}" if item.written else f"{_points(item.points)}/{_points(item.max_points)}"
        lines.append(f"  {item.status:<12} {shown:>6}  {item.name}")
        if item.detail and item.status in ("failing", "not checked") or (
            # a stub of an earlier notebook holds this exercise up: say which
            item.status == "not started" and item.detail and f"of {item.notebook}:" not in item.detail
        ):
            wrapped = [w for text in item.detail.strip().split("\n") for w in textwrap.wrap(text, 72) or [""]]
            if len(wrapped) > DETAIL_LINES:
                wrapped = wrapped[: DETAIL_LINES - 1] + ["... (the rest: run the exercise's check cell)"]
            lines += [f"{'':23}{text}" for text in wrapped]
    code = [i for i in items if not i.written]
    written = [i for i in items if i.written]
    count = {s: sum(i.status == s for i in code) for s in ("done", "failing", "not started", "not checked")}
    lines += [
        "",
        f"Exercises: {_points(sum(i.points for i in code))} of {_points(sum(i.max_points for i in code))} "
        f"points done; {count['done']} done, {count['failing']} failing, {count['not started']} not started, "
        f"{count['not checked']} not checked yet.",
        f"Written answers: {sum(i.status == 'answered' for i in written)} of {len(written)} answered "
        f"({_points(sum(i.max_points for i in written))} points, graded by your instructor).",
    ]
    return "\n".join(lines).lstrip("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn.progress", description=__doc__.split("\n")[0])
    parser.add_argument("--course", help="the course folder (default: the one this package comes from)")
    args = parser.parse_args(argv)
    try:
        root = course_root(args.course)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_standings(standings(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
