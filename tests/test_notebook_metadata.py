"""Stored notebooks carry the metadata JupyterLab writes, so that opening and saving one
leaves the checkout clean (tools/save_in_jupyterlab.py checks it in a real JupyterLab)."""

from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_stored_kernelspec_is_the_one_ipykernel_installs(path):
    spec = KernelSpecManager().get_kernel_spec("python3")
    stored = nbformat.read(path, as_version=4).metadata.kernelspec
    assert stored == {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
