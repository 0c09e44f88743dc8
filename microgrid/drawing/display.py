"""`draw(root)`: a `Drawing`, laid out to fit a notebook column and shown in Jupyter scaled to it."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeAlias

import graphviz

from .._files import atomic_write
from ..engine import Value
from .dot import draw_dot, typeset
from .render import TIME_LIMIT, RendererUnavailableError, one_of, render_svg, render_svgs

COLUMN_PX = 850  # CSS px: JupyterLab's output column in a 1280-px window with the file browser open
LEGIBLE_SCALE = 0.75  # rankdir="auto" keeps the first layout that fits at this scale or more: 11-pt text >= 11 px
AUTO_LAYOUTS = (("LR", "across"), ("TB", "across"), ("TB", "stacked"))  # (rankdir, fields), preferred first


def svg_length_px(svg: str, length: str = "width") -> float:
    """The `length` ("width" or "height") at which a browser shows Graphviz's `svg` at scale 1, in CSS px.

    >>> svg_width_px('<svg width="75pt" height="20pt" viewBox="0 0 75 20">')
    100.0
    """
    match = re.search(rf'<svg\b[^>]*?\s{length}="([\d.]+)(pt|px)?"', svg)
    if match is None:
        raise ValueError(f"svg_length_px: the SVG has no {length}")
    return float(match.group(1)) * (4 / 3 if match.group(2) in (None, "pt") else 1.0)


svg_width_px = svg_length_px


def fit_scale(svg: str, column: float = COLUMN_PX, height: float | None = None) -> float:
    """The scale at which `svg` fits a column `column` px wide (and `height` px high), 1 when it fits as it is.

    >>> fit_scale('<svg width="1275pt" height="20pt">', column=850), fit_scale('<svg width="3pt" height="30pt">', 9, 20)
    (0.5, 0.5)
    """
    scale = min(1.0, column / svg_width_px(svg))
    return scale if height is None else min(scale, height / svg_length_px(svg, "height"))


def svg_image(svg: str, width: float, alt: str) -> str:
    """`svg` as an <img> at most `width` px wide, scaled down to its column (front ends show SVG as wide as it is)."""
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="{src}" width="{width:.0f}" style="max-width: 100%; height: auto" alt="{alt}">'


def candidate_layouts(rankdir: str = "auto", fields: str = "auto") -> list[tuple[str, str]]:
    """The (rankdir, fields) layouts to try, in order, for the given choice ("auto": any).

    >>> candidate_layouts(), candidate_layouts("TB")
    ([('LR', 'across'), ('TB', 'across'), ('TB', 'stacked')], [('TB', 'across')])
    """
    one_of("draw", rankdir=rankdir, allowed=("auto", "LR", "TB", "RL", "BT"))
    one_of("draw", fields=fields, allowed=("auto", "across", "stacked"))
    if rankdir != "auto":
        return [(rankdir, "across" if fields == "auto" else fields)]
    return [(r, f) for r, f in AUTO_LAYOUTS if fields in ("auto", f)]


def choose_layout(svgs: Iterable[str], column: float = COLUMN_PX) -> int:
    """Which of `svgs` (in order of preference, read lazily) to show: the first legible, else the largest scale.

    >>> choose_layout(['<svg width="1500pt" height="9pt">', '<svg width="600pt" height="90pt">'])
    1
    """
    scales: list[float] = []
    for svg in svgs:
        scales.append(fit_scale(svg, column))
        if scales[-1] >= LEGIBLE_SCALE:
            break
    return scales.index(max(scales))


class Drawing:
    """A graph's snapshot: of `digraphs` (preferred first) the one `choose_layout` picks, scaled to the column."""

    def __init__(
        self,
        digraphs: graphviz.Digraph | list[graphviz.Digraph],
        renderer: str = "auto",
        time_limit: float | None = TIME_LIMIT,
        *,
        column: float = COLUMN_PX,
    ):
        self._candidates = list(digraphs) if isinstance(digraphs, (list, tuple)) else [digraphs]
        if not self._candidates:
            raise ValueError("Drawing: no digraph to draw")
        self.renderer, self.time_limit, self.column = renderer, time_limit, column
        self._chosen: graphviz.Digraph | None = self._candidates[0] if len(self._candidates) == 1 else None
        self._svg: str | None = None

    @property
    def digraph(self) -> graphviz.Digraph:
        """The layout shown (rendering the candidates to choose)."""
        if self._chosen is None:
            try:
                self.svg()
            except RendererUnavailableError:  # nothing can measure the layouts: the preferred one
                return self._candidates[0]
        return self._chosen

    @property
    def source(self) -> str:
        return str(self.digraph.source)  # graphviz's str, which mypy cannot see

    def svg(self) -> str:
        """The SVG text of the layout `choose_layout` picks, all rendered within `time_limit` seconds (once, kept)."""
        if self._svg is None:
            rendered = render_svgs([d.source for d in self._candidates], self.renderer, time_limit=self.time_limit)
            measured, kept = itertools.tee(rendered)  # each rendered when choose_layout reads it, then kept
            chosen = choose_layout(measured, self.column)
            self._raw: str = next(itertools.islice(kept, chosen, None))  # as Graphviz wrote it
            self._chosen, self._svg = self._candidates[chosen], typeset(self._raw)
        return self._svg

    _repr_svg_ = svg

    def _repr_html_(self) -> str:
        svg = self.svg()
        return svg_image(svg, svg_width_px(svg), f"The computation graph: {self._values()}")

    def save(self, path: str | Path) -> Path:
        """Write SVG (``.svg``: fit to the window, down to `LEGIBLE_SCALE`) or DOT (``.dot``, ``.gv``), atomically."""
        path = Path(path)
        if (suffix := path.suffix.lower()) not in (".svg", ".dot", ".gv"):
            raise ValueError(f"Drawing.save: {str(path)!r}: use a .svg, .dot or .gv file name")
        text = self.source  # DOT needs no renderer
        if suffix == ".svg":
            svg = self.svg()
            width, height = svg_width_px(svg), svg_length_px(svg, "height")
            fit = f"width: max(100%, {LEGIBLE_SCALE * width:.0f}px); height: max(100vh, {LEGIBLE_SCALE * height:.0f}px)"
            fit = f'style="{fit}; max-width: {width:.0f}px; max-height: {height:.0f}px"'
            text = re.sub(r'width="[^"]*" height="[^"]*"', fit, svg, count=1)
        atomic_write(path, text, where="Drawing.save")
        return path

    def _values(self) -> str:
        values, neurons = self.source.count("shape=record"), self.source.count("shape=Mrecord")
        return f"{values} Value{'s' if values != 1 else ''}" + (f" and {neurons} neurons" if neurons else "")

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Drawing of {self._values()}: .source is the DOT text, .save('graph.svg') writes it>"


