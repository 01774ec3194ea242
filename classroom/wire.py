"""What crosses the pipe between the grader and a student's process: data, never code.

Both sides use this module (it imports only the standard library and numpy, so the
sandboxed student process can load it without any course code). A message is one frame:
an 8-byte length, then a JSON document, then the raw bytes of the arrays it refers to, each
with its own length (the JSON gives each array's dtype and shape). Decoding never
unpickles: an array is rebuilt with `np.frombuffer` only when its dtype is numeric (no
object or structured dtypes) and its bytes match its shape exactly; every frame, string,
container and nesting depth has a limit. What the student's process sends is therefore
only numbers and structure, however it was produced.

Every limit is checked before the work it bounds: a frame's declared length before it is
read, a frame's size before it is built, a document's depth and number of items (counted on
its raw bytes) before JSON parses it; and a write has a deadline, so a peer that stops
reading cannot hold the writer.

Values: None, bool, int, float, str, numpy arrays and scalars, lists, tuples, dicts with
str or int keys, dataclass instances (sent as their class name and fields; the receiver
rebuilds them with its OWN class of that name, or a `Foreign` object when it has none),
numpy dtypes, and numpy Generators (sent as their PCG64 state).
"""

import dataclasses
import json
import os
import re
import select
import struct
import time

import numpy as np

MAX_FRAME = 64 * 2**20  # bytes in one message
MAX_DEPTH = 12  # nesting of containers
MAX_ITEMS = 100_000  # values in one message
MAX_TEXT = 20_000  # characters in one string
# A value of depth d is a JSON object holding a list: two JSON levels per level, plus slack.
MAX_JSON_DEPTH = 2 * MAX_DEPTH + 4
MAX_JSON_TOKENS = 16 * MAX_ITEMS  # brackets, commas and colons in one document
MAX_DOCUMENT = 16 * 2**20  # bytes of a frame's JSON part (the arrays carry the bulk)
WRITE_CHUNK = 2**16
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
        self.array_bytes = 0

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
            self.array_bytes += a.nbytes + _LENGTH.size
            if self.array_bytes > MAX_FRAME:
                raise WireError(f"the value holds too many bytes of arrays; at most {MAX_FRAME} may be sent")
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
    size = _LENGTH.size + len(document) + encoder.array_bytes
    if size > MAX_FRAME:  # before any array is copied into the frame
        raise WireError(f"the message is {size} bytes; at most {MAX_FRAME} may be sent")
    parts = [_LENGTH.pack(size), _LENGTH.pack(len(document)), document]
    for a in encoder.arrays:
        parts += [_LENGTH.pack(a.nbytes), a.tobytes(order="C")]
    return b"".join(parts)


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


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPENING = np.frombuffer(b"[{", dtype=np.uint8)
_BRACKETS = np.frombuffer(b"[]{}", dtype=np.uint8)
_SEPARATORS = np.frombuffer(b"[{,:", dtype=np.uint8)


def check_json_shape(text, max_depth=MAX_JSON_DEPTH, max_tokens=MAX_JSON_TOKENS, what="the message"):
    """Refuse a JSON text nested deeper than max_depth or holding more than max_tokens
    brackets, commas and colons, counted on its bytes (strings skipped) before any parser
    builds an object or recurses. Raises WireError; returns nothing."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    bare = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    tokens = int(np.isin(bare, _SEPARATORS).sum())
    brackets = bare[np.isin(bare, _BRACKETS)]
    if tokens > max_tokens or len(brackets) > 2 * max_tokens:
        raise WireError(f"{what} holds too many items ({tokens} JSON separators; at most {max_tokens})")
    steps = np.where(np.isin(brackets, _OPENING), 1, -1)
    depth = int(np.cumsum(steps).max(initial=0))
    if depth > max_depth:
        raise WireError(f"{what} is nested {depth} levels deep; at most {max_depth} are read")


def loads_bounded(text, max_depth=MAX_JSON_DEPTH, max_tokens=MAX_JSON_TOKENS, what="the message"):
    """json.loads, after check_json_shape: WireError for deep, huge or invalid JSON."""
    check_json_shape(text, max_depth, max_tokens, what)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:  # bad UTF-8 or JSON, or an absurd number
        raise WireError(f"{what} is not valid JSON: {type(err).__name__}") from None


def decode(body, classes=None, refs=()):
    """The message in one frame's body; dataclasses rebuilt from `classes` by name."""
    view = memoryview(body)
    length, offset = _take_length(view, 0)
    if length > MAX_DOCUMENT:
        raise WireError(f"the message's document is {length} bytes; at most {MAX_DOCUMENT} are read")
    document = loads_bounded(bytes(view[offset:offset + length]))
    offset += length
    arrays = []
    while offset < len(view):
        if len(arrays) >= MAX_ITEMS:
            raise WireError(f"the message carries more than {MAX_ITEMS} arrays")
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


def send(fd, frame, deadline=None):
    """Write the whole frame to fd. With a deadline (time.monotonic()), fd must be
    non-blocking; Timeout when the reader has not taken the frame by then."""
    view = memoryview(frame)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise Timeout("the other side stopped reading before the time limit")
        try:
            view = view[os.write(fd, view[:WRITE_CHUNK]):]
        except BlockingIOError:  # writable by select, yet the pipe filled meanwhile
            continue


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
    """A frame did not arrive, or was not taken, before the deadline."""


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


def nested_arrays(value, path=(), depth=0):
    """[(path, array)] of the arrays held inside value's dicts and lists (path: the keys and
    indices that lead to each, from value itself)."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, np.ndarray):
        return [(path, value)]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [found for key, item in items for found in nested_arrays(item, path + (key,), depth + 1)]


def replaced_arrays(args, ids_before):
    """The paths (as lists) of arrays inside the arguments' containers that are other objects
    than before the call: the code replaced them rather than writing into them.

    ids_before: {path: id(array)} taken before the call, for the same paths.
    """
    return [list(path) for path, array in nested_arrays(list(args))
            if len(path) > 1 and ids_before.get(path) != id(array)]


def merge(old, new, replaced=frozenset(), path=()):
    """Make `old` equal to `new` in place where it can (so that every holder of `old` sees
    the change, as it would after an in-place edit in one process); returns the value the
    holder should keep.

    replaced: paths (tuples of keys and indices, from the top of `old`) of arrays the other
    process put there as new objects; those are put in as new arrays too, not written into
    the old ones, so that whoever still holds the old array sees what it saw before.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = merge(old[key], value, replaced, path + (key,)) if key in old else value
        return old
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        old[:] = [merge(o, n, replaced, path + (i,)) for i, (o, n) in enumerate(zip(old, new))]
        return old
    if path in replaced and isinstance(new, np.ndarray):
        return new
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
