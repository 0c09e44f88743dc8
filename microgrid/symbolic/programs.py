"""Programs: definitions typed as assignments, ``z = w*x + b; a = sigmoid(z)``.

`program(text, at=None)` builds the graph with the engine and returns the
named Values.  Each right-hand side goes through the project's one safe
parser (`microgrid.symbolic.expression.parse`): never `eval`.  Each assignment labels
its node; a name never assigned is a leaf, with a sampled value unless `at`
gives one; the last assignment is the output.  Labels may be typed in the
textbook's spelling on either side (``a^(1)_0 = sigmoid(z^(1)_0)``, or
``z1_0`` on the right); a leaf typed so is labelled so (``w^(L)``).  Names
are read as Python reads them, on both sides (``ﬁ`` is ``fi``); ``e`` and
``pi`` are numbers unless the program assigns them.  Constants keep the
number typed (`microgrid.symbolic.constants`): ``1e23`` is 10**23 in formulas.

    >>> p = program("z = w*x + b; a = tanh(z); C = (a - y)**2", at={"w": 0.5})
    >>> p.output.label, p["w"].data, list(p)
    ('C', 0.5, ['w', 'x', 'b', 'z', 'a', 'y', 'C'])
"""

from __future__ import annotations

import random
import re
from typing import Mapping

from .. import engine
from ..engine import Value
from ..names import parse_textbook, textbook_spellings, to_identifier
from . import constants
from .constants import NAMED_NUMBERS
from .expression import ExpressionError, normal_name, parse, plain_number

__all__ = ["program", "Program", "ProgramError", "split_statements", "MAX_STATEMENTS"]

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


def split_statements(text: str) -> list[str]:
    """The statements of `text`, separated by ``;`` or newlines, blanks dropped."""
    if not isinstance(text, str):
        raise ProgramError(f"program: expected a str, got {type(text).__name__}")
    return [s.strip() for s in re.split(r"[;\n]", text) if s.strip()]


def _target(name: str, statement: str) -> str:
    """The label an assignment's left side gives, read as Python reads a name (`normal_name`)."""
    if name.isidentifier() and not normal_name(name).startswith("_"):
        return normal_name(name)
    if parse_textbook(normal_name(name)) is not None:
        return normal_name(name)
    raise ProgramError(f"program: {statement!r}: the left side must be a name (x, z1, a^(1)_0), got {name!r}")


def _assignments(statements: list[str]) -> list[tuple[str, str, str]]:
    """(statement, label, expression text) of each assignment."""
    found = []
    for statement in statements:
        match = _ASSIGNMENT.match(statement)
        if match is None:
            raise ProgramError(f"program: {statement!r} is not an assignment (name = expression)")
        found.append((statement, _target(match["name"], statement), match["expression"]))
    return found


def _leaf_values(at: Mapping[str, float] | None, assigned: set[str]) -> dict[str, float]:
    """`at` with its names read as Python reads them; a value for a named number the program leaves a number is refused."""
    values: dict[str, float] = {}
    for name, value in (at or {}).items():
        key = normal_name(name)
        if key in values:
            raise ProgramError(f"program: --at gives {key} twice ({name!r} is {key!r} as Python reads it)")
        if key in NAMED_NUMBERS and key not in assigned:
            raise ProgramError(
                f"program: {key} is {NAMED_NUMBERS[key].meaning} in this program (it is never assigned), so it takes "
                f"no --at value; to make {key} a variable, assign it (e.g. {key} = {value!r})"
            )
        values[key] = value
    return values


def program(text: str, at: Mapping[str, float] | None = None, seed: int = 0) -> Program:
    """The Values a program defines (see the module); `at` gives leaf values,
    the others are drawn from [0.1, 0.9] with `seed` (names in `at` that the
    program never reads are refused, so a typo is not silently ignored)."""
    statements = split_statements(text)
    if not statements:
        raise ProgramError("program: no assignment (write e.g. \"z = w*x + b; C = z**2\")")
    if len(statements) > MAX_STATEMENTS:
        raise ProgramError(f"program: {len(statements)} statements, more than {MAX_STATEMENTS}")
    assignments = _assignments(statements)
    assigned_anywhere = {to_identifier(label) for _, label, _ in assignments}
    at = _leaf_values(at, assigned_anywhere)
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
        text, spelled = textbook_spellings(typed)
        expression = parse(text)
        names = dict(by_identifier)
        for leaf in sorted(expression.names - set(by_identifier), key=text.find):
            if leaf in NAMED_NUMBERS and leaf not in assigned_anywhere:
                names[leaf] = constants.constant(leaf)  # a number: no leaf of the program
                continue
            label = spelled.get(leaf, leaf)
            data = at.pop(label) if label in at else at.pop(leaf) if leaf in at else round(rng.uniform(0.1, 0.9), 3)
            by_identifier[leaf] = names[leaf] = values[label] = Value(data, label=label)
        # Each constant a leaf that remembers what was typed; an exponent stays a number (x ** 2 is the engine's x ** n).
        node = expression.evaluate(names, engine.OPS, number=constants.constant, exponent=plain_number)  # the table now
        if node.label:  # (a constant is an unlabelled leaf: it becomes a labelled one)
            raise ProgramError(f"program: {statement!r} only renames {node.label}; compute something, or use that name")
        node.label = name
        by_identifier[identifier] = values[name] = node
        assigned.add(identifier)
    if at:
        raise ProgramError(f"program: --at names {', '.join(sorted(at))}, which the program never reads")
    values.output = node
    return values
