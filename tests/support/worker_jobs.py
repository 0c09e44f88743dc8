"""Steps for the symbolic worker process in tests: module-level, so that they pickle."""

import os
import time


def same(value):
    """`value` as it came: what the trip to the worker and back makes of it."""
    return value


def endless_python():
    """Runs until stopped, in Python bytecode."""
    while True:
        pass


def tell_pid_then_spin(path):
    """Writes this process's pid to `path`, then runs until stopped."""
    with open(path + ".part", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".part", path)
    endless_python()


def allocate(megabytes):
    """Holds `megabytes` of memory for a moment; its size in bytes."""
    block = bytearray(int(megabytes * 2**20))
    block[:: 2**12] = b"\x01" * len(block[:: 2**12])  # touch every page
    return len(block)


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


def sleep_then_pid(seconds):
    time.sleep(seconds)
    return os.getpid()


def crash():
    """Ends its process by a signal no limit sends: a crash, not a step out of memory or time."""
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)
