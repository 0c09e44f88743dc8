"""The safe parser of what users type: `parse` an expression, read a `program`.  Never `eval`: each node is checked
against an allow-list and the limits, so that sympy is never asked for enormous work.  Numbers stay exact.

    >>> sorted(parse("tanh(x*w + b)").names)
    ['b', 'w', 'x']
    >>> p = program("z = w*x + b; a = tanh(z); C = (a - y)**2", at={"w": 0.5})
    >>> p.output.label, p["w"].data, list(p)
    ('C', 0.5, ['w', 'x', 'b', 'z', 'a', 'y', 'C'])
"""

from __future__ import annotations

import ast
import difflib
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
from .notation import ENGINE_FUNCTIONS, ExpressionError, clip, notation

#: Past this many digits sympy must not build a formula: Python's limit for printing an int, at most 300,000.
HOLD_DIGITS = min(sys.get_int_max_str_digits() or 300_000, 300_000)


class TooLargeToWriteOut(ValueError):
    """A formula sympy would multiply out into numbers past `HOLD_DIGITS` digits."""


# The limits keep sympy (and Python's recursion) well under a second on what `parse` accepts.
MAX_DEPTH = 100  # nesting: every operator, sign and call is one level, so a sum of n terms is n deep
MAX_MAGNITUDE = 100  # a number other than 0, typed or computed, is between 1e-100 and 1e100 in size
MAX_FRACTION_DIGITS = 200  # digits of an exact number's numerator or denominator (1.5e-100 has 101)
MAX_EXPONENT = 1000  # the size of a numeric exponent
MAX_TERMS = 500  # terms once multiplied out, as sympy's `cancel` does: (a + b)**999 has 1000

_LARGEST = Fraction(10**MAX_MAGNITUDE)
_DIGITS_LIMIT = 10**MAX_FRACTION_DIGITS
_OUT_OF_RANGE = (
    f"is out of range: a number other than 0 must be between 1e-{MAX_MAGNITUDE} and 1e{MAX_MAGNITUDE} in size"
)
_TOO_PRECISE = f"has more than {MAX_FRACTION_DIGITS} digits in its numerator or denominator"

_BINARY: dict[type, Callable] = {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.Div: truediv, ast.Pow: pow}
# Unary plus is the operand itself in every world: engine Values have no __pos__.
_UNARY = {ast.USub: neg, ast.UAdd: lambda operand: operand}


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
        """The value with `names` and `functions` bound; each numbers-only part goes through `number` once
        (an exponent through `exponent`, if given: the engine's ``x ** 2``).

        >>> parse("x/3 + 1/3").evaluate({"x": 1}, {}, number=lambda q: q)
        Fraction(2, 3)
        """
        missing = sorted(self.names - set(names))
        if missing:
            raise ExpressionError(f"{clip(self.text)!r}: no value given for {', '.join(missing)}")
        unknown = sorted(self.functions - set(functions))
        if unknown:
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
    """`text` (in any `notation`; `typed`: as typed, for messages) checked: only numbers, names, arithmetic and
    `functions`, within the limits.

    >>> parse("2**(999**999)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    microgrid.symbolic.notation.ExpressionError: '2**(999**999)': 999**999 is out of range: a number other than 0 ...
    """
    python = notation(text, labels=False, functions=functions)  # its type and length first
    try:
        tree = ast.parse(python.strip(), mode="eval").body
    except SyntaxError as error:
        raise ExpressionError(f"{clip(text)!r} is not a valid expression: {error.msg}") from None
    except (RecursionError, MemoryError):  # Python's own parser gave up on the nesting
        raise ExpressionError(f"{clip(text)!r} nests too deeply") from None
    measure = _Measure(python, functions, typed or text)
    measure.visit(tree)
    return Expression(typed or text, tree, frozenset(measure.names), frozenset(measure.called), measure.constants)


