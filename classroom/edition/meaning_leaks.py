"""Leaks by meaning: shipped code that computes an exercise's answer, and texts that state one.

Matching solution lines (leaks.py) misses a module that computes the same thing in other
words. Here shipped code is judged by what it DOES: every function is called on the
exercises' own inputs (those the checks use), and any result that equals an answer (an
output, a gradient, a path of the gradient, a normalized x, a running average, a cache
field) is a leak. The answers and the inputs come from running the checks against the
instructor's code under a capturing provider (the values they ask for are the answers).
Two scopes: the check modules, in this process (`callable_leaks`), and every module of a
built student edition, in a process whose package is the edition's, where the exercises
are stubs (`edition_leaks`, through edition_scan.py). And the texts a student reads (hints
below the last level, failure messages) are scanned for formulas of the answers.

    cases = capture_cases()
    leaks = callable_leaks(cases)              # [(function, answer key), ...]
    scan = edition_leaks(cases, "student/")    # {"functions": n, "leaks": [...]}
    formulas = formula_texts(texts)            # [(pattern, text), ...]
"""

import contextlib
import importlib
import inspect
import io
import json
import re
import subprocess
import sys
import tempfile

from classroom.edition import edition_scan
from classroom.grader.notebook_reference import run_notebook_checks
from classroom.grader.references import SOURCE, computations, instructor_provider
from cs231n_bn.checks import reference
from cs231n_bn.checks.registry import BY_FUNCTION

# Shipped check modules that are not judged: the last hint level (left out of the student
# edition unless the instructor ships it), and the reference values (data for the checks'
# fixed inputs, which is what the edition is meant to carry).
NOT_JUDGED = ("cs231n_bn.checks.solution_hints", "cs231n_bn.checks.reference")

# Shipped functions that compute an answer on purpose, with the reason. Notebook 2's graph
# evaluates the forward pass node by node (its numeric gradients perturb one node and
# re-evaluate what follows), so on a training batch its nodes are batch norm's
# intermediate values: the definition notebook 1 states in its equations, in the order
# its table gives. What notebook 1's exercise adds (test mode, running averages, the
# cache, bad input) and every backward pass stay out of reach.
COMPUTED_ON_PURPOSE = {
    "cs231n_bn.graph._evaluate": "notebook 2's graph, evaluated from any node: notebook 1's stated definition",
    "cs231n_bn.graph.forward_values": "the same evaluation, from the inputs",
}
ON_PURPOSE_ANSWERS = ("batchnorm_forward/out", "batchnorm_forward/xmu", "batchnorm_forward/sqrtvar",
                      "batchnorm_forward/ivar", "batchnorm_forward/xhat", "batchnorm_backward/xhat",
                      "batchnorm_backward_alt/xhat")

# Formulas of the answers, as they would appear in a text (regular expressions).
FORMULA_PATTERNS = (
    r"dxhat\s*=\s*\S",
    r"gamma\s*\*\s*dout",
    r"dout\s*\*\s*gamma",
    r"mean\(\s*dxhat",
    r"ivar\s*\*?\s*\(\s*dxhat",
    r"transpose\(\s*0\s*,\s*2\s*,\s*3\s*,\s*1\s*\)",
    r"reshape\(\s*N\s*,\s*G\s*,\s*-1\s*\)",
    r"reshape\(\s*N\s*\*\s*H\s*\*\s*W\s*,\s*C\s*\)",
    r"\(\s*x\s*-\s*(mu|running_mean)\s*\)\s*/\s*(np\.)?sqrt",
    r"momentum\s*\*\s*running_\w+\s*\+",
    r"axis\s*=\s*1\s*,\s*keepdims",
    r"N\s*\*\s*dout\s*-",
)


def _parameter_names(function_name, computation):
    """The names of a computation's inputs: its own, or the exercise's (a backward pass's
    inputs are its forward pass's, then dout)."""
    parameters = inspect.signature(computation).parameters.values()
    if all(p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters):
        return tuple(p.name for p in parameters)
    forward = function_name.replace("_backward_alt", "_forward").replace("_backward", "_forward")
    if forward not in BY_FUNCTION:
        return ()  # a notebook cell's function: its inputs are matched by position only
    module = importlib.import_module("cs231n_bn." + BY_FUNCTION[forward].module.removesuffix(".py"))
    names = tuple(inspect.signature(getattr(module, forward)).parameters)
    return names + ("dout",) if forward != function_name else names


def capture_cases(check_functions=None, notebooks=True):
    """Run the checks against the instructor's code; [Case] of the computations they asked for.

    The package exercises' checks (check_functions, by default all that have recorded
    values), then, with notebooks, the notebook exercises' checks on their notebook's
    inputs. One case per function and mode (a test-mode call has other answers than a
    training step), the one with the most answers.
    """
    if check_functions is None:
        from classroom.edition.reference_values import CHECKS as check_functions
    source, computed = instructor_provider(), computations()
    cases = {}

    def capturing(key, function_name, *inputs):
        value = source(key, function_name, *inputs)
        tag = reference.digest(function_name, *inputs)
        names = _parameter_names(function_name, computed[function_name])
        case = cases.setdefault(tag, edition_scan.Case(function_name, inputs, names=names))
        case.answers[key.partition("/")[2]] = value
        return value

    with reference.provider(capturing), contextlib.redirect_stdout(io.StringIO()):
        for check in check_functions:
            check()
        if notebooks:
            run_notebook_checks(SOURCE)
    kinds = {}
    for case in sorted(cases.values(), key=lambda c: -len(c.answers)):
        modes = tuple(a.get("mode") for a in case.inputs if isinstance(a, dict))
        kinds.setdefault((case.function_name, modes), case)
    return list(kinds.values())


def shipped_check_functions():
    """(qualified name, function) of every function defined in a judged cs231n_bn.checks module."""
    return edition_scan.module_functions("cs231n_bn.checks", skip=NOT_JUDGED)


def callable_leaks(cases, functions=None):
    """[(function name, "function_name/answer")] of shipped check functions whose result is an answer."""
    return edition_scan.leaks(cases, shipped_check_functions() if functions is None else functions)


def edition_leaks(cases, edition, timeout=600):
    """Every function of a built student edition, called in a process of its own on the cases.

    Returns ({"functions": how many were called, "leaks": [[function, answer], ...]}).
    """
    with tempfile.TemporaryDirectory() as folder:
        edition_scan.write_cases(cases, folder)
        done = subprocess.run([sys.executable, "-I", edition_scan.__file__, str(edition), folder],
                              capture_output=True, text=True, timeout=timeout, cwd=folder)
    if done.returncode != 0:
        raise RuntimeError(f"edition_leaks: the scan of {edition} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def formula_texts(texts):
    """[(pattern, text)] of the texts that state a formula of an answer."""
    return [(pattern, text) for text in texts for pattern in FORMULA_PATTERNS if re.search(pattern, text)]
