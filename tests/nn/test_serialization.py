"""Saving and loading models: exact round trips, and errors that name the problem
and leave the model as it was.  (More bad-file cases are in test_nn.py.)"""

import json
import math
import random
import re
import time

import pytest

from microgrid.nn import MLP, Layer, ModelFileError, Module, Neuron


def _values(model):
    return [p.data.hex() for p in model.parameters()]  # hex: equal means bit for bit


def test_round_trip_is_bit_exact_for_awkward_floats(tmp_path):
    model = MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=0)
    awkward = [
        5e-324,
        -5e-324,
        1.7976931348623157e308,
        -0.0,
        0.1,
        1 / 3,
        math.pi,
        -(2.0**-1074) * 3,
        1e-300,
        123456789.125,
    ]
    rng = random.Random(4)
    for i, p in enumerate(model.parameters()):
        p.data = awkward[i] if i < len(awkward) else rng.uniform(-1, 1) * 10 ** rng.randint(-20, 20)
    path = tmp_path / "m.json"
    model.save(path)
    loaded = MLP.load(path)
    assert _values(loaded) == _values(model)
    assert math.copysign(1.0, loaded.parameters()[3].data) == -1.0  # -0.0 keeps its sign
    # and the same again through a second save: the file is stable
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_loaded_model_computes_the_same_outputs_and_gradients(tmp_path):
    model = MLP(2, [5, 5, 1], activation="relu", seed=7)
    model.save(tmp_path / "m.json")
    loaded = MLP.load(tmp_path / "m.json")
    x = [0.25, -1.5]
    out_a, out_b = model(x), loaded(x)
    out_a.backward()
    out_b.backward()
    assert out_a.data == out_b.data
    assert [p.grad for p in model.parameters()] == [p.grad for p in loaded.parameters()]
    assert [p.label for p in model.parameters()] == [p.label for p in loaded.parameters()]


@pytest.mark.parametrize("module", [Neuron(3, "sigmoid", seed=1, layer=2, index=1), Layer(2, 3, "relu", seed=2)])
def test_neurons_and_layers_round_trip(tmp_path, module):
    path = tmp_path / "m.json"
    module.save(path)
    loaded = Module.load(path)
    assert type(loaded) is type(module) and repr(loaded) == repr(module)
    assert _values(loaded) == _values(module)


