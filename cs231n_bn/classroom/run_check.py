"""Grading job: run one trusted check against the student's package; write the verdict.

    python run_check.py COPY SOURCE EXERCISES_JSON FUNCTION CHECK RESULT_JSON

Run as a script (by `sandbox.run_job`, with PYTHONPATH=COPY), so `import cs231n_bn`
finds the student's package, while the check is loaded from the instructor's checkout
SOURCE: a student who edits their copy of checks.py changes nothing here.

Each exercise is graded on its own. Every OTHER registered exercise function is first
replaced by the instructor's version, compiled inside the student's module (so it sees
the student's cache classes and helpers), and every reference to the student's version
across the package is rebound to it. A mistake in batchnorm_forward therefore costs
batchnorm_forward, not also every backward pass whose check needs a forward pass.
"""

import ast
import contextlib
import importlib
import importlib.util
import io
import json
import sys
import textwrap
from pathlib import Path


def _definition(path, qualname):
    """Source text of function `qualname` ("f" or "Class.method") in the file at path."""
    text = Path(path).read_text(encoding="utf-8")
    scope = ast.parse(text)
    for part in qualname.split("."):
        scope = next(
            node for node in ast.iter_child_nodes(scope)
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == part
        )
    start = scope.decorator_list[0].lineno if scope.decorator_list else scope.lineno
    return textwrap.dedent("\n".join(text.splitlines()[start - 1 : scope.end_lineno]))


def _install_reference(source, exercise):
    """Replace the student's version of one exercise function by the instructor's."""
    module = importlib.import_module(f"cs231n_bn.{exercise['module'][:-3]}")
    path = Path(source, "cs231n_bn", exercise["module"])
    owner_name, _, name = exercise["function"].rpartition(".")
    namespace = {}
    exec(compile(_definition(path, exercise["function"]), str(path), "exec"), module.__dict__, namespace)
    reference = namespace[name]
    owner = getattr(module, owner_name) if owner_name else module
    old = owner.__dict__.get(name)
    setattr(owner, name, reference)
    if old is None:
        return
    for loaded in [m for key, m in sys.modules.items() if key == "cs231n_bn" or key.startswith("cs231n_bn.")]:
        for attr, value in list(vars(loaded).items()):
            if value is old:
                setattr(loaded, attr, reference)


def verdict(copy, source, exercises, function, check_name):
    import cs231n_bn

    package = Path(cs231n_bn.__file__).resolve().parent
    if Path(copy).resolve() not in package.parents:
        return {"status": "error", "message": f"imported cs231n_bn from {package}, not from the copy {copy}"}
    spec = importlib.util.spec_from_file_location("cs231n_bn_trusted_checks", Path(source, "cs231n_bn", "checks.py"))
    checks = importlib.util.module_from_spec(spec)
    printed = io.StringIO()
    try:
        spec.loader.exec_module(checks)
        for exercise in exercises:
            if exercise["function"] != function:
                try:
                    _install_reference(source, exercise)
                except Exception:  # e.g. that module of the copy does not import: leave it
                    pass
        with contextlib.redirect_stdout(printed):
            getattr(checks, check_name)()
    except NotImplementedError as err:
        return {"status": "not implemented", "message": f"NotImplementedError: {err}"}
    except MemoryError:
        return {"status": "memory", "message": "MemoryError: the memory limit was exceeded"}
    except BaseException as err:  # anything student code throws costs this exercise, nothing more
        failed = getattr(checks, "CheckFailed", None)
        if failed is not None and isinstance(err, failed):
            return {"status": "fail", "message": str(err)}
        return {"status": "error", "message": f"{type(err).__name__}: {err}"}
    lines = [line for line in printed.getvalue().splitlines() if line.startswith("PASS")]
    return {"status": "pass", "message": lines[-1] if lines else "PASS"}


def main():
    copy, source, exercises_json, function, check_name, result_path = sys.argv[1:7]
    exercises = json.loads(Path(exercises_json).read_text(encoding="utf-8"))
    result = verdict(copy, source, exercises, function, check_name)
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
