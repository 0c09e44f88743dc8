"""microgrid.symbolic.simplify: gradients made readable, keeping their value, within a time budget."""

import pytest
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
    assert time.monotonic() - start < 20.0  # stopped, not waited for the minutes it would take (wide: CI is loaded)
    assert result == slow and "time budget" in reason
    assert simplify_within(s[0] ** 2 - s[0] * s[1], Budget(seconds=5)) == (s[0] * (s[0] - s[1]), None)


E = sympy.exp
z, z0, z1, z2, s, p, p0, p1, x = sympy.symbols("z z0 z1 z2 s p p0 p1 x")
y0, y1, y2 = sympy.symbols("y0 y1 y2")
SOFTMAX = {s: E(z0) + E(z1) + E(z2), p0: E(z0) / s, p1: E(z1) / s}


def _written_out(expr, definitions):
    for _ in definitions:
        expr = expr.subs(definitions)
    return expr


def _sig(u):
    return 1 / (1 + E(-u))


# (the chain's line, definitions, constraints, the textbook's form): each an independent sympy formula
TABLE = [
    (E(z1) / s - E(z1) / (p1 * s), SOFTMAX, (), p1 - 1),
    ((y0 / s + y1 / s + y2 / s) * E(z0) - y0 * E(z0) / (p0 * s), SOFTMAX, (y0 + y1 + y2 - 1,), p0 - y0),
    ((-y + E(z) / (1 + E(z))) * x, {}, (), None),  # sigmoid(z) - y, checked below
    (((1 - y) / (1 - p) - y / p) * (1 - sympy.tanh(z) ** 2) / 2 * x, {p: (sympy.tanh(z) + 1) / 2}, (),
     2 * (p - y) * x),
]  # fmt: skip


def test_each_table_row_shows_the_textbook_form():
    from microgrid.symbolic import sigmoid
    from microgrid.symbolic.simplify import simplest

    for chain, definitions, constraints, textbook in TABLE:
        shown = simplest(chain, 40, definitions, constraints)
        if textbook is None:
            textbook = (sigmoid(z) - y) * x
        assert sympy.expand(shown - textbook) == 0, shown
        # the same value as the chain's line, definitions written out (and the constraint used: y2 = 1 - y0 - y1)
        difference = _written_out(shown - chain, definitions).subs(y2, 1 - y0 - y1).rewrite(sympy.exp)
        assert sympy.simplify(difference.subs(sigmoid(z), _sig(z))) == 0


def test_the_shown_result_never_reads_worse_than_its_chain_product():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from microgrid.symbolic.simplify import readable

    a, b = sympy.symbols("a b")
    leaves = st.sampled_from([a, b, y, x, sympy.Integer(2), sympy.Rational(1, 2)])

    def combine(children):
        ops = st.sampled_from([sympy.Add, sympy.Mul, lambda u, v: u / v, lambda u, v: u - v])
        return st.builds(lambda op, u, v: op(u, v), ops, children, children)

    formulas = st.recursive(leaves | st.builds(E, leaves) | st.builds(sympy.tanh, leaves), combine, max_leaves=6)

    @settings(max_examples=25, deadline=None)
    @given(formulas)
    def run(chain):
        from microgrid.symbolic import Budget

        definitions = {a: sympy.tanh(x) + 1, b: E(x) / (1 + E(x))}
        shown = readable(chain, Budget(20), definitions=definitions)
        assert len(sympy.sstr(shown)) <= len(sympy.sstr(chain)) and sympy.count_ops(shown) <= sympy.count_ops(chain)
        # and it is the same function: definitions written out, at a point
        point = {x: 0.3, y: -0.7}
        difference = _written_out(shown - chain, definitions).subs(point)
        assert abs(complex(difference.evalf())) < 1e-9 or not difference.is_finite

    run()


def test_a_sum_of_path_products_is_not_traded_for_a_longer_factored_line():
    """A 2-2-1 tanh network's dC/dx_0: factoring pulls 2*(a - y)*(1 - a**2) out but expands both (1 - h**2) and
    repeats every weight: fewer operations, yet printed longer.  The chain's sum of the two path products stays."""
    from microgrid.symbolic import Budget, symbol
    from microgrid.symbolic.simplify import readable

    a = symbol("a^(2)_0")
    paths = [
        2 * (a - y) * (1 - a**2) * symbol(f"w^(2)_0,{j}") * (1 - symbol(f"a^(1)_{j}") ** 2) * symbol(f"w^(1)_{j},0")
        for j in (0, 1)
    ]
    chain = sympy.Add(*paths, evaluate=False)
    factored = sympy.factor(chain)
    assert sympy.count_ops(factored) < sympy.count_ops(chain) and len(str(factored)) > len(str(chain))
    assert readable(chain, Budget(20)) == chain


