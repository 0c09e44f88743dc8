"""Checked file access: a save happens completely or not at all; a load reads a bounded regular file, or nothing.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> atomic_write(path, "hello")
>>> read_regular_file(path, limit=1000, where="notes")
b'hello'
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

__all__ = ["FileTooLargeError", "NotRegularFileError", "atomic_write", "read_regular_file", "size_text"]

_CHUNK = 1 << 20  # what one os.read asks for: a large file is read in pieces, never past the limit
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_KINDS |= {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}


class NotRegularFileError(OSError):
    """The path names something other than a regular file, which a save must not replace nor a load read."""


class FileTooLargeError(ValueError):
    """The file holds more bytes than the load reading it accepts."""


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, where: str = "save") -> None:
    """Replace the file at `path` with `data` (str as UTF-8) all at once, keeping a symlink and the mode and owner."""
    content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    name = os.fsdecode(path)
    target = os.path.realpath(name) if os.path.islink(name) else os.path.abspath(name)  # a symlink is kept
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{where}: {name!r}: the folder {folder!r} does not exist")
    old = None
    with contextlib.suppress(FileNotFoundError):
        old = os.stat(target)
    if old is not None:
        _refuse_irregular(old.st_mode, name, where, "replace it (save to a regular file's path)")
        if not os.access(target, os.W_OK):  # as open(path, "w") would refuse
            mode = stat.S_IMODE(old.st_mode)
            raise PermissionError(f"{where}: {name!r} is read-only (mode {mode:04o}); not replaced")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with open(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(handle)  # the bytes are on disk before the name points at them
            _copy_owner_and_mode(handle, old, target, where)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    with contextlib.suppress(OSError):  # flush the rename itself to disk, where the OS lets a folder be opened
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def read_regular_file(path: str | os.PathLike[str], *, limit: int, where: str) -> bytes:
    """The bytes of the regular file at `path` (a symlink is followed), if at most `limit`, never waiting on a FIFO."""
    name, hint = os.fsdecode(path), "read it (load a regular file's path)"
    most = f"the {size_text(limit)} it reads at most"
    _refuse_irregular(os.stat(name).st_mode, name, where, hint)  # before opening, which may act on a device
    # Opened without waiting (a FIFO's open waits for a writer), then checked again (the name may have changed).
    handle = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(handle)
        _refuse_irregular(info.st_mode, name, where, hint)
        if info.st_size > limit:
            raise FileTooLargeError(f"{where}: {name!r} is {info.st_size} bytes, more than {most}")
        data = bytearray()
        while chunk := os.read(handle, min(_CHUNK, limit + 1 - len(data))):  # a byte past the limit tells it was passed
            data += chunk
            if len(data) > limit:  # it grew after fstat
                raise FileTooLargeError(f"{where}: {name!r} holds more than {most}")
    finally:
        os.close(handle)
    return bytes(data)


def size_text(limit: int) -> str:
    """``"67108864 bytes (64 MiB)"``: the exact count, and the size in words for a large one."""
    return f"{limit} bytes" + (f" ({limit / 2**20:g} MiB)" if limit >= 2**20 else "")


def _refuse_irregular(mode: int, name: str, where: str, refusing: str) -> None:
    """NotRegularFileError unless `mode` is a regular file's; `refusing` says what is not done, and what to do."""
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise NotRegularFileError(f"{where}: {name!r} is {kind}, not a regular file; refusing to {refusing}")


def _copy_owner_and_mode(handle: int, old: os.stat_result | None, target: str, where: str) -> None:
    """Give the new file the old one's owner and mode, or a new file's default mode."""
    if old is None:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp made it 0600; open() would not
        return
    mine = os.fstat(handle)
    if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.fchown(handle, old.st_uid, old.st_gid)
        except PermissionError:
            raise PermissionError(
                f"{where}: {target!r} belongs to user {old.st_uid}, group {old.st_gid}, which a new file "
                "written by this user cannot keep; not replaced (save under another name)"
            ) from None
    os.fchmod(handle, stat.S_IMODE(old.st_mode))  # after fchown, which may clear set-id bits


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (threads may be writing)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
