"""Model files: a `Neuron`, `Layer` or `MLP` saved as JSON and read back.

A file holds the class, the constructor arguments that rebuild its shape and
each parameter by name, its float written so that it reads back bit for bit.
It is data only (JSON, never pickle): reading runs no code.  Everything is
checked before a model is built or changed, so a bad file raises
`ModelFileError` naming the problem and leaves the model as it was.
`Module.save`, `Module.load` and `Module.load_weights` call the functions here.

    >>> import os, tempfile
    >>> from microgrid.nn import MLP
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.json")
    ...     MLP(2, [1], seed=0).save(path)
    ...     MLP.load(path)
    MLP(2, [1], activation='tanh', output_activation='linear')
"""

from __future__ import annotations

import json
import os
import reprlib
from typing import TYPE_CHECKING, Any

from .._files import FileTooLargeError, atomic_write, read_regular_file, size_text

if TYPE_CHECKING:
    from .module import Module

__all__ = ["ModelFileError", "saveable", "write_model", "read_model", "read_weights"]

FORMAT = "microgrid.nn"
FORMAT_VERSION = 1

#: The most bytes a model file may hold: `save` writes no more, a load reads no more.
#: A parameter is a line of about 40 bytes (its name and 17 digits), so this is some
#: 1.6 million parameters: thousands of times the demo's 337, more than a scalar
#: engine trains, and still a file a learner's laptop parses whole in memory.
#: Anything larger is almost surely not a model file (a data set, a disk image).
MAX_FILE_BYTES = 64 * 2**20

#: The classes a file can hold, by name; `load` looks a file's class up here, never anywhere else.
SAVEABLE: dict[str, type[Module]] = {}


class ModelFileError(ValueError):
    """A saved model file that cannot be loaded: the message names the file and the problem."""


def saveable(kind: type[Module]) -> type[Module]:
    """Class decorator: files may hold this class (it defines `_CONFIG` and `_check_shape`)."""
    SAVEABLE[kind.__name__] = kind
    return kind


def write_model(model: Module, path: str | os.PathLike) -> None:
    """Write `model`'s class, shape and parameters to `path`, atomically (see `Module.save`)."""
    kind = type(model)
    if SAVEABLE.get(kind.__name__) is not kind:
        raise NotImplementedError(
            f"save: a model file holds a {', '.join(SAVEABLE)}, not a {kind.__name__} (load could not rebuild it); "
            "save its parameters instead, e.g. json.dump(model.state_dict(), file), "
            "and restore them with load_state_dict"
        )
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "class": kind.__name__,
        "config": model._config(),
        "parameters": model.state_dict(),
    }
    where = f"{kind.__name__}.save"
    content = json.dumps(document, indent=1).encode("utf-8")
    if len(content) > MAX_FILE_BYTES:  # a file that load would refuse: better no file
        raise ValueError(
            f"{where}: the file would be {len(content)} bytes, more than the {size_text(MAX_FILE_BYTES)} "
            f"a load reads; {len(document['parameters'])} parameters "
            "are more than a model file holds (save model.state_dict() another way, e.g. with NumPy)"
        )
    atomic_write(path, content, where=where)


def read_model(cls: type[Module], path: str | os.PathLike) -> Module:
    """A new model of class `cls` (or a subclass) read from `path` (see `Module.load`)."""
    document = _read_model_file(path, f"{cls.__name__}.load")
    kind = SAVEABLE[document["class"]]
    if not issubclass(kind, cls):
        raise ModelFileError(f"{path}: the file holds a {document['class']}, not a {cls.__name__}")
    config = document["config"]
    # Check and count first: a config that asks for far more parameters
    # than the file holds must fail before it allocates them.
    expected = _check_config(kind, config, path)
    if expected != len(document["parameters"]):
        raise ModelFileError(
            f"{path}: its config needs {expected} parameters but the file holds {len(document['parameters'])}"
        )
    model = kind(**config)
    _load_parameters(model, document, path)
    return model


