"""Read a CIFAR-10 batch file without letting the pickle run code.

A pickle is a small program: its GLOBAL opcodes import any callable by name and its
REDUCE opcodes call it, so `pickle.load` on a tampered file can run `os.system`.
CIFAR-10's batches need only dicts, lists, strings, ints and numpy arrays; the first
four are built by opcodes without any import, and a numpy array needs exactly three
names (the reconstruction function, ndarray and dtype), plus, for files re-pickled by
Python 3, a latin1 text-to-bytes conversion. The unpickler below hands out those and
refuses every other name before anything is called.
"""

import io
import pickle

import numpy as np

from cs231n_bn.data.errors import DatasetIntegrityError

# The function numpy's own pickles call to rebuild an array; taken from a live array so
# that it is right whatever numpy's private module is called in this version.
_reconstruct = np.zeros(1).__reduce__()[0]



def _latin1_bytes(text, encoding):
    """What Python 3 pickles (protocol < 3) call to rebuild bytes, limited to that one use."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r}): only latin1 text is expected")
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    # numpy < 2 writes (and the official CIFAR-10 files contain) numpy.core.multiarray;
    # numpy >= 2 writes numpy._core.multiarray. Both name one and the same callable.
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Bytes pickled by Python 3 with protocol 2 (as numpy's array data is) come back through
    # _codecs.encode(text, "latin1"); only that exact call is let through.
    ("_codecs", "encode"): _latin1_bytes,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose only importable names are those in ALLOWED_GLOBALS."""

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: a CIFAR-10 batch contains only "
                f"dicts, lists, strings, ints and numpy arrays"
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id: CIFAR-10 batches use none")


def restricted_loads(where, payload, source):
    """Unpickle bytes with RestrictedUnpickler, as the CIFAR-10 python files expect.

    Inputs:
    - where: the calling function's name, prefix of the message
    - payload: the pickled bytes
    - source: what to call the bytes in a message (usually a file name)

    Returns:
    - the unpickled object

    Raises DatasetIntegrityError for a refused name or a malformed pickle.
    """
    try:
        # The files were written by Python 2; latin1 maps its byte strings to str one to
        # one, and is what numpy expects for arrays pickled by Python 2.
        return RestrictedUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise DatasetIntegrityError(f"{where}: {source} is not a valid CIFAR-10 batch: {err}") from err
