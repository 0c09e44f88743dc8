"""Reading what users type, never with `eval`: its `notation` as Python reads it, `parse` within limits, a `program`."""

from __future__ import annotations

import ast
import contextlib
import difflib
import itertools
import math
import random
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from operator import add, mul, neg, sub, truediv
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from ..engine import OPS, Value
from ..graphs import topological_order
from ..names import normal_name, parse_textbook, textbook_spellings, to_identifier


class _EngineFunctions(Sequence[str]):
    def __getitem__(self, index):
        return tuple(name for name, op in OPS.items() if op.by_name and op.arity == 1)[index]

    def __len__(self) -> int:
        return len(self[:])


#: The function names an expression may call: the engine's one-operand operations, as registered now.
ENGINE_FUNCTIONS: Sequence[str] = _EngineFunctions()

#: Past this many digits sympy must not build a formula: Python's limit for printing an int, at most 300,000.
HOLD_DIGITS = min(sys.get_int_max_str_digits() or 300_000, 300_000)

# The limits keep sympy (and Python's recursion) well under a second on what `parse` accepts.
MAX_LENGTH = 2000  # characters of an expression
MAX_DEPTH = 100  # nesting: every operator, sign and call is one level, so a sum of n terms is n deep
MAX_MAGNITUDE = 100  # a number other than 0, typed or computed, is between 1e-100 and 1e100 in size
MAX_FRACTION_DIGITS = 200  # digits of an exact number's numerator or denominator (1.5e-100 has 101)
MAX_EXPONENT = 1000  # the size of a numeric exponent
MAX_TERMS = 500  # terms once multiplied out, as sympy's `cancel` does: (a + b)**999 has 1000
MAX_STATEMENTS = 200  # of a program: a person reads it, a few dozen lines


class ExpressionError(ValueError):
    """The text is not an expression microgrid accepts."""


class NotationError(ExpressionError):
    """The text cannot be read at all: at `where` in `shown` (as typed; LaTeX as read) it is no formula."""

    def __init__(self, shown: str, where: int, reason: str, hint: str):
        super().__init__(f"{clip(shown)!r} is not a valid expression: {reason} (at character {where + 1}); {hint}")
        self.shown, self.where, self.reason, self.hint = shown, where, reason, hint

    def __reduce__(self) -> tuple:  # from sympy's worker, as it was raised
        return type(self), (self.shown, self.where, self.reason, self.hint)

    def pointed(self) -> str:
        """The message for a reader: the text (80 characters of it at most), a caret under the place, a hint."""
        start = max(0, min(self.where - 40, len(self.shown) - 80))
        caret = " " * (self.where - start) + "^"
        return f"cannot read: {self.reason}\n    {self.shown[start : start + 80]}\n    {caret}\n  {self.hint}"


class TooLargeToWriteOut(ValueError):
    """A formula sympy would multiply out into numbers past `HOLD_DIGITS` digits."""


