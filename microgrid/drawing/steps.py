"""`step_backward(root)`: the backward pass, one chain-rule step at a time, on the drawing of the graph.

In Jupyter a widget (anywidget) walks `explain_backward`'s steps with Previous/Next, a slider or the arrow keys,
marking on `draw`'s drawing the node passing its gradient on and the operand receiving it, with the chain-rule product
and every gradient known so far.  ``.save("steps.html")`` writes the same as one offline page; ``print(stepper)``
lists the steps as text.  No ``.grad`` changes.

    >>> from microgrid import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> L = a * b + a; L.label = "L"
    >>> stepper = step_backward(L)
    >>> len(stepper), stepper.gradients["a"]
    (4, -2.0)
"""

from __future__ import annotations

import functools
import html
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from .._extras import require
from .._files import atomic_write
from ..engine import Value
from ..graphs import topological_order
from ._steps_web import SCRIPT, STYLE
from .display import laid_out, svg_length_px
from .dot import pretty_label
from .explain import BackwardExplanation, BackwardStep, _rule_and_value, _six_digits, display_names, explain_backward

_SVG = "http://www.w3.org/2000/svg"


def _factor(x: float) -> str:
    """A number as a factor in a product: ``(-3)`` rather than ``-3``."""
    return f"({_six_digits(x)})" if x < 0 else _six_digits(x)


