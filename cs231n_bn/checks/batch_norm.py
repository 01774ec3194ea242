"""Checks of batch norm's exercises: batchnorm_forward, batchnorm_backward, batchnorm_backward_alt.

Also the running statistics and the test mode, shared with spatial batch norm.
"""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.backward import check_backward, expected_gradients, expected_mistakes
from cs231n_bn.checks.core import (
    CheckFailed,
    agrees,
    call,
    matches,
    package_function,
    require_array,
    require_unchanged,
    rounding_bound,
    unpack,
)
from cs231n_bn.checks.display import passed
from cs231n_bn.checks.normalized import (
    DEFAULT_EPS,
    EPS,
    bn_layout,
    check_cache_fields,
    diagnose_normalized,
    grouped_input,
    params,
    require_settings_kept,
    smooth_input,
)

STATISTICS = ("out", "xhat", "group_mean", "group_var")
RUNNING = ("running_mean", "running_var")  # what batch norm writes into bn_param


def expected_values(function_name, whats, *inputs):
    """{what: reference value} of function_name(*inputs); dicts among inputs are copied first."""
    inputs = tuple({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in a.items()}
                   if isinstance(a, dict) else a for a in inputs)
    return {what: reference.value(f"{function_name}/{what}", function_name, *inputs) for what in whats}


def output_bound(layout, x, gamma, beta, mean, var, eps, conditioned=True):
    """Bound on |out - right out| for correct code normalizing x's groups with mean and var.

    mean, var: per group, in the layout's order. conditioned: the statistics are computed
    from x (train mode), so their rounding grows with 1 + mean^2 / var.
    """
    mean, var = np.ravel(mean)[:, None], np.ravel(var)[:, None]
    groups_x = layout.to_groups(x)
    scale = (np.abs(groups_x) + np.abs(mean)) / np.sqrt(var + eps)
    if conditioned:
        scale = scale * (1.0 + mean**2 / var)
    g_map = np.abs(np.broadcast_to(layout.param_view(gamma), x.shape))
    b_map = np.abs(np.broadcast_to(layout.param_view(beta), x.shape))
    return rounding_bound(g_map * (layout.from_groups(scale) + 1.0) + b_map)


def judge_output(exercise, where, layout, x, out, gamma, beta, eps, expected, bound, centres=None):
    """out must agree with the reference output; if not, say what is wrong with it.

    centres: {description: one value per group} of what a wrong forward pass may subtract
    from x in place of the group's mean (e.g. the running mean, in train mode).
    """
    if agrees(out, expected["out"], bound):
        return
    if np.allclose(np.sort(out, axis=None), np.sort(expected["out"], axis=None), rtol=1e-9, atol=0):
        wrong = int(np.sum(~np.isclose(out, expected["out"], rtol=1e-9, atol=0)))
        raise CheckFailed(
            f"{where}: out holds the right values, but {wrong} of {out.size} are at the wrong positions: "
            f"the statistics are right, and the way the result is put back into the shape of x "
            f"(a reshape or transpose at the end) moves entries", exercise, "positions",
        )
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    if np.allclose(np.sort(xhat, axis=None), np.sort(expected["xhat"], axis=None), rtol=1e-9, atol=1e-12):
        wrong = int(np.sum(~np.isclose(xhat, expected["xhat"], rtol=1e-9, atol=1e-12)))
        raise CheckFailed(
            f"{where}: the normalized values are right, but {wrong} of {out.size} are at the wrong "
            f"positions when gamma and beta are applied: (out - beta) / gamma holds the right normalized "
            f"values in another order, so the normalized x is put back into the shape of x (a reshape or "
            f"transpose) wrongly before the scale and shift", exercise, "positions",
        )
    diagnose_normalized(exercise, where, layout, x, out, gamma, beta, eps, expected, centres)
    k = np.unravel_index(int(np.argmax(np.abs(out - expected["out"]) - bound)), out.shape)
    raise CheckFailed(
        f"{where}: out is normalized {layout.groups_text}, with gamma and beta, yet differs from "
        f"the right output by {abs(out[k] - expected['out'][k]):.3g} at index "
        f"{tuple(int(i) for i in k)}, more than rounding explains (relative error of the "
        f"whole: {np.max(np.abs(out - expected['out'])) / np.max(np.abs(expected['out'])):.2g})",
        exercise, "output unexplained",
    )


