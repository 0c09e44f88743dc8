"""explain_backward: the chain-rule steps, checked against hand computation and finite differences."""

from __future__ import annotations

import contextlib
import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from microgrid import Value, explain_backward
from microgrid.drawing.explain import BackwardExplanation, display_names
from microgrid.engine import OPS, topological_order


def rows(explanation):
    return [(s.node, s.result, s.local, s.upstream, s.contribution, s.accumulated) for s in explanation]


def test_hand_computed_steps_with_a_reused_node():
    # L = a*b + a at a = 2, b = -3.  By hand, in backward's order (L first, then a*b):
    #   L = a*b + a:  d L/d a*b = 1, d L/d a = 1             (a's first contribution: 1)
    #   a*b = a * b:  d a*b/d a = b = -3, d a*b/d b = a = 2  (a's second: 1 * -3; total -2)
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b + a
    L.label = "L"
    explanation = explain_backward(L)
    assert rows(explanation) == [
        ("a*b", "L", 1.0, 1.0, 1.0, 1.0),
        ("a", "L", 1.0, 1.0, 1.0, 1.0),
        ("a", "a*b", -3.0, 1.0, -3.0, -2.0),
        ("b", "a*b", 2.0, 1.0, 2.0, 2.0),
    ]
    assert [s.step for s in explanation] == [1, 2, 3, 4]
    assert [s.operation for s in explanation] == ["L = (a*b) + a", "L = (a*b) + a", "a*b = a * b", "a*b = a * b"]
    assert [s.local_rule for s in explanation] == ["1", "1", "b", "a"]
    assert explanation.gradients == {"a": -2.0, "b": 2.0, "a*b": 1.0, "L": 1.0}


def test_unary_chain_against_hand_derivatives():
    # y = tanh(x)^2 at x = 0.3: dy/dt = 2t, dt/dx = 1 - t^2 with t = tanh(0.3).
    x = Value(0.3, label="x")
    t = x.tanh()
    t.label = "t"
    y = t**2
    y.label = "y"
    steps = explain_backward(y)
    th = math.tanh(0.3)
    assert [s.node for s in steps] == ["t", "x"]
    assert steps[0].local == pytest.approx(2 * th)
    assert steps[0].local_rule == "2*t"
    assert steps[1].local == pytest.approx(1 - th**2)
    assert steps[1].local_rule == "1-t^2"
    assert steps[1].upstream == pytest.approx(2 * th)
    assert steps[1].accumulated == pytest.approx(2 * th * (1 - th**2))
    assert [s.operation for s in steps] == ["y = t ** 2", "t = tanh(x)"]


# Each operation alone, on leaves named a, b and a result named out, so that the
# displayed rule can be evaluated as Python; the reference is sympy's derivative.
a_, b_ = sp.symbols("a b")
OPERATIONS = [
    # (build from Values a, b; the same in sympy; point (a, b))
    (lambda a, b: a + b, a_ + b_, (0.7, 1.3)),
    (lambda a, b: a - b, a_ - b_, (0.7, 1.3)),
    (lambda a, b: a * b, a_ * b_, (0.7, 1.3)),
    (lambda a, b: a / b, a_ / b_, (0.7, 1.3)),
    (lambda a, b: -a, -a_, (0.7, 1.3)),
    (lambda a, b: a**b, a_**b_, (0.7, 1.3)),
    (lambda a, b: a**b, a_**b_, (0.0, 2.0)),  # a**b = 0: d/db is the engine's 0, not 0*log(0)
    (lambda a, b: a**3, a_**3, (0.7, 1.3)),
    (lambda a, b: a**2, a_**2, (-1.5, 1.3)),
    (lambda a, b: a**-1, a_**-1, (0.7, 1.3)),
    (lambda a, b: a**0.5, a_**0.5, (0.7, 1.3)),
    (lambda a, b: a**1, a_, (0.7, 1.3)),
    (lambda a, b: a**0, sp.Integer(1), (0.0, 1.3)),  # x**0 is the constant 1, even at 0
    (lambda a, b: a.exp(), sp.exp(a_), (0.7, 1.3)),
    (lambda a, b: b.log(), sp.log(b_), (0.7, 1.3)),
    (lambda a, b: a.tanh(), sp.tanh(a_), (0.7, 1.3)),
    (lambda a, b: a.sigmoid(), 1 / (1 + sp.exp(-a_)), (0.7, 1.3)),
    (lambda a, b: a.relu(), sp.Max(0, a_), (0.7, 1.3)),
    (lambda a, b: a.relu(), sp.Max(0, a_), (-0.7, 1.3)),
    (lambda a, b: a.sin(), sp.sin(a_), (0.7, 1.3)),
    (lambda a, b: b.cos(), sp.cos(b_), (0.7, 1.3)),
    (lambda a, b: OPS["step"](a), sp.Heaviside(a_, 0), (0.7, 1.3)),  # relu's derivative, an op of its own
    (lambda a, b: OPS["xlogy"](a, b), a_ * sp.log(b_), (0.7, 1.3)),  # d(a**b)/db, an op of its own
]


