"""The `microgrid` command line: ``microgrid demo | draw | derive | check``.

Each subcommand's work lives in the module that owns it; this file only
declares the arguments and hands them over, importing lazily so that
``microgrid --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgrid",
        description="A scalar autograd engine for learning backpropagation.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="train micrograd's moons MLP and save plots")
    demo.add_argument("--steps", type=int, default=100, help="optimisation steps (default 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed for data and weights (default 1337)")
    demo.add_argument("--output", "-o", default="demo-output", help="folder for the plots (default demo-output)")
    demo.set_defaults(handler="microgrid.demo:command")

    draw = commands.add_parser("draw", help="draw an expression's graph after backward()")
    draw.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    draw.add_argument("--at", nargs="*", default=[], metavar="NAME=VALUE", help="values of the names")
    draw.add_argument("--output", "-o", default="graph.svg", help="file to write (.svg or .dot)")
    draw.add_argument("--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"])
    draw.add_argument("--gradient-flow", action="store_true", help="edge width and colour by gradient size")
    draw.add_argument("--explain", action="store_true", help="also print the backward pass step by step")
    draw.set_defaults(handler="microgrid.viz:command")

    derive = commands.add_parser("derive", help="show a seed derivation, computed by the engine")
    derive.add_argument("name", nargs="?", help="the derivation (see --list)")
    derive.add_argument("--list", action="store_true", help="list the derivations")
    derive.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    derive.set_defaults(handler="microgrid.derivations:command_derive")

    check = commands.add_parser(
        "check",
        help="check a hand-derived formula against the engine",
        description="Check a hand-derived formula against the engine's derivative.",
        epilog="exit status: 0 correct (the difference simplifies to 0), 1 incorrect (a counterexample "
        "or a proof), 2 malformed claim or usage error, 3 unproven (equal at every sampled point, "
        "but not proved)",
    )
    check.add_argument("name", help="the derivation whose network the claim is about (see derive --list)")
    check.add_argument("claim", help='the formula, with the labels as names, e.g. "A - y"')
    check.add_argument("--wrt", help="the quantity differentiated against (default: the derivation's main one)")
    check.set_defaults(handler="microgrid.derivations:command_check")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module_name, function_name = args.handler.split(":")
    module = __import__(module_name, fromlist=[function_name])
    try:
        return getattr(module, function_name)(args) or 0
    except BrokenPipeError:
        # The reader (e.g. `| head`) stopped early: not an error.  Point stdout
        # at devnull so Python's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
