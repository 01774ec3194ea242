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

The same count decides how many threads the package's own loops (the convolution's image
blocks, max pooling's maps) split into, `in_shares`: at one BLAS thread they run as one call
on the caller's thread; at two, the blocks are cut into two shares that run at once on a small
thread pool (NumPy and BLAS release the GIL), with BLAS at one thread meanwhile, so that the
shares' products do not each start threads of their own on the same cores.
"""

from concurrent.futures import ThreadPoolExecutor
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


def _blas_pools():
    return _controller().select(user_api="blas").lib_controllers


def workers():
    """How many threads the package's own loops may use: what NumPy's BLAS may use now (at least 1)."""
    return max(1, min((pool.num_threads for pool in _blas_pools()), default=1))


@functools.lru_cache(maxsize=None)
def _pool(count):
    # Kept for the life of the process: starting threads for every call would cost more than
    # a small layer's share (about 0.1 ms against the 1-3 ms that a CIFAR-10 layer takes).
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="cs231n_bn")


def in_shares(task, blocks):
    """task(share) over contiguous shares of the list blocks, one share per thread; the results in order.

    With one thread (workers()), or one block, this is task(blocks) on the caller's thread.
    Otherwise the shares run at once, BLAS limited to one thread each until all are done. The
    shares must write to disjoint memory; whatever they sum (a gradient) they return, and the
    caller adds the results, which changes the order of the sum and so the round-off only.
    """
    count = min(workers(), len(blocks))
    if count <= 1:
        return [task(blocks)]
    step, extra = divmod(len(blocks), count)
    starts = [k * step + min(k, extra) for k in range(count + 1)]
    shares = [blocks[starts[k] : starts[k + 1]] for k in range(count)]
    pools = _blas_pools()
    before = [pool.num_threads for pool in pools]
    for pool, threads in zip(pools, before):
        _DEFAULTS.setdefault(pool.internal_api, threads)
        pool.set_num_threads(1)
    try:
        return list(_pool(count).map(task, shares))
    finally:
        for pool, threads in zip(pools, before):
            pool.set_num_threads(threads)


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
