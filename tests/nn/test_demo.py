"""The demo's outputs and its neuron drawing (the 100-step, 100% run is in test_train.py)."""

import json
import xml.etree.ElementTree as ET

import pytest

import microgrid
from microgrid.cli import main
from microgrid.nn import MLP
from microgrid.nn import demo as demo_module

FILES = [
    "loss_curve.png",
    "loss_curve.svg",
    "decision_boundary.png",
    "decision_boundary.svg",
    "model.json",
    "neuron_graph.svg",
]


def _viz_renders() -> bool:
    """True where an SVG renderer exists (the WebAssembly Graphviz needs Python 3.11+)."""
    try:
        from microgrid import Value
        from microgrid.drawing import draw

        x = Value(1.0, label="x")
        draw(x * x)._repr_svg_()
    except Exception:
        return False
    return True


def test_run_writes_every_file_and_prints_its_path(tmp_path, capsys):
    out = tmp_path / "demo"
    written = demo_module.run(steps=2, seed=3, output=str(out), progress=False, draw=microgrid.draw).written
    # the library returns what it wrote; the command prints it (the same run again, same files)
    assert main(["demo", "--steps", "2", "--seed", "3", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = FILES if _viz_renders() else FILES[:-1]
    assert sorted(written) == sorted(expected)
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)  # nothing else, no temporaries
    for name in expected:
        path = out / name
        assert written[name] == str(path)
        assert f"saved {path}" in printed
        data = path.read_bytes()
        assert data, name
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        elif name.endswith(".svg"):
            assert ET.fromstring(data).tag.endswith("svg")
    saved = json.loads((out / "model.json").read_text())
    assert saved["config"] == {"nin": 2, "nouts": [16, 16, 1], "activation": "relu", "output_activation": "linear"}


def test_same_seed_same_model_file(tmp_path):
    for name in ("a", "b"):
        demo_module.run(steps=2, seed=5, output=str(tmp_path / name), progress=False)
    assert (tmp_path / "a" / "model.json").read_text() == (tmp_path / "b" / "model.json").read_text()


def test_neuron_graph_is_one_active_neuron_with_this_pass_gradients(monkeypatch, tmp_path):
    """The drawn graph: neuron 0 of layer 1 on a sample where it is active, gradients
    from that one backward pass (d relu(z)/dw_k = x_k, d/db = 1 by hand)."""
    pytest.importorskip("graphviz")
    import microgrid.drawing.display as display

    drawn = {}

    class FakeDrawing:
        def save(self, path):
            drawn["path"] = path

    def fake_draw(root, **options):
        drawn["root"] = root
        return FakeDrawing()

    monkeypatch.setattr(display, "draw", fake_draw)
    model = MLP(2, [16, 16, 1], activation="relu", seed=11)
    neuron = model.layers[0].neurons[0]
    for p in model.parameters():  # stale gradients, as after training
        p.grad = 123.0
    X = [[-5.0, -5.0], [5.0, 5.0], [-5.0, 5.0], [5.0, -5.0]]
    active = [x for x in X if neuron.w[0].data * x[0] + neuron.w[1].data * x[1] + neuron.b.data > 0]
    assert demo_module._draw_neuron(model, X, str(tmp_path / "g.svg"), display.draw) is None
    root = drawn["root"]
    assert root.label == "a^(1)_0" and root.op == "relu"
    assert root.parents[0].label == "z^(1)_0"
    leaves = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.op == "":
            leaves[node.label] = node
        stack.extend(node.parents)
    assert set(leaves) == {"w^(1)_0,0", "w^(1)_0,1", "b^(1)_0", "a^(0)_0", "a^(0)_1"}
    x = [leaves["a^(0)_0"].data, leaves["a^(0)_1"].data]
    assert x == active[0]
    # d relu(z)/dx_k = w_k by hand (the parameters' own gradients, as drawn, are checked below)
    assert leaves["a^(0)_0"].grad == neuron.w[0].data
    assert leaves["a^(0)_1"].grad == neuron.w[1].data
    assert [p.grad for p in neuron.parameters()] == [x[0], x[1], 1.0]  # not 123 + ...: stale ones cleared
    assert model.layers[1].neurons[0].b.grad == 123.0  # the rest of the model untouched


def test_neuron_graph_gradients_seen_by_the_drawing(monkeypatch, tmp_path):
    import microgrid.drawing.display as display

    seen = {}

    class FakeDrawing:
        def save(self, path):
            pass

    def fake_draw(root, parameters=(), **options):
        seen["grads"] = [p.grad for p in parameters]
        return FakeDrawing()

    monkeypatch.setattr(display, "draw", fake_draw)
    model = MLP(2, [3, 1], activation="relu", seed=2)
    neuron = model.layers[0].neurons[0]
    for p in neuron.parameters():
        p.grad = 50.0
    X = [[-3.0, -3.0], [3.0, 3.0], [-3.0, 3.0], [3.0, -3.0]]
    x = next(x for x in X if neuron.w[0].data * x[0] + neuron.w[1].data * x[1] > 0)
    demo_module._draw_neuron(model, X, str(tmp_path / "g.svg"), display.draw)
    assert seen["grads"] == [x[0], x[1], 1.0]  # w_0, w_1, b: by hand, the relu being active


def test_drawing_failure_keeps_the_other_files(monkeypatch, tmp_path, capsys):
    import microgrid.drawing.display as display

    def broken(root, **options):
        raise RuntimeError("no renderer")

    monkeypatch.setattr(display, "draw", broken)
    out = tmp_path / "demo"
    result = demo_module.run(steps=1, seed=1, output=str(out), progress=False, draw=display.draw)
    written = result.written
    assert result.skipped == {str(out / "neuron_graph.svg"): "could not draw the neuron's graph: no renderer"}
    assert main(["demo", "--steps", "1", "--seed", "1", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "neuron_graph.svg" not in written
    assert f"skipped {out / 'neuron_graph.svg'}: could not draw the neuron's graph: no renderer" in printed
    assert sorted(written) == sorted(FILES[:-1])


def test_without_a_drawing_function_the_graph_is_skipped_and_said(tmp_path):
    out = tmp_path / "demo"
    result = demo_module.run(steps=1, seed=1, output=str(out), progress=False)
    assert result.skipped == {
        str(out / "neuron_graph.svg"): "no drawing function was given (run(..., draw=microgrid.draw))"
    }
    assert sorted(result.written) == sorted(FILES[:-1])


def test_missing_drawing_packages_keep_the_other_files(tmp_path):
    def unavailable(root, **options):
        raise ImportError("No module named 'graphviz'")

    out = tmp_path / "demo"
    result = demo_module.run(steps=1, seed=1, output=str(out), progress=False, draw=unavailable)
    assert result.skipped == {
        str(out / "neuron_graph.svg"): "graph drawing is not available: No module named 'graphviz'"
    }
    assert sorted(result.written) == sorted(FILES[:-1])


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"steps": 0}, ValueError, "demo: steps must be an int >= 1, got 0"),
        ({"steps": 2.5}, TypeError, "demo: steps must be an int, got float"),
        ({"seed": "1337"}, TypeError, "demo: seed must be an int, got str"),
    ],
)
def test_run_refuses_bad_options_before_writing_anything(tmp_path, options, error, message):
    out = tmp_path / "demo"
    with pytest.raises(error, match=message):
        demo_module.run(**{"steps": 1, "seed": 1, **options}, output=str(out), progress=False)
    assert not out.exists()


