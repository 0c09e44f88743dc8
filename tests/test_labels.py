"""The textbook notation's three spellings: plain text, LaTeX, identifier."""

import pytest

from microgrid.labels import parse_textbook, textbook, to_identifier, to_latex


@pytest.mark.parametrize(
    "label, latex, identifier",
    [
        ("w^(2)_1,0", "w^{(2)}_{1,0}", "w2_1_0"),
        ("b^(1)_0", "b^{(1)}_{0}", "b1_0"),
        ("a^(0)_3", "a^{(0)}_{3}", "a0_3"),
        ("w^(L)", "w^{(L)}", "wL"),
        ("a^(L-1)", "a^{(L-1)}", "aLm1"),
        ("a^(L-1)_0", "a^{(L-1)}_{0}", "aLm1_0"),
        ("A_prev", "A_{prev}", "A_prev"),
        ("y", "y", "y"),
        ("x & {y}", r"x \& \{y\}", "x_y"),
        ("2x", "2x", "v_2x"),
    ],
)
def test_spellings(label, latex, identifier):
    assert to_latex(label) == latex
    assert to_identifier(label) == identifier


def test_textbook_round_trip():
    assert textbook("w", 2, 1, 0) == "w^(2)_1,0"
    assert textbook("z", "L") == "z^(L)"
    assert parse_textbook(textbook("w", 3, 0, 1)) == ("w", "3", ("0", "1"))
    assert parse_textbook("W") is None
