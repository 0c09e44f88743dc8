"""step_backward without a browser: the step data against finite differences and backward(), the page's text."""

from __future__ import annotations

import base64
import json
import math
import re
import xml.etree.ElementTree as ET

import pytest

import microgrid
from microgrid import Value
from microgrid.drawing.steps import BackwardStepper, step_backward
from microgrid.engine import topological_order

SVG = "{http://www.w3.org/2000/svg}"


def function(a: float, b: float, c: float):
    """L = tanh(a*b + a) * c / (b ** 2) + exp(c) * 2: a used twice, a constant power, unlabelled constants."""
    A, B, C = Value(a, label="a"), Value(b, label="b"), Value(c, label="c")
    L = (A * B + A).tanh() * C / (B**2) + C.exp() * 2
    L.label = "L"
    return L, {"a": A, "b": B, "c": C}


def central_difference(name: str, point: dict[str, float], h: float = 1e-6) -> float:
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    return (function(**up)[0].data - function(**down)[0].data) / (2 * h)


def shown_number(grad_text: str) -> float:
    """``"grad -0.7864"`` -> -0.7864, as a reader would read the drawing."""
    match = re.fullmatch(r"grad (\S+)", grad_text)
    assert match, grad_text
    return float(match.group(1))


def test_final_gradients_match_central_differences():
    point = {"a": 0.3, "b": -1.2, "c": 0.7}
    L, leaves = function(**point)
    stepper = step_backward(L)
    for name in leaves:
        assert stepper.gradients[name] == pytest.approx(central_difference(name, point), rel=1e-6, abs=1e-9)


def test_each_frame_fills_in_what_backward_computes_in_backward_order():
    L, _leaves = function(0.3, -1.2, 0.7)
    stepper = step_backward(L)
    frames = stepper.frames()
    L.backward()
    order = topological_order(L)
    uses = {node: 0 for node in order}  # how often each node is an operand: its number of steps
    for node in order:
        for parent in node.parents:
            uses[parent] += 1
    assert len(frames) - 1 == len(stepper) == sum(uses.values())
    received = {node: 0 for node in order}
    shown = {i: None for i in range(len(order))}
    for frame in frames[1:]:
        giver, receiver = order[frame["from"]], order[frame["to"]]
        assert receiver in giver.parents
        # A node passes its gradient on only once every use has given it its share.
        assert giver is L or received[giver] == uses[giver]
        received[receiver] += 1
        shown[frame["to"]] = shown_number(frame["grad"])
    for i, node in enumerate(order):
        if node is L:
            continue
        # Four significant digits, as the drawing shows them.
        assert shown[i] == pytest.approx(node.grad, rel=6e-4, abs=1e-12), node


def test_the_panel_shows_the_chain_rule_product_and_the_sum_for_a_reused_node():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b + a
    L.label = "L"
    frames = step_backward(L).frames()
    assert frames[0]["title"].startswith("Start: ∂L/∂L = 1")
    third = dict(frames[3]["rows"])  # a*b = a * b passes -3 to a, which already had 1
    assert frames[3]["title"] == "Step 3 of 4: a·b passes its gradient back to a"
    assert third["operation"] == "a·b = a * b"
    assert third["local derivative"] == "∂(a·b)/∂a = b = -3"
    assert third["chain rule"] == "∂L/∂(a·b) × ∂(a·b)/∂a = 1 × (-3) = -3"
    assert third["gradient of a"].startswith("∂L/∂a = 1 + (-3) = -2")
    assert frames[3]["grad"] == "grad -2"


def test_a_term_twice_in_a_folded_sum_adds_up_in_the_panel():
    x = Value(2.0, label="x")
    y = x + x + x  # dy/dx = 3, by hand
    y.label = "y"
    frames = step_backward(y, fold=True).frames()
    assert len(frames) == 2  # the start, and the sum passing its gradient to all three terms at once
    rows = [text for label, text in frames[1]["rows"] if label == "gradient of x"]
    assert [row.split(" = ", 2)[2].split(" (")[0] for row in rows] == ["1", "1 + 1 = 2", "2 + 1 = 3"]
    assert frames[1]["grads"] == {"0": "grad 3"}