def forward_call(exercise, where, fn, *args):
    """(out, cache) from a forward pass, or CheckFailed saying what came back instead."""
    out, cache = unpack(exercise, where, call(exercise, where, fn, *args), ("out", "cache"))
    if isinstance(cache, np.ndarray) and not isinstance(out, np.ndarray):
        raise CheckFailed(f"{where} returned (cache, out): the order is (out, cache)", exercise, "return order")
    return out, cache


def _check_running_update(exercise, where, bn_param, old_mean, old_var, expected, momentum, n, out_stats=None):
    """bn_param after one training step must hold the reference running statistics.

    expected: reference values of the step (running_mean, running_var, and the batch's
    group_mean and group_var, which the usual mistakes average instead).
    """
    keep, new = momentum, 1.0 - momentum
    batches = {"running_mean": np.ravel(expected["group_mean"]), "running_var": np.ravel(expected["group_var"])}
    for key, old in (("running_mean", old_mean), ("running_var", old_var)):
        batch = batches[key]
        got = bn_param.get(key)
        if got is None or (isinstance(got, np.ndarray) and got.shape == old.shape and np.array_equal(got, old)):
            raise CheckFailed(
                f"{where}: running statistics not written back: after a training step "
                f"bn_param['{key}'] still holds its old value", exercise, "not written back",
            )
        if not isinstance(got, np.ndarray) or got.shape != old.shape:
            kept = (" (the statistic kept the axis it was taken over: keepdims=True)"
                    if isinstance(got, np.ndarray) and got.shape == (1, *old.shape) else "")
            raise CheckFailed(
                f"{where}: bn_param['{key}'] must be an array of shape {old.shape} (one value "
                f"per feature); got {getattr(got, 'shape', type(got).__name__)}{kept}", exercise, "running shape",
            )
        if matches(got, expected[key]):
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
        other = "running_var" if key == "running_mean" else "running_mean"
        mistakes.append((expected[other], f"bn_param['{key}'] holds the right new {other}: the two running "
                                          f"statistics are stored under each other's keys", "running keys swapped"))
        if key == "running_mean":
            mistakes.append((keep * old + new * batches["running_var"],
                             "running_mean averages the batch's variance, not its mean (the two running "
                             "statistics swapped, or the variance's line copied)", "running mean of var"))
        if key == "running_var":
            mistakes += [
                (expected[key] + new * batch / (n - 1),
                 f"running_var averages the unbiased variance (n/(n-1) times the biased one, n = {n}); "
                 f"the running average is of the same biased variance the training step "
                 f"normalizes with", "unbiased running var"),
                (keep * old + new * np.sqrt(batch),
                 "running_var averages the standard deviation, not the variance", "running std"),
                (expected[key] + new * EPS,
                 "running_var averages var + eps, not the variance: eps is added again in test mode",
                 "running var eps"),
                (keep * old + new * np.sqrt(batch + EPS),
                 "running_var averages sqrt(var + eps), the standard deviation the step divides by, not the "
                 "variance", "running std"),
                (keep * old + new * batches["running_mean"],
                 "running_var averages the batch's mean, not its variance (the running mean's line, copied)",
                 "running var of mean"),
                (keep * old + new * batch / (batch + EPS),
                 "running_var averages the variance of the normalized x (xhat), which is about 1, not the "
                 "variance of x", "running var of xhat"),
                (keep * old + new * (batch + (batches["running_mean"] - old_mean) ** 2),
                 "running_var averages the batch's squared deviations from the OLD running mean, not its "
                 "variance (the squared deviations from the batch's own mean)", "running var about old mean"),
            ]
        for wrong, message, topic in mistakes:
            if matches(got, wrong):
                raise CheckFailed(f"{where}: {message}", exercise, topic)
        if out_stats is not None and matches(got, keep * old + new * out_stats[key]):
            raise CheckFailed(f"{where}: bn_param['{key}'] averages the statistic of the layer's OUTPUT, "
                              f"not of its input x", exercise, "running of output")
        weights = _fitted_weights(got, old, batch)
        if weights is not None:
            raise CheckFailed(f"{where}: {_weights_text(key, weights, momentum)}", exercise,
                              "momentum hard-coded" if abs(sum(weights) - 1) < 1e-9 else "running weights")
        raise CheckFailed(
            f"{where}: bn_param['{key}'] after one training step is not the right running average "
            f"(momentum={momentum:g}, the weight kept on the old value), nor one of the usual "
            f"mistakes (convention reversed, batch value stored, unbiased or std averaged)",
            exercise, "running unexplained",
        )


