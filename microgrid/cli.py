"""The `microgrid` command line (``demo | draw | derive | check``): the only module that prints.

Each subcommand imports the module that owns its work lazily (``microgrid --help`` stays instant). Arguments are read
as typed: argparse alone takes ``-x*w`` for an option, lets ``--at`` take the claims after it, rounds 1e-400 to 0."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, engine
from ._extras import MissingExtraError
from .engine import Value
from .names import normal_name

#: `microgrid check`'s exit status for each verdict (2 is a malformed claim or usage).
CHECK_STATUS = {"correct": 0, "incorrect": 1, "unproven": 3, "unreadable": 2}
_INPUT_ERRORS = (ValueError, TypeError, ArithmeticError, KeyError, RecursionError)  # and a formula too deep
#: The subcommands whose positionals are expressions (which may start with a minus) and whose --at takes many values.
EXPRESSION_COMMANDS = ("draw", "derive", "check")
_AT_ITEM = re.compile(r"^[^=\s]+=(?P<value>[^=\s]*)$")  # NAME=VALUE, one word


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microgrid", description="A scalar autograd engine for learning backprop.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = _command(commands, demo_command, (ValueError, OSError), help="train micrograd's moons MLP and save plots")
    demo.add_argument("--steps", type=int, default=100, help="optimisation steps (default 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed for data and weights (default 1337)")
    demo.add_argument("--output", "-o", default="demo-output", help="folder for the plots (default demo-output)")
    demo.add_argument("--eager", action="store_true", help="train with the eager engine, not one compiled batch step")

    draw = _command(commands, draw_command, (), help="draw an expression's graph after backward()")
    draw.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    _add_at(draw, "values of the names")
    draw.add_argument("--output", "-o", default="graph.svg", help="file to write (.svg or .dot)")
    draw.add_argument("--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"])
    draw.add_argument("--gradient-flow", action="store_true", help="edge width and colour by gradient size")
    draw.add_argument("--explain", action="store_true", help="also print the backward pass step by step")

    derive = _command(
        commands,
        derive_command,
        _INPUT_ERRORS,
        help="derive a program, an MLP's backprop equations or a seed, step by step",
        epilog='examples: microgrid derive "z = w*x + b; a = tanh(z); C = (a - y)**2" --wrt w;  '
        "microgrid derive mlp 2 3 3 1 --activation sigmoid --loss mse;  microgrid derive sigmoid-cross-entropy",
    )
    derive.add_argument("name", nargs="?", metavar="PROGRAM|mlp|NAME", help="a program, mlp, or a built-in name")
    derive.add_argument("sizes", nargs="*", metavar="SIZE", help="for mlp: the layer sizes, inputs first (2 3 3 1)")
    derive.add_argument("--list", action="store_true", help="list the built-in derivations")
    derive.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    derive.add_argument("--wrt", help="for a program: the name to differentiate against")
    _add_at(derive, "for a program: values of its leaves")
    for option, layers in (("--activation", "hidden layers'"), ("--output-activation", "last layer's")):
        text = f"for mlp: the {layers} activation (default sigmoid)"
        derive.add_argument(option, default="sigmoid", choices=["sigmoid", "tanh", "relu", "linear"], help=text)
    derive.add_argument("--loss", default="mse", choices=["mse", "bce"], help="for mlp: the loss (default mse)")
    derive.add_argument("--seed", type=int, default=0, help="for mlp: random seed of weights and sample (default 0)")

    from .symbolic.seeds import SEEDS, seed_names  # no sympy: the names come from the seeds' programs

    known = "; ".join(f"{name}: {', '.join(seed_names(name))}" for name in SEEDS)
    check = _command(
        commands,
        check_command,
        _INPUT_ERRORS,
        help="check a hand derivation, line by line, against the engine",
        epilog="exit status: 0 correct (the difference simplifies to 0), 1 incorrect (a counterexample or a proof), "
        "2 malformed claim or usage error, 3 unproven (equal at every sampled point, but not proved); with several "
        "lines, the first line's that is not correct. Built-in derivations and the names each knows (textbook or "
        f"identifier spelling): {known}. Ctrl-C stops the check at once, with exit status 130.",
    )
    check.add_argument("name", metavar="PROGRAM|NAME", help="a program, or a built-in derivation (see derive --list)")
    check.add_argument("claims", nargs="+", metavar="CLAIM", help='the lines, with the labels as names, e.g. "A - y"')
    check.add_argument("--wrt", help="the name differentiated against (a built-in's default: its main one)")
    _add_at(check, "for a program: values of its leaves")
    return parser


def _command(commands: Any, handler: Any, refused: tuple[type[Exception], ...], **texts: str) -> Any:
    """The subcommand `handler` runs: its docstring is the description; `main` refuses `refused` in one line."""
    name = handler.__name__.removesuffix("_command")
    abbreviate = name not in EXPRESSION_COMMANDS  # where an argument may start with a minus, "--e" is minus minus e
    command = commands.add_parser(name, allow_abbrev=abbreviate, description=handler.__doc__, **texts)
    command.set_defaults(handler=handler, refused=refused)
    return command


def _add_at(command: argparse.ArgumentParser, help: str) -> None:
    command.add_argument("--at", nargs="*", action="extend", default=[], metavar="NAME=VALUE", help=help)


def parse_at(items: Sequence[str]) -> dict[str, float]:
    """``--at``'s values by name (NFKC, as Python reads names); a float that would round to 0 or inf is refused.

    >>> parse_at(["x=1", "w=-0.5"])
    {'x': 1.0, 'w': -0.5}
    """
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


def positionals_last(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """`argv` with the positionals after ``--``, in order: an option is one of the subcommand's own, ``--at`` takes
    the word after it and then NAME=NUMBER words, and every other argument is positional, whatever it starts with.

    >>> positionals_last(["draw", "-x*w", "--at", "x=1", "w=2"], build_parser())
    ['draw', '--at', 'x=1', 'w=2', '--', '-x*w']
    >>> positionals_last(["check", "y = x**2", "-(-2*x)", "--at", "x=2", "3*x", "--wrt", "x"], build_parser())
    ['check', '--at', 'x=2', '--wrt', 'x', '--', 'y = x**2', '-(-2*x)', '3*x']
    """
    argv = list(argv)
    if not argv or argv[0] not in EXPRESSION_COMMANDS:
        return argv
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    actions = subcommands.choices[argv[0]]._actions  # argparse keeps no public list of them
    nargs = {string: action.nargs for action in actions for string in action.option_strings}  # 0, None (one) or "*"
    options, positionals, rest = [argv[0]], [], argv[1:]
    while rest:
        token = rest.pop(0)
        if token == "--":  # the user's own: everything after it is positional
            positionals += rest
            break
        option, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if option not in nargs:
            positionals.append(token)
        elif nargs[option] == "*":
            values = [value] if equals else []
            while rest and rest[0] not in nargs and _is_at_item(rest[0], first=not values):
                values.append(rest.pop(0))
            options += [option, *values]
        else:
            options.append(token)
            if nargs[option] is None and not equals and rest:
                options.append(rest.pop(0))  # its value, as it is
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


def _fail(command: str, error: BaseException | str, status: int = 2) -> int:
    """Print the one line that says why `command` did nothing; return its exit status."""
    message = str(error).removeprefix(f"{command}: ") or type(error).__name__
    print(f"microgrid {command}: {message}", file=sys.stderr)
    return status


def demo_command(args: argparse.Namespace) -> int:
    """Train micrograd's two-moons MLP, save the model and its plots, and say what was done."""
    from .nn import demo
    from .replay import compile

    print(demo.describe(args.steps, args.seed))
    result = demo.run(args.steps, args.seed, args.output, draw=_draw, compile=None if args.eager else compile)
    how = "the eager engine" if args.eager else "one compiled batch step per SGD step (--eager: the engine)"
    print(f"trained in {result.seconds:.2f} s with {how}")
    print(f"final loss {result.history.loss[-1]:.4f}, training accuracy {result.accuracy:.0%}")
    for path in result.written.values():
        print(f"saved {path}")
    for path, problem in result.skipped.items():
        print(f"skipped {path}: {problem}")
    return 0


