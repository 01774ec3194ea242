"""BLAS thread limits set after NumPy is imported (cs231n_bn.threads, threadpoolctl)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from cs231n_bn.threads import blas_description, limit_blas_threads


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


def test_the_description_says_when_the_environment_chose_the_kernel(restore_default):
    if "openblas" not in blas_threads():
        pytest.skip("NumPy's BLAS here is not OpenBLAS")
    assert "forced by OPENBLAS_CORETYPE=Nehalem" in blas_description({"OPENBLAS_CORETYPE": "Nehalem"})
    assert "forced" not in blas_description({})


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "1"])
def test_bad_limits_are_refused(limit):
    with pytest.raises(ValueError, match=r"^limit_blas_threads: limit must be an integer >= 1 or None"):
        limit_blas_threads(limit)
