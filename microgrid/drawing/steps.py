"""`step_backward(root)`: the backward pass one chain-rule step at a time, each drawn on the graph as "upstream ×
local = contribution": a widget in Jupyter, an offline page via ``.save("steps.html")``, text via ``print``."""

from __future__ import annotations

import functools
import html
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from .._extras import require
from .._files import atomic_write
from ..engine import Value
from ..graphs import topological_order
from ..names import parse_textbook, role_names
from ._steps_web import SCRIPT, STYLE
from .display import candidate_layouts, fit_scale, svg_image, svg_length_px
from .dot import draw_dot, pretty_name, real_scripts, typeset
from .explain import BackwardExplanation, BackwardStep, _rule_and_value, explain_backward, operand
from .render import TIME_LIMIT, render_svgs

_SVG = "http://www.w3.org/2000/svg"
BOX = (1230.0, 600.0)  #: the room, in CSS px, for a drawing: a 1280 × 900 window under the stepper's controls
MIN_TEXT_PX = 9.0  #: the smallest text, in CSS px, the page scales the drawing to; below it, the drawing scrolls


def _factor(x: float) -> str:
    """A number as a factor in a product: ``(-3)`` rather than ``-3``."""
    return f"({x:.6g})" if x < 0 else f"{x:.6g}"


