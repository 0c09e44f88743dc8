"""The backward pass, one chain-rule step at a time, on the drawing of the graph.

`step_backward(root)` returns a `BackwardStepper`.  In Jupyter (JupyterLab,
VS Code, Colab) it shows as a widget (anywidget): the graph drawn once, and
per step the node passing its gradient on, the operand receiving it, the
local derivative, the chain-rule product, and every gradient known so far.
It has "Previous" and "Next" buttons, a slider, and the arrow keys.
``.save("steps.html")`` writes the same as one offline page (SVG, step data,
script and style all inline); ``print(stepper)`` lists the steps as text.

    >>> from microgrid import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> L = a * b + a; L.label = "L"
    >>> stepper = step_backward(L)
    >>> len(stepper), stepper.gradients["a"]
    (4, -2.0)

The steps are `microgrid.drawing.explain.explain_backward`'s, in the order
``backward()`` runs; nothing here changes any ``.grad``.  The drawing is
`microgrid.drawing.draw`'s (options such as ``rankdir="TB"`` go to it; by default
the layout that fits a notebook column), laid out with room for the widest
gradient each node shows along the way.
"""

from __future__ import annotations

import html
import json
import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .._files import atomic_write
from ..engine import Value, topological_order
from ._steps_web import PAGE_MODEL, SCRIPT, STYLE
from .explain import BackwardStep, _six_digit_text, display_names, explain_backward

__all__ = ["BackwardStepper", "step_backward"]

_SVG = "http://www.w3.org/2000/svg"
_PX_PER_PT = 4 / 3  # Graphviz sizes its SVG in points
_UNKNOWN = "?"  # a gradient backward() has not reached yet
_REPR_STEPS = 30  # repr() lists this many steps; print() lists all


def _factor(x: float) -> str:
    """A number as a factor in a product: ``(-3)`` rather than ``-3``."""
    return f"({_six_digit_text(x)})" if x < 0 else _six_digit_text(x)


