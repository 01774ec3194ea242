"""Start a student's process in a sandbox, under limits, and make sure it ends with its job.

With bubblewrap (`bwrap`, Linux) a job gets its own mount, PID, network, IPC and user
namespaces: it sees only the system's libraries, the Python installation, a read-only copy
of the submission, the grader's two worker files and a private /tmp; it has no network;
every process it forks lives in its PID namespace and dies with it (`--die-with-parent`).
Without bwrap the same process starts with the same limits, a clean environment and no path
to the instructor's checkout in its arguments, but it can read (and, as the same user,
write) whatever the grading user can: `notice()` says so in one line.

Limits on every job: address space per process (RLIMIT_AS), no core files, a file-size
limit, and the number of processes; when a cgroup-v1 hierarchy is writable, a job also gets
its own cgroup with `pids.max` and `memory.limit_in_bytes` for the whole job, forks included
(RLIMIT_NPROC does not bind root). A job is always killed as a whole: its process group,
its cgroup, and any process still carrying its token in its environment.
"""

import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# One BLAS thread: the limits count virtual memory and processes, and every thread counts.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TOKEN_VARIABLE = "CS231N_GRADER_JOB"
FILE_SIZE_LIMIT = 64 * 2**20  # bytes of any one file a job writes
TMP_SIZE = 256 * 2**20  # bytes of a job's private /tmp (bwrap only)
CGROUP_V1 = Path("/sys/fs/cgroup")
STARTED = []  # the token of every job this process started, oldest first (tests look for survivors)
CLASSROOM = Path(__file__).resolve().parents[1]
# The only code that enters a job: one script of classroom/jail/, and the wire it speaks.
JAIL = CLASSROOM / "jail"
WIRE = CLASSROOM / "wire.py"


