"""The README's commands are the ones CI runs, so a new user's first steps are tested; the
install stays free of PyTorch, and the README's course table names every exercise.

Instructor-only (the student edition has a README of its own): the release leaves it out.
"""

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from cs231n_bn.checks.registry import BY_FUNCTION, CELLS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line for block in blocks[:2] for line in block.strip().splitlines()]


def test_readme_has_one_setup_and_one_test_command():
    setup, test = readme_commands()
    assert setup.endswith("jupyter lab notebooks/")
    assert "pip install -r requirements.txt" in setup
    assert "pytest" in test


def test_ci_runs_the_readme_commands_and_then_installs_pytorch():
    setup, test = readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    setup_without_opening = setup.rsplit(" && ", 1)[0]
    assert setup_without_opening in ci_lines
    assert test in ci_lines
    # Notebook 8 stays tested in CI: PyTorch comes after the README's install, before the tests.
    torch_at = [i for i, line in enumerate(ci_lines) if "requirements-torch.txt" in line and "pip install" in line]
    assert torch_at and ci_lines.index(setup_without_opening) < torch_at[0] < ci_lines.index(test)


def requirement_names(path):
    lines = [line.split("#")[0].strip() for line in (ROOT / path).read_text().splitlines()]
    return {re.split(r"[<>=!~\[ ]", line)[0].lower(): line for line in lines if line and not line.startswith("-")}


def test_the_core_install_holds_no_pytorch_and_the_extra_pins_the_cpu_build_version():
    assert "torch" not in requirement_names("requirements.txt")
    assert requirement_names("requirements-torch.txt") == {"torch": "torch==2.13.0", "keras": "keras==3.15.1"}
    assert 'torch = ["torch==2.13.0"]' in (ROOT / "pyproject.toml").read_text()
    # The README's CPU-only command is PyTorch's own index, never a bare `torch` from PyPI.
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in README


def test_the_readme_covers_windows_root_and_every_exercise():
    assert ".venv\\Scripts\\python" in README and "--allow-root" in README
    course = README.split("## The course", 1)[1].split("\n## ", 1)[0]
    # Notebook 7's row speaks of "the spatial norms"; the module table names those functions.
    graded = {BY_FUNCTION[row.exercise] for row in CELLS if row.exercise}  # the graded package exercises
    for exercise in (e for e in graded if e.notebook != 7):
        name = exercise.function.split(".")[0]  # FullyConnectedNet._hidden_forward -> FullyConnectedNet
        assert f"`{name}" in course, name
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"| `{notebook.stem}` |" in course, notebook.name


@pytest.fixture
def root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_pytorch_notebook_8_is_skipped_and_the_run_says_how_to_enable_it(root_conftest, monkeypatch):
    monkeypatch.setattr(root_conftest, "_frameworks_missing", lambda: True)
    marked = {}
    items = [SimpleNamespace(path=ROOT / "notebooks" / name, add_marker=lambda m, name=name: marked.setdefault(name, m))
             for name in ("07_conv_nets.ipynb", "08_frameworks.ipynb")]
    root_conftest.pytest_collection_modifyitems(None, items)
    assert list(marked) == ["08_frameworks.ipynb"]
    assert marked["08_frameworks.ipynb"].name == "skip"
    # The commands it gives are the README's, PyTorch's CPU-only build first.
    reason = marked["08_frameworks.ipynb"].kwargs["reason"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--index-url https://download.pytorch.org/whl/cpu" in root_conftest.INSTALL_COMMANDS[0]
    for command in root_conftest.INSTALL_COMMANDS:
        assert command in reason and command in readme, command
    written = []
    reporter = SimpleNamespace(stats={"skipped": [object()]}, write_line=written.append)
    root_conftest.pytest_terminal_summary(reporter)
    assert written == [reason]


def test_with_pytorch_nothing_is_skipped(root_conftest, monkeypatch):
    monkeypatch.setattr(root_conftest, "_frameworks_missing", lambda: False)
    item = SimpleNamespace(path=ROOT / "notebooks" / "08_frameworks.ipynb", add_marker=pytest.fail)
    root_conftest.pytest_collection_modifyitems(None, [item])
    written = []
    root_conftest.pytest_terminal_summary(SimpleNamespace(stats={"skipped": [object()]}, write_line=written.append))
    assert written == []
