"""What a save or a load does to the file system, checked against the OS: modes,
owners, symlinks, the things a save must refuse to replace, and the things a
load must refuse to read (never waiting on a pipe, never reading a device or a
huge file to the end).  (Failures mid-write are fuzzed in tests/nn/test_fuzz_save.py.)"""

import os
import re
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

from microgrid import _files
from microgrid._files import FileTooLargeError, NotRegularFileError, atomic_write, read_regular_file
from microgrid.nn import MLP, ModelFileError
from microgrid.nn import files as model_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

AS_ROOT = os.geteuid() == 0


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o755])
def test_a_model_save_keeps_the_files_mode(tmp_path, mode):
    path = tmp_path / "m.json"
    path.write_text("old")
    path.chmod(mode)
    MLP(2, [1], seed=0).save(path)
    assert _mode(path) == mode
    assert MLP.load(path).state_dict() == MLP(2, [1], seed=0).state_dict()


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with open(tmp_path / "by_open", "w"):
            pass
        atomic_write(tmp_path / "by_save", "x")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "by_save") == _mode(tmp_path / "by_open")


@pytest.mark.skipif(not AS_ROOT, reason="only root can give a file to another user")
def test_the_owner_is_kept(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chown(path, 4321, 8765)
    path.chmod(0o640)
    MLP(2, [1], seed=0).save(path)
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 8765, 0o640)


