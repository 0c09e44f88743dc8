"""The browser side of `microgrid.drawing.steps`: one script and one style sheet, inline.

`SCRIPT`'s ``renderStepper(model, el)`` draws the stepper into `el` from a model with ``get``, ``set``,
``save_changes`` and ``on("change:step", ...)``: anywidget's in a notebook, ``stepperPage``'s in a saved page.
Nothing is fetched, and every text goes in through ``textContent``, so a label is always shown as text.
"""

SCRIPT = r"""
"use strict";
function stepperMake(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function stepperButton(name, text, cls) {
  var b = stepperMake("button", cls || "mg-button", text);
  b.type = "button";
  b.setAttribute("aria-label", name);
  b.title = name;
  return b;
}

// The stepper's elements, built into `el`: the bar of controls, the panel, the drawing, the legend.
function stepperElements(el, data, svgText, last) {
  var make = stepperMake, button = stepperButton, ui = {};
  ui.box = make("div", "mg-stepper");
  ui.box.tabIndex = 0;
  ui.box.setAttribute("role", "group");
  ui.box.setAttribute("aria-label", data.title);
  ui.box.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: our arrow keys, not its
  var bar = make("div", "mg-bar");
  ui.prev = button("Previous", "\u25C0 Previous");
  ui.slider = make("input", "mg-slider");
  ui.slider.type = "range"; ui.slider.min = "0"; ui.slider.max = String(last); ui.slider.step = "1";
  ui.slider.setAttribute("aria-label", "Step");
  ui.next = button("Next", "Next \u25B6");
  ui.counter = make("span", "mg-counter");
  ui.zoomOut = button("Zoom out", "\u2212", "mg-button mg-zoom");
  ui.fit = button("Fit", "Fit", "mg-button mg-zoom");
  ui.zoomIn = button("Zoom in", "+", "mg-button mg-zoom");
  bar.append(ui.prev, ui.slider, ui.next, ui.counter, ui.zoomOut, ui.fit, ui.zoomIn);
  ui.info = make("div", "mg-info");
  ui.info.setAttribute("aria-live", "polite");
  ui.canvas = make("div", "mg-canvas");
  ui.canvas.innerHTML = svgText;  // microgrid's own drawing; labels were escaped there
  ui.svg = ui.canvas.querySelector("svg");
  var legend = make("div", "mg-legend");
  var hint = "keys: \u2190 \u2192 Home End; drag the drawing to pan when it is larger than this box";
  legend.append(make("span", "mg-key mg-key-from", "passes its gradient on"),
    make("span", "mg-key mg-key-to", "receives it"), make("span", "mg-key mg-key-hint", hint));
  ui.box.append(bar, ui.info, ui.canvas, legend);
  el.replaceChildren(ui.box);
  return ui;
}

// The drawing's parts by node number (see microgrid.drawing.steps._mark_svg).
function stepperParts(svg) {
  function by(selector, attribute, many) {
    var found = {};
    svg.querySelectorAll(selector).forEach(function (e) {
      var key = e.getAttribute(attribute);
      if (many) (found[key] = found[key] || []).push(e); else found[key] = e;
    });
    return found;
  }
  return { gradText: by("text.mg-grad", "data-mg-node"), nodes: by("g[data-mg-node]", "data-mg-node"),
           ops: by("g[data-mg-op]", "data-mg-op"), edges: by("g[data-mg-edge]", "data-mg-edge", true) };
}

// Step k shown: the grad texts as they are after it, the nodes and edges it involves, its panel.
function stepperShow(ui, parts, data, k) {
  var frames = data.frames, last = frames.length - 1;
  function mark(elements, cls) { elements.forEach(function (e) { if (e) e.classList.add(cls); }); }
  var texts = Object.assign({}, data.initial);
  for (var i = 1; i <= k; i++) texts[frames[i].to] = frames[i].grad;
  Object.keys(parts.gradText).forEach(function (id) {
    var t = parts.gradText[id];
    t.textContent = texts[id];
    t.classList.toggle("mg-known", texts[id] !== data.initial[id] || id === String(data.root));
    t.classList.remove("mg-new");
  });
  ui.svg.querySelectorAll(".mg-from, .mg-to, .mg-path").forEach(function (e) {
    e.classList.remove("mg-from", "mg-to", "mg-path");
  });
  var f = frames[k];
  mark([parts.nodes[k > 0 ? f.from : data.root]], "mg-from");
  if (k > 0) {
    mark([parts.nodes[f.to]], "mg-to");
    mark([parts.ops[f.from]], "mg-path");
    mark((parts.edges[f.to + ">" + f.from] || []).concat(parts.edges["op>" + f.from] || []), "mg-path");
    if (parts.gradText[f.to]) parts.gradText[f.to].classList.add("mg-new");
  }
  var table = stepperMake("table", "mg-rows");
  f.rows.forEach(function (row) {
    table.appendChild(stepperMake("tr")).append(stepperMake("th", "", row[0]), stepperMake("td", "", row[1]));
  });
  ui.info.replaceChildren(stepperMake("div", "mg-title", f.title), table);
  ui.slider.value = String(k);
  ui.slider.setAttribute("aria-valuetext", "Step " + k + " of " + last);
  ui.counter.textContent = "Step " + k + " of " + last;
  ui.prev.disabled = k === 0;
  ui.next.disabled = k === last;
  stepperReveal(ui.canvas, k > 0 ? [parts.nodes[f.from], parts.nodes[f.to]] : [parts.nodes[data.root]]);
}

function stepperReveal(canvas, shown) {  // scroll the canvas (never the page) to show these nodes, centred
  shown = shown.filter(Boolean);
  if (!shown.length) return;
  var c = canvas.getBoundingClientRect(), rs = shown.map(function (n) { return n.getBoundingClientRect(); });
  function edge(side, pick) { return pick.apply(null, rs.map(function (x) { return x[side]; })); }
  var r = { left: edge("left", Math.min), right: edge("right", Math.max), top: edge("top", Math.min),
            bottom: edge("bottom", Math.max) };
  if (r.left < c.left || r.right > c.right) canvas.scrollLeft += (r.left + r.right) / 2 - (c.left + c.right) / 2;
  if (r.top < c.top || r.bottom > c.bottom) canvas.scrollTop += (r.top + r.bottom) / 2 - (c.top + c.bottom) / 2;
}

// Size: the drawing's width scaled to the column, but never below MIN_FIT of its
// natural size (then the canvas scrolls); the zoom buttons override the fit.
// Returns layout(), which the caller runs again when the column's width changes.
function stepperSizing(ui) {
  var MIN_FIT = 0.55;  // below this share of its size the text gets too small: scroll instead
  var svg = ui.svg, canvas = ui.canvas;
  var naturalWidth = parseFloat(svg.getAttribute("data-width"));
  var naturalHeight = parseFloat(svg.getAttribute("data-height"));
  var sizing = { zoom: null };
  sizing.layout = function () {
    var room = canvas.clientWidth - 2;
    var scale = sizing.zoom !== null ? sizing.zoom : Math.max(MIN_FIT, Math.min(1, room > 0 ? room / naturalWidth : 1));
    svg.style.maxWidth = "none";
    svg.style.width = (naturalWidth * scale) + "px";
    svg.style.height = (naturalHeight * scale) + "px";
    ui.fit.setAttribute("aria-pressed", String(sizing.zoom === null));
  };
  function currentScale() { return svg.getBoundingClientRect().width / naturalWidth; }
  function zoom(to) { sizing.zoom = to; sizing.layout(); }
  ui.zoomIn.addEventListener("click", function () { zoom(Math.min(4, currentScale() * 1.25)); });
  ui.zoomOut.addEventListener("click", function () { zoom(Math.max(0.1, currentScale() / 1.25)); });
  ui.fit.addEventListener("click", function () { zoom(null); });
  var drag = null;  // pan by dragging when the drawing is larger than the canvas
  canvas.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, left: canvas.scrollLeft, top: canvas.scrollTop };
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drag) return;
    canvas.scrollLeft = drag.left - (e.clientX - drag.x);
    canvas.scrollTop = drag.top - (e.clientY - drag.y);
  });
  ["pointerup", "pointerleave", "pointercancel"].forEach(function (n) {
    canvas.addEventListener(n, function () { drag = null; });
  });
  return sizing;
}

function renderStepper(model, el) {
  var data = JSON.parse(model.get("data"));
  var last = data.frames.length - 1;
  var ui = stepperElements(el, data, model.get("svg"), last);
  var parts = stepperParts(ui.svg);
  var sizing = stepperSizing(ui);
  var current = -1;
  function show(k) {
    current = Math.max(0, Math.min(last, k | 0));
    stepperShow(ui, parts, data, current);
    if (model.get("step") !== current) { model.set("step", current); model.save_changes(); }
  }
  ui.prev.addEventListener("click", function () { show(current - 1); });
  ui.next.addEventListener("click", function () { show(current + 1); });
  ui.slider.addEventListener("input", function () { show(parseInt(ui.slider.value, 10)); });
  ui.box.addEventListener("keydown", function (e) {
    var keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last };
    if (!(e.key in keys) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.stopPropagation();  // the notebook must not also act on the key
    if (e.target === ui.slider) return;  // the slider moves itself, and says so through "input"
    e.preventDefault();
    show(keys[e.key]);
  });
  function onModelStep() { if (model.get("step") !== current) show(model.get("step")); }
  model.on("change:step", onModelStep);
  var observer = typeof ResizeObserver === "undefined" ? null
    : new ResizeObserver(function () { if (sizing.zoom === null) sizing.layout(); });
  if (observer) observer.observe(ui.canvas);
  sizing.layout();
  show(model.get("step") || 0);
  return function cleanup() {
    if (observer) observer.disconnect();
    if (model.off) model.off("change:step", onModelStep);
  };
}

// A saved page: the stepper drawn into the element `id` from the JSON in "<id>-data", on a model kept in the page.
function stepperPage(id, focus) {
  var el = document.getElementById(id), listeners = {}, data = document.getElementById(id + "-data").textContent;
  var values = { data: data, svg: el.querySelector("svg").outerHTML, step: 0 };
  renderStepper({
    get: function (name) { return values[name]; },
    set: function (name, value) {
      values[name] = value;
      (listeners["change:" + name] || []).forEach(function (f) { f(); });
    },
    save_changes: function () {},
    on: function (event, f) { (listeners[event] = listeners[event] || []).push(f); }  // a page is never cleaned up
  }, el);
  if (focus) el.querySelector(".mg-stepper").focus();  // a page of its own: the arrow keys work at once
}
"""

