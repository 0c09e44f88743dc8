"""The conversion to sympy: ops (read live from `OPS`) as sympy functions, labels as symbols, graphs, `diff`.

>>> from microgrid import Value
>>> Z = Value(0.3, label="Z"); A = Z.sigmoid(); A.label = "A"
>>> to_sympy(1 - A), definitions(A), diff(A, Z)
(1 - A, {A: sigmoid(Z)}, A*(1 - A))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._extras import require

if TYPE_CHECKING:  # type checkers see the modules themselves
    import mpmath  # type: ignore[import-untyped]  # (mpmath ships no type hints)
    import sympy  # type: ignore[import-untyped]  # (sympy ships no type hints)
else:
    sympy = require("sympy", "symbolic", user="microgrid.symbolic")  # first: it brings mpmath
    mpmath = require("mpmath", "symbolic", user="microgrid.symbolic")
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from operator import add, methodcaller, mul, sub, truediv
from typing import Any

from ..engine import OPS, Op, Value, grad, register
from ..graphs import describe, fold
from ..names import NameLookupError, labelled_nodes, resolve, to_identifier, to_latex
from ..ops import BUILT_IN
from ..rules import CALLABLE
from .parsing import ENGINE_FUNCTIONS, HOLD_DIGITS, NAMED_NUMBERS, Expression, TooLargeToWriteOut
from .parsing import typed as typed_number
from .worker import Budget

# An op's texts are in a, b (n, its param) and out: dummies, so that a graph's own symbols never clash with them.
_A, _B, _OUT = sympy.Dummy("a"), sympy.Dummy("b"), sympy.Dummy("out")
_CODE_PRINTERS = [
    "_pythoncode", "_numpycode", "_mpmathcode", "_lambdacode", "_cmathcode", "_ccode", "_cxxcode", "_fcode",
    "_javascript", "_julia", "_octave", "_rcode", "_rust_code", "_scipycode", "_cupycode", "_jaxcode", "_torchcode",
    "_tensorflowcode",
]  # fmt: skip
_SIZE_OPERATORS: dict[str, Callable] = {"+": add, "-": sub, "*": mul, "/": truediv, "**": pow}


@lru_cache(maxsize=1024)
def _read(op: Op, text: str, what: str) -> sympy.Expr:
    """`text`, one of `op`'s formulas (``^`` a power), as sympy in the dummies a, b, out."""
    names: dict[str, Any] = {"a": _A, "b": _B, "out": _OUT, "n": number(op.params[0]) if op.params else None}
    # A rule may call an op (sigmoid(a)); an op that is sympy's function of its name (exp) is left to sympy.
    for o in OPS.values():
        if o.name.isidentifier() and o.formula != f"{o.name}(a)":
            names[o.name] = lambda *args, o=o: sympy_form(o)(*args)
    try:
        expr = sympy.sympify(text, locals=names)
    except (sympy.SympifyError, SyntaxError, TypeError, NameError) as error:
        raise ValueError(f"{op.name}: its {what} {text!r} is not a formula sympy can read ({error})") from None
    if stray := expr.free_symbols - {_A, _B, _OUT}:
        raise ValueError(f"{op.name}: its {what} {text!r} uses {', '.join(map(str, stray))}, not a, b or out")
    return expr


@lru_cache(maxsize=1024)
def sympy_form(op: Op) -> Callable[..., sympy.Expr]:
    """`op` in sympy, a function of its operands' expressions: sympy.exp for exp, Max(0, x) for relu."""
    if op.definition:
        return _named_function(op)
    if not op.formula:
        raise ValueError(f"to_sympy: no sympy form for the operation {op.name!r} (declare it with define_op)")
    template, variables = _read(op, op.formula, "formula"), (_A, _B)[: op.arity]
    if template.args == variables:  # exp(a): sympy's exp itself
        return template.func
    return lambda *args: template.xreplace(dict(zip(variables, args, strict=True)))


