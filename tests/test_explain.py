"""explain_backward: the chain-rule steps, checked against hand computation and finite differences."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgrid import Value, explain_backward
from microgrid.explain import BackwardExplanation, display_names
from microgrid.engine import topological_order


def rows(explanation):
    return [(s.node, s.result, s.local, s.upstream, s.contribution, s.accumulated) for s in explanation]


def test_hand_computed_steps_with_a_reused_node():
    # L = a*b + a at a = 2, b = -3.  By hand, in backward's order (L first, then a*b):
    #   L = #2 + a:  d L/d #2 = 1, d L/d a = 1            (a's first contribution: 1)
    #   #2 = a * b:  d #2/d a = b = -3, d #2/d b = a = 2   (a's second: 1 * -3; total -2)
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b + a
    L.label = "L"
    explanation = explain_backward(L)
    assert rows(explanation) == [
        ("#2", "L", 1.0, 1.0, 1.0, 1.0),
        ("a", "L", 1.0, 1.0, 1.0, 1.0),
        ("a", "#2", -3.0, 1.0, -3.0, -2.0),
        ("b", "#2", 2.0, 1.0, 2.0, 2.0),
    ]
    assert [s.step for s in explanation] == [1, 2, 3, 4]
    assert [s.operation for s in explanation] == ["L = #2 + a", "L = #2 + a", "#2 = a * b", "#2 = a * b"]
    assert [s.local_rule for s in explanation] == ["1", "1", "b", "a"]
    assert explanation.gradients == {"a": -2.0, "b": 2.0, "#2": 1.0, "L": 1.0}


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


def test_every_operation_has_a_rule_and_a_formula():
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    out = ((x - y) / y + (-x) + x**y + x.exp() + y.log() + x.sigmoid() + x.relu() + x.sin() + y.cos() + x**3)
    out.label = "out"
    steps = explain_backward(out)
    assert "?" not in [s.local_rule for s in steps]
    ops = " ".join(s.operation for s in steps)
    for piece in ("x - y", "/ y", "-x", "x ** y", "exp(x)", "log(y)", "sigmoid(x)", "relu(x)", "sin(x)", "cos(y)", "x ** 3"):
        assert piece in ops


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


@settings(max_examples=40, deadline=None)
@given(*(st.floats(-2.0, 2.0) for _ in range(3)))
def test_final_gradients_match_central_differences(x0, y0, z0):
    leaves = [Value(v, label=n) for v, n in zip((x0, y0, z0), "xyz")]
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
    assert sorted(names.values()) == ["#2", "x#0", "x#1"]


def test_explanation_is_a_sequence():
    a = Value(2.0)
    explanation = explain_backward(a * 3)
    assert isinstance(explanation, BackwardExplanation)
    assert explanation[0] is list(explanation)[0] and len(explanation) == 2
