"""The computational graph of batch normalization, as data, with a drawing and numeric checks.

Notebook 2 derives the staged backward pass one node at a time. This module holds the
graph that derivation walks, under the same names `batchnorm_forward` (its cache) and
`batchnorm_backward` (its local variables) use:

- NODES: every value of the forward pass, the operation that makes it, and its inputs;
- STEPS: every step of the backward pass, in order, each the gradient flowing back along
  one edge of the graph (plus the two steps where branches join: dx, and dxmu in notebook 2);
  which edge, not the formula: deriving each step's local gradient is the student's work;
- draw_batchnorm_graph: the graph drawn with forward names in blue, gradients in red;
- forward_from / numeric_gradient / check_gradient: recompute `out` from any intermediate
  value, so that a centered difference gives that intermediate's gradient, and compare it
  with one derived by hand.

Two values feed two consumers each: xmu (into sq and into xhat) and x (into mu and into
xmu). Their gradients arrive along two branches, named dxmu1, dxmu2 and dx1, dx2. A numeric
check of one branch nudges the value only where it enters that consumer; a numeric check
of the total nudges it everywhere. Everything not downstream of the nudged value keeps its
forward value in both cases.
"""

from dataclasses import dataclass

import numpy as np

from cs231n_bn import validation
from cs231n_bn.batchnorm import DEFAULT_EPS
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error

BLUE = "tab:blue"
RED = "tab:red"


@dataclass(frozen=True)
class Node:
    """One value of the forward pass.

    - name: the variable's name in batchnorm_forward (and in BatchNormCache, where kept)
    - op: the operation, a key of OP_SYMBOLS ("input" for x, gamma and beta)
    - inputs: names of the nodes the operation reads, in argument order
    - latex: the defining equation, for the notebook
    """

    name: str
    op: str
    inputs: tuple
    latex: str

    @property
    def grad(self):
        """Name of the gradient of the loss with respect to this node."""
        return "d" + self.name


@dataclass(frozen=True)
class Step:
    """One step of the staged backward pass: a variable of batchnorm_backward.

    - grad: the variable's name, e.g. "dxmu1"
    - node: the node whose gradient it is (all of it, or one branch of it)
    - consumer: the node it flows back from (the edge node -> consumer), or None for the
      step that joins the branches of `node`
    """

    grad: str
    node: str
    consumer: "str | None"


# The label each operation gets in the drawing.
OP_SYMBOLS = {
    "input": "input",
    "mean": "mean",
    "sub": "a − b",
    "square": "(·)²",
    "sqrt_eps": "√(· + ε)",
    "reciprocal": "1 / ·",
    "mul": "a × b",
    "add": "a + b",
}


def _apply(op, args, eps):
    """Compute one operation of the graph on the values of its inputs."""
    if op == "mean":
        return args[0].mean(axis=0)
    if op == "sub":
        return args[0] - args[1]
    if op == "square":
        return args[0] ** 2
    if op == "sqrt_eps":
        return np.sqrt(args[0] + eps)
    if op == "reciprocal":
        return 1.0 / args[0]
    if op == "mul":
        return args[0] * args[1]
    if op == "add":
        return args[0] + args[1]
    raise KeyError(f"unknown operation {op!r}")


