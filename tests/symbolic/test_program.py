"""Programs typed as assignments, and hand derivations of them checked line by
line; every number against an independent computation written here."""

import math

import pytest
import sympy

import microgrid.symbolic
from microgrid.cli import parse_at
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.parsing import ExpressionError
from microgrid.symbolic.parsing import ProgramError, program


def test_values_match_the_formulas_computed_by_hand():
    p = program("z = w*x + b; a = sigmoid(z)\nC = (a - y)**2", at={"w": 0.5, "x": -1.5, "b": 0.25, "y": 0.1})
    z = 0.5 * -1.5 + 0.25
    a = 1 / (1 + math.exp(-z))
    assert p["z"].data == pytest.approx(z) and p["a"].data == pytest.approx(a)
    assert p.output is p["C"] and p.output.data == pytest.approx((a - 0.1) ** 2)
    assert [p[n].label for n in p] == list(p)  # each assignment and leaf is labelled by its name


def test_unassigned_names_are_sampled_leaves_reproducibly():
    p, q = program("f = u*v"), program("f = u*v")
    assert p["u"].op == "" and 0.1 <= p["u"].data <= 0.9
    assert p["u"].data == q["u"].data and p["v"].data == q["v"].data


def test_textbook_label_on_the_left_read_by_identifier_on_the_right():
    p = program("z^(1)_0 = w*x; a^(1)_0 = tanh(z1_0)", at={"w": 2.0, "x": 0.25})
    assert p.output.label == "a^(1)_0" and p.output.data == pytest.approx(math.tanh(0.5))


def test_exposed_as_microgrid_symbolic_program():
    assert microgrid.symbolic.program is program


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no assignment"),
        ("z = x; C = z**2", "only renames"),
        ("C = x**2; C = x", "assigned twice"),
        ("y = x*2; x = 3*q", "used before it is assigned"),
        ("x + 1", "not an assignment"),
        ("f = __import__('os')", "not allowed"),
        ("f = x.real", "not allowed"),
        ("2x = 1", "left side"),
    ],
)
def test_bad_programs_are_refused_with_a_clear_message(text, message):
    with pytest.raises(ExpressionError, match=message):
        program(text)


def test_at_names_the_program_never_reads_are_refused():
    with pytest.raises(ProgramError, match="never reads"):
        program("f = x**2", at={"xx": 1.0})
    assert parse_at(["x=1", "w=-0.5"]) == {"x": 1.0, "w": -0.5}
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        parse_at(["x"])


# ------------------------------------------------------------- check_lines
def test_softplus_derivative_is_the_sigmoid():
    p = program("s = log(1 + exp(x))")
    x = sympy.Symbol("x")
    assert sympy.simplify(sympy.diff(sympy.log(1 + sympy.exp(x)), x) - 1 / (1 + sympy.exp(-x))) == 0  # the fact checked
    (verdict,) = check_lines(p.output, "x", ["sigmoid(x)"])
    assert verdict.status == "correct"


def test_lines_of_a_hand_derivation_first_wrong_line():
    p = program("z = w*x + b; a = tanh(z); C = (a - y)**2")
    lines = ["2*(a - y)*(1 - a**2)*x", "2*(tanh(z) - y)*(1 - tanh(z)**2)*x", "2*(a - y)*(1 - a)*x", "2*(a - y)*x"]
    statuses = [v.status for v in check_lines(p.output, "w", lines)]
    # independently: which lines equal sympy's derivative at the program's point
    w, x, b, y = (sympy.Symbol(n) for n in "wxby")
    truth = sympy.diff((sympy.tanh(w * x + b) - y) ** 2, w)
    point = {s: p[s.name].data for s in (w, x, b, y)}
    a = sympy.tanh(w * x + b)
    claimed = [2 * (a - y) * (1 - a**2) * x, 2 * (a - y) * (1 - a**2) * x, 2 * (a - y) * (1 - a) * x, 2 * (a - y) * x]
    expected = ["correct" if abs(float((c - truth).subs(point))) < 1e-12 else "incorrect" for c in claimed]
    assert statuses == expected == ["correct", "correct", "incorrect", "incorrect"]


def test_a_line_sympy_would_multiply_out_forever_is_kept_as_written_and_checked_with_numbers():
    """sympy would read this tower as 1000**(10**9) * w**(10**9) ..., an integer
    Python computes for minutes in C, past any budget: the claim is kept as
    written, found wrong at a point, and the next line still gets its time."""
    import time

    from microgrid.symbolic import Budget

    p = program("z = w*x + b; a = tanh(z); C = (a - y)**2")
    slow = "exp(1000*log(1000*exp(1000*log(1000*exp(1000*log(1000*w))))))"
    start = time.monotonic()
    first, second = check_lines(p.output, "w", [slow, "2*(a - y)*(1 - a**2)*x"], budget=Budget(seconds=4.0))
    assert time.monotonic() - start < 10 * 4.0  # ten times the budget: stopped, on any machine
    assert first.status == "incorrect" and first.counterexample is not None
    assert any("kept as written" in note for note in first.notes)
    assert second.status == "correct"


def test_textbook_spelling_in_claims_and_wrt_against_a_seed():
    from microgrid.symbolic.chainrule import get

    seed = get("layer-squared-error")
    claim = "w^(L)_0,0*a^(L)_0*(1 - a^(L)_0)*2*(a^(L)_0 - y_0) + w^(L)_1,0*a^(L)_1*(1 - a^(L)_1)*2*(a^(L)_1 - y_1)"
    identifiers = "wL_0_0*aL_0*(1 - aL_0)*2*(aL_0 - y_0) + wL_1_0*aL_1*(1 - aL_1)*2*(aL_1 - y_1)"
    for wrt in ("a^(L-1)_0", "aLm1_0", "a^{(L-1)}_{0}"):
        assert [v.status for v in check_lines(seed.output, wrt, [claim, identifiers])] == ["correct", "correct"]
    assert check_lines(seed.output, "a^(L-1)_0", ["w^(L)_0,0"])[0].status == "incorrect"


def test_delta_names_in_claims_mean_dC_dz():
    from microgrid import MLP, Value
    from microgrid.nn.losses import mse

    model = MLP(2, [3, 1], activation="sigmoid", seed=3)
    C = mse(model([0.4, -0.7]), Value(0.2, label="y"))
    C.label = "C"
    assert [v.status for v in check_lines(C, "w^(1)_1,0", ["a^(0)_0*delta^(1)_1", "a^(0)_0*δ^(1)_1", "a^(0)_1*δ^(1)_1"])] == [
        "correct", "correct", "incorrect"]