def _named_function(op: Op) -> type:
    """`op` as an opaque function (written out, sigmoid makes `simplify` slow), its derivative the op's rule.

    >>> x = sympy.Symbol("x")
    >>> sympy.diff(sigmoid(x), x)
    (1 - sigmoid(x))*sigmoid(x)
    """
    variables = (_A, _B)[: op.arity]

    def written_out(args: tuple) -> sympy.Expr:
        return _read(op, op.definition, "definition").xreplace(dict(zip(variables, args, strict=True)))

    def eval(cls, *args):
        if all(x.is_Number for x in args):  # a formula at a point is a number: exactly so where it is rational
            value = written_out(args)
            if any(x.is_Float for x in args) or value.is_Rational:
                return value
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return _read(op, op.rules[argindex - 1], "rule").xreplace({_A: self.args[0], _B: self.args[-1], _OUT: self})

    def latex(self, printer, exp=None) -> str:
        name = op.latex or rf"\operatorname{{{op.name}}}"
        body = rf"{name}\left({', '.join(printer._print(x) for x in self.args)}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"

    namespace = {
        "__module__": __name__,
        "__doc__": f"The engine's {op.name}, opaque in formulas.",
        "nargs": op.arity,
        "eval": classmethod(eval),
        "fdiff": fdiff,
        "_latex": latex,
        # Pickled as the op's text, not by a class made here at run time: the worker rebuilds it (`applied`).
        "__reduce_ex__": lambda self, protocol: (applied, (op_spec(op), self.args)),
        "_eval_rewrite_as_exp": lambda self, *args, **hints: written_out(args),
        "_eval_evalf": lambda self, prec: written_out(self.args)._eval_evalf(prec),
    }
    namespace.update(dict.fromkeys(_CODE_PRINTERS, lambda self, printer: printer._print(written_out(self.args))))
    return type(op.name, (sympy.Function,), namespace)


def op_spec(op: Op) -> tuple:
    """`op` as plain data that pickles: what sympy needs in a process that lacks it.

    >>> dict(op_spec(OPS["sigmoid"]))["definition"]
    '1/(1 + exp(-a))'
    """
    return tuple((slot, getattr(op, slot)) for slot in Op.__slots__ if not callable(getattr(op, slot)))


def op_of(spec: tuple) -> Op:
    """The op `spec` describes: the live table's if it holds that very op, else one made from its text."""
    op = OPS.get(dict(spec)["name"])
    return op if op is not None and op_spec(op) == spec else _from_text(spec)


@lru_cache(maxsize=256)
def _from_text(spec: tuple) -> Op:
    op = Op.__new__(Op)  # (no __init__: no Python functions; a slot `spec` lacks raises)
    for slot, value in {**dict.fromkeys(Op.__slots__, _elsewhere), **dict(spec)}.items():
        setattr(op, slot, value)
    return op


def _elsewhere(*operands: Any) -> Any:
    raise RuntimeError("this op's Python functions are in the process that declared it, not in this one")


def declared_ops() -> tuple:
    """The ops declared after import (`define_op`), as `op_spec`s: what another process lacks."""
    return tuple(op_spec(op) for name, op in list(OPS.items()) if name not in BUILT_IN)


def declare_ops(specs: tuple) -> None:
    """This (worker) process's table: the built-ins and the ops of `specs` (not by `define_op`: not yet compiled)."""
    wanted = {dict(spec)["name"]: spec for spec in specs}
    for name in [n for n in OPS if n not in BUILT_IN and n not in wanted]:
        del OPS[name]
        CALLABLE.pop(name, None)
    for spec in wanted.values():
        register(op_of(spec))


def applied(spec: tuple, args: tuple) -> sympy.Expr:
    """The op `spec` describes, applied to `args` unevaluated: how a formula unpickles.

    >>> import pickle
    >>> x = sympy.Symbol("x")
    >>> pickle.loads(pickle.dumps(sigmoid(x) + 1)) == sigmoid(x) + 1
    True
    """
    return sympy_form(op_of(spec))(*args, evaluate=False)


class _SympyFunctions(Mapping):
    """sympy's counterpart of each engine function, as registered now: for conversion and for claims."""

    def __getitem__(self, name: str) -> Callable:
        if name not in ENGINE_FUNCTIONS:
            raise KeyError(name)
        return sympy_form(OPS[name])

    def __iter__(self):
        return iter(ENGINE_FUNCTIONS)

    def __len__(self) -> int:
        return len(ENGINE_FUNCTIONS)


SYMPY_FUNCTIONS: Mapping[str, Callable] = _SympyFunctions()
#: sympy's counterpart of each of `NAMED_NUMBERS`: e is E, pi is pi.
SYMPY_NUMBERS: Mapping[str, sympy.Expr] = {"e": sympy.E, "pi": sympy.pi}
assert SYMPY_NUMBERS.keys() == NAMED_NUMBERS.keys()
sigmoid = sympy_form(OPS["sigmoid"])  # prints as sigmoid(x), in LaTeX as sigma(x)


