"""Read a CIFAR-10 batch file without letting the pickle run code.

A pickle is a small program: its GLOBAL opcodes import any callable by name and its
REDUCE opcodes call it, so `pickle.load` on a tampered file can run `os.system`.
CIFAR-10's batches need only dicts, lists, strings, ints and numpy arrays; the first
four are built by opcodes without any import, and a numpy array needs exactly three
names (the reconstruction function, ndarray and dtype), plus, for files re-pickled by
Python 3, a latin1 text-to-bytes conversion (and `bytes()` for an empty one). The
unpickler below hands out those and refuses every other name before anything is called.

Memory: nothing a batch file asks for may exceed what the file itself holds. The opcodes
are walked once before unpickling (check_lengths), refusing any length field that claims
more bytes than the file has left: the C unpickler allocates such a length before
reading, so a 1 kB file could otherwise ask for 6 GiB. The reconstruction function only
makes empty arrays: an array's contents then come from the file's own bytes, whose length
numpy checks against the shape. `numpy.ndarray` is handed out only as a name to pass to
that function: called, it would allocate any shape it is given. And the bytes that the
latin1 conversion creates are counted: one string in the file, converted again and again
through the memo, could otherwise multiply the file's size many times over.
"""

import io
import pickle
import pickletools

import numpy as np

from cs231n_bn.data.errors import DatasetIntegrityError

# The function numpy's own pickles call to rebuild an array; taken from a live array so
# that it is right whatever numpy's private module is called in this version.
_reconstruct = np.zeros(1).__reduce__()[0]


def _empty_array(subtype, shape, dtype):
    """numpy's _reconstruct limited to what numpy's pickles ask: an empty ndarray to fill.

    Left unrestricted it would allocate any shape it is given, uninitialized, however
    small the file.
    """
    if subtype is not _ndarray_name or tuple(shape) != (0,):
        raise pickle.UnpicklingError(
            f"refusing _reconstruct({'ndarray' if subtype is _ndarray_name else getattr(subtype, '__name__', subtype)!s}, "
            f"{shape!r}): "
            f"numpy's pickles only ask for an empty ndarray, of shape (0,)"
        )
    return _reconstruct(BatchArray, shape, dtype)


class BatchArray(np.ndarray):
    """The arrays of a batch file: filled by __setstate__ only from bytes of the right length.

    numpy checks the length of the bytes against the shape for numbers, but not for
    objects: an object array's state is a list, and a short list under a shape of 10**8
    made numpy 2.4 allocate and then crash. Only plain numeric dtypes are let through,
    with exactly as many bytes as the shape needs. Loaders take plain views of these.
    """

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError(f"refusing an array state that is a {type(state).__name__}")
        shape, dtype, _, raw = state[-4:]
        numeric = isinstance(dtype, np.dtype) and dtype.kind in "biuf" and dtype.fields is None
        if not numeric or dtype.subdtype is not None or dtype.hasobject:
            raise pickle.UnpicklingError(f"refusing an array of dtype {dtype!r:.40}: only numbers are expected")
        sizes = isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)
        if not sizes or not isinstance(raw, (bytes, str)) or len(raw) != int(np.prod(shape)) * dtype.itemsize:
            raise pickle.UnpicklingError(
                f"refusing an array of shape {shape!r:.40} whose data is not exactly its size in bytes"
            )
        super().__setstate__(state)


def _empty_bytes(*args):
    """What Python 3 pickles (protocol < 3) call for b'': bytes() with no argument only."""
    if args:
        raise pickle.UnpicklingError("refusing bytes(...) with arguments: only bytes() is expected")
    return b""


def _latin1_bytes(text, encoding):
    """What Python 3 pickles (protocol < 3) call to rebuild bytes, limited to that one use."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r}): only latin1 text is expected")
    return text.encode("latin1")


def _ndarray_name(*args, **kwargs):
    """Stands for numpy.ndarray, which numpy's pickles name but never call."""
    raise pickle.UnpicklingError(
        "refusing numpy.ndarray(...): numpy's pickles only name ndarray as the type to rebuild; "
        "calling it would allocate whatever shape the file asks for"
    )


def _array_dtype(spec, align=False, copy=False):
    """numpy.dtype as numpy's pickles call it: dtype('u1', False, True) and the like."""
    if not isinstance(spec, str) or len(spec) > 8:
        raise pickle.UnpicklingError(f"refusing numpy.dtype({spec!r:.40}): only a short type code such as 'u1' is expected")
    return np.dtype(spec, align=bool(align), copy=bool(copy))


