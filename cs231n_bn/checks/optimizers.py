"""Checks of the update rules: sgd_momentum and adam.

A rule runs from a state the check chooses (the velocity, the moments and the step count
given in config), on seeded arrays. What it returns is compared with reference values
(cs231n_bn.checks.reference: the right update as data, never computed here). When it
differs, the check measures the rule instead of matching a list of known mistakes: it fits
each returned quantity as a mix of the quantities it could depend on (the old state and
the gradient), reads off the coefficients, and compares them with the same measurement of
the reference values. A message names a coefficient's value only when it equals a quantity
the rule was given (a hyperparameter, its default, 1, 0); otherwise it states the number.
"""

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.core import CheckFailed, call, package_function, require_array, require_unchanged, unpack
from cs231n_bn.checks.display import passed

CLOSE = 1e-9  # relative agreement of measured coefficients with a named value
SAME = 1e-10  # relative agreement of an update with a reference value (correct code: ~1e-15)
# Adam's step with epsilon "negligible" (1e-12) still moves by up to 1e-8 relative when a rule
# uses the default epsilon instead: measured factors are compared this loosely there (the
# hypotheses about the bias correction differ by more than 1e-3).
NEGLIGIBLE = 1e-6


def _copy(config):
    return None if config is None else {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in config.items()}


def _same_state(given, returned):
    """Does the dict the rule was given hold what the rule returned, key for key?"""
    return set(given) == set(returned) and all(
        np.array_equal(given[k], returned[k]) if isinstance(returned[k], np.ndarray) else given[k] == returned[k]
        for k in returned)


def _run_rule(exercise, rule, w, dw, config):
    """(next_w, returned config) of rule(w, dw, config), the caller's arrays left as they were."""
    originals = {"w": (w, w.copy()), "dw": (dw, dw.copy())}
    given = _copy(config)
    next_w, new_config = unpack(exercise, exercise, call(exercise, exercise, rule, w, dw, given),
                                ("next_w", "config"))
    require_unchanged(exercise, exercise, originals)
    if not isinstance(new_config, dict):
        raise CheckFailed(f"{exercise}: the second return value must be the config dict; got "
                          f"{type(new_config).__name__}", exercise, "config type")
    # The contract of optim.py: CS231n's cells read the new state from their own dict. Judged by
    # content, not identity: the grader's copy of a student's dict comes back as another object.
    for key in ("learning_rate", "momentum", "beta1", "beta2", "epsilon"):
        if config is not None and key in config and new_config.get(key) != config[key]:
            raise CheckFailed(f"{exercise}: config[{key!r}] went in as {config[key]!r} and came back as "
                              f"{new_config.get(key)!r}: hyperparameters are the caller's to set; a rule changes "
                              f"only its state", exercise, "hyperparameter changed")
    if given is not None and not _same_state(given, new_config):
        raise CheckFailed(f"{exercise}: returns a new dict, and the config it was given never sees the new state: "
                          f"write the state into the dict you were given (config['velocity'], config['m'], ...) "
                          f"and return that same dict", exercise, "config replaced")
    return next_w, new_config


def _agrees(got, expected):
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    return bool(np.all(np.abs(got - expected) <= SAME * (np.abs(expected) + np.max(np.abs(expected)))))


def _close(a, b, rtol=CLOSE):
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


def _fit(y, columns):
    """Least-squares coefficients of y as sum(c_k * column_k), or None when no mix fits."""
    y = np.asarray(y, dtype=np.float64)
    A = np.stack([np.ravel(c) for c in columns], axis=1)
    c, *_ = np.linalg.lstsq(A, np.ravel(y), rcond=None)
    scale = np.max(np.abs(y)) + np.max(np.abs(A)) * np.max(np.abs(c))
    if not np.all(np.isfinite(c)) or np.max(np.abs(A @ c - np.ravel(y))) > 1e-9 * max(scale, 1e-300):
        return None
    return c


