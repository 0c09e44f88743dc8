"""The engine's ops in sympy, and the symbols that stand for node labels.

Each op's formula, definition and rules are read from its entry in the op
table (`microgrid.engine.OPS`): an op sympy knows (exp, tanh) is sympy's own
function; one it does not (sigmoid) is an opaque sympy function of its own
name, whose derivative is the op's rule text.  A labelled node becomes a
symbol named by its label (`symbol`), printed as the textbook writes it.

    >>> x, w = symbol("x"), symbol("w^(1)_0,0")
    >>> sympy.diff(sigmoid(x), x), w, latex(w)
    ((1 - sigmoid(x))*sigmoid(x), w^(1)_0,0, 'w^{(1)}_{0,0}')
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Mapping

from ._sympy import mpmath, sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from ..engine import OPS, Op, Value, register
from ..ops import BUILT_IN
from ..rules import CALLABLE
from .parsing import typed as typed_number
from .parsing import NAMED_NUMBERS
from .parsing import ENGINE_FUNCTIONS
from ..names import to_identifier, to_latex
from .precise import rational

__all__ = ["SYMPY_FUNCTIONS", "SYMPY_NUMBERS", "sigmoid", "Label", "symbol", "label_of", "number", "constant", "latex",
           "text", "sympy_form", "op_spec", "op_of", "function_of", "declared_ops", "declare_ops"]


# Each op's text in `OPS`, read once: its formula or definition in a, b (and
# n, its param) and its rules in a, b, out.  Dummies, so that a graph's own
# symbols named a, b or out never clash with them.
_A, _B, _OUT = sympy.Dummy("a"), sympy.Dummy("b"), sympy.Dummy("out")
_CODE_PRINTERS = ("_pythoncode", "_numpycode", "_mpmathcode", "_lambdacode", "_cmathcode", "_ccode", "_cxxcode", "_fcode",
                  "_javascript", "_julia", "_octave", "_rcode", "_rust_code", "_scipycode", "_cupycode", "_jaxcode",
                  "_torchcode", "_tensorflowcode")


@lru_cache(maxsize=1024)
def _read(op: Op, text: str, what: str) -> sympy.Expr:
    """`text`, one of `op`'s formulas (``^`` a power), as sympy in the dummies a, b, out."""
    names: dict[str, Any] = {"a": _A, "b": _B, "out": _OUT, "n": number(op.params[0]) if op.params else None}
    # The engine's names (a rule may say sigmoid(a)), each converted when called; an op
    # that is sympy's function of its name (exp: "exp(a)") leaves that name to sympy.
    names.update({o.name: (lambda *args, o=o: sympy_form(o)(*args))
                  for o in OPS.values() if o.name.isidentifier() and o.formula != f"{o.name}(a)"})
    try:
        expr = sympy.sympify(text, locals=names)
    except (sympy.SympifyError, SyntaxError, TypeError, NameError) as error:
        raise ValueError(f"{op.name}: its {what} {text!r} is not a formula sympy can read ({error})") from None
    stray = expr.free_symbols - {_A, _B, _OUT}
    if stray:
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
    return lambda *args: template.xreplace(dict(zip(variables, args)))


