"""The README's commands are the ones CI runs, so a new user's first steps are tested."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line for block in blocks[:2] for line in block.strip().splitlines()]


def test_readme_has_one_setup_and_one_test_command():
    setup, test = readme_commands()
    assert setup.endswith("jupyter lab notebooks/")
    assert "pip install -r requirements.txt" in setup
    assert "pytest" in test


def test_ci_runs_the_readme_commands():
    setup, test = readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    setup_without_opening = setup.rsplit(" && ", 1)[0]
    assert setup_without_opening in ci_lines
    assert test in ci_lines
