"""`draw_dot(root)`: a computation graph as DOT, in a `Digraph`, as micrograd draws it, or neuron by neuron."""

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

import graphviz  # slow to import: `import microgrid` loads this module only on first use

from .._files import atomic_write
from ..engine import Value
from ..graphs import topological_order
from ..names import parse_textbook, resolve, textbook
from .explain import display_names
from .render import _LOW_EFFORT, INSTALL_GRAPHVIZ, SMALLER_PIECE, RendererUnavailableError, one_of, render_svg

MAX_NODES = 2000
FULL_EFFORT_SIZE = 2000  # the `layout_size` above which effort="auto" asks Graphviz for less layout work
COLOURS = dict(output="#b7e4a5", parameter="#ffd27f", input="#a9d3f5", constant="#e6e6e6", intermediate="#ffffff")
_FONT = {"fontname": "Helvetica", "fontsize": "11"}
_OP_NODE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f2f2f2", "margin": "0.05,0.02", "height": "0.3"}

_SUPERSCRIPT = str.maketrans("0123456789()+-=LlnNijk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ᴸˡⁿᴺⁱʲᵏ")
_SUBSCRIPT = str.maketrans("0123456789()+-=aeijklmnoprstux", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋₌ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤₓ")
_RECORD_ESCAPES = str.maketrans({c: "\\" + c for c in '\\{}|<>" '} | {"&": "&amp;"})  # Graphviz decodes entities
SCRIPT_PT = 9  # the indices' size: 9 px or more wherever a drawing is shown at 3/4 of its size or more
# Each Unicode script: its shift down the baseline (pt: raised is negative) and the plain character.
_SCRIPTS = {chr(s): (shift, chr(p)) for shift, table in ((-4, _SUPERSCRIPT), (3, _SUBSCRIPT)) for p, s in table.items()}
_TEXTBOOK = re.compile(r"[A-Za-z]+\^\([^()\s]+\)(?:_[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*)?")  # a label like w^(2)_1,0


class GraphTooLargeError(ValueError):
    """The graph has more Values than `max_nodes`: laying it out would take minutes."""


class GraphvizNeededError(RendererUnavailableError, graphviz.ExecutableNotFound):
    """A format or engine only the system Graphviz renders, and `dot` is not on PATH; graphviz's error too."""

    __init__ = RuntimeError.__init__


def _seam(name: str, ours: Callable[[Any], Callable[..., Any]]) -> Any:
    """A property for one of graphviz's three seams that run ``dot``: graphviz's own, or without ``dot`` ours."""
    return property(lambda self: getattr(graphviz.Digraph, name).fget(self) if shutil.which("dot") else ours(self))


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph`; without ``dot`` on PATH it renders SVG with the WebAssembly Graphviz, as `draw` does."""

    _pipe_lines = _seam("_pipe_lines", lambda self: _pipe_without_dot)
    _pipe_lines_string = _seam("_pipe_lines_string", lambda self: _pipe_without_dot)
    _render = _seam("_render", lambda self: functools.partial(_render_without_dot, encoding=self.encoding))

    def _repr_image_svg_xml(self) -> str:
        return typeset(render_svg(self.source))


def pretty_label(label: str) -> str:
    """A textbook label with Unicode scripts (the WebAssembly Graphviz has no <SUB>/<SUP>); others unchanged.

    >>> pretty_label("w^(2)_1,0"), pretty_label("b^(L)_j"), pretty_label("A_prev")
    ('w⁽²⁾₁,₀', 'b⁽ᴸ⁾ⱼ', 'A_prev')
    """
    if (parsed := parse_textbook(label)) is None:
        return label
    name, layer, indices = parsed
    scripts = f"({layer})".translate(_SUPERSCRIPT) + ",".join(i.translate(_SUBSCRIPT) for i in indices)
    return label if any(ch.isascii() and ch != "," for ch in scripts) else name + scripts  # all with a script, or none


def pretty_name(name: str) -> str:
    """A name as drawn: textbook labels with Unicode scripts, ``*`` as ``·``, ``**`` as ``^``, ``y_0`` as ``y₀``.

    >>> pretty_name("(a^(2)_0 - y_0)*x"), pretty_name("(a - y)**2")
    ('(a⁽²⁾₀ − y₀)·x', '(a − y)^2')
    """
    name = re.sub(r"(?<=\S) - (?=\S)", " \u2212 ", name.replace("**", "^").replace("*", "\u00b7"))
    name = re.sub(r"\by_(\d+)\b", lambda m: "y" + m[1].translate(_SUBSCRIPT), name)
    return _TEXTBOOK.sub(lambda m: pretty_label(m[0]), name)


def typeset(svg: str) -> str:
    """Graphviz's `svg` with `pretty_label`'s Unicode scripts as real ones (neither renderer has <SUB>), and a legend.

    >>> typeset('<svg><text x="1">x₁</text></svg>')
    '<svg><text x="1">x<tspan dy="3" font-size="9">1</tspan></text></svg>'
    """
    svg = real_scripts(svg)
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
    width, height = max(width, x), height + 18
    head = f'<svg width="{width}pt" height="{height}pt" viewBox="0 0 {width} {height}"'
    return svg[: size.start()] + head + svg[size.end() : svg.rindex("</svg>")] + "".join(keys) + "</g></svg>"


def real_scripts(svg: str) -> str:
    """Each plain <text> of `svg` with its Unicode scripts raised and lowered in tspans, `SCRIPT_PT` high."""
    return re.sub(r"(<text\b[^>]*>)([^<]*)</text>", _scripted, svg)


def _scripted(text: re.Match[str]) -> str:
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
    leading = len(text) - len(text.lstrip(" "))  # as no-break spaces: Graphviz trims a field's leading spaces
    # Unprintables (a newline, a user's no-break space...) as Python escapes.
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[leading:])
    return "\u00a0" * leading + shown.translate(_RECORD_ESCAPES)


def node_kinds(root: Value, order: list[Value], parameters: Iterable[Value] | None = None) -> dict[Value, str]:
    """Each node's kind: output, intermediate, parameter (`parameters`; default: textbook w and b), input or constant.

    >>> y = Value(1.0, label="w^(1)_0,0") * Value(2.0, label="x") * 3
    >>> sorted(node_kinds(y, topological_order(y)).values())
    ['constant', 'input', 'intermediate', 'output', 'parameter']
    """
    if parameters is None:
        parameters = [n for n in order if (parsed := parse_textbook(n.label)) is not None and parsed[0] in ("w", "b")]
    chosen = set(parameters)  # Values hash by identity
    kinds = {node: "parameter" if node in chosen else "input" if node.label else "constant" for node in order}
    kinds.update((node, "intermediate") for node in order if node._op is not None)
    return {**kinds, root: "output"}


def layout_size(order: list[Value]) -> int:
    """About how many nodes ``dot`` lays out (its time follows it): those drawn and a waypoint per rank an edge crosses.

    >>> x = Value(2.0, label="x")
    >>> y = x * x * x  # 3 Values, 2 operation nodes; x's edge into the second "*" spans 3 ranks
    >>> layout_size(topological_order(y))
    7
    """
    rank: dict[Value, int] = {}
    first_use: dict[Value, int] = {}
    for node in order:
        rank[node] = 2 + max(rank[p] for p in node.parents) if node._op is not None else 0  # as dot tends to rank
        for parent in (p for p in node.parents if p._op is None):  # its operation node is on rank[node] - 1
            first_use[parent] = min(first_use.get(parent, rank[node]), rank[node] - 2)
    rank.update(first_use)
    drawn = sum(2 if node._op is not None else 1 for node in order)
    return drawn + sum(rank[node] - 2 - rank[parent] for node in order for parent in node.parents)  # + waypoints


def drawable_order(root: Value, max_nodes: int | None, where: str) -> list[Value]:
    """`root`'s topological order, refused before any work past `max_nodes` Values (None: any number) or a non-Value."""
    if not isinstance(root, Value):
        raise TypeError(f"{where}: root must be a Value, got {type(root).__name__}")
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(
            f"{where}: the graph has {len(order):,} Values, more than max_nodes={max_nodes:,}; "
            f"Graphviz could take minutes to lay it out and the picture would be unreadable. "
            f"{SMALLER_PIECE}, or pass max_nodes={len(order)} (or None) to draw it anyway."
        )
    return order


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
    """`root`'s graph as a `Digraph`: every Value, or (``level="neurons"``) an MLP's neurons as 3Blue1Brown draws them;
    `open` names neurons to draw as Values, `gradient_flow` widens edges with |grad|, `effort="low"` takes seconds.

    >>> a = Value(3.0, label="a")
    >>> draw_dot(a * a).source.count("-> ")   # a into "*" twice, "*" into its result
    3
    """
    order = drawable_order(root, max_nodes, "draw_dot")
    one_of("draw_dot", rankdir=rankdir, allowed=("LR", "TB", "RL", "BT"))
    one_of("draw_dot", effort=effort, allowed=("auto", "full", "low"))
    one_of("draw_dot", fields=fields, allowed=("across", "stacked"))
    one_of("draw_dot", level=level, allowed=("auto", "neurons", "values"))
    if effort == "auto":
        effort = "low" if layout_size(order) > FULL_EFFORT_SIZE else "full"
    found, ends = neurons(order)
    if level == "neurons" and not found:
        raise ValueError("draw_dot: level='neurons' needs the graph of one forward pass of an MLP (labels a^(l)_j)")
    shown = [textbook("a", *key) for key in dict.fromkeys(found.values())]
    opened = {resolve(name, shown, where="draw_dot: open") for name in ([open] if isinstance(open, str) else open)}
    view = level == "neurons" or (level == "auto" and len(ends) > 1)  # one neuron is best seen as its Values
    closed = {n: key for n, key in found.items() if view and textbook("a", *key) not in opened}
    names, kinds = display_names(order), node_kinds(root, order, parameters)
    ids = {node: f"v{i}" for i, node in enumerate(order)}  # never user text
    ids.update((node, ids[ends[key]]) for node, key in closed.items())  # a closed neuron: its output's node
    graph = {"rankdir": rankdir, **(_LOW_EFFORT if effort == "low" else {})}
    dot = Digraph(graph_attr=graph, node_attr=_FONT, edge_attr={"arrowsize": "0.7"})
    turn = (rankdir in ("LR", "RL")) == (fields == "across")  # a record's fields run across the ranks, unless turned
    show_grads = any(n.grad for n in order) if grads is None else grads
    largest = max((abs(n.grad) for n in order), default=0.0) if gradient_flow else None
    number = "label" if effort == "full" else "headlabel"  # a middle label is a node to dot: minutes on heavy reuse
    for node in order:
        key = closed.get(node)
        if key is None or ends[key] is node:
            if key is None:
                name = (pretty_label if node.label else pretty_name)(names[node])  # a user's label as typed
                parts = [f"{record_text(name)}|data {node.data:.{digits}g}", f"grad {node.grad:.{digits}g}"]
            else:  # a closed neuron, at its output: a^(l)_j, and after backward δ^(l)_j (z's grad)
                z = next((p for p in node.parents if p.label == textbook("z", *key)), node)
                a, d = (record_text(pretty_label(textbook(letter, *key))) for letter in "ad")
                parts = [f"{a} = {node.data:.{digits}g}", f"{d.replace('d', 'δ', 1)} = {z.grad:.{digits}g}"]
            label = "|".join(parts if show_grads else parts[:1])
            attrs = {"shape": "Mrecord" if key else "record", "style": "filled", "fillcolor": COLOURS[kinds[node]]}
            wide = {"penwidth": "2"} if kinds[node] == "output" else {}
            braces = turn if key is None else rankdir in ("TB", "BT")  # a neuron's a and δ: one above the other
            dot.node(ids[node], graphviz.nohtml("{" + label + "}" if braces else label), **attrs, **wide)
        for parent in (p for p in node.parents if key is not None and closed.get(p) != key):  # into a closed neuron
            w = next((p for p in node.parents if closed.get(p) == key and p.label.startswith("w^")), None)
            style = {} if w is None else {"color": "#1c6fc4" if w.data >= 0 else "#d62f2f"}  # blue +, red -
            dot.edge(ids[parent], ids[node], penwidth=f"{0.6 + min(abs(w.data), 2.0):.2f}" if w else "1", **style)
        if key is not None or node._op is None:
            continue
        op_id = ids[node] + "_op"
        dot.node(op_id, graphviz.nohtml(node.op), **_OP_NODE)
        dot.edge(op_id, ids[node], **_flow(node, largest))
        numbered = len(node.parents) > 1 and not node._op.commutative
        for position, parent in enumerate(node.parents, start=1):
            numbers = {number: str(position), "fontsize": "9"} if numbered else {}
            dot.edge(ids[parent], op_id, **_flow(parent, largest), **numbers)
    # The inputs, and each layer's neurons, on one rank each in index order, held there by invisible edges.
    inputs = [p for n in order if n in found for p in n.parents if p not in found]
    keys = sorted(ends, key=lambda key: (key[0], len(key[1]), key[1]))
    for group in [inputs, *([ends[k] for k in layer] for _, layer in itertools.groupby(keys, key=lambda k: k[0]))]:
        if len(same := list(dict.fromkeys(ids[node] for node in group))) > 1:
            dot.body.append(f"\t{{rank=same; {' -> '.join(same)} [style=invis]}}\n")
    return dot


def neurons(order: list[Value]) -> tuple[dict[Value, tuple[str, str]], dict[tuple[str, str], Value]]:
    """Each Value's neuron (weights, biases, what only they feed) and each output a^(l)_j (or z); empty if no MLP's.

    >>> z = Value(0.5, label="w^(1)_0,0") * Value(2.0, label="a^(0)_0"); z.label = "z^(1)_0"
    >>> neurons(topological_order(z))[1] == {("1", "0"): z}
    True
    """
    parsed = {node: parse_textbook(node.label) for node in order if node.label}
    ends = [(n, p) for n, p in parsed.items() if p and p[0] in "az" and len(p[2]) == 1 and p[1] != "0"]
    by_name = {(p[0], p[1], p[2][0]): n for n, p in ends}
    outputs: dict[Value, tuple[str, str]] = {}  # a = f(z), else z
    for (name, layer, j), z in by_name.items():
        a = by_name.get(("a", layer, j))
        if name == "z":
            outputs[a if a is not None and z in a.parents else z] = (layer, j)
    member: dict[Value, tuple[str, str]] = {}
    for node in order:
        if node._op is not None:
            keys = {member[p] for p in node.parents if p in member and p not in outputs}  # an output ends its neuron
            if len(keys) == 1:
                member[node] = keys.pop()
        elif (label := parsed.get(node)) and label[0] in ("w", "b") and label[2]:
            member[node] = (label[1], label[2][0])
    member = {node: key for node, key in member.items() if key in outputs.values()}  # weights of no neuron: Values
    if outputs and len(by_name) == len(ends) and all(member.get(out) == key for out, key in outputs.items()):
        return member, {key: out for out, key in outputs.items()}
    return {}, {}


def _flow(node: Value, largest: float | None) -> dict[str, str]:
    """Edge attributes for `node`'s |grad| against the `largest` (None: none): wider, redder, arrow the way it flows."""
    if largest is None:
        return {}
    share = math.sqrt(abs(node.grad) / largest) if largest > 0.0 else 0.0  # sqrt: gradients span magnitudes
    red, other = int(160 + 95 * share), int(160 * (1.0 - share))
    return {"penwidth": f"{0.5 + 5.5 * share:.2f}", "color": f"#{red:02x}{other:02x}{other:02x}", "dir": "back"}


def _only_svg(method: str, engine: str, format: str, **options: Any) -> None:
    """Refuse, saying what to install, what only the system Graphviz can do (graphviz's other options are moot)."""
    asked = {"engine": None if engine == "dot" else engine, "format": None if format == "svg" else format}
    asked.update((name, options.get(name)) for name in ("renderer", "formatter", "neato_no_op"))
    if unsupported := ", ".join(f"{name}={value!r}" for name, value in asked.items() if value):
        raise GraphvizNeededError(
            f"Digraph.{method}: {unsupported} needs the system Graphviz, and `dot` is not on PATH. "
            f"I{INSTALL_GRAPHVIZ[1:]}, or use format='svg', which microgrid renders without it."
        )


def _pipe_without_dot(engine: str, format: str, input_lines: Iterable[str], **options: Any) -> bytes | str:
    """graphviz's ``pipe_lines`` (UTF-8 bytes, as ``dot`` writes them) or, given `encoding`, ``pipe_lines_string``."""
    _only_svg("pipe", engine, format, **options)
    svg = render_svg("".join(input_lines))
    return svg if options.get("encoding") else svg.encode("utf-8")


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
