"""microgrid.symbolic.parsing: the safe expression parser (what it accepts, and everything it refuses without
evaluating), and programs typed as assignments; every number against an independent computation written here."""

import math
import re
from fractions import Fraction

import pytest
import sympy

import microgrid.symbolic
from microgrid.cli import parse_at
from microgrid.symbolic.checker import check_lines
from microgrid.symbolic.parsing import ENGINE_FUNCTIONS, ExpressionError, NotationError, ProgramError, parse, program

MATH = {"exp": math.exp, "log": math.log, "tanh": math.tanh, "sin": math.sin, "cos": math.cos}


def test_names_functions_and_value():
    e = parse("tanh(x*w + b) - 2 ** -y / 4")
    assert e.names == {"x", "w", "b", "y"}
    assert e.functions == {"tanh"}
    got = e.evaluate({"x": 0.5, "w": -1.0, "b": 2.0, "y": 1.0}, MATH)
    assert got == math.tanh(0.5 * -1.0 + 2.0) - 2**-1.0 / 4


def test_a_name_that_is_also_a_function_name_only_counts_when_not_called():
    e = parse("exp(exp)")
    assert e.names == {"exp"} and e.functions == {"exp"}


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hacked')",
        "x.__class__",
        "().__class__.__bases__[0]",
        "open('/etc/passwd')",
        "eval('1')",
        "[x for x in y]",
        "lambda: 1",
        "x if y else z",
        "x < y",
        "x @ y",
        "x // 2",
        "'text'",
        "True",
        "exp(x, y)",
        "exp(x=1)",
        "exp(*x)",
        "_hidden + 1",
        "x; y",
        "",
    ],
)
def test_refusals(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_an_injection_is_never_evaluated(tmp_path):
    marker = tmp_path / "hacked"
    with pytest.raises(ExpressionError, match="__import__"):
        parse(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()


def test_power_too_large_is_refused_at_parse():
    with pytest.raises(ExpressionError, match="exponent"):
        parse("2 ** 9 ** 9")


def test_missing_names_and_long_text():
    with pytest.raises(ExpressionError, match="no value given for b"):
        parse("a + b").evaluate({"a": 1.0}, {})
    with pytest.raises(ExpressionError, match="longer"):
        parse("x + " * 1000 + "x")
    with pytest.raises(ExpressionError, match="must be a str"):
        parse(3)


# Each of these would keep sympy (or Python's recursion) busy for minutes, or crash it;
# parse refuses them before anything is evaluated.
@pytest.mark.parametrize(
    "text, why",
    [
        ("1" * 1999, "out of range"),  # a big integer
        ("1" * 101, "out of range"),
        ("999**999", "out of range"),
        ("999**999*A", "out of range"),
        ("*".join(["999999999"] * 12), "out of range"),  # 108 digits, folded
        ("x + ((999**999)**999)**999", "out of range"),
        ("2**(999**999)*x", "out of range"),
        ("x*10.0**400", "out of range"),
        ("1e-150*x", "out of range"),
        ("1e999", "beyond the floats"),
        ("(2**0.5)**1000", "out of range"),
        ("exp(exp(exp(exp(1000))))*A", "exp(1000) is out of range"),
        ("(A+y)**999", "more than 500 terms"),  # polynomial powers
        ("(A+y+W+b)**30", "more than 500 terms"),
        ("*".join(f"(a{i}+b{i})" for i in range(9)), "more than 500 terms"),  # 512 terms
        ("x**1001", "larger than 1000"),
        ("A" + "+A" * 990, "levels deep"),  # a long sum
        ("A" + "+A" * 100, "levels deep"),
        ("0" + "-" * 1500 + "A", "levels deep"),  # a deep unary chain
        (" " + "-" * 1990 + "x", "levels deep"),
        ("A" + "**A" * 600, "levels deep"),
        ("exp(" * 200 + "A" + ")" * 200, "levels deep"),
        ("(" * 500 + "A" + ")" * 500, "too many nested parentheses"),  # deep parentheses
    ],
)
def test_resource_limits_are_refused_at_parse(text, why):
    with pytest.raises(ExpressionError, match=re.escape(why)) as caught:
        parse(text)
    assert len(str(caught.value)) < 300 and "\n" not in str(caught.value)  # one short line, even for 2000 characters


def test_just_within_the_limits():
    assert parse("A" + "+A" * 99).names == {"A"}  # 100 terms: 100 levels
    parse("(A+y)**20")
    parse("x**999")  # a power of one name does not multiply out
    parse("(a+b)*(c+d)*(e+f)*(g+h)*(i+j)*(k+l)*(m+n)*(o+p)")  # 256 terms
    parse("1" * 100)


@pytest.mark.parametrize(
    "text, why",
    [
        ("A - y + 1/0", "1/0 divides by zero"),
        ("0**-1", "0**-1 divides by zero"),
        ("x/(1 - 1)", "divides by zero"),
        ("(-8)**(1/3)", "not a real number"),
        ("log(0)", "log(0) is undefined"),
        ("log(2 - 3)*x", "is undefined"),
    ],
)
def test_undefined_numbers_are_refused_naming_the_operation(text, why):
    with pytest.raises(ExpressionError, match=re.escape(why)):
        parse(text)


def test_numbers_are_exact_until_the_world_converts_them():
    exact = lambda q: q  # noqa: E731 (the world's number: the fraction itself)
    assert parse("1/3").evaluate({}, {}, number=exact) == Fraction(1, 3)
    assert parse("0.1 + 0.2").evaluate({}, {}, number=exact) == Fraction(3, 10)
    assert parse("x*(1/2)**2").evaluate({"x": Fraction(1)}, {}, number=exact) == Fraction(1, 4)
    # the default world: an int, or the nearest float
    assert parse("2*3").evaluate({}, {}) == 6 and isinstance(parse("2*3").evaluate({}, {}), int)
    assert parse("0.1 + 0.2").evaluate({}, {}) == 0.3


def test_arithmetic_errors_of_the_world_become_expression_errors():
    with pytest.raises(ExpressionError, match="division by zero"):
        parse("x/y").evaluate({"x": 1.0, "y": 0.0}, {})
    with pytest.raises(ExpressionError, match=r"overflow|range"):
        parse("x**y").evaluate({"x": 10.0, "y": 400.0}, {})


def test_the_engine_world_gives_clear_errors():
    from microgrid import engine
    from microgrid.engine import Value

    functions = {name: engine.OPS[name] for name in ENGINE_FUNCTIONS}
    with pytest.raises(ExpressionError, match="out of range"):
        parse("x*10.0**400")
    with pytest.raises(ExpressionError, match="division by zero"):
        parse("1/(x - x)").evaluate({"x": Value(1.0)}, functions)
    with pytest.raises(ExpressionError, match="exp"):
        parse("exp(x)").evaluate({"x": Value(1000.0)}, functions)


def test_the_range_of_numbers_is_what_the_message_says():
    """The refusal says 'between 1e-100 and 1e100': numbers at the ends are
    accepted, numbers past them refused, however many digits they are typed with."""
    for accepted in ["x*1e-100", "1e-100*x", "x*1.5e-100", "x*1e100", "x*9.999e99", "x/1e100", "x*0.0"]:
        parse(accepted)
    for refused in ["x*1e-101", "x*9.99e-101", "x*1.0001e100", "1/7**119*x", "x*10**101"]:
        with pytest.raises(ExpressionError, match="between 1e-100 and 1e100"):
            parse(refused)
    # Near 1 but with 4000 digits: refused for its digits, and saying so.
    with pytest.raises(ExpressionError, match="more than 200 digits"):
        parse("(12345/12346)**1000*x")
    # The smallest accepted number keeps its exact value.
    assert parse("x*1e-100").evaluate({"x": Fraction(1)}, {}, number=lambda q: q) == Fraction(1, 10**100)


@pytest.mark.parametrize(
    "text, at_least, at_most",
    [
        ("A - y", 0, 10),
        ("(W + A + b + y)**8", 0, 100),
        ("(1000*x)**1000", 3001, 10_000),  # 1000**1000: 3001 digits
        ("exp(1000*log(1000*x))", 3001, 20_000),  # sympy reads it as (1000*x)**1000
        ("exp(1000*log(1000*exp(1000*log(1000*exp(1000*log(1000*x))))))", 3e9, math.inf),  # 1000**(10**9)
    ],
)
def test_exact_digits_bounds_the_numbers_sympy_derives(text, at_least, at_most):
    """The bound is an upper bound (never below what sympy builds: checked
    against sympy itself where that is quick) and not absurdly loose."""
    from microgrid.symbolic.conversion import exact_digits
    from microgrid.symbolic.parsing import HOLD_DIGITS

    digits = exact_digits(parse(text))
    assert at_least <= digits <= at_most
    if digits <= HOLD_DIGITS:
        names = {n: sympy.Symbol(n, positive=True) for n in ("A", "y", "W", "b", "x")}
        built = sympy.sympify(text, locals=names)
        largest = max((len(str(abs(n.p))) for n in built.atoms(sympy.Rational)), default=1)
        assert largest <= max(digits, 1)  # (a sign is -1: one digit sympy always adds)


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
        # an assume line is a constraint: refused when it is no equation, or names what the program never has
        ("assume y0 + y1; C = y0*y1", "'assume y0 \\+ y1' is no constraint; write e.g. assume"),
        ("assume y0 == 1; C = y0**2", "is no constraint"),
        ("assume y0 = 1 = 2; C = y0**2", "is no constraint"),
        ("assume y0 = ; C = y0**2", "is no constraint"),
        ("assume y0 = 1", "no assignment"),
        ("assume q = 1; C = y0**2", "'q' names q, which the program never assigns or reads"),
        ("assume y0 + 2(y0 = 1; C = y0**2", "never closed"),
        ("assume y0 = __import__('os'); C = y0**2", "not allowed"),
    ],
)
def test_bad_programs_are_refused_with_a_clear_message(text, message):
    with pytest.raises(ExpressionError, match=message):
        program(text)