class BackwardStepper(Sequence[BackwardStep]):
    """A backward pass to step through: a widget in Jupyter, a page via `save`, text in a terminal.

    Indexing gives the `microgrid.drawing.explain.BackwardStep` of each step;
    `gradients` maps each node's name to d(root)/d(node) after the last step.
    """

    def __init__(self, root: Value, *, rankdir: str = "auto", digits: int = 4, **draw_options: Any):
        if not isinstance(root, Value):
            raise TypeError(f"step_backward: root must be a Value, got {type(root).__name__}")
        self._explanation = explain_backward(root)
        order = topological_order(root)
        self._index = {name: i for i, name in enumerate(display_names(order).values())}
        self.root = self._explanation.root
        self.gradients = self._explanation.gradients
        self._digits = digits
        self._widget = None
        self._initial = self._initial_texts(order)
        svg = _draw(root, order, self._widest_grads(order), rankdir=rankdir, digits=digits, **draw_options)
        #: The drawing (SVG text) with the grad fields as at the start.
        self.svg = _mark_svg(svg, self._initial, self.root)

    # ---------------------------------------------------------------- steps
    def __len__(self) -> int:
        return len(self._explanation)

    def __getitem__(self, index):  # type: ignore[override]
        return self._explanation[index]

    def __iter__(self) -> Iterator[BackwardStep]:
        return iter(self._explanation)

    def _grad_text(self, value: float) -> str:
        return f"grad {value:.{self._digits}g}"  # as microgrid.drawing.draw_dot writes it

    def _widest_grads(self, order: list[Value]) -> dict[Value, float]:
        """Per node, the gradient whose text is widest along the way: the drawing makes room for it."""
        widest = {node: self.gradients[name] for node, name in zip(order, display_names(order).values())}
        for step in self:
            node = order[self._index[step.node]]
            if len(self._grad_text(step.accumulated)) > len(self._grad_text(widest[node])):
                widest[node] = step.accumulated
        return widest

    def _initial_texts(self, order: list[Value]) -> dict[str, str]:
        texts = {str(i): f"grad {_UNKNOWN}" for i in range(len(order))}
        texts[str(self._index[self.root])] = self._grad_text(1.0)
        return texts

    def frames(self) -> list[dict[str, Any]]:
        """What is shown at step 0 (the start) to ``len(self)``: the step data the page reads.

        Each frame has ``title`` and ``rows`` (label, text) for the panel; steps
        1.. also ``from`` and ``to`` (node numbers in the drawing) and ``grad``,
        the gradient text the receiving node shows from then on.
        """
        r, n = self.root, len(self)
        pretty = _prettifier(self._index)
        start = {
            "title": f"Start: \u2202{r}/\u2202{r} = 1. Press Next (or \u2192) to pass it back, one operand at a time.",
            "rows": [["order", f"{n} steps, in the order backward() runs: every node after all the nodes that use it"]],
        }
        frames, so_far = [start], {}
        for step in self:
            frame = {"from": self._index[step.result], "to": self._index[step.node],
                     "grad": self._grad_text(step.accumulated)}
            panel = _panel(step, r, n, so_far.get(step.node))
            frame["title"] = pretty(panel["title"])
            frame["rows"] = [[pretty(label), pretty(text)] for label, text in panel["rows"]]
            so_far[step.node] = step.accumulated
            frames.append(frame)
        return frames

    def data(self) -> str:
        """The step data as JSON (see `frames`)."""
        return json.dumps({
            "title": f"Backward pass from {self.root}, step by step",
            "root": self._index[self.root],
            "initial": self._initial,
            "frames": self.frames(),
        }, ensure_ascii=False)

    # ------------------------------------------------------------- showing
    @property
    def widget(self):
        """The Jupyter widget (an anywidget), made on first use; ``.widget.step`` is the step shown."""
        if self._widget is None:
            from ._steps_widget import StepperWidget

            self._widget = StepperWidget(svg=self.svg, data=self.data(), last=len(self))
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
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
        focus = "el.querySelector('.mg-stepper').focus();"  # a page: the arrow keys work at once
        # In a <script>, "</" would end it early; JSON's \\u003c cannot.
        payload = self.data().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        start = (
            f'(function () {{\n{SCRIPT}\n{PAGE_MODEL}\n'
            f'var el = document.getElementById("{box}");\n'
            f'var svg = el.querySelector("svg").outerHTML;\n'
            f'var values = {{data: document.getElementById("{box}-data").textContent, svg: svg, step: 0}};\n'
            f'renderStepper(pageModel(values), el);\n'
            f"{focus if page else ''}\n}})();"
        )
        body = (
            f'<div id="{box}" class="mg-page">{self.svg}'
            f"<p>(The buttons and the slider need JavaScript; the drawing shows the start.)</p></div>\n"
            f'<script type="application/json" id="{box}-data">{payload}</script>\n<script>{start}</script>'
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
            f"<body>\n<h1 style=\"font: 600 18px system-ui, sans-serif\">{title}</h1>\n{body}\n</body>\n</html>\n"
        )

    def save(self, path: str | Path) -> Path:
        """Write the self-contained page (works offline, in any browser); returns the path.

        Atomic, as `Module.save` (see `microgrid._files.atomic_write`): never half
        a page, the mode of the page it replaces kept; a FIFO or a device is refused.

        >>> from microgrid import Value
        >>> import tempfile, os
        >>> x = Value(3.0, label="x")
        >>> page = step_backward(x * x).save(os.path.join(tempfile.mkdtemp(), "steps.html"))
        >>> page.read_text(encoding="utf-8").count("<script")
        2
        """
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"BackwardStepper.save: {str(path)!r}: use a .html file name")
        atomic_write(path, self.html(), where="BackwardStepper.save")
        return path

    # ---------------------------------------------------------------- text
    def _lines(self, limit: int | None) -> list[str]:
        r = self.root
        head = (f"Backward pass from {r}, step by step: {len(self)} steps "
                f"(in Jupyter: Previous/Next, the arrow keys or the slider; .save('steps.html') for a browser)")
        lines = [head, f"  start: d{r}/d{r} = 1"]
        so_far: dict[str, float] = {}
        for step in self._explanation.steps[:limit]:
            for label, text in _panel(step, r, len(self), so_far.get(step.node), d="d", times="*")["rows"]:
                lines.append(f"  {step.step:>{len(str(len(self)))}}  {label}: {text}" if label == "operation"
                             else f"  {' ' * len(str(len(self)))}  {label}: {text}")
            so_far[step.node] = step.accumulated
        if limit is not None and len(self) > limit:
            lines.append(f"  ... {len(self) - limit} more steps: print(stepper) lists them all")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines(None))

    def __repr__(self) -> str:
        return "\n".join(self._lines(_REPR_STEPS))


