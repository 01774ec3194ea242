"""Checks of the exercises of notebooks 4-8 written in notebook cells, and of the package's
spatial normalizations by their defining properties.

Right answers come from `reference` (recorded values for these checks' fixed inputs; the
grader's own computation for secret ones) or from properties any right answer has (zero
mean and unit spread per group, agreement with a numeric gradient); never from code here.
"""

import sys
import warnings

import numpy as np

from cs231n_bn.checks import reference
from cs231n_bn.checks.backward import expected_gradients, gradient_bounds
from cs231n_bn.checks.core import (
    agrees,
    call,
    matches,
    package_function,
    rel_error,
    require_array,
    require_unchanged,
    unpack,
)
from cs231n_bn.checks.display import CheckFailed, passed
from cs231n_bn.checks.normalized import DEFAULT_EPS, groupnorm_layout, spatial_bn_layout

EPS = 1e-5


def _close(exercise, what, got, right, rtol):
    """got must be a numeric array shaped like right, within rtol of right's largest entry."""
    got = np.asarray(got) if isinstance(got, (np.ndarray, list, tuple, float, int, np.floating)) else None
    if got is None or got.dtype.kind not in "biuf" or got.shape != right.shape:
        shape = "no array" if got is None else got.shape
        raise CheckFailed(f"{what} must be a numeric array of shape {right.shape}; got {shape}", exercise, "shape")
    err = float(np.max(np.abs(got - right), initial=0.0)) / max(float(np.max(np.abs(right), initial=0.0)), 1e-300)
    if not err < rtol:
        raise CheckFailed(f"{what} is off by {err:.1e} (relative to its largest entry), more than {rtol:g}",
                          exercise, "value")


# ---------------------------------------------------------------------------------------
# Notebook 4
# ---------------------------------------------------------------------------------------


def _wave(w, c):
    """A test function with a known derivative: f(a) = sum(sin(w a) exp(c a))."""

    def f(a):
        return float(np.sum(np.sin(w * a) * np.exp(c * a)))

    def derivative(a):
        return np.exp(c * a) * (w * np.cos(w * a) + c * np.sin(w * a))

    return f, derivative


def _wave_error(gradient, f, derivative, x, h):
    """The largest error of gradient(f, x, h) from the exact derivative, on a copy of x."""
    return float(np.max(np.abs(np.ravel(gradient(f, x.copy(), h)) - np.ravel(derivative(x)))))


def _steps_taken(gradient, f, x, h):
    """The steps, in units of h, by which gradient(f, x, h) moves x's entries where it calls f."""
    steps = set()

    def recording(a):
        moved = np.asarray(a, dtype=np.float64) - x
        steps.update(np.round(moved[moved != 0] / h, 6).tolist())
        return f(a)

    gradient(recording, x.copy(), h)
    return steps


# A difference of order p makes its truncation error fall 2^p-fold when h halves. Fourth
# order is missing on purpose: a fall near 16x but outside the accepted band is a leftover
# h^2 term (second order in the end) or a sixth-order one mixed in.
_ORDER_NAMES = {0: "an error that does not fall as h shrinks has no order (is the step h used at all?)",
                1: "that looks first order (one-sided): its error falls 2x when h halves",
                2: "that looks second order (the plain centered difference): its error falls 4x when h halves",
                6: "that looks sixth order: its error falls 64x when h halves"}


@reference.for_checks
def check_fourth_order_gradient(fourth_order_gradient):
    """Check notebook 4's Exercise 1: a fourth-order centered difference, accurate, x unchanged.

    Inputs:
    - fourth_order_gradient: the student's function (f, x, h) -> gradient shaped like x
    """
    exercise = "fourth_order_gradient"
    rng = np.random.default_rng(4)
    w, c = float(rng.uniform(2, 4)), float(rng.uniform(0.3, 0.7))
    f, derivative = _wave(w, c)
    shapes = ((3, 2), (5,), tuple(int(n) for n in rng.integers(1, 4, size=3)))
    xs = [rng.uniform(-1, 1, size=shape) for shape in shapes]
    h = 1e-3
    for x in xs:
        before = x.copy()
        got = call(exercise, "fourth_order_gradient", fourth_order_gradient, f, x, h)
        require_unchanged(exercise, "fourth_order_gradient", {"x": (x, before)})
        require_array(exercise, "fourth_order_gradient", "the gradient", got, x.shape)
    # The order first: it names the scheme a wrong answer is. Eight points spread over
    # [-1, 1], so the largest error is where the leading derivative is large, never ~0; at
    # these steps truncation is a million times the round-off.
    x8 = np.sort(rng.uniform(-1, 1, size=8))
    errors = [_wave_error(lambda *a: call(exercise, "fourth_order_gradient", fourth_order_gradient, *a),
                          f, derivative, x8, step) for step in (0.04, 0.02)]
    fall = errors[0] / max(errors[1], 1e-300)
    if not 11 < fall < 23:
        nearest = min(_ORDER_NAMES, key=lambda p: abs(np.log2(max(fall, 1e-300)) - p))
        raise CheckFailed(f"the error fell {fall:.1f}x when h halved from 0.04 to 0.02: "
                          f"{_ORDER_NAMES[nearest]}. A fourth-order difference's error falls about 16x",
                          exercise, "order")
    offsets = _steps_taken(lambda *a: call(exercise, "fourth_order_gradient", fourth_order_gradient, *a), f, xs[0], h)
    if not offsets <= {-2.0, -1.0, 1.0, 2.0}:
        shown = ", ".join(f"{o:+g}h" for o in sorted(offsets))
        raise CheckFailed(f"fourth_order_gradient evaluates f at x {shown}: the exercise's stencil combines the "
                          f"centered differences at steps h and 2h, so f is needed at x - 2h, x - h, x + h and "
                          f"x + 2h only", exercise, "stencil")
    for x in xs:
        # The error a fourth-order difference may have here, ten times over: truncation
        # h^4/30 |f^(5)| (|f^(5)| <= (w + c)^5 e^c on [-1, 1]) plus round-off, at most
        # 1.5 eps |f| / h for the five-point stencil and 3 eps |f| / h for a Richardson
        # combination at h/2 and h (|f| <= size e^c).
        eps = np.finfo(np.float64).eps
        bound = 10 * (h**4 / 30 * (w + c) ** 5 + 4 * eps * x.size / h) * np.exp(c)
        right = derivative(x)
        _close(exercise, f"fourth_order_gradient on shape {x.shape} at h = 1e-3 (next to the exact derivative)",
               call(exercise, "fourth_order_gradient", fourth_order_gradient, f, x.copy(), h), right,
               bound / max(float(np.max(np.abs(right))), 1e-300))
    passed("fourth_order_gradient",
           "its error falls ~16x when h halves (fourth order), it is accurate at h = 1e-3, and x is left unchanged")


