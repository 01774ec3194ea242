"""The grader's side of a job: a sandboxed student process, and proxies that call into it.

A proxy looks to the instructor's check like the student's function (or, for the network
exercises, like a FullyConnectedNet whose graded method is the student's): calling it sends
the arguments to the student's process and returns what comes back, decoded as data. The
check itself, its inputs, the forward passes that build caches and every verdict stay in
this process. Changes the student's code makes to its arguments (bn_param's running
averages, an optimizer's config, an array overwritten in place) are copied back onto the
caller's objects, so the check sees exactly what it would see in one process.
"""

import builtins
import contextlib
import dataclasses
import importlib
import numbers
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from classroom import wire
from classroom.grader import sandbox
from cs231n_bn.checks.core import OFF_LIMITS, REPLACED_WATCH, OffLimitsCalled, off_limits_for
from cs231n_bn.checks.registry import BY_FUNCTION

TRUSTED_MODULES = ("batchnorm", "layernorm", "spatial", "layers", "fc_net", "conv")


class JobAborted(BaseException):
    """The student's process timed out, died or broke the protocol: the job ends here.

    A BaseException, so that no check's `except Exception` turns it into a verdict.
    """

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def trusted_classes():
    """{name: dataclass} of the grader's own package: caches coming back are rebuilt as these."""
    classes = {}
    for short in TRUSTED_MODULES:
        module = importlib.import_module(f"cs231n_bn.{short}")
        for name, value in vars(module).items():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                classes.setdefault(name, value)
    return classes