def clip(text: str, most: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= most else text[: most - 3] + "..."


_SYMBOLS = str.maketrans({"·": "*", "⋅": "*", "∙": "*", "×": "*", "−": "-", "–": "-", "÷": "/", "′": "'", "$": " "})
_LATEX = {"cdot": "*", "times": "*", "partial": "∂", "prime": "'", "sigma": "σ", "delta": "δ", "vert": "|"}
_LATEX |= dict.fromkeys(["left", "right", "big", "Big", "bigg", "Bigg", "!", "operatorname", "mathrm", "text"], "")
_LATEX |= dict.fromkeys([",", ";", ":", " ", "quad"], " ") | {"frac": r"\frac", "sqrt": r"\sqrt"}
_NAME = r"(?:[^\W\d_][^\W_]*\^\([^()\s]+\)(?:_[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*)?|[^\W\d]\w*)"
_NAMES = rf"{_NAME}(?:\s*,\s*{_NAME})*"
#: A derivative, perhaps with nodes held fixed: dL/du, ∂C_0/∂w^(L), dL/du|_m, dL/du (m fixed).
DERIVATIVE = re.compile(
    rf"(?<![\w^])[d∂]\s*(?P<of>{_NAME})\s*/\s*[d∂]\s*(?P<wrt>{_NAME})"
    rf"(?:\s*\|_?\s*(?P<held>{_NAMES})|\s*\(\s*(?P<fixed>{_NAMES})\s+fixed\s*\))?"
)
_FRACTION = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_GROUP = re.compile(r"(?<!\\frac)(?<!\})(\\sqrt|\^|_)?\{([^{}]*)\}")  # innermost, not a fraction's part
_ONE_DERIVATIVE = re.compile(rf"\s*[d∂]\s*{_NAME}\s*")
# A textbook label (a^(L-1)_2, w^(1)_0,0) is one token; x^(2) is a power.
_LABEL = r"(?!e\^)[^\W\d_][^\W_]*\^\((?:[^()\s]*[^\d()\s-][^()\s]*\)|-?\d+\)(?=_))(?:_[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*)?"
_PLAIN = r"(?P<space>\s+)|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[^\W\d²³][^\W²³]*)"
_PLAIN += r"|(?P<op>\*\*|[=<>!]=|.)"
_TOKEN = {False: re.compile(_PLAIN, re.S), True: re.compile(rf"(?P<atom>{DERIVATIVE.pattern}|{_LABEL})|{_PLAIN}", re.S)}
_ALIASES = {"σ": "sigmoid", "sigma": "sigmoid", "ln": "log"}
#: The derivative of each function at X: what ``sigma'(z)`` means.
PRIMES = {"sigmoid": "sigmoid(X)*(1 - sigmoid(X))", "tanh": "1 - tanh(X)**2", "relu": "step(X)", "exp": "exp(X)"}
PRIMES |= {"log": "1/(X)", "sin": "cos(X)", "cos": "-sin(X)"}
_PRODUCT = "write `2*(a - y)` or `2(a - y)`"
_AFTER_A_LEAF = ("", "*", "/", "+", "-", ")", "=")  # what may follow a function's name used as a leaf: exp*y
_PRIME = "σ′ is written `sigma'(z)` or `σ'(z)`, as tanh'(z) and relu'(z)"


def _latex(text: str) -> str:
    """`text` with its LaTeX read: ``\\frac{a}{b}``, ``\\sqrt{x}``, ``e^{x}``, ``C_{0}``, ``\\cdot``, ``\\left(``."""
    text = re.sub(r"\\(?:left|right)\.|\\([A-Za-z]+|[,;:! ])", lambda m: _LATEX.get(m[1] or "", m[1] or ""), text)
    text = re.sub(r"\^\s*\{?\s*'\s*\}?", "'", re.sub(r"(\\frac|\})\s*\{", r"\1{", text.replace("~", " ")))
    while (match := _FRACTION.search(text) or _GROUP.search(text)) is not None:
        if match.re is _FRACTION:
            a, b = match.groups()
            new = f" {a}/{b}" if _ONE_DERIVATIVE.fullmatch(a) and _ONE_DERIVATIVE.fullmatch(b) else f"(({a})/({b}))"
        else:
            before, inner = match[1] or "", match[2].strip()
            wrapped = inner if inner.startswith("(") and inner.endswith(")") else f"({inner})"
            plain = f" {inner}" if inner.isidentifier() else wrapped  # a name never joins the word before it
            power = "^" + inner if inner.startswith("(") else f"**({inner})"  # ^{(L)}: a textbook label's layer
            new = {"": plain, "_": "_" + inner, "^": power}.get(before, f"({wrapped}**(1/2))")
        text = text[: match.start()] + new + text[match.end() :]
    return text


def notation(text: str, labels: bool = True, functions: Sequence[str] = ENGINE_FUNCTIONS) -> str:
    """`text` as Python reads it (``2(a)``, ``^``, ``σ'(z)``, ``·``, ``²``, LaTeX); unreadable: a `NotationError`.

    >>> notation("2(a − y)·σ'(z)·x")
    '2*(a - y)*(sigmoid(z)*(1 - sigmoid(z)))*x'
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    plain = text.translate(_SYMBOLS)
    source = _latex(plain) if "\\" in plain or "{" in plain else plain
    shown = text if source == plain else source
    tokens = [(m.lastgroup, m[0], m.start()) for m in _TOKEN[labels].finditer(source)]
    pieces: list[tuple[str | tuple[str], str, int]] = []  # (text or (primed function,), probe text, where)
    value_before, called = False, {*functions, "step"}
    for i, (kind, token, where) in enumerate(tokens):
        after = next((t for k, t, _ in tokens[i + 1 :] if k != "space"), "")
        token = _ALIASES.get(token, token) if kind == "name" and after in ("(", "'") else token
        call = kind == "name" and after in ("(", "'") and token in called
        # A word before "(" is a function, and so is a function's name (ln x): never silently a leaf in a product.
        if kind == "name" and after == "(" and not call and token.isalpha() and len(token) > 1:
            hint = f"to multiply, write `{token}*(…)`; a function of your own is added with define_op"
            known = ", ".join(sorted(functions))
            raise NotationError(shown, where, f"{token} is not a function (functions: {known})", hint)
        if kind == "name" and not call and _ALIASES.get(token, token) in called and after not in _AFTER_A_LEAF:
            hint = f"write `{token}(…)`; to multiply by a name {token}, write `{token}*…`"
            raise NotationError(shown, where, f"{token} is a function: its argument goes in brackets", hint)
        if token == "'":
            primed = pieces[-1][1] if pieces else ""
            if after != "(" or primed not in PRIMES:
                raise NotationError(shown, where, "a ' is not allowed here", _PRIME)
            pieces[-1] = ((primed,), primed, pieces[-1][2])
            continue
        if token in "[]{}" and kind == "op":
            raise NotationError(shown, where, f"{token} is not a bracket here", _PRODUCT)
        if token == "=":
            hint = f"write the right side: `{shown[where + 1 :].strip()}`"
            raise NotationError(shown, where, "this is one formula, not an equation", hint)
        if (kind in ("number", "name", "atom") or token == "(") and value_before:
            pieces.append(("*", "*", where))
        if kind != "space":
            value_before = (kind in ("number", "atom", "name") and not call) or token in (")", "²", "³")
        token = {"^": "**", "²": "**2", "³": "**3"}.get(token, token) if kind == "op" else token
        pieces.append((token, "_atom" if kind == "atom" else token, where))
    probe = "".join(p for _, p, _ in pieces)
    try:
        ast.parse(probe.strip(), mode="eval")
    except (RecursionError, MemoryError):  # Python's own parser gave up on the nesting
        raise ExpressionError(f"{clip(text)!r} nests too deeply") from None
    except SyntaxError as error:
        offset = (error.offset or 1) + len(probe) - len(probe.lstrip())
        ends = itertools.accumulate(len(part) for _, part, _ in pieces)
        where = next((start for (_, _, start), end in zip(pieces, ends, strict=True) if end >= offset), len(source))
        reason = "a ( is never closed, or a ) never opened" if source.count("(") != source.count(")") else error.msg
        raise NotationError(shown, where, reason, _PRODUCT) from None
    return _expanded(pieces)


def _expanded(pieces: list) -> str:
    """The text of `pieces`, each primed call written out by `PRIMES` (nested ones too, without recursion)."""
    done: list[list[str]] = [[]]
    opened: list[str | None] = []  # for each ( open: the primed function it applies, or None
    primed = None
    for text, _, _ in pieces:
        if isinstance(text, tuple):
            primed = text[0]
        elif text == "(":
            opened.append(primed)
            done.append([]) if primed else done[-1].append(text)  # a primed call's argument, apart
            primed = None
        elif text == ")" and opened and (function := opened.pop()):
            argument = "".join(done.pop())
            if len(argument) > MAX_LENGTH:  # written out, nested primes double it
                raise ExpressionError(f"{function}'(...) is longer than {MAX_LENGTH} characters written out")
            done[-1].append("(" + PRIMES[function].replace("X", argument) + ")")
        else:
            done[-1].append(text)
    return "".join(done[0])


_LARGEST = Fraction(10**MAX_MAGNITUDE)
_DIGITS_LIMIT = 10**MAX_FRACTION_DIGITS
_OUT_OF_RANGE = (
    f"is out of range: a number other than 0 must be between 1e-{MAX_MAGNITUDE} and 1e{MAX_MAGNITUDE} in size"
)
_TOO_PRECISE = f"has more than {MAX_FRACTION_DIGITS} digits in its numerator or denominator"

_BINARY: dict[type, Callable] = {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.Div: truediv, ast.Pow: pow}
_UNARY = {ast.USub: neg, ast.UAdd: lambda operand: operand}  # engine Values have no __pos__

Maker = Callable[[Fraction], Any]  # a world's number for an exact constant


def plain_number(q: Fraction) -> int | float:
    """The default world's number for an exact constant: an int, or the nearest float."""
    return q.numerator if q.denominator == 1 else float(q)


@dataclass(repr=False)
class Expression:
    """A checked expression tree; `evaluate` it with your own names and functions."""

    text: str
    tree: ast.expr
    names: frozenset
    functions: frozenset
    constants: Mapping[int, Fraction]  # id(node) -> the exact value of a numbers-only part

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(
        self, names: Mapping[str, Any], functions: Mapping, number: Maker = plain_number, exponent: Maker | None = None
    ) -> Any:
        """The value with `names` and `functions` bound, each numbers-only part `number`'s (an exponent: `exponent`'s).

        >>> parse("x/3 + 1/3").evaluate({"x": 1}, {}, number=lambda q: q)
        Fraction(2, 3)
        """
        if missing := sorted(self.names - set(names)):
            raise ExpressionError(f"{clip(self.text)!r}: no value given for {', '.join(missing)}")
        if unknown := sorted(self.functions - set(functions)):
            raise ExpressionError(f"{clip(self.text)!r}: unknown function {', '.join(unknown)}")
        constants, power = self.constants, exponent or number

        def value(node: ast.expr) -> Any:  # recursive: `parse` bounded the depth
            if id(node) in constants:  # a numbers-only part (a literal too), exact
                return number(constants[id(node)])
            if isinstance(node, ast.Name):
                return names[node.id]
            if isinstance(node, ast.UnaryOp):
                return _UNARY[type(node.op)](value(node.operand))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                return functions[node.func.id](value(node.args[0]))
            assert isinstance(node, ast.BinOp)  # the only other node `parse` lets through
            if isinstance(node.op, ast.Pow) and id(node.right) in constants:
                return pow(value(node.left), power(constants[id(node.right)]))
            return _BINARY[type(node.op)](value(node.left), value(node.right))

        try:
            return value(self.tree)
        except ArithmeticError as error:  # ZeroDivisionError, OverflowError: the engine's are already clear
            raise ExpressionError(f"{clip(self.text)!r}: {error}") from error
        except RecursionError:  # the world's objects nest deeper than `parse` can see
            raise ExpressionError(f"{clip(self.text)!r}: too deeply nested to evaluate") from None


def parse(text: str, functions: Sequence[str] = ENGINE_FUNCTIONS, typed: str | None = None) -> Expression:
    """`text` (any `notation`; `typed`, for messages) checked: only numbers, names, arithmetic, `functions`; in limits.

    >>> sorted(parse("tanh(x*w + b)").names)
    ['b', 'w', 'x']
    """
    python = notation(text, labels=False, functions=functions)  # its type and length first
    try:
        tree = ast.parse(python.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):  # `notation` read it: only primes written out nest it more
        raise ExpressionError(f"{clip(text)!r} nests too deeply") from None
    measure = _Measure(python, functions, typed or text)
    measure.visit(tree)
    return Expression(typed or text, tree, frozenset(measure.names), frozenset(measure.called), measure.constants)


class _Facts(NamedTuple):
    exact: Fraction | None  # the value of a numbers-only part, when it is a fraction
    approx: float | None  # the value of any numbers-only part (2**0.5 and exp(1) too)
    terms: int  # at most this many terms once multiplied out


_OPAQUE = _Facts(None, None, 1)  # a name, or anything of one: one term, no known value


class _Measure:
    """Each node checked and measured; it gathers the `names`, functions `called` and numbers-only parts."""

    def __init__(self, text: str, functions: Sequence[str], shown: str):
        self.text, self.shown, self.functions = text, shown, functions
        self.names: set[str] = set()
        self.called: set[str] = set()
        self.constants: dict[int, Fraction] = {}

    def not_allowed(self, what: str) -> ExpressionError:
        return ExpressionError(f"{clip(self.shown)!r}: {what} is not allowed")

    def refuse(self, node: ast.expr, what: str) -> ExpressionError:
        return ExpressionError(f"{clip(self.shown)!r}: {self.source(node)} {what}")

    def source(self, node: ast.expr) -> str:  # the part as typed (1e999, not 1e309), short
        return clip(ast.get_source_segment(self.text.strip(), node) or ast.unparse(node), 40)

    def visit(self, node: ast.expr, depth: int = 1) -> _Facts:
        """Check `node` against the allow-list (its parts in their turn), then measure it."""
        if depth > MAX_DEPTH:  # before recursing deeper: the recursion stays within Python's limit
            level = f"(every operator, sign and call is a level: a sum of more than {MAX_DEPTH} terms is too deep)"
            raise ExpressionError(f"{clip(self.shown)!r} nests more than {MAX_DEPTH} levels deep {level}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.not_allowed(f"the constant {clip(repr(node.value))}")
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise self.refuse(node, "is beyond the floats")
            # A float means the decimal as typed: 0.1 is one tenth, 1e-12 is 10**-12; an int may be too huge to print.
            written = Fraction(node.value if isinstance(node.value, int) else repr(node.value))
            facts = self.bounded(node, _Facts(written, None, 1))
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise self.not_allowed(f"the name {node.id!r}")
            self.names.add(node.id)
            facts = _OPAQUE
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in (*self.functions, "step"):
                raise self.not_allowed(f"calling {clip(ast.unparse(node.func))!r}")  # `notation` names the functions
            if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                raise self.not_allowed(f"{node.func.id}(...) with other than one plain argument")
            self.called.add(node.func.id)
            facts = self.call(node, node.func.id, self.visit(node.args[0], depth + 1))
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            inner, op = self.visit(node.operand, depth + 1), _UNARY[type(node.op)]
            exact, approx = (None if part is None else op(part) for part in (inner.exact, inner.approx))
            facts = inner._replace(exact=exact, approx=approx)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            measure = self.power if isinstance(node.op, ast.Pow) else self.arithmetic
            facts = measure(node, self.visit(node.left, depth + 1), self.visit(node.right, depth + 1))
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
            raise self.not_allowed(f"the operator {type(node.op).__name__}")
        else:
            raise self.not_allowed(f"{type(node).__name__} ({clip(ast.unparse(node))})")
        if facts.exact is not None:
            self.constants[id(node)] = facts.exact
        if facts.terms > MAX_TERMS:
            raise self.refuse(node, f"multiplies out to more than {MAX_TERMS} terms (a power or product of sums)")
        return facts

    def bounded(self, node: ast.expr, facts: _Facts) -> _Facts:
        """`facts`, once its number is known within `MAX_MAGNITUDE` (1e-200 too) and `MAX_FRACTION_DIGITS`."""
        q = facts.exact
        if q is not None:
            if q != 0 and not 1 / _LARGEST <= abs(q) <= _LARGEST:
                raise self.refuse(node, _OUT_OF_RANGE)
            if abs(q.numerator) >= _DIGITS_LIMIT or q.denominator >= _DIGITS_LIMIT:
                raise self.refuse(node, _TOO_PRECISE)
            return facts._replace(approx=float(q))
        if facts.approx is not None and facts.approx != 0.0 and abs(math.log10(abs(facts.approx))) > MAX_MAGNITUDE:
            raise self.refuse(node, _OUT_OF_RANGE)
        return facts

    def arithmetic(self, node: ast.BinOp, left: _Facts, right: _Facts) -> _Facts:
        if isinstance(node.op, ast.Div) and (right.exact == 0 or right.approx == 0.0):
            raise self.refuse(node, "divides by zero")
        op = _BINARY[type(node.op)]
        # A common denominator multiplies out the terms of both sides, as a product does.
        terms = left.terms + right.terms if isinstance(node.op, (ast.Add, ast.Sub)) else left.terms * right.terms
        exact = op(left.exact, right.exact) if left.exact is not None and right.exact is not None else None
        approx = None
        if exact is None and left.approx is not None and right.approx is not None:
            approx = self.float_op(node, op, left.approx, right.approx)
        return self.bounded(node, _Facts(exact, approx, terms))

    def float_op(self, node: ast.BinOp, op: Callable, a: float, b: float) -> float:
        with contextlib.suppress(OverflowError, ZeroDivisionError):
            if math.isfinite(result := op(a, b)):
                return result
        raise self.refuse(node, "is beyond the floats")

    def call(self, node: ast.Call, name: str, argument: _Facts) -> _Facts:
        if name not in ENGINE_FUNCTIONS or argument.approx is None:  # of names, or not the engine's
            return _OPAQUE
        try:
            value = OPS[name](argument.approx)
        except OverflowError:
            raise self.refuse(node, _OUT_OF_RANGE) from None
        except ValueError:  # math domain error: log(0), log(-1)
            raise self.refuse(node, "is undefined") from None
        return self.bounded(node, _Facts(None, value, 1))

    def power(self, node: ast.BinOp, base: _Facts, exponent: _Facts) -> _Facts:
        e = exponent.approx
        if e is None:  # a symbolic exponent: 2**x, x**y
            return _OPAQUE
        if abs(e) > MAX_EXPONENT:
            raise self.refuse(node, f"has the exponent {self.source(node.right)}, larger than {MAX_EXPONENT}")
        exact = exponent.exact
        n = exact.numerator if exact is not None and exact.denominator == 1 else None  # an integer exponent
        b = base.approx  # a number's float: `bounded` gives every exact one
        if b is None:  # a power of names: (a + b)**n multiplies out, to comb(terms + n - 1, n) terms
            return _Facts(None, None, 1 if n is None else math.comb(base.terms + abs(n) - 1, abs(n)))
        if b == 0 and e < 0:
            raise self.refuse(node, "divides by zero (0 to a negative power)")
        if b < 0 and n is None:
            raise self.refuse(node, "is not a real number (a negative number to a non-integer power)")
        if b != 0 and abs(e * math.log10(abs(b))) > MAX_MAGNITUDE + 1:  # before computing it: 999**999 takes a while
            raise self.refuse(node, _OUT_OF_RANGE)
        if n is not None and base.exact is not None:
            digits = abs(e) * math.log10(max(abs(base.exact.numerator), base.exact.denominator))
            if digits > MAX_FRACTION_DIGITS + 1:  # (12345/12346)**1000 is near 1, with 4000 digits
                raise self.refuse(node, _TOO_PRECISE)
            return self.bounded(node, _Facts(base.exact**n, None, 1))
        return self.bounded(node, _Facts(None, self.float_op(node, pow, b, e), 1))


#: Names that are numbers wherever nothing else has that name (a program that assigns ``e`` makes it its own).
NAMED_NUMBERS = {"e": "Euler's number", "pi": "the number pi"}  # their values are `math`'s

_TYPED: WeakKeyDictionary[Value, Fraction | str] = WeakKeyDictionary()  # an entry goes with its leaf


def constant(exact: Fraction | str) -> Value:
    """An unlabelled leaf holding the float nearest `exact` (a number, or a name in `NAMED_NUMBERS`)."""
    leaf = Value(getattr(math, exact) if isinstance(exact, str) else float(exact))
    _TYPED[leaf] = exact
    return leaf


def typed(leaf: Value) -> Fraction | str | None:
    """What `leaf` was typed as, if `constant` made it."""
    return _TYPED.get(leaf)


_ASSIGNMENT = re.compile(r"^\s*(?P<name>[^=]+?)\s*=(?!=)\s*(?P<expression>.+?)\s*$", re.S)
_ASSUMPTION = re.compile(r"^assume\b(?!\s*=)(?P<equation>.*)$", re.S)


class ProgramError(ExpressionError):
    """The text is not a program microgrid accepts."""


class Program(dict):
    """{name: Value} in the order they appear; `output`: the last assignment; `constraints`: ``assume lhs = rhs``."""

    output: Value
    constraints: list[tuple[str, str]]

    def __repr__(self) -> str:
        return f"Program({', '.join(self)}; output {self.output.label})"


def _statements(text: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(statement, label, expression text) of each assignment, a label read as Python reads a name; the constraints."""
    if not isinstance(text, str):
        raise ProgramError(f"program: expected a str, got {type(text).__name__}")
    statements = [s.strip() for s in re.split(r"[;\n]", text) if s.strip()]
    if len(statements) > MAX_STATEMENTS:
        raise ProgramError(f"program: {len(statements)} statements, more than {MAX_STATEMENTS}")
    found, constraints = [], []
    for statement in statements:
        if assumption := _ASSUMPTION.match(statement):
            sides = [side.strip() for side in assumption["equation"].split("=")]
            if len(sides) != 2 or not all(sides):
                raise ProgramError(f"program: {statement!r} is no constraint; write e.g. assume y0 + y1 + y2 = 1")
            constraints.append((sides[0], sides[1]))
            continue
        if (match := _ASSIGNMENT.match(statement)) is None:
            raise ProgramError(f"program: {statement!r} is not an assignment (name = expression)")
        left, name = match["name"], normal_name(match["name"])
        if not (left.isidentifier() and not name.startswith("_")) and parse_textbook(name) is None:
            raise ProgramError(f"program: {statement!r}: the left side must be a name (x, z1, a^(1)_0), got {left!r}")
        found.append((statement, name, match["expression"]))
    if not found:
        raise ProgramError('program: no assignment (write e.g. "z = w*x + b; C = z**2")')
    return found, constraints


def program(text: str, at: Mapping[str, float] | None = None, seed: int = 0) -> Program:
    """The Values a program defines: leaves at `at` (a name never read is a typo), else drawn from [0.1, 0.9] by `seed`.

    >>> p = program("z = w*x + b; a = tanh(z); C = (a - y)**2", at={"w": 0.5})
    >>> p.output.label, p["w"].data, list(p)
    ('C', 0.5, ['w', 'x', 'b', 'z', 'a', 'y', 'C'])
    """
    assignments, constraints = _statements(text)
    assigned_anywhere = {to_identifier(label) for _, label, _ in assignments}
    given, at = at or {}, {}  # `at`, its names read as Python reads them
    for name, value in given.items():
        key = normal_name(name)
        if key in at:
            raise ProgramError(f"program: --at gives {key} twice ({name!r} is {key!r} as Python reads it)")
        if key in NAMED_NUMBERS and key not in assigned_anywhere:
            meaning = f"{key} is {NAMED_NUMBERS[key]} in this program (it is never assigned), so it takes no --at value"
            raise ProgramError(f"program: {meaning}; to make {key} a variable, assign it (e.g. {key} = {value!r})")
        at[key] = value
    rng, values = random.Random(seed), Program()
    by_identifier: dict[str, Value] = {}
    assigned: set[str] = set()
    for statement, name, typed in assignments:
        identifier = to_identifier(name)
        if identifier in assigned:
            raise ProgramError(f"program: {name} is assigned twice; a program defines each name once")
        if identifier in by_identifier:
            raise ProgramError(f"program: {name} is used before it is assigned")
        text, spelled = textbook_spellings(notation(typed))
        expression = parse(text, typed=typed)
        names = dict(by_identifier)
        for leaf in sorted(expression.names - set(by_identifier), key=text.find):
            if leaf in NAMED_NUMBERS and leaf not in assigned_anywhere:
                names[leaf] = constant(leaf)  # a number: no leaf of the program
                continue
            label = spelled.get(leaf, leaf)
            data = at.pop(label) if label in at else at.pop(leaf) if leaf in at else round(rng.uniform(0.1, 0.9), 3)
            by_identifier[leaf] = names[leaf] = values[label] = Value(data, label=label)
        # Each constant a leaf that remembers what was typed; an exponent stays a number (the engine's x ** n).
        node = expression.evaluate(names, OPS, number=constant, exponent=plain_number)
        if node.label:  # (a constant is an unlabelled leaf: it becomes a labelled one)
            raise ProgramError(f"program: {statement!r} only renames {node.label}; compute something, or use that name")
        node.label = name
        by_identifier[identifier] = values[name] = node
        assigned.add(identifier)
    _typo(values, node)
    if at:
        raise ProgramError(f"program: --at names {', '.join(sorted(at))}, which the program never reads")
    for side in itertools.chain(*constraints):
        used = parse(textbook_spellings(notation(side))[0], typed=side).names
        if unknown := ", ".join(sorted(used - by_identifier.keys() - NAMED_NUMBERS.keys())):
            raise ProgramError(f"program: assume: {side!r} names {unknown}, which the program never assigns or reads")
    values.output, values.constraints = node, constraints
    return values


def _typo(values: Program, output: Value) -> None:
    """Refuse a program whose output lost leaves to a misspelt name: ``a = tanh(zz)`` after ``z = w*x``."""
    reached = set(topological_order(output))
    lost = [name for name, v in values.items() if v._op is None and v not in reached]
    read = [name for name, v in values.items() if v._op is None and v in reached]
    for name in (name for name, v in values.items() if v._op is not None and v not in reached):
        if lost and (close := difflib.get_close_matches(name, read, n=1)):
            lost_leaves = f"{output.label} does not depend on {', '.join(lost)}"
            raise ProgramError(f"program: {lost_leaves}: {name} is never used (did you mean {close[0]} → {name}?)")
