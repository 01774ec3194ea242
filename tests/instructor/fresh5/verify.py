"""Check every entry of the fifth catalogue WITHOUT the graded checks: each mistake must differ
observably from the package's own function, each correct variant must agree with it.

    python -m tests.instructor.fresh5.verify [--exercise NAME] [-v]

Both sides get the same random inputs (train and test modes, float32 and float64, data with a
large mean), each its own deep copy. Compared: every result (values within a tolerance of the
dtype, shapes, dtypes, Python types, the fields of caches and the keys of dicts), the inputs
afterwards (dicts the function writes into, arrays changed in place, including arrays that the
caller held from a dict before the call), whether the main result aliases an input, and
whether a call raises. torch_running_var's result dtype is free, so its values alone count.
"""

import argparse
import copy
import dataclasses
import sys

import numpy as np

from cs231n_bn import batchnorm, experiments, layernorm, optim, spatial, torch_stats
from cs231n_bn.fc_net import FullyConnectedNet
from tests.instructor.fresh5.catalogue import entries

REFERENCE = {
    "batchnorm_forward": batchnorm.batchnorm_forward,
    "batchnorm_backward": batchnorm.batchnorm_backward,
    "batchnorm_backward_alt": batchnorm.batchnorm_backward_alt,
    "layernorm_forward": layernorm.layernorm_forward,
    "layernorm_backward": layernorm.layernorm_backward,
    "spatial_batchnorm_forward": spatial.spatial_batchnorm_forward,
    "spatial_batchnorm_backward": spatial.spatial_batchnorm_backward,
    "spatial_groupnorm_forward": spatial.spatial_groupnorm_forward,
    "spatial_groupnorm_backward": spatial.spatial_groupnorm_backward,
    "sgd_momentum": optim.sgd_momentum,
    "adam": optim.adam,
    "steps_to_reach": experiments.steps_to_reach,
    "torch_running_var": torch_stats.torch_running_var,
}
FORWARD_OF = {
    "batchnorm_backward": batchnorm.batchnorm_forward,
    "batchnorm_backward_alt": batchnorm.batchnorm_forward,
    "layernorm_backward": layernorm.layernorm_forward,
    "spatial_batchnorm_backward": spatial.spatial_batchnorm_forward,
    "spatial_groupnorm_backward": spatial.spatial_groupnorm_forward,
}


def difference(a, b, where="", dtype_free=False):
    """The first observable difference between a (student) and b (reference), or None."""
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{where}: {type(a).__name__} vs {type(b).__name__}"
        if a.shape != b.shape:
            return f"{where}: shape {a.shape} vs {b.shape}"
        if a.dtype != b.dtype and not dtype_free:
            return f"{where}: dtype {a.dtype} vs {b.dtype}"
        if a.size == 0:
            return None
        low = np.float32 in (a.dtype, b.dtype) or np.float16 in (a.dtype, b.dtype)
        scale = max(1.0, float(np.max(np.abs(b.astype(np.float64)))))
        rtol, atol = (2e-3, 2e-4 * scale) if low else (1e-7, 1e-10 * scale)
        if not np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True):
            err = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))
            return f"{where}: values differ (max abs {err:.3g})"
        return None
    if dataclasses.is_dataclass(b) and not isinstance(b, type):
        if type(a) is not type(b):
            return f"{where}: {type(a).__name__} vs {type(b).__name__}"
        for f in dataclasses.fields(b):
            d = difference(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}", dtype_free)
            if d:
                return d
        return None
    if isinstance(b, dict):
        if not isinstance(a, dict) or set(a) != set(b):
            return f"{where}: keys {sorted(a) if isinstance(a, dict) else a!r} vs {sorted(b)}"
        for k in b:
            d = difference(a[k], b[k], f"{where}[{k!r}]", dtype_free)
            if d:
                return d
        return None
    if isinstance(b, (tuple, list)):
        if not isinstance(a, (tuple, list)) or len(a) != len(b):
            return f"{where}: {a!r} vs {b!r}"
        for n, (x, y) in enumerate(zip(a, b)):
            d = difference(x, y, f"{where}[{n}]", dtype_free)
            if d:
                return d
        return None
    if type(a) is not type(b):
        return f"{where}: type {type(a).__name__} vs {type(b).__name__}"
    if isinstance(b, float):
        return None if np.isclose(a, b, rtol=1e-6, atol=1e-9) else f"{where}: {a} vs {b}"
    return None if a == b else f"{where}: {a!r} vs {b!r}"


