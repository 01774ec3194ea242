"""Calling the code under test, and the facts every check establishes the same way.

Every function here raises CheckFailed with a message that states a symptom: what came
back, where, and how it differs from what was expected. None of them says how to write
the fix (that is what checks.hint is for).
"""

import contextlib
import importlib
import re
import sys
import threading

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.display import CheckFailed, NotImplementedYet, shown_briefly, student_line

MODEL_RTOL = 1e-6  # relative tolerance when matching a value against a model of it
ROUNDING_ULPS = 12  # rounding errors allowed per unit of scale against a reference value (correct code: < 2)

# What exercise code may not call. The exercises are NumPy: a framework's automatic
# differentiation hands over a backward pass, its layers a forward pass. The graph module
# evaluates notebook 1's forward pass and differentiates it, for notebooks 1 and 2 to look at.
# Only notebook 9's exercise is about a framework.
FRAMEWORKS = ("jax", "keras", "tensorflow", "torch")
OFF_LIMITS = (*FRAMEWORKS, "cs231n_bn.graph")
FRAMEWORK_EXERCISES = ("keras_convnet",)
REPLACED_WATCH = "sys.setprofile"  # what the watch reports when the code under test removed it


def package_function(module, name):
    """The package's implementation, looked up at call time (so edits and reloads count)."""
    return getattr(importlib.import_module(f"cs231n_bn.{module}"), name)


def _broadcast_hint(text, inputs=()):
    """What a broadcast error's shapes suggest: a lost axis, or a 1-D array on the wrong axis.

    inputs: the shapes of the arrays the check passed in (x first), to recognize x transposed.
    """
    shapes = [tuple(int(n) for n in found.split(",") if n.strip())
              for found in re.findall(r"\(([\d,\s]*)\)", text)]
    flat = [shape for shape in shapes if len(shape) == 1]
    full = [shape for shape in shapes if len(shape) >= 2]
    if flat and full and inputs and len(inputs[0]) == 2 and full[0] == tuple(inputs[0])[::-1] \
            and flat[0] in [tuple(s) for s in inputs[1:]]:
        return (f"a per-feature array of {flat[0][0]} values (gamma or beta) meets an array of shape {full[0]}, "
                f"x's shape {tuple(inputs[0])} transposed: the parameters are applied while the array is still "
                f"transposed; transpose it back first.")
    if flat and full:
        (n,), shape = flat[0], full[0]
        if len(shape) > 2 and n in shape[1:-1]:
            return (f"a 1-D array of {n} values lines up with the LAST axis of an array of shape {shape}; "
                    f"a per-channel array such as gamma must line up with the channel axis instead.")
        if n == shape[0]:
            return (f"an array of {n} values, one per row of an array of shape {shape}, lines up with its "
                    f"last axis: a statistic taken over an axis loses that axis unless it keeps it.")
    placed = [shape for shape in full if sum(d != 1 for d in shape) == 1]
    others = [shape for shape in full if shape not in placed]
    if placed and others:
        shape, other = placed[0], others[0]
        k = next(i for i, d in enumerate(shape) if d != 1)
        n, met = shape[k], len(other) - len(shape) + k
        if 0 <= met < len(other) and n in other:
            return (f"an array of shape {shape} holds its {n} values along its axis {k}, which meets axis {met} "
                    f"(of size {other[met]}) of an array of shape {other}; one value per channel or feature, such "
                    f"as gamma, must lie along the axis of size {n} (axis {other.index(n)}).")
    return "print the shape of each operand on that line, and which axis should meet which."


def _features_hint(text, shapes):
    """For a layer of the package that refused a per-feature array: where the features went."""
    found = re.search(r"must have shape \((\d+),\) \(one value per feature[^)]*\); got \((\d+),\)", text)
    if not found:
        return ""
    wanted, given = int(found[1]), int(found[2])
    for shape in shapes:
        if len(shape) == 4 and shape[1] == given and wanted == given * shape[2] * shape[3]:
            return (f"The layer was called on an array with {wanted} = C*H*W features per row: one feature per "
                    f"(channel, position), so each position gets its own statistics. Here each of the C = {given} "
                    f"channels is one feature, and every sample and position of it is a row.")
    if "bn_param" in text:
        return (f"The bn_param handed to the layer holds running statistics for {given} features, and the array "
                f"it normalizes has {wanted}: in a network, is it this layer's own bn_param?")
    return (f"The layer's gamma or beta has {given} values, and the array it normalizes has {wanted} features: "
            f"are they the array and the parameters of one layer (in a network, a layer's norm takes that "
            f"layer's affine output, with that layer's gamma and beta)?")