_NODE_LIST = (
    Node("x", "input", (), r"x \in \mathbb{R}^{N \times D}"),
    Node("gamma", "input", (), r"\gamma \in \mathbb{R}^{D}"),
    Node("beta", "input", (), r"\beta \in \mathbb{R}^{D}"),
    Node("mu", "mean", ("x",), r"\mu = \frac{1}{N}\sum_{i=1}^{N} x_i"),
    Node("xmu", "sub", ("x", "mu"), r"\mathrm{xmu} = x - \mu"),
    Node("sq", "square", ("xmu",), r"\mathrm{sq} = \mathrm{xmu}^2"),
    Node("var", "mean", ("sq",), r"\sigma^2 = \frac{1}{N}\sum_{i=1}^{N} \mathrm{sq}_i"),
    Node("sqrtvar", "sqrt_eps", ("var",), r"\mathrm{sqrtvar} = \sqrt{\sigma^2 + \epsilon}"),
    Node("ivar", "reciprocal", ("sqrtvar",), r"\mathrm{ivar} = 1 / \mathrm{sqrtvar}"),
    Node("xhat", "mul", ("xmu", "ivar"), r"\hat{x} = \mathrm{xmu} \cdot \mathrm{ivar}"),
    Node("gammax", "mul", ("gamma", "xhat"), r"\mathrm{gammax} = \gamma \hat{x}"),
    Node("out", "add", ("gammax", "beta"), r"\mathrm{out} = \mathrm{gammax} + \beta"),
)
NODES = {n.name: n for n in _NODE_LIST}
INPUTS = ("x", "gamma", "beta")
# Topological order of the computed nodes: every node after all of its inputs.
FORWARD_ORDER = tuple(n.name for n in _NODE_LIST if n.op != "input")
EDGES = tuple((i, n.name) for n in _NODE_LIST for i in n.inputs)

# Which edge each step runs along, never its local gradient: the notebook's exercises ask
# for those, and this module ships in the student edition.
STEPS = (
    Step("dbeta", "beta", "out"),
    Step("dgammax", "gammax", "out"),
    Step("dgamma", "gamma", "gammax"),
    Step("dxhat", "xhat", "gammax"),
    Step("divar", "ivar", "xhat"),
    Step("dxmu1", "xmu", "xhat"),
    Step("dsqrtvar", "sqrtvar", "ivar"),
    Step("dvar", "var", "sqrtvar"),
    Step("dsq", "sq", "var"),
    Step("dxmu2", "xmu", "sq"),
    Step("dx1", "x", "xmu"),
    Step("dmu", "mu", "xmu"),
    Step("dx2", "x", "mu"),
    Step("dx", "x", None),
)
BACKWARD_ORDER = tuple(s.grad for s in STEPS)
_STEP_BY_GRAD = {s.grad: s for s in STEPS}


def consumers(name):
    """Names of the nodes that read node `name`, in forward order."""
    return tuple(c for (i, c) in EDGES if i == name)


def gradient_parts(name):
    """The step names of the gradient of node `name`, one per edge leaving it.

    One name for a node with one consumer (dvar is the whole of dvar); one per branch for
    a node that feeds two (xmu -> ("dxmu1", "dxmu2"), x -> ("dx1", "dx2")).
    """
    if name not in NODES or name == "out":
        raise ValueError(f"gradient_parts: name must be a node other than 'out'; got {name!r}")
    return tuple(s.grad for s in STEPS if s.node == name and s.consumer is not None)


def upstream_text(step):
    """The name of a step's upstream gradient: the gradient of the node its edge leads to
    ("dout" for out, "dxmu" for xmu, whose two branches notebook 2 joins under that name)."""
    if step.consumer is None:
        return None
    return "d" + step.consumer


def _shape_text(name):
    """"(D,)" for a per-feature node, "(N, D)" for a per-sample one."""
    n = NODES[name]
    per_feature = name in ("gamma", "beta") or n.op == "mean" or (
        n.op != "input" and all(_shape_text(i) == "(D,)" for i in n.inputs))
    return "(D,)" if per_feature else "(N, D)"


