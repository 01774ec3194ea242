"""How many threads the BLAS library behind NumPy may use: the course's one place to set it.

NumPy hands matrix products (the affine layers, the convolution's im2col product) to a
BLAS library, usually OpenBLAS, which starts one thread per core. On the small products of
the notebooks (batches of 50, layers of 100) those threads cost more than they save, and on
a machine shared with other work they wait for each other. Environment variables such as
OPENBLAS_NUM_THREADS only act before NumPy is imported; threadpoolctl changes the limit of
the library that is already loaded, at any time.

    from cs231n_bn.threads import limit_blas_threads
    limit_blas_threads()          # one BLAS thread from here on
    limit_blas_threads(None)      # back to the library's default
"""

import functools
import numbers

import numpy as np  # noqa: F401  (the BLAS library is loaded with NumPy; it must be there to be limited)
from threadpoolctl import ThreadpoolController

SMALL_PRODUCT_THREADS = 1  # the notebooks' products are small: one thread each


@functools.lru_cache(maxsize=None)
def _controller():
    # Built on first use: it lists the thread pools loaded at that moment, NumPy's BLAS among them.
    return ThreadpoolController()


_DEFAULTS = {}  # internal_api -> the library's own thread count, read before the first limit


def limit_blas_threads(limit=SMALL_PRODUCT_THREADS):
    """Set how many threads NumPy's BLAS may use from now on; works after NumPy is imported.

    Inputs:
    - limit: an integer >= 1, or None for the library's default (as it was before the
      first call)

    Returns:
    - the thread counts before this call, per BLAS library found (a dict such as
      {'openblas': 2}), so that a caller can put them back
    """
    where = "limit_blas_threads"
    if limit is not None and (not isinstance(limit, numbers.Integral) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"{where}: limit must be an integer >= 1 or None (the library's default); got {limit!r}")
    blas = _controller().select(user_api="blas")
    before = {pool.internal_api: pool.num_threads for pool in blas.lib_controllers}
    for pool in blas.lib_controllers:
        _DEFAULTS.setdefault(pool.internal_api, pool.num_threads)
        pool.set_num_threads(_DEFAULTS[pool.internal_api] if limit is None else int(limit))
    return before


def blas_description():
    """One line naming NumPy's BLAS, its version and kernel, and the threads it may use now."""
    pools = _controller().select(user_api="blas").info()
    if not pools:
        return "no BLAS thread pool found"
    return "; ".join(
        f"{pool['internal_api']} {pool['version']} ({pool.get('architecture') or 'kernel unknown'} kernel), "
        f"{pool['num_threads']} thread{'s' if pool['num_threads'] != 1 else ''}"
        for pool in pools
    )
