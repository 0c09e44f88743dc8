"""A progress bar's line as one Jupyter output updated in place (``display_id``), not a stderr stream.

In a notebook stderr is a warning box that keeps every refresh of tqdm's bar; this keeps the latest line,
so the saved notebook holds the finished bar as plain text, readable in any front end.

    >>> notebook_line() is None   # outside a Jupyter kernel: tqdm writes to stderr
    True
"""

from __future__ import annotations

import io
import sys

__all__ = ["OutputLine", "notebook_line"]


class OutputLine(io.TextIOBase):
    """A text file whose last line is shown as one Jupyter output (for tqdm's ``file=``)."""

    encoding = "utf-8"  # tqdm draws its Unicode blocks only for a file that says so

    def __init__(self) -> None:
        self._handle = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        line = text.rsplit("\r", 1)[-1].rstrip()  # the latest refresh, without tqdm's padding
        if line:
            from IPython.display import display

            bundle = {"text/plain": line}
            if self._handle is None:
                self._handle = display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
        return len(text)


def notebook_line() -> OutputLine | None:
    """An `OutputLine` when running in a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel has loaded it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None or getattr(shell, "kernel", None) is None:  # a terminal IPython has no kernel
        return None
    return OutputLine()