def held_arrays(args):
    """The arrays a caller holds: arguments, and arrays inside argument dicts."""
    found = []
    for a in args:
        if isinstance(a, np.ndarray):
            found.append(a)
        elif isinstance(a, dict):
            found += [v for v in a.values() if isinstance(v, np.ndarray)]
    return found


def call(function, args, dtype_free=False):
    """Run function on a deep copy of args: (result or exception type, args after, held arrays, alias flag)."""
    args = copy.deepcopy(args)
    held = held_arrays(args)
    try:
        with np.errstate(all="ignore"):
            result = function(*args)
    except Exception as error:  # a crash is an observable behaviour too
        return ("raises", type(error).__name__), args, held, False
    main = result[0] if isinstance(result, tuple) else result
    alias = isinstance(main, np.ndarray) and any(np.shares_memory(main, h) for h in held)
    return ("returns", result), args, held, alias


def compare(student, reference, args, dtype_free=False):
    (ks, rs), args_s, held_s, alias_s = call(student, args)
    (kr, rr), args_r, held_r, alias_r = call(reference, args)
    if ks != kr:
        return f"{ks} {rs if ks == 'raises' else ''} where the reference {kr} {rr if kr == 'raises' else ''}"
    if ks == "raises":
        return None
    return (difference(rs, rr, "result", dtype_free) or difference(args_s, args_r, "inputs after")
            or difference(held_s, held_r, "held arrays after")
            or (alias_s and not alias_r and "result shares memory with an input"))


# Inputs per exercise

def rng(seed):
    return np.random.default_rng(seed)


def bn_params(D, dtype, r):
    rm, rv = r.standard_normal(D).astype(dtype), (r.random(D) + 0.5).astype(dtype)
    yield {"mode": "train"}
    yield {"mode": "train", "momentum": 0.7, "eps": 1e-3, "running_mean": rm, "running_var": rv}
    yield {"mode": "train", "running_mean": rm, "running_var": rv}
    yield {"mode": "test", "running_mean": rm, "running_var": rv, "eps": 1e-2}
    yield {"mode": "test", "running_mean": rm, "running_var": rv}


def data(shape, dtype, r, offset=0.0, scale=1.0):
    return (offset + scale * (r.standard_normal(shape) + r.standard_normal(shape[-1:]))).astype(dtype)


def cases_batchnorm_forward():
    r = rng(0)
    for dtype in (np.float32, np.float64):
        for shape, offset, scale in (((8, 5), 0, 2), ((3, 7), 1, 1), ((64, 4), 1e4, 1), ((5, 5), -3, 0.5)):
            x = data(shape, dtype, r, offset, scale)
            gamma, beta = (r.standard_normal(shape[1]) + 1).astype(dtype), r.standard_normal(shape[1]).astype(dtype)
            for p in bn_params(shape[1], dtype, r):
                if offset > 100 and "running_mean" in p:
                    p = {**p, "running_mean": (p["running_mean"] + offset).astype(dtype)}
                yield (x, gamma, beta, p)


def cases_layernorm_forward():
    r = rng(1)
    for dtype in (np.float32, np.float64):
        for shape, offset in (((6, 5), 0), ((3, 8), 2), ((4, 64), 1e4), ((5, 5), 0)):
            x = data(shape, dtype, r, offset) + (np.arange(shape[0])[:, None] * 3).astype(dtype)
            gamma, beta = (r.standard_normal(shape[1]) + 1).astype(dtype), r.standard_normal(shape[1]).astype(dtype)
            for p in ({}, {"eps": 1e-2}, {"mode": "test"}, {"mode": "train", "eps": 1e-3}):
                yield (x, gamma, beta, p)


def cases_spatial_batchnorm_forward():
    r = rng(2)
    for dtype in (np.float32, np.float64):
        for shape in ((2, 3, 4, 5), (3, 4, 2, 4), (2, 3, 5, 3), (4, 2, 3, 3)):
            x = (r.standard_normal(shape) + r.standard_normal((1, shape[1], 1, 1)) * 3).astype(dtype)
            C = shape[1]
            gamma, beta = (r.standard_normal(C) + 1).astype(dtype), r.standard_normal(C).astype(dtype)
            for p in bn_params(C, dtype, r):
                yield (x, gamma, beta, p)


