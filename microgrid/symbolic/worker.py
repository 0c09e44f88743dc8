"""sympy's heavy work in a worker process that can be stopped: `call`, and a request's `Budget`.

sympy cannot be cancelled (``factor`` runs for minutes in C): a step runs in a worker, forked from a server that
preloads sympy, with a time and a memory limit: killed past either (`BudgetExceeded`) or at Ctrl-C (KeyboardInterrupt).

    >>> import sympy
    >>> call(sympy.factor, (sympy.Symbol("x") ** 2 - 1,), seconds=30)
    (x - 1)*(x + 1)
"""

from __future__ import annotations

import atexit
import gc
import io
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .._extras import installed

if sys.platform != "win32":  # (the worker runs only where there is fork)
    import resource

#: The memory a step may take by default, in megabytes beyond what its worker starts with.
MEMORY_MB = 2000
#: How long the server may take to start (import sympy) before it is given up.
START_SECONDS = 60.0
#: Idle workers kept for the next steps (one per thread that runs steps at once).
KEEP_IDLE = 2

_SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "win32"
_FRAME = struct.Struct("!Q")
_IN_WORKER = False


def _rebuilt(cls: type, args: tuple) -> Any:
    """A formula as it was pickled, not evaluated again (which can take minutes)."""
    try:
        return cls(*args, evaluate=False)
    except TypeError:  # a function of sympy's that takes no `evaluate`
        return cls(*args)


class _Pickler(pickle.Pickler):
    """Pickles a formula as it is, to be rebuilt unevaluated (`_rebuilt`); the rest as `pickle` does."""

    def reducer_override(self, obj: Any) -> Any:
        sympy = sys.modules.get("sympy")  # none loaded: no formula to pickle
        if sympy is None:
            return NotImplemented
        rebuilt = isinstance(obj, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function, sympy.Max, sympy.Min))
        if rebuilt and type(obj).__reduce_ex__ is sympy.Basic.__reduce_ex__:  # (a user's op pickles itself)
            return _rebuilt, (type(obj), obj.args)
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(_FRAME.pack(len(data)) + data)


def _receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    data = bytearray()
    while len(data) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(min(remaining, 0.1))  # in slices: a Ctrl-C another thread received is raised within one
        try:
            chunk = sock.recv(min(size - len(data), 1 << 20))
        except TimeoutError:
            continue
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def _receive(sock: socket.socket, deadline: float | None = None) -> bytes:
    (size,) = _FRAME.unpack(_receive_exactly(sock, _FRAME.size, deadline))
    return _receive_exactly(sock, size, deadline)


class _Server:
    """The fork server (our own: `multiprocessing`'s re-imports ``__main__``); it reaps a worker only when asked."""

    def __init__(self) -> None:
        if not sys.executable:
            raise RuntimeError("the symbolic worker needs a Python executable to start (sys.executable is empty)")
        self.control, theirs = socket.socketpair()  # a command is one short line, a reply a frame
        path, fd = [p for p in sys.path if isinstance(p, str)], theirs.fileno()
        boot = f"import sys; sys.path[:] = {path!r}\nfrom microgrid.symbolic.worker import _serve; _serve({fd})"
        quiet = subprocess.DEVNULL
        self.process = subprocess.Popen([sys.executable, "-c", boot], pass_fds=[fd], stdin=quiet, stdout=quiet)
        theirs.close()
        self.owner, self.lock, self.broken = os.getpid(), threading.Lock(), False
        self.idle: list[_Worker] = []  # kept for the next steps

    def command(self, text: str, fd: int | None = None) -> str:
        """Send one command, wait for its reply; on any failure the server is dropped (a late reply is no one's)."""
        with self.lock:
            try:
                if self.broken:
                    raise EOFError
                socket.send_fds(self.control, [text.encode() + b"\n"], [fd] if fd is not None else [])
                return _receive(self.control, time.monotonic() + START_SECONDS).decode()
            except BaseException as error:
                self.close()
                if isinstance(error, (OSError, EOFError)):  # a timeout too
                    raise RuntimeError("the symbolic worker's server stopped or did not answer") from None
                raise

    def close(self) -> None:
        """Closing its socket ends the server, which ends every worker first."""
        if self.broken:
            return
        self.broken = True
        self.control.close()
        for worker in self.idle:
            worker.socket.close()
        try:
            self.process.wait(5.0)
        except subprocess.TimeoutExpired:  # still importing: it has no workers yet
            self.process.kill()


