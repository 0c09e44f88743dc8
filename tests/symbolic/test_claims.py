"""microgrid.symbolic.claims: a claim read without eval, its numbers exact, its names as Python reads them.

Names mean one thing everywhere: as Python reads them (NFKC), never two nodes at once, and ``e`` is Euler's number
unless a program assigns it.  Every expected derivative is sympy's, of the formula written out here."""

import math
import unicodedata

import pytest
import sympy
from seed_graphs import seed000_graph

import microgrid.symbolic
from microgrid import Value
from microgrid.cli import main
from microgrid.names import NameLookupError
from microgrid.symbolic import check, parse_claim
from microgrid.symbolic.chainrule import derive
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.claims import claim_expression
from microgrid.symbolic.parsing import ExpressionError, ProgramError, program
from microgrid.symbolic.simplify import readable
from microgrid.symbolic.worker import Budget

A, y = sympy.symbols("A y")


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


def test_claim_constants_are_exact():
    names = {"A": A, "y": y}

    assert parse_claim("(A - y)**(1/2)**2 + 1/3", names) == (A - y) ** sympy.Rational(1, 4) + sympy.Rational(1, 3)
    assert parse_claim("A*0.1", names) == A / 10
    assert not parse_claim("A/3 + 1e-12", names).atoms(sympy.Float)


x_, y_, z_, w_ = sympy.symbols("x y z w")


@pytest.mark.parametrize("typed", ["𝑧", "ﬁ", "ｚ", "ℨ"])
def test_a_compatibility_character_on_the_left_is_the_name_python_reads_on_the_right(typed):
    name = unicodedata.normalize("NFKC", typed)
    assert name != typed  # the point of the test: Python reads `typed` as `name`
    p = program(f"{typed} = 2*x; C = {typed}*x", at={"x": 0.75})
    assert list(p) == ["x", name, "C"] and p.output.data == pytest.approx(2 * 0.75**2)
    reference = sympy.diff((2 * x_) * x_, x_)  # 4x: the program is one graph, not two variables
    d = derive(p.output, "x")
    final = d.results[-1].lines[-1] if d.results else d.steps[-1].result.lines[-1]
    assert sympy.simplify(final.subs(sympy.Symbol(name), 2 * x_) - reference) == 0
    verdicts = check_lines(p.output, "x", [name, typed, "4*x"])
    assert [v.status for v in verdicts] == ["incorrect", "incorrect", "correct"]


def test_the_issue_examples_through_the_command_line(capsys):
    assert main(["derive", "𝑧 = 2*x; C = 𝑧*x", "--wrt", "x"]) == 0
    out = capsys.readouterr().out
    assert "dC/dx = z" not in out and "z = 2*x" in out
    assert main(["check", "ﬁ = 2*x; C = ﬁ*x", "--wrt", "x", "fi"]) == 1
    assert capsys.readouterr().out.startswith("incorrect")
    assert main(["check", "ﬁ = 2*x; C = ﬁ*x", "--wrt", "x", "4*x"]) == 0


def test_wrt_and_at_are_read_as_python_reads_names():
    p = program("ﬁ = 2*x; C = ﬁ*𝑥", at={"𝑥": 0.5})
    assert p["x"].data == 0.5
    assert check_lines(p.output, "ﬁ", ["x"])[0].status == "correct"
    assert check_lines(p.output, "𝑥", ["fi + 2*x"])[0].status == "correct"
    assert derive(p.output, "ｘ").main == ("C", "x")


def test_a_label_given_in_python_is_found_by_either_spelling_in_a_claim():
    fi = Value(0.5, label="ﬁ")
    out = fi * fi
    out.label = "C"
    assert check("2*fi", out, fi).status == "correct"
    assert check("2*ﬁ", out, fi).status == "correct"


def test_a_name_python_does_not_accept_is_refused_on_either_side():
    with pytest.raises(ExpressionError):
        program("f = x₁*2")
    with pytest.raises(ProgramError, match="left side"):
        program("x₁ = 2*x; C = x₁*x")


@pytest.mark.parametrize("claim", ["x_y**2", "2*x_y"])
def test_a_claim_name_that_could_mean_two_nodes_is_refused(claim):
    a, b = Value(2.0, label="x_y"), Value(3.0, label="x y")
    c = a * b * b
    c.label = "C"
    with pytest.raises(NameLookupError, match=r"'x_y' is ambiguous.*x_y.*x y"):
        check(claim, c, a)
    with pytest.raises(NameLookupError, match="ambiguous"):
        check_lines(c, "x_y", [claim])
    with pytest.raises(NameLookupError, match="ambiguous"):
        check(sympy.Symbol("x_y") ** 2, c, a)


def test_a_claim_without_the_ambiguous_name_is_checked():
    a, b = Value(2.0, label="x_y"), Value(3.0, label="x y")
    c = 2 * a + b
    c.label = "C"
    assert check("2", c, a).status == "correct" and check("3", c, a).status == "incorrect"


