"""Gradients as formulas: the engine's reverse pass read back as sympy, and hand derivations checked.

    >>> from microgrid import Value
    >>> from microgrid.symbolic import check, diff
    >>> Z = Value(0.3, label="Z"); y = Value(1.0, label="y")
    >>> A = Z.sigmoid(); A.label = "A"
    >>> L = -y * A.log() - (1 - y) * (1 - A).log(); L.label = "L"
    >>> diff(L, Z)
    A - y
    >>> check("A - y", L, Z).correct
    True

The names below load their module (and sympy) on first use, so that the
parser, the labels and the seeds, which the rest of the package uses, do not
load sympy.
"""

import importlib

# Each public name: the module of this package that defines it.
_PLACES = dict.fromkeys(
    """to_sympy diff check Verdict Counterexample sigmoid tidy simplify_gradient algebra_is_cheap latex symbol
    Label label_of definitions find_node evaluate number claim_names parse_claim simplify_within SYMPY_FUNCTIONS
    Claim CHECK_SECONDS SIMPLIFY_SECONDS EVALUATE_DIGITS AGREE_RELATIVE SAMPLE_SCALES FACTOR_MAX_SYMBOLS
    FACTOR_MAX_OPS ALGEBRA_MAX_DIGITS ALGEBRA_MAX_DEGREE ALGEBRA_MAX_TERMS""".split(),
    "checker",
)
_PLACES.update(Budget="budget", BudgetExceeded="budget", program="programs")

__all__ = [
    "to_sympy",
    "diff",
    "check",
    "Verdict",
    "Counterexample",
    "sigmoid",
    "tidy",
    "simplify_gradient",
    "algebra_is_cheap",
    "latex",
    "symbol",
    "Label",
    "label_of",
    "definitions",
    "find_node",
    "evaluate",
    "Budget",
    "BudgetExceeded",
    "program",
]


def __getattr__(name: str):
    if name not in _PLACES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PLACES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PLACES))
