"""`step_backward(root)`: the backward pass one chain-rule step at a time, each drawn on the graph as "upstream ×
local = contribution": a widget in Jupyter, an offline page via ``.save("steps.html")``, text via ``print``."""

from __future__ import annotations

import base64
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
from ..names import parse_textbook, role_names, textbook
from ._steps_web import SCRIPT, STYLE
from .display import candidate_layouts, fit_scale, svg_image, svg_length_px
from .dot import MAX_NODES, draw_dot, drawable_order, neurons, pretty_name, real_scripts, typeset
from .explain import BackwardExplanation, BackwardStep, _rule_and_value, explain_backward, operand
from .render import TIME_LIMIT, render_svgs

_SVG = "http://www.w3.org/2000/svg"
BOX = (1230.0, 600.0)  #: the room, in CSS px, for a drawing: a 1280 × 900 window under the stepper's controls
MIN_TEXT_PX = 9.0  #: the smallest text, in CSS px, the page scales the drawing to; below it, the drawing scrolls


def _factor(x: float, digits: str = ".6g") -> str:
    """A number as a factor in a product: ``(-3)`` rather than ``-3``."""
    return f"({x:{digits}})" if x < 0 else f"{x:{digits}}"


class BackwardStepper(BackwardExplanation):
    """`explain_backward`'s steps to walk through on the drawing: a widget in Jupyter, a page via `save`, text.
    With `fold` (default: for a network, labels ``a^(l)_j``), a sum passes its gradient to all its terms at once;
    on a network the page steps by neuron and by layer too."""

    def __init__(self, root: Value, *, fold: bool | None = None, digits: int = 4, **draw_options: Any):
        order = drawable_order(root, draw_options.get("max_nodes", MAX_NODES), "step_backward")  # before any work
        explanation = explain_backward(root)
        super().__init__(explanation.root, explanation.steps, explanation.gradients)
        self._digits = digits
        names = self._names = list(role_names(order).values())
        self._index = {name: i for i, name in enumerate(names)}  # a node's number in the drawing
        self._ops = [node.op for node in order]
        network = any(parse_textbook(node.label) is not None and node.label[0] == "a" for node in order)
        self._fold = network if fold is None else fold
        self._sums, self._neuron = _structure(order)
        self.hidden = self._sums if self._fold else {}  #: a folded partial sum's number -> the sum's drawn instead
        self._top = max((layer for layer, _ in self._neuron.values()), default=0)  # the output layer, L
        self._owner = {s: self._neuron.get(self._index[s.result], (self._top + 1, 0)) for s in self}  # the loss: L + 1
        self._into: dict[str, list[BackwardStep]] = {}  # each node's steps in
        for s in self:
            self._into.setdefault(s.node, []).append(s)
        self._deltas = {i for i in self._neuron if order[i].label.startswith("z^")}  # δ = ∂root/∂z on them
        self._initial = {str(i): "grad ?" for i in range(len(order))}  # not reached yet
        self._initial[str(self._index[self.root])] = self._grad_text(1.0, self._index[self.root])
        self._pretty = _prettifier(names)
        default, other = self.frames(), self.frames(fold=not self._fold)
        self._views = {"fold" if self._fold else "all": default}
        if len(other) != len(default):  # folding changes something: the page has the toggle
            self._views["all" if self._fold else "fold"] = other
        if self._neuron:
            self._views |= {"neuron": self.frames("neuron"), "layer": self.frames("layer")}
        widest = [self.gradients[name] for name in names]  # each node's widest grad text along the way: room for it
        for frame in (f for frames in self._views.values() for f in frames):
            for i, text in frame["grads"].items():
                if len(text.split()[-1]) > len(f"{widest[int(i)]:.{digits}g}"):
                    widest[int(i)] = float(text.split()[-1])
        svg, (rankdir, fields) = _draw(root, order, widest, self.hidden, digits=digits, **draw_options)
        self.svg = _mark_svg(svg, self._initial, self.root, self._pretty)  #: the drawing, its grads as at the start
        self._other = ""  # folding hides nodes: the drawing for the other setting, in the same layout
        if self._sums:
            options = {**draw_options, "rankdir": rankdir, "fields": fields}
            other, _ = _draw(root, order, widest, {} if self._fold else self._sums, digits=digits, **options)
            self._other = _mark_svg(other, self._initial, self.root, self._pretty)

    def _grad_text(self, value: float, i: int) -> str:
        return f"{'δ' if i in self._deltas else 'grad'} {value:.{self._digits}g}"  # as draw_dot writes it

    def _drawn(self, name: str, hidden: dict[int, int]) -> int:
        """The number of the node drawn for `name`: its own, or the sum's drawn in its place."""
        return hidden.get(self._index[name], self._index[name])

    def _groups(self, by: str, fold: bool) -> Iterator[list[BackwardStep]]:
        """The steps per frame: by value one by one (folded: a sum's together), by neuron or by layer (output first)."""
        if by != "value":
            owner = self._owner
            key: Callable[[BackwardStep], Any] = owner.get if by == "neuron" else lambda s: owner[s][0]
            steps = sorted(self, key=lambda s: (-owner[s][0], owner[s][1]))  # stable: backward()'s order in a group
            return (list(group) for _, group in groupby(steps, key=key))

        def key_(step: BackwardStep) -> int:  # the sum as drawn, else a number of the step's own (negative)
            plus = fold and self._ops[self._index[step.result]] == "+"
            return self._drawn(step.result, self._sums) if plus else -step.step

        return (list(steps) for _, steps in groupby(self, key=key_))

    def _panels(self, by: str, fold: bool, d: str = "\u2202", x: str = "\u00d7") -> Iterator[Any]:
        """Per frame: its steps, title, rows (label, text, its term or -1), receivers' gradients; `d`, `x`: ∂, ×."""
        r, hidden, groups = self.root, self._sums if fold else {}, list(self._groups(by, fold))
        sums = {self.root: 1.0}  # each node's gradient so far
        for k, group in enumerate(groups, start=1):
            priors: list[float | None] = []  # each receiver's gradient before its step: a term twice in a sum too
            for s in group:
                priors.append(sums.get(s.node))
                sums[s.node] = sums.get(s.node, 0.0) + s.contribution  # 0 where skipped
            totals = [sums[s.node] for s in group]
            if by != "value":
                title, rows = self._neuron_panel(by, group, sums)
                yield group, f"Step {k} of {len(groups)}: {title}", rows, totals
                continue
            c = self._names[self._drawn(group[0].result, hidden)]
            shown = [(s, prior) for s, prior in zip(group, priors, strict=True) if self._index[s.node] not in hidden]
            if len(group) == 1:
                rows = [["operation", group[0].operation, -1]]
                title = f"{c} passes its gradient back to {group[0].node}"
            else:
                terms = " + ".join(s.node for s, _ in sorted(shown, key=lambda t: self._index[t[0].node]))
                rows = [["operation", f"{c} = {terms}", -1], ["local derivative", f"{d}{c}/{d}(each term) = 1", -1]]
                title = f"{c} passes its gradient on to each term, unchanged: a sum's local derivatives are 1"
            for term, (s, prior) in enumerate(shown):
                a, q = operand(s.node), operand(s.result)
                total, grad = f"{s.contribution:.6g}", f"{d}{r}/{d}{a}"
                if s.local is None:
                    total = f"{sums[s.node]:.6g} (unchanged)"
                elif prior is not None:  # a node used more than once: its contributions add up
                    total = f"{prior:.6g} + {_factor(s.contribution)} = {prior + s.contribution:.6g}"
                    total += " (used more than once: the contributions add up)"
                if len(group) > 1:
                    rows.append([f"gradient of {s.node}", f"{grad} = {d}{r}/{d}{operand(c)} {x} 1 = {total}", term])
                    continue
                local = f"{s.local_rule} (not evaluated)" if s.local is None else _rule_and_value(s.local_rule, s.local)
                rows += [["local derivative", f"{d}{q}/{d}{a} = {local}", -1], self._chain(s, term, d, x)]
                rows.append([f"gradient of {s.node}", f"{grad} = {total}", -1])
            yield group, f"Step {k} of {len(groups)}: {title}", rows, totals

    def _neuron_panel(self, by: str, group: list[BackwardStep], sums: dict[str, float]) -> tuple[str, list[Any]]:
        """A neuron's or a layer's frame: its title, and the backprop equations it uses with their numbers."""
        r, owners = self.root, sorted({self._owner[s] for s in group})
        if owners[0][0] in (0, self._top + 1):  # before or after the network: its chain-rule steps
            rows = [[f"to {s.node}", self._chain(s)[1], -1] for s in group]
            before = "the network's inputs pass their gradients back to what they are computed from"
            return (before if owners[0][0] == 0 else f"{r} passes its gradient back to the network's output"), rows
        if by == "layer":
            return f"layer {owners[0][0]}: each neuron's error by BP1 or BP2", [self._delta(*n, sums) for n in owners]
        (layer, j), rows = owners[0], [self._delta(*owners[0], sums)]
        z, a, b, delta = (textbook(name, layer, j) for name in ("z", "a", "b", "delta"))
        parsed = {s: parse_textbook(s.node) or ("", "", ()) for s in group}
        slopes = [s for s in group if s.result == a and s.node == z and s.local is not None]
        rows += [["\u03c3'", f"\u03c3'({z}) = {_rule_and_value(s.local_rule, s.local)}", -1] for s in slopes]
        if b in sums:
            rows.append(["BP3", f"\u2202{r}/\u2202{b} = {delta} = {sums[b]:.4g}", -1])
        listed = sorted(group, key=lambda s: self._index[s.node])
        ws = [s for s in listed if parsed[s][:2] == ("w", str(layer))]
        back = [s for s in listed if parsed[s][1] == str(layer - 1)]  # a^(l-1)_k, or z^(l-1)_k where linear
        w, before = textbook("w", layer, j, "k"), textbook(parsed[back[0]][0] if back else "a", layer - 1, "k")
        if ws:
            rows.append(["BP4", f"\u2202{r}/\u2202{w} = {before} {delta}: {_listing(ws)}", -1])
        if back:
            rows.append(["passes back", f"{w} {delta} to each {before}: {_listing(back)}", -1])
        title = f"neuron {textbook('a', layer, j)}: its error {delta}, its parameters' gradients, what it passes back"
        return _greek(title), [[label, _greek(text), link] for label, text, link in rows]

    def _delta(self, layer: int, j: int, sums: dict[str, float]) -> list[Any]:
        """The row of BP1 (the output layer) or BP2 for δ^(l)_j, with its numbers from the steps."""
        z, a, delta = (textbook(name, layer, j) for name in ("z", "a", "delta"))
        act = next((s for s in self._into.get(z, []) if s.result == a), None)
        out = a if act is not None else z  # a linear neuron's output is its z
        slope = "1" if act is None else "(not evaluated)" if act.local is None else f"{act.local:.4g}"
        known = f"{_factor(sums.get(out, 0.0), '.4g')} \u00d7 {slope} = {sums.get(z, 0.0):.4g}"
        if layer == self._top:
            label, text = "BP1", f"{delta} = \u2202{self.root}/\u2202{a} \u00b7 \u03c3'({z}) = {known}"
        else:
            terms = " + ".join(_times(s) for s in self._into.get(out, []) if s.local is not None) or "0"
            w, after = textbook("w", layer + 1, "k", j), textbook("delta", layer + 1, "k")
            label, text = "BP2", f"{delta} = (Σₖ {w} {after}) σ'({z}) = ({terms}) \u00d7 {slope} = {known}"
        if act is None:
            text += f" (linear: {a} = {z}, \u03c3' = 1)"
        return [f"{label}, \u03c3 = {'linear' if act is None else self._ops[self._index[a]]}", _greek(text), -1]

    def _chain(self, s: BackwardStep, term: int = -1, d: str = "\u2202", x: str = "\u00d7") -> list[Any]:
        """The chain rule's row for step `s`: upstream × local = contribution, or why backward() skips it."""
        r, q, a = self.root, operand(s.result), operand(s.node)
        if s.local is None:
            return ["chain rule", f"{d}{r}/{d}{q} = 0, so backward() skips this step", term]
        product = f"{_factor(s.upstream)} {x} {_factor(s.local)}"
        return ["chain rule", f"{d}{r}/{d}{q} {x} {d}{q}/{d}{a} = {product} = {s.contribution:.6g}", term]

    def frames(self, by: str = "value", fold: bool | None = None) -> list[dict[str, Any]]:
        """Per step (and the start), `by` "value", "neuron" or "layer": ``title``, ``rows``, ``links`` (each row's term
        or -1), ``from``, ``to``, ``grad`` (its last step's nodes, receiver's text), ``grads`` {node: text}, ``terms``
        (arrows: ``to``, ``op``, ``n``), ``deltas`` {z node: δ}; by neuron or layer, ``givers`` (every giving node)."""
        fold = self._fold if fold is None else fold
        r, pretty, hidden = self.root, self._pretty, self._sums if fold else {}
        title = f"Start: \u2202{r}/\u2202{r} = 1. Press Next (or \u2192) to pass it back, one operand at a time."
        order = "every node after all the nodes that use it: the order backward() runs"
        if by != "value":
            title = title.replace("operand", by)
            order = f"the same steps as backward(), grouped by {by}, output layer first: each still after its users"
        start = {"title": pretty(title), "rows": [["order", order]], "links": [-1], "terms": [], "grads": {}}
        frames: list[dict[str, Any]] = [start]
        edges: dict[tuple[int, int], int] = {}  # (operand, operation as drawn) -> their edges used so far
        for group, title, rows, totals in self._panels(by, fold):
            terms: list[dict[str, Any]] = []
            grads: dict[str, str] = {}
            deltas: dict[str, float] = {}
            for s, total in zip(group, totals, strict=True):
                to, op = self._index[s.node], self._drawn(s.result, hidden)
                edges[to, op] = n = edges.get((to, op), -1) + 1
                if to not in hidden:
                    grads[str(to)] = self._grad_text(total, to)
                    deltas |= {str(to): total} if to in self._deltas else {}
                    short = f"{s.contribution:.3g}"
                    text = "skipped: " if s.local is None else f"{s.upstream:.3g} \u00d7 {s.local:.3g} = "
                    terms.append({"to": to, "op": op, "n": n, "text": text + short, "short": short})
            frame: dict[str, Any] = {"title": pretty(title), "rows": [[pretty(a), pretty(b)] for a, b, _ in rows]}
            frame |= {"links": [t for *_, t in rows], "from": self._drawn(group[-1].result, hidden), "to": to}
            frame |= {"grads": grads, "deltas": deltas, "terms": terms, "grad": self._grad_text(totals[-1], to)}
            if by != "value":
                frame["givers"] = sorted({self._drawn(s.result, hidden) for s in group})
            frames.append(frame)
        return frames

    def data(self) -> str:
        """The step data as JSON (see `frames`)."""
        r, (start, *others) = self.root, self._views
        data: dict[str, Any] = {"title": f"Backward pass from {r}, step by step", "root": self._index[r]}
        data |= {"initial": self._initial, "frames": self._views[start], "start": start, "views": {}}
        for key in others:  # by value folded the other way (on the other drawing, if folding hides nodes), by neuron...
            data["views"][key] = {"frames": self._views[key], "other": key in ("fold", "all") and bool(self._other)}
        if self._other:
            data["other"] = base64.b64encode(self._other.encode("utf-8")).decode("ascii")
        if self._deltas:
            data["delta"] = self._pretty(f"\u03b4 = \u2202{r}/\u2202z, the neuron's error")
        return json.dumps(data, ensure_ascii=False)

    @functools.cached_property
    def widget(self) -> Any:
        """The Jupyter widget (an anywidget), made on first use; ``.widget.step`` is the step shown."""
        last = max(len(frames) for frames in self._views.values()) - 1  # any view's
        return _widget_class()(svg=self.svg, data=self.data(), last=last)

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
            f"<title>{title}</title>\n<style>{STYLE}\nbody {{ margin: 8px 24px; }}</style>\n</head>\n<body>\n"
            f'<h1 style="font: 600 16px system-ui, sans-serif; margin: 4px 0">{title}</h1>\n{body}\n</body>\n</html>\n'
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
        for k, (_, _, rows, _) in enumerate(islice(self._panels("value", self._fold, "d", "*"), limit), start=1):
            lines += [f"  {k if label == 'operation' else '':>{width}}  {label}: {text}" for label, text, _ in rows]
        if limit is not None and (frames := sum(1 for _ in self._groups("value", self._fold))) > limit:
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