def _constant_ratio(got, right, rtol=CLOSE):
    """got / right when it is one number over all entries (to rtol), else None."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != right.shape or not np.all(np.isfinite(got)) or np.any(right == 0):
        return None
    ratio = got / right
    return float(ratio.flat[0]) if np.allclose(ratio, ratio.flat[0], rtol=rtol, atol=0) else None


def _name_value(value, names, rtol=CLOSE):
    """The first name whose number equals value (to rtol), or None. names: [(number, words)]."""
    for number, words in names:
        if _close(value, number, rtol):
            return words
    return None


def _state(config, key, shape):
    got = config.get(key)
    if got is None:
        return None
    got = np.asarray(got, dtype=np.float64) if isinstance(got, np.ndarray) else None
    return got if got is not None and got.shape == shape else None


def keeps_float32(name, rule, state_keys):
    """Two steps on float32 w and dw, from a fresh config: next_w and every state array stay float32."""
    rng = np.random.default_rng(21)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    config = None
    for _ in range(2):
        dw = rng.normal(size=w.shape).astype(np.float32)
        next_w, config = _run_rule(name, rule, w, dw, config)
        arrays = {"next_w": next_w, **{f"config['{key}']": config.get(key) for key in state_keys}}
        promoted = {where: getattr(a, "dtype", None) for where, a in arrays.items()
                    if getattr(a, "dtype", None) != np.float32}
        if promoted:
            listed = ", ".join(f"{where} is {dtype}" for where, dtype in promoted.items())
            raise CheckFailed(f"{name}: for float32 w and dw, {listed}; the update keeps w's precision (a state "
                              f"made with np.zeros(w.shape), which is float64, promotes every step that uses it)",
                              name, "float32 promoted")
        w = next_w


# what a term proportional to w in an update says, wherever it is measured
WEIGHT_DECAY = ("as weight decay adds. This update takes only the gradient dw (a regularization belongs in the loss "
                "that computes it)")


# ---------------------------------------------------------------- SGD with momentum


def _sgd_inputs():
    rng = np.random.default_rng(20)
    shape = (3, 4)
    w = rng.normal(size=shape)
    dw = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    velocity = rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    # hyperparameters away from the defaults and from each other, so that which one a
    # coefficient equals shows
    config = {"learning_rate": 0.15, "momentum": 0.7, "velocity": velocity}
    return w, dw, config


def _diagnose_velocity(name, got, v_old, w, dw, right, config):
    """Raise naming what differs in the stored velocity (got) from the right one."""
    lr, mom = config["learning_rate"], config["momentum"]
    if got is None:
        raise CheckFailed(f"{name}: config['velocity'] after the step is missing or not an array of w's "
                          f"shape: the new velocity is not stored", name, "velocity not stored")
    if np.array_equal(got, v_old):
        raise CheckFailed(f"{name}: config['velocity'] still holds the velocity it was given: the new "
                          f"velocity is not stored in config['velocity']", name, "velocity not stored")
    fit, fit_right = _fit(got, (v_old, dw)), _fit(right, (v_old, dw))
    decay = _fit(got, (v_old, dw, w)) if fit is None else None
    if decay is not None and abs(decay[1]) <= 1e-12 * abs(decay[2]):
        raise CheckFailed(f"{name}: config['velocity'] is a mix of the old velocity and w, with no dw in it: "
                          f"the parameter w is used where its gradient dw belongs", name, "w for dw")
    if decay is not None and abs(decay[2]) > 1e-12:
        raise CheckFailed(f"{name}: config['velocity'] mixes the old velocity and dw with a term proportional "
                          f"to w itself ({decay[2]:.6g} * w), {WEIGHT_DECAY}", name, "weight decay")
    if fit is None:
        raise CheckFailed(f"{name}: config['velocity'] is not a fixed mix of the old velocity and dw "
                          f"(measured over the entries): it depends on something else (w?)", name,
                          "velocity unexplained")
    (a, b), (a_right, b_right) = fit, fit_right
    given = f"(config: learning_rate={lr:g}, momentum={mom:g})"
    if _close(a, lr) and _close(b, mom * b_right / lr):
        raise CheckFailed(f"{name}: in the velocity, the old velocity is multiplied by learning_rate and "
                          f"dw by momentum: learning_rate and momentum are swapped", name, "swapped")
    if _close(a, -a_right) and _close(b, -b_right):
        raise CheckFailed(f"{name}: the stored velocity is -1 times the right one: its sign convention is "
                          f"flipped", name, "velocity sign")
    problems, topics = [], []
    if not _close(a, a_right):
        words = _name_value(a, [(0.0, "0: the old velocity is dropped, the velocity holds only this step's "
                                      "gradient term"),
                                (1.0, "1: the old velocity is not decayed by momentum"),
                                (0.9, "0.9, the default: config['momentum'] is not used"),
                                (-a_right, "-1 times the right factor: its sign is flipped"),
                                (mom * a_right, "momentum times the right factor: momentum is applied twice")])
        problems.append(f"the old velocity is multiplied by {words or f'{a:.6g} {given}'}")
        topics.append("velocity decay")
    if not _close(b, b_right):
        ratio = b / b_right
        words = _name_value(ratio, [
            (-1.0, "the gradient term has the wrong sign: the velocity points uphill"),
            (1.0 / lr, "the learning rate is not applied to the gradient"),
            (lr, "the learning rate is applied twice to the gradient"),
            (1e-2 / lr, "config['learning_rate'] is not used: the gradient is scaled by 1e-2, the default"),
            (mom, "momentum multiplies the gradient term too, not only the old velocity"),
            (1.0 - mom, "the gradient term is damped by (1 - momentum)"),
            (0.0, "dw does not enter the velocity"),
        ])
        problems.append(words or f"dw enters the velocity with the factor {b:.6g}, {ratio:.6g} times the "
                                 f"right one {given}")
        topics.append("velocity gradient")
    raise CheckFailed(f"{name}: config['velocity'] after one step: " + "; ".join(problems), name,
                      " + ".join(topics))


def _diagnose_step(name, step, v_new, v_old, dw, right_step, config):
    """Raise naming how the step w moved by differs from the right one; v_new is the
    student's stored velocity, already found right."""
    lr, mom = config["learning_rate"], config["momentum"]
    relations = [
        (-v_new, "the step has the wrong sign: w moves against the velocity", "step sign"),
        (v_old, "w moved by the OLD velocity, before the velocity was updated", "old velocity"),
        (lr * v_new, "the step multiplies the velocity by the learning rate again", "lr twice"),
        (v_new - lr * dw, "the step adds a gradient term to the new velocity: the learning rate is applied "
                          "twice (a plain SGD step on top of the velocity)", "lr twice"),
        (mom * v_new - lr * dw, "w moves by momentum times the new velocity plus a gradient step: a "
                                "Nesterov step, not the velocity itself", "nesterov"),
        (-lr * dw, "w took a plain SGD step: the velocity is not used for the step", "no momentum step"),
        (np.zeros_like(dw), "w did not move", "no step"),
    ]
    for value, words, topic in relations:
        if _agrees(step, value) and not _agrees(value, right_step):
            raise CheckFailed(f"{name}: {words}", name, topic)
    fit = _fit(step, (v_old, dw))
    measured = (f"w moved by {fit[0]:.6g} * (the old velocity) + {fit[1]:.6g} * dw" if fit is not None
                else "w's move is not a fixed mix of the old velocity and dw")
    raise CheckFailed(f"{name}: the stored velocity is right but the step is not: {measured} (config: "
                      f"learning_rate={lr:g}, momentum={mom:g}); compare the step with the velocity you "
                      f"stored", name, "step unexplained")