class Label(sympy.Symbol):
    """A node label that is not a Python name, as a symbol named by its identifier (for code printers).

    >>> w = symbol("w^(1)_0,0")
    >>> w, sympy.pycode(2*w), sympy.latex(w), w == symbol("w^(1)_0,0")
    (w^(1)_0,0, '2*w1_0_0', 'w^{(1)}_{0,0}', True)
    """

    __slots__ = ("label",)

    def __new__(cls, label: str) -> Label:
        obj = sympy.Symbol.__xnew__(cls, to_identifier(label))
        obj.label = label
        return obj

    def _hashable_content(self) -> tuple:
        return (*super()._hashable_content(), self.label)

    def __getnewargs_ex__(self) -> tuple:
        return ((self.label,), {})

    def __getstate__(self) -> dict:
        return {}

    @classmethod
    def class_key(cls) -> tuple:
        return sympy.Symbol.class_key()  # sorted among plain symbols, by the label

    def sort_key(self, order=None) -> tuple:
        return self.class_key(), (1, (self.label,)), sympy.S.One.sort_key(), sympy.S.One

    def _sympystr(self, printer, **settings) -> str:
        return self.label

    def _latex(self, printer, **settings) -> str:
        return to_latex(self.label)


@lru_cache(maxsize=4096)
def symbol(label: str) -> sympy.Symbol:
    """The symbol of a node label: a plain Symbol (as claims type it) for a name, else a `Label`."""
    return sympy.Symbol(label) if to_identifier(label) == label else Label(label)


# sympy orders terms by class name (`Basic.compare`): a label sorts as its plain Symbol would, a(1 - a) not (1 - a)a.
Label.__name__ = "Symbol"


def label_of(s: sympy.Symbol) -> str:
    """The node label a symbol stands for: ``label_of(symbol(x)) == x``."""
    return s.label if isinstance(s, Label) else s.name


@lru_cache(maxsize=4096)
def number(x: float) -> sympy.Expr:
    """An exact sympy number for a float, as the parser reads it typed: 0.1 -> 1/10, 1e23 -> 10**23 (else a Float)."""
    x = float(x)
    shown = repr(x)
    if x.is_integer():
        # Past 2**53 integers share floats: the one meant is the shortest decimal.
        return sympy.Integer(int(x)) if abs(x) < 2**53 else fraction(Fraction(shown))
    guess = sympy.nsimplify(x, rational=False)
    if guess.is_Rational and float(guess) == x:
        return guess
    mantissa = shown.replace("-", "").partition("e")[0].replace(".", "").strip("0")
    if len(mantissa) <= 8 and 1e-300 <= abs(x) <= 1e300:
        return fraction(Fraction(shown))  # a short decimal, exactly as typed: 123.456 -> 15432/125, 1e-30
    return sympy.Float(x)


