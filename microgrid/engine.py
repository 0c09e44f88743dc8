"""The scalar reverse-mode engine: `Value`, `backward()`, `grad()`.

A `Value` holds a number, the Values it was computed from (`parents`) and the
operation (`Op`) that computed it.  Every operation is defined once, below,
as a forward rule and a *partials* rule: the local derivatives of the result
with respect to each operand.  The partials rule is written with plain
arithmetic, so the same function serves two paths:

* the float path (`backward()`, `grad()`): called with numbers, it returns
  numbers;
* the graph path (`grad(..., create_graph=True)`): called with Values, it
  returns Values, so derivatives are themselves differentiable.

Design notes, for speed without obscurity:

* `__slots__`, and the operands in two slots rather than a tuple: one object
  per node for the garbage collector to scan (micrograd makes about seven).
* An `Op` is shared by every node it made and never refers back to a node, so
  a graph has no reference cycles and is freed by reference counting as soon
  as the last reference drops (micrograd's per-node closures make a cycle per
  node, which leaves the work to the garbage collector).
* The topological order is built with an explicit stack: no recursion, so a
  chain of a million nodes is fine.

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

from ._checks import ordered, real

__all__ = [
    "Value",
    "Op",
    "grad",
    "gradcheck",
    "GradcheckError",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "relu",
    "sin",
    "cos",
]

Number = Union[int, float]
Scalar = Union["Value", int, float]


# --------------------------------------------------------------- float rules
def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp: overflow for input {x!r} (the result exceeds the largest float)") from None


def _log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log: undefined for input {x!r} (log needs x > 0)")
    return math.log(x)


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0: e^x cannot overflow
    return e / (1.0 + e)


def _power(base: float, exponent: float) -> float:
    if base == 0.0 and exponent < 0.0:
        raise ZeroDivisionError(f"**: 0.0 raised to the negative power {exponent!r}")
    if base < 0.0 and not exponent.is_integer():
        raise ValueError(f"**: negative base {base!r} to the non-integer power {exponent!r} is not a real number")
    try:
        return base**exponent
    except OverflowError:
        raise OverflowError(f"**: overflow for {base!r} ** {exponent!r}") from None


def _divide(a: float, b: float) -> float:
    if b == 0.0:
        raise ZeroDivisionError(f"/: division by zero ({a!r} / {b!r})")
    return a / b


def _relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _step(x: float) -> float:
    return 1.0 if x > 0.0 else 0.0


def _x_log_y(x: float, y: float) -> float:
    """x * log(y), and 0 where x is 0: d(y ** b)/db = (y ** b) * log(y), 0 where y ** b is 0."""
    if x == 0.0:
        return 0.0
    if y <= 0.0:
        raise ValueError(
            f"**: the derivative of {y!r} ** b with respect to the exponent b "
            "needs log(base), which is not a real number for base <= 0"
        )
    return x * math.log(y)


class Op:
    """An operation: its name, arity, forward rule and partials rule.

    ``forward(*operands)`` computes the result from floats (raising a clear
    error where no real number exists).  ``partials(*operands, out)`` returns
    the local derivative of ``out`` with respect to each operand: one result
    for a unary op, a pair for a binary one.  `partials` is called with floats
    on the float path and with Values on the graph path, so it uses only
    arithmetic and this module's functions (`exp`, `log`, `cos`, ...), which
    accept both.
    """

    __slots__ = ("name", "arity", "forward", "partials", "exponent")

    def __init__(
        self,
        name: str,
        arity: int,
        forward: Callable[..., float],
        partials: Callable,
        exponent: float | None = None,
    ):
        self.name = name
        self.arity = arity
        self.forward = forward
        self.partials = partials
        self.exponent = exponent  # only for `x ** constant`, read by the symbolic code

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _checked_number(data: object, where: str = "Value") -> float:
    """`data` as a float, or a clear TypeError/ValueError naming `where`."""
    return real(data, "data", where)


def _overflow(op: Op, result: float, *operands: float) -> OverflowError:
    shown = ", ".join(repr(x) for x in operands)
    return OverflowError(f"{op.name}: result is not a finite number for input {shown} (got {result!r})")


def unary(name: str, forward: Callable[[float], float], partials: Callable, doc: str = "") -> Callable:
    """Make the Value method for a one-operand operation."""
    op = Op(name, 1, forward, partials)

    def method(self: "Value") -> "Value":
        data = forward(self._data)
        if data - data != 0.0:  # inf or nan: true only off the real numbers
            raise _overflow(op, data, self._data)
        return _node(data, self, None, op)

    method.op = op
    method.__name__ = name
    method.__doc__ = doc
    return method


def binary(name: str, forward: Callable[[float, float], float], partials: Callable) -> Callable:
    """Make the Value method for a two-operand operation (numbers are lifted to Values)."""
    op = Op(name, 2, forward, partials)

    def method(self: "Value", other: "Scalar") -> "Value":
        if type(other) is not Value:
            other = _lift(other, name)
        data = forward(self._data, other._data)
        if data - data != 0.0:
            raise _overflow(op, data, self._data, other._data)
        return _node(data, self, other, op)

    method.op = op
    return method


def reflected(method: Callable) -> Callable:
    """``number <op> value``: lift the number, keeping operand order."""

    def reflected_method(self: "Value", other: "Number") -> "Value":
        return method(_lift(other, method.op.name), self)

    return reflected_method


class Value:
    """A scalar in a computation graph.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)

    ``data`` is a float and may be set; ``grad`` holds d(output)/d(self) after
    `backward`; ``parents`` are the operands in order; ``op`` names the
    operation that made this Value ("" for a leaf).
    """

    # `_a` and `_b` are the operands (named as in the partials rules below; `_b`
    # is None for a one-operand op, both for a leaf): two slots rather than a
    # tuple save an object per node, which the garbage collector would scan.
    __slots__ = ("_data", "grad", "_label", "_a", "_b", "_op", "__weakref__")

    def __init__(self, data: Number, label: str = ""):
        self._data = _checked_number(data)
        self.grad = 0.0
        self.label = label
        self._a = self._b = None
        self._op: Op | None = None

    # ----------------------------------------------------------- attributes
    @property
    def data(self) -> float:
        return self._data

    @data.setter
    def data(self, data: Number) -> None:
        # A computed node's number is its parents' result: backward() computes
        # its partials from it, so a new number would give wrong gradients.
        if self._op is not None:
            raise AttributeError(
                f"Value.data: {_describe(self)} is computed from other Values, so its data cannot be set "
                "(its gradients would be wrong); set the leaves it comes from and compute it again"
            )
        self._data = _checked_number(data, "Value.data")

    @property
    def label(self) -> str:
        """A name for drawings, explanations and formulas ("" for none)."""
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
        # The number is read through `.data`, the one public way to read it.
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # Values hash and compare by identity (object's defaults), so they can be
    # dict keys and set members; `==` is deliberately not numeric.

    # ------------------------------------------------------ the operations
    # One line each: name, forward rule on floats, partials (local derivatives).
    __add__ = binary("+", operator.add, lambda a, b, out: (1.0, 1.0))
    __sub__ = binary("-", operator.sub, lambda a, b, out: (1.0, -1.0))
    __mul__ = binary("*", operator.mul, lambda a, b, out: (b, a))
    __truediv__ = binary("/", _divide, lambda a, b, out: (1.0 / b, -out / b))
    __neg__ = unary("neg", operator.neg, lambda a, out: -1.0)
    # a ** b with b a Value: d/da = b a^(b-1), d/db = a^b log a (0 where a^b is 0).
    _pow = binary("**", _power, lambda a, b, out: (_power_partial(a, b), xlogy(out, a)))
    exp = unary("exp", _exp, lambda a, out: out, "e ** self; OverflowError above about 709.78.")
    log = unary("log", _log, lambda a, out: 1.0 / a, "Natural logarithm; ValueError for self <= 0.")
    tanh = unary("tanh", math.tanh, lambda a, out: 1.0 - out * out, "Hyperbolic tangent.")
    sigmoid = unary("sigmoid", _sigmoid, lambda a, out: out * (1.0 - out), "1 / (1 + e^-x), never overflows.")
    relu = unary("relu", _relu, lambda a, out: step(a), "max(0, x).")
    # The derivatives of relu and of ``a ** b`` w.r.t. b branch on numbers: as ops
    # of their own, the graph path recomputes them (a replay too) instead of
    # freezing the branch taken when the graph was built.
    step = unary("step", _step, lambda a, out: 0.0, "1 if x > 0 else 0 (relu's derivative).")
    _xlogy = binary("xlogy", _x_log_y, lambda x, y, out: (log(y), x / y))
    sin = unary("sin", math.sin, lambda a, out: cos(a), "Sine (radians).")
    cos = unary("cos", math.cos, lambda a, out: -sin(a), "Cosine (radians).")

    __radd__ = reflected(__add__)
    __rsub__ = reflected(__sub__)
    __rmul__ = reflected(__mul__)
    __rtruediv__ = reflected(__truediv__)

    def __pow__(self, exponent: "Scalar") -> "Value":
        """``x ** 2`` (a number: the exponent is part of the op) or ``x ** y`` (a Value)."""
        if type(exponent) is Value:
            return self._pow(exponent)
        return _constant_power(_checked_number(exponent, "**"))(self)

    def __rpow__(self, base: "Number") -> "Value":
        return _lift(base, "**")._pow(self)

    # ------------------------------------------------------------ backward
    def backward(self) -> None:
        """Fill ``.grad`` of every Value this one depends on with d(self)/d(node).

        Gradients *accumulate*, as in PyTorch: calling `backward` twice (or on
        two outputs sharing inputs) adds the second result to the first.
        Reset with ``node.grad = 0.0`` or a module's ``zero_grad()``.

        >>> x = Value(2.0); y = x * x
        >>> y.backward(); y.backward(); x.grad
        8.0
        """
        order = topological_order(self)
        # Propagate this pass's gradients alone, then add back what was there.
        earlier = [(node, node.grad) for node in order if node.grad != 0.0]
        for node, _ in earlier:
            node.grad = 0.0
        self.grad = 1.0
        try:
            for node in reversed(order):  # every consumer before the node it consumes
                op = node._op
                g = node.grad
                if g - g != 0.0:  # inf or nan: a derivative too large for a float
                    raise _gradient_overflow(node, g)
                # A leaf has nothing to pass on, nor has a node whose gradient is 0 (a
                # dead relu, a satisfied hinge): 0 * partial would change no gradient.
                if op is None or g == 0.0:
                    continue
                a, b = node._a, node._b
                if b is None:
                    a.grad += g * op.partials(a._data, node._data)
                else:
                    da, db = op.partials(a._data, b._data, node._data)
                    a.grad += g * da
                    b.grad += g * db
        except BaseException:  # a rule failed: leave every .grad as it was before
            for node in order:
                node.grad = 0.0
            raise
        finally:
            for node, grad_before in earlier:
                node.grad += grad_before


_new_value = object.__new__


def _node(data: float, a: Value, b: Value | None, op: Op) -> Value:
    """A new non-leaf node; skips __init__'s checks (data is already a float)."""
    out = _new_value(Value)
    out._data = data
    out.grad = 0.0
    out._label = ""
    out._a = a
    out._b = b
    out._op = op
    return out


