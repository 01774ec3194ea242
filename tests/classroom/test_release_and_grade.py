"""Release -> student copy -> grade, end to end, and the proof that nothing leaks.

The expensive steps (writing editions, grading them) run once per module; package
exercises are graded directly, and one notebook (01) is run end to end when it exists.
This file is instructor-only: the release leaves it out.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from classroom.edition.leaks import STATED_ON_PURPOSE, public_text, secret_lines, solved_outside_regions, student_text
from classroom.edition.regions import HIDDEN_TESTS, SOLUTION, RegionError, find_regions, is_trivial
from classroom.edition.release import (
    INSTRUCTOR_ONLY,
    ReleaseError,
    ReleaseReport,
    STUDENT_TESTS,
    release,
    shipped_files,
    strip_notebook,
    strip_python,
)
from classroom.grader.grade import Limits, grade
from cs231n_bn.checks.registry import BY_FUNCTION, CELLS, notebook_path
from cs231n_bn.exercise import NotImplementedYet

SOURCE = Path(__file__).resolve().parents[2]
FIRST_NOTEBOOK = notebook_path(SOURCE, 1)
GRADED = {row.exercise for row in CELLS if row.exercise}  # every package exercise has a graded cell


def copy_env(copy):
    """Environment for a child process that must import the copy's package, not ours."""
    return dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    dest = tmp_path_factory.mktemp("editions") / "student"
    return dest, release(SOURCE, dest)


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    dest = tmp_path_factory.mktemp("editions") / "instructor"
    release(SOURCE, dest, strip=False)
    return dest


def planted(tmp_path_factory, name, module, code):
    """An instructor edition with `code` appended to cs231n_bn/<module>: one planted mistake."""
    dest = tmp_path_factory.mktemp("planted") / name
    release(SOURCE, dest, strip=False)
    with open(dest / "cs231n_bn" / module, "a", encoding="utf-8") as f:
        f.write("\n\n" + code)
    return dest


def by_exercise(report):
    """{package exercise: the item of its first graded cell} (its own check's cell)."""
    items = {item.exercise: item for item in report.items if item.kind == "package"}
    first = {}
    for row in CELLS:
        if row.exercise and row.grade_id in items:
            first.setdefault(row.exercise, items[row.grade_id])
    return first


def lost_exercises(report):
    """The package exercises with a graded cell that lost points."""
    return {i.counted_in for i in report.items if i.kind == "package" and i.status != "skipped" and i.points < i.max_points}


def max_points_of(report, exercises):
    return sum(i.max_points for i in report.items if i.kind == "package" and i.counted_in in exercises)


# ---------------------------------------------------------------------------------------
# Regions and stubs, on small inputs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lines, problem",
    [
        (["### BEGIN SOLUTION", "x = 1"], "never closed"),
        (["### END SOLUTION"], "without a"),
        (["### BEGIN SOLUTION", "### BEGIN SOLUTION", "### END SOLUTION"], "inside the region"),
        (["### BEGIN SOLUTION  # start here", "x = 1", "### END SOLUTION"], "without being one"),
    ],
)
def test_malformed_markers_are_refused_with_their_line(lines, problem):
    with pytest.raises(RegionError, match=problem) as info:
        find_regions(lines, SOLUTION, "demo.py")
    assert "demo.py:" in str(info.value)


def test_trivial_lines_are_only_the_ones_that_give_nothing_away():
    for line in ("", "    )", "else:", "N, D = x.shape", "xhat = cache.xhat", "return dx, dgamma, dbeta"):
        assert is_trivial(line), line
    for line in ("var = np.mean(xmu**2, axis=0)", "dx = ivar * (dxhat - dxhat.mean(axis=0))"):
        assert not is_trivial(line), line


