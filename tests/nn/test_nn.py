"""microgrid.nn: shapes, textbook labels, initialisation, gradients, state, save and load."""

from __future__ import annotations

import itertools
import json
import math
import os
import random

import pytest

import microgrid.nn.files as nn_module
from microgrid import Value
from microgrid.names import parse_textbook, to_latex
from microgrid.nn import MLP, Layer, ModelFileError, Module, Neuron

# ---------------------------------------------------------------- reference
ACT = {
    "linear": lambda z: z,
    "relu": lambda z: max(0.0, z),
    "tanh": math.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
}


def reference_forward(sizes, activation, output_activation, flat, x):
    """An MLP written out by hand over a flat parameter list in micrograd's order."""
    it = iter(flat)
    a = list(x)
    for layer, (nin, nout) in enumerate(itertools.pairwise(sizes)):
        f = ACT[output_activation if layer == len(sizes) - 2 else activation]
        out = []
        for _ in range(nout):
            w = [next(it) for _ in range(nin)]
            b = next(it)
            out.append(f(sum(wk * ak for wk, ak in zip(w, a, strict=True)) + b))
        a = out
    return a


# ---------------------------------------------------------------- structure
def test_layer_returns_value_for_one_output_list_otherwise():
    assert isinstance(Layer(2, 1, seed=0)([1, 2]), Value)
    outs = Layer(2, 3, seed=0)([1, 2])
    assert isinstance(outs, list) and len(outs) == 3 and all(isinstance(o, Value) for o in outs)


def test_parameter_order_is_micrograds():
    model = MLP(2, [3, 1], seed=0)
    names = [p.label for p in model.parameters()]
    assert names[:3] == ["w^(1)_0,0", "w^(1)_0,1", "b^(1)_0"]
    assert names[3:6] == ["w^(1)_1,0", "w^(1)_1,1", "b^(1)_1"]
    assert names[-4:] == ["w^(2)_0,0", "w^(2)_0,1", "w^(2)_0,2", "b^(2)_0"]
    assert len(names) == (2 + 1) * 3 + (3 + 1) * 1
    expected = [p for layer in model.layers for n in layer.neurons for p in [*n.w, n.b]]
    assert all(a is b for a, b in zip(model.parameters(), expected, strict=True))


def test_initialisation_is_micrograds_and_reproducible():
    a, b = MLP(2, [16, 16, 1], seed=7), MLP(2, [16, 16, 1], seed=7)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] != [p.data for p in MLP(2, [16, 16, 1], seed=8).parameters()]
    assert all(-1.0 <= n.w[k].data <= 1.0 for layer in a.layers for n in layer.neurons for k in range(n.nin))
    assert all(n.b.data == 0.0 for layer in a.layers for n in layer.neurons)
    # an rng is used as given: the same draws as a Random of the same seed
    c = MLP(2, [4, 1], rng=random.Random(3))
    assert [p.data for p in c.parameters()] == [p.data for p in MLP(2, [4, 1], seed=3).parameters()]
    # with neither, the global random decides: random.seed makes it reproducible
    random.seed(11)
    d = MLP(2, [4, 1])
    random.seed(11)
    assert [p.data for p in d.parameters()] == [p.data for p in MLP(2, [4, 1]).parameters()]


def test_activation_per_layer():
    model = MLP(2, [3, 3, 1], activation="relu", output_activation="sigmoid", seed=0)
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "sigmoid"]
    assert model([0.1, 0.2]).op == "sigmoid"
    assert MLP(2, [3, 1], seed=0)([0.1, 0.2]).op == "+"  # linear output: the weighted sum itself


