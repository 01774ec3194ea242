"""A check fails exercise code that calls a module of checks.core.OFF_LIMITS.

PyTorch's autograd gives a backward pass's exact gradients, and the graph module notebook
1's forward pass, which no tolerance can tell from the student's own; so the checks watch
what the code under test calls instead. These tests hand the checks answers that are right
to the last digit but come from those modules, and answers that only import them.
"""

import threading

import numpy as np
import pytest

from cs231n_bn import batchnorm, checks, graph, torch_stats
from cs231n_bn.checks import core

torch = pytest.importorskip("torch")


def autograd_backward(dout, cache):
    """batchnorm_backward by PyTorch's autograd, from the cache's x, gamma and eps."""
    x = torch.from_numpy(cache.x).requires_grad_()
    gamma = torch.from_numpy(np.asarray(cache.gamma, dtype=cache.x.dtype)).requires_grad_()
    beta = torch.zeros_like(gamma, requires_grad=True)
    out = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=cache.eps)
    out.backward(torch.from_numpy(dout))
    return x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()


def test_an_autograd_backward_is_right_and_fails_naming_torch():
    # the control: its gradients are right, so only the watch can fail it
    x = np.random.default_rng(0).normal(size=(8, 3))
    out, cache = batchnorm.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    dout = np.random.default_rng(1).normal(size=out.shape)
    for got, right in zip(autograd_backward(dout, cache), batchnorm.batchnorm_backward(dout, cache)):
        assert np.allclose(got, right, rtol=1e-10, atol=1e-12)
    with pytest.raises(checks.CheckFailed, match=r"batchnorm_backward called torch: the exercises are written in "
                                                  r"NumPy"):
        checks.check_batchnorm_backward(autograd_backward)


def test_a_forward_pass_that_takes_one_step_through_torch_fails():
    def forward(x, gamma, beta, bn_param):
        out, cache = batchnorm.batchnorm_forward(x, gamma, beta, bn_param)
        return torch.from_numpy(out).numpy(), cache

    with pytest.raises(checks.CheckFailed, match="batchnorm_forward called torch"):
        checks.check_batchnorm_forward(forward)


def test_torch_running_var_by_way_of_a_torch_layer_fails():
    def by_a_layer(running_var, N, k, momentum):
        torch.nn.BatchNorm1d(len(running_var))
        return torch_stats.torch_running_var(running_var, N, k, momentum)

    with pytest.raises(checks.CheckFailed, match="torch_running_var called torch"):
        checks.check_torch_running_var(by_a_layer)


def test_a_forward_pass_read_off_the_graph_module_fails():
    def forward(x, gamma, beta, bn_param):
        eps = bn_param.get("eps", 1e-5)
        values = graph.forward_values(x, gamma, beta, eps)
        _, cache = batchnorm.batchnorm_forward(x, gamma, beta, bn_param)
        return values["out"].astype(x.dtype), cache

    with pytest.raises(checks.CheckFailed, match=r"batchnorm_forward called cs231n_bn.graph, which evaluates and "
                                                  r"differentiates notebook 1's graph"):
        checks.check_batchnorm_forward(forward)


def test_importing_torch_is_not_calling_it():
    def backward(dout, cache):
        import torch  # noqa: F401  (imported, never used)
        return batchnorm.batchnorm_backward(dout, cache)

    checks.check_batchnorm_backward(backward)


def test_torch_called_from_a_thread_the_code_starts_fails():
    def backward(dout, cache):
        worker = threading.Thread(target=torch.zeros, args=(1,))
        worker.start()
        worker.join()
        return batchnorm.batchnorm_backward(dout, cache)

    with pytest.raises(checks.CheckFailed, match="batchnorm_backward called torch"):
        checks.check_batchnorm_backward(backward)


def test_code_that_switches_the_watch_off_fails():
    def backward(dout, cache):
        import sys
        sys.setprofile(None)
        return batchnorm.batchnorm_backward(dout, cache)

    with pytest.raises(checks.CheckFailed, match=r"replaced the check's profiler \(sys.setprofile\)"):
        checks.check_batchnorm_backward(backward)


def test_the_watch_leaves_the_profiler_it_found():
    def outer(frame, event, arg):
        return None

    import sys
    sys.setprofile(outer)
    try:
        checks.check_batchnorm_backward()
        assert sys.getprofile() is outer
    finally:
        sys.setprofile(None)


def test_a_framework_exercise_may_call_its_framework():
    assert core.call("keras_convnet", "keras_convnet", torch.zeros, 2).shape == (2,)
    with pytest.raises(checks.CheckFailed, match="called torch"):
        core.call("two_layer_loss", "two_layer_loss", torch.zeros, 2)


def test_switching_the_watch_off_and_on_again_fails():
    def backward(dout, cache):
        import sys
        watch = sys.getprofile()
        sys.setprofile(None)
        torch.zeros(1)
        sys.setprofile(watch)
        return batchnorm.batchnorm_backward(dout, cache)

    with pytest.raises(checks.CheckFailed, match=r"replaced the check's profiler"):
        checks.check_batchnorm_backward(backward)


def test_torch_reached_through_a_tensors_methods_alone_fails():
    made_before = torch.zeros(1, dtype=torch.float64)

    def backward(dout, cache):
        made_before.new_tensor(dout).sum()  # methods of a C type, no function of torch's modules
        return batchnorm.batchnorm_backward(dout, cache)

    with pytest.raises(checks.CheckFailed, match="batchnorm_backward called torch"):
        checks.check_batchnorm_backward(backward)


def test_code_run_under_a_frameworks_name_is_still_watched():
    source = "def zeros(n):\n    return torch.zeros(n)\n"
    disguised = {"__name__": "torch", "torch": torch}
    exec(compile(source, "<disguised>", "exec"), disguised)

    def backward(dout, cache):
        disguised["zeros"](1)
        return batchnorm.batchnorm_backward(dout, cache)

    with pytest.raises(checks.CheckFailed, match="batchnorm_backward called torch"):
        checks.check_batchnorm_backward(backward)


def test_a_check_run_under_cprofile_passes_and_leaves_cprofile_running():
    import cProfile
    import sys
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        checks.check_batchnorm_backward()
        assert sys.getprofile() is profiler
    finally:
        profiler.disable()