class BackwardStepper(BackwardExplanation):
    """`explain_backward`'s steps to walk through on the drawing: a widget in Jupyter, a page via `save`, text.
    With `fold` (default: for a network, labels ``a^(l)_j``), a sum passes its gradient to all its terms at once."""

    def __init__(self, root: Value, *, fold: bool | None = None, digits: int = 4, **draw_options: Any):
        if not isinstance(root, Value):
            raise TypeError(f"step_backward: root must be a Value, got {type(root).__name__}")
        explanation = explain_backward(root)
        super().__init__(explanation.root, explanation.steps, explanation.gradients)
        self._digits = digits
        order = topological_order(root)
        names = self._names = list(role_names(order).values())
        self._index = {name: i for i, name in enumerate(names)}  # a node's number in the drawing
        self._ops = [node.op for node in order]
        network = any(parse_textbook(node.label) is not None and node.label[0] == "a" for node in order)
        self._fold = network if fold is None else fold
        self.hidden = (
            _partial_sums(order) if self._fold else {}
        )  #: a folded partial sum's number -> the sum's drawn instead
        self._initial = {str(i): "grad ?" for i in range(len(order)) if i not in self.hidden}  # not reached yet
        self._initial[str(self._index[self.root])] = self._grad_text(1.0)
        self._pretty = _prettifier(names)
        widest = [self.gradients[name] for name in names]  # each node's widest grad text along the way: room for it
        for step in self:
            i = self._index[step.node]
            if len(self._grad_text(step.accumulated)) > len(self._grad_text(widest[i])):
                widest[i] = step.accumulated
        svg = _draw(root, order, widest, self.hidden, digits=digits, **draw_options)
        self.svg = _mark_svg(svg, self._initial, self.root, self._pretty)  #: the drawing, its grads as at the start

    def _grad_text(self, value: float) -> str:
        return f"grad {value:.{self._digits}g}"  # as draw_dot writes it

    def _drawn(self, name: str) -> int:
        """The number of the node drawn for `name`: its own, or the sum's drawn in its place."""
        i = self._index[name]
        return self.hidden.get(i, i)

    def _groups(self) -> Iterator[list[BackwardStep]]:
        """The steps as shown: one at a time, or, folded, a sum's steps to all its terms together."""

        def key(step: BackwardStep) -> int:  # the sum as drawn, else a number of the step's own (negative)
            return self._drawn(step.result) if self._fold and self._ops[self._index[step.result]] == "+" else -step.step

        return (list(steps) for _, steps in groupby(self, key=key))

    def _panels(self, d: str = "\u2202", x: str = "\u00d7") -> Iterator[tuple[list[BackwardStep], str, list[Any]]]:
        """Per frame: its steps, title and rows (label, text, the term it shows or -1); `d` and `x` write ∂ and ×."""
        r, groups = self.root, list(self._groups())
        before: dict[str, float] = {}  # each operand's gradient so far
        for k, group in enumerate(groups, start=1):
            c = self._names[self._drawn(group[0].result)]
            shown = [s for s in group if self._index[s.node] not in self.hidden]
            if len(group) == 1:
                rows = [["operation", group[0].operation, -1]]
                title = f"{c} passes its gradient back to {group[0].node}"
            else:
                terms = " + ".join(s.node for s in sorted(shown, key=lambda s: self._index[s.node]))
                rows = [["operation", f"{c} = {terms}", -1], ["local derivative", f"{d}{c}/{d}(each term) = 1", -1]]
                title = f"{c} passes its gradient on to each term, unchanged: a sum's local derivatives are 1"
            for term, s in enumerate(shown):
                a, q = operand(s.node), operand(s.result)
                total, grad = f"{s.contribution:.6g}", f"{d}{r}/{d}{a}"
                if s.local is None:
                    total = f"{s.accumulated:.6g} (unchanged)"
                elif s.node in before:  # a node used more than once: its contributions add up
                    total = f"{before[s.node]:.6g} + {_factor(s.contribution)} = {s.accumulated:.6g}"
                    total += " (used more than once: the contributions add up)"
                if len(group) > 1:
                    rows.append([f"gradient of {s.node}", f"{grad} = {d}{r}/{d}{operand(c)} {x} 1 = {total}", term])
                    continue
                local = f"{s.local_rule} (not evaluated)"
                chain = f"{d}{r}/{d}{q} = 0, so backward() skips this step"
                if s.local is not None:
                    local = _rule_and_value(s.local_rule, s.local)
                    product = f"{_factor(s.upstream)} {x} {_factor(s.local)}"
                    chain = f"{d}{r}/{d}{q} {x} {d}{q}/{d}{a} = {product} = {s.contribution:.6g}"
                rows += [["local derivative", f"{d}{q}/{d}{a} = {local}", -1], ["chain rule", chain, term]]
                rows.append([f"gradient of {s.node}", f"{grad} = {total}", -1])
            before.update((s.node, s.accumulated) for s in group)
            yield group, f"Step {k} of {len(groups)}: {title}", rows

    def frames(self) -> list[dict[str, Any]]:
        """Per step (and the start): ``title``, ``rows``, ``links`` (each row's term or -1), ``from``, ``to``, ``grad``
        (its last step's nodes, receiver's text), ``grads`` {node: text}, ``terms`` (arrows: ``to``, ``op``, ``n``)."""
        r, pretty = self.root, self._pretty
        title = f"Start: \u2202{r}/\u2202{r} = 1. Press Next (or \u2192) to pass it back, one operand at a time."
        order = "every node after all the nodes that use it: the order backward() runs"
        start = {"title": pretty(title), "rows": [["order", order]], "links": [-1], "terms": [], "grads": {}}
        frames: list[dict[str, Any]] = [start]
        edges: dict[tuple[int, int], int] = {}  # (operand, operation as drawn) -> their edges used so far
        for group, title, rows in self._panels():
            terms: list[dict[str, Any]] = []
            grads: dict[str, str] = {}
            for s in group:
                to, op = self._index[s.node], self._drawn(s.result)
                edges[to, op] = n = edges.get((to, op), -1) + 1
                if to not in self.hidden:
                    grads[str(to)], short = self._grad_text(s.accumulated), f"{s.contribution:.3g}"
                    text = "skipped: " if s.local is None else f"{s.upstream:.3g} \u00d7 {s.local:.3g} = "
                    terms.append({"to": to, "op": op, "n": n, "text": text + short, "short": short})
            last, links = group[-1], [term for *_, term in rows]
            frame: dict[str, Any] = {"title": pretty(title), "rows": [[pretty(a), pretty(b)] for a, b, _ in rows]}
            frame |= {"links": links, "from": self._drawn(last.result), "to": self._index[last.node], "grads": grads}
            frames.append({**frame, "grad": self._grad_text(last.accumulated), "terms": terms})
        return frames

    def data(self) -> str:
        """The step data as JSON (see `frames`)."""
        title = f"Backward pass from {self.root}, step by step"
        data = {"title": title, "root": self._index[self.root], "initial": self._initial, "frames": self.frames()}
        return json.dumps(data, ensure_ascii=False)

    @functools.cached_property
    def widget(self) -> Any:
        """The Jupyter widget (an anywidget), made on first use; ``.widget.step`` is the step shown."""
        return _widget_class()(svg=self.svg, data=self.data(), last=len(self.frames()) - 1)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> Any:  # a dict or (dict, dict)
        fallback = {"text/plain": repr(self), "text/html": self.html(page=False)}
        try:
            shown = self.widget._repr_mimebundle_()
        except ImportError:  # no anywidget: the page, which runs where outputs may run scripts
            return fallback
        data, metadata = shown if isinstance(shown, tuple) else (shown or {}, {})
        return {**fallback, **data, "text/plain": repr(self)}, metadata

    def html(self, page: bool = True) -> str:
        """Self-contained HTML, a whole page (`save`) or a notebook's fragment: an image of the drawing till it runs."""
        box = f"mg-{uuid.uuid4().hex}"
        # In a <script>, "</" would end it early; JSON's \\u003c cannot.
        payload = self.data().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        width = float(re.search(r'data-width="([\d.]+)"', self.svg)[1])  # type: ignore[index]
        image = svg_image(self.svg, width, f"The computation graph of {html.escape(self.root)}")
        body = (
            f'<div id="{box}" class="mg-page">{image}'
            f"<p>Run the cell to step through the backward pass (the buttons need JavaScript).</p></div>\n"
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
            f"<title>{title}</title>\n<style>{STYLE}\nbody {{ margin: 8px 24px; }}</style>\n</head>\n"
            f'<body>\n<h1 style="font: 600 16px system-ui, sans-serif; margin: 4px 0">{title}</h1>\n{body}\n</body>\n'
            "</html>\n"
        )

    def save(self, path: str | Path) -> Path:
        """Write the self-contained page (offline, any browser) atomically, as `Module.save`; returns the path.

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
        hint = "(in Jupyter: Previous/Next, the arrow keys or the slider; .save('steps.html') for a browser)"
        lines = [f"Backward pass from {r}, step by step: {len(self)} steps {hint}", f"  start: d{r}/d{r} = 1"]
        for k, (_, _, rows) in enumerate(islice(self._panels(d="d", x="*"), limit), start=1):
            lines += [f"  {k if label == 'operation' else '':>{width}}  {label}: {text}" for label, text, _ in rows]
        frames = sum(1 for _ in self._groups())
        if limit is not None and frames > limit:
            lines.append(f"  ... {frames - limit} more steps: print(stepper) lists them all")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines(None))

    def __repr__(self) -> str:
        return "\n".join(self._lines(30))  # print() lists them all


@functools.cache
def _widget_class() -> type[Any]:
    """The widget's class, made once: anywidget is an extra, imported only here."""
    require("anywidget", "widget", user="step_backward's widget")
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
    """Writes the names in a text as the drawing does (``w^(2)_1,0*a`` as ``w⁽²⁾₁,₀·a``)."""

    shown = {name: pretty_name(name) for name in names}
    changed = sorted((name for name in shown if shown[name] != name), key=len, reverse=True)
    if not changed:
        return lambda text: text
    # Longest first: w^(2)_7,60 is not read as w^(2)_7,6 followed by 0.
    pattern = re.compile("|".join(map(re.escape, changed)))
    return lambda text: pattern.sub(lambda match: shown[match.group(0)], text)