def _step_error(h, dtype, seed):
    """Relative error of a centered difference with step h, in dtype, of batch norm's dx.

    Only two numbers come from the student, so the batches are the notebook's own, whoever
    runs the check (a float32 difference's error varies too much from batch to batch for
    random ones): the generator is built directly, never swapped for a secret one.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    x = rng.normal(loc=1.0, scale=2.0, size=(8, 4))
    g, b, d = rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=(8, 4))
    exact = reference.value("staged_backward/dx", "staged_backward", x, g, b, d, EPS)
    forward = package_function("batchnorm", "batchnorm_forward")
    difference = package_function("numerics", "finite_difference_gradient")

    def f(a):
        out, _ = forward(a, g.astype(a.dtype), b.astype(a.dtype), {"mode": "train", "eps": EPS})
        return np.sum(out * d.astype(a.dtype))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rel_error(difference(f, x.astype(dtype), h, "centered"), exact)


@reference.for_checks
def check_pick_h(h_float64, h_float32):
    """Check notebook 4's choice of h: each step gives a trustworthy centered difference in its precision."""
    exercise = "pick_h"
    for name, h, dtype, threshold, seeds in (("h_float64", h_float64, np.float64, 1e-7, (21, 22)),
                                             ("h_float32", h_float32, np.float32, 1e-3, (21, 23))):
        if not isinstance(h, float) or not 0 < h < 1:
            raise CheckFailed(f"{name} must be one float step in (0, 1), e.g. 1e-3; got {h!r}", exercise, "type")
        for seed in seeds:
            err = _step_error(h, dtype, seed)
            if err >= threshold:
                side = ("too large: truncation, about h^2, dominates" if _step_error(h / 4, dtype, seed) < err
                        else "too small: round-off, about eps/h, dominates")
                raise CheckFailed(f"{name} = {h:g} gives relative error {err:.1e} >= {threshold:g}; it is "
                                  f"probably {side}", exercise, "value")
    passed("h_float64, h_float32", "both steps give a trustworthy centered difference in their precision")


TWO_LAYER_NAMES = ("W1", "b1", "gamma", "beta", "W2", "b2")


@reference.for_checks
def check_two_layer_loss(two_layer_loss):
    """Check notebook 4's two-layer network: its loss and every gradient, on networks of several sizes.

    Inputs:
    - two_layer_loss: the student's function (params, X, y) -> (loss, grads)
    """
    exercise = "two_layer_loss"
    rng = np.random.default_rng(44)
    for N, D, H, C in ((8, 5, 6, 3), tuple(int(n) for n in rng.integers((6, 3, 3, 2), (16, 8, 9, 6)))):
        X, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
        p = {"W1": rng.normal(0, 0.5, (D, H)), "b1": rng.normal(0, 0.5, H), "gamma": rng.uniform(0.5, 2, H),
             "beta": rng.normal(0, 0.5, H), "W2": rng.normal(0, 0.5, (H, C)), "b2": rng.normal(0, 0.5, C)}
        before = {k: v.copy() for k, v in p.items()}
        got = call(exercise, "two_layer_loss", two_layer_loss, p, X.copy(), y.copy())
        require_unchanged(exercise, "two_layer_loss", {k: (p[k], before[k]) for k in p})
        loss, grads = unpack(exercise, "two_layer_loss", got, ("loss", "grads"))
        if not isinstance(grads, dict) or set(grads) != set(TWO_LAYER_NAMES):
            raise CheckFailed(f"grads must be a dict with the keys {sorted(TWO_LAYER_NAMES)}", exercise, "keys")
        right_loss = float(reference.value("two_layer_loss/loss", "two_layer_loss", before, X, y))
        if not isinstance(loss, (float, np.floating)) or not abs(loss - right_loss) <= 1e-9 * right_loss:
            raise CheckFailed(f"the loss is {loss!r}, but the softmax loss of this network is {right_loss:.6g}",
                              exercise, "loss")
        for name in TWO_LAYER_NAMES:
            right = reference.value(f"two_layer_loss/{name}", "two_layer_loss", before, X, y)
            if name == "b1":  # cancelled by batch norm: ~0, compared absolutely
                if np.shape(grads[name]) != (H,) or np.max(np.abs(grads[name])) > 1e-9:
                    raise CheckFailed("grads['b1'] must be ~0: a bias before batch norm cancels", exercise, "b1")
                continue
            # far below a numeric gradient's ~1e-9: only the derived gradients pass
            _close(exercise, f"grads[{name!r}]", grads[name], right, 1e-11)
    passed("two_layer_loss", "the loss and all six gradients match, for two network sizes")


