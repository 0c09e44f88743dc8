"""For tests that press Ctrl-C in a child process."""

import signal


def sigint_default() -> None:
    """A child's Ctrl-C as in a terminal, even when the suite runs as a background job (which ignores SIGINT, and a
    child inherits that): Python then turns SIGINT into KeyboardInterrupt.  For ``preexec_fn``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
