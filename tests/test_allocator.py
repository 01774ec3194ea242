import platform
import subprocess
import sys

import pytest

from cs231n_bn import allocator


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_both_settings():
    # in a process of its own: the setting lasts as long as the process
    code = "from cs231n_bn.allocator import keep_freed_memory; print(keep_freed_memory())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_without_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(allocator, "_mallopt", lambda: None)
    assert allocator.keep_freed_memory() is False


def test_a_setting_glibc_refuses_is_reported(monkeypatch):
    calls = []
    monkeypatch.setattr(allocator, "_mallopt", lambda: lambda param, value: calls.append((param, value)) or 0)
    assert allocator.keep_freed_memory() is False
    assert calls[0] == (allocator._M_MMAP_THRESHOLD, allocator.MMAP_THRESHOLD)


STEP_FAULTS = """
import resource, sys
import numpy as np
from cs231n_bn.cnn import SmallConvNet
from cs231n_bn.solver import Solver
rng = np.random.default_rng(0)
X, y = rng.normal(size=(100, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 100)
model = SmallConvNet(input_dim=(3, 32, 32), num_filters=16, normalization="batchnorm", dtype=np.float32)
if sys.argv[1] == "solver":
    Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, batch_size=50, num_epochs=1,
           verbose=False).train()
else:
    for _ in range(2):
        model.loss(X[:50], y[:50])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    model.loss(X[:50], y[:50])
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_after_training_with_the_solver_a_step_reuses_the_memory_of_the_step_before():
    def faults_per_step(how):
        result = subprocess.run([sys.executable, "-c", STEP_FAULTS, how], capture_output=True, text=True, check=True)
        return float(result.stdout)

    # A step of 50 CIFAR-10-sized images makes arrays of megabytes: with glibc as the process
    # starts, they are new pages every step (thousands of faults); after Solver.train, the
    # heap the steps before freed.
    assert faults_per_step("plain") > 1000
    assert faults_per_step("solver") < 50
