"""microgrid.symbolic.checker: `check` and its verdicts, and hand derivations checked line by line.

References are independent of the code under test: the float engine, the claim by hand in Python floats, sympy
written here.  What it may call correct: nearly right claims are incorrect, numeric agreement alone is unproven.
Property-based: random text and random claims over seed 000's network (towers of functions, powers of sums, extreme
constants, deep nesting) are each refused with an `ExpressionError` or get a verdict within their time bound; a right
claim is never called incorrect, and one off by a constant never correct.  The bounds are correctness bounds with a
wide margin for a shared machine, not benchmarks."""

import contextlib
import math
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sympy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from seed_graphs import seed000_graph

import microgrid
import microgrid.symbolic
from microgrid import Value
from microgrid.symbolic import Budget, Verdict, chainrule, check, symbol
from microgrid.symbolic.checker import check_lines, first_wrong
from microgrid.symbolic.parsing import ENGINE_FUNCTIONS, ExpressionError, parse, program

A, Z, W, b, y, A_prev = sympy.symbols("A Z W b y A_prev")


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
    W_node = next(n for n in microgrid.engine.topological_order(rebuilt) if n.label == "W")
    assert ce.true == pytest.approx(microgrid.grad(rebuilt, [W_node])[0], rel=1e-9)
    # and the claimed value, by hand
    a = 1 / (1 + math.exp(-(leaves["W"] * leaves["A_prev"] + leaves["b"])))
    assert ce.claimed == pytest.approx(a * (1 - a) * (a - leaves["y"]), rel=1e-9)
    assert verdict.difference != 0
    text = str(verdict)
    assert "incorrect" in text and "counterexample" in text and "A_prev" in text
    assert "A_prev" in " ".join(verdict.notes)  # what the claim leaves out


def test_a_counterexample_shows_what_the_difference_depends_on_most_influential_first():
    verdict = check("2*(a - y)*x", program("z = w*x + b; a = tanh(z); C = (a - y)**2").output, "w")
    ce = verdict.counterexample
    # sympy by hand: the true derivative with tanh(z) named a, the difference, and each symbol's |d(diff)/ds * s|
    w, x, b, y, a = sympy.symbols("w x b y a")
    true = sympy.diff((sympy.tanh(w * x + b) - y) ** 2, w).subs(sympy.tanh(w * x + b), a)
    difference = sympy.factor(2 * (a - y) * x - true)
    assert difference.free_symbols == {a, x, y}
    values = {s: ce.point[s.name] for s in (w, x, b, y)}
    values[a] = math.tanh(values[w] * values[x] + values[b])
    assert ce.point["a"] == pytest.approx(values[a], rel=1e-12)
    weight = {s.name: abs(float((sympy.diff(difference, s) * s).subs(values))) for s in difference.free_symbols}
    assert ce.involved == sorted(weight, key=weight.get, reverse=True) and sorted(ce.rest) == ["b", "w"]
    line = str(ce)
    assert "(2 more: w, b)" in line and "w =" not in line and "b =" not in line
    assert line.index("a =") < line.index(f"{ce.involved[1]} =") < line.index(f"{ce.involved[2]} =")


