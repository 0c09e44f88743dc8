"""microgrid.symbolic: conversion, the engine's derivatives as formulas, and the checker.

References are independent of the code under test: formulas written by hand
in sympy and differentiated by `sympy.diff`, and the float engine.
"""

import math
import random
import subprocess
import sys

import pytest
import sympy

import microgrid
from microgrid import Value
from microgrid.symbolic.parsing import ExpressionError
from microgrid.symbolic import Verdict, check, diff, latex, sigmoid, symbol, tidy, to_sympy

A, Z, W, b, y, A_prev = sympy.symbols("A Z W b y A_prev")


def numerically_equal(e1, e2, symbols, trials=5, seed=0, low=-1.5, high=1.5):
    """e1 == e2 at random points (both written with the same symbols)."""
    rng = random.Random(seed)
    for _ in range(trials):
        point = {s: sympy.Float(rng.uniform(low, high), 30) for s in symbols}
        v1 = complex(sympy.N(e1.xreplace(point).rewrite(sympy.exp), 25))
        v2 = complex(sympy.N(e2.xreplace(point).rewrite(sympy.exp), 25))
        if abs(v1 - v2) > 1e-9 * (1 + abs(v2)):
            return False
    return True


def seed000_graph(W0=0.7, b0=-0.2, x0=1.3, y0=0.4):
    Wv, bv, xv, yv = Value(W0, label="W"), Value(b0, label="b"), Value(x0, label="A_prev"), Value(y0, label="y")
    Zv = Wv * xv + bv
    Zv.label = "Z"
    Av = Zv.sigmoid()
    Av.label = "A"
    Lv = -yv * Av.log() - (1 - yv) * (1 - Av).log()
    Lv.label = "L"
    return Lv


# ------------------------------------------------------------ to_sympy
def test_labelled_nodes_are_symbols_and_unlabelled_leaves_numbers():
    x = Value(2.0, label="x")
    h = (x * 0.5 + 3.0).tanh()
    h.label = "h"
    out = h**2 - 1.0 / h
    assert to_sympy(out) == symbol("h") ** 2 - 1 / symbol("h")
    assert to_sympy(out, expand=True) == sympy.tanh(symbol("x") / 2 + 3) ** 2 - 1 / sympy.tanh(symbol("x") / 2 + 3)


def test_float_constants_become_exact_numbers():
    x = Value(1.0, label="x")
    e = to_sympy(0.5 * x + 2.0 * x**3 + 0.1)
    assert e == symbol("x") / 2 + 2 * symbol("x") ** 3 + sympy.Rational(1, 10)
    assert not e.atoms(sympy.Float)


@pytest.mark.parametrize(
    "build, reference",
    [
        (lambda u, v: u + v, lambda u, v: u + v),
        (lambda u, v: u - v, lambda u, v: u - v),
        (lambda u, v: u * v, lambda u, v: u * v),
        (lambda u, v: u / v, lambda u, v: u / v),
        (lambda u, v: -u, lambda u, v: -u),
        (lambda u, v: u**v, lambda u, v: u**v),
        (lambda u, v: u**3, lambda u, v: u**3),
        (lambda u, v: u**-0.5, lambda u, v: u ** sympy.Rational(-1, 2)),
        (lambda u, v: u.exp(), lambda u, v: sympy.exp(u)),
        (lambda u, v: u.log(), lambda u, v: sympy.log(u)),
        (lambda u, v: u.tanh(), lambda u, v: sympy.tanh(u)),
        (lambda u, v: u.sin(), lambda u, v: sympy.sin(u)),
        (lambda u, v: u.cos(), lambda u, v: sympy.cos(u)),
        (lambda u, v: u.relu(), lambda u, v: sympy.Max(0, u)),
    ],
)
def test_every_operation_converts(build, reference):
    u, v = Value(1.3, label="u"), Value(0.4, label="v")
    su, sv = symbol("u"), symbol("v")
    assert sympy.simplify(to_sympy(build(u, v)) - reference(su, sv)) == 0