def test_a_step_backward_skips_says_so():
    w = Value(2.0, label="w")
    out = w.tanh() * 0.0 + w  # tanh(w)'s gradient is 0: backward() does not pass it on
    out.label = "out"
    stepper = step_backward(out)
    skipped = [frame for frame, step in zip(stepper.frames()[1:], stepper, strict=True) if step.skipped]
    assert [frame["title"] for frame in skipped] == ["Step 5 of 5: tanh(w) passes its gradient back to w"]
    assert dict(skipped[0]["rows"])["chain rule"] == "∂out/∂tanh(w) = 0, so backward() skips this step"
    assert stepper.gradients["w"] == 1.0


def test_no_grad_is_changed():
    L, _leaves = function(0.3, -1.2, 0.7)
    for node in topological_order(L):
        node.grad = 5.0  # as if from an earlier backward()
    step_backward(L)
    assert {node.grad for node in topological_order(L)} == {5.0}


def test_every_value_operation_and_edge_of_a_step_is_marked_in_the_drawing():
    L, _ = function(0.3, -1.2, 0.7)
    stepper = step_backward(L)
    svg = ET.fromstring(stepper.svg)
    order = topological_order(L)
    nodes = {g.get("data-mg-node"): g for g in svg.iter(f"{SVG}g") if g.get("data-mg-node")}
    assert set(nodes) == {str(i) for i in range(len(order))}
    ops = {g.get("data-mg-op") for g in svg.iter(f"{SVG}g") if g.get("data-mg-op")}
    assert ops == {str(i) for i, node in enumerate(order) if node.parents}
    edges = {g.get("data-mg-edge") for g in svg.iter(f"{SVG}g") if g.get("data-mg-edge")}
    for frame in stepper.frames()[1:]:
        assert f"{frame['to']}>{frame['from']}" in edges and f"op>{frame['from']}" in edges
    grads = {t.get("data-mg-node"): t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "mg-grad"}
    root = str(order.index(L))
    assert grads == {i: ("grad 1" if i == root else "grad ?") for i in nodes}
    # Fluid: as wide as the column allows, never wider than drawn.
    assert svg.get("width") == "100%" and "max-width" in svg.get("style")


EVIL = '</script><script>alert(1)</script><b>&"x"'


def test_labels_stay_text_in_the_page(tmp_path):
    x = Value(0.5, label=EVIL)
    y = (x * x).tanh()
    y.label = "grad 7"  # looks like a grad field: only the record's last field is one
    page = step_backward(y).save(tmp_path / "steps.html").read_text(encoding="utf-8")
    assert page.count("<script") == 2 and page.count("</script>") == 2  # ours: the data and the code
    data = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["frames"][-1]["title"].endswith(EVIL)
    image = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', page).group(1)  # shown before the script runs
    svg = ET.fromstring(base64.b64decode(image).decode("utf-8"))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert EVIL in texts and "grad 7" in texts


