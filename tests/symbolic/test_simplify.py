"""microgrid.symbolic.simplify: gradients made readable, keeping their value, within a time budget."""

import sympy

from microgrid.symbolic import tidy

A, W, y = sympy.symbols("A W y")


def test_a_sum_of_fractions_stays_a_sum_unless_something_cancels():
    from microgrid.symbolic import simplify_gradient

    assert simplify_gradient(-y / A + (1 - y) / (1 - A)) == -y / A + (1 - y) / (1 - A)
    assert simplify_gradient(1 / A + 1 / W) == 1 / A + 1 / W
    # here the common denominator cancels: one fraction is shorter
    assert simplify_gradient(A / (A - y) - y / (A - y)) == 1
    assert simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A))) == A - y


def test_tidy_keeps_the_value_and_moves_signs():
    a, t, v = sympy.symbols("a t v")
    cases = {
        -a * (a - 1): a * (1 - a),
        2 * a * (t - a) * (a - 1): None,
        (-a + t) / (a * (a - 1)): None,
        a * v * (a - 1) * (-v * (1 - v) - a * (1 - a)): None,
    }
    for expr, expected in cases.items():
        tidied = tidy(expr)
        assert sympy.simplify(tidied - expr) == 0
        assert not sympy.sstr(tidied).startswith("-")
        if expected is not None:
            assert sympy.sstr(tidied) == sympy.sstr(expected)


def test_tidy_never_prints_to_decide_a_sign():
    """An integer past 4,300 digits has no str in Python: tidy must not look at
    the printed text to see whether a sum starts with a minus, or it raises."""
    a, t = sympy.symbols("a t")
    huge = sympy.Integer(10) ** 5000
    expr = 2 * a * (t - huge * a)
    tidied = tidy(expr)
    assert sympy.expand(tidied - expr) == 0


def test_the_budget_stops_sympy_algebra_that_would_take_minutes():
    import time

    from microgrid.symbolic import Budget, simplify_within

    s = sympy.symbols("a:7")
    slow = sum(s[:6]) ** 6 - s[6]
    start = time.monotonic()
    result, reason = simplify_within(slow, Budget(seconds=0.5))
    assert time.monotonic() - start < 0.5 + 3.0  # stopped, not waited for
    assert result == slow and "time budget" in reason
    assert simplify_within(s[0] ** 2 - s[0] * s[1], Budget(seconds=5)) == (s[0] * (s[0] - s[1]), None)