def test_sigmoid_is_opaque_but_exact():
    x = Value(0.3, label="x")
    e = to_sympy(x.sigmoid())
    sx = symbol("x")
    assert e == sigmoid(sx)
    assert sympy.simplify(e.rewrite(sympy.exp) - 1 / (1 + sympy.exp(-sx))) == 0
    # its derivative agrees with sympy's derivative of the written-out form
    written = sympy.diff(1 / (1 + sympy.exp(-sx)), sx)
    assert numerically_equal(sympy.diff(e, sx), written, [sx])
    assert float(e.subs(sx, 0.3)) == pytest.approx(x.sigmoid().data, rel=1e-12)


def test_two_nodes_with_one_label_are_refused():
    x1, x2 = Value(1.0, label="x"), Value(2.0, label="x")
    with pytest.raises(ValueError, match="two different nodes are labelled 'x'"):
        to_sympy(x1 * x2)


def test_to_sympy_refuses_non_values():
    with pytest.raises(TypeError, match="expected a Value"):
        to_sympy(3.0)


# ---------------------------------------------------------------- diff
def test_seed000_results_with_intermediates_kept():
    L = seed000_graph()
    # exactly the seed's forms: structural equality with the formulas typed here
    assert diff(L, "A") == -y / A + (1 - y) / (1 - A)
    assert diff(L, "Z") == A - y
    assert diff(L, "W") == A_prev * (A - y)
    assert diff(L, "b") == A - y
    assert diff(L, "A_prev") == W * (A - y)
    # and they are the derivatives: sympy's own, of the loss written in A
    assert sympy.simplify(diff(L, "A") - sympy.diff(-y * sympy.log(A) - (1 - y) * sympy.log(1 - A), A)) == 0


def test_a_sum_of_fractions_stays_a_sum_unless_something_cancels():
    from microgrid.symbolic import simplify_gradient

    assert simplify_gradient(-y / A + (1 - y) / (1 - A)) == -y / A + (1 - y) / (1 - A)
    assert simplify_gradient(1 / A + 1 / W) == 1 / A + 1 / W
    # here the common denominator cancels: one fraction is shorter
    assert simplify_gradient(A / (A - y) - y / (A - y)) == 1
    assert simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A))) == A - y


def test_seed000_expanded_matches_sympy_of_the_written_out_forward():
    L = seed000_graph()
    Zf = W * A_prev + b
    Af = 1 / (1 + sympy.exp(-Zf))
    Lf = -y * sympy.log(Af) - (1 - y) * sympy.log(1 - Af)
    for wrt in (W, b, A_prev, y):
        ours = diff(L, wrt.name, expand=True)
        assert numerically_equal(ours, sympy.diff(Lf, wrt), [W, b, A_prev, y], low=0.1, high=0.9), wrt


def test_sigmoid_derivative_reuses_its_output_symbol():
    x = Value(0.2, label="x")
    a = x.sigmoid()
    a.label = "a"
    assert diff(a, "x") == symbol("a") * (1 - symbol("a"))
    t = x.tanh()
    t.label = "t"
    assert sympy.expand(diff(t, "x") - (1 - symbol("t") ** 2)) == 0


@pytest.mark.parametrize(
    "forward, written",
    [
        (lambda x, w, c: (x * w + c).tanh() * x, lambda x, w, c: sympy.tanh(x * w + c) * x),
        (lambda x, w, c: (x * w).exp() / (1 + c * c), lambda x, w, c: sympy.exp(x * w) / (1 + c**2)),
        (lambda x, w, c: (x * x + w).log() - (c * x).sin(), lambda x, w, c: sympy.log(x**2 + w) - sympy.sin(c * x)),
        (lambda x, w, c: (x * w).cos() ** 3 + x**c, lambda x, w, c: sympy.cos(x * w) ** 3 + x**c),
        (lambda x, w, c: (w * x + c).sigmoid() * 0.5, lambda x, w, c: 1 / (2 * (1 + sympy.exp(-(w * x + c))))),
    ],
)
def test_diff_matches_sympy_diff_of_the_formula(forward, written):
    xs, ws, cs = sympy.symbols("x w c")
    x, w, c = Value(0.8, label="x"), Value(-0.6, label="w"), Value(1.1, label="c")
    out = forward(x, w, c)
    for var in (xs, ws, cs):
        ours = diff(out, var.name, expand=True)
        assert numerically_equal(ours, sympy.diff(written(xs, ws, cs), var), [xs, ws, cs], low=0.5, high=1.5), var


