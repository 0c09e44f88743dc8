"""The `microgrid` command line: ``microgrid demo | draw | derive | check``, ``--version``.

Each subcommand's work lives in the module that owns it, which returns
values or raises; this file declares the arguments, calls that work and
prints what it returns (the only module that prints), importing lazily so
that ``microgrid --help`` stays instant.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Sequence

from . import __version__, engine
from .cli_arguments import parse_at, positionals_last
from ._extras import MissingExtraError
from .engine import Value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgrid",
        description="A scalar autograd engine for learning backpropagation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="train micrograd's moons MLP and save plots")
    demo.add_argument("--steps", type=int, default=100, help="optimisation steps (default 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed for data and weights (default 1337)")
    demo.add_argument("--output", "-o", default="demo-output", help="folder for the plots (default demo-output)")
    demo.add_argument("--eager", action="store_true", help="train with the eager engine, not one compiled batch step")
    demo.set_defaults(handler="microgrid.cli:demo_command")

    # No abbreviated options where an argument may start with a minus: "--e" is minus minus e.
    draw = commands.add_parser("draw", help="draw an expression's graph after backward()", allow_abbrev=False)
    draw.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    draw.add_argument("--at", nargs="*", action="extend", default=[], metavar="NAME=VALUE", help="values of the names")
    draw.add_argument("--output", "-o", default="graph.svg", help="file to write (.svg or .dot)")
    draw.add_argument("--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"])
    draw.add_argument("--gradient-flow", action="store_true", help="edge width and colour by gradient size")
    draw.add_argument("--explain", action="store_true", help="also print the backward pass step by step")
    draw.set_defaults(handler="microgrid.cli:draw_command")

    add_derive_parser(commands)
    add_check_parser(commands)
    return parser


def demo_command(args: argparse.Namespace) -> int:
    """``microgrid demo``: train and save (`microgrid.nn.demo.run`), then print what was done."""
    from .nn import demo
    from .replay import compile

    try:
        print(demo.describe(args.steps, args.seed))
        result = demo.run(args.steps, args.seed, args.output, draw=_draw, compile=None if args.eager else compile)
    except (ValueError, OSError) as error:
        print(f"microgrid demo: {error}", file=sys.stderr)
        return 2
    how = "the eager engine" if args.eager else "one compiled batch step per SGD step (--eager: the engine)"
    print(f"trained in {result.seconds:.2f} s with {how}")
    print(f"final loss {result.history.loss[-1]:.4f}, training accuracy {result.accuracy:.0%}")
    for path in result.written.values():
        print(f"saved {path}")
    for path, problem in result.skipped.items():
        print(f"skipped {path}: {problem}")
    return 0


def _draw(root: Value, **options):
    """`microgrid.draw`, for the demo's neuron graph: imported when it draws, so
    that training and the plots need none of the drawing's packages."""
    from .drawing.display import draw

    return draw(root, **options)


# What `microgrid draw` reports as bad input: the parser's refusals (ExpressionError),
# the engine's, forward and backward (log(-1), 1/0, overflow, a derivative that is not a
# number), and draw_dot's (GraphTooLargeError) are all ValueErrors or ArithmeticErrors.
# Anything else is a bug, and keeps its traceback.
_REFUSALS = (ValueError, ArithmeticError)


def draw_command(args: argparse.Namespace) -> int:
    """``microgrid draw EXPRESSION --at NAME=VALUE ... -o graph.svg``.

    Returns 0; 2 for bad input (one line on stderr); 1 when the graph cannot
    be rendered or written.
    """
    from .drawing import RendererUnavailableError, RenderFailedError, RenderTimeoutError, draw

    def fail(message: str, status: int = 2) -> int:
        print(f"microgrid draw: error: {message}", file=sys.stderr)
        return status

    output = Path(args.output)
    try:
        root, leaves = _evaluated_with_gradients(args, output)
        draw(root, rankdir=args.rankdir, gradient_flow=args.gradient_flow).save(output)
    except (RendererUnavailableError, RenderFailedError) as error:
        return fail(str(error), 1)
    except RenderTimeoutError as error:
        return fail(
            f"Graphviz did not finish laying out the graph of {args.expression.strip()!r} within "
            f"{error.time_limit:g} s, and was stopped: draw a smaller expression, or write the DOT text "
            f"(-o {output.with_suffix('.dot').name}) and render it elsewhere",
            1,
        )
    except OSError as error:
        return fail(f"cannot write {str(output)!r}: {error.strerror or error}", 1)
    except _REFUSALS as error:
        return fail(str(error))
    grads = ", ".join(f"d{root.label}/d{name} = {leaf.grad:.6g}" for name, leaf in leaves.items())
    print(f"{root.label} = {args.expression.strip()} = {root.data:.6g}; {grads}; wrote {output}")
    if args.explain:
        from .drawing import explain_backward

        print(explain_backward(root))
    return 0


