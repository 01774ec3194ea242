"""BLAS thread limits set after NumPy is imported (cs231n_bn.threads, threadpoolctl)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from cs231n_bn import conv
from cs231n_bn.threads import blas_description, in_shares, limit_blas_threads, workers


def blas_threads():
    return {pool["internal_api"]: pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.fixture
def restore_default():
    yield
    limit_blas_threads(None)


def test_the_limit_acts_on_the_loaded_library_and_the_default_comes_back(restore_default):
    assert blas_threads(), "NumPy's BLAS should be visible to threadpoolctl"
    limit_blas_threads(None)
    default = blas_threads()
    assert limit_blas_threads(1) == default  # what was in force before the call
    assert set(blas_threads().values()) == {1}
    a = np.ones((64, 64))
    np.testing.assert_array_equal(a @ a, 64.0)  # products still run, on one thread
    assert limit_blas_threads(None) == dict.fromkeys(default, 1)
    assert blas_threads() == default


def test_the_description_names_the_library_and_its_threads(restore_default):
    limit_blas_threads(1)
    name = next(iter(blas_threads()))
    assert name in blas_description() and "1 thread" in blas_description()


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "1"])
def test_bad_limits_are_refused(limit):
    with pytest.raises(ValueError, match=r"^limit_blas_threads: limit must be an integer >= 1 or None"):
        limit_blas_threads(limit)


def test_shares_run_on_the_blas_threads_and_give_the_results_in_order(restore_default):
    blocks = list(range(7))
    limit_blas_threads(1)
    assert workers() == 1
    assert in_shares(lambda share: share, blocks) == [blocks]  # one call, on the caller's thread
    limit_blas_threads(2)
    assert workers() == 2
    seen = []

    def task(share):
        seen.append(blas_threads())  # BLAS at one thread inside the shares
        return share

    assert in_shares(task, blocks) == [[0, 1, 2, 3], [4, 5, 6]]
    assert all(set(threads.values()) == {1} for threads in seen)
    assert set(blas_threads().values()) == {2}  # and its count back afterwards


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [3, 32])
def test_conv_and_pool_give_the_same_results_in_two_shares_as_in_one(restore_default, dtype, C):
    # CIFAR-10's sizes: enough image blocks for two shares in every layer
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, C, 32, 32)).astype(dtype)
    w = rng.standard_normal((32, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(32).astype(dtype)
    dout = rng.standard_normal((50, 32, 32, 32)).astype(dtype)
    inputs = [a.copy() for a in (x, w, b, dout)]
    results = {}
    for threads in (1, 2):
        limit_blas_threads(threads)
        out, cache = conv.conv_forward(x, w, b, {"stride": 1, "pad": 1})
        dx, dw, db = conv.conv_backward(dout, cache)
        pooled, pool_cache = conv.max_pool_forward(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
        dpool = conv.max_pool_backward(pooled * 2, pool_cache)
        results[threads] = out, dx, dw, db, pooled, pool_cache.argmax, dpool
    tol = {"rtol": 1e-4, "atol": 1e-3} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    for one, two in zip(results[1], results[2]):
        assert one.dtype == two.dtype and one.shape == two.shape
        np.testing.assert_allclose(two, one, **tol)
    for before, after in zip(inputs, (x, w, b, dout)):
        np.testing.assert_array_equal(before, after)
