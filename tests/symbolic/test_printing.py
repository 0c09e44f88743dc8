"""microgrid.symbolic.printing: formulas and verdicts as text and LaTeX in the textbook's names."""

import sympy
from seed_graphs import seed000_graph

from microgrid import Value
from microgrid.symbolic import Budget, check, latex, sigmoid, symbol


def test_verdict_displays():
    L = seed000_graph()
    wide = Budget(60)  # a loaded machine must not turn the proof into "unproven"
    good, bad = check("A - y", L, "Z", budget=wide), check("A", L, "Z", budget=wide)
    assert str(good).startswith("correct")
    assert good._repr_latex_().startswith("$") and r"\partial" in good._repr_latex_()
    assert "incorrect" in bad._repr_latex_()


def test_latex_uses_the_textbook_names():
    e = symbol("w^(2)_1,0") * symbol("A_prev") + symbol("w^(L)")
    text = latex(e)
    assert "w^{(2)}_{1,0}" in text and "A_{prev}" in text and "w^{(L)}" in text
    assert r"\sigma" in latex(sigmoid(symbol("z")))


def test_verdict_latex_is_valid_for_every_outcome():
    from latex_validity import assert_valid_latex

    L = seed000_graph()
    incorrect = check("A*(1 - A)*(A - y)", L, "W")  # counterexample names A_prev: an underscore
    assert incorrect.counterexample is not None
    tiny = check("A - y + 1e-30", L, "Z")  # the gap in scientific notation
    x = Value(0.5, label="x_1")
    out = x.relu() * x
    out.label = "y^(2)"
    unproven = check("2*relu(x_1)", out, x)
    correct = check("A - y", L, "Z")
    for verdict in (incorrect, tiny, unproven, correct):
        tex = verdict._repr_latex_()
        assert_valid_latex(tex)
        assert verdict.status in tex
    assert "A_{prev} = " in incorrect._repr_latex_()
    assert r"10^{-30}" in tiny._repr_latex_()


def test_a_counterexample_never_shows_a_near_one_as_one():
    from microgrid.symbolic import Counterexample

    text = str(Counterexample({"A": 1 - 5e-11, "y": 1.0}, 0.5, 0.25))
    assert "A = 0.99999999995" in text and "y = 1:" in text


def test_a_verdict_with_an_exact_number_beyond_pythons_printing_limit_still_shows():
    """exp(2000*log(1000*A)) is 1000**2000 A**2000: 6,001 digits, past the 4,300
    Python will print; the verdict shows it rounded instead of failing.  (Typed,
    the claim is kept as written; given as sympy, it is already built.)"""
    from microgrid.symbolic import chainrule

    d = chainrule.get("sigmoid-cross-entropy")
    assert "kept as written" in str(check("exp(2000*log(1000*A))", d.output, "Z"))
    built = sympy.exp(2000 * sympy.log(1000 * sympy.Symbol("A", positive=True)))
    verdict = check(built, d.output, "Z")
    assert verdict.status == "incorrect"
    shown = str(verdict)
    assert "1.0e+6000" in shown and len(shown) < 2000
    assert "1.0 \\cdot 10^{6000}" in verdict._repr_latex_()


def test_relu_step_and_short_decimals_print_as_a_textbook_writes_them():
    from microgrid.symbolic.printing import text

    z, x = sympy.symbols("z x")
    assert text(2 * sympy.Max(0, z)) == "2*relu(z)" and text(x * sympy.Heaviside(z, 0)) == "x*step(z)"
    assert latex(sympy.Heaviside(z, 0)) == r"\mathbf{1}\left[z > 0\right]"
    assert text(sympy.Rational(851, 500) * x) == "1.702*x" and text(sympy.Rational(851, 500)) == "1.702"
    assert text(sympy.Rational(3, 2) * x) == "3*x/2" and text(sympy.Rational(1, 3) * x) == "x/3"
    assert float(sympy.Rational(851, 500)) == 1.702  # (the value shown is the exact one)
    assert text(sympy.Rational(10**15 - 1, 5**15)) == "999999999999999/30517578125"  # 32767.999999999967232: no float
    a, y = sympy.symbols("a y")
    as_built = sympy.Mul(sympy.Rational(851, 250), a - y, a, x, evaluate=False)  # no parentheses around a product
    assert text(as_built, order="none") == "3.404*(a - y)*a*x"
    for m in (sympy.Max(x, a, z), sympy.Max(1, z)):  # not relu: as sympy writes it
        assert text(m) == sympy.sstr(m) and latex(m) == sympy.latex(m)
