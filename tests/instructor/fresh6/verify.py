"""Verify the sixth catalogue without the checks: every mistake must differ observably from the
instructor's function in something its contract fixes, every correct variant must agree.

    python -m tests.instructor.fresh6.verify [--exercise NAME] [-v]

Each exercise has scenarios (random inputs in float32 and float64, train and test modes,
non-default hyperparameters, several steps of state). A scenario runs the instructor's function
and the entry on identical copies of its inputs and records what the caller can observe: the
returned values (values, shapes, dtypes, Python types), the caches' fields, the dicts the caller
passed (bn_param, config) after the call, and whether any array the caller holds was changed.
A scenario whose inputs the instructor's function refuses is skipped.
"""

import argparse
import copy
import dataclasses

import numpy as np

from cs231n_bn import batchnorm, experiments, layernorm, optim, spatial, torch_stats
from cs231n_bn.fc_net import FullyConnectedNet
from tests.instructor.fresh6.catalogue import entries

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
    "FullyConnectedNet._hidden_forward": FullyConnectedNet,
    "FullyConnectedNet._hidden_backward": FullyConnectedNet,
    "sgd_momentum": optim.sgd_momentum,
    "adam": optim.adam,
    "steps_to_reach": experiments.steps_to_reach,
    "torch_running_var": torch_stats.torch_running_var,
}


# ---------------------------------------------------------------------------------------
# Comparing what a caller observes
# ---------------------------------------------------------------------------------------

