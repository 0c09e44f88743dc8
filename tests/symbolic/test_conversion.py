"""microgrid.symbolic.conversion: graphs as sympy formulas, the engine's derivatives (`diff`), numbers as typed.

References are independent of the code under test: formulas written by hand in sympy and
differentiated by `sympy.diff`, Python's own numbers, and the float engine.  relu's derivative at
exactly 0 is the engine's step(z) = 1 if z > 0 else 0; the reference there is sympy's Piecewise.
"""

import math
import random
from fractions import Fraction

import pytest
import sympy
from seed_graphs import seed000_graph

import microgrid
from microgrid import MLP, Value, backprop_equations
from microgrid.engine import grad
from microgrid.symbolic import check, diff, latex, sigmoid, symbol, to_sympy
from microgrid.symbolic.chainrule import derive
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.conversion import definitions, number
from microgrid.symbolic.parsing import program
from microgrid.symbolic.precise import evaluate
from microgrid.symbolic.printing import text

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
        signal = [
            act(sum(weights[w] * x for w, x in zip(n.w, signal, strict=True)) + weights[n.b]) for n in layer.neurons
        ]
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


x_ = sympy.Symbol("x")


@pytest.mark.parametrize(
    "constant, exact",
    [
        ("1e23", sympy.Integer(10) ** 23),
        ("1e100", sympy.Integer(10) ** 100),
        ("2**60", sympy.Integer(2) ** 60),
        ("123456789012345678901", sympy.Integer(123456789012345678901)),
        ("1/3", sympy.Rational(1, 3)),
        ("1/123456789", sympy.Rational(1, 123456789)),
        ("1.5e-100", sympy.Rational(15, 10**101)),
        ("0.1", sympy.Rational(1, 10)),
    ],
)
def test_a_programs_constant_means_what_was_typed_on_both_sides(constant, exact):
    p = program(f"z = w*x; C = {constant}*z")
    assert sympy.simplify(to_sympy(p.output, expand=True) - exact * sympy.Symbol("w") * x_) == 0
    (verdict,) = check_lines(p.output, "w", [f"{constant}*x"])
    assert verdict.status == "correct", verdict
    assert check(f"{constant}*x", p.output, "w").status == "correct"


def test_the_issue_example_through_the_command_line(capsys):
    from microgrid.cli import main

    assert main(["check", "z = w*x; C = 1e23*z", "--wrt", "w", "1e23*x"]) == 0
    assert capsys.readouterr().out.startswith("correct")


def test_numbers_that_differ_exactly_are_still_told_apart():
    p = program("z = w*x; C = 2**60*z")
    assert float(2**60) == float(1152921504606847000)  # one float, two numbers
    assert check("1152921504606847000*x", p.output, "w").status == "incorrect"
    assert check("1e23*x", program("z = w*x; C = 99999999999999991611392*z").output, "w").status == "incorrect"


def test_a_float_in_python_means_its_shortest_decimal():
    # What a Value holds is a float; the decimal it was typed as is the shortest that rounds to it.
    for typed in ("1e23", "1e100", "2.5e30", "1e-30", "0.1", "3.0"):
        assert number(float(typed)) == sympy.Rational(Fraction(typed).numerator, Fraction(typed).denominator)
    w = Value(0.5, label="w")
    out = 1e23 * w
    out.label = "C"
    assert check("1e23", out, w).status == "correct"


def test_e_from_exp_of_a_constant_is_exact():
    p = program("C = exp(1)*x")
    assert to_sympy(p.output, expand=True) == sympy.E * x_


