"""microgrid.symbolic.precise: evaluating formulas within a cap on working precision.

References: mpmath evaluated directly at a fixed high precision, and Python's floats."""

import math
import time

import mpmath
import pytest
import sympy

from microgrid.symbolic import sigmoid, symbol
from microgrid.symbolic.precise import Undefined, Unevaluable, value

x, y = sympy.symbols("x y")
#: Without the precision caps these take minutes; a wide bound for a shared machine.
BOUND = 20.0


def reference(expr, point, dps=400):
    """The formula at the point, by mpmath at a fixed, high precision."""
    f = sympy.lambdify(list(point), expr.rewrite(sympy.exp), modules="mpmath")
    with mpmath.workdps(dps):
        return f(*[mpmath.mpf(v) for v in point.values()])


@pytest.mark.parametrize(
    "expr, at",
    [
        (1 - sigmoid(x), 100.0),  # needs ~70 digits
        (sympy.log(1 + sympy.exp(x)) - x, 60.0),
        (sympy.tanh(x) - 1, 30.0),
        (sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1 + sympy.exp(-x), 50.0),
        (sympy.exp(sympy.exp(x)) * sympy.exp(-sympy.exp(x) + x), 3.0),
        ((x + 1) ** 7 / (x - 2), -0.3),
    ],
)
def test_value_is_right_to_25_digits(expr, at):
    got = value(expr, {x: at}, digits=1000)
    want = reference(expr, {x: at})
    assert abs(got - want) <= abs(want) * mpmath.mpf(10) ** -24


def test_value_of_a_log_of_a_negative_number_is_complex():
    got = value(sympy.log(x), {x: -2.0}, digits=100)
    assert complex(got) == pytest.approx(complex(math.log(2), math.pi))


@pytest.mark.parametrize("expr", [sympy.log(x - 1), 1 / (x - 1), (x - 1) ** -2, sympy.log(x - x**2)])
def test_undefined_is_undefined(expr):
    with pytest.raises(Undefined):
        value(expr, {x: 1.0}, digits=100)


def test_a_tower_beyond_any_precision_overflows_in_milliseconds():
    tower = x
    for _ in range(6):
        tower = sympy.exp(tower)
    start = time.monotonic()
    assert value(tower, {x: 0.57}, digits=1000) == mpmath.inf
    assert value(1 / tower, {x: 0.57}, digits=1000) == 0
    with pytest.raises(Unevaluable):
        value(tower - sympy.exp(tower), {x: 0.57}, digits=1000)  # inf - inf
    with pytest.raises(Unevaluable):
        value(sympy.sin(tower), {x: 0.57}, digits=1000)
    assert time.monotonic() - start < BOUND


@pytest.mark.parametrize("at", [6.0, 20.4, 500.0])  # the inner number: about 2**(6e5), 2**(1e12), 2**(1e220) bits
def test_a_function_of_a_number_past_reach_is_its_limit_at_once(at):
    """exp(1000 e^x) is representable (its exponent is an int) but too large
    for tanh, sin or exp to reduce: mpmath's tanh of 2**(10**12) would build a
    10**12-bit integer.  Each function gets its limit, log its exact value."""
    inner = sympy.exp(1000 * sympy.exp(x))
    start = time.monotonic()
    assert value(sympy.tanh(inner), {x: at}, digits=1000) == 1
    assert value(sympy.tanh(-inner), {x: at}, digits=1000) == -1
    assert value(1 / (1 + sympy.exp(-inner)), {x: at}, digits=1000) == 1
    assert value(sympy.exp(-inner), {x: at}, digits=1000) == 0
    with pytest.raises(Unevaluable):
        value(sympy.cos(inner), {x: at}, digits=1000)
    if at == 6.0:  # log reads the exponent: exact
        assert value(sympy.log(inner), {x: at}, digits=1000) == pytest.approx(1000 * math.exp(6.0), rel=1e-15)
    assert time.monotonic() - start < BOUND


def test_a_sum_that_cancels_beyond_the_precision_is_unevaluable_never_a_wrong_number():
    """X + 1 - X, held as written: with X = exp(1000 e^6), about 2**581000, every
    pass gives 0, and two passes agreeing must not make 0 the answer."""

    def held(*terms):
        return sympy.Add(*terms, evaluate=False)

    huge = sympy.exp(1000 * sympy.exp(x))
    with pytest.raises(Unevaluable, match="cancel"):
        value(held(huge, 1, -huge), {x: 6.0}, digits=1000)
    # Within reach, more digits find the 1; a sum that is exactly 0 stays 0.
    assert value(held(sympy.exp(x), 1, -sympy.exp(x)), {x: 100.0}, digits=1000) == 1
    assert value(held(x, -x), {x: 0.3}, digits=1000) == 0


def test_deep_nesting_is_linear_not_exponential():
    horner = x
    for _ in range(300):
        horner = horner * x + 1
    start = time.monotonic()
    got = value(horner, {x: 0.5}, digits=1000)
    assert time.monotonic() - start < BOUND
    assert got == pytest.approx(2.0, rel=1e-12)  # 1 + x + x^2 + ... -> 1/(1 - x)


def test_evaluate_keeps_its_accuracy_far_from_the_graph():
    from microgrid.symbolic import evaluate

    z = symbol("z")
    # 1 - sigmoid(100) = e^-100 / (1 + e^-100): 0 at a fixed 30 digits
    expected = math.exp(-100) / (1 + math.exp(-100))
    assert evaluate(1 - sigmoid(z), {z: 100.0}) == pytest.approx(expected, rel=1e-12, abs=0)
    expected = math.exp(-60) / (1 + math.exp(-60)) ** 2  # sigmoid'(60), by hand
    assert evaluate(sigmoid(z) * (1 - sigmoid(z)), {z: 60.0}) == pytest.approx(expected, rel=1e-12, abs=0)
    assert evaluate(sympy.exp(sympy.exp(z)), {z: 1000.0}) is None  # beyond the floats


def test_precise_reads_a_rational_from_its_leading_bits():
    from microgrid.symbolic.precise import rational

    ctx = mpmath.MPContext()
    ctx.prec = 80
    p, q = 3**5000 + 1, 7**4000
    exact = mpmath.mpf(p) / q  # mpmath's own conversion, at 53 bits, as the reference
    assert abs(rational(ctx, p, q) / exact - 1) < 1e-15
    assert rational(ctx, -(10**40), 3) == ctx.mpf(-(10**40)) / 3
