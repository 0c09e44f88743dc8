"""A new operation, softplus(x) = log(1 + e^x), added through `define_op` as the built-ins are.

One entry makes it work everywhere: backward, grad(create_graph=True),
symbolic.diff, explain_backward, drawing and the expression parser (and so
``microgrid draw``).  Each is checked against an independent reference:
finite differences of a plain-float softplus, and sympy's own derivative of
log(1 + exp(x)).  The fixture removes the op again, so other tests see the
built-ins only.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

from microgrid import Value, grad
from microgrid.engine import OPS, define_op, remove_op

X = sp.Symbol("x")
REFERENCE = sp.log(1 + sp.exp(X))  # sympy's softplus, for its derivatives


def softplus_float(x: float) -> float:
    """log(1 + e^x) on floats, written independently of the engine (stable for large |x|)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def finite_difference(f, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.fixture
def softplus():
    op = define_op("softplus", 1, softplus_float, rules=["sigmoid(a)"], definition="log(1 + exp(a))")
    yield op
    remove_op("softplus")
    assert "softplus" not in OPS and not hasattr(Value, "softplus")


@pytest.mark.parametrize("point", [-3.0, -0.4, 0.0, 0.9, 5.0])
def test_backward(softplus, point):
    x, w = Value(point, label="x"), Value(1.7, label="w")
    y = softplus(x * w) * x.softplus()  # the op called, and the Value method define_op gave
    y.backward()
    by_hand = lambda t: softplus_float(t * 1.7) * softplus_float(t)  # noqa: E731
    assert x.grad == pytest.approx(finite_difference(by_hand, point), rel=1e-6, abs=1e-9)
    assert softplus(point) == pytest.approx(float(REFERENCE.subs(X, point)), rel=1e-14)  # on plain numbers


@pytest.mark.parametrize("point", [-2.0, 0.3, 4.0])
def test_grad_create_graph_gives_first_and_second_derivatives(softplus, point):
    x = Value(point)
    (dy,) = grad(softplus(x), [x], create_graph=True)
    assert dy.data == pytest.approx(float(sp.diff(REFERENCE, X).subs(X, point)), rel=1e-12)
    (d2y,) = grad(dy, [x])
    assert d2y == pytest.approx(float(sp.diff(REFERENCE, X, 2).subs(X, point)), rel=1e-12)


def test_symbolic_diff_and_to_sympy(softplus):
    from microgrid.symbolic import diff, latex, to_sympy

    x, w = Value(0.3, label="x"), Value(-1.2, label="w")
    y = softplus(x * w)
    y.label = "y"
    expr = to_sympy(y)
    assert str(expr) == "softplus(w*x)"  # kept opaque, as sigmoid is
    assert "softplus" in latex(expr)
    W = sp.Symbol("w")
    by_sympy = sp.diff(sp.log(1 + sp.exp(W * X)), X)
    engine = diff(y, x)
    assert sp.simplify(engine.rewrite(sp.exp) - by_sympy) == 0
    # sympy's own diff of the opaque function uses the rule text: d softplus(u)/du = sigmoid(u)
    assert sp.simplify(sp.diff(expr, X).rewrite(sp.exp) - by_sympy) == 0
    # numbers evaluate, through the definition
    assert float(expr.subs({X: 0.3, W: -1.2}).evalf()) == pytest.approx(y.data, rel=1e-12)
    assert sp.lambdify([X, W], expr)(0.3, -1.2) == pytest.approx(y.data, rel=1e-12)


def test_explain_backward_shows_its_rule(softplus):
    from microgrid.drawing.explain import explain_backward

    x = Value(0.8, label="x")
    y = softplus(x)
    y.label = "y"
    (step,) = explain_backward(y)
    assert step.operation == "y = softplus(x)"
    assert step.local_rule == "sigmoid(x)"
    assert step.local == pytest.approx(finite_difference(softplus_float, 0.8), rel=1e-8)


def test_draw_shows_the_op(softplus):
    from microgrid.drawing import draw_dot

    x = Value(0.8, label="x")
    source = draw_dot(softplus(x)).source
    assert "label=softplus" in source or 'label="softplus"' in source


def test_the_parser_and_the_draw_command(softplus, tmp_path, capsys):
    from microgrid.cli import main
    from microgrid.symbolic import parsing as expression

    assert "softplus" in expression.ENGINE_FUNCTIONS
    parsed = expression.parse("softplus(x) * 2")
    x = Value(1.1, label="x")
    out = parsed.evaluate({"x": x}, {name: OPS[name] for name in expression.ENGINE_FUNCTIONS})
    assert out.data == pytest.approx(2 * softplus_float(1.1), rel=1e-14)
    assert parsed.evaluate({"x": 1.1}, {"softplus": OPS["softplus"]}) == pytest.approx(2 * softplus_float(1.1))

    path = tmp_path / "graph.dot"
    assert main(["draw", "softplus(x)", "--at", "x=0.5", "-o", str(path), "--explain"]) == 0
    assert "softplus" in path.read_text()
    expected = finite_difference(softplus_float, 0.5)
    assert f"df/dx = {expected:.6g}" in capsys.readouterr().out


def test_after_removal_the_parser_refuses_it_again(softplus):
    from microgrid.symbolic import parsing as expression

    remove_op("softplus")
    try:
        with pytest.raises(expression.ExpressionError, match="softplus is not a function"):
            expression.parse("softplus(x)")
    finally:
        define_op(
            "softplus", 1, softplus_float, rules=["sigmoid(a)"], definition="log(1 + exp(a))"
        )  # for the fixture's own removal


def test_the_built_ins_cannot_be_removed():
    with pytest.raises(ValueError, match="'exp' is built in"):
        remove_op("exp")
    with pytest.raises(ValueError, match="'nothing' is not a defined op"):
        remove_op("nothing")


def test_a_binary_op_gets_numbered_operands_and_both_rules():
    """A two-operand op (here a - 2b under another name) is drawn and explained by its entry too."""
    from microgrid.drawing import draw_dot
    from microgrid.drawing.explain import explain_backward

    op = define_op("minus2", 2, lambda a, b: a - 2.0 * b, ["1", "-2"], "a - 2*b")
    try:
        x, y = Value(3.0, label="x"), Value(0.5, label="y")
        z = x.minus2(y)
        assert z.data == 2.0
        assert grad(z, [x, y]) == [1.0, -2.0]  # by hand
        assert [s.local_rule for s in explain_backward(z)] == ["1", "-2"]
        source = draw_dot(z).source
        assert "label=1" in source and "label=2" in source
        assert op(3.0, 0.5) == 2.0
    finally:
        remove_op("minus2")