def evaluate_rule(rule: str, values: dict[str, float]) -> float:
    """The displayed rule's number, computed from its text (``^`` is a power), not by the engine."""
    step = lambda x: 1.0 if x > 0 else 0.0  # noqa: E731
    xlogy = lambda x, y: 0.0 if x == 0 else x * math.log(y)  # noqa: E731
    namespace = {"log": math.log, "cos": math.cos, "sin": math.sin, "step": step, "xlogy": xlogy, **values}
    return float(eval(rule.replace("^", "**"), {"__builtins__": {}}, namespace))


@pytest.mark.parametrize("build, reference, point", OPERATIONS, ids=[f"{r} at {p}" for _, r, p in OPERATIONS])
def test_each_displayed_rule_gives_the_engines_number_and_sympys(build, reference, point):
    a, b = Value(point[0], label="a"), Value(point[1], label="b")
    out = build(a, b)
    out.label = "out"
    values = {"a": a.data, "b": b.data, "out": out.data}
    for step in explain_backward(out):
        derivative = sp.diff(reference, {"a": a_, "b": b_}[step.node]).subs(b_, point[1])
        expected = derivative.subs(a_, point[0])
        if not expected.is_finite:  # sympy's form is 0/0 there (b*a**b/a at a = 0): its limit
            expected = sp.limit(derivative, a_, point[0])
        expected = float(expected)
        assert step.local == pytest.approx(expected, rel=1e-12), (out.op, step.node)
        if out.op != "**" or step.node != "b" or point[0] != 0.0:
            assert evaluate_rule(step.local_rule, values) == pytest.approx(step.local, rel=1e-12), step.local_rule
        else:
            assert step.local_rule == "0"


def test_the_rule_table_covers_every_engine_op():
    sampled = {build(Value(1.0), Value(2.0)).op for build, _, _ in OPERATIONS}
    assert set(OPS) <= sampled  # each op's rule text (OPS[name].rules) is checked above


def test_formulas_name_the_operands_in_order():
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    out = (x - y) / y + (-x) + x**y + x.exp() + y.log() + x.sigmoid() + x.relu() + x.sin() + y.cos() + x**3
    out.label = "out"
    ops = [s.operation for s in explain_backward(out)]
    for piece in (
        "= x - y",
        "/ y",
        "= -x",
        "= x ** y",
        "= exp(x)",
        "= log(y)",
        "= sigmoid(x)",
        "= relu(x)",
        "= sin(x)",
        "= cos(y)",
        "= x ** 3",
    ):
        assert any(piece in op for op in ops), piece


def test_a_times_a_gives_two_contributions():
    a = Value(3.0, label="a")
    steps = explain_backward(a * a)
    assert [(s.node, s.contribution, s.accumulated) for s in steps] == [("a", 3.0, 3.0), ("a", 3.0, 6.0)]


def test_leaves_grads_untouched():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b
    a.grad = 7.0
    explain_backward(L)
    assert (a.grad, b.grad, L.grad) == (7.0, 0.0, 0.0)


def test_leaf_root_and_bad_input():
    x = Value(1.0, label="x")
    explanation = explain_backward(x)
    assert len(explanation) == 0
    assert "leaf" in str(explanation) and "leaf" in explanation._repr_html_()
    with pytest.raises(TypeError, match="explain_backward"):
        explain_backward(1.0)