def test_a_package_region_becomes_a_stub_naming_function_and_notebook():
    text = (
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        "    check(x)\n"
        "    ### BEGIN SOLUTION\n"
        "    out = secret_formula(x)\n"
        "    ### END SOLUTION\n"
        "    return out\n"
    )
    report = ReleaseReport()
    stripped = strip_python(text, "cs231n_bn/batchnorm.py", SOURCE, report)
    assert "secret_formula" not in stripped and "check(x)" in stripped
    assert "raise NotImplementedYet(" in stripped and "batchnorm_forward is not implemented" in stripped
    # Named as the notebook names the exercise, not by a grade id.
    if FIRST_NOTEBOOK is not None:
        assert f"of notebooks/{FIRST_NOTEBOOK.name}: batchnorm_forward is not implemented yet" in stripped
    namespace = {"check": lambda x: None}
    exec(compile(stripped, "batchnorm.py", "exec"), namespace)
    with pytest.raises(NotImplementedYet, match="batchnorm_forward is not implemented yet"):
        namespace["batchnorm_forward"](1, 2, 3, {})
    assert report.stubbed_functions == ["cs231n_bn/batchnorm.py:batchnorm_forward"]


def test_hidden_tests_in_a_python_file_go_and_the_solution_below_them_is_still_stubbed():
    text = (
        "def check_me():\n"
        "    ### BEGIN HIDDEN TESTS\n"
        "    assert secret_test()\n"
        "    ### END HIDDEN TESTS\n"
        "    return 1\n"
        "\n\n"
        "def adam(w, dw, config=None):\n"
        "    ### BEGIN SOLUTION\n"
        "    next_w = secret_step(w, dw)\n"
        "    ### END SOLUTION\n"
        "    return next_w, config\n"
    )
    report = ReleaseReport()
    stripped = strip_python(text, "cs231n_bn/optim.py", SOURCE, report)
    assert "secret" not in stripped and "adam is not implemented yet" in stripped
    assert report.hidden_regions == 1 and report.stubbed_functions == ["cs231n_bn/optim.py:adam"]


def test_duplicate_grade_ids_are_reported():
    cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "nb99_same", "grade": True}})
        for _ in range(2)
    ]
    report = ReleaseReport()
    strip_notebook(nbformat.v4.new_notebook(cells=cells), "nb.ipynb", report)
    assert report.warnings == ["nb.ipynb: grade_id 'nb99_same' is used by more than one cell; nbgrader needs unique ids"]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "inside a function"),
        ("def helper():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "no entry in"),
    ],
)
def test_regions_the_release_cannot_stub_are_refused(text, problem):
    with pytest.raises(ReleaseError, match=problem):
        strip_python(text, "cs231n_bn/batchnorm.py", SOURCE, ReleaseReport())


def test_a_notebook_loses_solutions_hidden_tests_and_outputs():
    code = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return x * 42\n    ### END SOLUTION",
        metadata={"nbgrader": {"grade": False, "solution": True, "grade_id": "nb99_f", "locked": False,
                               "schema_version": 3}, "execution": {"iopub.status.busy": "2026"}},
        outputs=[nbformat.v4.new_output("stream", text="42\n")],
        execution_count=3,
    )
    check = nbformat.v4.new_code_cell(
        "assert f(1) == 42\n### BEGIN HIDDEN TESTS\nassert f(2) == 84\n### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "nb99_check", "points": 1,
                               "locked": True, "schema_version": 3}},
    )
    answer = nbformat.v4.new_markdown_cell(
        "### BEGIN SOLUTION\nBecause of the answer.\n### END SOLUTION",
        metadata={"nbgrader": {"grade": True, "solution": True, "grade_id": "nb99_q", "points": 1,
                               "locked": False, "schema_version": 3}},
    )
    report = ReleaseReport()
    heading = nbformat.v4.new_markdown_cell("### Exercise 4: `f`, the answer")
    nb = strip_notebook(nbformat.v4.new_notebook(cells=[heading, code, check, answer]), "nb.ipynb", report)
    code, check, answer = nb.cells[1:]
    assert code.source.splitlines()[1:] == [
        "    # YOUR CODE HERE",
        "    from cs231n_bn.exercise import NotImplementedYet",
        "    raise NotImplementedYet('Exercise 4 of nb.ipynb: f: write your code here, in place of these lines')",
    ]
    assert code.outputs == [] and code.execution_count is None
    assert "execution" not in code.metadata and code.metadata["nbgrader"]["grade_id"] == "nb99_f"
    assert check.source == "assert f(1) == 42"
    assert answer.source == "YOUR ANSWER HERE"
    assert report.notebook_regions == 2 and report.hidden_regions == 1 and report.warnings == []


