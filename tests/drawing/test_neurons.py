"""The neuron view of an MLP, real sub- and superscripts, the legend: checked against plain-Python references."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from contrast import contrast

from microgrid import MLP, Value, grad
from microgrid.drawing import COLOURS, draw, draw_dot, render
from microgrid.engine import topological_order
from microgrid.names import NameLookupError

needs_wasm = pytest.mark.skipif(
    not (render.shutil.which("dot") or render._wasm_available()), reason="no Graphviz renderer"
)
SCREENS = Path(__file__).parents[2] / ".pytest_cache" / "microgrid-screens"
SIZES = (2, [3, 3, 1])
X, Y = [0.5, -1.0], 1.0


def network():
    """`MLP(2, [3, 3, 1])` on one example, its loss (out - y)^2 backpropagated."""
    model = MLP(*SIZES, seed=0)
    out = model(X)
    loss = (out - Value(Y, label="y")) ** 2
    loss.backward()
    return model, out, loss


def plain_forward(weights: dict[str, float], x: list[float]) -> tuple[dict[str, float], float]:
    """Every a^(l)_j by hand (tanh hidden layers, a linear output), and the loss."""
    a, sizes = {f"a^(0)_{k}": v for k, v in enumerate(x)}, [SIZES[0], *SIZES[1]]
    for layer in range(1, len(sizes)):
        for j in range(sizes[layer]):
            z = weights[f"b^({layer})_{j}"]
            z += sum(weights[f"w^({layer})_{j},{k}"] * a[f"a^({layer - 1})_{k}"] for k in range(sizes[layer - 1]))
            a[f"a^({layer})_{j}"] = z if layer == len(sizes) - 1 else math.tanh(z)
    return a, (a[f"a^({len(sizes) - 1})_0"] - Y) ** 2


def neuron_nodes(source: str) -> dict[str, str]:
    """Neuron node id -> its record label, from the DOT text."""
    return dict(re.findall(r'^\s*(v\d+) \[label="([^"]*)".*shape=Mrecord', source, re.M))


def plain(text: str) -> str:
    """A drawn label with its Unicode scripts as typed: a⁽¹⁾₀ -> a^(1)_0."""
    sup, sub = str.maketrans("⁰¹²³⁴⁽⁾", "01234()"), str.maketrans("₀₁₂₃₄", "01234")
    return re.sub(r"([⁰¹²³⁴⁽⁾]+)([₀₁₂₃₄,]+)", lambda m: f"^{m[1].translate(sup)}_{m[2].translate(sub)}", text)


def test_the_neuron_view_has_a_node_per_neuron_with_its_value_and_delta():
    model, out, _ = network()
    weights = {p.label: p.data for p in model.parameters()}
    activations, _ = plain_forward(weights, X)
    shown = {}
    for label in neuron_nodes(draw_dot(out).source).values():
        (a, value), (delta, delta_value) = (field.split(" = ") for field in label.split("|"))
        shown[plain(a)] = float(value)
        assert plain(delta.replace("δ", "a")) == plain(a)
        # δ^(l)_j = dC/dz^(l)_j = dC/db^(l)_j (z = ... + b): central differences on the bias, by hand
        bias, h = "b" + plain(a)[1:], 1e-6
        up, down = (plain_forward({**weights, bias: weights[bias] + s}, X)[1] for s in (h, -h))
        assert float(delta_value) == pytest.approx((up - down) / (2 * h), rel=1e-3, abs=1e-6)
    hidden_and_output = {k: v for k, v in activations.items() if not k.startswith("a^(0)")}
    assert shown == pytest.approx(hidden_and_output, abs=1e-4)  # every neuron, once, with its value


def test_an_edge_per_weight_coloured_by_its_sign():
    model, out, _ = network()
    source = draw_dot(out).source
    ids = {plain(label.split(" = ")[0]): node for node, label in neuron_nodes(source).items()}
    ids.update((plain(m[2]), m[1]) for m in re.finditer(r'^\s*(v\d+) \[label="\{?([^|"]*)\|', source, re.M))
    edges = re.findall(r'^\s*(\S+) -> (\S+) \[color="(#\w+)"', source, re.M)
    expected = []
    for p in model.parameters():
        if p.label.startswith("w"):
            layer, j, k = map(int, re.findall(r"\d+", p.label))
            expected.append(
                (ids[f"a^({layer - 1})_{k}"], ids[f"a^({layer})_{j}"], "#1c6fc4" if p.data >= 0 else "#d62f2f")
            )
    assert sorted(edges) == sorted(expected)  # one edge per weight, nothing else drawn between neurons


def positions(svg: str) -> dict[str, tuple[float, float]]:
    """Each node's centre (by its id, Graphviz's <title>) in the SVG."""
    found = {}
    for title, points in re.findall(r"<title>(\w+)</title>\s*<(?:polygon|path)[^>]*?(?:points|d)=\"([^\"]+)\"", svg):
        numbers = [float(n) for n in re.findall(r"-?[\d.]+", points)]
        found[title] = (sum(numbers[0::2]) / len(numbers[0::2]), sum(numbers[1::2]) / len(numbers[1::2]))
    return found


@needs_wasm
@pytest.mark.parametrize("level", ["neurons", "values"])
def test_the_neurons_of_a_layer_are_drawn_in_index_order(level):
    model = MLP(2, [4, 4, 1], seed=3)
    out = model([0.3, -0.7])
    dot = draw_dot(out, level=level)
    centre = positions(render.render_svg(dot.source))
    order = {node.label: f"v{i}" for i, node in enumerate(topological_order(out))}
    if level == "neurons":
        order.update((plain(label.split(" = ")[0]), n) for n, label in neuron_nodes(dot.source).items())
    for layer in range(3):
        ys = [centre[order[f"a^({layer})_{j}"]][1] for j in range(2 if layer == 0 else 4)]
        assert ys == sorted(ys), (layer, ys)  # top to bottom, left to right: no crossing from placement


def test_a_neuron_opens_into_its_values_and_closes_again():
    _, out, _ = network()
    closed = draw_dot(out).source
    opened = draw_dot(out, open=["a^(1)_0"]).source
    assert len(neuron_nodes(opened)) == len(neuron_nodes(closed)) - 1 == 6
    records = re.findall(r'label="\{?([^|"]+)\|data', opened)
    assert {"w⁽¹⁾₀,₀", "w⁽¹⁾₀,₁", "b⁽¹⁾₀", "z⁽¹⁾₀", "a⁽¹⁾₀"} <= set(records)
    a10 = re.search(r'^\s*(v\d+) \[label="\{?a⁽¹⁾₀\|', opened, re.M)[1]
    assert len(re.findall(rf"^\s*{a10} -> v\d+ \[color", opened, re.M)) == 3  # into each neuron of layer 2
    assert draw_dot(out, open="a1_0").source == opened  # one name, typed as an identifier
    assert draw_dot(out).source == closed  # drawn again without it: closed
    with pytest.raises(NameLookupError, match=r"unknown name 'a\^\(9\)_0'.*a\^\(1\)_0"):
        draw_dot(out, open=["a^(9)_0"])


def test_level_values_and_what_auto_chooses():
    _, out, loss = network()
    values = draw_dot(out, level="values").source
    assert not neuron_nodes(values) and values.count("shape=record") == len(topological_order(out))
    assert len(neuron_nodes(draw_dot(loss).source)) == 7  # the loss's graph holds the network
    x = Value(2.0, label="x")
    assert not neuron_nodes(draw_dot(x * x).source)
    with pytest.raises(ValueError, match=r"level='neurons' needs .* MLP"):
        draw_dot(x * x, level="neurons")
    model = MLP(*SIZES, seed=0)
    two = sum((model(xs) - 1.0) ** 2 for xs in ([0.5, -1.0], [1.0, 2.0]))
    assert not neuron_nodes(draw_dot(two).source)  # two passes: every label twice, no one neuron to draw
    with pytest.raises(ValueError, match="level"):
        draw_dot(x, level="layers")


def test_one_neuron_is_drawn_as_values_unless_asked_and_weights_of_no_neuron_stay_values():
    one = MLP(2, [1], seed=0)([0.5, -1.0])  # z^(1)_0: one neuron, best seen as its Values
    assert not neuron_nodes(draw_dot(one).source)
    assert len(neuron_nodes(draw_dot(one, level="neurons").source)) == 1
    hidden = MLP(2, [2], activation="tanh", output_activation="tanh", seed=0)([0.5, -1.0])
    weights = [Value(0.5, label="w^(2)_0,0"), Value(-2.0, label="w^(2)_0,1")]
    f = weights[0] * hidden[0] + weights[1] * hidden[1]  # an output with weights but no z^(2)_0
    source = draw_dot(f).source
    assert len(neuron_nodes(source)) == 2 and "w⁽²⁾₀,₀|data 0.5" in source  # its weights drawn as Values


def test_a_grad_result_and_a_graph_before_backward_show_no_grad_fields():
    x = Value(3.0, label="x")
    (dy,) = grad(x**3, [x], create_graph=True)
    assert "grad " not in draw_dot(dy).source and "data 27" in draw_dot(dy).source
    dy.backward()  # d(3x^2)/dx = 6x = 18, by hand
    assert "x|data 3|grad 18" in draw_dot(dy, rankdir="TB").source
    assert "grad 0" in draw_dot(Value(1.0, label="x") * 2, grads=True).source


@needs_wasm
def test_labels_have_real_scripts_and_the_legend_names_the_fills():
    _, out, _ = network()
    svg = draw(out, level="values").svg()
    assert "⁽" not in svg and "₀" not in svg  # no Unicode script left in the drawing
    assert '>w<tspan dy="-4" font-size="9">(1)</tspan><tspan dy="7" font-size="9">0,0</tspan></text>' in svg
    assert re.search(
        r'>a<tspan dy="-4" font-size="9">\(1\)</tspan><tspan dy="7" font-size="9">0</tspan>'
        r'<tspan dy="-3"> = ',
        draw(out).svg(),
    )  # back on the baseline after the index
    legend = svg[svg.rindex("<g ") :]
    for kind in ("input", "parameter", "output"):
        assert f'fill="{COLOURS[kind]}"' in legend and f">{kind}</text>" in legend
    assert ">constant</text>" not in legend  # only the fills the drawing uses
    assert ">parameter</text>" not in draw(out).svg()  # the neuron view draws no parameter


def test_text_on_every_fill_has_at_least_4_5_to_1_contrast():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    for kind, fill in COLOURS.items():
        assert contrast("#000000", fill) >= 4.5, kind  # Graphviz draws text black
    assert all(contrast(edge, "#ffffff") >= 3.0 for edge in ("#1c6fc4", "#d62f2f"))  # the weights' edges on white