def test_a_symlink_is_kept_and_written_through(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(os.path.join("real", "m.json"))
    MLP(2, [1], seed=3).save(link)
    assert os.readlink(link) == os.path.join("real", "m.json")
    assert MLP.load(target).state_dict() == MLP(2, [1], seed=3).state_dict()
    assert _mode(target) == 0o600
    assert sorted(os.listdir(tmp_path / "real")) == ["m.json"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.svg"
    link.symlink_to("drawn.svg")
    atomic_write(link, "<svg/>")
    assert link.is_symlink() and (tmp_path / "drawn.svg").read_text() == "<svg/>"


def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return server


@pytest.mark.parametrize("make, kind", [(os.mkdir, "a directory"), (_fifo, "a named pipe"), (_socket, "a socket")])
def test_anything_but_a_regular_file_is_refused_and_left_alone(tmp_path, make, kind):
    path = tmp_path / "thing"
    keep = make(path)
    before = os.stat(path)
    with pytest.raises(NotRegularFileError, match=f"MLP.save: .*thing' is {kind}.*not a regular file"):
        MLP(2, [1], seed=0).save(path)
    after = os.stat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert os.listdir(tmp_path) == ["thing"]
    if keep is not None:
        keep.close()


def test_a_device_is_refused_even_through_a_symlink(tmp_path):
    """/dev/full is only stat-ed: the refusal comes before anything is created (root could replace it)."""
    before = os.stat("/dev/full")
    (tmp_path / "full").symlink_to("/dev/full")
    for path in ("/dev/full", tmp_path / "full"):
        with pytest.raises(NotRegularFileError, match="is a character device"):
            atomic_write(path, "x")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and os.stat("/dev/full").st_ino == before.st_ino


@pytest.mark.skipif(AS_ROOT, reason="root may write any file")
def test_a_read_only_file_is_refused_as_open_refuses_it(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match="read-only"):
        atomic_write(path, "new")
    assert path.read_text() == "old"


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder .*nowhere.* does not exist"):
        atomic_write(tmp_path / "nowhere" / "m.json", "x")


def test_bytes_are_written_as_they_are(tmp_path):
    data = bytes(range(256)) * 3
    atomic_write(tmp_path / "b", data)
    assert (tmp_path / "b").read_bytes() == data


def test_drawing_save_keeps_mode_and_refuses_a_directory(tmp_path):
    pytest.importorskip("graphviz")
    from microgrid import Value
    from microgrid.drawing import draw

    drawing = draw(Value(2.0, label="x") * 3)
    path = tmp_path / "g.dot"
    path.write_text("old")
    path.chmod(0o600)
    drawing.save(path)
    assert path.read_text() == drawing.source and _mode(path) == 0o600
    (tmp_path / "d.dot").mkdir()
    with pytest.raises(NotRegularFileError, match=r"Drawing\.save: .*d\.dot' is a directory"):
        drawing.save(tmp_path / "d.dot")


def test_a_backward_stepper_save_is_atomic_and_keeps_the_mode(tmp_path):
    from microgrid import Value
    from microgrid.drawing import step_backward

    x = Value(3.0, label="x")
    stepper = step_backward(x * x)
    path = tmp_path / "steps.html"
    path.write_text("old")
    path.chmod(0o600)
    assert stepper.save(path) == path
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n") and _mode(path) == 0o600
    (tmp_path / "d.html").mkdir()
    with pytest.raises(NotRegularFileError, match=r"BackwardStepper\.save: .*d\.html' is a directory"):
        stepper.save(tmp_path / "d.html")


# ------------------------------------------------------------------ loads
def _in_a_child(code: str, *, timeout: float = 60.0, memory: bool = False) -> str:
    """Run `code` in a fresh Python (with `memory`, at most 4 GiB of it); its output.

    A load that waits on a pipe, or reads a device without end, would hang or
    exhaust this process: in a child it is killed, and the test fails instead.
    """
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n" if memory else ""
    try:
        done = subprocess.run(
            [sys.executable, "-c", limit + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, PYTHONPATH=ROOT),
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout:g} s (waiting on the file?):\n{code}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _refusal(call: str, path, *, memory: bool = False) -> str:
    """The error type and message of `call` (e.g. "MLP.load"), run on `path` in a child process."""
    return _in_a_child(
        memory=memory,
        code=f"""
        from microgrid.nn import MLP
        from microgrid import Value
        from microgrid.drawing import step_backward
        try:
            {call}({str(path)!r})
        except Exception as error:
            print(type(error).__name__, error)
        else:
            print("no error")
    """,
    )


@pytest.mark.parametrize("call", ["MLP.load", "MLP(2, [1], seed=0).load_weights", "step_backward(Value(2.0) * 3).save"])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path, call):
    path = tmp_path / "pipe.html"
    os.mkfifo(path)
    where = {"MLP.load": "MLP.load", "step_backward(Value(2.0) * 3).save": "BackwardStepper.save"}.get(
        call, "MLP.load_weights"
    )
    assert _refusal(call, path) == (
        f"NotRegularFileError {where}: {str(path)!r} is a named pipe (FIFO), not a regular file; "
        + (
            "refusing to read it (load a regular file's path)"
            if "load" in call
            else "refusing to replace it (save to a regular file's path)"
        )
    )
    assert stat.S_ISFIFO(os.stat(path).st_mode)


@pytest.mark.parametrize("through_link", [False, True])
def test_a_device_is_refused_not_read_until_memory_runs_out(tmp_path, through_link):
    path = "/dev/zero"
    if through_link:
        path = tmp_path / "model.json"
        path.symlink_to("/dev/zero")
    assert _refusal("MLP.load", path, memory=True) == (
        f"NotRegularFileError MLP.load: {str(path)!r} is a character device, not a regular file; "
        "refusing to read it (load a regular file's path)"
    )


def test_a_directory_or_a_socket_is_refused(tmp_path):
    with pytest.raises(NotRegularFileError, match=r"^MLP.load: .*' is a directory, not a regular file"):
        MLP.load(tmp_path)
    server = _socket(tmp_path / "socket")
    try:
        with pytest.raises(NotRegularFileError, match=r"^MLP.load_weights: .*socket' is a socket, not a regular file"):
            MLP(2, [1], seed=0).load_weights(tmp_path / "socket")
    finally:
        server.close()


def test_the_opened_file_is_checked_too_not_only_the_name(tmp_path):
    """A name that stat() saw as a regular file may be a pipe by the time it is opened:
    the open must not wait for a writer, and the opened file is checked again."""
    regular, pipe = tmp_path / "regular", tmp_path / "pipe"
    regular.write_text("{}")
    os.mkfifo(pipe)
    assert (
        _in_a_child(f"""
        import os
        from microgrid import _files
        real_stat = os.stat
        _files.os.stat = lambda path, *args, **kwargs: real_stat({str(regular)!r})  # the race, made certain
        try:
            _files.read_regular_file({str(pipe)!r}, limit=100, where="load")
        except Exception as error:
            print(type(error).__name__, error)
    """)
        == f"NotRegularFileError load: {str(pipe)!r} is a named pipe (FIFO), not a regular file; "
        "refusing to read it (load a regular file's path)"
    )


def test_a_read_stops_at_its_limit(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, limit=100, where="load") == b"x" * 100
    assert read_regular_file(path, limit=10**6, where="load") == b"x" * 100
    with pytest.raises(
        FileTooLargeError,
        match=rf"^load: {re.escape(repr(str(path)))} is 100 bytes, more than the 99 bytes it reads at most$",
    ):
        read_regular_file(path, limit=99, where="load")


def test_a_file_growing_while_it_is_read_is_still_stopped_at_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "data"
    path.write_bytes(b"x" * 10)
    real_fstat = os.fstat

    def growing(handle):  # fstat saw 10 bytes; then a writer appends 200 more
        info = real_fstat(handle)
        with open(path, "ab") as f:
            f.write(b"y" * 200)
        return info

    monkeypatch.setattr(_files.os, "fstat", growing)
    with pytest.raises(FileTooLargeError, match=r"holds more than the 50 bytes"):
        read_regular_file(path, limit=50, where="load")


def test_a_model_file_over_the_limit_is_refused_unread(tmp_path):
    """A sparse file: the limit's size on disk costs nothing, and it is never read."""
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(model_files.MAX_FILE_BYTES + 1)
    for load in (MLP.load, MLP(2, [1], seed=0).load_weights):
        with pytest.raises(
            ModelFileError,
            match=r"^MLP.load(_weights)?: .*huge.json' is 67108865 bytes, more than the 67108864 bytes \(64 MiB\)",
        ):
            load(path)


def test_a_model_is_saved_only_if_load_can_read_it_back(tmp_path, monkeypatch):
    model = MLP(2, [3, 1], seed=0)
    model.save(tmp_path / "small.json")
    size = os.path.getsize(tmp_path / "small.json")
    monkeypatch.setattr(model_files, "MAX_FILE_BYTES", size)
    assert MLP.load(tmp_path / "small.json").state_dict() == model.state_dict()  # exactly at the limit
    bigger = MLP(2, [4, 1], seed=0)
    with pytest.raises(
        ValueError,
        match=rf"^MLP.save: the file would be \d+ bytes, more than the {size} bytes a load reads; 17 parameters",
    ):
        bigger.save(tmp_path / "big.json")
    assert sorted(os.listdir(tmp_path)) == ["small.json"]
