"""Model files: a `Neuron`, `Layer` or `MLP` saved as JSON data (never pickle) and read back bit for bit.

>>> import os, tempfile
>>> from microgrid.nn import MLP
>>> with tempfile.TemporaryDirectory() as folder:
...     MLP(2, [1], seed=0).save(os.path.join(folder, "model.json"))
...     MLP.load(os.path.join(folder, "model.json"))
MLP(2, [1], activation='tanh', output_activation='linear')
"""

from __future__ import annotations

import json
import os
import reprlib
from collections import Counter
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, TypeVar

from .._files import FileTooLargeError, atomic_write, read_regular_file, size_text

if TYPE_CHECKING:
    from .mlp import Module, _Shaped

__all__ = ["ModelFileError", "mismatch", "read_model", "read_weights", "saveable", "write_model"]

FORMAT = "microgrid.nn"
FORMAT_VERSION = 1

#: The most bytes a model file may hold, written or read: some 1.6 million parameters, parsed whole on a laptop.
MAX_FILE_BYTES = 64 * 2**20

#: The classes a file can hold, by name; `load` looks a file's class up here, never anywhere else.
SAVEABLE: dict[str, type[_Shaped]] = {}

_Kind = TypeVar("_Kind", bound=type)


class ModelFileError(ValueError):
    """A saved model file that cannot be loaded: the message names the file and the problem."""


def saveable(kind: _Kind) -> _Kind:
    """Class decorator: files may hold this class (it defines `_CONFIG` and `_check_shape`)."""
    SAVEABLE[kind.__name__] = kind
    return kind


def mismatch(expected: Collection[str], given: Collection[str], limit: int = 5) -> str:
    """``"; missing 'a'; unexpected 'b', 'c'"`` (the first `limit` of each), or "" when the names agree.

    >>> mismatch(["a", "b"], ["b", "c"])
    "; missing 'a'; unexpected 'c'"
    """
    wanted, seen = set(expected), set(given)  # sets: a model may have a million names
    missing, unexpected = [n for n in expected if n not in seen], [n for n in given if n not in wanted]
    text = ""
    for word, names in (("missing", missing), ("unexpected", unexpected)):
        if names:
            more = f" and {len(names) - limit} more" if len(names) > limit else ""
            text += f"; {word} {', '.join(repr(n) for n in names[:limit])}{more}"
    return text


def write_model(model: Module, path: str | os.PathLike[str]) -> None:
    """``model.save(path)``: its class, shape and parameters, atomically (a failed save keeps the old file)."""
    kind = type(model)
    if SAVEABLE.get(kind.__name__) is not kind or not hasattr(model, "_config"):
        raise NotImplementedError(
            f"save: a model file holds a {', '.join(SAVEABLE)}, not a {kind.__name__} (load could not rebuild it); "
            "save its parameters instead (json.dump(model.state_dict(), file)) and restore them with load_state_dict"
        )
    parameters, where = model.state_dict(), f"{kind.__name__}.save"
    document = {"format": FORMAT, "version": FORMAT_VERSION, "class": kind.__name__, "config": model._config()}
    content = json.dumps({**document, "parameters": parameters}, indent=1).encode("utf-8")
    if len(content) > MAX_FILE_BYTES:  # a file that load would refuse: better no file
        raise ValueError(
            f"{where}: the file would be {len(content)} bytes, more than the {size_text(MAX_FILE_BYTES)} a load reads; "
            f"{len(parameters)} parameters are more than a model file holds (save model.state_dict() another way)"
        )
    atomic_write(path, content, where=where)


def read_model(cls: type[Module], path: str | os.PathLike[str]) -> Module:
    """``MLP.load(path)``: a new model of class `cls` (or a subclass; ``Module.load`` takes any) from a file."""
    kind, config, parameters, expected = _read(path, f"{cls.__name__}.load")
    if not issubclass(kind, cls):
        raise ModelFileError(f"{path}: the file holds a {kind.__name__}, not a {cls.__name__}")
    if expected != len(parameters):  # counted before building: a config asking for more allocates nothing
        raise ModelFileError(f"{path}: its config needs {expected} parameters but the file holds {len(parameters)}")
    model = kind(**config)
    _load_parameters(model, parameters, path)
    return model


def read_weights(model: Module, path: str | os.PathLike[str]) -> None:
    """``model.load_weights(path)``: set its parameters from a file of a model of the same class and shape."""
    # The file's config is checked first: equal means equal as the constructor sees it (2.0 == 2).
    kind, config, parameters, _ = _read(path, f"{type(model).__name__}.load_weights")
    own: dict[str, Any] = getattr(model, "_config", dict)()  # a Module of the user's has no shape: it matches no file
    if kind.__name__ != type(model).__name__ or config != own:
        raise ModelFileError(
            f"{path}: the file holds {_call(kind, config)}, which does not match this {_call(type(model), own)}"
        )
    _load_parameters(model, parameters, path)


def _call(kind: type, config: dict[str, Any]) -> str:
    return f"{kind.__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused if it repeats a key: json keeps the last, and which was meant is unknowable."""
    document = dict(pairs)
    if len(document) != len(pairs):
        key = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise ModelFileError(f"the key {key!r} appears twice in one JSON object")
    return document


def _read(path: str | os.PathLike[str], where: str) -> tuple[type[_Shaped], dict[str, Any], dict[str, Any], int]:
    """The class, config and parameters of a model file, checked, and how many parameters the config makes."""
    try:
        text = read_regular_file(path, limit=MAX_FILE_BYTES, where=where).decode("utf-8")
        document = json.loads(text, object_pairs_hook=_object_without_repeated_keys)
    except FileTooLargeError as error:
        raise ModelFileError(f"{error}; a model file holds at most that (is it the right file?)") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a microgrid model file (not UTF-8 text)") from None
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path}: not valid JSON (truncated or corrupted?): {error.msg} "
            f"at line {error.lineno} column {error.colno} (char {error.pos} of {len(error.doc)})"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a microgrid model file (JSON nested too deeply to read)") from None
    except ValueError as error:  # JSON that Python will not convert, e.g. an int of too many digits
        raise ModelFileError(f"{path}: not a readable model file: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f'{path}: not a microgrid model file (no "format": "{FORMAT}")')
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: the format version must be an integer >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version} is newer than this microgrid reads; upgrade microgrid")
    for key, kind, name in (("class", str, "string"), ("config", dict, "object"), ("parameters", dict, "object")):
        if not isinstance(document.get(key), kind):
            raise ModelFileError(f"{path}: missing or malformed {key!r} (expected a JSON {name})")
    if document["class"] not in SAVEABLE:
        raise ModelFileError(f"{path}: unknown model class {document['class']!r}, not one of {', '.join(SAVEABLE)}")
    shape, config = SAVEABLE[document["class"]], document["config"]
    shown = reprlib.repr(config)  # short: a file's config may be huge
    if difference := mismatch(shape._CONFIG, config):
        raise ModelFileError(f"{path}: bad config {shown} for a {shape.__name__}{difference}")
    try:
        return shape, config, document["parameters"], shape._check_shape(**config)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: bad config {shown}: {error}") from None


def _load_parameters(model: Module, parameters: dict[str, Any], path: str | os.PathLike[str]) -> None:
    try:
        model.load_state_dict(parameters)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: {error}") from None
