"""microgrid.symbolic.budget and microgrid.symbolic.precise: stopping sympy at a deadline, and
evaluating formulas within a cap on working precision.

References: the wall clock, Python's own recursion, and mpmath evaluated
directly at a fixed high precision."""

import itertools
import math
import sys
import threading
import time

import mpmath
import pytest
import sympy

from microgrid.symbolic.budget import Budget, BudgetExceeded
from microgrid.symbolic.precise import Undefined, Unevaluable, value
from microgrid.symbolic import sigmoid

x, y = sympy.symbols("x y")


def test_run_returns_the_result_and_propagates_errors():
    budget = Budget(seconds=5)
    assert budget.run(sympy.factor, x**2 - y**2) == (x - y) * (x + y)
    with pytest.raises(ZeroDivisionError):
        budget.run(lambda: 1 / 0)


def test_run_stops_an_endless_computation_at_the_deadline():
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match="counting did not finish within the time budget"):
        Budget(seconds=0.3).run(lambda: sum(1 for _ in itertools.count()), what="counting")
    assert time.monotonic() - start < 0.3 + 2.0


def test_a_stopped_step_leaves_nothing_behind():
    """No stop may arrive after the step: not in the caller, not in a later step."""
    errors = []
    old_hook, threading.excepthook = threading.excepthook, errors.append
    try:
        for seconds in (0.001, 0.005, 0.02):
            for _ in range(20):
                try:
                    Budget(seconds=seconds).run(lambda: sum(1 for _ in range(100_000)))
                except BudgetExceeded:
                    pass
        time.sleep(0.2)
        total = sum(range(10**6))  # the caller runs on undisturbed
    finally:
        threading.excepthook = old_hook
    assert total == 10**6 * (10**6 - 1) // 2
    assert errors == []
    assert threading.active_count() < 5  # the workers ended


def test_deep_recursion_is_reported_not_raised():
    def deep(n):
        return 0 if n == 0 else 1 + deep(n - 1)

    with pytest.raises(BudgetExceeded, match="nests too deeply"):
        Budget(seconds=5).run(deep, 10**6, what="recursing")


def test_a_spent_budget_refuses_at_once():
    budget = Budget(seconds=0.01)
    time.sleep(0.02)
    assert budget.expired
    with pytest.raises(BudgetExceeded, match="not tried"):
        budget.run(sum, [1])
    with pytest.raises(ValueError, match="positive"):
        Budget(seconds=0)


def reference(expr, point, dps=400):
    """The formula at the point, by mpmath at a fixed, high precision."""
    f = sympy.lambdify(list(point), expr.rewrite(sympy.exp), modules="mpmath")
    with mpmath.workdps(dps):
        return f(*[mpmath.mpf(v) for v in point.values()])


@pytest.mark.parametrize(
    "expr, at",
    [
        (1 - sigmoid(x), 100.0),  # needs ~70 digits
        (sympy.log(1 + sympy.exp(x)) - x, 60.0),
        (sympy.tanh(x) - 1, 30.0),
        (sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1 + sympy.exp(-x), 50.0),
        (sympy.exp(sympy.exp(x)) * sympy.exp(-sympy.exp(x) + x), 3.0),
        ((x + 1) ** 7 / (x - 2), -0.3),
    ],
)
def test_value_is_right_to_25_digits(expr, at):
    got = value(expr, {x: at}, digits=1000)
    want = reference(expr, {x: at})
    assert abs(got - want) <= abs(want) * mpmath.mpf(10) ** -24


def test_value_of_a_log_of_a_negative_number_is_complex():
    got = value(sympy.log(x), {x: -2.0}, digits=100)
    assert complex(got) == pytest.approx(complex(math.log(2), math.pi))


@pytest.mark.parametrize("expr", [sympy.log(x - 1), 1 / (x - 1), (x - 1) ** -2, sympy.log(x - x**2)])
def test_undefined_is_undefined(expr):
    with pytest.raises(Undefined):
        value(expr, {x: 1.0}, digits=100)


def test_a_tower_beyond_any_precision_overflows_in_milliseconds():
    tower = x
    for _ in range(6):
        tower = sympy.exp(tower)
    start = time.monotonic()
    assert value(tower, {x: 0.57}, digits=1000) == mpmath.inf
    assert value(1 / tower, {x: 0.57}, digits=1000) == 0
    with pytest.raises(Unevaluable):
        value(tower - sympy.exp(tower), {x: 0.57}, digits=1000)  # inf - inf
    with pytest.raises(Unevaluable):
        value(sympy.sin(tower), {x: 0.57}, digits=1000)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("at", [6.0, 20.4, 500.0])  # the inner number: about 2**(6e5), 2**(1e12), 2**(1e220) bits
