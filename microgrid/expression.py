"""A safe parser for the small expressions users type: ``tanh(x*w + b)``.

The text is parsed with Python's own parser (`ast`), then every node is
checked against a short allow-list: numbers, names, ``+ - * / **``, unary
minus, parentheses and calls of known function names.  Nothing is ever passed
to `eval`; anything else (attribute access, subscripts, ``__import__``, calls
of other names, keyword arguments, lambdas, comprehensions...) raises
`ExpressionError` naming what was refused.

The same parsed `Expression` is evaluated in different worlds by handing it
the objects to use for names and functions: engine Values for drawing,
sympy symbols for checking a hand derivation.

    >>> e = parse("tanh(x*w + b)")
    >>> sorted(e.names)
    ['b', 'w', 'x']
    >>> e.evaluate({"x": 0.5, "w": -1.0, "b": 2.0}, {"tanh": math.tanh})  # doctest: +ELLIPSIS
    0.905...
"""

from __future__ import annotations

import ast
import math  # the docstring example evaluates with math.tanh
import operator
from typing import Any, Callable, Mapping

__all__ = ["Expression", "ExpressionError", "parse", "ENGINE_FUNCTIONS"]

#: The function names an expression may call: the engine's operations.
ENGINE_FUNCTIONS = ("exp", "log", "tanh", "sigmoid", "relu", "sin", "cos")

MAX_LENGTH = 2000
MAX_EXPONENT = 1000  # larger powers of numbers make sympy compute huge integers

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: None,  # checked power, below
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_HINTS = {ast.BitXor: "use ** for powers, not ^"}


class ExpressionError(ValueError):
    """The text is not an expression microgrid accepts."""


class Expression:
    """A checked expression tree; `evaluate` it with your own names and functions."""

    def __init__(self, text: str, tree: ast.expr, names: frozenset, functions: frozenset):
        self.text = text
        self._tree = tree
        self.names = names
        self.functions = functions

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, names: Mapping[str, Any], functions: Mapping[str, Callable]) -> Any:
        """The expression's value with `names` bound to objects and `functions` to callables."""
        missing = sorted(self.names - set(names))
        if missing:
            raise ExpressionError(f"{self.text!r}: no value given for {', '.join(missing)}")
        unknown = sorted(self.functions - set(functions))
        if unknown:
            raise ExpressionError(f"{self.text!r}: unknown function {', '.join(unknown)}")
        return _Evaluator(names, functions).visit(self._tree)


def parse(text: str, functions: tuple[str, ...] = ENGINE_FUNCTIONS) -> Expression:
    """Parse `text`, refusing everything but numbers, names, arithmetic and `functions`."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ExpressionError(f"{text!r} is not a valid expression: {error.msg}") from None
    names: set[str] = set()
    called: set[str] = set()
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if id(node) not in callees:  # a called name is checked by its Call
            _check(node, text, functions, names, called)
    return Expression(text, tree, frozenset(names), frozenset(called))


def _check(node: ast.AST, text: str, functions: tuple[str, ...], names: set, called: set) -> None:
    def refuse(what: str) -> ExpressionError:
        return ExpressionError(f"{text!r}: {what} is not allowed")

    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            hint = _HINTS.get(type(node.op))
            raise refuse(f"the operator {type(node.op).__name__}" + (f" ({hint})" if hint else ""))
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise refuse(f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise refuse(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise refuse(f"the name {node.id!r}")
        names.add(node.id)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in functions:
            shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise refuse(f"calling {shown!r} (allowed functions: {', '.join(functions)})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise refuse(f"{node.func.id}(...) with other than one plain argument")
        called.add(node.func.id)
    elif isinstance(node, (ast.operator, ast.unaryop, ast.expr_context)):
        pass
    else:
        raise refuse(f"{type(node).__name__} ({ast.unparse(node) if isinstance(node, ast.expr) else ''})".strip())


class _Evaluator:
    def __init__(self, names: Mapping[str, Any], functions: Mapping[str, Callable]):
        self.names = names
        self.functions = functions

    def visit(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.visit(node.operand))
        if isinstance(node, ast.Call):
            return self.functions[node.func.id](self.visit(node.args[0]))
        # BinOp: the only other node `_check` lets through.
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow):
            return _checked_power(left, right)
        return _BINARY[type(node.op)](left, right)


def _checked_power(base: Any, exponent: Any) -> Any:
    try:
        too_big = abs(float(exponent)) > MAX_EXPONENT
    except TypeError:  # a symbolic exponent
        too_big = False
    if too_big:
        raise ExpressionError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    return base**exponent