def test_e_never_assigned_is_eulers_number():
    p = program("a = 1/(1 + e**(-z))", at={"z": 0.3})
    assert "e" not in p and list(p) == ["z", "a"]
    assert p["a"].data == pytest.approx(1 / (1 + math.exp(-0.3)), rel=1e-15)
    reference = sympy.diff(1 / (1 + sympy.exp(-z_)), z_)
    lines = ["a*(1 - a)", "exp(-z)/(1 + exp(-z))**2", "e**(-z)/(1 + e**(-z))**2", str(reference)]
    assert [v.status for v in check_lines(p.output, "z", lines)] == ["correct"] * 4
    assert check_lines(p.output, "z", ["e"])[0].status == "incorrect"


def test_e_in_a_claim_is_eulers_number_where_no_node_is_named_e():
    p = program("C = exp(2*x)", at={"x": 0.1})
    assert check_lines(p.output, "x", ["2*e**(2*x)"])[0].status == "correct"


def test_pi_is_the_number_too():
    p = program("C = sin(pi*x)", at={"x": 0.25})
    assert "pi" not in p and p.output.data == pytest.approx(math.sin(math.pi / 4), rel=1e-15)
    reference = sympy.diff(sympy.sin(sympy.pi * x_), x_)
    assert [v.status for v in check_lines(p.output, "x", [str(reference), "cos(pi*x)"])] == ["correct", "incorrect"]


def test_e_assigned_is_the_programs_own_and_the_output_says_so(capsys):
    p = program("e = 2*x; C = e*x", at={"x": 0.5})
    assert p["e"].data == 1.0
    (verdict,) = check_lines(p.output, "x", ["e + 2*x"])
    assert verdict.status == "correct"
    assert any("e is the node e" in note and "not Euler" in note for note in verdict.notes)
    (verdict,) = check_lines(p.output, "x", ["4*x"])  # no e typed, but the engine's derivative shows one
    assert verdict.status == "correct" and any("not Euler" in note for note in verdict.notes)
    derivation = derive(p.output, "x")
    assert any("not Euler" in note for note in derivation.notes) and "not Euler" in str(derivation)
    assert main(["check", "e = 2*x; C = e*x", "--wrt", "x", "e + 2*x"]) == 0
    assert "not Euler" in capsys.readouterr().out


def test_a_value_for_e_where_e_is_eulers_number_is_refused():
    with pytest.raises(ProgramError, match="Euler"):
        program("C = e*x", at={"e": 0.5})
    with pytest.raises(ProgramError, match="used before it is assigned"):
        program("y = e*x; e = 3*x; C = y*e")


# ---------------------------------------------------------------- textbook notation, LaTeX and held partials
def _sig(t):
    return 1 / (1 + sympy.exp(-t))


