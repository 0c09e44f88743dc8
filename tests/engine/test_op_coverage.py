"""Every engine operation is one complete entry of `engine.OPS`, read by every module that shows it.

An operation is declared once, by `define_op`: its forward rule, its partials,
its rule text (explain), its formula or definition (symbolic) and its
notation.  These tests check that each entry is complete and that each
reader (explain, symbolic, the parser, drawing) really reads it.
"""

import pytest

from microgrid import Value
from microgrid.engine import OPS, Op, define_op


def one_node_of_each_op():
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    return [x + y, x - y, x * y, x / y, -x, x**y, x**3, x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(), x.sin(), x.cos(), x.step(), x._xlogy(y)]


def test_the_sample_covers_every_engine_op():
    sampled = {v.op for v in one_node_of_each_op()}
    assert set(OPS) | {"**3"} == sampled


@pytest.mark.parametrize("op", OPS.values(), ids=list(OPS))
def test_every_op_is_a_complete_entry(op):
    assert isinstance(op, Op)
    assert len(op.rules) == op.arity and all(r.strip() for r in op.rules)
    assert bool(op.formula) != bool(op.definition)
    assert op.notation


@pytest.mark.parametrize("node", one_node_of_each_op(), ids=lambda v: v.op)
def test_explain_shows_every_ops_rule_and_notation(node):
    from microgrid.drawing.explain import explain_backward

    steps = explain_backward(node)
    assert len(steps) == node._op.arity
    assert all(s.local_rule and "?" not in s.local_rule for s in steps)
    assert all(s.operation.split(" = ")[1] != "" and "x" in s.operation for s in steps)


@pytest.mark.parametrize("node", one_node_of_each_op(), ids=lambda v: v.op)
def test_symbolic_converts_every_op(node):
    sympy = pytest.importorskip("sympy")
    from microgrid.symbolic import to_sympy

    x, y = sympy.Symbol("x"), sympy.Symbol("y")
    expr = to_sympy(node)
    assert float(expr.subs({x: 0.7, y: 1.3}).evalf()) == pytest.approx(node.data, rel=1e-12)


def test_the_parser_allows_exactly_the_public_one_operand_ops():
    from microgrid.symbolic.expression import ENGINE_FUNCTIONS

    assert set(ENGINE_FUNCTIONS) == {"exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"}
    assert set(ENGINE_FUNCTIONS) == {name for name, op in OPS.items() if op.public and op.arity == 1}


def test_drawings_number_the_operands_of_every_op_whose_order_matters():
    from microgrid.drawing import draw_dot

    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    for node in (x + y, x * y):
        assert "label=1" not in draw_dot(node).source, node.op
    for node in (x - y, x / y, x**y, x._xlogy(y)):  # xlogy too: each op says itself whether it is commutative
        assert "label=1" in draw_dot(node).source and "label=2" in draw_dot(node).source, node.op


def test_an_op_without_rule_text_is_a_loud_error_in_explain_never_a_question_mark():
    from microgrid.engine import _node
    from microgrid.drawing.explain import explain_backward

    bare = Op("bare", 1, lambda a: 2.0 * a, lambda a, out: 2.0)  # made without define_op: no rules
    x = Value(1.5, label="x")
    y = _node(3.0, x, None, bare)
    with pytest.raises(LookupError, match=r"'bare' has no rule text"):
        explain_backward(y)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(name="exp"), r"must be a new"),
        (dict(rules=()), r"one rule per operand"),
        (dict(rules=("1", "2")), r"one rule per operand"),
        (dict(formula="", definition=""), r"a formula or a definition"),
        (dict(definition="2*a"), r"a formula or a definition"),
        (dict(method="backward"), r"Value already has an attribute 'backward'"),
        (dict(arity=3), r"arity must be 1 or 2"),
    ],
)
def test_define_op_refuses_an_incomplete_or_clashing_entry(change, message):
    entry = dict(name="twice", arity=1, forward=lambda a: 2.0 * a, partials=lambda a, out: 2.0, rules=("2",),
                 formula="2*a")
    entry.update(change)
    with pytest.raises(ValueError, match=message):
        define_op(**entry)
    assert "twice" not in OPS and not hasattr(Value, "twice")