w_, b_ = sympy.symbols("w b")
Z = w_ * x + b_  # the programs' z, written out
SOFTMAX_P1 = {s: E(z0) + E(z1) + E(z2), p1: E(z1) / (E(z0) + E(z1) + E(z2))}
DERIVED = [  # (program, wrt, the textbook's line, the forward written in sympy, the names written out)
    ("s = exp(z0) + exp(z1) + exp(z2); p1 = exp(z1)/s; C = -log(p1)", z1, "p1 - 1", -sympy.log(SOFTMAX_P1[p1]),
     SOFTMAX_P1),
    ("z = w*x + b; C = -y*log(sigmoid(z)) - (1 - y)*log(1 - sigmoid(z))", w_, "(sigmoid(z) - y)*x",
     -y * sympy.log(_sig(Z)) - (1 - y) * sympy.log(1 - _sig(Z)), {z: Z}),
    ("z = w*x + b; p = (tanh(z) + 1)/2; C = -y*log(p) - (1 - y)*log(1 - p)", w_, "2*(p - y)*x",
     -y * sympy.log((sympy.tanh(Z) + 1) / 2) - (1 - y) * sympy.log(1 - (sympy.tanh(Z) + 1) / 2),
     {p: (sympy.tanh(Z) + 1) / 2, z: Z}),
    ("z = w*x + b; a = relu(z); C = (a - y)**2", w_, "2*(a - y)*step(z)*x", (sympy.Max(0, Z) - y) ** 2,
     {sympy.Symbol("a"): sympy.Max(0, Z), z: Z}),
]  # fmt: skip


@pytest.mark.parametrize("source, wrt, textbook, forward, names", DERIVED)
def test_derive_shows_the_textbook_form(source, wrt, textbook, forward, names):
    """The last line of `derive` as a textbook prints it, and equal to sympy's derivative of the forward."""
    from microgrid.symbolic import sigmoid
    from microgrid.symbolic.chainrule import derive
    from microgrid.symbolic.parsing import program

    d = derive(program(source)["C"], str(wrt))
    assert str(d).splitlines()[-1].split("= ", 1)[-1] == textbook
    shown = d.steps[-1].result.value.subs(names).subs(sigmoid(Z), _sig(Z))
    for point in ({w_: 0.7, x: 1.3, b_: -0.2, y: 0.25, z0: 0.1, z1: -0.4, z2: 0.9},
                  {w_: -0.5, x: 0.8, b_: 0.1, y: 0.75, z0: -1.0, z1: 0.3, z2: 0.2}):  # fmt: skip
        expected = sympy.diff(forward, wrt).subs(point).evalf()
        assert abs(float(shown.subs(point).evalf()) - float(expected)) < 1e-9


def test_on_random_programs_each_simplified_line_reads_no_worse_than_the_line_it_simplifies():
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    from microgrid.symbolic.chainrule import derive
    from microgrid.symbolic.parsing import program

    activation = st.sampled_from(["tanh(z)", "sigmoid(z)", "relu(z)", "exp(z)", "(tanh(z) + 1)/2", "z**2"])
    loss = st.sampled_from(["(a - y)**2", "-y*log(a) - (1 - y)*log(1 - a)", "a*y", "(a - y)**2/2"])
    hidden = st.sampled_from([
        "h = x; ", "h = tanh(u*x + c); ", "h = sigmoid(u*x + c); ",
        "g1 = tanh(u*x + c); g2 = tanh(v*x + d); h = s1*g1 + s2*g2; ",
        "a^(1)_0 = tanh(w^(1)_0,0*x); a^(1)_1 = tanh(w^(1)_1,0*x); h = w^(2)_0,0*a^(1)_0 + w^(2)_0,1*a^(1)_1; ",
    ])  # fmt: skip

    @settings(max_examples=20, deadline=None)
    @given(hidden, activation, loss)
    def run(first, f, cost):
        source = f"{first}z = w*h + b; a = {f}; C = {cost}"
        try:
            output = program(source)["C"]
        except ValueError:  # log of a negative number at the program's default values
            assume(False)
        d = derive(output, "x", budget=20)
        for lines in [step.result.lines for step in d.steps if len(step.result.lines) > 1]:
            shown, chain = lines[-1], lines[-2]  # the simplified line, and the one it simplifies
            assert len(sympy.sstr(shown)) <= len(sympy.sstr(chain)), (source, lines)
            assert sympy.count_ops(shown) <= sympy.count_ops(chain), (source, lines)
            simplified.append(shown)

    simplified: list = []
    run()
    assert simplified  # some lines were simplified: the bound was tested
