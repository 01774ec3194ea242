"""The grader against submissions that attack it, one or more per category of issue 14.

Each test plants an attack in a release of the course, grades it, and asserts what must
hold whatever the student does: the points stay at the level the code honestly earns,
nothing of the instructor's changes, no process of a job outlives the grader, and the
grader finishes. Attacks that damage files aim at a decoy checkout (a copy of the course
passed as `source`), never at this one. Controls: the blank and the solved edition.

Instructor-only (the release leaves tests/classroom/ out).
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from classroom.__main__ import main
from classroom.edition.leaks import secret_lines
from classroom.edition.release import release
from classroom.grader import sandbox
from classroom.grader.grade import MAX_MESSAGE, Limits, grade
from classroom.grader.notebook_jobs import grade_rows
from classroom.grader.sandbox import TOKEN_VARIABLE, bwrap_path
from classroom.grader.submission import fingerprint
from cs231n_bn.checks.registry import BY_FUNCTION, CELLS

SOURCE = Path(__file__).resolve().parents[2]
BWRAP = bwrap_path()
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bubblewrap is not installed: the damage and leak guarantees need it")
QUICK = Limits(timeout=30, memory_mb=1024)
CHEAP = ("batchnorm_forward", "batchnorm_backward", "sgd_momentum", "adam")  # a second or so each
MARKER = "313.37"  # the sleep time of processes an attack leaves behind, to find them again


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    root = tmp_path_factory.mktemp("adversarial")
    release(SOURCE, root / "solved", strip=False)
    release(SOURCE, root / "blank")
    return root


def edition(editions, tmp_path, kind, name="copy"):
    """A fresh copy of the solved or the blank edition, to plant an attack in."""
    dest = tmp_path / f"{kind}_{name}"
    shutil.copytree(editions / kind, dest)
    return dest


@pytest.fixture()
def decoy(tmp_path):
    """A copy of the instructor's checkout that attacks aim at, graded as `source`."""
    return make_decoy(tmp_path / "instructor")


def make_decoy(dest):
    for part in ("cs231n_bn", "notebooks"):
        shutil.copytree(SOURCE / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / ".git" / "hooks").mkdir(parents=True)
    (dest / "datasets").mkdir()
    (dest / "datasets" / "digits.npz").write_bytes(b"data the course needs")
    return dest


def append(copy, module, code):
    with open(copy / "cs231n_bn" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + code + "\n")


def job_processes(tokens=None):
    """Processes still carrying the token of one of our grading jobs (default: any job this
    test process started), or left behind by an attack."""
    tokens = set(sandbox.STARTED if tokens is None else tokens)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        carried = {item.split(b"=", 1)[1].decode(errors="replace") for item in environ.split(b"\0")
                   if item.startswith(f"{TOKEN_VARIABLE}=".encode())}
        if carried & tokens or MARKER.encode() in cmdline:
            found.append((int(entry.name), cmdline[:100]))
    return found


def graded(copy, source=None, exercises=CHEAP, limits=QUICK, **kwargs):
    """Grade, and assert what every attack must leave true: the grader finished in time,
    the instructor's checkout is unchanged, and no process of a job is left.

    The checkout graded against is a decoy copy of this one (unless given), so that edits
    to this checkout while the tests run cannot look like an attack's damage."""
    if source is None:
        source = make_decoy(Path(tempfile.mkdtemp(dir=Path(copy).parent)) / "instructor")
    before = fingerprint(source)
    started = time.monotonic()
    report = grade(copy, source, notebooks=kwargs.pop("notebooks", False), limits=limits, exercises=exercises, **kwargs)
    graded_count = len([row for row in CELLS if row.exercise in (exercises or BY_FUNCTION)])
    assert time.monotonic() - started < graded_count * limits.timeout + 120
    assert fingerprint(source) == before
    assert report.instructor_changes == []
    time.sleep(0.2)
    assert job_processes() == []
    return report


def points(report):
    """{exercise: points of its graded cells} of the package exercises graded."""
    found = {}
    for i in report.items:
        if i.kind == "package" and i.status != "skipped":
            found[i.counted_in] = found.get(i.counted_in, 0.0) + i.points
    return found