def _describe(node: Value) -> str:
    """"the 'tanh' node 'y'", "the leaf 'x'": a node named for an error message."""
    what = f"the {node.op!r} node" if node._op is not None else "the leaf"
    return f"{what} {node._label!r}" if node._label else what


def _gradient_overflow(node: Value, g: float) -> OverflowError:
    return OverflowError(
        f"backward: the gradient of {_describe(node)} (data {node._data!r}) is {g!r}: "
        "a derivative beyond the largest float"
    )


def _lift(x: Scalar, where: str = "") -> Value:
    """A Value for x: x itself, or a new constant leaf for a number (errors name `where`)."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}" if where else str(error)) from None


def _data_of(x: Scalar) -> float:
    return x._data if isinstance(x, Value) else x


def _pow(base: Scalar, exponent: Scalar) -> Scalar:
    """base ** exponent for numbers or Values, with the engine's errors (naming ``**``)."""
    return base**exponent if isinstance(base, Value) else _power(base, exponent)


def _power_partial(base: Scalar, exponent: Scalar) -> Scalar:
    """d(base ** exponent)/d(base) = exponent * base ** (exponent - 1), an error naming ``**`` at 0 for exponent < 1."""
    n = _data_of(exponent)
    if _data_of(base) == 0.0 and n < 1.0:
        raise ZeroDivisionError(
            f"**: the derivative of x ** {n!r} at x = 0.0 is not a finite number ({n!r} * 0.0 ** {n - 1.0!r})"
        )
    return exponent * _pow(base, exponent - 1.0)


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