def cases_spatial_groupnorm_forward():
    r = rng(3)
    for dtype in (np.float32, np.float64):
        for shape, G, offset in (((2, 6, 3, 4), 2, 0), ((2, 6, 3, 4), 3, 0), ((3, 4, 2, 4), 1, 0),
                                 ((2, 4, 3, 4), 4, 0), ((2, 6, 4, 4), 2, 1e4), ((1, 8, 2, 3), 2, 0)):
            x = (offset + r.standard_normal(shape) + r.standard_normal((1, shape[1], 1, 1)) * 3).astype(dtype)
            C = shape[1]
            for layout in ((C,), (1, C, 1, 1)):
                gamma = (r.standard_normal(C) + 1).astype(dtype).reshape(layout)
                beta = r.standard_normal(C).astype(dtype).reshape(layout)
                for p in ({}, {"eps": 1e-2, "mode": "test"}):
                    yield (x, gamma, beta, G, p)


def backward_cases(exercise, forward):
    """(dout, cache) pairs from the forward on the inputs of its forward exercise, train mode."""
    name = exercise.replace("_backward_alt", "_forward").replace("_backward", "_forward")
    r = rng(4)
    seen = 0
    for args in CASES[name]():
        if isinstance(args[-1], dict) and args[-1].get("mode") == "test" and "groupnorm" not in name and "layernorm" not in name:
            continue
        seen += 1
        if seen % 2 and seen > 6:
            continue
        x = args[0]
        with np.errstate(all="ignore"):
            _, cache = forward(*copy.deepcopy(args))
        dout = (r.standard_normal(x.shape) * 2).astype(x.dtype)
        yield (dout, cache)


CASES = {
    "batchnorm_forward": cases_batchnorm_forward,
    "layernorm_forward": cases_layernorm_forward,
    "spatial_batchnorm_forward": cases_spatial_batchnorm_forward,
    "spatial_groupnorm_forward": cases_spatial_groupnorm_forward,
}


def cases_optimizer(name):
    r = rng(5)
    for dtype in (np.float32, np.float64):
        for config in (None, {"learning_rate": 0.05}, {"learning_rate": 0.1, "momentum": 0.5},
                       {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-4},
                       {"learning_rate": 0.02, "t": 5, "m": r.standard_normal((3, 4)), "v": r.random((3, 4))},
                       {"learning_rate": 0.02, "velocity": r.standard_normal((3, 4))}):
            if config is not None and name == "sgd_momentum" and set(config) & {"beta1", "t"}:
                continue
            if config is not None and name == "adam" and set(config) & {"momentum", "velocity"}:
                continue
            if config is not None:
                config = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in config.items()}
            w = r.standard_normal((3, 4)).astype(dtype)
            dws = [(r.standard_normal((3, 4)) * s).astype(dtype) for s in (1, 0.01, 3)]
            yield w, dws, config


def verify_optimizer(function, reference, name):
    for w, dws, config in cases_optimizer(name):
        cs, cr = copy.deepcopy(config), copy.deepcopy(config)
        ws, wr = w.copy(), w.copy()
        for step, dw in enumerate(dws):
            d = compare(lambda *a: function(*a), lambda *a: reference(*a), (ws, dw, cs))
            if d:
                return f"step {step + 1}, {w.dtype}, config {sorted(config) if config else None}: {d}"
            with np.errstate(all="ignore"):
                ws, cs = function(ws.copy(), dw.copy(), cs)
                wr, cr = reference(wr.copy(), dw.copy(), cr)
    return None


def cases_steps():
    yield [0, 10, 20, 30], [0.1, 0.5, 0.8, 0.9], 0.8
    yield [0, 10, 20, 30], [0.1, 0.5, 0.8, 0.9], 0.95
    yield [0, 10, 20, 30], [0.1, 0.85, 0.6, 0.9], 0.8
    yield [0, 10, 20, 30], [0.1, 0.795, 0.6, 0.7], 0.8
    yield [5, 15, 25], [0.9, 0.2, 0.95], 0.5
    yield np.array([100, 200, 300, 400]), np.array([0.2, 0.4, 0.4, 0.3]), 0.4
    yield [0, 1, 2], [0.0, 0.0, 0.0], 0.0
    yield [3], [0.5], 0.7
    r = rng(6)
    for _ in range(20):
        n = int(r.integers(2, 30))
        steps = np.cumsum(r.integers(1, 50, n))
        acc = r.random(n)
        yield steps, acc, float(r.choice([acc[r.integers(n)], r.random()]))


