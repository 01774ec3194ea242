"""Check every entry of the seventh catalogue WITHOUT the graded checks.

Each entry is compared with the instructor's function on random inputs (train and test modes,
float32 and float64, caller-held arrays checked for in-place changes). A mistake must differ
from it somewhere the contract fixes; a correct variant must agree everywhere.

    python -m tests.instructor.fresh7.verify
"""

import copy
import dataclasses

import numpy as np

import cs231n_bn.batchnorm as bn
import cs231n_bn.experiments as experiments
import cs231n_bn.layernorm as ln
import cs231n_bn.optim as optim
import cs231n_bn.spatial as spatial
import cs231n_bn.torch_stats as torch_stats
from cs231n_bn.fc_net import FullyConnectedNet
from tests.instructor.fresh7.catalogue import entries


# Exercises whose contract fixes the dtype of what they return (their docstrings say so)
DTYPE_FIXED = True


def _tol(dtype):
    return (2e-4, 2e-5) if np.dtype(dtype).itemsize <= 4 else (1e-8, 1e-10)


def compare(mine, ref, what, found):
    """Append to found a description of each way `mine` differs from `ref`."""
    if dataclasses.is_dataclass(ref) and not isinstance(ref, type):
        if type(mine) is not type(ref):
            found.append(f"{what}: type {type(mine).__name__}")
            return
        for field in dataclasses.fields(ref):
            compare(getattr(mine, field.name), getattr(ref, field.name), f"{what}.{field.name}", found)
        return
    if isinstance(ref, dict):
        if not isinstance(mine, dict) or set(mine) != set(ref):
            found.append(f"{what}: keys {sorted(mine) if isinstance(mine, dict) else type(mine)} vs {sorted(ref)}")
            return
        for key in ref:
            compare(mine[key], ref[key], f"{what}[{key!r}]", found)
        return
    if isinstance(ref, np.ndarray):
        if not isinstance(mine, np.ndarray):
            found.append(f"{what}: not an array ({type(mine).__name__})")
            return
        if mine.shape != ref.shape:
            found.append(f"{what}: shape {mine.shape} vs {ref.shape}")
            return
        if mine.dtype != ref.dtype and DTYPE_FIXED:
            found.append(f"{what}: dtype {mine.dtype} vs {ref.dtype}")
        rtol, atol = _tol(ref.dtype)
        scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size and np.issubdtype(ref.dtype, np.floating) else 1.0
        with np.errstate(all="ignore"):
            if not np.allclose(mine, ref, rtol=rtol, atol=atol * scale, equal_nan=True):
                found.append(f"{what}: values (max diff {np.nanmax(np.abs(mine.astype(float) - ref.astype(float))):.3g})")
        return
    if isinstance(ref, (tuple, list)):
        if not isinstance(mine, (tuple, list)) or len(mine) != len(ref):
            found.append(f"{what}: {mine!r} vs {ref!r}")
            return
        for k, (m, r) in enumerate(zip(mine, ref)):
            compare(m, r, f"{what}[{k}]", found)
        return
    if type(mine) is not type(ref):
        found.append(f"{what}: {type(mine).__name__} {mine!r} vs {type(ref).__name__} {ref!r}")
    elif isinstance(ref, float):
        if not np.isclose(mine, ref, rtol=1e-6, atol=1e-9):
            found.append(f"{what}: {mine!r} vs {ref!r}")
    elif mine != ref:
        found.append(f"{what}: {mine!r} vs {ref!r}")


def call(fn, args, what, found):
    try:
        return fn(*args)
    except Exception as error:  # a crash is a difference the caller sees
        found.append(f"{what}: raises {type(error).__name__}: {str(error)[:80]}")
        return None


def run_both(mine, ref, make_args, what, found, held):
    """Call both on fresh copies of make_args(); compare results, argument dicts and caller-held arrays."""
    args_m, args_r = make_args(), make_args()
    before = copy.deepcopy(args_m)
    out_m = call(mine, args_m, what, found)
    out_r = ref(*args_r)
    if out_m is not None:
        compare(out_m, out_r, what, found)
    for k in held:
        compare(args_m[k], before[k] if not isinstance(args_r[k], dict) else args_r[k],
                f"{what} arg{k} after the call", found)
    return out_m, out_r


def _rng(seed):
    return np.random.default_rng(seed)


# ---- per exercise ----

