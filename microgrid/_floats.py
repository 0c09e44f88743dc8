"""The engine's rules on plain floats: where no real number exists, a clear error naming the operation and input.

>>> log(-1.0)
Traceback (most recent call last):
...
ValueError: log: undefined for input -1.0 (log needs x > 0)
"""

from __future__ import annotations

import math


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp: overflow for input {x!r} (the result exceeds the largest float)") from None


def log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log: undefined for input {x!r} (log needs x > 0)")
    return math.log(x)


def sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0: e^x cannot overflow
    return e / (1.0 + e)


def power(base: float, exponent: float) -> float:
    if base == 0.0 and exponent < 0.0:
        raise ZeroDivisionError(f"**: 0.0 raised to the negative power {exponent!r}")
    if base < 0.0 and not exponent.is_integer():
        raise ValueError(f"**: negative base {base!r} to the non-integer power {exponent!r} is not a real number")
    try:
        result: float = base**exponent  # a float: a negative base has an integer exponent here
    except OverflowError:
        raise OverflowError(f"**: overflow for {base!r} ** {exponent!r}") from None
    return result


def divide(a: float, b: float) -> float:
    if b == 0.0:
        raise ZeroDivisionError(f"/: division by zero ({a!r} / {b!r})")
    return a / b


def relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def step(x: float) -> float:
    return 1.0 if x > 0.0 else 0.0


def x_log_y(x: float, y: float) -> float:
    """x * log(y), and 0 where x is 0: d(y ** b)/db = (y ** b) * log(y), 0 where y ** b is 0."""
    if x == 0.0:
        return 0.0
    if y <= 0.0:
        raise ValueError(
            f"**: the derivative of {y!r} ** b with respect to the exponent b "
            "needs log(base), which is not a real number for base <= 0"
        )
    return x * math.log(y)