def test_an_assume_line_is_a_constraint_kept_as_typed_not_an_assignment():
    p = program("s = y0*x + y1; assume y0 + y1 = 1\nassume  w^(1)_0 = 2*x; C = s*w^(1)_0")
    assert p.constraints == [("y0 + y1", "1"), ("w^(1)_0", "2*x")] and "assume" not in " ".join(p)
    assert list(p) == ["y0", "x", "y1", "s", "w^(1)_0", "C"]
    assert program("assume = 2*x; C = assume*x").constraints == []  # a name like any other, when assigned


def test_at_names_the_program_never_reads_are_refused():
    with pytest.raises(ProgramError, match="never reads"):
        program("f = x**2", at={"xx": 1.0})
    assert parse_at(["x=1", "w=-0.5"]) == {"x": 1.0, "w": -0.5}
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        parse_at(["x"])


def test_softplus_derivative_is_the_sigmoid():
    p = program("s = log(1 + exp(x))")
    x = sympy.Symbol("x")
    assert sympy.simplify(sympy.diff(sympy.log(1 + sympy.exp(x)), x) - 1 / (1 + sympy.exp(-x))) == 0  # the fact checked
    (verdict,) = check_lines(p.output, "x", ["sigmoid(x)"])
    assert verdict.status == "correct"


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
    assert [
        v.status for v in check_lines(C, "w^(1)_1,0", ["a^(0)_0*delta^(1)_1", "a^(0)_0*δ^(1)_1", "a^(0)_1*δ^(1)_1"])
    ] == ["correct", "correct", "incorrect"]