@lru_cache(maxsize=256)
def _constant_power(n: float) -> Callable[[Value], Value]:
    """The method ``x ** n`` for a number n; its Op (shared by every node with that n) records n."""
    shown = int(n) if n.is_integer() else n
    method = unary(
        f"**{shown}",
        lambda a: _power(a, n),
        lambda a, out: _power_partial(a, n) if n != 0.0 else 0.0,  # x**0 is the constant 1
    )
    method.op.exponent = n
    return method


# ------------------------------------------- functions on numbers or Values
def _functional(method: Callable[[Value], Value], on_float: Callable[[float], float]) -> Callable:
    def function(x: Scalar) -> Scalar:
        if isinstance(x, Value):
            return method(x)
        return on_float(_checked_number(x, method.__name__))

    function.__name__ = method.__name__
    function.__qualname__ = method.__name__
    function.__doc__ = (
        f"{method.__name__}(x) for a Value (a new node) or a plain number (a float).\n\n"
        f"    >>> {method.__name__}(Value(0.5)).op\n    '{method.__name__}'\n"
    )
    return function


exp = _functional(Value.exp, _exp)
log = _functional(Value.log, _log)
tanh = _functional(Value.tanh, math.tanh)
sigmoid = _functional(Value.sigmoid, _sigmoid)
relu = _functional(Value.relu, _relu)


