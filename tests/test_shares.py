"""The layers' work shared among threads (cs231n_bn.threads.for_each_share): same bits at every count."""

import os
import sys
import threading

import numpy as np
import pytest

from cs231n_bn import batchnorm, conv
from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.spatial import spatial_batchnorm_backward, spatial_batchnorm_forward
from cs231n_bn.threads import for_each_share, limit_blas_threads, share_threads

THREAD_COUNTS = (1, 2, 3)


@pytest.fixture
def restore_default():
    yield
    limit_blas_threads(None)


@pytest.fixture
def small_blocks(monkeypatch):
    # Blocks of a few entries, so that small arrays are cut into many blocks to share
    monkeypatch.setattr(conv, "POOL_BLOCK_ENTRIES", 2 * 64)
    monkeypatch.setattr(conv, "ROW_SHIFT_BLOCK_ENTRIES", 2**10)
    monkeypatch.setattr(conv, "IM2COL_BLOCK_COLUMNS", 64)
    monkeypatch.setattr(batchnorm, "BLOCK_ENTRIES", 2**8)
    monkeypatch.setattr(batchnorm, "COLUMN_BLOCK_ENTRIES", 2**8)
    monkeypatch.setattr(batchnorm, "SHARE_MIN_ENTRIES", 2**8)


def test_every_item_runs_once_and_the_limit_sets_the_threads(restore_default):
    for limit in THREAD_COUNTS:
        limit_blas_threads(limit)
        assert share_threads() == limit
        seen, names = [], set()

        def body(k):
            seen.append(k)
            names.add(threading.current_thread().name)

        for_each_share(body, [(k,) for k in range(10)])
        assert sorted(seen) == list(range(10))
        # the calling thread runs the first share, the pool's threads (one or more) the rest
        assert threading.current_thread().name in names
        assert len(names) == 1 if limit == 1 else 2 <= len(names) <= limit
    limit_blas_threads(1)
    seen = []
    for_each_share(lambda k: seen.append(k), [(k,) for k in range(5)])
    assert seen == list(range(5))  # one thread: in order, in the calling thread


def test_an_error_in_a_share_propagates(restore_default):
    limit_blas_threads(2)

    def body(k):
        if k == 7:
            raise ArithmeticError("share failed")

    with pytest.raises(ArithmeticError, match="share failed"):
        for_each_share(body, [(k,) for k in range(8)])


def test_every_share_runs_under_the_callers_profiler(restore_default):
    limit_blas_threads(2)
    for_each_share(lambda k: None, [(k,) for k in range(4)])  # the pool's threads start unprofiled
    seen = []

    def body(k):
        pass

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is body.__code__:
            seen.append(frame.f_locals["k"])

    sys.setprofile(profile)
    try:
        for_each_share(body, [(k,) for k in range(4)])
    finally:
        sys.setprofile(None)
    assert sorted(seen) == list(range(4))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_shares_on_a_pool_of_its_own(restore_default):
    limit_blas_threads(2)
    for_each_share(lambda k: None, [(k,) for k in range(4)])  # the parent's pool now exists
    pid = os.fork()
    if pid == 0:
        seen = []
        for_each_share(lambda k: seen.append(k), [(k,) for k in range(4)])
        os._exit(0 if sorted(seen) == list(range(4)) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def run_layers(dtype):
    """Every shared layer, forward and backward, on seeded data; returns every result."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 3, 8, 8)).astype(dtype)
    x_before = x.copy()
    results = []
    a = x
    for C in (3, 8):  # im2col (3 channels) and the row shifts (8 channels)
        w = rng.normal(size=(8, C, 3, 3)).astype(dtype)
        b = rng.normal(size=8).astype(dtype)
        out, cache = conv_forward(a, w, b, {"stride": 1, "pad": 1})
        dout = rng.normal(size=out.shape).astype(dtype)
        results += [out, *conv_backward(dout, cache)]
        gamma, beta = rng.uniform(0.5, 2, 8).astype(dtype), rng.normal(size=8).astype(dtype)
        bn_out, bn_cache = spatial_batchnorm_forward(out, gamma, beta, {"mode": "train"})
        results += [bn_out, *spatial_batchnorm_backward(dout, bn_cache)]
        pooled, pool_cache = max_pool_forward(bn_out, {"pool_height": 2, "pool_width": 2, "stride": 2})
        results += [pooled, max_pool_backward(rng.normal(size=pooled.shape).astype(dtype), pool_cache)]
        a = np.repeat(pooled, 2, axis=2).repeat(2, axis=3)
    np.testing.assert_array_equal(x, x_before)  # inputs never modified
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_layers_give_the_same_bits_at_every_thread_count(dtype, small_blocks, restore_default):
    by_count = {}
    for limit in THREAD_COUNTS:
        limit_blas_threads(limit)
        by_count[limit] = run_layers(dtype)
    for limit in THREAD_COUNTS[1:]:
        for one, shared in zip(by_count[1], by_count[limit]):
            assert shared.dtype == dtype
            np.testing.assert_array_equal(shared, one, strict=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_training_step_gives_the_same_bits_at_every_thread_count(dtype, small_blocks, restore_default):
    X = np.random.default_rng(0).normal(size=(6, 3, 16, 16)).astype(dtype)
    y = np.arange(6) % 10
    by_count = {}
    for limit in THREAD_COUNTS:
        limit_blas_threads(limit)
        model = SmallConvNet(input_dim=(3, 16, 16), num_filters=8, normalization="batchnorm", num_blocks=2,
                             dtype=dtype)
        by_count[limit] = model.loss(X, y), model.bn_params
    (loss_1, grads_1), bn_1 = by_count[1]
    for limit in THREAD_COUNTS[1:]:
        (loss, grads), bn = by_count[limit]
        assert loss == loss_1
        for name, grad in grads_1.items():
            assert grads[name].dtype == dtype
            np.testing.assert_array_equal(grads[name], grad, strict=True)
        for stats, stats_1 in zip(bn, bn_1):
            for key in ("running_mean", "running_var"):
                np.testing.assert_array_equal(stats[key], stats_1[key], strict=True)