def f(x, y, z):
    return ((x * y).tanh() + x * z - (y + 0.5).sigmoid() * x) * (z**2 + 1.0).log()


# Subnormal inputs make gradients underflow on the way back, which backward refuses (tests/engine).
@settings(max_examples=40, deadline=None)
@given(*(st.floats(-2.0, 2.0, allow_subnormal=False) for _ in range(3)))
def test_final_gradients_match_central_differences(x0, y0, z0):
    leaves = [Value(v, label=n) for v, n in zip((x0, y0, z0), "xyz", strict=True)]
    gradients = explain_backward(f(*leaves)).gradients
    h = 1e-6
    for i, name in enumerate("xyz"):
        up = [x0, y0, z0]
        down = [x0, y0, z0]
        up[i] += h
        down[i] -= h
        numeric = (f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * h)
        assert gradients[name] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_text_table_and_html_table():
    a = Value(2.0, label="<a&b>")
    b = Value(-3.0, label="b")
    L = a * b
    L.label = "L"
    explanation = explain_backward(L)
    text = str(explanation)
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["step", "node"]
    assert "accumulated gradient" in lines[1]
    assert set(lines[2].replace(" ", "")) == {"-"}
    assert lines[3].split()[:2] == ["1", "<a&b>"]
    assert "dL/d<a&b> = b = -3" in lines[3]
    assert "local derivative" in text and "upstream gradient" in text and "contribution" in text
    html = explanation._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 3
    assert "&lt;a&amp;b&gt;" in html and "<a&b>" not in html
    assert "∂L/∂b" in html
    assert "2 steps" in repr(explanation)


def test_display_names_are_unique():
    x1, x2 = Value(1.0, label="x"), Value(2.0, label="x")
    y = x1 * x2
    names = display_names(topological_order(y))
    assert list(names.values()) == ["x", "x'", "x*x'"]


def test_unlabelled_nodes_are_named_by_role_never_by_number():
    w, a = Value(0.5, label="w^(2)_0,1"), Value(-1.0, label="a^(1)_1")
    out = ((w * a + a).tanh() - 1.0) ** 2  # a constant subtracted from tanh(...): not a network's output
    names = list(display_names(topological_order(out)).values())
    # Past 28 characters, an ellipsis stands for the middle.
    assert names == ["w^(2)_0,1", "a^(1)_1", "w^(2)_0,1*a^(1)_1", "(w^(2)_0,1*… + a^(1)_1)",
                     "tanh(w^(2)_0,1*… + a^(1)_1)", "1", "(tanh(… a^(1)_1) - 1)",
                     "(tanh(… a^(1)_1) - 1)**2"]  # fmt: skip
    assert all(len(name) <= 40 and "#" not in name for name in names)
    target = (Value(0.3, label="a^(2)_1") - 1.0) * 2
    assert list(display_names(topological_order(target)).values()) == ["a^(2)_1", "y_1", "(a^(2)_1 - y_1)", "2",
                                                                        "(a^(2)_1 - y_1)*2"]  # fmt: skip


def test_a_long_chain_keeps_its_names_short():
    x = Value(1.0, label="x")
    y = x
    for _ in range(2000):
        y = (y * 1.0001).tanh() + x
    names = display_names(topological_order(y))
    assert max(map(len, names.values())) <= 30 and len(set(names.values())) == len(names)


def test_a_label_that_looks_like_a_made_up_name_keeps_both_gradients():
    p = Value(2.0, label="3")
    q = p * 3  # the constant 3's made-up name would be "3" too
    explanation = explain_backward(q)
    # By hand: dq/dp = 3, dq/d3 = p = 2.
    assert explanation.gradients == {"3": 3.0, "3'": 2.0, "3*3'": 1.0}
    assert [(s.node, s.contribution) for s in explanation] == [("3", 3.0), ("3'", 2.0)]


