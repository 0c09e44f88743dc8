"""Gradients as formulas: the engine's reverse pass, read back as sympy expressions.

`to_sympy(value)` turns the graph a Value was computed by into a sympy
expression.  Every *labelled* node becomes a `sympy.Symbol` named by its
label, so an expression reads like the textbook: the output of
``A = sigmoid(Z)`` stays ``A``.

`diff(output, wrt)` runs the engine's own reverse pass with
``grad(..., create_graph=True)``: that builds the derivative as a new graph of
Values, whose local derivatives reuse the forward nodes (the sigmoid's
``A(1 - A)`` is made of the node A itself).  Converted with `to_sympy`, the
result is already written in the intermediate symbols, and a cheap
``factor(cancel(...))`` finishes the job: no exponentials to untangle.

`check(claim, output, wrt)` compares a formula derived by hand (a string
typed with the labels as names, parsed by the project's safe parser, or a
sympy expression) with the engine's derivative and returns a `Verdict`:
correct (proved: the difference simplifies to 0), incorrect (with a
counterexample), or unproven (equal at every sampled point, not proved),
and the simplified difference.

    >>> from microgrid import Value
    >>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
    >>> A = Z.sigmoid(); A.label = "A"
    >>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
    >>> diff(L, Z)
    A - y
    >>> check("A - y", L, Z).correct
    True

sympy is imported here, and this module is imported only on demand, so
``import microgrid`` stays fast.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cmp_to_key, lru_cache, reduce
from typing import Any, Callable, Mapping

import sympy

from . import precise
from .budget import Budget, BudgetExceeded
from ..engine import OPS, Op, Value, grad, topological_order
from .expression import ENGINE_FUNCTIONS, ExpressionError, parse, power_terms
from .labels import NameLookupError, resolve, to_identifier, to_latex

__all__ = [
    "to_sympy",
    "diff",
    "check",
    "Verdict",
    "Counterexample",
    "sigmoid",
    "tidy",
    "simplify_gradient",
    "algebra_is_cheap",
    "latex",
    "symbol",
    "Label",
    "label_of",
    "definitions",
    "find_node",
    "evaluate",
    "Budget",
    "BudgetExceeded",
]

Claim = Any  # a str, a sympy expression, or a number


# ------------------------------------------------ the engine's ops in sympy
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
    names.update({o.name: (lambda *args, o=o: _sympy_form(o)(*args))
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
def _sympy_form(op: Op) -> Callable[..., sympy.Expr]:
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
                 "eval": classmethod(eval), "fdiff": fdiff, "_latex": latex,
                 "_eval_rewrite_as_exp": lambda self, *args, **hints: written_out(args),
                 "_eval_evalf": lambda self, prec: written_out(self.args)._eval_evalf(prec)}
    namespace.update(dict.fromkeys(_CODE_PRINTERS, lambda self, printer: printer._print(written_out(self.args))))
    return type(op.name, (sympy.Function,), namespace)


class _SympyFunctions(Mapping):
    """sympy's counterpart of each engine function, as registered now: for conversion and for claims."""

    def __getitem__(self, name: str) -> Callable:
        if name not in ENGINE_FUNCTIONS:
            raise KeyError(name)
        return _sympy_form(OPS[name])

    def __iter__(self):
        return iter(ENGINE_FUNCTIONS)

    def __len__(self) -> int:
        return len(ENGINE_FUNCTIONS)


SYMPY_FUNCTIONS: Mapping[str, Callable] = _SympyFunctions()
sigmoid = _sympy_form(OPS["sigmoid"])  # prints as sigmoid(x), in LaTeX as sigma(x)
_relu = _sympy_form(OPS["relu"])


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
    """An exact sympy number for a float constant: 2.0 -> 2, 0.5 -> 1/2, 0.1 -> 1/10.

    Floats leak into results otherwise (``0.5*x`` where the seed writes x/2).
    A float with no short exact fraction stays a Float.
    """
    if float(x).is_integer():
        return sympy.Integer(int(x))
    guess = sympy.nsimplify(x, rational=False)
    if guess.is_Rational and float(guess) == x:
        return guess
    shown = repr(float(x))
    if "e" not in shown and len(shown.replace("-", "").replace(".", "").strip("0")) <= 8:
        return sympy.Rational(shown)  # a short decimal, exactly as typed: 123.456 -> 15432/125
    return sympy.Float(x)


