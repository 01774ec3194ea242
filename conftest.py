"""Notebook 8 compares our layer with PyTorch, an optional install: without PyTorch its
cells are skipped, not failed, and the run ends with one line saying how to install it."""

import importlib.util

import pytest

TORCH_NOTEBOOK = "08_frameworks.ipynb"
HOW_TO_ENABLE = (
    "PyTorch is not installed: notebook 8 and the PyTorch comparisons in tests/ were skipped. "
    "To run them: .venv/bin/pip install -r requirements-torch.txt (the README gives the CPU-only command)."
)


def _torch_missing():
    return importlib.util.find_spec("torch") is None


def pytest_collection_modifyitems(config, items):
    if not _torch_missing():
        return
    skip = pytest.mark.skip(reason=HOW_TO_ENABLE)
    for item in items:
        if item.path.name == TORCH_NOTEBOOK:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if _torch_missing() and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(HOW_TO_ENABLE)
