"""Grading job: execute a notebook cell by cell and record which graded cells raised.

    python run_notebook.py NOTEBOOK WORKDIR RESULT_JSON CELL_TIMEOUT

Run as a script by `sandbox.run_job` (PYTHONPATH = the student's copy, so the kernel,
which inherits the environment and the memory limit, imports the student's package).
A failing cell does not stop the run: later exercises are graded on their own. A cell
that runs past CELL_TIMEOUT seconds is interrupted and counts as failed. The kernel runs
in WORKDIR (the notebook's folder in the student's copy), as it would for the student.
"""

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


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
    path, workdir, result_path, cell_timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    Path(result_path).write_text(json.dumps(execute(path, workdir, cell_timeout)), encoding="utf-8")


if __name__ == "__main__":
    main()