def _known_exception(name):
    """The grader's own exception class of that name: the course's stub exception, or a builtin."""
    if name == "NotImplementedYet":  # the student edition's stubs (cs231n_bn.exercise, where it exists)
        with contextlib.suppress(ImportError):
            return importlib.import_module("cs231n_bn.exercise").NotImplementedYet
    cls = getattr(builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else None


def trusted_exception(info):
    """The student's exception, re-raised here as the grader's class of that name, else as its
    nearest builtin base (a NotImplementedError subclass stays one), else RuntimeError."""
    name = str(info.get("type", "Exception"))
    message = str(info.get("message", ""))
    args = info.get("args") if isinstance(info.get("args"), list) else []
    bases = info.get("bases") if isinstance(info.get("bases"), list) else []
    err = None
    for candidate in [name, *bases]:
        cls = _known_exception(str(candidate))
        if cls is None:
            continue
        try:
            err = cls(*args) if candidate == name else cls(f"{name}: {message}")
        except Exception:  # a builtin with a fixed signature (UnicodeDecodeError, ...)
            err = None
        break
    if err is None:
        err = RuntimeError(f"{name}: {message}")
    frames = info.get("frames") if isinstance(info.get("frames"), list) else []
    err.student_frames = [f for f in frames if isinstance(f, list) and len(f) == 4]
    return err


class StudentProcess:
    """One sandboxed worker serving one exercise (or one notebook's cells); ends with `close()`."""

    def __init__(self, submission, exercise, oracles, limits, bwrap, work_dir, deadline, namespace=None):
        """
        Inputs:
        - submission: host folder of the sanitized copy (holding cs231n_bn/)
        - exercise: the PackageExercise graded, or None to run notebook cells (`run_cell`)
        - oracles: {function name: (module, trusted function)} the student's code may call
        - limits: grade.Limits; bwrap: its path or None; work_dir: an empty host folder
        - deadline: time.monotonic() by which the whole job must be done
        - namespace: for notebook cells, the variables they start from (data only)
        """
        self.deadline, self.limits = deadline, limits
        self.allowed = round(deadline - time.monotonic())  # seconds, for the message
        self.oracles = {name: fn for name, (_, fn) in oracles.items()}
        self.classes = trusted_classes()
        work_dir = Path(work_dir)
        grader_dir = work_dir / "grader"
        grader_dir.mkdir()
        sandbox.copy_jail_script("worker.py", grader_dir)
        jail = sandbox.Jail(work_dir, bwrap)
        package_dir = jail.place(Path(submission) / "cs231n_bn", "/submission/cs231n_bn")
        worker = jail.place(grader_dir, "/grader") + "/worker.py"
        executable, _, sites = sandbox.python_roots()
        site_inside, hide = [], []
        for k, site in enumerate(sites):
            site_inside.append(jail.place(site, f"/site{k}"))
            if bwrap:  # the course's own install (editable finder, or a solved copy) stays out of sight
                hide += [(p, f"/site{k}/{p.name}") for p in site.iterdir()
                         if "cs231n_bn" in p.name or p.name.startswith("__editable__")]
        to_child, self.write_fd = os.pipe()
        self.read_fd, from_child = os.pipe()
        try:
            self.job = sandbox.Job(
                [str(executable), "-I", "-S", "-B", worker, str(to_child), str(from_child), *site_inside],
                jail, limits.memory_mb, limits.max_processes, pass_fds=(to_child, from_child),
                stderr_path=work_dir / "stderr.txt", hide=hide, run_as=limits.run_as, readable=(submission,),
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        os.set_blocking(self.write_fd, False)  # every write has the job's deadline
        try:
            if exercise is None:
                self._send({"package_dir": package_dir, "cells": True, "namespace": namespace or {},
                            "off_limits": OFF_LIMITS})
                self._receive()
            else:
                self._start(exercise, oracles, package_dir)
        except BaseException:
            self.close()
            raise

    def _start(self, exercise, oracles, package_dir):
        self.dependency_failures = {}
        by_module = {}
        for name, (module, _) in oracles.items():
            by_module.setdefault(module, []).append(name)
        module, function = exercise.module[:-3], exercise.function
        exercises = {}
        for other in BY_FUNCTION.values():
            if "." not in other.function and other.function != function:
                exercises.setdefault(other.module[:-3], []).append(other.function)
        self._send({"package_dir": package_dir, "module": module, "function": function, "oracles": by_module,
                    "exercises": exercises, "off_limits": off_limits_for(function)})
        reply = self._receive()
        if not reply.get("ready"):
            raise trusted_exception(reply.get("raised") or {})
        failures = reply.get("dependency_failures")
        self.dependency_failures = failures if isinstance(failures, dict) else {}

    # -- the pipe ---------------------------------------------------------------------

    def _send(self, message, refs=None):
        try:
            wire.send(self.write_fd, wire.encode(message, refs), self.deadline)
        except BrokenPipeError:
            raise self._ended() from None
        except wire.Timeout:
            raise self._timed_out() from None

    def _timed_out(self):
        return JobAborted("timeout", f"stopped after {self.allowed:g} s: an infinite loop, far too slow, "
                                     f"or the student's process stopped reading what the grader sent")

    def _receive(self, refs=()):
        try:
            body = wire.receive(self.read_fd, self.deadline)
            if body is None:
                raise self._ended()
            message = wire.decode(body, self.classes, refs)
        except wire.Timeout:
            raise self._timed_out() from None
        except wire.WireError as err:
            raise JobAborted("error", f"the student's process sent something that is not an answer ({err})") from None
        if not isinstance(message, dict):
            raise JobAborted("error", "the student's process sent something that is not an answer")
        return message

    def _ended(self):
        status = self.job.wait(2)
        tail = self.job.stderr_tail()
        if "MemoryError" in tail or status == -signal.SIGKILL:
            return JobAborted("memory", "MemoryError: the memory limit was exceeded (or the process was killed)")
        if status is not None and status < 0:
            return JobAborted("error", f"the student's process was killed by signal {-status} (a crash?)")
        return JobAborted("error", f"the student's process ended during the call (exit status {status}): "
                                   f"os._exit, sys.exit or a crash in the student's code")

    # -- calls --------------------------------------------------------------------------

    def call(self, args, kwargs, instance=None, name=None):
        """Run the student's function on args (instance: the object a method runs on; name:
        a function a replayed notebook cell defined)."""
        args = list(args)
        state = dict(vars(instance)) if instance is not None else None
        # A function among the arguments (the f of a numeric derivative) stays here: the
        # student's code gets a stand-in that calls it back, like an oracle.
        callbacks = {str(i): f"_callback{i}" for i, a in enumerate(args) if callable(a) and not isinstance(a, type)}
        for index, callback in callbacks.items():
            self.oracles[callback], args[int(index)] = args[int(index)], None
        try:
            self._send({"op": "call", "args": args, "kwargs": kwargs, "self": state, "name": name,
                        "callbacks": callbacks})
            while True:
                reply = self._receive(refs=args)
                if reply.get("op") != "oracle":
                    break
                self._serve_oracle(reply)
        finally:
            for callback in callbacks.values():
                self.oracles.pop(callback, None)
        after = reply.get("args")
        if isinstance(after, list) and len(after) == len(args):
            replaced = _paths(reply.get("replaced"))
            for i, (old, new) in enumerate(zip(args, after)):
                wire.merge(old, new, {path[1:] for path in replaced if path[0] == i})
        if instance is not None and isinstance(reply.get("self"), dict):
            for key, value in reply["self"].items():
                if key in state:
                    setattr(instance, key, wire.merge(getattr(instance, key), value))
        called = reply.get("off_limits")
        if called:  # judged by the check's own rule (checks.core.call), as in the student's kernel
            known = [name for name in called if name in (*OFF_LIMITS, REPLACED_WATCH)] if isinstance(called, list) else []
            raise OffLimitsCalled(known or [REPLACED_WATCH])
        if "raised" in reply:
            raise trusted_exception(reply["raised"] if isinstance(reply["raised"], dict) else {})
        if "result" not in reply:
            raise JobAborted("error", "the student's process sent something that is not an answer")
        return reply["result"]

    def run_cell(self, source, names):
        """Run one cell's source in the student's process; ({name: value}, exception or None)."""
        self._send({"op": "cell", "source": source, "extract": list(names)})
        reply = self._receive()
        values = reply.get("values") if isinstance(reply.get("values"), dict) else {}
        raised = reply.get("raised")
        return values, trusted_exception(raised) if isinstance(raised, dict) else None

    def call_name(self, name, *args):
        """Call the function `name` that a replayed cell defined, on the grader's arguments."""
        return self.call(args, {}, name=name)

    def _serve_oracle(self, request):
        """Another exercise's function, called by the student's code: run the trusted one."""
        name, args, kwargs = request.get("name"), request.get("args"), request.get("kwargs")
        if name not in self.oracles or not isinstance(args, list) or not isinstance(kwargs, dict):
            raise JobAborted("error", f"the student's process asked for {str(name)[:80]!r}, which it may not call")
        refs = {id(a): i for i, a in enumerate(args) if isinstance(a, np.ndarray)}
        ids_before = {path: id(a) for path, a in wire.nested_arrays(args)}
        try:
            check_oracle_inputs(name, args, kwargs)
            reply = {"result": self.oracles[name](*args, **kwargs)}
        except Exception as err:  # bad input from the student's code: it gets the error back
            builtin = isinstance(getattr(builtins, type(err).__name__, None), type)
            reply = {"raised": {"type": type(err).__name__ if builtin else "RuntimeError",
                                "args": [str(err)[:2000]], "message": str(err)[:2000], "frames": []}}
        reply["args"] = wire.unshared(args)
        reply["replaced"] = wire.replaced_arrays(args, ids_before)
        try:
            self._send(reply, refs)
        except wire.WireError as err:
            raise JobAborted("error", f"the student's code asked {name} for a result too large to send "
                                      f"({err})") from None

    def close(self):
        for fd in (self.write_fd, self.read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        return self.job.kill()


MAX_ORACLE_ELEMENTS = 2**22  # numbers in the largest array an oracle is asked to work on
ORACLE_KINDS = "biuf"  # bool, int, uint, float: what the course's functions take


def _paths(sent):
    """The student's process's list of replaced array paths, kept only where well formed
    (untrusted: a malformed list is ignored; the worst a lie does is change how the
    student's own arrays are handed back)."""
    if not isinstance(sent, list):
        return set()
    return {tuple(path) for path in sent[:wire.MAX_ITEMS]
            if isinstance(path, list) and 1 < len(path) <= wire.MAX_DEPTH + 1 and isinstance(path[0], int)
            and all(isinstance(key, (str, int)) and not isinstance(key, bool) for key in path)}


def _arrays_in(value, found, depth=0):
    """Every numpy array inside value (containers, dataclasses and Foreign fields), in order."""
    if depth > wire.MAX_DEPTH:
        raise ValueError("the arguments are nested too deeply")
    if isinstance(value, np.ndarray):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _arrays_in(item, found, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _arrays_in(item, found, depth + 1)
    elif isinstance(value, wire.Foreign):
        _arrays_in(value.fields, found, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _arrays_in(getattr(value, f.name, None), found, depth + 1)
    return found


def check_oracle_inputs(name, args, kwargs):
    """Refuse (ValueError) what the student's code sends an oracle before the trusted code
    runs on it: numeric real arrays only; the first array at most MAX_ORACLE_ELEMENTS
    numbers; every other array (cache fields, gamma, running averages) no larger than the
    first in any axis, aligned from the right, with size-1 axes allowed. So no combination
    of shapes can make the trusted code broadcast to more numbers than the first array holds.

    Inputs: name: the oracle; args: list; kwargs: dict, as decoded from the wire.
    """
    arrays = _arrays_in([args, kwargs], [])
    if not arrays:
        return
    for a in arrays:
        if a.dtype.kind not in ORACLE_KINDS:
            raise ValueError(f"{name}: arrays must be real numbers; got dtype {a.dtype}")
    reference = arrays[0].shape
    if arrays[0].size > MAX_ORACLE_ELEMENTS:
        raise ValueError(f"{name}: x holds {arrays[0].size} numbers; at most {MAX_ORACLE_ELEMENTS} are accepted")
    for a in arrays[1:]:
        if a.ndim > len(reference) or any(n not in (1, r) for n, r in zip(a.shape[::-1], reference[::-1])):
            raise ValueError(f"{name}: an array of shape {a.shape} does not fit the first array's shape {reference} "
                             f"(each axis must equal it or be 1)")


def function_proxy(process, name):
    """A function that runs the student's `name` in the student's process."""

    def proxy(*args, **kwargs):
        return process.call(args, kwargs)

    proxy.__name__ = proxy.__qualname__ = name
    return proxy


def class_proxy(process, trusted_class, method):
    """The trusted class with one method running in the student's process, on this instance's data."""

    def proxied(self, *args, **kwargs):
        return process.call(args, kwargs, instance=self)

    proxied.__name__ = method
    return type(trusted_class.__name__, (trusted_class,), {method: proxied, "__module__": trusted_class.__module__})


@contextlib.contextmanager
def secret_seeds(secret):
    """Every `np.random.default_rng(int)` draws from (secret, int) instead while active.

    The checks seed their inputs with fixed integers; under this, the same code draws
    inputs that the student's process cannot know in advance.
    """
    real = np.random.default_rng

    def default_rng(seed=None):
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
            return real([secret, int(seed)])
        return real(seed)

    patched = [(np.random, "default_rng")]
    for name, module in list(sys.modules.items()):
        if name.startswith("cs231n_bn") and getattr(module, "default_rng", None) is real:
            patched.append((module, "default_rng"))
    for owner, attr in patched:
        setattr(owner, attr, default_rng)
    try:
        yield
    finally:
        for owner, attr in patched:
            setattr(owner, attr, real)
