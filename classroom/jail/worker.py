"""The student's side of a grading job: run the student's function on the inputs it is sent.

    python -I -S -B worker.py READ_FD WRITE_FD SITE_PACKAGES...

Runs inside the sandbox with an isolated interpreter (-I -S: no site hooks, so no
editable-install finder, no PYTHONPATH); its sys.path is the standard library, this folder
(for wire.py), and the site-packages given, for numpy. `cs231n_bn` is NOT on sys.path:
the package is created here from the submission's folder alone, without running its
__init__.py, so every module comes from the submission or is missing, and a module that
does not import costs only the exercises that need it.

Protocol (classroom/wire.py frames, copied beside this file): the grader sends a setup message, then calls (or, for a
notebook's solution cells, cell sources to run on the grader's data); every call is
answered with the result and the arguments as they are afterwards (the student's code may
have changed them in place), or with the exception raised. The functions of OTHER
exercises that the graded one may call ("oracles") are replaced by stubs that ask the
grader, which runs its own version and sends the result back as data. Nothing here is
trusted: the grader judges only the values that come back.
"""

import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import traceback

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__))]
sys.path.extend(sys.argv[3:])

import numpy as np  # noqa: E402  (after the path is set, before any student code)

import wire  # noqa: E402

PACKAGE = "cs231n_bn"
REPLACED_WATCH = "sys.setprofile"  # reported when the student's code removed the watch
MAX_MESSAGE = 4000  # characters of an exception message sent back
MAX_FRAMES = 8


class Channel:
    def __init__(self, read_fd, write_fd):
        self.read_fd, self.write_fd = read_fd, write_fd
        self.classes = {}  # the submission's dataclasses, once its modules are loaded
        self.off_limits = ()  # the modules exercise code may not call (setup's "off_limits")

    def send(self, message, refs=None):
        wire.send(self.write_fd, wire.encode(message, refs))

    def receive(self, refs=()):
        body = wire.receive(self.read_fd)
        if body is None:
            raise SystemExit(0)  # the grader is done with us
        return wire.decode(body, self.classes, refs)


def student_classes():
    """{name: dataclass} of the submission's loaded modules, for rebuilding caches."""
    classes = {}
    for name, module in list(sys.modules.items()):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            for attr, value in list(vars(module).items()):
                if isinstance(value, type) and dataclasses.is_dataclass(value):
                    classes.setdefault(attr, value)
    return classes


def exception_info(err, package_dir):
    """Type name, simple args, message and the student's own frames of an exception."""
    frames = []
    for frame in traceback.extract_tb(err.__traceback__):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(package_dir + os.sep):
            rel = PACKAGE + "/" + os.path.relpath(filename, package_dir).replace(os.sep, "/")
            frames.append([rel, frame.lineno or 0, frame.name, (frame.line or "")[:200]])
    try:
        message = str(err)
    except Exception:  # a student's __str__ may raise
        message = ""
    args = list(err.args) if all(isinstance(a, (str, int, float)) for a in err.args) else [message]
    return {
        "type": type(err).__name__[:100],
        "bases": [cls.__name__[:100] for cls in type(err).__mro__[1:12]],
        "args": [a[:MAX_MESSAGE] if isinstance(a, str) else a for a in args[:4]],
        "message": message[:MAX_MESSAGE],
        "frames": frames[-MAX_FRAMES:],
    }


class _Tolerant(importlib.abc.Loader):
    """Loads a dependency module; if it fails, keeps what ran and adds the oracle stubs."""

    def __init__(self, inner, stubs, failures):
        self.inner, self.stubs, self.failures = inner, stubs, failures

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        try:
            self.inner.exec_module(module)
        except Exception as err:
            self.failures[module.__name__] = f"{type(err).__name__}: {err}"[:MAX_MESSAGE]
            for name, stub in self.stubs.items():
                setattr(module, name, stub)


class _DependencyFinder(importlib.abc.MetaPathFinder):
    """Finds the submission's modules; the graded module itself loads normally."""

    def __init__(self, package_dir, graded_module, stubs_by_module, failures):
        self.package_dir, self.graded = package_dir, graded_module
        self.stubs, self.failures = stubs_by_module, failures

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, [self.package_dir])
        short = fullname[len(PACKAGE) + 1:]
        if spec is not None and short != self.graded and short in self.stubs:
            spec.loader = _Tolerant(spec.loader, self.stubs[short], self.failures)
        return spec