# ---------------------------------------------------------------------------------------
# Notebooks 5 to 8
# ---------------------------------------------------------------------------------------


@reference.for_checks
def check_steps_to_reach(steps_to_reach=None):
    """Check notebook 5's steps_to_reach on logs of many shapes, against recorded answers.

    Inputs:
    - steps_to_reach: the implementation under test (None: the package's)
    """
    exercise = "steps_to_reach"
    fn = steps_to_reach or package_function("experiments", "steps_to_reach")
    rng = np.random.default_rng(5)
    cases = [([0, 10, 20, 30], [0.1, 0.5, 0.8, 0.7], t) for t in (0.5, 0.75, 0.05, 0.8, 0.9)]
    # accuracies a hair below the target: reaching it means reaching it, not coming close
    cases += [([0, 10, 20, 30], [0.1, 0.4995, 0.6, 0.7], 0.5), ([5, 15, 25], [0.497, 0.2, 0.51], 0.5)]
    # the first step to reach the target is not the one whose accuracy is nearest above it
    cases.append(([0, 10, 20, 30, 40, 50], [0.1, 0.5, 0.5, 0.7, 0.9, 0.6], 0.6))
    # targets with more digits than two, met by an accuracy between the target and its rounding
    cases += [([0, 10, 20, 30], [0.2, 0.6231, 0.6249, 0.7], 0.6234), ([0, 10, 20], [0.1, 0.626, 0.64], 0.6251)]
    for case in range(12):
        E = int(rng.integers(0, 10)) if case else 0
        steps = np.cumsum(rng.integers(1, 30, size=E)) - (1 if case % 3 == 0 else 0)
        acc = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9, 1.0], size=E)
        target = float(rng.choice(acc)) if E and case % 2 else float(rng.choice([0.0, 0.3, 0.75, 0.95, 1.0]))
        cases.append((steps if case % 4 else steps.tolist(), acc if case % 4 else acc.tolist(), target))
    wrong = []  # (shown, steps, acc, target, got, right, slips): judged together, so a pattern shows
    for steps, acc, target in cases:
        shown = f"steps_to_reach({np.asarray(steps).tolist()}, {np.asarray(acc).tolist()}, {target})"
        # the recorded answer: a step, or NaN where no accuracy reaches the target
        right = float(reference.value("steps_to_reach/step", "steps_to_reach", steps, acc, target))
        slips = _slipped_answers(steps, acc, target)
        try:
            got = call(exercise, "steps_to_reach", fn, steps, acc, target)
            if np.isnan(right):
                if got is not None:
                    raise CheckFailed(f"{shown} returned {got!r}, but no accuracy reaches the target: return None",
                                      exercise, "none")
                continue
            if got is not None and type(got) is not int:
                raise CheckFailed(f"{shown} returned {got!r}; return a Python int (a step), not "
                                  f"{type(got).__name__}", exercise, "type")
        except CheckFailed:
            if wrong:  # the wrong values seen so far say more than a later failure
                break
            raise
        if got != right:
            wrong.append((shown, [int(s) for s in steps], [float(a) for a in acc], target, got, int(right), slips))
    if wrong:
        shown, *_, got, _ = wrong[0]
        raise CheckFailed(f"{shown} returned {got}: {_steps_symptom(wrong)}", exercise, "value")
    passed("steps_to_reach", f"the first step reaching the target, or None, in {len(cases)} cases")


ROUNDINGS = (3, 2, 1, 0)  # decimal places a slip may round the target or the accuracies to


def _slipped_answers(steps, acc, target):
    """{slip: the right answer on the inputs as a slip changes them} (None where no step
    reaches): reference values, asked for before the code under test runs. A comparison
    a > target is a >= the next float above the target (no accuracy is above 1); comparing
    100 * a with the target is comparing a with target / 100."""
    def right_for(steps_, acc_, target_):
        if target_ > 1:
            return None
        step = float(reference.value("steps_to_reach/step", "steps_to_reach", steps_, acc_, target_))
        return None if np.isnan(step) else int(step)

    listed = [float(a) for a in acc]
    # the log reordered by accuracy (a stable sort keeps logged order among equal ones), its
    # entries numbered 0, 1, ... in that order: the first to reach the target is the entry of
    # the smallest accuracy that reaches it
    by_accuracy = sorted(range(len(listed)), key=lambda i: listed[i])
    nearest = right_for(list(range(len(listed))), [listed[i] for i in by_accuracy], target)
    slips = {"strict": right_for(steps, acc, float(np.nextafter(target, np.inf))),
             "percent": right_for(steps, acc, target / 100),
             "nearest": None if nearest is None else int(steps[by_accuracy[nearest]])}
    for d in ROUNDINGS:
        slips[f"target rounded {d}"] = right_for(steps, acc, round(target, d))
        slips[f"accuracies rounded {d}"] = right_for(steps, [round(a, d) for a in listed], target)
    return slips