# ------------------------------------------------------------------- labels
def test_exactly_the_textbook_nodes_are_labelled():
    """2 -> 2 (sigmoid) -> 1 (linear), written out by hand: the labelled nodes are the
    leaves, each z (a "+") and each hidden a (a "sigmoid"); the products w a and the
    partial sums between them are the only unlabelled nodes."""
    from microgrid.engine import topological_order

    model = MLP(2, [2, 1], activation="sigmoid", seed=0)
    out = model([0.5, -1.0])
    nodes = topological_order(out)
    labelled = {v.label: v.op for v in nodes if v.label}
    leaves = [
        "a^(0)_0",
        "a^(0)_1",
        "w^(1)_0,0",
        "w^(1)_0,1",
        "b^(1)_0",
        "w^(1)_1,0",
        "w^(1)_1,1",
        "b^(1)_1",
        "w^(2)_0,0",
        "w^(2)_0,1",
        "b^(2)_0",
    ]
    expected = {
        **{name: "" for name in leaves},
        "z^(1)_0": "+",
        "z^(1)_1": "+",
        "z^(2)_0": "+",
        "a^(1)_0": "sigmoid",
        "a^(1)_1": "sigmoid",
    }
    assert labelled == expected
    assert len([v for v in nodes if v.label]) == len(expected)  # each label on one node only
    assert out.label == "z^(2)_0"  # the linear output layer: a = z, one node
    unlabelled = [v for v in nodes if not v.label]
    # 3 neurons of 2 inputs: 2 products each, and 1 partial sum w0 a0 + w1 a1 before "+ b"
    assert sorted(v.op for v in unlabelled) == ["*"] * 6 + ["+"] * 3
    for v in unlabelled:
        if v.op == "*":  # w^(l)_j,k times a^(l-1)_k, in that order
            w, a = v.parents
            (_, layer, (j, k)), (_, a_layer, (a_k,)) = parse_textbook(w.label), parse_textbook(a.label)
            assert w.label.startswith("w^") and a.label.startswith("a^") and (int(a_layer), a_k) == (int(layer) - 1, k)
            assert w is model.layers[int(layer) - 1].neurons[int(j)].w[int(k)]  # the label names the weight it is
        else:
            assert [p.op for p in v.parents] == ["*", "*"]
    assert to_latex(model.layers[1].neurons[0].w[1].label) == "w^{(2)}_{0,1}"


def test_unlabelled_products_let_z_read_as_the_textbook_sum():
    """Why the products stay unlabelled: a labelled node becomes a symbol, so z^(1)_0's
    formula shows the weights and inputs, as the seeds write it."""
    from microgrid.symbolic import symbol, to_sympy

    model = MLP(2, [2, 1], activation="sigmoid", seed=0)
    z = next(v for v in _leaves_and_labelled(model([0.5, -1.0])) if v.label == "z^(1)_0")
    w00, w01, b, a0, a1 = map(symbol, ["w^(1)_0,0", "w^(1)_0,1", "b^(1)_0", "a^(0)_0", "a^(0)_1"])
    assert to_sympy(z) == w00 * a0 + w01 * a1 + b


def test_a_linear_hidden_layer_is_read_under_its_z_label():
    """With a = z there is one node, z^(1)_j: the next layer multiplies it, and a
    derivative with respect to it is the one with respect to a^(1)_j (w^(2)_0,j by hand)."""
    from microgrid import grad
    from microgrid.engine import topological_order
    from microgrid.symbolic import find_node

    model = MLP(2, [2, 1], activation="linear", seed=3)
    out = model([0.5, -1.0])
    labels = {v.label for v in _leaves_and_labelled(out)}
    assert not any(label.startswith("a^(1)") for label in labels)
    z0 = find_node(out, "z^(1)_0")
    products = [v for v in topological_order(out) if v.op == "*" and v.parents[1] is z0]
    assert [p.parents[0].label for p in products] == ["w^(2)_0,0"]
    assert grad(out, [z0]) == [model.layers[1].neurons[0].w[0].data]
    with pytest.raises(ValueError, match=r"no node labelled 'a\^\(1\)_0'.*z\^\(1\)_0"):
        find_node(out, "a^(1)_0")


def _leaves_and_labelled(root):
    from microgrid.engine import topological_order

    return [v for v in topological_order(root) if v.label]


