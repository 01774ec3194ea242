"""Attacks on the exchanges between the grader and a job (issue 20), one test per class.

Each test plants one attack in a solved copy of the package and grades one exercise with
`judge` (the grader's side of one job). What must hold: the grader returns within the
job's time limit with a verdict of 0 points and a reason, and the trusted side never works
on more than the limits allow.

Instructor-only (the release leaves tests/classroom/ out).
"""

import importlib.util
import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from classroom.edition.release import release
from classroom.grader.grade import Limits, format_table, grade, write_json
from classroom.grader.judge import judge
from classroom.grader import sandbox
from classroom.grader.sandbox import bwrap_path
from classroom.grader.student_process import StudentProcess
from classroom.grader.submission import MAX_PROBLEMS, snapshot
from cs231n_bn.checks.registry import BY_FUNCTION, cells_of

SOURCE = Path(__file__).resolve().parents[2]
BWRAP = bwrap_path()
LIMITS = Limits(timeout=8, memory_mb=1024)


@pytest.fixture()
def solved(tmp_path):
    """A sanitized submission folder holding the solved package (what `snapshot` makes)."""
    for part in ("cs231n_bn", "notebooks"):
        shutil.copytree(SOURCE / part, tmp_path / "copy" / part, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "copy"


def plant(copy, module, code):
    with open(copy / "cs231n_bn" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + code + "\n")


def judged(copy, function, limits=LIMITS):
    """(status, message, seconds) of one exercise; asserts it ended within its time limit."""
    started = time.monotonic()
    status, message = judge(copy, BY_FUNCTION[function], cells_of(function)[0].check, SOURCE, limits, BWRAP)
    seconds = time.monotonic() - started
    assert seconds < limits.timeout + 20, (status, message)
    return status, message, seconds


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_control_the_solved_function_passes(solved):
    status, message, _ = judged(solved, "batchnorm_forward")
    assert status == "pass", message


def test_a_running_average_replaced_by_an_oracle_reaches_the_check_as_a_new_array(solved):
    """spatial_batchnorm_forward calls batchnorm_forward, which the grader runs for it: the new
    running averages it stores must come back as new arrays through both hops, or the solved
    function would be told it updated the caller's arrays in place."""
    status, message, _ = judged(solved, "spatial_batchnorm_forward")
    assert status == "pass", message


# The worker's two pipes are its argv[1] (grader -> job) and argv[2] (job -> grader).
STOP_READING = """
def batchnorm_forward(x, gamma, beta, bn_param, _real=batchnorm_forward):
    import os, sys, time
    # fill the grader-to-job pipe from inside, then never read again: the grader's next
    # write of a call would block for good without a deadline
    stuffed = os.open(f"/proc/self/fd/{sys.argv[1]}", os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(stuffed, b"\\0" * 65536)
    except BlockingIOError:
        pass
    sys.modules["wire"].receive = lambda *args, **kwargs: time.sleep(10**6)
    return _real(x, gamma, beta, bn_param)
"""


def test_a_job_that_stops_reading_cannot_stall_the_graders_writes(solved):
    plant(solved, "batchnorm.py", STOP_READING)
    status, message, _ = judged(solved, "batchnorm_forward")
    assert status == "timeout" and "stopped reading" in message


STOP_WRITING = """
def batchnorm_forward(x, gamma, beta, bn_param):
    import os, sys, time
    os.write(int(sys.argv[2]), (10**6).to_bytes(8, "big") + b"[")  # a frame begun, never finished
    time.sleep(10**6)
"""


def test_a_job_that_stops_midway_through_a_frame_cannot_stall_the_graders_reads(solved):
    plant(solved, "batchnorm.py", STOP_WRITING)
    status, _, _ = judged(solved, "batchnorm_forward")
    assert status == "timeout"


FLOOD = """
def batchnorm_forward(x, gamma, beta, bn_param):
    import os, sys, time
    document = b"[" + b"{}," * (60 * 2**20 // 3) + b"{}]"
    frame = len(document).to_bytes(8, "big") + document
    os.write(int(sys.argv[2]), (len(frame)).to_bytes(8, "big"))
    out = int(sys.argv[2])
    view = memoryview(frame)
    while view:
        view = view[os.write(out, view):]
    time.sleep(10**6)
"""


def test_a_frame_flood_of_empty_objects_is_refused_without_building_them(solved):
    plant(solved, "batchnorm.py", FLOOD)
    before = peak_rss_mb()
    status, message, _ = judged(solved, "batchnorm_forward", Limits(timeout=30, memory_mb=1024))
    assert status == "error" and "document" in message
    assert peak_rss_mb() - before < 400  # the frame is read (64 MiB at most), never parsed


DEEP = """
def batchnorm_forward(x, gamma, beta, bn_param):
    import os, sys, time
    document = b"[" * 100_000 + b"]" * 100_000
    frame = len(document).to_bytes(8, "big") + document
    os.write(int(sys.argv[2]), len(frame).to_bytes(8, "big") + frame)
    time.sleep(10**6)
"""


def test_a_reply_nested_100000_deep_is_refused_before_parsing(solved):
    plant(solved, "batchnorm.py", DEEP)
    status, message, _ = judged(solved, "batchnorm_forward")
    assert status == "error" and "nested" in message


# A forged batch-norm cache whose fields broadcast against each other: (K, 1) with (1, K)
# makes the trusted backward pass build K*K numbers (80 GB for K = 100,000).
FORGED_CACHE = """
def spatial_batchnorm_backward(dout, cache, _real=spatial_batchnorm_backward):
    import numpy as np
    from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward
    K = 100_000
    column, row = np.ones((K, 1)), np.ones((1, K))
    forged = BatchNormCache("train", column, row, column, row, row, row, column, row, 1e-5)
    batchnorm_backward(np.ones((K, 1)), forged)
    return _real(dout, cache)
"""


def test_an_oracle_refuses_a_forged_cache_with_broadcasting_shapes_before_running(solved):
    plant(solved, "spatial.py", FORGED_CACHE)
    before = peak_rss_mb()
    status, message, _ = judged(solved, "spatial_batchnorm_backward", Limits(timeout=30, memory_mb=1024))
    assert status in ("fail", "error") and "does not fit" in message
    assert peak_rss_mb() - before < 200


OVERSIZED = """
def spatial_batchnorm_forward(x, gamma, beta, bn_param, _real=spatial_batchnorm_forward):
    import numpy as np
    from cs231n_bn.batchnorm import batchnorm_forward
    batchnorm_forward(np.ones((2**12, 2**11)), np.ones(2**11), np.zeros(2**11), {"mode": "train"})
    return _real(x, gamma, beta, bn_param)
"""


def test_an_oracle_refuses_inputs_beyond_its_size_limit(solved):
    plant(solved, "spatial.py", OVERSIZED)
    status, message, _ = judged(solved, "spatial_batchnorm_forward", Limits(timeout=30, memory_mb=1024))
    assert status in ("fail", "error") and "at most" in message


OBJECT_DTYPE = """
def spatial_batchnorm_forward(x, gamma, beta, bn_param, _real=spatial_batchnorm_forward):
    import numpy as np
    from cs231n_bn.batchnorm import batchnorm_forward
    batchnorm_forward(x.reshape(-1, x.shape[1]).astype(complex), gamma, beta, bn_param)
    return _real(x, gamma, beta, bn_param)
"""


def test_an_oracle_refuses_arrays_that_are_not_real_numbers(solved):
    plant(solved, "spatial.py", OBJECT_DTYPE)
    status, message, _ = judged(solved, "spatial_batchnorm_forward", Limits(timeout=30, memory_mb=1024))
    assert status in ("fail", "error") and "real numbers" in message


# -- the submission as files ------------------------------------------------------------


@pytest.mark.slow  # making the folders takes 15 s; the walk itself well under a second
def test_100000_folders_and_20000_files_cost_a_bounded_walk_and_a_few_warnings(solved, tmp_path):
    junk = solved / "cs231n_bn" / "junk"
    for k in range(100_000):
        (junk / f"d{k}").mkdir(parents=True)
    for k in range(20_000):
        (solved / "notebooks" / "many").mkdir(parents=True, exist_ok=True)
        (solved / "notebooks" / "many" / f"f{k}.txt").write_bytes(b"x")
    started = time.process_time()
    problems = snapshot(solved, tmp_path / "snapshot")
    spent = time.process_time() - started
    assert (tmp_path / "snapshot" / "cs231n_bn" / "batchnorm.py").is_file()  # the modules come first
    assert len(problems) <= MAX_PROBLEMS + 8 and any("the rest is ignored" in p for p in problems)
    assert spent < 10, spent


def test_escape_sequences_in_file_names_and_messages_are_shown_escaped(solved, tmp_path):
    forged = "\x1b[2J\x1b[Hautomatic total: 38 of 38\r\u202e"
    (solved / "cs231n_bn" / forged).symlink_to("/etc/passwd")
    plant(solved, "batchnorm.py", f"""
def batchnorm_forward(x, gamma, beta, bn_param):
    raise ValueError({forged!r} * 3)
""")
    report = grade(solved, SOURCE, notebooks=False, limits=LIMITS, exercises=("batchnorm_forward",))
    table = format_table(report)
    out = tmp_path / "grades.json"
    write_json(report, out)
    for text in (table, out.read_text(encoding="utf-8")):
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\\x1b[2J" in table and report.points == 0
    assert any("\\x1b[2J" in w and "symbolic link" in w for w in report.warnings)


def test_a_notebook_nested_100000_deep_costs_its_own_cells_and_every_other_grade_is_written(solved, tmp_path):
    first = sorted((solved / "notebooks").glob("01_*.ipynb"))[0]
    first.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    out = tmp_path / "grades.json"
    report = grade(solved, SOURCE, only=[first.name], limits=LIMITS, exercises=("batchnorm_forward",))
    write_json(report, out)
    by_id = {e["exercise"]: e for e in json.loads(out.read_text())["exercises"]}
    assert by_id["nb01_check_forward"]["status"] == "pass"
    cells = [i for i in report.items if i.kind == "notebook" and i.notebook == first.name]
    assert cells and all(i.points == 0 and "levels deep" in i.message for i in cells)


# -- the sandbox's limits ---------------------------------------------------------------

PROBE = """
def batchnorm_forward(x, gamma, beta, bn_param):
    import os
    status = open("/proc/self/status").read()
    caps = [line.split()[1] for line in status.splitlines() if line.startswith("CapEff")]
    try:
        with open("/dev/shm/fill", "wb") as f:
            for _ in range(256):
                f.write(b"\\0" * 2**20)
        shm = "unbounded"
    except OSError:
        shm = "bounded"
    raise ValueError(f"uid={os.getuid()} gid={os.getgid()} caps={caps} pid={os.getpid()} shm={shm} "
                     f"map={open('/proc/self/uid_map').read().split()}")
"""


@pytest.mark.skipif(BWRAP is None, reason="bubblewrap is not installed")
def test_a_job_runs_unprivileged_as_pid_1_with_a_bounded_shared_memory(solved):
    plant(solved, "batchnorm.py", PROBE)
    status, message, _ = judged(solved, "batchnorm_forward")
    assert status in ("fail", "error"), message
    assert f"uid={sandbox.JOB_UID} gid={sandbox.JOB_UID}" in message and "caps=['0000000000000000']" in message
    assert "pid=1 " in message and "shm=bounded" in message and "map=['0'," not in message


def test_cgroups_of_a_killed_grader_are_removed_when_grading_starts_and_others_are_kept():
    kind = sandbox.cgroup_kind()
    parent = sandbox._v2_parent() if kind == "cgroup v2" else sandbox._v1_parent("pids")
    if kind not in ("cgroup v1", "cgroup v2"):
        pytest.skip(f"no cgroup folder can be made here ({kind or 'none'})")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = parent / f"{sandbox.CGROUP_PREFIX}{dead.pid}_feedc0de"
    live = parent / f"{sandbox.CGROUP_PREFIX}{os.getpid()}_feedc0de"
    stale.mkdir()
    live.mkdir()
    try:
        assert sandbox.clean_stale_cgroups() >= 1
        assert not stale.exists() and live.exists()
    finally:
        for path in (stale, live):
            if path.exists():
                path.rmdir()


def test_a_job_has_its_own_cgroup_while_it_runs_and_none_is_left_after(solved):
    kind = sandbox.cgroup_kind()
    if kind not in ("cgroup v1", "cgroup v2"):
        pytest.skip(f"no cgroup folder can be made here ({kind or 'none'})")
    parent = sandbox._v2_parent() if kind == "cgroup v2" else sandbox._v1_parent("pids")
    mine = f"{sandbox.CGROUP_PREFIX}{os.getpid()}_"
    plant(solved, "batchnorm.py", """
def batchnorm_forward(x, gamma, beta, bn_param):
    raise ValueError("in " + open("/proc/self/cgroup").read().replace("\\\\n", " "))
""")
    status, message, _ = judged(solved, "batchnorm_forward")
    if BWRAP is None:
        assert mine in message
    assert not [p for p in parent.iterdir() if p.name.startswith(mine)]


# -- nothing instructor-only enters a job ------------------------------------------------


def _strings(value, found):
    """Every str inside a message (containers, dataclasses' fields)."""
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(k, found)
            _strings(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, found)
    return found


def test_no_hidden_test_solution_hint_or_instructor_notebook_enters_a_job(tmp_path, monkeypatch):
    blank = tmp_path / "blank"
    release(SOURCE, blank)
    seen_paths, sent = [], []
    real_job, real_send = sandbox.Job.__init__, StudentProcess._send

    def recording_job(self, argv, jail, *args, **kwargs):
        seen_paths.extend(Path(host) for host, _, _ in jail.binds)
        seen_paths.append(Path(jail.job_dir))
        return real_job(self, argv, jail, *args, **kwargs)

    def recording_send(self, message, refs=None):
        sent.extend(_strings(message, []))
        return real_send(self, message, refs)

    monkeypatch.setattr(sandbox.Job, "__init__", recording_job)
    monkeypatch.setattr(StudentProcess, "_send", recording_send)
    notebooks = sorted(p.name for p in (SOURCE / "notebooks").glob("0[125]_*.ipynb"))  # those with hidden tests
    report = grade(blank, SOURCE, only=notebooks, limits=LIMITS, exercises=("batchnorm_forward",))
    assert report.points == 0 and seen_paths and sent

    hidden = []
    for name in notebooks:
        for cell in json.loads((SOURCE / "notebooks" / name).read_text())["cells"]:
            text = "".join(cell["source"])
            if "BEGIN HIDDEN TESTS" in text:
                inside = text.split("BEGIN HIDDEN TESTS", 1)[1].split("END HIDDEN TESTS", 1)[0]
                hidden += [line.strip() for line in inside.splitlines()[1:-1] if len(line.strip()) > 15]
    assert hidden  # the instructor's notebooks do hold hidden tests to look for
    venv = SOURCE / ".venv"
    for path in seen_paths:
        in_checkout = path.is_relative_to(SOURCE) and not path.is_relative_to(venv)
        assert not in_checkout, f"{path} of the checkout is in a job"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if not path.is_relative_to(
            venv) and "site-packages" not in path.parts else []
        for f in files:
            assert f.name != "solution_hints.py", f
            if f.suffix in (".py", ".ipynb", ".json", ".txt"):
                text = f.read_text(encoding="utf-8", errors="replace")
                assert "HIDDEN TESTS" not in text and not any(line in text for line in hidden), f
    for text in sent:
        assert "HIDDEN TESTS" not in text and not any(line in text for line in hidden)
        assert "checks." not in text  # no check cell's call is run in the job


@pytest.mark.skipif(os.getuid() != 0, reason="only root can hand a job to another user")
def test_without_bwrap_a_job_can_run_as_an_unprivileged_user_who_cannot_read_roots_files(tmp_path):
    secret = tmp_path / "private" / "answers.txt"
    secret.parent.mkdir()
    secret.write_text("the instructor's answers")
    os.chmod(secret.parent, 0o700)
    readable = tmp_path / "copy"
    readable.mkdir()
    (readable / "student.txt").write_text("the student's file")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    out = tmp_path / "out.txt"
    script = (f"id -u; cat {readable / 'student.txt'}; echo; cat {secret} 2>/dev/null || echo refused; "
              f"touch {tmp_path / 'private' / 'planted'} 2>/dev/null || echo refused")
    job = sandbox.Job(["/bin/sh", "-c", script], sandbox.Jail(job_dir, None), 256, 16, stderr_path=out,
                      run_as="65534", readable=(readable,))
    job.wait(30)
    job.kill()
    assert out.read_text().split("\n") == ["65534", "the student's file", "refused", "refused", ""]
    with pytest.raises(ValueError, match="unprivileged"):
        sandbox.job_user("0")


def test_a_delegated_cgroup_v2_subtree_is_found_and_a_jobs_folder_is_made_in_it(tmp_path, monkeypatch):
    # a cgroup-v2 tree as systemd delegates it (Delegate=yes), in plain folders: this machine
    # may have no usable v2 (the kernel's own files, limits and removal cannot be imitated)
    own = tmp_path / "unified" / "system.slice" / "grader.service"
    own.mkdir(parents=True)
    (own / "cgroup.subtree_control").write_text("cpu memory pids\n")
    monkeypatch.setattr(sandbox, "_cgroup_mounts", lambda: [(tmp_path / "unified", "cgroup2", {"rw"})])
    monkeypatch.setattr(sandbox, "_own_paths", lambda: {"": "system.slice/grader.service"})
    assert sandbox._v2_parent() == own
    made = sandbox.JobCgroup("feedc0de", 2**30, 16, kind="cgroup v2")
    assert made.active and made.dirs == [own / f"{sandbox.CGROUP_PREFIX}{os.getpid()}_feedc0de"]
    assert made.dirs[0].is_dir()
    (own / "cgroup.subtree_control").write_text("cpu\n")  # memory and pids not delegated: not usable
    assert sandbox._v2_parent() is None


FORKS = """
def batchnorm_forward(x, gamma, beta, bn_param):
    import os, time
    started = 0
    for _ in range(60):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        except OSError:
            break
    raise ValueError(f"started {started} processes")
"""


def test_the_process_limit_holds_for_the_whole_job(solved):
    if sandbox.cgroup_kind() not in ("cgroup v1", "cgroup v2"):
        pytest.skip("no cgroup here: the process limit is per user only")
    plant(solved, "batchnorm.py", FORKS)
    status, message, seconds = judged(solved, "batchnorm_forward", Limits(timeout=20, memory_mb=1024, max_processes=16))
    started = int(message.split("started ")[1].split()[0])
    assert started < 16 and seconds < 20, message


AUTOGRAD = """
def batchnorm_backward(dout, cache, _real=batchnorm_backward):
    import torch
    torch.zeros(1)  # one call is enough: the watch runs beside the code, in the job
    return _real(dout, cache)
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch in the job's site-packages")
def test_a_backward_pass_that_calls_torch_fails_in_grading_with_the_checks_message(solved):
    """The student's process watches what the graded code calls and reports it; the check
    judges the report by its own rule, so the verdict is the notebook's."""
    plant(solved, "batchnorm.py", AUTOGRAD)
    status, message, _ = judged(solved, "batchnorm_backward", Limits(timeout=60, memory_mb=2048))
    assert status == "fail" and "batchnorm_backward called torch: the exercises are written in NumPy" in message, \
        (status, message)


def test_switching_the_jobs_watch_off_fails_in_grading(solved):
    plant(solved, "batchnorm.py", "def batchnorm_backward(dout, cache, _real=batchnorm_backward):\n"
                                  "    import sys\n    watch = sys.getprofile()\n    sys.setprofile(None)\n"
                                  "    sys.setprofile(watch)  # put back before the call returns\n"
                                  "    return _real(dout, cache)\n")
    status, message, _ = judged(solved, "batchnorm_backward")
    assert status == "fail" and "replaced the check's profiler (sys.setprofile)" in message, (status, message)


def test_a_forward_pass_read_off_the_graph_module_fails_in_grading(solved):
    plant(solved, "batchnorm.py", "def batchnorm_forward(x, gamma, beta, bn_param, _real=batchnorm_forward):\n"
                                  "    from cs231n_bn import graph\n"
                                  "    graph.forward_values(x, gamma, beta)\n"
                                  "    return _real(x, gamma, beta, bn_param)\n")
    status, message, _ = judged(solved, "batchnorm_forward")
    assert status == "fail" and "batchnorm_forward called cs231n_bn.graph" in message, (status, message)
