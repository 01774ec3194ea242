"""Check the tenth catalogue without the graded checks: every entry against the instructor's function.

    python -m tests.instructor.fresh10.verify [--exercise NAME] [--verbose]

For each exercise a set of cases runs a function on inputs chosen here (train and test modes,
float32 and float64, several shapes, edge values the contracts allow) and records what the
contract fixes: outputs (with their dtype where the contract fixes it), the caller's dicts and
arrays afterwards, and the cache field by field. A mistake must differ from the instructor's
function in at least one case; a correct variant must agree in every case.
"""

import argparse
import dataclasses

import numpy as np

from cs231n_bn.batchnorm import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from cs231n_bn.experiments import steps_to_reach
from cs231n_bn.fc_net import FullyConnectedNet
from cs231n_bn.layernorm import layernorm_backward, layernorm_forward
from cs231n_bn.optim import adam, sgd_momentum
from cs231n_bn.spatial import (
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_bn.torch_stats import torch_running_var
from tests.instructor.fresh10.catalogue import entries


class Typed:
    """A value whose dtype (arrays) or type (scalars) the contract fixes."""

    def __init__(self, value):
        self.value = value


class Unordered:
    """A 2-D array whose row order the contract leaves open: compared column by column, sorted."""

    def __init__(self, value):
        self.value = value


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
        return np.array_equal(a, b)
    if a.size == 0:
        return True
    single = np.float32 in (a.dtype, b.dtype) or np.float16 in (a.dtype, b.dtype)
    tol = 2e-3 if single else 1e-7
    finite = np.isfinite(b)
    if not np.array_equal(np.isfinite(a), finite):
        return False
    scale = max(1.0, float(np.max(np.abs(b[finite]), initial=0.0)))
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))[finite]
    return bool(np.all(diff <= tol * scale * 0.1 + tol * np.abs(b.astype(np.float64))[finite]))


def same(a, b):
    """Whether two outcomes agree in everything recorded."""
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
    if isinstance(b, Typed):
        if not isinstance(a, Typed):
            return False
        x, y = a.value, b.value
        if isinstance(y, np.ndarray):
            return isinstance(x, np.ndarray) and x.dtype == y.dtype and _close(x, y)
        return type(x) is type(y) and same(x, y)
    if isinstance(b, Unordered):
        x, y = np.asarray(a.value), np.asarray(b.value)
        return x.shape == y.shape and x.ndim == 2 and _close(np.sort(x, axis=0), np.sort(y, axis=0))
    if b is None or isinstance(b, (str, bool)):
        return a == b and type(a) is type(b)
    if isinstance(b, BaseException):
        return isinstance(a, BaseException)
    if isinstance(a, (dict, Typed, Unordered, BaseException)) or a is None:
        return False
    try:
        return _close(a, b)
    except (TypeError, ValueError):
        return False


def run(case, function):
    try:
        return case(function)
    except Exception as error:  # a crash is an outcome: it differs from a result
        return error