def _exception_hint(err, shapes=(), function_name=""):
    """One sentence about what this kind of exception usually means, or ''."""
    text = str(err)
    if isinstance(err, KeyError) and function_name == "layernorm_forward" and text.strip("'") in (
            "running_mean", "running_var"):
        return ("Layer norm keeps no running statistics: ln_param never holds them, and in test mode too each "
                "sample is normalized with its own mean and variance.")
    if isinstance(err, KeyError) and function_name == "FullyConnectedNet.loss" and re.fullmatch(r"'[Wb]\d+'", text):
        return (f"loss() found no grads[{text}] when it added the regularization's gradient to every weight: the "
                f"backward pass stored that layer's gradient under another key, or not at all (which number does "
                f"layer i's gradient get?).")
    if isinstance(err, ValueError) and function_name.startswith("spatial_groupnorm") and "broadcast" in text and \
            any(len(shape) == 4 and shape[0] == shape[2] == shape[3] == 1 for shape in shapes):
        return ("gamma and beta came as (1, C, 1, 1), CS231n's layout, which the contract accepts beside (C,): "
                "code written for one layout (an index like gamma[:, None, None], a reshape of (C,)) fails on the "
                "other.")
    if isinstance(err, ValueError) and function_name == "FullyConnectedNet._forward" and \
            re.search(r"affine_forward: w must have shape", text):
        return ("The weights handed to affine_forward do not fit the layer's input: a hidden layer used another "
                "layer's W and b (which does hidden layer i use?), or its input is not the previous layer's output.")
    upstream = re.match(r"(\w+): dout must have shape (\([^)]*\)) \(the shape of x\); got (\([^)]*\))", text)
    if isinstance(err, ValueError) and upstream:
        return (f"The gradient handed to {upstream[1]} has shape {upstream[3]}, not that of the output of its "
                f"forward step {upstream[2]}: the step after it in the forward pass returned the gradient with "
                f"respect to some other array than its own input.")
    features = _features_hint(text, shapes) if isinstance(err, ValueError) else ""
    if features:
        return features
    inner = re.search(r"matmul: .*mismatch in its core dimension.*\(size (\d+) is different from (\d+)\)", text)
    if isinstance(err, ValueError) and inner:
        return (f"A matrix product whose inner sizes differ ({inner[2]} columns against {inner[1]} rows): on the "
                f"way back through an affine layer the weights are used transposed (dx takes W.T, dW takes x.T).")
    if isinstance(err, ValueError) and "broadcast" in text:
        return "Two arrays with incompatible shapes met in one operation: " + _broadcast_hint(text, shapes)
    if isinstance(err, KeyError):
        return (
            f"Your code read the key {text} from a dict that does not have it. A fresh "
            f"parameter or config dict holds only what the caller put in; state the function "
            f"creates itself is not there on the first call."
        )
    if isinstance(err, AttributeError):
        return (
            "Your code read an attribute that the object does not have: check what type the "
            "object really is (a cache is whatever your forward pass returned)."
        )
    if isinstance(err, TypeError) and re.search(r"got multiple values for argument|required positional argument|"
                                                r"positional arguments? but \d+ (were|was) given|unexpected keyword", text):
        return ("A call does not fit the signature of the function it calls (an argument given twice, by "
                "position and by name, one missing or one too many): compare the call on that line with the "
                "function's definition.")
    if isinstance(err, TypeError) and "NoneType" in text:
        return "A value your code uses is None: some branch did not assign or return it."
    if isinstance(err, TypeError):
        return "A value has another type than your code expects (an array, a number, a dict?)."
    if isinstance(err, IndexError) or (isinstance(err, np.exceptions.AxisError)):
        return "An index or an axis is out of range for the array it is used on: compare with its shape."
    if isinstance(err, (ZeroDivisionError, FloatingPointError)):
        return "A division by zero: which quantity in a denominator can be 0 on these inputs?"
    return ""


class OffLimitsCalled(Exception):
    """The code under test called into these OFF_LIMITS modules (raised by the grader's
    proxies, from what the student's process saw)."""

    def __init__(self, names):
        self.names = tuple(names)
        super().__init__(", ".join(self.names))


