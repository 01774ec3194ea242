"""CIFAR-10 (python version): download, verify, extract safely, and load only what is asked.

One command fetches it (about 170 MB) into the repository's datasets/ folder:

    python -m cs231n_bn.data download-cifar10

The archive's MD5 is checked against the one published on the dataset's page before
the archive is opened. Extraction refuses links and paths outside cifar-10-batches-py/
(safe_tar.py) and records the SHA-256 of every extracted file, so a batch changed later
is refused when loaded; batches are unpickled without running code (safe_pickle.py).
"""

import json
import os
from pathlib import Path
from urllib.request import urlopen as urllib_urlopen

import numpy as np
from tqdm.auto import tqdm

from cs231n_bn.data.errors import (
    DATASETS_DIR,
    DatasetIntegrityError,
    DatasetMissingError,
    file_digest,
    verify_digest,
)
from cs231n_bn.data.safe_pickle import restricted_loads
from cs231n_bn.data.safe_tar import extract_tar_gz
from cs231n_bn.data.splits import preprocess_splits

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
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE_NAME
    if not (archive.is_file() and file_digest(archive, "md5") == md5):
        _fetch(where, url, archive, md5, urlopen, progress)
    return extract_cifar10(archive, root, md5)


def _fetch(where, url, archive, md5, urlopen, progress):
    """Stream `url` into archive.part, then rename it to `archive` if its MD5 matches."""
    urlopen = urlopen or urllib_urlopen
    part = archive.with_name(archive.name + ".part")
    try:
        with urlopen(url, timeout=60) as response, open(part, "wb") as out:
            size = getattr(response, "length", None)
            with tqdm(total=size, unit="B", unit_scale=True, desc=archive.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        verify_digest(where, part, "md5", md5)
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
    archive = Path(archive)
    if not archive.is_file():
        raise DatasetMissingError(f"{where}: {archive} is missing; run `{_command(root)}`")
    verify_digest(where, archive, "md5", md5)
    written = extract_tar_gz(where, archive, root, FOLDER)
    folder = Path(root) / FOLDER
    hashes = {str(name.relative_to(FOLDER)): file_digest(folder.joinpath(*name.parts[1:]), "sha256") for name in written}
    (folder / MANIFEST).write_text(json.dumps({"archive_md5": md5, "sha256": hashes}, indent=1, sort_keys=True))
    return folder


def load_cifar10_batch(path, expected_sha256=None):
    """Load one CIFAR-10 batch file as arrays, without running any pickled code.

    Inputs:
    - path: a data_batch_* or test_batch file
    - expected_sha256: if given, the file must have this SHA-256

    Returns a tuple of:
    - X: (N, 3, 32, 32) uint8 images
    - y: (N,) int64 labels in 0..9
    """
    where = "load_cifar10_batch"
    path = Path(path)
    if expected_sha256 is not None:
        verify_digest(where, path, "sha256", expected_sha256)
    batch = restricted_loads(where, path.read_bytes(), path.name)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DatasetIntegrityError(f"{where}: {path.name} must hold a dict with 'data' and 'labels'; got {type(batch).__name__}")
    data, labels = batch["data"], batch["labels"]
    pixels = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetIntegrityError(f"{where}: {path.name}['data'] must be a uint8 array of shape (N, {pixels}); got {got}")
    if not isinstance(labels, list) or len(labels) != data.shape[0] or not all(
        isinstance(label, int) and 0 <= label < NUM_CLASSES for label in labels
    ):
        raise DatasetIntegrityError(
            f"{where}: {path.name}['labels'] must be a list of {data.shape[0]} ints in 0..{NUM_CLASSES - 1}"
        )
    return data.reshape((-1,) + IMAGE_SHAPE), np.array(labels, dtype=np.int64)


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
    return json.loads(manifest.read_text())["sha256"]


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
    hashes = _manifest(where, root)
    needed = num_training + num_validation
    images, labels = [], []
    for name in TRAIN_BATCHES:
        if sum(len(y) for y in labels) >= needed:
            break
        X, y = _load_verified(where, root, name, hashes)
        images.append(X)
        labels.append(y)
    X_trainval = np.concatenate(images)[:needed]
    y_trainval = np.concatenate(labels)[:needed]
    if len(y_trainval) < needed:
        raise DatasetIntegrityError(f"{where}: the training batches hold only {len(y_trainval)} images; {needed} asked")
    X_test, y_test = (np.zeros((0,) + IMAGE_SHAPE, np.uint8), np.zeros(0, np.int64))
    if num_test:
        X_test, y_test = _load_verified(where, root, TEST_BATCH, hashes)
        if len(y_test) < num_test:
            raise DatasetIntegrityError(f"{where}: {TEST_BATCH} holds only {len(y_test)} images; {num_test} asked")
    X = np.concatenate([X_trainval, X_test[:num_test]])
    y = np.concatenate([y_trainval, y_test[:num_test]])
    splits = {
        "train": np.arange(num_training),
        "val": np.arange(num_training, needed),
        "test": np.arange(needed, needed + num_test),
    }
    return preprocess_splits(X, y, splits, 255, subtract_mean, dtype)
