"""The command line's arguments as typed, where argparse alone would read an expression that starts with a minus as
an option, let ``--at`` take the claims after it, and round ``1e-400`` to 0."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence

__all__ = ["EXPRESSION_COMMANDS", "parse_at", "positionals_last"]


def parse_at(items: Sequence[str]) -> dict[str, float]:
    """``--at``'s values by name (NFKC, as Python reads names); a float that would round to 0 or inf is refused.

    >>> parse_at(["x=1", "w=-0.5"])
    {'x': 1.0, 'w': -0.5}
    """
    from .symbolic.parsing import normal_name

    values: dict[str, float] = {}
    for item in items or []:
        name, equals, text = item.partition("=")
        name = normal_name(name.strip())
        if not equals or not name:
            raise ValueError(f"--at {item!r}: expected NAME=VALUE with a number as the value (NAME=NUMBER), e.g. x=0.5")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--at {item!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"--at {item!r}: the value must be finite (a float holds up to about 1.8e308)")
        if abs(value) < sys.float_info.min and any(ch in "123456789" for ch in text.lower().partition("e")[0]):
            raise ValueError(
                f"--at {item!r}: {text.strip()} is too small for a float to hold in full (it would be {value!r}); "
                f"a float holds sizes from {sys.float_info.min!r} up, and 0"
            )
        if name in values:
            raise ValueError(f"--at gives {name} twice")
        values[name] = value
    return values


#: The subcommands whose positionals are expressions (which may start with a minus) and whose --at takes many values.
EXPRESSION_COMMANDS = ("draw", "derive", "check")
_AT_ITEM = re.compile(r"^[^=\s]+=(?P<value>[^=\s]*)$")  # NAME=VALUE, one word


def positionals_last(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """`argv` with the positionals after ``--``, in order: an option is one of the subcommand's own, ``--at`` takes
    the word after it and then NAME=NUMBER words, and every other argument is positional, whatever it starts with.

    >>> from microgrid.cli import build_parser
    >>> positionals_last(["draw", "-x*w", "--at", "x=1", "w=2"], build_parser())
    ['draw', '--at', 'x=1', 'w=2', '--', '-x*w']
    >>> positionals_last(["draw", "--x", "--at", "x=1", "-o", "g.svg"], build_parser())
    ['draw', '--at', 'x=1', '-o', 'g.svg', '--', '--x']
    >>> positionals_last(["check", "y = x**2", "-(-2*x)", "--at", "x=2", "3*x", "--wrt", "x"], build_parser())
    ['check', '--at', 'x=2', '--wrt', 'x', '--', 'y = x**2', '-(-2*x)', '3*x']
    """
    argv = list(argv)
    if not argv or argv[0] not in EXPRESSION_COMMANDS:
        return argv
    takes_value = _options_of(parser, argv[0])
    options, positionals, rest = [argv[0]], [], argv[1:]
    while rest:
        token = rest.pop(0)
        if token == "--":  # the user's own: everything after it is positional
            positionals += rest
            break
        option, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        count = takes_value.get(option)
        if count == "many":
            values = [value] if equals else []
            while rest and rest[0] not in takes_value and _is_at_item(rest[0], first=not values):
                values.append(rest.pop(0))
            options += [option, *values]
        elif count is not None:
            options.append(token)
            if count == "one" and not equals and rest:
                options.append(rest.pop(0))  # its value, as it is
        else:
            positionals.append(token)
    return [*options, "--", *positionals] if positionals else options


def _is_at_item(token: str, first: bool) -> bool:
    """Is `token` a value of ``--at``: NAME=NUMBER, or, right after ``--at``, any one word?"""
    if first:
        return bool(token) and not any(ch.isspace() for ch in token)
    if (match := _AT_ITEM.match(token)) is None:
        return False
    try:
        float(match["value"])
    except ValueError:
        return False
    return True


def _options_of(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """Each option string of `command`: "none", "one" or "many" values."""
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    actions = subcommands.choices[command]._actions  # argparse keeps no public list of them
    count = {0: "none", None: "one"}
    return {string: count.get(action.nargs, "many") for action in actions for string in action.option_strings}
