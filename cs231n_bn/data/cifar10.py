"""CIFAR-10 (python version): download, verify, extract safely, and load only what is asked.

One command fetches it (about 170 MB) into the repository's datasets/ folder:

    python -m cs231n_bn.data download-cifar10

The archive's MD5 is checked against the one published on the dataset's page before
the archive is opened. Extraction refuses links and paths outside cifar-10-batches-py/
(safe_tar.py) and records the SHA-256 of every extracted file, so a batch changed later
is refused when loaded; batches are unpickled without running code, and without
allocating more than the file holds (safe_pickle.py). No file is written or deleted
through a symbolic link planted in the dataset folder. Every refusal is a DatasetError.
"""

import json
import os
import reprlib
from pathlib import Path
from urllib.request import urlopen as urllib_urlopen

import numpy as np
from tqdm.auto import tqdm

from cs231n_bn import validation
from cs231n_bn.data.errors import (
    DATASETS_DIR,
    DatasetIntegrityError,
    DatasetMissingError,
    file_digest,
    hex_digest,
    refuse_symlink,
    verify_digest,
)
from cs231n_bn.data.safe_pickle import restricted_loads
from cs231n_bn.data.safe_tar import extract_tar_gz
from cs231n_bn.data.splits import scale_into, subtract_train_mean

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on https://www.cs.toronto.edu/~kriz/cifar.html
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
MANIFEST = "VERIFIED_SHA256.json"  # written by extract_cifar10 after the MD5 check passed
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
DOWNLOAD_COMMAND = "python -m cs231n_bn.data download-cifar10"


def _command(root):
    """The exact command that fetches CIFAR-10 into `root`."""
    if Path(root).resolve() == DATASETS_DIR:
        return DOWNLOAD_COMMAND
    return f"{DOWNLOAD_COMMAND} --root {root}"


def download_cifar10(root=DATASETS_DIR, url=CIFAR10_URL, md5=CIFAR10_MD5, urlopen=None, progress=True):
    """Download the CIFAR-10 python archive, verify its MD5, and extract it safely.

    An archive already in `root` with the right MD5 is not downloaded again. The download
    goes to a ".part" file that becomes the archive only once its MD5 matches.

    Inputs:
    - root: folder to download into; receives cifar-10-python.tar.gz and cifar-10-batches-py/
    - url: an https:// address of the archive
    - md5: the archive's published MD5
    - urlopen: function (url, timeout) -> readable response; urllib's by default (tests
      pass a fake, so no network is needed)
    - progress: show a tqdm progress bar

    Returns:
    - Path of the extracted cifar-10-batches-py folder
    """
    where = "download_cifar10"
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"{where}: url must start with https:// (an unencrypted download can be altered on the way); got {url!r}")
    md5 = hex_digest(where, "md5", md5, "md5")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = refuse_symlink(where, root / ARCHIVE_NAME)
    if not (archive.is_file() and file_digest(archive, "md5") == md5):
        _fetch(where, url, archive, md5, urlopen, progress)
    return extract_cifar10(archive, root, md5)


def _fetch(where, url, archive, md5, urlopen, progress):
    """Stream `url` into archive.part, then rename it to `archive` if its MD5 matches."""
    urlopen = urlopen or urllib_urlopen
    part = refuse_symlink(where, archive.with_name(archive.name + ".part"))
    part.unlink(missing_ok=True)  # a regular file left by an interrupted download
    try:
        # O_EXCL creates the file or fails: nothing planted meanwhile is written through
        with urlopen(url, timeout=60) as response, open(part, "xb") as out:
            size = getattr(response, "length", None)
            with tqdm(total=size, unit="B", unit_scale=True, desc=archive.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        verify_digest(where, part, "md5", md5)
    except FileExistsError as err:
        raise DatasetIntegrityError(f"{where}: {part} appeared while downloading; refusing to write it") from err
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, archive)


