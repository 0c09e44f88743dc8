"""The browser side of `microgrid.drawing.steps`: one script and one style sheet, inline.

`SCRIPT` defines ``renderStepper(model, el)``, which draws the stepper into
the element `el` from a model with ``get(name)``, ``set(name, value)``,
``save_changes()`` and ``on("change:step", callback)``: the anywidget model
in a notebook, or `PAGE_MODEL` (a small stand-in) in a saved page.  Nothing
is fetched: the SVG and the step data come from the model, and every text
goes in through ``textContent``, so a label is always shown as text.
"""

SCRIPT = r"""
function renderStepper(model, el) {
  "use strict";
  var data = JSON.parse(model.get("data"));
  var frames = data.frames, last = frames.length - 1;
  var MIN_FIT = 0.55;  // below this share of its size the text gets too small: scroll instead
  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function button(name, text, cls) {
    var b = make("button", cls || "mg-button", text);
    b.type = "button";
    b.setAttribute("aria-label", name);
    b.title = name;
    return b;
  }
  el.textContent = "";
  var box = make("div", "mg-stepper");
  box.tabIndex = 0;
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", data.title);
  box.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: our arrow keys, not its
  var bar = make("div", "mg-bar");
  var prev = button("Previous", "\u25C0 Previous");
  var slider = make("input", "mg-slider");
  slider.type = "range"; slider.min = "0"; slider.max = String(last); slider.step = "1";
  slider.setAttribute("aria-label", "Step");
  var next = button("Next", "Next \u25B6");
  var counter = make("span", "mg-counter");
  var zoomOut = button("Zoom out", "\u2212", "mg-button mg-zoom");
  var fit = button("Fit", "Fit", "mg-button mg-zoom");
  var zoomIn = button("Zoom in", "+", "mg-button mg-zoom");
  [prev, slider, next, counter, zoomOut, fit, zoomIn].forEach(function (c) { bar.appendChild(c); });
  var info = make("div", "mg-info");
  info.setAttribute("aria-live", "polite");
  var canvas = make("div", "mg-canvas");
  canvas.innerHTML = model.get("svg");  // microgrid's own drawing; labels were escaped there
  var svg = canvas.querySelector("svg");
  var legend = make("div", "mg-legend");
  legend.appendChild(make("span", "mg-key mg-key-from", "passes its gradient on"));
  legend.appendChild(make("span", "mg-key mg-key-to", "receives it"));
  legend.appendChild(make("span", "mg-key mg-key-hint", "keys: \u2190 \u2192 Home End; drag the drawing to pan when it is larger than this box"));
  [bar, info, canvas, legend].forEach(function (c) { box.appendChild(c); });
  el.appendChild(box);

  var gradText = {}, nodes = {}, ops = {};
  svg.querySelectorAll("text.mg-grad").forEach(function (t) { gradText[t.getAttribute("data-mg-node")] = t; });
  svg.querySelectorAll("g[data-mg-node]").forEach(function (g) { nodes[g.getAttribute("data-mg-node")] = g; });
  svg.querySelectorAll("g[data-mg-op]").forEach(function (g) { ops[g.getAttribute("data-mg-op")] = g; });
  var edges = {};
  svg.querySelectorAll("g[data-mg-edge]").forEach(function (g) {
    var key = g.getAttribute("data-mg-edge");
    (edges[key] = edges[key] || []).push(g);
  });

  var current = -1;
  function mark(elements, cls) { elements.forEach(function (e) { if (e) e.classList.add(cls); }); }
  function show(k) {
    k = Math.max(0, Math.min(last, k | 0));
    current = k;
    var texts = Object.assign({}, data.initial);
    for (var i = 1; i <= k; i++) texts[frames[i].to] = frames[i].grad;
    Object.keys(gradText).forEach(function (id) {
      var t = gradText[id];
      t.textContent = texts[id];
      t.classList.toggle("mg-known", texts[id] !== data.initial[id] || id === String(data.root));
      t.classList.remove("mg-new");
    });
    svg.querySelectorAll(".mg-from, .mg-to, .mg-path").forEach(function (e) {
      e.classList.remove("mg-from", "mg-to", "mg-path");
    });
    var f = frames[k];
    if (k > 0) {
      mark([nodes[f.from]], "mg-from");
      mark([nodes[f.to]], "mg-to");
      mark([ops[f.from]], "mg-path");
      mark((edges[f.to + ">" + f.from] || []).concat(edges["op>" + f.from] || []), "mg-path");
      if (gradText[f.to]) gradText[f.to].classList.add("mg-new");
    } else {
      mark([nodes[data.root]], "mg-from");
    }
    info.textContent = "";
    info.appendChild(make("div", "mg-title", f.title));
    var table = make("table", "mg-rows");
    f.rows.forEach(function (row) {
      var tr = make("tr");
      tr.appendChild(make("th", "", row[0]));
      tr.appendChild(make("td", "", row[1]));
      table.appendChild(tr);
    });
    info.appendChild(table);
    slider.value = String(k);
    slider.setAttribute("aria-valuetext", "Step " + k + " of " + last);
    counter.textContent = "Step " + k + " of " + last;
    prev.disabled = k === 0;
    next.disabled = k === last;
    reveal(k > 0 ? [nodes[f.from], nodes[f.to]] : [nodes[data.root]]);
    if (model.get("step") !== k) { model.set("step", k); model.save_changes(); }
  }

  // Size: the drawing's width scaled to the column, but never below MIN_FIT
  // of its natural size (then the canvas scrolls); "zoom" overrides the fit.
  var naturalWidth = parseFloat(svg.getAttribute("data-width"));
  var naturalHeight = parseFloat(svg.getAttribute("data-height"));
  var zoom = null;
  function layout() {
    var room = canvas.clientWidth - 2;
    var scale = zoom !== null ? zoom : Math.max(MIN_FIT, Math.min(1, room > 0 ? room / naturalWidth : 1));
    svg.style.maxWidth = "none";
    svg.style.width = (naturalWidth * scale) + "px";
    svg.style.height = (naturalHeight * scale) + "px";
    fit.setAttribute("aria-pressed", String(zoom === null));
  }
  function currentScale() { return svg.getBoundingClientRect().width / naturalWidth; }
  function reveal(shown) {  // scroll the canvas (never the page) to show these nodes, centred
    shown = shown.filter(Boolean);
    if (!shown.length) return;
    var c = canvas.getBoundingClientRect(), rs = shown.map(function (n) { return n.getBoundingClientRect(); });
    var r = { left: Math.min.apply(null, rs.map(function (x) { return x.left; })),
              right: Math.max.apply(null, rs.map(function (x) { return x.right; })),
              top: Math.min.apply(null, rs.map(function (x) { return x.top; })),
              bottom: Math.max.apply(null, rs.map(function (x) { return x.bottom; })) };
    if (r.left < c.left || r.right > c.right) canvas.scrollLeft += (r.left + r.right) / 2 - (c.left + c.right) / 2;
    if (r.top < c.top || r.bottom > c.bottom) canvas.scrollTop += (r.top + r.bottom) / 2 - (c.top + c.bottom) / 2;
  }
  zoomIn.addEventListener("click", function () { zoom = Math.min(4, currentScale() * 1.25); layout(); });
  zoomOut.addEventListener("click", function () { zoom = Math.max(0.1, currentScale() / 1.25); layout(); });
  fit.addEventListener("click", function () { zoom = null; layout(); });
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

  prev.addEventListener("click", function () { show(current - 1); });
  next.addEventListener("click", function () { show(current + 1); });
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  box.addEventListener("keydown", function (e) {
    var keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last };
    if (!(e.key in keys) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.stopPropagation();  // the notebook must not also act on the key
    if (e.target === slider) return;  // the slider moves itself, and says so through "input"
    e.preventDefault();
    show(keys[e.key]);
  });
  function onModelStep() { if (model.get("step") !== current) show(model.get("step")); }
  model.on("change:step", onModelStep);
  var observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(function () { if (zoom === null) layout(); });
  if (observer) observer.observe(canvas);
  layout();
  show(model.get("step") || 0);
  return function cleanup() {
    if (observer) observer.disconnect();
    if (model.off) model.off("change:step", onModelStep);
  };
}
"""

#: A model for a saved page: the same interface as anywidget's, kept in the page.
PAGE_MODEL = r"""
function pageModel(values) {
  var listeners = {};
  return {
    get: function (name) { return values[name]; },
    set: function (name, value) {
      values[name] = value;
      (listeners["change:" + name] || []).forEach(function (f) { f(); });
    },
    save_changes: function () {},
    on: function (event, f) { (listeners[event] = listeners[event] || []).push(f); },
    off: function (event, f) { listeners[event] = (listeners[event] || []).filter(function (g) { return g !== f; }); }
  };
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
.mg-canvas g.node.mg-from > polygon, .mg-canvas g.node.mg-from > ellipse,
.mg-canvas g.node.mg-from > path { stroke: #c2255c; stroke-width: 4px; }
.mg-canvas g.node.mg-to > polygon, .mg-canvas g.node.mg-to > ellipse,
.mg-canvas g.node.mg-to > path { stroke: #1864ab; stroke-width: 4px; }
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