def _fitted_weights(got, old, batch):
    """(a, b) with got = a * old + b * batch in every entry, measured by least squares, or
    None when no such pair fits (the old and batch values differ between entries here)."""
    basis = np.stack([np.ravel(old), np.ravel(batch)], axis=1)
    target = np.ravel(np.asarray(got, dtype=np.float64))
    if not np.all(np.isfinite(target)):
        return None
    (a, b), *_ = np.linalg.lstsq(basis, target, rcond=None)
    fits = np.allclose(basis @ (a, b), target, rtol=1e-9, atol=1e-12 * max(1.0, float(np.max(np.abs(target)))))
    return (float(a), float(b)) if fits else None


def _weights_text(key, weights, momentum):
    """What the measured weights of a running average say, next to the right ones."""
    a, b = weights
    if abs(a + b - 1) < 1e-9:
        return (f"bn_param['{key}'] keeps {a:.6g} of the old value and takes {b:.6g} of the batch's, "
                f"whatever bn_param['momentum'] says (it is {momentum:g} here, the weight to keep): "
                f"the momentum is hard-coded or read from somewhere else")
    return (f"bn_param['{key}'] is {a:.6g} * old + {b:.6g} * batch value; the two weights of a running "
            f"average add up to 1 (momentum = {momentum:g} on the old value, 1 - momentum on the batch's)")


def _require_running_not_overwritten(exercise, where, given, before):
    """The arrays bn_param held when the call began must still hold their values afterwards."""
    for key, array in given.items():
        if not np.array_equal(array, before[key]):
            raise CheckFailed(
                f"{where}: the running average was updated in place: the array the caller put in "
                f"bn_param['{key}'] holds other values after a training step. Anyone holding that array "
                f"(a copy of bn_param, a saved model) sees it change; store the new average in "
                f"bn_param['{key}'] as a new array", exercise, "running in place",
            )


def _check_running_start(exercise, where, bn_param, expected, momentum):
    """Without running statistics in bn_param, they start at zeros (CS231n's convention)."""
    batches = {"running_mean": np.ravel(expected["group_mean"]), "running_var": np.ravel(expected["group_var"])}
    for key, batch in batches.items():
        got = bn_param.get(key)
        if got is None:
            raise CheckFailed(
                f"{where}: running statistics not written back: bn_param has no '{key}' after a "
                f"training step", exercise, "not written back",
            )
        if matches(got, expected[key]):
            continue
        if matches(got, momentum + expected[key]):
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
                       f"bn_param['{key}'] after one step is not what a start at zeros gives")
        raise CheckFailed(f"{where}: {message}", exercise, "running start")


