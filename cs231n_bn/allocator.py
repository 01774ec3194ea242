"""Whether freed memory stays with the process: glibc's malloc settings, set after start-up.

A training step of the convnet creates and frees arrays of several megabytes (feature maps,
caches, gradients). glibc's malloc serves a request from fresh pages of the operating system
when it is at least its mmap threshold (128 KiB at start-up, raised at run time up to the size
of the largest such array freed so far), and hands the top of its heap back when more than
twice that lies free. Either way the next step's arrays land on pages that the kernel must
map and zero again on first touch: a minor page fault per 4 KiB. On CIFAR-10's convnet that
was about 10,000 faults and a third of the step's time, depending on what the process had
freed before (the same step ran a third faster in a process where PyTorch had run).

    from cs231n_bn.allocator import keep_freed_memory
    keep_freed_memory()     # arrays below 32 MiB come from the heap, which is kept

The memory a process keeps is then what it once used at most, which a training loop reuses
every step. The environment variable GLIBC_TUNABLES does the same, but only for a process
started after it is set.
"""

import ctypes
import ctypes.util

# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's largest mmap threshold on 64-bit systems: requests below it come from the heap
MMAP_THRESHOLD = 32 * 2**20
# free memory at the top of the heap beyond this is handed back; far above a step's use
TRIM_THRESHOLD = 2**30


def _mallopt():
    """glibc's mallopt, or None on a system without it (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        # only glibc has gnu_get_libc_version; musl's mallopt ignores these parameters
        libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt


def keep_freed_memory(mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD):
    """Let glibc serve arrays below mmap_threshold from its heap and keep what is freed there.

    Inputs:
    - mmap_threshold: bytes from which a request gets fresh pages of its own (at most 32 MiB)
    - trim_threshold: bytes of free memory at the top of the heap before any is handed back

    Returns:
    - True if glibc took both settings, False where there is no glibc (nothing is changed)
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    # Setting either value also stops glibc from moving them at run time.
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
