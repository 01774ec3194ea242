"""Checks of the update rules: sgd_momentum and adam.

Each rule runs from a known state on seeded arrays; the new state and the new weights are
compared with the right update and with each classic mistake's update, one quantity at a
time (the velocity before the step, the step count before the moments), so that the
message names the first thing that went wrong.
"""

import numpy as np

from cs231n_bn.checks.core import CheckFailed, call, matches, package_function, require_array, require_unchanged, unpack
from cs231n_bn.checks.display import passed


def _run_rule(exercise, rule, w, dw, config, allow_nan=False):
    originals = {"w": (w, w.copy()), "dw": (dw, dw.copy())}
    next_w, new_config = unpack(exercise, exercise, call(exercise, exercise, rule, w, dw, config),
                                ("next_w", "config"))
    require_unchanged(exercise, exercise, originals)
    if not isinstance(new_config, dict):
        raise CheckFailed(f"{exercise}: the second return value must be the config dict; got "
                          f"{type(new_config).__name__}", exercise, "config type")
    if not allow_nan:
        require_array(exercise, exercise, "next_w", next_w, w.shape)
    return next_w, new_config


def _judge(exercise, what, got, right, mistakes):
    """Return if got matches right; else raise naming the first mistake it matches."""
    if matches(got, right):
        return
    found = [(message, topic) for wrong, message, topic in mistakes if matches(got, wrong)]
    if len(found) == 1:
        raise CheckFailed(f"{exercise}: {found[0][0]}", exercise, found[0][1])
    if found:  # two mistakes give the same numbers here: say so, claim neither
        raise CheckFailed(f"{exercise}: {what} matches either of two mistakes: "
                          + "; or ".join(m for m, _ in found), exercise, f"{what} ambiguous")
    raise CheckFailed(f"{exercise}: {what} matches neither the right update nor one of the usual "
                      f"mistakes", exercise, f"{what} unexplained")


def check_sgd_momentum(sgd_momentum=None):
    """Check sgd_momentum(w, dw, config) -> (next_w, config): the velocity, then the step."""
    name = "sgd_momentum"
    rule = sgd_momentum or package_function("optim", "sgd_momentum")
    rng = np.random.default_rng(20)
    w, dw, v_old = (rng.normal(size=(3, 4)) for _ in range(3))
    lr, mom = 0.1, 0.8
    next_w, config = _run_rule(name, rule, w, dw, {"learning_rate": lr, "momentum": mom, "velocity": v_old.copy()})
    v = mom * v_old - lr * dw
    _judge(name, "config['velocity']", config.get("velocity", v_old), v, (
        (v_old, "the new velocity is not stored in config['velocity']", "velocity not stored"),
        (mom * v_old + lr * dw, "the velocity's gradient term has the wrong sign: the velocity "
                                "points uphill", "velocity sign"),
        (-v, "the stored velocity is -1 times the right one: its sign convention is flipped", "velocity sign"),
        (lr * v_old - mom * dw, "learning_rate and momentum are swapped in the velocity", "swapped"),
        (mom * v_old - dw, "the learning rate is not applied to the gradient in the velocity", "lr missing"),
        (mom * (v_old - lr * dw), "momentum multiplies the gradient term too, not only the old velocity",
         "momentum on gradient"),
        (v_old - lr * dw, "the old velocity is not decayed by momentum", "momentum missing"),
        (-lr * dw, "the old velocity is dropped: the velocity holds only this step's gradient term",
         "old velocity dropped"),
        (0.9 * v_old - lr * dw, "config['momentum'] is not used: the velocity decays by 0.9, the default",
         "momentum ignored"),
        (mom * v_old - 1e-2 * dw, "config['learning_rate'] is not used: the gradient is scaled by 1e-2, the "
                                  "default", "lr ignored"),
    ))
    _judge(name, "next_w", next_w, w + v, (
        (w - v, "the step has the wrong sign: w moves against the velocity", "step sign"),
        (w + v_old, "w moved by the OLD velocity, before the velocity was updated", "old velocity"),
        (w + v - lr * dw, "the learning rate is applied twice: in the velocity and again in the step",
         "lr twice"),
        (w + lr * v, "the step multiplies the velocity by the learning rate again", "lr twice"),
        (w - lr * dw, "w took a plain SGD step: the velocity is not used for the step", "no momentum step"),
        (w, "w did not move", "no step"),
    ))
    first_w, _ = _run_rule(name, rule, w, dw, None)
    _judge(name, "next_w from config=None", first_w, w - 1e-2 * dw, (
        (w - 0.9 * 1e-2 * dw, "from config=None the first step is scaled by momentum: the velocity "
                              "should start at zeros", "velocity start"),
    ))
    # (the words notebook 5's stored output holds)
    passed(name, "the velocity and the step follow v <- momentum * v - learning_rate * dw, w <- w + v")


