"""sympy's heavy work in a process of its own, which can be stopped: `call`.

sympy has no cancellation: ``factor`` of a short polynomial runs for
minutes, much of it inside single C calls (big-integer arithmetic) that
nothing in the same process can interrupt.  So each step runs in a worker
process with a hard time limit (the caller stops waiting and kills it) and
a memory limit (``RLIMIT_AS``, set in the worker).  Past either, the worker
is killed and replaced, and the step raises `BudgetExceeded` naming the
limit.  Ctrl-C while waiting kills the worker too, at once.

Replacing a worker is cheap: a server process, started once, imports sympy
and the symbolic modules and forks a worker whenever one is needed (a fork
of a process that has them loaded takes milliseconds, a new interpreter a
second).  The user's process itself never forks (it may run threads), and
the server is its own interpreter, started with the user's ``sys.path``:
not `multiprocessing`'s, which re-imports a script's ``__main__`` in each
worker.  The server ends its workers and itself when the user's process
ends.  An idle worker is kept for the next step.

What crosses is pickled: module-level functions and their arguments.
sympy's own pickling rebuilds a formula by evaluating it again (``x + x``
comes back as ``2*x``, a claim held as written is multiplied out); here
every sum, product, power and function comes back as it was.  The ops a
user declared, which the worker's table lacks, travel with each step as
text (`microgrid.symbolic.forms.op_spec`), never as Python functions.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> call(sympy.factor, (x**2 - 1,), seconds=30)
    (x - 1)*(x + 1)
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from typing import Any, Callable

__all__ = ["call", "in_worker", "start", "worker_pids", "MEMORY_MB"]

# Nothing here imports sympy: `start` runs before the caller imports it, so
# that the server loads it at the same time.

#: The memory a step may take by default, in megabytes beyond what its worker starts with.
MEMORY_MB = 2000
#: How long the server may take to start (import sympy) before it is given up.
START_SECONDS = 60.0
#: Idle workers kept for the next steps (one per thread that runs steps at once).
KEEP_IDLE = 2

_SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "win32"
_FRAME = struct.Struct("!Q")
_IN_WORKER = False


def in_worker() -> bool:
    """True inside a worker process: there, a step runs at once (its caller's limits hold it)."""
    return _IN_WORKER


# ---------------------------------------------------------------- pickling
def _rebuilt(cls: type, args: tuple) -> Any:
    """A sum, product, power or function as it was pickled, not evaluated again."""
    return cls(*args, evaluate=False)


class _Pickler(pickle.Pickler):
    """Pickles formulas as they are (see the module); the rest as `pickle` does."""

    def reducer_override(self, obj: Any) -> Any:
        sympy = sys.modules.get("sympy")  # none loaded: no formula to pickle
        if sympy is None:
            return NotImplemented
        rebuilt = isinstance(obj, (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function))
        if rebuilt and type(obj).__reduce_ex__ is sympy.Basic.__reduce_ex__:  # (a user's op pickles itself)
            return _rebuilt, (type(obj), obj.args)
        engine_op = getattr(obj, "_engine_op", None) if isinstance(obj, type) else None
        if engine_op is not None:  # the class of a user's op (an instance pickles itself)
            from .forms import function_of, op_spec

            return function_of, (op_spec(engine_op),)
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(_FRAME.pack(len(data)))
    sock.sendall(data)


def _receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(sock: socket.socket, deadline: float | None = None) -> bytes:
    (size,) = _FRAME.unpack(_receive_exactly(sock, _FRAME.size, deadline))
    return _receive_exactly(sock, size, deadline)


# ----------------------------------------------------- the user's process
class _Server:
    """The fork server, seen from the user's process: forks workers and ends them.

    Only the server reaps its workers, and only when asked: a worker's pid
    stays its own until then, so killing it by pid never hits another process."""

    def __init__(self) -> None:
        if not sys.executable:
            raise RuntimeError("the symbolic worker needs a Python executable to start (sys.executable is empty)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        boot = (f"import sys; sys.path[:] = {sys.path!r}\n"
                f"from microgrid.symbolic.worker import _serve; _serve({theirs.fileno()})")
        self.process = subprocess.Popen([sys.executable, "-c", boot], pass_fds=[theirs.fileno()],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        theirs.close()
        self.control = ours
        self.owner = os.getpid()
        self.lock = threading.Lock()
        self.broken = False

    def command(self, text: str, fd: int | None = None) -> str:
        """Send one command and wait for its reply; a server interrupted mid-command is dropped whole."""
        with self.lock:
            if self.broken:
                raise RuntimeError("the symbolic worker's server stopped")
            done = False
            try:
                socket.send_fds(self.control, [text.encode()], [fd] if fd is not None else [])
                self.control.settimeout(START_SECONDS)
                reply = self.control.recv(256)
                done = True
            except (OSError, TimeoutError) as error:
                raise RuntimeError(f"the symbolic worker's server did not answer ({error})") from None
            finally:
                if not done:  # its reply may still come: never read it as another command's
                    self.close()
            if not reply:
                self.close()
                raise RuntimeError("the symbolic worker's server stopped")
            return reply.decode()

    def close(self) -> None:
        """Closing its socket ends the server, which ends every worker first."""
        self.broken = True
        self.control.close()
        try:
            self.process.wait(5.0)
        except subprocess.TimeoutExpired:  # still importing: it has no workers yet
            self.process.kill()


class _Worker:
    """One worker process, seen from the user's process."""

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
            try:
                os.kill(self.pid, signal.SIGKILL)  # at once; the pid is ours until the server reaps it
            except ProcessLookupError:
                pass
            self.socket.close()
            try:
                self.how = self.server.command(f"end {self.pid}")
            except RuntimeError:
                self.how = "unknown"
        return self.how


_lock = threading.Lock()
_server: _Server | None = None
_idle: list[_Worker] = []


def _the_server() -> _Server:
    global _server, _idle
    with _lock:
        if _server is None or _server.broken or _server.owner != os.getpid():
            if _server is not None and _server.owner != os.getpid():
                _idle = []  # a forked copy of the user's process: the parent's server is not ours
            _server = _Server()
        return _server


@atexit.register
def _stop() -> None:
    """At exit, end the server and so every worker, before this process is gone."""
    with _lock:
        if _server is not None and not _server.broken and _server.owner == os.getpid():
            _server.close()


def _take() -> _Worker:
    with _lock:
        while _idle:
            worker = _idle.pop()
            if not worker.server.broken and worker.server.owner == os.getpid():
                return worker
    return _Worker(_the_server())


def _give_back(worker: _Worker) -> None:
    with _lock:
        if len(_idle) < KEEP_IDLE and not worker.server.broken:
            _idle.append(worker)
            return
    worker.end()


def worker_pids() -> list[int]:
    """The pids of the idle workers (for tests and the curious)."""
    with _lock:
        return [w.pid for w in _idle]


def start() -> None:
    """Start the server now, if it is not running, without waiting for it: it
    imports sympy while the caller goes on."""
    if _SUPPORTED and not _IN_WORKER:
        _the_server()


def call(function: Callable[..., Any], args: tuple = (), *, seconds: float, what: str = "the step",
         memory_mb: float = MEMORY_MB) -> Any:
    """``function(*args)`` in a worker process, stopped after `seconds` or
    past `memory_mb` megabytes more memory: `BudgetExceeded` names the limit.
    Any other exception of `function` is raised here as it was raised there.

    `function` and `args` must pickle: a module-level function, not a lambda.
    The time counts from when a worker has the step (the server's own start,
    once, is not counted).  Where processes cannot fork (Windows), the step
    runs here, without limits.
    """
    from .budget import BudgetExceeded

    if _IN_WORKER or not _SUPPORTED:
        return function(*args)
    try:
        payload = _dumps((function, args))
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(f"{what}: {getattr(function, '__qualname__', function)!r} cannot be sent to the worker process "
                        f"(a module-level function and picklable arguments can): {error}") from None
    request = pickle.dumps((sys.path, _user_ops(), seconds, memory_mb, payload), protocol=pickle.HIGHEST_PROTOCOL)
    for attempt in range(2):
        worker = _take()
        answered = False
        try:
            worker.socket.settimeout(None)
            try:
                _send(worker.socket, request)
            except OSError:  # an idle worker that ended meanwhile: once more, with a new one
                if attempt == 0:
                    continue
                raise
            reply = _receive(worker.socket, time.monotonic() + seconds)
            answered = True
        except TimeoutError:
            raise BudgetExceeded(_time_out(what, seconds)) from None
        except (EOFError, OSError):
            how = worker.end()
            if "SIGXCPU" in how:
                raise BudgetExceeded(_time_out(what, seconds)) from None
            raise BudgetExceeded(f"{what} stopped the worker process ({how}): most likely it reached the memory "
                                 f"limit ({memory_mb:g} MB)") from None
        finally:  # a timeout, Ctrl-C or any other way out while it works: it is killed
            if not answered:
                worker.end()
        break
    kind, value, finished = pickle.loads(reply)
    if finished:
        worker.end()
    else:
        _give_back(worker)
    if kind == "result":
        return value
    if kind == "memory":
        raise BudgetExceeded(f"{what} ran out of memory (the limit is {memory_mb:g} MB more than the worker starts with)")
    if kind == "deep":
        raise BudgetExceeded(f"{what} nests too deeply for Python's stack")
    error, text = value
    if hasattr(error, "add_note"):
        error.add_note(f"(raised in the symbolic worker process)\n{text}")
    raise error


def _time_out(what: str, seconds: float) -> str:
    return f"{what} did not finish within the time budget ({seconds:.2g} s)"


def _user_ops() -> tuple:
    """The ops declared after import, as text: the worker's table has only the built-ins."""
    from ..engine import BUILT_IN, OPS
    from .forms import op_spec

    return tuple(op_spec(op) for name, op in list(OPS.items()) if name not in BUILT_IN)


# ------------------------------------------------------------ the server
def _serve(fd: int) -> None:
    """The server's life: preload, then fork and end workers as asked, until the user's process is gone."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal reaches the whole group: the user's process decides
    control = socket.socket(fileno=fd)
    _preload()
    children: set[int] = set()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 256, 1)
        except OSError:
            break
        if not message:
            break
        command, _, argument = message.decode().partition(" ")
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                control.close()
                _work(fds[0])
            os.close(fds[0])
            children.add(pid)
            reply = str(pid)
        else:  # "end PID"
            reply = _end(int(argument), children)
        control.sendall(reply.encode())
    for pid in list(children):
        _end(pid, children)


def _end(pid: int, children: set[int]) -> str:
    if pid not in children:
        return "already ended"
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    children.discard(pid)
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _preload() -> None:
    """Import and warm up what steps use, once, so that every fork has it."""
    import gc

    import sympy

    from . import checker, handcheck  # noqa: F401 (imports the rest of the wing)
    from .simplify import simplest

    x, y = sympy.symbols("x y")
    simplest((x**2 - y**2) / (x - y) + sympy.sin(x) ** 2 + sympy.cos(x) ** 2, 40)  # loads sympy's lazy modules
    gc.freeze()  # what is loaded stays shared with the workers: the collector does not touch (copy) it


# ------------------------------------------------------------ a worker
def _work(fd: int) -> None:
    """A worker's life: answer steps until the user's side closes; never returns."""
    connection = socket.socket(fileno=fd)
    start = _address_space()
    while True:
        try:
            request = _receive(connection)
        except (EOFError, OSError):
            os._exit(0)
        reply, finished = _answer(request, start)
        try:
            _send(connection, reply)
        except OSError:
            os._exit(0)
        if finished:
            os._exit(0)


def _answer(request: bytes, start: int | None) -> tuple[bytes, bool]:
    """The reply to one step, (kind, value, whether this worker must end) pickled, and that last."""
    try:
        path, ops, seconds, memory_mb, payload = pickle.loads(request)
        if sys.path != path:
            sys.path[:] = path
        _mirror_ops(ops)
        _limit(start, seconds, memory_mb)
        function, args = pickle.loads(payload)
        outcome: tuple = ("result", function(*args), False)
    except MemoryError:
        return pickle.dumps(("memory", None, True)), True
    except RecursionError:
        outcome = ("deep", None, False)
    except BaseException as error:  # handed to the caller
        outcome = ("error", (error, traceback.format_exc()), False)
    try:
        return _dumps(outcome), False
    except MemoryError:
        return pickle.dumps(("memory", None, True)), True
    except Exception as unsendable:  # a result or an error that does not pickle
        error = RuntimeError(f"the worker's answer could not be sent back: {unsendable}")
        return pickle.dumps(("error", (error, traceback.format_exc()), False)), False


def _mirror_ops(specs: tuple) -> None:
    """Make the worker's op table the caller's: the ops it declared, as
    text (their Python functions never run here).  Written to the table
    directly: `define_op` would add Value methods this process never uses."""
    from ..engine import BUILT_IN, OPS
    from .forms import op_of

    wanted = {dict(spec)["name"]: spec for spec in specs}
    for name in [n for n in OPS if n not in BUILT_IN and n not in wanted]:
        del OPS[name]
    for name, spec in wanted.items():
        OPS[name] = op_of(spec)


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _limit(start: int | None, seconds: float, memory_mb: float) -> None:
    """The step's limits, set in the worker: its memory (address space), and
    its CPU time, which the kernel enforces even if the user's process is gone."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + seconds) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard == resource.RLIM_INFINITY else min(cpu, hard), hard))
    if start is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = start + int(memory_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