# ------------------------------------------------------------- conversion
def _convert(
    root: Value,
    expand: bool,
    expand_root: bool,
    overrides: Mapping[Value, tuple[tuple[Value, ...], Callable]] | None = None,
    seen_labels: dict[str, Value] | None = None,
) -> sympy.Expr:
    """The sympy form of `root`; iterative, so deep graphs are fine.

    A labelled node is its Symbol, unless `expand` (then labelled leaves only)
    or it is the root and `expand_root`.  `overrides` replaces a node's rule:
    node -> (the nodes it is computed from, function of their expressions).
    """
    overrides = overrides or {}
    seen = {} if seen_labels is None else seen_labels
    memo: dict[Value, sympy.Expr] = {}

    def as_symbol(node: Value) -> bool:
        if not node.label or (node is root and expand_root):
            return False
        return not expand or (node._op is None and node not in overrides)

    def sources(node: Value) -> tuple[Value, ...]:
        return overrides[node][0] if node in overrides else node.parents

    stack = [root]
    while stack:
        node = stack[-1]
        if node in memo:
            stack.pop()
            continue
        if as_symbol(node):
            other = seen.setdefault(node.label, node)
            if other is not node:
                raise ValueError(
                    f"to_sympy: two different nodes are labelled {node.label!r}; "
                    "give them distinct labels so that each becomes its own symbol"
                )
            memo[node] = symbol(node.label)
            stack.pop()
            continue
        pending = [p for p in sources(node) if p not in memo]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        args = [memo[p] for p in sources(node)]
        if node in overrides:
            memo[node] = overrides[node][1](*args)
        elif node._op is None:
            memo[node] = number(node.data)
        else:
            memo[node] = _sympy_form(node._op)(*args)
    return memo[root]


def to_sympy(value: Value, expand: bool = False) -> sympy.Expr:
    """The expression `value` computes, with labelled nodes as Symbols.

    With ``expand=True`` labelled intermediate nodes are replaced by their
    definitions, down to the labelled leaves.  Unlabelled leaves are numbers.

    >>> from microgrid import Value
    >>> x = Value(2.0, label="x"); h = (3 * x).tanh(); h.label = "h"
    >>> out = h * h + 1
    >>> to_sympy(out), to_sympy(out, expand=True)
    (h**2 + 1, tanh(3*x)**2 + 1)
    """
    if not isinstance(value, Value):
        raise TypeError(f"to_sympy: expected a Value, got {type(value).__name__}")
    return _convert(value, expand, expand_root=True)


def definitions(output: Value) -> dict[sympy.Symbol, sympy.Expr]:
    """{Symbol: its definition down to the labelled leaves} for each labelled
    intermediate node `output` depends on (`output` itself included)."""
    seen: dict[str, Value] = {}
    result = {}
    for node in topological_order(output):
        if node.label:
            other = seen.setdefault(node.label, node)
            if other is not node:
                raise ValueError(f"to_sympy: two different nodes are labelled {node.label!r}; give them distinct labels")
            if node._op is not None:
                result[symbol(node.label)] = _convert(node, True, True)
    return result


def find_node(output: Value, wrt: Value | str, aliases: Mapping[str, str] | None = None) -> Value:
    """The node `wrt` names in `output`'s graph: a Value, or a name in any
    spelling (`microgrid.symbolic.labels.resolve`: the label, its identifier, its
    textbook spelling typed with braces or δ, then `aliases`)."""
    if isinstance(wrt, Value):
        return wrt
    if not isinstance(wrt, str):
        raise TypeError(f"expected a Value or a label for wrt, got {type(wrt).__name__}: {wrt!r}")
    nodes: dict[str, list[Value]] = {}
    for n in topological_order(output):
        if n.label:
            nodes.setdefault(n.label, []).append(n)
    try:
        label = resolve(wrt, nodes, aliases)
    except NameLookupError as error:
        raise NameLookupError(f"no node labelled {wrt!r} in this graph: {error}") from None
    if len(nodes[label]) > 1:
        raise ValueError(f"{len(nodes[label])} different nodes are labelled {label!r}; give them distinct labels")
    return nodes[label][0]


# ------------------------------------------------------------ simplifying
def _negatives(total: sympy.Expr) -> int:
    return sum(1 for t in total.args if t.could_extract_minus_sign())


def _reads_better_negated(total: sympy.Expr) -> str | None:
    """"fewer" if ``-total`` has fewer minus signs, "leading" if it only does
    not start with one (``-A + y`` -> ``A - y``), None if either reads well
    (``1 - A``, ``A - 1``); "" if it should stay."""
    minus, plus = _negatives(total), len(total.args) - _negatives(total)
    if minus != plus:
        return "fewer" if minus > plus else ""
    if sympy.sstr(total).startswith("-"):  # as the reader will see it
        return "leading"
    return None