def backward_table():
    """The staged backward pass on one page: a Markdown table with one row per step, in order.

    Each row says which gradient the step computes, along which edge it flows back, what it
    flows back from and what shape it has: the plan of batchnorm_backward. The formulas are
    left out; they are what notebook 2 asks the student to derive.
    """
    rows = [
        "| # | step | gradient of | flows back along | from the upstream gradient | shape |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k, s in enumerate(STEPS, 1):
        shape = _shape_text(s.node)
        if s.consumer is None:
            parts = ", ".join(f"`{p}`" for p in gradient_parts(s.node))
            rows.append(f"| {k} | `{s.grad}` | `{s.node}` | its branches {parts} meet | — | {shape} |")
        else:
            rows.append(
                f"| {k} | `{s.grad}` | `{s.node}` | `{s.node}` → `{s.consumer}` | `{upstream_text(s)}` "
                f"| {shape} |"
            )
    return "\n".join(rows)


def _resolve(where, grad):
    """Map a gradient name to (node, consumer): consumer None means the full gradient."""
    if grad in _STEP_BY_GRAD and _STEP_BY_GRAD[grad].consumer is not None:
        step = _STEP_BY_GRAD[grad]
        if len(consumers(step.node)) > 1:
            return step.node, step.consumer
        return step.node, None
    name = grad[1:] if grad.startswith("d") else None
    if name in NODES and name != "out":
        return name, None
    known = ", ".join(sorted(set(BACKWARD_ORDER) | {NODES[n].grad for n in NODES if n != "out"}))
    raise ValueError(f"{where}: grad must be one of {known}; got {grad!r}")


def _check_inputs(where, x, gamma, beta, dout=None):
    validation.float_array(where, "x", x, ndim=2)
    D = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p, ndim=1)
        validation.same_shape(where, name, p, (D,), "one value per feature of x")
    if dout is not None:
        validation.float_array(where, "dout", dout)
        validation.same_shape(where, "dout", dout, x.shape, "the shape of x and of out")


def forward_values(x, gamma, beta, eps=DEFAULT_EPS):
    """Every value of the graph for a train-mode forward pass.

    Inputs:
    - x: (N, D) data
    - gamma, beta: (D,) scale and shift
    - eps: constant added to the variance

    Returns:
    - values: dict from node name (see NODES) to its array; x, gamma and beta are copies
    """
    _check_inputs("forward_values", x, gamma, beta)
    return _evaluate(x, gamma, beta, eps)


def _evaluate(x, gamma, beta, eps, node=None, value=None, consumer=None):
    # Real inputs only, even here: a complex nudge of a node would turn the graph into an
    # exact differentiator (the complex step), which would answer notebook 2's exercises.
    if any(np.iscomplexobj(a) for a in (x, gamma, beta, value, eps)):
        raise TypeError("graph: the forward graph evaluates real inputs only (float32 or float64); got a complex one")
    values = {name: a.copy() for name, a in zip(INPUTS, (x, gamma, beta))}
    for name in FORWARD_ORDER:
        n = NODES[name]
        args = []
        for i in n.inputs:
            nudged = i == node and (consumer is None or consumer == name)
            args.append(value if nudged else values[i])
        values[name] = _apply(n.op, args, eps)
    return values


def forward_from(node, value, x, gamma, beta, eps=DEFAULT_EPS, consumer=None):
    """Recompute out with node `node` replaced by `value`.

    Nodes that are not downstream of `node` keep their forward values (they are computed
    from x, gamma and beta as usual); everything downstream is recomputed from `value`.

    Inputs:
    - node: name of the node to replace (any node but "out")
    - value: its new value, shaped like the node's forward value
    - x: (N, D) data; gamma, beta: (D,); eps: as in batchnorm_forward
    - consumer: None to feed `value` to every consumer of `node` (the full gradient), or
      the name of one consumer, which alone sees `value` while the others keep the forward
      value (the gradient along that one branch)

    Returns:
    - out: (N, D) output of the layer
    """
    where = "forward_from"
    _check_inputs(where, x, gamma, beta)
    if node not in NODES or node == "out":
        options = ", ".join(n for n in NODES if n != "out")
        raise ValueError(f"{where}: node must be one of {options}; got {node!r}")
    if consumer is not None and consumer not in consumers(node):
        raise ValueError(
            f"{where}: consumer must be None or a node that reads {node!r} "
            f"({', '.join(consumers(node))}); got {consumer!r}"
        )
    expected = _evaluate(x, gamma, beta, eps)[node].shape
    validation.float_array(where, "value", value)
    if value.shape != expected:
        got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(
            f"{where}: value must be an array shaped like {node}, {expected}; got {got}"
        )
    return _evaluate(x, gamma, beta, eps, node, value, consumer)["out"]