def test_the_file_is_readable_json_with_a_format_and_version(tmp_path):
    model = MLP(2, [2, 1], seed=0)
    model.save(tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    assert document["format"] == "microgrid.nn" and document["version"] == 1
    assert document["config"] == {"nin": 2, "nouts": [2, 1], "activation": "tanh", "output_activation": "linear"}
    assert list(document["parameters"]) == [p.label for p in model.parameters()]
    assert list(document["parameters"].values()) == [p.data for p in model.parameters()]


def test_wrong_parameter_count_names_both_counts(tmp_path):
    model = MLP(2, [16, 16, 1], activation="relu", seed=1)
    model.save(tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    del document["parameters"]["b^(3)_0"]
    (tmp_path / "short.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="337 parameters but the file holds 336"):
        MLP.load(tmp_path / "short.json")
    target = MLP(2, [16, 16, 1], activation="relu", seed=2)
    before = _values(target)
    with pytest.raises(ModelFileError) as info:
        target.load_weights(tmp_path / "short.json")
    message = str(info.value)
    assert "expected 337 parameters" in message and "has 336" in message and "missing 'b^(3)_0'" in message
    assert _values(target) == before


def test_truncated_file_reports_the_position(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    model.save(tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    cut = text[: len(text) * 2 // 3]
    (tmp_path / "cut.json").write_text(cut)
    target = MLP(2, [3, 1], seed=5)
    before = _values(target)
    with pytest.raises(ModelFileError) as info:
        target.load_weights(tmp_path / "cut.json")
    message = str(info.value)
    assert "cut.json" in message and "not valid JSON" in message
    line = cut.count("\n") + 1  # the parser stops at the end of what is there
    assert f"line {line}" in message
    assert f"of {len(cut)})" in message
    assert _values(target) == before


def test_state_dict_of_another_architecture_changes_nothing():
    small, other = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], activation="relu", seed=1)
    wide = MLP(2, [4, 1], seed=0)
    before = _values(small)
    with pytest.raises(ValueError, match="expected 13 parameters, the state has 17"):
        small.load_state_dict(wide.state_dict())
    assert _values(small) == before
    small.load_state_dict(other.state_dict())  # same names and count: allowed (activations are not parameters)
    assert _values(small) == _values(other)


def _without_code(call):
    """call() while every way to turn data into code (eval, exec, compile, import,
    unpickling) raises AssertionError; its result, or the ModelFileError it raised."""
    import builtins
    import importlib
    import marshal
    import pickle

    ways = [
        (builtins, "eval"),
        (builtins, "exec"),
        (builtins, "compile"),
        (builtins, "__import__"),
        (pickle, "loads"),
        (pickle, "load"),
        (pickle, "Unpickler"),
        (marshal, "loads"),
        (importlib, "import_module"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name in ways]

    def tripwire(name):
        def called(*args, **kwargs):
            raise AssertionError(f"loading a model file called {name}")

        return called

    try:
        for module, name in ways:
            setattr(module, name, tripwire(f"{module.__name__}.{name}"))
        try:
            eval("1")
        except AssertionError:
            pass  # the tripwires are live
        else:
            raise AssertionError("the tripwires are not in place")
        try:
            return call()
        except ModelFileError as error:
            return error
    finally:  # restored before pytest itself needs them
        for module, name, original in saved:
            setattr(module, name, original)


def test_loading_runs_no_code(tmp_path):
    """A file is data: loading never evaluates, unpickles or imports anything, from a
    good file or a bad one; names of classes or functions in a file are never looked up."""
    import microgrid.nn.files as nn_module

    model = MLP(2, [1], seed=0)
    model.save(tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    loaded = _without_code(lambda: MLP.load(tmp_path / "m.json"))
    assert isinstance(loaded, MLP) and _values(loaded) == _values(model)
    evil = [
        ("class", "__import__('os').system"),
        ("class", "Module.__subclasses__"),
        ("config", {"nin": "__import__('os')", "nouts": [1], "activation": "tanh", "output_activation": "linear"}),
        ("config", {**document["config"], "activation": "__import__('os').system('touch pwned')"}),
        ("parameters", {**document["parameters"], "b^(1)_0": "__import__('os')"}),
    ]
    path = tmp_path / "evil.json"
    for field, value in evil:
        path.write_text(json.dumps({**document, field: value}))
        assert isinstance(_without_code(lambda: Module.load(path)), ModelFileError)
        before = _values(model)
        assert isinstance(_without_code(lambda: model.load_weights(path)), ModelFileError)
        assert _values(model) == before
    assert not (tmp_path / "pwned").exists()
    # and no way in was imported into the module in the first place
    assert not {"pickle", "marshal", "shelve", "importlib", "eval", "exec"} & set(vars(nn_module))


def _saved(tmp_path, model=None):
    """A good file of MLP(2, [3, 1]), as text and as a document."""
    (model or MLP(2, [3, 1], seed=0)).save(tmp_path / "good.json")
    text = (tmp_path / "good.json").read_text()
    return text, json.loads(text)


def _refused(tmp_path, text, message):
    """`text` as a file: load and load_weights raise ModelFileError matching
    `message`, naming the file, and change nothing."""
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    target = MLP(2, [3, 1], seed=42)
    before = _values(target)
    for load in (MLP.load, Module.load, target.load_weights):
        with pytest.raises(ModelFileError, match=message) as info:
            load(path)
        assert str(info.value).startswith(f"{path}: ")
    assert _values(target) == before


@pytest.mark.parametrize(
    "twice, key",
    [
        (lambda t: t.replace('"b^(1)_0": 0.0', '"b^(1)_0": 0.0, "b^(1)_0": 9.0'), "b^(1)_0"),
        (lambda t: t.replace('"class": "MLP"', '"class": "MLP", "class": "Layer"'), "class"),
        (lambda t: t.replace('"nin": 2', '"nin": 2, "nin": 3'), "nin"),
    ],
)
def test_a_key_written_twice_is_refused_not_last_wins(tmp_path, twice, key):
    text, _ = _saved(tmp_path)
    bad = twice(text)
    assert bad != text
    _refused(tmp_path, bad, re.escape(f"the key {key!r} appears twice in one JSON object"))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"nin": float("inf")}, "nin must be an int, got float: inf"),  # not a raw OverflowError
        ({"nin": 2.0}, "nin must be an int, got float: 2.0"),
        ({"nin": True}, "nin must be an int, got bool"),
        ({"nouts": [-1, 1]}, "each layer size must be an int >= 1, got -1"),  # not 'needs -3 parameters'
        ({"nouts": [3.5, 1]}, "each layer size must be an int, got float"),
        ({"nouts": []}, "nouts must name at least one layer"),
        ({"nouts": "31"}, "nouts must be a sequence"),
        ({"nouts": {"3": 1}}, "a dict would give its keys"),
        ({"nouts": 3}, "nouts must be a sequence"),
        ({"activation": "evil"}, "unknown activation 'evil'"),
        ({"activation": 5}, "unknown activation 5"),
        ({"output_activation": None}, "unknown activation None"),
    ],
)
def test_a_bad_config_is_named_before_anything_is_counted_or_built(tmp_path, config, message):
    _text, document = _saved(tmp_path)
    bad = json.dumps({**document, "config": {**document["config"], **config}})
    _refused(tmp_path, bad, f"bad config .*: MLP: .*{re.escape(message)}")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: {k: v for k, v in c.items() if k != "activation"}, "missing 'activation'"),
        (lambda c: {**c, "seed": 1}, "unexpected 'seed'"),
        (lambda c: {**c, "rng": "random"}, "unexpected 'rng'"),
    ],
)
def test_config_keys_are_the_constructors_shape_exactly(tmp_path, change, message):
    _text, document = _saved(tmp_path)
    bad = json.dumps({**document, "config": change(document["config"])})
    _refused(tmp_path, bad, f"bad config .* for a MLP; {message}")


