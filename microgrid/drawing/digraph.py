"""`Digraph`: a `graphviz.Digraph` whose ``.pipe``, ``.render`` and notebook display make SVG without ``dot``.

>>> dot = Digraph(); dot.edge("a", "b")
>>> dot.pipe(format="svg").lstrip().startswith(b"<?xml")
True
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import graphviz

from .._files import atomic_write
from .render import RendererUnavailableError, render_svg

__all__ = ["Digraph", "GraphvizNeededError"]


class GraphvizNeededError(RendererUnavailableError, graphviz.ExecutableNotFound):
    """A format or engine only the system Graphviz renders, and `dot` is not on PATH; graphviz's error too."""

    def __init__(self, message: str):
        RuntimeError.__init__(self, message)


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph`; without ``dot`` on PATH it renders SVG with the WebAssembly Graphviz, as `draw` does."""

    def _repr_image_svg_xml(self) -> str:
        return render_svg(self.source)

    # graphviz runs `dot` only through these three (its seams for mocking): without a system dot ours stand in, and
    # graphviz still checks the arguments, saves the source and names the output file.
    @property
    def _pipe_lines(self):
        return super()._pipe_lines if shutil.which("dot") else _pipe_without_dot

    @property
    def _pipe_lines_string(self):
        return super()._pipe_lines_string if shutil.which("dot") else _pipe_without_dot

    @property
    def _render(self):
        return (
            super()._render if shutil.which("dot") else functools.partial(_render_without_dot, encoding=self.encoding)
        )


def _only_svg(method: str, engine: str, format: str, renderer=None, formatter=None, neato_no_op=None, quiet=False):
    """Refuse, saying what to install, what only the system Graphviz can do."""
    asked = {"engine": None if engine == "dot" else engine, "format": None if format == "svg" else format}
    asked.update(renderer=renderer, formatter=formatter, neato_no_op=neato_no_op)
    unsupported = ", ".join(f"{name}={value!r}" for name, value in asked.items() if value)
    if unsupported:
        raise GraphvizNeededError(
            f"Digraph.{method}: {unsupported} needs the system Graphviz, and `dot` is not on PATH. Install Graphviz "
            f"(https://graphviz.org/download/, e.g. `apt-get install graphviz`, `brew install graphviz` or "
            f"`conda install graphviz`), or use format='svg', which microgrid renders without it."
        )


def _pipe_without_dot(engine, format, input_lines, *, encoding=None, input_encoding=None, **options) -> bytes | str:
    """graphviz's ``pipe_lines`` (UTF-8 bytes, as ``dot`` writes them) or, given `encoding`, ``pipe_lines_string``."""
    _only_svg("pipe", engine, format, **options)
    svg = render_svg("".join(input_lines))
    return svg if encoding else svg.encode("utf-8")


def _render_without_dot(
    engine,
    format,
    filepath,
    *,
    encoding,
    outfile=None,
    raise_if_result_exists=False,
    overwrite_filepath=False,
    **options,
) -> str:
    """graphviz's ``render``: the saved DOT file `filepath` to `outfile` (by default graphviz's ``graph.gv.svg``)."""
    _only_svg("render", engine, format, **options)
    filepath = Path(filepath)
    outfile = filepath.with_name(f"{filepath.name}.{format}") if outfile is None else Path(outfile)
    if not overwrite_filepath and outfile.resolve() == filepath.resolve():
        raise ValueError(
            f"Digraph.render: outfile {outfile.name!r} must be different from the DOT file {filepath.name!r}"
        )
    if raise_if_result_exists and outfile.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
    atomic_write(outfile, render_svg(filepath.read_text(encoding=encoding)), where="Digraph.render")
    return os.fspath(outfile)