# How a node's entries scale with the spread sqrtvar of their feature: out is linear in
# xhat, gamma, gammax and beta, so their size does not matter (power 0).
_SIZE_POWER = {
    "x": 1, "mu": 1, "xmu": 1, "sq": 2, "var": 2, "sqrtvar": 1, "ivar": -1,
    "xhat": 0, "gamma": 0, "gammax": 0, "beta": 0,
}


def numeric_gradient(grad, x, gamma, beta, dout, eps=DEFAULT_EPS, h=1e-3):
    """Numeric estimate of one gradient of the loss sum(out * dout).

    Centered differences at steps h and 3h, combined by Richardson extrapolation into one
    estimate whose h^2 error terms cancel (notebook 4's first exercise derives such a
    combination, for steps h and 2h). With the h^2 term gone a larger h is affordable, and the round-off error (about
    machine epsilon / h) shrinks with it. The deep nodes of the graph (sq, var, sqrtvar)
    need this: their gradients are small next to `out`, and a plain centered difference
    at h = 1e-5 leaves them only about 1e-8 relative accuracy. The step is h in units of
    the node's natural size in each feature (the feature's std for x, mu, xmu; its
    variance for sq and var; ...), so a small variance is never nudged through zero.

    Inputs:
    - grad: a step name from BACKWARD_ORDER ("dxmu1" is one branch: xmu nudged only where it
      enters xhat), or d<node> for a node's full gradient ("dxmu": xmu nudged everywhere)
    - x: (N, D) data; gamma, beta: (D,); eps: as in batchnorm_forward
    - dout: (N, D) upstream gradient dL/dout
    - h: the smaller of the two steps, in units of the node's natural size

    Returns:
    - numeric: array shaped like the node
    """
    node, consumer = _resolve("numeric_gradient", grad)
    _check_inputs("numeric_gradient", x, gamma, beta, dout)
    forward = _evaluate(x, gamma, beta, eps)
    start = forward[node].copy()

    # Nudge each entry in units of the size its feature gives it (std for x, std^2 for var,
    # ...): a fixed h would push a variance of 1e-3 next to one of 25 through zero.
    scale = forward["sqrtvar"] ** _SIZE_POWER[node] * np.ones_like(start)

    def out_from(u):
        return _evaluate(x, gamma, beta, eps, node, start + scale * u, consumer)["out"]

    zero = np.zeros_like(start)
    small = eval_numerical_gradient_array(out_from, zero, dout, h=h)
    large = eval_numerical_gradient_array(out_from, zero.copy(), dout, h=3 * h)
    return (9 * small - large) / 8 / scale


def describe_check(grad):
    """One sentence saying what the numeric check of `grad` nudges and what it holds fixed."""
    node, consumer = _resolve("describe_check", grad)
    upstream = sorted(_ancestors(node), key=list(NODES).index)
    held = f"; {', '.join(upstream)} held at forward values" if upstream else ""
    if consumer is None:
        where = "everywhere" if len(consumers(node)) > 1 else f"(read only by {consumers(node)[0]})"
        return f"{grad}: nudge {node} {where}{held}"
    others = [c for c in consumers(node) if c != consumer]
    return (
        f"{grad}: nudge {node} only where {consumer} reads it; "
        f"{', '.join(others)} still reads the forward {node}{held}"
    )


def _ancestors(name):
    found = set()
    for i in NODES[name].inputs:
        found |= {i} | _ancestors(i)
    return found


