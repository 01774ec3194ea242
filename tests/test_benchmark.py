"""The timing machinery, tested with a fake clock: no test here depends on how fast anything runs."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn import benchmark
from cs231n_bn.benchmark import (
    CASES,
    batchnorm_inputs,
    bench_batchnorm,
    median_seconds,
    ratios,
    time_rounds,
)


class FakeClock:
    """A clock that only moves when the timed function runs, by a scripted amount per call."""

    def __init__(self, costs):
        self.now = 0.0
        self.costs = iter(costs)
        self.calls = 0

    def __call__(self):
        return self.now

    def work(self):
        self.calls += 1
        self.now += next(self.costs)


def test_rounds_are_long_enough_and_calls_are_counted():
    clock = FakeClock(costs=[0.01] * 1000)
    rounds = time_rounds(clock.work, repeat=3, min_time=0.05, timer=clock)
    # 1 call lasts 0.01, 2 calls 0.02, 5 calls 0.05 >= min_time: rounds of 5 calls
    assert rounds.number == 5
    assert rounds.calibration_calls == 1 + 2 + 5
    assert clock.calls == rounds.calibration_calls + 3 * rounds.number
    assert len(rounds.seconds_per_call) == 3
    assert rounds.seconds_per_call == pytest.approx((0.01, 0.01, 0.01))


def test_a_slow_function_is_called_once_per_round():
    clock = FakeClock(costs=[1.0] * 100)
    rounds = time_rounds(clock.work, repeat=4, min_time=0.05, timer=clock)
    assert rounds.number == 1
    assert clock.calls == 1 + 4


def test_median_ignores_one_disturbed_round():
    # calibration: 1 call (0.1 s) is long enough; then rounds of 1 call each
    costs = [0.1, 0.1, 0.1, 5.0, 0.1, 0.1]
    clock = FakeClock(costs)
    assert median_seconds(clock.work, repeat=5, min_time=0.05, timer=clock) == pytest.approx(0.1)
    assert clock.calls == 6


def test_median_of_a_real_function_is_positive():
    assert median_seconds(lambda: sum(range(100)), repeat=3, min_time=1e-3) > 0


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"fn": 3}, ["fn", "callable", "int"]),
        ({"fn": print, "repeat": 0}, ["repeat", ">= 1", "0"]),
        ({"fn": print, "repeat": 2.5}, ["repeat", "integer", "2.5"]),
        ({"fn": print, "min_time": 0}, ["min_time", "> 0", "0"]),
    ],
)
def test_time_rounds_rejects_bad_arguments(kwargs, words):
    with pytest.raises((TypeError, ValueError)) as info:
        time_rounds(**kwargs)
    message = str(info.value)
    assert message.startswith("time_rounds: ")
    for word in words:
        assert word in message


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_seeded_and_typed(dtype):
    a = batchnorm_inputs(5, 3, dtype, seed=1)
    b = batchnorm_inputs(5, 3, dtype, seed=1)
    assert [t.shape for t in a] == [(5, 3), (3,), (3,), (5, 3)]
    assert all(t.dtype == dtype for t in a)
    for s, t in zip(a, b):
        np.testing.assert_array_equal(s, t)
    assert not np.array_equal(a[0], batchnorm_inputs(5, 3, dtype, seed=2)[0])


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((0, 3), ValueError, ["N", ">= 1", "0"]),
        ((4, 2.0), ValueError, ["D", "integer", "2.0"]),
        ((4, 3, np.int64), TypeError, ["dtype", "floating", "int64"]),
    ],
)
def test_inputs_reject_bad_sizes(args, error, words):
    with pytest.raises(error) as info:
        batchnorm_inputs(*args)
    assert all(word in str(info.value) for word in words)


def test_bench_times_every_case_and_the_ratios_follow():
    medians = bench_batchnorm(16, 4, repeat=2, min_time=1e-4)
    expected = set(CASES) if benchmark.torch is not None else set(CASES) - {"torch_forward+backward"}
    assert set(medians) == expected
    assert all(seconds > 0 for seconds in medians.values())
    r = ratios(medians)
    assert r["staged/simplified"] == medians["staged_backward"] / medians["simplified_backward"]
    assert r["forward/copy"] == medians["forward"] / medians["copy"]
    assert "copy/copy" not in r
    assert ("ours/torch" in r) == ("torch_forward+backward" in medians)


def test_bench_without_torch_leaves_its_case_out(monkeypatch):
    monkeypatch.setattr(benchmark, "torch", None)
    medians = bench_batchnorm(8, 3, dtype=np.float32, repeat=1, min_time=1e-4)
    assert "torch_forward+backward" not in medians
    assert "ours/torch" not in ratios(medians)


def test_bench_restores_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    bench_batchnorm(8, 3, repeat=1, min_time=1e-4, torch_threads=1)
    assert torch.get_num_threads() == before


def test_torch_step_computes_the_same_gradients_as_ours():
    """The PyTorch case times the same work as ours, not something cheaper."""
    pytest.importorskip("torch")
    from cs231n_bn.batchnorm import batchnorm_backward_alt, batchnorm_forward

    x, gamma, beta, dout = batchnorm_inputs(6, 4, seed=3)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    ours = batchnorm_backward_alt(dout, cache)
    theirs = benchmark._torch_step(x, gamma, beta, dout)()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-10, atol=1e-12)


def test_the_command_prints_both_tables():
    """benchmarks/run.py end to end on a tiny size: one fresh process per size, Markdown out."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    result = subprocess.run(
        [sys.executable, str(script), "--sizes", "8x3", "--dtypes", "float32", "--repeat", "1",
         "--min-time", "0.0001"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    lines = result.stdout.splitlines()
    assert "Median milliseconds per call" in lines and "Ratios of medians" in lines
    rows = [line for line in lines if line.startswith("| float32 | 8 | 3 |")]
    assert len(rows) == 2, result.stdout
    # a median row: copy, forward, staged, simplified, ours fwd+bwd, torch (or "-")
    cells = [c.strip() for c in rows[0].strip("|").split("|")][3:]
    assert len(cells) == 6 and all(float(c) > 0 for c in cells[:5])


def test_the_solver_benchmark_prints_time_and_page_faults_per_step():
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "solver_step.py"
    result = subprocess.run([sys.executable, str(script), "--threads", "1", "--epochs", "1"],
                            capture_output=True, text=True, timeout=300, check=True)
    last = result.stdout.splitlines()[-1]
    match = re.fullmatch(r"40 steps of 50 images: ([0-9.]+) ms and ([0-9,]+) minor page faults per step", last)
    assert match, result.stdout
    assert float(match[1]) > 0


def test_interleaved_rounds_time_every_case_in_turn():
    """Each round visits every case once, so a slow stretch of the clock hits all cases alike."""
    clock = FakeClock(costs=[0.0] * 0)
    order = []

    def case(name, cost):
        def fn():
            order.append(name)
            clock.now += cost
        return fn

    medians = benchmark.interleaved_medians(
        {"a": case("a", 0.1), "b": case("b", 0.3)}, repeat=3, min_time=0.05, timer=clock
    )
    assert medians == pytest.approx({"a": 0.1, "b": 0.3})
    # calibration: one call each (0.1 and 0.3 s last min_time); then a, b, a, b, a, b
    assert order == ["a", "b"] + ["a", "b"] * 3


def test_interleaved_median_ignores_one_disturbed_round():
    costs = iter([0.1, 0.1, 9.0, 0.1, 0.1])  # calibration, then five rounds, the second slow
    clock = FakeClock(costs=[])

    def fn():
        clock.now += next(costs)

    assert benchmark.interleaved_medians({"only": fn}, repeat=4, min_time=0.05, timer=clock) == {"only": pytest.approx(0.1)}


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"cases": {}}, TypeError, r"cases must be a non-empty dict"),
        ({"cases": {"x": 3}}, TypeError, r"case 'x' must be callable with no arguments; got int"),
        ({"cases": {"x": print}, "repeat": 0}, ValueError, r"repeat must be an integer >= 1; got 0"),
        ({"cases": {"x": print}, "min_time": -1}, ValueError, r"min_time must be a finite number > 0; got -1"),
    ],
)
def test_interleaved_medians_rejects_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=r"^interleaved_medians: " + pattern):
        benchmark.interleaved_medians(**kwargs)