@reference.for_checks
def check_sgd_momentum(sgd_momentum=None):
    """Check sgd_momentum(w, dw, config) -> (next_w, config): the velocity, then the step."""
    name = "sgd_momentum"
    rule = sgd_momentum or package_function("optim", name)
    w, dw, config = _sgd_inputs()
    right_w = reference.value("sgd_momentum/next_w", name, w, dw, config)
    right_v = reference.value("sgd_momentum/velocity", name, w, dw, config)
    fresh = {k: config[k] for k in ("learning_rate", "momentum")}
    right_fresh_w = reference.value("sgd_momentum/next_w", name, w, dw, fresh)
    right_fresh_v = reference.value("sgd_momentum/velocity", name, w, dw, fresh)
    defaults = {"velocity": config["velocity"]}
    right_default_w = reference.value("sgd_momentum/next_w", name, w, dw, defaults)

    next_w, new_config = _run_rule(name, rule, w, dw, config)
    require_array(name, name, "next_w", next_w, w.shape)
    v_new = _state(new_config, "velocity", w.shape)
    if v_new is None or not _agrees(v_new, right_v):
        _diagnose_velocity(name, v_new, config["velocity"], w, dw, right_v, config)
    if not _agrees(next_w, right_w):
        _diagnose_step(name, next_w - w, v_new, config["velocity"], dw, right_w - w, config)

    # A fresh config: the rule creates its state itself.
    next_w, new_config = _run_rule(name, rule, w, dw, fresh)
    require_array(name, name, "next_w", next_w, w.shape)
    v_new = _state(new_config, "velocity", w.shape)
    if v_new is None or not _agrees(v_new, right_fresh_v) or not _agrees(next_w, right_fresh_w):
        start = None
        if v_new is not None:
            # the rule is right from a given state, so the difference is where it starts:
            # (stored - right) = momentum * (start - zeros)
            start = _constant_ratio(v_new - right_fresh_v, np.full(w.shape, fresh["momentum"]))
        if start is not None and _close(start, 0.0):
            start = None
        starts = None if start is None else "ones" if _close(start, 1.0) else f"{start:.6g} everywhere"
        where = f"as if the velocity started at {starts}" if starts else "its result differs from the right one"
        raise CheckFailed(f"{name}: with a config that holds no velocity yet (the first step), the rule "
                          f"acts {where}; from a given velocity it is right, so look at how the velocity "
                          f"is created when config has none", name, "velocity start")
    default_w, _ = _run_rule(name, rule, w, dw, defaults)
    if not _agrees(default_w, right_default_w):
        raise CheckFailed(f"{name}: with a config that holds only a velocity (every hyperparameter at its "
                          f"default) the step "
                          f"differs from the right one: the defaults are learning_rate=1e-2, momentum=0.9",
                          name, "defaults")
    keeps_float32(name, rule, ("velocity",))
    passed(name, "the velocity and the step match the reference values, from a given velocity and from a "
           "fresh config")


