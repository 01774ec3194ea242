"""Compare every entry of the eighth catalogue with the instructor's functions, without the checks.

    python -m tests.instructor.fresh8.verify

On random inputs (train and test modes, float32 and float64, caller-held arrays, every layout
the contracts allow) each entry's results are compared with the instructor's wherever the
docstrings fix them: outputs with their shapes and dtypes, the cache's fields, the dicts the
function writes, and the inputs it must leave alone. A mistake must differ somewhere, a
correct variant nowhere. Prints the inconsistent entries and a summary.
"""

import copy

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.experiments import steps_to_reach
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.optim import adam, sgd_momentum
from cs231n_bn.spatial import (
    spatial_batchnorm_backward, spatial_batchnorm_forward, spatial_groupnorm_backward, spatial_groupnorm_forward,
)
from cs231n_bn.torch_stats import torch_running_var
from tests.instructor.fresh8.catalogue import entries


class Differs(Exception):
    """Raised at the first place an entry's result departs from the instructor's."""


def _tol(dtype):
    return (2e-3, 2e-4) if np.dtype(dtype) == np.float32 else (1e-7, 1e-9)


def same(what, got, want):
    """Raise Differs unless got matches want (arrays: shape, dtype and values; else equality)."""
    if isinstance(want, np.ndarray):
        got_a = np.asarray(got)
        if not isinstance(got, np.ndarray) or got_a.shape != want.shape or got_a.dtype != want.dtype:
            raise Differs(f"{what}: {type(got).__name__} {getattr(got, 'shape', '')} "
                          f"{getattr(got, 'dtype', '')} vs {want.shape} {want.dtype}")
        rtol, atol = _tol(want.dtype)
        scale = max(1.0, float(np.max(np.abs(want))) if want.size and np.all(np.isfinite(want)) else 1.0)
        if not np.allclose(got_a, want, rtol=rtol, atol=atol * scale, equal_nan=True):
            raise Differs(f"{what}: values differ by up to {np.nanmax(np.abs(got_a - want)):.3g}")
    elif isinstance(want, float):
        if not isinstance(got, (float, np.floating)) or not np.isclose(got, want, rtol=1e-9):
            raise Differs(f"{what}: {got!r} vs {want!r}")
    elif type(got) is not type(want) or got != want:
        raise Differs(f"{what}: {got!r} ({type(got).__name__}) vs {want!r} ({type(want).__name__})")


def same_fields(what, got, want, fields, sort_rows=()):
    for f in fields:
        g, w = getattr(got, f, "<missing>"), getattr(want, f)
        if f in sort_rows and isinstance(g, np.ndarray) and g.shape == w.shape:
            g, w = np.sort(g, axis=0), np.sort(w, axis=0)
        same(f"{what}.{f}", g, w)


def same_dict(what, got, want):
    if set(got) != set(want):
        raise Differs(f"{what}: keys {sorted(got)} vs {sorted(want)}")
    for k in want:
        same(f"{what}[{k!r}]", got[k], want[k])


def run_both(entry_fn, ref_fn, args, compare):
    """Call both on deep copies; compare their results, their arguments afterwards, and raise Differs.

    Returns got, want, the entry's arguments afterwards and the instructor's, and the arrays
    the entry's dict arguments held before the call (to tell new arrays from updated ones).
    """
    ref_args = copy.deepcopy(args)
    got_args = copy.deepcopy(args)
    held = [dict(a) if isinstance(a, dict) else None for a in got_args]
    want = ref_fn(*ref_args)
    try:
        got = entry_fn(*got_args)
    except Differs:
        raise
    except Exception as error:
        raise Differs(f"raises {type(error).__name__}: {error}") from None
    compare(got, want)
    for j, (g, w) in enumerate(zip(got_args, ref_args)):
        if isinstance(w, np.ndarray):
            same(f"argument {j} afterwards", g, w)
        elif isinstance(w, dict):
            same_dict(f"argument {j} afterwards", g, w)
    return got, want, got_args, ref_args, held


rng = np.random.default_rng(8)
BN_FIELDS = ("mode", "x", "mu", "xmu", "var", "sqrtvar", "ivar", "xhat", "gamma", "eps")


def _bn_inputs(dtype, shape=(7, 4), offset=0.0):
    x = (offset + rng.normal(0.5, 2.0, shape) * rng.uniform(0.3, 3, shape[-1])).astype(dtype)
    gamma = rng.uniform(0.5, 2, shape[-1]).astype(dtype)
    beta = rng.normal(0, 1, shape[-1]).astype(dtype)
    return x, gamma, beta


