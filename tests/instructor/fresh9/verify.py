"""Compare every entry of the ninth catalogue with the instructor's function, without the checks.

    python -m tests.instructor.fresh9.verify [--exercise NAME] [--verbose]

Each exercise has a list of cases: random inputs (train and test modes, float32 and float64,
several shapes, caller-held arrays) and a runner that records everything the docstrings fix:
the returns (arrays by shape, dtype and value; caches field by field), the inputs and the
caller's arrays and dicts after the call. A mistake must differ from the instructor's record
in some case; a correct variant must agree in all of them.
"""

import argparse
import copy
import dataclasses

import numpy as np

from cs231n_bn import batchnorm, layernorm, optim, spatial, torch_stats
from cs231n_bn.experiments import steps_to_reach
from cs231n_bn.fc_net import FullyConnectedNet
from tests.instructor.fresh9.catalogue import entries

TOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 2e-4, np.dtype(np.float16): 1e-2}


def differ(a, b, tol, where="", strict_types=False):
    """None if the record a agrees with the reference record b, else where and how they differ."""
    if isinstance(b, BaseException) or isinstance(a, BaseException):
        if isinstance(a, BaseException) and isinstance(b, BaseException):
            return None
        return f"{where}: raised {a!r}" if isinstance(a, BaseException) else f"{where}: did not raise, reference raised {b!r}"
    if isinstance(b, np.ndarray):
        if not isinstance(a, np.ndarray):
            return f"{where}: {type(a).__name__} instead of an array"
        if a.shape != b.shape:
            return f"{where}: shape {a.shape} vs {b.shape}"
        if a.dtype != b.dtype:
            return f"{where}: dtype {a.dtype} vs {b.dtype}"
        if not np.issubdtype(b.dtype, np.floating):
            return None if np.array_equal(a, b) else f"{where}: values differ"
        t = tol if tol is not None else TOL.get(b.dtype, 1e-7)
        scale = np.nanmax(np.abs(b)) if b.size and np.isfinite(b).any() else 1.0
        # relative to the array's scale, with a floor for arrays that are zero up to rounding
        bad = ~((np.abs(a.astype(np.float64) - b) <= t * (scale + 1e-2)) | (np.isnan(a) & np.isnan(b))
                | ((a == b) & np.isinf(b)))
        return f"{where}: values differ (max {np.nanmax(np.abs(a - b)):.3g}, scale {scale:.3g})" if bad.any() else None
    if dataclasses.is_dataclass(b) and not isinstance(b, type):
        if type(a) is not type(b):
            return f"{where}: {type(a).__name__} vs {type(b).__name__}"
        for field in dataclasses.fields(b):
            d = differ(getattr(a, field.name), getattr(b, field.name), tol, f"{where}.{field.name}", strict_types)
            if d:
                return d
        return None
    if isinstance(b, dict):
        if not isinstance(a, dict) or set(a) != set(b):
            return f"{where}: keys {sorted(map(str, a)) if isinstance(a, dict) else a} vs {sorted(map(str, b))}"
        for key in b:
            d = differ(a[key], b[key], tol, f"{where}[{key!r}]", strict_types)
            if d:
                return d
        return None
    if isinstance(b, (tuple, list)):
        if not isinstance(a, (tuple, list)) or len(a) != len(b):
            return f"{where}: {type(a).__name__} of another length"
        for n, (x, y) in enumerate(zip(a, b)):
            d = differ(x, y, tol, f"{where}[{n}]", strict_types)
            if d:
                return d
        return None
    if strict_types and type(a) is not type(b):
        return f"{where}: type {type(a).__name__} vs {type(b).__name__}"
    if isinstance(b, (float, np.floating)) and isinstance(a, (int, float, np.number)):
        t = tol if tol is not None else 1e-6
        return None if abs(float(a) - float(b)) <= t * max(1.0, abs(float(b))) else f"{where}: {a} vs {b}"
    return None if a == b else f"{where}: {a!r} vs {b!r}"