def _negate(total: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*[-t for t in total.args])  # term by term: products stay products


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Signs moved where a reader expects them: ``-A*(A - 1)`` -> ``A*(1 - A)``,
    ``2*A*(y - A)*(A - 1)`` -> ``2*A*(A - y)*(1 - A)``.  The value is unchanged.

    Top down: in a product, each sum raised to an odd power is negated when
    that removes minus signs (the sign goes to the product), a numeric common
    factor comes out of it (``2*y - 2*A`` -> ``2*(y - A)``), and the overall
    sign is absorbed by a sum that reads well either way.  Then inward.
    """
    if isinstance(expr, sympy.Add):
        return sympy.Add(*_canonical([tidy(t) for t in expr.args]), evaluate=False)
    if not isinstance(expr, sympy.Mul):
        return expr
    coeff, factors = expr.as_coeff_mul()
    negative = bool(coeff < 0)
    coeff = abs(coeff)
    new, either_way, cosmetic = [], [], []
    for f in factors:
        base, exponent = f.as_base_exp()
        if isinstance(base, sympy.Add) and exponent.is_Integer:
            content, base = base.primitive()
            coeff *= content**exponent
            if exponent % 2 == 1:
                verdict = _reads_better_negated(base)
                if verdict:
                    base, negative = _negate(base), not negative
                    if verdict == "leading":
                        cosmetic.append(len(new))
                elif verdict is None:
                    either_way.append(len(new))
            new.append([base, exponent])
        else:
            new.append([f, None])
    if negative and (either_way or cosmetic):  # absorb the sign: -(A - 1) -> (1 - A)
        readable = [i for i in either_way if not sympy.sstr(_negate(new[i][0])).startswith("-")]
        # Prefer the factor that then starts with its number: (1 - y)/(1 - A) over (y - 1)/(A - 1).
        readable.sort(key=lambda i: not _negate(new[i][0]).as_coeff_Add()[0].is_positive)
        i = (readable or either_way or cosmetic)[0]
        new[i][0], negative = _negate(new[i][0]), False
    parts = [tidy(b) if e is None or e == 1 else tidy(b) ** e for b, e in new]
    if negative or coeff != 1:
        parts.insert(0, -coeff if negative else coeff)
    return sympy.Mul(*_canonical(parts), evaluate=False) if len(parts) > 1 else parts[0]


def _canonical(args: list) -> list:
    """`args` in the order sympy itself keeps them (``Basic.compare``), so that
    an unevaluated sum or product equals the same formula typed by hand."""
    return sorted(args, key=cmp_to_key(sympy.Basic.compare))


def _size(expr: sympy.Expr) -> int:
    return int(sympy.count_ops(expr))


#: Above these sizes `factor(cancel(...))` is skipped: on a 2-16-16-1 network's
#: first-layer weight (83 operations, 50 symbols) it takes about 8 s, for nothing.
FACTOR_MAX_SYMBOLS = 24
FACTOR_MAX_OPS = 300
#: ... and beyond these, a short formula can keep it busy for minutes: a
#: coefficient of 1000 digits (18 s for ``10**1000*A - A + y``), a high degree
#: (``A**999 + y**999`` runs for minutes), or many terms once multiplied out
#: (``(A + y + W + b)**30``: 5456).
ALGEBRA_MAX_DIGITS = 40
ALGEBRA_MAX_DEGREE = 64
ALGEBRA_MAX_TERMS = 1000


def algebra_is_cheap(expr: sympy.Expr) -> bool:
    """May `cancel` and `factor` be tried on `expr`?  No for huge coefficients,
    high powers, or a formula that multiplies out to many terms (see
    `ALGEBRA_MAX_TERMS`).  Iterative: a deep formula is fine.

    >>> A, y = sympy.symbols("A y")
    >>> algebra_is_cheap((A - y)**2), algebra_is_cheap((A + y)**200), algebra_is_cheap(10**50 * A)
    (True, False, False)
    """
    limit = 10**ALGEBRA_MAX_DIGITS
    terms: dict[sympy.Basic, int] = {}
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in terms:
            continue
        if not ready:
            if node.is_Rational and (abs(node.p) >= limit or node.q >= limit):
                return False
            if node.is_Pow and node.exp.is_Integer and abs(node.exp) > ALGEBRA_MAX_DEGREE:
                return False
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args)
            continue
        if node.is_Add:
            count = sum(terms[a] for a in node.args)
        elif node.is_Mul:
            count = math.prod(terms[a] for a in node.args)
        elif node.is_Pow and node.exp.is_Integer:
            count = power_terms(terms[node.base], int(node.exp))
        else:  # a symbol, a number, a function of anything: one term (a generator, to sympy)
            count = 1
        if count > ALGEBRA_MAX_TERMS:
            return False
        terms[node] = count
    return True


def _only_combines_fractions(expr: sympy.Expr, combined: sympy.Expr) -> bool:
    """Is `expr` a sum of fractions that `combined` merely puts over their
    common denominator (nothing cancels)?  Then the sum reads better, as the
    seed writes it: ``-y/A + (1 - y)/(1 - A)``, not ``(A - y)/(A*(1 - A))``."""
    if not isinstance(expr, sympy.Add):
        return False
    denominators = [sympy.denom(t) for t in expr.args]
    if all(d == 1 for d in denominators):
        return False
    try:
        common = reduce(sympy.lcm, denominators)
        return bool(sympy.cancel(sympy.denom(combined) / common).is_Number)
    except (sympy.PolynomialError, NotImplementedError):
        return False


#: The time `simplify_gradient` and `diff` give the algebra when no budget is given.
SIMPLIFY_SECONDS = 4.0


def simplify_gradient(expr: sympy.Expr, fallback_ops: int = 40, budget: Budget | None = None) -> sympy.Expr:
    """A readable form of `expr`, signs tidied (`tidy`); the rule:

    1. a sum of fractions that ``factor(cancel(...))`` would only put over one
       denominator stays the sum (the seed's ``-y/A + (1 - y)/(1 - A)``);
    2. otherwise the form with the fewest operations (`sympy.count_ops`) of:
       `expr` as built, ``factor(cancel(expr))`` and, only for small
       expressions without exponentials, `sympy.simplify`; ties go to the
       engine's own form, then to ``factor(cancel(...))``.

    `sympy.simplify` is a guarded fallback: on the written-out exponential
    form it can take minutes (see the notes), so it is never tried on that.
    Large or expensive expressions (see `FACTOR_MAX_SYMBOLS`,
    `algebra_is_cheap`) are only tidied.  Whatever the size, the algebra
    runs within `budget` (by default `SIMPLIFY_SECONDS`); past it, `expr`
    is returned as it is (`simplify_within` also says why).

    >>> A, y = sympy.symbols("A y")
    >>> simplify_gradient(A * (1 - A) * (-y / A + (1 - y) / (1 - A)))
    A - y
    >>> simplify_gradient(-y / A + (1 - y) / (1 - A))  # sympy prints a sum in its own order
    (1 - y)/(1 - A) - y/A
    """
    return simplify_within(expr, budget or Budget(SIMPLIFY_SECONDS), fallback_ops=fallback_ops)[0]


def simplify_within(
    expr: sympy.Expr, budget: Budget, share: float = 1.0, fallback_ops: int = 40, what: str = "simplifying"
) -> tuple[sympy.Expr, str | None]:
    """(`simplify_gradient` of `expr`, None), the algebra given at most `share`
    of the time left in `budget`; (`expr` unchanged, the reason) when it
    does not finish in that time.

    >>> s = sympy.symbols("a:7")
    >>> slow = sum(s[:6]) ** 6 - s[6]  # factor() takes minutes
    >>> simplify_within(slow, Budget(seconds=0.2))[1]
    'simplifying did not finish within the time budget (0.2 s)'
    """
    try:
        return budget.run(_simplest, expr, fallback_ops, seconds=share * budget.remaining(), what=what), None
    except BudgetExceeded as stopped:
        return expr, str(stopped)
    except ArithmeticError as error:  # inside sympy, on numbers the parser let through
        return expr, f"{what} failed: {error}"


def _simplest(expr: sympy.Expr, fallback_ops: int) -> sympy.Expr:
    candidates = [expr]
    cheap = algebra_is_cheap(expr)
    if cheap and len(expr.free_symbols) <= FACTOR_MAX_SYMBOLS and _size(expr) <= FACTOR_MAX_OPS:
        try:
            combined = sympy.factor(sympy.cancel(expr))
        except (sympy.PolynomialError, NotImplementedError):  # e.g. Max/Heaviside generators
            combined = None
        if combined is not None:
            if _only_combines_fractions(expr, combined):
                return tidy(expr)
            candidates.append(combined)
    best = min(candidates, key=_size)
    if cheap and 6 < _size(best) <= fallback_ops and not best.has(sympy.exp, sympy.tanh):
        candidates.append(sympy.simplify(best))
    return min((tidy(c) for c in candidates), key=_size)


# ---------------------------------------------------------------- diff()
def _without_relu_steps(output: Value) -> tuple[Value, dict, dict]:
    """A copy of the graph in which ``relu(x)`` is ``x * s``, s a leaf holding the step.

    The engine's relu derivative is a plain number (1 or 0 at the current
    point), which would bake the current branch into a formula.  In the copy
    the step is a leaf s, so the reverse pass keeps it as a factor, and
    `to_sympy` writes it as Heaviside(x) (and the product as Max(0, x)).
    Nodes that do not depend on a relu are shared, not copied.
    Returns (new output, {old node: new node}, overrides for `_convert`).
    """
    mapping: dict[Value, Value] = {}
    overrides: dict[Value, tuple] = {}
    for node in topological_order(output):
        if node._op is None:
            continue
        parents = tuple(mapping.get(p, p) for p in node.parents)
        if node._op.name == "relu":
            (x,) = parents
            step = Value(1.0 if x.data > 0.0 else 0.0)
            new = x * step
            new.label = node.label
            overrides[step] = ((x,), sympy.Heaviside)
            overrides[new] = ((x,), _relu)
            mapping[node] = new
        elif parents != node.parents:
            new = _apply(node, parents)
            new.label = node.label
            mapping[node] = new
    return mapping.get(output, output), mapping, overrides


def _apply(node: Value, operands: tuple[Value, ...]) -> Value:
    """`node`'s operation applied to other operands."""
    return node._op(*operands)


