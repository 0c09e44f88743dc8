"""d(output)/d(wrt) as a formula, by the engine's own reverse pass: `diff`.

``grad(..., create_graph=True)`` builds the derivative as a new graph of
Values whose local derivatives reuse the forward nodes (the sigmoid's
``A(1 - A)`` is made of the node A itself).  Converted with `to_sympy`, the
result is already written in the intermediate symbols, and a cheap
``factor(cancel(...))`` finishes the job: no exponentials to untangle.

    >>> from microgrid import Value
    >>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
    >>> A = Z.sigmoid(); A.label = "A"
    >>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
    >>> diff(L, Z)
    A - y
"""

from __future__ import annotations

from ._sympy import sympy

from ..engine import Value, grad
from .budget import Budget
from .convert import convert, find_node
from .simplify import simplify_gradient

__all__ = ["diff"]


# ---------------------------------------------------------------- diff()
def _gradient_expression(output: Value, wrt: Value, expand: bool) -> sympy.Expr:
    # relu's derivative is a node of its own (step), so the formula keeps both
    # branches, and means what the engine computes at the kink: step(0) = 0.
    (g,) = grad(output, [wrt], create_graph=True)
    # The gradient may be an existing node (d(x*y)/dx is y): a reference, kept as its symbol.
    return convert(g, expand, expand_root=False)


def diff(
    output: Value, wrt: Value | str, expand: bool = False, simplify: bool = True, budget: Budget | None = None
) -> sympy.Expr:
    """d(output)/d(wrt) as a sympy expression, by the engine's reverse pass.

    `wrt` is a Value of the graph or its label (or the label's identifier
    spelling, ``w2_1_0``); it may be an intermediate node (sympy alone cannot
    differentiate with respect to one).  Labelled intermediates stay symbols
    unless ``expand=True``.  Simplifying gets `budget` (see `simplify_gradient`).

    >>> from microgrid import Value
    >>> W, x, b = Value(0.5, label="W"), Value(2.0, label="x"), Value(0.1, label="b")
    >>> Z = W * x + b; Z.label = "Z"
    >>> A = Z.sigmoid(); A.label = "A"
    >>> diff(A, Z), diff(A, W)
    (A*(1 - A), A*x*(1 - A))
    """
    if not isinstance(output, Value):
        raise TypeError(f"diff: output must be a Value, got {type(output).__name__}")
    node = find_node(output, wrt)
    expr = _gradient_expression(output, node, expand)
    return simplify_gradient(expr, budget=budget) if simplify else expr
