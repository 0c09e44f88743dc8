"""A number typed in a program means what was typed, on both sides of a check
(1e23 is 10**23, 2**60 is 2**60, 1/3 is a third), and prints as it was typed."""

from fractions import Fraction

import pytest
import sympy

from microgrid import Value
from microgrid.symbolic import check
from microgrid.symbolic.chainrule import derive
from microgrid.symbolic.conversion import to_sympy
from microgrid.symbolic.conversion import number
from microgrid.symbolic.printing import latex, text
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.parsing import program

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
    [("1e23", "1e23", "10^{23}"), ("1e100", "1e100", "10^{100}"), ("2.5e30", "2.5e30", r"2.5 \cdot 10^{30}"),
     ("1e-30", "1e-30", "10^{-30}")],
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
