"""nbgrader_course/make_source.py builds from the last commit, as the release does, and says
which uncommitted changes it left out (instructor-only)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/01_forward_pass.ipynb"


@pytest.mark.slow  # builds a release in a subprocess
def test_make_source_takes_the_committed_notebooks_and_names_the_uncommitted_ones(tmp_path):
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(REPO), str(checkout)], check=True, timeout=120)
    committed = (checkout / NOTEBOOK).read_bytes()
    # An autosave on disk, not committed: it must not reach the course.
    (checkout / NOTEBOOK).write_bytes(committed.replace(b'"cells": [', b'"cells": [\n  ', 1))
    course = tmp_path / "course"
    done = subprocess.run([sys.executable, str(checkout / "nbgrader_course" / "make_source.py"), str(course),
                           "--notebooks", "01"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (course / "source" / "batchnorm" / "01_forward_pass.ipynb").read_bytes() == committed
    assert "from the last commit" in done.stdout and NOTEBOOK in done.stdout, done.stdout