# ---------------------------------------------------------------- Adam


def _adam_inputs():
    rng = np.random.default_rng(21)
    shape = (3, 4)
    w = rng.normal(size=shape)
    dw = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    m = rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    v = rng.uniform(0.2, 1.5, shape)
    # betas far from the defaults and from each other, so that every power of each differs;
    # epsilon large, so that where it goes shows in the step
    config = {"learning_rate": 0.05, "beta1": 0.6, "beta2": 0.8, "epsilon": 0.3, "m": m, "v": v, "t": 2}
    return w, dw, config


def _with(config, **changes):
    changed = dict(config)
    changed.update(changes)
    return changed


def _right(name, w, dw, config, *whats):
    return [reference.value(f"{name}/{what}", name, w, dw, config) for what in whats]


def _nan_diagnosis(name, config):
    v = config.get("v")
    if isinstance(v, np.ndarray) and np.any(v < 0):
        return ("config['v'] has negative entries, so its square root is NaN: v averages the "
                "SQUARED gradients", "v not squared")
    t = config.get("t")
    if t == 0:
        return ("the step is NaN or inf and config['t'] is 0 after the first step: the bias correction "
                "divides by 1 - beta**0 = 0; t counts the steps taken", "t not incremented")
    if t == 1:
        return ("the step is NaN or inf although config['t'] is 1: the bias correction used the step "
                "count before it was incremented (1 - beta**0 = 0)", "t used before increment")
    return (f"next_w contains NaN or inf (config['t'] = {t!r})", "nan")


def _diagnose_t(name, got, t_old, t_right):
    if got is None:
        raise CheckFailed(f"{name}: config['t'] is missing after a step: the step count is not stored",
                          name, "t stored")
    if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
        raise CheckFailed(f"{name}: config['t'] should stay an integer step count; got {got!r}", name, "t type")
    moved, right = got - t_old, t_right - t_old
    words = {0: "it was not incremented (or not stored)", 2 * right: "it was incremented twice"}.get(
        moved, f"it moved by {moved}")
    raise CheckFailed(f"{name}: config['t'] went from {t_old} to {got} over one step: {words}", name, "t stored")


