"""Time and weigh loading all of CIFAR-10 as float32, on a synthetic archive of the real size.

    .venv/bin/python benchmarks/cifar10_load.py              # 5 loads, medians
    .venv/bin/python benchmarks/cifar10_load.py --repeat 9

Builds, in a temporary folder, an archive in the real layout with full-size batches (five
data batches and a test batch of 10,000 x 3072 uint8 images each, labels, batches.meta;
cs231n_bn.data.synthetic), extracts it with extract_cifar10, then loads the whole set
(49,000 training, 1,000 validation, 10,000 test images, float32, mean subtracted) with
get_cifar10_data, each time in a fresh Python process:

- load seconds: get_cifar10_data alone, timed inside the child with perf_counter, and
  the CPU seconds (user + system, getrusage) it used: on a machine shared with other
  work the wall time includes waiting for a core, the CPU time does not;
- process seconds: the child from start to exit (interpreter, imports, load), timed by the
  parent;
- peak RSS: the child's maximum resident set size (getrusage's ru_maxrss), which covers
  the whole process, imports included; the RSS after the imports is reported too.

Every figure is the median over the repeats. Targets (issue #12): at most 5 s and 1.2 GB.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"num_training": 49000, "num_validation": 1000, "num_test": 10000}
TARGET_SECONDS = 5.0
TARGET_BYTES = 1.2e9


def rss_bytes():
    """This process's current resident set size, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(root):
    """Load the whole set once and print the measurements as one JSON line."""
    import numpy as np

    from cs231n_bn.data import get_cifar10_data

    after_imports = rss_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    data = get_cifar10_data(**SIZES, dtype=np.float32, root=root)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = after.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
    shapes = {key: [list(a.shape), str(a.dtype)] for key, a in data.items()}
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak": peak, "after_imports": after_imports, "shapes": shapes}))


def build(folder):
    """Write and extract the full-size synthetic archive in `folder`; return seconds taken."""
    from cs231n_bn.data import extract_cifar10
    from cs231n_bn.data.synthetic import write_archive

    start = time.perf_counter()
    archive = Path(folder) / "cifar-10-python.tar.gz"
    md5 = write_archive(archive, per_batch=10000)
    extract_cifar10(archive, folder, md5)
    archive.unlink()  # only the extracted folder is read by the loader
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="loads, each in a fresh process (default 5)")
    parser.add_argument("--child", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; got {args.repeat}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
          f"{os.cpu_count()} logical CPUs; Python {platform.python_version()}; load average "
          f"(1, 5, 15 min) at the start: {load}")
    with tempfile.TemporaryDirectory(prefix="cifar10_load_") as folder:
        print(f"synthetic archive written and extracted in {build(folder):.1f} s", flush=True)
        runs = []
        for i in range(args.repeat):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, __file__, "--child", folder],
                                    capture_output=True, text=True, check=True)
            run = json.loads(result.stdout)
            run["process"] = time.perf_counter() - start
            runs.append(run)
            print(f"run {i + 1}: load {run['seconds']:.2f} s (CPU {run['cpu']:.2f} s), process "
                  f"{run['process']:.2f} s, peak RSS {run['peak'] / 1e9:.2f} GB", flush=True)
    print("shapes and dtypes:", runs[0]["shapes"])
    keys = ("seconds", "cpu", "process", "peak", "after_imports")
    medians = {key: statistics.median(run[key] for run in runs) for key in keys}
    print(f"\nMedians over {args.repeat} fresh processes (targets: <= {TARGET_SECONDS:g} s, "
          f"<= {TARGET_BYTES / 1e9:g} GB):")
    print("| load (s) | load CPU (s) | process (s) | peak RSS (GB) | RSS after imports (GB) |")
    print("|---|---|---|---|---|")
    print(f"| {medians['seconds']:.2f} | {medians['cpu']:.2f} | {medians['process']:.2f} | "
          f"{medians['peak'] / 1e9:.2f} | {medians['after_imports'] / 1e9:.2f} |")
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print(f"memory target {verdict(medians['peak'] <= TARGET_BYTES)}; time target, by the whole "
          f"process's wall time: {verdict(medians['process'] <= TARGET_SECONDS)}; by the load's CPU "
          f"time (what the wall time comes to when no other work waits for the cores): "
          f"{verdict(medians['cpu'] <= TARGET_SECONDS)}")
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
