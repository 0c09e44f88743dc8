"""Every operation's value, first and second derivatives against sympy's exact ones."""

import math

import pytest
import sympy as sp

from microgrid import Value, grad

X, Y = sp.symbols("x y", real=True)

# (name, engine function, sympy expression in X, sample points)
UNARY = [
    ("neg", lambda v: -v, -X, [-2.5, -0.3, 0.7, 3.1]),
    ("exp", lambda v: v.exp(), sp.exp(X), [-3.0, -0.4, 0.0, 1.3, 5.0]),
    ("log", lambda v: v.log(), sp.log(X), [1e-3, 0.2, 1.0, 7.5, 1e4]),
    ("tanh", lambda v: v.tanh(), sp.tanh(X), [-4.0, -0.8, 0.0, 0.5, 3.3]),
    ("sigmoid", lambda v: v.sigmoid(), 1 / (1 + sp.exp(-X)), [-6.0, -1.1, 0.0, 0.9, 7.0]),
    ("relu", lambda v: v.relu(), sp.Max(0, X), [-2.0, -0.1, 0.2, 4.0]),
    ("sin", lambda v: v.sin(), sp.sin(X), [-3.0, -1.0, 0.0, 0.4, 2.8]),
    ("cos", lambda v: v.cos(), sp.cos(X), [-3.0, -1.0, 0.0, 0.4, 2.8]),
    ("**2", lambda v: v**2, X**2, [-3.0, -0.5, 0.0, 1.5]),
    ("**3", lambda v: v**3, X**3, [-2.0, 0.5, 1.5]),
    ("**-1", lambda v: v**-1, 1 / X, [-2.0, 0.5, 3.0]),
    ("**0.5", lambda v: v**0.5, sp.sqrt(X), [0.25, 1.0, 9.0]),
    ("**-1.5", lambda v: v**-1.5, X ** sp.Rational(-3, 2), [0.3, 2.0]),
    ("2**x", lambda v: 2**v, 2**X, [-1.5, 0.0, 2.5]),
    ("x+3", lambda v: v + 3, X + 3, [-1.0, 2.0]),
    ("3-x", lambda v: 3 - v, 3 - X, [-1.0, 2.0]),
    ("x*-2.5", lambda v: v * -2.5, -sp.Rational(5, 2) * X, [-1.0, 2.0]),
    ("7/x", lambda v: 7 / v, 7 / X, [-1.0, 0.5, 2.0]),
    ("x/4", lambda v: v / 4, X / 4, [-1.0, 2.0]),
]

BINARY = [
    ("+", lambda a, b: a + b, X + Y),
    ("-", lambda a, b: a - b, X - Y),
    ("*", lambda a, b: a * b, X * Y),
    ("/", lambda a, b: a / b, X / Y),
    ("**", lambda a, b: a**b, X**Y),
]
BINARY_POINTS = [(0.7, 1.3), (2.5, -0.4), (1.1, 3.0), (4.0, 0.5)]


def close(engine: float, exact, tol: float = 1e-12) -> bool:
    exact = float(exact)
    return abs(engine - exact) <= tol * max(1.0, abs(exact))


@pytest.mark.parametrize("name, f, expr, points", UNARY, ids=[u[0] for u in UNARY])
def test_unary_value_and_derivatives_match_sympy(name, f, expr, points):
    d1 = sp.diff(expr, X)
    d2 = sp.diff(expr, X, 2)
    for p in points:
        x = Value(p)
        y = f(x)
        assert close(y.data, expr.subs(X, p)), (name, p)
        (dy,) = grad(y, [x], create_graph=True)
        assert close(dy.data, d1.subs(X, p)), (name, p)
        assert close(grad(y, [x])[0], d1.subs(X, p)), (name, p)
        (d2y,) = grad(dy, [x])
        assert close(d2y, d2.subs(X, p)), (name, p)
        x.grad = 0.0
        y.backward()
        assert close(x.grad, d1.subs(X, p)), (name, p)


@pytest.mark.parametrize("name, f, expr", BINARY, ids=[b[0] for b in BINARY])
def test_binary_value_gradient_and_hessian_match_sympy(name, f, expr):
    for pa, pb in BINARY_POINTS:
        at = {X: pa, Y: pb}
        a, b = Value(pa), Value(pb)
        out = f(a, b)
        assert close(out.data, expr.subs(at))
        first = grad(out, [a, b], create_graph=True)
        for d, var in zip(first, (X, Y), strict=True):
            assert close(d.data, sp.diff(expr, var).subs(at)), (name, var)
            second = grad(d, [a, b])
            for s, var2 in zip(second, (X, Y), strict=True):
                assert close(s, sp.diff(expr, var, var2).subs(at)), (name, var, var2)


def test_third_order_derivative_through_create_graph():
    x = Value(0.3)
    y = (x * x).sin() * x.exp()
    expr = sp.sin(X**2) * sp.exp(X)
    d = y
    for order in (1, 2, 3):
        (d,) = grad(d, [x], create_graph=True)
        assert close(d.data, sp.diff(expr, X, order).subs(X, 0.3), 1e-11), order


def test_sigmoid_and_tanh_are_exact_at_extremes():
    assert Value(-1000).sigmoid().data == 0.0
    assert Value(1000).sigmoid().data == 1.0
    assert Value(1000).tanh().data == 1.0
    assert Value(-1000).tanh().data == -1.0
    x = Value(-800.0)
    y = x.sigmoid()
    y.backward()
    assert x.grad == 0.0


def test_sigmoid_gradient_far_out_matches_exact_value():
    # Near saturation, out * (1 - out) loses digits to the spacing of floats near 1
    # (finite differences lose them all); it must still be right to 1%. The
    # textbook form A(1 - A) is kept on purpose: the symbolic derivations need it.
    exact = sp.diff(1 / (1 + sp.exp(-X)), X)
    for p in (-30.0, -10.0, 10.0, 30.0):
        x = Value(p)
        x.sigmoid().backward()
        assert math.isclose(x.grad, float(exact.subs(X, p).evalf(30)), rel_tol=1e-2)
