"""Command line: `python -m classroom release DEST` and `... grade COPY`."""

import argparse
import sys

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
            f"e.g. in notebook 2's graph figure: classroom/edition/leaks.py, STATED_ON_PURPOSE)"
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _grade(args):
    limits = Limits(
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        notebook_timeout=args.notebook_timeout,
        cell_timeout=args.cell_timeout,
        notebook_memory_mb=args.notebook_memory_mb,
        max_processes=args.max_processes,
    )
    report = grade(args.copy, args.source, notebooks=not args.no_notebooks, only=args.notebook, limits=limits,
                   use_bwrap=not args.no_sandbox, exercises=args.exercise)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
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

    gr = commands.add_parser("grade", help="grade a student's copy offline")
    gr.add_argument("copy", help="folder of the student's copy of the course")
    gr.add_argument("--json", help="also write the table as JSON to this file")
    gr.add_argument("--source", default=PACKAGE_SOURCE, help="the instructor's checkout (default: this one)")
    gr.add_argument("--no-notebooks", action="store_true", help="grade the package exercises only")
    gr.add_argument("--notebook", action="append", help="run only this notebook (file name; repeatable)")
    gr.add_argument("--exercise", action="append",
                    help="grade only this package exercise, e.g. batchnorm_forward (repeatable)")
    gr.add_argument("--no-sandbox", action="store_true",
                    help="do not use bubblewrap even where it is installed (student code can then reach your files)")
    limits = Limits()
    gr.add_argument("--timeout", type=float, default=limits.timeout,
                    help=f"seconds per package exercise ({limits.timeout:g})")
    gr.add_argument("--memory-mb", type=int, default=limits.memory_mb,
                    help=f"MiB of memory per package exercise, per process and per job ({limits.memory_mb})")
    gr.add_argument("--notebook-timeout", type=float, default=limits.notebook_timeout,
                    help=f"seconds per notebook ({limits.notebook_timeout:g})")
    gr.add_argument("--cell-timeout", type=int, default=limits.cell_timeout,
                    help=f"seconds per notebook cell ({limits.cell_timeout})")
    gr.add_argument("--max-processes", dest="max_processes", type=int, default=limits.max_processes,
                    help=f"processes and threads per package exercise ({limits.max_processes})")
    gr.add_argument("--notebook-memory-mb", type=int, default=limits.notebook_memory_mb,
                    help=f"MiB of memory per notebook run, kernel included ({limits.notebook_memory_mb})")
    gr.set_defaults(run=_grade)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ReleaseError, RegionError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