def test_activation_and_weighted_sum_nodes_are_linked():
    n = Neuron(2, activation="tanh", seed=0, layer=3, index=4)
    a = n([1.0, 2.0])
    assert (a.label, a.op) == ("a^(3)_4", "tanh")
    z = a.parents[0]
    assert (z.label, z.op) == ("z^(3)_4", "+")
    assert z.parents[1] is n.b
    assert [w.label for w in n.w] == ["w^(3)_4,0", "w^(3)_4,1"]
    assert math.isclose(z.data, n.w[0].data * 1.0 + n.w[1].data * 2.0)


def test_user_labels_are_never_overwritten():
    n = Neuron(2, seed=0)
    n.w[0].label = "my weight"
    x0, x1 = Value(1.0, label="x"), Value(2.0)
    out = n([x0, x1])
    assert n.w[0].label == "my weight"
    assert x0.label == "x"
    assert x1.label == "a^(0)_1"  # an unlabelled input is named as the textbook names it
    assert out.label == "a^(1)_0"
    # the state keeps the positional textbook names whatever the labels say
    assert list(n.state_dict()) == ["w^(1)_0,0", "w^(1)_0,1", "b^(1)_0"]


def test_inputs_keep_their_values_and_labels_across_layers():
    model = MLP(3, [2, 2], seed=1)
    outs = model([1, 2.5, Value(-1.0)])
    assert [o.label for o in outs] == ["z^(2)_0", "z^(2)_1"]


# -------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "activation,output_activation", [("tanh", "linear"), ("relu", "linear"), ("sigmoid", "sigmoid"), ("linear", "tanh")]
)
def test_mlp_gradients_against_finite_differences(activation, output_activation):
    sizes = [3, 4, 3, 2]
    model = MLP(sizes[0], sizes[1:], activation, output_activation, seed=5)
    x = [0.3, -0.7, 0.45]
    out = model(x)
    loss = out[0] * out[0] + 2.0 * out[1]
    model.zero_grad()
    loss.backward()
    flat = [p.data for p in model.parameters()]

    def reference_loss(params):
        o = reference_forward(sizes, activation, output_activation, params, x)
        return o[0] * o[0] + 2.0 * o[1]

    assert math.isclose(loss.data, reference_loss(flat), rel_tol=1e-12)
    eps = 1e-6
    for i, p in enumerate(model.parameters()):
        up, down = list(flat), list(flat)
        up[i] += eps
        down[i] -= eps
        numeric = (reference_loss(up) - reference_loss(down)) / (2 * eps)
        assert p.grad == pytest.approx(numeric, rel=1e-4, abs=1e-6), p.label


def test_input_gradients_against_finite_differences():
    model = MLP(2, [5, 1], activation="tanh", seed=2)
    x = [Value(0.4), Value(-0.2)]
    model(x).backward()
    flat = [p.data for p in model.parameters()]
    eps = 1e-6
    for k in range(2):
        up = [xi.data + (eps if i == k else 0.0) for i, xi in enumerate(x)]
        down = [xi.data - (eps if i == k else 0.0) for i, xi in enumerate(x)]
        numeric = (
            reference_forward([2, 5, 1], "tanh", "linear", flat, up)[0]
            - reference_forward([2, 5, 1], "tanh", "linear", flat, down)[0]
        ) / (2 * eps)
        assert x[k].grad == pytest.approx(numeric, rel=1e-5)


def test_zero_grad():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_predict_matches_the_graph_and_the_reference():
    for act in ("relu", "tanh", "sigmoid", "linear"):
        model = MLP(2, [6, 6, 2], act, "sigmoid", seed=4)
        x = [0.8, -0.3]
        assert model.predict(x) == [v.data for v in model(x)]
        ref = reference_forward([2, 6, 6, 2], act, "sigmoid", [p.data for p in model.parameters()], x)
        assert model.predict(x) == pytest.approx(ref, rel=1e-12)
    assert isinstance(MLP(2, [3, 1], seed=0).predict([1, 2]), float)


