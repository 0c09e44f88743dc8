"""`gradcheck`: the engine's gradients against central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ._arguments import ordered, real
from .engine import Scalar, Value, grad

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference estimate disagree."""


def gradcheck(
    f: Callable[..., Value], inputs: Iterable[Scalar], eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3
) -> bool:
    """The engine's gradient of ``f(*inputs)`` against central differences: True, else a `GradcheckError`.

    >>> gradcheck(lambda x: x ** 3, [2.0]), gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    (True, True)
    """
    inputs = ordered(inputs, "inputs", "gradcheck", of=" of numbers or Values")
    eps = real(eps, "eps", "gradcheck")
    if not eps > 0.0:
        raise ValueError(f"gradcheck: eps must be a positive number, got {eps!r}")
    atol, rtol = real(atol, "atol", "gradcheck", minimum=0.0), real(rtol, "rtol", "gradcheck", minimum=0.0)
    # Numbers are read through `.data`, as user code reads them.
    points = [x.data if isinstance(x, Value) else real(x, "data", "gradcheck") for x in inputs]
    labels = [x.label if isinstance(x, Value) else "" for x in inputs]

    def evaluate(at: list[float]) -> tuple[Value, list[Value]]:
        values = [Value(v, label=label) for v, label in zip(at, labels, strict=True)]
        out = f(*values)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        return out, values

    out, leaves = evaluate(points)
    for i, g in enumerate(grad(out, leaves)):
        up, down = points.copy(), points.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (evaluate(up)[0].data - evaluate(down)[0].data) / (2.0 * eps)
        if not abs(g - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck: gradient for {labels[i] or f'inputs[{i}]'} (= {points[i]!r}) disagrees: "
                f"engine {g!r}, finite differences {numeric!r}"
            )
    return True
