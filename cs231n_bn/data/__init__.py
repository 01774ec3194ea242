"""The datasets the experiments train on: the embedded UCI digits, and CIFAR-10 on request.

    from cs231n_bn.data import get_data
    data = get_data("digits")     # ships with the repository, trains in seconds
    data = get_data("cifar10")    # after `python -m cs231n_bn.data download-cifar10`

Both return the same dict of splits (X_train, y_train, X_val, y_val, X_test, y_test) with
images shaped (N, C, H, W), so every experiment runs on either.
"""

from cs231n_bn.data.cifar10 import (
    CIFAR10_MD5,
    CIFAR10_URL,
    DOWNLOAD_COMMAND,
    download_cifar10,
    extract_cifar10,
    get_cifar10_data,
    load_cifar10_batch,
)
from cs231n_bn.data.digits import DIGITS_SHA256, get_digits_data, load_digits
from cs231n_bn.data.errors import DATASETS_DIR, DatasetError, DatasetIntegrityError, DatasetMissingError
from cs231n_bn.data.splits import stratified_split

# Sizes for notebooks: CIFAR-10 in full (49,000 training images) takes far longer than a
# notebook's budget, so get_data defaults to a subset; pass sizes to change it.
NOTEBOOK_DEFAULTS = {
    "digits": {},
    "cifar10": {"num_training": 5000, "num_validation": 1000, "num_test": 1000},
}
LOADERS = {"digits": get_digits_data, "cifar10": get_cifar10_data}


def get_data(name="digits", **kwargs):
    """Train/val/test splits of a dataset by name, with sizes that suit a notebook.

    Inputs:
    - name: "digits" (embedded, 1,197/300/300 images of 1x8x8) or "cifar10" (downloaded;
      by default 5,000/1,000/1,000 images of 3x32x32)
    - kwargs: passed on to get_digits_data or get_cifar10_data (e.g. num_training=...)

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test.
    """
    if not isinstance(name, str) or name not in LOADERS:
        options = ", ".join(repr(n) for n in LOADERS)
        error = ValueError if isinstance(name, str) else TypeError
        raise error(f"get_data: name must be one of {options}; got {name!r}")
    return LOADERS[name](**{**NOTEBOOK_DEFAULTS[name], **kwargs})


__all__ = [
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "DATASETS_DIR",
    "DIGITS_SHA256",
    "DOWNLOAD_COMMAND",
    "DatasetError",
    "DatasetIntegrityError",
    "DatasetMissingError",
    "download_cifar10",
    "extract_cifar10",
    "get_cifar10_data",
    "get_data",
    "get_digits_data",
    "load_cifar10_batch",
    "load_digits",
    "stratified_split",
]
