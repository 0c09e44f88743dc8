"""`draw_dot(root)`: a computation graph as DOT, in a `Digraph`, as micrograd draws it.

A record per Value (label | data | grad) filled by its kind (`COLOURS`), an operation node feeding each result, edges
in operand order; labels escaped (`record_text`), so that no label can add markup to the SVG or break the DOT.

    >>> from microgrid import Value
    >>> x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    >>> draw_dot((x * w).tanh()).source.count("->")   # x, w into "*"; "*" into x*w; x*w into "tanh"; "tanh" into y
    5
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# graphviz (slow to import) loads with this module, which `import microgrid` loads only on first use.
import graphviz

from .._files import atomic_write
from ..engine import Value
from ..graphs import topological_order
from ..names import parse_textbook, resolve, textbook
from .explain import display_names
from .render import _LOW_EFFORT, INSTALL_GRAPHVIZ, SMALLER_PIECE, RendererUnavailableError, one_of, render_svg

#: Default largest number of Values `draw_dot` lays out.
MAX_NODES = 2000

#: Above this `layout_size`, ``effort="auto"`` asks Graphviz for less layout work.
FULL_EFFORT_SIZE = 2000

#: Fill colours per node kind (also read by the tests and the notebooks' legend).
COLOURS = {
    "output": "#b7e4a5",
    "parameter": "#ffd27f",
    "input": "#a9d3f5",
    "constant": "#e6e6e6",
    "intermediate": "#ffffff",
}
_OP_NODE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f2f2f2", "margin": "0.05,0.02", "height": "0.3"}

_SUPERSCRIPT = str.maketrans("0123456789()+-=LlnNijk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ᴸˡⁿᴺⁱʲᵏ")
_SUBSCRIPT = str.maketrans("0123456789()+-=aeijklmnoprstux", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋₌ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤₓ")
_RECORD_SPECIALS = set('\\{}|<>" ')
#: The size of indices, in pt: 9 px or more wherever a drawing is shown at 3/4 of its size or more.
SCRIPT_PT = 9
# Each Unicode script: its shift down the baseline (pt: raised is negative) and the plain character.
_SCRIPTS = {chr(s): (-4, chr(p)) for p, s in _SUPERSCRIPT.items()} | {
    chr(s): (3, chr(p)) for p, s in _SUBSCRIPT.items()
}


class GraphTooLargeError(ValueError):
    """The graph has more Values than `max_nodes`: laying it out would take minutes."""


class GraphvizNeededError(RendererUnavailableError, graphviz.ExecutableNotFound):
    """A format or engine only the system Graphviz renders, and `dot` is not on PATH; graphviz's error too."""

    __init__ = RuntimeError.__init__


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph`; without ``dot`` on PATH it renders SVG with the WebAssembly Graphviz, as `draw` does."""

    def _repr_image_svg_xml(self) -> str:
        return typeset(render_svg(self.source))

    # graphviz runs `dot` only through these three seams: without a system dot ours stand in, and graphviz still
    # checks the arguments, saves the source and names the output file.
    @property
    def _pipe_lines(self) -> Callable[..., Any]:
        return super()._pipe_lines if shutil.which("dot") else _pipe_without_dot

    @property
    def _pipe_lines_string(self) -> Callable[..., Any]:
        return super()._pipe_lines_string if shutil.which("dot") else _pipe_without_dot

    @property
    def _render(self) -> Callable[..., Any]:
        ours = functools.partial(_render_without_dot, encoding=self.encoding)
        return super()._render if shutil.which("dot") else ours


def pretty_label(label: str) -> str:
    """A textbook label with Unicode scripts (the WebAssembly Graphviz has no <SUB>/<SUP>); others unchanged.

    >>> pretty_label("w^(2)_1,0"), pretty_label("b^(L)_j"), pretty_label("A_prev")
    ('w⁽²⁾₁,₀', 'b⁽ᴸ⁾ⱼ', 'A_prev')
    """
    parsed = parse_textbook(label)
    if parsed is None:
        return label
    name, layer, indices = parsed
    sup = f"({layer})".translate(_SUPERSCRIPT)
    subs = [i.translate(_SUBSCRIPT) for i in indices]
    if any(ch.isascii() for ch in sup + "".join(subs)):
        return label  # a character without a Unicode script: keep the plain form
    return name + sup + ",".join(subs)


def typeset(svg: str) -> str:
    """Graphviz's `svg` with `pretty_label`'s Unicode scripts as real ones (tspans of `SCRIPT_PT`: neither Graphviz
    renderer has <SUB>), and a legend of the fill colours it uses.

    >>> typeset('<svg><text x="1">x₁</text></svg>')
    '<svg><text x="1">x<tspan dy="3" font-size="9">1</tspan></text></svg>'
    """
    svg = re.sub(r"(<text\b[^>]*>)([^<]*)</text>", _scripted, svg)
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"\s+viewBox="[^"]*"', svg)
    kinds = [kind for kind in ("input", "parameter", "constant", "output") if f'fill="{COLOURS[kind]}"' in svg]
    if size is None or not kinds:
        return svg
    width, height = map(float, size.groups())
    background = f'<rect y="{height}" width="100%" height="18" fill="white"/>'  # the legend's row
    keys, x = [f'<g font-family="Helvetica,sans-Serif" font-size="11">{background}'], 4.0
    for kind in kinds:
        keys.append(f'<rect x="{x}" y="{height + 4}" width="10" height="10" fill="{COLOURS[kind]}" stroke="black"/>')
        keys.append(f'<text x="{x + 14}" y="{height + 13}">{kind}</text>')
        x += 26 + 6.2 * len(kind)
    width = max(width, x)
    head = f'<svg width="{width}pt" height="{height + 18}pt" viewBox="0 0 {width} {height + 18}"'
    return svg[: size.start()] + head + svg[size.end() : svg.rindex("</svg>")] + "".join(keys) + "</g></svg>"


def _scripted(text: re.Match[str]) -> str:
    """One <text> of Graphviz's SVG, its Unicode scripts raised and lowered in tspans."""
    start, chars = text.groups()
    shifts = [_SCRIPTS.get(ch, (0, ""))[0] for ch in chars]
    for i in range(1, len(chars) - 1):
        if chars[i] == "," and shifts[i - 1] == shifts[i + 1] == 3:  # w⁽²⁾₁,₀: the comma between indices
            shifts[i] = 3
    out, level = [start], 0
    for shift, run in itertools.groupby(range(len(chars)), key=shifts.__getitem__):
        plain = "".join(_SCRIPTS.get(chars[i], (0, chars[i]))[1] for i in run)
        size = f' font-size="{SCRIPT_PT}"' if shift else ""
        out.append(f'<tspan dy="{shift - level}"{size}>{plain}</tspan>' if shift != level or shift else plain)
        level = shift
    return "".join(out) + "</text>"


def record_text(text: str) -> str:
    """`text` escaped for one field of a Graphviz record label, shown literally (a newline as ``\\n``).

    >>> record_text('a|b <c> & "d"')
    'a\\\\|b\\\\ \\\\<c\\\\>\\\\ &amp;\\\\ \\\\"d\\\\"'
    """
    leading = len(text) - len(text.lstrip(" "))
    out = ["\u00a0" * leading]  # no-break spaces: Graphviz trims a field's leading spaces
    for ch in text[leading:]:
        if not ch.isprintable():  # newline, tab, control or format characters, lone surrogates
            escape = repr(ch)[1:-1]  # Python's escape (a user's own no-break space is one of these)
            out.extend("\\" + c if c in _RECORD_SPECIALS else c for c in escape)
        elif ch == "&":
            out.append("&amp;")  # Graphviz decodes entities in labels
        elif ch in _RECORD_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def node_kinds(root: Value, order: list[Value], parameters: Iterable[Value] | None = None) -> dict[Value, str]:
    """The kind of every node: output (the root), intermediate, or for a leaf: parameter (in `parameters`, by default
    labelled as a textbook weight or bias ``w^(1)_0,1``), input (labelled) or constant.

    >>> w, x = Value(1.0, label="w^(1)_0,0"), Value(2.0, label="x")
    >>> y = w * x * 3
    >>> kinds = node_kinds(y, topological_order(y))
    >>> kinds[w], kinds[x], kinds[y]
    ('parameter', 'input', 'output')
    """
    chosen = None if parameters is None else set(parameters)  # Values hash by identity

    def kind(node: Value) -> str:
        if node is root or node._op is not None:
            return "output" if node is root else "intermediate"
        if chosen is not None and node in chosen:
            return "parameter"
        parsed = parse_textbook(node.label) if chosen is None else None
        if parsed is not None and parsed[0] in ("w", "b"):
            return "parameter"
        return "input" if node.label else "constant"

    return {node: kind(node) for node in order}


def layout_size(order: list[Value]) -> int:
    """About how many nodes ``dot`` lays out, which its time follows: the drawn ones plus a waypoint on each rank an
    edge crosses; ranks as ``dot`` tends to choose them (a result two after its latest operand, a leaf just before
    its first use).

    >>> x = Value(2.0, label="x")
    >>> y = x * x * x  # 3 Values, 2 operation nodes; x's edge into the second "*" spans 3 ranks
    >>> layout_size(topological_order(y))
    7
    """
    rank: dict[Value, int] = {}
    for node in order:
        rank[node] = 2 + max(rank[p] for p in node.parents) if node._op is not None else 0
    first_use: dict[Value, int] = {}
    for node in order:
        for parent in node.parents:
            if parent._op is None:  # its operation node is on rank[node] - 1
                first_use[parent] = min(first_use.get(parent, rank[node]), rank[node] - 2)
    rank.update(first_use)
    drawn = sum(2 if node._op is not None else 1 for node in order)
    waypoints = sum(rank[node] - 2 - rank[parent] for node in order for parent in node.parents)
    return drawn + waypoints


def draw_dot(
    root: Value,
    rankdir: str = "LR",
    *,
    level: str = "auto",
    open: str | Iterable[str] = (),
    gradient_flow: bool = False,
    parameters: Iterable[Value] | None = None,
    grads: bool | None = None,
    max_nodes: int | None = MAX_NODES,
    digits: int = 4,
    effort: str = "auto",
    fields: str = "across",
) -> Digraph:
    """The computation graph of `root` as a `Digraph`: by ``level="values"`` or, for one forward pass of an MLP (its
    textbook labels), by ``"neurons"`` (``"auto"``: neurons if it is one), as 3Blue1Brown draws it: a^(l)_j and
    δ^(l)_j = dC/dz^(l)_j per neuron, an edge per weight (blue positive, red negative, wider as |w| grows); the
    neurons named in `open` (``["a^(1)_0"]``) drawn as Values (static: draw again to close them).

    `rankdir`: LR, TB, RL or BT; `fields`: ``"across"`` or ``"stacked"``; `digits`: significant digits; `grads`:
    shown (None: if not all 0); `gradient_flow`: edges widen and redden with the |grad| they carry; `parameters`: as
    for `node_kinds`; `effort`: ``"full"``, ``"low"`` (fewer layout passes: seconds where full can take minutes) or
    ``"auto"`` (low above `FULL_EFFORT_SIZE`).  Over `max_nodes` Values (None: no limit): `GraphTooLargeError`.

    >>> a = Value(3.0, label="a")
    >>> draw_dot(a * a).source.count("-> ")   # a into "*" twice, "*" into its result
    3
    """
    order = _checked_order(root, rankdir, effort, fields, max_nodes)
    one_of("draw_dot", level=level, allowed=("auto", "neurons", "values"))
    if effort == "auto":
        effort = "low" if layout_size(order) > FULL_EFFORT_SIZE else "full"
    found = neurons(order)
    if level == "neurons" and not found:
        raise ValueError("draw_dot: level='neurons' needs the graph of one forward pass of an MLP (labels a^(l)_j)")
    shown = [textbook("a", *key) for key in dict.fromkeys(found.values())]
    opened = {resolve(name, shown, where="draw_dot: open") for name in ([open] if isinstance(open, str) else open)}
    closed = {n: key for n, key in found.items() if level != "values" and textbook("a", *key) not in opened}
    ends = {key: n for n, key in found.items() if n.label in (textbook("a", *key), textbook("z", *key))}  # a after z
    names, kinds = display_names(order), node_kinds(root, order, parameters)
    number = {key: i for i, key in enumerate(dict.fromkeys(found.values()))}
    ids = {
        node: f"n{number[closed[node]]}" if node in closed else f"v{i}" for i, node in enumerate(order)
    }  # no user text
    dot = Digraph(
        graph_attr={"rankdir": rankdir, **(_LOW_EFFORT if effort == "low" else {})},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7"},
    )
    # A record's top-level fields run across the rank direction; braces turn them.
    turn = (rankdir in ("LR", "RL")) == (fields == "across")
    show_grads = any(n.grad for n in order) if grads is None else grads
    flow = _flow_scale(order) if gradient_flow else lambda node: {}
    # An edge's middle label is a node of its own to dot (minutes on heavy reuse); a head label is placed after.
    number = "label" if effort == "full" else "headlabel"
    for node in order:
        if node in closed:
            _neuron_edges(dot, node, closed, ids)
            if ends.get(closed[node]) is node:
                label = _neuron_label(node, *closed[node], show_grads, digits)
                label = "{" + label + "}" if rankdir in ("TB", "BT") else label
                dot.node(
                    ids[node], graphviz.nohtml(label), shape="Mrecord", style="filled", fillcolor=COLOURS[kinds[node]]
                )
            continue
        label = f"{record_text(pretty_label(names[node]))}|data {node.data:.{digits}g}"
        label += f"|grad {node.grad:.{digits}g}" if show_grads else ""
        attrs = {"shape": "record", "style": "filled", "fillcolor": COLOURS[kinds[node]]}
        if kinds[node] == "output":
            attrs["penwidth"] = "2"
        dot.node(ids[node], graphviz.nohtml("{" + label + "}" if turn else label), **attrs)
        if node._op is None:
            continue
        op_id = ids[node] + "_op"
        dot.node(op_id, graphviz.nohtml(node.op), **_OP_NODE)
        dot.edge(op_id, ids[node], **flow(node))
        numbered = len(node.parents) > 1 and not node._op.commutative
        for position, parent in enumerate(node.parents, start=1):
            attrs = flow(parent)
            if numbered:
                attrs.update({number: str(position), "fontsize": "9"})
            dot.edge(ids[parent], op_id, **attrs)
    inputs = [p for n in order if n in found for p in n.parents if p not in found]
    _in_index_order(dot, ends, inputs, ids)
    return dot


def neurons(order: list[Value]) -> dict[Value, tuple[str, str]]:
    """The neuron (layer, index) of each Value in one: a weight or bias (textbook labels) and what is computed from it
    alone up to a^(l)_j (or z^(l)_j without activation); empty unless `order` is one forward pass of an MLP.

    >>> w, b, x = Value(0.5, label="w^(1)_0,0"), Value(0.1, label="b^(1)_0"), Value(2.0, label="a^(0)_0")
    >>> z = w * x + b; z.label = "z^(1)_0"
    >>> a = z.tanh(); a.label = "a^(1)_0"
    >>> set(neurons(topological_order(a)).values()), len(neurons(topological_order(a)))   # w, w*x, b, z, a
    ({('1', '0')}, 5)
    """
    parsed = {node: parse_textbook(node.label) for node in order if node.label}
    ends = [(n, p) for n, p in parsed.items() if p and p[0] in "az" and len(p[2]) == 1 and p[1] != "0"]
    by_name = {(p[0], p[1], p[2][0]): n for n, p in ends}
    outputs = {}  # each neuron's output: a = f(z), else z
    for (name, layer, j), z in by_name.items():
        a = by_name.get(("a", layer, j))
        if name == "z":
            outputs[a if a is not None and z in a.parents else z] = (layer, j)
    member: dict[Value, tuple[str, str]] = {}
    for node in order:
        label = parsed.get(node) if node._op is None else None
        if label and label[0] in ("w", "b") and label[2]:
            member[node] = (label[1], label[2][0])
        elif node._op is not None:
            keys = {member[p] for p in node.parents if p in member and p not in outputs}  # an output ends its neuron
            if len(keys) == 1:
                member[node] = keys.pop()
    if len(by_name) < len(ends) or not set(member.values()) <= set(outputs.values()):
        return {}  # a label used twice (several passes), or weights of no neuron
    return member if outputs and all(member.get(out) == key for out, key in outputs.items()) else {}


def _neuron_edges(dot: Digraph, node: Value, closed: dict[Value, tuple[str, str]], ids: dict[Value, str]) -> None:
    """An edge into `node`'s closed neuron from each operand outside it, coloured by the weight it is multiplied by."""
    for parent in node.parents:
        if closed.get(parent) != closed[node]:
            w = next((p for p in node.parents if closed.get(p) == closed[node] and p.label.startswith("w^")), None)
            style = {} if w is None else {"color": "#1c6fc4" if w.data >= 0 else "#d62f2f"}
            dot.edge(ids[parent], ids[node], penwidth=f"{0.6 + min(abs(w.data), 2.0):.2f}" if w else "1", **style)


def _neuron_label(out: Value, layer: str, j: str, grads: bool, digits: int) -> str:
    """A neuron's record: a^(l)_j and its value, and after backward δ^(l)_j (z's grad)."""
    z = next((p for p in out.parents if p.label == textbook("z", layer, j)), out)
    label = f"{record_text(pretty_label(textbook('a', layer, j)))} = {out.data:.{digits}g}"
    delta = pretty_label(textbook("d", layer, j)).replace("d", "δ", 1)
    return label + (f"|{record_text(delta)} = {z.grad:.{digits}g}" if grads else "")


def _in_index_order(
    dot: Digraph, ends: dict[tuple[str, str], Value], inputs: list[Value], ids: dict[Value, str]
) -> None:
    """The inputs on one rank, and each layer's neurons, in index order, held by invisible edges."""
    keys = sorted(ends, key=lambda key: (key[0], len(key[1]), key[1]))
    layers = [[ends[key] for key in layer] for _, layer in itertools.groupby(keys, key=lambda key: key[0])]
    for group in [inputs, *layers]:
        if len(shown := list(dict.fromkeys(ids[node] for node in group))) > 1:
            dot.body.append(f"\t{{rank=same; {' -> '.join(shown)} [style=invis]}}\n")


def _checked_order(root: Value, rankdir: str, effort: str, fields: str, max_nodes: int | None) -> list[Value]:
    """`root`'s topological order, once `draw_dot`'s arguments are checked."""
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__}")
    one_of("draw_dot", rankdir=rankdir, allowed=("LR", "TB", "RL", "BT"))
    one_of("draw_dot", effort=effort, allowed=("auto", "full", "low"))
    one_of("draw_dot", fields=fields, allowed=("across", "stacked"))
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(
            f"draw_dot: the graph has {len(order):,} Values, more than max_nodes={max_nodes:,}; "
            f"Graphviz could take minutes to lay it out and the picture would be unreadable. "
            f"{SMALLER_PIECE}, or pass max_nodes={len(order)} (or None) to draw it anyway."
        )
    return order


def _flow_scale(order: list[Value]) -> Callable[[Value], dict[str, str]]:
    """Edge attributes for a Value's |grad|: width 0.5..6 and grey to red, relative to the largest."""
    largest = max((abs(n.grad) for n in order), default=0.0)

    def attrs(node: Value) -> dict[str, str]:
        share = math.sqrt(abs(node.grad) / largest) if largest > 0.0 else 0.0  # sqrt: gradients span magnitudes
        red, other = int(160 + 95 * share), int(160 * (1.0 - share))
        return {"penwidth": f"{0.5 + 5.5 * share:.2f}", "color": f"#{red:02x}{other:02x}{other:02x}"}

    return attrs


def _only_svg(method: str, engine: str, format: str, **options: Any) -> None:
    """Refuse, saying what to install, what only the system Graphviz can do (graphviz's other options are moot)."""
    asked = {"engine": None if engine == "dot" else engine, "format": None if format == "svg" else format}
    asked.update((name, options.get(name)) for name in ("renderer", "formatter", "neato_no_op"))
    if unsupported := ", ".join(f"{name}={value!r}" for name, value in asked.items() if value):
        raise GraphvizNeededError(
            f"Digraph.{method}: {unsupported} needs the system Graphviz, and `dot` is not on PATH. "
            f"I{INSTALL_GRAPHVIZ[1:]}, or use format='svg', which microgrid renders without it."
        )


def _pipe_without_dot(
    engine: str, format: str, input_lines: Iterable[str], *, encoding: str | None = None, **options: Any
) -> bytes | str:
    """graphviz's ``pipe_lines`` (UTF-8 bytes, as ``dot`` writes them) or, given `encoding`, ``pipe_lines_string``."""
    _only_svg("pipe", engine, format, **options)
    svg = render_svg("".join(input_lines))
    return svg if encoding else svg.encode("utf-8")


def _render_without_dot(engine: str, format: str, filepath: str, *, encoding: str, **options: Any) -> str:
    """graphviz's ``render``: the saved DOT file `filepath` to ``outfile`` (by default ``graph.gv.svg``)."""
    _only_svg("render", engine, format, **options)
    source, outfile = Path(filepath), options.get("outfile")
    target = source.with_name(f"{source.name}.{format}") if outfile is None else Path(outfile)
    if not options.get("overwrite_filepath") and target.resolve() == source.resolve():
        raise ValueError(f"Digraph.render: outfile {target.name!r} must be different from the DOT file {source.name!r}")
    if options.get("raise_if_result_exists") and target.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(target)!r}")
    atomic_write(target, render_svg(source.read_text(encoding=encoding)), where="Digraph.render")
    return os.fspath(target)