def test_relu_derivative_is_a_step_not_the_current_branch():
    x, w = Value(0.5, label="x"), Value(2.0, label="w")
    out = (x * w).relu() * x
    xs, ws = symbol("x"), symbol("w")
    ours = diff(out, "x", expand=True)
    assert ours.has(sympy.Heaviside)
    # sympy's own derivative of the written-out form, on both sides of the kink
    reference = sympy.diff(sympy.Max(0, xs * ws) * xs, xs)
    for xv, wv in [(0.5, 2.0), (0.5, -2.0), (-1.0, 3.0), (-1.0, -3.0)]:
        point = {xs: xv, ws: wv}
        assert float(ours.subs(point)) == pytest.approx(float(reference.subs(point)))
        # and the float engine agrees
        xv_, wv_ = Value(xv), Value(wv)
        assert microgrid.grad((xv_ * wv_).relu() * xv_, [xv_])[0] == pytest.approx(float(ours.subs(point)))


def test_relu_inside_other_operations():
    x, w = Value(0.5, label="x"), Value(2.0, label="w")
    r = (x * w).relu()
    r.label = "r"
    out = -((r**2).tanh() / (1 + r.exp())) * x
    xs, ws = symbol("x"), symbol("w")
    m = sympy.Max(0, xs * ws)
    reference = sympy.diff(-(sympy.tanh(m**2) / (1 + sympy.exp(m))) * xs, xs)
    ours = diff(out, "x", expand=True)
    for xv, wv in [(0.5, 2.0), (0.5, -2.0), (-0.7, 1.5)]:
        point = {xs: xv, ws: wv}
        assert float(ours.subs(point)) == pytest.approx(float(reference.subs(point)), rel=1e-12, abs=1e-15)
    assert diff(out, "r").has(symbol("r"))  # the intermediate keeps its name


def test_diff_with_respect_to_an_intermediate_and_by_identifier():
    x = Value(0.3, label="x")
    w = Value(1.2, label="w^(2)_1,0")
    z = w * x
    z.label = "z"
    out = z * z
    assert diff(out, z) == 2 * symbol("z")
    assert diff(out, "w2_1_0") == 2 * symbol("z") * symbol("x")


def test_diff_of_something_the_output_does_not_use_is_zero_and_unknown_label_errors():
    x, u = Value(0.3, label="x"), Value(1.0, label="u")
    out = x * x
    assert diff(out, u) == 0
    with pytest.raises(ValueError, match="no node labelled 'q'"):
        diff(out, "q")


def test_no_float_leaks_into_results():
    x = Value(0.7, label="x")
    d = diff(0.5 * x * x + 0.25 * x, "x")
    assert d == symbol("x") + sympy.Rational(1, 4)


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


# --------------------------------------------------------------- check
def test_check_correct_claims_in_several_spellings():
    L = seed000_graph()
    for claim in ["A - y", "sigmoid(Z) - y", "-y*(1 - A) + (1 - y)*A", A - y, sympy.Symbol("A") - sympy.Symbol("y")]:
        verdict = check(claim, L, "Z")
        assert isinstance(verdict, Verdict)
        assert verdict.correct and bool(verdict), claim
        assert verdict.counterexample is None
    assert check("(A - y)*A_prev", L, "W").correct
    assert check("sigmoid(W*A_prev + b) - y", L, "Z").method == "symbolic"


