"""The loaders: the embedded digits, and every refusal of a bad CIFAR-10 archive or batch.

CIFAR-10 itself is never downloaded here: each test builds a tiny archive in the official
layout (pickled dicts of uint8 arrays) in tmp_path, and the download goes through a fake
urlopen that serves a local file.
"""

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from cs231n_bn.data import (
    DatasetIntegrityError,
    DatasetMissingError,
    download_cifar10,
    extract_cifar10,
    get_cifar10_data,
    get_data,
    get_digits_data,
    load_cifar10_batch,
    load_digits,
    stratified_split,
)
from cs231n_bn.data.cifar10 import DOWNLOAD_COMMAND, FOLDER, MANIFEST, TRAIN_BATCHES
from cs231n_bn.data.digits import DIGITS_FILE
from cs231n_bn.data.errors import DATASETS_DIR

# ---------------------------------------------------------------- the embedded digits


def test_digits_load_with_the_documented_shapes():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.uint8
    assert X.max() == 16 and X.min() == 0
    assert np.array_equal(np.unique(y), np.arange(10))
    assert 170 <= np.bincount(y).min() and np.bincount(y).max() <= 185


def test_digit_splits_are_fixed_disjoint_stratified_and_centered_on_train():
    data = get_digits_data()
    again = get_digits_data()
    assert {k: v.shape[0] for k, v in data.items()} == {
        "X_train": 1197, "y_train": 1197, "X_val": 300, "y_val": 300, "X_test": 300, "y_test": 300,
    }
    for key in data:
        assert np.array_equal(data[key], again[key]), key
    assert data["X_train"].dtype == np.float32
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-6)
    # Every split holds each digit in proportion (about 10% each, within two images).
    for split in ("val", "test"):
        counts = np.bincount(data[f"y_{split}"], minlength=10)
        assert np.all(np.abs(counts - 30) <= 2), (split, counts)
    X, y = load_digits()
    idx = stratified_split(y, 300, 300, seed=0)
    assert len(np.intersect1d(idx["train"], idx["val"])) == 0
    assert len(np.intersect1d(idx["train"], idx["test"])) == 0
    assert len(np.intersect1d(idx["val"], idx["test"])) == 0
    assert len(idx["train"]) + len(idx["val"]) + len(idx["test"]) == 1797


def test_a_different_seed_gives_a_different_split():
    _, y = load_digits()
    assert not np.array_equal(stratified_split(y, 300, 300, 0)["val"], stratified_split(y, 300, 300, 1)["val"])


def test_tampered_or_missing_digits_are_refused(tmp_path):
    with pytest.raises(DatasetMissingError, match="git checkout -- datasets/digits.csv.gz"):
        load_digits(tmp_path)
    raw = bytearray((DATASETS_DIR / DIGITS_FILE).read_bytes())
    raw[len(raw) // 2] ^= 1
    (tmp_path / DIGITS_FILE).write_bytes(bytes(raw))
    with pytest.raises(DatasetIntegrityError, match="SHA256"):
        load_digits(tmp_path)


def test_bad_split_arguments_are_named():
    _, y = load_digits()
    with pytest.raises(ValueError, match="num_validation"):
        stratified_split(y, -1, 10)
    with pytest.raises(ValueError, match="leave training samples"):
        stratified_split(y, 1000, 797)
    with pytest.raises(TypeError, match="dtype"):
        get_digits_data(dtype=np.int32)
    with pytest.raises(ValueError, match="get_data: name"):
        get_data("mnist")


# ---------------------------------------------------------------- tiny CIFAR-format archives


def batch_bytes(n, seed, data=None, labels=None, protocol=2):
    rng = np.random.default_rng(seed)
    if data is None:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    if labels is None:
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
    return pickle.dumps({"batch_label": "tiny", "labels": labels, "data": data, "filenames": ["a.png"] * n}, protocol=protocol)


def add_file(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_archive(path, per_batch=4, extra=None, replace=None):
    """A CIFAR-10-shaped .tar.gz with `per_batch` images per batch; returns its MD5."""
    files = {f"{FOLDER}/{name}": batch_bytes(per_batch, i) for i, name in enumerate(TRAIN_BATCHES)}
    files[f"{FOLDER}/test_batch"] = batch_bytes(per_batch, 99)
    files[f"{FOLDER}/batches.meta"] = pickle.dumps({"label_names": ["airplane"] * 10}, protocol=2)
    files.update(replace or {})
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(FOLDER)
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, payload in files.items():
            add_file(tar, name, payload)
        if extra is not None:
            extra(tar)
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    return path, make_archive(path)


def test_happy_path_extracts_and_loads_only_what_is_asked(tmp_path, archive):
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*TRAIN_BATCHES, "test_batch", "batches.meta", MANIFEST])
    data = get_cifar10_data(num_training=5, num_validation=2, num_test=3, root=tmp_path)
    assert data["X_train"].shape == (5, 3, 32, 32) and data["X_train"].dtype == np.float32
    assert data["X_val"].shape == (2, 3, 32, 32) and data["X_test"].shape == (3, 3, 32, 32)
    # 5 + 2 images need only the first two batches of 4: the third is never read.
    os.remove(folder / "data_batch_3")
    data_again = get_cifar10_data(num_training=5, num_validation=2, num_test=3, root=tmp_path)
    assert np.array_equal(data["X_val"], data_again["X_val"])
    # Values: the first training image is batch 1's first row, scaled and centered.
    X1, y1 = load_cifar10_batch(folder / "data_batch_1")
    raw = get_cifar10_data(num_training=5, num_validation=2, num_test=3, subtract_mean=False, dtype=np.float64, root=tmp_path)
    np.testing.assert_array_equal(raw["X_train"][:4], X1 / 255.0)
    np.testing.assert_array_equal(raw["y_train"][:4], y1)