def _partial_sums(order: list[Value]) -> dict[int, int]:
    """Each unlabelled sum used once, by a sum: its number -> the number of the outermost sum it is part of."""
    users: dict[Value, list[Value]] = {}
    for node in order:
        for parent in node.parents:
            users.setdefault(parent, []).append(node)
    index = {node: i for i, node in enumerate(order)}
    tops: dict[int, int] = {}
    for node in reversed(order):  # a sum's user before the sum
        used_by = users.get(node, [])
        if node.op == "+" and not node.label and len(used_by) == 1 and used_by[0].op == "+":
            tops[index[node]] = tops.get(index[used_by[0]], index[used_by[0]])
    return tops


def _fold(dot: Any, hidden: dict[int, int]) -> None:
    """`draw_dot`'s Digraph without the folded partial sums: their operands feed the sum drawn in their place."""
    body = []
    for text in dot.body:
        match = re.match(r"\tv(\d+)(?:_op)?(?: -> v(\d+)_op)?", text)
        if match and int(match[1]) in hidden:
            continue  # the partial sum, its operation node, and their edges
        if match and match[2] is not None and int(match[2]) in hidden:
            text = text.replace(f"-> v{match[2]}_op", f"-> v{hidden[int(match[2])]}_op", 1)
        body.append(text)
    dot.body[:] = body