def step(x: Scalar) -> Scalar:
    """1 if x > 0 else 0, for a Value (a node, whose replay recomputes it) or a float."""
    return x.step() if type(x) is Value else _step(x)


def xlogy(x: Scalar, y: Scalar) -> Scalar:
    """x * log(y), 0 where x is 0 (the exponent's derivative in ``**``), for Values or floats."""
    return x._xlogy(y) if type(x) is Value else _x_log_y(x, y)
sin = _functional(Value.sin, math.sin)
cos = _functional(Value.cos, math.cos)


# ----------------------------------------------------------------- grad()
def _partials(node: Value, create_graph: bool) -> tuple:
    """Local derivatives of `node` w.r.t. its parents, as floats or as Values.

    The floats are read through ``.data``: the results are numbers that leave
    the graph, read the way user code reads them (and a recording sees it)."""
    op = node._op
    if create_graph:
        result = op.partials(*node.parents, node)
    else:
        result = op.partials(*(p.data for p in node.parents), node.data)
    return (result,) if op.arity == 1 else result


def _times(upstream: Scalar, local: Scalar) -> Scalar:
    """upstream * local, without building `* 1` and `* -1` nodes on the graph path."""
    if type(local) is float:
        if local == 1.0:
            return upstream
        if local == -1.0:
            return -upstream
    return upstream * local


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list:
    """d(output)/d(input) for each input, leaving every ``.grad`` untouched.

    Without `create_graph` the results are floats.  With it they are Values
    whose own graphs compute the derivatives, so they can be differentiated
    again, drawn, or turned into symbols.

    >>> x = Value(3.0)
    >>> y = x ** 3
    >>> (dy,) = grad(y, [x], create_graph=True)
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
    grads: dict[Value, Scalar] = {output: 1.0}
    for node in reversed(topological_order(output)):
        upstream = grads.get(node)
        if upstream is None:
            continue
        if type(upstream) is float and upstream - upstream != 0.0:
            raise _gradient_overflow(node, upstream)
        if node._op is None:
            continue
        for parent, local in zip(node.parents, _partials(node, create_graph)):
            contribution = _times(upstream, local)
            grads[parent] = grads[parent] + contribution if parent in grads else contribution
    results = [grads.get(x, 0.0) for x in inputs]
    if create_graph:
        results = [r if isinstance(r, Value) else Value(r) for r in results]
    return results


# -------------------------------------------------------------- gradcheck()
def _positive(x: object, what: str) -> float:
    value = real(x, what, "gradcheck")
    if not value > 0.0:
        raise ValueError(f"gradcheck: {what} must be a positive number, got {x!r}")
    return value


class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference estimate disagree."""


def gradcheck(
    f: Callable[..., Value],
    inputs: Iterable[Scalar],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the engine's gradient of ``f(*inputs)`` with central differences.

    Returns True, or raises `GradcheckError` naming the input and both numbers.

    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    inputs = ordered(inputs, "inputs", "gradcheck", of=" of numbers or Values")
    eps = _positive(eps, "eps")
    atol, rtol = real(atol, "atol", "gradcheck", minimum=0.0), real(rtol, "rtol", "gradcheck", minimum=0.0)
    points = [x.data if isinstance(x, Value) else _checked_number(x, "gradcheck") for x in inputs]
    names = [x.label if isinstance(x, Value) and x.label else f"inputs[{i}]" for i, x in enumerate(inputs)]

    def evaluate(at: list[float]) -> Value:
        values = [Value(v, label=name if not name.startswith("inputs[") else "") for v, name in zip(at, names)]
        out = f(*values)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        return out, values

    out, leaves = evaluate(points)
    analytic = grad(out, leaves)
    for i, (name, g) in enumerate(zip(names, analytic)):
        up = points.copy()
        down = points.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (evaluate(up)[0].data - evaluate(down)[0].data) / (2.0 * eps)
        if not abs(g - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck: gradient for {name} (= {points[i]!r}) disagrees: "
                f"engine {g!r}, finite differences {numeric!r}"
            )
    return True