def _nan_diagnosis(name, config):
    v = config.get("v")
    if isinstance(v, np.ndarray) and np.any(v < 0):
        return ("config['v'] has negative entries, so its square root is NaN: v averages the "
                "SQUARED gradients", "v not squared")
    t = config.get("t")
    if t == 0:
        return ("the step is NaN or inf and config['t'] is still 0: with t = 0 the bias correction "
                "divides by 1 - beta**0 = 0; t counts steps from 1", "t not incremented")
    if t == 1:
        return ("the step is NaN or inf although config['t'] is 1: the bias correction used t "
                "before it was incremented (1 - beta**0 = 0)", "t used before increment")
    return (f"next_w contains NaN or inf (config['t'] = {t!r})", "nan")


def check_adam(adam=None):
    """Check adam(w, dw, config) -> (next_w, config) over two steps, bias correction included.

    Kingma & Ba's "efficient" ordering (the corrections folded into the step size, epsilon
    added to sqrt(v) before the correction) is accepted as well: it is the same rule with a
    slightly different epsilon.
    """
    name = "adam"
    rule = adam or package_function("optim", "adam")
    rng = np.random.default_rng(21)
    w, dw1, dw2 = (rng.normal(size=(3, 4)) for _ in range(3))
    # epsilon larger than the default, so that where it goes shows in the result
    lr, b1, b2, tiny = 2e-2, 0.9, 0.999, 1e-4

    first_w, config = _run_rule(name, rule, w, dw1, {"learning_rate": lr, "epsilon": tiny}, allow_nan=True)
    if not isinstance(first_w, np.ndarray) or not np.all(np.isfinite(first_w)):
        message, topic = _nan_diagnosis(name, config)
        raise CheckFailed(f"{name}: {message}", name, topic)
    require_array(name, name, "next_w", first_w, w.shape)
    m1, v1 = (1 - b1) * dw1, (1 - b2) * dw1**2
    _judge(name, "config['m'] after one step", config.get("m", np.nan), m1, (
        (dw1, "config['m'] holds the bias-corrected moment; the stored average is the uncorrected one",
         "corrected m stored"),
        ((1 - b2) * dw1, "config['m'] uses beta2: the first moment decays with beta1", "betas swapped"),
        (b1 * dw1, "config['m'] weighs the new gradient by beta1 instead of 1 - beta1", "m weights"),
        ((1 - b1) * dw1**2, "config['m'] averages the squared gradient; m is the average of the gradient",
         "m squared"),
    ))
    _judge(name, "config['v'] after one step", config.get("v", np.nan), v1, (
        (dw1**2, "config['v'] holds the bias-corrected moment; the stored average is the uncorrected one",
         "corrected v stored"),
        ((1 - b1) * dw1**2, "config['v'] uses beta1: the second moment decays with beta2", "betas swapped"),
        ((1 - b2) * np.abs(dw1), "config['v'] averages |dw|, not dw squared", "v not squared"),
        (b2 * dw1**2, "config['v'] weighs the new squared gradient by beta2 instead of 1 - beta2", "v weights"),
    ))
    t = config.get("t")
    right = -lr * dw1 / (np.abs(dw1) + tiny)
    efficient = -lr * dw1 / (np.abs(dw1) + tiny / np.sqrt(1 - b2))
    if not matches(first_w - w, efficient):
        _judge(name, "the first step", first_w - w, right, (
            (-lr * (1 - b1) * dw1 / (np.sqrt(1 - b2) * np.abs(dw1) + tiny),
             "the bias correction is missing: m and v start at zero, so the first step is far too "
             "small without it", "no bias correction"),
            (-lr * dw1 / (np.sqrt(1 - b2) * np.abs(dw1) + tiny),
             "only m is bias-corrected, not v", "v not corrected"),
            (-lr * (1 - b1) * dw1 / (np.abs(dw1) + tiny), "only v is bias-corrected, not m", "m not corrected"),
            (-lr * dw1 / np.sqrt(dw1**2 + tiny), "epsilon is inside the square root; it belongs outside, "
                                                  "added to sqrt(vhat)", "eps inside"),
            (lr * dw1 / (np.abs(dw1) + tiny), "the step has the wrong sign: w moves uphill", "step sign"),
            (-dw1 / (np.abs(dw1) + tiny), "the learning rate is not applied to the step", "lr missing"),
            (-lr * lr * dw1 / (np.abs(dw1) + tiny), "the learning rate is applied twice", "lr twice"),
            (-1e-3 * dw1 / (np.abs(dw1) + tiny), "config['learning_rate'] is not used: the step matches the "
                                                  "default 1e-3", "lr ignored"),
            (-lr * dw1 / (np.abs(dw1) + 1e-8), "config['epsilon'] is not used: the step matches the default "
                                                "1e-8", "eps ignored"),
            (-lr * ((1 - b1) / (1 - b1**2)) * dw1 / (np.sqrt((1 - b2) / (1 - b2**2)) * np.abs(dw1) + tiny),
             "the first step's bias correction used t = 2: t is incremented twice per step", "t twice"),
        ))
    if t != 1:
        raise CheckFailed(f"{name}: config['t'] counts the steps taken: after the first step it "
                          f"should be 1; got {t!r}", name, "t stored")

    second_w, config = _run_rule(name, rule, first_w, dw2, config)
    m2, v2 = b1 * m1 + (1 - b1) * dw2, b2 * v1 + (1 - b2) * dw2**2
    _judge(name, "config['m'] after two steps", config.get("m", np.nan), m2, (
        ((1 - b1) * dw2, "config['m'] after two steps holds only the last gradient: the stored m "
                         "is not carried over", "m not carried"),
    ))
    _judge(name, "config['v'] after two steps", config.get("v", np.nan), v2, (
        ((1 - b2) * dw2**2, "config['v'] after two steps holds only the last gradient: the stored v "
                            "is not carried over", "v not carried"),
    ))
    if config.get("t") != 2:
        raise CheckFailed(f"{name}: config['t'] should be 2 after two steps; got {config.get('t')!r}",
                          name, "t stored")
    mhat, vhat = m2 / (1 - b1**2), v2 / (1 - b2**2)
    right = first_w - lr * mhat / (np.sqrt(vhat) + tiny)
    efficient = first_w - lr * np.sqrt(1 - b2**2) / (1 - b1**2) * m2 / (np.sqrt(v2) + tiny)
    if not matches(second_w, efficient):
        _judge(name, "the second step", second_w, right, (
            (first_w - lr * (m2 / (1 - b1)) / (np.sqrt(v2 / (1 - b2)) + tiny),
             "on the second step the bias correction divides by 1 - beta1 and 1 - beta2, its values "
             "for t = 1: beta is not raised to the power t, or the t it uses is not the step count",
             "correction power"),
            (first_w - lr * (m2 / (1 - b1**3)) / (np.sqrt(v2 / (1 - b2**3)) + tiny),
             "on the second step the bias correction uses t = 3: t is incremented twice per step",
             "t twice"),
        ))
    passed(name, "moments, bias correction and steps match over two updates")
