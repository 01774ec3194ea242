"""Why a dataset can be refused, the checksums that tell, and the paths a loader may write.

Every refusal is a DatasetError whose message names the function and the reason; its two
kinds say whether to fetch the file (DatasetMissingError) or to replace it
(DatasetIntegrityError).
"""

import hashlib
from pathlib import Path

# The repository's datasets/ folder. The package is installed editable (README), so this
# resolves to the checkout; every loader also takes a `root` argument to look elsewhere.
DATASETS_DIR = Path(__file__).resolve().parents[2] / "datasets"


class DatasetError(Exception):
    """A dataset cannot be fetched, extracted or loaded; the message says why."""


class DatasetMissingError(DatasetError, FileNotFoundError):
    """A dataset file is not there; the message says the command that fetches it."""


class DatasetIntegrityError(DatasetError, ValueError):
    """A dataset file is there but is not what was published: corrupt or tampered with."""


def refuse_symlink(where, path):
    """Raise DatasetIntegrityError if `path` is a symbolic link (dangling or not).

    Called on every path a loader is about to write, replace or delete: a link planted
    there would send the write (or the deletion) to wherever it points, outside the
    dataset folder.
    """
    if Path(path).is_symlink():
        raise DatasetIntegrityError(
            f"{where}: refusing to write or delete {path}: it is a symbolic link (to "
            f"{Path(path).readlink()}), so the write would land outside the dataset folder. "
            f"Remove the link and run again"
        )
    return Path(path)


def file_digest(path, algorithm, chunk_size=1 << 20):
    """Hex digest of a file's bytes, read in chunks so a 170 MB archive never sits in memory.

    Inputs:
    - path: file to hash
    - algorithm: a hashlib name, e.g. "sha256" or "md5"

    Returns:
    - the digest as a lowercase hex string
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hex_digest(where, name, value, algorithm):
    """Return `value` in lower case if it is a hex digest of `algorithm` ("md5", "sha256"), else raise.

    A malformed digest can never match, and the mismatch message would then blame the file.
    """
    length = hashlib.new(algorithm).digest_size * 2
    if not isinstance(value, str) or len(value) != length or not all(c in "0123456789abcdef" for c in value.lower()):
        raise ValueError(f"{where}: {name} must be a {algorithm.upper()} digest, {length} hex digits; got {value!r}")
    return value.lower()


def verify_digest(where, path, algorithm, expected, remedy="Delete it and fetch it again; do not use it"):
    """Raise DatasetIntegrityError unless the file's digest equals `expected`.

    Inputs:
    - where: the calling function's name, the prefix of the message
    - path: file to check
    - algorithm: "sha256" or "md5"
    - expected: the published hex digest
    - remedy: the sentence that ends the message, saying how to get the right file
    """
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise DatasetIntegrityError(
            f"{where}: {Path(path).name} is corrupt or has been modified: its {algorithm.upper()} "
            f"is {actual}, expected {expected}. {remedy}"
        )
