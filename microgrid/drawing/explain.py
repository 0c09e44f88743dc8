"""`explain_backward(root)`: each chain-rule step of ``root.backward()`` in its order, a row per (node, operand)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine import Value, trace_backward
from ..graphs import topological_order
from ..names import role_names as display_names  # the drawing's names too

_HEADER = ("step", "node", "operation", "local derivative", "upstream gradient", "contribution", "accumulated gradient")
_OPERAND_NAMES = re.compile(r"\b(?:a|b|out)\b")  # an op's rules and notation name its operands a, b and its result out


def operand(name: str) -> str:
    """A name inside a formula: ``(w*a)`` in parentheses, unless it is in them already."""
    return f"({name})" if re.search(r"[*/ ]", name) and not (name[0] == "(" and name[-1] == ")") else name


def _in_names(text: str, node: Value, names: dict[Value, str]) -> str:
    """An op's `text` about `node`, its a, b and out replaced by the nodes' names."""
    fields = {"a": operand(names[node.parents[0]]), "b": operand(names[node.parents[-1]]), "out": operand(names[node])}
    return _OPERAND_NAMES.sub(lambda match: fields[match.group()], text)


@dataclass(frozen=True)
class BackwardStep:
    """One chain-rule step: gradient flowing from ``result`` into its operand ``node``."""

    step: int
    node: str  #: the operand receiving gradient
    result: str  #: the node it flows from
    operation: str  #: how `result` was computed, e.g. ``"c = a * b"``
    local_rule: str  #: the local derivative d(result)/d(node) as a formula
    local: float | None  #: its value; None where backward() skips the step (`skipped`)
    upstream: float  #: d(root)/d(result)
    contribution: float  #: upstream * local (0 when skipped)
    accumulated: float  #: d(root)/d(node) so far

    @property
    def skipped(self) -> bool:
        """True when the upstream gradient is 0, so backward() does not evaluate this step."""
        return self.local is None


def _rule_and_value(rule: str, value: float | None) -> str:
    """``b = -3``, or just ``1`` when the rule is the number itself; not evaluated where skipped."""
    if value is None:
        return f"{rule}, skipped: upstream gradient is 0"
    shown = f"{value:.6g}"
    return shown if rule == shown else f"{rule} = {shown}"


class BackwardExplanation(Sequence[BackwardStep]):
    """The ordered steps of a backward pass; a table in a terminal and in Jupyter."""

    def __init__(self, root_name: str, steps: list[BackwardStep], gradients: dict[str, float]):
        self.root, self.steps = root_name, steps
        self.gradients = gradients  #: d(root)/d(node) for every node, by name, once all steps have run

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, index: int | slice) -> Any:  # a step, or a list of them
        return self.steps[index]

    def __repr__(self) -> str:
        return f"<BackwardExplanation of {self.root}: {len(self.steps)} steps>"

    def _cells(self, step: BackwardStep, d: str) -> tuple[str, ...]:
        r, n = self.root, step.node
        local = f"{d}{step.result}/{d}{n} = {_rule_and_value(step.local_rule, step.local)}"
        upstream = f"{d}{r}/{d}{step.result} = {step.upstream:.6g}"
        gradient = f"{d}{r}/{d}{n} = {step.accumulated:.6g}"
        return (str(step.step), n, step.operation, local, upstream, f"{step.contribution:.6g}", gradient)

    def _title(self, d: str) -> str:
        return f"Backward pass from {self.root} ({d}{self.root}/{d}{self.root} = 1), in the order backward() runs"

    def __str__(self) -> str:
        # ASCII "d" for the partial sign: any terminal encoding can print it.
        if not self.steps:
            return f"{self.root} is a leaf: backward() only sets d{self.root}/d{self.root} = 1."
        rows = [_HEADER] + [self._cells(s, "d") for s in self.steps]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
        rows.insert(1, tuple("-" * w for w in widths))
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        return "\n".join([self._title("d"), *lines])

    def _repr_html_(self) -> str:
        e = html.escape
        if not self.steps:
            return f"<p>{e(self.root)} is a leaf: backward() only sets ∂{e(self.root)}/∂{e(self.root)} = 1.</p>"
        head = "".join(f"<th>{e(h)}</th>" for h in _HEADER)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in self._cells(s, "∂")) + "</tr>" for s in self.steps)
        wrap = ' style="overflow-wrap: anywhere"'  # a long name breaks where it must: no sideways scrolling
        top = f"<caption{wrap}>{e(self._title('∂'))}</caption><thead{wrap}><tr>{head}</tr></thead>"
        return f"<table>{top}<tbody{wrap}>{body}</tbody></table>"


def explain_backward(root: Value) -> BackwardExplanation:
    """The chain-rule steps of ``root.backward()``, computed afresh (no ``.grad`` changes), failing where it fails.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> [(s.node, s.contribution, s.accumulated) for s in explain_backward(a * b + a)]
    [('a*b', 1.0, 1.0), ('a', 1.0, 1.0), ('a', -3.0, -2.0), ('b', 2.0, 2.0)]
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain_backward: root must be a Value, got {type(root).__name__}")
    names = display_names(topological_order(root))
    steps: list[BackwardStep] = []
    accumulated: dict[Value, float] = {}  # each operand's gradient so far, summed as the pass sums it

    def record(node: Value, upstream: float, partials: Any) -> None:  # called by the engine's own reverse pass
        op, result = node._op, names[node]
        assert op is not None  # the pass visits computed nodes only
        locals_ = (None,) * op.arity if partials is None else (partials,) if op.arity == 1 else partials
        formula = f"{result} = {_in_names(op.notation, node, names)}"  # c = a * b
        for position, (parent, d) in enumerate(zip(node.parents, locals_, strict=True)):
            rule = _in_names(op.rules[position], node, names)  # b for d(a*b)/da
            if op.name == "**" and position == 1 and node._data == 0.0:
                rule = "0"  # d(a**b)/db where a**b = 0: the engine's 0, not 0*log(0)
            local = None if d is None else float(d)
            contribution = 0.0 if d is None else upstream * d
            if d is not None:  # a skipped step leaves the gradient exactly as it was
                accumulated[parent] = accumulated.get(parent, 0.0) + contribution
            total = accumulated.get(parent, 0.0)
            steps.append(
                BackwardStep(len(steps) + 1, names[parent], result, formula, rule, local, upstream, contribution, total)
            )

    gradients = {names[node]: g for node, g in trace_backward(root, record).items()}
    return BackwardExplanation(names[root], steps, gradients)
