"""Time notebook 7's convnet at CIFAR-10's size against PyTorch on one core; print Markdown.

    .venv/bin/python benchmarks/convnet.py                  # issue 12's step and every layer
    .venv/bin/python benchmarks/convnet.py --dtype float64 --repeat 11
    .venv/bin/python benchmarks/convnet.py --step-only

One training step of SmallConvNet.loss(X, y) (50 images 3x32x32, 32 filters of 3x3, two
conv - batchnorm - relu - pool blocks) and each of its layers, next to the same work in
PyTorch, as medians of interleaved rounds (cs231n_bn.benchmark.bench_convnet). Both sides
get one thread: PyTorch through torch.set_num_threads(1), NumPy's BLAS through the
environment variables set below, which must come before NumPy is imported.
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402  (the thread limits above must come first)

import numpy as np  # noqa: E402

from cs231n_bn import benchmark  # noqa: E402
from cs231n_bn.benchmark import machine_description, markdown_table  # noqa: E402


def rows(medians, epoch_images):
    """Markdown rows: case, our ms, PyTorch ms, ratio; the step also as minutes per epoch."""
    out = []
    for name, (ours, theirs) in medians.items():
        ratio = f"**{ours / theirs:.2f}**" if theirs and name == "step" else (f"{ours / theirs:.2f}" if theirs else "-")
        out.append([name, f"{ours * 1e3:.3g}", f"{theirs * 1e3:.3g}" if theirs else "-", ratio])
    ours, theirs = medians["step"]
    steps = epoch_images / 50
    out.append([f"one epoch, {epoch_images:,} images (min)", f"{ours * steps / 60:.1f}",
                f"{theirs * steps / 60:.1f}" if theirs else "-", ""])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds each case lasts per round, at least")
    parser.add_argument("--step-only", action="store_true", help="time the whole step, not each layer")
    args = parser.parse_args()
    print(machine_description())
    print(f"{args.dtype}; threads: NumPy's BLAS 1, PyTorch 1; {args.repeat} interleaved rounds of >= "
          f"{args.min_time} s per case\n", flush=True)
    medians = benchmark.bench_convnet(dtype=np.dtype(args.dtype), repeat=args.repeat, min_time=args.min_time,
                                      layers=not args.step_only)
    print(markdown_table(["case", "ours (ms)", "PyTorch (ms)", "ours / PyTorch"],
                         rows(medians, benchmark.CIFAR10_TRAIN_IMAGES)))
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