class BackwardStepper(BackwardExplanation):
    """`explain_backward`'s steps to walk through on the drawing: a widget in Jupyter, a page via `save`, text."""

    def __init__(self, root: Value, *, digits: int = 4, **draw_options: Any):
        if not isinstance(root, Value):
            raise TypeError(f"step_backward: root must be a Value, got {type(root).__name__}")
        explanation = explain_backward(root)
        super().__init__(explanation.root, explanation.steps, explanation.gradients)
        self._digits = digits
        self._widget: Any = None
        order = topological_order(root)
        names = list(display_names(order).values())
        self._index = {name: i for i, name in enumerate(names)}  # a node's number in the drawing
        self._initial = {str(i): "grad ?" for i in range(len(order))}  # not reached yet
        self._initial[str(self._index[self.root])] = self._grad_text(1.0)
        svg = _draw(root, order, self._widest_grads(names), digits=digits, **draw_options)
        #: The drawing (SVG text) with the grad fields as at the start.
        self.svg = _mark_svg(svg, self._initial, self.root)

    def _grad_text(self, value: float) -> str:
        return f"grad {value:.{self._digits}g}"  # as draw_dot writes it

    def _widest_grads(self, names: list[str]) -> list[float]:
        """Per node, the gradient whose text is widest along the way: the drawing makes room for it."""
        widest = [self.gradients[name] for name in names]
        for step in self:
            i = self._index[step.node]
            if len(self._grad_text(step.accumulated)) > len(self._grad_text(widest[i])):
                widest[i] = step.accumulated
        return widest

    def _panels(self, d: str = "\u2202", times: str = "\u00d7") -> Iterator[tuple[BackwardStep, str, list[list[str]]]]:
        """Per step: the step, its panel's title and rows (label, text), with `d` and `times` for ∂ and ×."""
        r = self.root
        before: dict[str, float] = {}  # each operand's gradient before this step
        for step in self:
            c, a = step.result, step.node
            if step.local is None:  # skipped
                local = f"{d}{c}/{d}{a} = {step.local_rule} (not evaluated)"
                chain = f"{d}{r}/{d}{c} = 0, so backward() skips this step"
                total = f"{_six_digits(step.accumulated)} (unchanged)"
            else:
                local = f"{d}{c}/{d}{a} = {_rule_and_value(step.local_rule, step.local)}"
                chain = (
                    f"{d}{r}/{d}{c} {times} {d}{c}/{d}{a} = {_factor(step.upstream)} {times} {_factor(step.local)} "
                    f"= {_six_digits(step.contribution)}"
                )
                total = _six_digits(step.contribution)
                if a in before:  # a node used more than once: its contributions add up
                    total = (
                        f"{_six_digits(before[a])} + {_factor(step.contribution)} = {_six_digits(step.accumulated)} "
                        "(used more than once: the contributions add up)"
                    )
            before[a] = step.accumulated
            rows = [["operation", step.operation], ["local derivative", local], ["chain rule", chain]]
            rows.append([f"gradient of {a}", f"{d}{r}/{d}{a} = {total}"])
            yield step, f"Step {step.step} of {len(self)}: {c} passes its gradient back to {a}", rows

    def frames(self) -> list[dict[str, Any]]:
        """What the page shows at step 0 (the start) to ``len(self)``: ``title`` and ``rows`` (label, text) for the
        panel; steps 1.. also ``from`` and ``to`` (node numbers in the drawing) and ``grad``, the receiving node's text.
        """
        r, pretty = self.root, _prettifier(self._index)
        title = f"Start: \u2202{r}/\u2202{r} = 1. Press Next (or \u2192) to pass it back, one operand at a time."
        order = f"{len(self)} steps, in the order backward() runs: every node after all the nodes that use it"
        start = {"title": title, "rows": [["order", order]]}
        return [start] + [
            {
                "from": self._index[step.result],
                "to": self._index[step.node],
                "grad": self._grad_text(step.accumulated),
                "title": pretty(title),
                "rows": [[pretty(label), pretty(text)] for label, text in rows],
            }
            for step, title, rows in self._panels()
        ]

    def data(self) -> str:
        """The step data as JSON (see `frames`)."""
        title = f"Backward pass from {self.root}, step by step"
        data = {"title": title, "root": self._index[self.root], "initial": self._initial, "frames": self.frames()}
        return json.dumps(data, ensure_ascii=False)

    @property
    def widget(self) -> Any:
        """The Jupyter widget (an anywidget), made on first use; ``.widget.step`` is the step shown."""
        if self._widget is None:
            self._widget = _widget_class()(svg=self.svg, data=self.data(), last=len(self))
        return self._widget

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> Any:  # a dict or (dict, dict)
        fallback = {"text/plain": repr(self), "text/html": self.html(page=False)}
        try:
            shown = self.widget._repr_mimebundle_()
        except ImportError:  # no anywidget: the page, which runs where outputs may run scripts
            return fallback
        if not shown:
            return fallback
        data, metadata = shown if isinstance(shown, tuple) else (shown, {})
        return {**fallback, **data, "text/plain": repr(self)}, metadata

    def html(self, page: bool = True) -> str:
        """Self-contained HTML: a whole page (`save` writes it), or a fragment for a notebook output."""
        box = f"mg-{uuid.uuid4().hex}"
        # In a <script>, "</" would end it early; JSON's \\u003c cannot.
        payload = self.data().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        body = (
            f'<div id="{box}" class="mg-page">{self.svg}'
            f"<p>(The buttons and the slider need JavaScript; the drawing shows the start.)</p></div>\n"
            f'<script type="application/json" id="{box}-data">{payload}</script>\n'
            f'<script>(function () {{\n{SCRIPT}\nstepperPage("{box}", {str(page).lower()});\n}})();</script>'
        )
        if not page:
            return f"<style>{STYLE}</style>\n{body}"
        title = html.escape(f"Backward pass from {self.root}, step by step")
        # The policy forbids every request: the page cannot fetch anything, by construction.
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{STYLE}\nbody {{ margin: 16px 24px; }}</style>\n</head>\n"
            f'<body>\n<h1 style="font: 600 18px system-ui, sans-serif">{title}</h1>\n{body}\n</body>\n</html>\n'
        )

    def save(self, path: str | Path) -> Path:
        """Write the self-contained page (offline, any browser) atomically, as `Module.save`; returns the path.

        >>> from microgrid import Value
        >>> import tempfile, os
        >>> page = step_backward(Value(3.0, label="x") ** 2).save(os.path.join(tempfile.mkdtemp(), "steps.html"))
        >>> page.read_text(encoding="utf-8").count("<script")
        2
        """
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"BackwardStepper.save: {str(path)!r}: use a .html file name")
        atomic_write(path, self.html(), where="BackwardStepper.save")
        return path

    def _lines(self, limit: int | None) -> list[str]:
        r, width = self.root, len(str(len(self)))
        lines = [
            f"Backward pass from {r}, step by step: {len(self)} steps "
            f"(in Jupyter: Previous/Next, the arrow keys or the slider; .save('steps.html') for a browser)",
            f"  start: d{r}/d{r} = 1",
        ]
        for step, _, rows in islice(self._panels(d="d", times="*"), limit):
            lines += [
                f"  {step.step if label == 'operation' else '':>{width}}  {label}: {text}" for label, text in rows
            ]
        if limit is not None and len(self) > limit:
            lines.append(f"  ... {len(self) - limit} more steps: print(stepper) lists them all")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines(None))

    def __repr__(self) -> str:
        return "\n".join(self._lines(30))  # print() lists them all