def test_the_page_asks_for_nothing_outside_itself(tmp_path):
    L, _ = function(0.3, -1.2, 0.7)
    page = step_backward(L).save(tmp_path / "steps.html").read_text(encoding="utf-8")
    # The one address is the image of the drawing, in the page itself.
    assert re.findall(r"\b(?:src|href|xlink:href)\s*=\s*\"?(.{5})", page) == ["data:"]
    assert not re.search(r"\b(import|fetch|XMLHttpRequest|url)\s*\(", page)
    # The only addresses are XML namespace names, which are never fetched.
    assert set(re.findall(r"https?://[^\s\"')]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_text_lists_the_steps_and_repr_is_bounded():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b + a
    L.label = "L"
    text = str(step_backward(L))
    assert text.count("operation:") == 4
    assert "dL/da = 1 + (-3) = -2" in text
    assert text.isascii()  # any terminal's encoding prints it: d and *, not ∂ and ×
    y = Value(1.0, label="x")
    for _ in range(50):
        y = y * 1.01
    chain = step_backward(y, max_nodes=None)
    # 50 products, each 2 steps (y and the constant 1.01)
    assert repr(chain).count("operation:") == 30 and "70 more steps" in repr(chain)
    assert str(chain).count("operation:") == 100


def test_a_leaf_has_no_steps():
    stepper = step_backward(Value(1.0, label="x"))
    assert len(stepper) == 0 and len(stepper.frames()) == 1
    assert "grad 1" in stepper.svg


def test_bad_input_gives_one_line_errors(tmp_path):
    with pytest.raises(TypeError, match=r"^step_backward: root must be a Value, got float$"):
        step_backward(1.0)
    with pytest.raises(ValueError, match=r"save: .*steps\.svg.*\.html"):
        step_backward(Value(1.0) * 2).save(tmp_path / "steps.svg")


def test_a_graph_too_large_to_draw_is_refused_before_any_step_is_worked_out(monkeypatch):
    from microgrid.drawing import GraphTooLargeError, steps

    monkeypatch.setattr(steps, "explain_backward", lambda root: pytest.fail("the steps were worked out first"))
    x = Value(1.0, label="x")
    y = x
    for _ in range(1000):
        y = y * 0.5 + x  # 3001 Values
    with pytest.raises(
        GraphTooLargeError, match=r"^step_backward: the graph has 3,001 Values, more than max_nodes=2,000"
    ):
        step_backward(y)
    with pytest.raises(GraphTooLargeError, match=r"^step_backward: .* more than max_nodes=10;"):
        step_backward(y, max_nodes=10)


def test_the_widget_carries_the_drawing_and_steps_and_checks_its_step():
    pytest.importorskip("anywidget")
    L, _ = function(0.3, -1.2, 0.7)
    stepper = microgrid.step_backward(L)  # the lazy name in the package
    assert isinstance(stepper, BackwardStepper)
    widget = stepper.widget
    assert widget.svg == stepper.svg and json.loads(widget.data)["frames"] == stepper.frames()
    widget.step = len(stepper)
    with pytest.raises(Exception, match=rf"step must be from 0 to {len(stepper)}, got {len(stepper) + 1}"):
        widget.step = len(stepper) + 1
    # Inline, no CDN: the module imports nothing.
    assert not re.search(r"\bimport\b", widget._esm) and "export default" in widget._esm
    data, _ = stepper._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == repr(stepper)
    # Where widgets are not (a stored notebook, a static render): the drawing at the start as an image, not raw text.
    image = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', data["text/html"]).group(1)
    assert base64.b64decode(image).decode("utf-8") == stepper.svg
    assert "Run the cell to step through" in data["text/html"] and "<svg" not in data["text/html"]


def test_the_panel_writes_textbook_names_as_the_drawing_does():
    w, w10 = Value(0.5, label="w^(2)_1,0"), Value(2.0, label="w^(2)_1,00")  # one name a prefix of the other
    out = w * w10
    out.label = "z^(2)_1"
    stepper = step_backward(out)
    frame = stepper.frames()[1]
    assert frame["title"] == "Step 1 of 2: z⁽²⁾₁ passes its gradient back to w⁽²⁾₁,₀"
    assert dict(frame["rows"])["operation"] == "z⁽²⁾₁ = w⁽²⁾₁,₀ * w⁽²⁾₁,₀₀"
    # As drawn: with real scripts, indices as large as the drawing's smallest text allows.
    assert '>w<tspan dy="-4" font-size="9">(2)</tspan><tspan dy="7" font-size="9">1,0</tspan></text>' in stepper.svg
    assert not re.search("[⁽⁾₀-₉]", stepper.svg)
    assert "z^(2)_1 = w^(2)_1,0 * w^(2)_1,00" in str(stepper)  # plain text in a terminal


@pytest.mark.parametrize("rankdir, fields", [("TB", "stacked"), ("LR", "across"), ("auto", "auto")])
def test_every_layout_marks_every_value_and_its_grad(rankdir, fields):
    L, _ = function(0.3, -1.2, 0.7)
    svg = ET.fromstring(step_backward(L, rankdir=rankdir, fields=fields).svg)
    grads = {t.get("data-mg-node") for t in svg.iter(f"{SVG}text") if t.get("class") == "mg-grad"}
    assert grads == {str(i) for i in range(len(topological_order(L)))}


def test_by_default_the_drawing_takes_the_layout_that_fits_the_window_largest():
    from microgrid.drawing.steps import BOX

    def scale(stepper):
        svg = ET.fromstring(stepper.svg)
        return min(1.0, BOX[0] / float(svg.get("data-width")), BOX[1] / float(svg.get("data-height")))

    L, _ = function(0.3, -1.2, 0.7)
    layouts = [("LR", "across"), ("LR", "stacked"), ("TB", "across"), ("TB", "stacked")]
    assert scale(step_backward(L)) == max(scale(step_backward(L, rankdir=r, fields=f)) for r, f in layouts)


def test_the_layout_is_chosen_as_shown_with_its_legend(monkeypatch):
    from microgrid.drawing import steps
    from microgrid.drawing.dot import COLOURS

    def svg(width, height):  # in pt, with an input's fill: typeset adds the legend's row, 18 pt high
        head = f'<svg width="{width}pt" height="{height}pt" viewBox="0 0 {width} {height}">'
        return head + f'<g fill="{COLOURS["input"]}"/></svg>'

    # In a box 922.5 x 450 pt: the first fits whole without its legend, at 450/458 with it; the second at 922.5/932.
    monkeypatch.setattr(steps, "render_svgs", lambda sources, *_, **__: iter([svg(500, 440), svg(932, 100)] * 2))
    y = Value(2.0, label="x") * 3
    _, layout = steps._draw(y, topological_order(y), [0.0, 0.0, 0.0], {})
    assert layout == ("LR", "stacked")


def test_every_gradient_text_has_at_least_4_5_to_1_contrast_on_every_fill():
    from contrast import contrast

    from microgrid.drawing import _steps_web
    from microgrid.drawing.dot import COLOURS

    colours = re.findall(r"text\.mg-grad[.\w-]* \{ fill: (#[0-9a-f]{6})", _steps_web.STYLE)
    assert len(colours) == 3  # unknown ("?"), known, new
    assert min(contrast(text, fill) for text in colours for fill in COLOURS.values()) >= 4.5


def network(sizes, activation, output_activation="linear"):
    """An MLP on one example, its squared error C, and its parameters by textbook label for a reference by hand."""
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    model = MLP(2, sizes, activation=activation, output_activation=output_activation, seed=3)
    cost = mse(model([0.5, -1.0]), 0.25)
    cost.label = "C"
    return cost, {name: p.data for name, p in model.named_parameters()}


SLOPES = {"tanh": lambda a: 1 - a * a, "sigmoid": lambda a: a * (1 - a), "linear": lambda a: 1.0}
ACTIVATE = {"tanh": math.tanh, "sigmoid": lambda z: 1 / (1 + math.exp(-z)), "linear": lambda z: z}


def backprop_by_hand(sizes, activation, output_activation, params):
    """δ^(l)_j by the four equations, in plain Python: forward by hand, then BP1 and BP2."""
    acts, a = [activation] * (len(sizes) - 1) + [output_activation], [0.5, -1.0]
    outputs = [a]
    for layer, (n, act) in enumerate(zip(sizes, acts, strict=True), start=1):
        w = {(j, k): params[f"w^({layer})_{j},{k}"] for j in range(n) for k in range(len(a))}
        z = [sum(w[j, k] * a[k] for k in range(len(a))) + params[f"b^({layer})_{j}"] for j in range(n)]
        a = [ACTIVATE[act](v) for v in z]
        outputs.append(a)
    L = len(sizes)
    delta = {L: [2 * (a[j] - 0.25) * SLOPES[acts[-1]](a[j]) for j in range(sizes[-1])]}  # BP1
    for layer in range(L - 1, 0, -1):  # BP2
        after = delta[layer + 1]
        delta[layer] = [
            sum(params[f"w^({layer + 1})_{k},{j}"] * after[k] for k in range(len(after)))
            * SLOPES[acts[layer - 1]](outputs[layer][j])
            for j in range(sizes[layer - 1])
        ]
    return {f"z^({layer})_{j}": d for layer, ds in delta.items() for j, d in enumerate(ds)}


NETWORKS = [([3, 3, 1], "tanh", "linear"), ([2, 1], "sigmoid", "sigmoid"), ([2, 1], "tanh", "linear")]


@pytest.mark.parametrize("sizes, activation, output_activation", NETWORKS)
def test_by_neuron_each_delta_is_backprops_and_its_equation_multiplies_out(sizes, activation, output_activation):
    cost, params = network(sizes, activation, output_activation)
    reference = backprop_by_hand(sizes, activation, output_activation, params)
    stepper, order = step_backward(cost), topological_order(cost)
    frames = stepper.frames("neuron")
    assert frames[1]["title"] == f"Step 1 of {len(frames) - 1}: C passes its gradient back to the network's output"
    assert "grouped by neuron, output layer first" in dict(frames[0]["rows"])["order"]
    plain = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉", "01234567890123456789")
    titles = [f["title"].translate(plain) for f in frames[2:]]
    neurons = [tuple(map(int, re.search(r"neuron a⁽(\d+)⁾(\d+):", t).groups())) for t in titles]
    assert neurons == sorted(neurons, key=lambda n: (-n[0], n[1])) and len(neurons) == sum(sizes)
    shown = {}
    for frame in frames[1:]:  # a linear output's δ is known from the loss's frame on
        for i, delta in frame["deltas"].items():
            shown[order[int(i)].label] = delta
            assert frame["grads"][i] == f"δ {delta:.4g}"  # on its neuron, as δ
    assert shown == pytest.approx(reference, rel=1e-9, abs=1e-12)  # every δ, to 1e-9
    for frame, (layer, j) in zip(frames[2:], neurons, strict=True):
        label, text = frame["rows"][0]
        assert label.startswith("BP1" if layer == len(sizes) else "BP2") and text.startswith("δ")
        assert label.endswith(f"σ = {activation if layer < len(sizes) else output_activation}")
        number = r"\(?(-?[\d.]+(?:e-?\d+)?)\)?"
        equation = text.split(" (linear")[0]  # a linear neuron's note: σ' = 1
        summed, slope, delta = map(float, re.search(rf"= {number} × {number} = {number}$", equation).groups())
        assert summed * slope == pytest.approx(delta, rel=2e-3, abs=1e-6)  # each to 4 digits
        assert delta == pytest.approx(reference[f"z^({layer})_{j}"], rel=1e-3, abs=1e-6)
        assert ("σ' = 1" in text) == (slope == 1.0 and "linear" in label)
        if label.startswith("BP2"):  # (Σ_k w δ) σ' = (the terms' products summed) × σ'
            terms = re.search(r"\) σ'\(z\S+\) = \((.*)\) × ", equation).group(1)
            products = [float(w) * float(d) for w, d in re.findall(rf"{number} × {number}", terms)]
            assert len(products) == sizes[layer] and sum(products) == pytest.approx(summed, rel=2e-3, abs=1e-6)
        rows = dict(frame["rows"])
        assert re.fullmatch(rf"∂C/∂b\S+ = δ\S+ = {delta:.4g}", rows["BP3"])  # BP3: the bias's gradient is δ
        bp4 = rows["BP4"].split(": ", 1)[1].split("; ")  # BP4: a^(l-1)_k δ for each weight
        assert len(bp4) == (2 if layer == 1 else sizes[layer - 2])
        for a, d, product in (map(float, re.match(rf"{number} × {number} = {number}", t).groups()) for t in bp4):
            assert d == delta and a * d == pytest.approx(product, rel=2e-3, abs=1e-6)


@pytest.mark.parametrize("sizes, activation, output_activation", NETWORKS)
def test_every_mode_ends_at_backwards_gradients_and_layer_mode_has_a_frame_per_layer(
    sizes, activation, output_activation
):
    cost, _ = network(sizes, activation, output_activation)
    stepper, order = step_backward(cost), topological_order(cost)
    cost.backward()
    data = json.loads(stepper.data())
    views = {data["start"]: data["frames"]} | {key: view["frames"] for key, view in data["views"].items()}
    assert set(views) == {"fold", "all", "neuron", "layer"} and data["start"] == "fold"
    assert len(views["layer"]) == 1 + 1 + len(sizes)  # the start, the loss, each layer
    assert len(views["all"]) == len(stepper) + 1 > len(views["fold"])
    for key, frames in views.items():
        last = {}
        for frame in frames:
            last |= frame["grads"]
        for i, node in enumerate(order):
            if str(i) in last:
                assert float(last[str(i)].split()[1]) == pytest.approx(node.grad, rel=6e-4, abs=1e-12), (key, node)
        reached = {int(i) for i in last}
        drawn = {i for i in range(len(order)) if i not in stepper.hidden or key == "all"}
        assert reached == drawn - {order.index(cost)}, key
    # Folding hides the partial sums: the other drawing, with every node, goes in the data.
    other = ET.fromstring(base64.b64decode(data["other"]).decode("utf-8"))
    assert {g.get("data-mg-node") for g in other.iter(f"{SVG}g") if g.get("data-mg-node")} == {
        str(i) for i in range(len(order))
    }
    assert data["views"]["all"]["other"] and not data["views"]["neuron"]["other"]
    assert data["delta"] == "δ = ∂C/∂z, the neuron's error"


def test_a_network_on_a_computed_input_steps_back_past_it_by_the_chain_rule():
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    model = MLP(2, [1], seed=3)  # one linear neuron: C = (w0 a0 + w1 a1 + b - 0.25)^2, a0 = 2u
    u = Value(0.25, label="u")
    cost = mse(model([u * 2, -1.0]), 0.25)
    p = {name: v.data for name, v in model.named_parameters()}
    z = p["w^(1)_0,0"] * 0.5 + p["w^(1)_0,1"] * -1.0 + p["b^(1)_0"]
    stepper = step_backward(cost)
    for by in ("neuron", "layer"):
        last = stepper.frames(by)[-1]
        assert last["title"].endswith("the network's inputs pass their gradients back to what they are computed from")
        assert "δ" not in str(last["rows"])  # no neuron there, so no error δ
        ((_, text),) = [row for row in last["rows"] if row[0] == "to u"]
        assert float(text.rsplit(" = ", 1)[1]) == pytest.approx(2 * (z - 0.25) * p["w^(1)_0,0"] * 2, rel=1e-5)


def test_a_graph_that_is_no_network_has_no_neuron_or_layer_mode():
    L, _ = function(0.3, -1.2, 0.7)
    data = json.loads(step_backward(L).data())
    assert "neuron" not in data["views"] and "layer" not in data["views"] and "delta" not in data
    assert "δ" not in json.dumps(data["frames"], ensure_ascii=False)


def test_a_network_run_on_two_examples_steps_by_value_only():
    """Each neuron's nodes twice (one per example): a frame per neuron would mix two δ's."""
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    model = MLP(2, [2, 1], seed=0)
    cost = mse(model([0.5, -1.0]), 1.0) + mse(model([1.0, 2.0]), 0.0)
    data = json.loads(step_backward(cost).data())
    assert set(data["views"]) == {"all"} and data["start"] == "fold" and "delta" not in data
