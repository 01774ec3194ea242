"""Call every function a student edition ships on the exercises' inputs; report any that returns an answer.

Runs in a process of its own whose `cs231n_bn` is the student edition's (its exercises are
stubs there, so a function that merely calls an exercise raises instead of answering):

    python edition_scan.py EDITION_DIR CASES_DIR     # prints a JSON list of [function, answer]

CASES_DIR holds what the instructor's side measured (meaning_leaks.write_cases): for each
case, the inputs a check passed to an exercise and the answers it got back. This file
needs numpy and the standard library only, because it is also imported by the instructor's
side to scan functions in its own process (`leaks`).
"""

import contextlib
import importlib
import inspect
import io
import itertools
import json
import pkgutil
import sys
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np

# Values that are answers (the last part of a reference key).
ANSWERS = ("out", "dx", "dgamma", "dbeta", "xhat", "xmu", "ivar", "sqrtvar", "running_mean", "running_var",
           "P1", "P2", "P3", "next_w", "next_w_folded", "velocity", "m", "v",
           # notebook exercises: notebook 2's steps, the notebook-cell functions' results (not
           # dxhat, one product of two inputs that any function multiplying two arrays returns)
           "dgammax", "divar", "dxmu1", "dsqrtvar", "dvar", "dsq", "dxmu2", "dxmu", "dx1", "dmu", "dx2",
           "value", "W1", "W2", "b1", "b2", "gamma", "beta")
MAX_CALLS = 64  # argument combinations tried per function and case
# Shipped modules not called: they read and write files, time loops or set the process's
# threads or allocator, and none of them takes an exercise's arrays.
NOT_CALLED = ("cs231n_bn.data", "cs231n_bn.benchmark", "cs231n_bn.progress", "cs231n_bn.threads",
              "cs231n_bn.allocator", "cs231n_bn.checks.reference")


@dataclass
class Case:
    """One reference computation a check asked for: the function, its inputs, its answers."""

    function_name: str
    inputs: tuple
    answers: dict = field(default_factory=dict)
    names: tuple = ()  # the parameter names of the computation the inputs were given to


def _pool(case):
    """{parameter name: [candidate values]} from a case's inputs, by the names checks use."""
    arrays = [a for a in case.inputs if isinstance(a, np.ndarray)]
    dicts = [a for a in case.inputs if isinstance(a, dict)]
    numbers = [a for a in case.inputs if isinstance(a, (int, float)) and not isinstance(a, bool)]
    named = {name: [value] for name, value in zip(case.names, case.inputs)}
    named["eps"] = [d["eps"] for d in dicts if "eps" in d] or [1e-5]
    for key in ("bn_param", "ln_param", "gn_param", "param", "config"):
        named.setdefault(key, dicts)
    x = case.inputs[0]
    if isinstance(x, np.ndarray):
        named["a"] = [x]
        for name, size in zip("NCHW" if x.ndim == 4 else "ND", x.shape):
            named.setdefault(name, [size])
        named["n"] = [x.shape[0]]
        named["shape"] = [x.shape]
    return named, arrays + dicts + numbers


def _layouts(case):
    """The layouts the checks would build for a normalization case's x, as extra candidates."""
    from cs231n_bn.checks import normalized

    x = case.inputs[0]
    if case.names[:3] != ("x", "gamma", "beta"):
        return []
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


def leaks(cases, functions):
    """[(function name, "function_name/answer")] of the functions whose result is an answer."""
    found = set()
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
                        result = fn(*(a.copy() if isinstance(a, (np.ndarray, dict)) else a for a in args))
                except Exception:  # noqa: BLE001 - most combinations are nonsense; only results count
                    continue
                for array in _arrays_in(result):
                    for what, answer in answers.items():
                        if _equal(array, answer):
                            found.add((name, f"{case.function_name}/{what}"))
    return sorted(found)


def module_functions(package, skip=()):
    """(qualified name, function) of every function defined in the package's modules, but `skip`."""
    root = importlib.import_module(package)
    names = [package] + [info.name for info in pkgutil.walk_packages(root.__path__, package + ".")]
    found = []
    for name in names:
        if name.startswith(tuple(skip)):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module(name)
        for attr, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name:
                found.append((f"{name}.{attr}", fn))
    return found


# How cases travel to the edition's process: arrays in one .npz, the rest as JSON.
def write_cases(cases, folder):
    """Store cases in folder (cases.json and arrays.npz) for read_cases in another process."""
    arrays, described = {}, []

    def encode(value):
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"array": key}
        if isinstance(value, dict):
            return {"dict": {k: encode(v) for k, v in value.items()}}
        if isinstance(value, (bool, int, float, str)) or value is None:
            return {"value": value}
        return {"value": None}  # an object no shipped function could be handed as data

    for case in cases:
        described.append({"function": case.function_name, "names": list(case.names),
                          "inputs": [encode(v) for v in case.inputs],
                          "answers": {k: encode(v) for k, v in case.answers.items()
                                      if isinstance(v, np.ndarray)}})
    folder = Path(folder)
    np.savez(folder / "arrays.npz", **arrays)
    (folder / "cases.json").write_text(json.dumps(described))


def read_cases(folder):
    """The cases write_cases stored in folder."""
    folder = Path(folder)
    with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}

    def decode(item):
        if "array" in item:
            return arrays[item["array"]]
        if "dict" in item:
            return {k: decode(v) for k, v in item["dict"].items()}
        return item["value"]

    return [Case(c["function"], tuple(decode(v) for v in c["inputs"]),
                 {k: decode(v) for k, v in c["answers"].items()}, tuple(c["names"]))
            for c in json.loads((folder / "cases.json").read_text())]


def main(edition, cases_dir):
    # The edition's package, not the instructor's editable install: put it first.
    sys.path.insert(0, str(Path(edition).resolve()))
    functions = module_functions("cs231n_bn", skip=NOT_CALLED)
    loaded = Path(sys.modules["cs231n_bn"].__file__).resolve()
    if Path(edition).resolve() not in loaded.parents:
        raise SystemExit(f"edition_scan: imported cs231n_bn from {loaded}, not from the edition {edition}")
    found = leaks(read_cases(cases_dir), functions)
    print(json.dumps({"functions": len(functions), "leaks": found}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
