"""The UCI optical handwritten digits: 1,797 real 8x8 images that ship with the repository.

Small enough to commit (57 kB) and to train a deep net on in seconds, which is why the
notebooks use them by default. The file is scikit-learn's copy, unchanged, and is checked
against its SHA-256 before every load (datasets/README.md has the provenance and licence).
"""

import gzip
from pathlib import Path

import numpy as np

from cs231n_bn import validation
from cs231n_bn.data.errors import DATASETS_DIR, DatasetIntegrityError, DatasetMissingError, verify_digest
from cs231n_bn.data.splits import preprocess_splits, stratified_split

DIGITS_FILE = "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
NUM_IMAGES = 1797
IMAGE_SHAPE = (1, 8, 8)  # (C, H, W): one channel of 8x8 pixels
MAX_PIXEL = 16  # each pixel counts the "on" pixels of a 4x4 block of the original 32x32 bitmap


def load_digits(root=DATASETS_DIR):
    """All 1,797 images and labels, after checking the file's SHA-256.

    Inputs:
    - root: folder holding digits.csv.gz (default: the repository's datasets/)

    Returns a tuple of:
    - X: (1797, 1, 8, 8) uint8 pixel counts in 0..16
    - y: (1797,) int64 labels in 0..9
    """
    where = "load_digits"
    path = Path(root) / DIGITS_FILE
    if not path.is_file():
        raise DatasetMissingError(
            f"{where}: {path} is missing. It ships with the repository; restore it with "
            f"`git checkout -- datasets/{DIGITS_FILE}` (or pass root= the folder that holds it)"
        )
    restore = f"It ships with the repository: restore it with `git checkout -- datasets/{DIGITS_FILE}`"
    verify_digest(where, path, "sha256", DIGITS_SHA256, remedy=restore)
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as err:
        raise DatasetIntegrityError(f"{where}: {path} is not a gzipped table of integers ({err}). {restore}") from err
    # 64 pixel columns and one label column; the checksum already vouches for this, but a
    # changed DIGITS_SHA256 must not let a differently shaped file through.
    if table.shape != (NUM_IMAGES, 65):
        raise DatasetIntegrityError(f"{where}: expected a ({NUM_IMAGES}, 65) table; got {table.shape}. {restore}")
    # ... nor values that are no pixel counts or digits (uint8 would wrap 300 round to 44).
    for what, values, top in (("pixel", table[:, :64], MAX_PIXEL), ("label", table[:, 64], 9)):
        bad = (values < 0) | (values > top)
        if bad.any():
            raise DatasetIntegrityError(
                f"{where}: every {what} must lie in 0..{top}; got {values[bad][0]} in row "
                f"{np.flatnonzero(bad.reshape(NUM_IMAGES, -1).any(axis=1))[0]}. {restore}"
            )
    X = table[:, :64].astype(np.uint8).reshape((NUM_IMAGES,) + IMAGE_SHAPE)
    y = table[:, 64]
    return X, y


def get_digits_data(num_validation=300, num_test=300, seed=0, subtract_mean=True, dtype=np.float32, root=DATASETS_DIR):
    """The digits as train/val/test splits, ready for a Solver (same keys as CS231n's CIFAR-10).

    The splits are stratified (each holds the ten digits in the proportions of the whole
    set) and fixed by `seed`; the defaults give 1,197 / 300 / 300 images. Pixels are
    scaled to [0, 1] and, if subtract_mean, the TRAINING mean image is subtracted from
    every split (the validation and test images must not leak into the preprocessing).

    Inputs:
    - num_validation, num_test: split sizes; the rest is for training
    - seed: seed of the split
    - subtract_mean: subtract the training mean image
    - dtype: floating-point dtype of the images (float32 keeps memory and time down)
    - root: folder holding digits.csv.gz

    Returns a dict with:
    - X_train, X_val, X_test: (N, 1, 8, 8) arrays of `dtype`
    - y_train, y_val, y_test: (N,) int64 labels
    """
    where = "get_digits_data"
    for name, size in (("num_validation", num_validation), ("num_test", num_test)):
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where}: {name} must be an integer >= 0; got {size!r}")
    if num_validation + num_test > NUM_IMAGES - 2:
        raise ValueError(
            f"{where}: num_validation + num_test must leave at least 2 of the {NUM_IMAGES} images for "
            f"training; got {num_validation} + {num_test}"
        )
    validation.seed(where, "seed", seed)
    validation.float_dtype(where, "dtype", dtype)
    validation.choice(where, "subtract_mean", subtract_mean, (True, False))
    X, y = load_digits(root)
    splits = stratified_split(y, num_validation, num_test, seed)
    return preprocess_splits(X, y, splits, MAX_PIXEL, subtract_mean, dtype)
