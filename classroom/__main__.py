"""Command line: `python -m classroom release DEST`, `... grade COPY_OR_CLASS`, `... report GRADES`
and `... gradescope ZIP`."""

import argparse
import shlex
import sys
from pathlib import Path

from classroom.grader.class_report import write_class_report
from classroom.grader.gradescope import export_gradescope
from classroom.grader.many import find_submissions, grade_many, is_copy
from classroom.grader.plain import plain
from classroom.grader.grade import PACKAGE_SOURCE, Limits, format_table, grade, write_json
from classroom.edition.regions import RegionError
from classroom.edition.release import ReleaseError, release


def _release(args):
    report = release(args.source, args.dest, committed=not args.working_tree, solution_hints=args.with_solution_hints)
    if report.uncommitted:
        print(
            f"note: built from the last commit; uncommitted changes to {len(report.uncommitted)} "
            f"tracked file(s) are left out ({', '.join(report.uncommitted)}); commit them, or "
            f"pass --working-tree to release the files on disk",
            file=sys.stderr,
        )
    print(
        f"student edition written to {args.dest}: {report.files} files, "
        f"{len(report.stubbed_functions)} package functions stubbed, "
        f"{report.notebook_regions} notebook solution regions replaced, "
        f"{report.hidden_regions} hidden-test regions removed"
    )
    if report.on_purpose:
        print(
            f"({report.on_purpose} solution lines stay visible outside their regions on purpose, "
            f"listed with their reasons in classroom/edition/leaks.py, STATED_ON_PURPOSE)"
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _child_arguments(args):
    """The options of this `grade` command, for the grader of each copy of a class."""
    extra = ["--source", str(args.source), "--timeout", str(args.timeout), "--memory-mb", str(args.memory_mb),
             "--max-processes", str(args.max_processes)]
    extra += ["--no-notebooks"] if args.no_notebooks else []
    extra += ["--no-sandbox"] if args.no_sandbox else []
    extra += ["--run-as", args.run_as] if args.run_as else []
    for name in args.notebook or []:
        extra += ["--notebook", name]
    for name in args.exercise or []:
        extra += ["--exercise", name]
    return extra


def _grade_class(args):
    submissions = find_submissions(args.copy)
    if not submissions:
        print(f"error: no copy of the course found in {plain(args.copy)} (a copy holds cs231n_bn/ or notebooks/)",
              file=sys.stderr)
        return 2
    out = Path(args.out or "grades")
    print(f"grading {len(submissions)} copies, {args.jobs} at a time; results in {plain(out)}/", file=sys.stderr)
    grade_many(submissions, out, jobs=args.jobs, grade_args=_child_arguments(args))
    table, figure = write_class_report(out)
    print(table.read_text(encoding="utf-8"))
    print(f"class report: {plain(table)} and {plain(figure)}")
    return 0


def _grade(args):
    if args.out or args.jobs > 1 or not is_copy(args.copy):
        return _grade_class(args)
    limits = Limits(
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        max_processes=args.max_processes,
        run_as=args.run_as,
    )
    report = grade(args.copy, args.source, notebooks=not args.no_notebooks, only=args.notebook, limits=limits,
                   use_bwrap=not args.no_sandbox, exercises=args.exercise)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    return 0


def _report(args):
    table, figure = write_class_report(Path(args.grades))
    print(table.read_text(encoding="utf-8"))
    print(f"class report: {plain(table)} and {plain(figure)}")
    return 0


def _gradescope(args):
    written = export_gradescope(args.zip, args.source, shlex.split(args.grade_args))
    print(f"Gradescope autograder written to {plain(written)}: upload it as the assignment's autograder")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m classroom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="write the student edition into a new folder")
    rel.add_argument("dest", help="new (or empty) folder for the student edition")
    rel.add_argument("--source", default=PACKAGE_SOURCE, help="the instructor's checkout (default: this one)")
    rel.add_argument("--working-tree", action="store_true",
                     help="release the files on disk, uncommitted edits included (default: the last commit)")
    rel.add_argument("--with-solution-hints", action="store_true",
                     help="keep the last hint level, the formulas, in the student edition (default: left out)")
    rel.set_defaults(run=_release)

    gr = commands.add_parser("grade", help="grade a student's copy, or a whole class, offline")
    gr.add_argument("copy", help="folder of the student's copy of the course, a folder of copies, "
                                 "or an nbgrader submitted/ tree")
    gr.add_argument("--json", help="also write the table as JSON to this file (one copy)")
    gr.add_argument("--jobs", type=int, default=1, help="copies of a class graded at the same time (1)")
    gr.add_argument("--out", help="folder for a class's results, one JSON and one table per student, and the "
                                  "class report (default: grades/)")
    gr.add_argument("--run-as", help="without bubblewrap, run student code as this unprivileged user (name or "
                                     "uid; the grader must be root): it cannot read files only root can")
    gr.add_argument("--source", default=PACKAGE_SOURCE, help="the instructor's checkout (default: this one)")
    gr.add_argument("--no-notebooks", action="store_true", help="grade the package exercises only")
    gr.add_argument("--notebook", action="append", help="run only this notebook (file name; repeatable)")
    gr.add_argument("--exercise", action="append",
                    help="grade only this package exercise, e.g. batchnorm_forward (repeatable)")
    gr.add_argument("--no-sandbox", action="store_true",
                    help="do not use bubblewrap even where it is installed (student code can then reach your files)")
    limits = Limits()
    gr.add_argument("--timeout", type=float, default=limits.timeout,
                    help=f"seconds per job: a package exercise's cell, or a notebook's exercises ({limits.timeout:g})")
    gr.add_argument("--memory-mb", type=int, default=limits.memory_mb,
                    help=f"MiB of memory per job, per process and for the whole job ({limits.memory_mb})")
    gr.add_argument("--max-processes", dest="max_processes", type=int, default=limits.max_processes,
                    help=f"processes and threads per job ({limits.max_processes})")
    gr.set_defaults(run=_grade)

    rep = commands.add_parser("report", help="the class report of a folder of graded results")
    rep.add_argument("grades", help="folder of per-student JSON results (grade --out)")
    rep.set_defaults(run=_report)

    gs = commands.add_parser("gradescope", help="write a Gradescope autograder zip of this grader")
    gs.add_argument("zip", help="the zip file to write")
    gs.add_argument("--source", default=PACKAGE_SOURCE, help="the instructor's checkout (default: this one)")
    gs.add_argument("--grade-args", default="",
                    help="options for the grader on Gradescope, as one string (e.g. \"--timeout 120\")")
    gs.set_defaults(run=_gradescope)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ReleaseError, RegionError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
