"""Fixed, stratified train/val/test splits, and the preprocessing every split shares."""

import numpy as np

from cs231n_bn import validation


def stratified_split(y, num_validation, num_test, seed=0):
    """Split sample indices into train/val/test so that every split keeps the class mix.

    Each class's samples are shuffled and given evenly spaced keys in [0, 1); sorting all
    samples by key interleaves the classes, so any prefix of the order holds each class in
    proportion to its size (within one or two samples). Test takes the first num_test,
    validation the next num_validation, training the rest.

    Inputs:
    - y: (N,) integer labels
    - num_validation, num_test: split sizes, >= 0, together < N
    - seed: seed of the shuffle, an integer >= 0 (None: a fresh split every call); the same
      seed always gives the same split

    Returns a dict with keys "train", "val", "test" of sorted int64 index arrays.
    """
    where = "stratified_split"
    if not isinstance(y, np.ndarray) or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{where}: y must be a 1-D integer numpy array of labels; got {y!r:.60}")
    N = y.shape[0]
    for name, size in (("num_validation", num_validation), ("num_test", num_test)):
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where}: {name} must be an integer >= 0; got {size!r}")
    validation.seed(where, "seed", seed)
    if num_validation + num_test >= N:
        raise ValueError(
            f"{where}: num_validation + num_test must leave training samples out of N={N}; "
            f"got {num_validation} + {num_test}"
        )
    rng = np.random.default_rng(seed)
    key = np.empty(N)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        # The uniform jitter breaks ties between classes at random instead of by label.
        key[members] = (rng.permutation(members.size) + rng.uniform(size=members.size)) / members.size
    order = np.argsort(key, kind="stable")
    test = order[:num_test]
    val = order[num_test : num_test + num_validation]
    train = order[num_test + num_validation :]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def preprocess_splits(X, y, splits, max_value, subtract_mean, dtype):
    """Cast, scale to [0, 1] and center the splits the way every dataset here is prepared.

    Inputs:
    - X: (N, C, H, W) integer images
    - y: (N,) labels
    - splits: dict "train"/"val"/"test" -> index arrays
    - max_value: the largest possible pixel value (scaled to 1)
    - subtract_mean: subtract the mean training image from every split
    - dtype: floating-point dtype of the result

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test.
    """
    where = "preprocess_splits"
    dtype = validation.float_dtype(where, "dtype", dtype)
    validation.choice(where, "subtract_mean", subtract_mean, (True, False))
    data = {}
    for name in ("train", "val", "test"):
        idx = splits[name]
        data[f"X_{name}"] = scale_into(np.empty((len(idx),) + X.shape[1:], dtype), X[idx], max_value)
        data[f"y_{name}"] = y[idx].astype(np.int64)
    if subtract_mean:
        subtract_train_mean(data)
    return data


def scale_into(out, images, max_value):
    """Write images / max_value into the float array `out` (same shape); return out.

    One pass straight into `out` (the integers are cast to out's dtype on the way): no
    temporary of the float size, which matters at CIFAR-10's 50,000 images (600 MB in
    float32).
    """
    return np.divide(images, out.dtype.type(max_value), out=out)


def subtract_train_mean(data):
    """Subtract the mean training image from X_train, X_val and X_test of `data`, in place.

    The mean is summed in float64 (in float32, a sum over 49,000 images carries a
    rounding error that grows with the count) and rounded to the images' dtype.
    """
    mean_image = data["X_train"].mean(axis=0, dtype=np.float64).astype(data["X_train"].dtype)
    for name in ("train", "val", "test"):
        data[f"X_{name}"] -= mean_image
    return data