def power_terms(terms: int, exponent: int) -> int:
    """At most how many terms a sum of `terms` terms to the integer `exponent` multiplies out to.

    >>> power_terms(2, 999), power_terms(4, 30), power_terms(1, 999)
    (1000, 5456, 1)
    """
    return math.comb(terms + abs(exponent) - 1, abs(exponent))


class _Facts(NamedTuple):
    exact: Fraction | None  # the value of a numbers-only part, when it is a fraction
    approx: float | None  # the value of any numbers-only part (2**0.5 and exp(1) too)
    terms: int  # at most this many terms once multiplied out


_OPAQUE = _Facts(None, None, 1)  # a name, or anything of one: one term, no known value


def _log10(x: Fraction | float) -> float:  # of a nonzero number's size: negative for tiny ones
    if isinstance(x, Fraction):
        return math.log10(abs(x.numerator)) - math.log10(x.denominator)  # exact for huge ints too
    return math.log10(abs(x))


class _Measure:
    """Each node checked and measured; it gathers the `names`, functions `called` and numbers-only parts."""

    def __init__(self, text: str, functions: Sequence[str], shown: str):
        self.text, self.shown = text, shown
        self.functions = functions
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
            raise ExpressionError(
                f"{clip(self.shown)!r} nests more than {MAX_DEPTH} levels deep "
                f"(every operator, sign and call is a level: a sum of more than {MAX_DEPTH} terms is too deep)"
            )
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.not_allowed(f"the constant {clip(repr(node.value))}")
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise self.refuse(node, "is beyond the floats")
            if isinstance(node.value, int) and abs(node.value) > _LARGEST:  # compared, never printed: it may be huge
                raise self.refuse(node, _OUT_OF_RANGE)
            # A float means the decimal as typed: 0.1 is one tenth, 1e-12 is 10**-12.
            facts = self.bounded(node, _Facts(Fraction(repr(node.value)), float(node.value), 1))
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise self.not_allowed(f"the name {node.id!r}")
            self.names.add(node.id)
            facts = _OPAQUE
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in (*self.functions, "step"):
                shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise self.not_allowed(f"calling {clip(shown)!r} (allowed functions: {', '.join(self.functions)})")
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
        if facts.approx is not None and facts.approx != 0.0 and abs(_log10(facts.approx)) > MAX_MAGNITUDE:
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
        try:
            result = op(a, b)
        except (OverflowError, ZeroDivisionError):
            result = math.inf
        if isinstance(result, complex):
            raise self.refuse(node, "is not a real number (a negative number to a non-integer power)")
        if not math.isfinite(result):
            raise self.refuse(node, "is beyond the floats")
        return result

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
        b = base.exact if base.exact is not None else base.approx
        if b is None:  # a power of names: (a + b)**n multiplies out
            return _Facts(None, None, 1 if n is None else power_terms(base.terms, n))
        if b == 0 and e < 0:
            raise self.refuse(node, "divides by zero (0 to a negative power)")
        if b < 0 and n is None:
            raise self.refuse(node, "is not a real number (a negative number to a non-integer power)")
        if b != 0 and abs(e * _log10(b)) > MAX_MAGNITUDE + 1:  # before computing it: 999**999 would take a while
            raise self.refuse(node, _OUT_OF_RANGE)
        if n is not None and base.exact is not None:
            digits = abs(e) * math.log10(max(abs(base.exact.numerator), base.exact.denominator))
            if digits > MAX_FRACTION_DIGITS + 1:  # (12345/12346)**1000 is near 1, with 4000 digits
                raise self.refuse(node, _TOO_PRECISE)
            return self.bounded(node, _Facts(base.exact**n, None, 1))
        return self.bounded(node, _Facts(None, self.float_op(node, pow, float(b), e), 1))


class NamedNumber(NamedTuple):
    value: float
    meaning: str


#: Names that are numbers wherever nothing else has that name (a program that assigns ``e`` makes it its own).
NAMED_NUMBERS = {"e": NamedNumber(math.e, "Euler's number"), "pi": NamedNumber(math.pi, "the number pi")}