def _steps_symptom(wrong):
    """The one reading of a wrong steps_to_reach that explains every wrong answer, measured
    from the recorded right steps and the recorded answers to slipped inputs; or what the
    first wrong answer is not."""

    def late(steps, acc, target, first, slips):
        return steps[first + 1] if first + 1 < len(steps) else None

    def best(steps, acc, target, first, slips):
        return steps[int(np.argmax(acc))]

    def searched(steps, acc, target, first, slips):
        i = int(np.searchsorted(acc, target))
        return steps[i] if i < len(steps) else None

    def slipped(name):
        return lambda steps, acc, target, first, slips: slips[name]

    readings = (
        (lambda steps, acc, target, first, slips: first, "the position of the right entry in the log (counting "
         "from 0), not its step: return the entry of eval_steps"),
        (lambda steps, acc, target, first, slips: first + 1, "the number of logged evaluations up to the right "
         "entry, not its step: return the entry of eval_steps"),
        (slipped("strict"), "the first step whose accuracy is above the target, but reaching it exactly counts"),
        (late, "one logged step late: the step before it already reaches the target"),
        (best, "the step of the best accuracy; an earlier step already reaches the target"),
        (slipped("percent"), "the accuracies are compared as percentages (100 * accuracy) with a target that is a "
                             "fraction, like the accuracies themselves"),
        (slipped("nearest"), "the step whose accuracy is the smallest that reaches the target; the FIRST step that reaches it "
                  "is asked for"),
        (searched, "the log is searched as if the accuracies only increased (a binary search, np.searchsorted, needs "
                   "them sorted; a log of accuracies goes up and down)"),
        # the least rounding that explains the answers first
        *((slipped(f"target rounded {d}"), f"the target is rounded to {d} decimal place{'s' * (d != 1)} before the "
                                           f"comparison; compare with the target as given") for d in ROUNDINGS),
        *((slipped(f"accuracies rounded {d}"), f"the accuracies are rounded to {d} decimal place{'s' * (d != 1)} "
                                               f"before the comparison; an accuracy reaches the target only if it "
                                               f"is at least the target as logged") for d in ROUNDINGS),
    )
    for reading, text in readings:
        if all(got == reading(steps, acc, target, steps.index(right), slips)
               for _, steps, acc, target, got, right, slips in wrong):
            return text
    _, steps, acc, target, got, right, _ = wrong[0]
    if got is None:
        return f"the accuracy {acc[steps.index(right)]:g} at step {right} reaches the target {target:g}"
    if got not in steps:
        return "that is not one of the logged steps; return an entry of eval_steps"
    if steps.index(got) < steps.index(right):
        return f"its accuracy {acc[steps.index(got)]:g} is below the target {target:g}"
    return "an earlier logged step already reaches the target: the first one is asked for"


_KINDS = ("batch norm", "layer norm", "instance norm")
OTHER_AXES = ((0, 3), (1, 2), (0, 1, 3))


@reference.for_checks
def check_normalize_over(normalize_over, normalization_axes, group_norm):
    """Check notebook 6's three functions on (N, C, H, W) batches: the normalization over given
    axes, the axes of each norm (judged by what normalizing over them gives), and group norm.
    """
    exercise = "normalize_over"
    rng = np.random.default_rng(6)
    N, H, W = (int(n) for n in rng.integers((2, 2, 2), (6, 5, 6)))
    x = rng.normal(loc=rng.uniform(-3, 3), scale=rng.uniform(0.5, 3), size=(N, 6, H, W))
    # axes no norm of the notebook uses, so that passing them says nothing about its answers
    for axes in OTHER_AXES:
        before = x.copy()
        got = call(exercise, "normalize_over", normalize_over, x, axes)
        require_unchanged(exercise, "normalize_over", {"x": (x, before)})
        _close(exercise, f"normalize_over(x, {axes})", got,
               reference.value("normalize_over/out", "normalize_over", x, axes), 1e-10)
    for kind in _KINDS:
        axes = call(exercise, "normalization_axes", normalization_axes, kind)
        if not isinstance(axes, tuple) or not all(isinstance(a, (int, np.integer)) and 0 <= a < 4 for a in axes):
            raise CheckFailed(f"normalization_axes({kind!r}) = {axes!r}: expected a tuple of axis numbers of "
                              f"(N, C, H, W), each 0 to 3", exercise, "axes")
        got = call(exercise, "normalize_over", normalize_over, x, axes)
        right = reference.value("normalization_axes/out", "normalization_axes", x, kind)
        if np.shape(got) != right.shape or not np.allclose(got, right, rtol=1e-10, atol=1e-10):
            raise CheckFailed(f"normalization_axes({kind!r}) = {axes!r} are not the axes {kind} averages over: "
                              f"normalize_over (right on other axes) gives another result over them", exercise,
                              "axes")
    for G in (2, 3):
        got = call(exercise, "group_norm", group_norm, x.copy(), G)
        _close(exercise, f"group_norm(x, {G})", got, reference.value("group_norm/out", "group_norm", x, G), 1e-10)
    # Two passes: a large common offset must not destroy the variance.
    far = call(exercise, "normalize_over", normalize_over, x + 1e6, OTHER_AXES[-1])
    right = reference.value("normalize_over/out", "normalize_over", x, OTHER_AXES[-1])
    _close(exercise, f"normalize_over(x + 1e6, {OTHER_AXES[-1]})", far, right, 1e-6)
    passed("normalize_over", "batch, layer, instance and group norm, and stable far from zero")


