"""Which layout of a graph fits a notebook column: ``draw(rankdir="auto")``'s choice.

A drawing wider than the column is scaled down to fit, so its text shrinks: `choose_layout` keeps the first of
`AUTO_LAYOUTS` that keeps `LEGIBLE_SCALE` of its size in a column `COLUMN_PX` wide, else the one that keeps the most.

    >>> candidate_layouts("auto", "stacked")
    [('TB', 'stacked')]
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import RenderTimeoutError
from .render import render_svg, timeout_error

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "AUTO_LAYOUTS",
    "COLUMN_PX",
    "LEGIBLE_SCALE",
    "candidate_layouts",
    "choose_layout",
    "fit_scale",
    "svg_width_px",
]

#: The width, in CSS px, of the column a notebook gives an output: JupyterLab's at a 1280-px window with the file
#: browser open (848 px).
COLUMN_PX = 850

#: ``rankdir="auto"`` keeps the first layout that, scaled to fit the column, keeps this share of its size: its 11-pt
#: text (14.7 px) then stays 11 px or more.
LEGIBLE_SCALE = 0.75

#: The layouts ``rankdir="auto"`` tries, in order of preference: (rankdir, fields).
AUTO_LAYOUTS = (("LR", "across"), ("TB", "across"), ("TB", "stacked"))


def svg_width_px(svg: str) -> float:
    """The width, in CSS px, at which a browser shows Graphviz's `svg` at scale 1.

    >>> svg_width_px('<svg width="75pt" height="20pt" viewBox="0 0 75 20">')
    100.0
    """
    return svg_length_px(svg, "width")


def svg_length_px(svg: str, length: str) -> float:
    """The `length` ("width" or "height") of `svg` in CSS px (Graphviz writes points)."""
    match = re.search(rf'<svg\b[^>]*?\s{length}="([\d.]+)(pt|px)?"', svg)
    if match is None:
        raise ValueError(f"svg_length_px: the SVG has no {length}")
    return float(match.group(1)) * (4 / 3 if match.group(2) in (None, "pt") else 1.0)


def fit_scale(svg: str, column: float = COLUMN_PX) -> float:
    """The scale at which `svg` fits a column `column` px wide (1 when it fits as it is).

    >>> fit_scale('<svg width="1275pt" height="20pt">', column=850)
    0.5
    """
    return min(1.0, column / svg_width_px(svg))


def candidate_layouts(rankdir: str = "auto", fields: str = "auto") -> list[tuple[str, str]]:
    """The (rankdir, fields) layouts to try, in order, for the given choice ("auto": any).

    >>> candidate_layouts(), candidate_layouts("TB")
    ([('LR', 'across'), ('TB', 'across'), ('TB', 'stacked')], [('TB', 'across')])
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
    """Which of `svgs` (in order of preference, read lazily) to show: the first legible, else the largest scale.

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


def render_chosen(
    digraphs: list[graphviz.Digraph], column: float, renderer: str, time_limit: float | None
) -> tuple[graphviz.Digraph, str]:
    """The digraph `choose_layout` picks and its SVG, every render within `time_limit` seconds together."""
    if len(digraphs) == 1:
        return digraphs[0], render_svg(digraphs[0].source, renderer, time_limit=time_limit)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    svgs: list[str] = []

    def rendered():
        for digraph in digraphs:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise timeout_error(digraph.source, time_limit)
            try:
                svgs.append(render_svg(digraph.source, renderer, time_limit=left))
            except RenderTimeoutError:  # report the limit the caller gave, not what was left of it
                raise timeout_error(digraph.source, time_limit) from None
            yield svgs[-1]

    chosen = choose_layout(rendered(), column)
    return digraphs[chosen], svgs[chosen]
