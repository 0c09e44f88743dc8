"""The scalar reverse-mode engine: `Value`, how an op is declared, `backward()`, `grad()`.

micrograd gives each result node a closure that knows its backward step:

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

Here each operation is one entry of a table instead, an `Op` declared by
`define_op`: its name, its rule on floats, its *partials* (d out / d each
operand, in plain arithmetic) and, as text, how it is explained and written
in formulas.  The built-ins are the table in `microgrid.ops`.  Two reasons:

* no reference cycles: micrograd's closure holds `out` and `out` holds the
  closure, a cycle per node that only the garbage collector frees.  An `Op`
  is shared by all the nodes it made and refers to none, so a dropped graph
  is freed at once by reference counting;
* one rule for two paths: called with floats, the partials give numbers
  (`backward()`, `grad()`); called with Values, they build the derivative as
  a graph (``grad(..., create_graph=True)``), itself differentiable.

`reverse_pass` (microgrid.reverse) is the one backward loop; `backward()`,
`grad()` and `explain_backward` all run it.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    8.0
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence, Union

from ._checks import ordered, real
from .reverse import describe as _describe
from .reverse import restore_grads, reverse_pass, topological_order

__all__ = ["Value", "Op", "OPS", "define_op", "remove_op", "grad"]

Number = Union[int, float]
Scalar = Union["Value", int, float]


class Op:
    """One operation, declared once by `define_op`; everything else reads it.

    ``forward(*operands)`` is its rule on floats; ``partials(*operands, out)``
    the local derivative of ``out`` by each operand (a pair for a binary op),
    called with floats on the float path and with Values on the graph path.
    The rest is text in the names ``a``, ``b`` (operands) and ``out``: ``rules``,
    each partial (``^`` a power: ``1-out^2``); ``formula``, the op in formulas
    (``Max(0, a)``), or ``definition``, its meaning where formulas keep it a
    function of its name, shown in LaTeX as ``latex`` (sigmoid); ``notation``,
    the op as typed (``a + b``).  ``params``: constants, ``(n,)`` for ``x ** n``.
    ``public``: users call it by name (``exp(x)``, the expression parser);
    ``commutative``: the order of its operands does not matter.
    """

    __slots__ = ("name", "arity", "forward", "partials", "rules", "formula", "definition", "notation", "latex",
                 "params", "public", "commutative")

    def __init__(self, name: str, arity: int, forward: Callable[..., float], partials: Callable,
                 rules: Sequence[str] = (), formula: str = "", *, definition: str = "", notation: str = "",
                 latex: str = "", params: tuple = (), public: bool = False, commutative: bool = False):
        self.name, self.arity, self.forward, self.partials = name, arity, forward, partials
        self.rules, self.formula, self.definition, self.latex = tuple(rules), formula, definition, latex
        self.notation = notation or (f"{name}(a)" if arity == 1 else f"{name}(a, b)")
        self.params, self.public, self.commutative = params, public, commutative

    def __call__(self, *operands: Scalar) -> Scalar:
        """The op on Values (a new node) or on plain numbers (a float)."""
        if len(operands) != self.arity:
            raise TypeError(f"{self.name}: takes {self.arity} operand(s), got {len(operands)}")
        if not any(isinstance(x, Value) for x in operands):
            return self.forward(*(_checked_number(x, self.name) for x in operands))
        return (unary(self) if self.arity == 1 else binary(self))(_lift(operands[0], self.name), *operands[1:])

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


class Value:
    """A scalar in a computation graph.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)

    ``data`` is a float (settable on a leaf); ``grad`` holds d(output)/d(self)
    after `backward`; ``parents`` are the operands in order; ``op`` names the
    operation that made this Value ("" for a leaf).
    """

    # `_a`, `_b`: the operands (None for none), two slots rather than a tuple:
    # one object per node for the garbage collector.
    __slots__ = ("_data", "grad", "_label", "_a", "_b", "_op", "__weakref__")

    def __init__(self, data: Number, label: str = ""):
        self._data = _checked_number(data)
        self.grad = 0.0
        if not isinstance(label, str):  # (as the label setter: inline, since leaves are many)
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}: {label!r}")
        self._label = label
        self._a = self._b = self._op = None

    @property
    def data(self) -> float:
        return self._data

    @data.setter
    def data(self, data: Number) -> None:
        # A computed node's number is its operands' result, and backward()
        # computes partials from it: a new number would give wrong gradients.
        if self._op is not None:
            raise AttributeError(
                f"Value.data: {_describe(self)} is computed from other Values, so its data cannot be set "
                "(its gradients would be wrong); set the leaves it comes from and compute it again"
            )
        self._data = _checked_number(data, "Value.data")

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
    def parents(self) -> tuple["Value", ...]:
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
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"  # `.data`: the public way to read it

    # Values hash and compare by identity (object's defaults), so they can be
    # dict keys and set members; `==` is deliberately not numeric.

    def backward(self) -> None:
        """Add d(self)/d(node) to ``.grad`` of every Value this one depends on.

        Gradients *accumulate*, as in PyTorch: reset with ``node.grad = 0.0``
        or a module's ``zero_grad()``.  If a rule fails, no ``.grad`` changes.

        >>> x = Value(2.0); y = x * x
        >>> y.backward(); y.backward(); x.grad
        8.0
        """
        _, earlier = reverse_pass(self)  # this pass's gradients, alone ...
        for node, grad_before in earlier:  # ... to which what was there is added back
            node.grad += grad_before


# --------------------------------------------------------- declaring an op
#: Every registered op by name: the built-ins below and any `define_op` adds.
OPS: dict[str, Op] = {}
#: The names of the built-in ops (`microgrid.ops`), which `remove_op` keeps.
BUILT_IN: set[str] = set()


def define_op(name: str, arity: int, forward: Callable[..., float], partials: Callable, rules: Sequence[str],
              formula: str = "", *, definition: str = "", notation: str = "", latex: str = "", public: bool = True,
              commutative: bool = False, method: str | None = None, doc: str = "") -> Op:
    """Declare an op (see `Op` for the fields) and register it in `OPS`: the call the built-ins use too.

    Value gets the method `method` (default: the op's name), so ``x.softplus()``
    works, as does ``op(x)``.  `remove_op` undoes it.

    >>> import math; from microgrid import sigmoid
    >>> softplus = define_op("softplus", 1, lambda a: math.log1p(math.exp(a)), lambda a, out: sigmoid(a),
    ...                      rules=["sigmoid(a)"], definition="log(1 + exp(a))")
    >>> x = Value(0.0); y = softplus(x); y.backward(); x.grad   # d/dx log(1 + e^x) = sigmoid(x)
    0.5
    >>> remove_op("softplus")
    """
    method = name if method is None else method
    problem = (
        f"the name must be a new, non-empty str (taken: {', '.join(OPS)})" if not isinstance(name, str) or not name or name in OPS
        else f"arity must be 1 or 2, got {arity!r}" if arity not in (1, 2)
        else f"give one rule per operand (text in a, b, out), got {rules!r}" if len(rules) != arity
        else "give a formula or a definition (one of the two)" if bool(formula) == bool(definition)
        else f"Value already has an attribute {method!r}: pass another method name" if method and hasattr(Value, method)
        else ""
    )
    if problem:
        raise ValueError(f"define_op({name!r}): {problem}")
    op = Op(name, arity, forward, partials, rules, formula, definition=definition, notation=notation,
            latex=latex, public=public, commutative=commutative)
    OPS[name] = op
    if method:
        setattr(Value, method, unary(op, doc) if arity == 1 else binary(op))
    return op


def remove_op(name: str) -> None:
    """Undo `define_op` for an op defined after import (the built-ins stay)."""
    op = OPS.get(name)
    if op is None or name in BUILT_IN:
        raise ValueError(f"remove_op: {name!r} is {'built in' if op else 'not a defined op'}")
    del OPS[name]
    for attribute, method in list(vars(Value).items()):
        if getattr(method, "op", None) is op:
            delattr(Value, attribute)


def _node(data: float, a: Value, b: Value | None, op: Op) -> Value:
    """A new computed node; skips __init__'s checks (data is already a float)."""
    out = _new_value(Value)
    out._data = data
    out.grad = 0.0
    out._label = ""
    out._a = a
    out._b = b
    out._op = op
    return out


_new_value = object.__new__


def unary(op: Op, doc: str = "") -> Callable[[Value], Value]:
    """The Value method for a one-operand op."""
    forward = op.forward

    def method(self: Value) -> Value:
        data = forward(self._data)
        if data - data != 0.0:  # inf or nan: true only off the real numbers
            raise _overflow(op, data, self._data)
        return _node(data, self, None, op)

    method.op, method.__name__, method.__doc__ = op, op.name, doc
    return method


def binary(op: Op) -> Callable[[Value, Scalar], Value]:
    """The Value method for a two-operand op (a number operand is lifted to a Value)."""
    forward = op.forward

    def method(self: Value, other: Scalar) -> Value:
        if type(other) is not Value:
            other = _lift(other, op.name)
        data = forward(self._data, other._data)
        if data - data != 0.0:
            raise _overflow(op, data, self._data, other._data)
        return _node(data, self, other, op)

    method.op = op
    return method


def reflected(method: Callable) -> Callable:
    """``number <op> value``: lift the number, keeping operand order."""

    def reflected_method(self: Value, other: Number) -> Value:
        return method(_lift(other, method.op.name), self)

    return reflected_method


# ----------------------------------------------------------------- grad()
def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list:
    """d(output)/d(input) for each input, leaving every ``.grad`` untouched.

    Without `create_graph` the results are floats.  With it they are Values
    whose own graphs compute the derivatives, so they can be differentiated
    again, or shown as pictures and formulas.

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
    order, gradients = reverse_pass(output, create_graph)
    if create_graph:
        return [r if isinstance(r, Value) else Value(r) for r in (gradients.get(x, 0.0) for x in inputs)]
    reached = set(order)
    results = [x.grad if x in reached else 0.0 for x in inputs]
    restore_grads(order, gradients)
    return results


# ---------------------------------------------------------------- errors
def _checked_number(data: object, where: str = "Value") -> float:
    """`data` as a float, or a clear TypeError/ValueError naming `where`."""
    return real(data, "data", where)


def _lift(x: Scalar, where: str = "") -> Value:
    """A Value for x: x itself, or a new constant leaf for a number (errors name `where`)."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}" if where else str(error)) from None


def _overflow(op: Op, result: float, *operands: float) -> OverflowError:
    shown = ", ".join(repr(x) for x in operands)
    return OverflowError(f"{op.name}: result is not a finite number for input {shown} (got {result!r})")


def __getattr__(name: str):
    op = OPS.get(name)
    if op is not None and op.public:  # an op defined after import: ``engine.softplus(x)`` as ``engine.exp(x)``
        return op
    if name in ("gradcheck", "GradcheckError"):
        warnings.warn(f"microgrid.engine.{name} has moved to microgrid.finite_differences; use microgrid.{name}",
                      DeprecationWarning, stacklevel=2)
        from . import finite_differences

        return getattr(finite_differences, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
