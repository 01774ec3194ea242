"""The grader's wire format: what the student's process sends is decoded as data or refused.

Instructor-only (the release leaves tests/classroom/ out).
"""

import json
import os
import struct
import time

import numpy as np
import pytest

from cs231n_bn.batchnorm import BatchNormCache
from classroom import wire


def roundtrip(message, classes=None):
    frame = wire.encode(message)
    return wire.decode(frame[8:], classes)


def body(document, *chunks):
    """A frame body by hand: what a hostile sender could write."""
    text = json.dumps(document).encode()
    parts = [struct.pack(">Q", len(text)), text]
    for chunk in chunks:
        parts += [struct.pack(">Q", len(chunk)), chunk]
    return b"".join(parts)


def test_values_cross_as_themselves():
    rng = np.random.default_rng(5)
    message = {"x": np.arange(6.0).reshape(2, 3), "f32": np.ones(2, np.float32), "n": [1, 2.5, None, True, "s"],
               "t": (np.float64(3.0),), "nan": float("nan"), "dtype": np.dtype(np.float32), "rng": rng,
               "empty": np.zeros((2, 0)), "fortran": np.asfortranarray(np.ones((2, 3)))}
    got = roundtrip(message)
    assert np.array_equal(got["x"], message["x"]) and got["f32"].dtype == np.float32
    assert got["n"] == [1, 2.5, None, True, "s"] and isinstance(got["t"], tuple) and got["t"][0] == 3.0
    assert np.isnan(got["nan"]) and got["dtype"] == np.float32 and got["empty"].shape == (2, 0)
    assert got["rng"].random() == np.random.default_rng(5).random()


def test_a_dataclass_is_rebuilt_as_the_receivers_class_or_kept_as_foreign():
    x = np.arange(4.0).reshape(2, 2)
    made = BatchNormCache("train", x, x[0], x, x[0], x[0], x[0], x, x[0], 1e-5)
    rebuilt = roundtrip(made, {"BatchNormCache": BatchNormCache})
    assert isinstance(rebuilt, BatchNormCache) and np.array_equal(rebuilt.xhat, x)
    foreign = roundtrip(made, {})
    assert isinstance(foreign, wire.Foreign) and foreign.type_name == "BatchNormCache"
    again = roundtrip(foreign, {"BatchNormCache": BatchNormCache})  # passed on, it is rebuilt further on
    assert isinstance(again, BatchNormCache)


def test_objects_of_unknown_kinds_cross_as_their_type_name_only():
    class Sneaky:
        def __reduce__(self):
            raise AssertionError("never pickled")

    got = roundtrip([Sneaky(), np.array([object()], dtype=object), {(1, 2): 3}])
    assert all(isinstance(v, wire.Foreign) for v in got)
    assert got[0].type_name == "Sneaky"


@pytest.mark.parametrize(
    "document, chunks, problem",
    [
        ({"t": "a", "i": 0, "d": "|O", "s": [1]}, [b"\0" * 8], "numeric"),
        ({"t": "a", "i": 0, "d": "<f8", "s": [10**12]}, [b"\0" * 8], "does not match"),
        ({"t": "a", "i": 0, "d": "<f8", "s": [-1]}, [b"\0" * 8], "shape"),
        ({"t": "a", "i": 3, "d": "<f8", "s": [1]}, [b"\0" * 8], "outside"),
        ({"t": "a", "i": 0, "d": "[('a', '<f8')]", "s": [1]}, [b"\0" * 8], "string"),
        ({"t": "pickle", "v": "gASV"}, [], "unknown value kind"),
        ({"t": "rng", "v": {"t": "d", "k": ["bit_generator"], "v": ["MT19937"]}}, [], "PCG64"),
        ({"t": "ref", "i": 0}, [], "outside"),
    ],
)
def test_hostile_frames_are_refused_with_a_reason(document, chunks, problem):
    with pytest.raises(wire.WireError, match=problem):
        wire.decode(body(document, *chunks))