def test_predict_takes_a_batch_of_samples_as_well_as_one():
    """A list of samples gives a list of outputs, each as predict gives it for that sample alone."""
    batch = [[0.8, -0.3], (0.1, 0.2), [Value(0.5), 0.25]]
    plain = [[0.8, -0.3], [0.1, 0.2], [0.5, 0.25]]
    for nouts in ([6, 2], [6, 1]):
        model = MLP(2, nouts, "tanh", "sigmoid", seed=4)
        references = [
            reference_forward([2, *nouts], "tanh", "sigmoid", [p.data for p in model.parameters()], x) for x in plain
        ]
        got = model.predict(batch)
        assert isinstance(got, list) and len(got) == 3
        for out, ref in zip(got, references, strict=True):
            assert (out if isinstance(out, list) else [out]) == pytest.approx(ref, rel=1e-12)
        assert model.predict(x for x in plain) == got  # any ordered collection of samples
        assert model.predict([plain[0]]) == [model.predict(plain[0])]
    layer, neuron = Layer(2, 3, seed=1), Neuron(2, seed=2)
    assert layer.predict(plain) == [layer.predict(x) for x in plain] == [[a.data for a in layer(x)] for x in plain]
    assert neuron.predict(plain) == [neuron.predict(x) for x in plain] == [neuron(x).data for x in plain]


def test_a_bad_sample_in_a_batch_is_named():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"^MLP.predict: sample 1: expected 2 inputs, got 3$"):
        model.predict([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match=r"^MLP.predict: sample 2: input 0 must be a real number, got str"):
        model.predict([[1.0, 2.0], [3.0, 4.0], ["a", 1.0]])
    with pytest.raises(TypeError, match=r"^MLP.predict: sample 1: inputs must be a sequence .* got float"):
        model.predict([[1.0, 2.0], 3.0])  # a sample, then a number
    with pytest.raises(TypeError, match=r"^Neuron.predict: sample 0: inputs must be a sequence .* got set"):
        Neuron(2, seed=0).predict([{1.0, 2.0}])


# -------------------------------------------------------------- bad input
def test_unknown_activation_lists_the_valid_ones():
    cases = [
        (lambda: Neuron(2, "softmax"), "Neuron", "'softmax'"),
        (lambda: Layer(2, 2, "gelu"), "Layer", "'gelu'"),
        (lambda: MLP(2, [1], output_activation="Tanh"), "MLP", "'Tanh'"),
        (lambda: MLP(2, [1], activation="relo"), "MLP", "'relo'"),
        (lambda: MLP(2, [1], activation=None), "MLP", "None"),
    ]
    for make, where, shown in cases:
        with pytest.raises(ValueError) as info:
            make()
        assert str(info.value) == f"{where}: unknown activation {shown}; choose one of: linear, relu, tanh, sigmoid"


def test_wrong_input_length_names_both_lengths():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        model([1, 2, 3])
    with pytest.raises(ValueError, match="expected 3 inputs, got 1"):
        Neuron(3, seed=0)([1])
    with pytest.raises(ValueError, match="expected 2 inputs, got 0"):
        Layer(2, 2, seed=0).predict([])


def test_bad_input_types():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match="sequence"):
        model(1.5)
    with pytest.raises(TypeError, match="str"):
        model("ab")
    with pytest.raises(TypeError, match="input 1"):
        model([1.0, "x"])
    with pytest.raises(TypeError, match="bool"):
        model([1.0, True])
    with pytest.raises(ValueError, match="finite"):
        model([1.0, float("nan")])