def full(report, names):
    """{exercise: its maximum} for the given exercises: what honest, correct code earns."""
    found = {}
    for i in report.items:
        if i.kind == "package" and i.counted_in in names:
            found[i.counted_in] = found.get(i.counted_in, 0.0) + i.max_points
    return found


# ---------------------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------------------


def test_control_solved_edition_scores_full_marks(editions, tmp_path):
    report = graded(edition(editions, tmp_path, "solved"))
    assert points(report) == full(report, CHEAP), [(i.exercise, i.message) for i in report.items if i.kind == "package"]


def test_control_blank_edition_scores_zero(editions, tmp_path):
    report = graded(edition(editions, tmp_path, "blank"))
    assert points(report) == dict.fromkeys(CHEAP, 0.0)
    assert all(i.status == "not implemented" for i in report.items if i.counted_in in CHEAP)


@pytest.mark.slow
def test_control_every_exercise_solved_and_blank(editions, tmp_path):
    every = tuple(BY_FUNCTION)
    solved = graded(edition(editions, tmp_path, "solved"), exercises=every, limits=Limits())
    assert points(solved) == full(solved, every), [(i.exercise, i.message) for i in solved.items if i.kind == "package"]
    blank = graded(edition(editions, tmp_path, "blank"), exercises=every, limits=Limits())
    assert set(points(blank).values()) == {0.0}


# ---------------------------------------------------------------------------------------
# Full marks with no code
# ---------------------------------------------------------------------------------------


def test_deleted_exercise_modules_are_exercises_not_done(editions, tmp_path):
    copy = edition(editions, tmp_path, "blank")
    for module in {e.module for e in BY_FUNCTION.values()}:
        (copy / "cs231n_bn" / module).unlink()
    report = graded(copy, exercises=tuple(BY_FUNCTION))
    assert set(points(report).values()) == {0.0}
    assert all(i.status == "missing" for i in report.items if i.kind == "package")


@needs_bwrap
def test_student_code_cannot_find_and_run_the_instructors_solutions(editions, tmp_path):
    # Look everywhere a job could learn where the grader's checkout is (the editable
    # install's finder, arguments, environment, the parent's command line, a path known in
    # advance), and run the solution found there.
    copy = edition(editions, tmp_path, "blank")
    append(copy, "batchnorm.py", f"""
def batchnorm_forward(x, gamma, beta, bn_param):
    import glob, os, re, sys
    text = " ".join(sys.argv) + " " + " ".join(os.environ.values())
    for pid in ("self", str(os.getppid()), "1"):
        try:
            text += " " + open(f"/proc/{{pid}}/cmdline", "rb").read().decode(errors="replace").replace(chr(0), " ")
        except OSError:
            pass
    for folder in sys.path:
        for finder in glob.glob(os.path.join(folder, "__editable__*")):
            text += " " + open(finder, errors="replace").read()
    candidates = set(re.findall(r"(/[\\w./-]+)", text)) | {{{str(SOURCE)!r}, "/work/main"}}
    for candidate in candidates:
        for path in (os.path.join(candidate, "cs231n_bn", "batchnorm.py"), os.path.join(candidate, "batchnorm.py")):
            if os.path.isfile(path):
                solved = {{"__name__": "cs231n_bn.batchnorm"}}
                exec(compile(open(path).read(), path, "exec"), solved)
                return solved["batchnorm_forward"](x, gamma, beta, bn_param)
    raise NotImplementedError("no solution found")
""")
    report = graded(copy, exercises=("batchnorm_forward",))
    assert points(report) == {"batchnorm_forward": 0.0}


def test_a_module_missing_from_the_copy_does_not_fall_through_to_an_installed_package(editions, tmp_path):
    # The running grader's own cs231n_bn is importable in this process (an editable install
    # or PYTHONPATH): the job must not reach it when the copy lacks a module.
    copy = edition(editions, tmp_path, "blank")
    (copy / "cs231n_bn" / "optim.py").unlink()
    append(copy, "batchnorm.py", """
def batchnorm_forward(x, gamma, beta, bn_param):
    import importlib
    return importlib.import_module("cs231n_bn.optim").sgd_momentum  # found only in an installed package
""")
    report = graded(copy, exercises=("batchnorm_forward", "sgd_momentum", "adam"))
    assert points(report) == dict.fromkeys(("batchnorm_forward", "sgd_momentum", "adam"), 0.0)
    statuses = {i.counted_in: i.status for i in report.items if i.kind == "package" and i.status != "skipped"}
    assert statuses == {"batchnorm_forward": "fail", "sgd_momentum": "missing", "adam": "missing"}