def draw(
    root: Value,
    *,
    rankdir: str = "auto",
    fields: str = "auto",
    column: float = COLUMN_PX,
    renderer: str = "auto",
    time_limit: float | None = TIME_LIMIT,
    **options: Any,
) -> Drawing:
    """`root`'s graph as a `Drawing` in the first of `AUTO_LAYOUTS` legible in the column; `options` go to `draw_dot`.

    >>> x = Value(0.5, label="x"); y = x.tanh(); y.backward()
    >>> draw(y, rankdir="TB", gradient_flow=True).source.count("penwidth")
    3
    """
    layouts = candidate_layouts(rankdir, fields)
    digraphs = [draw_dot(root, rankdir=r, fields=f, **options) for r, f in layouts]  # checks every option
    return Drawing(digraphs, renderer, time_limit, column=column)


def laid_out(root: Value, **options: Any) -> tuple[graphviz.Digraph, str]:
    """`root`'s graph of Values (unless `options` say) in the layout `draw` picks: Digraph and SVG, Graphviz's own.

    >>> dot, svg = laid_out((Value(0.5, label="x") * 2).tanh(), column=10_000)
    >>> "rankdir=LR" in dot.source and svg_width_px(svg) <= 10_000   # left to right fits
    True
    """
    drawing = draw(root, **{"level": "values", **options})
    drawing.svg()
    return drawing.digraph, drawing._raw


Drawable: TypeAlias = Value | graphviz.Digraph | graphviz.Source | Drawing | str


def to_svg(obj: Drawable, *, renderer: str = "auto", time_limit: float | None = TIME_LIMIT, **options: Any) -> str:
    """SVG text, `typeset`, for a Value's graph (`options` go to `draw_dot`), a Digraph, a Drawing or DOT text.

    >>> to_svg(Value(1.0, label="x")).lstrip().startswith("<?xml")
    True
    """
    source = draw_dot(obj, **options).source if isinstance(obj, Value) else getattr(obj, "source", obj)
    if not isinstance(source, str):
        raise TypeError(f"to_svg: expected a Value, a graphviz graph, a Drawing or DOT text, got {type(obj).__name__}")
    return typeset(render_svg(source, renderer, time_limit=time_limit))