def test_bad_constructor_arguments():
    with pytest.raises(TypeError):
        MLP(2, 16)
    with pytest.raises(ValueError):
        MLP(2, [])
    with pytest.raises(ValueError):
        MLP(0, [1])
    with pytest.raises(TypeError):
        Neuron(2.0)
    with pytest.raises(ValueError, match="seed or rng"):
        Neuron(2, seed=1, rng=random.Random(1))
    with pytest.raises(ValueError, match="layer"):
        Neuron(2, layer=0)
    with pytest.raises(TypeError, match="seed"):
        Neuron(2, seed="1")


# ------------------------------------------------------------------ state
def test_state_dict_round_trip_and_atomic_load():
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    b.load_state_dict(a.state_dict())
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    before = [p.data for p in b.parameters()]
    state = a.state_dict()
    state["w^(1)_2,1"] = 9.0
    state["b^(2)_0"] = float("nan")  # a bad value after a good one: nothing may change
    with pytest.raises(ValueError, match="b\\^\\(2\\)_0' must be finite"):
        b.load_state_dict(state)
    assert [p.data for p in b.parameters()] == before
    del state["b^(2)_0"]
    with pytest.raises(ValueError, match="missing 'b\\^\\(2\\)_0'"):
        b.load_state_dict(state)
    state["b^(2)_0"], state["extra"] = 0.0, 1.0
    with pytest.raises(ValueError, match="unexpected 'extra'"):
        b.load_state_dict(state)
    state.pop("extra")
    state["b^(2)_0"] = True
    with pytest.raises(TypeError, match="parameter 'b\\^\\(2\\)_0' must be a real number, got bool"):
        b.load_state_dict(state)
    assert [p.data for p in b.parameters()] == before


def test_save_load_round_trip_is_bit_exact(tmp_path):
    model = MLP(2, [16, 16, 1], activation="relu", seed=1337)
    for p in model.parameters():  # values with full 53-bit mantissas
        p.data = p.data / 3.0 + 1e-17
    path = tmp_path / "model.json"
    model.save(path)
    loaded = MLP.load(path)
    assert repr(loaded) == repr(model)
    assert [p.data.hex() for p in loaded.parameters()] == [p.data.hex() for p in model.parameters()]
    assert [p.label for p in loaded.parameters()] == [p.label for p in model.parameters()]
    x = [0.3, -0.4]
    assert loaded(x).data == model(x).data
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # a normal file, not mkstemp's private one
    document = json.loads(path.read_text())
    assert (document["format"], document["version"], document["class"]) == ("microgrid.nn", 1, "MLP")


