"""The saved step_backward page in headless Chromium, offline: stepped to the end and back, checked against backward().

Skipped without Chromium or Playwright, unless MICROGRID_REQUIRE_BROWSER=1 (see tests/support/browser.py).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from microgrid import Value
from microgrid.drawing.steps import step_backward
from microgrid.engine import topological_order

WIDTH = 1280

READ_STATE = """() => {
  const grads = {};
  document.querySelectorAll('text.mg-grad').forEach(t => { grads[t.getAttribute('data-mg-node')] = t.textContent; });
  const one = sel => { const g = document.querySelector(sel); return g ? g.getAttribute('data-mg-node') : null; };
  return {
    step: Number(document.querySelector('input[type=range]').value),
    counter: document.querySelector('.mg-counter').textContent,
    grads: grads,
    from: one('g.node.mg-from'),
    to: one('g.node.mg-to'),
    panel: document.querySelector('.mg-info').innerText,
  };
}"""


@pytest.fixture
def page(browser):
    """A 1280-px page that may load file: URLs only; fails the test on any other request or any error."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    context.set_default_timeout(10_000)
    outside, errors = [], []

    def route(request_route):
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda r: None if r.url.startswith("file://") else outside.append(r.url))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on(
        "console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield page
    context.close()
    assert not outside, f"the page asked for {outside}"
    assert not errors, errors


def graph():
    """a used twice, a constant, tanh, a division, a power, and a label that is markup."""
    a, b = Value(0.8, label="a"), Value(-1.5, label="b")
    tricky = Value(0.5, label='<b>&"c"</b>')
    L = ((a * b + a).tanh() * tricky) / (b**2) + a * 3.0
    L.label = "L"
    return L


def number(text: str) -> float:
    match = re.fullmatch(r"grad (\S+)", text)
    assert match, f"expected a gradient, got {text!r}"
    return float(match.group(1))


def expected_state(order, received, uses):
    """What the drawing must show, from the engine alone: `received` counts the steps into each node so far."""
    root = order[-1]
    shown = {}
    for i, node in enumerate(order):
        if node is root:
            shown[str(i)] = 1.0
        elif received[node] == 0:
            shown[str(i)] = None  # not reached yet: "grad ?"
        elif received[node] == uses[node]:
            shown[str(i)] = node.grad  # every use has given its share: backward()'s gradient
    return shown


def check_against_backward(state, expected):
    for node_id, want in expected.items():
        text = state["grads"][node_id]
        if want is None:
            assert text == "grad ?", (node_id, text)
        else:  # four significant digits, as drawn
            assert number(text) == pytest.approx(want, rel=6e-4, abs=1e-12), (node_id, text, want)


def test_the_saved_page_steps_to_the_end_and_back_with_backwards_gradients(page, tmp_path):
    L = graph()
    path = step_backward(L).save(tmp_path / "steps.html")
    L.backward()  # the reference: the engine's gradients
    order = topological_order(L)
    uses = {node: 0 for node in order}
    for node in order:
        for parent in node.parents:
            uses[parent] += 1
    last = sum(uses.values())  # one step per (operation, operand)
    page.goto(path.as_uri())
    page.wait_for_selector("text.mg-grad")
    previous = page.get_by_role("button", name="Previous", exact=True)
    nxt = page.get_by_role("button", name="Next", exact=True)
    slider = page.get_by_role("slider", name="Step")
    assert slider.get_attribute("max") == str(last)

    states = [page.evaluate(READ_STATE)]
    assert states[0]["step"] == 0 and previous.is_disabled()
    received = {node: 0 for node in order}
    check_against_backward(states[0], expected_state(order, received, uses))
    for k in range(1, last + 1):  # forward with Next
        nxt.click()
        state = page.evaluate(READ_STATE)
        assert state["step"] == k and state["counter"] == f"Step {k} of {last}"
        giver, receiver = order[int(state["from"])], order[int(state["to"])]
        assert receiver in giver.parents
        assert giver is L or received[giver] == uses[giver], "a node passes its gradient on once it is complete"
        received[receiver] += 1
        check_against_backward(state, expected_state(order, received, uses))
        if received[receiver] == uses[receiver]:  # the panel's 6 digits, for the node just completed
            total = re.search(r"gradient of .*= (\S+)(?: \(used.*)?$", state["panel"], re.M).group(1)
            assert float(total) == pytest.approx(receiver.grad, rel=1e-5)
        states.append(state)
    assert nxt.is_disabled() and received == uses
    assert '<b>&"c"</b>' in page.locator("svg text").all_text_contents()  # a label shows as text
    assert any('passes its gradient back to <b>&"c"</b>' in state["panel"] for state in states)
    assert page.locator(".mg-stepper b").count() == 0

    for k in range(last - 1, -1, -1):  # back with Previous
        previous.click()
        assert page.evaluate(READ_STATE) == states[k]

    page.locator(".mg-stepper").focus()  # the arrow keys, Home and End
    for k in range(1, last + 1):
        page.keyboard.press("ArrowRight")
        assert page.evaluate(READ_STATE) == states[k]
    page.keyboard.press("ArrowRight")  # past the end: stays
    assert page.evaluate(READ_STATE) == states[last]
    for k in range(last - 1, -1, -1):
        page.keyboard.press("ArrowLeft")
        assert page.evaluate(READ_STATE) == states[k]
    page.keyboard.press("End")
    assert page.evaluate(READ_STATE) == states[last]
    page.keyboard.press("Home")
    assert page.evaluate(READ_STATE) == states[0]

    for k in list(range(last + 1)) + list(range(last, -1, -1)) + random.Random(0).sample(range(last + 1), last + 1):
        slider.fill(str(k))  # the slider, by value
        assert page.evaluate(READ_STATE) == states[k]


def test_the_page_fits_a_1280_px_window_and_screenshots(page, tmp_path):
    L = graph()
    path = step_backward(L).save(tmp_path / "steps.html")
    page.goto(path.as_uri())
    page.wait_for_selector("text.mg-grad")
    for k in (0, 3, 9):
        page.get_by_role("slider", name="Step").fill(str(k))
        page.screenshot(path=tmp_path / f"step{k}.png", full_page=True)
        sizes = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
            box: document.querySelector('.mg-stepper').getBoundingClientRect().right,
            font: document.querySelector('svg text').getBoundingClientRect().height})""")
        assert sizes["page"] <= WIDTH and sizes["box"] <= WIDTH, sizes
        assert sizes["font"] >= 8, "the drawing's text stays legible"
    # The drawing fits as laid out; zoomed in until larger than the column, the canvas scrolls, not the page.
    scrolls = "(c => c.scrollWidth > c.clientWidth)(document.querySelector('.mg-canvas'))"
    for _ in range(8):  # each click: 1.25 times larger, up to 4 times the natural size
        page.get_by_role("button", name="Zoom in").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        if page.evaluate(scrolls):
            break
    assert page.evaluate(scrolls)


def test_the_widget_module_and_the_notebook_fallback_run_in_the_browser(page):
    """The anywidget ESM (imported as a module, with a stand-in model) and the text/html fallback both step."""
    pytest.importorskip("anywidget")
    L = graph()
    stepper = step_backward(L)
    widget = stepper.widget
    page.set_content("<!DOCTYPE html><html><body><div id='w'></div></body></html>")
    steps = page.evaluate(
        """async ([esm, svg, data]) => {
            const url = 'data:text/javascript;base64,' + btoa(String.fromCodePoint(...new TextEncoder().encode(esm)));
            const widget = (await import(url)).default;
            const values = {svg: svg, data: data, step: 0}, listeners = [], saved = [];
            const model = {get: n => values[n], set: (n, v) => { values[n] = v; },
                           save_changes: () => saved.push(values.step),
                           on: (e, f) => listeners.push(f), off: () => {}};
            const cleanup = widget.render({model: model, el: document.getElementById('w')});
            document.querySelector('button[aria-label=Next]').click();
            document.querySelector('button[aria-label=Next]').click();
            values.step = 5; listeners.forEach(f => f());  // a step set from Python
            const shown = document.querySelector('.mg-counter').textContent;
            cleanup();
            return {saved: saved, shown: shown};
        }""",
        [widget._esm, widget.svg, widget.data],
    )
    assert steps == {"saved": [1, 2], "shown": f"Step 5 of {len(stepper)}"}

    data, _ = stepper._repr_mimebundle_()
    page.set_content(f"<!DOCTYPE html><html><body>{data['text/html']}</body></html>")
    page.get_by_role("button", name="Next", exact=True).click()
    assert page.locator(".mg-counter").text_content() == f"Step 1 of {len(stepper)}"


SCREENS = Path(__file__).parents[2] / ".pytest_cache" / "microgrid-screens"

# Per step: what scrolls, the smallest drawing text in CSS px, the names shown, the arrows and labels drawn.
MEASURE = """() => {
  const canvas = document.querySelector('.mg-canvas'), doc = document.documentElement;
  const texts = [...document.querySelectorAll('.mg-canvas svg :is(text, tspan)')]
    .filter(t => t.getBoundingClientRect().height > 0);
  const inside = e => { const r = e.getBoundingClientRect(), c = canvas.getBoundingClientRect();
                        return r.left >= c.left - 1 && r.right <= c.right + 1
                               && r.top >= c.top - 1 && r.bottom <= c.bottom + 1; };
  return {
    scrolls: doc.scrollHeight > innerHeight || doc.scrollWidth > innerWidth
             || canvas.scrollHeight > canvas.clientHeight || canvas.scrollWidth > canvas.clientWidth,
    smallest: Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)),
    text: document.querySelector('.mg-stepper').innerText + texts.map(t => t.textContent).join(' '),
    arrows: document.querySelectorAll('g.mg-term.mg-now path.mg-way').length,
    tips: document.querySelectorAll('g.mg-term.mg-now polygon.mg-tip').length,
    labels: [...document.querySelectorAll('g.mg-term.mg-now text')].map(t => t.textContent),
    visible: [...document.querySelectorAll('g.node.mg-from, g.node.mg-to')].every(inside),
    covered: [...document.querySelectorAll('g.mg-term:is(.mg-now, .mg-old) text')].flatMap(label => {
      const a = label.getBoundingClientRect();
      return [...document.querySelectorAll('g.node[data-mg-node] text:first-of-type')].filter(name => {
        const b = name.getBoundingClientRect();
        return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      }).map(name => label.textContent + ' on ' + name.textContent);
    }),
    grads: Object.fromEntries([...document.querySelectorAll('text.mg-grad')]
                              .map(t => [t.dataset.mgNode, t.textContent])),
    panel: document.querySelector('.mg-info').innerText,
  };
}"""


def test_a_2_2_1_networks_whole_backward_pass_fits_a_1280_by_900_window(page, tmp_path):
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    model = MLP(2, [2, 1], seed=0)
    cost = mse(model([0.5, -1.0]), 1.0)
    cost.label = "C"
    stepper = step_backward(cost)
    page.goto(stepper.save(tmp_path / "steps.html").as_uri())
    page.wait_for_selector("g.mg-term", state="attached")
    cost.backward()  # the reference for the labels' contributions
    SCREENS.mkdir(parents=True, exist_ok=True)
    frames, order, summed = stepper.frames(), topological_order(cost), {}
    for k, frame in enumerate(frames):
        page.get_by_role("slider", name="Step").fill(str(k))
        state = page.evaluate(MEASURE)
        if k in (1, 4, 7):
            page.screenshot(path=SCREENS / f"steps-mlp-2-2-1-step{k}.png")
        assert not state["scrolls"], (k, state)
        assert state["smallest"] >= 9.0, (k, state["smallest"])
        assert state["visible"], f"step {k}: the giver or a receiver is out of view"
        assert not re.search(r"#\d", state["text"]), "no node is named like a register"
        assert not state["covered"], f"step {k}: an edge label covers a node's name: {state['covered']}"
        if k == 0:
            continue
        # Each term: its way back drawn (from the giver's operation and into the receiver), its arrowhead and label.
        assert state["arrows"] == 2 * len(frame["terms"]) and state["tips"] == len(frame["terms"]) > 0, (k, state)
        for label, term in zip(state["labels"], frame["terms"], strict=True):
            upstream, local, contribution = map(float, re.fullmatch(r"(\S+) × (\S+) = (\S+)", label).groups())
            assert contribution == pytest.approx(upstream * local, rel=2e-2, abs=1e-3)
            summed[term["to"]] = summed.get(term["to"], 0.0) + contribution
    # The contributions drawn add up to backward()'s gradient at every node they reach (3 digits, as drawn).
    assert summed and all(total == pytest.approx(order[i].grad, rel=2e-2, abs=1e-3) for i, total in summed.items())
    assert len(frames) - 1 < len(stepper), "the sums' steps are folded"


def test_a_2_2_1_network_steps_by_neuron_and_by_layer_and_folds_on_the_page(page, tmp_path):
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    cost = mse(MLP(2, [2, 1], seed=0)([0.5, -1.0]), 1.0)
    cost.label = "C"
    stepper = step_backward(cost)
    page.goto(stepper.save(tmp_path / "steps.html").as_uri())
    page.wait_for_selector("g.mg-term", state="attached")
    slider, by = page.get_by_role("slider", name="Step"), page.get_by_label("Step by", exact=True)
    fold = page.get_by_role("checkbox", name="fold sums")
    zs = {str(i) for i, node in enumerate(topological_order(cost)) if node.label.startswith("z^")}
    for mode, equations in (("neuron", ["BP1", "BP2", "BP2"]), ("layer", ["BP1", "BP2", "BP2"])):
        by.select_option(mode)
        assert fold.is_hidden()  # folding is by value
        frames, shown = stepper.frames(mode), {}
        assert slider.get_attribute("max") == str(len(frames) - 1)
        named = []
        for k, frame in enumerate(frames):
            slider.fill(str(k))
            state = page.evaluate(MEASURE)
            assert not state["scrolls"], (mode, k, state)
            assert state["smallest"] >= 9.0 and state["visible"], (mode, k, state)
            assert not re.search(r"#\d", state["text"]) and not state["covered"], (mode, k, state)
            assert state["tips"] == len(frame["terms"]), (mode, k)
            shown |= frame["grads"]
            # δ on each z once known, "grad ?" before
            assert {i: state["grads"][i] for i in zs} == {i: shown.get(i, "grad ?") for i in zs}, (mode, k)
            assert all(shown[i].startswith("δ ") for i in zs if i in shown)
            named += re.findall(r"^(BP[12])", state["panel"], re.M)
        assert named == equations, mode
        assert shown.keys() >= zs
    by.select_option("value")
    assert fold.is_visible() and fold.is_checked()
    assert slider.get_attribute("max") == str(len(stepper.frames()) - 1)
    fold.uncheck()  # every step, on the drawing with every node
    assert slider.get_attribute("max") == str(len(stepper))
    assert page.locator("text.mg-grad").count() == len(topological_order(cost))
    slider.fill(str(len(stepper)))
    assert page.locator(".mg-counter").text_content() == f"Step {len(stepper)} of {len(stepper)}"
    fold.check()
    assert slider.get_attribute("max") == str(len(stepper.frames()) - 1)
    assert page.locator(".mg-counter").text_content() == f"Step 0 of {len(stepper.frames()) - 1}"


def test_a_page_that_is_no_network_steps_by_value_only_and_does_not_fold_at_first(page, tmp_path):
    page.goto(step_backward(graph()).save(tmp_path / "steps.html").as_uri())
    page.wait_for_selector("text.mg-grad")
    assert page.get_by_label("Step by", exact=True).is_hidden()
    fold = page.get_by_role("checkbox", name="fold sums")  # a sum's steps together: off, but there
    assert fold.is_visible() and not fold.is_checked()


def test_screenshots_of_a_3_3_1_network_by_neuron(page, tmp_path):
    from microgrid.nn import MLP
    from microgrid.nn.losses import mse

    cost = mse(MLP(2, [3, 3, 1], seed=0)([0.5, -1.0]), 1.0)
    cost.label = "C"
    page.goto(step_backward(cost).save(tmp_path / "steps.html").as_uri())
    page.wait_for_selector("g.mg-term", state="attached")
    page.get_by_label("Step by", exact=True).select_option("neuron")
    SCREENS.mkdir(parents=True, exist_ok=True)
    for k in (2, 3, 6):  # the output neuron (BP1), a neuron of layer 2 and one of layer 1 (BP2)
        page.get_by_role("slider", name="Step").fill(str(k))
        assert ("BP1" if k == 2 else "BP2") in page.locator(".mg-info").inner_text()
        page.screenshot(path=SCREENS / f"steps-mlp-3-3-1-by-neuron-step{k}.png")
