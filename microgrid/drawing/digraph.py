"""`Digraph`: a `graphviz.Digraph` whose ``.pipe`` and ``.render`` make SVG without a system ``dot``.

The graphviz package runs ``dot`` for ``.pipe()``, ``.render()`` and the
notebook display.  Without ``dot`` on PATH, this subclass renders SVG with
`render_svg` (the WebAssembly Graphviz) instead, and refuses any other
format or engine with `GraphvizNeededError`, which says what to install.

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

from .errors import RendererUnavailableError
from .render import render_svg

__all__ = ["Digraph", "GraphvizNeededError"]


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