def _module_called(frame, event, arg, watched, packages):
    """The name in `watched` whose module a profiler event enters, or None.

    packages: the names of `watched` followed by a dot. A module's own import (its module
    code running) is not a call of it. A method of a C type (a tensor's) names its module
    through its object's type.
    """
    if event == "call":
        name = frame.f_globals.get("__name__")
    elif event == "c_call":
        if arg is sys.setprofile and frame.f_code not in _SETS_THE_WATCH and \
                frame.f_globals.get("__name__") != "cs231n_bn.threads":
            return REPLACED_WATCH  # switched off, even if put back before the call returns
        name = getattr(arg, "__module__", None) or getattr(type(getattr(arg, "__self__", None)), "__module__", None)
    else:
        return None
    if not isinstance(name, str) or not (name in watched or name.startswith(packages)):
        return None
    found = next(w for w in watched if name == w or name.startswith(w + "."))
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if frame.f_code.co_name == "<module>" and isinstance(module, str) and (
                module == found or module.startswith(found + ".")) and \
                getattr(sys.modules.get(module), "__dict__", None) is frame.f_globals:
            return None  # the module being imported, not code that only names itself like it
        frame = frame.f_back
    return found


@contextlib.contextmanager
def watching(entered, watched):
    """Add to the set `entered` every module of `watched` the code in this block calls.

    A profiler sees every function call, in C too (torch.from_numpy); code that replaces it
    is reported as REPLACED_WATCH.
    """
    packages = tuple(w + "." for w in watched)

    def watch(frame, event, arg):
        found = _module_called(frame, event, arg, watched, packages)
        if found:
            entered.add(found)

    previous, previous_threads = sys.getprofile(), threading.getprofile()
    sys.setprofile(watch)
    threading.setprofile(watch)
    try:
        yield entered
    finally:
        if sys.getprofile() is not watch:
            entered.add(REPLACED_WATCH)
        _restore_profiler(previous)
        threading.setprofile(previous_threads)


def _restore_profiler(previous):
    """Put back the profiler the watch found: a function, or cProfile's, which only its enable() restores."""
    if previous is None or callable(previous):
        sys.setprofile(previous)
    else:
        sys.setprofile(None)
        enable = getattr(previous, "enable", None)
        if callable(enable):
            enable()


_SETS_THE_WATCH = (watching.__wrapped__.__code__, _restore_profiler.__code__)  # their own sys.setprofile calls


def off_limits_for(exercise):
    """The modules exercise code may not call in this exercise."""
    return tuple(m for m in OFF_LIMITS if exercise not in FRAMEWORK_EXERCISES or m not in FRAMEWORKS)


def _off_limits_message(function_name, entered):
    if REPLACED_WATCH in entered:
        return (f"{function_name} replaced the check's profiler (sys.setprofile), which watches that the exercise's "
                f"code computes its answer itself")
    frameworks = sorted(entered & set(FRAMEWORKS))
    if frameworks:
        return (f"{function_name} called {' and '.join(frameworks)}: the exercises are written in NumPy, and a "
                f"framework's layers or automatic differentiation are not accepted in them, even where their "
                f"numbers are right (the gradients asked for are the ones you derive)")
    return (f"{function_name} called {' and '.join(sorted(entered))}, which evaluates and differentiates "
            f"notebook 1's graph for the notebooks to look at: an exercise computes its values itself")


def call(exercise, function_name, fn, *args):
    """Call fn(*args); an exception on valid input becomes CheckFailed naming it.

    A NotImplementedError (the student edition's stub) passes through unchanged but shown
    briefly, so the notebook shows one line saying which exercise is next. Code that calls
    a module of OFF_LIMITS fails (frameworks are allowed in FRAMEWORK_EXERCISES).
    """
    entered = set()
    try:
        with reference.withheld(function_name), watching(entered, off_limits_for(exercise)):
            result = fn(*args)
    except OffLimitsCalled as err:
        entered.update(err.names or (REPLACED_WATCH,))
    except NotImplementedYet:
        raise
    except NotImplementedError as err:
        shown_briefly(err)
        raise
    except Exception as err:
        if not entered:
            raise _crash(exercise, function_name, err, args) from err
    if entered:
        raise CheckFailed(_off_limits_message(function_name, entered), exercise, topic="off limits")
    return result


def _crash(exercise, function_name, err, args):
    arrays = [a.shape for a in args if isinstance(a, np.ndarray)]
    shapes = ", ".join(str(shape) for shape in arrays)
    lines = [f"{function_name} raised {type(err).__name__}: {err}"]
    where = student_line(err.__traceback__)
    if where:
        lines.append(f"at {where}")
    lines.append(f"The inputs were valid{f' (array shapes {shapes})' if shapes else ''}. "
                 + _exception_hint(err, arrays, function_name))
    return CheckFailed("\n".join(lines).rstrip(), exercise, topic=type(err).__name__)


def unpack(exercise, function_name, result, names):
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise CheckFailed(
            f"{function_name} must return a tuple ({', '.join(names)}); got {got}", exercise, "return"
        )
    return result


