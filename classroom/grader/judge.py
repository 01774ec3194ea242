"""Grade one package exercise: the instructor's check, here, against the student's code, there.

The check (`cs231n_bn.checks.check_<exercise>`, from the grader's own package) is called
with a proxy of the student's implementation; the student's code runs in a sandboxed
process of its own (student_process.py) and sees only the inputs of each call. A backward
check gets the grader's own forward pass (`forward=`), so caches are built here and sent
as data. The check's fixed seeds are mixed with a secret drawn for this job. The verdict
is the check's: it returned (pass), raised CheckFailed (fail), or met the stub's
NotImplementedError; the job's own end (timeout, crash, protocol) is an error.
"""

import contextlib
import importlib
import inspect
import io
import secrets
import tempfile
import time

from classroom.grader.references import instructor_provider
from classroom.grader.student_process import JobAborted, StudentProcess, class_proxy, function_proxy, secret_seeds
from cs231n_bn.checks import reference
from cs231n_bn.checks.display import last_pass
from cs231n_bn.checks.registry import BY_FUNCTION

# The other exercises a graded one may call (CS231n's spatial batch norm reshapes and calls
# batchnorm_forward, the network's layers call the normalizations): they run the grader's
# version, so a mistake in one exercise costs that exercise only.
ORACLES = {
    "spatial_batchnorm_forward": ("batchnorm_forward",),
    "spatial_batchnorm_backward": ("batchnorm_backward", "batchnorm_backward_alt"),
    "spatial_groupnorm_forward": ("layernorm_forward",),
    "spatial_groupnorm_backward": ("layernorm_backward",),
    "FullyConnectedNet._hidden_forward": ("batchnorm_forward", "layernorm_forward"),
    "FullyConnectedNet._hidden_backward": ("batchnorm_backward", "batchnorm_backward_alt", "layernorm_backward"),
}


def _trusted(function, module_file=None):
    """The grader's own `function` ("f" or "Class.method") of a registered exercise's module."""
    module = importlib.import_module(f"cs231n_bn.{(module_file or BY_FUNCTION[function].module)[:-3]}")
    owner = module
    for part in function.split("."):
        owner = getattr(owner, part)
    return owner


def _forward_of(function):
    """The forward pass whose cache a backward function takes, or None (and for methods)."""
    if "." in function:
        return None
    for suffix in ("_backward_alt", "_backward"):
        if function.endswith(suffix):
            name = function[: -len(suffix)] + "_forward"
            return _trusted(name) if name in BY_FUNCTION else None
    return None


def _call_check(check, implementation, forward):
    """check(implementation, forward=forward), whatever the backward checks name that parameter."""
    if forward is None:
        return check(implementation)
    parameters = list(inspect.signature(check).parameters)
    if "forward" in parameters:
        return check(implementation, forward=forward)
    return check(implementation, forward)


def _student_location(err):
    """ "(raised in cs231n_bn/x.py, line N, in f)" for the innermost student frame in err's chain."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        frames = getattr(err, "student_frames", None)
        if frames:
            path, line, name, _ = frames[-1]
            return f" (raised in {path}, line {line}, in {name})"
        err = err.__cause__ or err.__context__
    return ""


# How many times the time limit an exercise's check may take: the network's gradient check
# calls the student's backward pass a few thousand times, one round trip each.
COST = {"FullyConnectedNet._hidden_backward": 4}


def judge(submission, exercise, check_name, source, limits, bwrap, secret=None):
    """(status, message) of one graded cell of a package exercise of the sanitized submission.

    exercise: the registry's PackageExercise; check_name: the check its cell calls;
    source: the instructor's checkout (its solutions give the check's reference values).
    """
    checks = importlib.import_module("cs231n_bn.checks")
    check = getattr(checks, check_name)
    oracles = {name: (BY_FUNCTION[name].module[:-3], _trusted(name)) for name in ORACLES.get(exercise.function, ())}
    secret = secrets.randbits(63) if secret is None else secret
    deadline = time.monotonic() + limits.timeout * COST.get(exercise.function, 1)
    printed = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="cs231n_job_") as work:
        process = None
        try:
            process = StudentProcess(submission, exercise, oracles, limits, bwrap, work, deadline)
            owner, _, method = exercise.function.rpartition(".")
            if owner:
                implementation = class_proxy(process, _trusted(owner, exercise.module), method)
            else:
                implementation = function_proxy(process, exercise.function)
            # the right values the check compares with: the instructor's code on the secret inputs
            with reference.provider(instructor_provider(source)), secret_seeds(secret), \
                    contextlib.redirect_stdout(printed):
                _call_check(check, implementation, _forward_of(exercise.function))
        except JobAborted as err:
            return err.status, err.message
        except NotImplementedError as err:
            return "not implemented", f"NotImplementedError: {err}{_student_location(err)}"
        except ModuleNotFoundError as err:
            if process is None:
                return "missing", f"{exercise.module} is missing from the submission ({err})"
            return "error", f"ModuleNotFoundError: {err}{_student_location(err)}"
        except checks.CheckFailed as err:
            return "fail", f"{err}{_student_location(err)}"
        except MemoryError:
            return "memory", "MemoryError: the memory limit was exceeded"
        except Exception as err:  # raised by the student's code where the check does not wrap it
            return "error", f"{type(err).__name__}: {err}{_student_location(err)}"
        finally:
            if process is not None:
                process.close()
    return "pass", last_pass(printed.getvalue()) or "PASS"
