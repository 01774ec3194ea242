import dataclasses
import dis
import sys

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs231n_bn import graph
from cs231n_bn.batchnorm import BatchNormCache, batchnorm_backward, batchnorm_forward
from cs231n_bn.gradient_check import rel_error

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

SEED_BACKWARD_ORDER = (
    "dbeta", "dgammax", "dgamma", "dxhat", "divar", "dxmu1", "dsqrtvar",
    "dvar", "dsq", "dxmu2", "dx1", "dmu", "dx2", "dx",
)


def staged_locals(dout, cache):
    """Run batchnorm_backward and return its local variables as they are when it returns."""
    captured = {}

    def profiler(frame, event, arg):
        if event == "return" and frame.f_code is batchnorm_backward.__code__:
            captured.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        batchnorm_backward(dout, cache)
    finally:
        sys.setprofile(previous)
    return captured


def stored_names_in_order(fn):
    """Names of fn's local variables, in the order the bytecode first assigns them."""
    names = []
    for ins in dis.get_instructions(fn):
        if ins.opname == "STORE_FAST" and ins.argval not in names:
            names.append(ins.argval)
    return names


@pytest.fixture
def staged(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return staged_locals(dout, cache)


# --- the graph is a well-formed graph -------------------------------------------------


def test_nodes_and_backward_order_are_the_seeds():
    assert set(graph.NODES) == {
        "x", "mu", "xmu", "sq", "var", "sqrtvar", "ivar", "xhat", "gamma", "gammax", "beta", "out"
    }
    assert graph.BACKWARD_ORDER == SEED_BACKWARD_ORDER


def test_forward_order_is_topological():
    seen = set(graph.INPUTS)
    for name in graph.FORWARD_ORDER:
        assert set(graph.NODES[name].inputs) <= seen, name
        seen.add(name)
    assert seen == set(graph.NODES)


def test_every_edge_has_exactly_one_backward_step():
    edges = [(s.node, s.consumer) for s in graph.STEPS if s.consumer is not None]
    assert sorted(edges) == sorted(graph.EDGES)


def test_each_step_uses_only_gradients_already_complete():
    done = {"dout"}
    for step in graph.STEPS:
        if step.consumer is not None:
            needed = {"dout"} if step.consumer == "out" else set(graph.gradient_parts(step.consumer))
            assert needed <= done, f"{step.grad} needs {needed - done} first"
        else:
            assert set(graph.gradient_parts(step.node)) <= done
        done.add(step.grad)


def test_branch_nodes_are_xmu_and_x():
    branching = {n for n in graph.NODES if n != "out" and len(graph.gradient_parts(n)) > 1}
    assert branching == {"xmu", "x"}
    assert graph.gradient_parts("xmu") == ("dxmu1", "dxmu2")
    assert graph.gradient_parts("x") == ("dx1", "dx2")
    assert graph.gradient_parts("var") == ("dvar",)


def test_the_table_gives_each_step_the_shape_of_its_node():
    per_feature = {"mu", "var", "sqrtvar", "ivar", "gamma", "beta"}
    rows = graph.backward_table().splitlines()[2:]
    for step, row in zip(graph.STEPS, rows):
        assert row.split("|")[-2].strip() == ("(D,)" if step.node in per_feature else "(N, D)"), step.grad


# --- the graph's names are the package's names ------------------------------------------


def test_cache_fields_are_graph_nodes():
    arrays = {f.name for f in dataclasses.fields(BatchNormCache)} - {"mode", "eps"}
    assert arrays <= set(graph.NODES), arrays - set(graph.NODES)


def test_backward_variables_are_the_steps_in_order():
    variables = batchnorm_backward.__code__.co_varnames
    assert set(graph.BACKWARD_ORDER) <= set(variables), set(graph.BACKWARD_ORDER) - set(variables)
    stored = [n for n in stored_names_in_order(batchnorm_backward) if n in graph.BACKWARD_ORDER]
    assert stored == list(graph.BACKWARD_ORDER)


def test_forward_values_equal_the_cache(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    values = graph.forward_values(x, gamma, beta)
    # The package may sum differently (einsum for var), so equal to round-off, not bitwise.
    np.testing.assert_allclose(values["out"], out, rtol=1e-13, atol=1e-13)
    for field in dataclasses.fields(BatchNormCache):
        if field.name in graph.NODES:
            cached = getattr(cache, field.name)
            np.testing.assert_allclose(values[field.name], cached, rtol=1e-13, err_msg=field.name)


# --- numeric gradients of the intermediates -----------------------------------------------


@pytest.mark.parametrize("grad", SEED_BACKWARD_ORDER)
def test_numeric_gradient_of_each_step_matches_the_staged_backward(bn_inputs, staged, grad):
    x, gamma, beta, dout = bn_inputs
    numeric = graph.numeric_gradient(grad, x, gamma, beta, dout)
    analytic = staged[grad]
    assert analytic.shape == numeric.shape
    assert rel_error(analytic, numeric) < 1e-8, f"{grad}: {rel_error(analytic, numeric):.1e}"


@pytest.mark.parametrize("seed, N, D", [(0, 4, 3), (1, 16, 2), (2, 9, 6)])
def test_numeric_gradients_match_on_other_batches(seed, N, D):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=rng.uniform(-5, 5, D), scale=rng.uniform(0.3, 5, D), size=(N, D))
    gamma = rng.uniform(0.5, 2.0, D) * rng.choice([-1, 1], D)
    beta, dout = rng.normal(0, 2, D), rng.normal(size=(N, D))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    values = staged_locals(dout, cache)
    for grad in SEED_BACKWARD_ORDER:
        numeric = graph.numeric_gradient(grad, x, gamma, beta, dout)
        assert rel_error(values[grad], numeric) < 1e-8, grad


def test_branches_meet_at_xmu_and_x(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    for node, parts in (("xmu", ("dxmu1", "dxmu2")), ("x", ("dx1", "dx2"))):
        total = graph.numeric_gradient("d" + node, x, gamma, beta, dout)
        assert rel_error(staged[parts[0]] + staged[parts[1]], total) < 1e-8, node
        # Neither branch alone is the full gradient, so the checks do tell them apart.
        for part in parts:
            assert rel_error(staged[part], total) > 1e-3, part


@settings(max_examples=20, deadline=None)
@given(
    N=st.integers(3, 8),
    D=st.integers(1, 4),
    scale=st.floats(0.1, 10),
    offset=st.floats(-20, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_full_numeric_gradient_is_the_sum_of_the_branch_ones(N, D, scale, offset, seed):
    # The multivariable chain rule, on the graph evaluator itself: nudging a value
    # everywhere changes the loss by the sum of the changes along each of its edges.
    rng = np.random.default_rng(seed)
    x = offset + scale * rng.normal(size=(N, D))
    gamma, beta, dout = rng.normal(1, 0.5, D), rng.normal(0, 1, D), rng.normal(size=(N, D))
    for node in ("xmu", "x"):
        total = graph.numeric_gradient("d" + node, x, gamma, beta, dout)
        branches = sum(graph.numeric_gradient(p, x, gamma, beta, dout) for p in graph.gradient_parts(node))
        size = np.max(np.abs(total)) + np.max(np.abs(branches))
        assert np.max(np.abs(total - branches)) <= 1e-7 * size, node


def test_numeric_gradient_leaves_its_inputs_alone(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    before = [a.copy() for a in (x, gamma, beta, dout)]
    graph.numeric_gradient("dx", x, gamma, beta, dout)
    for a, b in zip((x, gamma, beta, dout), before):
        assert np.array_equal(a, b)


def test_forward_from_the_forward_value_gives_the_forward_output(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    values = graph.forward_values(x, gamma, beta)
    for node in graph.NODES:
        if node == "out":
            continue
        for consumer in (None, *graph.consumers(node)):
            out = graph.forward_from(node, values[node], x, gamma, beta, consumer=consumer)
            assert np.array_equal(out, values["out"]), (node, consumer)


def test_forward_from_one_branch_leaves_the_other_branch_alone(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    values = graph.forward_values(x, gamma, beta)
    # xmu fed only to sq: xhat still uses the forward xmu, only ivar changes, by one factor
    # per feature. Doubling xmu into sq quadruples var.
    out = graph.forward_from("xmu", 2 * values["xmu"], x, gamma, beta, consumer="sq")
    ivar = 1 / np.sqrt(4 * values["var"] + 1e-5)
    np.testing.assert_allclose(out, gamma * values["xmu"] * ivar + beta, rtol=1e-13)


# --- check_gradient: passes the right answer, explains the wrong ones -----------------------


def test_check_gradient_passes_the_staged_values(bn_inputs, staged, capsys):
    x, gamma, beta, dout = bn_inputs
    graph.check_gradient("dxmu1", staged["dxmu1"], x, gamma, beta, dout)
    line = capsys.readouterr().out.strip()
    assert line == "PASS dxmu1: matches the numeric gradient, max relative error < 1e-08"


def test_check_gradient_explains_a_missing_sum_over_the_batch(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    unsummed = staged["xmu"] * staged["dxhat"]
    expected = r"divar has shape \(7, 5\) but ivar has shape \(5,\).*sum over axis 0"
    with pytest.raises(AssertionError, match=expected):
        graph.check_gradient("divar", unsummed, x, gamma, beta, dout)


def test_check_gradient_explains_a_missing_branch(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    with pytest.raises(AssertionError, match=r"It equals dx1 alone: x feeds 2 nodes, and this misses what flows back along dx2\.$"):
        graph.check_gradient("dx", staged["dx1"], x, gamma, beta, dout)


def test_check_gradient_explains_a_total_given_for_a_branch(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    total = staged["dxmu1"] + staged["dxmu2"]
    with pytest.raises(AssertionError, match=r"full gradient of xmu; dxmu2 is only the branch through sq"):
        graph.check_gradient("dxmu2", total, x, gamma, beta, dout)


def test_check_gradient_explains_a_flipped_sign(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    with pytest.raises(AssertionError, match="-1 times the right one: a sign error"):
        graph.check_gradient("dsqrtvar", -staged["dsqrtvar"], x, gamma, beta, dout)


@pytest.mark.parametrize("grad, factor, words", [
    ("dvar", 2.0, "a factor 1/2 is missing"),
    ("dxmu2", 0.5, "a factor 2 is missing"),
    ("dsq", 7.0, "a factor 1/n is missing"),
])
def test_check_gradient_names_a_constant_factor(bn_inputs, staged, grad, factor, words):
    x, gamma, beta, dout = bn_inputs
    with pytest.raises(AssertionError, match=words):
        graph.check_gradient(grad, factor * staged[grad], x, gamma, beta, dout)


def test_check_gradient_points_to_local_times_upstream(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    expected = r"local gradient dsqrtvar/dvar times the upstream gradient dsqrtvar"
    with pytest.raises(AssertionError, match=expected):
        graph.check_gradient("dvar", staged["dvar"] * np.sqrt(staged["var"]), x, gamma, beta, dout)


def test_describe_check_says_what_is_held_fixed():
    assert graph.describe_check("dxmu1") == (
        "dxmu1: nudge xmu only where xhat reads it; sq still reads the forward xmu; "
        "x, mu held at forward values"
    )
    assert graph.describe_check("dxmu") == "dxmu: nudge xmu everywhere; x, mu held at forward values"
    assert graph.describe_check("dx2").startswith("dx2: nudge x only where mu reads it; xmu still reads")
    assert graph.describe_check("dvar").startswith("dvar: nudge var (read only by sqrtvar)")


# --- bad input ----------------------------------------------------------------------------


def test_bad_names_are_refused(bn_inputs):
    x, gamma, beta, dout = bn_inputs
    with pytest.raises(ValueError, match=r"numeric_gradient: grad must be one of .*got 'dfoo'"):
        graph.numeric_gradient("dfoo", x, gamma, beta, dout)
    with pytest.raises(ValueError, match=r"forward_from: node must be one of .*got 'out'"):
        graph.forward_from("out", x, x, gamma, beta)
    expected = r"forward_from: consumer must be None or a node that reads 'xmu' \(sq, xhat\); got 'var'"
    with pytest.raises(ValueError, match=expected):
        graph.forward_from("xmu", x, x, gamma, beta, consumer="var")
    with pytest.raises(ValueError, match="gradient_parts: name must be a node"):
        graph.gradient_parts("out")


def test_bad_shapes_are_refused(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    expected = r"forward_from: value must be an array shaped like mu, \(5,\); got \(7, 5\)"
    with pytest.raises(ValueError, match=expected):
        graph.forward_from("mu", x, x, gamma, beta)
    with pytest.raises(ValueError, match=r"forward_values: gamma must have shape \(5,\)"):
        graph.forward_values(x, gamma[:3], beta)
    with pytest.raises(TypeError, match="forward_values: x must have a floating-point dtype"):
        graph.forward_values(np.ones((3, 5), dtype=np.int64), gamma, beta)
    with pytest.raises(ValueError, match=r"numeric_gradient: dout must have shape \(7, 5\)"):
        graph.numeric_gradient("dx", x, gamma, beta, np.ones((5, 7)))


# --- the drawing ---------------------------------------------------------------------------


def test_drawing_shows_every_node_in_blue_and_every_gradient_in_red():
    fig, ax = plt.subplots()
    try:
        assert graph.draw_batchnorm_graph(ax) is ax
        texts = {(t.get_text(), t.get_color()) for t in ax.texts}
        arrows = [a for a in ax.texts if isinstance(a, matplotlib.text.Annotation)]
    finally:
        plt.close(fig)
    blue, red = matplotlib.colors.to_hex(graph.BLUE), matplotlib.colors.to_hex(graph.RED)
    by_colour = {}
    for text, colour in texts:
        by_colour.setdefault(matplotlib.colors.to_hex(colour), set()).add(text)
    assert set(graph.NODES) <= by_colour[blue]
    red_texts = " ".join(by_colour[red])
    for grad in graph.BACKWARD_ORDER + ("dxmu", "dmu", "dout"):
        assert grad in red_texts, grad
    # Where branches meet the node's label is its gradient's name alone: joining them is an exercise.
    assert {"dxmu", "dx"} <= by_colour[red] and not [t for t in by_colour[red] if "+" in t or "=" in t]
    # One forward and one backward arrow per edge.
    assert len(arrows) == 2 * len(graph.EDGES)


def test_drawing_makes_its_own_figure_without_an_axes():
    ax = graph.draw_batchnorm_graph()
    try:
        assert ax.get_title() == "Batch normalization as a computational graph"
        # at most 8.5 in wide: a 900 px notebook column shows it at full size (100 dpi)
        assert tuple(ax.figure.get_size_inches()) == (8.5, 4.2)
        sizes = [t.get_fontsize() for t in ax.texts] + [ax.title.get_fontsize()]
        assert min(sizes) >= 9
    finally:
        plt.close(ax.figure)


# --- the one-page summary -----------------------------------------------------------------


def test_backward_table_has_one_row_per_step_with_its_upstream_and_no_formula():
    table = graph.backward_table()
    rows = table.splitlines()[2:]
    assert [r.split("|")[2].strip(" `") for r in rows] == list(SEED_BACKWARD_ORDER)
    by_grad = {r.split("|")[2].strip(" `"): r for r in rows}
    assert "`dxmu`" in by_grad["dx1"] and "`dxmu`" in by_grad["dmu"] and "`dout`" in by_grad["dbeta"]
    assert "`dx1`, `dx2` meet" in by_grad["dx"]
    # The table is shipped to students: no local gradient, no sum of branches, no formula.
    assert "$" not in table and "+" not in table and "sum" not in table


def test_check_gradient_explains_a_gradient_not_spread_over_the_rows(bn_inputs, staged):
    x, gamma, beta, dout = bn_inputs
    per_feature = staged["dvar"] / 7
    with pytest.raises(AssertionError, match=r"dsq has shape \(5,\) but sq has shape \(7, 5\).*spread back"):
        graph.check_gradient("dsq", per_feature, x, gamma, beta, dout)


def test_the_graph_refuses_complex_values_that_would_make_it_an_exact_differentiator(bn_inputs):
    x, gamma, beta, _ = bn_inputs
    value = graph.forward_values(x, gamma, beta)["xhat"] + 1e-20j
    with pytest.raises(TypeError, match=r"forward_from: value must have a floating-point dtype .*got complex128"):
        graph.forward_from("xhat", value, x, gamma, beta)
    with pytest.raises(TypeError, match="the forward graph evaluates real inputs only"):
        graph._evaluate(x, gamma, beta, graph.DEFAULT_EPS, "xhat", value)
