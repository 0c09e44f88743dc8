"""step_backward without a browser: the step data against finite differences and backward(), the page's text."""

from __future__ import annotations

import base64
import json
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


def test_every_gradient_text_has_at_least_4_5_to_1_contrast_on_every_fill():
    from contrast import contrast

    from microgrid.drawing import _steps_web
    from microgrid.drawing.dot import COLOURS

    colours = re.findall(r"text\.mg-grad[.\w-]* \{ fill: (#[0-9a-f]{6})", _steps_web.STYLE)
    assert len(colours) == 3  # unknown ("?"), known, new
    assert min(contrast(text, fill) for text in colours for fill in COLOURS.values()) >= 4.5