def test_a_region_that_leaves_invalid_python_behind_is_reported():
    cell = nbformat.v4.new_code_cell(
        "%matplotlib inline\nsizes = {\n    ### BEGIN SOLUTION\n    'a': 1,\n    ### END SOLUTION\n}",
        metadata={"nbgrader": {"grade": False, "solution": True, "grade_id": "nb99_dict", "locked": False,
                               "schema_version": 3}},
    )
    report = ReleaseReport()
    strip_notebook(nbformat.v4.new_notebook(cells=[cell]), "nb.ipynb", report)
    assert len(report.warnings) == 1 and "not valid Python" in report.warnings[0]


# ---------------------------------------------------------------------------------------
# The student edition of this course
# ---------------------------------------------------------------------------------------


def test_the_student_edition_holds_the_tracked_files_less_the_instructor_only(student):
    dest, _ = student
    shipped = set(shipped_files(SOURCE))
    written = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert written == shipped
    assert not any(rel.startswith((".git/", ".venv/")) for rel in written)
    assert not any(rel.startswith(INSTRUCTOR_ONLY) for rel in written - set(STUDENT_TESTS))
    assert not (dest / "classroom").exists() and not (dest / "cs231n_bn" / "classroom").exists()
    # What a student uses: no CI, maintainers' tools or benchmarks, and only the student's tests.
    assert not any((dest / folder).exists() for folder in (".ci", "tools", "benchmarks", "nbgrader_course"))
    assert {str(p.relative_to(dest)) for p in (dest / "tests").iterdir()} == set(STUDENT_TESTS)


def test_every_registered_exercise_is_stubbed_and_nothing_else(student):
    _, report = student
    stubbed = {entry.split(":")[1] for entry in report.stubbed_functions}
    assert stubbed == set(BY_FUNCTION)


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_the_student_package_imports_cleanly_from_the_copy(student):
    dest, _ = student
    script = (
        "import importlib, pkgutil, cs231n_bn\n"
        "names = [m.name for m in pkgutil.walk_packages(cs231n_bn.__path__, 'cs231n_bn.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(cs231n_bn.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=dest, env=copy_env(dest),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().is_relative_to(dest.resolve())


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_the_student_edition_installs_as_a_package(student, tmp_path):
    # Building a wheel is what `pip install` does first; a pure-Python wheel then imports
    # straight from its zip file, without touching any environment.
    tree = tmp_path / "tree"
    shutil.copytree(student[0], tree)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(tree)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("cs231n_bn-*.whl")
    script = "import cs231n_bn.batchnorm as m, cs231n_bn.checks, cs231n_bn.progress; print(m.__file__)"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=copy_env(wheel),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(wheel))