def _bn_params(D, dtype):
    held_mean, held_var = rng.normal(0, 1, D).astype(dtype), rng.uniform(0.01, 2, D).astype(dtype)
    return [
        {"mode": "train"},
        {"mode": "train", "momentum": 0.7, "eps": 1e-3, "running_mean": held_mean, "running_var": held_var},
        {"mode": "test", "eps": 1e-3, "running_mean": held_mean, "running_var": held_var},
        {"mode": "test", "running_mean": held_mean, "running_var": held_var, "momentum": 0.5},
    ]


def _check_held_arrays(got_param, got_before):
    """Train mode stores new arrays: the arrays the caller passed in keep their values."""
    for key in ("running_mean", "running_var"):
        if key in got_before and got_param.get(key) is got_before[key] and got_param.get("mode") == "train":
            raise Differs(f"bn_param['{key}'] is the caller's array, updated in place")


def verify_bn_forward(fn):
    for dtype in (np.float64, np.float32):
        for offset in (0.0, 1e3):
            x, gamma, beta = _bn_inputs(dtype, offset=offset)
            for bn_param in _bn_params(x.shape[1], dtype):
                def compare(got, want):
                    same("out", got[0], want[0])
                    same_fields("cache", got[1], want[1], BN_FIELDS)
                _, _, got_args, _, held = run_both(fn, batchnorm_forward, (x, gamma, beta, bn_param), compare)
                _check_held_arrays(got_args[3], held[3])


def _train_cache(dtype, eps, forward=batchnorm_forward, shape=(7, 4)):
    x, gamma, beta = _bn_inputs(dtype, shape=shape)
    return forward(x, gamma, beta, {"mode": "train", "eps": eps})[1]


def _verify_backward(fn, ref, caches):
    for cache in caches:
        dtype = cache.x.dtype if hasattr(cache, "x") else cache.bn.x.dtype
        shape = cache.x.shape if hasattr(cache, "x") else cache.shape
        dout = rng.normal(0, 1, shape).astype(dtype)

        def compare(got, want):
            if not isinstance(got, tuple) or len(got) != 3:
                raise Differs(f"returns {type(got).__name__}, not (dx, dgamma, dbeta)")
            for name, g, w in zip(("dx", "dgamma", "dbeta"), got, want):
                same(name, g, w)
        run_both(lambda d, c: fn(d, cache), lambda d, c: ref(d, cache), (dout, None), compare)


def verify_bn_backward(ref):
    def verify(fn):
        _verify_backward(fn, ref, [_train_cache(d, e) for d in (np.float64, np.float32) for e in (1e-5, 0.5)])
    return verify


LN_FIELDS = ("x", "mu", "xmu", "var", "ivar", "xhat", "gamma", "eps")


def verify_ln_forward(fn):
    for dtype in (np.float64, np.float32):
        x, gamma, beta = _bn_inputs(dtype, shape=(5, 8))
        for ln_param in ({}, {"mode": "test", "eps": 0.3}, {"mode": "train", "eps": 1e-3}):
            def compare(got, want):
                same("out", got[0], want[0])
                same_fields("cache", got[1], want[1], LN_FIELDS)
            run_both(fn, layernorm_forward, (x, gamma, beta, ln_param), compare)


def verify_ln_backward(fn):
    caches = []
    for dtype in (np.float64, np.float32):
        for eps in (1e-5, 0.5):
            x, gamma, beta = _bn_inputs(dtype, shape=(5, 8))
            caches.append(layernorm_forward(x, gamma, beta, {"eps": eps})[1])
    _verify_backward(fn, layernorm_backward, caches)


SHAPE4 = (3, 4, 2, 5)


def verify_sbn_forward(fn):
    for dtype in (np.float64, np.float32):
        x, gamma, beta = _bn_inputs(dtype, shape=SHAPE4[:1] + SHAPE4[2:] + SHAPE4[1:2])
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        for bn_param in _bn_params(SHAPE4[1], dtype):
            def compare(got, want):
                same("out", got[0], want[0])
                same("cache.shape", tuple(got[1].shape), tuple(want[1].shape))
                same_fields("cache.bn", got[1].bn, want[1].bn, BN_FIELDS, sort_rows=("x", "xmu", "xhat"))
            _, _, got_args, _, held = run_both(fn, spatial_batchnorm_forward, (x, gamma, beta, bn_param), compare)
            _check_held_arrays(got_args[3], held[3])


def verify_sbn_backward(fn):
    caches = []
    for dtype in (np.float64, np.float32):
        for eps in (1e-5, 0.5):
            x = rng.normal(0.3, 2, SHAPE4).astype(dtype)
            gamma, beta = rng.uniform(0.5, 2, 4).astype(dtype), rng.normal(0, 1, 4).astype(dtype)
            caches.append(spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})[1])
    _verify_backward(fn, spatial_batchnorm_backward, caches)


