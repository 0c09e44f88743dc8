"""The reverse pass: d(root)/d(node) for every node of a graph, consumers first.

One float loop serves `Value.backward`, `grad` and `explain_backward`, so the
rules for a zero, an underflowed and an infinite gradient live here alone;
`graph_pass` is the same walk building the derivatives as Values.  Both read
only a node's slots and its op's ``partials``: nothing of the engine they serve.

    >>> from microgrid import Value
    >>> x = Value(3.0); y = x * x
    >>> order, earlier = reverse_pass(y); x.grad
    6.0
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .graphs import describe, topological_order

Node = Any  # a microgrid Value
Visit = Callable[[Node, float, Any], None]


def reverse_pass(root: Node, visit: Visit | None = None) -> tuple[list[Node], list[tuple[Node, float]]]:
    """This pass's d(root)/d(node) in each ``._grad``; returns the nodes in topological order and the (node, ``._grad``)
    set aside, for the caller to add back or restore; on an error every ``._grad`` is as it was.  Each node hands its
    gradient g on to its operands times its op's partials; ``visit(node, g, partials)`` sees each computed node.
    """
    order = topological_order(root)
    earlier = [(node, node._grad) for node in order if node._grad != 0.0]
    for node, _ in earlier:
        node._grad = 0.0
    root._grad = 1.0
    # Gradients that are 0.0 only as floats: an underflow (True) or a partial rounded to 0 (False).
    uncertain: dict[Node, bool] = {}
    try:
        for node in reversed(order):
            g = node._grad
            if (g == 0.0 or g - g != 0.0) and not _handle_zero_or_infinite(node, g, uncertain, visit):
                continue
            op = node._op
            if op is None:
                continue
            a, b = node._a, node._b
            try:
                if b is None:
                    partials = op.partials(a._data, node._data)
                    contribution = g * partials
                    if not contribution:
                        _zero(node, a, g, partials, uncertain)
                    a._grad += contribution
                else:
                    partials = da, db = op.partials(a._data, b._data, node._data)
                    contribution = g * da
                    if not contribution:
                        _zero(node, a, g, da, uncertain)
                    a._grad += contribution
                    contribution = g * db
                    if not contribution:
                        _zero(node, b, g, db, uncertain)
                    b._grad += contribution
            except (ArithmeticError, ValueError) as error:
                if isinstance(error, FloatingPointError):
                    raise
                raise _undefined_derivative(node, error) from None
            if visit is not None:
                visit(node, g, partials)
    except BaseException:
        restore_grads(order, earlier)
        raise
    return order, earlier


def restore_grads(order: list[Node], earlier: list[tuple[Node, float]]) -> None:
    """Every ``._grad`` of `order` back to what `reverse_pass` found: 0, or as set aside in `earlier`."""
    for node in order:
        node._grad = 0.0
    for node, grad_before in earlier:
        node._grad = grad_before


def _handle_zero_or_infinite(node: Node, g: float, uncertain: dict[Node, bool], visit: Visit | None) -> bool:
    """Handle a node whose g is 0 or off the floats, and return whether it still hands a gradient on.

    A true 0 passes nothing on (a partial that does not exist there, ``x ** 0.5`` at 0, must not
    raise).  A 0 standing for a number too small for floats does, so that an infinite partial
    below is an error, never a silent 0.  An inf or nan g is an OverflowError naming the node.
    """
    if g - g != 0.0:  # inf or nan: true only off the real numbers
        raise OverflowError(
            f"backward: the gradient of {describe(node)} (data {node._data!r}) is {g!r}: "
            "a derivative beyond the largest float" + (" times a gradient rounded to 0" if g != g else "")
        )
    if node in uncertain:
        return True
    if visit is not None and node._op is not None:
        visit(node, g, None)
    return False


def _zero(node: Node, operand: Node, g: float, local: float, uncertain: dict[Node, bool]) -> None:
    """Decide what a contribution ``g * local == 0`` from `node` to `operand` means.

    A factor that is 0 exactly (relu below its kink) means nothing.  A product of two non-zero
    numbers is an underflow, which stands for the true gradient only while nothing below
    multiplies it by more than 1: past that, an error.  A partial rounded to 0 at non-zero
    values (tanh(20)'s 1 - out^2) passes its 0 on, so that an infinite partial below is caught.
    """
    if g == 0.0:
        underflow = uncertain[node]
        if underflow and abs(local) > 1.0:
            raise FloatingPointError(
                f"backward: the gradient reaching {describe(node)} is smaller than the smallest float "
                f"(it underflowed to 0), and its derivative by {describe(operand)} is {local!r}: the true "
                "gradient may be an ordinary number, which floats cannot compute here; rescale the inputs"
            )
    elif local != 0.0:
        underflow = True
    elif node._data != 0.0 and all(p._data != 0.0 for p in node.parents):
        underflow = False
    else:
        return
    uncertain[operand] = uncertain.get(operand, False) or underflow


def _undefined_derivative(node: Node, error: Exception) -> Exception:
    """The error of a partial that does not exist at this point, naming the op and the point."""
    names = {"a": node._a._label or "a", "b": node._b._label or "b" if node._b is not None else "b"}
    shown = re.sub(r"\b[ab]\b", lambda m: names[m.group()], node._op.notation)
    point = ", ".join(f"{names[v]} = {p._data!r}" for v, p in zip("ab", node.parents, strict=False))
    return type(error)(f"{node._op.name}: the derivative of {shown} at {point} is not a finite number ({error})")


def graph_pass(root: Node) -> dict[Node, Any]:
    """d(root)/d(node) for every node, each a Value (or a float while it is a
    constant), building no ``* 1`` and no ``0 +`` nodes; no ``.grad`` is touched."""
    gradients: dict[Node, Any] = {root: 1.0}
    for node in reversed(topological_order(root)):
        g, op = gradients.get(node, 0.0), node._op
        # A Value gradient is never skipped: its number may change when its graph runs again.
        if op is None or (
            type(g) is float and (g == 0.0 or g - g != 0.0) and not _handle_zero_or_infinite(node, g, {}, None)
        ):
            continue
        parents = node.parents
        try:
            partials = op.partials(*parents, node)
        except (ArithmeticError, ValueError) as error:
            raise _undefined_derivative(node, error) from None
        for parent, local in zip(parents, (partials,) if op.arity == 1 else partials, strict=True):
            unit = type(local) is float and local in (1.0, -1.0)  # no ``* 1`` nodes
            contribution = (g if local == 1.0 else -g) if unit else g * local
            gradients[parent] = gradients[parent] + contribution if parent in gradients else contribution
    return gradients