class _Worker:
    def __init__(self, server: _Server):
        self.server = server
        self.socket, theirs = socket.socketpair()
        self.how: str | None = None  # how it ended, once it has
        try:
            self.pid = int(server.command("fork", theirs.fileno()))
        finally:
            theirs.close()

    def end(self) -> str:
        """Kill the worker (if it still runs) and have the server reap it: how it ended."""
        if self.how is None:
            if not self.server.broken:  # (else the server has reaped it: the pid may be another's now)
                os.kill(self.pid, signal.SIGKILL)  # the pid is ours until the server reaps it
            self.socket.close()
            try:
                self.how = self.server.command(f"end {self.pid}")
            except RuntimeError:
                self.how = "unknown"
        return self.how


_lock = threading.Lock()
_server: _Server | None = None


def _the_server() -> _Server:
    global _server
    with _lock:  # (a forked copy of the user's process starts its own: the parent's is not ours)
        if _server is None or _server.broken or _server.owner != os.getpid():
            _server = _Server()
        return _server


@atexit.register
def _stop() -> None:
    with _lock:
        if _server is not None and _server.owner == os.getpid():
            _server.close()


def _take() -> _Worker:
    server = _the_server()
    while True:
        with _lock:
            worker = server.idle.pop() if server.idle else None
        if worker is None:
            return _Worker(server)
        if not select.select([worker.socket], [], [], 0)[0]:  # (readable: killed from outside while idle)
            return worker
        worker.end()


def _give_back(worker: _Worker) -> None:
    with _lock:
        if len(worker.server.idle) < KEEP_IDLE and not worker.server.broken:
            worker.server.idle.append(worker)
            return
    worker.end()


def start() -> None:
    """Start the server now, without waiting: it imports sympy while the caller goes on (without sympy, nothing)."""
    if _SUPPORTED and not _IN_WORKER and installed("sympy"):
        _the_server()


def call(
    function: Callable, args: tuple = (), *, seconds: float, what: str = "the step", memory_mb: float = MEMORY_MB
) -> Any:
    """``function(*args)`` in a worker, stopped after `seconds` or past `memory_mb` more megabytes (`BudgetExceeded`),
    its other exceptions raised here; both must pickle (no lambda).  In a worker, or on Windows, it runs here."""
    if _IN_WORKER or not _SUPPORTED:
        return function(*args)
    try:
        payload = _dumps((function, args))
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(
            f"{what}: {getattr(function, '__qualname__', function)!r} cannot be sent to the worker process "
            f"(a module-level function and picklable arguments can): {error}"
        ) from None
    from .conversion import declared_ops

    request = pickle.dumps((sys.path, declared_ops(), seconds, memory_mb, payload), protocol=pickle.HIGHEST_PROTOCOL)
    worker = _take()
    try:
        worker.socket.settimeout(None)
        _send(worker.socket, request)
        reply = _receive(worker.socket, time.monotonic() + seconds)
    except BaseException as error:  # a timeout, Ctrl-C or any other way out while it works: it is killed
        how = worker.end()
        if not isinstance(error, (EOFError, OSError)):  # (a timeout is an OSError)
            raise
        if isinstance(error, TimeoutError) or "SIGXCPU" in how:
            raise BudgetExceeded(f"{what} did not finish within the time budget ({seconds:.2g} s)") from None
        memory = how in ("exit status 1", "signal SIGKILL")  # its own exit at a MemoryError, or the kernel's kill
        raise BudgetExceeded(
            f"{what} {'ran out of memory' if memory else 'ended its worker process'} (the limit is {memory_mb:g} MB "
            f"more than the worker starts with; the worker ended: {how})"
        ) from None
    _give_back(worker)
    try:
        kind, value = pickle.loads(reply)
    except Exception as unreadable:  # e.g. an error of a class this process cannot import
        raise RuntimeError(f"{what}: the worker's answer could not be read here ({unreadable})") from None
    if kind == "result":
        return value
    raised, text = value
    if isinstance(raised, RecursionError):
        raise BudgetExceeded(f"{what} nests too deeply for Python's stack")
    if hasattr(raised, "add_note"):  # (Python 3.11 on)
        raised.add_note(f"(raised in the symbolic worker process)\n{text}")
    raise raised


