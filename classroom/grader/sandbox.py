"""Start a student's process in a sandbox, under limits, and make sure it ends with its job.

With bubblewrap (`bwrap`, Linux) a job gets its own mount, PID, network, IPC and user
namespaces: it sees only the system's libraries, the Python installation, a read-only copy
of the submission, the grader's two worker files and a private /tmp; it has no network;
every process it forks lives in its PID namespace and dies with it (`--die-with-parent`).
Without bwrap the same process starts with the same limits, a clean environment and no path
to the instructor's checkout in its arguments, but it can read (and, as the same user,
write) whatever the grading user can: `notice()` says so in one line.

Inside bwrap the job runs as uid/gid 65534 (nobody) of its own user namespace, with no
capabilities, as PID 1 of its PID namespace (no bwrap process there for it to ptrace), and
its /tmp and /dev/shm are size-limited tmpfs.

Limits on every job: address space per process (RLIMIT_AS), no core files, a file-size
limit, and the number of processes. Where a cgroup can be made, a job also gets its own for
the whole job's memory and process count, forks included (RLIMIT_NPROC does not bind root),
tried in this order: a delegated cgroup-v2 subtree (`memory.max`, `memory.swap.max`,
`pids.max`), cgroup v1 (`memory.limit_in_bytes`, `pids.max`), or a transient systemd scope
(`systemd-run --scope -p MemoryMax= -p TasksMax=`). `cgroup_notice()` names the one in use,
or says in one line that none is and which limits remain. A job's cgroup is removed when it
ends; `clean_stale_cgroups()` (run when grading starts) removes those of a grader that was
killed. A job is always killed as a whole: its process group, its cgroup, and any process
still carrying its token in its environment.
"""

import contextlib
import functools
import os
import pwd
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One BLAS thread: the limits count virtual memory and processes, and every thread counts.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TOKEN_VARIABLE = "CS231N_GRADER_JOB"
FILE_SIZE_LIMIT = 64 * 2**20  # bytes of any one file a job writes
TMP_SIZE = 256 * 2**20  # bytes of a job's private /tmp (bwrap only)
SHM_SIZE = 64 * 2**20  # bytes of a job's /dev/shm (bwrap only)
JOB_UID = 65534  # "nobody", inside the job's user namespace
CGROUP_PREFIX = "cs231n_grader_"  # + the grader's pid + "_" + the job's token
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


def notice(bwrap, run_as=None):
    """One line for the report: which isolation the jobs had."""
    if bwrap:
        return ""
    if run_as:
        return (f"note: bubblewrap (bwrap) cannot run here, so student code ran without a sandbox, as the "
                f"unprivileged user {run_as}: it could read what that user can (not root's files), and reach the "
                f"network; limits and trusted verdicts still applied.")
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
        cmd = [self.bwrap, "--unshare-all", "--unshare-user", "--uid", str(JOB_UID), "--gid", str(JOB_UID),
               "--as-pid-1", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--proc", "/proc", "--dev", "/dev", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm",
               "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
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
# cgroups: a limit on the whole job, forks included
# ---------------------------------------------------------------------------------------


def _cgroup_mounts(mountinfo=Path("/proc/self/mountinfo")):
    """[(mount point, fstype, super options)] of the cgroup and cgroup2 file systems."""
    mounts = []
    for line in mountinfo.read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) > 4 and len(rest) > 2 and rest[0] in ("cgroup", "cgroup2"):
            mounts.append((Path(fields[4]), rest[0], set(rest[2].split(","))))
    return mounts


def _own_paths(proc_cgroup=Path("/proc/self/cgroup")):
    """{controller or "" (v2): this process's cgroup path} from /proc/self/cgroup."""
    paths = {}
    for line in proc_cgroup.read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path.lstrip("/")
    return paths


def _v2_parent():
    """This process's cgroup-v2 folder when memory and pids are delegated below it, else None."""
    own = _own_paths().get("")
    for mount, fstype, _ in _cgroup_mounts():
        if fstype != "cgroup2" or own is None:
            continue
        parent = mount / own
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if {"memory", "pids"} <= set(enabled) and os.access(parent, os.W_OK):
            return parent
    return None


