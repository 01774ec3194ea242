"""Re-execute notebooks in place on a fresh kernel, storing the outputs nbval will compare.

Run after changing a notebook or the package code it uses, then commit the notebooks:

    .venv/bin/python tools/execute_notebooks.py                 # every notebook
    .venv/bin/python tools/execute_notebooks.py notebooks/01_forward_pass.ipynb

The kernel is ipykernel's "python3", which jupyter_client starts with this interpreter
(as nbval's --nbval-current-env does), in the notebook's folder, as nbval runs it.
"""

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # Timestamps and widget state change on every run; storing them would bury the
        # output changes a maintainer needs to see in the diff.
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all of notebooks/)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    args = parser.parse_args()
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        print(f"{path}: {execute(path.resolve(), args.timeout):.1f} s", flush=True)


if __name__ == "__main__":
    main()
