"""Check the catalogue without the course's checks: every mistake must differ observably from the
instructor's function, every correct variant must agree with it.

    python -m tests.instructor.fresh3.verify [--exercise NAME] [--verbose]

Each exercise has a list of scenarios (random inputs, train and test mode, float64 and float32,
caller-held arrays and dicts). A scenario runs a function and records what a caller can see:
return values, caches as the instructor's backward pass reads them, bn_param / config
contents, the caller's arrays after the call. A crash is recorded as its exception type.
The entry's record is compared with the instructor's, value by value (shape, dtype, Python
type, numbers to a tolerance set by the dtype).
"""

import argparse
import copy

import numpy as np

from cs231n_bn import batchnorm, fc_net, layernorm, optim, spatial
from cs231n_bn.experiments import steps_to_reach
from cs231n_bn.torch_stats import torch_running_var

from tests.instructor.fresh3.catalogue import entries


def _rng(seed):
    return np.random.default_rng(seed)


def attempt(record, label, call):
    """record[label] = call(), or the exception type's name; returns the value or None."""
    try:
        value = call()
    except Exception as error:  # a crash is an observable outcome like any other
        record[label] = f"raised {type(error).__name__}"
        return None
    record[label] = visible(value)
    return value


def visible(value):
    """A copy of value with caches (dataclasses, whose contents may differ legitimately) as 'cache'."""
    if hasattr(value, "__dataclass_fields__"):
        return "cache"
    if isinstance(value, (tuple, list)):
        return type(value)(visible(v) for v in value)
    if isinstance(value, dict):
        return {k: visible(v) for k, v in value.items()}
    return copy.deepcopy(value)


