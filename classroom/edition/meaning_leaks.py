"""Leaks by meaning: shipped code that computes an exercise's answer, and texts that state one.

Matching solution lines (leaks.py) misses a module that computes the same thing in other
words. Here the shipped check modules are judged by what they DO: every function in them
is called on the exercises' own inputs (those the checks use), and any result that equals
an answer (an output, a gradient, a path of the gradient, a normalized x, a running
average, a cache field) is a leak. The answers and the inputs come from running the checks
against the instructor's code under a capturing provider (the values they ask for are the
answers). And the texts a student reads (hints below the last level, failure messages)
are scanned for formulas of the answers.

    leaks = callable_leaks(capture_cases())    # [(function, answer key), ...]
    formulas = formula_texts(texts)            # [(pattern, text), ...]
"""

import contextlib
import importlib
import inspect
import io
import itertools
import pkgutil
import re
from dataclasses import fields, is_dataclass

import numpy as np

from classroom.grader.references import instructor_provider
from cs231n_bn.checks import reference

# Shipped check modules that are not judged: the last hint level (left out of the student
# edition unless the instructor ships it), and the reference values (data for the checks'
# fixed inputs, which is what the edition is meant to carry).
NOT_JUDGED = ("cs231n_bn.checks.solution_hints", "cs231n_bn.checks.reference")
# Values that are answers (the last part of a reference key).
ANSWERS = ("out", "dx", "dgamma", "dbeta", "xhat", "xmu", "ivar", "sqrtvar", "running_mean", "running_var",
           "P1", "P2", "P3")
MAX_CALLS = 64  # argument combinations tried per function and case

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


class Case:
    """One reference computation a check asked for: the function, its inputs, its answers."""

    def __init__(self, function_name, inputs):
        self.function_name = function_name
        self.inputs = inputs
        self.answers = {}


def capture_cases(check_functions=None):
    """Run the checks against the instructor's code; [Case] of the computations they asked for.

    One case per function and mode (a test-mode call has other answers than a training step).
    """
    if check_functions is None:
        from classroom.edition.reference_values import NORM_CHECKS as check_functions
    source = instructor_provider()
    cases = {}

    def capturing(key, function_name, *inputs):
        value = source(key, function_name, *inputs)
        tag = reference.digest(function_name, *inputs)
        case = cases.setdefault(tag, Case(function_name, inputs))
        case.answers[key.partition("/")[2]] = value
        return value

    with reference.provider(capturing), contextlib.redirect_stdout(io.StringIO()):
        for check in check_functions:
            check()
    kinds = {}
    for case in cases.values():
        modes = tuple(a.get("mode") for a in case.inputs if isinstance(a, dict))
        kinds.setdefault((case.function_name, modes), case)
    return list(kinds.values())


def shipped_check_functions():
    """(qualified name, function) of every function defined in a judged cs231n_bn.checks module."""
    package = importlib.import_module("cs231n_bn.checks")
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        name = f"cs231n_bn.checks.{info.name}"
        if name in NOT_JUDGED:
            continue
        module = importlib.import_module(name)
        for attr, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name:
                found.append((f"{name}.{attr}", fn))
    return found


def _pool(case):
    """{parameter name: [candidate values]} from a case's inputs, by the names checks use."""
    arrays = [a for a in case.inputs if isinstance(a, np.ndarray)]
    dicts = [a for a in case.inputs if isinstance(a, dict)]
    numbers = [a for a in case.inputs if isinstance(a, (int, float)) and not isinstance(a, bool)]
    x = arrays[0]
    named = {"x": [x], "a": [x], "gamma": [arrays[1]], "beta": [arrays[2]], "eps": [d.get("eps", 1e-5) for d in dicts]}
    if len(arrays) > 3:
        named["dout"] = [arrays[3]]
    for key in ("bn_param", "ln_param", "gn_param", "param", "config"):
        named[key] = dicts
    if numbers:
        named["G"] = numbers
    for name, size in zip("NCHW" if x.ndim == 4 else "ND", x.shape):
        named[name] = [size]
    named["n"] = [x.shape[0]]
    named["shape"] = [x.shape]
    return named, arrays + dicts + numbers


def _layouts(case):
    """The layouts the checks would build for this case's x, as extra candidates."""
    from cs231n_bn.checks import normalized

    x = case.inputs[0]
    if x.ndim == 2:
        return [normalized.bn_layout(*x.shape), normalized.ln_layout(*x.shape)]
    out = [normalized.spatial_bn_layout(*x.shape)]
    G = next((a for a in case.inputs if isinstance(a, int) and not isinstance(a, bool)), None)
    if G:
        out.append(normalized.groupnorm_layout(*x.shape, G))
    return out


def _arguments(fn, named, anything):
    """Argument tuples to try for fn: by parameter name where known, else any input."""
    try:
        parameters = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):
        return []
    options = [named.get(p.name, anything) for p in parameters]
    combos = list(itertools.islice(itertools.product(*options), 64 * MAX_CALLS))
    stride = max(1, len(combos) // MAX_CALLS)  # spread over every parameter's candidates
    return combos[::stride][:MAX_CALLS]


def _arrays_in(result, depth=0):
    """Every float array inside a result (tuples, lists, dicts, dataclasses), a level or two deep."""
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        yield result
    elif depth < 2 and isinstance(result, (tuple, list)):
        for item in result:
            yield from _arrays_in(item, depth + 1)
    elif depth < 2 and isinstance(result, dict):
        for item in result.values():
            yield from _arrays_in(item, depth + 1)
    elif depth < 2 and is_dataclass(result) and not isinstance(result, type):
        for f in fields(result):
            yield from _arrays_in(getattr(result, f.name), depth + 1)


def _equal(a, b):
    return a.size == b.size and np.allclose(np.ravel(a), np.ravel(b), rtol=1e-6, atol=1e-12)


def callable_leaks(cases, functions=None):
    """[(function name, "function_name/answer")] of shipped functions whose result is an answer."""
    functions = shipped_check_functions() if functions is None else functions
    leaks = set()
    for case in cases:
        answers = {k: v for k, v in case.answers.items() if k in ANSWERS and v.size > 1}
        named, anything = _pool(case)
        inputs = [a for a in case.inputs if isinstance(a, np.ndarray)]
        # an answer equal to an input (e.g. gamma in a cache) says nothing about a function
        answers = {k: v for k, v in answers.items() if not any(_equal(v, a) for a in inputs)}
        layouts = _layouts(case)
        named["layout"] = layouts
        for name, fn in functions:
            if name.rsplit(".", 1)[-1].startswith(("check_", "_verify_", "verify_")):
                continue  # the checks themselves call the code under test and return nothing
            for args in _arguments(fn, named, anything + layouts):
                try:
                    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                        result = fn(*args)
                except Exception:  # noqa: BLE001 - most combinations are nonsense; only results count
                    continue
                for array in _arrays_in(result):
                    for what, answer in answers.items():
                        if _equal(array, answer):
                            leaks.add((name, f"{case.function_name}/{what}"))
    return sorted(leaks)


def formula_texts(texts):
    """[(pattern, text)] of the texts that state a formula of an answer."""
    return [(pattern, text) for text in texts for pattern in FORMULA_PATTERNS if re.search(pattern, text)]
