"""Right answers as data: what a check compares with, never code that computes it.

A check that needs a right answer (an expected output, an expected cache field, a term of
a gradient) asks for it by name together with the inputs it is for:

    expected = reference.value("batchnorm_forward/out", "batchnorm_forward", x, gamma, beta, bn_param)

Where the value comes from depends on who runs the check:

- By default (the notebooks, the student edition, the instructor's tests) it is read from
  `reference_values.npz` beside this file, which the instructor's tools recorded from the
  instructor's implementation on the checks' fixed inputs. A digest of the inputs is stored
  with every value, so a value is only ever given for the inputs it was recorded for.
- The grader computes it from the instructor's implementation on secret inputs, in its
  own process, by installing its own source with `provider(fn)`.

Nothing here knows how any value is computed; a provider is any callable
fn(key, function_name, *inputs) -> array.
"""

import contextlib
import functools
import hashlib
import numbers
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).with_name("reference_values.npz")
RECORD_COMMAND = "python -m classroom.edition.reference_values"
_SEPARATOR = "|"


class ReferenceUnavailable(LookupError):
    """No recorded reference value for this key and these inputs."""


def _feed(h, item):
    """Add one input to the digest, in a form that does not depend on object identity."""
    if isinstance(item, np.ndarray) or isinstance(item, np.generic):
        a = np.ascontiguousarray(item)
        h.update(f"array:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    elif isinstance(item, dict):
        h.update(f"dict:{len(item)};".encode())
        for k in sorted(item, key=str):
            _feed(h, str(k))
            _feed(h, item[k])
    elif isinstance(item, (tuple, list)):
        h.update(f"seq:{len(item)};".encode())
        for member in item:
            _feed(h, member)
    elif isinstance(item, str):
        h.update(f"str:{len(item)}:{item};".encode())
    elif item is None or isinstance(item, (bool, numbers.Number)):
        h.update(f"{type(item).__name__}:{item!r};".encode())
    else:
        raise TypeError(f"reference.digest: inputs must be arrays, numbers, strings, None, or dicts, "
                        f"lists and tuples of them; got {type(item).__name__}")


def digest(function_name, *inputs):
    """A short hex digest of a function name and its inputs (arrays by dtype, shape and bytes)."""
    h = hashlib.sha256()
    _feed(h, function_name)
    for item in inputs:
        _feed(h, item)
    return h.hexdigest()[:24]


def entry_name(key, function_name, *inputs):
    """The name a value is stored under in the data file: key and digest of the inputs."""
    return f"{key}{_SEPARATOR}{digest(function_name, *inputs)}"


def call_of(name):
    """The digest part of a stored name: one for all the values of one call on one set of inputs."""
    return name.rsplit(_SEPARATOR, 1)[-1]


class _Recorded:
    """The default provider: values from the shipped data file, loaded once."""

    def __init__(self, path):
        self.path = Path(path)
        self._values = None

    def _load(self):
        if self._values is None:
            if not self.path.exists():
                raise ReferenceUnavailable(
                    f"reference values: the data file {self.path.name} is missing from this copy of "
                    f"the course; instructors: record it with `{RECORD_COMMAND}`")
            with np.load(self.path, allow_pickle=False) as data:
                self._values = {name: data[name] for name in data.files}
        return self._values

    def __call__(self, key, function_name, *inputs):
        values = self._load()
        name = entry_name(key, function_name, *inputs)
        if name in values:
            return values[name].copy()
        if any(stored.split(_SEPARATOR)[0] == key for stored in values):
            raise ReferenceUnavailable(
                f"reference values for {key!r} were recorded for other inputs than these; the "
                f"checks give the recorded values only for their fixed inputs. Instructors: "
                f"re-record with `{RECORD_COMMAND}`")
        raise ReferenceUnavailable(
            f"no reference value {key!r} is recorded; instructors: re-record with `{RECORD_COMMAND}`")


_providers = [_Recorded(DATA_FILE)]
# Values are the checks' own: given while a check runs (for_checks), withheld while it runs
# the code under test (withheld). Any code in the process could read the data file, so this
# keeps a notebook cell or a stub from asking by accident, or by the obvious route; grading
# draws secret inputs, for which no value is recorded at all.
_checks = []  # the checks under way, innermost last
_running = []  # the exercise code a check is calling, innermost last


@contextlib.contextmanager
def checking(name):
    """Reference values are given out inside this block: a check (or an instructor's tool
    reading them as a check would) named `name` is under way."""
    _checks.append(name)
    try:
        yield
    finally:
        _checks.pop()


def for_checks(check):
    """Decorate a check: reference values are given to it while it runs."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        with checking(check.__name__):
            return check(*args, **kwargs)
    return run


@contextlib.contextmanager
def withheld(function_name):
    """While a check runs exercise code, no value is given out: a check asks for its values
    before it calls the code under test, and the code under test computes its own."""
    _running.append(function_name)
    try:
        yield
    finally:
        _running.pop()


def value(key, function_name, *inputs):
    """The right value named `key` for function_name(*inputs), as a float64 array.

    key: "<function>/<what>", e.g. "batchnorm_forward/out"; function_name: the exercise
    whose answer it is; inputs: that exercise's inputs (arrays, numbers, dicts of them).
    Raises ReferenceUnavailable when the active provider has no such value, outside a
    check (see for_checks), or while a check runs exercise code (see withheld).
    """
    if _running:
        raise ReferenceUnavailable(
            f"reference values are the checks' own: none is given while {_running[-1]} runs under its check "
            f"(the exercise computes its answer itself)")
    if not _checks:
        raise ReferenceUnavailable(
            f"reference values are the checks' own: {key!r} is given to a check while it runs (checks.check_...), "
            f"not to other code")
    got = _providers[-1](key, function_name, *inputs)
    return np.array(got, dtype=np.float64)


@contextlib.contextmanager
def provider(fn):
    """Make fn(key, function_name, *inputs) the source of reference values while active."""
    if not callable(fn):
        raise TypeError(f"reference.provider: fn must be callable; got {type(fn).__name__}")
    _providers.append(fn)
    try:
        yield fn
    finally:
        _providers.remove(fn)


class Recorder:
    """A provider that asks `source` for each value and keeps what it gave, for the data file.

    source: a provider (fn(key, function_name, *inputs) -> array), typically one that
    calls the instructor's implementation.
    """

    def __init__(self, source):
        self.source = source
        self.values = {}

    def __call__(self, key, function_name, *inputs):
        got = np.array(self.source(key, function_name, *inputs), dtype=np.float64)
        self.values[entry_name(key, function_name, *inputs)] = got
        return got.copy()

    def save(self, path):
        """Write every recorded value to an .npz file (arrays only: it loads without pickle)."""
        np.savez_compressed(path, **dict(sorted(self.values.items())))