def _draw(root: Value, **options: Any) -> Any:  # imported only when the demo draws: training needs no graphviz
    from .drawing.display import draw

    return draw(root, **options)


def draw_command(args: argparse.Namespace) -> int:
    """Draw EXPRESSION's graph after backward() to an SVG or DOT file: status 0, 2 for bad input, 1 if not written."""
    from .drawing import RendererUnavailableError, RenderFailedError, RenderTimeoutError, draw, explain_backward

    output = Path(args.output)
    try:
        root, leaves = _evaluated_with_gradients(args, output)
        draw(root, rankdir=args.rankdir, gradient_flow=args.gradient_flow).save(output)
    except (RendererUnavailableError, RenderFailedError) as error:
        return _fail("draw", f"error: {error}", 1)
    except RenderTimeoutError as error:
        graph = f"the graph of {args.expression.strip()!r}"
        dot = f"write the DOT text (-o {output.with_suffix('.dot').name}) and render it elsewhere"
        why = f"Graphviz did not finish laying out {graph} within {error.time_limit:g} s, and was stopped"
        return _fail("draw", f"error: {why}: draw a smaller expression, or {dot}", 1)
    except OSError as error:
        return _fail("draw", f"error: cannot write {str(output)!r}: {error.strerror or error}", 1)
    except (ValueError, ArithmeticError) as error:  # the parser's, the engine's and draw_dot's; not a bug's
        return _fail("draw", f"error: {error}")
    grads = ", ".join(f"d{root.label}/d{name} = {leaf.grad:.6g}" for name, leaf in leaves.items())
    print(f"{root.label} = {args.expression.strip()} = {root.data:.6g}; {grads}; wrote {output}")
    if args.explain:
        print(explain_backward(root))
    return 0