def same(a, b):
    """Whether a caller could tell a and b apart: '' if not, else a short reason."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"type {type(a).__name__} vs {type(b).__name__}"
        if a.shape != b.shape:
            return f"shape {a.shape} vs {b.shape}"
        if a.dtype != b.dtype:
            return f"dtype {a.dtype} vs {b.dtype}"
        if a.dtype.kind == "f":
            low = a.dtype.itemsize < 8
            rtol, atol = (2e-4, 2e-4) if low else (1e-7, 1e-9)
            if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
                worst = np.nanmax(np.abs(a - b)) if np.isfinite(a).all() and np.isfinite(b).all() else "nan/inf"
                return f"values differ (max abs {worst})"
            return ""
        return "" if np.array_equal(a, b) else "values differ"
    if type(a) is not type(b):
        return f"type {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return f"length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            reason = same(x, y)
            if reason:
                return f"[{i}] {reason}"
        return ""
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            reason = same(a[key], b[key])
            if reason:
                return f"[{key!r}] {reason}"
        return ""
    if isinstance(a, float):
        return "" if np.isclose(a, b, rtol=1e-7, atol=1e-9) or (np.isnan(a) and np.isnan(b)) else f"{a} vs {b}"
    return "" if a == b else f"{a!r} vs {b!r}"


# ================================================================ scenarios per exercise

def _bn_inputs(seed, dtype, offset=3.0, N=6, D=4):
    rng = _rng(seed)
    x = (offset + 2.0 * rng.standard_normal((N, D))).astype(dtype)
    x[:, -1] = (offset + 1e-3 * rng.standard_normal(N)).astype(dtype)  # var 1e-6, below eps
    gamma = (1 + 0.5 * rng.standard_normal(D)).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    dout = rng.standard_normal((N, D)).astype(dtype)
    return x, gamma, beta, dout


def scenarios_batchnorm_forward(f, _forward, record):
    for dtype, offset in ((np.float64, 3.0), (np.float32, 3.0), (np.float32, 1e3)):
        tag = f"{np.dtype(dtype).name}@{offset}"
        x, gamma, beta, dout = _bn_inputs(1, dtype, offset)
        x_given = x.copy()
        fresh = {"mode": "train"}
        result = attempt(record, f"{tag} train out", lambda: f(x, gamma, beta, fresh)[0])
        record[f"{tag} x after"] = x.copy()
        x = x_given.copy()
        try:
            _, cache = f(x, gamma, beta, {"mode": "train"})
            attempt(record, f"{tag} staged bwd", lambda: batchnorm.batchnorm_backward(dout, cache))
            attempt(record, f"{tag} alt bwd", lambda: batchnorm.batchnorm_backward_alt(dout, cache))
        except Exception as error:
            record[f"{tag} cache"] = f"raised {type(error).__name__}"
        record[f"{tag} fresh params"] = {k: v for k, v in fresh.items()} if result is not None else "-"
        rng = _rng(2)
        rm0 = rng.standard_normal(x.shape[1]).astype(dtype)
        rv0 = (0.5 + rng.random(x.shape[1])).astype(dtype)
        rm_given, rv_given = rm0.copy(), rv0.copy()
        param = {"mode": "train", "momentum": 0.7, "eps": 1e-3, "running_mean": rm0, "running_var": rv0}
        x2 = _bn_inputs(3, dtype, offset)[0]
        attempt(record, f"{tag} train2 out", lambda: f(x2, gamma, beta, param)[0])
        record[f"{tag} train2 params"] = dict(param)
        record[f"{tag} caller running arrays"] = (rm0.copy(), rv0.copy(), rm_given, rv_given)
        param["mode"] = "test"
        x3 = _bn_inputs(4, dtype, offset, N=3)[0]
        attempt(record, f"{tag} test out", lambda: f(x3, gamma, beta, param)[0])
        record[f"{tag} test params"] = dict(param)


def _backward_scenarios(f, forward, record, inputs, forward_args):
    """Runs f on the cache of `forward`, twice (the second call shows a corrupted cache)."""
    for tag, (x, params, dout) in inputs:
        try:
            _, cache = forward(x, *params, *forward_args(tag))
        except Exception as error:
            record[f"{tag} forward"] = f"raised {type(error).__name__}"
            continue
        dout_given = dout.copy()
        attempt(record, f"{tag} grads", lambda: f(dout, cache))
        record[f"{tag} dout after"] = dout.copy()
        attempt(record, f"{tag} grads again", lambda: f(dout_given.copy(), cache))


def scenarios_batchnorm_backward(f, forward, record):
    inputs = []
    for dtype in (np.float64, np.float32):
        x, gamma, beta, dout = _bn_inputs(5, dtype)
        inputs.append((np.dtype(dtype).name, (x, (gamma, beta), dout)))
    _backward_scenarios(f, forward or batchnorm.batchnorm_forward, record, inputs,
                        lambda tag: ({"mode": "train"},))


scenarios_batchnorm_backward_alt = scenarios_batchnorm_backward


def _ln_inputs(seed, dtype, offset=1.0, N=5, D=6):
    rng = _rng(seed)
    x = (offset + 2.0 * rng.standard_normal((N, D))).astype(dtype)
    x[-1] = (offset + 1e-3 * rng.standard_normal(D)).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(D)).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    return x, gamma, beta, rng.standard_normal((N, D)).astype(dtype)


def scenarios_layernorm_forward(f, _forward, record):
    for dtype, offset in ((np.float64, 1.0), (np.float32, 1.0), (np.float32, 1e3)):
        for param in ({}, {"eps": 1e-3, "mode": "test"}, {"mode": "train"}):
            tag = f"{np.dtype(dtype).name}@{offset} {param}"
            x, gamma, beta, dout = _ln_inputs(6, dtype, offset)
            result = attempt(record, f"{tag} out", lambda: f(x, gamma, beta, dict(param)))
            record[f"{tag} x after"] = x.copy()
            if result is not None:
                attempt(record, f"{tag} bwd", lambda: layernorm.layernorm_backward(dout, result[1]))


def scenarios_layernorm_backward(f, forward, record):
    inputs = []
    for dtype in (np.float64, np.float32):
        x, gamma, beta, dout = _ln_inputs(7, dtype)
        inputs.append((np.dtype(dtype).name, (x, (gamma, beta), dout)))
    _backward_scenarios(f, forward or layernorm.layernorm_forward, record, inputs, lambda tag: ({},))


def _nchw_inputs(seed, dtype, shape, offset=1.0, gamma_layout=False):
    rng = _rng(seed)
    N, C, H, W = shape
    x = (offset + 2.0 * rng.standard_normal(shape)).astype(dtype)
    x[:, -1] = (offset + 1e-3 * rng.standard_normal((N, H, W))).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(C)).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    if gamma_layout:
        gamma, beta = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    return x, gamma, beta, rng.standard_normal(shape).astype(dtype)


SPATIAL_SHAPES = ((2, 3, 4, 5), (3, 4, 2, 4))


def scenarios_spatial_batchnorm_forward(f, _forward, record):
    for shape in SPATIAL_SHAPES:
        for dtype, offset in ((np.float64, 1.0), (np.float32, 1.0), (np.float32, 1e3)):
            tag = f"{shape} {np.dtype(dtype).name}@{offset}"
            x, gamma, beta, dout = _nchw_inputs(8, dtype, shape, offset)
            x_given = x.copy()
            fresh = {"mode": "train"}
            result = attempt(record, f"{tag} train out", lambda: f(x, gamma, beta, fresh))
            record[f"{tag} x after"] = x.copy()
            record[f"{tag} fresh params"] = dict(fresh)
            if result is not None:
                attempt(record, f"{tag} bwd", lambda: spatial.spatial_batchnorm_backward(dout, result[1]))
            C = shape[1]
            rm0 = _rng(9).standard_normal(C).astype(dtype)
            rv0 = (0.5 + _rng(10).random(C)).astype(dtype)
            kept = (rm0.copy(), rv0.copy())
            param = {"mode": "train", "momentum": 0.7, "eps": 1e-3, "running_mean": rm0, "running_var": rv0}
            attempt(record, f"{tag} train2 out", lambda: f(x_given.copy() * 2, gamma, beta, param)[0])
            record[f"{tag} train2 params"] = dict(param)
            record[f"{tag} caller running arrays"] = (rm0.copy(), rv0.copy(), *kept)
            param["mode"] = "test"
            attempt(record, f"{tag} test out", lambda: f(x_given[:1].copy(), gamma, beta, param)[0])
            record[f"{tag} test params"] = dict(param)


def scenarios_spatial_batchnorm_backward(f, forward, record):
    inputs = []
    for shape in SPATIAL_SHAPES:
        for dtype in (np.float64, np.float32):
            x, gamma, beta, dout = _nchw_inputs(11, dtype, shape)
            inputs.append((f"{shape} {np.dtype(dtype).name}", (x, (gamma, beta), dout)))
    _backward_scenarios(f, forward or spatial.spatial_batchnorm_forward, record, inputs,
                        lambda tag: ({"mode": "train"},))


GROUP_CASES = (((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((2, 4, 3, 4), 2), ((1, 6, 2, 2), 1))


def scenarios_spatial_groupnorm_forward(f, _forward, record):
    for shape, G in GROUP_CASES:
        for layout in (False, True):
            for dtype, offset in ((np.float64, 1.0), (np.float32, 1.0), (np.float32, 1e3)):
                for param in ({}, {"eps": 1e-3, "mode": "test"}):
                    tag = f"{shape} G={G} layout={layout} {np.dtype(dtype).name}@{offset} {param}"
                    x, gamma, beta, dout = _nchw_inputs(12, dtype, shape, offset, layout)
                    result = attempt(record, f"{tag} out", lambda: f(x, gamma, beta, G, dict(param)))
                    record[f"{tag} x after"] = x.copy()
                    if result is not None:
                        attempt(record, f"{tag} bwd", lambda: spatial.spatial_groupnorm_backward(dout, result[1]))


def scenarios_spatial_groupnorm_backward(f, forward, record):
    inputs = []
    for shape, G in GROUP_CASES:
        for layout in (False, True):
            for dtype in (np.float64, np.float32):
                x, gamma, beta, dout = _nchw_inputs(13, dtype, shape, 1.0, layout)
                inputs.append((f"{shape} G={G} layout={layout} {np.dtype(dtype).name}", (x, (gamma, beta), dout)))
    G_of = {f"{shape} G={G} layout={layout} {np.dtype(dtype).name}": G
            for shape, G in GROUP_CASES for layout in (False, True) for dtype in (np.float64, np.float32)}
    _backward_scenarios(f, forward or spatial.spatial_groupnorm_forward, record, inputs,
                        lambda tag: (G_of[tag], {}))


NETWORK_CASES = [
    dict(normalization=norm, activation=act, dropout_keep_ratio=keep, reg=reg)
    for norm in (None, "batchnorm", "layernorm")
    for act in ("relu", "sigmoid")
    for keep in (1, 0.6)
    for reg in (0.0, 0.3)
]


def _network_scenarios(cls, record):
    rng = _rng(14)
    X = rng.standard_normal((7, 6))
    y = rng.integers(0, 3, 7)
    X2 = rng.standard_normal((4, 6))
    for case in NETWORK_CASES:
        tag = str(case)
        try:
            net = cls([5, 4], input_dim=6, num_classes=3, weight_scale=0.5, dtype=np.float64, seed=0, **case)
        except Exception as error:
            record[f"{tag} build"] = f"raised {type(error).__name__}"
            continue
        attempt(record, f"{tag} train", lambda: net.loss(X, y))
        attempt(record, f"{tag} train again", lambda: net.loss(X * 0.5, y))
        record[f"{tag} bn_params"] = copy.deepcopy(net.bn_params)
        attempt(record, f"{tag} scores", lambda: net.loss(X2))
        record[f"{tag} bn_params after test"] = copy.deepcopy(net.bn_params)
        attempt(record, f"{tag} activation inputs", lambda: net.activation_inputs(X2))
        net.dropout_param["seed"] = 3
        attempt(record, f"{tag} fixed-mask repeat", lambda: same(net.loss(X, y)[0], net.loss(X, y)[0]))


def scenarios_hidden(cls, _forward, record):
    _network_scenarios(cls, record)


def _optimizer_scenarios(f, record, hyper):
    for dtype in (np.float64, np.float32):
        rng = _rng(15)
        w = rng.standard_normal((3, 4)).astype(dtype)
        for label, config in (("default", None), ("given", dict(hyper))):
            tag = f"{np.dtype(dtype).name} {label}"
            w_now = w.copy()
            for step in range(3):
                dw = (rng.standard_normal((3, 4)) * (step + 1)).astype(dtype)
                w_given = w_now.copy()
                before = copy.deepcopy(config)
                held = config
                result = attempt(record, f"{tag} step {step}", lambda: f(w_now, dw, held))
                record[f"{tag} step {step} w after"] = w_now.copy()
                record[f"{tag} step {step} w given"] = w_given
                if held is not None:
                    record[f"{tag} step {step} caller's dict"] = copy.deepcopy(held)
                    record[f"{tag} step {step} dict before"] = before
                if result is None:
                    break
                w_now, config = result[0].copy(), result[1]
                record[f"{tag} step {step} returns caller's dict"] = held is None or result[1] is held


def scenarios_sgd_momentum(f, _forward, record):
    _optimizer_scenarios(f, record, {"learning_rate": 0.05, "momentum": 0.8})


def scenarios_adam(f, _forward, record):
    _optimizer_scenarios(f, record, {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-4})


HISTORIES = [
    ([100, 200, 300, 400], [0.1, 0.5, 0.7, 0.6], 0.5),
    ([100, 200, 300, 400], [0.1, 0.5, 0.7, 0.6], 0.55),
    ([100, 200, 300, 400], [0.1, 0.5, 0.7, 0.6], 0.8),
    ([0, 50, 100, 150, 200], [0.2, 0.6, 0.58, 0.61, 0.9], 0.6),
    (np.array([0, 10, 20]), np.array([0.3, 0.3, 0.9]), 0.3),
    (np.array([5.0, 10.0, 15.0]), np.array([0.1, 0.4, 0.45]), 0.4),
    ([0, 1], [0.0, 0.0], 0.0),
]


def scenarios_steps_to_reach(f, _forward, record):
    for i, (steps, accuracies, target) in enumerate(HISTORIES):
        attempt(record, f"history {i}", lambda: f(steps, accuracies, target))


def scenarios_torch_running_var(f, _forward, record):
    for dtype in (np.float64, np.float32):
        for N in (2, 8):
            for k in (0, 1, 5):
                for momentum in (0.9, 0.5, 0.0):
                    rv = (0.5 + _rng(16).random(4)).astype(dtype)
                    rv_given = rv.copy()
                    tag = f"{np.dtype(dtype).name} N={N} k={k} m={momentum}"
                    result = attempt(record, tag, lambda: f(rv, N, k, momentum))
                    record[f"{tag} caller's array"] = (rv.copy(), rv_given)
                    record[f"{tag} new array"] = result is not rv


SCENARIOS = {
    "batchnorm_forward": (scenarios_batchnorm_forward, batchnorm.batchnorm_forward),
    "batchnorm_backward": (scenarios_batchnorm_backward, batchnorm.batchnorm_backward),
    "batchnorm_backward_alt": (scenarios_batchnorm_backward_alt, batchnorm.batchnorm_backward_alt),
    "layernorm_forward": (scenarios_layernorm_forward, layernorm.layernorm_forward),
    "layernorm_backward": (scenarios_layernorm_backward, layernorm.layernorm_backward),
    "spatial_batchnorm_forward": (scenarios_spatial_batchnorm_forward, spatial.spatial_batchnorm_forward),
    "spatial_batchnorm_backward": (scenarios_spatial_batchnorm_backward, spatial.spatial_batchnorm_backward),
    "spatial_groupnorm_forward": (scenarios_spatial_groupnorm_forward, spatial.spatial_groupnorm_forward),
    "spatial_groupnorm_backward": (scenarios_spatial_groupnorm_backward, spatial.spatial_groupnorm_backward),
    "FullyConnectedNet._hidden_forward": (scenarios_hidden, fc_net.FullyConnectedNet),
    "FullyConnectedNet._hidden_backward": (scenarios_hidden, fc_net.FullyConnectedNet),
    "sgd_momentum": (scenarios_sgd_momentum, optim.sgd_momentum),
    "adam": (scenarios_adam, optim.adam),
    "steps_to_reach": (scenarios_steps_to_reach, steps_to_reach),
    "torch_running_var": (scenarios_torch_running_var, torch_running_var),
}


def differences(entry):
    """{label: reason} for every record of the entry that differs from the instructor's."""
    scenarios, reference = SCENARIOS[entry.exercise]
    expected, got = {}, {}
    np.random.seed(0)
    scenarios(reference, None, expected)
    np.random.seed(0)
    scenarios(entry.function, entry.forward, got)
    found = {}
    for label in expected.keys() | got.keys():
        if label not in expected or label not in got:
            found[label] = "recorded on one side only"
            continue
        reason = same(got[label], expected[label])
        if reason:
            found[label] = reason
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("--verbose", action="store_true", help="print every differing record")
    args = parser.parse_args()
    bad = []
    counts = {}
    for entry in entries():
        if args.exercise not in (None, entry.exercise):
            continue
        kind = "correct" if entry.correct else "mistake"
        counts.setdefault(entry.exercise, [0, 0])[entry.correct] += 1
        found = differences(entry)
        ok = (not found) if entry.correct else bool(found)
        float64_only = {k: v for k, v in found.items() if "float32" not in k}
        verdict = "ok" if ok else "WRONG"
        if ok and not entry.correct and not float64_only:
            verdict = "ok (float32 only)"
        print(f"{verdict:18} {entry.exercise} / {entry.name} ({kind}): {len(found)} records differ")
        if found and (args.verbose or not ok or entry.correct):
            for label, reason in sorted(found.items())[: 6 if not args.verbose else None]:
                print(f"      {label}: {reason}")
        if not ok:
            bad.append(entry.name)
    for exercise, (mistakes, correct) in counts.items():
        print(f"{exercise}: {mistakes} mistakes, {correct} correct")
    print(f"total: {sum(m for m, _ in counts.values())} mistakes, {sum(c for _, c in counts.values())} correct")
    print(f"NOT VERIFIED ({len(bad)}): {', '.join(bad) or '-'}")


if __name__ == "__main__":
    main()