# ---------------------------------------------------------------------------------------
# Forged verdicts
# ---------------------------------------------------------------------------------------


def test_writing_result_files_printing_pass_and_exiting_forges_nothing(editions, tmp_path):
    copy = edition(editions, tmp_path, "blank")
    append(copy, "batchnorm.py", """
import json as _json, os as _os, sys as _sys
_verdict = _json.dumps({"status": "pass", "message": "PASS", "points": 4})
for _folder in (_os.getcwd(), "/tmp", _os.path.dirname(_os.path.abspath(__file__)), _os.path.expanduser("~")):
    for _name in ("result.json", "grades.json", "verdict.json"):
        try:
            open(_os.path.join(_folder, _name), "w").write(_verdict)
        except OSError:
            pass
print("PASS batchnorm_forward: everything is fine")
for _fd in range(3, 20):  # a forged answer on whatever pipe is open
    try:
        _os.write(_fd, _verdict.encode())
    except OSError:
        pass
_os._exit(0)
""")
    report = graded(copy, exercises=("batchnorm_forward", "batchnorm_backward", "adam"))
    assert points(report) == dict.fromkeys(("batchnorm_forward", "batchnorm_backward", "adam"), 0.0)


def test_returning_whatever_the_protocol_allows_earns_nothing(editions, tmp_path):
    # A function that answers with objects of every odd kind: no value can mean "pass".
    copy = edition(editions, tmp_path, "blank")
    append(copy, "optim.py", """
class _Liar:
    def __eq__(self, other):
        return True
    def __array__(self, *args, **kwargs):
        return np.zeros((3, 4))


def sgd_momentum(w, dw, config=None):
    return _Liar(), {"velocity": _Liar(), "learning_rate": float("nan")}


def adam(w, dw, config=None):
    return w.astype(object), {"t": 1, "m": np.array(["pass"]), "v": None}
""")
    report = graded(copy, exercises=("sgd_momentum", "adam"))
    assert points(report) == {"sgd_momentum": 0.0, "adam": 0.0}


def test_asking_the_grader_for_the_graded_function_itself_is_refused(editions, tmp_path):
    # The worker may ask the grader to run the grader's version of ANOTHER exercise (an
    # "oracle"); asking for the one being graded, through the worker's own pipe, ends the job.
    copy = edition(editions, tmp_path, "blank")
    append(copy, "batchnorm.py", """
def batchnorm_backward(dout, cache):
    import sys
    wire = sys.modules["wire"]
    write_fd, read_fd = int(sys.argv[2]), int(sys.argv[1])
    wire.send(write_fd, wire.encode({"op": "oracle", "name": "batchnorm_backward", "args": [dout, cache], "kwargs": {}}))
    reply = wire.decode(wire.receive(read_fd))
    return reply["result"]
""")
    report = graded(copy, exercises=("batchnorm_backward",))
    item = next(i for i in report.items if i.exercise == "nb02_check_backward")
    assert (item.points, item.status) == (0.0, "error") and "may not call" in item.message


# ---------------------------------------------------------------------------------------
# Checks patched from inside
# ---------------------------------------------------------------------------------------


