"""Re-execute notebooks in place on a fresh kernel, storing the outputs nbval will compare.

Run after changing a notebook or the package code it uses, then commit the notebooks:

    .venv/bin/python tools/execute_notebooks.py                 # every notebook
    .venv/bin/python tools/execute_notebooks.py notebooks/01_forward_pass.ipynb

The kernel is ipykernel's "python3", which jupyter_client starts with this interpreter
(as nbval's --nbval-current-env does), in the notebook's folder, as nbval runs it. The
notebook's kernelspec metadata is stored as that kernel's spec states it ("Python 3
(ipykernel)"), which is what JupyterLab writes when it saves the notebook: opening and
saving a notebook then changes nothing that git sees.
"""

import argparse
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "python3"


def kernelspec_metadata(name=KERNEL):
    """The notebook metadata JupyterLab stores for the kernel `name`: its spec's display
    name and language, e.g. {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}."""
    spec = KernelSpecManager().get_kernel_spec(name)
    return {"display_name": spec.display_name, "language": spec.language, "name": name}


def execute(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        # Timestamps and widget state change on every run; storing them would bury the
        # output changes a maintainer needs to see in the diff.
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = kernelspec_metadata()
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
