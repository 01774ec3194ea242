"""The loaders: the embedded digits, and every refusal of a bad CIFAR-10 archive or batch.

CIFAR-10 itself is never downloaded here: each test builds a tiny archive in the official
layout (pickled dicts of uint8 arrays) in tmp_path, and the download goes through a fake
urlopen that serves a local file.
"""

import os
import pickle
import subprocess
import sys
import tarfile
import tracemalloc

import numpy as np
import pytest

from cs231n_bn.data import (
    DatasetError,
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
from cs231n_bn.data.safe_tar import extract_tar_gz
from cs231n_bn.data.synthetic import add_file, batch_bytes, write_archive

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


def make_archive(path, per_batch=4, extra=None, replace=None):
    """A CIFAR-10-layout .tar.gz with `per_batch` images per batch; returns its MD5."""
    return write_archive(path, per_batch, extra=extra, replace=replace)


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    return path, make_archive(path)


def test_happy_path_extracts_and_loads_only_what_is_asked(tmp_path, archive):
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    expected = [*TRAIN_BATCHES, "test_batch", "batches.meta", "readme.html", MANIFEST]
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
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


@pytest.mark.parametrize("protocol", [None, 2, 4], ids=["python2", "2", "4"])
def test_batches_pickled_with_any_protocol_load(tmp_path, protocol):
    path = tmp_path / "data_batch_1"
    path.write_bytes(batch_bytes(3, 7, protocol=protocol))
    X, y = load_cifar10_batch(path)
    expected = pickle.loads(path.read_bytes(), encoding="latin1")
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


# ---------------------------------------------------------------- every refusal is a DatasetError


def test_both_kinds_of_refusal_are_dataset_errors():
    assert issubclass(DatasetMissingError, DatasetError) and issubclass(DatasetIntegrityError, DatasetError)
    # and stay what they were, for code that catches the builtin kinds
    assert issubclass(DatasetMissingError, FileNotFoundError) and issubclass(DatasetIntegrityError, ValueError)


def plant_link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@pytest.mark.parametrize("planted", ["cifar-10-python.tar.gz.part", "cifar-10-python.tar.gz"])
def test_download_refuses_a_planted_symlink_and_writes_nothing_through_it(tmp_path, archive, planted):
    source, md5 = archive
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    root = tmp_path / "root"
    plant_link(root / planted, outside)
    with pytest.raises(DatasetError, match=rf"^download_cifar10: refusing to write or delete .*{planted}.*symbolic link"):
        download_cifar10(root, url="https://x/y", md5=md5, urlopen=lambda url, timeout: open(source, "rb"), progress=False)
    assert outside.read_text() == "keep me"


@pytest.mark.parametrize("planted", [FOLDER, f".{FOLDER}.partial"])
def test_extraction_refuses_a_planted_symlink_and_deletes_nothing_through_it(tmp_path, archive, planted):
    path, md5 = archive
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    dest = tmp_path / "dest"
    plant_link(dest / planted, elsewhere)
    with pytest.raises(DatasetError, match=rf"^extract_cifar10: refusing to write or delete .*{planted}.*symbolic link"):
        extract_cifar10(path, dest, md5)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious"]


def test_a_planted_manifest_link_is_refused(tmp_path, archive, monkeypatch):
    # A link inside the extracted folder cannot come from the archive (links are refused
    # there); plant it between extraction and the manifest's write.
    path, md5 = archive
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    from cs231n_bn.data import cifar10

    def extract_then_plant(where, archive_path, root, folder):
        written = extract_tar_gz(where, archive_path, root, folder)
        plant_link(tmp_path / FOLDER / MANIFEST, outside)
        return written

    monkeypatch.setattr(cifar10, "extract_tar_gz", extract_then_plant)
    with pytest.raises(DatasetError, match="symbolic link"):
        extract_cifar10(path, tmp_path, md5)
    assert outside.read_text() == "keep me"


class ClaimsManyImages:
    """numpy's rebuild function asked for 400,000 images outright (1.2 GB, uninitialized)."""

    def __reduce__(self):
        return (np.zeros(1).__reduce__()[0], (np.ndarray, (400000, 3072), b"B"))


def test_a_batch_cannot_allocate_more_than_its_file_holds(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": ClaimsManyImages(), "labels": [0] * 40000}, protocol=2))
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(DatasetIntegrityError, match=r"refusing _reconstruct.*\(400000, 3072\)"):
            load_cifar10_batch(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"{peak / 1e6:.0f} MB allocated for a file of under 1 MB"


def test_a_length_field_past_the_end_of_the_file_is_refused_before_allocating(tmp_path):
    path = tmp_path / "data_batch_1"
    # protocol 5's BYTEARRAY8 claiming 6 GiB, followed by ten bytes
    path.write_bytes(b"\x80\x05\x96" + (6 << 30).to_bytes(8, "little") + b"x" * 10 + b".")
    with pytest.raises(DatasetIntegrityError, match="^load_cifar10_batch: data_batch_1 is not a valid CIFAR-10 batch"):
        load_cifar10_batch(path)


@pytest.mark.parametrize(
    "payload, message",
    [
        (batch_bytes(4, 0, labels=[True, False, True, False]), "not bools|True at index 0"),
        (batch_bytes(4, 0, labels=[1, 2, 3.0, 4]), "3.0 at index 2"),
        (batch_bytes(0, 0), r"holds no images \(data has shape \(0, 3072\)\)"),
    ],
    ids=["bool-labels", "float-label", "empty-batch"],
)
def test_labels_and_sizes_are_checked_with_a_reason(tmp_path, payload, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(DatasetIntegrityError, match=message):
        load_cifar10_batch(path)


def test_a_missing_batch_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetMissingError, match="^load_cifar10_batch: .*missing"):
        load_cifar10_batch(tmp_path / "nothing")


@pytest.mark.parametrize(
    "manifest, reason",
    [
        ("{not json", "JSONDecodeError"),
        ('{"archive_md5": "x"}', "KeyError"),
        ('{"sha256": ["a", "b"]}', "'sha256' is a list"),
        ('{"sha256": {"test_batch": 3}}', "'sha256' is a dict"),
        ("[1, 2]", "TypeError"),
    ],
    ids=["not-json", "no-sha256", "sha256-a-list", "digest-not-a-string", "not-an-object"],
)
def test_a_broken_manifest_is_refused_with_its_reason(tmp_path, archive, manifest, reason):
    path, md5 = archive
    folder = extract_cifar10(path, tmp_path, md5)
    (folder / MANIFEST).write_text(manifest)
    with pytest.raises(DatasetIntegrityError, match=rf"^get_cifar10_data: .*{MANIFEST} is not the JSON.*{reason}"):
        get_cifar10_data(num_training=2, num_validation=0, num_test=0, root=tmp_path)


def test_get_data_refuses_a_name_that_is_not_a_string_and_a_bad_seed():
    with pytest.raises(TypeError, match=r"^get_data: name must be one of 'digits', 'cifar10'; got \['digits'\]"):
        get_data(["digits"])
    with pytest.raises(ValueError, match=r"^get_digits_data: seed must be an integer >= 0.*'abc'"):
        get_data("digits", seed="abc")
    with pytest.raises(ValueError, match=r"^stratified_split: seed must be an integer >= 0.*True"):
        stratified_split(load_digits()[1], 300, 300, seed=True)


# ---------------------------------------------------------------- the real layout, end to end


def test_the_real_layout_loads_every_batch_as_float32_without_a_float64_copy(tmp_path):
    # The real archive's layout with 400 images per batch instead of 10,000; the sizes
    # cross batch boundaries, and the train/validation boundary falls inside batch 5.
    per_batch = 400
    path = tmp_path / "cifar-10-python.tar.gz"
    extract_cifar10(path, tmp_path, write_archive(path, per_batch))
    folder = tmp_path / FOLDER
    raw = [load_cifar10_batch(folder / name) for name in (*TRAIN_BATCHES, "test_batch")]
    tracemalloc.start()
    try:
        data = get_cifar10_data(num_training=1800, num_validation=200, num_test=400, root=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    sizes = {"train": 1800, "val": 200, "test": 400}
    for split, n in sizes.items():
        assert data[f"X_{split}"].shape == (n, 3, 32, 32) and data[f"X_{split}"].dtype == np.float32
        assert data[f"y_{split}"].shape == (n,) and data[f"y_{split}"].dtype == np.int64
    X_all = np.concatenate([X for X, _ in raw[:5]]).astype(np.float64) / 255
    y_all = np.concatenate([y for _, y in raw[:5]])
    np.testing.assert_array_equal(data["y_train"], y_all[:1800])
    np.testing.assert_array_equal(data["y_val"], y_all[1800:])
    np.testing.assert_array_equal(data["y_test"], raw[5][1])
    mean_image = X_all[:1800].mean(axis=0)
    np.testing.assert_allclose(data["X_train"], X_all[:1800] - mean_image, atol=1e-6)
    np.testing.assert_allclose(data["X_val"], X_all[1800:] - mean_image, atol=1e-6)
    np.testing.assert_allclose(data["X_test"], raw[5][0] / 255 - mean_image, atol=1e-6)
    # Everything returned, in float32, plus room for one batch in flight; a float64 copy
    # of the set (twice the float32 size) would not fit.
    returned = sum(a.nbytes for a in data.values())
    assert peak < 1.5 * returned, f"peak {peak / 1e6:.0f} MB for {returned / 1e6:.0f} MB returned"


# ---------------------------------------------------------------- bad input around the loaders

RESTORE = "git checkout -- datasets/digits.csv.gz"


@pytest.mark.parametrize("content", [b"", b"not a gzip file at all"], ids=["empty", "replaced"])
def test_an_empty_or_replaced_digits_file_says_how_to_restore_it(tmp_path, content):
    (tmp_path / DIGITS_FILE).write_bytes(content)
    with pytest.raises(DatasetIntegrityError, match=f"^load_digits: .*{RESTORE}") as info:
        load_digits(tmp_path)
    assert "fetch it again" not in str(info.value)


def _digits_table(tmp_path, monkeypatch, change):
    """A copy of the digits file with one value changed, whose hash the loader is told to trust."""
    import gzip

    from cs231n_bn.data import digits
    from cs231n_bn.data.errors import file_digest

    rows = gzip.decompress((DATASETS_DIR / DIGITS_FILE).read_bytes()).decode().splitlines()
    cells = rows[5].split(",")
    cells[change[0]] = change[1]
    rows[5] = ",".join(cells)
    path = tmp_path / DIGITS_FILE
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    monkeypatch.setattr(digits, "DIGITS_SHA256", file_digest(path, "sha256"))


@pytest.mark.parametrize(
    "change, message",
    [((3, "300"), r"every pixel must lie in 0\.\.16; got 300 in row 5"),
     ((3, "-1"), r"every pixel must lie in 0\.\.16; got -1"),
     ((64, "10"), r"every label must lie in 0\.\.9; got 10 in row 5"),
     ((64, "x"), r".*digits.csv.gz is not a gzipped table of integers")],
    ids=["pixel-300", "pixel-negative", "label-10", "label-text"],
)
def test_digits_with_values_out_of_range_are_refused_even_with_their_hash_changed(tmp_path, monkeypatch, change, message):
    _digits_table(tmp_path, monkeypatch, change)
    with pytest.raises(DatasetIntegrityError, match=f"^load_digits: {message}.*{RESTORE}"):
        load_digits(tmp_path)


def _nested_labels_batch(depth):
    """A batch of one image whose one label is a list nested `depth` deep (built opcode by opcode)."""
    head = pickle.dumps({"data": np.zeros((1, 3072), np.uint8)}, protocol=2)[:-2]  # drop SETITEM, STOP
    return head + b"s" + b"X\x06\x00\x00\x00labels" + b"]" * depth + b"a" * (depth - 1) + b"s."


def test_labels_nested_very_deep_are_refused_without_a_recursion_error(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(_nested_labels_batch(200_000))
    with pytest.raises(DatasetIntegrityError, match=r"\['labels'\] must be a list of 1 ints.*\[\[\[.*at index 0"):
        load_cifar10_batch(path)


class CallsNdarray:
    """Unpickling this would call numpy.ndarray((20000, 3072)): 61 MB from a file of 100 bytes."""

    def __reduce__(self):
        return (np.ndarray, ((20000, 3072), np.dtype("u1")))


def _latin1_amplification(copies, size):
    """One latin1 text in the memo, converted to bytes `copies` times: size * copies bytes."""
    text = b"x" * size
    out = bytearray(b"\x80\x02c_codecs\nencode\nq\x00")
    out += b"X" + len(text).to_bytes(4, "little") + text + b"q\x01X\x06\x00\x00\x00latin1q\x02]q\x03("
    out += b"h\x00h\x01h\x02\x86R" * copies
    return bytes(out + b"e.")


def _object_array(length):
    """An object array of shape (length,) whose state holds a list of one item."""
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01J"
            + length.to_bytes(4, "little") + b"\x85cnumpy\ndtype\nX\x02\x00\x00\x00O8K\x00K\x01\x87R(K\x03X\x01"
            b"\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]K\x01atb.")


@pytest.mark.parametrize(
    "payload, message",
    [(pickle.dumps({"data": CallsNdarray(), "labels": [0]}, protocol=2), r"refusing numpy\.ndarray\(\.\.\.\)"),
     (_latin1_amplification(3000, 200_000), "more text to bytes than the file holds"),
     (_object_array(100_000_000), r"refusing an array of dtype dtype\('O'\)")],
    ids=["ndarray-call", "latin1-amplification", "object-array"],
)
def test_a_small_pickle_cannot_allocate_much_memory_behind_a_bypassed_checksum(tmp_path, payload, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    assert len(payload) < 300_000
    tracemalloc.start()
    try:
        with pytest.raises(DatasetIntegrityError, match=message):
            load_cifar10_batch(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated for a file of {len(payload)} bytes"


def test_an_archive_member_larger_than_any_cifar10_file_is_refused(tmp_path):
    import io

    path = tmp_path / "a.tar.gz"

    def huge(tar):
        info = tarfile.TarInfo(f"{FOLDER}/huge")
        info.size = 65 * 2**20
        tar.addfile(info, io.BytesIO(bytes(info.size)))

    md5 = write_archive(path, 2, extra=huge, compresslevel=1)
    assert path.stat().st_size < 2**20
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DatasetIntegrityError, match=r"member 'cifar-10-batches-py/huge' is 68157440 bytes, more than"):
        extract_cifar10(path, dest, md5)
    assert list(dest.iterdir()) == []


def test_an_archive_of_too_many_members_is_refused(tmp_path):
    path = tmp_path / "a.tar.gz"

    def many(tar):
        for i in range(120):
            add_file(tar, f"{FOLDER}/f{i}", b"x")

    md5 = write_archive(path, 2, extra=many)
    with pytest.raises(DatasetIntegrityError, match="more than 100 members"):
        extract_cifar10(path, tmp_path, md5)