def _times(s: BackwardStep) -> str:
    """A neuron's step as its equation multiplies: ``local × upstream`` (``a δ``, ``w δ``)."""
    return "skipped" if s.local is None else f"{_factor(s.local, '.4g')} \u00d7 {_factor(s.upstream, '.4g')}"


def _listing(steps: list[BackwardStep]) -> str:
    return "; ".join(f"{_times(s)} = {s.contribution:.4g} ({s.node})" for s in steps)


def _greek(text: str) -> str:
    """Textbook labels in `text` as drawn, ``delta`` as δ."""
    return pretty_name(text).replace("delta", "\u03b4")


def _structure(order: list[Value]) -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
    """By node number: each unlabelled sum used once, by a sum -> the outermost sum it is part of; each operation
    -> its neuron (l, j) as `neurons` finds it, or (0, 0) if it feeds the network from before it."""
    member, _ = neurons(order)
    users: dict[Value, list[int]] = {}  # each node's users' numbers
    for i, node in enumerate(order):
        for parent in node.parents:
            users.setdefault(parent, []).append(i)
    sums: dict[int, int] = {}
    owner: dict[int, tuple[int, int]] = {}
    for i, node in reversed(list(enumerate(order))):  # a node's users before it
        used, key = users.get(node, []), member.get(node, ("", ""))
        if node.op == "+" and not node.label and len(used) == 1 and order[used[0]].op == "+":
            sums[i] = sums.get(used[0], used[0])
        if node.parents and key[0].isdigit() and key[1].isdigit():
            owner[i] = (int(key[0]), int(key[1]))
        elif node.parents and any(user in owner for user in used):
            owner[i] = (0, 0)
    return sums, owner


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


def _draw(root: Value, order: list[Value], grads: list[float], hidden: dict[int, int], **options: Any) -> Any:
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
        dot.graph_attr.update(ranksep="0.2", nodesep="0.3")  # compact: more of a network fits the window
        dot.node_attr.update(width="0.3")  # an operation's ellipse as narrow as its symbol
        _fold(dot, hidden)
    svgs = [typeset(svg) for svg in render_svgs([d.source for d in digraphs], renderer, time_limit=time_limit)]
    best = max(range(len(svgs)), key=lambda i: fit_scale(svgs[i], *BOX))  # the first of the best, as shown: legend too
    return svgs[best], layouts[best]


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
    """The backward pass from `root`, step by step; `draw_options` as for `draw`, no `column` (``rankdir="TB"``...).

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> stepper = step_backward(a * b + a)
    >>> len(stepper), stepper.gradients["a"]
    (4, -2.0)
    """
    return BackwardStepper(root, fold=fold, **draw_options)