def bwrap_path():
    """The bwrap executable, or None where there is none (or it cannot create namespaces)."""
    found = shutil.which("bwrap")
    if found is None or not sys.platform.startswith("linux"):
        return None
    probe = subprocess.run([found, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                           capture_output=True, timeout=30)
    return found if probe.returncode == 0 else None


def notice(bwrap):
    """One line for the report: which isolation the jobs had."""
    if bwrap:
        return ""
    return (
        "WARNING: bubblewrap (bwrap) is not available, so student code ran WITHOUT a sandbox: it "
        "could read and write every file the grading user can (limits, clean environment and "
        "trusted verdicts still applied). Install bwrap (Debian: apt-get install bubblewrap)."
    )


def python_roots():
    """Host folders the Python interpreter needs, and the site-packages to import numpy from."""
    executable = Path(os.path.realpath(sys.executable))
    roots = {Path(sys.base_prefix).resolve(), executable.parent.parent}
    site = [Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    return executable, sorted(roots), site


def copy_jail_script(script, folder):
    """Copy classroom/jail/<script> and wire.py into `folder` (host), where the job imports them
    side by side; returns nothing. script: a file name, e.g. "worker.py"."""
    shutil.copyfile(JAIL / script, Path(folder) / script)
    shutil.copyfile(WIRE, Path(folder) / WIRE.name)


class Jail:
    """How one job's folders appear to the job, and the command that starts it."""

    def __init__(self, job_dir, bwrap):
        self.job_dir = Path(job_dir)
        self.bwrap = bwrap
        self.binds = []  # (host path, path inside, writable)

    def place(self, host, inside, writable=False):
        """Make host visible to the job; returns the path the job sees it at."""
        host = Path(host)
        if not self.bwrap:
            return str(host)
        self.binds.append((host, inside, writable))
        return inside

    def command(self, argv, hide=()):
        """argv wrapped in bwrap (when there is one). `hide`: (host path, path inside) to mask."""
        if not self.bwrap:
            return list(argv)
        executable, roots, _ = python_roots()
        cmd = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--proc", "/proc", "--dev", "/dev", "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
        for system in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/ld.so.cache", "/etc/localtime"):
            cmd += ["--ro-bind-try", system, system]
        for root in roots:
            cmd += ["--ro-bind", str(root), str(root)]
        for host, inside, writable in self.binds:
            cmd += ["--bind" if writable else "--ro-bind", str(host), inside]
        for host, inside in hide:
            cmd += ["--tmpfs", inside] if Path(host).is_dir() else ["--ro-bind", "/dev/null", inside]
        return cmd + ["--chdir", "/tmp", "--", *argv]


# ---------------------------------------------------------------------------------------
# cgroups (v1): a limit on the whole job, forks included
# ---------------------------------------------------------------------------------------


def _own_cgroup(controller):
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return CGROUP_V1 / controller / path.lstrip("/")
    return None


class JobCgroup:
    """A pids and a memory cgroup for one job, where the hierarchy lets us create them."""

    def __init__(self, token, memory_bytes, max_pids):
        self.dirs = []
        if not sys.platform.startswith("linux"):
            return
        for controller, knob, value in (("pids", "pids.max", max_pids),
                                        ("memory", "memory.limit_in_bytes", memory_bytes)):
            try:
                parent = _own_cgroup(controller)
                if parent is None:
                    continue
                path = parent / f"cs231n_grader_{token}"
                path.mkdir()
                self.dirs.append(path)
                (path / knob).write_text(str(value))
                if controller == "memory":
                    # no swap either, where the kernel offers the knob
                    swap = path / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        swap.write_text(str(value))
            except OSError:
                continue

    @property
    def active(self):
        return bool(self.dirs)

    def enter(self):
        """Move the calling process (the job, right after fork) into the cgroups."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_and_remove(self):
        """Kill every process left in the cgroups, then remove them (once their last task
        is reaped, which can take a moment after the kill)."""
        remaining = list(self.dirs)
        for _ in range(100):
            for path in list(remaining):
                try:
                    for pid in (path / "cgroup.procs").read_text().split():
                        _kill(int(pid))
                    path.rmdir()
                    remaining.remove(path)
                except OSError:
                    pass
            if not remaining:
                break
            time.sleep(0.05)
        self.dirs = remaining


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _processes_of(uid):
    """How many processes (threads included) the user runs now; 0 for root, whom no limit binds."""
    if uid == 0 or not Path("/proc").is_dir():
        return 0
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(list((entry / "task").iterdir()))
        except OSError:
            continue
    return count


def _pids_with_token(token):
    """Processes whose environment carries the job's token (forks that left its group)."""
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# ---------------------------------------------------------------------------------------
# A job
# ---------------------------------------------------------------------------------------


class Job:
    """A started student process: its Popen, its limits, and how to end it for good."""

    def __init__(self, argv, jail, memory_mb, max_processes, pass_fds=(), stderr_path=None, hide=(), env=None):
        self.token = secrets.token_hex(8)
        STARTED.append(self.token)
        self.cgroup = JobCgroup(self.token, memory_mb * 2**20, max_processes)
        base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", TOKEN_VARIABLE: self.token}
        if not jail.bwrap:
            base["HOME"] = base["TMPDIR"] = str(jail.job_dir / "tmp")
            Path(base["TMPDIR"]).mkdir(exist_ok=True)
        base.update(SINGLE_THREADED)
        base.update(env or {})
        memory = memory_mb * 2**20
        cgroup = self.cgroup
        # RLIMIT_NPROC counts every process of the user, not the job's: leave room for the rest.
        nproc = max_processes + _processes_of(os.getuid())

        def limit():
            if cgroup.active:
                cgroup.enter()
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

        self.stderr_file = open(stderr_path, "wb+") if stderr_path else None
        self.process = subprocess.Popen(
            jail.command(argv, hide=hide),
            cwd=jail.job_dir,
            env=base,
            stdin=subprocess.DEVNULL,
            stdout=self.stderr_file or subprocess.DEVNULL,
            stderr=self.stderr_file or subprocess.DEVNULL,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=limit,
        )

    def stderr_tail(self, limit=4000):
        if self.stderr_file is None:
            return ""
        self.stderr_file.seek(0, os.SEEK_END)
        size = self.stderr_file.tell()
        self.stderr_file.seek(max(0, size - limit))
        return self.stderr_file.read().decode("utf-8", "replace")

    def wait(self, timeout):
        """The exit status, or None if the job is still running after `timeout` seconds."""
        try:
            return self.process.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """End the job and everything it started; returns the exit status."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in _pids_with_token(self.token):
            _kill(pid)
        status = self.wait(10)
        self.cgroup.kill_and_remove()
        if self.stderr_file is not None:
            self.stderr_file.close()
        return status