def cases_torch():
    r = rng(7)
    for dtype in (np.float32, np.float64):
        for N, k, m in ((2, 0, 0.9), (5, 1, 0.9), (64, 3, 0.5), (8, 10, 0.99), (3, 4, 0.0), (4, 2, 1.0), (128, 7, 0.9)):
            yield ((r.random(6) * 3).astype(dtype), N, k, m)


NET_CONFIGS = [
    dict(normalization=n, activation=a, dropout_keep_ratio=p, reg=reg, dtype=dt)
    for n in (None, "batchnorm", "layernorm")
    for a, p, reg, dt in (("relu", 1, 0.0, np.float64), ("sigmoid", 0.7, 0.1, np.float64),
                          ("relu", 0.6, 0.05, np.float32), ("sigmoid", 1, 0.0, np.float32))
]


def verify_network(cls):
    r = rng(8)
    X = r.standard_normal((7, 4)) * 2 + 1
    y = r.integers(0, 3, 7)
    for config in NET_CONFIGS:
        nets = []
        for kind in (cls, FullyConnectedNet):
            nets.append(kind([6, 5], input_dim=4, num_classes=3, weight_scale=0.5, seed=0, **config))
        # Biases, gammas and betas away from their start values, the same in both networks
        pr = rng(9)
        for key, value in nets[1].params.items():
            if not key.startswith("W"):
                value = value + pr.standard_normal(value.shape).astype(value.dtype) * 0.3
            for net in nets:
                net.params[key] = value.copy()
        steps = [("loss", (X, y)), ("loss", (X[:5], y[:5])), ("scores", (X,)), ("activation_inputs", (X,)),
                 ("loss", (X, y))]
        for label, args in steps:
            outcomes = []
            for net in nets:
                method = net.activation_inputs if label == "activation_inputs" else net.loss
                try:
                    with np.errstate(all="ignore"):
                        outcomes.append(("returns", method(*args)))
                except Exception as error:
                    outcomes.append(("raises", type(error).__name__))
            (ks, rs), (kr, rr) = outcomes
            where = f"{config}, {label}"
            if ks != kr:
                return f"{where}: {ks} {rs if ks == 'raises' else ''} where the reference {kr}"
            if ks == "raises":
                break
            d = (difference(rs, rr, "result") or difference(nets[0].bn_params, nets[1].bn_params, "bn_params")
                 or difference(nets[0].params, nets[1].params, "params"))
            if d:
                return f"{where}: {d}"
    return None


def verify(entry):
    """The first observable difference of entry from the reference, or None."""
    ex = entry.exercise
    if ex.startswith("FullyConnectedNet"):
        return verify_network(entry.function)
    if ex in ("sgd_momentum", "adam"):
        return verify_optimizer(entry.function, REFERENCE[ex], ex)
    reference = REFERENCE[ex]
    if ex == "steps_to_reach":
        cases, dtype_free = cases_steps(), False
    elif ex == "torch_running_var":
        cases, dtype_free = cases_torch(), True
    elif ex in CASES:
        cases, dtype_free = CASES[ex](), False
    else:
        cases, dtype_free = backward_cases(ex, entry.forward or FORWARD_OF[ex]), False
    for n, args in enumerate(cases):
        d = compare(entry.function, reference, args, dtype_free)
        if d:
            info = [f"{a.dtype} {a.shape}" for a in args if isinstance(a, np.ndarray)][:1]
            return f"case {n} ({', '.join(info)}{', ' + str({k: v for k, v in args[-1].items() if not isinstance(v, np.ndarray)}) if isinstance(args[-1], dict) else ''}): {d}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("-v", action="store_true", help="print what each mistake changes")
    args = parser.parse_args()
    bad = []
    for entry in entries():
        if args.exercise not in (None, entry.exercise):
            continue
        d = verify(entry)
        ok = bool(d) != entry.correct
        kind = "correct" if entry.correct else "mistake"
        if not ok or args.v:
            print(f"{'ok ' if ok else 'BAD'} {entry.exercise} / {entry.name} ({kind}): {d or 'agrees'}")
        if not ok:
            bad.append(entry.name)
    print(f"{len(bad)} entries fail verification: {', '.join(bad) or '-'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