def _evaluated_with_gradients(args: argparse.Namespace, output: Path) -> tuple[Value, dict[str, Value]]:
    """The command's expression as a Value after ``backward()``, and its named leaves.

    Every refusal is a ValueError or an ArithmeticError (see `_REFUSALS`).
    """
    from .symbolic.parsing import parse

    if output.suffix.lower() not in (".svg", ".dot", ".gv"):
        raise ValueError(f"--output {args.output!r}: use a .svg or .dot file name")
    expression = parse(args.expression)
    at = parse_at(args.at)
    unused = sorted(set(at) - expression.names)
    if unused:
        raise ValueError(f"--at gives {', '.join(unused)}, which {args.expression!r} does not use")
    missing = sorted(expression.names - set(at))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}: add --at " + " ".join(f"{n}=..." for n in missing))
    if not expression.names:
        raise ValueError(f"{args.expression!r} has no names to differentiate: write e.g. \"x*2\" --at x=3")
    leaves = {name: Value(value, label=name) for name, value in at.items()}
    root = expression.evaluate(leaves, engine.OPS)
    if not root.label:  # name the output, for the drawing and the explain table
        root.label = _output_name(expression.names)
    root.backward()
    return root, leaves


def _output_name(taken: set[str]) -> str:
    """The first of f, out, y, result, f1, f2, ... that the expression does not use.

    >>> _output_name({"f", "out", "y", "result", "f1"})
    'f2'
    """
    candidates = itertools.chain(("f", "out", "y", "result"), (f"f{i}" for i in itertools.count(1)))
    return next(name for name in candidates if name not in taken)


# ------------------------------------------------------------ derive, check
#: `microgrid check`'s exit status for each verdict (2 is a malformed claim or usage).
CHECK_STATUS = {"correct": 0, "incorrect": 1, "unproven": 3}


def _builtin_names() -> str:
    from .symbolic.seeds import SEEDS

    return ", ".join(SEEDS)


def add_derive_parser(commands) -> None:
    derive = commands.add_parser(
        "derive",
        allow_abbrev=False,
        help="derive a program, an MLP's backprop equations or a seed, step by step",
        description="The chain-rule derivation of a program's output (--wrt NAME), the four backprop "
        "equations of an MLP (mlp SIZES...), or a built-in seed derivation (see --list).",
        epilog='examples: microgrid derive "z = w*x + b; a = tanh(z); C = (a - y)**2" --wrt w;  '
        "microgrid derive mlp 2 3 3 1 --activation sigmoid --loss mse;  microgrid derive sigmoid-cross-entropy",
    )
    derive.add_argument("name", nargs="?", metavar="PROGRAM|mlp|NAME", help='a program ("z = w*x; C = z**2"), mlp, or a built-in name')
    derive.add_argument("sizes", nargs="*", metavar="SIZE", help="for mlp: the layer sizes, inputs first (2 3 3 1)")
    derive.add_argument("--list", action="store_true", help="list the built-in derivations")
    derive.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    derive.add_argument("--wrt", help="for a program: the name to differentiate against")
    derive.add_argument("--at", nargs="*", action="extend", default=[], metavar="NAME=VALUE",
                        help="for a program: values of its leaves")
    derive.add_argument("--activation", default="sigmoid", choices=["sigmoid", "tanh", "relu", "linear"],
                        help="for mlp: the hidden layers' activation (default sigmoid)")
    derive.add_argument("--output-activation", default="sigmoid", choices=["sigmoid", "tanh", "relu", "linear"],
                        help="for mlp: the last layer's activation (default sigmoid)")
    derive.add_argument("--loss", default="mse", choices=["mse", "bce"], help="for mlp: the loss (default mse)")
    derive.add_argument("--seed", type=int, default=0, help="for mlp: the random seed of weights and sample (default 0)")
    derive.set_defaults(handler="microgrid.cli:derive_command")