def test_get_data_switches_to_cifar10_with_the_same_keys(tmp_path, archive):
    path, md5 = archive
    extract_cifar10(path, tmp_path, md5)
    cifar = get_data("cifar10", root=tmp_path, num_training=6, num_validation=2, num_test=2)
    digits = get_data("digits")
    assert sorted(cifar) == sorted(digits)
    assert cifar["X_train"].shape[1:] == (3, 32, 32) and digits["X_train"].shape[1:] == (1, 8, 8)
    with pytest.raises(DatasetIntegrityError, match="hold only 20 images"):
        get_data("cifar10", root=tmp_path)  # the notebook's default sizes need the real dataset


def test_download_uses_the_opener_verifies_and_skips_a_good_archive(tmp_path, archive):
    source, md5 = archive
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return open(source, "rb")

    root = tmp_path / "root"
    folder = download_cifar10(root, url="https://example.org/c.tar.gz", md5=md5, urlopen=fake_urlopen, progress=False)
    assert calls == ["https://example.org/c.tar.gz"] and (folder / "test_batch").is_file()
    download_cifar10(root, url="https://example.org/c.tar.gz", md5=md5, urlopen=fake_urlopen, progress=False)
    assert len(calls) == 1, "an archive with the right MD5 must not be downloaded again"


def test_download_with_the_wrong_md5_keeps_nothing(tmp_path, archive):
    source, _ = archive
    root = tmp_path / "root"
    with pytest.raises(DatasetIntegrityError, match="MD5"):
        download_cifar10(root, url="https://x/y", md5="0" * 32, urlopen=lambda url, timeout: open(source, "rb"), progress=False)
    assert list(root.iterdir()) == []


def test_download_refuses_plain_http(tmp_path):
    with pytest.raises(ValueError, match="https://"):
        download_cifar10(tmp_path, url="http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")


def test_bad_md5_is_refused_before_extraction(tmp_path, archive):
    path, md5 = archive
    with pytest.raises(DatasetIntegrityError, match="MD5"):
        extract_cifar10(path, tmp_path)  # the real CIFAR-10 MD5, which the tiny archive lacks
    assert not (tmp_path / FOLDER).exists()


def symlink_member(tar):
    info = tarfile.TarInfo(f"{FOLDER}/evil")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    tar.addfile(info)


def hardlink_member(tar):
    info = tarfile.TarInfo(f"{FOLDER}/evil")
    info.type = tarfile.LNKTYPE
    info.linkname = f"{FOLDER}/test_batch"
    tar.addfile(info)


def fifo_member(tar):
    info = tarfile.TarInfo(f"{FOLDER}/pipe")
    info.type = tarfile.FIFOTYPE
    tar.addfile(info)


@pytest.mark.parametrize(
    "extra, problem",
    [
        (lambda tar: add_file(tar, f"{FOLDER}/../../escaped", b"x"), "'..'"),
        (lambda tar: add_file(tar, "/tmp/absolute", b"x"), "absolute"),
        (lambda tar: add_file(tar, "elsewhere/file", b"x"), "outside"),
        (symlink_member, "link"),
        (hardlink_member, "link"),
        (fifo_member, "neither a regular file"),
    ],
    ids=["traversal", "absolute", "outside-folder", "symlink", "hardlink", "fifo"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, extra, problem):
    path = tmp_path / "a.tar.gz"
    md5 = make_archive(path, extra=extra)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DatasetIntegrityError, match=problem):
        extract_cifar10(path, dest, md5)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_batches_pickled_with_any_protocol_load(tmp_path, protocol):
    path = tmp_path / "data_batch_1"
    path.write_bytes(batch_bytes(3, 7, protocol=protocol))
    X, y = load_cifar10_batch(path)
    expected = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(X.reshape(3, -1), expected["data"])
    assert y.tolist() == expected["labels"]


