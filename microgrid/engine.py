"""The scalar reverse-mode engine: `Value`, `Op`, `backward()`, `grad()`.

micrograd gives each result node a closure that knows its backward step:

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

Here each operation is one entry of a table instead (`microgrid.ops`): an
`Op` with its rule on floats and its local derivatives, written once as
formulas (``rules=["b", "a"]`` for ``a * b``).  Two reasons:

* no reference cycles: micrograd's closure holds `out` and `out` holds the
  closure, a cycle per node that only the garbage collector frees.  An `Op`
  is shared by all the nodes it made and refers to none, so a dropped graph
  is freed at once by reference counting;
* one rule, many uses: the same formula gives numbers on floats
  (`backward()`), a differentiable graph on Values
  (``grad(..., create_graph=True)``), a line of `explain_backward` and a
  formula.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    8.0
"""

from __future__ import annotations

import ast
import keyword
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, Protocol, Sequence, Union

from ._checks import ordered, real
from .reverse import describe, graph_pass, reverse_pass, topological_order

__all__ = ["Value", "Op", "OPS", "define_op", "remove_op", "grad"]

Number = Union[int, float]
Scalar = Union["Value", int, float]


class Value:
    """A scalar in a computation graph.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)

    ``data`` is a float (settable on a leaf); ``grad`` holds d(output)/d(self)
    after `backward`; ``parents`` are the operands in order; ``op`` names the
    operation that made this Value ("" for a leaf).  Values hash and compare by
    identity, so they can be dict keys; ``==`` is deliberately not numeric.
    """

    # Two operand slots rather than a tuple: one object per node for the collector.
    __slots__ = ("_data", "_grad", "_label", "_a", "_b", "_op", "__weakref__")

    def __init__(self, data: Number, label: str = ""):
        self._data = real(data, "data", "Value")
        self._grad = 0.0
        self._label = _checked_label(label, "Value: label")
        self._a: Value | None = None
        self._b: Value | None = None
        self._op: Op | None = None

    @property
    def data(self) -> float:
        if _observed:
            _report_read(self, "read .data of")
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
        if _observed:
            _report_write(self, before)

    @property
    def grad(self) -> float:
        if _observed:
            _report_read(self, "read .grad of")
        return self._grad

    @grad.setter
    def grad(self, grad: Number) -> None:
        self._grad = real(grad, "grad", "Value.grad")

    @property
    def label(self) -> str:
        """A name for pictures, explanations and formulas ("" for none)."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = _checked_label(label, "Value.label: a label")

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

    # Arithmetic: each operator is one entry of the op table (microgrid.ops).
    def __add__(self, other: Scalar) -> Value:
        return ADD(self, other)

    def __radd__(self, other: Number) -> Value:
        return ADD(other, self)

    def __sub__(self, other: Scalar) -> Value:
        return SUB(self, other)

    def __rsub__(self, other: Number) -> Value:
        return SUB(other, self)

    def __mul__(self, other: Scalar) -> Value:
        return MUL(self, other)

    def __rmul__(self, other: Number) -> Value:
        return MUL(other, self)

    def __truediv__(self, other: Scalar) -> Value:
        return DIV(self, other)

    def __rtruediv__(self, other: Number) -> Value:
        return DIV(other, self)

    def __neg__(self) -> Value:
        return NEG(self)

    def __pow__(self, exponent: Scalar) -> Value:
        """``x ** 2`` (a number: the exponent is part of the op) or ``x ** y`` (a Value)."""
        return power(self, exponent)

    def __rpow__(self, base: Number) -> Value:
        return POW(base, self)

    def exp(self) -> Value:
        """e ** self; OverflowError above about 709.78."""
        return EXP(self)

    def log(self) -> Value:
        """Natural logarithm; ValueError for self <= 0."""
        return LOG(self)

    def tanh(self) -> Value:
        return TANH(self)

    def sigmoid(self) -> Value:
        """1 / (1 + e^-self), never overflows."""
        return SIGMOID(self)

    def relu(self) -> Value:
        """max(0, self); its derivative is step(self): 1 where self > 0, else 0."""
        return RELU(self)

    def sin(self) -> Value:
        return SIN(self)

    def cos(self) -> Value:
        return COS(self)

    def backward(self) -> None:
        """Add d(self)/d(node) to ``.grad`` of every Value this one depends on.

        Gradients *accumulate*, as in PyTorch: reset with ``node.grad = 0.0``
        or a module's ``zero_grad()``.  If a rule fails, no ``.grad`` changes.

        >>> x = Value(2.0); y = x * x
        >>> y.backward(); y.backward(); x.grad
        8.0
        """
        if _observed:
            _report_read(self, "called backward() on")
        _, earlier = reverse_pass(self)  # this pass's gradients, alone ...
        for node, grad_before in earlier:  # ... to which what was there is added back
            node._grad += grad_before


def _checked_label(label: object, what: str) -> str:
    if not isinstance(label, str):
        raise TypeError(f"{what} must be a str, got {type(label).__name__}: {label!r}")
    return label


# ------------------------------------------------------------------- ops
_UNARY = object()  # no second operand


class Op:
    """One operation, declared once by `define_op`; everything else reads it.

    ``forward(*operands)`` is its rule on floats.  ``rules`` are its local
    derivatives, d out / d each operand, as formulas in ``a``, ``b`` (the
    operands) and ``out`` (the result), ``^`` a power, and the ops callable by
    name (``sigmoid(a)``): the engine turns them into ``partials``, one
    function serving floats and Values alike.  ``formula`` is the op in
    formulas (``Max(0, a)``), or ``definition`` its meaning where formulas
    keep it a function of its name, shown in LaTeX as ``latex`` (sigmoid);
    ``notation``, the op as typed (``a + b``); ``params``, its constants
    (``(n,)`` for ``x ** n``).  ``by_name``: users call it by name
    (``exp(x)``, the expression parser); ``commutative``: operand order does not
    matter.
    """

    __slots__ = ("name", "arity", "forward", "rules", "partials", "formula", "definition", "notation", "latex",
                 "params", "by_name", "commutative")

    def __init__(self, name: str, arity: int, forward: Callable[..., float], rules: Sequence[str],
                 formula: str = "", *, definition: str = "", notation: str = "", latex: str = "",
                 params: tuple[float, ...] = (), by_name: bool = False, commutative: bool = False):
        self.partials = compile_rules(name, arity, rules)
        self.name, self.arity, self.forward, self.rules = name, arity, forward, tuple(rules)
        self.formula, self.definition, self.latex = formula, definition, latex
        self.notation = notation or (f"{name}(a)" if arity == 1 else f"{name}(a, b)")
        self.params, self.by_name, self.commutative = params, by_name, commutative

    def __call__(self, a: Scalar, b: Scalar | object = _UNARY) -> Scalar:
        """The op on Values (a new node) or on plain numbers (a float)."""
        if (b is _UNARY) != (self.arity == 1):
            raise TypeError(f"{self.name}: takes {self.arity} operand(s), got {1 if b is _UNARY else 2}")
        if type(a) is not Value:
            if type(b) is not Value:
                if b is _UNARY:
                    return self.forward(real(a, "data", self.name))
                return self.forward(real(a, "data", self.name), real(b, "data", self.name))
            a = _lift(a, self.name)
        if b is _UNARY:
            b = None
            data = self.forward(a._data)
        else:
            if type(b) is not Value:
                b = _lift(b, self.name)
            data = self.forward(a._data, b._data)
        if data - data != 0.0:  # inf or nan: true only off the real numbers
            raise self.overflow(data, a._data, *(() if b is None else (b._data,)))
        out = _new_value(Value)
        out._data, out._grad, out._label, out._a, out._b, out._op = data, 0.0, "", a, b, self
        return out

    def overflow(self, result: float, *operands: float) -> OverflowError:
        shown = ", ".join(map(repr, operands))
        return OverflowError(f"{self.name}: result is not a finite number for input {shown} (got {result!r})")

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


_new_value = object.__new__


def _lift(x: Scalar, where: str) -> Value:
    """x itself, or a new constant leaf for a number (errors name `where`)."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