def test_sizes_and_nesting_are_capped():
    deep = None
    for _ in range(wire.MAX_DEPTH + 5):
        deep = {"t": "l", "v": [deep]}
    with pytest.raises(wire.WireError, match="nested"):
        wire.decode(body(deep))
    with pytest.raises(wire.WireError, match="truncated"):
        wire.decode(body({"t": "a", "i": 0, "d": "<f8", "s": [1]})[:-3])
    with pytest.raises(wire.WireError, match="at most"):
        wire.encode(np.zeros(wire.MAX_FRAME // 8 + 1))


def test_merge_updates_the_callers_objects_in_place():
    running = np.zeros(3)
    bn_param = {"mode": "train", "running_mean": running, "stale": 1}
    x = np.ones(3)
    wire.merge(bn_param, {"mode": "train", "running_mean": np.full(3, 2.0)})
    assert bn_param["running_mean"] is running and np.array_equal(running, [2, 2, 2]) and "stale" not in bn_param
    wire.merge(x, np.zeros(3))
    assert np.array_equal(x, np.zeros(3))  # an input overwritten in place shows, as it would in one process


def test_an_array_the_other_side_replaced_is_put_in_as_a_new_one():
    """Replaced there (bn_param['running_mean'] = new array), replaced here: the caller's old
    array keeps its values; written into there, written into here."""
    running, other = np.zeros(3), np.ones(3)
    bn_param = {"running_mean": running, "running_var": other}
    args = [np.ones(2), bn_param]
    before = {path: id(a) for path, a in wire.nested_arrays(args)}
    bn_param["running_mean"] = np.full(3, 2.0)  # what the student's function did, on its side
    other += 1.0
    assert wire.replaced_arrays(args, before) == [[1, "running_mean"]]
    held, held_other = np.zeros(3), np.ones(3)
    mine = {"running_mean": held, "running_var": held_other}
    wire.merge(mine, {"running_mean": np.full(3, 2.0), "running_var": np.full(3, 2.0)}, {("running_mean",)})
    assert mine["running_mean"] is not held and np.array_equal(held, np.zeros(3))
    assert mine["running_var"] is held_other and np.array_equal(held_other, [2, 2, 2])


# -- attacks on the trusted side's parsing and writing (issue 20) -----------------------


def test_a_document_nested_100000_deep_is_refused_before_json_parses_it():
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(wire.WireError, match="nested 100000 levels"):
        wire.decode(struct.pack(">Q", len(deep)) + deep)
    with pytest.raises(wire.WireError, match="nested"):
        wire.loads_bounded('{"a": ' * 100_000 + "1" + "}" * 100_000)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"t": "l", "v": ["[[[[{{{{" * 1000, 'quote \\" [[ ']})
    assert wire.loads_bounded(text)["v"][0].startswith("[[[[")


def test_a_frame_of_empty_objects_is_refused_by_counting_not_by_building_them():
    flood = b"[" + b"{}," * (wire.MAX_DOCUMENT // 4) + b"{}]"
    with pytest.raises(wire.WireError, match="too many items"):
        wire.decode(struct.pack(">Q", len(flood)) + flood)
    whole = b"[" + b"{}," * (wire.MAX_FRAME // 4) + b"{}]"
    with pytest.raises(wire.WireError, match="document"):
        wire.decode(struct.pack(">Q", len(whole)) + whole)


def test_a_frame_of_empty_arrays_is_refused_before_each_gets_a_view():
    head = json.dumps(None).encode()
    flood = struct.pack(">Q", len(head)) + head + struct.pack(">Q", 0) * (wire.MAX_ITEMS + 1)
    with pytest.raises(wire.WireError, match="arrays"):
        wire.decode(flood)


def test_a_frame_too_large_is_refused_before_its_bytes_are_copied():
    # 8 GiB by its shape, 8 bytes in memory: building the frame would copy all of it
    huge = np.broadcast_to(np.zeros(1), (2**30,))
    with pytest.raises(wire.WireError, match="at most"):
        wire.encode({"result": huge})


def test_a_frame_announced_too_large_is_refused_before_it_is_read():
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, struct.pack(">Q", wire.MAX_FRAME + 1))
        with pytest.raises(wire.WireError, match="announced"):
            wire.receive(read_fd, time.monotonic() + 5)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_reader_that_stops_reading_cannot_hold_the_writer():
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    started = time.monotonic()
    try:
        with pytest.raises(wire.Timeout, match="stopped reading"):
            wire.send(write_fd, wire.encode({"x": np.zeros(2**20)}), time.monotonic() + 1.0)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert time.monotonic() - started < 5


def test_a_writer_that_stops_midway_cannot_hold_the_reader():
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, wire.encode({"x": 1})[:10])
        started = time.monotonic()
        with pytest.raises(wire.Timeout):
            wire.receive(read_fd, time.monotonic() + 1.0)
        assert time.monotonic() - started < 5
    finally:
        os.close(read_fd)
        os.close(write_fd)
