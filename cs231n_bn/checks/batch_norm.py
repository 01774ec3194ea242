"""Checks of batch norm's exercises: batchnorm_forward, batchnorm_backward, batchnorm_backward_alt.

Also the running statistics and the test mode, shared with spatial batch norm.
"""

import numpy as np

from cs231n_bn.checks.backward import check_backward
from cs231n_bn.checks.core import CheckFailed, call, matches, package_function, require_array, require_unchanged, unpack
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (
    DEFAULT_EPS,
    EPS,
    bn_layout,
    check_cache_fields,
    diagnose_normalized,
    grouped_input,
    params,
    smooth_input,
)


def forward_call(exercise, where, fn, *args):
    """(out, cache) from a forward pass, or CheckFailed saying what came back instead."""
    out, cache = unpack(exercise, where, call(exercise, where, fn, *args), ("out", "cache"))
    if isinstance(cache, np.ndarray) and not isinstance(out, np.ndarray):
        raise CheckFailed(f"{where} returned (cache, out): the order is (out, cache)", exercise, "return order")
    return out, cache


def _check_running_update(exercise, where, bn_param, old_mean, old_var, batch_mean, batch_var, momentum, n,
                          out_stats=None):
    """bn_param after one training step must hold momentum * old + (1 - momentum) * batch."""
    keep, new = momentum, 1.0 - momentum
    for key, old, batch in (("running_mean", old_mean, batch_mean), ("running_var", old_var, batch_var)):
        got = bn_param.get(key)
        if got is None or (isinstance(got, np.ndarray) and got.shape == old.shape and np.array_equal(got, old)):
            raise CheckFailed(
                f"{where}: running statistics not written back: after a training step "
                f"bn_param['{key}'] still holds its old value", exercise, "not written back",
            )
        if not isinstance(got, np.ndarray) or got.shape != old.shape:
            raise CheckFailed(
                f"{where}: bn_param['{key}'] must be an array of shape {old.shape} (one value "
                f"per feature); got {getattr(got, 'shape', type(got).__name__)}", exercise, "running shape",
            )
        if matches(got, keep * old + new * batch):
            continue
        mistakes = [
            (new * old + keep * batch,
             f"bn_param['{key}'] weighs the old value by 1 - momentum and the batch by momentum: "
             f"the momentum convention is reversed. In this course momentum is the weight kept "
             f"on the OLD value (PyTorch's momentum=0.1 is the opposite convention)", "momentum reversed"),
            (batch, f"bn_param['{key}'] holds the batch statistic itself, not a running average of it",
             "replaced"),
            (keep * old, f"bn_param['{key}'] is only momentum * old: the batch's share is missing",
             "batch share missing"),
        ]
        if key == "running_var":
            mistakes += [
                (keep * old + new * batch * n / (n - 1),
                 f"running_var averages the unbiased variance (n/(n-1) times the biased one, n = {n}); "
                 f"the running average is of the same biased variance the training step "
                 f"normalizes with", "unbiased running var"),
                (keep * old + new * np.sqrt(batch),
                 "running_var averages the standard deviation, not the variance", "running std"),
                (keep * old + new * (batch + EPS),
                 "running_var averages var + eps, not the variance: eps is added again in test mode",
                 "running var eps"),
            ]
        for wrong, message, topic in mistakes:
            if matches(got, wrong):
                raise CheckFailed(f"{where}: {message}", exercise, topic)
        if out_stats is not None and matches(got, keep * old + new * out_stats[key]):
            raise CheckFailed(f"{where}: bn_param['{key}'] averages the statistic of the layer's OUTPUT, "
                              f"not of its input x", exercise, "running of output")
        raise CheckFailed(
            f"{where}: bn_param['{key}'] after one training step is not momentum * old + "
            f"(1 - momentum) * batch statistic (momentum={momentum:g}), nor one of the usual "
            f"mistakes (convention reversed, batch value stored, unbiased or std averaged)",
            exercise, "running unexplained",
        )


