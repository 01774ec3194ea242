"""Notebooks 8 and 9 compare our layers with PyTorch and Keras, optional installs: without
either, their cells are skipped, not failed, and the run ends with one line saying how to
install them. (Their stored outputs are those of a run with both, so a run without one
could not match.) Notebook 9 runs Keras on TensorFlow when the TensorFlow extra is
installed and on PyTorch otherwise; its compared outputs are the same on both."""

import importlib.util

import pytest

TORCH_NOTEBOOKS = ("08_frameworks.ipynb", "09_convnet_in_frameworks.ipynb")
# The README's commands ("PyTorch, for notebooks 8 and 9"): PyTorch's CPU-only build, then Keras.
INSTALL_COMMANDS = (
    ".venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
    ".venv/bin/pip install keras==3.15.1",
)
HOW_TO_ENABLE = (
    "PyTorch or Keras is not installed: notebooks 8 and 9 and the framework comparisons in tests/ "
    f"were skipped. To run them, install PyTorch's CPU-only build, then Keras: {INSTALL_COMMANDS[0]} "
    f"&& {INSTALL_COMMANDS[1]} (README: \"PyTorch, for notebooks 8 and 9\")."
)


def _frameworks_missing():
    return any(importlib.util.find_spec(name) is None for name in ("torch", "keras"))


def pytest_collection_modifyitems(config, items):
    if not _frameworks_missing():
        return
    skip = pytest.mark.skip(reason=HOW_TO_ENABLE)
    for item in items:
        if item.path.name in TORCH_NOTEBOOKS:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if _frameworks_missing() and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(HOW_TO_ENABLE)
