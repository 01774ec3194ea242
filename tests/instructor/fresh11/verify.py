"""Check the eleventh catalogue without the course's checks: every mistake must differ observably
from the instructor's function somewhere the contract fixes, every correct variant must agree
with it everywhere.

    python -m tests.instructor.fresh11.verify [--exercise NAME] [--verbose]

A scenario runs a function on inputs chosen here and records what a caller can see: returned
values (shape, dtype, Python type, numbers to a dtype-dependent tolerance), every field of a
cache (the dataclasses' docstrings fix them all), the gradients the instructor's backward pass
computes from that cache, bn_param / config contents after the call, and the caller's arrays
after the call. A crash is recorded as its exception type.
"""

import argparse
import copy
import dataclasses
import warnings

import numpy as np

from cs231n_bn import batchnorm, fc_net, layernorm, optim, spatial
from cs231n_bn.experiments import steps_to_reach
from cs231n_bn.torch_stats import torch_running_var

from tests.instructor.fresh11.catalogue import entries


def visible(value):
    """A deep copy of value, dataclasses (caches) turned into dicts of their fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"<cache>": type(value).__name__,
                **{f.name: visible(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (tuple, list)):
        return type(value)(visible(v) for v in value)
    if isinstance(value, dict):
        return {k: visible(v) for k, v in value.items()}
    return copy.deepcopy(value)


def attempt(record, label, call):
    """record[label] = what call() returns, or the exception's type; the value or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = call()
    except Exception as error:  # a crash is an observable outcome like any other
        record[label] = f"raised {type(error).__name__}"
        return None
    record[label] = visible(value)
    return value


def same(a, b):
    """'' if a caller could not tell a and b apart, else a short reason."""
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        if type(a) is not type(b):
            return f"type {type(a).__name__} vs {type(b).__name__}"
        if a.shape != b.shape:
            return f"shape {a.shape} vs {b.shape}"
        if a.dtype != b.dtype:
            return f"dtype {a.dtype} vs {b.dtype}"
        if a.dtype.kind == "f":
            rtol, atol = (3e-4, 3e-4) if a.dtype.itemsize < 8 else (1e-7, 1e-9)
            return "" if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True) else "values differ"
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
        return "" if np.isclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True) else f"{a} vs {b}"
    return "" if a == b else f"{a!r} vs {b!r}"


def _rng(seed):
    return np.random.default_rng(seed)


# ================================================================ batch norm and layer norm (N, D)

def _nd(seed, dtype, N, D, offset=3.0):
    rng = _rng(seed)
    x = (offset + 2.0 * rng.standard_normal((N, D))).astype(dtype)
    x[:, -1] = (offset + 1e-3 * rng.standard_normal(N)).astype(dtype)  # a variance below eps
    gamma = (1 + 0.5 * rng.standard_normal(D)).astype(dtype)
    beta = rng.standard_normal(D).astype(dtype)
    dout = rng.standard_normal((N, D)).astype(dtype)
    return x, gamma, beta, dout


SHAPES = ((6, 4), (5, 5), (3, 7))
DTYPES = (np.float64, np.float32)


def scenarios_batchnorm_forward(f, _forward, record):
    for dtype in DTYPES:
        for N, D in SHAPES:
            tag = f"{np.dtype(dtype).name} {N}x{D}"
            x, gamma, beta, dout = _nd(1, dtype, N, D)
            x_given = x.copy()
            fresh = {"mode": "train"}
            result = attempt(record, f"{tag} fresh", lambda: f(x, gamma, beta, fresh))
            record[f"{tag} x after"] = x.copy()
            record[f"{tag} fresh param"] = visible(fresh)
            if result is not None:
                cache = result[1]
                attempt(record, f"{tag} staged", lambda: batchnorm.batchnorm_backward(dout, cache))
                attempt(record, f"{tag} alt", lambda: batchnorm.batchnorm_backward_alt(dout, cache))
            x = x_given
            for momentum in (0.0, 0.7, 1.0):
                rng = _rng(2)
                rm0 = rng.standard_normal(D).astype(dtype)
                rv0 = (0.5 + rng.random(D)).astype(dtype)
                rm_given, rv_given = rm0.copy(), rv0.copy()
                param = {"mode": "train", "momentum": momentum, "eps": 1e-3, "running_mean": rm0, "running_var": rv0}
                x2 = _nd(3, dtype, N, D)[0]
                t = f"{tag} m={momentum}"
                attempt(record, f"{t} train", lambda: f(x2, gamma, beta, param))
                record[f"{t} param"] = visible(param)
                record[f"{t} caller arrays"] = [rm0.copy(), rv0.copy(), rm_given, rv_given]
                param["mode"] = "test"
                x3 = _nd(4, dtype, 3, D)[0]
                result = attempt(record, f"{t} test", lambda: f(x3, gamma, beta, param))
                record[f"{t} test param"] = visible(param)
                if result is not None:
                    cache = result[1]
                    attempt(record, f"{t} test cache refused", lambda: batchnorm.batchnorm_backward_alt(x3, cache))
            default = {"mode": "train", "running_mean": np.zeros(D, dtype), "running_var": np.ones(D, dtype)}
            attempt(record, f"{tag} defaults", lambda: f(x, gamma, beta, default))
            record[f"{tag} defaults param"] = visible(default)