@pytest.mark.parametrize("model", [Neuron(2, "relu", seed=0, layer=3, index=1), Layer(2, 2, seed=0, layer="L")])
def test_neuron_and_layer_configs_are_checked_too(tmp_path, model):
    model.save(tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    for key, value, message in [
        ("nin", float("inf"), "nin must be an int"),
        ("layer", 0, "layer must be an int >= 1"),
        ("activation", "gelu", "unknown activation 'gelu'"),
    ]:
        (tmp_path / "bad.json").write_text(json.dumps({**document, "config": {**document["config"], key: value}}))
        with pytest.raises(ModelFileError, match=f"bad config .*: {type(model).__name__}: {message}"):
            Module.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100000 + "]" * 100000, "nested too deeply"),  # not a raw RecursionError
        (None, "nested too deeply"),  # the same, deep inside a good file's config
        ('{"format": "microgrid.nn", "version": 1' + "0" * 5000 + "}", "not a readable model file"),
    ],
)
def test_json_that_python_cannot_hold_is_a_model_file_error(tmp_path, text, message):
    good, _document = _saved(tmp_path)
    if text is None:
        text = good.replace('"nouts": [', '"nouts": [' + "[" * 100000 + "]" * 100000 + ", ", 1)
    _refused(tmp_path, text, message)


def test_names_that_differ_are_found_in_linear_time():
    """A state of 200,000 parameters with one wrong name is named at once, not after a quadratic search."""
    from microgrid.nn.files import mismatch

    names = [f"p{i}" for i in range(200_000)]
    started = time.perf_counter()
    assert mismatch(names, [*names[:-1], "x"]) == "; missing 'p199999'; unexpected 'x'"
    assert time.perf_counter() - started < 30.0  # a quadratic search takes minutes
