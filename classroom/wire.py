"""What crosses the pipe between the grader and a student's process: data, never code.

Both sides use this module (it imports only the standard library and numpy, so the
sandboxed student process can load it without any course code). A message is one frame:
an 8-byte length, then a JSON document, then the raw bytes of the arrays it refers to, each
with its own length (the JSON gives each array's dtype and shape). Decoding never
unpickles: an array is rebuilt with `np.frombuffer` only when its dtype is numeric (no
object or structured dtypes) and its bytes match its shape exactly; every frame, string,
container and nesting depth has a limit. What the student's process sends is therefore
only numbers and structure, however it was produced.

Values: None, bool, int, float, str, numpy arrays and scalars, lists, tuples, dicts with
str or int keys, dataclass instances (sent as their class name and fields; the receiver
rebuilds them with its OWN class of that name, or a `Foreign` object when it has none),
numpy dtypes, and numpy Generators (sent as their PCG64 state).
"""

import dataclasses
import json
import os
import select
import struct
import time

import numpy as np

MAX_FRAME = 64 * 2**20  # bytes in one message
MAX_DEPTH = 12  # nesting of containers
MAX_ITEMS = 100_000  # values in one message
MAX_TEXT = 20_000  # characters in one string
NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex: never object or structured
_LENGTH = struct.Struct(">Q")


class WireError(Exception):
    """A frame that is malformed, too large, or arrives too late; the sender broke the protocol."""


@dataclasses.dataclass(frozen=True)
class Foreign:
    """A value the sender had and the receiver cannot rebuild: only its type name crosses."""

    type_name: str
    fields: dict = dataclasses.field(default_factory=dict)

    def __getattr__(self, name):
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"{self.type_name!r} object (sent by another process) has no attribute {name!r}")


@dataclasses.dataclass(frozen=True)
class Ref:
    """In a result: "this is argument i itself" (the function returned its input unchanged)."""

    index: int