def _backward_scenarios(f, forward, record, cases):
    for tag, args, dout in cases:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, cache = forward(*args)
        except Exception as error:
            record[f"{tag} forward"] = f"raised {type(error).__name__}"
            continue
        cache_before = visible(cache)
        dout_given = dout.copy()
        attempt(record, f"{tag} grads", lambda: f(dout, cache))
        record[f"{tag} dout after"] = dout.copy()
        record[f"{tag} cache after"] = "same" if not same(cache_before, visible(cache)) else "changed"
        attempt(record, f"{tag} grads again", lambda: f(dout_given.copy(), cache))


def _bn_cases():
    for dtype in DTYPES:
        for N, D in SHAPES:
            x, gamma, beta, dout = _nd(5, dtype, N, D)
            yield f"{np.dtype(dtype).name} {N}x{D}", (x, gamma, beta, {"mode": "train"}), dout


def scenarios_batchnorm_backward(f, forward, record):
    _backward_scenarios(f, forward, record, _bn_cases())


scenarios_batchnorm_backward_alt = scenarios_batchnorm_backward


def _ln_cases():
    for dtype in DTYPES:
        for N, D in SHAPES:
            x, gamma, beta, dout = _nd(6, dtype, N, D)
            for param in ({}, {"mode": "test", "eps": 1e-3}):
                yield f"{np.dtype(dtype).name} {N}x{D} {param}", (x.copy(), gamma, beta, param), dout


def scenarios_layernorm_forward(f, _forward, record):
    for tag, args, dout in _ln_cases():
        x = args[0]
        x_given = x.copy()
        result = attempt(record, f"{tag} out", lambda: f(*args))
        record[f"{tag} x after"] = [x.copy(), x_given]
        if result is not None:
            cache = result[1]
            attempt(record, f"{tag} backward", lambda: layernorm.layernorm_backward(dout, cache))


def scenarios_layernorm_backward(f, forward, record):
    _backward_scenarios(f, forward, record, _ln_cases())


# ================================================================ spatial batch norm and group norm

def _nchw(seed, dtype, shape):
    rng = _rng(seed)
    N, C, H, W = shape
    x = (2.0 + 1.5 * rng.standard_normal(shape) + np.arange(C).reshape(C, 1, 1)).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(C)).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, dout


SPATIAL_SHAPES = ((2, 3, 4, 5), (3, 4, 2, 2), (2, 6, 3, 3))


def scenarios_spatial_batchnorm_forward(f, _forward, record):
    for dtype in DTYPES:
        for shape in SPATIAL_SHAPES:
            tag = f"{np.dtype(dtype).name} {shape}"
            x, gamma, beta, dout = _nchw(7, dtype, shape)
            x_given = x.copy()
            C = shape[1]
            rm0, rv0 = _rng(8).standard_normal(C).astype(dtype), (0.5 + _rng(9).random(C)).astype(dtype)
            param = {"mode": "train", "momentum": 0.6, "running_mean": rm0, "running_var": rv0}
            result = attempt(record, f"{tag} train", lambda: f(x, gamma, beta, param))
            record[f"{tag} x after"] = [x.copy(), x_given]
            record[f"{tag} param"] = visible(param)
            record[f"{tag} caller arrays"] = [rm0.copy(), rv0.copy()]
            if result is not None:
                cache = result[1]
                attempt(record, f"{tag} backward", lambda: spatial.spatial_batchnorm_backward(dout, cache))
            param["mode"] = "test"
            x3 = _nchw(10, dtype, shape)[0]
            attempt(record, f"{tag} test", lambda: f(x3, gamma, beta, param)[0])
            record[f"{tag} test param"] = visible(param)


def scenarios_spatial_batchnorm_backward(f, forward, record):
    cases = []
    for dtype in DTYPES:
        for shape in SPATIAL_SHAPES:
            x, gamma, beta, dout = _nchw(11, dtype, shape)
            cases.append((f"{np.dtype(dtype).name} {shape}", (x, gamma, beta, {"mode": "train"}), dout))
    _backward_scenarios(f, forward, record, cases)


