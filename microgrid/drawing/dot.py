"""`draw_dot(root)`: a computation graph as DOT, in a `graphviz.Digraph`, as in micrograd.

A record per Value (label | data | grad) and an operation node feeding each
result, edges in operand order (as micrograd's ``trace_graph.ipynb``).  Its
``.pipe(format="svg")`` and ``.render(format="svg")`` work without a system
``dot`` too (see `microgrid.drawing.digraph`).

    >>> from microgrid import Value
    >>> x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    >>> y = (x * w).tanh(); y.backward()
    >>> draw_dot(y).source.count("->")   # x, w into "*"; "*" into x*w; x*w into "tanh"; "tanh" into y
    5

Nodes are told apart by fill colour (`COLOURS`), the output by a bold
border: the output is the root; parameters the leaves in ``parameters=``, by
default those labelled as a textbook weight or bias (``w^(1)_0,1``,
``b^(2)_0``, as `microgrid.nn` labels them); inputs the other labelled
leaves; constants the unlabelled ones (the numbers in ``2 * x``).

Labels are user text, escaped for the record syntax and for XML (`record_text`):
a label can never add markup to the SVG or break the DOT.  Textbook labels are
shown with Unicode scripts (`pretty_label`: ``w^(2)_1,0`` as ``w⁽²⁾₁,₀``; the
WebAssembly Graphviz has no HTML-like labels for real <SUB>/<SUP>).

Graphviz's layout time follows how tangled the graph is more than its size:
`layout_size` estimates it, and above `FULL_EFFORT_SIZE` `draw_dot` asks for
less layout work.  More than `MAX_NODES` Values raise `GraphTooLargeError`.
"""

from __future__ import annotations

import math
from typing import Iterable

# graphviz (the Python package, slow to import) loads with this module, which
# `microgrid/__init__.py` imports only on first use of a drawing function.
import graphviz

from ..engine import Value, topological_order
from ..names import parse_textbook
from .digraph import Digraph
from .explain import display_names
from .render import _LOW_EFFORT

__all__ = ["MAX_NODES", "FULL_EFFORT_SIZE", "COLOURS", "GraphTooLargeError", "draw_dot", "node_kinds",
           "layout_size", "pretty_label", "record_text"]

#: Default largest number of Values `draw_dot` lays out (see the module docstring).
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
_OP_COLOUR = "#f2f2f2"


class GraphTooLargeError(ValueError):
    """The graph has more Values than `max_nodes`: laying it out would take minutes."""