def _panel(step: BackwardStep, r: str, n: int, before: float | None, d: str = "\u2202", times: str = "\u00d7") -> dict:
    """The panel's title and rows for one step; `before` is the operand's gradient so far (None: first)."""
    c, a = step.result, step.node
    local = f"{d}{c}/{d}{a} = {step.local_rule}"
    if step.skipped:
        rows = [
            ["operation", step.operation],
            ["local derivative", f"{local} (not evaluated)"],
            ["chain rule", f"{d}{r}/{d}{c} = 0, so backward() skips this step"],
            [f"gradient of {a}", f"{d}{r}/{d}{a} = {_six_digit_text(step.accumulated)} (unchanged)"],
        ]
    else:
        shown = _six_digit_text(step.local)
        if step.local_rule != shown:
            local += f" = {shown}"
        total = f"{d}{r}/{d}{a} = {_six_digit_text(step.contribution)}"
        if before is not None:  # a node used more than once: its contributions add up
            total = f"{d}{r}/{d}{a} = {_six_digit_text(before)} + {_factor(step.contribution)} = {_six_digit_text(step.accumulated)}"
        rows = [
            ["operation", step.operation],
            ["local derivative", local],
            ["chain rule", f"{d}{r}/{d}{c} {times} {d}{c}/{d}{a} = {_factor(step.upstream)} {times} "
                           f"{_factor(step.local)} = {_six_digit_text(step.contribution)}"],
            [f"gradient of {a}", total + (" (used more than once: the contributions add up)" if before is not None else "")],
        ]
    return {"title": f"Step {step.step} of {n}: {c} passes its gradient back to {a}", "rows": rows}


def _prettifier(names) -> Callable[[str], str]:
    """Writes the textbook names in `names` as the drawing does (``w^(2)_1,0`` as ``w⁽²⁾₁,₀``) in a text."""
    from .dot import pretty_label

    shown = {name: pretty_label(name) for name in names}
    changed = sorted((name for name in names if shown[name] != name), key=len, reverse=True)
    if not changed:
        return lambda text: text
    # Longest first: w^(2)_7,60 is not read as w^(2)_7,6 followed by 0.
    pattern = re.compile("|".join(map(re.escape, changed)))
    return lambda text: pattern.sub(lambda match: shown[match.group(0)], text)


def _draw(root: Value, order: list[Value], grads: dict[Value, float], **options: Any) -> str:
    """The SVG of `root`'s graph with each node's grad field showing `grads` (for the layout's widths).

    The user's ``.grad`` values are put back afterwards, whatever happens.
    """
    from .display import laid_out

    saved = [(node, node.grad) for node in order]
    try:
        for node in order:
            node.grad = grads[node]
        return laid_out(root, **options)[1]
    finally:
        for node, grad in saved:
            node.grad = grad


_NODE = re.compile(r"v(\d+)(_op)?")
_EDGE = re.compile(r"v(\d+)->v(\d+)_op|v(\d+)_op->v(\d+)")


def _mark_svg(svg: str, initial: dict[str, str], root_name: str) -> str:
    """Graphviz's SVG, made findable and fluid: data-mg-* attributes, grad texts at the start.

    `microgrid.drawing.draw_dot` names the Value at position i of the
    topological order ``v<i>`` and its operation node ``v<i>_op``; Graphviz
    puts those names in each group's <title>.
    """
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    tree = ET.fromstring(svg[svg.index("<svg"):])
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
            operand, result, op_of, into = edge.groups()
            group.set("data-mg-edge", f"{operand}>{result}" if operand is not None else f"op>{into}")
    width = float(tree.get("width", "0pt").removesuffix("pt")) * _PX_PER_PT
    height = float(tree.get("height", "0pt").removesuffix("pt")) * _PX_PER_PT
    # Fluid without the script too (an output shown without running scripts): at most its own width.
    tree.set("width", "100%")
    tree.attrib.pop("height", None)
    tree.set("style", f"max-width: {width:.0f}px; height: auto")
    tree.set("data-width", f"{width:.1f}")
    tree.set("data-height", f"{height:.1f}")
    tree.set("role", "img")
    tree.set("aria-label", f"The computation graph of {root_name}")
    return ET.tostring(tree, encoding="unicode")


def step_backward(root: Value, **draw_options: Any) -> BackwardStepper:
    """The backward pass from `root`, step by step: a widget in Jupyter, ``.save("steps.html")``, text.

    `draw_options` go to `microgrid.drawing.draw` (``rankdir="TB"``,
    ``fields``, ``column``, ``digits``, ``parameters``, ``max_nodes``,
    ``renderer``, ``time_limit``...).  No ``.grad`` is changed.

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x")
    >>> print(step_backward((x * x).tanh()).gradients["x"] > 0)
    True
    """
    return BackwardStepper(root, **draw_options)
