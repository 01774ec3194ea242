"""Time our batch norm against a plain copy and PyTorch's native kernel; print Markdown tables.

    .venv/bin/python benchmarks/run.py                      # the sizes recorded in README.md
    .venv/bin/python benchmarks/run.py --sizes 4096x1024 --dtypes float64 --repeat 11
    .venv/bin/python benchmarks/run.py --allocator keep     # freed memory is not returned

Every number is a median of repeated rounds (cs231n_bn.benchmark). All cases of one size
and dtype are timed side by side in one fresh process, so that no earlier size leaves the
memory allocator in a different state (at these sizes, fetching fresh pages from the
operating system costs as much as the arithmetic). The tables are Markdown, ready to paste
into benchmarks/README.md.
"""

import argparse
import multiprocessing
import os

import numpy as np

from cs231n_bn import benchmark

DEFAULT_SIZES = ("256x128", "1024x512", "4096x1024", "16384x256")
MEDIAN_COLUMNS = (
    ("copy", "copy"),
    ("forward", "forward"),
    ("staged bwd", "staged_backward"),
    ("simplified bwd", "simplified_backward"),
    ("ours fwd+bwd", "forward+simplified_backward"),
    ("torch fwd+bwd", "torch_forward+backward"),
)
# glibc returns large freed blocks to the operating system; the next allocation then
# page-faults its memory back in. "keep" raises both thresholds so freed memory is reused,
# for NumPy and PyTorch alike (both allocate through malloc): the arithmetic and memory
# traffic remain, the page faults go.
ALLOCATORS = {
    "default": None,
    "keep": "glibc.malloc.trim_threshold=4000000000:glibc.malloc.mmap_threshold=4000000000",
}
RATIO_COLUMNS = (
    ("staged / simplified", "staged/simplified"),
    ("ours / torch", "ours/torch"),
    ("forward / copy", "forward/copy"),
    ("simplified / copy", "simplified_backward/copy"),
    ("ours fwd+bwd / copy", "forward+simplified_backward/copy"),
    ("torch fwd+bwd / copy", "torch_forward+backward/copy"),
)


def parse_size(text):
    """'4096x1024' -> (4096, 1024)."""
    try:
        N, D = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size is NxD, e.g. 4096x1024; got {text!r}") from None
    return N, D


def bench_in_fresh_process(args):
    """bench_batchnorm(*args) in a new interpreter: a clean heap for every size."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(bench_one, args)


def bench_one(N, D, dtype, repeat, min_time, torch_threads):
    return benchmark.bench_batchnorm(
        N, D, np.dtype(dtype), repeat=repeat, min_time=min_time, torch_threads=torch_threads
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[parse_size(s) for s in DEFAULT_SIZES],
                        help="batch sizes as NxD (default: %(default)s)")
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"), default=["float64", "float32"])
    parser.add_argument("--repeat", type=int, default=7, help="rounds per case; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds each round lasts at least")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help=f"threads for PyTorch (default {benchmark.NUMPY_THREADS}, as NumPy's ufuncs use)")
    parser.add_argument("--allocator", choices=tuple(ALLOCATORS), default="default",
                        help="'keep': glibc keeps freed memory for reuse (no page faults on either side)")
    args = parser.parse_args()

    threads = benchmark.NUMPY_THREADS if args.torch_threads is None else args.torch_threads
    if ALLOCATORS[args.allocator] is not None:
        # read by glibc when each fresh benchmark process starts
        os.environ["GLIBC_TUNABLES"] = ALLOCATORS[args.allocator]
    print(benchmark.machine_description())
    print(f"PyTorch threads: {threads}; allocator: {args.allocator}; repeat {args.repeat}, "
          f"rounds of >= {args.min_time} s\n", flush=True)
    median_rows, ratio_rows = [], []
    for dtype in args.dtypes:
        for N, D in args.sizes:
            medians = bench_in_fresh_process((N, D, dtype, args.repeat, args.min_time, threads))
            ratios = benchmark.ratios(medians)
            label = [dtype, str(N), str(D)]
            median_rows.append(label + [
                f"{medians[key] * 1e3:.3g}" if key in medians else "-" for _, key in MEDIAN_COLUMNS
            ])
            ratio_rows.append(label + [
                f"{ratios[key]:.2f}" if key in ratios else "-" for _, key in RATIO_COLUMNS
            ])
            print(f"done {dtype} {N}x{D}", flush=True)
    print("\nMedian milliseconds per call\n")
    print(benchmark.markdown_table(["dtype", "N", "D"] + [name for name, _ in MEDIAN_COLUMNS], median_rows))
    print("\nRatios of medians\n")
    print(benchmark.markdown_table(["dtype", "N", "D"] + [name for name, _ in RATIO_COLUMNS], ratio_rows))
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