class EncodesWithAnotherCodec:
    """A pickle that asks _codecs.encode for a codec other than latin1."""

    def __reduce__(self):
        import _codecs

        return (_codecs.encode, ("abc", "rot13"))


class CallsSystem:
    """Unpickling this would run os.system: the classic malicious pickle."""

    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


@pytest.mark.parametrize(
    "payload, message",
    [
        (pickle.dumps({"data": CallsSystem(), "labels": []}, protocol=2), "refusing to load the global"),
        (pickle.dumps({"data": EncodesWithAnotherCodec()}, protocol=2), "only latin1"),
        (batch_bytes(4, 0)[:-20], "not a valid CIFAR-10 batch"),
        (batch_bytes(4, 0, data=np.zeros((4, 100), np.uint8)), r"shape \(N, 3072\)"),
        (batch_bytes(4, 0, data=np.zeros((4, 3072), np.float64)), "uint8"),
        (batch_bytes(4, 0, labels=[1, 2, 3]), "list of 4 ints"),
        (batch_bytes(4, 0, labels=[1, 2, 3, 10]), "list of 4 ints"),
        (pickle.dumps([1, 2, 3], protocol=2), "dict with 'data'"),
    ],
    ids=["os-system", "other-codec", "truncated", "wrong-width", "wrong-dtype", "wrong-count", "bad-label", "not-a-dict"],
)
def test_bad_batches_are_refused_without_running_code(tmp_path, monkeypatch, payload, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(DatasetIntegrityError, match=message):
        load_cifar10_batch(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_a_malicious_batch_inside_a_verified_archive_is_still_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = pickle.dumps({"data": CallsSystem(), "labels": []}, protocol=2)
    path = tmp_path / "a.tar.gz"
    md5 = make_archive(path, replace={f"{FOLDER}/data_batch_1": evil})
    extract_cifar10(path, tmp_path, md5)
    with pytest.raises(DatasetIntegrityError, match="posix.system|os.system|nt.system"):
        get_cifar10_data(num_training=2, num_validation=0, num_test=0, root=tmp_path)
    assert not (tmp_path / "pwned.txt").exists()


def test_missing_data_names_the_exact_command(tmp_path, archive):
    with pytest.raises(DatasetMissingError) as err:
        get_cifar10_data(root=DATASETS_DIR.parent / "no-such-folder")
    assert DOWNLOAD_COMMAND in str(err.value)
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    os.remove(folder / "test_batch")
    with pytest.raises(DatasetMissingError, match="test_batch is missing"):
        get_cifar10_data(num_training=2, num_validation=0, num_test=1, root=tmp_path)


def test_a_batch_changed_after_extraction_is_refused(tmp_path, archive):
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    (folder / "data_batch_1").write_bytes(batch_bytes(4, 12345))
    with pytest.raises(DatasetIntegrityError, match="SHA256"):
        get_cifar10_data(num_training=2, num_validation=0, num_test=0, root=tmp_path)


def test_a_folder_extracted_by_hand_is_refused(tmp_path, archive):
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    os.remove(folder / MANIFEST)
    with pytest.raises(DatasetIntegrityError, match="cannot be verified"):
        get_cifar10_data(num_training=2, num_validation=0, num_test=0, root=tmp_path)


def test_asking_for_more_than_exists_is_refused(tmp_path, archive):
    path, md5 = archive
    extract_cifar10(path, tmp_path, md5)
    with pytest.raises(DatasetIntegrityError, match="hold only 20 images"):
        get_cifar10_data(num_training=21, num_validation=0, num_test=0, root=tmp_path)
    with pytest.raises(ValueError, match="num_training"):
        get_cifar10_data(num_training=50000, num_validation=1, root=tmp_path)


def test_the_documented_command_exists():
    result = subprocess.run(
        [sys.executable, "-m", *DOWNLOAD_COMMAND.split()[2:], "--help"],
        capture_output=True, text=True, check=True,
    )
    assert "--root" in result.stdout and "MD5" in result.stdout


def test_the_command_line_reports_a_refusal_and_fails(tmp_path, monkeypatch, capsys):
    from cs231n_bn.data import __main__ as cli

    def refuse(root):
        raise DatasetIntegrityError("download_cifar10: bad MD5")

    monkeypatch.setattr(cli, "download_cifar10", refuse)
    assert cli.main(["download-cifar10", "--root", str(tmp_path)]) == 1
    assert "bad MD5" in capsys.readouterr().err
