"""microgrid.symbolic.derivation: `verify` checks every line of a derivation against the float engine."""

import pytest
import sympy

from microgrid.symbolic import symbol
from microgrid.symbolic.chainrule import derive, get
from microgrid.symbolic.derivation import VerificationError
from microgrid.symbolic.parsing import program


def test_verify_catches_a_wrong_line_of_a_seed():
    d = get("sigmoid-cross-entropy")
    A, y = symbol("A"), symbol("y")
    d.steps[1].result.lines.insert(2, -y - A * y + A - A * y)  # the seed's sign slip, as a third line
    with pytest.raises(VerificationError, match="dL/dZ: line 3"):
        d.verify(points=1)


def test_a_wrong_expectation_in_the_data_is_caught():
    d = get("sigmoid-cross-entropy")
    wrong = next(w for eq in d.equations() for w in eq.written if w.expect == "incorrect")
    wrong.expect = "correct"
    with pytest.raises(VerificationError, match="was expected correct"):
        d.verify(points=1)


def test_verify_catches_a_wrong_line_of_a_program():
    d = derive(program("z = w*x + b; a = tanh(z); C = (a - y)**2").output, "w")
    a, y, x = sympy.symbols("a y x")
    d.steps[-1].result.lines[-1] = 2 * (a - y) * x
    with pytest.raises(VerificationError, match="dC/dw"):
        d.verify()
