"""The scalar reverse-mode engine: `Value`, its op table, `backward()`, `grad()`.

micrograd gives each result node a closure that knows its backward step:

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

Here each operation is one entry of a table instead, an `Op`: its name, its
rule on floats, and its *partials* (d out / d each operand), written with
plain arithmetic.  Two reasons:

* no reference cycles: micrograd's closure holds `out` and `out` holds the
  closure, a cycle per node that only the garbage collector frees.  An `Op`
  is shared by all the nodes it made and refers to none, so a dropped graph
  is freed at once by reference counting;
* one rule for two paths: called with floats, the partials give numbers
  (`backward()`, `grad()`); called with Values, they build the derivative as
  a graph (``grad(..., create_graph=True)``), itself differentiable.

`reverse_pass` is the one backward loop; `backward()`, `grad()` and
`explain_backward` all run it.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    8.0
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache
from typing import Callable, Iterable, Sequence, Union

from . import _floats
from ._checks import ordered, real

__all__ = ["Value", "Op", "grad", "gradcheck", "GradcheckError", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos"]

Number = Union[int, float]
Scalar = Union["Value", int, float]


class Op:
    """One operation: its name, arity, ``forward`` rule on floats and ``partials``.

    ``partials(*operands, out)`` is the local derivative of ``out`` with
    respect to each operand (one for a unary op, a pair for a binary one).
    It is called with floats on the float path and with Values on the graph
    path, so it uses only arithmetic and this module's functions.  `params`
    are the op's own constants: ``(n,)`` for ``x ** n``.
    """

    __slots__ = ("name", "arity", "forward", "partials", "params")

    def __init__(self, name: str, arity: int, forward: Callable[..., float], partials: Callable, params: tuple = ()):
        self.name, self.arity, self.forward, self.partials, self.params = name, arity, forward, partials, params

    @property
    def exponent(self) -> float | None:
        """Deprecated, use `params`: the n of ``x ** n``, None for any other op."""
        return self.params[0] if self.params else None

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

    def __pow__(self, exponent: "Scalar") -> "Value":
        """``x ** 2`` (a number: the exponent is the op's param) or ``x ** y`` (a Value)."""
        if type(exponent) is Value:
            return self._pow(exponent)
        return _constant_power(_checked_number(exponent, "**"))(self)

    def __rpow__(self, base: "Number") -> "Value":
        return _lift(base, "**")._pow(self)

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


# ------------------------------------------------------------- the op table
# One entry per op: name, arity, rule on floats, partials.  `a`, `b` are the
# operands and `out` the result; `step`, `xlogy`, `log`, `sin`, `cos` below
# take floats or Values.  relu's derivative and the exponent's are ops of their
# own (`step`, `xlogy`), so the graph path recomputes their branch.
ADD = Op("+", 2, operator.add, lambda a, b, out: (1.0, 1.0))
SUB = Op("-", 2, operator.sub, lambda a, b, out: (1.0, -1.0))
MUL = Op("*", 2, operator.mul, lambda a, b, out: (b, a))
DIV = Op("/", 2, _floats.divide, lambda a, b, out: (1.0 / b, -out / b))
POW = Op("**", 2, _floats.power, lambda a, b, out: (_power_partial(a, b), xlogy(out, a)))
NEG = Op("neg", 1, operator.neg, lambda a, out: -1.0)
EXP = Op("exp", 1, _floats.exp, lambda a, out: out)
LOG = Op("log", 1, _floats.log, lambda a, out: 1.0 / a)
TANH = Op("tanh", 1, math.tanh, lambda a, out: 1.0 - out * out)
SIGMOID = Op("sigmoid", 1, _floats.sigmoid, lambda a, out: out * (1.0 - out))
RELU = Op("relu", 1, _floats.relu, lambda a, out: step(a))
SIN = Op("sin", 1, math.sin, lambda a, out: cos(a))
COS = Op("cos", 1, math.cos, lambda a, out: -sin(a))
STEP = Op("step", 1, _floats.step, lambda a, out: 0.0)
XLOGY = Op("xlogy", 2, _floats.x_log_y, lambda x, y, out: (log(y), x / y))


def power_op(n: float) -> Op:
    """The op ``x ** n`` for a number n (its param): d/dx = n x^(n-1), and 0 for n = 0."""
    return Op(f"**{int(n) if n.is_integer() else n}", 1, lambda a: _floats.power(a, n),
              lambda a, out: _power_partial(a, n) if n != 0.0 else 0.0, params=(n,))


# ------------------------------------------------------------ the reverse pass
def reverse_pass(root: Value, create_graph: bool = False, visit: Callable | None = None) -> tuple[list[Value], object]:
    """d(root)/d(node) for every node `root` depends on, consumers first.

    Each node hands its upstream gradient g to its operands, times its op's
    partials.  A node whose g is 0 passes nothing on (0 * partial changes
    nothing, and a partial that does not exist there must not raise); a g
    beyond the floats is an OverflowError.  ``visit(node, g, partials)`` sees
    each computed node in turn (partials None where skipped).

    Returns ``(order, gradients)``.  On the float path the gradients are left
    in each node's ``.grad``, this pass's alone, and ``gradients`` lists the
    (node, ``.grad``) set aside: the caller adds them back (`backward`) or
    restores them.  With `create_graph`, ``gradients`` is a dict of Values and
    no ``.grad`` is touched.  On an error every ``.grad`` is as it was.
    """
    order = topological_order(root)
    float_path = not create_graph
    graph: dict[Value, Scalar] = {root: 1.0}  # the graph path's gradients
    earlier = [(node, node.grad) for node in order if node.grad != 0.0] if float_path else []
    for node, _ in earlier:
        node.grad = 0.0
    if float_path:
        root.grad = 1.0
    try:
        for node in reversed(order):
            op = node._op
            g = node.grad if float_path else graph.get(node, 0.0)
            if float_path or type(g) is float:  # a Value gradient is never skipped: its number may change
                if g - g != 0.0:  # inf or nan: true only off the real numbers
                    raise _gradient_overflow(node, g)
                if g == 0.0:
                    if visit is not None and op is not None:
                        visit(node, g, None)
                    continue
            if op is None:
                continue
            a, b = node._a, node._b
            if not float_path:
                partials = _hand_on_graph(node, g, graph)
            elif b is None:
                partials = op.partials(a._data, node._data)
                a.grad += g * partials
            else:
                partials = op.partials(a._data, b._data, node._data)
                a.grad += g * partials[0]
                b.grad += g * partials[1]
            if visit is not None:
                visit(node, g, partials)
    except BaseException:
        if float_path:
            restore_grads(order, earlier)
        raise
    return order, (earlier if float_path else graph)


def restore_grads(order: list[Value], earlier: list[tuple[Value, float]]) -> None:
    """Every ``.grad`` of `order` back to what it was before a float `reverse_pass`."""
    for node in order:
        node.grad = 0.0
    for node, grad_before in earlier:
        node.grad = grad_before


def _hand_on_graph(node: Value, g: Scalar, graph: dict[Value, Scalar]) -> Scalar | tuple:
    """The graph path's hand-off, building no ``* 1`` and no ``0 +`` nodes."""
    op, parents = node._op, node.parents
    partials = op.partials(*parents, node)
    for parent, local in zip(parents, (partials,) if op.arity == 1 else partials):
        if type(local) is float and local in (1.0, -1.0):
            contribution = g if local == 1.0 else -g
        else:
            contribution = g * local
        graph[parent] = graph[parent] + contribution if parent in graph else contribution
    return partials


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


def topological_order(root: Value) -> list[Value]:
    """Every node `root` depends on, each after all of its parents (iterative DFS).

    >>> x = Value(1.0); y = x + x
    >>> [v.op for v in topological_order(y)]
    ['', '+']
    """
    order: list[Value] = []
    visited = {root}
    stack = [root]  # the path being explored
    while stack:
        node = stack[-1]
        # Descend into the first operand not yet visited (a before b); a leaf has
        # nothing to explore, so it is placed at once (half a graph is leaves) ...
        a = node._a
        if a is not None and a not in visited:
            visited.add(a)
            if a._op is None:
                order.append(a)
            else:
                stack.append(a)
                continue
        b = node._b
        if b is not None and b not in visited:
            visited.add(b)
            if b._op is None:
                order.append(b)
            else:
                stack.append(b)
                continue
        # ... or, with both placed, place the node itself.
        stack.pop()
        order.append(node)
    return order


# ------------------------------------------- making nodes: the Value methods
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


Value.__add__, Value.__sub__, Value.__mul__, Value.__truediv__ = (binary(op) for op in (ADD, SUB, MUL, DIV))
Value.__radd__, Value.__rsub__, Value.__rmul__, Value.__rtruediv__ = (
    reflected(m) for m in (Value.__add__, Value.__sub__, Value.__mul__, Value.__truediv__)
)
Value._pow, Value._xlogy = binary(POW), binary(XLOGY)
Value.__neg__ = unary(NEG)
Value.exp = unary(EXP, "e ** self; OverflowError above about 709.78.")
Value.log = unary(LOG, "Natural logarithm; ValueError for self <= 0.")
Value.tanh = unary(TANH, "Hyperbolic tangent.")
Value.sigmoid = unary(SIGMOID, "1 / (1 + e^-x), never overflows.")
Value.relu = unary(RELU, "max(0, x).")
Value.sin = unary(SIN, "Sine (radians).")
Value.cos = unary(COS, "Cosine (radians).")
Value.step = unary(STEP, "1 if x > 0 else 0 (relu's derivative).")


@lru_cache(maxsize=256)
def _constant_power(n: float) -> Callable[[Value], Value]:
    """The method ``x ** n``, one per n (its Op shared by every node with that n)."""
    return unary(power_op(n))


# ------------------------------------------ functions on numbers or Values
def _functional(method: Callable[[Value], Value], on_float: Callable[[float], float]) -> Callable:
    def function(x: Scalar) -> Scalar:
        if isinstance(x, Value):
            return method(x)
        return on_float(_checked_number(x, method.__name__))

    function.__name__ = function.__qualname__ = method.__name__
    function.__doc__ = (
        f"{method.__name__}(x) for a Value (a new node) or a plain number (a float).\n\n"
        f"    >>> {method.__name__}(Value(0.5)).op\n    '{method.__name__}'\n"
    )
    return function


exp = _functional(Value.exp, _floats.exp)
log = _functional(Value.log, _floats.log)
tanh = _functional(Value.tanh, math.tanh)
sigmoid = _functional(Value.sigmoid, _floats.sigmoid)
relu = _functional(Value.relu, _floats.relu)
sin = _functional(Value.sin, math.sin)
cos = _functional(Value.cos, math.cos)


def step(x: Scalar) -> Scalar:
    """1 if x > 0 else 0, for a Value (a node, recomputed whenever its graph is) or a float."""
    return x.step() if type(x) is Value else 1.0 if x > 0.0 else 0.0  # (inline: every relu's backward calls it)


def xlogy(x: Scalar, y: Scalar) -> Scalar:
    """x * log(y), 0 where x is 0 (the exponent's derivative in ``**``), for Values or floats."""
    return x._xlogy(y) if type(x) is Value else _floats.x_log_y(x, y)


def _power_partial(base: Scalar, exponent: Scalar) -> Scalar:
    """d(base ** exponent)/d(base) = exponent * base ** (exponent - 1); an error naming ``**`` at 0 for exponent < 1."""
    n = exponent._data if isinstance(exponent, Value) else exponent
    if (base._data if isinstance(base, Value) else base) == 0.0 and n < 1.0:
        raise ZeroDivisionError(
            f"**: the derivative of x ** {n!r} at x = 0.0 is not a finite number ({n!r} * 0.0 ** {n - 1.0!r})"
        )
    return exponent * (base ** (exponent - 1.0) if isinstance(base, Value) else _floats.power(base, exponent - 1.0))


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


def _describe(node: Value) -> str:
    """"the 'tanh' node 'y'", "the leaf 'x'": a node named for an error message."""
    what = f"the {node.op!r} node" if node._op is not None else "the leaf"
    return f"{what} {node._label!r}" if node._label else what


def _overflow(op: Op, result: float, *operands: float) -> OverflowError:
    shown = ", ".join(repr(x) for x in operands)
    return OverflowError(f"{op.name}: result is not a finite number for input {shown} (got {result!r})")


def _gradient_overflow(node: Value, g: float) -> OverflowError:
    return OverflowError(
        f"backward: the gradient of {_describe(node)} (data {node._data!r}) is {g!r}: "
        "a derivative beyond the largest float"
    )


# -------------------------------------------------------------- gradcheck()
class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference estimate disagree."""


def gradcheck(
    f: Callable[..., Value], inputs: Iterable[Scalar], eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3
) -> bool:
    """Compare the engine's gradient of ``f(*inputs)`` with central differences.

    Returns True, or raises `GradcheckError` naming the input and both numbers.

    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    inputs = ordered(inputs, "inputs", "gradcheck", of=" of numbers or Values")
    eps = real(eps, "eps", "gradcheck")
    if not eps > 0.0:
        raise ValueError(f"gradcheck: eps must be a positive number, got {eps!r}")
    atol, rtol = real(atol, "atol", "gradcheck", minimum=0.0), real(rtol, "rtol", "gradcheck", minimum=0.0)
    # Numbers are read through `.data`, as user code reads them.
    points = [x.data if isinstance(x, Value) else _checked_number(x, "gradcheck") for x in inputs]
    names = [x.label if isinstance(x, Value) and x.label else f"inputs[{i}]" for i, x in enumerate(inputs)]

    def evaluate(at: list[float]) -> tuple[Value, list[Value]]:
        values = [Value(v, label=name if not name.startswith("inputs[") else "") for v, name in zip(at, names)]
        out = f(*values)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        return out, values

    out, leaves = evaluate(points)
    analytic = grad(out, leaves)
    for i, (name, g) in enumerate(zip(names, analytic)):
        up, down = points.copy(), points.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (evaluate(up)[0].data - evaluate(down)[0].data) / (2.0 * eps)
        if not abs(g - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck: gradient for {name} (= {points[i]!r}) disagrees: "
                f"engine {g!r}, finite differences {numeric!r}"
            )
    return True
