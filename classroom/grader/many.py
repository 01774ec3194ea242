"""Grade a whole class: many submissions, several at a time, each in a grader of its own.

    python -m classroom grade SUBMISSIONS --jobs 2 --out grades/

SUBMISSIONS is one student's copy, a folder of copies (one folder per student), or an
nbgrader `submitted/` tree (submitted/STUDENT/ASSIGNMENT/). Each copy is graded by its own
`python -m classroom grade COPY --json ...` process, at most `jobs` at a time: whatever one
submission does to its grader (a crash, a hang past every limit), it costs that student
only, and every other student's grades are written. Each student's results are written as
soon as they are known, atomically (GRADES/<student>.json and .txt), a progress bar shows
how far the class is, and the class report (class_report.py) is written at the end.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from classroom.grader.plain import plain
from classroom.grader.sandbox import SINGLE_THREADED

COPY_MARKERS = ("cs231n_bn", "notebooks")
STDERR_KEPT = 2000  # characters of a failed grader's stderr kept in its report


def is_copy(folder):
    """True when folder looks like a student's copy of the course."""
    return any((Path(folder) / marker).is_dir() for marker in COPY_MARKERS)


def find_submissions(path):
    """[(student name, copy folder)] under path: the copy itself, a folder of copies, or an
    nbgrader submitted/ tree (STUDENT/ASSIGNMENT/ with the copy inside), sorted by name."""
    path = Path(path)
    if is_copy(path):
        return [(path.name, path)]
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink()):
        if is_copy(child):
            found.append((child.name, child))
            continue
        for assignment in sorted(p for p in child.iterdir() if p.is_dir() and not p.is_symlink()):
            if is_copy(assignment):
                found.append((f"{child.name}/{assignment.name}", assignment))
    return found


def file_name(student):
    """A student's name as a file name: nbgrader's STUDENT/ASSIGNMENT joined, nothing else."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", student.replace("/", "__"))[:120] or "_"


def write_atomically(path, text):
    """Write text to path so that a reader sees the old file or the whole new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class Progress:
    """A one-line progress bar on a terminal; one line per finished copy elsewhere."""

    def __init__(self, total, stream=sys.stderr, width=30):
        self.total, self.done, self.failed = total, 0, 0
        self.stream, self.width = stream, width
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.tty = stream.isatty()

    def finished(self, student, summary, failed):
        with self.lock:
            self.done += 1
            self.failed += failed
            elapsed = time.monotonic() - self.started
            filled = round(self.width * self.done / max(self.total, 1))
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} graded"
            bar += f", {self.failed} grader failure(s)" if self.failed else ""
            bar += f", {elapsed:.0f} s"
            if self.tty:
                self.stream.write("\r" + bar + ("\n" if self.done == self.total else ""))
            else:
                self.stream.write(f"{bar}: {plain(student)} {summary}\n")
            self.stream.flush()


def grade_one(student, copy, out_dir, grade_args, time_limit):
    """Grade one copy in its own grader process; write out_dir/<student>.json and .txt.

    Returns (summary line, failed). A grader that crashes or outlives time_limit seconds
    gets a report of its own: 0 points and the reason."""
    name = file_name(student)
    json_path, text_path = out_dir / f"{name}.json", out_dir / f"{name}.txt"
    command = [sys.executable, "-m", "classroom", "grade", str(copy), "--json", str(json_path), *grade_args]
    reason = None
    try:
        # one BLAS thread per grader: `jobs` graders share the machine's cores
        env = {**os.environ, **SINGLE_THREADED}
        done = subprocess.run(command, capture_output=True, timeout=time_limit, stdin=subprocess.DEVNULL, env=env)
        if done.returncode != 0 or not json_path.is_file():
            tail = done.stderr.decode("utf-8", "replace")[-STDERR_KEPT:].strip().splitlines()
            reason = (f"the grader stopped on this copy (exit status {done.returncode}): "
                      f"{tail[-1] if tail else 'no message'}")
        else:
            write_atomically(text_path, plain(done.stdout.decode("utf-8", "replace")))
    except subprocess.TimeoutExpired:
        reason = f"the grader did not finish this copy within {time_limit:g} s"
    if reason is not None:
        report = {"copy": plain(str(copy)), "points": 0.0, "max_points": None, "exercises": [],
                  "warnings": [plain(reason)], "grader_failed": True}
        write_atomically(json_path, json.dumps(report, indent=2) + "\n")
        write_atomically(text_path, plain(reason) + "\n")
        return plain(reason), True
    report = json.loads(json_path.read_text(encoding="utf-8"))
    return f"{report['points']:g} / {report['max_points']:g}", False


def grade_many(submissions, out_dir, jobs=1, grade_args=(), time_limit=7200.0, progress=None):
    """Grade every (student, copy) at most `jobs` at a time; returns {student: summary}.

    Inputs:
    - submissions: [(student name, copy folder)], as find_submissions gives
    - out_dir: folder for the per-student results (created)
    - jobs: copies graded at the same time (each grader runs its jobs one after another)
    - grade_args: extra arguments for each `python -m classroom grade` (limits, --source...)
    - time_limit: seconds after which one copy's grader is stopped
    """
    if jobs < 1:
        raise ValueError(f"grade_many: jobs must be at least 1; got {jobs}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(len(submissions))
    summaries = {}

    def task(student, copy):
        summary, failed = grade_one(student, copy, out_dir, grade_args, time_limit)
        summaries[student] = summary
        progress.finished(student, summary, failed)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(task, student, copy) for student, copy in submissions]:
            future.result()
    return summaries
