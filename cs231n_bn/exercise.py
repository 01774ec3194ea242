"""The student edition's stub exception: "this exercise is not written yet".

Every solution region of the student edition becomes a stub raising NotImplementedYet
with the exercise's name as the notebook gives it, e.g.
"Exercise 1 of notebooks/01_forward_pass.ipynb: batchnorm_forward is not implemented yet".
It is a NotImplementedError, so code (and nbgrader) that expects one keeps working; in
JupyterLab it shows as that one message instead of a traceback through the checks, and
the test suite of the student edition reports a test that reaches it as skipped.
"""

import re


class NotImplementedYet(NotImplementedError):
    """Raised by a stub the student has not replaced yet; str() is the whole message."""

    def _render_traceback_(self):
        # IPython calls this instead of printing the traceback: the student needs the
        # exercise's name and where to write it, not the frames of the check machinery.
        return [f"Not implemented yet: {self}"]


def not_started(err):
    """Is `err` (or an exception it was raised from) a stub's NotImplementedYet? For an
    exception group (hypothesis raises one for several distinct errors): are all of them?"""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, NotImplementedYet):
            return True
        group = getattr(err, "exceptions", None)
        if isinstance(group, (list, tuple)) and group:
            return all(not_started(inner) for inner in group)
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


# ---------------------------------------------------------------------------------------
# What an exercise is called: the way its notebook names it
# ---------------------------------------------------------------------------------------

_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def heading_before(cells, index):
    """The last markdown heading line in cells[0..index] (without its #s), or None."""
    heading = None
    for cell in cells[: index + 1]:
        if cell.get("cell_type") != "markdown":
            continue
        for line in cell.get("source", "").split("\n"):
            text = line.strip()
            if text.startswith("#") and not any(marker in text for marker in _MARKERS):
                heading = text.lstrip("#").strip()
    return heading


def _plain_math(match):
    math = match[1]
    math = re.sub(r"\\(?:text|mathrm|operatorname)\{([^}]*)\}", r"\1", math)
    math = re.sub(r"\\hat\s*\{?(\w+)\}?", r"\1hat", math)
    math = re.sub(r"\\frac\{([^}]*)\}\{([^}]*)\}", r"(\1/\2) ", math)
    math = re.sub(r"\\sqrt\{([^}]*)\}", r"sqrt(\1)", math)
    math = math.replace("\\cdot", "*").replace("\\,", " ")
    math = re.sub(r"\\([A-Za-z]+)", r"\1", math)
    return re.sub(r"\s+", " ", math.replace("{", "").replace("}", "")).strip()


def plain_text(markdown):
    """A markdown line as plain text for messages: inline LaTeX spelled out the way the
    code names things (\\hat{x} -> xhat, \\gamma -> gamma), backticks dropped."""
    return re.sub(r"\$([^$]*)\$", _plain_math, markdown).replace("`", "")


def exercise_label(heading):
    """How to call the exercise under a notebook heading: "Exercise 2", "Step 3", "the
    exercise in section 4", 'the exercise "pick h"', "section 2", or 'the exercise under
    "The branches meet at xmu"' (LaTeX dollars and backticks dropped)."""
    if heading is None:
        return "an exercise"
    plain = plain_text(heading)
    numbered = re.search(r"\b(Exercise|Step)\s+(\d+)", plain)
    section = re.match(r"(\d+)\.", plain)
    titled = re.match(r"(?:\d+\.\s*)?Exercise\s*:\s*(.+)", plain)
    if numbered:
        return f"{numbered[1]} {numbered[2]}"
    if section and "Exercise" in plain:
        return f"the exercise in section {section[1]}"
    if titled:
        return f'the exercise "{titled[1].strip()}"'
    if section:
        return f"section {section[1]}"
    return f'the exercise under "{plain}"'


def exercise_name(cells, index, notebook, what):
    """How a message names the exercise at cells[index] of `notebook` (a path such as
    "notebooks/01_forward_pass.ipynb"), `what` being the function or names it asks for:
    "Exercise 1 of notebooks/01_forward_pass.ipynb: batchnorm_forward"."""
    label = exercise_label(heading_before(cells, index))
    return f"{label[0].upper()}{label[1:]} of {notebook}: {what}"


def lower_first(text):
    """"The exercise in ..." -> "the exercise in ...", for a name inside a sentence."""
    return text[:1].lower() + text[1:]