def _diagnose_moment(name, key, got, old, dw, right, config, powers, others=()):
    """Raise naming what differs in a stored moment ('m' or 'v') from the right one.

    others: (value, words) of what a mistaken moment may average instead of its own target.
    """
    b1, b2 = config["beta1"], config["beta2"]
    label = f"config['{key}']"
    if got is None:
        raise CheckFailed(f"{name}: {label} after the step is missing or not an array of w's shape: the "
                          f"moment is not stored", name, f"{key} not stored")
    if np.array_equal(got, old):
        raise CheckFailed(f"{name}: {label} still holds the value it was given: the new moment is not "
                          f"stored", name, f"{key} not stored")
    ratio = _constant_ratio(got, right)
    if ratio is not None:
        beta = b1 if key == "m" else b2
        for p in powers:
            if _close(ratio, 1.0 / (1.0 - beta**p)):
                raise CheckFailed(f"{name}: {label} holds the bias-corrected moment (the stored average "
                                  f"divided by 1 - beta**{p}); the stored average is the uncorrected one",
                                  name, f"corrected {key} stored")
    target = dw if key == "m" else dw**2
    fit, fit_right = _fit(got, (old, target)), _fit(right, (old, target))
    if fit is None and got.size > 2 and _fit(got, (old, np.ones_like(got))) is not None:
        raise CheckFailed(f"{name}: {label} mixes its old value with one number for every entry (a mean or sum of "
                          f"{'dw' if key == 'm' else 'dw**2'} over the whole array), where each entry averages its "
                          f"own", name, f"{key} scalar")
    if fit is None:
        other = dw**2 if key == "m" else np.abs(dw)
        alt = _fit(got, (old, other))
        if alt is not None:
            words = ("averages the squared gradient; m is the average of the gradient" if key == "m"
                     else "averages |dw|, not dw squared")
            raise CheckFailed(f"{name}: {label} {words}", name, f"{key} squared" if key == "m" else "v not squared")
        if key == "v" and _fit(got, (old, dw)) is not None:
            raise CheckFailed(f"{name}: {label} averages dw itself, not dw squared", name, "v not squared")
        for value, averaged in others:
            if _fit(got, (old, value)) is not None:
                raise CheckFailed(f"{name}: {label} averages {averaged}", name, f"{key} averages other")
        raise CheckFailed(f"{name}: {label} is not a fixed mix of its old value and "
                          f"{'dw' if key == 'm' else 'dw**2'} (measured over the entries)", name,
                          f"{key} unexplained")
    (a, b), (a_right, b_right) = fit, fit_right
    betas = [(b1, "beta1"), (b2, "beta2"), (1 - b1, "1 - beta1"), (1 - b2, "1 - beta2"), (1.0, "1"), (0.0, "0"),
             (b1**2, "beta1**2"), (b2**2, "beta2**2")]

    def words(value):
        found = _name_value(value, betas)
        return found if found else f"{value:.6g}"

    problems, topics = [], []
    if not _close(a, a_right):
        text = f"keeps {words(a)} of its old value"
        if _close(a, 0.0):
            text = "holds only this step's gradient: the stored moment is not carried over"
        problems.append(text)
        topics.append(f"{key} decay")
    if not _close(b, b_right):
        problems.append(f"weighs the new {'gradient' if key == 'm' else 'squared gradient'} by {words(b)}")
        topics.append(f"{key} weights")
    swapped = (key == "m" and _close(a, b2) and _close(b, 1 - b2)) or (key == "v" and _close(a, b1) and _close(b, 1 - b1))
    if swapped:
        right_beta = "beta1" if key == "m" else "beta2"
        problems = [f"decays with {'beta2' if key == 'm' else 'beta1'}: the "
                    f"{'first' if key == 'm' else 'second'} moment decays with {right_beta}"]
        topics = ["betas swapped"]
    raise CheckFailed(f"{name}: {label} after one step " + "; ".join(problems) + " (config: beta1="
                      f"{b1:g}, beta2={b2:g})", name, " + ".join(topics))


def _correction(b1, b2, p1, p2):
    """How much larger a step is with m divided by 1 - b1**p1 and v by 1 - b2**p2 (p None: not
    divided) than with neither: a bias correction's factor on the step."""
    c1 = 1.0 if p1 is None else 1.0 - b1**p1
    c2 = 1.0 if p2 is None else 1.0 - b2**p2
    return np.sqrt(c2) / c1


def _powers_of(factor, b1, b2, highest):
    """[(p1, base1, p2, base2)] of the corrections whose factor on the step equals `factor`:
    m divided by 1 - base1**p1, v by 1 - base2**p2 (bases named "beta1"/"beta2", p None: no
    correction)."""
    powers = [None, *range(1, highest + 1)]
    bases = (("beta1", b1), ("beta2", b2))
    return [(p1, n1, p2, n2) for n1, x1 in bases for n2, x2 in bases for p1 in powers for p2 in powers
            # no correction has no base: count it once, under the right one
            if (p1 is not None or n1 == "beta1") and (p2 is not None or n2 == "beta2")
            and _close(factor, _correction(x1, x2, p1, p2))]