def check_gradient(grad, value, x, gamma, beta, dout, eps=DEFAULT_EPS, tol=1e-8):
    """Assert that a gradient derived by hand matches its numeric estimate; print one line.

    Inputs:
    - grad: the gradient's name, as for numeric_gradient
    - value: the gradient derived by hand
    - x, gamma, beta, dout, eps: the data it was derived for
    - tol: largest relative error that passes

    Raises AssertionError naming what is wrong (shape, sign, a branch missing or extra).
    """
    node, consumer = _resolve("check_gradient", grad)
    numeric = numeric_gradient(grad, x, gamma, beta, dout, eps)
    if not isinstance(value, np.ndarray):
        raise AssertionError(
            f"{grad} must be a numpy array shaped like {node}, {numeric.shape}; "
            f"got {type(value).__name__}"
        )
    if value.shape != numeric.shape:
        raise AssertionError(
            f"{grad} has shape {value.shape} but {node} has shape {numeric.shape}. "
            + _shape_hint(node, value.shape, numeric.shape)
        )
    err = rel_error(value, numeric)
    if err < tol:
        # The bound, not the error itself: its digits are round-off that varies between CPUs.
        print(f"PASS {grad}: matches the numeric gradient, max relative error < {tol:.0e}")
        return
    hint = _value_hint(grad, node, consumer, value, numeric, x, gamma, beta, dout, eps, tol)
    raise AssertionError(
        f"{grad}: max relative error {err:.1e} >= {tol:.0e} against the numeric gradient. {hint}"
    )


def _shape_hint(node, got, expected):
    if len(expected) == 1 and len(got) == 2:
        return (
            f"{node} has one value per feature and was broadcast over the N rows of the batch, "
            f"so its gradient adds up the rows' contributions: sum over axis 0."
        )
    if len(expected) == 2 and len(got) == 1:
        return (
            f"{node} has one value per sample and feature, so its gradient is (N, D): either a "
            f"sum over the batch crept in, or a per-feature gradient was not spread back over "
            f"the N rows."
        )
    return "A gradient always has the shape of the value it is the gradient of."


def _value_hint(grad, node, consumer, value, numeric, x, gamma, beta, dout, eps, tol):
    from cs231n_bn.checks.core import factor_text

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = value / numeric
    if np.all(np.isfinite(ratio)) and np.allclose(ratio, ratio.flat[0], rtol=1e-6):
        words = factor_text(float(ratio.flat[0]), x.shape[0])
        if words:
            return f"It is {words}."
    parts = gradient_parts(node)
    if consumer is not None:
        total = numeric_gradient("d" + node, x, gamma, beta, dout, eps)
        if rel_error(value, total) < tol:
            return (
                f"It equals the full gradient of {node}; {grad} is only the branch through "
                f"{consumer} (the other branch has a step of its own)."
            )
    elif len(parts) > 1:
        for part in parts:
            if rel_error(value, numeric_gradient(part, x, gamma, beta, dout, eps)) < tol:
                missed = [p for p in parts if p != part]
                return (
                    f"It equals {part} alone: {node} feeds {len(parts)} nodes, and this "
                    f"misses what flows back along {', '.join(missed)}."
                )
    step = _STEP_BY_GRAD.get(grad)
    if step is not None and step.consumer is not None:
        return (
            f"Recompute it as local gradient d{step.consumer}/d{node} times the upstream "
            f"gradient {upstream_text(step)}, and give it the shape of {node}."
        )
    return f"It is the gradient of {node} along all of its branches: {', '.join(parts)}."


# Where each node sits in the drawing: the main line x -> xmu -> xhat -> gammax -> out
# runs along y = 0, the variance branch above it, the mean below. The gradient's label
# goes on the side of the box that no arrow leaves from.
LAYOUT = {
    "x": (0.0, 0.0, "above"),
    "mu": (1.5, -1.9, "below"),
    "xmu": (3.0, 0.0, "below right"),
    "sq": (4.4, 1.9, "above"),
    "var": (6.0, 1.9, "above"),
    "sqrtvar": (7.6, 1.9, "above"),
    "ivar": (9.2, 1.9, "above"),
    "xhat": (10.2, 0.0, "below"),
    "gamma": (11.8, 1.9, "above"),
    "gammax": (11.8, 0.0, "below"),
    "beta": (13.4, 1.9, "above"),
    "out": (13.4, 0.0, "below"),
}
BOX_WIDTH, BOX_HEIGHT = 1.28, 0.72


def _node_label(name):
    # Only the name: where branches meet, how they join is an exercise of notebook 2.
    return "d" + name


