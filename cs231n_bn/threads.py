"""How many threads NumPy's BLAS and the course's own layers may use: the one place to set it.

NumPy hands matrix products (the affine layers, the convolution's im2col product) to a
BLAS library, usually OpenBLAS, which starts one thread per core. On the small products of
the notebooks (batches of 50, layers of 100) those threads cost more than they save, and on
a machine shared with other work they wait for each other. Environment variables such as
OPENBLAS_NUM_THREADS only act before NumPy is imported; threadpoolctl changes the limit of
the library that is already loaded, at any time.

    from cs231n_bn.threads import limit_blas_threads
    limit_blas_threads()          # one BLAS thread from here on
    limit_blas_threads(None)      # back to the library's default

The same limit sets how many threads the convnet's layers share their work among
(`for_each_share`): max pooling's and spatial batch norm's blocks, which NumPy would run on
one thread however many cores BLAS uses, and the many-channel convolution's blocks of
images, products included. With one thread they run in the calling thread, exactly as a
plain loop; with more, their independent blocks are dealt to a persistent pool of threads.
NumPy lets go of the GIL inside ufuncs, einsum and copies over more than a few hundred
entries, so the shares run on both cores as far as their calls are long. (Not inside
np.vecdot over a few long vectors: a Python loop in another thread ran at 0.3-0.5 of its
speed beside it, and at 0.96-1.01 beside einsum's sums.) Handing work to another
thread is not free: for_each_share over two empty bodies took 0.12 ms on two threads of a
2-vCPU AMD EPYC (Zen 3) virtual machine, against 0.7 us on one: most of it is the time a
sleeping thread takes to wake up (two threads passing a threading.Event back and forth
took 0.03-0.09 ms a round there).
Each block does the same arithmetic on whichever thread runs it: the results are bitwise
the same at every thread count. While the shares run, BLAS runs on one thread
(`blas_yields_to_shares`).
"""

from concurrent.futures import ThreadPoolExecutor
import contextlib
import functools
import numbers
import os
import sys
import threading

import numpy as np  # noqa: F401  (the BLAS library is loaded with NumPy; it must be there to be limited)
from threadpoolctl import ThreadpoolController

SMALL_PRODUCT_THREADS = 1  # the notebooks' products are small: one thread each


@functools.lru_cache(maxsize=None)
def _controller():
    # Built on first use: it lists the thread pools loaded at that moment, NumPy's BLAS among them.
    return ThreadpoolController()


_DEFAULTS = {}  # internal_api -> the library's own thread count, read before the first limit
_shares = None  # threads for_each_share may use; None until first needed or limited
_inside = threading.local()  # .share is True on a thread running a share (no nested pools)


def limit_blas_threads(limit=SMALL_PRODUCT_THREADS):
    """Set how many threads NumPy's BLAS and for_each_share may use from now on.

    Works after NumPy is imported.

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
    global _shares
    _shares = max(_DEFAULTS.values(), default=1) if limit is None else int(limit)
    return before


def share_threads():
    """How many threads for_each_share deals its blocks to: the BLAS limit in force."""
    global _shares
    if _shares is None:
        blas = _controller().select(user_api="blas").lib_controllers
        _shares = max((pool.num_threads for pool in blas), default=1)
    return _shares


@functools.lru_cache(maxsize=None)
def _pool(workers):
    # Persistent: starting threads for every layer call would cost more than the split saves.
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cs231n_bn-share")


# A forked child inherits the pool without its threads, which would never run a share: it
# starts a pool of its own on first use instead.
os.register_at_fork(after_in_child=_pool.cache_clear)


def _run(body, items):
    _inside.share = True
    try:
        for item in items:
            body(*item)
    finally:
        _inside.share = False


def _run_profiled(profile, body, items):
    # A share runs under the caller's profiler function, as if the caller had run it: a
    # profiler (the checks' watch on what exercise code calls) set after the pool's threads
    # started would not see them otherwise. (cProfile's profiler is an object that only its
    # own thread can enable: its shares go unprofiled.)
    previous = sys.getprofile()
    sys.setprofile(profile if callable(profile) else None)
    try:
        _run(body, items)
    finally:
        sys.setprofile(previous)


@contextlib.contextmanager
def blas_yields_to_shares():
    """Inside this block, when for_each_share has more than one thread, BLAS uses only one.

    The shares then have the cores to themselves, products inside them included. BLAS's
    own threads would compete with them, and OpenBLAS's keep spinning for a while after
    every product that used them before they sleep, which takes a core from the passes that
    follow (on the convnet's step, even the (50 x 2048) @ (2048 x 10) affine product left
    them spinning into the next step's shares): wrap a whole training step, not one layer.
    """
    if share_threads() <= 1:
        yield
        return
    blas = [(pool, pool.num_threads) for pool in _controller().select(user_api="blas").lib_controllers]
    for pool, _ in blas:
        pool.set_num_threads(1)
    try:
        yield
    finally:
        for pool, threads in blas:
            pool.set_num_threads(threads)


def equal_slices(length, widest):
    """The fewest slices covering range(length) in order, none longer than widest (>= 1), of
    sizes that differ by at most one.

    Blocks of work cut so: threads dealt the same number of them get the same work (50
    images in blocks of at most 16 are 4 blocks of 12 or 13, not three of 16 and one of 2).
    """
    parts = -(-length // widest)
    bounds = [length * k // parts for k in range(parts + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def for_each_share(body, items):
    """Call body(*item) for every item, the items dealt in contiguous shares over share_threads().

    The calls must be independent of each other (each writes its own part of the results),
    and each should be large (a pass over 100,000 entries or more): handing a share to
    another thread costs some tens of microseconds. The calling thread runs the first share
    itself; with one thread, one item, or when called from inside a share, it runs them all,
    in order, as a plain loop would. Every share runs under the caller's profiler
    (sys.setprofile). Exceptions raised by any share propagate.
    """
    items = list(items)
    shares = min(share_threads(), len(items))
    if shares <= 1 or getattr(_inside, "share", False):
        for item in items:
            body(*item)
        return
    bounds = [len(items) * k // shares for k in range(shares + 1)]
    chunks = [items[bounds[k] : bounds[k + 1]] for k in range(shares)]
    with blas_yields_to_shares():
        profile = sys.getprofile()
        futures = [_pool(shares - 1).submit(_run_profiled, profile, body, chunk) for chunk in chunks[1:]]
        try:
            _run(body, chunks[0])
        finally:
            for future in futures:
                future.result()


def blas_description(environ=os.environ):
    """One line naming NumPy's BLAS, its version and kernel, and the threads it may use now.

    OpenBLAS picks its kernel for the processor when NumPy loads it, unless OPENBLAS_CORETYPE
    names one: some machines set it (to avoid older OpenBLAS releases' faults on new
    processors), and then the kernel says nothing about the processor. The line says so.
    """
    pools = _controller().select(user_api="blas").info()
    if not pools:
        return "no BLAS thread pool found"
    forced = environ.get("OPENBLAS_CORETYPE")
    return "; ".join(
        f"{pool['internal_api']} {pool['version']} ({pool.get('architecture') or 'kernel unknown'} kernel"
        + (f", forced by OPENBLAS_CORETYPE={forced}" if forced and pool["internal_api"] == "openblas" else "")
        + f"), {pool['num_threads']} thread{'s' if pool['num_threads'] != 1 else ''}"
        for pool in pools
    )