def _draw(root: Value, order: list[Value], grads: list[float], hidden: dict[int, int], **options: Any) -> str:
    """The SVG of `root`'s graph, compact, in the layout that fits `BOX` largest, its grad fields showing `grads`."""
    rankdir, fields = options.pop("rankdir", "auto"), options.pop("fields", "auto")
    renderer, time_limit = options.pop("renderer", "auto"), options.pop("time_limit", TIME_LIMIT)
    layouts = candidate_layouts(rankdir, fields)
    if rankdir == "auto" and fields in ("auto", "stacked"):
        layouts.insert(1, ("LR", "stacked"))
    saved = [node.grad for node in order]
    try:
        for node, grad in zip(order, grads, strict=True):
            node.grad = grad
        digraphs = [draw_dot(root, rankdir=r, fields=f, level="values", grads=True, **options) for r, f in layouts]
    finally:
        for node, grad in zip(order, saved, strict=True):
            node.grad = grad
    for dot in digraphs:
        dot.graph_attr.update(ranksep="0.2", nodesep="0.12")  # compact: more of a network fits the window
        dot.node_attr.update(width="0.3")  # an operation's ellipse as narrow as its symbol
        _fold(dot, hidden)
    svgs = render_svgs([d.source for d in digraphs], renderer, time_limit=time_limit)
    return typeset(max(svgs, key=lambda svg: fit_scale(svg, *BOX)))  # the first of the best


_NODE = re.compile(r"v(\d+)(_op)?")
_EDGE = re.compile(r"v(\d+)->v(\d+)_op|v(\d+)_op->v(\d+)")


def _mark_svg(svg: str, initial: dict[str, str], root_name: str, pretty: Callable[[str], str]) -> str:
    """Graphviz's SVG, made findable and fluid: data-mg-* attributes, grad texts at the start, names `pretty`
    (`draw_dot` names the Value at position i of the topological order ``v<i>``, its operation ``v<i>_op``)."""
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    tree = ET.fromstring(svg[svg.index("<svg") :])
    q = f"{{{_SVG}}}"
    for group in tree.iter(f"{q}g"):
        name, kind = group.findtext(f"{q}title") or "", group.get("class")
        node, edge = _NODE.fullmatch(name), _EDGE.fullmatch(name)
        if kind == "node" and node and node.group(2):
            group.set("data-mg-op", node.group(1))
        elif kind == "node" and node:
            group.set("data-mg-node", node.group(1))
            for text in group.iter(f"{q}text"):
                text.text = pretty(text.text or "")  # narrower: each text stays centred in its field
            texts = [t for t in group.iter(f"{q}text") if (t.text or "").startswith("grad ")]
            if texts:  # the record's last field; a label may start with "grad " too
                texts[-1].attrib.update({"class": "mg-grad", "data-mg-node": node.group(1)})
                texts[-1].text = initial[node.group(1)]
        elif kind == "edge" and edge:
            operand, result, _, into = edge.groups()
            group.set("data-mg-edge", f"{operand}>{result}" if operand is not None else f"op>{into}")
            for text in group.iter(f"{q}text"):  # an operand's number: as large as the nodes' text
                text.set("font-size", "11.00")
    width, height = svg_length_px(svg, "width"), svg_length_px(svg, "height")
    # Fluid without the script too (an output shown without running scripts): at most its own width.
    tree.attrib.pop("height", None)
    tree.attrib.update({"width": "100%", "style": f"max-width: {width:.0f}px; height: auto"})
    tree.attrib.update({"data-width": f"{width:.1f}", "data-height": f"{height:.1f}", "role": "img"})
    tree.set("aria-label", f"The computation graph of {root_name}")
    svg = real_scripts(ET.tostring(tree, encoding="unicode"))  # after `pretty`, which may write new scripts
    smallest = min(map(float, re.findall(r'font-size="([\d.]+)"', svg)), default=14.0)  # in pt
    return svg.replace("<svg ", f'<svg data-min-scale="{MIN_TEXT_PX / (smallest * 4 / 3):.3f}" ', 1)


def step_backward(root: Value, *, fold: bool | None = None, **draw_options: Any) -> BackwardStepper:
    """The backward pass from `root`, step by step; `draw_options` go to `draw` (``rankdir="TB"``, ``digits``...).

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> stepper = step_backward(a * b + a)
    >>> len(stepper), stepper.gradients["a"]
    (4, -2.0)
    """
    return BackwardStepper(root, fold=fold, **draw_options)