def check_test_mode(exercise, where, layout, fn, x, gamma, beta, running_mean, running_var, eps, expected,
                    train_expected):
    """Test mode: a fixed affine map per feature, from the running statistics; judged by reference values.

    expected: reference values of this test-mode call; train_expected: those of a training
    step on the same x (the batch statistics test mode must not use).
    """
    bn_param = {"mode": "test", "eps": eps, "running_mean": running_mean.copy(),
                "running_var": running_var.copy()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, bn_param)
    require_unchanged(exercise, where, originals)
    require_settings_kept(exercise, where, "bn_param", bn_param, {"mode": "test", "eps": eps}, RUNNING)
    require_array(exercise, where, "out (test mode)", out, x.shape)
    for key, before in (("running_mean", running_mean), ("running_var", running_var)):
        after = bn_param.get(key)
        if not isinstance(after, np.ndarray) or not np.array_equal(after, before):
            normalized = (np.asarray(out, dtype=np.float64) - layout.param_view(beta)) / layout.param_view(gamma)
            as_training = np.shape(out) == x.shape and matches(layout.to_groups(normalized),
                                                               layout.to_groups(train_expected["xhat"]))
            raise CheckFailed(
                f"{where}: test mode changed bn_param['{key}']; only training updates the running statistics"
                + ("; and its output is normalized with the test batch's own mean and variance: test mode runs "
                   "the training branch" if as_training else ""), exercise, "test mode updates",
            )
    bound = output_bound(layout, x, gamma, beta, running_mean, running_var, eps, conditioned=False)
    if agrees(out, expected["out"], bound):
        return cache
    xhat = (out - layout.param_view(beta)) / layout.param_view(gamma)
    groups = layout.to_groups(xhat)
    if np.all(np.abs(groups.mean(axis=1)) < 1e-8 * max(1.0, float(np.max(np.abs(groups))))):
        if matches(groups, layout.to_groups(train_expected["xhat"])):
            message = ("test mode uses batch statistics: its output is normalized with the mean and "
                       "variance of the test batch")
        else:
            message = "test mode subtracts the batch's mean (the output has mean beta in every batch)"
        raise CheckFailed(f"{where}: {message}, so a sample's output depends on the rest of the batch",
                          exercise, "test uses batch")
    # The usual mistakes, as what they do to the right normalized output
    ok = layout.to_groups(expected["xhat"])
    rm, rv = running_mean[:, None], running_var[:, None]
    s = np.sqrt(rv + eps)
    batch_s = np.sqrt(np.ravel(train_expected["group_var"])[:, None] + eps)
    mistakes = (
        (ok * s / np.sqrt(rv), "eps is missing in test mode"),
        (ok * s / (np.sqrt(rv) + eps), "eps is outside the square root in test mode"),
        (ok * s / (rv + eps), "the square root is missing in test mode"),
        (ok + rm / s, "test mode does not subtract running_mean"),
        (ok * s, "test mode does not divide by the running standard deviation"),
        (ok * s / batch_s, "test mode subtracts running_mean but divides by the batch's standard deviation"),
    )
    if matches(out, expected["xhat"], 1e-9):
        raise CheckFailed(f"{where}: test mode normalizes with the running statistics but does not "
                          f"apply gamma and beta", exercise, "test gamma beta")
    with np.errstate(divide="ignore", invalid="ignore"):
        for wrong, message in mistakes:
            if matches(groups, wrong):
                raise CheckFailed(f"{where}: {message}", exercise, message)
    raise CheckFailed(
        f"{where}: in test mode each feature should go through a fixed affine map built from the "
        f"running statistics (it gives beta at x = running_mean, and its slope uses running_var and "
        f"eps); yours gives something else, and none of the usual mistakes (eps missing or outside "
        f"the root, no root, running_mean not subtracted) matches it", exercise, "test unexplained",
    )


def _test_param(mean, var, eps):
    return {"mode": "test", "eps": eps, "running_mean": mean, "running_var": var}


def verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, momentum, n, cache_check=None,
                          cache_fields=()):
    """The training step, the zero start and the test mode of batch norm or spatial batch norm.

    exercise names the function (batchnorm_forward or spatial_batchnorm_forward) whose
    reference values are asked for; cache_check(cache, x, gamma, out, mode, eps, expected)
    judges a cache against the reference values named in cache_fields.
    """
    rng = np.random.default_rng(7)
    n_features = np.shape(gamma)[0]
    old_mean = rng.normal(size=n_features)
    old_var = rng.uniform(0.5, 2.0, size=n_features)
    train_param = {"mode": "train", "eps": EPS, "momentum": momentum, "running_mean": old_mean, "running_var": old_var}
    expected = expected_values(exercise, STATISTICS + ("running_mean", "running_var") + cache_fields, x,
                               gamma, beta, train_param)
    by_running = [
        (expected_values(exercise, ("out",), x, gamma, beta, _test_param(mean, var, EPS))["out"], which)
        for mean, var, which in ((old_mean, old_var, "before"),
                                 (expected["running_mean"], expected["running_var"], "after"))
    ]
    x_default = grouped_input(np.random.default_rng(11), layout, x.shape, DEFAULT_EPS)
    fresh_expected = expected_values(exercise, STATISTICS + ("running_mean", "running_var"), x_default, gamma,
                                     beta, {"mode": "train"})
    running_var = old_var.copy()
    running_var[0] = EPS  # a running variance as small as eps exposes a misplaced eps
    test_expected = expected_values(exercise, ("out", "xhat") + cache_fields, x, gamma, beta,
                                    _test_param(old_mean, running_var, EPS))

    bn_param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in train_param.items()}
    originals = {"x": (x, x.copy()), "gamma": (gamma, gamma.copy()), "beta": (beta, beta.copy())}
    given = {key: bn_param[key] for key in ("running_mean", "running_var")}
    out, cache = forward_call(exercise, where, fn, x, gamma, beta, bn_param)
    require_unchanged(exercise, where, originals)
    _require_running_not_overwritten(exercise, where, given, train_param)
    require_settings_kept(exercise, where, "bn_param", bn_param, train_param, RUNNING)
    require_array(exercise, where, "out", out, x.shape, "out has the shape of x")
    if np.shares_memory(out, x):
        raise CheckFailed(f"{where}: out shares memory with x: x was overwritten in place",
                          exercise, "in place")
    for right_by_running, which in by_running:
        if matches(out, right_by_running, 1e-9):
            raise CheckFailed(
                f"{where}: train mode normalizes with the running statistics (as they are {which} "
                f"this step's update) instead of the batch's mean and variance", exercise, "train uses running",
            )
    bound = output_bound(layout, x, gamma, beta, expected["group_mean"], expected["group_var"], EPS)
    centres = {"bn_param['running_mean'] as it was before this step's update": old_mean,
               "bn_param['running_mean'] after this step's update": expected["running_mean"]}
    judge_output(exercise, where, layout, x, out, gamma, beta, EPS, expected, bound, centres)
    out_groups = layout.to_groups(out)
    out_stats = {"running_mean": out_groups.mean(axis=1), "running_var": out_groups.var(axis=1)}
    _check_running_update(exercise, where, bn_param, old_mean, old_var, expected, momentum, n, out_stats)
    if cache_check is not None:
        cache_check(cache, x, gamma, out, "train", EPS, expected)

    fresh = {"mode": "train"}
    out, _ = forward_call(exercise, where, fn, x_default, gamma, beta, fresh)
    require_array(exercise, where, "out", out, x.shape)
    bound = output_bound(layout, x_default, gamma, beta, fresh_expected["group_mean"],
                         fresh_expected["group_var"], DEFAULT_EPS)
    judge_output(exercise, where, layout, x_default, out, gamma, beta, DEFAULT_EPS, fresh_expected, bound)
    _check_running_start(exercise, where, fresh, fresh_expected, 0.9)

    cache = check_test_mode(exercise, where, layout, fn, x, gamma, beta, old_mean, running_var, EPS,
                            test_expected, expected)
    if cache_check is not None:
        cache_check(cache, x, gamma, None, "test", EPS, test_expected)


CACHE_FIELDS = ("mu", "xmu", "var", "sqrtvar", "ivar", "xhat")


def _bn_cache_check(exercise, where):
    from cs231n_bn.batchnorm import BatchNormCache

    def cache_check(cache, x, gamma, out, mode, eps, expected):
        right = {"mode": mode, "x": x, "gamma": gamma, "eps": eps}
        right.update({k: expected[k] for k in CACHE_FIELDS})
        var, std, xhat = right["var"], right["sqrtvar"], right["xhat"]
        others = {"the standard deviation sqrt(var + eps) (sqrtvar)": std,
                  "1 / sqrt(var + eps) (ivar)": right["ivar"],
                  "the variance (var)": var, "var + eps": var + eps,
                  "the unbiased variance": var * x.shape[0] / (x.shape[0] - 1) if mode == "train" else var * np.nan,
                  "x - mu (xmu)": right["xmu"], "xhat": xhat, "the input x": x, "mu": right["mu"],
                  "1 / (var + eps)": std**-2, "sqrt(var) without eps": np.sqrt(var),
                  "1 / sqrt(var) without eps": 1 / np.sqrt(var), "gamma * xhat (gammax)": gamma * xhat,
                  "x times ivar, the mean not subtracted": x * right["ivar"]}
        if out is not None:
            others["the layer's output out"] = out
        check_cache_fields(exercise, f"{where} ({mode} mode)", cache, BatchNormCache, right, others)

    return cache_check
def _verify_batchnorm_forward(fn):
    exercise = where = "batchnorm_forward"
    N, D = 8, 5
    rng = np.random.default_rng(0)
    layout = bn_layout(N, D)
    x = grouped_input(rng, layout, (N, D), EPS)
    gamma, beta = params(rng, (D,))
    verify_batchnorm_like(exercise, where, fn, layout, x, gamma, beta, 0.7, N, _bn_cache_check(exercise, where),
                          CACHE_FIELDS)


