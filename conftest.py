"""Notebook 8 compares our layer with PyTorch and Keras, optional installs: without either,
its cells are skipped, not failed, and the run ends with one line saying how to install them.
(Its stored outputs are those of a run with both, so a run without one could not match.)"""

import importlib.util

import pytest

TORCH_NOTEBOOK = "08_frameworks.ipynb"
HOW_TO_ENABLE = (
    "PyTorch or Keras is not installed: notebook 8 and the framework comparisons in tests/ were "
    "skipped. To run them: .venv/bin/pip install -r requirements-torch.txt (the README gives the "
    "CPU-only command)."
)


def _frameworks_missing():
    return any(importlib.util.find_spec(name) is None for name in ("torch", "keras"))


def pytest_collection_modifyitems(config, items):
    if not _frameworks_missing():
        return
    skip = pytest.mark.skip(reason=HOW_TO_ENABLE)
    for item in items:
        if item.path.name == TORCH_NOTEBOOK:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if _frameworks_missing() and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(HOW_TO_ENABLE)
