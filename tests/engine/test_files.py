"""What a save does to the file system, checked against the OS: modes, owners,
symlinks, and the things it must refuse to replace.  (Failures mid-write are
fuzzed in test_fuzz_save.py.)"""

import os
import socket
import stat

import pytest

from microgrid._files import NotRegularFileError, atomic_write
from microgrid.nn import MLP

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
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere.* does not exist"):
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
    with pytest.raises(NotRegularFileError, match="Drawing.save: .*d.dot' is a directory"):
        drawing.save(tmp_path / "d.dot")
