"""Argument checks shared by nn, losses, optim, data and train: one wording for every error.

    >>> real(0.5, "lr", "SGD", minimum=0.0)
    0.5
    >>> integer(True, "n", "make_moons")
    Traceback (most recent call last):
    ...
    TypeError: make_moons: n must be an int, got bool: True
"""

from __future__ import annotations

import math

__all__ = ["real", "integer"]


def real(x: object, what: str, where: str, *, minimum: float | None = None) -> float:
    """`x` as a float: a finite int or float (not bool), at least `minimum`.

    TypeError for anything that is not a number; ValueError for inf, nan or a
    number below `minimum`.
    """
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{where}: {what} must be a real number, got {type(x).__name__}: {x!r}")
    try:
        value = float(x)
    except OverflowError:  # an int beyond the floats (its repr may be thousands of digits)
        raise ValueError(f"{where}: {what} is too large for a float (an int of {x.bit_length()} bits)") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {what} must be finite, got {x!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum:g}, got {x!r}")
    return value


def integer(x: object, what: str, where: str, *, minimum: int | None = None) -> int:
    """`x` itself if it is an int (not bool) of at least `minimum`; else TypeError or ValueError."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{where}: {what} must be an int, got {type(x).__name__}: {x!r}")
    if minimum is not None and x < minimum:
        raise ValueError(f"{where}: {what} must be an int >= {minimum}, got {x}")
    return x