def keeps_float32(exercise, fn, shape, extra, groups, what):
    """A float32 batch far from zero comes out float32 and normalized to float32's accuracy.

    Inputs:
    - exercise: the exercise's name (the function's, in messages)
    - fn: the forward pass, called as fn(x, gamma, beta, *extra)
    - shape: x's shape; gamma and beta are (shape[1],)
    - extra: the arguments after beta (the param dict, and G for group norm)
    - groups: function(out) -> 2-D array, one row per set of entries sharing a statistic
    - what: what one such set is, for messages ("feature", "sample", ...)
    """
    rng = np.random.default_rng(1)
    # Values near 1000 with a spread of 1: float32 holds them to ~6e-5, so a variance taken
    # as E[x^2] - E[x]^2 (both near 1e6) loses most of its digits, while one from the
    # deviations keeps four or five.
    x = (1000.0 + rng.normal(0.0, 1.0, shape)).astype(np.float32)
    C = shape[1]
    out, _ = forward_call(exercise, exercise, fn, x, np.ones(C, np.float32), np.zeros(C, np.float32), *extra)
    dtype = getattr(out, "dtype", None)
    if dtype != np.float32:
        raise CheckFailed(f"{exercise}: out has dtype {dtype} for float32 x, gamma and beta; the result should keep "
                          f"the input's precision (an array made without dtype=x.dtype, or an astype, promotes it)",
                          exercise, "float32 promoted")
    settings = next((a for a in extra if isinstance(a, dict)), {})
    for key in RUNNING:
        running = settings.get(key)
        if running is not None and getattr(running, "dtype", None) != np.float32:
            raise CheckFailed(f"{exercise}: after a training step on float32 x, bn_param['{key}'] has dtype "
                              f"{getattr(running, 'dtype', type(running).__name__)}; the running statistics keep x's "
                              f"precision (in test mode they would make the output float64)", exercise,
                              "float32 promoted")
    sets = groups(np.asarray(out, dtype=np.float64))
    spread = sets.std(axis=1)
    worst = int(np.argmax(np.abs(spread - 1)))
    if abs(spread[worst] - 1) > 1e-2 or np.max(np.abs(sets.mean(axis=1))) > 1e-2:
        raise CheckFailed(f"{exercise}: on float32 x near 1000 with a spread of 1 (gamma = 1, beta = 0), one "
                          f"{what}'s output has mean {sets.mean(axis=1)[worst]:.3g} and standard deviation "
                          f"{spread[worst]:.3g}, where 0 and 1 belong to float32's accuracy: the statistics lost "
                          f"their digits to cancellation (a variance as the mean of the squares minus the squared "
                          f"mean does; one from the deviations x - mu does not)", exercise, "float32 cancellation")


@reference.for_checks
def check_batchnorm_forward(batchnorm_forward=None):
    """Check a batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache).

    Train mode: per-feature normalization with the biased batch variance and eps inside
    the square root, gamma and beta applied, running averages with CS231n's momentum
    convention written back into bn_param (starting from zeros), and, when the cache is
    the course's BatchNormCache, every field holding what its name says (a cache of your
    own type is judged through your backward pass). Test mode: the running statistics,
    row by row. Inputs never modified.
    """
    fn = batchnorm_forward or package_function("batchnorm", "batchnorm_forward")
    _verify_batchnorm_forward(fn)
    keeps_float32("batchnorm_forward", fn, (8, 4), ({"mode": "train"},), lambda out: out.T, "feature")
    passed("batchnorm_forward", "train mode, running averages, cache and test mode are right")


def needs_forward(exercise, where, forward_name, verify, forward):
    """Run a forward check quietly; a backward pass cannot be judged on a broken forward."""
    try:
        verify(forward)
    except CheckFailed as err:
        raise CheckFailed(
            f"{where} cannot be checked until {forward_name} passes its check (the gradients "
            f"are judged on the cache your forward pass makes). "
            f"{err.message}", forward_name, "forward first",
        ) from err


