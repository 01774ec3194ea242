"""Write an nbgrader course directory whose assignment grades the student's own package.

    python nbgrader_course/make_source.py COURSE [--assignment NAME] [--notebooks 01 02 ...]

COURSE/source/NAME/ receives:
- the instructor's notebooks (solutions and hidden tests in place: nbgrader's
  generate_assignment takes them out, and autograde puts the check cells back);
- the student edition of the package, `cs231n_bn/` (solution regions replaced by stubs, as
  `python -m classroom release` writes it) and `datasets/`, beside the notebooks.
COURSE/nbgrader_config.py is copied from this folder (as committed).

Both come from the last commit of the checkout, as `python -m classroom release` builds
(an autosaved or half-run notebook on disk is never handed out); the command names the
tracked files whose uncommitted changes it left out.

The notebooks import `cs231n_bn` from their own folder, which Python searches before the
installed packages, so every notebook (in the student's JupyterLab and under `nbgrader
autograde` alike) runs the package that lies beside it: the one the student handed in.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from classroom.edition.release import committed_tree, uncommitted_files

HERE = Path(__file__).resolve().parent
COURSE_ROOT = HERE.parent  # the instructor's checkout


def make_source(course, assignment="batchnorm", notebooks=None, source=COURSE_ROOT):
    """Fill course/source/assignment/ and return that folder.

    Inputs:
    - course: the nbgrader course directory (created if missing)
    - assignment: nbgrader's name for the assignment
    - notebooks: notebook numbers as strings ("01", "08"), or None for all of them
    - source: the instructor's checkout

    Returns:
    - Path of course/source/assignment
    """
    course, source = Path(course).resolve(), Path(source).resolve()
    dest = course / "source" / assignment
    if dest.exists():
        raise FileExistsError(f"make_source: {dest} exists already; remove it to build it again")
    with tempfile.TemporaryDirectory() as tmp:
        # The notebooks as committed: the same source the release of the package uses.
        head = Path(tmp) / "head"
        head.mkdir()
        committed_tree(source, head)
        paths = sorted((head / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if notebooks is not None:
            wanted = set(notebooks)
            paths = [p for p in paths if p.name[:2] in wanted]
            missing = wanted - {p.name[:2] for p in paths}
            if missing:
                raise FileNotFoundError(f"make_source: no notebook numbered {sorted(missing)} in the last commit's notebooks/")
        student = Path(tmp) / "student"
        done = subprocess.run(
            [sys.executable, "-m", "classroom", "release", str(student), "--source", str(source)],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"make_source: the release of the package failed:\n{done.stdout}{done.stderr}")
        dest.mkdir(parents=True)
        for folder in ("cs231n_bn", "datasets"):
            shutil.copytree(student / folder, dest / folder)
        for path in paths:
            shutil.copy2(path, dest / path.name)
        shutil.copy2(head / "nbgrader_course" / "nbgrader_config.py", course / "nbgrader_config.py")
    return dest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("course", help="the nbgrader course directory (created if missing)")
    parser.add_argument("--assignment", default="batchnorm", help="assignment name (default: batchnorm)")
    parser.add_argument("--notebooks", nargs="+", help="notebook numbers, e.g. 01 02 (default: all)")
    args = parser.parse_args(argv)
    dest = make_source(args.course, args.assignment, args.notebooks)
    left_out = uncommitted_files(COURSE_ROOT)
    if left_out:
        print(f"note: built from the last commit; uncommitted changes to {len(left_out)} tracked file(s) "
              f"are left out ({', '.join(left_out)}); commit them and build again to include them")
    print(f"nbgrader source written to {dest} from the last commit; next, in {Path(args.course).resolve()}: "
          f"nbgrader generate_assignment {args.assignment}")


if __name__ == "__main__":
    main()
