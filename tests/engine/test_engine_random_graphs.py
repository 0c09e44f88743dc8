"""Property tests: random expression graphs, with nodes reused, against sympy and finite differences.

Each graph is built twice from the same recipe, once from Values and once
from sympy symbols; sympy's exact derivatives (evaluated to 30 digits) are the
reference for the engine's first and second derivatives.
"""

import math

import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microgrid import Value, grad

# Operations that are defined (and smooth) everywhere, so any recipe is valid.
UNARY = {
    "tanh": (lambda v: v.tanh(), sp.tanh),
    "sigmoid": (lambda v: v.sigmoid(), lambda e: 1 / (1 + sp.exp(-e))),
    "sin": (lambda v: v.sin(), sp.sin),
    "cos": (lambda v: v.cos(), sp.cos),
    "neg": (lambda v: -v, lambda e: -e),
    "square": (lambda v: v**2, lambda e: e**2),
    "log1p_sq": (lambda v: (1 + v * v).log(), lambda e: sp.log(1 + e**2)),
    "exp_tanh": (lambda v: v.tanh().exp(), lambda e: sp.exp(sp.tanh(e))),
    "sqrt1p_sq": (lambda v: (1 + v * v) ** 0.5, lambda e: sp.sqrt(1 + e**2)),
}
BINARY = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (1 + b * b), lambda a, b: a / (1 + b**2)),
    "pow": (lambda a, b: (1 + a * a) ** b.tanh(), lambda a, b: (1 + a**2) ** sp.tanh(b)),
}

leaf_values = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False).map(lambda x: round(x, 6))


@st.composite
def recipes(draw):
    """(leaf values, steps); each step names an op and indices of earlier nodes (reuse allowed)."""
    leaves = draw(st.lists(leaf_values, min_size=1, max_size=3))
    steps = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        available = len(leaves) + i
        if draw(st.booleans()):
            op = draw(st.sampled_from(sorted(UNARY)))
            steps.append((op, draw(st.integers(0, available - 1))))
        else:
            op = draw(st.sampled_from(sorted(BINARY)))
            steps.append((op, draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    return leaves, steps


def build(leaves, steps, unary_index, binary_index):
    nodes = list(leaves)
    for op, *args in steps:
        table, index = (UNARY, unary_index) if len(args) == 1 else (BINARY, binary_index)
        nodes.append(table[op][index](*(nodes[a] for a in args)))
    return nodes


def engine_graph(leaf_data, steps):
    leaves = [Value(x) for x in leaf_data]
    nodes = build(leaves, steps, 0, 0)
    # The output sums every node, so every node (and reuse) matters.
    out = nodes[0]
    for node in nodes[1:]:
        out = out + node
    return leaves, out


def sympy_graph(n_leaves, steps):
    symbols = sp.symbols(f"x0:{n_leaves}", real=True)
    nodes = build(list(symbols), steps, 1, 1)
    return symbols, sp.Add(*nodes)


def exact(expr, symbols, leaf_data):
    return float(expr.evalf(30, subs=dict(zip(symbols, leaf_data, strict=True))))


def assert_close(engine, reference, rel=1e-9, abs_=1e-12):
    assert abs(engine - reference) <= abs_ + rel * abs(reference), (engine, reference)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(recipes())
def test_gradients_match_sympy(recipe):
    leaf_data, steps = recipe
    leaves, out = engine_graph(leaf_data, steps)
    symbols, expr = sympy_graph(len(leaf_data), steps)
    assert_close(out.data, exact(expr, symbols, leaf_data))
    out.backward()
    by_grad = grad(out, leaves)
    for leaf, g, symbol in zip(leaves, by_grad, symbols, strict=True):
        reference = exact(sp.diff(expr, symbol), symbols, leaf_data)
        assert_close(leaf.grad, reference)
        assert_close(g, reference)


@SETTINGS
@given(recipes())
def test_second_derivatives_match_sympy(recipe):
    leaf_data, steps = recipe
    leaves, out = engine_graph(leaf_data, steps)
    symbols, expr = sympy_graph(len(leaf_data), steps)
    first = grad(out, leaves, create_graph=True)
    d_first_d_x0 = sp.diff(expr, symbols[0])
    row = grad(first[0], leaves)
    for g, symbol in zip(row, symbols, strict=True):
        assert_close(g, exact(sp.diff(d_first_d_x0, symbol), symbols, leaf_data), rel=1e-8, abs_=1e-10)


@SETTINGS
@given(recipes())
def test_gradients_match_central_finite_differences(recipe):
    leaf_data, steps = recipe
    leaves, out = engine_graph(leaf_data, steps)
    analytic = grad(out, leaves)
    h = 1e-6
    for i, g in enumerate(analytic):
        up, down = list(leaf_data), list(leaf_data)
        up[i] += h
        down[i] -= h
        numeric = (engine_graph(up, steps)[1].data - engine_graph(down, steps)[1].data) / (2 * h)
        assert math.isclose(g, numeric, rel_tol=1e-5, abs_tol=1e-6), (i, g, numeric)