# ---------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self, refs):
        self.arrays = []
        self.refs = refs  # {id(array): argument index}
        self.count = 0

    def value(self, v, depth=0):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise WireError("the value is nested too deeply or holds too many items to send")
        if v is None or isinstance(v, (bool, str)):
            return v if not isinstance(v, str) else v[:MAX_TEXT]
        if isinstance(v, (int, float)) and not isinstance(v, np.generic):
            return {"t": "f", "v": repr(float(v))} if isinstance(v, float) else v
        if isinstance(v, np.ndarray) and id(v) in self.refs:
            return {"t": "ref", "i": self.refs[id(v)]}
        if isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
            if a.dtype.kind not in NUMERIC_KINDS:
                return {"t": "foreign", "n": f"ndarray of dtype {a.dtype}"[:200], "f": {}}
            self.arrays.append(a)
            return {"t": "a" if isinstance(v, np.ndarray) else "s", "i": len(self.arrays) - 1,
                    "d": a.dtype.str, "s": list(a.shape)}
        if isinstance(v, np.dtype):
            return {"t": "dtype", "v": v.str} if v.kind in NUMERIC_KINDS else {"t": "foreign", "n": "dtype", "f": {}}
        if isinstance(v, np.random.Generator) and isinstance(v.bit_generator, np.random.PCG64):
            return {"t": "rng", "v": self.value(v.bit_generator.state, depth + 1)}
        if isinstance(v, (list, tuple)):
            return {"t": "l" if isinstance(v, list) else "u", "v": [self.value(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            keys = list(v)
            if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys):
                return {"t": "foreign", "n": "dict with keys other than str and int", "f": {}}
            return {"t": "d", "k": keys, "v": [self.value(v[k], depth + 1) for k in keys]}
        if isinstance(v, Foreign):  # passed on as it came: the next receiver may know its class
            fields = {name: self.value(x, depth + 1) for name, x in v.fields.items()}
            return {"t": "dc", "n": v.type_name[:200], "f": fields}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = {f.name: self.value(getattr(v, f.name, None), depth + 1) for f in dataclasses.fields(v)}
            return {"t": "dc", "n": type(v).__name__[:200], "f": fields}
        return {"t": "foreign", "n": type(v).__name__[:200], "f": {}}


def encode(message, refs=None):
    """One frame (bytes) holding `message`; arrays whose id is in refs go as references."""
    encoder = _Encoder(refs or {})
    document = json.dumps(encoder.value(message), allow_nan=False).encode("utf-8")
    parts = [_LENGTH.pack(len(document)), document]
    for a in encoder.arrays:
        data = a.tobytes(order="C")
        parts += [_LENGTH.pack(len(data)), data]
    body = b"".join(parts)
    if len(body) > MAX_FRAME:
        raise WireError(f"the message is {len(body)} bytes; at most {MAX_FRAME} may be sent")
    return _LENGTH.pack(len(body)) + body


# ---------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, arrays, classes, refs):
        self.arrays = arrays
        self.classes = classes  # {class name: dataclass type} the receiver rebuilds
        self.refs = refs  # argument objects a Ref may name
        self.count = 0

    def value(self, v, depth=0):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise WireError("the message is nested too deeply or holds too many items")
        if v is None or isinstance(v, (bool, int)):
            return v
        if isinstance(v, str):
            if len(v) > MAX_TEXT:
                raise WireError("a string in the message is too long")
            return v
        if not isinstance(v, dict) or not isinstance(v.get("t"), str):
            raise WireError(f"unexpected JSON value of type {type(v).__name__}")
        kind = v["t"]
        if kind == "f":
            return float(_text(v.get("v"), 40))
        if kind in ("a", "s"):
            a = _array(self.arrays[_index(v.get("i"), len(self.arrays))], v.get("d"), v.get("s"))
            return a if kind == "a" else a[()]
        if kind == "ref":
            return self.refs[_index(v.get("i"), len(self.refs))]
        if kind == "dtype":
            dtype = np.dtype(_text(v.get("v"), 20))
            if dtype.kind not in NUMERIC_KINDS:
                raise WireError(f"dtype {dtype} is not numeric")
            return dtype
        if kind == "rng":
            state = self.value(v.get("v"), depth + 1)
            generator = np.random.Generator(np.random.PCG64())
            try:
                generator.bit_generator.state = state
            except (TypeError, ValueError, KeyError) as err:
                raise WireError(f"not a PCG64 state: {err}") from None
            return generator
        if kind in ("l", "u"):
            items = [self.value(x, depth + 1) for x in _list(v.get("v"))]
            return items if kind == "l" else tuple(items)
        if kind == "d":
            keys, values = _list(v.get("k")), _list(v.get("v"))
            if len(keys) != len(values) or not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys):
                raise WireError("a dict's keys must be str or int, one per value")
            return {k: self.value(x, depth + 1) for k, x in zip(keys, values)}
        if kind in ("dc", "foreign"):
            name = _text(v.get("n"), 200)
            raw = v.get("f")
            if not isinstance(raw, dict):
                raise WireError("a dataclass's fields must be a JSON object")
            fields = {str(k)[:200]: self.value(x, depth + 1) for k, x in raw.items()}
            cls = self.classes.get(name) if kind == "dc" else None
            if cls is not None and {f.name for f in dataclasses.fields(cls)} == set(fields):
                return cls(**fields)
            return Foreign(name, fields)
        raise WireError(f"unknown value kind {kind!r}")


def _text(v, limit):
    if not isinstance(v, str) or len(v) > limit:
        raise WireError("expected a short string")
    return v


def _list(v):
    if not isinstance(v, list):
        raise WireError("expected a JSON list")
    return v


def _index(i, n):
    if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n:
        raise WireError("a reference points outside the message")
    return i


def decode(body, classes=None, refs=()):
    """The message in one frame's body; dataclasses rebuilt from `classes` by name."""
    view = memoryview(body)
    length, offset = _take_length(view, 0)
    try:
        document = json.loads(bytes(view[offset:offset + length]).decode("utf-8"))
    except (ValueError, RecursionError) as err:  # bad UTF-8 or JSON, or an absurd number
        raise WireError(f"the message is not valid JSON: {type(err).__name__}") from None
    offset += length
    arrays = []
    while offset < len(view):
        length, offset = _take_length(view, offset)
        arrays.append(view[offset:offset + length])
        offset += length
    return _Decoder(arrays, classes or {}, list(refs)).value(document)


def _array(data, dtype, shape):
    """A numeric array from raw bytes, only if they match the declared dtype and shape."""
    try:
        dtype = np.dtype(_text(dtype, 8))
    except TypeError:
        raise WireError("an array's dtype is not a numpy dtype string") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"only numeric arrays may be sent; got dtype {dtype}")
    if not (isinstance(shape, list) and len(shape) <= 32
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise WireError("an array's shape must be a list of at most 32 sizes")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(data):
        raise WireError("an array's data does not match its declared shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _take_length(view, offset):
    if offset + _LENGTH.size > len(view):
        raise WireError("the message is truncated")
    (length,) = _LENGTH.unpack(view[offset:offset + _LENGTH.size])
    offset += _LENGTH.size
    if length > len(view) - offset:
        raise WireError("the message is truncated")
    return length, offset


# ---------------------------------------------------------------------------------------
# Frames on file descriptors
# ---------------------------------------------------------------------------------------


def send(fd, frame):
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view):]


def receive(fd, deadline=None):
    """The body of the next frame on fd; None at end of file. WireError after the deadline."""
    head = _read_exactly(fd, _LENGTH.size, deadline, allow_eof=True)
    if head is None:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise WireError(f"a message of {length} bytes announced; at most {MAX_FRAME} accepted")
    return _read_exactly(fd, length, deadline, allow_eof=False)


class Timeout(WireError):
    """No complete frame arrived before the deadline."""


def _read_exactly(fd, n, deadline, allow_eof):
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Timeout("no answer before the time limit")
        chunk = os.read(fd, min(n - got, 2**20))
        if not chunk:
            if allow_eof and got == 0:
                return None
            raise WireError("the other side closed the pipe in the middle of a message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def merge(old, new):
    """Make `old` equal to `new` in place where it can (so that every holder of `old` sees
    the change, as it would after an in-place edit in one process); returns the value the
    holder should keep."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = merge(old[key], value) if key in old else value
        return old
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        old[:] = [merge(o, n) for o, n in zip(old, new)]
        return old
    if (isinstance(old, np.ndarray) and isinstance(new, np.ndarray) and old.shape == new.shape
            and old.dtype == new.dtype):
        if old is not new and old.tobytes() != new.tobytes():
            if not old.flags.writeable:
                return new
            np.copyto(old, new)
        return old
    if isinstance(old, np.random.Generator) and isinstance(new, np.random.Generator):
        old.bit_generator.state = new.bit_generator.state
        return old
    return new


def unshared(args):
    """The arguments as they are now, each top-level array copied: sent as contents, not as a Ref."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]