ALLOWED_GLOBALS = {
    # numpy < 2 writes (and the official CIFAR-10 files contain) numpy.core.multiarray;
    # numpy >= 2 writes numpy._core.multiarray. Both name one and the same callable.
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy", "ndarray"): _ndarray_name,
    ("numpy", "dtype"): _array_dtype,
    # Bytes pickled by Python 3 with protocol 2 (as numpy's array data is) come back through
    # _codecs.encode(text, "latin1"); only that exact call is let through.
    ("_codecs", "encode"): _latin1_bytes,
    # ... and an empty bytes object as a call of bytes() (an empty batch's data, say)
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose only importable names are those in ALLOWED_GLOBALS.

    budget: how many bytes the latin1 conversions may create in all, the file's size by
    default (each array's bytes appear once in a genuine batch file).
    """

    def __init__(self, file, *, budget, **kwargs):
        super().__init__(file, **kwargs)
        self.budget = budget

    def _counted_latin1_bytes(self, text, encoding):
        data = _latin1_bytes(text, encoding)
        self.budget -= len(data)
        if self.budget < 0:
            raise pickle.UnpicklingError(
                "refusing to convert more text to bytes than the file holds: a genuine batch "
                "converts each array's data once"
            )
        return data

    def find_class(self, module, name):
        try:
            found = ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: a CIFAR-10 batch contains only "
                f"dicts, lists, strings, ints and numpy arrays"
            ) from None
        # the latin1 conversion is the one allowed call whose output is counted against the budget
        return self._counted_latin1_bytes if found is _latin1_bytes else found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id: CIFAR-10 batches use none")


# Byte width and signedness of the length prefix of each kind of counted argument
_COUNTED = {
    pickletools.TAKEN_FROM_ARGUMENT1: (1, False),
    pickletools.TAKEN_FROM_ARGUMENT4: (4, True),
    pickletools.TAKEN_FROM_ARGUMENT4U: (4, False),
    pickletools.TAKEN_FROM_ARGUMENT8U: (8, False),
}
_OPCODES = {ord(op.code): op for op in pickletools.opcodes}


def check_lengths(payload):
    """Walk a pickle's opcodes and raise ValueError if an argument runs past the end.

    Only the argument sizes are read, not their values, so this is fast enough for a
    30 MB batch (pickletools.genops decodes every argument, several times slower).
    """
    pos, end = 0, len(payload)
    while pos < end:
        op = _OPCODES.get(payload[pos])
        if op is None:
            raise ValueError(f"unknown opcode {payload[pos]:#04x} at byte {pos}")
        pos += 1
        n = 0 if op.arg is None else op.arg.n
        if n >= 0:
            pos += n
        elif n == pickletools.UP_TO_NEWLINE:
            # GLOBAL and INST take two lines (module and name), the others one
            for _ in range(2 if op.name in ("GLOBAL", "INST") else 1):
                newline = payload.find(b"\n", pos)
                if newline < 0:
                    raise ValueError(f"{op.name} at byte {pos} has no end of line")
                pos = newline + 1
        else:
            width, signed = _COUNTED[n]
            size = int.from_bytes(payload[pos : pos + width], "little", signed=signed)
            pos += width
            if size < 0 or size > end - pos:
                raise ValueError(f"{op.name} claims {size} bytes, but only {end - pos} remain in the file")
            pos += size
        if op.name == "STOP":
            return
    if pos > end:
        raise ValueError("the last opcode's argument runs past the end of the file")
    raise ValueError("no STOP opcode: the pickle is truncated")


def restricted_loads(where, payload, source):
    """Unpickle bytes with RestrictedUnpickler, as the CIFAR-10 python files expect.

    Inputs:
    - where: the calling function's name, prefix of the message
    - payload: the pickled bytes
    - source: what to call the bytes in a message (usually a file name)

    Returns:
    - the unpickled object

    Raises DatasetIntegrityError for a refused name, a malformed pickle, or one that asks
    for more memory than its own size accounts for.
    """
    try:
        check_lengths(payload)
        # The files were written by Python 2; latin1 maps its byte strings to str one to
        # one, and is what numpy expects for arrays pickled by Python 2.
        return RestrictedUnpickler(io.BytesIO(payload), budget=len(payload), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise DatasetIntegrityError(f"{where}: {source} is not a valid CIFAR-10 batch: {err}") from err
    except MemoryError as err:
        raise DatasetIntegrityError(
            f"{where}: {source} asks for more memory than a CIFAR-10 batch needs "
            f"({len(payload)} bytes on disk); it is not a valid batch"
        ) from err
