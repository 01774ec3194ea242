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