def test_student_notebooks_have_no_outputs_markers_or_runtime_metadata(student):
    dest, _ = student
    notebooks = sorted((dest / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata
        source_ids = [c.metadata.get("nbgrader", {}).get("grade_id")
                      for c in nbformat.read(SOURCE / "notebooks" / path.name, as_version=4).cells]
        assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == source_ids
        for index, cell in enumerate(nb.cells):
            where = f"{path.name} cell {index}"
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, where
            assert set(cell.metadata) <= {"nbgrader", "tags", "editable", "deletable", "jupyter", "slideshow"}, where
            for marker in (*SOLUTION, *HIDDEN_TESTS):
                assert marker not in cell.source.splitlines(), where


# ---------------------------------------------------------------------------------------
# A student edition that speaks to students, built from the last commit
# ---------------------------------------------------------------------------------------


def test_the_student_readme_speaks_to_students(student):
    readme = (student[0] / "README.md").read_text(encoding="utf-8")
    instructor = (SOURCE / "README.md").read_text(encoding="utf-8")
    assert readme != instructor and "instructor edition" not in readme
    for needed in ("pip install -r requirements.txt", "jupyter lab notebooks/", "python -m cs231n_bn.progress",
                   "python -m pytest", "YOUR CODE HERE", "check cell", "Hand in", "--allow-root",
                   ".venv\\Scripts\\", "checks.hint(", "## What is where"):
        assert needed in readme, needed
    # PyTorch only as the CPU-only build, never a bare torch from the public index.
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in readme
    for line in readme.splitlines():
        if re.search(r"pip install (-r requirements-torch|torch)", line) and "Never" not in line:
            assert "--index-url https://download.pytorch.org/whl/cpu" in line, line
    # Every folder the edition holds is explained.
    for folder in {p.name for p in student[0].iterdir() if p.is_dir()} - {".git"}:
        assert f"| `{folder}/` |" in readme, folder
    # The course table comes from the instructor's README, so the two never disagree.
    table = [line for line in instructor.splitlines() if line.startswith("| `0")]
    assert table and all(line in readme for line in table)


def test_the_untouched_release_explains_the_lines_it_shows_on_purpose(student):
    _, report = student
    assert report.on_purpose == len(STATED_ON_PURPOSE)
    assert not [w for w in report.warnings if "also visible outside any region" in w]


def git_course(root, readme="# Demo\n\n## The course\n\nOne notebook.\n"):
    """A tiny course in a new git repository, committed: README.md and notes.txt."""
    root.mkdir()
    (root / "README.md").write_text(readme)
    (root / "notes.txt").write_text("committed\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    return root


def test_a_release_builds_from_the_last_commit_and_names_what_it_left_out(tmp_path, capsys):
    from classroom.__main__ import main

    repo = git_course(tmp_path / "course")
    (repo / "notes.txt").write_text("edited, not committed\n")  # e.g. JupyterLab's autosave
    (repo / "scratch.txt").write_text("untracked\n")
    report = release(repo, tmp_path / "from-head", committed=True)
    assert (tmp_path / "from-head" / "notes.txt").read_text() == "committed\n"
    assert not (tmp_path / "from-head" / "scratch.txt").exists()
    assert report.uncommitted == ["notes.txt"]
    release(repo, tmp_path / "from-disk")
    assert (tmp_path / "from-disk" / "notes.txt").read_text() == "edited, not committed\n"
    # The command says so in one line, and --working-tree takes the files on disk.
    assert main(["release", str(tmp_path / "cli"), "--source", str(repo)]) == 0
    assert "built from the last commit; uncommitted changes to 1 tracked file(s) are left out (notes.txt)" in (
        capsys.readouterr().err)
    assert main(["release", str(tmp_path / "cli-disk"), "--source", str(repo), "--working-tree"]) == 0
    assert (tmp_path / "cli-disk" / "notes.txt").read_text() == "edited, not committed\n"


def test_a_function_an_exercise_asks_for_must_not_ship_solved(tmp_path):
    heading = nbformat.v4.new_markdown_cell("### Exercise 3 (in this notebook): `steps`")
    cell = nbformat.v4.new_code_cell("def steps(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[heading, cell]), tmp_path / "notebooks" / "05_demo.ipynb")
    (tmp_path / "helpers.py").write_text("def steps(x):\n    return x + 1\n")
    files = ["helpers.py", "notebooks/05_demo.ipynb"]
    ((name, exercise, where),) = solved_outside_regions(tmp_path, files)
    assert (name, where) == ("steps", "helpers.py") and "notebooks/05_demo.ipynb" in exercise
    (tmp_path / "helpers.py").write_text(
        "def steps(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n")
    assert solved_outside_regions(tmp_path, files) == []


def solve(edition, module, function):
    """Put the instructor's solution of `function` back in place of its stub in `edition`."""
    lines = (SOURCE / "cs231n_bn" / module).read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"def {function}("))
    (region, *_) = [r for r in find_regions(lines, SOLUTION, module, strict=False) if r.begin > start]
    target = edition / "cs231n_bn" / module
    theirs = target.read_text(encoding="utf-8").split("\n")
    stub = next(i for i, line in enumerate(theirs) if f"# YOUR CODE HERE: implement {function}," in line)
    theirs[stub:stub + 2] = lines[region.begin + 1:region.end]
    target.write_text("\n".join(theirs), encoding="utf-8")


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_in_the_student_edition_tests_and_progress_tell_done_wrong_and_not_started(student, tmp_path):
    # A student who finished the forward pass, got the closed-form backward wrong (no path
    # through the mean and the variance) and has not started the staged backward.
    copy = tmp_path / "copy"
    shutil.copytree(student[0], copy)
    solve(copy, "batchnorm.py", "batchnorm_forward")
    path = copy / "cs231n_bn" / "batchnorm.py"
    text = path.read_text(encoding="utf-8").split("\n")
    stub = next(i for i, line in enumerate(text) if "# YOUR CODE HERE: implement batchnorm_backward_alt," in line)
    text[stub:stub + 2] = ["    dbeta = dout.sum(axis=0)", "    dgamma = (dout * cache.xhat).sum(axis=0)",
                           "    return cache.gamma * dout * cache.ivar, dgamma, dbeta"]
    path.write_text("\n".join(text), encoding="utf-8")

    junit = tmp_path / "report.xml"
    # The student's tests: one per package exercise, with the student edition's settings.
    subprocess.run([sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}"],
                   cwd=copy, env=copy_env(copy), capture_output=True, text=True, timeout=300)
    outcomes = {}
    for case in ElementTree.parse(junit).iter("testcase"):
        kind = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        message = next((child.get("message", "") for child in case), "")
        outcomes[case.get("name")] = (kind, message)
    assert outcomes["test_exercise[batchnorm_forward]"][0] == "passed", outcomes
    staged = outcomes["test_exercise[batchnorm_backward]"]
    assert staged[0] == "skipped" and "not implemented yet" in staged[1] and "batchnorm_backward" in staged[1]
    wrong = outcomes["test_exercise[batchnorm_backward_alt]"]
    assert wrong[0] == "failure" and "dx" in wrong[1]
    failures = {name: outcome for name, outcome in outcomes.items() if outcome[0] == "failure"}
    assert len(failures) == 1, failures
    assert not [name for name, (kind, _) in outcomes.items() if kind == "error"]
    assert all("not implemented yet" in message for kind, message in outcomes.values() if kind == "skipped")

    shown = subprocess.run([sys.executable, "-m", "cs231n_bn.progress"], cwd=copy, env=copy_env(copy),
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    forward = next(line for line in lines if "batchnorm_forward" in line and "/" in line)
    assert forward.split()[:2] == ["done", "4/4"] and "Exercise 1" in forward, shown.stdout
    alt = lines.index(next(line for line in lines if line.rstrip().endswith("batchnorm_backward_alt")))
    # The diagnosis follows on the lines under the exercise, up to the next exercise.
    diagnosis = " ".join(lines[alt + 1:alt + 8])
    assert lines[alt].split()[0] == "failing" and "mean" in diagnosis and "missing" in diagnosis, shown.stdout
    assert any(line.split()[:2] == ["not", "started"] and "batchnorm_backward" in line for line in lines)
    assert "Exercises: 4 of " in shown.stdout


# ---------------------------------------------------------------------------------------
# No leaks
# ---------------------------------------------------------------------------------------


def leaked_lines(edition):
    """Secret lines that a file of `edition` shows although the instructor's version of that
    same file shows them only inside a region."""
    files = shipped_files(SOURCE)
    secrets = secret_lines(SOURCE, files)
    assert len(secrets) > 50, "the course should have solution regions to protect"
    leaks = []
    for rel in files:
        path = edition / rel
        if not path.exists():
            continue
        seen, public = student_text(path), public_text(SOURCE, rel)
        leaks += [f"{rel}: {line!r}" for line in secrets if line in seen and line not in public]
    return leaks


def test_no_solution_or_hidden_test_line_survives_the_release(student, instructor):
    """Every file of the student edition shows no secret line, except where the
    instructor's version of that same file already shows it outside any region (the
    release prints those as warnings; they are course content, not left-overs)."""
    assert leaked_lines(student[0]) == []
    # The same search over the unstripped edition finds the solutions: the test can fail.
    assert len(leaked_lines(instructor)) > 50


# STATED_ON_PURPOSE (in leaks.py) names the only secret lines the course states outside a
# region. Every other line of every solution region and hidden test is absent from every
# file of the student edition.


def secret_lines_shown(edition):
    secrets = secret_lines(SOURCE, shipped_files(SOURCE))
    assert set(STATED_ON_PURPOSE) <= set(secrets), "STATED_ON_PURPOSE names lines that are no longer secret"
    texts = [student_text(path) for path in edition.rglob("*") if path.is_file()]
    return sorted(line for line in secrets if line not in STATED_ON_PURPOSE and any(line in t for t in texts))


def test_no_secret_line_appears_anywhere_in_the_student_edition(student, instructor):
    assert secret_lines_shown(student[0]) == []
    # The same search over the unstripped edition finds the solutions: the test can fail.
    assert len(secret_lines_shown(instructor)) > 50


def test_the_shipped_checks_and_classroom_code_hold_no_solution_line(student):
    # Whole lines compared: the checks are written in their own words, so no line of theirs
    # is a line of a solution (fragments such as "axis=0)" are bound to recur).
    dest, _ = student
    secrets = secret_lines(SOURCE, shipped_files(SOURCE))
    checks = [dest / "cs231n_bn" / "checks.py", *sorted((dest / "cs231n_bn" / "checks").glob("*.py"))]
    tools = [dest / "cs231n_bn" / "progress.py", dest / "cs231n_bn" / "exercise.py"]
    for path in [p for p in checks if p.exists()] + tools:
        lines = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
        assert sorted(lines & set(secrets)) == [], path.name


def test_hidden_tests_exist_in_the_source_and_not_in_the_student_notebooks(student):
    dest, report = student
    if report.hidden_regions == 0:
        pytest.skip("no notebook has hidden tests yet")
    for path in sorted((dest / "notebooks").glob("*.ipynb")):
        text = student_text(path)
        for marker in HIDDEN_TESTS:
            assert marker not in text, path.name


# ---------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blank_report(student):
    return grade(student[0], SOURCE, notebooks=False)


@pytest.fixture(scope="module")
def solution_report(instructor):
    return grade(instructor, SOURCE, notebooks=False)


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_the_solution_edition_gets_full_marks(solution_report):
    items = by_exercise(solution_report)
    assert set(items) == GRADED
    failed = {name: i.message for name, i in items.items() if i.status != "pass"}
    assert failed == {}
    assert solution_report.points == solution_report.max_points > 0


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_the_untouched_student_edition_scores_zero_on_every_exercise(blank_report):
    for name, item in by_exercise(blank_report).items():
        assert (item.status, item.points) == ("not implemented", 0), (name, item.message)
        # Each exercise is graded on its own, so the stub met is the exercise's own.
        assert f"{name} is not implemented yet" in item.message
        exercise = BY_FUNCTION[name]
        assert f"{exercise.notebook:02d}" in item.message, item.message
    assert blank_report.points == 0


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_a_planted_mistake_costs_exactly_its_exercise_and_is_named(tmp_path_factory, tmp_path):
    # Unbiased variance in training, built from the reference: shrinking eps and gamma by
    # (N-1)/N and its root turns 1/sqrt(var + eps) into 1/sqrt(var * N/(N-1) + eps).
    copy = planted(tmp_path_factory, "unbiased", "batchnorm.py", (
        "_reference_forward = batchnorm_forward\n\n\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        "    if bn_param.get('mode') != 'train':\n"
        "        return _reference_forward(x, gamma, beta, bn_param)\n"
        "    shrink = (x.shape[0] - 1) / x.shape[0]\n"
        "    params = dict(bn_param, eps=bn_param.get('eps', 1e-5) * shrink)\n"
        "    out, cache = _reference_forward(x, gamma * np.sqrt(shrink), beta, params)\n"
        "    bn_param.update(running_mean=params['running_mean'], running_var=params['running_var'])\n"
        "    return out, cache\n"
    ))
    out = tmp_path / "grades.json"
    done = subprocess.run(
        [sys.executable, "-m", "classroom", "grade", str(copy), "--no-notebooks", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "batchnorm_forward" in done.stdout and "unbiased" in done.stdout
    report = json.loads(out.read_text())
    package = [e for e in report["exercises"] if e["kind"] == "package"]
    lost = [e for e in package if e["points"] < e["max_points"]]
    assert {e["counted_in"] for e in lost} == {"batchnorm_forward"}
    main = next(e for e in package if e["exercise"] == "nb01_check_forward")
    assert main["status"] == "fail" and "unbiased" in main["message"]
    assert report["points"] == report["max_points"] - sum(e["max_points"] for e in lost)


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_a_loop_a_huge_allocation_and_a_crash_cost_only_their_exercises(tmp_path_factory):
    copy = planted(tmp_path_factory, "hostile", "layernorm.py", (
        "def layernorm_forward(x, gamma, beta, ln_param):\n"
        "    while True:\n"
        "        pass\n\n\n"
        "def layernorm_backward(dout, cache):\n"
        "    hoard = np.ones(2**31)  # 16 GiB\n"
        "    return hoard, hoard, hoard\n"
    ))
    with open(copy / "cs231n_bn" / "optim.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef adam(w, dw, config=None):\n    import os\n    os._exit(3)\n")
    hit = {"layernorm_forward", "layernorm_backward", "adam"}
    neighbours = {"sgd_momentum", "batchnorm_forward", "FullyConnectedNet._hidden_forward"}  # same modules, or callers
    report = grade(copy, SOURCE, notebooks=False, limits=Limits(timeout=5, memory_mb=1024), exercises=hit | neighbours)
    items = {name: item for name, item in by_exercise(report).items() if item.status != "skipped"}
    assert set(items) == hit | neighbours
    assert items["layernorm_forward"].status == "timeout"
    assert items["layernorm_backward"].status in ("memory", "fail") and "Memory" in items["layernorm_backward"].message
    assert items["adam"].status == "error"
    for name, item in items.items():
        assert (item.points == 0) == (name in hit), (name, item.status, item.message)


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_a_syntax_error_costs_only_the_exercises_of_its_module(tmp_path_factory):
    copy = planted(tmp_path_factory, "syntax", "spatial.py", "def broken(:\n")
    report = grade(copy, SOURCE, notebooks=False)
    items = by_exercise(report)
    assert set(items) == GRADED
    lost = lost_exercises(report)
    assert lost == {name for name in GRADED if BY_FUNCTION[name].module == "spatial.py"}
    assert all(items[name].status == "error" and "SyntaxError" in items[name].message for name in lost)
    assert report.points == report.max_points - max_points_of(report, lost)


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
def test_a_module_that_does_not_import_leaves_the_exercises_that_only_call_its_functions(tmp_path_factory):
    # fc_net.py imports batchnorm_forward & co from batchnorm.py; the network's exercises
    # call the grader's versions of those, so they still earn their points.
    copy = planted(tmp_path_factory, "syntax_bn", "batchnorm.py", "def broken(:\n")
    net = {"FullyConnectedNet._hidden_forward", "FullyConnectedNet._hidden_backward"}
    report = grade(copy, SOURCE, notebooks=False, exercises=net | {"batchnorm_forward"})
    items = by_exercise(report)
    assert items["batchnorm_forward"].points == 0 and "SyntaxError" in items["batchnorm_forward"].message
    assert all(items[name].status == "pass" for name in net), [(n, items[n].message) for n in net]


def test_a_student_cannot_pass_by_editing_their_copy_of_the_checks(tmp_path_factory):
    # The checks are a module (checks.py) or a package (checks/__init__.py): tamper with either.
    checks = "checks/__init__.py" if (SOURCE / "cs231n_bn" / "checks").is_dir() else "checks.py"
    copy = planted(tmp_path_factory, "tampered", checks, (
        "def check_batchnorm_forward(batchnorm_forward=None, *args, **kwargs):\n    print('PASS')\n"
    ))
    (copy / "cs231n_bn" / "batchnorm.py").write_text(
        (copy / "cs231n_bn" / "batchnorm.py").read_text().replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    raise RuntimeError('no')", 1)
    )
    report = grade(copy, SOURCE, notebooks=False, exercises={"batchnorm_forward"})
    assert by_exercise(report)["batchnorm_forward"].points == 0
    assert any(f"cs231n_bn/{checks}" in w for w in report.warnings)


# ---------------------------------------------------------------------------------------
# Notebooks end to end (notebook 01 only, to keep the suite quick)
# ---------------------------------------------------------------------------------------

needs_notebook_1 = pytest.mark.skipif(FIRST_NOTEBOOK is None, reason="notebook 01 does not exist yet")


@needs_notebook_1
def test_the_student_notebook_runs_up_to_its_first_exercise_and_stops_there(student):
    dest, _ = student
    path = dest / "notebooks" / FIRST_NOTEBOOK.name
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute(env=copy_env(dest))  # the kernel imports the student's package
    assert info.value.ename == "NotImplementedYet"
    assert "Exercise 1 of notebooks/01_forward_pass.ipynb: batchnorm_forward is not implemented yet" in info.value.evalue
    ran = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    stopped = next(c for c in nb.cells if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.outputs))
    assert len(ran) >= 2 and stopped is ran[-1]
    # JupyterLab shows the stub's one-line message, not a traceback through the checks.
    (error,) = [o for o in stopped.outputs if o.output_type == "error"]
    assert len(error.traceback) == 1 and "batchnorm_forward is not implemented yet" in error.traceback[0]


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
@needs_notebook_1
def test_the_untouched_student_notebook_scores_zero(student):
    report = grade(student[0], SOURCE, notebooks=True, only=[FIRST_NOTEBOOK.name])
    graded = [i for i in report.items if i.kind == "notebook" and i.notebook == FIRST_NOTEBOOK.name]
    assert graded and all(i.status == "not implemented" and i.points == 0 for i in graded), graded
    assert report.points == 0


@pytest.mark.slow  # grades or installs a whole edition in subprocesses
@needs_notebook_1
def test_grading_runs_the_solution_cells_never_the_copys_check_cells(tmp_path_factory):
    # A copy with the solutions whose owner emptied every check cell of notebook 1, broke
    # the first notebook-local exercise and replaced the checks: the grader runs only the
    # solution cells and makes each check cell's call itself, with its own checks, so
    # exactly that exercise's cell fails.
    copy = tmp_path_factory.mktemp("notebook") / "copy"
    release(SOURCE, copy, strip=False)
    (copy / "cs231n_bn" / "checks" / "__init__.py").write_text("raise ImportError('a tampered copy')\n")
    path = copy / "notebooks" / FIRST_NOTEBOOK.name
    nb = nbformat.read(path, as_version=4)
    broken = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            cell.source = "pass  # trust me"
        elif cell.cell_type == "code" and meta.get("solution") and broken is None:
            cell.source = "raise RuntimeError('planted')\n" + cell.source
            broken = meta["grade_id"]
    nbformat.write(nb, path)
    report = grade(copy, SOURCE, notebooks=True, only=[FIRST_NOTEBOOK.name])
    notebook_items = [i for i in report.items if i.kind == "notebook" and i.notebook == FIRST_NOTEBOOK.name]
    assert notebook_items, "notebook 01 should have check cells of its own"
    assert broken is not None, "notebook 01 should have a notebook-local exercise"
    failed = [i for i in notebook_items if i.status != "pass"]
    assert [i.exercise for i in failed] == ["nb01_check_undo"], [(i.exercise, i.status, i.message) for i in notebook_items]
    assert "planted" in failed[0].message and failed[0].points == 0
    assert all(i.points == i.max_points for i in notebook_items if i is not failed[0])
    package = [i for i in report.items if i.kind == "package" and i.notebook == FIRST_NOTEBOOK.name]
    assert package and all(i.status == "pass" for i in package), [(i.exercise, i.message) for i in package]
    manual = [i for i in report.items if i.kind == "manual" and i.notebook == FIRST_NOTEBOOK.name]
    assert all(i.status == "manual" for i in manual)