def test_a_function_of_a_number_past_reach_is_its_limit_at_once(at):
    """exp(1000 e^x) is representable (its exponent is an int) but too large
    for tanh, sin or exp to reduce: mpmath's tanh of 2**(10**12) would build a
    10**12-bit integer.  Each function gets its limit, log its exact value."""
    inner = sympy.exp(1000 * sympy.exp(x))
    start = time.monotonic()
    assert value(sympy.tanh(inner), {x: at}, digits=1000) == 1
    assert value(sympy.tanh(-inner), {x: at}, digits=1000) == -1
    assert value(1 / (1 + sympy.exp(-inner)), {x: at}, digits=1000) == 1
    assert value(sympy.exp(-inner), {x: at}, digits=1000) == 0
    with pytest.raises(Unevaluable):
        value(sympy.cos(inner), {x: at}, digits=1000)
    if at == 6.0:  # log reads the exponent: exact
        assert value(sympy.log(inner), {x: at}, digits=1000) == pytest.approx(1000 * math.exp(6.0), rel=1e-15)
    assert time.monotonic() - start < 2.0


def test_a_sum_that_cancels_beyond_the_precision_is_unevaluable_never_a_wrong_number():
    """X + 1 - X, held as written: with X = exp(1000 e^6), about 2**581000, every
    pass gives 0, and two passes agreeing must not make 0 the answer."""
    def held(*terms):
        return sympy.Add(*terms, evaluate=False)

    huge = sympy.exp(1000 * sympy.exp(x))
    with pytest.raises(Unevaluable, match="cancel"):
        value(held(huge, 1, -huge), {x: 6.0}, digits=1000)
    # Within reach, more digits find the 1; a sum that is exactly 0 stays 0.
    assert value(held(sympy.exp(x), 1, -sympy.exp(x)), {x: 100.0}, digits=1000) == 1
    assert value(held(x, -x), {x: 0.3}, digits=1000) == 0


def test_deep_nesting_is_linear_not_exponential():
    horner = x
    for _ in range(300):
        horner = horner * x + 1
    start = time.monotonic()
    got = value(horner, {x: 0.5}, digits=1000)
    assert time.monotonic() - start < 2.0
    assert got == pytest.approx(2.0, rel=1e-12)  # 1 + x + x^2 + ... -> 1/(1 - x)


def test_a_stop_landing_in_a_finalizer_is_not_printed():
    """A stop can arrive while a gc callback or __del__ runs in the worker: it is
    dropped there (the worker is asked again), and nothing is printed."""
    import gc

    seen = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    slow_callback = lambda phase, info: sum(range(20_000))  # noqa: E731 (a slow gc callback)
    gc.callbacks.append(slow_callback)
    try:
        for _ in range(4):
            with pytest.raises(BudgetExceeded):
                Budget(seconds=0.02).run(lambda: [[[]] for _ in itertools.count()])  # allocates: gc runs
    finally:
        gc.callbacks.remove(slow_callback)
        sys.unraisablehook = old_hook
    assert seen == []


def test_a_stop_never_reaches_a_thread_outside_the_step():
    """A stop that landed before the step began ended the worker unmarked, and
    a helper kept sending stops to its ident, which Python reuses for the next
    thread it starts: that thread died before it started, and `Thread.start`
    waited forever (found in the test suite, at 100% CPU).  Now a stop is sent
    only between the step's start and its end, and never to an ended thread."""
    import threading

    from microgrid.symbolic import budget

    sent = []
    real = budget._set_async_exc
    budget._set_async_exc = lambda ident, exc: (exc is not None and sent.append(ident)) or 1  # stops only
    try:
        ended = budget._Worker(sum, ([1, 2],))
        ended.start()
        ended.join(5.0)
        ended._done = False  # as if it had died before marking itself done
        assert ended._raise_stop() is False and sent == []
        not_yet = budget._Worker(sum, ([1],))  # created, not in its step yet
        not_yet.is_alive = lambda: True  # (as between `start` and `run`)
        assert not_yet._raise_stop() is True and sent == []
    finally:
        budget._set_async_exc = real
    helper_ran: list = []
    helper = threading.Thread(target=helper_ran.append, args=(1,))
    helper.start()
    helper.join(5.0)
    assert helper_ran == [1] and Budget(seconds=5).run(sum, [1, 2]) == 3