def test_load_any_module_and_load_weights(tmp_path):
    layer = Layer(3, 2, activation="sigmoid", seed=3, layer=2)
    layer.save(tmp_path / "layer.json")
    again = Module.load(tmp_path / "layer.json")
    assert isinstance(again, Layer) and again.state_dict() == layer.state_dict()
    assert [n.w[0].label for n in again.neurons] == ["w^(2)_0,0", "w^(2)_1,0"]
    with pytest.raises(ModelFileError, match="holds a Layer, not a MLP"):
        MLP.load(tmp_path / "layer.json")
    other = Layer(3, 2, activation="sigmoid", seed=9, layer=2)
    other.load_weights(tmp_path / "layer.json")
    assert other.state_dict() == layer.state_dict()


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "mangle,message",
    [
        (lambda t, d: t[: len(t) // 2], "not valid JSON"),
        (lambda t, d: "", "not valid JSON"),
        (lambda t, d: "[1, 2]", "not a microgrid model file"),
        (lambda t, d: json.dumps({**d, "format": "pickle"}), "not a microgrid model file"),
        (lambda t, d: json.dumps({**d, "version": 2}), "newer than this microgrid reads"),
        (lambda t, d: json.dumps({**d, "version": "1"}), "version must be an integer"),
        (lambda t, d: json.dumps({**d, "class": "os.system"}), "unknown model class"),
        (lambda t, d: json.dumps({k: v for k, v in d.items() if k != "parameters"}), "'parameters'"),
        (lambda t, d: json.dumps({**d, "config": {**d["config"], "nouts": [4, 1]}}), "does not match"),
        (lambda t, d: json.dumps({**d, "parameters": {**d["parameters"], "w^(1)_0,0": "0.5"}}), "w\\^\\(1\\)_0,0"),
        (lambda t, d: t.replace('"b^(2)_0": 0.0', '"b^(2)_0": NaN'), "finite"),
        (
            lambda t, d: json.dumps({**d, "parameters": {k: v for k, v in d["parameters"].items() if k != "b^(1)_2"}}),
            "missing",
        ),
    ],
)
def test_bad_files_raise_a_clear_error_and_change_nothing(tmp_path, mangle, message):
    source = MLP(2, [3, 1], seed=0)
    good = tmp_path / "good.json"
    source.save(good)
    text = good.read_text()
    bad = _write(tmp_path / "bad.json", mangle(text, json.loads(text)))
    target = MLP(2, [3, 1], seed=42)
    before = [p.data for p in target.parameters()]
    with pytest.raises(ModelFileError, match=message) as info:
        target.load_weights(bad)
    assert "bad.json" in str(info.value)
    assert [p.data for p in target.parameters()] == before
    with pytest.raises(ModelFileError):
        MLP.load(bad)


def test_bad_config_in_file(tmp_path):
    source = MLP(2, [3, 1], seed=0)
    source.save(tmp_path / "m.json")
    d = json.loads((tmp_path / "m.json").read_text())
    d["config"]["activation"] = "evil"
    _write(tmp_path / "m.json", json.dumps(d))
    with pytest.raises(ModelFileError, match="bad config"):
        MLP.load(tmp_path / "m.json")


def test_binary_file_and_missing_file(tmp_path):
    (tmp_path / "bin.json").write_bytes(b"\x80\x81\xfe\xff")
    with pytest.raises(ModelFileError, match="not UTF-8"):
        MLP.load(tmp_path / "bin.json")
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "absent.json")