GN_SHAPE = (2, 6, 3, 4)
GN_FIELDS = ("x", "G", "mu", "xmu", "var", "ivar", "xhat", "gamma", "eps")


def _gn_inputs(dtype, layout4):
    x = (rng.normal(0.5, 2, GN_SHAPE) * rng.uniform(0.3, 3, (6, 1, 1))).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, 6).astype(dtype), rng.normal(0, 1, 6).astype(dtype)
    if layout4:
        gamma, beta = gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1)
    return x, gamma, beta


def verify_gn_forward(fn):
    for dtype in (np.float64, np.float32):
        for layout4 in (False, True):
            x, gamma, beta = _gn_inputs(dtype, layout4)
            for G in (2, 3):
                for gn_param in ({}, {"mode": "test", "eps": 0.3}):
                    def compare(got, want):
                        same("out", got[0], want[0])
                        same_fields("cache", got[1], want[1], GN_FIELDS)
                    run_both(fn, spatial_groupnorm_forward, (x, gamma, beta, G, gn_param), compare)


def verify_gn_backward(fn):
    caches = []
    for dtype in (np.float64, np.float32):
        for layout4 in (False, True):
            for G, eps in ((2, 1e-5), (3, 0.5)):
                x, gamma, beta = _gn_inputs(dtype, layout4)
                caches.append(spatial_groupnorm_forward(x, gamma, beta, G, {"eps": eps})[1])
    _verify_backward(fn, spatial_groupnorm_backward, caches)


def verify_network(cls):
    X = rng.normal(0, 1, (6, 5))
    y = rng.integers(0, 3, 6)
    X_test = rng.normal(0.2, 1.5, (4, 5))
    for normalization in (None, "batchnorm", "layernorm"):
        for activation in ("relu", "sigmoid"):
            for keep in (1, 0.6):
                nets = []
                for kind in (cls, FullyConnectedNet):
                    net = kind([6, 6, 4], input_dim=5, num_classes=3, normalization=normalization, reg=0.1,
                               weight_scale=0.5, dtype=np.float64, seed=3, activation=activation,
                               dropout_keep_ratio=keep)
                    for name in net.params:
                        if name.startswith(("gamma", "beta")):
                            net.params[name] = np.random.default_rng(len(name) + int(name[-1])).uniform(
                                0.5, 1.5, net.params[name].shape)
                    nets.append(net)
                got_net, want_net = nets
                label = f"{normalization}/{activation}/keep={keep}"
                want_loss, want_grads = want_net.loss(X, y)
                try:
                    got_loss, got_grads = got_net.loss(X, y)
                    got_scores = got_net.loss(X_test)
                    got_z = got_net.activation_inputs(X_test)
                except Exception as error:
                    raise Differs(f"{label}: raises {type(error).__name__}: {error}") from None
                same(f"{label} loss", float(got_loss), float(want_loss))
                same_dict(f"{label} grads", got_grads, want_grads)
                same(f"{label} test scores", got_scores, want_net.loss(X_test))
                for j, (g, w) in enumerate(zip(got_z, want_net.activation_inputs(X_test))):
                    same(f"{label} z{j + 1}", g, w)
                # Layer norm ignores 'mode', so which mode its dict holds is not part of the contract.
                for j, (g, w) in enumerate(zip(got_net.bn_params, want_net.bn_params)):
                    if normalization == "layernorm":
                        g, w = ({k: d[k] for k in d if k != "mode"} for d in (g, w))
                    same_dict(f"{label} bn_params[{j}]", g, w)


def _optim_configs(dtype, shape, stateful):
    configs = [None, {"learning_rate": 0.05}]
    if stateful == "velocity":
        configs.append({"learning_rate": 0.03, "momentum": 0.5, "velocity": rng.normal(0, 1, shape).astype(dtype)})
    else:
        configs.append({"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4, "t": 3,
                        "m": rng.normal(0, 1, shape).astype(dtype), "v": rng.uniform(0, 1, shape).astype(dtype)})
    return configs


