"""The symbolic wing: gradients as formulas, and hand derivations checked against the engine.

    >>> from microgrid import Value
    >>> from microgrid.symbolic import check, diff
    >>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
    >>> A = Z.sigmoid(); A.label = "A"
    >>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
    >>> diff(L, Z)
    A - y
    >>> check("A - y", L, Z).correct
    True

Modules by job: reading input (`parsing`, `claims`), sympy (`conversion`, `precise`, `worker`), textbook forms
(`simplify`), checking (`checker`), deriving (`chainrule`, `backprop`), the seeds as data (`seeds`),
showing (`printing`). Names load their module (and sympy) on first use.
"""

import importlib

_MODULES = {  # each module of this package and the public names it defines
    "conversion": "SYMPY_FUNCTIONS sigmoid Label symbol label_of number to_sympy definitions find_node diff",
    "printing": "latex",
    "simplify": "tidy simplify_gradient simplify_within SIMPLIFY_SECONDS FACTOR_MAX_SYMBOLS FACTOR_MAX_OPS",
    "claims": "Claim claim_names parse_claim",
    "checker": "Verdict Counterexample check CHECK_SECONDS SAMPLE_SCALES",
    "precise": "evaluate EVALUATE_DIGITS AGREE_RELATIVE",
    "worker": "Budget BudgetExceeded",
    "parsing": "TooLargeToWriteOut HOLD_DIGITS program",
}
_PLACES = {name: module for module, names in _MODULES.items() for name in names.split()}

__all__ = [  # noqa: RUF022 (the main names first, in the order a reader meets them)
    "to_sympy", "diff", "check", "Verdict", "Counterexample", "sigmoid", "tidy", "simplify_gradient", "latex",
    "symbol", "Label", "label_of", "definitions", "find_node", "evaluate", "Budget", "BudgetExceeded", "program",
    "TooLargeToWriteOut",
]  # fmt: skip


def __getattr__(name: str):
    if name not in _PLACES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PLACES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PLACES))
