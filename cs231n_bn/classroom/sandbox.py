"""Run one grading job in a child process with a time limit and a memory limit.

Student code may crash, loop forever or allocate without bound; in a child process with
an address-space limit (RLIMIT_AS, inherited by any kernel it starts) and a wall-clock
timeout, that costs one job its points and never stops the grader.
"""

import os
import resource
import signal
import subprocess
from dataclasses import dataclass

# One BLAS thread: the limit counts virtual memory, and every BLAS thread reserves some.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class JobResult:
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str
    timed_out: bool


def _limit_memory(max_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_job(argv, cwd, pythonpath, timeout, memory_mb):
    """Run argv in cwd with PYTHONPATH=pythonpath, at most `timeout` s and `memory_mb` MiB.

    The child gets its own process group, so a timeout kills it and everything it started
    (a Jupyter kernel, say).
    """
    env = dict(os.environ, PYTHONPATH=str(pythonpath), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    env.update(SINGLE_THREADED)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_limit_memory(memory_mb * 2**20),
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    return JobResult(process.returncode, stdout, stderr, timed_out)