w, x, b, u, v = sympy.symbols("w x b u v")
NET = "z = w*x + b; a = {f}(z); C = (a - y)**2"
# Each program, its output as sympy writes it in the leaves, and the variable.
SIGMOID = (NET.format(f="sigmoid"), (_sig(w * x + b) - y) ** 2, "w")
TANH = (NET.format(f="tanh"), (sympy.tanh(w * x + b) - y) ** 2, "w")
RELU = (NET.format(f="relu"), (sympy.Max(0, w * x + b) - y) ** 2, "w")
W, A, B = sympy.symbols("w^(L) a^(L-1) b^(L)")
TEXTBOOK = ("z^(L) = w^(L) a^(L-1) + b^(L); a^(L) = σ(z^(L)); C_0 = (a^(L) - y)^2", (_sig(W * A + B) - y) ** 2, "w^(L)")
SOFTPLUS = (r"C = \ln(1 + e^{w x})", sympy.log(1 + sympy.exp(w * x)), "w")
POWER = ("C = w^3 x + (w^2 + 1)^(1/2)", w**3 * x + sympy.sqrt(w**2 + 1), "w")
HELD = ("m = u*v; L = m*u", u * v * u, "u")
SPELLINGS = [
    (SIGMOID, "2(a − y)·σ'(z)·x"),
    (SIGMOID, "2*(a - y)*sigma'(z)*x"),
    (SIGMOID, "2(a-y) sigmoid'(z) x"),
    (SIGMOID, "2(a - y)σ(z)(1 - σ(z))x"),
    (SIGMOID, "2(a − y)×a(1 − a)×x"),
    (SIGMOID, "2(a − y)·e^(-z)/(1 + e^(-z))²·x"),
    (SIGMOID, "2(a-y) exp(-z)/(1+exp(-z))^2 x"),
    (SIGMOID, "dC/da · σ′(z) · x"),
    (SIGMOID, "∂C/∂a·a(1−a)·x"),
    (SIGMOID, "dC/da * da/dz * dz/dw"),
    (SIGMOID, r"2\left(a - y\right) \sigma'(z) \, x"),
    (SIGMOID, r"2\left(a - y\right)\sigma'(z)\,x"),
    (SIGMOID, r"2(a - y) \cdot \sigma'(z) \cdot x"),
    (SIGMOID, r"2(a-y)\sigma^{\prime}(z)x"),
    (SIGMOID, r"2 (a - y) \frac{e^{-z}}{(1 + e^{-z})^{2}} x"),
    (SIGMOID, r"\frac{\partial C}{\partial a} \cdot \sigma'(z) \times x"),
    (SIGMOID, r"$2(a - y)\,\exp(-z) \, \sigma(z)^2 \, x$"),
    (TANH, "2(a − y)·tanh'(z)·x"),
    (TANH, "2(a-y)(1 - a²)x"),
    (TANH, r"2(a - y)(1 - \tanh(z)^{2}) x"),
    (RELU, "2(a − y)·relu'(z)·x"),
    (TEXTBOOK, "2(a^(L) − y)·σ'(z^(L))·a^(L-1)"),
    (TEXTBOOK, "∂C_0/∂a^(L) · σ'(z^(L)) · a^(L-1)"),
    (TEXTBOOK, r"\frac{\partial C_0}{\partial a^{(L)}} \sigma'(z^{(L)}) a^{(L-1)}"),
    (TEXTBOOK, r"\frac{\partial C_0}{\partial z^{(L)}} a^{(L-1)}"),
    (SOFTPLUS, "x·e^(w x)/(1 + e^(w x))"),
    (SOFTPLUS, r"\frac{x e^{w x}}{1 + e^{w x}}"),
    (SOFTPLUS, "x σ(w x)"),
    (POWER, "3w²x + w/(w^2 + 1)^(1/2)"),
    (POWER, r"3 w^{2} x + \frac{w}{\sqrt{w^2 + 1}}"),
    (POWER, "3·w³/w·x + w (w² + 1)^(-1/2)"),
    (HELD, "dL/dm * dm/du + dL/du|_m"),
    (HELD, "dL/dm·dm/du + ∂L/∂u|_m"),
    (HELD, "dL/dm dm/du + dL/du (m fixed)"),
    (HELD, r"\frac{dL}{dm}\frac{dm}{du} + \left.\frac{\partial L}{\partial u}\right|_{m}"),
]


@pytest.mark.parametrize("case, claim", SPELLINGS, ids=[claim for _, claim in SPELLINGS])
def test_every_spelling_a_learner_types_means_the_derivative(case, claim):
    from microgrid.names import labelled_nodes
    from microgrid.symbolic.conversion import symbol

    text, forward, wrt = case
    p = program(text)
    nodes = labelled_nodes(p.output)
    leaves = {s: nodes[s.name].data for s in forward.free_symbols}
    want = float(sympy.diff(forward, sympy.Symbol(wrt)).subs(leaves))  # sympy's, of the formula written here
    got = claim_expression(claim, p.output).xreplace({symbol(k): sympy.Float(n.data) for k, n in nodes.items()})
    assert math.isclose(float(got.evalf()), want, rel_tol=1e-9)
    assert [verdict.status for verdict in check_lines(p.output, wrt, [claim])] == ["correct"]


def test_stated_constraints_let_the_simplifier_write_the_textbook_form():
    """Soft-target softmax cross-entropy: dC/dz0 is p0 - y0 given y0 + y1 + y2 = 1 (sympy by hand as reference)."""
    softmax = "s = exp(z0) + exp(z1) + exp(z2); p0 = exp(z0)/s; p1 = exp(z1)/s; p2 = exp(z2)/s"
    p = program(f"{softmax}; assume y0 + y1 + y2 = 1; C = -y0*log(p0) - y1*log(p1) - y2*log(p2)")
    z0, z1, z2, y0, y1, y2, s, p0, p1, p2 = sympy.symbols("z0 z1 z2 y0 y1 y2 s p0 p1 p2")
    ((left, right),) = p.constraints
    constraint = claim_expression(f"({left}) - ({right})", p.output)  # as derive reads it
    assert sympy.expand(constraint - (y0 + y1 + y2 - 1)) == 0
    total = sympy.exp(z0) + sympy.exp(z1) + sympy.exp(z2)
    loss = -sum(y * sympy.log(sympy.exp(z) / total) for y, z in [(y0, z0), (y1, z1), (y2, z2)])
    true = sympy.diff(loss, z0).subs(y2, 1 - y0 - y1)
    named = {s: total} | {p: sympy.exp(z) / s for p, z in [(p0, z0), (p1, z1), (p2, z2)]}  # as the program says
    engine = microgrid.symbolic.diff(p.output, "z0", simplify=False)
    shown = readable(engine, Budget(20), definitions=named, constraints=[constraint])
    assert shown == p0 - y0 and sympy.simplify((shown.subs(p0, named[p0]) - true).subs(s, total)) == 0
