"""Every engine operation is known to the modules that describe it.

An operation is defined once, in engine.py's table; the explain table (its
derivative written out for learners) and the sympy conversion name it too, so
a new operation must fail here until they do.
"""

import pytest

from microgrid import Value
from microgrid.engine import Op


def engine_ops() -> dict[str, Op]:
    ops = {}
    for attribute in vars(Value).values():
        op = getattr(attribute, "op", None)
        if isinstance(op, Op):
            ops[op.name] = op
    return ops


def one_node_of_each_op():
    x, y = Value(0.7, label="x"), Value(1.3, label="y")
    return [x + y, x - y, x * y, x / y, -x, x**y, x**3, x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(), x.sin(), x.cos(), x.step(), x._xlogy(y)]


def test_the_sample_covers_every_engine_op():
    sampled = {v.op for v in one_node_of_each_op()}
    assert set(engine_ops()) | {"**3"} == sampled


def test_explain_has_a_rule_for_every_op():
    from microgrid.drawing.explain import _RULES

    assert set(engine_ops()) == set(_RULES)


@pytest.mark.parametrize("node", one_node_of_each_op(), ids=lambda v: v.op)
def test_symbolic_converts_every_op(node):
    sympy = pytest.importorskip("sympy")
    from microgrid.symbolic import to_sympy

    x, y = sympy.Symbol("x"), sympy.Symbol("y")
    expr = to_sympy(node)
    assert float(expr.subs({x: 0.7, y: 1.3}).evalf()) == pytest.approx(node.data, rel=1e-12)