def fields(cache, unordered=()):
    if cache is None or not dataclasses.is_dataclass(cache):
        return {"cache": repr(type(cache))}
    out = {}
    for f in dataclasses.fields(cache):
        value = getattr(cache, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = fields(value, unordered)
        elif f.name in unordered:
            out[f.name] = Unordered(value)
        elif isinstance(value, (str, int, tuple)) and not isinstance(value, bool):
            out[f.name] = value if isinstance(value, str) else np.asarray(value)
        else:
            out[f.name] = value
    return out


def _rng(seed):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ batch norm, forward

def bn_forward_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in ((8, 5), (6, 6), (3, 7)):
            for mode, momentum, eps, held in (("train", 0.9, 1e-5, True), ("train", 0.5, 0.1, True),
                                               ("train", 0.0, 1e-5, True), ("train", 1.0, 1e-5, True),
                                               ("train", None, None, False), ("test", 0.7, 0.1, True)):
                cases.append(_bn_case(dtype, shape, mode, momentum, eps, held, seed=len(cases)))
        cases.append(_bn_case(dtype, (1, 4), "test", 0.9, 1e-5, True, seed=99))
        cases.append(_bn_case(dtype, (64, 3), "train", 0.9, 1e-5, True, seed=7, offset=1e4))
    return cases


def _bn_case(dtype, shape, mode, momentum, eps, held, seed, offset=0.0):
    def case(f):
        rng = _rng(seed)
        N, D = shape
        x = (offset + rng.normal(0.5, 2.0, shape)).astype(dtype)
        gamma, beta = rng.normal(1, 0.5, D).astype(dtype), rng.normal(0, 1, D).astype(dtype)
        param = {"mode": mode}
        if momentum is not None:
            param.update(momentum=momentum, eps=eps)
        rm = rv = None
        if held:
            rm, rv = rng.normal(0, 1, D).astype(dtype), rng.uniform(0.5, 2, D).astype(dtype)
            param.update(running_mean=rm, running_var=rv)
        before = x.copy(), None if rm is None else rm.copy(), None if rv is None else rv.copy()
        out, cache = f(x, gamma, beta, param)
        return {
            "out": Typed(out), "x_after": x, "x_changed": bool(not np.array_equal(x, before[0])),
            "param": {k: v for k, v in param.items()},
            "held_rm_changed": bool(held and not np.array_equal(rm, before[1])),
            "held_rv_changed": bool(held and not np.array_equal(rv, before[2])),
            "cache": fields(cache),
        }
    return case


# ------------------------------------------------------------------ backward passes

def _backward_cases(forward, make, shapes, extra=lambda: [{}]):
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in shapes:
            for options in extra():
                cases.append(_backward_case(forward, make, dtype, shape, options, seed=len(cases)))
    return cases


def _backward_case(forward, make, dtype, shape, options, seed):
    def case(f):
        rng = _rng(seed)
        x, gamma, beta, args = make(rng, dtype, shape, options)
        _, cache = forward(x, gamma, beta, *args)
        dout = rng.normal(0, 1, x.shape).astype(dtype)
        dx, dgamma, dbeta = f(dout, cache)
        return {"dx": Typed(dx), "dgamma": Typed(dgamma), "dbeta": Typed(dbeta)}
    return case


def _make_bn(rng, dtype, shape, options):
    D = shape[1]
    x = rng.normal(1, 3, shape).astype(dtype)
    return x, rng.normal(1, 0.5, D).astype(dtype), rng.normal(0, 1, D).astype(dtype), ({"mode": "train"},)


def _make_ln(rng, dtype, shape, options):
    D = shape[1]
    x = rng.normal(1, 3, shape).astype(dtype)
    return x, rng.normal(1, 0.5, D).astype(dtype), rng.normal(0, 1, D).astype(dtype), ({},)


def _make_sbn(rng, dtype, shape, options):
    C = shape[1]
    x = rng.normal(1, 3, shape).astype(dtype)
    return x, rng.normal(1, 0.5, C).astype(dtype), rng.normal(0, 1, C).astype(dtype), ({"mode": "train"},)


def _make_gn(rng, dtype, shape, options):
    C = shape[1]
    layout = (C,) if options["layout"] == "flat" else (1, C, 1, 1)
    x = rng.normal(1, 3, shape).astype(dtype)
    gamma = rng.normal(1, 0.5, C).astype(dtype).reshape(layout)
    beta = rng.normal(0, 1, C).astype(dtype).reshape(layout)
    return x, gamma, beta, (options["G"], {})


def _gn_options():
    return [{"layout": layout, "G": G} for layout in ("flat", "cs231n") for G in (1, 2, 3, 6)]


# ------------------------------------------------------------------ layer norm, spatial, group norm forwards

def ln_forward_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in ((8, 5), (6, 6), (3, 7), (1, 4)):
            for param in ({}, {"eps": 0.1}, {"mode": "test"}, {"mode": "train", "eps": 1e-3}):
                cases.append(_forward_case(_make_ln_param(param), dtype, shape, seed=len(cases)))
    return cases


def _make_ln_param(param):
    def make(rng, dtype, shape):
        D = shape[1]
        x = rng.normal(2, 3, shape).astype(dtype)
        return x, rng.normal(1, 0.5, D).astype(dtype), rng.normal(0, 1, D).astype(dtype), (dict(param),)
    return make


def _forward_case(make, dtype, shape, seed, unordered=()):
    def case(f):
        rng = _rng(seed)
        x, gamma, beta, args = make(rng, dtype, shape)
        before = x.copy()
        held = [a for a in args if isinstance(a, dict)]
        arrays = {k: v for d in held for k, v in d.items() if isinstance(v, np.ndarray)}
        arrays_before = {k: v.copy() for k, v in arrays.items()}
        out, cache = f(x, gamma, beta, *args)
        return {
            "out": Typed(out), "x_changed": bool(not np.array_equal(x, before)),
            "params": [dict(d) for d in held],
            "held_changed": {k: bool(not np.array_equal(v, arrays_before[k])) for k, v in arrays.items()},
            "cache": fields(cache, unordered),
        }
    return case


def sbn_forward_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in ((4, 3, 5, 5), (2, 3, 4, 6), (3, 4, 2, 2), (1, 2, 3, 3)):
            for param in ({"mode": "train"}, {"mode": "train", "momentum": 0.5, "eps": 0.1},
                          "held", "test"):
                cases.append(_forward_case(_make_sbn_param(param), dtype, shape, len(cases),
                                           unordered=("x", "xmu", "xhat")))
    return cases


def _make_sbn_param(param):
    def make(rng, dtype, shape):
        C = shape[1]
        x = rng.normal(2, 3, shape).astype(dtype)
        if param in ("held", "test"):
            p = {"mode": "train" if param == "held" else "test", "momentum": 0.8,
                 "running_mean": rng.normal(0, 1, C).astype(dtype), "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
        else:
            p = dict(param)
        return x, rng.normal(1, 0.5, C).astype(dtype), rng.normal(0, 1, C).astype(dtype), (p,)
    return make


def gn_forward_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in ((2, 6, 3, 3), (3, 6, 2, 4), (1, 4, 2, 2)):
            for layout in ("flat", "cs231n"):
                for G in (1, 2, 3, 6):
                    if shape[1] % G:
                        continue
                    for param in ({}, {"eps": 0.1, "mode": "test"}):
                        cases.append(_forward_case(_make_gn_param(layout, G, param), dtype, shape, len(cases)))
    return cases


def _make_gn_param(layout, G, param):
    def make(rng, dtype, shape):
        C = shape[1]
        lay = (C,) if layout == "flat" else (1, C, 1, 1)
        x = rng.normal(2, 3, shape).astype(dtype)
        gamma = rng.normal(1, 0.5, C).astype(dtype).reshape(lay)
        beta = rng.normal(0, 1, C).astype(dtype).reshape(lay)
        return x, gamma, beta, (G, dict(param))
    return make


# ------------------------------------------------------------------ networks

def net_cases():
    cases = []
    for normalization in (None, "batchnorm", "layernorm"):
        for activation in ("relu", "sigmoid"):
            for keep in (1, 0.7):
                for hidden in ([6, 4], [5, 5, 5]):
                    for dtype in (np.float64, np.float32):
                        if dtype == np.float32 and (keep != 1 or hidden != [6, 4]):
                            continue
                        cases.append(_net_case(normalization, activation, keep, hidden, dtype, len(cases)))
    return cases


def _net_case(normalization, activation, keep, hidden, dtype, seed):
    def case(cls):
        rng = _rng(seed)
        net = cls(hidden, input_dim=7, num_classes=4, dropout_keep_ratio=keep, normalization=normalization,
                  reg=0.1, weight_scale=0.7, dtype=dtype, seed=seed, activation=activation)
        X = rng.normal(0, 2, (9, 7))
        y = rng.integers(0, 4, 9)
        X_before = X.copy()
        loss, grads = net.loss(X, y)
        loss2, grads2 = net.loss(X[::-1].copy(), y[::-1].copy())
        X_test = rng.normal(0, 2, (5, 7))
        scores = net.loss(X_test)
        acts = net.activation_inputs(X_test)
        return {
            "loss": loss, "grads": grads, "loss2": loss2, "grads2": grads2, "scores": scores,
            "acts": acts, "X_changed": bool(not np.array_equal(X, X_before)),
            # layer norm ignores its dicts' 'mode', so only batch norm's running statistics are fixed
            "bn_params": [dict(p) for p in net.bn_params] if normalization == "batchnorm" else [],
        }
    return case


def _listify(outcome):
    if isinstance(outcome, dict):
        return {k: _listify(v) for k, v in outcome.items()}
    if isinstance(outcome, list):
        return {str(i): _listify(v) for i, v in enumerate(outcome)}
    return outcome


# ------------------------------------------------------------------ optimizers

def optim_cases(rule):
    cases = []
    for dtype in (np.float64, np.float32):
        if rule == "sgd_momentum":
            configs = [None, {}, {"learning_rate": 0.1, "momentum": 0.5}, {"momentum": 0.0}, {"momentum": 1.0},
                       "velocity"]
        else:
            configs = [None, {}, {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.8}, {"epsilon": 1e-2}, "state"]
        for config in configs:
            cases.append(_optim_case(config, dtype, len(cases)))
    return cases


def _optim_case(config, dtype, seed):
    def case(f):
        rng = _rng(seed)
        w = rng.normal(0, 1, (3, 4)).astype(dtype)
        if config == "velocity":
            cfg = {"learning_rate": 0.05, "momentum": 0.8, "velocity": rng.normal(0, 1, (3, 4)).astype(dtype)}
        elif config == "state":
            cfg = {"m": rng.normal(0, 1, (3, 4)).astype(dtype), "v": rng.uniform(0, 1, (3, 4)).astype(dtype), "t": 5}
        else:
            cfg = None if config is None else dict(config)
        record = {}
        for step in range(3):
            dw = rng.normal(0, 1, (3, 4)).astype(dtype)
            w_before = w.copy()
            next_w, returned = f(w, dw, cfg)
            record[f"w{step}"] = Typed(next_w)
            record[f"w_changed{step}"] = bool(not np.array_equal(w, w_before))
            record[f"same_dict{step}"] = bool(cfg is None or returned is cfg)
            if cfg is None:
                cfg = returned
            record[f"config{step}"] = {k: (Typed(v) if k == "t" else v) for k, v in cfg.items()}
            w = next_w
        return record
    return case


# ------------------------------------------------------------------ steps_to_reach, torch_running_var

HISTORIES = (
    ([0, 100, 200, 300, 400], [0.1, 0.4, 0.6, 0.55, 0.8], 0.5),
    ([0, 100, 200, 300, 400], [0.1, 0.4, 0.6, 0.55, 0.8], 0.6),
    ([0, 100, 200, 300, 400], [0.1, 0.4, 0.6, 0.55, 0.8], 0.9),
    ([5, 7, 20, 21], [0.7, 0.2, 0.9, 0.95], 0.5),
    ([5, 7, 20, 21], [0.2, 0.7, 0.9, 0.95], 0.0),
    ([10, 20, 30, 40], [0.3, 0.9, 0.5, 1.0], 1.0),
    ([3, 4, 9], [0.2, 0.8, 0.4], 0.75),
    ([], [], 0.5),
    ([50], [0.5], 0.5),
)


def steps_cases():
    cases = []
    for steps_, accs, target in HISTORIES:
        for as_array in (False, True):
            cases.append(_steps_case(steps_, accs, target, as_array))
    return cases


def _steps_case(steps_, accs, target, as_array):
    def case(f):
        s = np.array(steps_, dtype=np.int64) if as_array else list(steps_)
        a = np.array(accs, dtype=float) if as_array else list(accs)
        return {"result": Typed(f(s, a, target))}
    return case


def torch_cases():
    cases = []
    for dtype in (np.float64, np.float32):
        for N in (2, 5, 64):
            for k in (0, 1, 7):
                for momentum in (0.0, 0.5, 0.9, 1.0):
                    cases.append(_torch_case(dtype, N, k, momentum, len(cases)))
    return cases


def _torch_case(dtype, N, k, momentum, seed):
    def case(f):
        rv = _rng(seed).uniform(0, 3, 6).astype(dtype)
        before = rv.copy()
        out = f(rv, N, k, momentum)
        return {"out": np.asarray(out), "changed": bool(not np.array_equal(rv, before)),
                "new": bool(isinstance(out, np.ndarray) and not np.shares_memory(out, rv))}
    return case


# ------------------------------------------------------------------ driver

EXERCISES = {
    "batchnorm_forward": (batchnorm_forward, bn_forward_cases),
    "batchnorm_backward": (batchnorm_backward,
                           lambda: _backward_cases(batchnorm_forward, _make_bn, ((8, 5), (6, 6), (3, 7), (2, 3)))),
    "batchnorm_backward_alt": (batchnorm_backward_alt,
                               lambda: _backward_cases(batchnorm_forward, _make_bn, ((8, 5), (6, 6), (3, 7), (2, 3)))),
    "layernorm_forward": (layernorm_forward, ln_forward_cases),
    "layernorm_backward": (layernorm_backward,
                           lambda: _backward_cases(layernorm_forward, _make_ln, ((8, 5), (6, 6), (3, 7), (1, 4)))),
    "spatial_batchnorm_forward": (spatial_batchnorm_forward, sbn_forward_cases),
    "spatial_batchnorm_backward": (spatial_batchnorm_backward,
                                   lambda: _backward_cases(spatial_batchnorm_forward, _make_sbn,
                                                           ((4, 3, 5, 5), (2, 3, 4, 6), (3, 4, 2, 2)))),
    "spatial_groupnorm_forward": (spatial_groupnorm_forward, gn_forward_cases),
    "spatial_groupnorm_backward": (spatial_groupnorm_backward,
                                   lambda: _backward_cases(spatial_groupnorm_forward, _make_gn,
                                                           ((2, 6, 3, 3), (3, 6, 2, 4)), _gn_options)),
    "FullyConnectedNet._hidden_forward": (FullyConnectedNet, net_cases),
    "FullyConnectedNet._hidden_backward": (FullyConnectedNet, net_cases),
    "sgd_momentum": (sgd_momentum, lambda: optim_cases("sgd_momentum")),
    "adam": (adam, lambda: optim_cases("adam")),
    "steps_to_reach": (steps_to_reach, steps_cases),
    "torch_running_var": (torch_running_var, torch_cases),
}


def verdict(entry, cases, reference_outcomes):
    """Cases in which the entry's outcome differs from the instructor's, and how many of them by a crash."""
    differ = crashes = 0
    for case, expected in zip(cases, reference_outcomes):
        with np.errstate(all="ignore"):
            got = run(case, entry.function)
        if not same(_listify(got), _listify(expected)):
            differ += 1
            crashes += isinstance(got, BaseException) and not isinstance(expected, BaseException)
    return differ, crashes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    inconsistent = []
    counts = {}
    for exercise, (reference, make_cases) in EXERCISES.items():
        chosen = [e for e in entries() if e.exercise == exercise]
        if args.exercise not in (None, exercise) or not chosen:
            continue
        cases = make_cases()
        with np.errstate(all="ignore"):
            expected = [run(case, reference) for case in cases]
        crashed = [i for i, outcome in enumerate(expected) if isinstance(outcome, BaseException)]
        if crashed:
            print(f"{exercise}: the instructor's function raises on cases {crashed}: {expected[crashed[0]]!r}")
        for entry in chosen:
            differ, crashes = verdict(entry, cases, expected)
            ok = differ == 0 if entry.correct else differ > 0
            counts.setdefault(exercise, [0, 0])[entry.correct] += 1
            if args.verbose or not ok:
                kind = "correct" if entry.correct else "mistake"
                print(f"{'ok ' if ok else 'BAD'} {exercise} / {entry.name} ({kind}): differs in {differ}/{len(cases)} cases "
                      f"({crashes} by raising)")
            if not ok:
                inconsistent.append(f"{exercise}/{entry.name}")
    for exercise, (mistakes, correct) in counts.items():
        print(f"{exercise}: {mistakes} mistakes, {correct} correct")
    total = sum(sum(c) for c in counts.values())
    print(f"{total} entries, {sum(c[0] for c in counts.values())} mistakes, {sum(c[1] for c in counts.values())} correct")
    print(f"INCONSISTENT ({len(inconsistent)}): {', '.join(inconsistent) or '-'}")


if __name__ == "__main__":
    main()