#: Every registered op by name: the built-ins (microgrid.ops) and any `define_op` adds.
OPS: dict[str, Op] = {}
# The names a rule may call, resolved when the rule runs, so they always mean the op in OPS now.
_RULE_NAMES: dict[str, object] = {"__builtins__": {}}
_RULE_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
               ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def compile_rules(name: str, arity: int, rules: Sequence[str]) -> Callable[..., object]:
    """``partials(a, [b,] out)`` from the rule formulas: a number or a tuple of two.

    A formula is checked before it is compiled: numbers, ``a``, ``b``, ``out``,
    ``+ - * / ^`` and calls of the ops, nothing else.

    >>> compile_rules("*", 2, ["b", "a"])(2.0, 3.0, 6.0)
    (3.0, 2.0)
    """
    if isinstance(rules, str) or len(rules) != arity:
        raise ValueError(f"define_op({name!r}): give one rule per operand (formulas in a, b, out), got {rules!r}")
    operands = ("a", "out") if arity == 1 else ("a", "b", "out")
    bodies = [_checked_rule(name, rule, set(operands)) for rule in rules]
    body = bodies[0] if arity == 1 else f"({bodies[0]}, {bodies[1]})"
    code = compile(f"lambda {', '.join(operands)}: {body}", f"<rules of {name}>", "eval")
    partials: Callable[..., object] = eval(code, _RULE_NAMES)  # checked above: arithmetic on a, b, out and ops
    return partials


