"""A budget of time, precision and memory for one request's symbolic work, which sympy cannot bound itself.

sympy has no cancellation: ``factor`` of a short polynomial can run for
minutes.  A `Budget` is made once per user request (a check, a derivation)
and handed down: `Budget.run` gives one step of algebra the time that is
left, in a worker process (`microgrid.symbolic.worker`) that is killed when
the time or its memory is spent; `Budget.digits` caps the working precision
of numeric evaluation (`microgrid.symbolic.precise`).

    >>> Budget(seconds=30).run(sum, [1, 2, 3])
    6
    >>> Budget(seconds=0.5).run(sum, range(10**15), what="counting")  # hours, in one C call
    Traceback (most recent call last):
    ...
    microgrid.symbolic.budget.BudgetExceeded: counting did not finish within the time budget (0.5 s)
"""

from __future__ import annotations

import time
from typing import Any, Callable

from . import worker

__all__ = ["Budget", "BudgetExceeded"]


class BudgetExceeded(Exception):
    """A step ran out of time, memory or precision; the message says which step and what ran out."""


class Budget:
    """Wall time, working precision and memory for one request.

    `seconds` counts from the budget's creation; every `run` draws on what
    is left.  `digits` is the most decimal digits a numeric evaluation may
    use; `memory_mb` the memory one step may take.  A budget handed to a step
    keeps its deadline in the worker: the monotonic clock is the machine's.
    """

    def __init__(self, seconds: float = 4.0, digits: int = 1000, memory_mb: float = worker.MEMORY_MB):
        if not seconds > 0 or not digits > 0 or not memory_mb > 0:
            raise ValueError(f"Budget: seconds, digits and memory_mb must be positive, got {seconds!r}, {digits!r} "
                             f"and {memory_mb!r}")
        self.seconds = float(seconds)
        self.digits = int(digits)
        self.memory_mb = float(memory_mb)
        self._deadline = time.monotonic() + self.seconds

    def __repr__(self) -> str:
        return f"Budget(seconds={self.seconds:g}, digits={self.digits}, remaining={self.remaining():.2f})"

    def remaining(self) -> float:
        """Seconds left (0 once spent)."""
        return max(0.0, self._deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() == 0.0

    def share(self, fraction: float) -> "Budget":
        """A budget of `fraction` of the time left (at least a millisecond), with the same digits and memory."""
        return Budget(max(self.remaining(), 1e-3) * fraction, self.digits, self.memory_mb)

    def run(self, work: Callable[..., Any], *args: Any, seconds: float | None = None, what: str = "the step") -> Any:
        """``work(*args)`` in the worker process, stopped once the budget (or
        `seconds`, if less) is spent or past `memory_mb`.

        Raises `BudgetExceeded` naming `what` and the limit when it does not
        finish, or when it recurses too deeply (a formula nested beyond
        Python's stack); any other exception of `work` propagates unchanged.
        `work` and `args` must pickle: a module-level function, not a lambda.
        """
        limit = self.remaining() if seconds is None else min(seconds, self.remaining())
        if limit <= 0.0:
            raise BudgetExceeded(f"{what} was not tried: the time budget ({self.seconds:g} s) is spent")
        return worker.call(work, args, seconds=limit, what=what, memory_mb=self.memory_mb)
