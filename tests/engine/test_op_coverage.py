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
    return [
        x + y,
        x - y,
        x * y,
        x / y,
        -x,
        x**y,
        x**3,
        x.exp(),
        x.log(),
        x.tanh(),
        x.sigmoid(),
        x.relu(),
        x.sin(),
        x.cos(),
        OPS["step"](x),
        OPS["xlogy"](x, y),
    ]


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
    from microgrid.symbolic.parsing import ENGINE_FUNCTIONS

    assert set(ENGINE_FUNCTIONS) == {"exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"}
    assert set(ENGINE_FUNCTIONS) == {name for name, op in OPS.items() if op.by_name and op.arity == 1}


def test_drawings_number_the_operands_of_every_op_whose_order_matters():
    from microgrid.drawing import draw_dot

    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    for node in (x + y, x * y):
        assert "label=1" not in draw_dot(node).source, node.op
    for node in (x - y, x / y, x**y, OPS["xlogy"](x, y)):  # xlogy too: each op says itself whether it is commutative
        assert "label=1" in draw_dot(node).source and "label=2" in draw_dot(node).source, node.op


def test_an_op_cannot_be_made_without_its_rules():
    with pytest.raises(ValueError, match=r"one rule per operand"):
        Op("bare", 1, lambda a: 2.0 * a, [])


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(name="exp"), r"'exp' is taken"),
        (dict(name="out"), r"'out' is taken"),
        (dict(name="b"), r"'b' is taken"),
        (dict(name="lambda"), r"'lambda' is taken"),
        (dict(name=""), r"non-empty str"),
        (dict(rules=()), r"one rule per operand"),
        (dict(rules=("1", "2")), r"one rule per operand"),
        (dict(rules="2"), r"one rule per operand"),
        (dict(rules=lambda a, out: 2.0), r"written once, as rule formulas"),
        (dict(rules=("2*",)), r"the rule '2\*' cannot be read"),
        (dict(rules=("1 if a > 0 else 0",)), r"cannot be read: .* is not allowed"),
        (dict(rules=("__import__('os')",)), r"cannot be read"),
        (dict(rules=("a.real",)), r"cannot be read"),
        (dict(rules=("x",)), r"'x' is not one of a, out"),
        (dict(rules=("b",)), r"'b' is not one of a, out"),
        (dict(rules=("cube(a)",)), r"its rules call cube, which is not an op"),
        (dict(formula="", definition=""), r"a formula or a definition"),
        (dict(definition="2*a"), r"a formula or a definition"),
        (dict(method="backward"), r"Value already has an attribute 'backward'"),
        (dict(arity=3), r"arity must be the int 1 or 2"),
        (dict(arity=1.0), r"arity must be the int 1 or 2"),
        (dict(arity=True), r"arity must be the int 1 or 2"),
    ],
)
def test_define_op_refuses_an_incomplete_or_clashing_entry(change, message):
    entry = dict(name="twice", arity=1, forward=lambda a: 2.0 * a, rules=("2",), formula="2*a")
    entry.update(change)
    with pytest.raises(ValueError, match=message):
        define_op(**entry)
    assert "twice" not in OPS and not hasattr(Value, "twice")


def test_a_user_ops_forward_must_give_a_real_number():
    from microgrid.engine import remove_op

    root = define_op("root", 1, lambda a: a**0.5, rules=["0.5/out"], formula="sqrt(a)")
    try:
        assert root(Value(4.0)).data == 2.0
        with pytest.raises(TypeError, match=r"root: the result for input -4.0 must be a real number, got complex"):
            root(Value(-4.0))
    finally:
        remove_op("root")


def test_an_op_used_by_another_ops_rules_cannot_be_removed_first():
    import math

    from microgrid.engine import remove_op

    define_op("softplus", 1, lambda a: math.log1p(math.exp(a)), ["sigmoid(a)"], definition="log(1 + exp(a))")
    define_op("twice_softplus", 1, lambda a: 2 * math.log1p(math.exp(a)), ["2*sigmoid(a)"], "2*softplus(a)")
    define_op("uses", 1, lambda a: a, ["1 + 0*softplus(a)"], "a")
    try:
        with pytest.raises(ValueError, match=r"'softplus' is used in the rules of uses"):
            remove_op("softplus")
    finally:
        remove_op("uses")
        remove_op("twice_softplus")
        remove_op("softplus")
    assert "softplus" not in OPS
