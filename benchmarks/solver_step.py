"""Time notebook 7's convnet trained by the Solver at CIFAR-10's size: milliseconds and page faults per step.

    .venv/bin/python benchmarks/solver_step.py                  # the library's default threads
    .venv/bin/python benchmarks/solver_step.py --threads 1

Trains SmallConvNet (two conv - batchnorm - relu - pool blocks of 32 filters, float32) on
random CIFAR-10-shaped images with Adam, batches of 50, in this process as it starts (glibc's
malloc untouched before Solver.train), and prints the time and the minor page faults per step,
both including the Solver's own work (batches, updates, evaluations). The page faults show
whether a step reuses the memory of the step before (Solver.train lets glibc keep it).
"""

import argparse
import resource
import time

import numpy as np

from cs231n_bn.benchmark import machine_description
from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.solver import Solver
from cs231n_bn.threads import blas_description, limit_blas_threads

BATCH = 50


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", choices=("1", "default"), default="default")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of 2,000 images (40 steps each)")
    args = parser.parse_args()
    limit_blas_threads(None if args.threads == "default" else 1)
    rng = np.random.default_rng(0)
    data = {
        "X_train": rng.normal(size=(2000, 3, 32, 32)).astype(np.float32), "y_train": rng.integers(0, 10, 2000),
        "X_val": rng.normal(size=(100, 3, 32, 32)).astype(np.float32), "y_val": rng.integers(0, 10, 100),
    }
    model = SmallConvNet(input_dim=(3, 32, 32), num_filters=32, normalization="batchnorm", num_blocks=2,
                         dtype=np.float32)
    solver = Solver(model, data, update_rule="adam", batch_size=BATCH, num_epochs=args.epochs,
                    num_train_samples=100, verbose=False)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    steps = solver.step_count
    print(machine_description())
    print(f"NumPy's BLAS {blas_description()}")
    print(f"{steps} steps of {BATCH} images: {seconds / steps * 1e3:.1f} ms and {faults / steps:,.0f} "
          f"minor page faults per step")


if __name__ == "__main__":
    main()