def test_check_incorrect_claim_gives_a_true_counterexample():
    L = seed000_graph()
    verdict = check("A*(1 - A)*(A - y)", L, "W")
    assert not verdict.correct
    ce = verdict.counterexample
    assert ce is not None
    # the true value at the counterexample point, from the float engine (rebuilt at that point)
    leaves = {k: ce.point[k] for k in ("W", "b", "A_prev", "y")}
    rebuilt = seed000_graph(leaves["W"], leaves["b"], leaves["A_prev"], leaves["y"])
    W_node = [n for n in microgrid.engine.topological_order(rebuilt) if n.label == "W"][0]
    assert ce.true == pytest.approx(microgrid.grad(rebuilt, [W_node])[0], rel=1e-9)
    # and the claimed value, by hand
    a = 1 / (1 + math.exp(-(leaves["W"] * leaves["A_prev"] + leaves["b"])))
    assert ce.claimed == pytest.approx(a * (1 - a) * (a - leaves["y"]), rel=1e-9)
    assert verdict.difference != 0
    text = str(verdict)
    assert "incorrect" in text and "counterexample" in text and "A_prev" in text
    assert "A_prev" in " ".join(verdict.notes)  # what the claim leaves out


def test_verdict_displays():
    L = seed000_graph()
    good, bad = check("A - y", L, "Z"), check("A", L, "Z")
    assert str(good).startswith("correct")
    assert good._repr_latex_().startswith("$") and r"\partial" in good._repr_latex_()
    assert "incorrect" in bad._repr_latex_()


def test_check_unknown_names_and_bad_input():
    L = seed000_graph()
    with pytest.raises(ExpressionError, match="unknown name q"):
        check("q * A", L, "Z")
    with pytest.raises(ValueError, match="unknown symbol"):
        check(sympy.Symbol("q"), L, "Z")
    with pytest.raises(TypeError):
        check(["A"], L, "Z")


@pytest.mark.parametrize(
    "claim",
    [
        "__import__('os').system('touch {path}')",
        "A.__class__",
        "open('{path}', 'w')",
        "(lambda: 1)()",
        "exec('1')",
        "Symbol('{path}')",
        "A; import os",
    ],
)
def test_claims_are_parsed_without_eval(claim, tmp_path, monkeypatch):
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    target = tmp_path / "hacked"
    L = seed000_graph()
    with pytest.raises(ExpressionError):
        check(claim.format(path=target), L, "Z")
    assert not calls and not target.exists()


def test_latex_uses_the_textbook_names():
    e = symbol("w^(2)_1,0") * symbol("A_prev") + symbol("w^(L)")
    text = latex(e)
    assert "w^{(2)}_{1,0}" in text and "A_{prev}" in text and "w^{(L)}" in text
    assert r"\sigma" in latex(sigmoid(symbol("z")))


def test_import_microgrid_does_not_import_sympy():
    code = "import sys, microgrid; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_diff_on_an_mlp_agrees_with_sympy_on_the_same_network():
    from microgrid.nn import MLP
    from microgrid.symbolic import evaluate

    model = MLP(2, [8, 8, 1], activation="tanh", seed=3)
    f = model([0.4, -0.9])
    values = {symbol(n.label): n.data for n in microgrid.engine.topological_order(f) if n.label}
    # The reference: the same network written in sympy here, from its weights, and sympy's own diff.
    weights = {p: sympy.Symbol(f"p{i}") for i, p in enumerate(model.parameters())}
    at = {s: p.data for p, s in weights.items()}
    signal = [sympy.Float(0.4), sympy.Float(-0.9)]
    for depth, layer in enumerate(model.layers, 1):
        act = sympy.tanh if depth < len(model.layers) else (lambda z: z)  # the output neuron is linear
        signal = [act(sum(weights[w] * x for w, x in zip(n.w, signal)) + weights[n.b]) for n in layer.neurons]
    for p in model.parameters()[::9]:
        expected = float(sympy.diff(signal[0], weights[p]).evalf(30, subs=at))
        assert evaluate(diff(f, p), values) == pytest.approx(expected, rel=1e-9, abs=1e-12), p.label


@pytest.mark.parametrize("x", [0.5, -2.0, 0.1, 123.456, 1 / 3, 0.001, math.pi, math.sqrt(2), 1e-20])
def test_constants_are_exact_or_keep_their_value(x):
    from microgrid.symbolic import number

    n = number(x)
    assert float(n) == x  # never a different number
    if x in (0.5, -2.0, 0.1, 123.456, 1 / 3, 0.001):
        assert n.is_Rational