def _gradient_expression(output: Value, wrt: Value, expand: bool) -> sympy.Expr:
    overrides: dict = {}
    if any(n._op is not None and n._op.name == "relu" for n in topological_order(output)):
        output, mapping, overrides = _without_relu_steps(output)
        wrt = mapping.get(wrt, wrt)
    (g,) = grad(output, [wrt], create_graph=True)
    # The gradient may be an existing node (d(x*y)/dx is y): a reference, kept as its symbol.
    return _convert(g, expand, expand_root=False, overrides=overrides)


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


# ------------------------------------------------------------------ LaTeX
def latex(expr: Any, **settings: Any) -> str:
    """LaTeX for an expression (or Matrix) whose symbols are node labels.

    >>> latex(symbol("w^(2)_1,0") * symbol("A_prev"))
    'A_{prev} w^{(2)}_{1,0}'
    """
    expr = sympy.sympify(expr) if isinstance(expr, (int, float)) else expr
    names = {s: to_latex(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol) and not isinstance(s, Label)}
    return sympy.latex(expr, symbol_names=names, ln_notation=True, **settings)


# ---------------------------------------------------------------- check()
@dataclass
class Counterexample:
    """A point where the claim and the engine disagree (or, for a claim proved
    wrong, the graph's own point); `gap` is claim - true to 25 digits."""

    point: dict[str, float]  # the labelled leaves (and the intermediates the formulas use)
    claimed: complex | float | None
    true: float
    gap: complex | float | None = None

    def __str__(self) -> str:
        at = ", ".join(f"{k} = {_short(v)}" for k, v in self.point.items())
        text = f"at {at}: claimed {_short(self.claimed)}, true {_short(self.true)}"
        if self.gap is not None and _short(self.claimed) == _short(self.true):  # they look equal
            text += f" (claim - true = {_short(self.gap)})"
        return text

    def latex(self) -> str:
        """The same in math mode: labels as `microgrid.symbolic.labels.to_latex` spells them, numbers as 1.3 \\cdot 10^{-5}."""
        at = r",\ ".join(f"{to_latex(k)} = {_latex_number(v)}" for k, v in self.point.items())
        text = rf"{at}:\quad \text{{claimed }} {_latex_number(self.claimed)},\ \text{{true }} {_latex_number(self.true)}"
        if self.gap is not None and _short(self.claimed) == _short(self.true):
            text += rf"\ (\text{{claim - true}} = {_latex_number(self.gap)})"
        return text