def extract_cifar10(archive, root=DATASETS_DIR, md5=CIFAR10_MD5):
    """Verify the archive's MD5, extract it safely, and record each file's SHA-256.

    Inputs:
    - archive: path of cifar-10-python.tar.gz
    - root: folder that receives cifar-10-batches-py/
    - md5: the archive's published MD5

    Returns:
    - Path of the extracted cifar-10-batches-py folder
    """
    where = "extract_cifar10"
    md5 = hex_digest(where, "md5", md5, "md5")
    archive = Path(archive)
    if not archive.is_file():
        raise DatasetMissingError(f"{where}: {archive} is missing; run `{_command(root)}`")
    verify_digest(where, archive, "md5", md5)
    written = extract_tar_gz(where, archive, root, FOLDER)
    folder = Path(root) / FOLDER
    hashes = {str(name.relative_to(FOLDER)): file_digest(folder.joinpath(*name.parts[1:]), "sha256") for name in written}
    manifest = refuse_symlink(where, folder / MANIFEST)
    manifest.write_text(json.dumps({"archive_md5": md5, "sha256": hashes}, indent=1, sort_keys=True))
    return folder


def load_cifar10_batch(path, expected_sha256=None):
    """Load one CIFAR-10 batch file as arrays, without running any pickled code.

    Inputs:
    - path: a data_batch_* or test_batch file
    - expected_sha256: if given, the file must have this SHA-256

    Returns a tuple of:
    - X: (N, 3, 32, 32) uint8 images, N >= 1
    - y: (N,) int64 labels in 0..9

    Raises DatasetMissingError if there is no such file, DatasetIntegrityError for
    anything but a well-formed batch.
    """
    where = "load_cifar10_batch"
    path = Path(path)
    if not path.is_file():
        raise DatasetMissingError(f"{where}: {path} is missing or is not a file")
    if expected_sha256 is not None:
        verify_digest(where, path, "sha256", hex_digest(where, "expected_sha256", expected_sha256, "sha256"))
    batch = restricted_loads(where, path.read_bytes(), path.name)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DatasetIntegrityError(f"{where}: {path.name} must hold a dict with 'data' and 'labels'; got {type(batch).__name__}")
    data, labels = batch["data"], batch["labels"]
    if isinstance(data, np.ndarray):
        data = data.view(np.ndarray)  # a plain array, not the unpickler's checked subclass
    pixels = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetIntegrityError(f"{where}: {path.name}['data'] must be a uint8 array of shape (N, {pixels}); got {got}")
    if data.shape[0] == 0:
        raise DatasetIntegrityError(f"{where}: {path.name} holds no images (data has shape {data.shape})")
    problem = _label_problem(labels, data.shape[0])
    if problem:
        raise DatasetIntegrityError(
            f"{where}: {path.name}['labels'] must be a list of {data.shape[0]} ints in "
            f"0..{NUM_CLASSES - 1} (one per image); got {problem}"
        )
    return data.reshape((-1,) + IMAGE_SHAPE), np.array(labels, dtype=np.int64)


def _label_problem(labels, N):
    """What is wrong with a batch's labels, in a few words; "" if nothing."""
    if not isinstance(labels, list):
        return f"a {type(labels).__name__}"
    if len(labels) != N:
        return f"a list of {len(labels)}"
    for i, label in enumerate(labels):
        # bool is an int subclass: True would pass for class 1
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < NUM_CLASSES:
            # reprlib cuts deep or long values short: a list nested 100,000 deep has no full repr
            return f"{reprlib.repr(label)} at index {i}"
    return ""


def _manifest(where, root):
    """The SHA-256 of every extracted file, as recorded by extract_cifar10."""
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        raise DatasetMissingError(
            f"{where}: CIFAR-10 is not in {folder}. Download it (about 170 MB) with `{_command(root)}`"
        )
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise DatasetIntegrityError(
            f"{where}: {folder} was not extracted by `{_command(root)}` (no {MANIFEST}), so its files "
            f"cannot be verified. Delete the folder and run the command"
        )
    try:
        hashes = json.loads(manifest.read_text(encoding="utf-8"))["sha256"]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as err:
        hashes = err
    if not (isinstance(hashes, dict) and all(isinstance(v, str) for v in hashes.values())):
        reason = f"{type(hashes).__name__}: {hashes}" if isinstance(hashes, Exception) else f"'sha256' is a {type(hashes).__name__}"
        raise DatasetIntegrityError(
            f"{where}: {manifest} is not the JSON that `{_command(root)}` writes (an object whose "
            f"'sha256' maps file names to digests); {reason}. Delete {folder} and run the command"
        )
    return hashes