def create_package(package_dir):
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [package_dir]
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    return package


def oracle_stub(channel, name):
    """A stand-in for another exercise's function: the grader runs its own version."""

    def stub(*args, **kwargs):
        channel.send({"op": "oracle", "name": name, "args": list(args), "kwargs": kwargs})
        reply = channel.receive(refs=args)
        # arrays the trusted function replaced (a new running average) stay new arrays here too
        replaced = {tuple(path) for path in reply.get("replaced", []) if isinstance(path, list) and path}
        for i, (old, new) in enumerate(zip(args, reply.get("args", []))):
            wire.merge(old, new, {path[1:] for path in replaced if path[0] == i})
        if "raised" in reply:
            raise rebuild_exception(reply["raised"])
        return reply["result"]

    stub.__name__ = stub.__qualname__ = name
    return stub


def placeholder(name):
    """Stands for a function of a module that failed to import."""

    def missing(*args, **kwargs):
        raise ImportError(f"{name} is unavailable: its module of the submission does not import")

    missing.__name__ = missing.__qualname__ = name
    return missing


def rebuild_exception(info):
    import builtins

    cls = getattr(builtins, str(info.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RuntimeError
    try:
        return cls(*info.get("args", []))
    except Exception:
        return RuntimeError(str(info.get("message")))


def install_oracles(stubs):
    """Rebind every reference to the student's versions of the oracle functions."""
    for module_name, functions in stubs.items():
        module = sys.modules.get(f"{PACKAGE}.{module_name}")
        if module is None:
            continue
        for name, stub in functions.items():
            original = vars(module).get(name)
            setattr(module, name, stub)
            if original is None:
                continue
            for key, loaded in list(sys.modules.items()):
                if key.startswith(PACKAGE + "."):
                    for attr, value in list(vars(loaded).items()):
                        if value is original:
                            setattr(loaded, attr, stub)


def resolve(module, qualname):
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def serve(channel, setup):
    package_dir = setup["package_dir"]
    graded_module, qualname = setup["module"], setup["function"]
    failures = {}
    stubs = {m: {f: oracle_stub(channel, f) for f in names} for m, names in setup["oracles"].items()}
    # A dependency that does not import still offers every exercise function by name, so
    # that its importers load; the ones the graded exercise may not call just raise.
    stand_ins = {m: {f: placeholder(f) for f in names} for m, names in setup["exercises"].items()}
    for module_name, functions in stubs.items():
        stand_ins.setdefault(module_name, {}).update(functions)
    create_package(package_dir)
    sys.meta_path.insert(0, _DependencyFinder(package_dir, graded_module, stand_ins, failures))
    try:
        module = importlib.import_module(f"{PACKAGE}.{graded_module}")
        target = resolve(module, qualname)
    except BaseException as err:  # SyntaxError, ImportError, SystemExit...: all the student's
        channel.send({"ready": False, "raised": exception_info(err, package_dir)})
        return
    install_oracles(stubs)
    channel.classes = student_classes()
    owner_name = qualname.rpartition(".")[0]
    owner = resolve(module, owner_name) if owner_name else None
    channel.send({"ready": True, "dependency_failures": failures})
    while True:
        answer_call(channel, channel.receive(), target, owner, package_dir)


def watched_call(watched, target, args, kwargs):
    """Run target(*args, **kwargs) under a profiler; (reply, the modules of `watched` it called).

    The grader's checks fail exercise code that calls certain modules (frameworks, the
    course's graph evaluator: `OFF_LIMITS` in the course's cs231n_bn/checks/core.py, which
    watches the same way in the student's own kernel). The grader cannot see into this
    process, so the watch runs here and what it saw goes back as data. A module's own
    import (its module code running) is not a call of it.
    """
    entered = set()
    packages = tuple(w + "." for w in watched)

    def watch(frame, event, arg):
        if event == "call":
            name = frame.f_globals.get("__name__")
        elif event == "c_call":
            if arg is sys.setprofile and frame.f_code is not watched_call.__code__ and \
                    frame.f_globals.get("__name__") != "cs231n_bn.threads":
                entered.add(REPLACED_WATCH)  # switched off, even if put back before the call returns
                return
            # a method of a C type (a tensor's) names its module through its object's type
            name = getattr(arg, "__module__", None) or getattr(type(getattr(arg, "__self__", None)), "__module__", None)
        else:
            return
        if not isinstance(name, str) or not (name in watched or name.startswith(packages)):
            return
        found = next(w for w in watched if name == w or name.startswith(w + "."))
        while frame is not None:
            module = frame.f_globals.get("__name__")
            if frame.f_code.co_name == "<module>" and isinstance(module, str) and (
                    module == found or module.startswith(found + ".")) and \
                    getattr(sys.modules.get(module), "__dict__", None) is frame.f_globals:
                return  # the module being imported, not code that only names itself like it
            frame = frame.f_back
        entered.add(found)

    sys.setprofile(watch)
    threading.setprofile(watch)
    try:
        reply = {"result": target(*args, **kwargs)}
    except BaseException as err:  # whatever the student's code raises goes back as data
        reply = {"raised": err}
    finally:
        if sys.getprofile() is not watch:
            entered.add(REPLACED_WATCH)
        sys.setprofile(None)
        threading.setprofile(None)
    return reply, sorted(entered)


def answer_call(channel, request, target, owner, package_dir):
    """Run target on the request's arguments (on a fresh `owner` holding its `self` state)."""
    args, kwargs = list(request.get("args", [])), dict(request.get("kwargs", {}))
    callbacks = request.get("callbacks") if isinstance(request.get("callbacks"), dict) else {}
    for index, name in callbacks.items():  # the grader's functions among the arguments
        if str(index).isdigit() and int(index) < len(args) and isinstance(name, str):
            args[int(index)] = oracle_stub(channel, name)
    state = request.get("self")
    instance = None
    if owner is not None:
        instance = owner.__new__(owner)
        instance.__dict__.update(state or {})
        args.insert(0, instance)
    refs = {id(a): i for i, a in enumerate(request.get("args", [])) if isinstance(a, np.ndarray)}
    ids_before = {path: id(a) for path, a in wire.nested_arrays(list(request.get("args", [])))}
    if callable(target):
        reply, called = watched_call(channel.off_limits, target, args, kwargs)
    else:
        reply, called = {"raised": TypeError(f"{request.get('name')!r} is not a function defined by your cell")}, []
    if "raised" in reply:
        reply["raised"] = exception_info(reply["raised"], package_dir)
    if called:
        reply["off_limits"] = called
    reply["args"] = wire.unshared(request.get("args", []))
    reply["replaced"] = wire.replaced_arrays(request.get("args", []), ids_before)
    if instance is not None:
        reply["self"] = {k: v for k, v in vars(instance).items() if k in (state or {})}
    try:
        channel.send(reply, refs)
    except wire.WireError as err:
        channel.send({"raised": {"type": "ValueError", "args": [], "message": f"the result cannot be sent: {err}",
                                 "frames": []}})


def run_cells(channel, setup):
    """Notebook cells, one per request, in one namespace that starts from the grader's data."""
    create_package(setup["package_dir"])
    namespace = {"__name__": "__main__", "np": np, **setup.get("namespace", {})}
    channel.send({"ready": True})
    while True:
        request = channel.receive()
        if request.get("op") == "call":
            answer_call(channel, request, namespace.get(request.get("name")), None, setup["package_dir"])
            continue
        reply = {}
        try:
            exec(compile(request["source"], "<cell>", "exec"), namespace)
        except BaseException as err:  # the student's cell: whatever it raises goes back as data
            reply["raised"] = exception_info(err, setup["package_dir"])
        reply["values"] = {name: namespace[name] for name in request["extract"] if name in namespace}
        channel.send(reply)


def main():
    channel = Channel(int(sys.argv[1]), int(sys.argv[2]))
    setup = channel.receive()
    channel.off_limits = tuple(str(name) for name in setup.get("off_limits", ()))
    if setup.get("cells"):
        run_cells(channel, setup)
    else:
        serve(channel, setup)


if __name__ == "__main__":
    main()
