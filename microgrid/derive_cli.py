"""`microgrid derive` and `microgrid check` for programs, built-in seeds and MLPs.

    microgrid derive "z = w*x + b; a = tanh(z); C = (a - y)**2" --wrt w [--latex] [--at x=1 ...]
    microgrid derive mlp 2 3 3 1 [--activation sigmoid] [--loss mse] [--latex]
    microgrid derive NAME                      (a built-in seed, as before)
    microgrid check PROGRAM --wrt w "claim" ["claim" ...]

`check` with several claims reads them as the lines of a hand derivation
and checks each in order; the table says which line first goes wrong, and
the exit status is that line's (0 all correct, 1 incorrect, 3 unproven, 2
malformed).  Names may be typed as the textbook writes them (``a^(L-1)_2``,
``w^(1)_0,0``, ``delta^(2)_0`` / ``δ`` where a network defines it) or as
identifiers (``w1_0_0``): one rule, `microgrid.labels.resolve`, everywhere.
"""

from __future__ import annotations

import sys
from typing import Sequence

import sympy

from .engine import Value, topological_order
from .expression import ExpressionError
from .labels import NameLookupError, parse_textbook, resolve, textbook, with_identifiers
from .symbolic import Verdict, check, diff, parse_claim, symbol

__all__ = ["check_lines", "claim_expression", "command_derive", "command_check", "parse_at", "CHECK_STATUS"]

CHECK_STATUS = {"correct": 0, "incorrect": 1, "unproven": 3}
_ERRORS = (ExpressionError, NameLookupError, ValueError, TypeError, ArithmeticError, KeyError)


def _deltas(output: Value) -> dict[str, Value]:
    """{delta^(l)_j: its z node} for each textbook weighted sum in the graph."""
    found = {}
    for node in topological_order(output):
        parsed = parse_textbook(node.label) if node.label else None
        if parsed is not None and parsed[0] == "z":
            found[textbook("delta", parsed[1], *parsed[2])] = node
    return found


def claim_expression(claim: str, output: Value, aliases: dict[str, str] | None = None) -> sympy.Expr:
    """A typed claim as a formula in the graph's labels: textbook spellings
    and ``delta^(l)_j`` (= dC/dz^(l)_j, written out by the engine) allowed."""
    labels = [n.label for n in topological_order(output) if n.label]
    deltas = _deltas(output)
    text, names = with_identifiers(claim, labels + list(deltas), aliases)
    expression = parse_claim(text, {name: symbol(label) for name, label in names.items()})
    definitions = {symbol(d): diff(output, z, simplify=False) for d, z in deltas.items() if symbol(d) in expression.free_symbols}
    return expression.xreplace(definitions)


def check_lines(output: Value, wrt: Value | str, claims: Sequence[str], aliases: dict[str, str] | None = None) -> list[Verdict]:
    """Each claim (a line of a hand derivation of d(output)/d(wrt)) checked, in order.

    >>> from microgrid.programs import program
    >>> p = program("s = log(1 + exp(x))")
    >>> [v.status for v in check_lines(p.output, "x", ["exp(x)/(1 + exp(x))", "sigmoid(x)", "exp(x)"])]
    ['correct', 'correct', 'incorrect']
    """
    labels = [n.label for n in topological_order(output) if n.label]
    node = wrt if isinstance(wrt, Value) else resolve(wrt, labels, aliases, where="check")
    return [check(claim_expression(claim, output, aliases), output, node) for claim in claims]


def _table(claims: Sequence[str], verdicts: list[Verdict]) -> str:
    width = max(len(c) for c in claims)
    rows = [f"{'line':>4}  {'claim':<{width}}  verdict"]
    rows += [f"{i:>4}  {c:<{width}}  {v.status}" for i, (c, v) in enumerate(zip(claims, verdicts), 1)]
    wrong = next((i for i, v in enumerate(verdicts, 1) if not v.correct), None)
    rows.append("every line is correct" if wrong is None else f"line {wrong} is the first that is not proved correct:")
    if wrong is not None:
        rows += ["  " + line for line in str(verdicts[wrong - 1]).splitlines()]
    return "\n".join(rows)


def parse_at(pairs: Sequence[str]) -> dict[str, float]:
    """``["x=1", "w=-0.5"]`` -> {"x": 1.0, "w": -0.5}; a clear error otherwise."""
    values = {}
    for pair in pairs or []:
        name, equals, number = pair.partition("=")
        try:
            values[name.strip()] = float(number)
        except ValueError:
            equals = ""
        if not equals or not name.strip():
            raise ValueError(f"--at: expected NAME=NUMBER, got {pair!r}")
    return values


def _fail(command: str, error: BaseException | str) -> int:
    print(f"microgrid {command}: {str(error).removeprefix(command + ': ')}", file=sys.stderr)
    return 2


def command_derive(args) -> int:
    """``microgrid derive PROGRAM --wrt NAME | mlp SIZES... | NAME`` (see the module)."""
    from . import derivations

    if getattr(args, "list", False) or (args.name in derivations.DERIVATIONS):
        return derivations.command_derive(args)
    try:
        if args.name == "mlp":
            return _derive_mlp(args)
        if not args.wrt:
            raise ValueError("name the variable to differentiate against with --wrt (e.g. --wrt w)")
        from .chainrule import derive
        from .programs import program

        result = derive(program(args.name, parse_at(args.at)).output, args.wrt)
    except _ERRORS as error:
        return _fail("derive", error)
    print(result.latex() if args.latex else result)
    return 0


def _derive_mlp(args) -> int:
    from .backprop import backprop_equations
    from .nn import MLP

    sizes = [int(s) for s in args.sizes]
    if len(sizes) < 2:
        raise ValueError("mlp: give the layer sizes, inputs first: mlp 2 3 3 1")
    model = MLP(sizes[0], sizes[1:], activation=args.activation, output_activation=args.output_activation, seed=args.seed)
    equations = backprop_equations(model, args.loss)
    count = equations.verify()
    print(equations.latex() if args.latex else equations)
    print(f"verified: {count} instances agree with the engine's reverse pass")
    return 0


def command_check(args) -> int:
    """``microgrid check PROGRAM|NAME --wrt NAME "claim" ["claim" ...]``: exit 0 when every
    line is proved, else the first failing line's status (1 incorrect, 3 unproven), 2 malformed."""
    from . import derivations

    claims = list(args.claims)
    try:
        if args.name in derivations.DERIVATIONS:
            seed = derivations.get(args.name)
            output, aliases = seed.output, seed.aliases
            wrt = args.wrt or seed.main[1]
        else:
            from .programs import program

            if not args.wrt:
                raise ValueError("name the variable to differentiate against with --wrt (e.g. --wrt x)")
            output, aliases, wrt = program(args.name, parse_at(args.at)).output, None, args.wrt
        verdicts = check_lines(output, wrt, claims, aliases)
    except _ERRORS as error:
        return _fail("check", error)
    print(str(verdicts[0]) if len(claims) == 1 else _table(claims, verdicts))
    first = next((v for v in verdicts if not v.correct), None)
    return 0 if first is None else CHECK_STATUS[first.status]