def _diagnose_step_size(name, factor, right_factor, config, t):
    """Raise naming the measured scale of the student's step, when epsilon plays no part.

    factor, right_factor: the step divided by -learning_rate * m / sqrt(v) (the stored,
    uncorrected moments), for the student's rule and the reference values; t: the step
    count stored after the step.
    """
    lr, b1, b2 = config["learning_rate"], config["beta1"], config["beta2"]
    ratio = factor / right_factor
    named = _name_value(ratio, [
        (-1.0, ("the step has the wrong sign: w moves uphill", "step sign")),
        (1.0 / lr, ("the learning rate is not applied to the step", "lr missing")),
        (lr, ("the learning rate is applied twice", "lr twice")),
        (1e-3 / lr, ("config['learning_rate'] is not used: the step matches the default 1e-3", "lr ignored")),
    ], NEGLIGIBLE)
    if named:
        raise CheckFailed(f"{name}: {named[0]}", name, named[1])
    # Which powers of beta1 and beta2 make up each factor, measured the same way for both.
    found, right = _powers_of(factor, b1, b2, t + 2), _powers_of(right_factor, b1, b2, t + 2)
    if len(found) == 1 and len(right) == 1 and right[0][1::2] == ("beta1", "beta2"):
        (p1, base1, p2, base2), (r1, _, r2, _) = found[0], right[0]
        shifted = {p1 - r1, p2 - r2} if None not in (p1, p2, r1, r2) else None
        if (base1, base2) == ("beta2", "beta1"):
            text, topic = ("the bias correction divides m by a power of beta2 and v by a power of beta1: the "
                           "betas are swapped in the correction"), "correction betas"
        elif base1 != "beta1" or base2 != "beta2":
            moment, base = ("m", base1) if base1 != "beta1" else ("v", base2)
            text, topic = (f"the bias correction of {moment} uses a power of {base}: measured from the step's "
                           f"size, m's correction uses {base1}**{p1} and v's {base2}**{p2}"), "correction betas"
        elif p1 is None and p2 is None:
            text, topic = ("the bias correction is missing: m and v start at zero, so the early steps are "
                           "far too small without it"), "no bias correction"
        elif p2 is None and p1 == r1:
            text, topic = "only m is bias-corrected, not v", "v not corrected"
        elif p1 is None and p2 == r2:
            text, topic = "only v is bias-corrected, not m", "m not corrected"
        elif shifted == {1}:
            text, topic = (f"the bias correction raises beta to one power more than it should, although "
                           f"config['t'] is stored correctly as {t}: it uses t + 1"), "correction power"
        elif shifted == {-1}:
            text, topic = (f"the bias correction raises beta to one power less than it should (config['t'] is "
                           f"stored correctly as {t}): it uses the step count before it was incremented"), \
                "t used before increment"
        elif p1 == p2 == 1:
            text, topic = (f"the bias correction divides by 1 - beta1 and 1 - beta2, its values at the first "
                           f"step: beta is not raised to the power t (t = {t} here)"), "correction power"
        else:
            text, topic = (f"measured from the step's size, m's correction uses beta1**{p1} and v's "
                           f"beta2**{p2} (None: no correction), where the right step's uses beta1**{r1} and "
                           f"beta2**{r2}; config['t'] is {t}"), "correction power"
        raise CheckFailed(f"{name}: {text}", name, topic)
    for value, text in (((1.0 - b2**t) / (1.0 - b1**t), "v's correction divides the ROOT of v (sqrt(v) / (1 - beta2**t)), "
                                                      "where it belongs on v itself, under the root"),
                        ((1.0 - b1**t) / np.sqrt(1.0 - b2**t), "the corrections multiply m and v by 1 - beta**t, "
                                                               "where they divide")):
        if _close(factor, value):
            raise CheckFailed(f"{name}: {text} (t = {t} here)", name, "correction form")
    # the power put on the whole of 1 - beta, (1 - beta)**t, in m's correction, v's or both
    right1, right2, whole1, whole2 = 1.0 - b1**t, 1.0 - b2**t, (1.0 - b1) ** t, (1.0 - b2) ** t
    for moments, c1, c2 in (("v", right1, whole2), ("m", whole1, right2), ("m and v", whole1, whole2)):
        if _close(factor, np.sqrt(c2) / c1):
            raise CheckFailed(f"{name}: the bias correction of {moments} divides by (1 - beta)**t, the power "
                              f"taken of the whole of 1 - beta; the correction is 1 - beta**t (t = {t} here)",
                              name, "correction power")
    raise CheckFailed(f"{name}: the stored m, v and t are right, but every entry's step is {ratio:.6g} times "
                      f"the right one (config: learning_rate={lr:g}, beta1={b1:g}, beta2={b2:g}; t after the "
                      f"step: {t}): look at the scale factors of the step (learning rate, bias correction)",
                      name, "step size unexplained")


