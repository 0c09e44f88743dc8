"""Checked file access: a save happens completely or not at all; a load reads a
regular file of bounded size, or nothing.

`atomic_write(path, data)` writes to a temporary file in the target's folder,
flushes it to disk, gives it the mode and owner of the file it replaces, and
renames it over the target.  Whatever goes wrong on the way (a full disk, an
interrupt), the old file is left as it was and the temporary file removed.

* A new file gets the mode ``open(path, "w")`` would give it (0666 less the umask).
* Only a regular file is replaced: a directory, a device (``/dev/full``),
  a FIFO or a socket raises `NotRegularFileError`, and nothing is written.
* A symlink is kept: the write goes through it to the file it points to.
* A file this user could not open for writing (read-only) is refused, as open() refuses it.
* The mode and owner carry over; other metadata (ACLs, extended
  attributes, hard links to the old file) does not.  An owner that cannot
  be kept (another user's file, not running as root) raises PermissionError.

`read_regular_file(path, limit=..., where=...)` is the reading side: it
reads only a regular file (a FIFO, a device, a directory or a socket raises
`NotRegularFileError` without a byte read and without waiting for a writer),
and at most `limit` bytes (more raises `FileTooLargeError`, a ValueError).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> atomic_write(path, "hello")
    >>> read_regular_file(path, limit=1000, where="notes")
    b'hello'
"""

from __future__ import annotations

import os
import stat
import tempfile

__all__ = ["atomic_write", "read_regular_file", "size_text", "NotRegularFileError", "FileTooLargeError"]

#: How much one os.read asks for: a large file is read in pieces, never past the limit.
_CHUNK = 1 << 20


class NotRegularFileError(OSError):
    """The path names something other than a regular file, which a save must not replace nor a load read."""


class FileTooLargeError(ValueError):
    """The file holds more bytes than the load reading it accepts."""


def atomic_write(path: str | os.PathLike, data: str | bytes, *, where: str = "save") -> None:
    """Replace the file at `path` with `data` (str is written as UTF-8), atomically.

    Errors name `where` (the operation, e.g. ``"Drawing.save"``) and the path.
    """
    content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    target = _target(path, where)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{where}: {os.fspath(path)!r}: the folder {folder!r} does not exist")
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None:
        _refuse_irregular(old.st_mode, path, where, "replace it (save to a regular file's path)")
    if old is not None and not os.access(target, os.W_OK):  # as open(path, "w") would refuse
        raise PermissionError(f"{where}: {os.fspath(path)!r} is read-only (mode {stat.S_IMODE(old.st_mode):04o}); not replaced")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        try:
            _write_all(handle, content)
            os.fsync(handle)  # the bytes are on disk before the name points at them
            _copy_owner_and_mode(handle, old, target, where)
        finally:
            os.close(handle)
        os.replace(temporary, target)
    except BaseException:
        _remove_quietly(temporary)
        raise
    _sync_folder(folder)


def read_regular_file(path: str | os.PathLike, *, limit: int, where: str) -> bytes:
    """The bytes of the regular file at `path` (a symlink is followed), if it holds at most `limit`.

    The name is checked before it is opened (opening a device may act on it),
    opened without waiting (a FIFO's open would wait for a writer), and the
    opened file checked again (the name may have changed in between).  Errors
    name `where` (the operation, e.g. ``"MLP.load"``) and the path.
    """
    name = os.fspath(path)
    _refuse_irregular(os.stat(name).st_mode, path, where, _READ_HINT)
    handle = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(handle)
        _refuse_irregular(info.st_mode, path, where, _READ_HINT)
        if info.st_size > limit:
            raise FileTooLargeError(
                f"{where}: {name!r} is {info.st_size} bytes, more than the {size_text(limit)} it reads at most"
            )
        chunks, size = [], 0
        while True:
            chunk = os.read(handle, min(_CHUNK, limit + 1 - size))  # one byte past the limit tells it was passed
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew after fstat
                raise FileTooLargeError(f"{where}: {name!r} holds more than the {size_text(limit)} it reads at most")
    finally:
        os.close(handle)
    return b"".join(chunks)


_READ_HINT = "read it (load a regular file's path)"


def size_text(limit: int) -> str:
    """``"67108864 bytes (64 MiB)"``: the exact count, and the size in words for a large one."""
    return f"{limit} bytes" + (f" ({limit / 2**20:g} MiB)" if limit >= 2**20 else "")


def _refuse_irregular(mode: int, path: str | os.PathLike, where: str, refusing: str) -> None:
    """NotRegularFileError unless `mode` is a regular file's; `refusing` says what is not done, and what to do."""
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(
            f"{where}: {os.fspath(path)!r} is {_kind(mode)}, not a regular file; refusing to {refusing}"
        )


def _target(path: str | os.PathLike, where: str) -> str:
    """The file to replace: `path`, or for a symlink the file it points to (the link is kept)."""
    name = os.fspath(path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    if os.path.islink(name):
        return os.path.realpath(name)
    return os.path.abspath(name)


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _write_all(handle: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        written = os.write(handle, view)
        view = view[written:]


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
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_quietly(name: str) -> None:
    try:
        os.remove(name)
    except OSError:
        pass


def _sync_folder(folder: str) -> None:
    """Flush the rename itself to disk (where the OS lets a folder be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        try:
            os.close(handle)
        except OSError:  # the file is saved already: nothing to report
            pass