def _evaluated_with_gradients(args: argparse.Namespace, output: Path) -> tuple[Value, dict[str, Value]]:
    """The expression as a Value after ``backward()``, and its named leaves (or ValueError, ArithmeticError)."""
    from .symbolic.parsing import parse

    if output.suffix.lower() not in (".svg", ".dot", ".gv"):
        raise ValueError(f"--output {args.output!r}: use a .svg or .dot file name")
    expression, at = parse(args.expression), parse_at(args.at)
    if unused := sorted(set(at) - expression.names):
        raise ValueError(f"--at gives {', '.join(unused)}, which {args.expression!r} does not use")
    if missing := sorted(expression.names - set(at)):
        raise ValueError(f"no value for {', '.join(missing)}: add --at " + " ".join(f"{n}=..." for n in missing))
    if not expression.names:
        raise ValueError(f'{args.expression!r} has no names to differentiate: write e.g. "x*2" --at x=3')
    leaves = {name: Value(value, label=name) for name, value in at.items()}
    root = expression.evaluate(leaves, engine.OPS)
    if not root.label:  # name the output, for the drawing and the explain table: f, or one the expression leaves free
        candidates = itertools.chain(("f", "out", "y", "result"), (f"f{i}" for i in itertools.count(1)))
        root.label = next(name for name in candidates if name not in expression.names)
    root.backward()
    return root, leaves


def derive_command(args: argparse.Namespace) -> int:
    """The chain-rule derivation of a program's output (--wrt NAME), the four backprop equations of an MLP
    (mlp SIZES...), or a built-in seed derivation (see --list)."""
    from .symbolic import seeds

    if args.list:
        width = max(map(len, seeds.SEEDS))
        _say("\n".join(f"{name:<{width}}  {seed.summary}" for name, seed in seeds.SEEDS.items()))
    elif not args.name:
        raise ValueError("give a program and --wrt, mlp and the layer sizes, or a built-in name (see --list)")
    elif args.name == "mlp":
        from .network_equations import backprop_equations, refuse_large
        from .nn import MLP

        try:
            sizes = [int(s) for s in args.sizes]
        except ValueError:
            raise ValueError(f"mlp: the layer sizes must be whole numbers, got {' '.join(args.sizes)}") from None
        if len(sizes) < 2:
            raise ValueError("mlp: give the layer sizes, inputs first: mlp 2 3 3 1")
        activations = {"activation": args.activation, "output_activation": args.output_activation}
        refuse_large(MLP._check_shape(nin=sizes[0], nouts=sizes[1:], **activations), f"mlp {' '.join(args.sizes)}")
        equations = backprop_equations(MLP(sizes[0], sizes[1:], **activations, seed=args.seed), args.loss)
        verified = f"verified: {equations.verify()} instances agree with the engine's reverse pass"
        _say(f"{equations.latex() if args.latex else equations}\n{verified}")
    elif args.sizes:
        raise ValueError(f"unexpected arguments {' '.join(args.sizes)!r} (layer sizes go after mlp)")
    else:
        derivation = _program_or_seed(args)
        if not hasattr(derivation, "check_lines"):  # a program, not a built-in derivation
            from .symbolic.chainrule import derive

            at = parse_at(args.at) if args.at else None
            derivation = derive(derivation.output, args.wrt, at=at, constraints=derivation.constraints)
        _say(derivation.latex() if args.latex else str(derivation))
    return 0