def _diagnose_step_shape(name, step, m, v, w, dw, right_step):
    """Raise when the step is not a fixed multiple of the right one (epsilon tiny): measure
    what it is proportional to, from the right moments."""
    shapes = [
        (m / v, "the step divides by v itself, not by its square root", "no sqrt"),
        (dw / np.sqrt(v), "the step uses the gradient dw where it should use the first moment m", "dw for m"),
        (m, "the step is not divided by the root of the second moment", "no denominator"),
        (m / np.sqrt(np.sqrt(v)), "the step divides by the fourth root of v: the square root is taken twice",
         "sqrt twice"),
    ]
    for value, words, topic in shapes:
        if _constant_ratio(step, value) is not None:
            raise CheckFailed(f"{name}: {words}", name, topic)
    decay = _constant_ratio(step - right_step, w)
    if decay is not None:
        raise CheckFailed(f"{name}: the stored m, v and t are right, and the step is the right one plus "
                          f"{decay:.6g} * w: a term proportional to w itself, {WEIGHT_DECAY}", name, "weight decay")
    raise CheckFailed(f"{name}: the stored m, v and t are right, but the step is not a fixed multiple of the "
                      f"right step: its ratio to it ranges from {np.min(step / right_step):.6g} to "
                      f"{np.max(step / right_step):.6g} over the entries (epsilon made negligible); look at "
                      f"how the step combines m and v", name, "step unexplained")


def _diagnose_epsilon(name, steps, rights, epsilons):
    """Raise naming where epsilon enters, from the step at three values of epsilon.

    steps, rights: the student's and the right steps at epsilons[0] (negligible) and at the
    two large values. With the other factors right, lr * mhat / |step| is the step's
    denominator; how it grows with epsilon shows where epsilon sits.
    """
    right_tiny = rights[0]
    denominators = [right_tiny / s for s in steps]  # the denominator relative to sqrt(vhat)
    right_denominators = [right_tiny / r for r in rights]
    grow = [d - denominators[0] for d in denominators[1:]]
    right_grow = [d - right_denominators[0] for d in right_denominators[1:]]
    if all(np.allclose(g, 0.0, atol=1e-6) for g in grow):
        raise CheckFailed(f"{name}: config['epsilon'] is not used: the step does not change with it", name,
                          "eps ignored")
    # eps added to the root: the denominator grows by a fixed multiple of eps, in every entry
    per_eps = [g / e for g, e in zip(grow, epsilons[1:])]
    right_per_eps = [g / e for g, e in zip(right_grow, epsilons[1:])]
    if np.allclose(per_eps[0], per_eps[1], rtol=1e-8):
        factor = _constant_ratio(per_eps[0], right_per_eps[0])
        measured = f"{factor:.6g} times" if factor is not None else "not a fixed multiple of"
        raise CheckFailed(f"{name}: epsilon is added after the square root, but scaled: the denominator "
                          f"grows with epsilon by {measured} what it should", name, "eps scaled")
    squared = [d**2 for d in denominators]
    in_root = [(s - squared[0]) / e for s, e in zip(squared[1:], epsilons[1:])]
    if np.allclose(in_root[0], in_root[1], rtol=1e-6):
        raise CheckFailed(f"{name}: epsilon is inside the square root; it belongs outside, added to the root",
                          name, "eps inside")
    raise CheckFailed(f"{name}: with epsilon = {epsilons[1]:g} and {epsilons[2]:g} the step differs from "
                      f"the right one while with a negligible epsilon it is right: look at where epsilon "
                      f"enters the step", name, "eps unexplained")