# Keyed by the leaf itself (Values hash by identity), weakly: an entry goes with its graph.
_TYPED: WeakKeyDictionary[Value, Fraction | str] = WeakKeyDictionary()


def constant(exact: Fraction | str) -> Value:
    """An unlabelled leaf holding the float nearest `exact` (a number, or a name in `NAMED_NUMBERS`)."""
    leaf = Value(NAMED_NUMBERS[exact].value if isinstance(exact, str) else float(exact))
    _TYPED[leaf] = exact
    return leaf


def typed(leaf: Value) -> Fraction | str | None:
    """What `leaf` was typed as, if `constant` made it."""
    return _TYPED.get(leaf)


#: A program is read by a person: a few dozen lines.  Each line is bounded by the parser.
MAX_STATEMENTS = 200
_ASSIGNMENT = re.compile(r"^\s*(?P<name>[^=]+?)\s*=(?!=)\s*(?P<expression>.+?)\s*$", re.S)


class ProgramError(ExpressionError):
    """The text is not a program microgrid accepts."""


class Program(dict):
    """{name: Value}, leaves and assignments in the order they appear; `output` is the last assignment."""

    output: Value

    def __repr__(self) -> str:
        return f"Program({', '.join(self)}; output {self.output.label})"


def _assignments(text: str) -> list[tuple[str, str, str]]:
    """(statement, label, expression text) of each assignment; a label is read as Python reads a name."""
    if not isinstance(text, str):
        raise ProgramError(f"program: expected a str, got {type(text).__name__}")
    statements = [s.strip() for s in re.split(r"[;\n]", text) if s.strip()]
    if not statements:
        raise ProgramError('program: no assignment (write e.g. "z = w*x + b; C = z**2")')
    if len(statements) > MAX_STATEMENTS:
        raise ProgramError(f"program: {len(statements)} statements, more than {MAX_STATEMENTS}")
    found = []
    for statement in statements:
        match = _ASSIGNMENT.match(statement)
        if match is None:
            raise ProgramError(f"program: {statement!r} is not an assignment (name = expression)")
        name = normal_name(match["name"])
        if not (match["name"].isidentifier() and not name.startswith("_")) and parse_textbook(name) is None:
            raise ProgramError(
                f"program: {statement!r}: the left side must be a name (x, z1, a^(1)_0), got {match['name']!r}"
            )
        found.append((statement, name, match["expression"]))
    return found


def program(text: str, at: Mapping[str, float] | None = None, seed: int = 0) -> Program:
    """The Values a program defines; `at` gives leaf values (a name never read is refused: a typo), the others
    are drawn from [0.1, 0.9] with `seed`."""
    assignments = _assignments(text)
    assigned_anywhere = {to_identifier(label) for _, label, _ in assignments}
    given, at = at or {}, {}  # `at`, its names read as Python reads them
    for name, value in given.items():
        key = normal_name(name)
        if key in at:
            raise ProgramError(f"program: --at gives {key} twice ({name!r} is {key!r} as Python reads it)")
        if key in NAMED_NUMBERS and key not in assigned_anywhere:
            raise ProgramError(
                f"program: {key} is {NAMED_NUMBERS[key].meaning} in this program (it is never assigned), so it takes "
                f"no --at value; to make {key} a variable, assign it (e.g. {key} = {value!r})"
            )
        at[key] = value
    rng = random.Random(seed)
    values = Program()
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
    values.output = node
    return values


def _typo(values: Program, output: Value) -> None:
    """Refuse a program whose output lost leaves to a misspelt name: ``a = tanh(zz)`` after ``z = w*x``."""
    reached = set(topological_order(output))
    lost = [name for name, v in values.items() if v._op is None and v not in reached]
    read = [name for name, v in values.items() if v._op is None and v in reached]
    for name in (name for name, v in values.items() if v._op is not None and v not in reached):
        if lost and (close := difflib.get_close_matches(name, read, n=1)):
            raise ProgramError(
                f"program: {output.label} does not depend on {', '.join(lost)}: {name} is never used "
                f"(did you mean {close[0]} → {name}?)"
            )