@pytest.mark.parametrize(
    "constant, shown, tex",
    [
        ("1e23", "1e23", "10^{23}"),
        ("1e100", "1e100", "10^{100}"),
        ("2.5e30", "2.5e30", r"2.5 \cdot 10^{30}"),
        ("1e-30", "1e-30", "10^{-30}"),
    ],
)
def test_derive_prints_a_number_as_it_was_typed(capsys, constant, shown, tex):
    from microgrid.cli import main

    assert main(["derive", f"z = w*x; C = {constant}*z", "--wrt", "w"]) == 0
    out = capsys.readouterr().out
    assert f"C = {shown}*z" in out and f"= {shown}*x" in out
    assert max(len(word) for word in out.replace("*", " ").split()) < 30  # no 24- or 101-digit numbers
    assert main(["derive", f"z = w*x; C = {constant}*z", "--wrt", "w", "--latex"]) == 0
    assert tex in capsys.readouterr().out
    assert text(number(float(constant)) * x_) == f"{shown}*x"
    assert tex in latex(number(float(constant)) * x_)


def test_numbers_typed_as_integers_print_in_full():
    assert text(sympy.Integer(2) ** 60 * x_) == "1152921504606846976*x"
    assert text(sympy.Integer(1000) * x_) == "1000*x" and text(sympy.Rational(1, 10) * x_) == "x/10"


z_ = sympy.Symbol("z")


STEP = sympy.Piecewise((1, z_ > 0), (0, True))  # the engine's step, written independently


def _value(expr, p):
    point = {symbol(n): v.data for n, v in p.items() if v.op == ""}
    return evaluate(expr, point, definitions=definitions(p.output))


@pytest.mark.parametrize("w, b", [(0.0, 0.0), (1.5, -1.5), (-2.0, 2.0)])
def test_the_derivative_formula_at_the_kink_is_the_engines(w, b):
    p = program("z = w + b; a = relu(z); C = a*y", at={"w": w, "b": b, "y": 0.7})
    assert p["z"].data == 0.0  # exactly at the kink
    engine = grad(p.output, [p["b"]])[0]
    assert engine == 0.7 * float(STEP.subs(z_, 0)) == 0.0
    assert _value(diff(p.output, "b", simplify=False), p) == engine
    assert _value(diff(p.output, "b"), p) == engine
    final = derive(p.output, "b").steps[-1].result.lines[-1]
    assert _value(final, p) == engine


def test_the_issue_claim_is_not_called_incorrect_at_the_kink(capsys):
    from microgrid.cli import main

    argv = [
        "check",
        "z = w + b; a = relu(z); C = a*y",
        "--wrt",
        "b",
        "--at",
        "w=0",
        "b=0",
        "y=0.7",
        "--",
        "y*relu(1 - relu(1 - 1e100*z))",
    ]
    status = main(argv)
    out = capsys.readouterr().out
    assert "true 0.35" not in out and status != 1, out


def test_a_claim_that_is_right_everywhere_but_at_the_kink_is_incorrect_there():
    p = program("z = w + b; a = relu(z); C = a*y", at={"w": 0.0, "b": 0.0, "y": 0.7})
    verdict = check("y", p.output, "b")
    assert verdict.status == "incorrect"  # y at z = 0, where the engine says 0
    assert verdict.counterexample.point["z"] == 0.0 and verdict.counterexample.true == 0.0


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_relu_network_with_a_unit_exactly_at_its_kink_verifies(seed):
    model = MLP(1, [1, 1], activation="relu", output_activation="relu", seed=seed)
    assert backprop_equations(model).verify() > 0


def test_the_issue_mlp_through_the_command_line(capsys):
    from microgrid.cli import main

    assert (
        main(["derive", "mlp", "1", "1", "1", "--activation", "relu", "--output-activation", "relu", "--seed", "1"])
        == 0
    )
    assert "verified" in capsys.readouterr().out


def test_the_relu_derivative_of_a_python_graph_is_the_step():
    x = Value(0.0, label="x")
    out = x.relu() * 3
    out.label = "f"
    formula = diff(out, x, simplify=False)
    reference = 3 * STEP.subs(z_, symbol("x"))
    for at in (-1.0, 0.0, 2.0):
        assert evaluate(formula, {symbol("x"): at}) == float(reference.subs(symbol("x"), at))