def _gn_cases():
    for dtype in DTYPES:
        for shape, G in (((2, 6, 3, 3), 2), ((2, 6, 3, 3), 3), ((3, 4, 2, 3), 2), ((2, 4, 1, 3), 4), ((2, 6, 2, 2), 1)):
            x, gamma, beta, dout = _nchw(12, dtype, shape)
            C = shape[1]
            for layout in ((C,), (1, C, 1, 1)):
                for param in ({}, {"mode": "test", "eps": 1e-3}):
                    tag = f"{np.dtype(dtype).name} {shape} G={G} {layout} {param}"
                    yield tag, (x.copy(), gamma.reshape(layout), beta.reshape(layout), G, param), dout


def scenarios_spatial_groupnorm_forward(f, _forward, record):
    for tag, args, dout in _gn_cases():
        x = args[0]
        x_given = x.copy()
        result = attempt(record, f"{tag} out", lambda: f(*args))
        record[f"{tag} x after"] = [x.copy(), x_given]
        if result is not None:
            cache = result[1]
            attempt(record, f"{tag} backward", lambda: spatial.spatial_groupnorm_backward(dout, cache))


def scenarios_spatial_groupnorm_backward(f, forward, record):
    _backward_scenarios(f, forward, record, _gn_cases())


# ================================================================ the network

NETWORKS = [
    dict(hidden_dims=hidden, normalization=norm, activation=act, dropout_keep_ratio=keep, dtype=dtype)
    for hidden in ([5, 5], [6, 4, 3])
    for norm in (None, "batchnorm", "layernorm")
    for act in ("relu", "sigmoid")
    for keep in (1, 0.7)
    for dtype in (np.float64, np.float32)
]


def _bn_params(net):
    """The network's norm dicts; layer norm's 'mode' is left out, as layer norm ignores it."""
    if net.normalization == "layernorm":
        return [{k: v for k, v in d.items() if k != "mode"} for d in net.bn_params]
    return visible(net.bn_params)


def _network_record(cls, record):
    rng = _rng(13)
    X, y = rng.standard_normal((8, 7)), rng.integers(0, 3, 8)
    X_test = rng.standard_normal((4, 7))
    for settings in NETWORKS:
        tag = ", ".join(f"{k}={v}" for k, v in settings.items())
        try:
            net = cls(input_dim=7, num_classes=3, weight_scale=0.5, seed=0, reg=0.1, **settings)
        except Exception as error:
            record[f"{tag} build"] = f"raised {type(error).__name__}"
            continue
        for step in range(2):
            attempt(record, f"{tag} loss {step}", lambda: net.loss(X, y))
            record[f"{tag} bn_params {step}"] = _bn_params(net)
        attempt(record, f"{tag} scores", lambda: net.loss(X_test))
        attempt(record, f"{tag} activation inputs", lambda: net.activation_inputs(X_test))
        record[f"{tag} bn_params end"] = _bn_params(net)


def scenarios_network(cls, _forward, record):
    _network_record(cls, record)


# ================================================================ optimizers

def _optim_scenarios(f, record, configs):
    for dtype in DTYPES:
        rng = _rng(14)
        w0 = rng.standard_normal((3, 4)).astype(dtype)
        grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(3)]
        for name, config0 in configs:
            tag = f"{np.dtype(dtype).name} {name}"
            config = copy.deepcopy(config0)
            w = w0.copy()
            for step, dw in enumerate(grads):
                w_given = w.copy()
                result = attempt(record, f"{tag} step {step}", lambda: f(w, dw, config))
                record[f"{tag} w after {step}"] = [w.copy(), w_given]
                if result is None:
                    break
                record[f"{tag} same dict {step}"] = result[1] is config or config is None
                if config is None:
                    config = result[1]
                w = result[0]


def scenarios_sgd_momentum(f, _forward, record):
    _optim_scenarios(f, record, (("none", None), ("empty", {}), ("lr", {"learning_rate": 0.1, "momentum": 0.5}),
                                 ("momentum 0", {"momentum": 0.0}), ("momentum 1", {"momentum": 1.0})))


def scenarios_adam(f, _forward, record):
    _optim_scenarios(f, record, (("none", None), ("empty", {}), ("tuned", {"learning_rate": 0.05, "beta1": 0.5,
                                                                           "beta2": 0.7, "epsilon": 1e-3}),
                                 ("t=5", {"t": 5})))


# ================================================================ steps_to_reach, torch_running_var

HISTORIES = [
    ([0, 10, 20, 30], [0.1, 0.5, 0.8, 0.9], 0.8),
    ([0, 10, 20, 30], [0.1, 0.5, 0.8, 0.9], 0.85),
    ([0, 10, 20, 30], [0.1, 0.5, 0.8, 0.9], 0.95),
    ([0, 5, 9], [0.6, 0.4, 0.7], 0.5),
    ([0, 5, 9], [0.6, 0.4, 0.7], 0.0),
    ([1, 2, 3, 4], [0.2, 0.795, 0.9, 0.6], 0.8),
    ([0.0, 50.0, 100.0], [0.2, 0.9, 0.3], 0.9),
    ([3, 7], [1.0, 1.0], 1.0),
    ([], [], 0.5),
    ([4, 8, 12, 16, 20], [0.3, 0.6, 0.6, 0.61, 0.9], 0.6),
]