def _edge_ends(parent, child, gap=0.06):
    """Start and end of an arrow from box `parent` to box `child`, clipped to the boxes."""
    (x0, y0, _), (x1, y1, _) = LAYOUT[parent], LAYOUT[child]
    dx, dy = x1 - x0, y1 - y0
    # Fraction of the centre-to-centre line that lies inside one box, plus a small gap.
    inside = min(
        BOX_WIDTH / 2 / abs(dx) if dx else np.inf,
        BOX_HEIGHT / 2 / abs(dy) if dy else np.inf,
    ) + gap / np.hypot(dx, dy)
    return (x0 + inside * dx, y0 + inside * dy), (x1 - inside * dx, y1 - inside * dy)


def draw_batchnorm_graph(ax=None):
    """Draw the batch-norm graph: forward values in blue, their gradients in red.

    Each box shows a node's name (blue) and its operation (grey); its gradient's name is
    written next to it in red. Blue arrows carry values forward; red dashed arrows carry
    gradients back along the same edges. Where a value feeds two nodes (xmu and x) the
    two red arrows are labelled with their branch gradients.

    Inputs:
    - ax: matplotlib Axes to draw into; None makes a new 8.5 x 4.4 inch figure (it fits a
      900 px notebook column at 100 dpi, every label at 9 pt or more)

    Returns:
    - ax: the Axes drawn into
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 4.2))
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.93)
    for parent, child in EDGES:
        (x0, y0), (x1, y1) = _edge_ends(parent, child)
        # Shift the two directions of an edge apart, perpendicular to it.
        length = np.hypot(x1 - x0, y1 - y0)
        ox, oy = -0.1 * (y1 - y0) / length, 0.1 * (x1 - x0) / length
        forward = dict(arrowstyle="-|>", color=BLUE, lw=1.5, shrinkA=0, shrinkB=0)
        backward = dict(arrowstyle="-|>", color=RED, lw=1.2, ls="--", shrinkA=0, shrinkB=0)
        ax.annotate("", xy=(x1 + ox, y1 + oy), xytext=(x0 + ox, y0 + oy), arrowprops=forward)
        ax.annotate("", xy=(x0 - ox, y0 - oy), xytext=(x1 - ox, y1 - oy), arrowprops=backward)
        if len(consumers(parent)) > 1:
            step = next(s for s in STEPS if s.node == parent and s.consumer == child)
            ax.text(
                (x0 + x1) / 2 - 3 * ox, (y0 + y1) / 2 - 3 * oy, step.grad,
                color=RED, ha="center", va="center", fontsize=9.5, fontweight="bold",
            )
    for name, (px, py, side) in LAYOUT.items():
        ax.add_patch(FancyBboxPatch(
            (px - BOX_WIDTH / 2, py - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
            boxstyle="round,pad=0,rounding_size=0.12", fc="white", ec=BLUE, lw=1.5,
        ))
        ax.text(px, py + 0.13, name, color=BLUE, ha="center", va="center",
                fontsize=9.5, fontweight="bold")
        ax.text(px, py - 0.2, OP_SYMBOLS[NODES[name].op], color="0.4", ha="center", va="center",
                fontsize=9)
        below = py - BOX_HEIGHT / 2 - 0.08
        tx, ty, ha, va = {
            "above": (px, py + BOX_HEIGHT / 2 + 0.08, "center", "bottom"),
            "below": (px, below, "center", "top"),
            "below right": (px + BOX_WIDTH / 2, below, "left", "top"),
        }[side]
        ax.text(tx, ty, _node_label(name), color=RED, ha=ha, va=va, fontsize=9.5)
    ax.legend(
        handles=[
            Line2D([], [], color=BLUE, lw=1.5, label="forward: value"),
            Line2D([], [], color=RED, lw=1.2, ls="--",
                   label="backward: gradient = local gradient × upstream gradient"),
        ],
        loc="lower right", fontsize=9, frameon=False,
    )
    ax.set_xlim(-0.8, 14.2)
    ax.set_ylim(-2.9, 2.9)
    ax.set_axis_off()
    ax.set_title("Batch normalization as a computational graph", fontsize=11)
    return ax