def test_a_failed_image_write_leaves_the_old_image(monkeypatch, tmp_path):
    """A figure that fails half-way (a full disk, an interrupt) must not leave half a PNG."""
    from matplotlib.figure import Figure

    out = tmp_path / "demo"
    out.mkdir()
    old = out / "loss_curve.png"
    old.write_bytes(b"\x89PNG\r\n\x1a\nthe old image")
    old.chmod(0o600)

    def half_then_fail(self, target, **options):
        if hasattr(target, "write"):
            target.write(b"\x89PNG\r\n\x1a\nhalf")
        else:
            with open(target, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\nhalf")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        demo_module.run(steps=1, seed=3, output=str(out), progress=False)
    assert old.read_bytes() == b"\x89PNG\r\n\x1a\nthe old image"
    assert old.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["loss_curve.png"]


def test_the_compiled_batch_trains_as_the_eager_engine_does():
    from microgrid import compile

    _, _, _, eager = demo_module.train_moons(steps=4, progress=False)
    model, X, y, compiled = demo_module.train_moons(steps=4, progress=False, compile=compile)
    assert compiled.loss == pytest.approx(eager.loss, rel=1e-9)
    assert compiled.lr == eager.lr
    assert compiled.accuracy[-1] == demo_module.training_accuracy(model, X, y)