def _short(x: Any) -> str:
    if isinstance(x, float) and math.isinf(x):
        return f"{x:+g} (beyond the floats)"
    if x is None:
        return "undefined"
    shown = f"{x:.6g}"
    if isinstance(x, float) and float(shown) != x and float(shown).is_integer():
        return repr(x)  # 0.99999999995, not 1: a point where 1 - A is 0 would be undefined
    return shown


def _latex_number(x: Any) -> str:
    if x is None:
        return r"\text{undefined}"
    if isinstance(x, complex):
        return sympy.latex(sympy.Float(x.real, 6) + sympy.Float(x.imag, 6) * sympy.I)
    return sympy.latex(sympy.Float(x, 6))


@dataclass
class Verdict:
    """What `check` found: one of three outcomes, `status`.

    * ``"correct"`` (`correct` is True): proved.  The claim minus the
      engine's derivative simplifies to 0, as written or once the labelled
      intermediates are replaced by their definitions (sigmoid and tanh
      written with exp).  `method` is "symbolic", `difference` is 0.
    * ``"incorrect"`` (`correct` is False): a `counterexample`, a point where
      the two, evaluated to 25 digits, differ by more than 1e-13 relative; or
      a proof that the difference is not 0 (a nonzero number, or a nonzero
      rational function of the graph's leaves).  `difference` is claim minus
      engine in the graph's labels.
    * ``"unproven"`` (`correct` is None): equal at every one of
      `points_checked` points, near the graph's values and far from them,
      but the difference, shown with the definitions substituted, was not
      simplified to 0.  Numeric agreement is evidence, never a proof.

    ``bool(verdict)`` is True only for a proved claim.  On the command line
    the exit status is 0, 1 and 3 respectively (2: the claim is malformed).

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x"); y = x.relu() * x; y.label = "y"
    >>> check("2*relu(x)", y, x).status, check("x", y, x).status
    ('unproven', 'incorrect')
    """

    correct: bool | None
    claim: sympy.Expr
    expected: sympy.Expr  # the engine's derivative, intermediates kept
    difference: sympy.Expr  # claim - expected, simplified
    of: str
    wrt: str
    counterexample: Counterexample | None = None
    method: str = "symbolic"  # or "numeric": decided by (or, unproven, only supported by) sampled points
    points_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """"correct", "incorrect" or "unproven"."""
        return {True: "correct", False: "incorrect", None: "unproven"}[self.correct]

    def __bool__(self) -> bool:
        return self.correct is True

    def __str__(self) -> str:
        lhs = f"d{self.of}/d{self.wrt}"
        lines = []
        if self.correct:
            lines.append(f"correct: {lhs} = {sympy.sstr(self.claim)}  (the difference simplifies to 0)")
        elif self.correct is None:
            lines.append(
                f"unproven: {lhs} = {sympy.sstr(self.claim)} agrees with the engine at {self.points_checked} points, "
                "but the difference did not simplify to 0"
            )
            lines.append(f"  engine:  {lhs} = {sympy.sstr(self.expected)}")
            lines.append(f"  claim - engine, definitions substituted = {sympy.sstr(self.difference)}")
        else:
            lines.append(f"incorrect: the claim {lhs} = {sympy.sstr(self.claim)}")
            lines.append(f"  engine:  {lhs} = {sympy.sstr(self.expected)}")
            lines.append(f"  claim - engine = {sympy.sstr(self.difference)}")
            if self.counterexample is not None:
                lines.append(f"  counterexample {self.counterexample}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        """What a notebook shows: the status in words, formulas broken to fit the column."""
        from ._derivation_display import verdict_markdown

        return verdict_markdown(self)

    def _repr_latex_(self) -> str:
        lhs = rf"\frac{{\partial {to_latex(self.of)}}}{{\partial {to_latex(self.wrt)}}}"
        if self.correct:
            return rf"$\text{{correct: }} {lhs} = {latex(self.claim)}$"
        if self.correct is None:
            title = rf"\text{{unproven: equal at {self.points_checked} points, not proved}}"
        else:
            title = r"\text{incorrect}"
        body = [
            rf"\text{{claimed: }} & {lhs} = {latex(self.claim)}",
            rf"\text{{engine: }} & {lhs} = {latex(self.expected)}",
            rf"\text{{claim - engine: }} & {latex(self.difference)}",
        ]
        if self.counterexample is not None:
            body.append(rf"\text{{counterexample: }} & {self.counterexample.latex()}")
        return r"$\begin{aligned}" + title + r"\\" + r"\\".join(body) + r"\end{aligned}$"


def claim_names(output: Value) -> dict[str, sympy.Symbol]:
    """The names a claim may use: each label, and its identifier spelling."""
    names: dict[str, sympy.Symbol] = {}
    for node in topological_order(output):
        if node.label:
            names[node.label] = symbol(node.label)
            names[to_identifier(node.label)] = symbol(node.label)
    return names


def _rational(q: Fraction) -> sympy.Rational:
    return sympy.Rational(q.numerator, q.denominator)


_UNDEFINED = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def parse_claim(claim: Claim, names: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    """A claim as a sympy expression over the graph's symbols; never `eval`s text.

    A string is parsed by `microgrid.symbolic.expression.parse` (numbers, names,
    ``+ - * / **``, the engine's functions, within its size limits) and
    evaluated with sympy objects; its numbers stay exact (``1/3`` is one
    third).  A number is read as the same text.  A claim that is undefined
    (``A/(y - y)``, ``log(0)``) raises `ExpressionError`.

    >>> parse_claim("A/3 + 0.5", {"A": symbol("A")})
    A/3 + 1/2
    """
    if isinstance(claim, bool):
        raise TypeError("check: a claim must be a formula, not a bool")
    if isinstance(claim, (int, float)):
        if isinstance(claim, float) and not math.isfinite(claim):
            raise ExpressionError(f"check: the claim {claim!r} is not a finite number")
        claim = repr(claim)  # one path for numbers: the parser's limits and exact constants
    if isinstance(claim, str):
        expression = parse(claim)
        unknown = sorted(expression.names - set(names))
        if unknown:
            known = ", ".join(sorted(n for n in names if n.isidentifier()))
            raise ExpressionError(f"check: unknown name {', '.join(unknown)} in {claim!r}; names in this graph: {known}")
        result = sympy.sympify(expression.evaluate(names, SYMPY_FUNCTIONS, number=_rational))
    elif isinstance(claim, sympy.Basic):
        replace = {}
        for s in claim.free_symbols:
            if s.name not in names:
                known = ", ".join(sorted(n for n in names if n.isidentifier()))
                raise ValueError(f"check: unknown symbol {s.name} in the claim; names in this graph: {known}")
            replace[s] = names[s.name]
        result = claim.xreplace(replace)
    else:
        raise TypeError(f"check: a claim must be a str or a sympy expression, got {type(claim).__name__}")
    if result.has(*_UNDEFINED):
        raise ExpressionError(f"check: the claim {str(claim)[:60]!r} is undefined (it divides by zero or is infinite)")
    return result


#: The working precision `evaluate` may use when no budget is given, in decimal digits.
EVALUATE_DIGITS = 1000


def evaluate(
    expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None = None
) -> complex | float | None:
    """The number `expr` takes at `point`, accurate to 25 digits, as a float (or
    complex); None where it is undefined (log 0, 1/0), beyond the floats, or
    not found within the budget's working precision (`EVALUATE_DIGITS` by default).

    The point's floats go in exactly and the precision is raised as the
    formula needs (`microgrid.symbolic.precise`): far from 0, ``1 - sigmoid(100)``
    needs some 70 digits, and at a fixed 30 it would be 0.

    >>> z = symbol("z")
    >>> evaluate(1 - sigmoid(z), {z: 100.0}), evaluate(sympy.log(z), {z: 0.0})
    (3.720075976020836e-44, None)
    """
    try:
        z = _value(expr, point, budget)
    except precise.Unevaluable:
        return None
    if z is None or not (math.isfinite(z.real) and math.isfinite(z.imag)):
        return None
    return z.real if isinstance(z, complex) and z.imag == 0 else z


def _value(expr: sympy.Expr, point: Mapping[sympy.Symbol, float], budget: Budget | None) -> complex | float | None:
    """`evaluate`, but ±inf beyond the floats (a value, if a huge one), and
    `precise.Unevaluable` (a `BudgetExceeded`) when the precision runs out."""
    digits = EVALUATE_DIGITS if budget is None else budget.digits
    try:
        v = precise.value(expr, point, digits)
    except precise.Undefined:
        return None
    z = complex(v)
    if z.imag != 0 and abs(z.imag) > 1e-12 * max(1.0, abs(z.real)):
        return z
    return z.real


#: Two values agree when they differ by at most this, relative (plus an absolute
#: 1e-25 for values that are exactly 0): both are evaluated to 25 digits from the
#: same point, so an equal pair differs by rounding to a float only (about 1e-16).
AGREE_RELATIVE = 1e-13


def _close(a: complex | float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-25 + AGREE_RELATIVE * abs(b)


#: How far `check` samples from the graph's values: near them first, then far
#: (a claim can be right near the graph's point only: ``relu(W - 3)`` is 0 there).
SAMPLE_SCALES = (1.0, 3.0, 10.0, 30.0)


def _sample_points(
    output: Value, leaves: list[Value], expected: sympy.Expr, rng: random.Random, count: int, budget: Budget
):
    """The current point first (it is where the graph was computed), then
    random points around it at each of `SAMPLE_SCALES` in turn, where the
    network itself can be computed (`_computable`) and the engine's
    derivative is defined; none once the budget is spent."""
    current = {symbol(n.label): n.data for n in leaves}
    yield current
    produced, tries = 1, 0
    while produced < count and tries < 50 * count and not budget.expired:
        scale = SAMPLE_SCALES[tries % len(SAMPLE_SCALES)]
        tries += 1
        point = {symbol(n.label): n.data + rng.uniform(-scale, scale) for n in leaves}
        if _computable(output, point) and isinstance(evaluate(expected, point, budget), float):
            produced += 1
            yield point


def _computable(output: Value, point: Mapping[sympy.Symbol, float]) -> bool:
    """Can the engine compute `output` with the labelled leaves set to `point`?
    Not where a float step is undefined or overflows: at Z = 40 the float A
    is 1.0 and log(1 - A) fails, so a counterexample there would show an
    A at which the formula is undefined."""
    values: dict[Value, Value] = {}
    for node in topological_order(output):
        if node._op is None:
            key = symbol(node.label) if node.label else None
            values[node] = Value(point[key]) if key in point else node
            continue
        try:
            values[node] = _apply(node, tuple(values[p] for p in node.parents))
        except (ValueError, ArithmeticError):
            return False
    return True


def _written_out(expr: sympy.Expr, defs: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """`expr` in the graph's leaves, with sigmoid and tanh written with exp, so
    that ``1/(1 + exp(-Z))`` and ``A`` can cancel."""
    full = expr.xreplace(defs)
    return full.replace(sigmoid, lambda x: 1 / (1 + sympy.exp(-x))).rewrite(sympy.tanh, sympy.exp)


def _simplified_written_out(difference: sympy.Expr, defs: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """`difference` in the graph's leaves (`_written_out`), as simple as cheaply possible.
    Run within a budget: every step is sympy algebra."""
    full = _simplest(_written_out(difference, defs), fallback_ops=40)
    if full != 0 and _size(full) <= 40 and not full.has(sympy.exp) and algebra_is_cheap(full):
        # Small and free of exponentials: `sympy.simplify` is quick (sin(W)**2 + cos(W)**2 - 1).
        if sympy.simplify(full) == 0:
            return sympy.S.Zero
    return full


def _provably_nonzero(difference: sympy.Expr, leaves: set) -> bool:
    """A nonzero number, or a nonzero rational function of leaves that vary
    freely, is not 0 everywhere (it is on a set of measure 0 at most)."""
    if difference == 0:
        return False
    return bool(difference.is_Number or (difference.free_symbols <= leaves and difference.is_rational_function()))


#: The time `check` may take, in seconds (the CLI adds its start-up): the
#: algebra is stopped when it is spent, and the verdict is then "unproven".
CHECK_SECONDS = 4.0


def check(
    claim: Claim,
    output: Value,
    wrt: Value | str,
    points: int = 24,
    seed: int = 0,
    aliases: Mapping[str, str] | None = None,
    budget: Budget | None = None,
) -> Verdict:
    """Is `claim` the derivative d(output)/d(wrt)?  Returns a `Verdict`:
    correct (proved), incorrect, or unproven (see `Verdict`).

    The claim may use any label of the graph (or its identifier spelling,
    e.g. ``w2_1_0``), intermediate ones included: ``"A - y"`` and
    ``"sigmoid(Z) - y"`` are both right for seed 000's dL/dZ.  It is proved
    when the difference simplifies to 0, as written or with the definitions
    substituted.  Otherwise the claim and the engine are compared at the
    graph's current values and at `points` random points around them, near
    and far (`SAMPLE_SCALES`), where the network can be computed; the first
    disagreement is the counterexample.
    `aliases` adds names for labels ({"h1_1": "a^(1)_0"}), e.g. a seed's own notation.

    All of it runs within `budget` (by default `CHECK_SECONDS` of wall time
    and `EVALUATE_DIGITS` of working precision): the algebra is stopped when
    its share is spent, and the verdict is then "unproven", with the reason
    in its notes.

    >>> from microgrid import Value
    >>> x = Value(1.5, label="x"); y = x * x; y.label = "y"
    >>> check("2*x", y, x).correct, check("x", y, x).correct, check("2*x + 1e-12", y, x).correct
    (True, False, False)
    """
    if not isinstance(output, Value):
        raise TypeError(f"check: output must be a Value, got {type(output).__name__}")
    budget = budget or Budget(CHECK_SECONDS)
    node = find_node(output, wrt, aliases)
    of = output.label or "output"
    names = claim_names(output)
    for alias, label in (aliases or {}).items():
        if label in names:
            names.setdefault(alias, names[label])
    try:
        claimed = budget.run(parse_claim, claim, names, what="reading the claim")
    except BudgetExceeded as stopped:  # not malformed, only too costly for sympy to build
        verdict = Verdict(None, sympy.Symbol(str(claim)), sympy.nan, sympy.nan, of, node.label or "wrt")
        verdict.method, verdict.notes = "numeric", [str(stopped)]
        return verdict
    # The engine's derivative gets a quarter of the time, the difference a third of what is left.
    engine = diff(output, node, simplify=False)
    expected, note = simplify_within(engine, budget, 0.25, what="simplifying the derivative")
    verdict = Verdict(True, claimed, expected, 0, of, node.label or "wrt", notes=[note] if note else [])
    return _decide(verdict, output, points, seed, budget)


def _decide(verdict: Verdict, output: Value, points: int, seed: int, budget: Budget) -> Verdict:
    """`check`'s decision, filled into `verdict` (claim and expected set, assumed correct)."""
    claimed, expected = verdict.claim, verdict.expected
    difference, note = simplify_within(claimed - expected, budget, 1 / 3, what="simplifying the difference")
    verdict.difference = difference
    if note:
        verdict.notes.append(note)
    if difference == 0:
        return verdict
    # Not zero as written: the claim may use other symbols (sigmoid(Z) for A).
    defs = definitions(output)
    claimed_full, expected_full = claimed.xreplace(defs), expected.xreplace(defs)
    leaves = [n for n in topological_order(output) if n._op is None and n.label]
    leaf_symbols = {symbol(n.label) for n in leaves}
    used = sorted((claimed.free_symbols | expected.free_symbols) - leaf_symbols, key=str)

    def counterexample(point: dict, got: Any, true: float) -> Counterexample:
        shown = {label_of(s): v for s, v in point.items()}
        for s in used:  # the intermediates the formulas mention, for the reader
            value = evaluate(defs.get(s, s), point, budget)
            if isinstance(value, float):
                shown[label_of(s)] = value
        return Counterexample(shown, got, true, evaluate(claimed_full - expected_full, point, budget))

    def incorrect(found: Counterexample | None) -> Verdict:
        verdict.correct, verdict.counterexample, verdict.method = False, found, "numeric"
        missing = sorted(label_of(s) for s in expected.free_symbols - claimed.free_symbols)
        if missing:
            verdict.notes.append(f"the engine's derivative involves {', '.join(missing)}, which the claim leaves out")
        return verdict

    found, first = _compare_at_points(verdict, output, leaves, claimed_full, expected_full, points, seed, budget)
    if found is not None:
        return incorrect(counterexample(*found))
    try:
        full_difference = budget.run(
            _simplified_written_out, claimed - expected, defs, what="simplifying with the definitions substituted"
        )
    except BudgetExceeded as stopped:
        verdict.notes.append(str(stopped))
        full_difference = None
    if full_difference == 0:
        verdict.difference = full_difference
        verdict.notes.append("proved with the labelled intermediates replaced by their definitions")
        return verdict
    if full_difference is not None and _provably_nonzero(full_difference, leaf_symbols):
        verdict.notes.append(f"with the definitions substituted the difference is {sympy.sstr(full_difference)}, not 0")
        incorrect(counterexample(*first) if first else None).method = "symbolic"
        return verdict
    verdict.correct, verdict.method = None, "numeric"
    if full_difference is not None:
        verdict.difference = full_difference
    if verdict.points_checked == 0:
        verdict.notes.append("no point was found where the derivative is defined; nothing could be checked")
    return verdict


def _compare_at_points(
    verdict: Verdict,
    output: Value,
    leaves: list[Value],
    claimed: sympy.Expr,
    expected: sympy.Expr,
    points: int,
    seed: int,
    budget: Budget,
) -> tuple[tuple | None, tuple | None]:
    """(the first point where `claimed` and `expected` disagree, or None; the
    first point compared), as (point, claimed value, true value).  Counts
    the points in `verdict.points_checked`, and says in its notes when the
    time ran out or the claim could not be evaluated within the precision."""
    rng = random.Random(seed)
    first, unevaluable = None, []
    for point in _sample_points(output, leaves, expected, rng, points, budget):
        if budget.expired:
            break
        true = evaluate(expected, point, budget)
        if not isinstance(true, float):
            continue
        try:
            got = _value(claimed, point, budget)
        except precise.Unevaluable as reason:
            unevaluable.append(str(reason))
            continue
        verdict.points_checked += 1
        first = first or (point, got, true)
        if not _close(got, true):
            return (point, got, true), first
    if budget.expired and verdict.points_checked < points:
        verdict.notes.append(f"the time budget ({budget.seconds:g} s) ran out while comparing at points")
    if unevaluable:
        verdict.notes.append(f"the claim could not be evaluated at {len(unevaluable)} points: {unevaluable[0]}")
    return None, first

