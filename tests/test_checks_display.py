"""Where a failure is shown: a line of the student's notebook cell is "your cell"."""

import sys

from cs231n_bn.checks.display import is_notebook_cell, student_line
from cs231n_bn.progress import _stored_result


def _traceback_of(source, filename):
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    try:
        namespace["f"]()
    except ZeroDivisionError:
        return sys.exc_info()[2]
    raise AssertionError("the cell's function did not raise")


def test_a_line_of_ipykernels_temporary_cell_file_is_your_cell():
    tb = _traceback_of("def f():\n    return 1 / 0\n", "/tmp/ipykernel_4242/2710628172.py")
    assert student_line(tb).startswith("your cell, line 2, in f")


def test_old_style_cell_names_and_exec_strings_are_cells_and_files_are_not():
    assert is_notebook_cell("<ipython-input-3-5d2a>")
    assert is_notebook_cell("/tmp/ipykernel_17/123.py")
    assert not is_notebook_cell("/home/me/cs231n_bn/batchnorm.py")
    assert not is_notebook_cell("/tmp/ipykernel_17/notes.txt")


def test_a_bare_assert_that_failed_is_reported_with_its_line():
    traceback = ["\x1b[0;31m---------------------------------\x1b[0m",
                 "\x1b[0;31mAssertionError\x1b[0m    Traceback (most recent call last)",
                 "Cell \x1b[0;32mIn[7], line 1\x1b[0m\n\x1b[0;32m----> 1\x1b[0m \x1b[38;5;28;01massert\x1b[39;00m "
                 "np\x1b[38;5;241m.\x1b[39mallclose(a, b)\n",
                 "\x1b[0;31mAssertionError\x1b[0m: "]
    cell = {"outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": traceback}],
            "execution_count": 7}
    assert _stored_result(cell) == ("failing", "AssertionError: the check's line `assert np.allclose(a, b)` failed")


def test_a_broadcast_error_gets_the_tip_its_shapes_suggest():
    from cs231n_bn.checks.core import _broadcast_hint

    lost_axis = _broadcast_hint("operands could not be broadcast together with shapes (8,5) (8,)")
    gamma_on_last_axis = _broadcast_hint("operands could not be broadcast together with shapes (2,3,4,5) (3,)")
    assert "keeps it" in lost_axis and "gamma" not in lost_axis
    assert "channel axis" in gamma_on_last_axis and "keeps it" not in gamma_on_last_axis
    reshaped_wrongly = _broadcast_hint("operands could not be broadcast together with shapes (1,6,1) (2,6,2,2)")
    assert "axis of size 6 (axis 1)" in reshaped_wrongly and "keeps it" not in reshaped_wrongly


def test_batch_norm_messages_speak_of_features_and_the_batch_not_of_groups():
    import contextlib
    import io
    import re

    from test_checks_catalogue import FAMILIES, outcome

    messages = []
    for family, check, entries in FAMILIES:
        if family.startswith("batchnorm"):
            for implementation, words in entries:
                with contextlib.redirect_stdout(io.StringIO()):
                    messages.append(outcome(check, implementation, words)[1])
    assert len([m for m in messages if m]) > 90
    grouped = [m for m in messages if re.search(r"\bgroups?\b", m)]
    assert not grouped, grouped