def add_check_parser(commands) -> None:
    from .symbolic.seeds import SEEDS, seed_names  # no sympy: the names come from the seeds' programs

    known = "; ".join(f"{name}: {', '.join(seed_names(name))}" for name in SEEDS)
    check = commands.add_parser(
        "check",
        allow_abbrev=False,
        help="check a hand derivation, line by line, against the engine",
        description="Check each line of a hand derivation of d(output)/d(WRT) against the engine's "
        "derivative, in order: a table, and the first line that goes wrong. PROGRAM is a program "
        '("s = log(1 + exp(x))") or a built-in derivation.',
        epilog="exit status: 0 correct (the difference simplifies to 0), 1 incorrect (a counterexample "
        "or a proof), 2 malformed claim or usage error, 3 unproven (equal at every sampled point, "
        "but not proved); with several lines, the first line's that is not correct. "
        f"Built-in derivations and the names each knows (textbook or identifier spelling): {known}",
    )
    check.add_argument("name", metavar="PROGRAM|NAME", help="a program, or a built-in derivation (see derive --list)")
    check.add_argument("claims", nargs="+", metavar="CLAIM", help='the lines, with the labels as names, e.g. "A - y"')
    check.add_argument("--wrt", help="the name differentiated against (a built-in's default: its main one)")
    check.add_argument("--at", nargs="*", action="extend", default=[], metavar="NAME=VALUE",
                       help="for a program: values of its leaves")
    check.set_defaults(handler="microgrid.cli:check_command")


def _refused(command: str, error: BaseException) -> int:
    message = str(error).removeprefix(f"{command}: ") or type(error).__name__
    print(f"microgrid {command}: {message}", file=sys.stderr)
    return 2


def _input_errors() -> tuple[type[BaseException], ...]:
    from .symbolic.parsing import ExpressionError
    from .names import NameLookupError

    return (ExpressionError, NameLookupError, ValueError, TypeError, ArithmeticError, KeyError, RecursionError)


def derive_command(args: argparse.Namespace) -> int:
    """``microgrid derive PROGRAM --wrt NAME | mlp SIZES... | NAME | --list``."""
    from .symbolic import seeds

    if args.list:
        width = max(map(len, seeds.SEEDS))
        for name, seed in seeds.SEEDS.items():
            print(f"{name:<{width}}  {seed.summary}")
        return 0
    try:
        if not args.name:
            raise ValueError("give a program and --wrt, mlp and the layer sizes, or a built-in name (see --list)")
        if args.name == "mlp":
            equations = _mlp_equations(args)
            count = equations.verify()
            _say(equations.latex() if args.latex else str(equations))
            _say(f"verified: {count} instances agree with the engine's reverse pass")
            return 0
        if args.sizes:
            raise ValueError(f"unexpected arguments {' '.join(args.sizes)!r} (layer sizes go after mlp)")
        derivation = _derivation(args)
    except _input_errors() as error:
        return _refused("derive", error)
    _say(derivation.latex() if args.latex else str(derivation))
    return 0


def _derivation(args: argparse.Namespace):
    from .symbolic import seeds

    if args.name in seeds.SEEDS:
        if args.wrt or args.at:
            raise ValueError(f"{args.name} is a built-in derivation: it takes no --wrt or --at")
        from .symbolic.chainrule import get

        return get(args.name)
    if "=" not in args.name:
        raise ValueError(f"unknown derivation {args.name!r}: give a program (name = formula; ...) "
                         f"and --wrt, mlp SIZES..., or one of: {_builtin_names()}")
    if not args.wrt:
        raise ValueError("name the variable to differentiate against with --wrt (e.g. --wrt w)")
    from .symbolic.chainrule import derive
    from .symbolic.parsing import program

    return derive(program(args.name, parse_at(args.at)).output, args.wrt)