def _named_function(op: Op) -> type:
    """`op` as a sympy function of its own name, whose derivative is its rule text.

    Kept opaque on purpose: written out as 1/(1 + exp(-x)), sigmoid makes
    `sympy.simplify` take minutes on a small network (see the notes).  Numbers
    evaluate; ``.rewrite(sympy.exp)``, `evalf` and code printers (so
    `lambdify`) write the definition out.

    >>> x = sympy.Symbol("x")
    >>> sympy.diff(sigmoid(x), x)
    (1 - sigmoid(x))*sigmoid(x)
    """
    variables = (_A, _B)[: op.arity]

    def written_out(args: tuple) -> sympy.Expr:
        return _read(op, op.definition, "definition").xreplace(dict(zip(variables, args)))

    def eval(cls, *args):
        if all(x.is_Number for x in args):  # a formula at a point is a number: exactly so where it is rational
            value = written_out(args)
            if any(x.is_Float for x in args) or value.is_Rational:
                return value
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        rule = _read(op, op.rules[argindex - 1], "rule")
        return rule.xreplace({_A: self.args[0], _B: self.args[-1], _OUT: self})

    def latex(self, printer, exp=None) -> str:
        name = op.latex or rf"\operatorname{{{op.name}}}"
        body = rf"{name}\left({', '.join(printer._print(x) for x in self.args)}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"

    namespace = {"__module__": __name__, "__doc__": f"The engine's {op.name}, opaque in formulas.", "nargs": op.arity,
                 "eval": classmethod(eval), "fdiff": fdiff, "_latex": latex, "_engine_op": op,
                 # Pickled as the op's text, not by the name of a class made here at run time: the
                 # worker process rebuilds it from its own table, or from the text (`applied`).
                 "__reduce_ex__": lambda self, protocol: (applied, (op_spec(op), self.args)),
                 "_eval_rewrite_as_exp": lambda self, *args, **hints: written_out(args),
                 "_eval_evalf": lambda self, prec: written_out(self.args)._eval_evalf(prec)}
    namespace.update(dict.fromkeys(_CODE_PRINTERS, lambda self, printer: printer._print(written_out(self.args))))
    return type(op.name, (sympy.Function,), namespace)


# ------------------------------------------------- ops across processes
def op_spec(op: Op) -> tuple:
    """`op` as plain data that pickles: its fields of text and numbers, never
    its Python functions.  All that sympy needs, in a process that lacks the
    op (the worker, for an op declared after it started).

    >>> dict(op_spec(OPS["sigmoid"]))["definition"]
    '1/(1 + exp(-a))'
    """
    return tuple((slot, getattr(op, slot)) for slot in Op.__slots__ if not callable(getattr(op, slot)))


def op_of(spec: tuple) -> Op:
    """The op `spec` describes: the live table's, if it holds that very op;
    else one made from the text, whose Python functions stay where it was declared."""
    op = OPS.get(dict(spec)["name"])
    return op if op is not None and op_spec(op) == spec else _from_text(spec)


@lru_cache(maxsize=256)
def _from_text(spec: tuple) -> Op:
    fields = dict(spec)
    op = Op.__new__(Op, fields["name"], fields["arity"])  # (the class for its arity; no __init__: no functions)
    for slot in Op.__slots__:
        setattr(op, slot, _elsewhere)
    for slot, value in spec:
        setattr(op, slot, value)
    return op


def _elsewhere(*operands: Any) -> Any:
    raise RuntimeError("this op's Python functions are in the process that declared it, not in this one")


def declared_ops() -> tuple:
    """The ops declared after import (`define_op`), as `op_spec`s: what another process lacks."""
    return tuple(op_spec(op) for name, op in list(OPS.items()) if name not in BUILT_IN)


def declare_ops(specs: tuple) -> None:
    """Make this process's op table hold the built-ins and exactly the ops of
    `specs` (`declared_ops` of another process), as text: in the worker, whose
    Python never runs them.  Registered directly: `define_op` would add Value
    methods too, and compile rules that may name ops not yet registered."""
    wanted = {dict(spec)["name"]: spec for spec in specs}
    for name in [n for n in OPS if n not in BUILT_IN and n not in wanted]:
        del OPS[name]
        CALLABLE.pop(name, None)
    for spec in wanted.values():
        register(op_of(spec))


def function_of(spec: tuple) -> Callable[..., sympy.Expr]:
    """The sympy form (`sympy_form`) of the op `spec` describes."""
    return sympy_form(op_of(spec))


