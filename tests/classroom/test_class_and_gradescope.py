"""Grading a class (many copies, concurrently), the class report, and the Gradescope export.

The graders here grade two package exercises each (`--no-notebooks --exercise ...`), so
that the whole path (one grader process per copy, results, report, autograder zip, its
run_autograder and results.json) is tested in the default run; the slow test grades every
notebook of a solved and a blank copy through the autograder.

Instructor-only (the release leaves tests/classroom/ out).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from classroom.edition.release import release
from classroom.grader.class_report import diagnosis, write_class_report
from classroom.grader.gradescope import export_gradescope
from classroom.grader.many import find_submissions, grade_many
from classroom.grader.sandbox import bwrap_path

SOURCE = Path(__file__).resolve().parents[2]
TWO = ["--no-notebooks", "--exercise", "batchnorm_forward", "--exercise", "batchnorm_backward",
       "--timeout", "30", "--memory-mb", "1024"]


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    release(SOURCE, root / "blank")
    for part in ("cs231n_bn", "notebooks", "datasets"):
        shutil.copytree(SOURCE / part, root / "solved" / part, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_submissions_are_found_in_a_folder_of_copies_and_in_an_nbgrader_tree(tmp_path):
    for name in ("ann", "bob"):
        (tmp_path / "class" / name / "cs231n_bn").mkdir(parents=True)
    (tmp_path / "class" / "notes").mkdir()
    (tmp_path / "submitted" / "cat" / "batchnorm" / "notebooks").mkdir(parents=True)
    assert [s for s, _ in find_submissions(tmp_path / "class")] == ["ann", "bob"]
    assert find_submissions(tmp_path / "submitted") == [("cat/batchnorm", tmp_path / "submitted/cat/batchnorm")]
    assert find_submissions(tmp_path / "class" / "ann") == [("ann", tmp_path / "class" / "ann")]


def test_a_class_is_graded_concurrently_and_a_grader_failure_costs_only_its_copy(editions, tmp_path):
    mistaken = tmp_path / "dan"
    shutil.copytree(editions / "solved", mistaken)
    text = (mistaken / "cs231n_bn" / "batchnorm.py").read_text()
    (mistaken / "cs231n_bn" / "batchnorm.py").write_text(text.replace("def batchnorm_forward(", """\
def batchnorm_forward(x, gamma, beta, bn_param):
    out, cache = _solved_forward(x, gamma, beta, bn_param)
    return out * 1.5, cache


def _solved_forward(""", 1))
    submissions = [("ann", editions / "solved"), ("bob", editions / "blank"), ("dan", mistaken),
                   ("eve", tmp_path / "vanished")]
    out = tmp_path / "grades"
    log = tmp_path / "progress.txt"
    with open(log, "w") as stream:
        from classroom.grader.many import Progress

        summaries = grade_many(submissions, out, jobs=2, grade_args=TWO, progress=Progress(4, stream))
    assert set(summaries) == {"ann", "bob", "dan", "eve"}
    reports = {name: json.loads((out / f"{name}.json").read_text()) for name in ("ann", "bob", "dan", "eve")}
    assert reports["ann"]["points"] == reports["ann"]["max_points"] > 0
    assert reports["bob"]["points"] == 0 and reports["dan"]["points"] < reports["ann"]["points"]
    assert reports["eve"]["grader_failed"] and "exit status" in reports["eve"]["warnings"][0]
    assert (out / "ann.txt").read_text().count("automatic total") == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("[" + "#" * 30 + "] 4/4 graded, 1 grader failure(s)")
    assert not list(out.glob(".*.tmp"))  # every result written whole

    table, figure = write_class_report(out)
    markdown = table.read_text()
    assert "# Class report: 4 copies" in markdown and "| nb01_check_forward |" in markdown
    forward = next(line for line in markdown.splitlines() if line.startswith("| nb01_check_forward |"))
    cells = [c.strip() for c in forward.strip("|").split("|")]
    assert cells[3:6] == ["1", "1", "1"]  # pass, fail, not implemented
    assert "1x " in cells[-1] and figure.stat().st_size > 10_000


def test_a_diagnosis_counts_the_same_mistake_on_other_numbers_once():
    first = diagnosis("out is wrong: max error 0.25 at [3, 1]\nmore")
    assert first == diagnosis("out is wrong: max error 1e-3 at [0, 2]") == "out is wrong: max error # at [#, #]"


def autograder(tmp_path, grade_args):
    """Gradescope's layout in a temporary root: the zip unpacked into source/, run_autograder
    beside it, and the results folder; returns the root."""
    archive = export_gradescope(tmp_path / "autograder.zip", SOURCE, grade_args)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "classroom/grader/gradescope.py", "cs231n_bn/checks/__init__.py"} <= names
        assert not any(n.startswith(("tests/", ".git/", ".venv/")) for n in names)
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    return root


def run_autograder(root, copy):
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    shutil.copytree(copy, root / "submission" / "batchnorm-student", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, timeout=3600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


# Without bubblewrap the autograder runs student code as Gradescope's user `student`, whom
# its setup.sh creates; a test machine has neither.
@pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed, nor the autograder's user `student`")
def test_the_gradescope_autograder_grades_a_blank_and_a_solved_copy(editions, tmp_path):
    root = autograder(tmp_path, TWO)
    solved = run_autograder(root, editions / "solved")
    blank = run_autograder(root, editions / "blank")
    for results in (solved, blank):
        assert results["tests"] and all(t["visibility"] == "visible" for t in results["tests"])
        assert all({"name", "score", "max_score", "output"} <= set(t) for t in results["tests"])
        assert results["score"] == sum(t["score"] for t in results["tests"])
    assert solved["score"] == sum(t["max_score"] for t in solved["tests"]) > 0
    assert blank["score"] == 0 and any("not implemented" in t["output"] for t in blank["tests"])


@pytest.mark.slow
def test_the_gradescope_autograder_grades_every_notebook(editions, tmp_path):
    root = autograder(tmp_path, [])
    solved = run_autograder(root, editions / "solved")
    blank = run_autograder(root, editions / "blank")
    tests = solved["tests"]
    # notebook 8's cells need PyTorch (requirements-torch.txt) in the grading environment
    no_torch = importlib.util.find_spec("torch") is None
    lost = [t for t in tests if t["score"] != t["max_score"] and not (no_torch and t["name"].startswith("08_"))]
    assert tests and not lost, lost
    assert blank["score"] == 0
