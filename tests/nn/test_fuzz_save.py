"""Saves interrupted at random points: the old file must be left exactly as it was.

Every system call `atomic_write` makes (write, fsync, fchown, fchmod, close,
replace) is wrapped, and one of them fails on a chosen call, with a disk
error, an interrupt or a memory error; writes may also be short.  After a
failure the old file has the same bytes and mode, the folder holds no
temporary file, and the error reached the caller; after a success the new
content is there with the old mode.  Through `MLP.save` and `Drawing.save`,
and through a symlink (which must stay a link).
"""

import errno
import os
import stat
import tempfile
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgrid import _files
from microgrid.nn import MLP

CALLS = ("write", "fsync", "fchown", "fchmod", "close", "replace")
FAILURES = {
    "disk full": lambda: OSError(errno.ENOSPC, "No space left on device"),
    "io error": lambda: OSError(errno.EIO, "Input/output error"),
    "interrupt": KeyboardInterrupt,
    "memory": MemoryError,
}
AS_ROOT = os.geteuid() == 0
MODES = (0o600, 0o640, 0o644, 0o664, 0o666, 0o700, 0o755, 0o604)

# Each example is small and fast, so 300 of each test keep the suite quick.
FUZZ = settings(max_examples=300, deadline=None)


def _faulty_os(plan: dict) -> types.SimpleNamespace:
    """`os` for `_files`, where call number `plan["nth"]` of `plan["call"]` raises `plan["error"]`,
    and every write writes at most `plan["chunk"]` bytes."""
    counts = dict.fromkeys(CALLS, 0)

    def wrap(name):
        real = getattr(os, name)

        def call(*args):
            counts[name] += 1
            if name == plan["call"] and counts[name] == plan["nth"]:
                if name == "close":
                    real(*args)  # the descriptor is gone either way, as a failing close(2) leaves it
                plan["raised"] = True
                raise plan["error"]()
            if name == "write":
                handle, data = args
                return real(handle, bytes(data[: plan["chunk"]]))
            result = real(*args)
            if name == "replace":
                plan["replaced"] = True  # from here on the new file is in place: the save happened
            return result

        return call

    namespace = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    for name in CALLS:
        setattr(namespace, name, wrap(name))
    return namespace


plans = st.fixed_dictionaries(
    {
        "call": st.sampled_from(CALLS),
        "nth": st.integers(1, 4),
        "error": st.sampled_from(sorted(FAILURES)).map(FAILURES.get),
        "chunk": st.sampled_from([1, 7, 64, 4096, 1 << 20]),
    }
)


def _snapshot(path):
    info = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def _save_with_faults(plan, save):
    """Run `save()` with `_files.os` replaced; the error it raised (None if it finished).

    A failure after the rename (syncing the folder) may be reported or not:
    `plan["replaced"]` says whether the new file took the old one's place."""
    plan["raised"] = plan["replaced"] = False
    with pytest.MonkeyPatch.context() as patch:  # undone after each example
        patch.setattr(_files, "os", _faulty_os(plan))
        try:
            save()
        except (OSError, KeyboardInterrupt, MemoryError) as error:
            assert plan["raised"], f"an error that was not injected: {error!r}"
            return error
    assert not plan["raised"] or plan["replaced"], "a failure before the rename was swallowed"
    return None


@FUZZ
@given(
    plan=plans,
    mode=st.sampled_from(MODES),
    old=st.binary(max_size=300),
    new=st.text(max_size=3000),
    through_link=st.booleans(),
    other_owner=st.booleans(),
)
def test_a_failed_write_leaves_the_old_file_and_its_mode(plan, mode, old, new, through_link, other_owner):
    with tempfile.TemporaryDirectory() as folder:
        target = os.path.join(folder, "model.json")
        with open(target, "wb") as f:
            f.write(old)
        os.chmod(target, mode)
        if other_owner and AS_ROOT:  # the save must then fchown the new file: one more call to fail
            os.chown(target, 4321, 8765)
        path = target
        if through_link:
            path = os.path.join(folder, "link.json")
            os.symlink("model.json", path)
        before = _snapshot(target)
        _save_with_faults(plan, lambda: _files.atomic_write(path, new))
        after = _snapshot(target)
        if plan["replaced"]:
            assert after == (new.encode("utf-8"), *before[1:])  # new bytes, same mode and owner
        else:
            assert after == before
        assert sorted(os.listdir(folder)) == sorted(["model.json"] + (["link.json"] if through_link else []))
        if through_link:
            assert os.readlink(path) == "model.json"


@FUZZ
@given(plan=plans, mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_a_failed_model_save_leaves_the_old_model_file_loadable(plan, mode, seed):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.json")
        first = MLP(2, [3, 1], seed=seed)
        first.save(path)
        os.chmod(path, mode)
        before = _snapshot(path)
        second = MLP(2, [3, 1], seed=seed + 1)
        _save_with_faults(plan, lambda: second.save(path))
        kept = second if plan["replaced"] else first
        assert [p.data for p in MLP.load(path).parameters()] == [p.data for p in kept.parameters()]
        assert _snapshot(path)[1:] == before[1:]
        assert os.listdir(folder) == ["m.json"]


@settings(max_examples=100, deadline=None)
@given(plan=plans, mode=st.sampled_from(MODES))
def test_a_failed_drawing_save_leaves_the_old_drawing(plan, mode):
    pytest.importorskip("graphviz")
    from microgrid import Value
    from microgrid.drawing import draw

    x = Value(2.0, label="x")
    drawing = draw((x * x).tanh())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "graph.dot")
        with open(path, "w") as f:
            f.write("digraph { old }")
        os.chmod(path, mode)
        before = _snapshot(path)
        _save_with_faults(plan, lambda: drawing.save(path))
        if plan["replaced"]:
            assert _snapshot(path) == (drawing.source.encode("utf-8"), *before[1:])
        else:
            assert _snapshot(path) == before
        assert os.listdir(folder) == ["graph.dot"]