def applied(spec: tuple, args: tuple) -> sympy.Expr:
    """The op `spec` describes, applied to `args` as it was (not evaluated again): how such a formula unpickles.

    >>> import pickle
    >>> x = sympy.Symbol("x")
    >>> pickle.loads(pickle.dumps(sigmoid(x) + 1)) == sigmoid(x) + 1
    True
    """
    return function_of(spec)(*args, evaluate=False)


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
_relu = sympy_form(OPS["relu"])


# ----------------------------------------------------------------- symbols
class Label(sympy.Symbol):
    """A node label that is not a Python name (``w^(1)_0,0``), as a symbol.

    It is named by the label's identifier spelling (``w1_0_0``), so that
    code printers (`sympy.pycode`, `ccode`, `lambdify`) write a valid name,
    and it prints as the label: ``w^(1)_0,0`` in text, ``w^{(1)}_{0,0}`` in
    LaTeX.  Made by `symbol`, which gives labels that are names a plain Symbol.

    >>> w = symbol("w^(1)_0,0")
    >>> w, sympy.pycode(2*w), sympy.latex(w), w == symbol("w^(1)_0,0")
    (w^(1)_0,0, '2*w1_0_0', 'w^{(1)}_{0,0}', True)
    """

    __slots__ = ("label",)

    def __new__(cls, label: str) -> "Label":
        obj = sympy.Symbol.__xnew__(cls, to_identifier(label))
        obj.label = label
        return obj

    def _hashable_content(self) -> tuple:
        return super()._hashable_content() + (self.label,)

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
    """The symbol for a node label: a plain Symbol when the label is a Python
    name (``A_prev``: a claim's ``Symbol("A_prev")`` is the same), else a
    `Label` named by its identifier.  No assumptions: claims typed by hand match it."""
    return sympy.Symbol(label) if to_identifier(label) == label else Label(label)


# sympy orders the terms of a sum or product by class name (`Basic.compare`):
# a label sorts where the plain Symbol it stands for would, a(1 - a) not (1 - a)a.
Label.__name__ = "Symbol"


def label_of(s: sympy.Symbol) -> str:
    """The node label a symbol stands for: ``label_of(symbol(x)) == x``."""
    return s.label if isinstance(s, Label) else s.name


@lru_cache(maxsize=4096)
def number(x: float) -> sympy.Expr:
    """An exact sympy number for a float constant: 2.0 -> 2, 0.5 -> 1/2, 0.1 -> 1/10, 1e23 -> 10**23.

    Floats leak into results otherwise (``0.5*x`` where the seed writes x/2).
    A float means the shortest decimal that rounds to it, as the parser reads
    a number typed (1e23 is 10**23, not the float's 99999999999999991611392);
    a fraction it is nearest to (1/3) where sympy finds one.  A float with no
    short exact form stays a Float.
    """
    x = float(x)
    shown = repr(x)
    if x.is_integer():
        # Past 2**53 integers share floats: the one meant is the shortest decimal.
        return sympy.Integer(int(x)) if abs(x) < 2**53 else _rational(Fraction(shown))
    guess = sympy.nsimplify(x, rational=False)
    if guess.is_Rational and float(guess) == x:
        return guess
    mantissa = shown.replace("-", "").partition("e")[0].replace(".", "").strip("0")
    if len(mantissa) <= 8 and 1e-300 <= abs(x) <= 1e300:
        return _rational(Fraction(shown))  # a short decimal, exactly as typed: 123.456 -> 15432/125, 1e-30
    return sympy.Float(x)


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


def constant(leaf: Value) -> sympy.Expr:
    """The exact number an unlabelled leaf stands for: what a program typed
    (`microgrid.symbolic.parsing`: 10**23, 2**60, E), else its float's `number`."""
    typed = typed_number(leaf)
    if typed is None:
        return number(leaf.data)
    return SYMPY_NUMBERS[typed] if isinstance(typed, str) else _rational(typed)


