"""`microgrid.symbolic`'s public names: each defined in one module of the package, all in `__all__`; and
`import microgrid` does not import sympy."""

import subprocess
import sys

import pytest


def test_every_public_name_is_there_in_order():
    names = [
        "to_sympy",
        "diff",
        "check",
        "Verdict",
        "Counterexample",
        "sigmoid",
        "tidy",
        "simplify_gradient",
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
        "number",
        "claim_names",
        "parse_claim",
        "simplify_within",
        "SYMPY_FUNCTIONS",
        "Claim",
        "CHECK_SECONDS",
        "SIMPLIFY_SECONDS",
        "EVALUATE_DIGITS",
        "AGREE_RELATIVE",
        "SAMPLE_SCALES",
        "FACTOR_MAX_SYMBOLS",
        "FACTOR_MAX_OPS",
    ]
    from microgrid import symbolic
    from microgrid.symbolic.checker import check
    from microgrid.symbolic.conversion import diff
    from microgrid.symbolic.parsing import program
    from microgrid.symbolic.worker import Budget

    assert symbolic.__all__[:18] == names[:18]  # the main names first, in this order; the others after
    assert all(hasattr(symbolic, name) for name in names)
    assert (symbolic.check, symbolic.diff, symbolic.Budget, symbolic.program) == (check, diff, Budget, program)
    namespace = {}
    exec("from microgrid.symbolic import *", namespace)
    assert all(namespace[name] is getattr(symbolic, name) for name in symbolic.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = symbolic.no_such_name  # the lookup itself must raise


def test_import_microgrid_does_not_import_sympy():
    code = "import sys, microgrid; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
