"""Time batch norm's forward + closed-form backward of an earlier revision next to the current one.

    .venv/bin/python benchmarks/batchnorm_revisions.py                      # float32, before the stability fix
    .venv/bin/python benchmarks/batchnorm_revisions.py --before HEAD~3 --dtype float64 --repeat 11

Issue 23 asks that float32 batch norm be no slower than before the fix that sums its
statistics around the first sample (commit 4b5f505, "low-precision statistics summed
wider"). The earlier cs231n_bn/batchnorm.py is read from git (`git show REV:path`) and
loaded as a module of its own; both versions then run on the same seeded batches, the cases
interleaved round by round in this one process (cs231n_bn.benchmark.interleaved_medians).
"""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from cs231n_bn import batchnorm, benchmark
from cs231n_bn.benchmark import machine_description, markdown_table
from cs231n_bn.threads import limit_blas_threads

BEFORE_STABILITY_FIX = "4b5f505^"  # the parent of the commit that shifted float32 sums
# (N, D, memory order): the last four are the convnet's two spatial batch norms, as plain
# (N*H*W, C) rows and as the column-major view spatial_batchnorm_forward passes
SIZES = ((4096, 1024, "C"), (16384, 256, "C"), (51200, 32, "C"), (12800, 32, "C"), (51200, 32, "F"), (12800, 32, "F"))


def module_at(revision):
    """cs231n_bn/batchnorm.py as it was at `revision`, loaded as a separate module."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{revision}:cs231n_bn/batchnorm.py"], cwd=root, check=True,
                            capture_output=True, text=True).stdout
    name = f"batchnorm_at_{revision.replace('^', '_parent').replace('~', '_')}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{revision}:cs231n_bn/batchnorm.py", "exec"), module.__dict__)
    sys.modules[name] = module  # dataclasses look their module up by name
    return module


def step(module, x, gamma, beta, dout):
    """A no-argument function: one forward pass in train mode and the closed-form backward."""

    def run():
        _, cache = module.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        return module.batchnorm_backward_alt(dout, cache)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_STABILITY_FIX, help="git revision to compare with")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds each case lasts per round, at least")
    args = parser.parse_args()
    # one thread: the float32 dot products of the current version's column-major sums run in
    # BLAS (batchnorm.column_sums), and neither version shares its blocks among threads
    limit_blas_threads(1)
    earlier = module_at(args.before)
    print(machine_description())
    print(f"{args.dtype}; forward (train) + batchnorm_backward_alt; {args.repeat} interleaved rounds of >= "
          f"{args.min_time} s per case; before = {args.before}, now = the working tree\n", flush=True)
    cases = {}
    for N, D, order in SIZES:
        x, gamma, beta, dout = benchmark.batchnorm_inputs(N, D, np.dtype(args.dtype))
        x, dout = np.asarray(x, order=order), np.asarray(dout, order=order)
        cases[("before", N, D, order)] = step(earlier, x, gamma, beta, dout)
        cases[("now", N, D, order)] = step(batchnorm, x, gamma, beta, dout)
    medians = benchmark.interleaved_medians(cases, args.repeat, args.min_time)
    rows = []
    for N, D, order in SIZES:
        before, now = medians[("before", N, D, order)], medians[("now", N, D, order)]
        layout = "rows" if order == "C" else "columns (spatial)"
        rows.append([f"{N} x {D}", layout, f"{before * 1e3:.3g}", f"{now * 1e3:.3g}", f"{now / before:.2f}"])
    print(markdown_table(["N x D", "contiguous", "before (ms)", "now (ms)", "now / before"], rows))
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