def attempt(call):
    try:
        return call()
    except Exception as error:  # a crash is a result to compare (both crash: same)
        return error


# --------------------------------------------------------------------------------------
# The cases of each exercise: a case is a function (fn) -> record
# --------------------------------------------------------------------------------------

def _rng(seed):
    return np.random.default_rng(seed)


def _norm_params(rng, D, dtype, shape=None):
    shape = shape or (D,)
    return (1 + 0.5 * rng.standard_normal(shape)).astype(dtype), rng.standard_normal(shape).astype(dtype)


def _bn_param_variants(rng, D, dtype):
    running = lambda: (rng.standard_normal(D).astype(dtype), (0.5 + rng.random(D)).astype(dtype))
    rm, rv = running()
    rm2, rv2 = running()
    return [
        {"mode": "train"},
        {"mode": "train", "eps": 0.3, "momentum": 0.6, "running_mean": rm, "running_var": rv},
        {"mode": "test", "eps": 0.3, "running_mean": rm2, "running_var": rv2},
        {"mode": "test", "running_mean": rm2.copy(), "running_var": rv2.copy()},
    ]


def _record_call(fn, args, watched):
    """Call fn(*args) on deep copies; record its return, the inputs afterwards and the watched caller arrays."""
    args = copy.deepcopy(args)
    # the caller's own objects, looked at again after the call (a dict entry may be replaced)
    objects = watched(args)
    ret = attempt(lambda: fn(*args))
    after = {k: v.copy() for k, v in objects.items()}
    return {"return": ret, "args_after": [a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args],
            "watched_after": after}


def _bn_param_watch(index):
    def watched(args):
        p = args[index]
        return {f"caller_{k}": v for k, v in p.items() if isinstance(v, np.ndarray)}
    return watched


def bn_forward_cases():
    cases = []
    for seed, (N, D) in enumerate([(7, 5), (5, 5), (16, 3)]):
        for dtype in (np.float64, np.float32):
            rng = _rng(seed)
            x = (2 * rng.standard_normal((N, D)) + 1).astype(dtype)
            gamma, beta = _norm_params(rng, D, dtype)
            for p in _bn_param_variants(rng, D, dtype):
                cases.append(lambda fn, a=(x, gamma, beta, p): _record_call(fn, a, _bn_param_watch(3)))
            # a large mean: the docstring promises it costs float32 no accuracy
            big = (x + 3e3).astype(dtype)
            cases.append(lambda fn, a=(big, gamma, beta, {"mode": "train"}): _record_call(fn, a, _bn_param_watch(3)))
            # train then test on the same dict
            def sequence(fn, x=x, gamma=gamma, beta=beta):
                p = {"mode": "train", "momentum": 0.7}
                first = attempt(lambda: fn(x.copy(), gamma, beta, p))
                p["mode"] = "test"
                second = attempt(lambda: fn(x[::-1].copy(), gamma, beta, p))
                return {"first": first, "second": second, "param": p}
            cases.append(sequence)
    return cases


def _backward_cases(forward, make_inputs):
    cases = []
    for seed, (args, dtype) in enumerate(make_inputs()):
        def case(fn, args=args, seed=seed):
            out, cache = forward(*copy.deepcopy(args))
            dout = (_rng(seed + 50).standard_normal(out.shape)).astype(out.dtype)
            held = copy.deepcopy(cache)
            kept = dout.copy()
            ret = attempt(lambda: fn(dout, cache))
            return {"return": ret, "dout_after": dout, "cache_after": cache, "dout_before": kept, "cache_before": held}
        cases.append(case)
    return cases


def _bn_inputs():
    for seed, (N, D) in enumerate([(7, 5), (5, 5), (12, 3)]):
        for dtype in (np.float64, np.float32):
            for eps in (1e-5, 0.3):
                rng = _rng(100 + seed)
                x = (2 * rng.standard_normal((N, D)) + 1).astype(dtype)
                gamma, beta = _norm_params(rng, D, dtype)
                yield (x, gamma, beta, {"mode": "train", "eps": eps}), dtype


