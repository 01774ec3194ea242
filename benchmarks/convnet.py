"""Time notebook 7's convnet at CIFAR-10's size against PyTorch, at one thread and at the defaults.

    .venv/bin/python benchmarks/convnet.py                  # the step and every layer, both thread settings
    .venv/bin/python benchmarks/convnet.py --threads 1      # one thread each side only
    .venv/bin/python benchmarks/convnet.py --step-only --dtype float64 --repeat 11
    .venv/bin/python benchmarks/convnet.py --threads 1 --step-only --allocator keep

One training step of SmallConvNet.loss(X, y) (50 images 3x32x32, 32 filters of 3x3, two
conv - batchnorm - relu - pool blocks) and each of its layers, next to the same work in
PyTorch, as medians of interleaved rounds (cs231n_bn.benchmark.bench_convnet). Threads are
set in this process, after NumPy is imported: NumPy's BLAS through threadpoolctl
(cs231n_bn.threads), PyTorch through torch.set_num_threads. "1" is one thread each side;
"default" is what each library does when left alone. "--allocator keep" first lets glibc keep
freed memory for both libraries (cs231n_bn.allocator), so that neither step pays for page faults
whose number depends on what the process freed before.
"""

import argparse
import os

import numpy as np

from cs231n_bn import benchmark
from cs231n_bn.allocator import keep_freed_memory
from cs231n_bn.benchmark import machine_description, markdown_table
from cs231n_bn.threads import blas_description, for_each_share, limit_blas_threads, share_threads


def rows(medians, epoch_images, N):
    """Markdown rows: case, our ms, PyTorch ms, ratio; the step also as minutes per epoch."""
    out = []
    for name, (ours, theirs) in medians.items():
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        out.append([name, f"{ours * 1e3:.3g}", f"{theirs * 1e3:.3g}" if theirs else "-",
                    f"**{ratio}**" if name == "step" else ratio])
    ours, theirs = medians["step"]
    steps = epoch_images / N
    out.append([f"one epoch, {epoch_images:,} images = {steps:,.0f} steps (min)", f"{ours * steps / 60:.2f}",
                f"{theirs * steps / 60:.2f}" if theirs else "-", ""])
    return out


def handover_seconds(repeat, min_time):
    """Median seconds of for_each_share over two empty bodies at the default threads.

    What the layers pay, beyond their work, each time they hand a share of it to another
    thread and wait for it (about one wake-up of a sleeping thread): None with one thread.
    """
    limit_blas_threads(None)
    if share_threads() < 2:
        return None
    return benchmark.median_seconds(lambda: for_each_share(lambda item: None, [(0,), (1,)]), repeat, min_time)


def thread_settings(choice):
    """The thread settings to run: [1], [None] (the defaults) or both."""
    return {"1": [1], "default": [None], "both": [1, None]}[choice]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds each case lasts per round, at least")
    parser.add_argument("--step-only", action="store_true", help="time the whole step, not each layer")
    parser.add_argument("--threads", choices=("1", "default", "both"), default="both",
                        help="one thread each side, each library's default, or both in turn")
    parser.add_argument("--allocator", choices=("default", "keep"), default="default",
                        help="'keep': glibc keeps freed memory for reuse, for both libraries (no page faults)")
    args = parser.parse_args()
    kept = args.allocator == "keep" and keep_freed_memory()
    print(machine_description())
    print(f"Allocator: {'glibc keeps freed memory (cs231n_bn.allocator)' if kept else 'as the process found it'}")
    torch = benchmark.torch
    limit_blas_threads(None)
    blas_default = blas_description()
    torch_default = (f"{benchmark.TORCH_DEFAULT_THREADS} threads, "
                     f"{torch.__config__.parallel_info().splitlines()[-1].strip()}" if torch else "not installed")
    print(f"Threads by default: NumPy's BLAS {blas_default}; PyTorch {torch_default}")
    print(f"{args.dtype}; {args.repeat} interleaved rounds of >= {args.min_time} s per case", flush=True)
    for threads in thread_settings(args.threads):
        medians = benchmark.bench_convnet(dtype=np.dtype(args.dtype), repeat=args.repeat, min_time=args.min_time,
                                          threads=threads, layers=not args.step_only)
        if threads is None:
            print(f"\n### Library defaults: NumPy's BLAS {blas_default}; PyTorch {benchmark.TORCH_DEFAULT_THREADS} threads\n")
        else:
            print(f"\n### {threads} thread each side (NumPy's BLAS through threadpoolctl, torch.set_num_threads)\n")
        print(markdown_table(["case", "ours (ms)", "PyTorch (ms)", "ours / PyTorch"],
                             rows(medians, benchmark.CIFAR10_TRAIN_IMAGES, 50)), flush=True)
        handover = handover_seconds(args.repeat, args.min_time) if threads is None else None
        if handover is not None:
            print(f"\nHanding a share to another thread and waiting for it (for_each_share over two empty "
                  f"bodies): {handover * 1e3:.3f} ms, paid by every layer that shares its blocks", flush=True)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