def backward_inputs(seed, shape, channels):
    """Seeded x, gamma, beta, dout for a gradient check: x off-centre by at most its spread,
    gamma far from 1, and beta large (a large output makes every finite difference of it
    lose digits, so that a numeric gradient cannot pass for the exact one)."""
    rng = np.random.default_rng(seed)
    x = smooth_input(rng, shape)
    gamma, _ = params(rng, (channels,))
    beta = rng.uniform(10.0, 30.0, size=channels) * rng.choice([-1.0, 1.0], size=channels)
    return x, gamma, beta, rng.normal(size=shape)


def run_backward_check(exercise, style, backward, forward, verify, layout, inputs, forward_args, param_shapes=()):
    """Check `backward` against the reference gradients, on the cache `forward` makes.

    forward must pass `verify` first. forward_args: the arguments after (x, gamma, beta),
    e.g. ({"mode": "train", "eps": EPS},). param_shapes: other shapes the contract accepts
    for gamma and beta (dgamma and dbeta must come back in them, with the same values).
    """
    needs_forward(exercise, exercise, verify.__name__.replace("_verify_", ""), verify, forward)
    x, gamma, beta, dout = inputs
    expected = expected_gradients(exercise, layout, x, gamma, beta, forward_args, dout)
    expected.update(expected_mistakes(exercise, layout, x, gamma, beta, forward_args, dout))
    for shape in (gamma.shape, *param_shapes):
        where = exercise if shape == gamma.shape else f"{exercise} (gamma and beta of shape {shape})"
        shaped = dict(expected, dgamma=expected["dgamma"].reshape(shape), dbeta=expected["dbeta"].reshape(shape))
        check_backward(exercise, where, style, backward, lambda x_, g_, b_: forward(x_, g_, b_, *forward_args),
                       layout, x, gamma.reshape(shape), beta.reshape(shape), dout, shaped)
    _gradients_keep_float32(exercise, backward, forward, x, gamma, beta, dout, forward_args)
    gradients_passed(exercise)


def _gradients_keep_float32(exercise, backward, forward, x, gamma, beta, dout, forward_args):
    """On a cache from float32 inputs and a float32 dout, dx, dgamma and dbeta come back float32."""
    x, gamma, beta, dout = (a.astype(np.float32) for a in (x, gamma, beta, dout))
    args = [dict(a) if isinstance(a, dict) else a for a in forward_args]
    _, cache = forward_call(exercise, exercise, forward, x, gamma, beta, *args)
    gradients = unpack(exercise, exercise, call(exercise, exercise, backward, dout, cache), ("dx", "dgamma", "dbeta"))
    promoted = [f"{name} is {getattr(g, 'dtype', type(g).__name__)}"
                for name, g in zip(("dx", "dgamma", "dbeta"), gradients) if getattr(g, "dtype", None) != np.float32]
    if promoted:
        raise CheckFailed(f"{exercise}: for float32 x, gamma, beta and dout, {', '.join(promoted)}; the gradients "
                          f"keep the input's precision (an array made without dtype=..., such as np.zeros(shape) "
                          f"or np.ones(N), is float64 and promotes what it meets)", exercise, "float32 promoted")


def _check_bn_backward(exercise, style, backward, forward):
    forward = forward or package_function("batchnorm", "batchnorm_forward")
    N, D = 6, 4
    run_backward_check(exercise, style, backward, forward, _verify_batchnorm_forward, bn_layout(N, D),
                       backward_inputs(1, (N, D), D), ({"mode": "train", "eps": EPS},))


def gradients_passed(name):
    passed(name, "dx, dgamma and dbeta are the right gradients, to rounding")


@reference.for_checks
def check_batchnorm_backward(batchnorm_backward=None, forward=None):
    """Check a staged batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta) against the right gradients.

    The cache comes from `forward` (default: the package's batchnorm_forward), which must
    pass check_batchnorm_forward first.
    """
    fn = batchnorm_backward or package_function("batchnorm", "batchnorm_backward")
    _check_bn_backward("batchnorm_backward", "staged", fn, forward)


@reference.for_checks
def check_batchnorm_backward_alt(batchnorm_backward_alt=None, forward=None):
    """Check the closed-form batchnorm_backward_alt(dout, cache) against the right gradients."""
    fn = batchnorm_backward_alt or package_function("batchnorm", "batchnorm_backward_alt")
    _check_bn_backward("batchnorm_backward_alt", "closed", fn, forward)
