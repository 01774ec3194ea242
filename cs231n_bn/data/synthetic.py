"""A stand-in for the CIFAR-10 download: random images in the archive's real layout.

The loader's tests and its benchmark (benchmarks/cifar10_load.py) need the path a real
download takes, end to end, without fetching 170 MB: a .tar.gz whose folder
cifar-10-batches-py/ holds data_batch_1..5, test_batch, batches.meta and readme.html, each
batch a pickled dict with the official keys (batch_label, labels, data, filenames), data a
(n, 3072) uint8 array and labels a list of Python ints, pickled the way Python 2's
cPickle wrote the official files (protocol 2, every string a byte string).
"""

import io
import pickle
import struct
import tarfile

import numpy as np

from cs231n_bn.data.cifar10 import FOLDER, NUM_CLASSES, TEST_BATCH, TRAIN_BATCHES
from cs231n_bn.data.errors import file_digest

LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class Python2Pickler(pickle._Pickler):
    """Pickles str and bytes as Python 2's byte strings (BINSTRING), as the official files do.

    Python 3's own protocol-2 pickles spell bytes as `_codecs.encode(text, "latin1")`
    with the text in UTF-8, which takes several times longer to load than the raw
    bytes of Python 2's files: a stand-in must not be slower than the real thing.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_byte_string(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_byte_string


def dumps_python2(obj):
    """obj pickled as Python 2's cPickle.dumps(obj, 2) would have (see Python2Pickler)."""
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def batch_bytes(n, seed, data=None, labels=None, protocol=None):
    """One batch file's bytes: n random images and labels (or the data/labels given).

    Inputs:
    - n: number of images when data is not given
    - seed: seeds the random images and labels
    - data: (n, 3072) array to store instead of random images (any dtype, for bad cases)
    - labels: list to store instead of random labels
    - protocol: None for the official files' format (dumps_python2); a number for
      Python 3's pickle.dumps with that protocol (a re-pickled copy)

    Returns:
    - the pickled dict, as bytes
    """
    rng = np.random.default_rng(seed)
    if data is None:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    if labels is None:
        labels = [int(v) for v in rng.integers(0, NUM_CLASSES, size=n)]
    batch = {
        "batch_label": f"synthetic batch, seed {seed}",
        "labels": labels,
        "data": data,
        "filenames": [f"synthetic_{i}.png" for i in range(len(labels))],
    }
    return dumps_python2(batch) if protocol is None else pickle.dumps(batch, protocol=protocol)


def add_file(tar, name, payload):
    """Add a regular file `name` holding the bytes `payload` to an open tarfile."""
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_archive(path, per_batch, test_size=None, replace=None, extra=None, compresslevel=0):
    """Write a CIFAR-10-layout .tar.gz of random images to `path`; return its MD5.

    Inputs:
    - path: where to write the archive
    - per_batch: images in each of the five training batches (the real archive: 10,000)
    - test_size: images in test_batch (default per_batch)
    - replace: dict from member name (e.g. "cifar-10-batches-py/data_batch_1") to bytes,
      to put other contents under a name
    - extra: function called with the open tarfile after the regular members, to add
      hostile ones
    - compresslevel: gzip level; random pixels do not compress, so 0 (stored) saves the time

    Returns:
    - the archive's MD5 as a hex string (what extract_cifar10 verifies)
    """
    test_size = per_batch if test_size is None else test_size
    files = {f"{FOLDER}/{name}": batch_bytes(per_batch, seed) for seed, name in enumerate(TRAIN_BATCHES)}
    files[f"{FOLDER}/{TEST_BATCH}"] = batch_bytes(test_size, len(TRAIN_BATCHES))
    meta = {"num_cases_per_batch": per_batch, "label_names": LABEL_NAMES, "num_vis": 3072}
    files[f"{FOLDER}/batches.meta"] = dumps_python2(meta)
    files[f"{FOLDER}/readme.html"] = b"<html>synthetic stand-in for CIFAR-10</html>\n"
    files.update(replace or {})
    with tarfile.open(path, "w:gz", compresslevel=compresslevel) as tar:
        folder = tarfile.TarInfo(FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, payload in files.items():
            add_file(tar, name, payload)
        if extra is not None:
            extra(tar)
    return file_digest(path, "md5")