@pytest.mark.parametrize(
    "claim", ["A - y + 1e-12", "(A - y)*(1 + 1e-8)", "A - y + 1e-8*A", "A - y + relu(W - 10)", "A - y + relu(W - 3)"]
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


@pytest.mark.parametrize(
    "claim",
    [
        "A - y + 1/0",
        "0**-1",
        "(-8)**(1/3)",
        "A/(y - y)",
        "log(0)",
        "exp(exp(exp(exp(1000))))*A",
        10**1000,
        float("nan"),
    ],
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


#: A correctness bound, not a benchmark: generous, since the machine is shared.
BOUND = 20.0  # ten times the default budget


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
    verdict, seconds = timed(chainrule.get("sigmoid-cross-entropy").check, claim)
    assert seconds < BOUND
    assert verdict.status == "incorrect"
    # The claim's value at the counterexample, by Python floats (independent of sympy):
    point = verdict.counterexample.point
    try:
        by_hand = eval(claim, {"exp": math.exp, "log": math.log}, dict(point))
    except OverflowError:  # beyond the floats, as the checker says
        assert math.isinf(verdict.counterexample.claimed)
    except ValueError:  # math.log of a negative number: the checker's value is complex
        assert isinstance(verdict.counterexample.claimed, complex)
    else:
        assert verdict.counterexample.claimed == pytest.approx(by_hand, rel=1e-9)


def test_power_of_a_sum_of_six_symbols_is_decided_in_seconds():
    # factor() of (a0_0 + ... + w1_1_1)**6 - (the engine's formula) runs for minutes.
    claim = "(a0_0 + a0_1 + w1_0_0 + w1_0_1 + w1_1_0 + w1_1_1)**6"
    verdict, seconds = timed(chainrule.get("two-layer-network").check, claim)
    assert seconds < BOUND
    assert verdict.status == "incorrect"
    ce = verdict.counterexample
    s = sum(ce.point[k] for k in ("a^(0)_0", "a^(0)_1", "w^(1)_0,0", "w^(1)_0,1", "w^(1)_1,0", "w^(1)_1,1"))
    assert ce.claimed == pytest.approx(s**6, rel=1e-9)


def test_a_correct_claim_past_the_budget_is_unproven_with_the_reason():
    d = chainrule.get("two-layer-network")
    claim = "sigmoid(sigmoid(w1_0_0*a0_0 + w1_0_1*a0_1)*w2_0_0 + sigmoid(w1_1_0*a0_0 + w1_1_1*a0_1)*w2_0_1)"
    assert d.check(claim, "w3_0_0").correct  # proved, given the default budget
    verdict = check(claim, d.output, "w3_0_0", aliases=d.aliases, budget=Budget(seconds=0.01))
    assert verdict.status == "unproven"
    assert any("time budget" in note for note in verdict.notes), verdict.notes
    assert "time budget" in str(verdict)


def test_counterexamples_lie_where_the_network_is_defined():
    """Far from the graph's values Z can be 94, where the float A is 1.0 and
    log(1 - A) is undefined: no counterexample may be drawn there."""
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


def test_a_claim_holding_an_integer_of_millions_of_bits_gets_a_verdict_in_seconds():
    """exp(1000*log(1000*exp(1000*log(1000*W)))) is 1000**1001000 W**1000000 once sympy has built it (quick in C; one
    level more, minutes): it is kept as written, evaluated with numbers, and found incorrect."""
    d = chainrule.get("sigmoid-cross-entropy")
    start = time.monotonic()
    verdict = check("exp(1000*log(1000*exp(1000*log(1000*W))))", d.output, "Z")
    assert time.monotonic() - start < 20  # a bound on the time, not a benchmark: sympy's algebra would take minutes
    assert verdict.status == "incorrect" and verdict.counterexample is not None
    assert "kept as written" in str(verdict)


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
    """sympy would read this tower as 1000**(10**9) * w**(10**9) ..., an integer Python computes for minutes in C,
    past any budget: the claim is kept as written, found wrong at a point, and the next line still gets its time."""
    p = program("z = w*x + b; a = tanh(z); C = (a - y)**2")
    slow = "exp(1000*log(1000*exp(1000*log(1000*exp(1000*log(1000*w))))))"
    start = time.monotonic()
    first, second = check_lines(p.output, "w", [slow, "2*(a - y)*(1 - a**2)*x"], budget=Budget(seconds=4.0))
    assert time.monotonic() - start < 10 * 4.0  # ten times the budget: stopped, on any machine
    assert first.status == "incorrect" and first.counterexample is not None
    assert any("kept as written" in note for note in first.notes)
    assert second.status == "correct"


#: The checker's budget in these tests (the default is longer; the mechanism is the same).
SECONDS = 1.0


#: Past the budget: stopping the algebra (up to `budget.GRACE`), and Python's own work around it.
MARGIN = 9.0


PARSE_BOUND = 10.0  # parsing takes milliseconds; a search blown up by the text takes minutes


NAMES = ["A", "y", "W", "b", "Z", "A_prev"]


NUMBERS = ["0", "1", "2", "3", "0.5", "1000", "1e-12", "1e-100", "9e99", "1/3", "123.456"]


leaves = st.sampled_from(NAMES) | st.sampled_from(NUMBERS)


def _combine(inner):
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner)
    return st.one_of(
        binary.map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(st.sampled_from(ENGINE_FUNCTIONS), inner).map(lambda t: f"{t[0]}({t[1]})"),
        inner.map(lambda e: f"-({e})"),
        st.tuples(inner, st.integers(1, 12)).map(lambda t: f"({t[0]})**{t[1]}"),
    )


expressions = st.recursive(leaves, _combine, max_leaves=20)


functions = st.lists(st.sampled_from(ENGINE_FUNCTIONS), min_size=1, max_size=12)


towers = st.tuples(functions, st.sampled_from(NAMES)).map(
    lambda t: "".join(f"{f}(1000*" for f in t[0]) + t[1] + ")" * len(t[0])
)


powers_of_sums = st.tuples(
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=6, unique=True), st.integers(2, 8)
).map(lambda t: f"({' + '.join(t[0])})**{t[1]}")