def ln_forward_cases():
    cases = []
    for seed, (N, D) in enumerate([(6, 5), (5, 5), (3, 8)]):
        for dtype in (np.float64, np.float32):
            rng = _rng(200 + seed)
            x = (2 * rng.standard_normal((N, D)) + 1).astype(dtype)
            gamma, beta = _norm_params(rng, D, dtype)
            for p in ({}, {"eps": 0.3}, {"mode": "test", "eps": 0.3}):
                cases.append(lambda fn, a=(x, gamma, beta, p): _record_call(fn, a, lambda args: {}))
            big = (x + 3e3).astype(dtype)
            cases.append(lambda fn, a=(big, gamma, beta, {}): _record_call(fn, a, lambda args: {}))
    return cases


def _ln_inputs():
    for seed, (N, D) in enumerate([(6, 5), (5, 5), (3, 8)]):
        for dtype in (np.float64, np.float32):
            for eps in (1e-5, 0.3):
                rng = _rng(300 + seed)
                x = (2 * rng.standard_normal((N, D)) + 1).astype(dtype)
                gamma, beta = _norm_params(rng, D, dtype)
                yield (x, gamma, beta, {"eps": eps}), dtype


def sbn_forward_cases():
    cases = []
    for seed, shape in enumerate([(3, 4, 2, 5), (2, 3, 3, 3), (4, 2, 1, 3)]):
        for dtype in (np.float64, np.float32):
            rng = _rng(400 + seed)
            x = (2 * rng.standard_normal(shape) + 1).astype(dtype)
            gamma, beta = _norm_params(rng, shape[1], dtype)
            for p in _bn_param_variants(rng, shape[1], dtype):
                cases.append(lambda fn, a=(x, gamma, beta, p): _record_call(fn, a, _bn_param_watch(3)))
            big = (x + 3e3).astype(dtype)
            cases.append(lambda fn, a=(big, gamma, beta, {"mode": "train"}): _record_call(fn, a, _bn_param_watch(3)))
    return cases


def _sbn_inputs():
    for seed, shape in enumerate([(3, 4, 2, 5), (2, 3, 3, 3)]):
        for dtype in (np.float64, np.float32):
            for eps in (1e-5, 0.3):
                rng = _rng(500 + seed)
                x = (2 * rng.standard_normal(shape) + 1).astype(dtype)
                gamma, beta = _norm_params(rng, shape[1], dtype)
                yield (x, gamma, beta, {"mode": "train", "eps": eps}), dtype