def _program_or_seed(args: argparse.Namespace) -> Any:
    from .symbolic import seeds

    if args.name in seeds.SEEDS:
        options = "--at" if args.command == "check" else "--wrt or --at"
        if args.at or (args.wrt and args.command == "derive"):
            raise ValueError(f"{args.name} is a built-in derivation: it takes no {options}")
        from .symbolic.chainrule import get

        return get(args.name)
    if "=" not in args.name:
        mlp = "" if args.command == "check" else ", mlp SIZES..."
        raise ValueError(
            f"unknown derivation {args.name!r}: give a program (name = formula; ...) and --wrt{mlp}, "
            f"or one of: {', '.join(seeds.SEEDS)}"
        )
    if not args.wrt:
        raise ValueError("name the variable to differentiate against with --wrt (e.g. --wrt x)")
    from .symbolic.parsing import program

    return program(args.name, parse_at(args.at))


def check_command(args: argparse.Namespace) -> int:
    """Check each line of a hand derivation of d(output)/d(WRT) against the engine's derivative, in order: a table,
    and the first line that goes wrong. PROGRAM is a program ("s = log(1 + exp(x))") or a built-in derivation."""
    from .symbolic.checker import check_lines, first_wrong

    subject = _program_or_seed(args)
    if not hasattr(subject, "check_lines"):  # a program
        if subject.constraints:
            raise ValueError("check proves a claim for every value of the leaves: leave out the assume lines")
        verdicts = check_lines(subject.output, args.wrt, args.claims)
    else:
        verdicts = subject.check_lines(args.claims, args.wrt)
    wrong = first_wrong(verdicts)
    _say(str(verdicts[0]) if len(verdicts) == 1 else _lines_table(args.claims, verdicts, wrong))
    return 0 if wrong is None else CHECK_STATUS[verdicts[wrong - 1].status]  # the verdict, read or not


def _lines_table(claims: Sequence[str], verdicts: Sequence[Any], wrong: int | None) -> str:
    """Notebook 02's table in text: each line and its verdict, then the first wrong line's details."""
    width = max(len(c) for c in claims)
    rows = [f"{'line':>4}  {'claim':<{width}}  verdict"]
    rows += [f"{i:>4}  {c:<{width}}  {v.status}" for i, (c, v) in enumerate(zip(claims, verdicts, strict=True), 1)]
    if wrong is None:
        return "\n".join([*rows, "every line is correct"])
    rows.append(f"line {wrong} is the first that is not proved correct:")
    rows += ["  " + line for line in str(verdicts[wrong - 1]).splitlines()]
    return "\n".join(rows)


def _say(text: str) -> None:
    """Print `text` now; a reader that has gone (``| head``) is no error: the command still returns its status."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _reader_gone()


def _reader_gone() -> None:  # stdout to devnull, so that no later write, nor Python's final flush, raises again
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(positionals_last(sys.argv[1:] if argv is None else argv, parser))
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command in ("check", "derive"):  # sympy's worker: its server loads sympy while this process does
            from .symbolic import worker

            worker.start()
        return int(args.handler(args))
    except KeyboardInterrupt:  # Ctrl-C: the work is stopped (a symbolic worker is killed as it is interrupted)
        print("microgrid: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error
        _reader_gone()
        return 0
    except (MissingExtraError, *args.refused) as error:  # bad input, or an extra to install (derive without sympy)
        return _fail(args.command, error)