SMALL_CONVNET = {"N": 4, "input_dim": (3, 8, 8), "num_filters": 4}


def test_bench_convnet_times_the_step_and_every_layer_of_every_block():
    medians = benchmark.bench_convnet(**SMALL_CONVNET, repeat=1, min_time=1e-4)
    expected = {"step"} | {f"block {i} {layer}" for i in (1, 2) for layer in benchmark.CONVNET_LAYERS}
    assert set(medians) == expected
    for ours, theirs in medians.values():
        assert ours > 0 and (theirs is None if benchmark.torch is None else theirs > 0)


def test_torch_convnet_step_computes_our_loss_and_gradients():
    """The PyTorch step times the same network with the same weights, not something cheaper."""
    pytest.importorskip("torch")
    model, X, y = benchmark.convnet_inputs(**SMALL_CONVNET, dtype=np.float64, seed=2)
    model.reg = 0.1
    loss, grads = model.loss(X, y)
    torch_loss, torch_grads = benchmark._torch_convnet_step(model, X, y)()
    assert torch_loss.item() == pytest.approx(loss, rel=1e-12)
    assert set(torch_grads) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(torch_grads[name].numpy(), g, rtol=1e-9, atol=1e-12, err_msg=name)


def test_torch_layer_cases_compute_what_ours_compute():
    pytest.importorskip("torch")
    model, X, _ = benchmark.convnet_inputs(**SMALL_CONVNET, dtype=np.float64, seed=4)
    cases = benchmark._layer_cases(model, X, np.random.default_rng(0))
    for name, (ours, theirs) in cases.items():
        a, b = ours(), theirs()
        a = a if isinstance(a, tuple) else (a,)
        b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
        if name.endswith("forward"):  # (out, cache) against out or (out, saved tensors...)
            a, b = a[:1], b[:1]
        assert len(a) == len(b), name
        for ours_part, theirs_part in zip(a, b):
            np.testing.assert_allclose(theirs_part.numpy(), ours_part, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("flags, widest", [
    ("fpu sse2 avx avx2 fma avx512f avx512bw", "AVX-512"),
    ("fpu sse2 avx avx2 fma", "AVX2"),
    ("fpu sse2 avx", "AVX"),
    ("fpu sse2 sse4_2", "no AVX"),
])
def test_the_cpu_is_named_with_its_widest_vector_instructions(flags, widest):
    # so that a reader can hold it against the BLAS kernel the benchmark names
    text = f"processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
    assert benchmark.cpu_from_cpuinfo(text) == f"Some CPU 9000 ({widest})"
