"""Property-based: the parser and the checker answer every input within a bound.

Random text and random claims over seed 000's network (towers of functions,
powers of sums, extreme constants, deep nesting).  Each must be refused with
an `ExpressionError` or get a verdict, within its time bound; a claim that
is right is never called incorrect, and one that is off by a constant is
never called correct.  The bounds are correctness bounds with a wide margin
for a shared machine, not benchmarks.
"""

import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from microgrid.symbolic import chainrule
from microgrid.symbolic.parsing import ENGINE_FUNCTIONS, ExpressionError, parse
from microgrid.symbolic import Budget, check

#: The checker's budget in these tests (the default is longer; the mechanism is the same).
SECONDS = 1.0
#: Past the budget: stopping the algebra (up to `budget.GRACE`), and Python's own work around it.
MARGIN = 5.0
PARSE_BOUND = 1.0

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
powers_of_sums = st.tuples(st.lists(st.sampled_from(NAMES), min_size=2, max_size=6, unique=True), st.integers(2, 8)).map(
    lambda t: f"({' + '.join(t[0])})**{t[1]}"
)
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


@settings(max_examples=200, deadline=timedelta(seconds=5))
@given(st.one_of(st.text(max_size=300), expressions, towers, powers_of_sums))
def test_the_parser_answers_any_text_at_once(text):
    start = time.monotonic()
    try:
        parse(text)
    except ExpressionError:
        pass
    assert time.monotonic() - start < PARSE_BOUND


@FUZZ
@given(claim=claims, wrt=st.sampled_from(["Z", "A", "W"]))
# Claims that reach two slow paths: mpmath's tanh of a number of 10**12 bits (minutes, in C),
# and sympy rebuilding the claim with the definitions substituted (seconds, unbudgeted).
@example(claim="log(1000*tanh(1000*exp(1000*exp(1000*b))))", wrt="A")
@example(claim="exp(1000*cos(1000*relu(1000*cos(1000*cos(1000*log(1000*tanh(1000*log(1000*relu(1000*cos("
         "1000*exp(1000*log(1000*Z))))))))))))", wrt="W")
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
@given(extra=st.sampled_from(NUMBERS[1:] + ["-1e-12", "1e-30", "-7/3"]), scale=st.sampled_from(["", "*A", "*(1 - A)"]))
def test_a_claim_off_by_a_nonzero_term_is_never_correct(network, extra, scale):
    verdict, seconds = timed(check, f"A - y + {extra}{scale}", network.output, "Z", budget=Budget(seconds=SECONDS))
    assert seconds < SECONDS + MARGIN
    assert verdict.status != "correct", str(verdict)
    if not scale:  # a nonzero number: proved incorrect, however small
        assert verdict.status == "incorrect", str(verdict)
