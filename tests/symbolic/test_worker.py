"""microgrid.symbolic.worker and budget: sympy's heavy work in a process that is stopped at its limits.

References: the wall clock, the process table (/proc), sympy and Python run in the test itself."""

import operator
import os
import pathlib
import signal
import threading
import time

import pytest
import sympy
import worker_jobs

import microgrid
from microgrid import Value, define_op, remove_op
from microgrid.symbolic import check, diff, sigmoid, simplify_within, symbol, worker
from microgrid.symbolic.worker import Budget, BudgetExceeded

x, y = sympy.symbols("x y")
#: A bound for "stopped, not waited for": wide, for a shared machine (the budgets below are at most 1 s).
BOUND = 20.0


def alive(pid):
    """Is `pid` a process (a zombie counts: it is not yet reaped)?"""
    return pathlib.Path(f"/proc/{pid}").exists()


def worker_pid():
    return Budget(30).run(os.getpid)


def test_run_returns_the_result_and_propagates_errors():
    budget = Budget(seconds=30)
    assert budget.run(sympy.factor, x**2 - y**2) == (x - y) * (x + y)
    assert budget.run(worker_jobs.same, 7) == 7 and worker_pid() != os.getpid()
    with pytest.raises(ZeroDivisionError):
        budget.run(operator.truediv, 1, 0)
    with pytest.raises(sympy.PolynomialError):
        budget.run(sympy.Poly, 1 / x, x)


def test_a_lambda_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match=r"cannot be sent to the worker process.*module-level function"):
        Budget(30).run(lambda: 1, what="a lambda")


def test_a_runaway_computation_is_stopped_and_the_next_call_gets_a_fresh_worker():
    """In Python bytecode, and inside one C call (sum over a range), which no
    exception in the same process could stop."""
    for runaway, args in [(worker_jobs.endless_python, ()), (sum, (range(10**15),))]:
        before = worker_pid()
        start = time.monotonic()
        with pytest.raises(BudgetExceeded, match="counting did not finish within the time budget"):
            Budget(seconds=0.5).run(runaway, *args, what="counting")
        assert time.monotonic() - start < BOUND
        assert not alive(before)  # the idle worker took the step, and was killed
        after = worker_pid()
        assert after != before and Budget(30).run(sum, [1, 2, 3]) == 6


def test_the_memory_limit_is_enforced():
    assert Budget(30, memory_mb=1000).run(worker_jobs.allocate, 300) == 300 * 2**20
    before = worker_pid()
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match=r"ran out of memory \(the limit is 100 MB"):
        Budget(30, memory_mb=100).run(worker_jobs.allocate, 300, what="allocating")
    assert time.monotonic() - start < BOUND
    assert not alive(before)
    assert worker_pid() != before and Budget(30, memory_mb=1000).run(worker_jobs.allocate, 300) == 300 * 2**20


def test_a_crashed_worker_is_reported_as_it_ended_not_as_out_of_memory():
    with pytest.raises(
        BudgetExceeded, match=r"crashing ended its worker process .*the worker ended: signal SIGSEGV"
    ) as e:
        Budget(30).run(worker_jobs.crash, what="crashing")
    assert "memory" not in str(e.value).split("(")[0]
    assert Budget(30).run(sum, [1, 2, 3]) == 6  # a new worker serves the next step


def test_ctrl_c_while_waiting_kills_the_worker_at_once(tmp_path):
    told = tmp_path / "pid"

    def press_ctrl_c():  # as a terminal does: SIGINT to the thread that waits
        deadline = time.monotonic() + BOUND
        while not told.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            Budget(seconds=60).run(worker_jobs.tell_pid_then_spin, str(told))
    finally:
        presser.join()
    assert time.monotonic() - start < BOUND  # not the 60 s of the budget
    pid = int(told.read_text())
    assert not alive(pid)  # killed and reaped: nothing left computing
    assert Budget(30).run(sum, [1, 2]) == 3


def test_stopped_steps_leave_no_process_behind():
    for seconds in (0.001, 0.01, 0.05):
        for _ in range(5):
            with pytest.raises(BudgetExceeded):
                Budget(seconds).run(worker_jobs.endless_python)
    server = worker._server.process.pid
    children = pathlib.Path(f"/proc/{server}/task/{server}/children")
    if not children.exists():
        pytest.skip("this kernel does not list a process's children")
    assert len(children.read_text().split()) <= worker.KEEP_IDLE