claims = st.one_of(expressions, towers, powers_of_sums)


FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=SECONDS + 2 * MARGIN),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def network():
    return chainrule.get("sigmoid-cross-entropy")


def timed(function, *args, **kwargs):
    start = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - start


@settings(max_examples=200, deadline=timedelta(seconds=20))
@given(st.one_of(st.text(max_size=300), expressions, towers, powers_of_sums))
def test_the_parser_answers_any_text_at_once(text):
    start = time.monotonic()
    with contextlib.suppress(ExpressionError):
        parse(text)
    assert time.monotonic() - start < PARSE_BOUND


@FUZZ
@given(claim=claims, wrt=st.sampled_from(["Z", "A", "W"]))
# Claims that reach two slow paths: mpmath's tanh of a number of 10**12 bits (minutes, in C),
# and sympy rebuilding the claim with the definitions substituted (seconds, unbudgeted).
@example(claim="log(1000*tanh(1000*exp(1000*exp(1000*b))))", wrt="A")
@example(
    claim="exp(1000*cos(1000*relu(1000*cos(1000*cos(1000*log(1000*tanh(1000*log(1000*relu(1000*cos("
    "1000*exp(1000*log(1000*Z))))))))))))",
    wrt="W",
)
def test_every_claim_gets_a_verdict_within_the_bound(network, claim, wrt):
    start = time.monotonic()
    try:
        verdict = check(claim, network.output, wrt, budget=Budget(seconds=SECONDS))
    except ExpressionError:  # refused by the parser: malformed or beyond its limits
        pass
    else:
        assert verdict.status in ("correct", "incorrect", "unproven")
        str(verdict)  # and it can be shown
    assert time.monotonic() - start < SECONDS + MARGIN


@FUZZ
@given(extra=st.one_of(expressions, powers_of_sums))
@example(extra="exp(1000*log(1000*exp(1000*log(1000*exp(1000*log(1000*A))))))")  # kept as written, not multiplied out
def test_a_right_claim_is_never_called_incorrect(network, extra):
    """The engine's A - y plus E(A) - E(sigmoid(Z)): zero once A is defined,
    but not as written, so the checker must go past the first simplification."""
    claim = f"A - y + ({extra}) - ({extra.replace('A_prev', 'P').replace('A', 'sigmoid(Z)').replace('P', 'A_prev')})"
    try:
        verdict, seconds = timed(check, claim, network.output, "Z", budget=Budget(seconds=SECONDS))
    except ExpressionError:
        return
    assert seconds < SECONDS + MARGIN
    assert verdict.status != "incorrect", str(verdict)


@FUZZ
@given(extra=st.sampled_from([*NUMBERS[1:], "-1e-12", "1e-30", "-7/3"]), scale=st.sampled_from(["", "*A", "*(1 - A)"]))
def test_a_claim_off_by_a_nonzero_term_is_never_correct(network, extra, scale):
    verdict, seconds = timed(check, f"A - y + {extra}{scale}", network.output, "Z", budget=Budget(seconds=SECONDS))
    assert seconds < SECONDS + MARGIN
    assert verdict.status != "correct", str(verdict)
    if not scale:  # a nonzero number: proved incorrect, however small
        assert verdict.status == "incorrect", str(verdict)


def test_an_unreadable_line_is_a_verdict_and_the_others_are_still_checked():
    p = program("z = w*x + b; a = tanh(z); C = (a - y)**2")
    verdicts = check_lines(p.output, "w", ["2(a - y)(1 - a^2)x", "2(a - y)tanh'(z x", "2(a - y)tanh'(z)"])
    assert [v.status for v in verdicts] == ["correct", "unreadable", "incorrect"]
    unreadable = verdicts[1]
    assert not unreadable and first_wrong(verdicts) == 2
    assert str(unreadable).splitlines()[1:3] == ["    2(a - y)tanh'(z x", " " * 17 + "^"]  # under the ( left open
    assert "line 2" in unreadable._repr_markdown_() and unreadable.latex() == r"\text{unreadable}"
    with pytest.raises(ExpressionError, match="never closed"):  # one claim alone: its error, as before
        check("2(a - y)tanh'(z x", p.output, "w")