def fraction(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


def constant(leaf: Value) -> sympy.Expr:
    """The exact number an unlabelled leaf stands for: what a program typed (10**23, E), else its float's `number`."""
    typed = typed_number(leaf)
    if typed is None:
        return number(leaf.data)
    return SYMPY_NUMBERS[typed] if isinstance(typed, str) else fraction(typed)


def convert(root: Value, expand: bool, expand_root: bool) -> sympy.Expr:
    """`root` in sympy, labelled nodes as symbols (`expand`: leaves only; `expand_root`: not `root`), `Size` first."""
    seen: dict[str, Value] = {}

    def as_symbol(node: Value) -> bool:
        return bool(node.label) and not (node is root and expand_root) and (not expand or node._op is None)

    def combine(node: Value, parts: list) -> tuple[sympy.Expr, Size]:
        if as_symbol(node):
            if seen.setdefault(node.label, node) is not node:
                distinct = "give them distinct labels so that each becomes its own symbol"
                raise ValueError(f"to_sympy: two different nodes are labelled {node.label!r}; {distinct}")
            return symbol(node.label), Size()
        if node._op is None:
            expr = constant(node)
            return expr, _number_size(expr)
        size = _op_size(node._op, [size for _, size in parts])
        if size.digits > HOLD_DIGITS:
            raise TooLargeToWriteOut(
                f"to_sympy: written out exactly, {describe(node)} holds numbers of more than {HOLD_DIGITS:,} "
                "digits (sympy multiplies exp(1000*log(1000*exp(...))) out to 1000**(10**6) and beyond); "
                "too large for exact algebra: its numbers are still there with backward() or grad()"
            )
        return sympy_form(node._op)(*[expr for expr, _ in parts]), size

    return fold(root, combine, {}, lambda node: () if as_symbol(node) else node.parents)[0]


@dataclass(frozen=True)
class Size:
    """A bound on the exact numbers sympy derives from a formula; sizes combine as their formulas do."""

    digits: float = 0.0  # at most this many digits in an exact number sympy derives from it (a name: none)
    scale: float = 1.0  # the numeric factor it contributes to an exponent (1000 in exp(1000*log(x)))
    logged: float = 0.0  # the digits inside its logs, which exp makes powers of (exp(c*log(u)) = u**c)

    @classmethod
    def of_number(cls, q: Fraction | int) -> Size:
        q = Fraction(q)
        digits = len(str(abs(q.numerator))) + (len(str(q.denominator)) if q.denominator > 1 else 0)
        return cls(float(digits), float(max(abs(q.numerator), q.denominator, 1)))

    def __add__(self, other: Size) -> Size:  # exp(log(u) + log(v)) = u*v
        return Size(self.digits + other.digits, max(self.scale, other.scale), self.logged + other.logged)

    __sub__ = __add__

    def __mul__(self, other: Size) -> Size:
        return Size(self.digits + other.digits, self.scale * other.scale, max(self.logged, other.logged))

    __truediv__ = __mul__

    def __pow__(self, other: Size) -> Size:  # every number of the base to the exponent's size
        return Size(self.digits * other.scale + other.digits, self.scale * other.scale)

    def __neg__(self) -> Size:
        return self

    def of(self, function: str) -> Size:  # exp turns the coefficients of logs into powers
        if function == "exp":
            return Size(self.digits + self.logged * self.scale)
        return Size(self.digits, 1.0, self.digits if function == "log" else 0.0)


def exact_digits(expression: Expression) -> float:
    """At most this many digits in an exact number sympy derives while reading `expression` (may be inf)."""
    functions = {name: methodcaller("of", name) for name in expression.functions}
    return expression.evaluate(dict.fromkeys(expression.names, Size()), functions, number=Size.of_number).digits


def _op_size(op: Op, sizes: list[Size]) -> Size:
    if op.params:  # x ** n: n as sympy gets it (2.5 as 5/2)
        return sizes[0] ** _number_size(number(op.params[0]))
    if op.name == "xlogy":  # a*log(b)
        return sizes[0] * sizes[1].of("log")
    if op.name in _SIZE_OPERATORS:
        return _SIZE_OPERATORS[op.name](*sizes)
    return sizes[0].of(op.name) if op.arity == 1 else sizes[0] * sizes[1]


def _number_size(expr: sympy.Expr) -> Size:  # a Float has no digits to multiply out
    return Size.of_number(Fraction(int(expr.p), int(expr.q))) if expr.is_Rational else Size()


def to_sympy(value: Value, expand: bool = False) -> sympy.Expr:
    """The expression `value` computes, labelled nodes as symbols (``expand``: down to the labelled leaves).

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x"); h = (3 * x).tanh(); h.label = "h"
    >>> out = h * h + 1
    >>> to_sympy(out), to_sympy(out, expand=True)
    (h**2 + 1, tanh(3*x)**2 + 1)
    """
    if not isinstance(value, Value):
        raise TypeError(f"to_sympy: expected a Value, got {type(value).__name__}")
    return convert(value, expand, expand_root=True)


def definitions(output: Value) -> dict[sympy.Symbol, sympy.Expr]:
    """{symbol: its definition down to the labelled leaves} of each labelled op node `output` depends on."""
    nodes = labelled_nodes(output, where="to_sympy")
    return {symbol(label): convert(node, True, True) for label, node in nodes.items() if node._op is not None}


def find_node(output: Value, wrt: Value | str, aliases: Mapping[str, str] | None = None) -> Value:
    """The node `wrt` names in `output`'s graph: a Value, or a name in any spelling (`names.resolve`)."""
    if isinstance(wrt, Value):
        return wrt
    if not isinstance(wrt, str):
        raise TypeError(f"expected a Value or a label for wrt, got {type(wrt).__name__}: {wrt!r}")
    nodes = labelled_nodes(output)
    try:
        return nodes[resolve(wrt, nodes, aliases)]
    except NameLookupError as error:
        raise NameLookupError(f"no node labelled {wrt!r} in this graph: {error}") from None


def diff(
    output: Value, wrt: Value | str, expand: bool = False, simplify: bool = True, budget: Budget | None = None
) -> sympy.Expr:
    """d(output)/d(wrt) by the engine's reverse pass; `wrt` a node or its name, intermediate nodes too.

    >>> from microgrid import Value
    >>> W, x, b = Value(0.5, label="W"), Value(2.0, label="x"), Value(0.1, label="b")
    >>> Z = W * x + b; Z.label = "Z"
    >>> A = Z.sigmoid(); A.label = "A"
    >>> diff(A, Z), diff(A, W)
    (A*(1 - A), A*x*(1 - A))
    """
    if not isinstance(output, Value):
        raise TypeError(f"diff: output must be a Value, got {type(output).__name__}")
    # relu's derivative is a node (step): the formula keeps both branches, and step(0) = 0 as the engine computes.
    (g,) = grad(output, [find_node(output, wrt)], create_graph=True)
    expr = convert(g, expand, expand_root=False)  # (a gradient that is a node of the graph stays its symbol)
    from .simplify import simplify_gradient  # (which reads formulas through this module)

    return simplify_gradient(expr, budget=budget) if simplify else expr
