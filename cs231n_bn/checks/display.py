"""How a check speaks in the notebook: one PASS line, or a few lines saying what is wrong.

IPython shows an exception through its `_render_traceback_()` method when the exception
has one. Both exceptions here use it, so that a failing check cell shows its message (and,
when the error came from the student's own code, that line) instead of a traceback
through the checking machinery. Outside IPython they are ordinary exceptions whose str is
the message.

The stub exception itself, `NotImplementedYet`, lives in `cs231n_bn.exercise` (which
imports nothing from the course, so a layer's stub can raise it without an import cycle)
and is re-exported here.
"""

import linecache
import os
import textwrap
import traceback

from cs231n_bn.claims import WIDTH
from cs231n_bn.exercise import NotImplementedYet  # noqa: F401  (re-exported: one stub exception)

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))


def passed(name, text):
    """Print what a passing check shows: one line, broken between words where it is long."""
    print(textwrap.fill(f"PASS {name}: {text}", WIDTH, subsequent_indent="    ", break_long_words=False,
                        break_on_hyphens=False))


def last_pass(printed):
    """The last PASS message in a check's printed output, its wrapped lines joined; None if none."""
    messages, inside = [], False
    for line in printed.splitlines():
        if line.startswith("PASS"):
            messages.append(line)
        elif inside and line.startswith("    "):
            messages[-1] += " " + line.strip()
            continue
        inside = line.startswith("PASS")
    return messages[-1] if messages else None


def hint_offer(exercise):
    """The sentence every failure ends with."""
    return f"A hint is available: checks.hint({exercise!r})"


_VALIDATION = os.path.join(_PACKAGE_DIR, "validation.py")


def _is_machinery(filename):
    path = os.path.abspath(filename)
    return path.startswith(_CHECKS_DIR) or os.sep + "numpy" + os.sep in path or path == _VALIDATION


def is_notebook_cell(filename):
    """Is filename a notebook cell's code (or an exec'd string), not a file of the student's?

    IPython names a cell "<ipython-input-...>" in old versions and writes it to a temporary
    file ipykernel_<pid>/<hash>.py in current ones.
    """
    folder = os.path.basename(os.path.dirname(filename))
    return filename.startswith("<") or (folder.startswith("ipykernel_") and filename.endswith(".py"))


def student_line(tb):
    """'file, line n: source' of the innermost frame of tb outside numpy and the checks.

    That is the line of the student's code that raised (or called the numpy function
    that raised). None when there is no such frame.
    """
    frames = [(f.f_code.co_filename, lineno, f.f_code.co_name) for f, lineno in traceback.walk_tb(tb)]
    if frames and os.path.abspath(frames[-1][0]) == _VALIDATION:
        # The course's input validation refused an argument: its message names the function
        # and the argument, so what helps is the line that called that function. Drop the
        # validation, the layer's own argument-checking helpers, and the layer itself.
        while frames and (os.path.abspath(frames[-1][0]) == _VALIDATION
                          or frames[-1][2].startswith(("_check", "read_", "_running"))):
            frames.pop()
        frames = frames[:-1]
    found = [f for f in frames if not _is_machinery(f[0])]
    if not found:
        return None
    filename, lineno, function = found[-1]
    source = linecache.getline(filename, lineno).strip()
    shown = os.path.relpath(filename, os.path.dirname(_PACKAGE_DIR)) if filename.startswith(
        os.path.dirname(_PACKAGE_DIR)) else filename
    if is_notebook_cell(filename):
        shown = "your cell"
    return f"{shown}, line {lineno}, in {function}: {source}"


class CheckFailed(AssertionError):
    """An exercise's implementation is wrong; str(err) says what is known about how.

    - exercise: the exercise's name, the key of checks.hint (None for a notebook step)
    - topic: a short key of the diagnosis (e.g. "variance path"), for tests and the grader
    """

    def __init__(self, message, exercise=None, topic=None):
        self.message = message
        self.exercise = exercise
        self.topic = topic
        text = message if exercise is None else f"{message}\n{hint_offer(exercise)}"
        super().__init__(text)

    def _render_traceback_(self):
        return ["CheckFailed: " + line if i == 0 else "  " + line
                for i, line in enumerate(str(self).splitlines())]


def _not_implemented_lines(err):
    lines = [f"Not implemented yet: {err}" if str(err) else "Not implemented yet"]
    where = student_line(err.__traceback__)
    if where:
        lines.append(f"  (raised at {where})")
    return lines


def shown_briefly(err):
    """Give a plain NotImplementedError (nbgrader's stub) NotImplementedYet's short display.

    The exception keeps its type, so whatever tells "not started" from "wrong" by type
    still does; only IPython's rendering changes.
    """
    err._render_traceback_ = lambda: _not_implemented_lines(err)
    return err
