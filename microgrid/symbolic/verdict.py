"""What `check` found: a `Verdict` (correct, incorrect or unproven) and its `Counterexample`.

Shown as text (``str``), as LaTeX and, in a notebook, as Markdown whose
formulas are broken to fit the column.

    >>> c = Counterexample({"x": 1.5}, claimed=1.5, true=3.0)
    >>> str(c)
    'at x = 1.5: claimed 1.5, true 3'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._sympy import sympy

from .forms import latex, text
from ..names import to_latex

__all__ = ["Verdict", "Counterexample"]


@dataclass
class Counterexample:
    """A point where the claim and the engine disagree (or, for a claim proved
    wrong, the graph's own point); `gap` is claim - true to 25 digits."""

    point: dict[str, float]  # the labelled leaves (and the intermediates the formulas use)
    claimed: complex | float | None
    true: float
    gap: complex | float | None = None

    def __str__(self) -> str:
        at = ", ".join(f"{k} = {_short(v)}" for k, v in self.point.items())
        text = f"at {at}: claimed {_short(self.claimed)}, true {_short(self.true)}"
        if self.gap is not None and _short(self.claimed) == _short(self.true):  # they look equal
            text += f" (claim - true = {_short(self.gap)})"
        return text

    def latex(self) -> str:
        """The same in math mode: labels as `microgrid.names.to_latex` spells them, numbers as 1.3 \\cdot 10^{-5}."""
        at = r",\ ".join(f"{to_latex(k)} = {_latex_number(v)}" for k, v in self.point.items())
        text = rf"{at}:\quad \text{{claimed }} {_latex_number(self.claimed)},\ \text{{true }} {_latex_number(self.true)}"
        if self.gap is not None and _short(self.claimed) == _short(self.true):
            text += rf"\ (\text{{claim - true}} = {_latex_number(self.gap)})"
        return text


def _short(x: Any) -> str:
    if isinstance(x, float) and math.isinf(x):
        return f"{x:+g} (beyond the floats)"
    if x is None:
        return "undefined"
    shown = f"{x:.6g}"
    if isinstance(x, float) and float(shown) != x and float(shown).is_integer():
        return repr(x)  # 0.99999999995, not 1: a point where 1 - A is 0 would be undefined
    return shown


def _latex_number(x: Any) -> str:
    if x is None:
        return r"\text{undefined}"
    if isinstance(x, complex):
        return sympy.latex(sympy.Float(x.real, 6) + sympy.Float(x.imag, 6) * sympy.I)
    return sympy.latex(sympy.Float(x, 6))


@dataclass
class Verdict:
    """What `check` found: one of three outcomes, `status`.

    * ``"correct"`` (`correct` is True): proved.  The claim minus the
      engine's derivative simplifies to 0, as written or once the labelled
      intermediates are replaced by their definitions (sigmoid and tanh
      written with exp).  `method` is "symbolic", `difference` is 0.
    * ``"incorrect"`` (`correct` is False): a `counterexample`, a point where
      the two, evaluated to 25 digits, differ by more than 1e-13 relative; or
      a proof that the difference is not 0 (a nonzero number, or a nonzero
      rational function of the graph's leaves).  `difference` is claim minus
      engine in the graph's labels.
    * ``"unproven"`` (`correct` is None): equal at every one of
      `points_checked` points, near the graph's values and far from them,
      but the difference, shown with the definitions substituted, was not
      simplified to 0.  Numeric agreement is evidence, never a proof.

    ``bool(verdict)`` is True only for a proved claim.  On the command line
    the exit status is 0, 1 and 3 respectively (2: the claim is malformed).

    >>> from microgrid import Value
    >>> from microgrid.symbolic import check
    >>> x = Value(0.5, label="x"); y = x.relu() * x; y.label = "y"
    >>> check("2*relu(x)", y, x).status, check("x", y, x).status
    ('unproven', 'incorrect')
    """

    correct: bool | None
    claim: sympy.Expr
    expected: sympy.Expr  # the engine's derivative, intermediates kept
    difference: sympy.Expr  # claim - expected, simplified
    of: str
    wrt: str
    counterexample: Counterexample | None = None
    method: str = "symbolic"  # or "numeric": decided by (or, unproven, only supported by) sampled points
    points_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """"correct", "incorrect" or "unproven"."""
        return {True: "correct", False: "incorrect", None: "unproven"}[self.correct]

    def __bool__(self) -> bool:
        return self.correct is True

    def __str__(self) -> str:
        lhs = f"d{self.of}/d{self.wrt}"
        lines = []
        if self.correct:
            lines.append(f"correct: {lhs} = {text(self.claim)}  (the difference simplifies to 0)")
        elif self.correct is None:
            lines.append(
                f"unproven: {lhs} = {text(self.claim)} agrees with the engine at {self.points_checked} points, "
                "but the difference did not simplify to 0"
            )
            lines.append(f"  engine:  {lhs} = {text(self.expected)}")
            lines.append(f"  claim - engine, definitions substituted = {text(self.difference)}")
        else:
            lines.append(f"incorrect: the claim {lhs} = {text(self.claim)}")
            lines.append(f"  engine:  {lhs} = {text(self.expected)}")
            lines.append(f"  claim - engine = {text(self.difference)}")
            if self.counterexample is not None:
                lines.append(f"  counterexample {self.counterexample}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        """What a notebook shows: the status in words, formulas broken to fit the column."""
        from ._derivation_display import verdict_markdown

        return verdict_markdown(self)

    def _repr_latex_(self) -> str:
        lhs = rf"\frac{{\partial {to_latex(self.of)}}}{{\partial {to_latex(self.wrt)}}}"
        if self.correct:
            return rf"$\text{{correct: }} {lhs} = {latex(self.claim)}$"
        if self.correct is None:
            title = rf"\text{{unproven: equal at {self.points_checked} points, not proved}}"
        else:
            title = r"\text{incorrect}"
        body = [
            rf"\text{{claimed: }} & {lhs} = {latex(self.claim)}",
            rf"\text{{engine: }} & {lhs} = {latex(self.expected)}",
            rf"\text{{claim - engine: }} & {latex(self.difference)}",
        ]
        if self.counterexample is not None:
            body.append(rf"\text{{counterexample: }} & {self.counterexample.latex()}")
        return r"$\begin{aligned}" + title + r"\\" + r"\\".join(body) + r"\end{aligned}$"