@functools.cache
def _widget_class() -> type[Any]:
    """The widget's class, made once: anywidget is an extra, imported only here."""
    require("anywidget", "widget", user="step_backward's widget")  # absent: names the extra to install
    import anywidget
    import traitlets  # anywidget brings it

    class StepperWidget(anywidget.AnyWidget):
        """The backward pass, step by step: set ``.step`` (0 to ``.last``) to show a step from Python."""

        _esm = SCRIPT + "\nexport default { render({ model, el }) { return renderStepper(model, el); } };\n"
        _css = STYLE
        svg = traitlets.Unicode().tag(sync=True)
        data = traitlets.Unicode().tag(sync=True)
        last = traitlets.Int(0, read_only=True)
        step = traitlets.Int(0).tag(sync=True)

        def __init__(self, *, svg: str, data: str, last: int):
            super().__init__(svg=svg, data=data)
            self.set_trait("last", last)

        @traitlets.validate("step")
        def _check_step(self, proposal: dict[str, Any]) -> int:
            step: int = proposal["value"]
            if not 0 <= step <= self.last:
                raise traitlets.TraitError(f"step_backward widget: step must be from 0 to {self.last}, got {step}")
            return step

    return StepperWidget


def _prettifier(names: Iterable[str]) -> Callable[[str], str]:
    """Writes the textbook names in `names` as the drawing does (``w^(2)_1,0`` as ``w⁽²⁾₁,₀``) in a text."""
    shown = {name: pretty_label(name) for name in names}
    changed = sorted((name for name in shown if shown[name] != name), key=len, reverse=True)
    if not changed:
        return lambda text: text
    # Longest first: w^(2)_7,60 is not read as w^(2)_7,6 followed by 0.
    pattern = re.compile("|".join(map(re.escape, changed)))
    return lambda text: pattern.sub(lambda match: shown[match.group(0)], text)


def _draw(root: Value, order: list[Value], grads: list[float], **options: Any) -> str:
    """The SVG of `root`'s graph with each node's grad field showing `grads`; the ``.grad`` values are put back."""
    saved = [node.grad for node in order]
    try:
        for node, grad in zip(order, grads, strict=True):
            node.grad = grad
        return laid_out(root, **options)[1]
    finally:
        for node, grad in zip(order, saved, strict=True):
            node.grad = grad


_NODE = re.compile(r"v(\d+)(_op)?")
_EDGE = re.compile(r"v(\d+)->v(\d+)_op|v(\d+)_op->v(\d+)")


def _mark_svg(svg: str, initial: dict[str, str], root_name: str) -> str:
    """Graphviz's SVG, made findable and fluid: data-mg-* attributes, grad texts at the start.

    `draw_dot` names the Value at position i of the topological order ``v<i>`` and its operation node ``v<i>_op``;
    Graphviz puts those names in each group's <title>.
    """
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    tree = ET.fromstring(svg[svg.index("<svg") :])
    q = f"{{{_SVG}}}"
    for group in tree.iter(f"{q}g"):
        title = group.find(f"{q}title")
        name = title.text if title is not None and title.text else ""
        kind = group.get("class")
        node, edge = _NODE.fullmatch(name), _EDGE.fullmatch(name)
        if kind == "node" and node and node.group(2):
            group.set("data-mg-op", node.group(1))
        elif kind == "node" and node:
            group.set("data-mg-node", node.group(1))
            texts = [t for t in group.iter(f"{q}text") if (t.text or "").startswith("grad ")]
            if texts:  # the record's last field; a label may start with "grad " too
                texts[-1].set("class", "mg-grad")
                texts[-1].set("data-mg-node", node.group(1))
                texts[-1].text = initial[node.group(1)]
        elif kind == "edge" and edge:
            operand, result, _, into = edge.groups()
            group.set("data-mg-edge", f"{operand}>{result}" if operand is not None else f"op>{into}")
    width, height = svg_length_px(svg, "width"), svg_length_px(svg, "height")
    # Fluid without the script too (an output shown without running scripts): at most its own width.
    tree.attrib.pop("height", None)
    tree.attrib.update({"width": "100%", "style": f"max-width: {width:.0f}px; height: auto"})
    tree.attrib.update({"data-width": f"{width:.1f}", "data-height": f"{height:.1f}", "role": "img"})
    tree.set("aria-label", f"The computation graph of {root_name}")
    return ET.tostring(tree, encoding="unicode")


def step_backward(root: Value, **draw_options: Any) -> BackwardStepper:
    """The backward pass from `root`, step by step; `draw_options` go to `draw` (``rankdir="TB"``, ``digits``...).

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x")
    >>> print(step_backward((x * x).tanh()).gradients["x"] > 0)
    True
    """
    return BackwardStepper(root, **draw_options)