def _judge_adam_step(name, rule, w, dw, config):
    """Compare one step from a given state; raise with a measured diagnosis on a difference."""
    right_w, right_folded, right_m, right_v, right_t = _right(name, w, dw, config, "next_w", "next_w_folded",
                                                              "m", "v", "t")
    # the probes of the diagnosis: epsilon negligible, as given, and three times larger
    # (asked for up front, so that the recorded values cover every run on these inputs)
    epsilons = (1e-12, config["epsilon"], 3 * config["epsilon"])
    rights = [_right(name, w, dw, _with(config, epsilon=eps), "next_w")[0] - w for eps in epsilons]
    next_w, new_config = _run_rule(name, rule, w, dw, config)
    if not isinstance(next_w, np.ndarray) or not np.all(np.isfinite(next_w)):
        message, topic = _nan_diagnosis(name, new_config)
        raise CheckFailed(f"{name}: {message}", name, topic)
    require_array(name, name, "next_w", next_w, w.shape)
    t_right = int(right_t)
    t = new_config.get("t")
    if t != t_right or isinstance(t, bool):
        _diagnose_t(name, t, config.get("t", 0), t_right)
    powers = range(1, t_right + 3)  # bias corrections a stored moment may carry
    m, v = _state(new_config, "m", w.shape), _state(new_config, "v", w.shape)
    if m is None or not _agrees(m, right_m):
        _diagnose_moment(name, "m", m, config.get("m", np.zeros_like(w)), dw, right_m, config, powers)
    if v is None or not _agrees(v, right_v):
        _diagnose_moment(name, "v", v, config.get("v", np.zeros_like(w)), dw, right_v, config, powers,
                         ((right_m**2, "the square of the new first moment m, where the squared gradient dw**2 "
                                       "belongs"),))
    if _agrees(next_w, right_w) or _agrees(next_w, right_folded):
        return
    # The state is right and the step is not: measure the step, first with epsilon negligible.
    steps = [_run_rule(name, rule, w, dw, _with(config, epsilon=eps))[0] - w for eps in epsilons]
    if _constant_ratio(steps[0], rights[0], NEGLIGIBLE) is None:
        _diagnose_step_shape(name, steps[0], right_m, right_v, w, dw, rights[0])
    unit = -config["learning_rate"] * right_m / np.sqrt(right_v)
    factor, right_factor = _constant_ratio(steps[0], unit, NEGLIGIBLE), _constant_ratio(rights[0], unit)
    if not _close(factor, right_factor, NEGLIGIBLE):
        _diagnose_step_size(name, factor, right_factor, config, t_right)
    _diagnose_epsilon(name, steps, rights, epsilons)


@reference.for_checks
def check_adam(adam=None):
    """Check adam(w, dw, config) -> (next_w, config): from a given state, then from a fresh config.

    Kingma & Ba's "efficient" ordering (the corrections folded into the step size, epsilon
    added to sqrt(v) before the correction) is accepted as well: it is the same rule with a
    slightly different epsilon.
    """
    name = "adam"
    rule = adam or package_function("optim", name)
    w, dw, config = _adam_inputs()
    _judge_adam_step(name, rule, w, dw, config)
    # A fresh config: the rule creates its state (m, v, t) itself.
    fresh = {k: config[k] for k in ("learning_rate", "beta1", "beta2", "epsilon")}
    right_w, right_folded, right_m, right_v, right_t = _right(name, w, dw, fresh, "next_w", "next_w_folded",
                                                              "m", "v", "t")
    next_w, new_config = _run_rule(name, rule, w, dw, fresh)
    problems = []
    t = new_config.get("t")
    if t != int(right_t):
        problems.append(f"config['t'] is {t!r} after the first step; the step count after one step is "
                        f"{int(right_t)}")
    for key, right, beta in (("m", right_m, config["beta1"]), ("v", right_v, config["beta2"])):
        got = _state(new_config, key, w.shape)
        if got is None or not _agrees(got, right):
            start = None if got is None else _constant_ratio(got - right, np.full(w.shape, beta))
            problems.append(f"config['{key}'] after the first step differs from the right one"
                            + (f", as if it started at {start:.6g} everywhere instead of zeros"
                               if start is not None else ""))
    if not problems and not (isinstance(next_w, np.ndarray) and (_agrees(next_w, right_w)
                                                                 or _agrees(next_w, right_folded))):
        problems.append("the first step differs from the right one")
    if problems:
        raise CheckFailed(f"{name}: from a given state the rule is right, but from a config that holds no "
                          "state yet (the first step): " + "; ".join(problems) + ". Look at how the state "
                          "is created when config has none", name, "fresh state")
    keeps_float32(name, rule, ("m", "v"))
    passed(name, "m, v, t and the step match the reference values, from a given state and from a fresh config")