# ------------------------------------------------------------------- labels
_SUPERSCRIPT = str.maketrans("0123456789()+-=LlnNijk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ᴸˡⁿᴺⁱʲᵏ")
_SUBSCRIPT = str.maketrans("0123456789()+-=aeijklmnoprstux", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋₌ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤₓ")
_RECORD_SPECIALS = set('\\{}|<>" ')


def pretty_label(label: str) -> str:
    """A textbook label with Unicode scripts (``w^(2)_1,0`` -> ``w⁽²⁾₁,₀``); others unchanged.

    >>> pretty_label("b^(L)_j"), pretty_label("A_prev")
    ('b⁽ᴸ⁾ⱼ', 'A_prev')
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


def record_text(text: str) -> str:
    """`text` escaped for one field of a Graphviz record label, shown literally.

    Unprintable characters become their Python escape (a newline shows as
    ``\\n``), ``&`` becomes ``&amp;`` (Graphviz decodes entities in labels),
    the record syntax characters get a backslash, and leading spaces become
    no-break spaces (which Graphviz keeps; a user's own no-break space is
    unprintable, so shown as ``\\xa0``).

    >>> record_text('a|b <c> & "d"')
    'a\\\\|b\\\\ \\\\<c\\\\>\\\\ &amp;\\\\ \\\\"d\\\\"'
    """
    out = []
    leading = len(text) - len(text.lstrip(" "))
    out.append("\u00a0" * leading)  # no-break spaces: Graphviz trims a field's leading spaces
    for ch in text[leading:]:
        if not ch.isprintable():  # newline, tab, control or format characters, lone surrogates
            escape = repr(ch)[1:-1]  # Python's escape, e.g. a newline becomes backslash and n
            out.extend("\\" + c if c in _RECORD_SPECIALS else c for c in escape)
        elif ch == "&":
            out.append("&amp;")
        elif ch in _RECORD_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _number_text(x: float, digits: int) -> str:
    """`x` to `digits` significant digits, as a record shows it."""
    return f"{x:.{digits}g}"


# ------------------------------------------------------------------- kinds
def node_kinds(root: Value, order: list[Value], parameters: Iterable[Value] | None = None) -> dict[Value, str]:
    """The kind of every node (output, parameter, input, constant, intermediate).

    >>> from microgrid import Value
    >>> w, x = Value(1.0, label="w^(1)_0,0"), Value(2.0, label="x")
    >>> y = w * x * 3
    >>> kinds = node_kinds(y, topological_order(y))
    >>> kinds[w], kinds[x], kinds[y]
    ('parameter', 'input', 'output')
    """
    chosen = None if parameters is None else set(parameters)  # Values hash by identity
    kinds = {}
    for node in order:
        if node is root:
            kind = "output"
        elif node._op is not None:
            kind = "intermediate"
        elif chosen is not None:
            kind = "parameter" if node in chosen else ("input" if node.label else "constant")
        elif not node.label:
            kind = "constant"
        else:
            parsed = parse_textbook(node.label)
            kind = "parameter" if parsed is not None and parsed[0] in ("w", "b") else "input"
        kinds[node] = kind
    return kinds


# ---------------------------------------------------------------- layout size
def layout_size(order: list[Value]) -> int:
    """About how many nodes Graphviz's ``dot`` lays out: the drawn ones plus the waypoints.

    ``dot`` puts every node on a rank (a column, left to right) and routes an
    edge that spans several ranks through an invisible waypoint on each rank
    between; its layout time follows this total, not the count of Values.
    Ranks are estimated as ``dot`` tends to choose them: a result two ranks
    after its latest operand (its operation node sits between), a leaf just
    before its first use.  `order` is a `topological_order`.

    >>> from microgrid import Value
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


# ----------------------------------------------------------------- draw_dot
def draw_dot(
    root: Value,
    rankdir: str = "LR",
    *,
    gradient_flow: bool = False,
    parameters: Iterable[Value] | None = None,
    max_nodes: int | None = MAX_NODES,
    digits: int = 4,
    effort: str = "auto",
    fields: str = "across",
) -> Digraph:
    """The computation graph of `root` as a `graphviz.Digraph` (our `Digraph` subclass).

    Each Value is a record ``label | data | grad`` (numbers to `digits`
    significant digits; an unlabelled Value is named ``#i`` as in
    `explain_backward`), each operation a small ellipse feeding its result.
    Edges follow operand order, one per use (``a * a`` has two); the operands
    of an op whose order matters (``-``, ``/``, ``**``) are numbered 1 and 2.  With `gradient_flow`,
    each edge's width and colour grow with the |grad| of the Value it leaves
    (relative to the largest |grad| in the graph).

    `effort` is how hard Graphviz works on the layout: ``"full"`` (its
    defaults), ``"low"`` (fewer passes, straight edges, the operand numbers at
    the arrow heads: seconds where full effort can take minutes), or
    ``"auto"``: low when `layout_size` is above `FULL_EFFORT_SIZE`.  More
    than `max_nodes` Values raise `GraphTooLargeError` (None: no limit).
    `fields` places a record's label, data and grad ``"across"`` (side by
    side) or ``"stacked"`` (one above the other: a narrower node).

    >>> from microgrid import Value
    >>> a = Value(3.0, label="a")
    >>> draw_dot(a * a).source.count("-> ")
    3
    """
    order = _checked_order(root, rankdir, effort, fields, max_nodes)
    if effort == "auto":
        effort = "low" if layout_size(order) > FULL_EFFORT_SIZE else "full"
    names = display_names(order)
    kinds = node_kinds(root, order, parameters)
    ids = {node: f"v{i}" for i, node in enumerate(order)}  # never user text

    graph_attr = {"rankdir": rankdir, **(_LOW_EFFORT if effort == "low" else {})}
    dot = Digraph(
        graph_attr=graph_attr,
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7"},
    )
    # A record's top-level fields run across the rank direction: in LR layouts they
    # stack vertically, in TB ones they sit side by side; braces turn them.
    turn = (rankdir in ("LR", "RL")) == (fields == "across")
    braces = ("{", "}") if turn else ("", "")
    flow = _flow_scale(order) if gradient_flow else None
    # An edge's middle label is a node of its own to dot (minutes on heavy reuse); a
    # head label is placed after the layout.
    number = "label" if effort == "full" else "headlabel"

    for node in order:
        shown = pretty_label(names[node])
        parts = (record_text(shown), f"data {_number_text(node.data, digits)}", f"grad {_number_text(node.grad, digits)}")
        label = braces[0] + "|".join(parts) + braces[1]
        attrs = {"shape": "record", "style": "filled", "fillcolor": COLOURS[kinds[node]]}
        if kinds[node] == "output":
            attrs["penwidth"] = "2"
        dot.node(ids[node], graphviz.nohtml(label), **attrs)
        if node._op is None:
            continue
        op_id = ids[node] + "_op"
        dot.node(op_id, graphviz.nohtml(node.op), shape="ellipse", style="filled",
                 fillcolor=_OP_COLOUR, margin="0.05,0.02", height="0.3")
        dot.edge(op_id, ids[node], **(flow(node) if flow else {}))
        numbered = len(node.parents) > 1 and not node._op.commutative
        for position, parent in enumerate(node.parents, start=1):
            attrs = flow(parent) if flow else {}
            if numbered:
                attrs[number] = str(position)
                attrs["fontsize"] = "9"
            dot.edge(ids[parent], op_id, **attrs)
    return dot


def _checked_order(root: Value, rankdir: str, effort: str, fields: str, max_nodes: int | None) -> list[Value]:
    """`root`'s topological order, once `draw_dot`'s arguments are checked."""
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_dot: rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    if effort not in ("auto", "full", "low"):
        raise ValueError(f"draw_dot: effort must be 'auto', 'full' or 'low', got {effort!r}")
    if fields not in ("across", "stacked"):
        raise ValueError(f"draw_dot: fields must be 'across' or 'stacked', got {fields!r}")
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(
            f"draw_dot: the graph has {len(order):,} Values, more than max_nodes={max_nodes:,}; "
            f"Graphviz could take minutes to lay it out and the picture would be unreadable. "
            f"Draw a smaller piece (one neuron, or the loss of one example), "
            f"or pass max_nodes={len(order)} (or None) to draw it anyway."
        )
    return order


def _flow_scale(order: list[Value]):
    """Edge attributes for a Value's |grad|: width 0.5..6 and grey to red, relative to the largest."""
    largest = max((abs(n.grad) for n in order), default=0.0)

    def attrs(node: Value) -> dict[str, str]:
        share = abs(node.grad) / largest if largest > 0.0 else 0.0
        share = math.sqrt(share)  # spread the small ones out: gradients span orders of magnitude
        red = int(160 + 95 * share)
        other = int(160 * (1.0 - share))
        return {"penwidth": f"{0.5 + 5.5 * share:.2f}", "color": f"#{red:02x}{other:02x}{other:02x}"}

    return attrs