def _check_running_start(exercise, where, bn_param, batch_mean, batch_var, momentum):
    """Without running statistics in bn_param, they start at zeros (CS231n's convention)."""
    for key, batch in (("running_mean", batch_mean), ("running_var", batch_var)):
        got = bn_param.get(key)
        if got is None:
            raise CheckFailed(
                f"{where}: running statistics not written back: bn_param has no '{key}' after a "
                f"training step", exercise, "not written back",
            )
        if matches(got, (1.0 - momentum) * batch):
            continue
        if matches(got, momentum + (1.0 - momentum) * batch):
            message = f"bn_param['{key}'] started at ones; without a stored value it starts at zeros"
        elif matches(got, batch):
            message = (f"bn_param['{key}'] started from the first batch's statistic; without a "
                       f"stored value it starts at zeros")
        elif isinstance(got, np.ndarray) and got.shape == batch.shape and np.allclose(
                got / batch, (got / batch).flat[0], rtol=1e-6):
            used = 1 - float((got / batch).flat[0])
            message = (f"with no momentum in bn_param the update used momentum {used:.6g}; the "
                       f"documented default is {momentum:g}")
        else:
            message = (f"starting from an empty bn_param (default momentum {momentum:g}), "
                       f"bn_param['{key}'] after one step is not (1 - momentum) * batch statistic, "
                       f"which is what a start at zeros gives")
        raise CheckFailed(f"{where}: {message}", exercise, "running start")


def check_test_mode(exercise, where, layout, fn, x, gamma, beta, running_mean, running_var, eps):
    """Test mode: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, per row."""
    bn_param = {"mode": "test", "eps": eps, "running_mean": running_mean.copy(),
                "running_var": running_var.copy()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, bn_param)
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out (test mode)", out, x.shape)
    for key, before in (("running_mean", running_mean), ("running_var", running_var)):
        after = bn_param.get(key)
        if not isinstance(after, np.ndarray) or not np.array_equal(after, before):
            raise CheckFailed(
                f"{where}: test mode changed bn_param['{key}']; only training updates the "
                f"running statistics", exercise, "test mode updates",
            )
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    groups = layout.to_groups(xhat)
    if np.all(np.abs(groups.mean(axis=1)) < 1e-8 * max(1.0, float(np.max(np.abs(groups))))):
        batch_centred = layout.to_groups(x) - layout.to_groups(x).mean(axis=1, keepdims=True)
        if matches(groups, batch_centred / np.sqrt(layout.to_groups(x).var(axis=1, keepdims=True) + eps)):
            message = ("test mode uses batch statistics: its output is normalized with the mean and "
                       "variance of the test batch")
        else:
            message = "test mode subtracts the batch's mean (the output has mean beta in every batch)"
        raise CheckFailed(f"{where}: {message}, so a sample's output depends on the rest of the batch",
                          exercise, "test uses batch")
    centred = layout.to_groups(x) - layout.to_groups(np.broadcast_to(layout.param_view(running_mean), x.shape))
    ok = (1.0 / np.sqrt(running_var + eps))[:, None] * centred
    mistakes = (
        ((1.0 / np.sqrt(running_var))[:, None] * centred, "eps is missing in test mode"),
        ((1.0 / (np.sqrt(running_var) + eps))[:, None] * centred, "eps is outside the square root in test mode"),
        ((1.0 / (running_var + eps))[:, None] * centred, "the square root is missing in test mode"),
        ((1.0 / np.sqrt(running_var + eps))[:, None] * layout.to_groups(x),
         "test mode does not subtract running_mean"),
        (centred, "test mode does not divide by the running standard deviation"),
        ((1.0 / np.sqrt(layout.to_groups(x).var(axis=1) + eps))[:, None] * centred,
         "test mode subtracts running_mean but divides by the batch's standard deviation"),
    )
    plain = layout.from_groups(ok)
    if matches(out, plain, 1e-9):
        raise CheckFailed(f"{where}: test mode normalizes with the running statistics but does not "
                          f"apply gamma and beta", exercise, "test gamma beta")
    if matches(groups, ok):
        return cache
    for wrong, message in mistakes:
        if matches(groups, wrong):
            raise CheckFailed(f"{where}: {message}", exercise, message)
    raise CheckFailed(
        f"{where}: in test mode each feature should be gamma * (x - running_mean) / "
        f"sqrt(running_var + eps) + beta, a fixed affine map that gives beta at x = "
        f"running_mean; yours gives something else", exercise, "test unexplained",
    )


def verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, momentum, n, cache_check=None):
    """The training step, the zero start and the test mode of batch norm or spatial batch norm."""
    groups_x = layout.to_groups(x)
    batch_mean = groups_x.mean(axis=1)
    batch_var = np.mean((groups_x - batch_mean[:, None]) ** 2, axis=1)
    rng = np.random.default_rng(7)
    old_mean = rng.normal(size=batch_mean.shape)
    old_var = rng.uniform(0.5, 2.0, size=batch_mean.shape)

    bn_param = {"mode": "train", "eps": EPS, "momentum": momentum,
                "running_mean": old_mean.copy(), "running_var": old_var.copy()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, bn_param)
    require_unchanged(exercise, where, originals)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x")
    if np.shares_memory(out, x):
        raise CheckFailed(f"{where}: out shares memory with x: x was overwritten in place",
                          exercise, "in place")
    new_mean, new_var = momentum * old_mean + (1 - momentum) * batch_mean, momentum * old_var + (1 - momentum) * batch_var
    for mean, var, which in ((old_mean, old_var, "before"), (new_mean, new_var, "after")):
        view = layout.param_view
        by_running = view(gamma) * (x - view(mean)) / np.sqrt(view(var) + EPS) + view(beta)
        if matches(out, by_running, 1e-9):
            raise CheckFailed(
                f"{where}: train mode normalizes with the running statistics (as they are {which} "
                f"this step's update) instead of the batch's mean and variance", exercise, "train uses running",
            )
    diagnose_normalized(exercise, where, layout, x, out, gamma, beta, EPS)
    out_groups = layout.to_groups(out)
    out_stats = {"running_mean": out_groups.mean(axis=1), "running_var": out_groups.var(axis=1)}
    _check_running_update(exercise, where, bn_param, old_mean, old_var, batch_mean, batch_var, momentum, n,
                          out_stats)
    if cache_check is not None:
        cache_check(cache, x, gamma, out, "train", EPS)

    fresh = {"mode": "train"}
    x_default = grouped_input(np.random.default_rng(11), layout, groups_x.shape, DEFAULT_EPS)
    out, _ = forward_call(exercise, where, fn, x_default, gamma, beta, fresh)
    require_array(exercise, where, "out", out, x.shape)
    diagnose_normalized(exercise, where, layout, x_default, out, gamma, beta, DEFAULT_EPS)
    g = layout.to_groups(x_default)
    default_mean = g.mean(axis=1)
    _check_running_start(exercise, where, fresh, default_mean,
                         np.mean((g - default_mean[:, None]) ** 2, axis=1), 0.9)

    running_var = old_var.copy()
    running_var[0] = EPS  # a running variance as small as eps exposes a misplaced eps
    cache = check_test_mode(exercise, where, layout, fn, x, gamma, beta, old_mean, running_var, EPS)
    if cache_check is not None:
        cache_check(cache, x, gamma, None, "test", EPS, old_mean, running_var)


def _bn_cache_check(exercise, where):
    from cs231n_bn.batchnorm import BatchNormCache

    def cache_check(cache, x, gamma, out, mode, eps, running_mean=None, running_var=None):
        # in test mode the statistics are the running ones
        mu, var = (running_mean, running_var) if mode == "test" else (x.mean(axis=0), x.var(axis=0))
        xmu = x - mu
        std = (var + eps) ** 0.5
        expected = {"mode": mode, "x": x, "mu": mu, "xmu": xmu, "var": var, "sqrtvar": std,
                    "ivar": 1 / std, "xhat": xmu / std, "gamma": gamma, "eps": eps}
        others = {"the standard deviation sqrt(var + eps) (sqrtvar)": std,
                  "1 / sqrt(var + eps) (ivar)": 1 / std,
                  "the variance (var)": var, "var + eps": var + eps,
                  "the unbiased variance": x.var(axis=0, ddof=1) if mode == "train" else var * np.nan,
                  "x - mu (xmu)": xmu, "xhat": xmu / std, "the input x": x, "mu": mu,
                  "1 / (var + eps)": 1 / (var + eps), "sqrt(var) without eps": np.sqrt(var),
                  "1 / sqrt(var) without eps": 1 / np.sqrt(var), "gamma * xhat (gammax)": gamma * xmu / std}
        if out is not None:
            others["the layer's output out"] = out
        check_cache_fields(exercise, f"{where} ({mode} mode)", cache, BatchNormCache, expected, others)

    return cache_check