# ------------------------------------------------- check: what it may call correct
@pytest.mark.parametrize(
    "claim",
    ["A - y + 1e-12", "(A - y)*(1 + 1e-8)", "A - y + 1e-8*A", "A - y + relu(W - 10)", "A - y + relu(W - 3)"],
)
def test_nearly_right_claims_are_incorrect(claim):
    L = seed000_graph()
    verdict = check(claim, L, "Z")
    assert verdict.correct is False and verdict.status == "incorrect" and not verdict
    ce = verdict.counterexample
    # the point is a real disagreement: the claim by hand (float arithmetic) against the float engine
    W_, b_, x_, y_ = (ce.point[k] for k in ("W", "b", "A_prev", "y"))
    a = 1 / (1 + math.exp(-(W_ * x_ + b_)))
    by_hand = {
        "A - y + 1e-12": a - y_ + 1e-12,
        "(A - y)*(1 + 1e-8)": (a - y_) * (1 + 1e-8),
        "A - y + 1e-8*A": a - y_ + 1e-8 * a,
        "A - y + relu(W - 10)": a - y_ + max(0.0, W_ - 10),
        "A - y + relu(W - 3)": a - y_ + max(0.0, W_ - 3),
    }[claim]
    assert ce.claimed == pytest.approx(by_hand, rel=1e-12)
    assert ce.true == pytest.approx(a - y_, rel=1e-12)
    assert ce.gap == pytest.approx(by_hand - (a - y_), rel=1e-3)  # claim - true, from 25 digits


def test_a_difference_too_small_to_sample_is_proved_nonzero():
    L = seed000_graph()
    verdict = check("A - y + 1e-30", L, "Z")
    assert verdict.status == "incorrect" and verdict.method == "symbolic"
    assert verdict.difference == sympy.Rational(1, 10**30)
    assert verdict.counterexample.gap == pytest.approx(1e-30)
    assert "(claim - true = 1e-30)" in str(verdict)


def test_numeric_agreement_alone_is_unproven_not_correct():
    x = Value(0.5, label="x")
    y = x.relu() * x
    y.label = "y"
    verdict = check("2*relu(x)", y, x)  # right (away from 0), but sympy cannot simplify Max - x*Heaviside
    assert verdict.correct is None and verdict.status == "unproven" and not verdict
    assert verdict.points_checked == 24 and verdict.counterexample is None
    xs = symbol("x")
    assert verdict.difference == sympy.Max(0, xs) - xs * sympy.Heaviside(xs, 0)  # step(0) = 0, as the engine
    assert str(verdict).startswith("unproven") and "24 points" in str(verdict)
    # and it is right: the float engine's derivative is 2 max(0, x) on both sides of 0
    for xv in (-1.5, -0.2, 0.3, 2.0):
        v = Value(xv)
        assert microgrid.grad(v.relu() * v, [v])[0] == pytest.approx(2 * max(0.0, xv))


def test_a_correct_claim_decided_with_the_definitions_shows_difference_0():
    L = seed000_graph()
    for claim in ["1/(1+exp(-Z)) - y", "sigmoid(Z) - y", "exp(-Z)/(1 + exp(-Z))**2 / (A*(1 - A)) * (A - y)"]:
        verdict = check(claim, L, "Z")
        assert verdict.status == "correct" and verdict.method == "symbolic", claim
        assert verdict.difference == 0, claim


def relu_graph(W0=0.8, x0=1.5, b0=-0.4, v0=2.0):
    W, x, b, v = Value(W0, label="W"), Value(x0, label="x"), Value(b0, label="b"), Value(v0, label="v")
    r = (W * x + b).relu()
    r.label = "r"
    out = r * v
    out.label = "out"
    return out


def test_relu_claims_correct_and_incorrect():
    out = relu_graph()
    assert check("relu(W*x + b)", out, "v").status == "correct"
    assert check("r", out, "v").status == "correct"
    wrong = check("v*x", out, "W")  # forgets that relu is flat below 0
    assert wrong.status == "incorrect"
    ce = wrong.counterexample.point
    assert ce["W"] * ce["x"] + ce["b"] < 0  # found where the step is 0
    rebuilt = relu_graph(ce["W"], ce["x"], ce["b"], ce["v"])
    W_node = next(n for n in microgrid.engine.topological_order(rebuilt) if n.label == "W")
    assert wrong.counterexample.true == microgrid.grad(rebuilt, [W_node])[0] == 0.0
    assert check("relu(W*x - b)", out, "v").status == "incorrect"


