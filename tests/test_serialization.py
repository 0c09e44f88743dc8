"""Saving and loading models: exact round trips, and errors that name the problem
and leave the model as it was.  (More bad-file cases are in test_nn.py.)"""

import json
import math
import random

import pytest

from microgrid.nn import MLP, Layer, ModelFileError, Module, Neuron


def _values(model):
    return [p.data.hex() for p in model.parameters()]  # hex: equal means bit for bit


def test_round_trip_is_bit_exact_for_awkward_floats(tmp_path):
    model = MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=0)
    awkward = [5e-324, -5e-324, 1.7976931348623157e308, -0.0, 0.1, 1 / 3, math.pi, -2.0**-1074 * 3, 1e-300, 123456789.125]
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


def test_loading_runs_no_code(tmp_path):
    """A file is data: names of classes or functions in it are never looked up as code."""
    model = MLP(2, [1], seed=0)
    model.save(tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    for field, value in [("class", "__import__('os').system"), ("config", {"nin": "__import__('os')"})]:
        (tmp_path / "evil.json").write_text(json.dumps({**document, field: value}))
        with pytest.raises(ModelFileError):
            MLP.load(tmp_path / "evil.json")