def _load_verified(where, root, name, hashes):
    path = Path(root) / FOLDER / name
    if name not in hashes or not path.is_file():
        raise DatasetMissingError(f"{where}: {path} is missing. Run `{_command(root)}` again")
    return load_cifar10_batch(path, hashes[name])


def get_cifar10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, dtype=np.float32, root=DATASETS_DIR):
    """CIFAR-10 as train/val/test splits, loading only the batch files the sizes need.

    As in CS231n, training and validation images come from the training batches (in
    order: the first num_training, then num_validation), test images from test_batch.
    Images are scaled to [0, 1]; if subtract_mean, the training mean image is subtracted.
    Each batch is scaled straight into the arrays returned, so no copy of the whole set is
    ever held in any other dtype: the full set in float32 peaks at about 1 GB of memory
    (datasets/README.md has the measurement).

    Inputs:
    - num_training, num_validation: together at most 50,000
    - num_test: at most 10,000
    - subtract_mean: subtract the training mean image from every split
    - dtype: floating-point dtype of the images (float32 by default: the full training
      set is 600 MB in float32, twice that in float64)
    - root: folder that holds cifar-10-batches-py/

    Returns a dict with X_train, X_val, X_test of shape (N, 3, 32, 32) and dtype `dtype`,
    and y_train, y_val, y_test (N,) int64 labels.
    """
    where = "get_cifar10_data"
    sizes = {"num_training": num_training, "num_validation": num_validation, "num_test": num_test}
    for name, size in sizes.items():
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where}: {name} must be an integer >= 0; got {size!r}")
    if num_training < 2 or num_training + num_validation > 50000 or num_test > 10000:
        raise ValueError(
            f"{where}: need 2 <= num_training, num_training + num_validation <= 50000 and "
            f"num_test <= 10000; got {num_training}, {num_validation}, {num_test}"
        )
    dtype = validation.float_dtype(where, "dtype", dtype)
    validation.choice(where, "subtract_mean", subtract_mean, (True, False))
    hashes = _manifest(where, root)
    data = {}
    for split, size in (("train", num_training), ("val", num_validation), ("test", num_test)):
        data[f"X_{split}"] = np.empty((size,) + IMAGE_SHAPE, dtype)
        data[f"y_{split}"] = np.empty(size, np.int64)
    # Training rows 0..num_training-1 of the concatenated batches, then validation rows
    regions = (("train", 0, num_training), ("val", num_training, num_training + num_validation))
    loaded = 0
    for name in TRAIN_BATCHES:
        if loaded >= num_training + num_validation:
            break
        X, y = _load_verified(where, root, name, hashes)
        for split, start, stop in regions:
            lo, hi = max(start, loaded), min(stop, loaded + len(y))
            if lo < hi:
                scale_into(data[f"X_{split}"][lo - start : hi - start], X[lo - loaded : hi - loaded], 255)
                data[f"y_{split}"][lo - start : hi - start] = y[lo - loaded : hi - loaded]
        loaded += len(y)
        del X, y  # free the batch before the next one is read
    if loaded < num_training + num_validation:
        raise DatasetIntegrityError(
            f"{where}: the training batches hold only {loaded} images; {num_training + num_validation} asked"
        )
    if num_test:
        X, y = _load_verified(where, root, TEST_BATCH, hashes)
        if len(y) < num_test:
            raise DatasetIntegrityError(f"{where}: {TEST_BATCH} holds only {len(y)} images; {num_test} asked")
        scale_into(data["X_test"], X[:num_test], 255)
        data["y_test"][:] = y[:num_test]
    if subtract_mean:
        subtract_train_mean(data)
    return data