# ------------------------------------------------------------------ LaTeX
#: Exact numbers of more digits are shown rounded: a claim such as
#: ``exp(1000*log(1000*x))`` holds 1000**1000, and Python refuses to print an
#: integer past 4,300 digits.
SHOWN_DIGITS = 60


def shown(expr: Any) -> Any:
    """`expr` for display: every exact number beyond `SHOWN_DIGITS` digits as a 15-digit float.

    >>> shown(sympy.Integer(7) ** 100 * symbol("x"))
    3.23447650962476e+84*x
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    limit = 10**SHOWN_DIGITS

    def huge(e: sympy.Basic) -> bool:
        return e.is_Rational and (abs(e.p) >= limit or e.q >= limit) and _as_typed(e) is None

    # Through mpmath's binary numbers: sympy's Float(Integer) goes through str(), which refuses them.
    return expr.replace(huge, lambda e: sympy.Float(rational(mpmath.mp, e.p, e.q), 15))


def _as_typed(q: sympy.Rational) -> tuple[str, int] | None:
    """(mantissa, exponent) of a number a float's repr writes exactly with an exponent
    (``1e23``, ``2.5e-30``): such a number was typed so.  None for any other number."""
    if q == 0 or max(abs(q.p), q.q) > 10**310:
        return None
    shown = repr(float(abs(q)))
    if "e" not in shown or Fraction(shown) != Fraction(abs(int(q.p)), int(q.q)):
        return None
    mantissa, exponent = shown.split("e")
    return mantissa.removesuffix(".0"), int(exponent)


class _Typed:
    """A printer's numbers as typed: ``1e23`` where sympy writes 23 zeros (see `_as_typed`)."""

    def typed(self, mantissa: str, exponent: int) -> str:
        raise NotImplementedError

    def _print_Rational(self, expr: sympy.Rational) -> str:  # noqa: N802 (sympy's name), Integer's too
        found = _as_typed(expr)
        if found is None:
            return super()._print_Rational(expr)
        return ("-" if expr < 0 else "") + self.typed(*found)

    def _print_Mul(self, expr: sympy.Mul) -> str:  # noqa: N802: 1e-30*x, where sympy writes x/10**30
        coefficient, rest = expr.as_coeff_Mul()
        found = _as_typed(coefficient) if coefficient.is_Rational and not coefficient.is_Integer else None
        if found is None or rest == 1:
            return super()._print_Mul(expr)
        sign = "-" if coefficient < 0 else ""
        return f"{sign}{self.typed(*found)}{self.times}{self.parenthesize(rest, precedence(expr))}"


class _TextPrinter(_Typed, StrPrinter):
    times = "*"
    _print_Integer = _Typed._print_Rational

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"{mantissa}e{exponent}"


class _LatexPrinter(_Typed, LatexPrinter):
    times = " "

    def typed(self, mantissa: str, exponent: int) -> str:
        return f"10^{{{exponent}}}" if mantissa == "1" else rf"{mantissa} \cdot 10^{{{exponent}}}"


def text(expr: Any, **settings: Any) -> str:
    """An expression as plain text (sympy's `sstr`, with its `settings`), long
    exact numbers rounded, numbers typed with an exponent written so.

    >>> text(sympy.Integer(10) ** 23 * symbol("x"))
    '1e23*x'
    """
    return _TextPrinter(settings).doprint(shown(expr))


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX for an expression (or Matrix) whose symbols are node labels.

    >>> latex(symbol("w^(2)_1,0") * symbol("A_prev")), latex(sympy.Integer(10) ** 23)
    ('A_{prev} w^{(2)}_{1,0}', '10^{23}')
    """
    expr = sympy.sympify(expr) if isinstance(expr, (int, float)) else shown(expr)
    names = {s: to_latex(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol) and not isinstance(s, Label)}
    return _LatexPrinter({"symbol_names": names, "ln_notation": True, **settings}).doprint(expr)