LOOKALIKES = ["", "", "x", "x", "0", "1", "x'", "x + x'", "(x + x')", "(0 + 1)", "'", "y", "1'"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LOOKALIKES), min_size=1, max_size=6))
def test_display_names_never_collide_and_keep_labels_used_once(labels):
    leaves = [Value(float(i), label=label) for i, label in enumerate(labels)]
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    order = topological_order(total)
    names = display_names(order)
    assert len(set(names.values())) == len(order)
    used_once = [n for n in order if n.label and sum(m.label == n.label for m in order) == 1]
    assert all(names[n] == n.label for n in used_once)
    assert len(explain_backward(total).gradients) == len(order)


def test_a_branch_with_upstream_gradient_0_is_skipped_as_backward_skips_it():
    # (u ** v) * 0 at u = -2: d(u**v)/dv needs log(-2), which does not exist, but the
    # upstream gradient of u ** v is 0, so backward() never evaluates it.
    u, v = Value(-2.0, label="u"), Value(2.0, label="v")
    power = u**v
    power.label = "p"
    out = power * 0.0
    out.label = "out"
    explanation = explain_backward(out)
    out.backward()  # does not raise
    assert [(s.node, s.skipped) for s in explanation] == [("p", False), ("0", False), ("u", True), ("v", True)]
    skipped = explanation[2]
    assert skipped.local is None and skipped.contribution == 0.0 and skipped.upstream == 0.0
    assert "skipped: upstream gradient is 0" in str(explanation)
    assert "skipped: upstream gradient is 0" in explanation._repr_html_()
    assert explanation.gradients["u"] == u.grad == 0.0 and explanation.gradients["v"] == v.grad == 0.0


def test_a_gradient_beyond_the_floats_raises_as_in_backward():
    a, b = Value(1e300, label="a"), Value(1e-300, label="b")
    out = (b * a) * a  # d out/d b = a * a = 1e600: beyond the floats
    with pytest.raises(OverflowError) as from_backward:
        out.backward()
    with pytest.raises(OverflowError) as from_explain:
        explain_backward(out)
    assert str(from_explain.value) == str(from_backward.value)


# Random graphs whose branches often get a gradient of exactly 0 (relu of a
# negative, products with 0), and whose partials may not exist there (log, /).
UNARY = [lambda v: v.relu(), lambda v: v.tanh(), lambda v: v.log(), lambda v: v * 0.0, lambda v: -v]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a**b, lambda a, b: a - b]


@st.composite
def zero_prone_graphs(draw):
    leaves = [Value(draw(st.sampled_from([-2.0, -0.5, 0.0, 0.5, 3.0])), label=f"x{i}") for i in range(3)]
    nodes = list(leaves)
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            make, args = draw(st.sampled_from(UNARY)), [draw(st.sampled_from(nodes))]
        else:
            make, args = draw(st.sampled_from(BINARY)), [draw(st.sampled_from(nodes)) for _ in range(2)]
        with contextlib.suppress(ArithmeticError, ValueError):  # log(-2), 1/0: not a graph to explain
            nodes.append(make(*args))
    return leaves, nodes[-1]


@settings(max_examples=300, deadline=None)
@given(zero_prone_graphs())
def test_explain_agrees_with_backward_exactly(graph):
    _leaves, root = graph
    try:
        explanation = explain_backward(root)
    except (ArithmeticError, ValueError) as error:
        with pytest.raises(type(error)):
            root.backward()
        return
    root.backward()  # explain succeeded: backward must too, with the same numbers
    names = display_names(topological_order(root))
    assert explanation.gradients == {names[n]: n.grad for n in topological_order(root)}


def test_explanation_is_a_sequence():
    a = Value(2.0)
    explanation = explain_backward(a * 3)
    assert isinstance(explanation, BackwardExplanation)
    assert explanation[0] is next(iter(explanation)) and len(explanation) == 2


def test_a_rule_about_a_compound_operand_keeps_its_meaning():
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    out = (x * y) ** 3
    out.label = "out"
    step = explain_backward(out)[0]
    assert step.local_rule == "3*(x*y)^(2)"  # not 3*x*y^(2)
    assert evaluate_rule(step.local_rule, {"x": 0.7, "y": 1.3}) == pytest.approx(3 * (0.7 * 1.3) ** 2, rel=1e-12)