def test_patching_checks_rel_error_and_callers_frames_changes_no_verdict(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    append(copy, "batchnorm.py", """
def batchnorm_backward(dout, cache):
    import builtins, importlib, sys
    import cs231n_bn.gradient_check as gradient_check
    gradient_check.rel_error = lambda *args, **kwargs: 0.0
    try:
        checks = importlib.import_module("cs231n_bn.checks")
        for name in dir(checks):
            if name.startswith("check_"):
                setattr(checks, name, lambda *args, **kwargs: print("PASS"))
        checks.CheckFailed = type("CheckFailed", (Exception,), {})
    except Exception:
        pass
    frame = sys._getframe()
    while frame is not None:  # whatever called us: make its checker harmless
        for name in ("rel_error", "CheckFailed", "_explain_dx", "GRAD_TOL"):
            if name in frame.f_globals:
                frame.f_globals[name] = (lambda *args, **kwargs: 0.0) if name != "GRAD_TOL" else 1e9
        frame = frame.f_back
    builtins.AssertionError = Exception
    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
""")
    report = graded(copy, exercises=("batchnorm_backward", "batchnorm_forward", "sgd_momentum"))
    assert points(report) == {"batchnorm_backward": 0.0, **full(report, ("batchnorm_forward", "sgd_momentum"))}


def test_a_cache_built_by_the_student_is_rebuilt_as_data_not_trusted(editions, tmp_path):
    # The forward pass returns a cache object whose methods would run in the grader if it
    # crossed as an object; it crosses as its type name only.
    copy = edition(editions, tmp_path, "solved")
    append(copy, "batchnorm.py", """
_forward = batchnorm_forward


class _Trap:
    def __getattr__(self, name):
        raise SystemExit("the grader ran my code")


def batchnorm_forward(x, gamma, beta, bn_param):
    out, cache = _forward(x, gamma, beta, bn_param)
    return out, _Trap()
""")
    report = graded(copy, exercises=("batchnorm_forward", "batchnorm_backward"))
    # The forward check does not look at the cache (yet): what counts is that nothing of the
    # student's runs here and the backward exercise, fed the grader's caches, still passes.
    assert points(report)["batchnorm_backward"] == full(report, ("batchnorm_backward",))["batchnorm_backward"]


# ---------------------------------------------------------------------------------------
# Damage on the instructor's machine
# ---------------------------------------------------------------------------------------


@needs_bwrap
def test_student_code_cannot_change_the_instructors_files_or_leave_processes(editions, tmp_path, decoy):
    copy = edition(editions, tmp_path, "solved")
    grades_file = tmp_path / "grades.json"
    grades_file.write_text('{"points": 0}')
    append(copy, "layernorm.py", f"""
import glob as _glob, os as _os
_root = {str(decoy)!r}
for _action in (
    lambda: open(_os.path.join(_root, "cs231n_bn", "checks.py"), "a").write("\\nCheckFailed = None\\n"),
    lambda: [_os.remove(p) for p in _glob.glob(_os.path.join(_root, "notebooks", "*.ipynb"))],
    lambda: _os.remove(_os.path.join(_root, "datasets", "digits.npz")),
    lambda: open(_os.path.join(_root, ".git", "hooks", "pre-commit"), "w").write("#!/bin/sh\\n"),
    lambda: open({str(grades_file)!r}, "w").write('{{"points": 38}}'),
):
    try:
        _action()
    except OSError:
        pass
for _ in range(5):  # children that try to outlive the job, in their own sessions
    try:
        if _os.fork() == 0:
            _os.setsid()
            if _os.fork() == 0:
                _os.execv("/usr/bin/sleep", ["sleep", {MARKER!r}])
            _os._exit(0)
    except OSError:
        pass
""")
    report = graded(copy, source=decoy, exercises=("layernorm_forward", "layernorm_backward"))
    assert points(report) == full(report, ("layernorm_forward", "layernorm_backward"))
    assert grades_file.read_text() == '{"points": 0}'


def test_a_fork_that_keeps_the_pipes_open_does_not_hold_the_grader(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    append(copy, "optim.py", f"""
def adam(w, dw, config=None):
    import os
    if os.fork() == 0:
        os.execv("/usr/bin/sleep", ["sleep", {MARKER!r}])  # inherits the job's pipes
    os._exit(0)
""")
    started = time.monotonic()
    report = graded(copy, exercises=("adam", "sgd_momentum"), limits=Limits(timeout=20, memory_mb=1024))
    assert points(report) == {"adam": 0.0, **full(report, ("sgd_momentum",))}
    assert time.monotonic() - started < 60


# ---------------------------------------------------------------------------------------
# Secrets in the report
# ---------------------------------------------------------------------------------------


def test_an_error_message_carrying_instructor_source_is_scrubbed_and_capped(editions, tmp_path):
    # As if the student had read the instructor's files (possible without bwrap): the
    # solution, the hidden tests and the grader's source ride on an exception's message.
    secrets = secret_lines(SOURCE, ["cs231n_bn/batchnorm.py", "notebooks/05_training_with_batchnorm.ipynb"])
    grader_source = (SOURCE / "classroom" / "grader" / "judge.py").read_text()
    leak = "\n".join(secrets) + (SOURCE / "cs231n_bn" / "batchnorm.py").read_text() + grader_source
    copy = edition(editions, tmp_path, "blank")
    append(copy, "batchnorm.py", f"""
def batchnorm_forward(x, gamma, beta, bn_param):
    raise ValueError({leak!r})


def batchnorm_backward(dout, cache):
    raise ValueError("x" * 40_000_000)
""")
    out = tmp_path / "grades.json"
    report = graded(copy, exercises=("batchnorm_forward", "batchnorm_backward"))
    from classroom.grader.grade import write_json

    write_json(report, out)
    text = json.loads(out.read_text())
    messages = [e["message"] for e in text["exercises"]]
    assert all(len(m) <= MAX_MESSAGE + 50 for m in messages)
    assert out.stat().st_size < 200_000
    shown = "\n".join(messages)
    assert not [line for line in secrets if line in shown]
    assert "removed from this message" in shown
    assert points(report) == {"batchnorm_forward": 0.0, "batchnorm_backward": 0.0}


# ---------------------------------------------------------------------------------------
# One bad submission costs only itself
# ---------------------------------------------------------------------------------------


def test_fifos_devices_and_symlinks_in_the_copy_cost_only_themselves(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    os.mkfifo(copy / "cs231n_bn" / "stalls.npz")
    (copy / "notebooks" / "endless.ipynb").symlink_to("/dev/zero")
    (copy / "cs231n_bn" / "optim.py").unlink()
    (copy / "cs231n_bn" / "optim.py").symlink_to(SOURCE / "cs231n_bn" / "optim.py")  # the instructor's solution
    report = graded(copy, exercises=("batchnorm_forward", "sgd_momentum"))
    assert points(report) == {**full(report, ("batchnorm_forward",)), "sgd_momentum": 0.0}
    warnings = "\n".join(report.warnings)
    for name in ("stalls.npz", "endless.ipynb", "optim.py"):
        assert name in warnings


def test_a_broken_notebook_costs_its_cells_and_the_run_still_writes_every_grade(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    first = sorted((copy / "notebooks").glob("01_*.ipynb"))[0]
    first.write_text(first.read_text()[:500])  # truncated
    out = tmp_path / "grades.json"
    decoy_source = make_decoy(tmp_path / "instructor")
    assert main(["grade", str(copy), "--source", str(decoy_source), "--notebook", first.name,
                 "--exercise", "batchnorm_forward", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    by_id = {e["exercise"]: e for e in report["exercises"]}
    assert by_id["nb01_check_forward"]["status"] == "pass"
    cells = [e for e in report["exercises"] if e["kind"] == "notebook" and e["notebook"] == first.name]
    assert cells and all(e["status"] == "error" and "cannot be read" in e["message"] for e in cells)
    assert job_processes() == []


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["schema", "metadata_string", "grade_id_list"])
def test_notebooks_with_wrong_metadata_are_graded_without_stopping_the_run(editions, tmp_path, damage):
    copy = edition(editions, tmp_path, "solved")
    first = sorted((copy / "notebooks").glob("01_*.ipynb"))[0]
    nb = json.loads(first.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if damage == "schema":
        code[0]["outputs"] = "not a list"
    elif damage == "metadata_string":
        code[0]["metadata"]["nbgrader"] = "a string"
    else:
        code[0]["metadata"]["nbgrader"] = {"grade_id": ["a", "list"], "grade": True}
    first.write_text(json.dumps(nb))
    report = graded(copy, exercises=("batchnorm_forward",), notebooks=True, only=[first.name],
                    limits=Limits(timeout=30, memory_mb=1024))
    assert points(report) == full(report, ("batchnorm_forward",))
    cells = {i.exercise: i for i in report.items if i.kind == "notebook" and i.notebook == first.name}
    # Graded from the solution cells, whose sources are intact: both score.
    assert set(cells) == {"nb01_check_undo", "nb01_check_running_after_k"}
    assert all(i.points == i.max_points for i in cells.values()), [(i.exercise, i.message) for i in cells.values()]


def test_without_bwrap_the_report_says_so_in_one_line_and_the_verdicts_still_hold(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    append(copy, "optim.py", """
def adam(w, dw, config=None):
    import os
    os._exit(0)
""")
    report = graded(copy, exercises=("sgd_momentum", "adam"), use_bwrap=False)
    assert points(report) == {**full(report, ("sgd_momentum",)), "adam": 0.0}
    loud = [w for w in report.warnings if "bwrap" in w]
    assert len(loud) == 1 and "WITHOUT a sandbox" in loud[0] and "\n" not in loud[0]


# ---------------------------------------------------------------------------------------
# Notebook exercises: only their solution cells run, and the checks run here
# ---------------------------------------------------------------------------------------

HOOKS = '''\
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"] if any("check" in l for l in lines) else lines)
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
def check_step(*args, **kwargs):
    return None
'''
STAGED_ROWS = [row for row in CELLS if row.notebook == 2 and row.cells]


def forged_notebook_2(copy, wrong):
    """Notebook 2 of `copy` with hooks that make every check cell pass, and `wrong(name)` as each step."""
    path = sorted((copy / "notebooks").glob("02_*.ipynb"))[0]
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if gid.startswith("nb02_solve_"):
            cell["source"] = wrong(gid[len("nb02_solve_"):])
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"] = "".join(code["source"]) + "\n" + HOOKS
    path.write_text(json.dumps(nb))
    return path, nb


@pytest.mark.parametrize("wrong", [
    lambda name: f"{name} = np.zeros_like(x)  # wrong, and the hooks say pass\n",
    # the shortcut: the numeric gradient the edition provides, in place of a derivation
    lambda name: f"from cs231n_bn import graph\n{name} = graph.numeric_gradient({name!r}, x, gamma, beta, dout, eps)\n",
], ids=["zeros", "numeric_gradient"])
def test_hooks_zeros_and_numeric_gradients_earn_nothing_in_notebook_2(editions, tmp_path, wrong):
    copy = edition(editions, tmp_path, "solved")
    _, nb = forged_notebook_2(copy, wrong)
    results = grade_rows(copy, SOURCE, 2, STAGED_ROWS, nb, Limits(timeout=60), BWRAP)
    assert len(results) == 15 and all(status != "pass" for status, _ in results.values()), results
    honest = edition(editions, tmp_path, "solved", "honest")
    nb_honest = json.loads(sorted((honest / "notebooks").glob("02_*.ipynb"))[0].read_text())
    results = grade_rows(honest, SOURCE, 2, STAGED_ROWS, nb_honest, Limits(timeout=60), BWRAP)
    assert len(results) == 15 and all(status == "pass" for status, _ in results.values()), results
    assert job_processes() == []


def _cgroups_writable():
    probe = sandbox.JobCgroup("probe", 2**30, 8)
    active = probe.active
    probe.kill_and_remove()
    return active


@pytest.mark.slow
@pytest.mark.skipif(not _cgroups_writable(), reason="no writable cgroup: the memory limit is per process only")
def test_forked_children_share_the_memory_limit_of_their_job(editions, tmp_path):
    copy = edition(editions, tmp_path, "solved")
    # Each child keeps its 600 MB until it is killed, and the parent counts the children holding
    # theirs at the same moment: children that merely finished could have held theirs one after the
    # other (the first one freed, or killed by the kernel for the next), within the limit.
    append(copy, "optim.py", """
def adam(w, dw, config=None):
    import os, select, signal, time
    read_end, write_end = os.pipe()
    children = []
    for index in range(3):
        pid = os.fork()
        if pid == 0:
            try:
                hoard = np.ones(75_000_000)  # 600 MB each, touched
                if hoard[-1] == 1:
                    os.write(write_end, bytes([index]))
                time.sleep(60)
            finally:
                os._exit(0)
        children.append(pid)
    holding, ended, most, deadline = set(), set(), 0, time.monotonic() + 20
    while len(holding | ended) < 3 and time.monotonic() < deadline:
        if select.select([read_end], [], [], 0.05)[0]:
            holding |= {children[i] for i in os.read(read_end, 3)}
        ended |= {pid for pid in children if pid not in ended and os.waitpid(pid, os.WNOHANG)[0]}
        most = max(most, len(holding - ended))
    for pid in set(children) - ended:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    raise ValueError(f"{most} children held 600 MB at once")
""")
    report = graded(copy, exercises=("adam",), limits=Limits(timeout=60, memory_mb=1024))
    message = next(i.message for i in report.items if i.counted_in == "adam")
    assert points(report) == {"adam": 0.0}
    assert "children held" not in message or int(message.split(" children held")[0].split()[-1]) <= 1, message
