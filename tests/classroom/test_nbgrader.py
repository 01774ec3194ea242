"""nbgrader, for real, on notebook 01: it grades the package the student handed in.

The course directory is built by nbgrader_course/make_source.py, then nbgrader's own
generate_assignment, autograde and generate_feedback run on three submissions: the release
untouched, fully solved, and solved but for one mistake planted in the package. Only the
autograded cells are compared (written answers are graded by hand).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "batchnorm"
NOTEBOOK = "01_forward_pass"
# Points of notebook 01's autograded cells, as its nbgrader metadata gives them.
CHECK_CELLS = {"nb01_check_forward": 4, "nb01_check_undo": 2, "nb01_check_running_after_k": 2}


# A mistake a student could make in the package: test mode normalizes with the batch's own
# statistics. Notebook 01's undo and running-average exercises use train mode only.
PLANTED_IN_PACKAGE = '''

_batchnorm_forward_as_written = batchnorm_forward


def batchnorm_forward(x, gamma, beta, bn_param):
    if bn_param.get("mode") == "test":
        return _batchnorm_forward_as_written(x, gamma, beta, dict(bn_param, mode="train"))
    return _batchnorm_forward_as_written(x, gamma, beta, bn_param)
'''


def nbgrader_command():
    """The command that runs nbgrader, or a skip saying what is missing."""
    try:
        import nbgrader  # noqa: F401 (only whether it imports)
    except ImportError:
        pytest.skip("nbgrader is not installed; enable this test with `pip install nbgrader==0.9.6`")
    if shutil.which("alembic", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("nbgrader needs the `alembic` executable beside this Python; reinstall nbgrader")
    if not (REPO / "classroom").is_dir():
        pytest.skip("the instructor tools (classroom/) are not in this copy of the course")
    return [sys.executable, "-m", "nbgrader"]


def make_source(course, assignment, notebooks):
    """nbgrader_course/make_source.py, run as the README says (it is a script, not a module)."""
    command = [sys.executable, str(REPO / "nbgrader_course" / "make_source.py"), str(course)]
    done = subprocess.run(command + ["--assignment", assignment, "--notebooks", *notebooks], capture_output=True, text=True)
    assert done.returncode == 0, f"make_source.py failed:\n{done.stdout}\n{done.stderr}"


def run(command, cwd):
    # nbgrader calls `alembic` by name: the environment's bin folder goes first on PATH. A
    # PYTHONPATH would put a package ahead of the one handed in (nbgrader_config.py says so).
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    env.pop("PYTHONPATH", None)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command[2:])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def solve_notebook(released, source):
    """The released notebook with every solution cell as the instructor wrote it."""
    nb = json.loads(released.read_text())
    solutions = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell["source"]
        for cell in json.loads(source.read_text())["cells"]
        if cell["metadata"].get("nbgrader", {}).get("solution")
    }
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell["source"] = solutions[grade_id]
    released.write_text(json.dumps(nb))


def submit(course, student, solved=False, change=None):
    """Copy the release to submitted/student/, solved or not, then apply `change(folder)`."""
    folder = course / "submitted" / student / ASSIGNMENT
    shutil.copytree(course / "release" / ASSIGNMENT, folder)
    if solved:
        solve_notebook(folder / f"{NOTEBOOK}.ipynb", course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
        # The student's package: the instructor's solved exercise files.
        from cs231n_bn.checks.registry import PACKAGE_EXERCISES

        for module in {exercise.module for exercise in PACKAGE_EXERCISES}:
            shutil.copy2(REPO / "cs231n_bn" / module, folder / "cs231n_bn" / module)
    if change is not None:
        change(folder)


def plant_in_package(folder):
    path = folder / "cs231n_bn" / "batchnorm.py"
    path.write_text(path.read_text() + PLANTED_IN_PACKAGE)


def cell_scores(course, student):
    """{grade_id: points} of the autograded cells of one submission, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="cs231n_bn") as gb:
        notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades if grade.cell_type == "code"}


def test_the_configuration_protects_the_student_files_and_refuses_a_shadowing_pythonpath(tmp_path, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    shutil.copy2(REPO / "nbgrader_course" / "nbgrader_config.py", tmp_path)
    (tmp_path / "source" / ASSIGNMENT).mkdir(parents=True)
    monkeypatch.setenv("PYTHONPATH", "/nowhere")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    protected = config.Autograde.exclude_overwriting[ASSIGNMENT]
    assert "cs231n_bn/batchnorm.py" in protected and "cs231n_bn/optim.py" in protected
    assert "cs231n_bn/checks.py" not in protected  # the checks are put back to the released version
    assert config.KernelManager.transport == "ipc"

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["/nowhere", str(REPO)]))
    with pytest.raises(RuntimeError, match=r"PYTHONPATH holds a cs231n_bn package .*unset PYTHONPATH"):
        PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()


@pytest.mark.slow  # about 40 s of CPU: nbgrader runs notebook 01 once per submission
def test_nbgrader_grades_the_students_package(tmp_path):
    nbgrader = nbgrader_command()
    course = tmp_path / "course"
    make_source(course, ASSIGNMENT, ["01"])
    run(nbgrader + ["generate_assignment", ASSIGNMENT], course)
    released = json.loads((course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text())
    assert not any("BEGIN SOLUTION" in "".join(c["source"]) for c in released["cells"])
    assert "raise NotImplementedYet(" in (course / "release" / ASSIGNMENT / "cs231n_bn" / "batchnorm.py").read_text()

    submit(course, "blank")
    submit(course, "solved", solved=True)
    submit(course, "package_mistake", solved=True, change=plant_in_package)
    graded = run(nbgrader + ["autograde", ASSIGNMENT], course)
    # The kernels run over IPC (nbgrader_config.py), so ipykernel has no TCP warning to print.
    assert "without encryption" not in graded.stdout + graded.stderr
    run(nbgrader + ["generate_feedback", ASSIGNMENT], course)

    full = dict(CHECK_CELLS)
    assert cell_scores(course, "blank") == dict.fromkeys(CHECK_CELLS, 0)
    assert cell_scores(course, "solved") == full
    assert cell_scores(course, "package_mistake") == dict(full, nb01_check_forward=0)
    for student in ("blank", "solved", "package_mistake"):
        feedback = course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"
        assert feedback.is_file(), f"generate_feedback wrote no feedback for {student}"
    # The feedback shows the check's own diagnosis, from the student's package.
    assert "test mode" in (course / "feedback" / "package_mistake" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