def _mlp_equations(args: argparse.Namespace):
    from .network_equations import backprop_equations
    from .nn import MLP

    try:
        sizes = [int(s) for s in args.sizes]
    except ValueError:
        raise ValueError(f"mlp: the layer sizes must be whole numbers, got {' '.join(args.sizes)}") from None
    if len(sizes) < 2:
        raise ValueError("mlp: give the layer sizes, inputs first: mlp 2 3 3 1")
    model = MLP(sizes[0], sizes[1:], activation=args.activation, output_activation=args.output_activation, seed=args.seed)
    return backprop_equations(model, args.loss)


def check_command(args: argparse.Namespace) -> int:
    """``microgrid check PROGRAM|NAME [--wrt NAME] "claim" ["claim" ...]``: 0 when every
    line is proved, else the first failing line's status (1 incorrect, 3 unproven), 2 malformed."""
    from .symbolic import seeds
    from .symbolic.checker import check_lines, first_wrong

    claims = list(args.claims)
    try:
        if args.name in seeds.SEEDS:
            if args.at:
                raise ValueError(f"{args.name} is a built-in derivation: it takes no --at")
            from .symbolic.chainrule import get

            verdicts = get(args.name).check_lines(claims, args.wrt)
        else:
            from .symbolic.parsing import program

            if "=" not in args.name:
                raise ValueError(f"unknown derivation {args.name!r}: give a program (name = formula; ...) or one of: {_builtin_names()}")
            if not args.wrt:
                raise ValueError("name the variable to differentiate against with --wrt (e.g. --wrt x)")
            verdicts = check_lines(program(args.name, parse_at(args.at)).output, args.wrt, claims)
    except _input_errors() as error:
        return _refused("check", error)
    _say(str(verdicts[0]) if len(claims) == 1 else _lines_table(claims, verdicts))
    wrong = first_wrong(verdicts)
    return 0 if wrong is None else CHECK_STATUS[verdicts[wrong - 1].status]  # the verdict, read or not


def _say(text: str) -> None:
    """Print `text` now.  A reader that has gone (``| head``, ``| true``) is no
    error: the rest of the output goes nowhere, and the command still returns
    its own status (check's is the verdict, which a pipeline reads with pipefail)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _reader_gone()


def _reader_gone() -> None:
    # Point stdout at devnull, so that no later write, nor Python's final flush, raises again.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _lines_table(claims: Sequence[str], verdicts: list) -> str:
    """Notebook 02's table in text: each line and its verdict, then the first wrong line's details."""
    from .symbolic.checker import first_wrong

    width = max(len(c) for c in claims)
    rows = [f"{'line':>4}  {'claim':<{width}}  verdict"]
    rows += [f"{i:>4}  {c:<{width}}  {v.status}" for i, (c, v) in enumerate(zip(claims, verdicts), 1)]
    wrong = first_wrong(verdicts)
    if wrong is None:
        return "\n".join(rows + ["every line is correct"])
    rows.append(f"line {wrong} is the first that is not proved correct:")
    rows += ["  " + line for line in str(verdicts[wrong - 1]).splitlines()]
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(positionals_last(sys.argv[1:] if argv is None else argv, parser))
    if args.command is None:
        parser.print_help()
        return 2
    module_name, function_name = args.handler.split(":")
    try:
        if args.command in ("check", "derive"):  # sympy's worker: its server loads sympy while this process does
            from .symbolic import worker

            worker.start()
        module = __import__(module_name, fromlist=[function_name])
        return getattr(module, function_name)(args) or 0
    except KeyboardInterrupt:  # Ctrl-C: the work is stopped (a symbolic worker is killed as it is interrupted)
        print("microgrid: interrupted", file=sys.stderr)
        return 130
    except MissingExtraError as error:  # e.g. derive without sympy: the one line that says what to install
        print(f"microgrid {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early: not an error
        _reader_gone()
        return 0


if __name__ == "__main__":
    sys.exit(main())
