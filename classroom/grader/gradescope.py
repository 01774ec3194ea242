"""This grader as a Gradescope autograder: the zip, and what runs inside Gradescope's container.

    python -m classroom gradescope autograder.zip [--grade-args "--timeout 120"]

writes a zip laid out as Gradescope documents it: `setup.sh` (run once when the image is
built: Python, bubblewrap, the course's requirements, and an unprivileged user `student`),
`run_autograder` (run for each submission) and the trusted files (the instructor's
package, checks, grader and notebooks), which Gradescope unpacks into /autograder/source.
For each submission, `run_autograder` calls `python -m classroom.grader.gradescope`, which
grades /autograder/submission with `python -m classroom grade` (in a process of its own)
and always writes /autograder/results/results.json: one test per exercise or check cell
(score, max_score, output, visibility), the total, and the grader's warnings.

Gradescope's containers run as root and may not allow user namespaces, so bubblewrap may
not start there; the grader then runs student code as the user `student` (`--run-as`),
which cannot read /autograder/source (setup.sh makes it root-only) nor write the results.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from classroom.grader.many import is_copy, write_atomically
from classroom.grader.plain import plain

TRUSTED = ("README.md", "pyproject.toml", "requirements.txt", "cs231n_bn", "classroom", "notebooks", "datasets")
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
STUDENT_USER = "student"

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -r /autograder/source/requirements.txt
/autograder/venv/bin/pip install /autograder/source
# student code runs as this user where bubblewrap cannot (no user namespaces): it must not
# read the trusted files, hidden checks and solutions included
id -u {user} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {user}
chmod -R go-rwx /autograder/source
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission, as root, in /autograder. The variables exist
# for testing the autograder outside Gradescope.
set -u
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/venv/bin/python}}"
mkdir -p "$root/results"
cd "$root/source" || exit 1
exec "$python" -m classroom.grader.gradescope --root "$root" --run-as "${{AUTOGRADER_RUN_AS:-{user}}}" -- {args}
"""


def _trusted_files(source):
    """(path on disk, name in the zip) of every trusted file of the checkout."""
    source = Path(source)
    for top in TRUSTED:
        path = source / top
        if path.is_file():
            yield path, top
        elif path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.endswith(".egg-info"))
                for name in sorted(files):
                    full = Path(folder, name)
                    yield full, full.relative_to(source).as_posix()


def _executable(info_name):
    info = zipfile.ZipInfo(info_name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def export_gradescope(dest, source, grade_args=()):
    """Write the autograder zip to dest; returns its path.

    Inputs: dest: the zip to write; source: the instructor's checkout; grade_args: options
    passed to `python -m classroom grade` for each submission (limits, --no-notebooks...).
    """
    dest = Path(dest)
    args = " ".join(shlex.quote(a) for a in grade_args)
    temporary = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_executable("setup.sh"), SETUP.format(user=STUDENT_USER))
        archive.writestr(_executable("run_autograder"), RUN.format(user=STUDENT_USER, args=args))
        for path, name in _trusted_files(source):
            archive.write(path, name)
    os.replace(temporary, dest)
    return dest


# ---------------------------------------------------------------------------------------
# Inside Gradescope's container
# ---------------------------------------------------------------------------------------


def submitted_copy(submission):
    """The student's copy in Gradescope's submission folder: the folder itself, or the one
    folder of the course inside it (a zip of the whole folder unpacks that way)."""
    submission = Path(submission)
    if is_copy(submission):
        return submission
    inside = [p for p in submission.iterdir() if p.is_dir() and not p.is_symlink() and is_copy(p)]
    return inside[0] if len(inside) == 1 else submission


def results_json(report, seconds):
    """Gradescope's results.json (a dict) from the grader's JSON report. Written answers are
    not autograder tests (grade them as manual questions); the output names their points."""
    tests = []
    for item in report.get("exercises", []):
        if item.get("status") == "skipped" or item.get("kind") == "manual":
            continue
        status, message = item.get("status", ""), item.get("message", "")
        label = f" ({item['counted_in']})" if item.get("counted_in") else ""
        test = {"name": plain(f"{item.get('notebook', '')} {item.get('exercise', '')}{label}".strip()),
                "score": float(item.get("points", 0)), "max_score": float(item.get("max_points", 0)),
                "output": plain(f"{status}: {message}" if message else status), "visibility": "visible"}
        tests.append(test)
    lines = [plain(w) for w in report.get("warnings", [])]
    if report.get("manual_points_to_grade"):
        lines.append(f"written answers to grade by hand: {report['manual_points_to_grade']:g} points")
    return {"score": float(report.get("points", 0)), "execution_time": round(seconds, 1),
            "output": "\n".join(lines) if lines else "graded by the course's sandboxed grader",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def run(root, grade_args, run_as=None):
    """Grade root/submission against root/source; always writes root/results/results.json."""
    root = Path(root)
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    copy = submitted_copy(root / "submission")
    with tempfile.TemporaryDirectory(prefix="cs231n_gradescope_") as work:
        report_path = Path(work) / "report.json"
        command = [sys.executable, "-m", "classroom", "grade", str(copy), "--json", str(report_path),
                   "--source", str(root / "source"), *(["--run-as", run_as] if run_as else []), *grade_args]
        done = subprocess.run(command, cwd=root / "source", capture_output=True, stdin=subprocess.DEVNULL)
        sys.stdout.write(done.stdout.decode("utf-8", "replace"))  # the instructor's log on Gradescope
        if done.returncode == 0 and report_path.is_file():
            report = json.loads(report_path.read_text(encoding="utf-8"))
            payload = results_json(report, time.monotonic() - started)
        else:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()
            payload = {"score": 0.0, "execution_time": round(time.monotonic() - started, 1),
                       "output": plain(f"the grader stopped on this submission (exit status {done.returncode}): "
                                       f"{tail[-1] if tail else 'no message'}; ask the course staff"),
                       "visibility": "visible", "stdout_visibility": "hidden", "tests": []}
    write_atomically(results, json.dumps(payload, indent=2) + "\n")
    return payload


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m classroom.grader.gradescope", description=__doc__)
    parser.add_argument("--root", default="/autograder", help="Gradescope's folder (default: /autograder)")
    parser.add_argument("--run-as", help="user for student code where bubblewrap cannot run")
    parser.add_argument("grade_args", nargs="*", help="options for `python -m classroom grade` (after --)")
    args = parser.parse_args(argv)
    run_as = args.run_as
    if run_as and os.getuid() != 0:
        run_as = None  # only root can hand a job to another user (Gradescope runs as root)
    payload = run(args.root, args.grade_args, run_as)
    print(f"score {payload['score']:g}; results in {plain(Path(args.root, 'results', 'results.json'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