def read_weights(model: Module, path: str | os.PathLike) -> None:
    """Set `model`'s parameters from a file of the same class and shape (see `Module.load_weights`)."""
    document = _read_model_file(path, f"{type(model).__name__}.load_weights")
    # Checked as `read_model` checks it: a config equal to this model's is then equal
    # as the constructor sees it too (2.0 == 2 and True == 1 in Python).
    _check_config(SAVEABLE[document["class"]], document["config"], path)
    if document["class"] != type(model).__name__ or document["config"] != model._config():
        raise ModelFileError(
            f"{path}: the file holds {document['class']}({_args(document['config'])}), "
            f"which does not match this {type(model).__name__}({_args(model._config())})"
        )
    _load_parameters(model, document, path)


def few(names: list[str], limit: int = 5) -> str:
    """The first `limit` names, quoted, and how many more: for error messages."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_config(kind: type[Module], config: dict, path: str | os.PathLike) -> int:
    """The number of parameters `config` makes, or `ModelFileError` if the
    constructor of `kind` would refuse it."""
    missing = [key for key in kind._CONFIG if key not in config]
    unexpected = [key for key in config if key not in kind._CONFIG]
    shown = reprlib.repr(config)  # short: a file's config may be huge
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: bad config {shown} for a {kind.__name__}"
            + (f"; missing {few(missing)}" if missing else "")
            + (f"; unexpected {few(unexpected)}" if unexpected else "")
        )
    try:
        return kind._check_shape(**config)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: bad config {shown}: {error}") from None


def _args(config: object) -> str:
    if not isinstance(config, dict):
        return repr(config)
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


def _parse_json(path: str | os.PathLike, where: str) -> Any:
    """The file's JSON, or `ModelFileError` (also for a key repeated in one object and
    for a file over `MAX_FILE_BYTES`); `NotRegularFileError` for a FIFO, a device, a folder."""
    try:
        text = read_regular_file(path, limit=MAX_FILE_BYTES, where=where).decode("utf-8")
    except FileTooLargeError as error:
        raise ModelFileError(f"{error}; a model file holds at most that (is it the right file?)") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a microgrid model file (not UTF-8 text)") from None

    def object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
        # json's default keeps the last of two equal keys: which one was meant is unknowable.
        document: dict = {}
        for key, value in pairs:
            if key in document:
                raise ModelFileError(f"{path}: the key {key!r} appears twice in one JSON object")
            document[key] = value
        return document

    try:
        return json.loads(text, object_pairs_hook=object_without_repeated_keys)
    except ModelFileError:
        raise
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path}: not valid JSON (truncated or corrupted?): {error.msg} "
            f"at line {error.lineno} column {error.colno} (char {error.pos} of {len(text)})"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a microgrid model file (JSON nested too deeply to read)") from None
    except ValueError as error:  # JSON that Python will not convert, e.g. an int of too many digits
        raise ModelFileError(f"{path}: not a readable model file: {error}") from None


def _read_model_file(path: str | os.PathLike, where: str) -> dict:
    """The checked top level of a saved model, or `ModelFileError`."""
    document = _parse_json(path, where)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a microgrid model file (no \"format\": \"{FORMAT}\")")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{path}: the format version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this microgrid reads (version {FORMAT_VERSION}); upgrade microgrid"
        )
    if version < 1:
        raise ModelFileError(f"{path}: unknown format version {version}")
    for key, kind in (("class", str), ("config", dict), ("parameters", dict)):
        if not isinstance(document.get(key), kind):
            raise ModelFileError(f"{path}: missing or malformed {key!r} (expected a JSON {kind.__name__.replace('str', 'string').replace('dict', 'object')})")
    if document["class"] not in SAVEABLE:
        raise ModelFileError(f"{path}: unknown model class {document['class']!r}; expected one of {', '.join(SAVEABLE)}")
    return document


def _load_parameters(model: Module, document: dict, path: str | os.PathLike) -> None:
    try:
        model.load_state_dict(document["parameters"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: {error}") from None
