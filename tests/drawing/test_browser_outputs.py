"""microgrid's HTML outputs fit a notebook column on their own, with no front end's stylesheet.

JupyterLab, VS Code, Colab and nbviewer style tables and images each their
own way; a drawing's <img> and explain_backward's table carry what they need
to fit.  Each is put in a column of a plain page in Chromium and measured; a
saved drawing is opened in a 1280x900 window.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from microgrid import MLP, Value, draw, explain_backward

pytestmark = pytest.mark.browser
#: Screenshots, for a person to look at.
SCREENS = Path(__file__).parents[2] / ".pytest_cache" / "microgrid-screens"

# Every element's right edge, against the column's.
_OVERHANG = """column => {
  const box = document.getElementById(column).getBoundingClientRect();
  const parts = [...document.querySelectorAll('#' + column + ' *')];
  const right = Math.max(...parts.map(e => e.getBoundingClientRect().right));
  const img = document.querySelector('#' + column + ' img');
  return {overhang: right - box.right, scale: img ? img.getBoundingClientRect().width / img.naturalWidth : null};
}"""


def neuron() -> Value:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    o = (x1 * w1 + x2 * w2 + Value(6.8813735870195432, label="b")).tanh()
    o.backward()
    return o


def page_with(browser, html: str, width: int):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_content(f'<!DOCTYPE html><html><body><div id="c" style="width: {width}px">{html}</div></body></html>')
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    return page


@pytest.mark.parametrize("width", [848, 400])
def test_a_drawing_scales_down_to_its_column_and_never_up(browser, width):
    drawing = draw(neuron(), rankdir="LR")  # 1,632 px wide: too wide for either column
    page = page_with(browser, drawing._repr_html_(), width)
    try:
        measured = page.evaluate(_OVERHANG, "c")
        assert measured["overhang"] <= 0.5
        assert measured["scale"] == pytest.approx(
            width / page.evaluate("() => document.images[0].naturalWidth"), abs=0.01
        )
    finally:
        page.close()
    small = draw(Value(2.0, label="x"))  # one Value: narrower than either column
    page = page_with(browser, small._repr_html_(), width)
    try:
        assert page.evaluate(_OVERHANG, "c")["scale"] == pytest.approx(1.0)
    finally:
        page.close()


def test_the_layout_draw_chooses_is_legible_at_jupyterlabs_column(browser):
    page = page_with(browser, draw(neuron())._repr_html_(), 848)
    try:
        measured = page.evaluate(_OVERHANG, "c")
        assert measured["overhang"] <= 0.5 and measured["scale"] >= 0.75
    finally:
        page.close()


def test_the_explain_table_wraps_long_names_within_its_column(browser):
    long = "a_parameter_with_a_very_long_name_that_does_not_fit_in_any_reasonable_column"
    x, w = Value(0.5, label=long), Value(-1.0, label=long.upper())
    y = (x * w + x).tanh()
    y.label = "y_" + long
    table = explain_backward(y)._repr_html_()
    page = page_with(browser, table, 848)
    try:
        assert page.evaluate(_OVERHANG, "c")["overhang"] <= 0.5
        assert long in page.inner_text("#c").replace("\n", "")  # every name is all there, wrapped
    finally:
        page.close()


# The smallest text drawn, in CSS px: each text's font size times the scale it is shown at.
_SMALLEST_TEXT = """() => {
  const texts = [...document.querySelectorAll('text, tspan')].filter(t => t.textContent.trim());
  const box = document.documentElement.getBoundingClientRect();
  return {smallest: Math.min(...texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)),
          width: box.width, height: box.height, texts: texts.length};
}"""


def test_the_neuron_view_fits_window_and_column_with_text_of_9_px_or_more(browser, tmp_path):
    model = MLP(2, [3, 3, 1], seed=0)
    out = model([0.5, -1.0])
    ((out - Value(1.0, label="y")) ** 2).backward()
    SCREENS.mkdir(parents=True, exist_ok=True)
    for name, drawing in [("neurons", draw(out)), ("neurons-a1_0-open", draw(out, open=["a^(1)_0"]))]:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(drawing.save(tmp_path / f"{name}.svg").as_uri())  # the saved drawing, in a 1280x900 window
            shown = page.evaluate(_SMALLEST_TEXT)
            assert shown["texts"] > 20 and shown["smallest"] >= 9.0
            assert shown["width"] <= 1280 and shown["height"] <= 900  # all of it in the window
            page.screenshot(path=str(SCREENS / f"{name}-window.png"))
        finally:
            page.close()
        page = page_with(browser, drawing._repr_html_(), 848)  # JupyterLab's column
        try:
            scale = page.evaluate(_OVERHANG, "c")["scale"]
            smallest_pt = min(float(size) for size in re.findall(r'font-size="([\d.]+)"', drawing.svg()))
            assert smallest_pt * 4 / 3 * scale >= 9.0 and page.evaluate(_OVERHANG, "c")["overhang"] <= 0.5
            page.locator("#c").screenshot(path=str(SCREENS / f"{name}-column.png"))
        finally:
            page.close()