def v_bn_forward(f, ref=bn.batchnorm_forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape, offset in (((7, 5), 0.0), ((5, 5), 3.0), ((6, 4), 300.0)):
            r = _rng(1)
            x = (offset + 2 * r.standard_normal(shape)).astype(dtype)
            g = r.standard_normal(shape[1]).astype(dtype)
            b = r.standard_normal(shape[1]).astype(dtype)
            rm = r.standard_normal(shape[1]).astype(dtype)
            rv = r.uniform(0.5, 2, shape[1]).astype(dtype)
            params = (
                lambda: {"mode": "train"},
                lambda: {"mode": "train", "eps": 0.5, "running_mean": rm.copy(), "running_var": rv.copy()},
                lambda: {"mode": "train", "momentum": 0.7, "running_mean": rm.copy(), "running_var": rv.copy()},
                lambda: {"mode": "test", "eps": 0.5, "running_mean": rm.copy(), "running_var": rv.copy()},
                lambda: {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()},
            )
            for k, p in enumerate(params):
                what = f"{np.dtype(dtype).name} {shape} +{offset} param{k}"
                # bn_param (arg 3) is compared with the reference's bn_param after the call;
                # x (arg 0) with its copy from before
                run_both(f, ref, lambda: (x.copy(), g.copy(), b.copy(), p()), what, found, held=(0, 1, 2, 3))
                # running statistics the caller holds must not change
                arrays = {key: v for key, v in p().items() if isinstance(v, np.ndarray)}
                snap = {key: v.copy() for key, v in arrays.items()}
                call(f, (x.copy(), g, b, {**p(), **arrays}), what, [])
                for key in arrays:
                    if not np.array_equal(arrays[key], snap[key]):
                        found.append(f"{what}: caller's {key} changed in place")
    return found


def v_bn_backward(f, ref, forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape, eps in (((7, 5), 1e-5), ((5, 5), 0.5), ((4, 6), 1e-5)):
            r = _rng(2)
            x = (1 + 2 * r.standard_normal(shape)).astype(dtype)
            g = r.standard_normal(shape[1]).astype(dtype)
            b = r.standard_normal(shape[1]).astype(dtype)
            dout = r.standard_normal(shape).astype(dtype)
            _, cache = (forward or bn.batchnorm_forward)(x, g, b, {"mode": "train", "eps": eps})
            what = f"{np.dtype(dtype).name} {shape} eps={eps}"
            run_both(f, ref, lambda: (dout.copy(), cache), what, found, held=(0,))
    return found


def v_ln_forward(f, ref=ln.layernorm_forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape, offset in (((4, 6), 0.0), ((5, 5), 2.0), ((3, 8), 300.0)):
            r = _rng(3)
            x = (offset + 2 * r.standard_normal(shape)).astype(dtype)
            g = r.standard_normal(shape[1]).astype(dtype)
            b = r.standard_normal(shape[1]).astype(dtype)
            for k, p in enumerate((lambda: {}, lambda: {"eps": 0.3}, lambda: {"mode": "test"}, lambda: {"mode": "train"})):
                what = f"{np.dtype(dtype).name} {shape} +{offset} param{k}"
                run_both(f, ref, lambda: (x.copy(), g.copy(), b.copy(), p()), what, found, held=(0, 1, 2, 3))
                shared = p()
                call(f, (x.copy(), g, b, shared), what, found)
                call(f, (x.copy(), g, b, shared), what + " second call, same dict", found)
    return found


def v_ln_backward(f, ref, forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape, eps in (((4, 6), 1e-5), ((5, 5), 0.5), ((6, 3), 1e-5)):
            r = _rng(4)
            x = (1 + 2 * r.standard_normal(shape)).astype(dtype)
            g = r.standard_normal(shape[1]).astype(dtype)
            b = r.standard_normal(shape[1]).astype(dtype)
            dout = r.standard_normal(shape).astype(dtype)
            _, cache = (forward or ln.layernorm_forward)(x, g, b, {"eps": eps})
            run_both(f, ref, lambda: (dout.copy(), cache), f"{np.dtype(dtype).name} {shape} eps={eps}", found, held=(0,))
    return found


def v_sbn_forward(f, ref=spatial.spatial_batchnorm_forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape in ((2, 3, 4, 5), (3, 2, 3, 3), (1, 4, 2, 3)):
            r = _rng(5)
            C = shape[1]
            x = (1 + 2 * r.standard_normal(shape)).astype(dtype)
            g, b = r.standard_normal(C).astype(dtype), r.standard_normal(C).astype(dtype)
            rm, rv = r.standard_normal(C).astype(dtype), r.uniform(0.5, 2, C).astype(dtype)
            for k, p in enumerate((
                lambda: {"mode": "train"},
                lambda: {"mode": "train", "momentum": 0.6, "eps": 0.2, "running_mean": rm.copy(), "running_var": rv.copy()},
                lambda: {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy()},
            )):
                run_both(f, ref, lambda: (x.copy(), g.copy(), b.copy(), p()), f"{np.dtype(dtype).name} {shape} param{k}",
                         found, held=(0, 1, 2, 3))
    return found


def v_sbn_backward(f, ref, forward):
    found = []
    for dtype in (np.float64, np.float32):
        for shape in ((2, 3, 4, 5), (3, 2, 3, 3), (1, 4, 2, 3)):
            r = _rng(6)
            C = shape[1]
            x = (1 + 2 * r.standard_normal(shape)).astype(dtype)
            g, b = r.standard_normal(C).astype(dtype), r.standard_normal(C).astype(dtype)
            dout = r.standard_normal(shape).astype(dtype)
            _, cache = (forward or spatial.spatial_batchnorm_forward)(x, g, b, {"mode": "train"})
            run_both(f, ref, lambda: (dout.copy(), cache), f"{np.dtype(dtype).name} {shape}", found, held=(0,))
    return found


def _gn_cases():
    for dtype in (np.float64, np.float32):
        for shape, G in (((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((3, 4, 2, 2), 1), ((2, 4, 3, 3), 4), ((2, 6, 1, 2), 2)):
            for layout in ("flat", "cs231n"):
                r = _rng(7)
                C = shape[1]
                pshape = (C,) if layout == "flat" else (1, C, 1, 1)
                x = (1 + 2 * r.standard_normal(shape)).astype(dtype)
                yield (f"{np.dtype(dtype).name} {shape} G={G} {layout}", x,
                       r.standard_normal(pshape).astype(dtype), r.standard_normal(pshape).astype(dtype), G,
                       r.standard_normal(shape).astype(dtype))


def v_gn_forward(f, ref=spatial.spatial_groupnorm_forward):
    found = []
    for what, x, g, b, G, _ in _gn_cases():
        for k, p in enumerate((lambda: {}, lambda: {"eps": 0.4}, lambda: {"mode": "test"})):
            run_both(f, ref, lambda: (x.copy(), g.copy(), b.copy(), G, p()), f"{what} param{k}", found, held=(0, 1, 2, 4))
    return found


def v_gn_backward(f, ref, forward):
    found = []
    for what, x, g, b, G, dout in _gn_cases():
        for eps in (1e-5, 0.4):
            _, cache = (forward or spatial.spatial_groupnorm_forward)(x, g, b, G, {"eps": eps})
            run_both(f, ref, lambda: (dout.copy(), cache), f"{what} eps={eps}", found, held=(0,))
    return found


def _net_runs(cls, config):
    dims, norm, act, keep, dtype = config
    net = cls(dims, input_dim=4, num_classes=3, dropout_keep_ratio=keep, normalization=norm, reg=0.1,
              weight_scale=0.5, dtype=dtype, seed=0, activation=act)
    r = _rng(8)
    X = r.standard_normal((6, 4))
    y = r.integers(0, 3, 6)
    record = []
    for _ in range(2):
        loss, grads = net.loss(X, y)
        record.append((float(loss), grads, copy.deepcopy(net.bn_params)))
    record.append(net.loss(X))
    record.append(net.activation_inputs(X))
    record.append(copy.deepcopy(net.bn_params))
    return record


def v_net(cls):
    found = []
    for dims in ([5, 5, 5], [5, 7]):
        for norm in (None, "batchnorm", "layernorm"):
            for act in ("relu", "sigmoid"):
                for keep in (1, 0.6):
                    for dtype in (np.float64, np.float32):
                        config = (dims, norm, act, keep, dtype)
                        what = f"{dims} {norm} {act} keep={keep} {np.dtype(dtype).name}"
                        try:
                            mine = _net_runs(cls, config)
                        except Exception as error:
                            found.append(f"{what}: raises {type(error).__name__}: {str(error)[:80]}")
                            continue
                        compare(mine, _net_runs(FullyConnectedNet, config), what, found)
    return found


def v_optim(f, ref):
    found = []
    for dtype in (np.float64, np.float32):
        r = _rng(9)
        w = r.standard_normal((4, 3)).astype(dtype)
        dws = [r.standard_normal((4, 3)).astype(dtype) for _ in range(3)]
        for k, make in enumerate((lambda: None, lambda: {"learning_rate": 0.05, "momentum": 0.5},
                                  lambda: {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3})):
            c = make()
            if c is not None:
                keys = ("learning_rate", "momentum") if ref is optim.sgd_momentum else ("learning_rate", "beta1", "beta2", "epsilon")
                c = {key: v for key, v in c.items() if key in keys}
            cm, cr = copy.deepcopy(c), copy.deepcopy(c)
            wm, wr = w.copy(), w.copy()
            for step, dw in enumerate(dws):
                what = f"{np.dtype(dtype).name} config{k} step{step}"
                held = wm.copy()
                out = call(f, (wm, dw.copy(), cm), what, found)
                nr, cr = ref(wr, dw.copy(), cr)
                if out is None:
                    break
                compare(wm, held, f"{what} caller's w after the call", found)
                nm, cm_ret = out
                compare(nm, nr, f"{what} next_w", found)
                compare(cm_ret, cr, f"{what} config", found)
                if cm is not None and cm_ret is not cm:
                    found.append(f"{what}: returns another dict than the caller's")
                cm, wm, wr = cm_ret, nm.copy(), nr.copy()
    return found


def v_steps(f, ref=experiments.steps_to_reach):
    found = []
    cases = [
        ([0, 10, 20, 30], [0.1, 0.5, 0.9, 0.95], 0.9),
        ([0, 10, 20, 30], [0.1, 0.5, 0.85, 0.88], 0.9),
        ([0, 10, 20, 30], [0.95, 0.5, 0.85, 0.88], 0.9),
        ([5, 10, 20], [0.2, 0.6, 0.4], 0.5),
        ([0, 100, 200], [0.3, 0.895, 0.91], 0.9),
        ([0, 100, 200], [0.3, 0.8995, 0.95], 0.9),
        (np.array([0, 50, 100, 150]), np.array([0.1, 0.2, 0.3, 0.3]), 0.3),
        ([0, 1, 2, 3], [0.0, 0.0, 0.0, 0.0], 0.0),
        ([1, 2], [0.7, 0.8], 1.0),
        ([0, 10, 20, 30, 40], [0.1, 0.6, 0.4, 0.7, 0.65], 0.65),
    ]
    for k, (s, a, t) in enumerate(cases):
        run_both(f, ref, lambda: (copy.deepcopy(s), copy.deepcopy(a), t), f"case{k}", found, held=(0, 1))
    return found


def v_torch(f, ref=torch_stats.torch_running_var):
    # torch_running_var's docstring promises a new (D,) array, not its dtype
    global DTYPE_FIXED
    DTYPE_FIXED = False
    found = []
    for dtype in (np.float64, np.float32):
        r = _rng(10)
        rv = r.uniform(0, 3, 5).astype(dtype)
        for N in (2, 3, 10):
            for k in (0, 1, 5):
                for m in (0.9, 0.5, 0.0, 1.0):
                    run_both(f, ref, lambda: (rv.copy(), N, k, m), f"{np.dtype(dtype).name} N={N} k={k} m={m}",
                             found, held=(0,))
    DTYPE_FIXED = True
    return found


def verify(entry):
    e, f = entry.exercise, entry.function
    if e == "batchnorm_forward":
        return v_bn_forward(f)
    if e == "batchnorm_backward":
        return v_bn_backward(f, bn.batchnorm_backward, entry.forward)
    if e == "batchnorm_backward_alt":
        return v_bn_backward(f, bn.batchnorm_backward_alt, entry.forward)
    if e == "layernorm_forward":
        return v_ln_forward(f)
    if e == "layernorm_backward":
        return v_ln_backward(f, ln.layernorm_backward, entry.forward)
    if e == "spatial_batchnorm_forward":
        return v_sbn_forward(f)
    if e == "spatial_batchnorm_backward":
        return v_sbn_backward(f, spatial.spatial_batchnorm_backward, entry.forward)
    if e == "spatial_groupnorm_forward":
        return v_gn_forward(f)
    if e == "spatial_groupnorm_backward":
        return v_gn_backward(f, spatial.spatial_groupnorm_backward, entry.forward)
    if e.startswith("FullyConnectedNet."):
        return v_net(f)
    if e == "sgd_momentum":
        return v_optim(f, optim.sgd_momentum)
    if e == "adam":
        return v_optim(f, optim.adam)
    if e == "steps_to_reach":
        return v_steps(f)
    if e == "torch_running_var":
        return v_torch(f)
    raise ValueError(e)


def main():
    bad = 0
    for entry in entries():
        found = verify(entry)
        ok = (not found) if entry.correct else bool(found)
        bad += not ok
        kind = "correct" if entry.correct else "mistake"
        print(f"{'ok ' if ok else 'BAD'} {entry.exercise} / {entry.name} ({kind}): "
              f"{len(found)} differences; first: {found[0] if found else '-'}")
        if entry.correct and found:
            for line in found[:5]:
                print("      " + line)
    print(f"{bad} entries not verified")


if __name__ == "__main__":
    main()