def test_save_does_not_clobber_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    before = path.read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(nn_module.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        MLP(2, [3, 1], seed=1).save(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary left behind


def test_repr_and_html():
    model = MLP(2, [16, 16, 1], activation="relu")
    assert repr(model) == "MLP(2, [16, 16, 1], activation='relu', output_activation='linear')"
    html = model._repr_html_()
    assert "337 parameters" in html and html.count("<tr>") == 4
    assert repr(Neuron(3, "sigmoid", layer=2, index=1)) == "Neuron(3, activation='sigmoid', layer=2, index=1)"


def test_a_named_layer_as_in_the_seeds():
    n = Neuron(2, activation="sigmoid", seed=0, layer="L", index=1)
    a = n([0.5, Value(2.0)])
    assert [w.label for w in n.w] == ["w^(L)_1,0", "w^(L)_1,1"]
    assert (a.label, a.parents[0].label, n.b.label) == ("a^(L)_1", "z^(L)_1", "b^(L)_1")
    inputs = [v for v in _leaves_and_labelled(a) if v.label.startswith("a^(L-1)")]
    assert sorted(v.label for v in inputs) == ["a^(L-1)_0", "a^(L-1)_1"]
    assert to_latex(inputs[0].label) == "a^{(L-1)}_{0}"
    for bad in ("", "L 1", "2", 1.5, True):
        with pytest.raises(ValueError, match="layer"):
            Neuron(2, layer=bad)
    with pytest.raises(ValueError, match="layer"):
        Layer(2, 2, layer=0)


@pytest.mark.parametrize(
    "model, count",
    [
        (Neuron(3, seed=0), 3 + 1),
        (Layer(3, 4, seed=0), (3 + 1) * 4),
        (MLP(3, [4, 5, 2], seed=0), 4 * 4 + 5 * 5 + 6 * 2),
    ],
)
def test_parameter_count_from_config(model, count):
    assert type(model)._check_shape(**model._config()) == count == len(model.parameters())


def test_a_file_asking_for_more_parameters_than_it_holds(tmp_path):
    MLP(2, [3, 1], seed=0).save(tmp_path / "m.json")
    d = json.loads((tmp_path / "m.json").read_text())
    d["config"]["nouts"] = [10**9, 1]  # would allocate billions of Values
    _write(tmp_path / "m.json", json.dumps(d))
    with pytest.raises(ModelFileError, match="needs 4000000001 parameters but the file holds 13"):
        MLP.load(tmp_path / "m.json")


def test_top_level_names_are_the_modules_own_and_import_stays_light():
    import subprocess
    import sys

    import microgrid
    from microgrid import nn
    from microgrid.nn import train

    assert (microgrid.MLP, microgrid.Layer, microgrid.Neuron, microgrid.fit) == (nn.MLP, nn.Layer, nn.Neuron, train.fit)
    code = "import sys, microgrid; print(sorted(m for m in ('matplotlib', 'tqdm', 'sympy') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_parameter_order_and_network_match_micrograds():
    """micrograd itself as the reference: its parameters copied into ours in order give
    the same scores, hinge + L2 loss and gradients (up to summation order)."""
    micrograd_nn = pytest.importorskip("micrograd.nn")
    from micrograd.engine import Value as MicroValue

    from microgrid.nn import losses

    random.seed(5)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    ours = MLP(2, [16, 16, 1], activation="relu", seed=0)
    assert len(ours.parameters()) == len(theirs.parameters()) == 337
    # the same structure position by position: each neuron's weights, then its bias, layer by layer
    assert [len(n.w) for layer in ours.layers for n in layer.neurons] == [
        len(n.w) for layer in theirs.layers for n in layer.neurons
    ]
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data = q.data
    X = [[0.5, -0.3], [1.2, 0.7], [-0.8, 0.1], [0.0, 1.0]]
    y = [1, -1, 1, -1]
    their_scores = [theirs([MicroValue(a) for a in x]) for x in X]
    their_loss = sum((1 + -t * s).relu() for t, s in zip(y, their_scores, strict=True)) * (1.0 / len(X))
    their_loss = their_loss + 1e-4 * sum(q * q for q in theirs.parameters())
    their_loss.backward()
    our_scores = [ours(x) for x in X]
    our_loss = losses.hinge(our_scores, y) + losses.l2_penalty(ours.parameters(), 1e-4)
    our_loss.backward()
    assert [s.data for s in our_scores] == pytest.approx([s.data for s in their_scores], rel=1e-12, abs=1e-12)
    assert our_loss.data == pytest.approx(their_loss.data, rel=1e-12)
    assert [p.grad for p in ours.parameters()] == pytest.approx(
        [q.grad for q in theirs.parameters()], rel=1e-9, abs=1e-12
    )


def test_predict_refuses_what_calling_the_model_refuses():
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"MLP\.predict: input 0 must be finite, got nan"):
        model.predict([float("nan"), 1.0])
    with pytest.raises(TypeError, match=r"MLP\.predict: input 1 must be a real number, got str"):
        model.predict([1.0, "a"])
    assert model.predict([Value(0.5), 0.25]) == model([0.5, 0.25]).data


def test_save_into_a_missing_folder_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MLP(2, [1], seed=0).save(tmp_path / "missing" / "model.json")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------- predict overflows as calling does
def _overflowing_mlp(activation):
    """2 -> 1 -> 1: layer 1 gives 1e200 (finite), layer 2's weight 1e200 overflows on it."""
    model = MLP(2, [1, 1], activation=activation, seed=0)
    (n1,), (n2,) = model.layers[0].neurons, model.layers[1].neurons
    n1.w[0].data, n1.w[1].data, n1.b.data = 1e200, 0.0, 0.0
    n2.w[0].data = 1e200
    return model


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid"])
def test_predict_raises_the_overflow_calling_the_model_raises(activation):
    """By hand: 1e200 * 1e200 is beyond the floats, and 1e200 * 1e200 + (-1e200) * 1e200
    would be inf - inf = nan, which predict must neither return nor blame on the activation."""
    neuron = Neuron(2, activation, seed=0)
    neuron.w[0].data, neuron.w[1].data = 1e200, -1e200
    x = [1e200, 1e200]
    with pytest.raises(OverflowError) as called:
        neuron(x)
    with pytest.raises(OverflowError) as predicted:
        neuron.predict(x)
    assert str(called.value) == "*: result is not a finite number for input 1e+200, 1e+200 (got inf)"
    assert str(predicted.value) == str(called.value)
    # an overflow in the sum: each product 1.5e308 is a float, their sum is not
    neuron.w[0].data = neuron.w[1].data = 1e308
    with pytest.raises(OverflowError, match=r"^\+: result is not a finite number for input 1\.5e\+308, 1\.5e\+308"):
        neuron.predict([1.5, 1.5])
    # through a Layer: its second neuron
    layer = Layer(2, 2, activation, seed=0)
    layer.neurons[1].w[0].data = 1e300
    with pytest.raises(OverflowError, match=r"^\*: result is not a finite number for input 1e\+300, 10000000000\.0 "):
        layer.predict([1e10, 0.0])


@pytest.mark.parametrize("hidden", ["linear", "relu"])  # both pass 1e200 on unchanged
def test_predict_raises_the_overflow_of_a_later_layer(hidden):
    model = _overflowing_mlp(hidden)
    with pytest.raises(OverflowError) as called:
        model([1.0, 0.0])
    with pytest.raises(OverflowError) as predicted:
        model.predict([1.0, 0.0])
    assert (
        str(predicted.value)
        == str(called.value)
        == "*: result is not a finite number for input 1e+200, 1e+200 (got inf)"
    )


def test_predict_is_unchanged_where_nothing_overflows():
    model = _overflowing_mlp("linear")
    model.layers[1].neurons[0].w[0].data = 1e-200
    assert model.predict([1.0, 0.0]) == pytest.approx(1.0, rel=1e-15) == model([1.0, 0.0]).data


# ---------------------------------------------------- what counts as inputs
@pytest.mark.parametrize(
    "inputs, why",
    [
        ({0: 1.0, 1: 2.0}, "a dict would give its keys"),
        ({1.0, 2.0}, "a set has no order"),
        ({"a": 1.0, "b": 2.0}.keys(), "a set has no order"),
        (frozenset({1.0, 2.0}), "a set has no order"),
    ],
)
def test_dicts_and_sets_are_not_inputs(inputs, why):
    model = MLP(2, [3, 1], seed=0)
    for call, where in (
        (model, "MLP"),
        (model.predict, "MLP.predict"),
        (model.layers[0], "Layer"),
        (model.layers[0].neurons[0], "Neuron"),
        (model.layers[0].predict, "Layer.predict"),
    ):
        with pytest.raises(
            TypeError,
            match=rf"^{where}: inputs must be a sequence \(a list or tuple\) of 2 numbers or Values, got .*\({why}\)$",
        ):
            call(inputs)


def test_ordered_inputs_of_any_kind_are_inputs():
    model = MLP(2, [3, 1], seed=0)
    expected = model([0.5, -1.0]).data
    assert model((0.5, -1.0)).data == expected
    assert model(x for x in (0.5, -1.0)).data == expected
    assert model({"a": 0.5, "b": -1.0}.values()).data == expected  # a dict's values have an order
    assert model.predict(range(2)) == model([0, 1]).data
    np = pytest.importorskip("numpy")
    assert model(np.array([0.5, -1.0])).data == expected
    assert model.predict(np.array([0.5, -1.0])) == expected


def test_layer_sizes_must_be_ordered_too():
    with pytest.raises(TypeError, match=r"MLP: nouts must be a sequence .* got set: .*\(a set has no order\)"):
        MLP(2, {16, 1})
    assert MLP(2, (4 for _ in range(2)), seed=0).nouts == [4, 4]