def _spatial_batch(rng, C):
    N, H, W = (int(n) for n in rng.integers((2, 2, 2), (5, 4, 4)))
    x = rng.normal(size=(N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(-2, 2, (1, C, 1, 1))
    gamma = rng.uniform(0.5, 2.0, C) * rng.choice([-1.0, 1.0], C)
    return x, gamma, rng.normal(size=C), rng.normal(size=x.shape)


NOTEBOOK_6_EPS = 1e-5  # the eps of notebook 6's normalize_over, whose recorded outputs these checks compare with


def _same_norm(exercise, what, out, x, kind):
    """out must be x normalized the way notebook 6's `kind` normalizes it (recorded values)."""
    right = reference.value("normalization_axes/out", "normalization_axes", x, kind)
    _close(exercise, f"{what}, next to {kind} of x as notebook 6 computes it,", out, right, 1e-8)


@reference.for_checks
def check_channel_statistics(spatial_batchnorm_forward=None):
    """Check that spatial batch norm normalizes each channel as batch norm does (notebook 7)."""
    exercise = "spatial_batchnorm_forward"
    fn = spatial_batchnorm_forward or package_function("spatial", "spatial_batchnorm_forward")
    rng = np.random.default_rng(71)
    C = int(rng.integers(2, 6))
    x = rng.normal(size=(5, C, 4, 3)) * rng.uniform(1, 5, (1, C, 1, 1)) + rng.uniform(-10, 10, (1, C, 1, 1))
    out, _ = unpack(exercise, "spatial_batchnorm_forward",
                    call(exercise, "spatial_batchnorm_forward", fn, x, np.ones(C), np.zeros(C),
                         {"mode": "train", "eps": NOTEBOOK_6_EPS}), ("out", "cache"))
    require_array(exercise, "spatial_batchnorm_forward", "out", out, x.shape)
    _same_norm(exercise, "spatial_batchnorm_forward (gamma 1, beta 0)", out, x, "batch norm")
    passed("spatial_batchnorm_forward", "every channel has mean 0 and std 1 over N, H and W")


@reference.for_checks
def check_group_special_cases(spatial_groupnorm_forward=None):
    """Check group norm's two extremes (notebook 7): G = 1 is layer norm, G = C instance norm."""
    exercise = "spatial_groupnorm_forward"
    fn = spatial_groupnorm_forward or package_function("spatial", "spatial_groupnorm_forward")
    rng = np.random.default_rng(73)
    C = int(rng.choice([2, 4, 6]))
    x, _, _, _ = _spatial_batch(rng, C)
    for G, name in ((1, "layer norm"), (C, "instance norm")):
        out, _ = unpack(exercise, "spatial_groupnorm_forward",
                        call(exercise, "spatial_groupnorm_forward", fn, x, np.ones(C), np.zeros(C), G,
                             {"eps": NOTEBOOK_6_EPS}), ("out", "cache"))
        require_array(exercise, "spatial_groupnorm_forward", "out", out, x.shape)
        _same_norm(exercise, f"spatial_groupnorm_forward with G = {G} (gamma 1, beta 0)", out, x, name)
    passed("spatial_groupnorm_forward", "G = 1 is layer norm and G = C instance norm")


H = 1e-5  # the numeric gradients' step
SAFETY = 10  # how many times its estimated own error a numeric gradient may differ from a right answer


def _numeric_errors(exercise, name, forward, backward, x, gamma, beta, dout):
    """backward's (dx, dgamma, dbeta), and {label: (largest |analytic - numeric|, the most a right
    answer may differ)} for each against numeric gradients of forward.

    A fixed relative bound fails right answers on some inputs: an entry near zero carries the
    same absolute error as a large one. So the bound follows from the numeric gradient's own
    error on these inputs. Round-off: each entry of out is known to a few units of eps times
    its size, and a difference quotient sums those errors times dout and divides by h.
    Truncation (h^2 times the third derivative), and whatever round-off the first term misses
    (a forward that cancels more digits), show in how much the estimate moves when h doubles.
    """
    numeric_gradient = package_function("gradient_check", "eval_numerical_gradient_array")
    forward_name = name.replace("backward", "forward")
    out, cache = call(exercise, forward_name, forward, x, gamma, beta)
    grads = unpack(exercise, name, call(exercise, name, backward, dout, cache), ("dx", "dgamma", "dbeta"))
    roundoff = np.finfo(np.float64).eps * float(np.sum(np.abs(np.asarray(out) * dout))) / H
    errors = {}
    for k, (label, value) in enumerate(zip(("dx", "dgamma", "dbeta"), grads)):
        args = [x, gamma, beta]

        def f(v, k=k):
            shifted = list(args)
            shifted[k] = v
            return call(exercise, forward_name, forward, *shifted)[0]

        numeric = numeric_gradient(f, args[k].copy(), dout, h=H)
        coarse = numeric_gradient(f, args[k].copy(), dout, h=2 * H)
        require_array(exercise, name, label, value, args[k].shape)
        own = roundoff + float(np.max(np.abs(coarse - numeric)))
        errors[label] = (float(np.max(np.abs(value - numeric))), SAFETY * own)
    return grads, errors


def _derived_not_estimated(exercise, name, layout, grads, x, gamma, beta, forward_args, dout):
    """Raise unless the gradients backward gave equal the recorded exact ones to round-off.

    Agreeing with a numeric gradient within its own error is what a numeric estimate does
    too; the derived gradient also agrees with the exact one as closely as rounding allows,
    which no difference quotient does.
    """
    expected = expected_gradients(name, layout, x, gamma, beta, forward_args, dout)
    for label, got, bound in zip(("dx", "dgamma", "dbeta"), grads, gradient_bounds(layout, dout, expected)):
        if not agrees(got, expected[label], bound):
            raise CheckFailed(f"{name}'s {label} agrees with the numeric gradient, but not with the exact gradient as "
                              f"closely as rounding allows ({rel_error(got, expected[label]):.1e} relative): this is "
                              f"either a numeric estimate rather than the derived gradient, or an intermediate held in "
                              f"float32 in a float64 computation", exercise, "numeric estimate")


def _beyond(errors):
    """The first gradient whose difference from the numeric one exceeds what it allows, or None."""
    return next((label for label, (error, allowed) in errors.items() if not error <= allowed), None)


@reference.for_checks
def check_spatial_numeric(spatial_batchnorm_backward=None, forward=None):
    """Check spatial batch norm's backward pass against numeric gradients (notebook 7)."""
    exercise = "spatial_batchnorm_backward"
    backward = spatial_batchnorm_backward or package_function("spatial", "spatial_batchnorm_backward")
    forward = forward or package_function("spatial", "spatial_batchnorm_forward")
    rng = np.random.default_rng(72)
    x, gamma, beta, dout = _spatial_batch(rng, int(rng.integers(1, 5)))
    train = lambda x_, g_, b_: forward(x_, g_, b_, {"mode": "train"})  # noqa: E731
    grads, errors = _numeric_errors(exercise, "spatial_batchnorm_backward", train, backward, x, gamma, beta, dout)
    worst = _beyond(errors)
    if worst:
        error, allowed = errors[worst]
        raise CheckFailed(f"spatial_batchnorm_backward's {worst} differs from the numeric gradient by up to "
                          f"{error:.1e}, more than the numeric gradient's own error allows here ({allowed:.1e})",
                          exercise, worst)
    _derived_not_estimated(exercise, "spatial_batchnorm_backward", spatial_bn_layout(*x.shape), grads, x, gamma,
                           beta, ({"mode": "train", "eps": DEFAULT_EPS},), dout)
    passed("spatial_batchnorm_backward", "dx, dgamma, dbeta match numeric gradients within their own error")


@reference.for_checks
def check_group_numeric(spatial_groupnorm_backward=None, forward=None):
    """Check group norm's backward pass against numeric gradients for G = 1, 2, 3, 6 (notebook 7)."""
    exercise = "spatial_groupnorm_backward"
    backward = spatial_groupnorm_backward or package_function("spatial", "spatial_groupnorm_backward")
    forward = forward or package_function("spatial", "spatial_groupnorm_forward")
    rng = np.random.default_rng(74)
    x, gamma, beta, dout = _spatial_batch(rng, 6)
    for G in (1, 2, 3, 6):
        grouped = lambda x_, g_, b_: forward(x_, g_, b_, G, {})  # noqa: E731
        grads, errors = _numeric_errors(exercise, "spatial_groupnorm_backward", grouped, backward, x, gamma, beta,
                                        dout)
        worst = _beyond(errors)
        if worst:
            error, allowed = errors[worst]
            raise CheckFailed(f"spatial_groupnorm_backward with G = {G}: {worst} differs from the numeric gradient "
                              f"by up to {error:.1e}, more than the numeric gradient's own error allows here "
                              f"({allowed:.1e})", exercise, worst)
        _derived_not_estimated(exercise, "spatial_groupnorm_backward", groupnorm_layout(*x.shape, G), grads, x,
                               gamma, beta, (G, {"eps": DEFAULT_EPS}), dout)
    passed("spatial_groupnorm_backward", "matches numeric gradients within their own error, G = 1, 2, 3, 6")


def _start_share_words(got, right, later, N, m):
    """What the measured share of PyTorch's start value (running_var = 0) says, against the right one.

    got, right: the share after k batches; later: the student's after k + 1, which shows
    what each batch leaves of it.
    """
    got, later = np.asarray(got, dtype=np.float64), np.asarray(later, dtype=np.float64)
    if np.all(got == 0):
        return "Measured: none at all. PyTorch's running_var does not start at 0 the way ours does."
    ratio = float(np.mean(got / right))
    if np.allclose(got / right, -1.0, rtol=1e-9):
        return "Measured: the right size with the wrong sign; the start value's share is subtracted."
    if np.allclose(got, 1 - right, rtol=1e-9):
        return ("Measured: 1 minus the right share, which is the weight the k batches get together; the start "
                "value keeps what they leave.")
    if np.allclose(got / right, N / (N - 1), rtol=1e-9):
        return ("Measured: N/(N-1) times the right share; Bessel's factor corrects the batch variances, and the "
                "start value is not one of them.")
    per_batch = float(np.mean(later / got)) if np.all(got != 0) else np.nan
    if np.allclose(later, got, rtol=1e-9):
        return "Measured: the same after k + 1 batches as after k; each update should leave less of it."
    if np.allclose(later / got, 1 - m, rtol=1e-9):
        return (f"Measured: each batch leaves (1 - momentum) = {1 - m:.3g} of it. That is PyTorch's momentum, the "
                f"weight of the NEW value; the argument momentum is ours, the weight kept on the old one.")
    if np.allclose(later / got, m, rtol=1e-9) and np.allclose(got / right, 1 / m, rtol=1e-9):
        return "Measured: each batch leaves the right fraction, but one batch too few has been counted."
    if np.allclose(later / got, m, rtol=1e-9) and np.allclose(got / right, m, rtol=1e-9):
        return "Measured: each batch leaves the right fraction, but one batch too many has been counted."
    if np.allclose(later / got, m, rtol=1e-9):
        return (f"Measured: each batch leaves the right fraction, but the share is {ratio:.6g} times the right one: "
                f"which value does PyTorch start from?")
    return (f"Measured: {ratio:.6g} times the right share, and each further batch multiplies it by "
            f"{per_batch:.6g}. Which value does PyTorch start from, and what weight does each update leave on it?")


def _scale_words(scale, N, k, m):
    """What the measured factor on our running variance says (Bessel's factor is N/(N-1), as
    batchnorm_forward's docstring states)."""
    scale = np.asarray(scale, dtype=np.float64)
    for value, words in (
            (1.0, "1, taken as it is; PyTorch averages the unbiased batch variance"),
            ((N - 1) / N, "(N-1)/N: Bessel's factor upside down"),
            (N / (N - 1) * (1 - m), "N/(N-1) * (1 - momentum): Bessel's factor, and an extra weight 1 - momentum (the "
                                    "weights of the batches are already in our running variance)"),
            (N / (N - 1) * m, "N/(N-1) * momentum: Bessel's factor, and an extra weight momentum (the weights of the "
                              "batches are already in our running variance)"),
            (N / (N + 1), f"N/(N+1) = {N}/{N + 1}: divided by N + 1, where Bessel's factor divides by N - 1"),
            (N / (N - 2), f"N/(N-2) = {N}/{N - 2}: divided by N - 2, where Bessel's factor divides by N - 1"),
            (k * N / (k * N - 1), f"kN/(kN-1), Bessel's factor for all k*N = {k * N} rows; each batch's variance "
                                  f"is corrected for its own N = {N} rows"),
            ((N / (N - 1)) ** k, f"(N/(N-1))**k, Bessel's factor once per batch, k = {k} times over; our running "
                                 f"variance averages the batches' variances, so one factor corrects the average"),
            (0.0, "0: our running variance is left out")):
        if np.allclose(scale, value, rtol=1e-9, atol=1e-12):
            return f"Measured: it is multiplied by {words}."
    return (f"Measured: it is multiplied by {float(np.mean(scale)):.6g}, which none of the readings the check knows "
            f"explains (Bessel's factor for N or k*N rows or once per batch, upside down, with an extra weight of the "
            f"momentum, 1, 0).")


@reference.for_checks
def check_torch_running_var(torch_running_var=None):
    """Check notebook 8's Exercise 1, torch_stats.torch_running_var: PyTorch's running_var from
    ours, for several histories.

    Inputs:
    - torch_running_var: the implementation under test, (running_var, N, k, momentum) -> (D,)
      (None: the package's)
    """
    exercise = "torch_running_var"
    fn = torch_running_var or package_function("torch_stats", "torch_running_var")
    rng = np.random.default_rng(80)
    # (N, k, momentum or None for a drawn one): a history of no batch at all, where PyTorch still
    # holds its start value, and the ends of momentum's range, where 0 ** 0 is 1
    histories = ((5, 3, None), (40, 12, None), (int(rng.integers(2, 9)), int(rng.integers(1, 5)), None), (6, 0, None),
                 (4, 0, 0.0), (3, 2, 0.0), (5, 3, 1.0))
    for N, k, momentum in histories:
        m, D = float(rng.uniform(0.5, 0.99)) if momentum is None else momentum, 4
        ours = rng.uniform(0.1, 4.0, D)  # our running variance after those k batches
        before, nothing = ours.copy(), np.zeros(D)
        right = reference.value("torch_running_var/value", "torch_running_var", before, N, k, m)
        # what PyTorch holds when the batches added nothing: its start value, decayed
        right_start = reference.value("torch_running_var/value", "torch_running_var", nothing, N, k, m)
        shown = f"torch_running_var(running_var, N={N}, k={k}, momentum={m:.3g})"
        got = call(exercise, "torch_running_var", fn, ours, N, k, m)
        require_unchanged(exercise, "torch_running_var", {"running_var": (ours, before)})
        if isinstance(got, np.ndarray) and np.shares_memory(got, ours):
            raise CheckFailed(f"{shown} returned the array it was given (or a view of it); the result is a new "
                              f"array, which a caller can change without changing its own running_var",
                              exercise, "same array")
        if isinstance(got, np.ndarray) and got.shape == right.shape and not np.all(np.isfinite(got)):
            edge = (" (at momentum 0 a logarithm of the momentum, or a division by it, is undefined, while "
                    "0 ** 0 is 1)" if m == 0 else "")
            raise CheckFailed(f"{shown} holds NaN or inf where PyTorch's running_var is finite{edge}", exercise,
                              "not finite")
        try:
            _close(exercise, f"{shown}, next to what a PyTorch module holds after that history,", got, right, 1e-10)
        except CheckFailed as failed:
            got_start = call(exercise, "torch_running_var", fn, nothing.copy(), N, k, m)
            if failed.topic == "shape" or np.shape(got_start) != right_start.shape:
                raise
            scaled = right - right_start  # what our running variance becomes in PyTorch's
            if matches(got, scaled * right_start, 1e-9) and not matches(got, right, 1e-9):
                raise CheckFailed(f"{shown} is off: it is the part that comes from our running variance multiplied by "
                                  f"what is left of PyTorch's start value, where the two parts add up (PyTorch's "
                                  f"average is linear: the batches' contributions plus the start value's share)",
                                  exercise, "start multiplied")
            if not np.allclose(got_start, right_start, rtol=1e-10, atol=0):
                later = call(exercise, "torch_running_var", fn, nothing.copy(), N, k + 1, m)
                raise CheckFailed(f"{shown} is off, and so is its value for running_var = 0 (batches that "
                                  f"added nothing, so PyTorch holds what is left of its start value): the start "
                                  f"value's share after k batches is wrong. "
                                  f"{_start_share_words(got_start, right_start, later, N, m)}",
                                  exercise, "start") from None
            raise CheckFailed(f"{shown} is off, though its value for running_var = 0 (what is left of PyTorch's "
                              f"start value) is right: the part that scales with our running variance is wrong. "
                              f"{_scale_words((np.asarray(got) - got_start) / ours, N, k, m)}",
                              exercise, "factor") from None
    passed("torch_running_var", f"matches PyTorch's running_var after {len(histories)} training histories")


def _eval_output(module, x):
    """The trained module's own test-mode output on x, as float64 numbers (a PyTorch module
    gets a tensor; a module given as numbers, as the grader gives it, gets the array)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(module, torch.nn.Module):
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()
    return np.asarray(module(x), dtype=np.float64)


@reference.for_checks
def check_load_trained(gamma_e, beta_e, bn_param_e, trained, x_new):
    """Check notebook 8's Exercise 2: with the converted gamma, beta and bn_param, our test mode
    gives the trained module's eval() output on new data.

    Inputs:
    - gamma_e, beta_e: (D,) arrays; bn_param_e: our bn_param dict
    - trained: the trained module, in eval() (anything with momentum and a test-mode call)
    - x_new: (M, D) new data
    """
    exercise = "load_trained"
    if not isinstance(bn_param_e, dict) or bn_param_e.get("mode") != "test":
        raise CheckFailed("bn_param_e must be a dict with mode 'test': a module in eval() converts to mode 'test'",
                          exercise, "mode")
    forward = package_function("batchnorm", "batchnorm_forward")
    out, _ = unpack(exercise, "batchnorm_forward",
                    call(exercise, "batchnorm_forward", forward, x_new, gamma_e, beta_e, dict(bn_param_e)),
                    ("out", "cache"))
    right = _eval_output(trained, x_new)
    # Relative to the largest entry, not entry by entry: an output near zero carries the same
    # absolute round-off as a large one, and a secret x_new can put an entry there.
    err = float(np.max(np.abs(np.asarray(out, dtype=np.float64) - right), initial=0.0)) / max(
        float(np.max(np.abs(right), initial=0.0)), 1e-300)
    if not err < 1e-10:
        raise CheckFailed(f"our test-mode output with gamma_e, beta_e, bn_param_e differs from the trained module's "
                          f"eval() output by {err:.1e} (relative to its largest entry): which of the module's "
                          f"numbers does its eval() use, and as what?", exercise, "output")
    convert = package_function("torch_compat", "convert_momentum")
    if not np.isclose(bn_param_e.get("momentum", np.nan), convert(trained.momentum), rtol=1e-12, atol=0):
        raise CheckFailed("bn_param_e['momentum'] is not the module's momentum in our convention (the weight kept "
                          "on the OLD value): test mode does not use it, further training would", exercise, "momentum")
    passed("load_trained", "our test mode gives the trained module's eval() output, and the momentum is ours")
