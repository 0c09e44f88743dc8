"""Notation: what a learner types (``2(a − y)·σ'(z)·x``, ``\\frac{\\partial C}{\\partial w}``), as Python reads it.

>>> notation("2(a − y)·σ'(z)·x")
'2*(a - y)*(sigmoid(z)*(1 - sigmoid(z)))*x'
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from ..engine import OPS


class _EngineFunctions(Sequence[str]):
    """The names of the engine's public one-operand ops (`OPS`), as registered now."""

    def __getitem__(self, index):
        return tuple(name for name, op in OPS.items() if op.by_name and op.arity == 1)[index]

    def __len__(self) -> int:
        return len(self[:])


#: The function names an expression may call: the engine's operations (one defined later too).
ENGINE_FUNCTIONS: Sequence[str] = _EngineFunctions()


MAX_LENGTH = 2000  # characters of an expression


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
_TOKENS = {
    False: re.compile(_PLAIN, re.S),
    True: re.compile(rf"(?P<atom>{DERIVATIVE.pattern}|{_LABEL})|{_PLAIN}", re.S),
}
_ALIASES = {"σ": "sigmoid", "sigma": "sigmoid", "ln": "log"}
#: The derivative of each function at X: what ``sigma'(z)`` means.
PRIMES = {"sigmoid": "sigmoid(X)*(1 - sigmoid(X))", "tanh": "1 - tanh(X)**2", "relu": "step(X)", "exp": "exp(X)"}
PRIMES |= {"log": "1/(X)", "sin": "cos(X)", "cos": "-sin(X)"}
_PRODUCT = "write `2*(a - y)` or `2(a - y)`"
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
            plain = inner if inner.isidentifier() else wrapped
            power = "^" + inner if inner.startswith("(") else f"**({inner})"  # ^{(L)}: a textbook label's layer
            new = {"": plain, "_": "_" + inner, "^": power}.get(before, f"({wrapped}**(1/2))")
        text = text[: match.start()] + new + text[match.end() :]
    return text


def notation(text: str, labels: bool = True, functions: Sequence[str] = ENGINE_FUNCTIONS) -> str:
    """`text` as Python reads it (products as typed, ``^``, ``σ'(z)``, ``·``, ``²``, LaTeX); derivatives and textbook
    labels kept for the names to read them (with `labels`).  Unreadable: an `ExpressionError` showing where.

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
    tokens = [(m.lastgroup, m[0], m.start()) for m in _TOKENS[labels].finditer(source)]
    pieces: list[tuple[str | tuple[str], str, int]] = []  # (text or (primed function,), probe text, where)
    value_before = False
    for i, (kind, token, where) in enumerate(tokens):
        after = next((t for k, t, _ in tokens[i + 1 :] if k != "space"), "")
        if kind == "name" and after in ("(", "'"):
            token = _ALIASES.get(token, token)
        call = kind == "name" and after in ("(", "'") and token in {*functions, "step"}
        if kind == "name" and after == "(" and not call and token.isalpha() and len(token) > 1:
            # A word before "(" is a function the user means, never silently a product with a leaf.
            known = ", ".join(sorted(functions))
            hint = f"to multiply, write `{token}*(…)`; a function of your own is added with define_op"
            raise NotationError(shown, where, f"{token} is not a function (functions: {known})", hint)
        if token == "'":
            primed = pieces[-1][1] if pieces else ""
            if after != "(" or primed not in PRIMES:
                raise NotationError(shown, where, "a ' is not allowed here", _PRIME)
            pieces[-1] = ((primed,), primed, pieces[-1][2])
            continue
        if token in "[]{}" and kind == "op":
            raise NotationError(shown, where, f"{token} is not a bracket here", _PRODUCT)
        if token == "=":
            right = shown[where + 1 :].strip()
            raise NotationError(
                shown, where, "this is one formula, not an equation", f"write the right side: `{right}`"
            )
        starts = kind in ("number", "name", "atom") or token == "("
        if starts and value_before:
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
        at, where = 0, len(source)
        for _, part, start in pieces:
            at += len(part)
            if at >= (error.offset or 1) + len(probe) - len(probe.lstrip()):
                where = start
                break
        unclosed = source.count("(") != source.count(")")
        reason = "a ( is never closed, or a ) never opened" if unclosed else error.msg
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