def scenarios_steps_to_reach(f, _forward, record):
    for i, (s, a, target) in enumerate(HISTORIES):
        for kind in (list, np.array):
            result = attempt(record, f"{i} {kind.__name__}", lambda: f(kind(s), kind(a), target))
            record[f"{i} {kind.__name__} type"] = type(result).__name__


def scenarios_torch_running_var(f, _forward, record):
    for dtype in DTYPES:
        rv = (0.2 + _rng(15).random(5)).astype(dtype)
        for N in (2, 5, 64):
            for k in (0, 1, 7):
                for momentum in (0.0, 0.5, 0.9, 1.0):
                    given = rv.copy()
                    tag = f"{np.dtype(dtype).name} N={N} k={k} m={momentum}"
                    result = attempt(record, tag, lambda: f(given, N, k, momentum))
                    record[f"{tag} caller"] = [given.copy(), rv]
                    record[f"{tag} new array"] = result is not given


# ================================================================ the comparison

SCENARIOS = {
    "batchnorm_forward": scenarios_batchnorm_forward,
    "batchnorm_backward": scenarios_batchnorm_backward,
    "batchnorm_backward_alt": scenarios_batchnorm_backward_alt,
    "layernorm_forward": scenarios_layernorm_forward,
    "layernorm_backward": scenarios_layernorm_backward,
    "spatial_batchnorm_forward": scenarios_spatial_batchnorm_forward,
    "spatial_batchnorm_backward": scenarios_spatial_batchnorm_backward,
    "spatial_groupnorm_forward": scenarios_spatial_groupnorm_forward,
    "spatial_groupnorm_backward": scenarios_spatial_groupnorm_backward,
    "FullyConnectedNet._hidden_forward": scenarios_network,
    "FullyConnectedNet._hidden_backward": scenarios_network,
    "sgd_momentum": scenarios_sgd_momentum,
    "adam": scenarios_adam,
    "steps_to_reach": scenarios_steps_to_reach,
    "torch_running_var": scenarios_torch_running_var,
}

INSTRUCTOR = {
    "batchnorm_forward": batchnorm.batchnorm_forward,
    "batchnorm_backward": batchnorm.batchnorm_backward,
    "batchnorm_backward_alt": batchnorm.batchnorm_backward_alt,
    "layernorm_forward": layernorm.layernorm_forward,
    "layernorm_backward": layernorm.layernorm_backward,
    "spatial_batchnorm_forward": spatial.spatial_batchnorm_forward,
    "spatial_batchnorm_backward": spatial.spatial_batchnorm_backward,
    "spatial_groupnorm_forward": spatial.spatial_groupnorm_forward,
    "spatial_groupnorm_backward": spatial.spatial_groupnorm_backward,
    "FullyConnectedNet._hidden_forward": fc_net.FullyConnectedNet,
    "FullyConnectedNet._hidden_backward": fc_net.FullyConnectedNet,
    "sgd_momentum": optim.sgd_momentum,
    "adam": optim.adam,
    "steps_to_reach": steps_to_reach,
    "torch_running_var": torch_running_var,
}


def differences(entry):
    """(label, reason) for every recorded value where the entry and the instructor differ."""
    scenarios = SCENARIOS[entry.exercise]
    ours, theirs = {}, {}
    scenarios(INSTRUCTOR[entry.exercise], entry.forward, ours)
    scenarios(entry.function, entry.forward, theirs)
    found = []
    for label in ours.keys() | theirs.keys():
        reason = same(ours.get(label, "<missing>"), theirs.get(label, "<missing>"))
        if reason:
            found.append((label, reason))
    return sorted(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    chosen = [e for e in entries() if args.exercise in (None, e.exercise)]
    inconsistent = []
    for entry in chosen:
        found = differences(entry)
        ok = bool(found) != entry.correct
        if not ok:
            inconsistent.append(entry)
        if args.verbose or not ok:
            kind = "correct" if entry.correct else "mistake"
            verdict = "consistent" if ok else "INCONSISTENT"
            print(f"{verdict}: {entry.exercise} / {entry.name} ({kind}): {len(found)} differences")
            for label, reason in found[:3]:
                print(f"    {label}: {reason}")
    mistakes = sum(not e.correct for e in chosen)
    print(f"{len(chosen)} entries ({mistakes} mistakes, {len(chosen) - mistakes} correct): "
          f"{len(chosen) - len(inconsistent)} consistent, {len(inconsistent)} inconsistent")


if __name__ == "__main__":
    main()