def require_array(exercise, function_name, name, a, shape, note=""):
    """a must be a finite float64 array of this shape."""
    if not isinstance(a, np.ndarray):
        raise CheckFailed(
            f"{function_name}: {name} must be a numpy array; got {type(a).__name__}", exercise, "type"
        )
    if a.shape != tuple(shape):
        raise CheckFailed(
            f"{function_name}: {name} has shape {a.shape}; expected {tuple(shape)}. {note}".rstrip(),
            exercise, "shape",
        )
    if a.dtype != np.float64:
        raise CheckFailed(
            f"{function_name}: {name} has dtype {a.dtype} for float64 inputs; the result "
            f"should keep the input's precision", exercise, "dtype",
        )
    if not np.all(np.isfinite(a)):
        raise CheckFailed(
            f"{function_name}: {name} contains NaN or inf on ordinary inputs (no variance "
            f"is 0 here): somewhere a denominator is 0 or a square root gets a negative number",
            exercise, "nan",
        )


def require_unchanged(exercise, function_name, originals):
    """originals: {name: (array as passed, copy taken before the call)}."""
    for name, (now, before) in originals.items():
        if now.shape != before.shape or not np.array_equal(now, before):
            raise CheckFailed(
                f"{function_name} modified its input {name} in place: after the call the "
                f"caller's {name} holds other values. The caller still needs its {name}",
                exercise, "in place",
            )


def rounding_bound(scale, dtype=np.float64):
    """How far correct code may land from a reference value of this scale, entry by entry.

    scale: the size of the largest term that enters each entry (times the conditioning of
    the statistics it uses). Correct code of any form (two-pass or one-pass variance,
    staged or closed form, einsum or loops) stays within a few dozen rounding errors of
    it; a numeric gradient, whose error is at least the cube root of the rounding error
    squared (about 1e-11 relative in float64), does not.
    """
    return ROUNDING_ULPS * np.finfo(dtype).eps * np.asarray(scale, dtype=np.float64)


def agrees(got, expected, bound):
    """Is every entry of got within bound (broadcast) of expected?"""
    diff = np.abs(np.asarray(got, dtype=np.float64) - expected)
    return bool(np.all(diff <= bound))


def matches(a, b, rtol=MODEL_RTOL):
    """Do a and b agree to rtol, entry by entry? False for anything not numeric."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    return bool(np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(b), 1e-300) + 1e-14))


def rel_error(a, b):
    """CS231n's relative error, max |a - b| / max(1e-8, |a| + |b|)."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def factor_text(c, n, sizes=None, n_words="the size of a group"):
    """Words for a constant factor c between a value and the right one, or None.

    n is the group size the statistics are taken over; sizes maps other sizes in play
    to their names ({N: "N"}), for a division by the wrong count.
    """
    named = [
        (0.0, "zero: it is missing, or what it carries sums to zero (as the deviations x - mean do, over "
              "the entries they were taken over): check that each local gradient keeps its factor"),
        (-1.0, "-1 times the right one: a sign error"),
        (2.0, "2 times the right one: a factor 1/2 is missing"),
        (0.5, "1/2 of the right one: a factor 2 is missing"),
        (-2.0, "-2 times the right one: a sign error and a missing factor 1/2"),
        (-0.5, "-1/2 of the right one: a sign error and a missing factor 2"),
        (float(n), f"n = {n} times the right one: a factor 1/n is missing (n = {n}, {n_words})"),
        (1.0 / n, f"1/n of the right one: an extra factor 1/n (n = {n}, {n_words})"),
        (-float(n), f"-n times the right one (n = {n}): a sign error and a missing 1/n"),
        (float(n * n), f"n^2 times the right one (n = {n}): 1/n is missing twice"),
        (n / (n - 1.0), f"n/(n-1) times the right one (n = {n}): divided by n - 1 where n belongs"),
        ((n - 1.0) / n, f"(n-1)/n of the right one (n = {n}): too small by the factor (n-1)/n"),
    ]
    for size, label in (sizes or {}).items():
        if size != n:
            named.append((n / size, f"{n}/{size} times the right one: divided by {label} where the "
                                    f"group size n = {n} belongs"))
            named.append((size / n, f"{size}/{n} of the right one: an extra factor {label}/n"))
            named.append((1.0 / size, f"1/{label} of the right one ({label} = {size}): an extra division by {label}"))
            named.append((float(size), f"{label} = {size} times the right one: a division by {label} is missing"))
    # a constant two readings explain (2 = n / size when that size is half the group) gets both
    found = list(dict.fromkeys(label for value, label in named if abs(c - value) <= 1e-6 * max(1.0, abs(value))))
    return "; or ".join(found) if found else None