def _checked_rule(name: str, rule: object, operands: set[str]) -> str:
    """`rule` as Python source (numbers as floats, ``^`` as ``**``), or ValueError naming it."""
    try:
        problem = _rule_problem(rule, operands)
    except SyntaxError as error:
        problem = f"not a formula ({error.msg})"
    if problem:
        raise ValueError(f"define_op({name!r}): the rule {rule!r} cannot be read: {problem}")
    return ast.unparse(_rule_tree(rule))  # type: ignore[arg-type]


def _rule_tree(rule: str) -> ast.Expression:
    """A rule parsed, with its numbers as floats: the same text reads the same everywhere."""
    tree = ast.parse(rule.replace("^", "**").strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value = float(node.value)
    return tree


def _rule_problem(rule: object, operands: set[str]) -> str:
    if not isinstance(rule, str):
        return f"a formula must be a str, got {type(rule).__name__}"
    tree = _rule_tree(rule)
    for node in ast.walk(tree):
        if not isinstance(node, _RULE_NODES) or isinstance(node, ast.Constant) and type(node.value) is not float:
            return f"{ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__} is not allowed"
        if isinstance(node, ast.Call) and (node.keywords or not isinstance(node.func, ast.Name)):
            return "only ops may be called, with operands only"
        if isinstance(node, ast.Name) and node.id not in operands and not _names_a_function(node, tree):
            return f"{node.id!r} is not one of {', '.join(sorted(operands))}"
    return ""


def _names_a_function(name: ast.Name, tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def define_op(name: str, arity: int, forward: Callable[..., float], rules: Sequence[str], formula: str = "", *,
              definition: str = "", notation: str = "", latex: str = "", by_name: bool = True,
              commutative: bool = False, method: str | None = None, doc: str = "") -> Op:
    """Declare an op (see `Op` for the fields) and register it in `OPS`: the call the built-ins use too.

    Value gets the method `method` (default: the op's name, "" for none), so
    ``x.softplus()`` works, as does ``op(x)``.  `remove_op` undoes it.

    >>> import math
    >>> softplus = define_op("softplus", 1, lambda a: math.log1p(math.exp(a)), rules=["sigmoid(a)"],
    ...                      definition="log(1 + exp(a))")
    >>> x = Value(0.0); y = softplus(x); y.backward(); x.grad   # d/dx log(1 + e^x) = sigmoid(x)
    0.5
    >>> remove_op("softplus")
    """
    method = name if method is None else method
    taken = isinstance(name, str) and (name in OPS or name in ("a", "b", "out", "n") or keyword.iskeyword(name))
    problem = (
        f"the name must be a non-empty str, got {name!r}" if not isinstance(name, str) or not name
        else f"the name {name!r} is taken (by an op, a rule's variables a, b, out, n, or Python)" if taken
        else f"arity must be the int 1 or 2, got {arity!r}" if type(arity) is not int or arity not in (1, 2)
        else f"forward must be a function of {arity} float(s), got {forward!r}" if not callable(forward)
        else "the derivative is written once, as rule formulas: pass rules=[...], not a function"
        if callable(rules) else "give a formula or a definition (one of the two)" if bool(formula) == bool(definition)
        else f"Value already has an attribute {method!r}: pass another method name" if method and hasattr(Value, method)
        else ""
    )
    if problem:
        raise ValueError(f"define_op({name!r}): {problem}")
    op = Op(name, arity, _real_valued(name, forward), rules, formula, definition=definition, notation=notation,
            latex=latex, by_name=by_name, commutative=commutative)
    unknown = called_names(op) - set(OPS) - {name}
    if unknown:
        raise ValueError(f"define_op({name!r}): its rules call {', '.join(sorted(unknown))}, which is not an op")
    return register(op, method, doc)


def register(op: Op, method: str = "", doc: str = "") -> Op:
    """Put `op` in `OPS` (and, with `method`, on Value), where everything looks ops up."""
    OPS[op.name] = op
    if op.name.isidentifier():
        _RULE_NAMES[op.name] = op
    if method:
        setattr(Value, method, _method(op, doc))
    return op


def called_names(op: Op) -> set[str]:
    """The ops `op`'s rules call by name."""
    trees = (_rule_tree(rule) for rule in op.rules)
    return {node.func.id for tree in trees for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


def _real_valued(name: str, forward: Callable[..., float]) -> Callable[..., float]:
    """A user's forward, refusing a result that is not a real number (a complex from ``a ** 0.5``)."""

    def checked(*operands: float) -> float:
        return real(forward(*operands), f"the result for input {', '.join(map(repr, operands))}", name)

    return checked


def _method(op: Op, doc: str) -> Callable[..., Value]:
    """The Value method a user op gets: ``x.softplus()``, ``x.op(y)``."""

    def method(self: Value, *other: Scalar) -> Value:
        return op(self, *other)  # type: ignore[return-value]

    method.__name__, method.__doc__ = op.name, doc
    method.op = op  # type: ignore[attr-defined]
    return method


def remove_op(name: str) -> None:
    """Undo `define_op` for an op defined after import (the built-ins stay)."""
    op = OPS.get(name)
    if op is None or name in BUILT_IN:
        raise ValueError(f"remove_op: {name!r} is {'built in' if op else 'not a defined op'}")
    users = [other.name for other in OPS.values() if other is not op and name in called_names(other)]
    if users:
        raise ValueError(f"remove_op: {name!r} is used in the rules of {', '.join(users)}; remove those first")
    del OPS[name]
    _RULE_NAMES.pop(name, None)
    for attribute, method in list(vars(Value).items()):
        if getattr(method, "op", None) is op:
            delattr(Value, attribute)


# ------------------------------------------------------------- gradients
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
    if create_graph:
        gradients = graph_pass(output)
        return [g if isinstance(g, Value) else Value(g) for g in (gradients.get(x, 0.0) for x in inputs)]
    gradients = trace_backward(output)
    return [gradients.get(x, 0.0) for x in inputs]


def trace_backward(root: Value, visit: Callable[[Value, float, object], None] | None = None) -> dict[Value, float]:
    """d(root)/d(node) for every node, by the float pass `backward` runs, leaving
    every ``.grad`` as it was; ``visit(node, upstream, partials)`` sees each
    computed node in the order the pass handles them (`explain_backward`)."""
    if _observed:
        _report_read(root, "took a float gradient (grad(), explain_backward()) of")
    order, earlier = reverse_pass(root, visit)
    gradients = {node: node._grad for node in order}
    for node in order:
        node._grad = 0.0
    for node, grad_before in earlier:
        node._grad = grad_before
    return gradients


# ------------------------------------------------------------- observing
class Observer(Protocol):
    """What `observing` reports to: every number that leaves a Value, every ``.data`` set."""

    def read(self, node: Value, how: str) -> None: ...

    def wrote(self, node: Value, before: float) -> None: ...


# Observers of the current thread (or task), innermost last.  `_observed` counts
# observers in every thread, so that unobserved code pays one test of a global.
_observers: ContextVar[tuple[Observer, ...]] = ContextVar("microgrid_observers", default=())
_observed = 0
_observed_lock = threading.Lock()


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Within the block, in this thread only, `observer` hears of every number
    read from a Value (``.data``, ``.grad``, `backward`, a float `grad`) and
    every ``.data`` set: how a client can see every number a piece of code takes from a graph.

    >>> class Reads:
    ...     def read(self, node, how): print(how, node.label)
    ...     def wrote(self, node, before): pass
    >>> x = Value(1.0, label="x")
    >>> with observing(Reads()):
    ...     _ = x.data
    read .data of x
    """
    global _observed
    token = _observers.set(_observers.get() + (observer,))
    with _observed_lock:
        _observed += 1
    try:
        yield
    finally:
        _observers.reset(token)
        with _observed_lock:
            _observed -= 1


def _report_read(node: Value, how: str) -> None:
    for observer in _observers.get():
        observer.read(node, how)


def _report_write(node: Value, before: float) -> None:
    for observer in _observers.get():
        observer.wrote(node, before)


# The op table needs `Op` and `Value` above; Value's methods read these names when called.
from .ops import ADD, BUILT_IN, COS, DIV, EXP, LOG, MUL, NEG, POW, RELU, SIGMOID, SIN, SUB, TANH, power  # noqa: E402
