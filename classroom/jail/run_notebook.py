"""Notebook job: execute a notebook cell by cell and report which graded cells raised.

    python -I -S -B run_notebook.py NOTEBOOK WORKDIR WRITE_FD CELL_TIMEOUT ROOT SITE_PACKAGES...

Runs inside the sandbox (classroom/grader/sandbox.py), kernel included. The interpreter is isolated; its
sys.path is the standard library, this folder and the site-packages given. The kernel is
started from a kernel spec written here whose PYTHONPATH is ROOT (the submission copy) and
the site-packages, so the notebook imports the student's package and nothing else of the
course. A failing cell does not stop the run; a cell past CELL_TIMEOUT seconds is
interrupted and fails. The outcome goes back over WRITE_FD as one wire.py frame.

The kernel and this process run the student's code, so the grader treats the outcome as
the kernel's word, not as a verdict it computed (see classroom/grader/grade.py).
"""

import json
import os
import sys
import tempfile

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__))]
sys.path.extend(sys.argv[6:])

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionError, DeadKernelError  # noqa: E402

import wire  # noqa: E402


def _grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _kernel_spec(root, sites):
    """A python3 kernel spec (in a fresh JUPYTER_PATH) that imports the submission's package."""
    base = tempfile.mkdtemp(prefix="jupyter_")
    spec_dir = os.path.join(base, "kernels", "python3")
    os.makedirs(spec_dir)
    spec = {
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grading)",
        "language": "python",
        "env": {"PYTHONPATH": os.pathsep.join([root, *sites])},
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f)
    os.environ["JUPYTER_PATH"] = base
    os.environ["JUPYTER_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="runtime_")


def execute(path, workdir, cell_timeout):
    """{grade_id: {"status": "pass" | "error", "message": str}} for the graded code cells."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=False,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {cell_timeout} s (an infinite loop?)",
            "traceback": [],
        },
        resources={"metadata": {"path": str(workdir)}},
    )
    results, dead = {}, None
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            grade_id = _grade_id(cell)
            if dead is not None:
                if grade_id:
                    results[grade_id] = {"status": "error", "message": dead}
                continue
            try:
                client.execute_cell(cell, index)
                outcome = {"status": "pass", "message": ""}
            except CellExecutionError as err:
                outcome = {"status": "error", "message": f"{err.ename}: {err.evalue}"}
            except DeadKernelError as err:
                dead = f"not run: the kernel died in cell {index} ({err})"
                outcome = {"status": "error", "message": f"the kernel died in this cell ({err})"}
            if grade_id:
                results[grade_id] = outcome
    return results


def main():
    path, workdir, write_fd, cell_timeout, root = sys.argv[1:6]
    _kernel_spec(root, sys.argv[6:])
    results = execute(path, workdir, int(cell_timeout))
    wire.send(int(write_fd), wire.encode(results))


if __name__ == "__main__":
    main()