def _gn_inputs():
    for seed, (shape, G) in enumerate([((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((3, 4, 2, 4), 2), ((2, 4, 3, 4), 4),
                                       ((2, 6, 2, 5), 1)]):
        for dtype in (np.float64, np.float32):
            for layout in ("flat", "cs231n"):
                rng = _rng(600 + seed)
                C = shape[1]
                x = (2 * rng.standard_normal(shape) + 1).astype(dtype)
                gamma, beta = _norm_params(rng, C, dtype, (C,) if layout == "flat" else (1, C, 1, 1))
                for p in ({}, {"eps": 0.3, "mode": "test"}):
                    yield (x, gamma, beta, G, p), dtype
                yield ((x + 3e3).astype(dtype), gamma, beta, G, {}), dtype


def gn_forward_cases():
    return [lambda fn, a=args: _record_call(fn, a, lambda args: {}) for args, _ in _gn_inputs()]


# --- optimizers ---

def _optim_cases(defaults_state):
    cases = []
    for seed, dtype in enumerate((np.float64, np.float32)):
        rng = _rng(700 + seed)
        w = rng.standard_normal((3, 4)).astype(dtype)
        dws = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(3)]
        for config in defaults_state(rng, dtype):
            def case(fn, w=w, dws=dws, config=config):
                config = copy.deepcopy(config)
                records = []
                cur_w = w.copy()
                for dw in dws:
                    w_in, dw_in = cur_w.copy(), dw.copy()
                    ret = attempt(lambda: fn(w_in, dw_in, config))
                    if isinstance(ret, BaseException):
                        records.append(ret)
                        break
                    next_w, returned = ret
                    records.append({"next_w": next_w, "same_dict": returned is config if config is not None else True,
                                    "config": copy.deepcopy(returned), "w_after": w_in, "dw_after": dw_in})
                    if config is None:
                        config = returned
                    cur_w = next_w
                return records
            cases.append(case)
    return cases


def momentum_configs(rng, dtype):
    v = rng.standard_normal((3, 4))
    return [None, {}, {"learning_rate": 0.2, "momentum": 0.5},
            {"learning_rate": 0.05, "momentum": 0.8, "velocity": v.astype(dtype)},
            {"learning_rate": 0.05, "velocity": v}]


def adam_configs(rng, dtype):
    m, v = rng.standard_normal((3, 4)), rng.random((3, 4))
    return [None, {}, {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.7},
            {"learning_rate": 0.01, "m": m.astype(dtype), "v": v.astype(dtype), "t": 5},
            {"learning_rate": 0.01, "m": m, "v": v, "t": 2, "epsilon": 0.1}]


# --- small functions ---

def steps_cases():
    data = [
        ([0, 10, 20, 30], [0.1, 0.5, 0.7, 0.9], 0.7),
        ([0, 10, 20, 30], [0.1, 0.5, 0.7, 0.9], 0.95),
        ([0, 10, 20, 30], [0.1, 0.8, 0.6, 0.9], 0.75),
        (np.array([5, 6, 9]), np.array([0.9, 0.2, 0.95]), 0.3),
        ([0, 100, 200], [0.2, 0.995, 0.99], 1.0),
        ([1, 2, 3, 4], [0.3, 0.6, 0.6, 0.2], 0.6),
        ([0, 50], [0.4, 0.5], 0.0),
        (np.array([0.0, 2.0, 4.0]), np.array([0.1, 0.2, 0.9]), 0.5),
    ]
    return [lambda fn, d=d: attempt(lambda: fn(*copy.deepcopy(d))) for d in data]


def torch_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for N in (2, 5, 64):
            for k in (0, 1, 3, 10):
                for m in (0.0, 0.5, 0.9, 1.0):
                    rv = (_rng(N + k).random(4) * 2).astype(dtype)

                    def case(fn, rv=rv, N=N, k=k, m=m):
                        given = rv.copy()
                        ret = attempt(lambda: fn(given, N, k, m))
                        same = isinstance(ret, np.ndarray) and ret is given
                        return {"return": ret, "input_after": given, "same_object": same}
                    cases.append(case)
    return cases


# --- networks ---

def network_cases():
    cases = []
    for norm in (None, "batchnorm", "layernorm"):
        for activation in ("relu", "sigmoid"):
            for keep in (1, 0.7):
                for dtype in (np.float64, np.float32):
                    for dims in ([5, 5, 5], [5, 8]):
                        for seeded_mask in (False, True):
                            if keep == 1 and seeded_mask:
                                continue
                            cases.append(lambda cls, a=(norm, activation, keep, dtype, dims, seeded_mask): _net_record(cls, *a))
    return cases


def _net_record(cls, norm, activation, keep, dtype, dims, seeded_mask):
    rng = _rng(800)
    net = cls(dims, input_dim=6, num_classes=4, dropout_keep_ratio=keep, normalization=norm, dtype=dtype,
              seed=0, activation=activation, weight_scale=0.7, reg=0.1)
    for name in sorted(net.params):
        net.params[name] = (net.params[name] + 0.3 * rng.standard_normal(net.params[name].shape)).astype(dtype)
    if seeded_mask:
        net.dropout_param["seed"] = 3
    X = rng.standard_normal((7, 6))
    y = rng.integers(0, 4, 7)
    record = {}
    record["train1"] = attempt(lambda: net.loss(X, y))
    record["train2"] = attempt(lambda: net.loss(X[::-1].copy(), y[::-1].copy()))
    record["test"] = attempt(lambda: net.loss(X))
    # the running statistics; 'mode' is left out (layer norm ignores it, batch norm's shows in the scores)
    record["bn_params"] = [{k: v for k, v in p.items() if k != "mode"} for p in copy.deepcopy(net.bn_params)]
    record["z_test"] = attempt(lambda: net.activation_inputs(X))
    record["z_train"] = attempt(lambda: [c.z for c in net._forward(X, "train")[1]])
    return record


CASES = {
    "batchnorm_forward": (batchnorm.batchnorm_forward, bn_forward_cases),
    "batchnorm_backward": (batchnorm.batchnorm_backward, lambda: _backward_cases(batchnorm.batchnorm_forward, _bn_inputs)),
    "batchnorm_backward_alt": (batchnorm.batchnorm_backward_alt,
                               lambda: _backward_cases(batchnorm.batchnorm_forward, _bn_inputs)),
    "layernorm_forward": (layernorm.layernorm_forward, ln_forward_cases),
    "layernorm_backward": (layernorm.layernorm_backward, lambda: _backward_cases(layernorm.layernorm_forward, _ln_inputs)),
    "spatial_batchnorm_forward": (spatial.spatial_batchnorm_forward, sbn_forward_cases),
    "spatial_batchnorm_backward": (spatial.spatial_batchnorm_backward,
                                   lambda: _backward_cases(spatial.spatial_batchnorm_forward, _sbn_inputs)),
    "spatial_groupnorm_forward": (spatial.spatial_groupnorm_forward, gn_forward_cases),
    "spatial_groupnorm_backward": (spatial.spatial_groupnorm_backward,
                                   lambda: _backward_cases(spatial.spatial_groupnorm_forward, _gn_inputs)),
    "sgd_momentum": (optim.sgd_momentum, lambda: _optim_cases(momentum_configs)),
    "adam": (optim.adam, lambda: _optim_cases(adam_configs)),
    "steps_to_reach": (steps_to_reach, steps_cases),
    "torch_running_var": (torch_stats.torch_running_var, torch_cases),
    "FullyConnectedNet._hidden_forward": (FullyConnectedNet, network_cases),
    "FullyConnectedNet._hidden_backward": (FullyConnectedNet, network_cases),
}


def judge(entry):
    """(consistent, note): a mistake must differ somewhere, a correct variant nowhere."""
    reference, make_cases = CASES[entry.exercise]
    strict = entry.exercise == "steps_to_reach"
    tol = None
    first_difference = None
    for n, case in enumerate(make_cases()):
        mine, ref = case(entry.function), case(reference)
        if entry.exercise.startswith("FullyConnectedNet"):
            tol = 2e-3
        d = differ(mine, ref, tol, f"case {n}", strict)
        if d and first_difference is None:
            first_difference = d
            if not entry.correct:
                break
    if entry.correct:
        return first_difference is None, first_difference or "agrees everywhere"
    return first_difference is not None, first_difference or "NO DIFFERENCE FOUND"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    counts, bad = {}, []
    for entry in entries():
        if args.exercise not in (None, entry.exercise):
            continue
        ok, note = judge(entry)
        kind = "correct" if entry.correct else "mistake"
        c = counts.setdefault(entry.exercise, [0, 0])
        c[entry.correct] += 1
        if not ok:
            bad.append(f"{entry.exercise} / {entry.name} ({kind}): {note}")
        if args.verbose or not ok:
            print(f"{'ok ' if ok else 'BAD'} {entry.exercise} / {entry.name} ({kind}): {note}")
    print()
    for exercise, (mistakes, correct) in counts.items():
        print(f"{exercise}: {mistakes} mistakes, {correct} correct")
    total_m = sum(c[0] for c in counts.values())
    total_c = sum(c[1] for c in counts.values())
    print(f"total: {total_m} mistakes, {total_c} correct; inconsistent: {len(bad)}")
    for line in bad:
        print("  " + line)


if __name__ == "__main__":
    main()