STYLE = """
.mg-stepper { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 14px; color: #1f2328; max-width: 100%; box-sizing: border-box; outline: none; }
.mg-stepper:focus-visible { box-shadow: 0 0 0 2px #4c8bf5; border-radius: 4px; }
.mg-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 4px 0 8px; }
.mg-button { font: inherit; padding: 3px 10px; border: 1px solid #8c959f; border-radius: 4px;
  background: #f6f8fa; color: inherit; cursor: pointer; }
.mg-button:disabled { opacity: 0.45; cursor: default; }
.mg-zoom { min-width: 2.2em; padding: 3px 6px; }
.mg-slider { flex: 1 1 160px; min-width: 120px; }
.mg-counter { min-width: 8.5em; font-variant-numeric: tabular-nums; }
.mg-info { border-left: 4px solid #c2255c; background: #fff8fb; padding: 6px 10px; margin-bottom: 8px;
  overflow-wrap: anywhere; min-height: 6.6em; }  /* the same height at every step: the drawing stays put */
.mg-title { font-weight: 600; margin-bottom: 4px; }
.mg-rows { border-collapse: collapse; }
.mg-rows th { text-align: left; font-weight: normal; color: #57606a; padding: 1px 12px 1px 0;
  vertical-align: top; white-space: nowrap; }
.mg-rows td { padding: 1px 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.mg-canvas { overflow: auto; max-height: 75vh; max-width: 100%; border: 1px solid #d0d7de;
  border-radius: 4px; background: #fff; cursor: grab; scrollbar-gutter: stable; }
.mg-canvas svg { display: block; }
.mg-canvas g.node.mg-from > :is(polygon, ellipse, path) { stroke: #c2255c; stroke-width: 4px; }
.mg-canvas g.node.mg-to > :is(polygon, ellipse, path) { stroke: #1864ab; stroke-width: 4px; }
.mg-canvas g.node.mg-path > ellipse { stroke: #c2255c; stroke-width: 2.5px; }
.mg-canvas g.edge.mg-path > path { stroke: #c2255c; stroke-width: 2.5px; }
.mg-canvas g.edge.mg-path > polygon { stroke: #c2255c; fill: #c2255c; }
.mg-canvas text.mg-grad { fill: #8c959f; }
.mg-canvas text.mg-grad.mg-known { fill: #1f2328; }
.mg-canvas text.mg-grad.mg-new { fill: #1864ab; font-weight: bold; }
.mg-legend { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 6px; color: #57606a; font-size: 12px; }
.mg-key::before { content: ""; display: inline-block; width: 14px; height: 10px; margin-right: 5px;
  vertical-align: -1px; border: 3px solid; border-radius: 2px; }
.mg-key-from::before { border-color: #c2255c; }
.mg-key-to::before { border-color: #1864ab; }
.mg-key-hint::before { display: none; }
"""
