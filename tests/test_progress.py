"""`python -m cs231n_bn.progress`: every exercise as done, failing or not started, with points.

Run on a small course made here (its own notebook and check functions), so that each
verdict is planted and known. tests/classroom/test_release_and_grade.py runs it on a real student edition.
"""

from types import SimpleNamespace

import nbformat
import pytest

from cs231n_bn.exercise import NotImplementedYet, not_started
from cs231n_bn.progress import course_root, format_standings, main, standings


def graded(source, points, **extra):
    meta = {"nbgrader": {"grade": True, "solution": False, "points": points, "grade_id": f"id{points}{len(source)}"}}
    return nbformat.v4.new_code_cell(source, metadata=meta, **extra)


def solution(source):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": False, "solution": True}})


def answer(source, points):
    meta = {"nbgrader": {"grade": True, "solution": True, "points": points}}
    return nbformat.v4.new_markdown_cell(source, metadata=meta)


def error(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])


def raises(err):
    def check():
        raise err
    return check


def from_stub():
    # A check that wraps the stub's exception in its own failure, as checks may do.
    try:
        raise NotImplementedYet("Exercise 1 of notebooks/01_demo.ipynb: ours is not implemented yet")
    except NotImplementedYet as stub:
        raise AssertionError("ours raised NotImplementedYet") from stub


CHECKS = SimpleNamespace(
    check_good=lambda: print("PASS good"),
    check_wrong=raises(AssertionError("wrong: dx is off by a constant inside each feature")),
    check_crash=raises(KeyError("m")),
    check_todo=raises(NotImplementedYet("Exercise 3 of notebooks/01_demo.ipynb: todo is not implemented yet")),
    check_wrapped=from_stub,
)


@pytest.fixture
def course(tmp_path):
    cells = [
        nbformat.v4.new_markdown_cell("# 1. Demo\n\n### Exercise 1: implement `good`"),
        graded("checks.check_good(good)", 4),
        nbformat.v4.new_markdown_cell("### Exercise 2: four checks, with $\\hat{x}$"),
        graded("checks.check_wrong(wrong)", 3),
        graded("assert something_more", 1, execution_count=7),  # a further check of Exercise 2
        graded("checks.check_crash(crash)", 2),
        graded("checks.check_todo(todo)", 2),
        graded("checks.check_wrapped(wrapped)", 2),
        nbformat.v4.new_markdown_cell("### Step 1: `local_todo`"),
        solution("# YOUR CODE HERE\nraise NotImplementedYet('Step 1 of ...')"),
        graded("assert local_todo == 1", 1),
        nbformat.v4.new_markdown_cell("### Step 2: `local_failed`"),
        solution("local_failed = 3"),
        graded("assert local_failed == 2", 1, execution_count=3, outputs=[error("AssertionError", "expected 2")]),
        nbformat.v4.new_markdown_cell("### Step 3: `local_done`"),
        solution("local_done = 2"),
        graded("assert local_done == 2", 2, execution_count=4),
        nbformat.v4.new_markdown_cell("### Step 4: `local_unrun`"),
        solution("local_unrun = 2"),
        graded("assert local_unrun == 2", 1),
        nbformat.v4.new_markdown_cell("## Questions\n\n**Question 1.** Why?"),
        answer("YOUR ANSWER HERE", 2),
        nbformat.v4.new_markdown_cell("**Question 2.** And then?"),
        answer("Because the mean is subtracted.", 3),
    ]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "notebooks" / "01_demo.ipynb")
    return tmp_path


def test_every_graded_cell_gets_its_verdict_and_points(course):
    got = [(s.name, s.status, s.points, s.max_points) for s in standings(course, CHECKS)]
    assert got == [
        ("Exercise 1: implement good", "done", 4, 4),
        ("Exercise 2: four checks, with xhat: wrong", "failing", 0, 3),
        ("Exercise 2: four checks, with xhat: wrong (further check)", "failing", 0, 1),
        ("Exercise 2: four checks, with xhat: crash", "failing", 0, 2),
        ("Exercise 2: four checks, with xhat: todo", "not started", 0, 2),
        ("Exercise 2: four checks, with xhat: wrapped", "not started", 0, 2),
        ("Step 1: local_todo", "not started", 0, 1),
        ("Step 2: local_failed", "failing", 0, 1),
        ("Step 3: local_done", "done", 2, 2),
        ("Step 4: local_unrun", "not checked", 0, 1),
        ("Question 1", "not answered", 0, 2),
        ("Question 2", "answered", 0, 3),
    ]


def test_a_failure_shows_its_diagnosis_and_the_totals_add_up(course):
    items = standings(course, CHECKS)
    by_name = {s.name: s for s in items}
    assert by_name["Exercise 2: four checks, with xhat: wrong"].detail.startswith("wrong: dx is off by a constant")
    assert by_name["Exercise 2: four checks, with xhat: crash"].detail == "KeyError: 'm'"
    assert by_name["Step 2: local_failed"].detail == "AssertionError: expected 2"
    report = format_standings(items)
    assert "dx is off by a constant inside each feature" in report
    assert "Exercises: 6 of 19 points done; 2 done, 4 failing, 3 not started, 1 not checked yet." in report
    assert "Written answers: 1 of 2 answered (5 points, graded by your instructor)." in report
    # A stub of this same notebook needs no second line; the report stays one line per exercise.
    assert "todo is not implemented yet" not in report


def test_a_check_that_passes_prints_nothing_of_its_own(course, capsys):
    standings(course, CHECKS)
    assert "PASS good" not in capsys.readouterr().out


def test_not_started_follows_the_stub_through_a_wrapping_failure():
    try:
        from_stub()
    except AssertionError as err:
        assert not_started(err)
    assert not not_started(AssertionError("a plain failure"))


def test_the_stub_renders_as_one_short_line_in_jupyter():
    lines = NotImplementedYet("Exercise 1 of notebooks/01_x.ipynb: f is not implemented yet")._render_traceback_()
    assert len(lines) == 1 and "Exercise 1 of notebooks/01_x.ipynb: f is not implemented yet" in lines[0]
    assert issubclass(NotImplementedYet, NotImplementedError)


def test_the_command_needs_a_course_folder(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no notebooks/ folder"):
        course_root(tmp_path)
    assert main(["--course", str(tmp_path)]) == 2
    assert "--course" in capsys.readouterr().err