def differences(ref, got, path="result"):
    """Where `got` differs from `ref`: a list of short descriptions (empty when they agree)."""
    if isinstance(ref, np.ndarray):
        if not isinstance(got, np.ndarray):
            return [f"{path}: {type(got).__name__} instead of an array"]
        if ref.shape != got.shape:
            return [f"{path}: shape {got.shape} instead of {ref.shape}"]
        if ref.dtype != got.dtype:
            return [f"{path}: dtype {got.dtype} instead of {ref.dtype}"]
        if ref.dtype == bool:
            return [] if np.array_equal(ref, got) else [f"{path}: values differ"]
        # float32 within a few units of float32 rounding of the large-mean inputs (values near 1000);
        # mistakes that differ by less show in the float64 scenarios
        rtol, atol = (1e-7, 1e-9) if ref.dtype == np.float64 else (1e-3, 1e-3)
        if not np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True):
            with np.errstate(invalid="ignore"):
                err = np.max(np.abs(got.astype(float) - ref.astype(float)))
            return [f"{path}: values differ (max abs {err:.3g})"]
        return []
    if dataclasses.is_dataclass(ref):
        if type(got) is not type(ref):
            return [f"{path}: {type(got).__name__} instead of {type(ref).__name__}"]
        found = []
        for field in dataclasses.fields(ref):
            found += differences(getattr(ref, field.name), getattr(got, field.name), f"{path}.{field.name}")
        return found
    if isinstance(ref, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(ref):
            return [f"{path}: {got!r:.60} instead of a sequence of {len(ref)}"]
        found = []
        for k, (r, g) in enumerate(zip(ref, got)):
            found += differences(r, g, f"{path}[{k}]")
        return found
    if isinstance(ref, dict):
        if not isinstance(got, dict) or set(got) != set(ref):
            return [f"{path}: keys {sorted(got) if isinstance(got, dict) else got!r} instead of {sorted(ref)}"]
        found = []
        for key in ref:
            found += differences(ref[key], got[key], f"{path}[{key!r}]")
        return found
    if type(ref) is not type(got):
        return [f"{path}: {type(got).__name__} {got!r:.40} instead of {type(ref).__name__} {ref!r:.40}"]
    if isinstance(ref, float):
        return [] if np.isclose(ref, got, rtol=1e-7, atol=1e-12, equal_nan=True) else [f"{path}: {got} vs {ref}"]
    return [] if ref == got else [f"{path}: {got!r} instead of {ref!r}"]


def observe(call):
    """Run call(); return ('ok', record) or ('error', exception type name)."""
    try:
        with np.errstate(all="ignore"):
            return "ok", call()
    except Exception as error:  # a crash is observable too
        return "error", type(error).__name__


def unchanged(before, after):
    """For the caller's arrays: True where each was left as it was."""
    return [bool(np.array_equal(b, a, equal_nan=True)) for b, a in zip(before, after)]


# ---------------------------------------------------------------------------------------
# Scenarios: each a function of the exercise's function returning a record
# ---------------------------------------------------------------------------------------

DTYPES = (np.float64, np.float32)


def _bn_param_cases(D, dtype, rng):
    rm, rv = rng.standard_normal(D).astype(dtype), rng.uniform(0.5, 2, D).astype(dtype)
    return [
        {"mode": "train"},
        {"mode": "train", "momentum": 0.7, "eps": 0.3, "running_mean": rm, "running_var": rv},
        {"mode": "train", "momentum": 0.0, "running_mean": rm, "running_var": rv},
        {"mode": "test", "running_mean": rm, "running_var": rv},
        {"mode": "test", "eps": 0.3, "running_mean": rm, "running_var": rv},
    ]


def _norm_forward_scenario(shape, param, dtype, seed, scale=3.0, mean=1.0, extra=()):
    """A forward pass of (x, gamma, beta, *extra, param): records outputs, the param dict and the inputs."""
    def scenario(fn):
        rng = np.random.default_rng(seed)
        x = (mean + scale * rng.standard_normal(shape)).astype(dtype)
        C = shape[1]
        gshape = extra[1] if len(extra) > 1 else (C,)
        gamma = rng.uniform(0.5, 2, gshape).astype(dtype)
        beta = rng.standard_normal(gshape).astype(dtype)
        p = copy.deepcopy(param)
        held = [x, gamma, beta] + [v for v in p.values() if isinstance(v, np.ndarray)]
        before = [a.copy() for a in held]
        args = (x, gamma, beta, *extra[:1], p)
        out, cache = fn(*args)
        new_arrays = [p[k] is not a for k, a in param.items() if isinstance(a, np.ndarray) and k in p]
        return {"out": out, "cache": cache, "param": p, "unchanged": unchanged(before, held), "new": new_arrays}
    return scenario


def _backward_scenario(forward, shape, param, dtype, seed, extra=()):
    def scenario(fn):
        rng = np.random.default_rng(seed)
        x = (1.0 + 3.0 * rng.standard_normal(shape)).astype(dtype)
        gshape = extra[1] if len(extra) > 1 else (shape[1],)
        gamma = rng.uniform(0.5, 2, gshape).astype(dtype)
        beta = rng.standard_normal(gshape).astype(dtype)
        _, cache = forward(x, gamma, beta, *extra[:1], copy.deepcopy(param))
        dout = rng.standard_normal(shape).astype(dtype)
        held = [dout] + [v for v in _arrays(cache)]
        before = [a.copy() for a in held]
        grads = fn(dout, cache)
        return {"grads": grads, "unchanged": unchanged(before, held)}
    return scenario


def _arrays(cache):
    for field in dataclasses.fields(cache):
        value = getattr(cache, field.name)
        if isinstance(value, np.ndarray):
            yield value
        elif dataclasses.is_dataclass(value):
            yield from _arrays(value)


def bn_forward_scenarios():
    found = []
    for dtype in DTYPES:
        for shape in ((8, 5), (4, 4)):
            for param in _bn_param_cases(shape[1], dtype, np.random.default_rng(len(found))):
                found.append(_norm_forward_scenario(shape, param, dtype, seed=len(found)))
    found.append(_norm_forward_scenario((64, 6), {"mode": "train"}, np.float32, 99, scale=1.0, mean=1000.0))
    return found


def bn_backward_scenarios(forward):
    found = []
    for dtype in DTYPES:
        for shape in ((8, 5), (4, 4)):
            for param in ({"mode": "train"}, {"mode": "train", "eps": 0.3}):
                found.append(_backward_scenario(forward, shape, param, dtype, seed=len(found)))
    return found


def ln_forward_scenarios():
    found = []
    for dtype in DTYPES:
        for shape in ((4, 6), (5, 5), (7, 3)):
            for param in ({}, {"mode": "test"}, {"mode": "train", "eps": 0.3}):
                found.append(_norm_forward_scenario(shape, param, dtype, seed=len(found)))
    found.append(_norm_forward_scenario((4, 64), {}, np.float32, 99, scale=1.0, mean=1000.0))
    return found


def ln_backward_scenarios(forward):
    found = []
    for dtype in DTYPES:
        for shape in ((4, 6), (5, 5)):
            for param in ({}, {"eps": 0.3}):
                found.append(_backward_scenario(forward, shape, param, dtype, seed=len(found)))
    return found


def sbn_forward_scenarios():
    found = []
    for dtype in DTYPES:
        for shape in ((3, 4, 2, 3), (2, 3, 3, 3)):
            for param in _bn_param_cases(shape[1], dtype, np.random.default_rng(len(found))):
                found.append(_norm_forward_scenario(shape, param, dtype, seed=len(found)))
    return found


def sbn_backward_scenarios(forward):
    found = []
    for dtype in DTYPES:
        for shape in ((3, 4, 2, 3), (2, 3, 3, 3)):
            for param in ({"mode": "train"}, {"mode": "train", "eps": 0.3}):
                found.append(_backward_scenario(forward, shape, param, dtype, seed=len(found)))
    return found


def _gn_cases():
    for shape in ((2, 6, 2, 3), (3, 4, 3, 3)):
        C = shape[1]
        for G in [g for g in range(1, C + 1) if C % g == 0]:
            for gshape in ((C,), (1, C, 1, 1)):
                yield shape, G, gshape


def gn_forward_scenarios():
    found = []
    for dtype in DTYPES:
        for shape, G, gshape in _gn_cases():
            for param in ({}, {"mode": "test", "eps": 0.3}):
                found.append(_norm_forward_scenario(shape, param, dtype, len(found), extra=(G, gshape)))
    return found


def gn_backward_scenarios(forward):
    found = []
    for dtype in DTYPES:
        for shape, G, gshape in _gn_cases():
            param = {"eps": 0.3} if G % 2 else {}
            found.append(_backward_scenario(forward, shape, param, dtype, len(found), extra=(G, gshape)))
    return found


NET_CASES = [
    dict(normalization=n, activation=a, dropout_keep_ratio=keep, reg=reg, dtype=dt)
    for n in (None, "batchnorm", "layernorm")
    for a in ("relu", "sigmoid")
    for keep, reg in ((1, 0.0), (0.7, 0.3))
    for dt in (np.float64, np.float32)
]


def net_scenarios():
    def make(case, seed):
        def scenario(cls):
            rng = np.random.default_rng(seed)
            X = rng.standard_normal((6, 5))
            y = rng.integers(0, 4, 6)
            net = cls([7, 6, 7], input_dim=5, num_classes=4, weight_scale=0.5, seed=seed, **case)
            X_before = X.copy()
            record = {}
            for step in range(2):
                loss, grads = net.loss(X, y)
                record[f"loss{step}"], record[f"grads{step}"] = np.asarray(loss), grads
            record["scores"] = net.loss(X)
            record["z"] = net.activation_inputs(X)
            # layer norm ignores 'mode', so whether a network writes it there is not observable
            record["bn_params"] = [{k: v for k, v in p.items() if k != "mode"} for p in net.bn_params]
            record["X"] = unchanged([X_before], [X])
            return record
        return scenario
    return [make(case, seed) for seed, case in enumerate(NET_CASES)]


def optimizer_scenarios(defaults):
    def make(config, dtype, scale, seed):
        def scenario(rule):
            rng = np.random.default_rng(seed)
            w = rng.standard_normal((3, 4)).astype(dtype)
            cfg = copy.deepcopy(config)
            record = []
            for step in range(3):
                dw = (scale * rng.standard_normal((3, 4))).astype(dtype)
                held = [w, dw]
                before = [a.copy() for a in held]
                next_w, returned = rule(w, dw, cfg)
                same = returned is cfg if cfg is not None else True
                cfg = returned
                record.append({"w": next_w, "config": copy.deepcopy(cfg), "same": same,
                               "unchanged": unchanged(before, held)})
                w = next_w
            return record
        return scenario
    found = []
    for dtype in DTYPES:
        for config in (None, {}, defaults):
            for scale in (1.0, 1e-7):
                found.append(make(config, dtype, scale, len(found)))
    return found


def reach_scenarios():
    histories = [
        ([0, 10, 20, 30, 40], [0.1, 0.3, 0.5, 0.4, 0.6]),
        ([5, 50, 500], [0.2, 0.25, 0.2]),
        (np.arange(0, 1000, 100), np.array([0.1, 0.2, 0.35, 0.5, 0.5, 0.45, 0.6, 0.62, 0.6, 0.7])),
        ([0, 1, 2, 3], [0.6, 0.1, 0.2, 0.3]),
        ([100, 200, 300], [0.5, 0.5, 0.5]),
        ([0, 3, 7, 12], [0.304, 0.298, 0.3, 0.31]),
        ([0, 10, 20], [0.1, 0.5995, 0.7]),
    ]
    targets = [0.0, 0.25, 0.3, 0.35, 0.5, 0.5995, 0.6, 0.65, 0.7, 0.9, 1.0]

    def make(steps, acc, target):
        def scenario(fn):
            value = fn(copy.copy(steps), copy.copy(acc), target)
            return {"value": value, "type": type(value).__name__}
        return scenario
    return [make(s, a, t) for s, a in histories for t in targets]


def torch_var_scenarios():
    def make(dtype, N, k, momentum, seed):
        def scenario(fn):
            rv = np.random.default_rng(seed).uniform(0, 3, 5).astype(dtype)
            if k == 0:
                rv[:] = 0
            before = rv.copy()
            result = fn(rv, N, k, momentum)
            return {"result": result, "new": result is not rv, "unchanged": unchanged([before], [rv])}
        return scenario
    return [make(dt, N, k, m, i) for i, (dt, N, k, m) in enumerate(
        (dt, N, k, m) for dt in DTYPES for N in (2, 3, 64) for k in (0, 1, 7) for m in (0.9, 0.5, 0.0, 1.0))]


def scenarios(entry):
    forward = entry.forward
    return {
        "batchnorm_forward": bn_forward_scenarios,
        "batchnorm_backward": lambda: bn_backward_scenarios(forward),
        "batchnorm_backward_alt": lambda: bn_backward_scenarios(forward),
        "layernorm_forward": ln_forward_scenarios,
        "layernorm_backward": lambda: ln_backward_scenarios(forward),
        "spatial_batchnorm_forward": sbn_forward_scenarios,
        "spatial_batchnorm_backward": lambda: sbn_backward_scenarios(forward),
        "spatial_groupnorm_forward": gn_forward_scenarios,
        "spatial_groupnorm_backward": lambda: gn_backward_scenarios(forward),
        "FullyConnectedNet._hidden_forward": net_scenarios,
        "FullyConnectedNet._hidden_backward": net_scenarios,
        "sgd_momentum": lambda: optimizer_scenarios({"learning_rate": 0.05, "momentum": 0.6}),
        "adam": lambda: optimizer_scenarios({"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6}),
        "steps_to_reach": reach_scenarios,
        "torch_running_var": torch_var_scenarios,
    }[entry.exercise]()


def verdict(entry):
    """(number of scenarios where the entry differs observably, first such difference, scenarios run)."""
    reference = REFERENCE[entry.exercise]
    differ, first, ran = 0, None, 0
    for scenario in scenarios(entry):
        ref_status, ref_record = observe(lambda: scenario(reference))
        if ref_status == "error":
            continue
        ran += 1
        status, record = observe(lambda: scenario(entry.function))
        found = [f"raises {record}"] if status == "error" else differences(ref_record, record)
        if found:
            differ += 1
            first = first or found[0]
    return differ, first, ran


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("-v", action="store_true", help="print every entry, not only the problems")
    args = parser.parse_args()
    problems = 0
    for entry in entries():
        if args.exercise not in (None, entry.exercise):
            continue
        differ, first, ran = verdict(entry)
        ok = (differ == 0) if entry.correct else (differ > 0)
        problems += not ok
        if args.v or not ok:
            kind = "correct" if entry.correct else "mistake"
            print(f"{'ok ' if ok else 'BAD'} {entry.exercise} / {entry.name} ({kind}): differs in {differ}/{ran}"
                  f"{'; ' + first if first else ''}")
    print(f"{problems} problems")


if __name__ == "__main__":
    main()