def _serve(fd: int) -> None:
    """The server's life: preload, then fork and end workers as asked, until the user's process is gone."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal reaches the group: the user's process decides
    control = socket.socket(fileno=fd)
    from . import checker  # noqa: F401 (imports the rest of the wing)
    from .conversion import sympy
    from .simplify import simplest

    x, y = sympy.symbols("x y")  # what steps use is loaded and warmed up once, so that every fork has it:
    simplest((x**2 - y**2) / (x - y) + sympy.sin(x) ** 2 + sympy.cos(x) ** 2, 40)  # loads sympy's lazy modules
    gc.freeze()  # what is loaded stays shared with the workers: the collector does not touch (copy) it
    children: set[int] = set()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)  # a command is sent whole: one short line
        except OSError:
            break
        if not message:
            break
        command, *argument = message.decode().split()
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                control.close()
                _work(fds[0])
            os.close(fds[0])
            children.add(pid)
            reply = str(pid)
        else:  # "end PID"
            reply = _end(int(argument[0]), children)
        _send(control, reply.encode())
    for pid in list(children):
        _end(pid, children)


def _end(pid: int, children: set[int]) -> str:
    if pid not in children:
        return "already ended"
    children.discard(pid)
    os.kill(pid, signal.SIGKILL)  # (a child not yet reaped, if ended: never another process)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def _work(fd: int) -> None:
    """A worker's life: answer steps until the user's side closes; never returns."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # stopped at a limit, it leaves no core file behind
    connection = socket.socket(fileno=fd)
    try:
        with open("/proc/self/statm") as f:  # the address space it starts with
            start: int | None = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        start = None
    while True:
        try:
            _send(connection, _answer(_receive(connection), start))
        except (EOFError, OSError):
            os._exit(0)
        except MemoryError:  # (what it holds may be broken: the caller says so)
            os._exit(1)


def _answer(request: bytes, start: int | None) -> bytes:
    """The reply to one step: (kind, value) pickled; it raises only MemoryError."""
    try:
        path, ops, seconds, memory_mb, payload = pickle.loads(request)
        sys.path[:] = path
        from .conversion import declare_ops

        declare_ops(ops)
        _limit(start, seconds, memory_mb)
        function, args = pickle.loads(payload)
        outcome: tuple = ("result", function(*args))
    except MemoryError:
        raise
    except BaseException as error:  # handed to the caller
        outcome = ("error", (error, traceback.format_exc()))
    try:
        return _dumps(outcome)
    except MemoryError:
        raise
    except Exception as unsendable:  # a result or an error that does not pickle
        failure = RuntimeError(f"the worker's answer could not be sent back: {unsendable}")
        return pickle.dumps(("error", (failure, traceback.format_exc())))


def _limit(start: int | None, seconds: float, memory_mb: float) -> None:
    """The step's memory (address space) and CPU time, which the kernel enforces even if the user's process is gone."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    limits = {resource.RLIMIT_CPU: int(used.ru_utime + used.ru_stime + seconds) + 2}
    if start is not None:
        limits[resource.RLIMIT_AS] = start + int(memory_mb * 2**20)
    for kind, soft in limits.items():
        _, hard = resource.getrlimit(kind)
        resource.setrlimit(kind, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


class BudgetExceeded(Exception):
    """A step ran out of time, memory or precision; the message says which step and what ran out."""


class Budget:
    """Wall time from its creation (the same deadline in the worker), precision (`digits`) and memory for a request."""

    def __init__(self, seconds: float = 4.0, digits: int = 1000, memory_mb: float = MEMORY_MB):
        for name, amount in {"seconds": seconds, "digits": digits, "memory_mb": memory_mb}.items():
            if not amount > 0:
                raise ValueError(f"Budget: {name} must be positive, got {amount!r}")
        self.seconds, self.digits, self.memory_mb = float(seconds), int(digits), float(memory_mb)
        self._deadline = time.monotonic() + self.seconds

    def __repr__(self) -> str:
        return f"Budget(seconds={self.seconds:g}, digits={self.digits}, remaining={self.remaining():.2f})"

    def remaining(self) -> float:  # seconds, 0 once spent
        return max(0.0, self._deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() == 0.0

    def share(self, fraction: float) -> Budget:
        """A budget of `fraction` of the time left (at least a millisecond), with the same digits and memory."""
        return Budget(max(self.remaining(), 1e-3) * fraction, self.digits, self.memory_mb)

    def run(self, work: Callable[..., Any], *args: Any, seconds: float | None = None, what: str = "the step") -> Any:
        """``work(*args)`` in the worker (`call`), stopped once the budget (or `seconds`, if less) is spent.

        >>> Budget(seconds=30).run(sum, [1, 2, 3])
        6
        """
        limit = self.remaining() if seconds is None else min(seconds, self.remaining())
        if limit <= 0.0:
            raise BudgetExceeded(f"{what} was not tried: the time budget ({self.seconds:g} s) is spent")
        return call(work, args, seconds=limit, what=what, memory_mb=self.memory_mb)