def verify_optim(ref, stateful):
    def verify(fn):
        for dtype in (np.float64, np.float32):
            shape = (4, 3)
            for config in _optim_configs(dtype, shape, stateful):
                w = rng.normal(0, 1, shape).astype(dtype)
                got_c, want_c = copy.deepcopy(config), copy.deepcopy(config)
                for step in range(3):
                    dw = rng.normal(0, 1, shape).astype(dtype)
                    dw[0, 0] = 0.0

                    def compare(got, want):
                        same(f"step {step} next_w", got[0], want[0])
                        if config is not None and got[1] is not got_args[2]:
                            raise Differs("returns a new config dict instead of the caller's")
                        same_dict(f"step {step} config", got[1], want[1])
                    got_args = [w, dw, got_c]
                    want_args = [w, dw, want_c]
                    want = ref(*copy.deepcopy(want_args[:2]), want_c)
                    w_copy, dw_copy = w.copy(), dw.copy()
                    try:
                        got = fn(w_copy, dw_copy, got_c)
                    except Exception as error:
                        raise Differs(f"raises {type(error).__name__}: {error}") from None
                    compare(got, want)
                    same("w afterwards", w_copy, w)
                    same("dw afterwards", dw_copy, dw)
                    got_c, want_c = got[1], want[1]
                    w = want[0]
    return verify


STEP_CASES = [
    ([0, 50, 100, 150, 200], [0.1, 0.4, 0.75, 0.9, 0.8], 0.75),
    ([0, 50, 100, 150, 200], [0.1, 0.4, 0.7, 0.9, 0.95], 0.6),
    ([0, 50, 100, 150, 200], [0.1, 0.4, 0.75, 0.9, 0.8], 0.95),
    (np.array([10, 20, 30]), np.array([0.5, 0.6, 0.7]), 0.3),
    (np.array([0.0, 10.0, 20.0, 30.0]), np.array([0.2, 0.75, 0.6, 0.9]), 0.7549),
    ([5, 7, 9], [0.3, 0.9, 0.95], 0.9),
    ([0, 1, 2], [0.2, 0.3, 0.8], 0.8),
]


def verify_steps(fn):
    for eval_steps, accuracies, target in STEP_CASES:
        want = steps_to_reach(eval_steps, accuracies, target)
        try:
            got = fn(copy.deepcopy(eval_steps), copy.deepcopy(accuracies), target)
        except Exception as error:
            raise Differs(f"raises {type(error).__name__}: {error}") from None
        same(f"steps_to_reach({eval_steps}, {accuracies}, {target})", got, want)


def verify_torch_var(fn):
    for dtype in (np.float64, np.float32):
        for N, k, momentum in ((2, 0, 0.9), (5, 1, 0.9), (64, 7, 0.8), (3, 3, 0.0), (8, 2, 1.0)):
            rv = rng.uniform(0.1, 3, 5).astype(dtype)

            def compare(got, want):
                same("result", np.asarray(got, dtype=want.dtype) if isinstance(got, np.ndarray) else got, want)
            got, _, got_args, _, _ = run_both(fn, torch_running_var, (rv, N, k, momentum), compare)
            if got is got_args[0]:
                raise Differs("returns the given array, not a new one")


VERIFIERS = {
    "batchnorm_forward": verify_bn_forward,
    "batchnorm_backward": verify_bn_backward(batchnorm_backward),
    "batchnorm_backward_alt": verify_bn_backward(batchnorm_backward_alt),
    "layernorm_forward": verify_ln_forward,
    "layernorm_backward": verify_ln_backward,
    "spatial_batchnorm_forward": verify_sbn_forward,
    "spatial_batchnorm_backward": verify_sbn_backward,
    "spatial_groupnorm_forward": verify_gn_forward,
    "spatial_groupnorm_backward": verify_gn_backward,
    "FullyConnectedNet._hidden_forward": verify_network,
    "FullyConnectedNet._hidden_backward": verify_network,
    "sgd_momentum": verify_optim(sgd_momentum, "velocity"),
    "adam": verify_optim(adam, "moments"),
    "steps_to_reach": verify_steps,
    "torch_running_var": verify_torch_var,
}


def main():
    inconsistent, counts = [], {}
    for entry in entries():
        kind = "correct" if entry.correct else "mistake"
        counts.setdefault(entry.exercise, {"mistake": 0, "correct": 0})[kind] += 1
        try:
            with np.errstate(all="ignore"):
                VERIFIERS[entry.exercise](entry.function)
            difference = None
        except Differs as found:
            difference = str(found)
        if entry.correct and difference is not None:
            inconsistent.append(f"{entry.exercise} / {entry.name} (correct) differs: {difference}")
        elif not entry.correct and difference is None:
            inconsistent.append(f"{entry.exercise} / {entry.name} (mistake) agrees everywhere")
    for exercise, c in counts.items():
        print(f"{exercise}: {c['mistake']} mistakes, {c['correct']} correct")
    total = sum(c["mistake"] + c["correct"] for c in counts.values())
    print("\n".join(inconsistent) or "all consistent")
    print(f"{total} entries, {len(inconsistent)} inconsistent")


if __name__ == "__main__":
    main()
