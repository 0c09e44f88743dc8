"""A budget of time and precision for symbolic work, which sympy cannot bound itself.

sympy has no cancellation: ``factor`` of a short polynomial can run for
minutes.  A `Budget` is made once per user request (a check, a derivation)
and handed down: `Budget.run` gives one step of algebra the time that is
left, and stops it when the time is up; `Budget.digits` caps the working
precision of numeric evaluation, so that no single big-number operation can
take long (the thing a time limit could not interrupt).

How a step is stopped: it runs in a worker thread, and at the deadline an
exception is raised inside that thread (CPython's
``PyThreadState_SetAsyncExc``), which takes effect at its next Python
operation.  sympy and mpmath (with their pure-Python number types) spend
their time in Python, so the step ends within milliseconds.  The caller's
own state is untouched: sympy's global settings are per thread, its caches
keep only finished results, and the worker is new for every step.  A step
that cannot be interrupted (inside one long C call) is abandoned after
`GRACE` seconds; it keeps being asked to stop until it does.

    >>> Budget(seconds=30).run(sum, [1, 2, 3])
    6
    >>> import itertools
    >>> Budget(seconds=0.5).run(lambda: sum(1 for _ in itertools.count()), what="counting")
    Traceback (most recent call last):
    ...
    microgrid.symbolic.budget.BudgetExceeded: counting did not finish within the time budget (0.5 s)
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from typing import Any, Callable

__all__ = ["Budget", "BudgetExceeded"]

#: How long a stopped step may take to end before it is abandoned.
GRACE = 1.0


class BudgetExceeded(Exception):
    """A step ran out of time or precision; the message says which step and what ran out."""


class _Stop(BaseException):
    """Raised inside a worker at its deadline.  Not an `Exception`: code that
    catches `Exception` (sympy has many such places) lets it through."""


class Budget:
    """Wall time and working precision for one request.

    `seconds` counts from the budget's creation; every `run` draws on what
    is left.  `digits` is the most decimal digits a numeric evaluation may
    use.  A budget is not shared between threads.
    """

    def __init__(self, seconds: float = 4.0, digits: int = 1000):
        if not seconds > 0 or not digits > 0:
            raise ValueError(f"Budget: seconds and digits must be positive, got {seconds!r} and {digits!r}")
        self.seconds = float(seconds)
        self.digits = int(digits)
        self._deadline = time.monotonic() + self.seconds

    def __repr__(self) -> str:
        return f"Budget(seconds={self.seconds:g}, digits={self.digits}, remaining={self.remaining():.2f})"

    def remaining(self) -> float:
        """Seconds left (0 once spent)."""
        return max(0.0, self._deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() == 0.0

    def run(self, work: Callable[..., Any], *args: Any, seconds: float | None = None, what: str = "the step") -> Any:
        """``work(*args)``, stopped once the budget (or `seconds`, if less) is spent.

        Raises `BudgetExceeded` naming `what` when it does not finish in time,
        or when it recurses too deeply (a formula nested beyond Python's stack);
        any other exception of `work` propagates unchanged.
        """
        limit = self.remaining() if seconds is None else min(seconds, self.remaining())
        if limit <= 0.0:
            raise BudgetExceeded(f"{what} was not tried: the time budget ({self.seconds:g} s) is spent")
        _quiet_stops_in_finalizers()
        worker = _Worker(work, args)
        worker.start()
        try:
            worker.join(limit)
        finally:  # a KeyboardInterrupt while waiting stops the worker too
            if worker.is_alive():
                worker.stop()
        if worker.error is not None:
            if isinstance(worker.error, RecursionError):
                raise BudgetExceeded(f"{what} nests too deeply for Python's stack") from None
            raise worker.error
        if not worker.finished_normally:
            raise BudgetExceeded(f"{what} did not finish within the time budget ({limit:.2g} s)")
        return worker.result


def _quiet_stops_in_finalizers() -> None:
    """A stop can land in a finalizer or a gc callback that runs in the worker;
    Python then prints it as "Exception ignored".  It is harmless (the worker
    is asked again), so `sys.unraisablehook` is wrapped to drop it, and only it."""
    current = sys.unraisablehook
    if getattr(current, "drops_budget_stops", False):
        return

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, _Stop):
            current(unraisable)

    hook.drops_budget_stops = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


_set_async_exc = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)


class _Worker(threading.Thread):
    """Runs one step; `stop` raises `_Stop` inside it until it ends."""

    def __init__(self, work: Callable[..., Any], args: tuple):
        super().__init__(daemon=True, name="microgrid-budget")
        self.work, self.args = work, args
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished_normally = False
        self._lock = threading.Lock()
        self._running = False  # in the step: from here on a stop can be sent ...
        self._done = False  # ... and from here on none is (the ident may be another thread's soon)

    def run(self) -> None:
        try:
            try:
                with self._lock:  # inside the try: a stop sent from now on is caught here
                    self._running = True
                self.result = self.work(*self.args)
                self.finished_normally = True
            except _Stop:
                pass
            except BaseException as error:  # handed to the caller
                self.error = error
        except _Stop:  # a second stop, while handling the first
            pass
        self._close()

    def _close(self) -> None:
        """Mark the step done and drop any stop still pending, so that none
        can arrive once this thread has left the step."""
        while True:
            try:
                with self._lock:
                    self._done = True
                    if _set_async_exc is not None:
                        _set_async_exc(ctypes.c_ulong(self.ident), None)
                return
            except _Stop:  # arrived inside this very block: do it again
                continue

    def _raise_stop(self) -> bool:
        """Send a stop if the step is running; False once it is over.  Never to a
        thread outside the step: a stop landing before `run` began would end the
        thread without marking it done, and a finished thread's ident is reused
        by the next thread Python starts, which the stop would then kill."""
        with self._lock:
            if self._done or not self.is_alive():
                return False
            if self._running and _set_async_exc is not None:
                _set_async_exc(ctypes.c_ulong(self.ident), ctypes.py_object(_Stop))
            return True

    def stop(self) -> None:
        """Ask the step to stop, again every 50 ms, and wait up to `GRACE`
        seconds; past that, a helper thread keeps asking until it ends."""
        end = time.monotonic() + GRACE
        while self._raise_stop() and time.monotonic() < end:
            self.join(0.05)
        if self.is_alive():
            threading.Thread(target=self._keep_stopping, daemon=True, name="microgrid-budget-stop").start()

    def _keep_stopping(self) -> None:
        while self._raise_stop():
            self.join(0.05)