def _v1_parent(controller):
    own = _own_paths().get(controller)
    for mount, fstype, options in _cgroup_mounts():
        if fstype == "cgroup" and controller in options and own is not None:
            return mount / own
    return None


@functools.lru_cache(maxsize=None)
def _systemd_run():
    """The systemd-run executable when it can start a transient scope here, else None."""
    found = shutil.which("systemd-run")
    if found is None:
        return None
    user = [] if os.getuid() == 0 else ["--user"]
    try:
        probe = subprocess.run([found, *user, "--scope", "--quiet", "--collect", "-p", "TasksMax=4", "true"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def cgroup_kind():
    """Which whole-job limit this machine offers: "cgroup v2", "cgroup v1", "systemd scope" or ""."""
    if _v2_parent() is not None:
        return "cgroup v2"
    for controller in ("memory", "pids"):
        parent = _v1_parent(controller)
        if parent is None or not os.access(parent, os.W_OK):
            break
    else:
        return "cgroup v1"
    return "systemd scope" if _systemd_run() else ""


def cgroup_notice(kind):
    """One line for the report when no cgroup bounds a whole job ("" when one does)."""
    if kind:
        return ""
    return ("WARNING: no cgroup could be made here (no delegated cgroup-v2 subtree, no writable cgroup v1, no "
            "systemd-run scope), so a job's total memory and process count are NOT bounded; what remains is per "
            "process: address space (--memory-mb), file size, processes of the grading user (RLIMIT_NPROC, which "
            "does not bind root), and the time limits.")


class JobCgroup:
    """The cgroup(s) of one job (`kind` as cgroup_kind()), or none where none can be made."""

    def __init__(self, token, memory_bytes, max_pids, kind=None):
        self.dirs, self.scope = [], None
        self.kind = cgroup_kind() if kind is None else kind
        name = f"{CGROUP_PREFIX}{os.getpid()}_{token}"
        if self.kind == "cgroup v2":
            self._make(_v2_parent() / name, {"memory.max": memory_bytes, "memory.swap.max": 0, "pids.max": max_pids})
        elif self.kind == "cgroup v1":
            self._make(_v1_parent("pids") / name, {"pids.max": max_pids})
            self._make(_v1_parent("memory") / name, {"memory.limit_in_bytes": memory_bytes,
                                                     "memory.memsw.limit_in_bytes": memory_bytes})
        elif self.kind == "systemd scope":
            user = [] if os.getuid() == 0 else ["--user"]
            self.scope = f"cs231n-grader-{os.getpid()}-{token}"
            self.prefix = [_systemd_run(), *user, "--scope", "--quiet", "--collect", "--unit", self.scope,
                           "-p", f"MemoryMax={memory_bytes}", "-p", "MemorySwapMax=0", "-p", f"TasksMax={max_pids}",
                           "--"]

    def _make(self, path, knobs):
        try:
            path.mkdir()
        except OSError:
            return
        self.dirs.append(path)
        for knob, value in knobs.items():
            if (path / knob).exists():  # memsw and swap.max only where the kernel accounts swap
                with contextlib.suppress(OSError):
                    (path / knob).write_text(str(value))

    @property
    def active(self):
        return bool(self.dirs) or self.scope is not None

    def command(self, argv):
        """argv, started inside the systemd scope when that is the job's cgroup."""
        return [*self.prefix, *argv] if self.scope else list(argv)

    def enter(self):
        """Move the calling process (the job, right after fork) into the cgroups."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def kill_and_remove(self):
        """Kill every process left in the cgroups, then remove them (once their last task
        is reaped, which can take a moment after the kill)."""
        if self.scope:
            subprocess.run(["systemctl", *([] if os.getuid() == 0 else ["--user"]), "kill", "--signal=KILL",
                            f"{self.scope}.scope"], capture_output=True, timeout=30)
        self.dirs = _remove_cgroups(self.dirs)


def _remove_cgroups(dirs):
    """Kill the processes of each cgroup folder and remove it; returns those still there."""
    remaining = list(dirs)
    for _ in range(100):
        for path in list(remaining):
            try:
                for pid in (path / "cgroup.procs").read_text().split():
                    _kill(int(pid))
                path.rmdir()
                remaining.remove(path)
            except FileNotFoundError:
                remaining.remove(path)
            except OSError:
                pass
        if not remaining:
            break
        time.sleep(0.05)
    return remaining


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_cgroups():
    """Remove the job cgroups of graders that no longer run (killed before they could);
    returns how many were removed."""
    parents = [_v2_parent(), _v1_parent("pids"), _v1_parent("memory")]
    stale = []
    for parent in parents:
        if parent is None:
            continue
        with contextlib.suppress(OSError):
            for path in parent.glob(f"{CGROUP_PREFIX}*"):
                owner, _, token = path.name[len(CGROUP_PREFIX):].partition("_")
                # only names of this scheme (pid_token), and only when that grader is gone
                if path.is_dir() and owner.isdigit() and token and not _alive(int(owner)):
                    stale.append(path)
    return len(stale) - len(_remove_cgroups(stale))


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


def job_user(name):
    """(uid, gid) of a user name or number; ValueError when it is root or unknown."""
    try:
        entry = pwd.getpwuid(int(name)) if str(name).isdigit() else pwd.getpwnam(str(name))
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        if not str(name).isdigit():
            raise ValueError(f"Job: run_as names no user of this machine; got {name!r}") from None
        uid = gid = int(name)
    if uid == 0:
        raise ValueError("Job: run_as must be an unprivileged user, not root")
    if os.getuid() != 0:
        raise ValueError(f"Job: run_as {name!r} needs a grader running as root; it runs as uid {os.getuid()}")
    return uid, gid


def _hand_over(job_dir, readable, user):
    """Give the job's folder to the user, and let it read (only) the given folders: each
    tree made world-readable, and its private parent folders under the temporary folder
    traversable (not listable)."""
    for folder, dirs, files in os.walk(job_dir):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chown(name, *user)
    for tree in readable:
        tree = Path(tree)
        for folder, dirs, files in os.walk(tree):
            os.chmod(folder, 0o755)
            for f in files:
                os.chmod(os.path.join(folder, f), 0o644)
        # only the grader's own temporary folders: never a folder such as /root or a home
        temporary = Path(tempfile.gettempdir()).resolve()
        for parent in [Path(job_dir).resolve(), *Path(job_dir).resolve().parents, *tree.resolve().parents]:
            if temporary in parent.parents and parent.stat().st_mode & 0o001 == 0:
                os.chmod(parent, parent.stat().st_mode | 0o111)


class Job:
    """A started student process: its Popen, its limits, and how to end it for good."""

    def __init__(self, argv, jail, memory_mb, max_processes, pass_fds=(), stderr_path=None, hide=(), env=None,
                 run_as=None, readable=()):
        """
        Inputs:
        - argv: the job's command; jail: its Jail; memory_mb, max_processes: its limits
        - pass_fds: descriptors the job keeps; stderr_path: file for its output; hide:
          (host path, path inside) masked in the sandbox; env: extra environment
        - run_as: without bwrap, a user (name or uid) the job runs as instead of the grader's
          (the grader must be root); `readable`: host folders that user must be able to read
          (the job's folder is always made its own)
        """
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
        user = None if jail.bwrap or run_as is None else job_user(run_as)
        if user is not None:
            _hand_over(jail.job_dir, readable, user)
        # RLIMIT_NPROC counts every process of the user, not the job's: leave room for the rest.
        nproc = max_processes + _processes_of(user[0] if user else os.getuid())

        def limit():
            if cgroup.active:
                cgroup.enter()
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            if user is not None:
                os.setgroups([])
                os.setgid(user[1])
                os.setuid(user[0])

        self.stderr_file = open(stderr_path, "wb+") if stderr_path else None
        self.process = subprocess.Popen(
            cgroup.command(jail.command(argv, hide=hide)),
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
