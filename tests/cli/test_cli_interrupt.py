"""Ctrl-C during `microgrid check`: one line, exit status 130, and no process left computing.

References: the process table (/proc) and the exit status, seen from outside."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from interrupts import sigint_default

#: Wide, for a shared machine: the command stops at once, but may have to start first.
BOUND = 30.0
# factor() of the difference, (a + ... + g)**6 multiplied out, runs for minutes; three lines keep the command busy
# for their whole budget (10 s), so that Ctrl-C lands while it works, however loaded the machine.
SLOW = ["check", "u = (a + b + c + d + e + g)**6; f = u*h", "--wrt", "h"]
SLOW += [f"(a + b + c + d + e + g)**6 + {k}" for k in (1, 2, 3)]


def children(pid):
    path = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def running(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:
        return False


@pytest.mark.skipif(
    not pathlib.Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs Linux's /proc children lists",
)
def test_ctrl_c_stops_check_with_one_line_and_leaves_no_worker():
    cli = subprocess.Popen(
        [sys.executable, "-m", "microgrid", *SLOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=sigint_default,
    )
    seen, busy_since = set(), None
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline and cli.poll() is None:  # until a worker has been computing a while
        workers = [w for server in children(cli.pid) for w in children(server)]
        seen.update(children(cli.pid), workers)
        if any(running(w) for w in workers):
            busy_since = busy_since or time.monotonic()
            if time.monotonic() - busy_since > 0.3:
                break
        else:
            busy_since = None
        time.sleep(0.02)
    assert cli.poll() is None and busy_since is not None, "no worker was computing"
    os.killpg(cli.pid, signal.SIGINT)  # as a terminal does: the whole group
    _, err = cli.communicate(timeout=BOUND)
    assert cli.returncode == 130
    assert err == "microgrid: interrupted\n"
    gone_by = time.monotonic() + BOUND
    while any(pathlib.Path(f"/proc/{pid}").exists() for pid in seen) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert seen and not [pid for pid in seen if pathlib.Path(f"/proc/{pid}").exists()]