def _verify_batchnorm_forward(fn):
    exercise = where = "batchnorm_forward"
    N, D = 8, 5
    rng = np.random.default_rng(0)
    layout = bn_layout(N, D)
    x = grouped_input(rng, layout, (D, N), EPS)
    gamma, beta = params(rng, (D,))
    verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, 0.7, N, _bn_cache_check(exercise, where))


def check_batchnorm_forward(batchnorm_forward=None):
    """Check a batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache).

    Train mode: per-feature normalization with the biased batch variance and eps inside
    the square root, gamma and beta applied, running averages with CS231n's momentum
    convention written back into bn_param (starting from zeros), and a BatchNormCache
    whose every field holds what its name says. Test mode: the running statistics, row
    by row. Inputs never modified.
    """
    fn = batchnorm_forward or package_function("batchnorm", "batchnorm_forward")
    _verify_batchnorm_forward(fn)
    passed("batchnorm_forward", "train mode, running averages, cache and test mode are right")


def needs_forward(exercise, where, forward_name, verify, forward):
    """Run a forward check quietly; a backward pass cannot be judged on a broken forward."""
    try:
        verify(forward)
    except CheckFailed as err:
        raise CheckFailed(
            f"{where} cannot be checked until {forward_name} passes its check (the numeric "
            f"gradient differentiates your forward pass, and the cache comes from it). "
            f"{err.message}", forward_name, "forward first",
        ) from err


def backward_inputs(seed, shape, channels):
    """Seeded x, gamma, beta, dout for a gradient check: off-centre x, gamma far from 1."""
    rng = np.random.default_rng(seed)
    x = smooth_input(rng, shape)
    gamma, beta = params(rng, (channels,))
    return x, gamma, beta, rng.normal(size=shape)


def run_backward_check(exercise, style, backward, forward, verify, layout, inputs, forward_args):
    """Check `backward` against numeric gradients of `forward`, which must pass `verify` first.

    forward_args: the arguments after (x, gamma, beta), e.g. ({"mode": "train", "eps": EPS},).
    """
    needs_forward(exercise, exercise, verify.__name__.replace("_verify_", ""), verify, forward)
    x, gamma, beta, dout = inputs
    check_backward(exercise, exercise, style, backward, lambda x_, g_, b_: forward(x_, g_, b_, *forward_args),
                   layout, x, gamma, beta, dout, EPS)
    gradients_passed(exercise)


def _check_bn_backward(exercise, style, backward, forward):
    forward = forward or package_function("batchnorm", "batchnorm_forward")
    N, D = 6, 4
    run_backward_check(exercise, style, backward, forward, _verify_batchnorm_forward, bn_layout(N, D),
                       backward_inputs(1, (N, D), D), ({"mode": "train", "eps": EPS},))


def gradients_passed(name):
    passed(name, "dx, dgamma and dbeta match numeric gradients (relative error < 1e-07)")


def check_batchnorm_backward(batchnorm_backward=None, forward=None):
    """Check a staged batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) numerically.

    The cache comes from `forward` (default: the package's batchnorm_forward), which must
    pass check_batchnorm_forward first.
    """
    fn = batchnorm_backward or package_function("batchnorm", "batchnorm_backward")
    _check_bn_backward("batchnorm_backward", "staged", fn, forward)


def check_batchnorm_backward_alt(batchnorm_backward_alt=None, forward=None):
    """Check the closed-form batchnorm_backward_alt(dout, cache) numerically."""
    fn = batchnorm_backward_alt or package_function("batchnorm", "batchnorm_backward_alt")
    _check_bn_backward("batchnorm_backward_alt", "closed", fn, forward)