def test_claim_constants_are_exact():
    names = {"A": A, "y": y}
    from microgrid.symbolic import parse_claim

    assert parse_claim("(A - y)**(1/2)**2 + 1/3", names) == (A - y) ** sympy.Rational(1, 4) + sympy.Rational(1, 3)
    assert parse_claim("A*0.1", names) == A / 10
    assert not parse_claim("A/3 + 1e-12", names).atoms(sympy.Float)


@pytest.mark.parametrize(
    "claim",
    ["A - y + 1/0", "0**-1", "(-8)**(1/3)", "A/(y - y)", "log(0)", "exp(exp(exp(exp(1000))))*A", 10**1000, float("nan")],
)
def test_undefined_or_huge_claims_raise_expression_errors(claim):
    with pytest.raises(ExpressionError):
        check(claim, seed000_graph(), "Z")


def test_expensive_sympy_claims_are_decided_numerically():
    # A sympy expression is not parsed, so nothing bounds it before sympy's algebra: factor() of
    # these runs for minutes, the worker stops it, and the points decide. A generous timeout
    # proves it does not hang.
    code = (
        "import sympy; from microgrid import Value; from microgrid.symbolic import check\n"
        "Z = Value(0.3, label='Z'); y = Value(0.2, label='y'); A = Z.sigmoid(); A.label = 'A'\n"
        "L = (A - y) ** 2; L.label = 'L'\n"
        "a, b = sympy.symbols('A y')\n"
        "print(*(check(c, L, 'A').status for c in [a**999 + b**999, 10**1000 * a - a + b, (a + b) ** 200]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["incorrect", "incorrect", "incorrect"], done.stderr


def test_evaluate_keeps_its_accuracy_far_from_the_graph():
    from microgrid.symbolic import evaluate

    z = symbol("z")
    # 1 - sigmoid(100) = e^-100 / (1 + e^-100): 0 at a fixed 30 digits
    assert evaluate(1 - sigmoid(z), {z: 100.0}) == pytest.approx(math.exp(-100) / (1 + math.exp(-100)), rel=1e-12, abs=0)
    expected = math.exp(-60) / (1 + math.exp(-60)) ** 2  # sigmoid'(60), by hand
    assert evaluate(sigmoid(z) * (1 - sigmoid(z)), {z: 60.0}) == pytest.approx(expected, rel=1e-12, abs=0)
    assert evaluate(sympy.exp(sympy.exp(z)), {z: 1000.0}) is None  # beyond the floats


# ------------------------------------------------------------ displays
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


# ------------------------------------------------------------ bounded time
#: A correctness bound, not a benchmark: generous, since the machine is shared.
BOUND = 10.0


def timed_check(claim, derivation, wrt=None, **kw):
    from microgrid.symbolic import chainrule
    import time

    start = time.monotonic()
    verdict = chainrule.get(derivation).check(claim, wrt) if not kw else check(claim, **kw)
    return verdict, time.monotonic() - start


@pytest.mark.parametrize(
    "claim",
    [
        "exp(exp(exp(exp(exp(exp(A))))))",  # sympy.N at an unbounded working precision
        "exp(1000*exp(1000*exp(1000*Z)))",
        "(" * 48 + "A" + "*A + 1)" * 48,  # sympy.N re-evaluates each nesting level: exponential
        "log(" * 49 + "A" + ")" * 49,
    ],
)
def test_claims_that_hung_sympy_get_a_verdict_in_seconds(claim):
    verdict, seconds = timed_check(claim, "sigmoid-cross-entropy")
    assert seconds < BOUND
    assert verdict.status == "incorrect"
    # The claim's value at the counterexample, by Python floats (independent of sympy):
    point = verdict.counterexample.point
    try:
        by_hand = eval(claim, {"exp": math.exp, "log": math.log}, dict(point))  # noqa: S307 (our own text)
    except OverflowError:  # beyond the floats, as the checker says
        assert math.isinf(verdict.counterexample.claimed)
    except ValueError:  # math.log of a negative number: the checker's value is complex
        assert isinstance(verdict.counterexample.claimed, complex)
    else:
        assert verdict.counterexample.claimed == pytest.approx(by_hand, rel=1e-9)


def test_power_of_a_sum_of_six_symbols_is_decided_in_seconds():
    # factor() of (a0_0 + ... + w1_1_1)**6 - (the engine's formula) runs for minutes.
    claim = "(a0_0 + a0_1 + w1_0_0 + w1_0_1 + w1_1_0 + w1_1_1)**6"
    verdict, seconds = timed_check(claim, "two-layer-network")
    assert seconds < BOUND
    assert verdict.status == "incorrect"
    ce = verdict.counterexample
    s = sum(ce.point[k] for k in ("a^(0)_0", "a^(0)_1", "w^(1)_0,0", "w^(1)_0,1", "w^(1)_1,0", "w^(1)_1,1"))
    assert ce.claimed == pytest.approx(s**6, rel=1e-9)


def test_a_correct_claim_past_the_budget_is_unproven_with_the_reason():
    from microgrid.symbolic import Budget

    from microgrid.symbolic import chainrule

    d = chainrule.get("two-layer-network")
    claim = "sigmoid(sigmoid(w1_0_0*a0_0 + w1_0_1*a0_1)*w2_0_0 + sigmoid(w1_1_0*a0_0 + w1_1_1*a0_1)*w2_0_1)"
    assert d.check(claim, "w3_0_0").correct  # proved, given the default budget
    verdict = check(claim, d.output, "w3_0_0", aliases=d.aliases, budget=Budget(seconds=0.01))
    assert verdict.status == "unproven"
    assert any("time budget" in note for note in verdict.notes), verdict.notes
    assert "time budget" in str(verdict)


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


def test_counterexamples_lie_where_the_network_is_defined():
    """Far from the graph's values Z can be 94, where the float A is 1.0 and
    log(1 - A) is undefined: no counterexample may be drawn there."""
    from microgrid.symbolic import chainrule

    d = chainrule.get("sigmoid-cross-entropy")
    claims = ["A - y + relu(Z - 20)", "A - y + relu(W - 10)", "A - y + relu(b - 15)", "A - y + relu(A_prev - 12)"]
    found = 0
    for claim in claims:
        for seed in range(4):
            verdict = check(claim, d.output, "Z", seed=seed)
            if verdict.counterexample is None:
                continue
            found += 1
            p = verdict.counterexample.point
            z = p["W"] * p["A_prev"] + p["b"]
            a = 1 / (1 + math.exp(-z))
            assert 0.0 < a < 1.0, p
            -p["y"] * math.log(a) - (1 - p["y"]) * math.log(1 - a)  # defined: does not raise
    assert found >= 8


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


def test_a_claim_holding_an_integer_of_millions_of_bits_gets_a_verdict_in_seconds():
    """exp(1000*log(1000*exp(1000*log(1000*W)))) is 1000**1001000 W**1000000 once
    sympy has built it (quick in C; one level more, minutes): it is kept as
    written, evaluated with numbers, and found incorrect."""
    import time

    from microgrid.symbolic import chainrule

    d = chainrule.get("sigmoid-cross-entropy")
    start = time.monotonic()
    verdict = check("exp(1000*log(1000*exp(1000*log(1000*W))))", d.output, "Z")
    assert time.monotonic() - start < 20  # a bound on the time, not a benchmark: sympy's algebra would take minutes
    assert verdict.status == "incorrect" and verdict.counterexample is not None
    assert "kept as written" in str(verdict)


def test_precise_reads_a_rational_from_its_leading_bits():
    import mpmath

    from microgrid.symbolic.precise import rational

    ctx = mpmath.MPContext()
    ctx.prec = 80
    p, q = 3**5000 + 1, 7**4000
    exact = mpmath.mpf(p) / q  # mpmath's own conversion, at 53 bits, as the reference
    assert abs(rational(ctx, p, q) / exact - 1) < 1e-15
    assert rational(ctx, -(10**40), 3) == ctx.mpf(-(10**40)) / 3
