"""The scalar reverse-mode engine: `Value`, `Op`, `backward()`, `grad()`.

micrograd gives each result node a ``_backward`` closure that knows its step. Here each
operation is one entry of a table instead (`microgrid.ops`): an `Op` with its rule on floats
and its local derivatives, written once as formulas (``rules=["b", "a"]`` for ``a * b``);
``a * b`` runs ``MUL.apply``.  No node holds a closure, so a dropped graph is freed at once by
reference counting (no cycles), and one rule serves numbers (`backward()`), a differentiable
graph (``grad(..., create_graph=True)``), a line of `explain_backward` and a formula.

    >>> x = Value(3.0, label="x"); y = x * x + 2 * x
    >>> y.backward(); x.grad
    8.0
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeAlias

from . import observe
from ._arguments import ordered, real
from .graphs import describe, topological_order  # noqa: F401  (wings walk graphs from here too)
from .observe import observing
from .reverse import graph_pass, restore_grads, reverse_pass
from .rules import CALLABLE, compile_rules

__all__ = ["OPS", "Op", "Value", "define_op", "grad", "observing", "remove_op"]

Number: TypeAlias = "int | float"
Scalar: TypeAlias = "Value | int | float"


class Op:
    """One operation, declared once; everything else reads it.

    ``forward`` is its rule on floats; ``rules``, its local derivatives as formulas
    (`microgrid.rules`), compiled into ``partials``.  ``formula`` is the op in
    formulas (``Max(0, a)``), or ``definition`` its meaning where formulas keep its
    name (sigmoid, shown as ``latex``); ``notation``, the op as typed (``a + b``);
    ``params``, its constants (``(n,)`` for ``x ** n``); ``by_name``: users call it by name
    (``exp(x)``); ``commutative``: operand order does not matter.  ``apply`` (or calling
    it) makes a node from Values, a float from numbers.

    >>> from microgrid.ops import MUL
    >>> MUL(Value(2.0), 3).data, MUL(2.0, 3.0)
    (6.0, 6.0)
    """

    __slots__ = (
        "apply",
        "arity",
        "by_name",
        "commutative",
        "definition",
        "formula",
        "forward",
        "latex",
        "name",
        "notation",
        "params",
        "partials",
        "rules",
    )

    def __init__(
        self,
        name: str,
        arity: int,
        forward: Callable[..., float],
        rules: Sequence[str],
        formula: str = "",
        *,
        definition: str = "",
        notation: str = "",
        latex: str = "",
        params: tuple[float, ...] = (),
        by_name: bool = False,
        commutative: bool = False,
        doc: str = "",
    ):
        self.partials = compile_rules(name, arity, rules)
        self.name, self.arity, self.forward, self.rules = name, arity, forward, tuple(rules)
        self.formula, self.definition, self.latex = formula, definition, latex
        self.notation = notation or (f"{name}(a)" if arity == 1 else f"{name}(a, b)")
        self.params, self.by_name, self.commutative = params, by_name, commutative
        self.apply: Callable[..., Value] = _unary(self) if arity == 1 else _binary(self)
        self.apply.__doc__ = doc or f"The op {name!r} on a Value (a new node) or on a number (a float)."
        # A wrong-arity TypeError names the function: the op's name, not "_unary.<locals>.apply".
        self.apply.__name__ = self.apply.__qualname__ = name if name.isidentifier() else f"Op({name!r})"

    def __call__(self, *operands: Scalar) -> Any:
        return self.apply(*operands)

    def overflow(self, result: float, *operands: float) -> OverflowError:
        shown = ", ".join(map(repr, operands))
        return OverflowError(f"{self.name}: result is not a finite number for input {shown} (got {result!r})")

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


# An op's `apply` is a function of its own, made here once per op, so that Value's
# operators are these functions themselves: ``a * b`` runs one Python call, not two.
# Their bodies build the node slot by slot, the fastest way Python has.
def _unary(op: Op) -> Callable[[Scalar], Any]:
    forward = op.forward

    def apply(a: Scalar) -> Any:
        if type(a) is not Value:
            if type(a) is float and a - a == 0.0:  # a finite float: the partials' own calls
                return forward(a)
            return forward(real(a, "data", op.name))
        data = forward(a._data)
        if data - data != 0.0:  # inf or nan: true only off the real numbers
            raise op.overflow(data, a._data)
        out = _new_value(Value)
        out._data = data
        out._grad = 0.0
        out._label = ""
        out._a = a
        out._b = None
        out._op = op
        return out

    return apply


def _binary(op: Op) -> Callable[[Scalar, Scalar], Any]:
    forward = op.forward

    def apply(a: Scalar, b: Scalar) -> Any:
        if type(b) is not Value:
            if type(a) is not Value:
                return forward(real(a, "data", op.name), real(b, "data", op.name))
            b = _lift(b, op.name)
        elif type(a) is not Value:
            a = _lift(a, op.name)
        data = forward(a._data, b._data)
        if data - data != 0.0:
            raise op.overflow(data, a._data, b._data)
        out = _new_value(Value)
        out._data = data
        out._grad = 0.0
        out._label = ""
        out._a = a
        out._b = b
        out._op = op
        return out

    return apply


_new_value = object.__new__


def _lift(x: Any, where: str) -> Value:
    """A new constant leaf for the number x (errors name `where`)."""
    try:
        return Value(x)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


#: Every registered op by name: the built-ins (microgrid.ops) and any `define_op` adds.
OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    """Put `op` in `OPS`, where everything looks ops up (rules call it by its name)."""
    OPS[op.name] = op
    if op.name.isidentifier():
        CALLABLE[op.name] = op
    return op


# The table needs `Op` and `register` above; Value's operators below are its ops' functions.
from .ops import ADD, COS, DIV, EXP, LOG, MUL, NEG, POW, RELU, SIGMOID, SIN, SUB, TANH, power_op  # noqa: E402

Unary: TypeAlias = "Callable[[Value], Value]"
Binary: TypeAlias = "Callable[[Value, Scalar], Value]"


class Value:
    """A scalar in a computation graph.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)

    ``data`` is a float (settable on a leaf); ``grad`` holds d(output)/d(self) after `backward`;
    ``parents`` are the operands in order; ``op`` names the operation that made this Value ("" for
    a leaf).  Values hash and compare by identity (dict keys); ``==`` is deliberately not numeric.
    """

    # Two operand slots rather than a tuple: one object per node for the collector.
    __slots__ = ("__weakref__", "_a", "_b", "_data", "_grad", "_label", "_op")

    def __init__(self, data: Number, label: str = ""):
        self._data = real(data, "data", "Value")
        self._grad = 0.0
        if not isinstance(label, str):  # (inline, as in the setter: leaves are many)
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}: {label!r}")
        self._label = label
        self._a: Value | None = None
        self._b: Value | None = None
        self._op: Op | None = None

    @property
    def data(self) -> float:
        if observe.active:
            observe.report_read(self, "read .data of")
        return self._data

    @data.setter
    def data(self, data: Number) -> None:
        # backward() computes partials from a node's number: a new one would give wrong gradients.
        if self._op is not None:
            raise AttributeError(
                f"Value.data: {describe(self)} is computed from other Values, so its data cannot be set "
                "(its gradients would be wrong); set the leaves it comes from and compute it again"
            )
        before, self._data = self._data, real(data, "data", "Value.data")
        if observe.active:
            observe.report_write(self, before)

    @property
    def grad(self) -> float:
        if observe.active:
            observe.report_read(self, "read .grad of")
        return self._grad

    @grad.setter
    def grad(self, grad: Number) -> None:
        if type(grad) is not float and (isinstance(grad, bool) or not isinstance(grad, numbers.Real)):
            raise TypeError(f"Value.grad: grad must be a real number, got {type(grad).__name__}: {grad!r}")
        self._grad = float(grad)  # inf too: an optimiser refuses it by name, so it may be set

    @property
    def label(self) -> str:
        """A name for pictures, explanations and formulas ("" for none)."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value.label: a label must be a str, got {type(label).__name__}: {label!r}")
        self._label = label

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands, in order: () for a leaf, one or two Values."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    @property
    def op(self) -> str:
        """The operation's name, "" for a leaf (an input, a parameter, a constant)."""
        return self._op.name if self._op is not None else ""

    def __repr__(self) -> str:
        label = f", label={self._label!r}" if self._label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"  # the public reads: observers see them

    # Arithmetic: each operator is its op's function (microgrid.ops); ``2 * x`` calls it with the operands swapped.
    __add__: ClassVar[Binary] = ADD.apply
    __sub__: ClassVar[Binary] = SUB.apply
    __mul__: ClassVar[Binary] = MUL.apply
    __truediv__: ClassVar[Binary] = DIV.apply
    __neg__: ClassVar[Unary] = NEG.apply
    exp: ClassVar[Unary] = EXP.apply
    log: ClassVar[Unary] = LOG.apply
    tanh: ClassVar[Unary] = TANH.apply
    sigmoid: ClassVar[Unary] = SIGMOID.apply
    relu: ClassVar[Unary] = RELU.apply
    sin: ClassVar[Unary] = SIN.apply
    cos: ClassVar[Unary] = COS.apply

    def __radd__(self, other: Number) -> Value:
        return ADD.apply(other, self)

    def __rsub__(self, other: Number) -> Value:
        return SUB.apply(other, self)

    def __rmul__(self, other: Number) -> Value:
        return MUL.apply(other, self)

    def __rtruediv__(self, other: Number) -> Value:
        return DIV.apply(other, self)

    def __pow__(self, exponent: Scalar) -> Value:
        """``x ** 2`` (a number: the op is ``x ** n``, n its param) or ``x ** y`` (a Value: the op ``**``)."""
        if isinstance(exponent, Value):
            return POW.apply(self, exponent)
        return power_op(real(exponent, "exponent", "**")).apply(self)

    def __rpow__(self, base: Number) -> Value:
        return POW.apply(base, self)

    def backward(self) -> None:
        """Add d(self)/d(node) to ``.grad`` of every Value this one depends on.

        Gradients *accumulate*, as in PyTorch (reset: ``zero_grad()``); if a rule fails, no ``.grad`` changes.

        >>> x = Value(2.0); y = x * x
        >>> y.backward(); y.backward(); x.grad
        8.0
        """
        if observe.active:
            observe.report_read(self, "called backward() on")
        _, earlier = reverse_pass(self)  # this pass's gradients, alone ...
        for node, grad_before in earlier:  # ... to which what was there is added back
            node._grad += grad_before


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, every ``.grad`` untouched: floats, or with `create_graph` Values whose
    graphs compute the derivatives (to differentiate again, or show as pictures and formulas).

    >>> x = Value(3.0)
    >>> (dy,) = grad(x ** 3, [x], create_graph=True)
    >>> dy.data, grad(dy, [x])[0]   # 3x^2 and 6x
    (27.0, 18.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    if isinstance(inputs, Value):
        raise TypeError("grad: inputs must be a list of Values, got one Value; pass a list: grad(y, [x])")
    inputs = ordered(inputs, "inputs", "grad", of=" of Values")
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__}")
    if create_graph:
        gradients = graph_pass(output)
        return [g if isinstance(g, Value) else Value(g) for g in (gradients.get(x, 0.0) for x in inputs)]
    gradients = trace_backward(output)
    return [gradients.get(x, 0.0) for x in inputs]


def trace_backward(root: Value, visit: Callable[[Value, float, object], None] | None = None) -> dict[Value, float]:
    """d(root)/d(node) for every node by `backward`'s float pass, every ``.grad`` left as it was; ``visit(node,
    upstream, partials)`` sees each computed node in the pass's order (`explain_backward`)."""
    if observe.active:
        observe.report_read(root, "took a float gradient (grad(), explain_backward()) of")
    order, earlier = reverse_pass(root, visit)
    gradients = {node: node._grad for node in order}
    restore_grads(order, earlier)
    return gradients


from .custom_ops import define_op, remove_op  # noqa: E402  (it defines ops with the classes above)