def test_steps_in_two_threads_run_at_once_in_two_workers():
    pids = []
    threads = [
        threading.Thread(target=lambda: pids.append(Budget(30).run(worker_jobs.sleep_then_pid, 1.0))) for _ in range(2)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert time.monotonic() - start < BOUND


def test_deep_recursion_is_reported_not_raised():
    with pytest.raises(BudgetExceeded, match="nests too deeply"):
        Budget(seconds=30).run(worker_jobs.deep, 10**6, what="recursing")


def test_a_spent_budget_refuses_at_once():
    budget = Budget(seconds=0.01)
    time.sleep(0.02)
    assert budget.expired
    with pytest.raises(BudgetExceeded, match="not tried"):
        budget.run(sum, [1])
    with pytest.raises(ValueError, match="positive"):
        Budget(seconds=0)


def test_formulas_come_back_exactly_as_they_went():
    """sympy's own pickling evaluates a formula again: x + x came back 2*x, and a
    claim held as written was multiplied out (1000**(10**9): minutes in C)."""
    held = sympy.UnevaluatedExpr(sympy.Pow(sympy.Mul(1000, x, evaluate=False), 10**9, evaluate=False))
    w = symbol("w^(1)_0,0")
    formulas = [
        sympy.Add(x, x, evaluate=False),
        sympy.Mul(2, sympy.Add(y, -x, evaluate=False), evaluate=False),
        held,
        sigmoid(w) * (1 - sigmoid(w)) + sympy.Heaviside(x, 0) + sympy.Max(0, x),
        sympy.Float("0.1", 30) * w + sympy.Rational(1, 3),
        sympy.Max(1, 2, x, evaluate=False) + sympy.Min(x, y, 3, evaluate=False),  # evaluating asks what each is
    ]
    start = time.monotonic()
    for formula in formulas:
        back = Budget(30).run(worker_jobs.same, formula)
        assert sympy.srepr(back) == sympy.srepr(formula) and back == formula
    assert time.monotonic() - start < BOUND
    assert Budget(30).run(worker_jobs.same, w).label == "w^(1)_0,0"


def test_results_equal_sympys_own_in_this_process():
    A, b = sympy.symbols("A y")
    expr = A * (1 - A) * (-b / A + (1 - b) / (1 - A))
    got, note = simplify_within(expr, Budget(30))
    assert note is None and got == A - b == sympy.simplify(expr)
    assert Budget(30).run(sympy.diff, sigmoid(x), x) == sympy.diff(sigmoid(x), x)
    written = 1 / (1 + sympy.exp(-x))
    at = {x: 0.3}
    got = Budget(30).run(sympy.diff, sigmoid(x) ** 2, x).rewrite(sympy.exp).subs(at)
    assert float(got) == pytest.approx(float(sympy.diff(written**2, x).subs(at)), rel=1e-14)


@pytest.fixture
def ops_declared_after_the_worker_started():
    worker_pid()  # the worker is running, with the built-in table only
    yield
    for name in ("cube", "dcube"):
        if name in microgrid.engine.OPS:
            remove_op(name)


def test_an_op_declared_after_the_worker_started_is_known_there(ops_declared_after_the_worker_started):
    """An op kept by its name in formulas (cube), whose rule names another op declared
    later still (dcube); each goes as text, never as Python functions."""
    define_op("dcube", 1, lambda a: 3 * a * a, ["6*a"], formula="3*a**2")
    cube = define_op("cube", 1, lambda a: a**3, ["dcube(a)"], definition="a**3")
    w = Value(0.7, label="w")
    out = cube(w) * 2
    out.label = "out"
    assert check("6*w**2", out, "w").correct  # subtracted and simplified in the worker
    assert check("2*dcube(w)", out, "w").correct  # read there: it knows dcube
    assert check("5*w**2", out, "w").status == "incorrect"
    # The worker's derivative of cube, by its rule text, against sympy's of w**3 here:
    form = microgrid.symbolic.conversion.sympy_form(cube)
    derivative = Budget(30).run(sympy.diff, form(x), x)
    assert float(derivative.evalf(subs={x: 0.7})) == pytest.approx(float(sympy.diff(x**3, x).subs(x, 0.7)), rel=1e-14)
    assert Budget(30).run(worker_jobs.same, form(x) + 1) == form(x) + 1
    # Redefined: the worker follows.
    remove_op("cube")
    cube = define_op("cube", 1, lambda a: a**4, ["4*a^3"], definition="a**4")
    form = microgrid.symbolic.conversion.sympy_form(cube)
    derivative = Budget(30).run(sympy.diff, form(x), x)
    assert float(derivative.evalf(subs={x: 0.7})) == pytest.approx(4 * 0.7**3, rel=1e-14)
    assert diff(cube(w), w) == 4 * symbol("w") ** 3


def test_no_module_stops_a_thread_with_an_asynchronous_exception():
    package = pathlib.Path(microgrid.__file__).parent
    found = [str(p) for p in package.rglob("*.py") if "PyThreadState_SetAsyncExc" in p.read_text()]
    assert found == []