# ---------------------------------------------------------------- notation as learners type it
@pytest.mark.parametrize(
    "typed, python",
    [
        ("2x(1 − x)²", lambda x: 2 * x * (1 - x) ** 2),
        ("3 x^2 · e^x", lambda x: 3 * x**2 * math.exp(x)),
        ("ln(x) × x³", lambda x: math.log(x) * x**3),
        ("σ(x)(1 - σ(x))", lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
        ("sigma'(x) - tanh'(2x)", lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2 - (1 - math.tanh(2 * x) ** 2)),
        ("(x + 1)(x - 1) − x(x)", lambda x: (x + 1) * (x - 1) - x * x),
        (r"\frac{x}{2} + \sqrt{x} \cdot \exp(x) + \ln(x)", lambda x: x / 2 + math.sqrt(x) * math.exp(x) + math.log(x)),
        (r"e^{-x^{2}} \left(1 + \tanh(x)\right)", lambda x: math.exp(-(x**2)) * (1 + math.tanh(x))),
        (r"2x{x} + \mathrm{e}^{x}", lambda x: 2 * x * x + math.exp(x)),  # a braced name is never joined to x before it
    ],
)
def test_notation_means_what_a_textbook_means(typed, python):
    functions = {**MATH, "sigmoid": lambda t: 1 / (1 + math.exp(-t)), "step": lambda t: float(t > 0)}
    e = parse(typed)
    assert e.names <= {"x", "e"}
    got = e.evaluate({"x": 0.3, "e": math.e}, functions)
    assert math.isclose(got, python(0.3), rel_tol=1e-12)


@pytest.mark.parametrize(
    "typed, place, says",
    [
        ("2(a - y", "2", "never closed"),  # under the ( left open
        ("2(a-y)·a'(z)·x", "2(a-y)·a", "sigma'(z)"),
        ("2[a - y]", "2", "2*(a - y)"),
        ("σ'z", "σ", "σ'(z)"),
        ("2 +* 3", "2 +", "2*(a - y)"),
    ],
)
def test_unreadable_text_is_shown_with_a_caret_and_what_to_type(typed, place, says):
    with pytest.raises(NotationError) as caught:
        parse(typed)
    assert "\n" not in str(caught.value) and says in str(caught.value)  # one line for the command line
    lines = caught.value.pointed().splitlines()  # several for a reader: the text as typed, a caret at the place
    assert lines[1].strip() == typed and lines[2].index("^") - 4 == len(place) and lines[3].strip()


def test_primes_written_out_stay_bounded():
    with pytest.raises(ExpressionError, match="written out"):
        parse("σ'(" * 12 + "z" + ")" * 12)


def test_a_program_in_textbook_notation():
    p = program("z = w x + b; a = σ(z); C = (a − y)²", at={"w": 0.5, "x": 2.0, "b": -0.25, "y": 1.0})
    assert p.output.data == pytest.approx((1 / (1 + math.exp(-0.75)) - 1.0) ** 2)
    q = program(r"z^(L) = w^(L) a^(L-1) + b^(L); C_0 = \ln(1 + e^{z^{(L)}})", at={"w^(L)": 1.0, "a^(L-1)": 0.5})
    assert list(q) == ["w^(L)", "a^(L-1)", "b^(L)", "z^(L)", "C_0"]
    assert q.output.data == pytest.approx(math.log(1 + math.exp(0.5 + q["b^(L)"].data)))


def test_a_misspelt_name_that_disconnects_the_output_is_named():
    with pytest.raises(
        ProgramError, match=re.escape("C does not depend on w, x, b: z is never used (did you mean zz → z?)")
    ):
        program("z = w*x + b; a = tanh(zz); C = (a-y)**2")
    assert list(program("z = w*x; h = 2*q; C = z**2")) == ["w", "x", "z", "q", "h", "C"]  # no near name: kept


def test_an_equation_is_answered_with_its_right_side():
    with pytest.raises(NotationError, match=re.escape("write the right side: `2(a − y)σ'(z)x`")):
        parse("dC/dw = 2(a − y)σ'(z)x")
    with pytest.raises(ExpressionError, match="Compare"):
        parse("x <= y")


@pytest.mark.parametrize("text", ["softplus(z)", "2*loss(1 - y)", "C = foo(z)"])
def test_a_word_before_a_bracket_is_a_function_never_silently_a_product(text):
    with pytest.raises(ExpressionError, match=r"is not a function .*to multiply, write"):
        program(text) if "=" in text else parse(text)


@pytest.mark.parametrize("text", ["C = tanh z", r"C = \ln x", r"C = \exp{x}", "C = sin^2 x", "C = sin²(x)", "C = σ z"])
def test_a_functions_name_without_its_bracket_is_refused_never_a_leaf(text):
    says = r"is a function: its argument goes in brackets \(at character \d+\); write `\w+\(…\)`"
    with pytest.raises(ExpressionError, match=says):
        program(text)
    assert list(program("C = exp*y")) == ["exp", "y", "C"]  # multiplied explicitly, the name is a leaf's
