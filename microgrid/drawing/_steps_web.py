"""The browser side of `microgrid.drawing.steps`: one script and one style sheet, inline.

`SCRIPT`'s ``renderStepper(model, el)`` draws the stepper into `el` from a model with ``get``, ``set``,
``save_changes`` and ``on("change:step", ...)``: anywidget's in a notebook, ``stepperPage``'s in a saved page.
Nothing is fetched, and every text goes in through ``textContent``, so a label is always shown as text.
"""

SCRIPT = r"""
"use strict";
var SVGNS = "http://www.w3.org/2000/svg";
function stepperMake(tag, cls, text, ns) {
  var e = ns ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
  if (cls) e.setAttribute("class", cls);
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
  legend.append(make("span", "mg-key mg-key-from", "passes its gradient on"),
    make("span", "mg-key mg-key-to", "receives it"),
    make("span", "mg-key mg-key-arrow", "the gradient's way back: upstream \u00d7 local = contribution"),
    make("span", "mg-key mg-key-hint", "keys: \u2190 \u2192 Home End; drag to pan"));
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

// A Graphviz edge's path the other way round: its points reversed ("M p0 C p1 p2 p3 ..." stays a chain of curves).
function stepperReversed(path) {
  var n = path.getAttribute("d").match(/-?\d*\.?\d+(?:e-?\d+)?/g), points = [];
  for (var i = 0; i + 1 < n.length; i += 2) points.unshift(n[i] + "," + n[i + 1]);
  return "M" + points[0] + (points.length % 3 === 1 ? "C" : "L") + points.slice(1).join(" ");
}

// Per frame, its terms drawn over the drawing: the arrow from the giver back to the receiver, and its label.
function stepperTerms(ui, parts, data) {
  var make = stepperMake, layer = make("g", "mg-overlay", undefined, true);
  (ui.svg.querySelector("g.graph") || ui.svg).append(layer);
  return data.frames.map(function (f, k) {
    return f.terms.map(function (t, j) {
      var into = (parts.edges[t.to + ">" + t.op] || [])[t.n], out = (parts.edges["op>" + t.op] || [])[0];
      if (!into) return null;
      var g = make("g", "mg-term", undefined, true), label = make("text", "mg-term-label", t.text, true);
      g.setAttribute("data-frame", k); g.setAttribute("data-term", j);
      var way = into.querySelector("path"), mid = way.getPointAtLength(way.getTotalLength() * (f.terms.length > 1 ? 0.3 : 0.5));
      [out, into].forEach(function (edge) {
        if (!edge) return;
        var p = g.appendChild(make("path", "mg-way", undefined, true));
        p.setAttribute("d", stepperReversed(edge.querySelector("path")));
      });
      // The arrowhead, at the receiver: along the reversed path's last few points.
      var end = way.getPointAtLength(0), from = way.getPointAtLength(Math.min(7, way.getTotalLength()));
      var dx = end.x - from.x, dy = end.y - from.y, n = Math.hypot(dx, dy) || 1, w = 3.5 / n;
      var tip = g.appendChild(make("polygon", "mg-tip", undefined, true));
      tip.setAttribute("points", [end.x, end.y, from.x - dy * w, from.y + dx * w, from.x + dy * w, from.y - dx * w].join(" "));
      label.setAttribute("x", mid.x); label.setAttribute("y", mid.y - 4); label.setAttribute("text-anchor", "middle");
      var back = make("rect", "mg-term-back", undefined, true);
      g.append(back, label);
      layer.append(g);
      return { g: g, label: label, back: back, edge: into, t: t };
    });
  });
}

// The panel of frame f, its rows linked to the frame's terms.
function stepperPanel(f) {
  var table = stepperMake("table", "mg-rows"), make = stepperMake;
  f.rows.forEach(function (row, i) {
    var tr = table.appendChild(make("tr"));
    tr.append(make("th", "", row[0]), make("td", "", row[1]));
    if (f.links[i] >= 0) { tr.setAttribute("data-term", f.links[i]); tr.className = "mg-linked"; }
  });
  var box = make("div");
  box.append(make("div", "mg-title", f.title), table);
  return box;
}

// Step k shown: the grad texts after it, its givers and receivers, its arrows and the earlier ones faintly.
function stepperShow(ui, parts, terms, data, k) {
  var frames = data.frames, last = frames.length - 1, f = frames[k];
  var texts = Object.assign({}, data.initial);
  for (var i = 1; i <= k; i++) Object.assign(texts, frames[i].grads);
  Object.keys(parts.gradText).forEach(function (id) {
    var t = parts.gradText[id];
    t.textContent = texts[id];
    t.classList.toggle("mg-known", texts[id] !== data.initial[id] || id === String(data.root));
    t.classList.toggle("mg-new", id in f.grads);
  });
  ui.svg.querySelectorAll(".mg-from, .mg-to, .mg-under").forEach(function (e) {
    e.classList.remove("mg-from", "mg-to", "mg-under");
  });
  var shown = [parts.nodes[k > 0 ? f.from : data.root]];
  if (shown[0]) shown[0].classList.add("mg-from");
  terms.forEach(function (frame, i) {
    frame.forEach(function (term) {
      if (!term) return;
      term.g.setAttribute("class", i < k ? "mg-term mg-old" : i === k ? "mg-term mg-now" : "mg-term");
      term.label.textContent = i === k ? term.t.text : term.t.short;
      if (i !== k) return;
      var box = term.label.getBBox();  // an opaque box behind the label: readable over the nodes it may cross
      [["x", box.x - 2], ["y", box.y - 1], ["width", box.width + 4], ["height", box.height + 2]].forEach(function (a) {
        term.back.setAttribute(a[0], a[1]);
      });
      term.edge.classList.add("mg-under");
      var to = parts.nodes[term.t.to];
      if (to) { to.classList.add("mg-to"); shown.push(to); }
    });
  });
  ui.info.replaceChildren(stepperPanel(f));
  ui.slider.value = String(k);
  ui.slider.setAttribute("aria-valuetext", "Step " + k + " of " + last);
  ui.counter.textContent = "Step " + k + " of " + last;
  ui.prev.disabled = k === 0;
  ui.next.disabled = k === last;
  stepperReveal(ui.canvas, shown);
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

// The height the stepper may take: its tallest scrolling ancestor's (a notebook's), else the window's under its top.
function stepperRoom(box) {
  var room = 0;
  for (var e = box.parentElement; e && e !== document.body; e = e.parentElement) {
    if (/auto|scroll/.test(getComputedStyle(e).overflowY)) room = Math.max(room, e.clientHeight - 40);
  }
  return room > 200 ? room : window.innerHeight - box.getBoundingClientRect().top - window.scrollY - 12;
}

// Size: the drawing scaled to the room left under the controls, but never so small that its text is under 9 px
// (then the canvas scrolls); the zoom buttons override the fit.  Returns layout(), run again on a resize.
function stepperSizing(ui, data) {
  var svg = ui.svg, canvas = ui.canvas;
  var naturalWidth = parseFloat(svg.getAttribute("data-width"));
  var naturalHeight = parseFloat(svg.getAttribute("data-height"));
  var minScale = parseFloat(svg.getAttribute("data-min-scale")) || 0.6;
  var sizing = { zoom: null };
  sizing.layout = function () {
    var shown = ui.info.firstChild, tallest = 0;  // the panel as tall as its tallest step: the drawing stays put
    ui.info.style.minHeight = "";
    data.frames.slice(0, 300).forEach(function (f) {
      ui.info.replaceChildren(stepperPanel(f));
      tallest = Math.max(tallest, ui.info.offsetHeight);
    });
    ui.info.replaceChildren(shown || "");
    ui.info.style.minHeight = tallest + "px";
    svg.style.maxWidth = "none";
    var chrome = ui.box.getBoundingClientRect().height - canvas.getBoundingClientRect().height;
    var room = Math.max(160, stepperRoom(ui.box) - chrome), across = canvas.clientWidth - 2;
    var fit = Math.min(1, across / naturalWidth, room / naturalHeight);
    var scale = sizing.zoom !== null ? sizing.zoom : Math.max(minScale, fit);
    svg.style.width = (naturalWidth * scale) + "px";
    svg.style.height = (naturalHeight * scale) + "px";
    canvas.style.maxHeight = (room + 2) + "px";
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

// Hovering a term's row lights its arrow, and hovering an arrow lights its row.
function stepperHover(ui, terms, current) {
  function light(e, on) {
    var row = e.target.closest && e.target.closest("[data-term]");
    if (!row || row.hasAttribute("data-frame") && Number(row.getAttribute("data-frame")) !== current()) return;
    var j = row.getAttribute("data-term"), term = terms[current()][j];
    if (term) term.g.classList.toggle("mg-hover", on);
    var linked = ui.info.querySelector("tr[data-term='" + j + "']");
    if (linked) linked.classList.toggle("mg-hover", on);
  }
  [ui.info, ui.svg].forEach(function (el) {
    el.addEventListener("mouseover", function (e) { light(e, true); });
    el.addEventListener("mouseout", function (e) { light(e, false); });
  });
}

function renderStepper(model, el) {
  var data = JSON.parse(model.get("data"));
  var last = data.frames.length - 1;
  var ui = stepperElements(el, data, model.get("svg"), last);
  var parts = stepperParts(ui.svg), terms = stepperTerms(ui, parts, data);
  var sizing = stepperSizing(ui, data);
  var current = -1;
  function show(k) {
    current = Math.max(0, Math.min(last, k | 0));
    stepperShow(ui, parts, terms, data, current);
    if (model.get("step") !== current) { model.set("step", current); model.save_changes(); }
  }
  stepperHover(ui, terms, function () { return current; });
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
  function relayout() { if (sizing.zoom === null) { sizing.layout(); if (current >= 0) show(current); } }
  var observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(relayout);
  if (observer) observer.observe(ui.canvas);
  window.addEventListener("resize", relayout);
  show(model.get("step") || 0);
  sizing.layout();
  show(current);
  return function cleanup() {
    if (observer) observer.disconnect();
    window.removeEventListener("resize", relayout);
    if (model.off) model.off("change:step", onModelStep);
  };
}

// A saved page or a notebook's HTML: the stepper drawn into the element `id` (which shows the drawing as an image
// until then) from the JSON in "<id>-data", on a model kept in the page.
function stepperPage(id, focus) {
  var el = document.getElementById(id), listeners = {}, data = document.getElementById(id + "-data").textContent;
  var bytes = atob(el.querySelector("img").getAttribute("src").split(",")[1]);
  var svg = new TextDecoder().decode(Uint8Array.from(bytes, function (c) { return c.charCodeAt(0); }));
  var values = { data: data, svg: svg, step: 0 };
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
.mg-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 2px 0 6px; }
.mg-button { font: inherit; padding: 2px 10px; border: 1px solid #8c959f; border-radius: 4px;
  background: #f6f8fa; color: inherit; cursor: pointer; }
.mg-button:disabled { opacity: 0.45; cursor: default; }
.mg-zoom { min-width: 2.2em; padding: 2px 6px; }
.mg-slider { flex: 1 1 160px; min-width: 120px; }
.mg-counter { min-width: 8.5em; font-variant-numeric: tabular-nums; }
.mg-info { border-left: 4px solid #c2255c; background: #fff8fb; padding: 4px 10px; margin-bottom: 6px;
  overflow-wrap: anywhere; box-sizing: border-box; }
.mg-title { font-weight: 600; margin-bottom: 2px; }
.mg-rows { border-collapse: collapse; }
.mg-rows th { text-align: left; font-weight: normal; color: #57606a; padding: 0 12px 0 0;
  vertical-align: top; white-space: nowrap; }
.mg-rows td { padding: 0; font-variant-numeric: tabular-nums; }
.mg-rows tr.mg-linked td { text-decoration: underline dotted #c2255c; }
.mg-rows tr.mg-hover { background: #ffe3ee; }
.mg-canvas { overflow: auto; max-width: 100%; border: 1px solid #d0d7de;
  border-radius: 4px; background: #fff; cursor: grab; }
.mg-canvas svg { display: block; }
.mg-canvas g.node.mg-from > :is(polygon, ellipse, path) { stroke: #c2255c; stroke-width: 4px; }
.mg-canvas g.node.mg-to > :is(polygon, ellipse, path) { stroke: #1864ab; stroke-width: 4px; }
.mg-canvas g.edge.mg-under { opacity: 0.3; }
.mg-canvas text.mg-grad { fill: #57606a; }
.mg-canvas text.mg-grad.mg-known { fill: #1f2328; }
.mg-canvas text.mg-grad.mg-new { fill: #1864ab; font-weight: bold; }
.mg-canvas g.mg-term { display: none; }
.mg-canvas g.mg-term.mg-old, .mg-canvas g.mg-term.mg-now { display: inline; }
.mg-canvas g.mg-term.mg-old :is(path, rect, polygon) { display: none; }
.mg-canvas rect.mg-term-back { fill: #fff; stroke: #c2255c; stroke-width: 1px; rx: 2px; }
.mg-canvas path.mg-way { fill: none; stroke: #c2255c; stroke-width: 2.5px; }
.mg-canvas polygon.mg-tip { fill: #c2255c; }
.mg-canvas g.mg-hover path.mg-way { stroke-width: 4.5px; }
.mg-canvas text.mg-term-label { font: 11px Helvetica, Arial, sans-serif; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; fill: #6e7781; }
.mg-canvas g.mg-now text.mg-term-label { fill: #a0174b; font-weight: bold; }
.mg-canvas g.mg-hover text.mg-term-label { fill: #1f2328; }
.mg-legend { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 4px; color: #57606a; font-size: 12px; }
.mg-key::before { content: ""; display: inline-block; width: 14px; height: 10px; margin-right: 5px;
  vertical-align: -1px; border: 3px solid; border-radius: 2px; }
.mg-key-from::before { border-color: #c2255c; }
.mg-key-to::before { border-color: #1864ab; }
.mg-key-arrow::before { height: 0; border-width: 2px 0 0; border-color: #c2255c; border-radius: 0; }
.mg-key-hint::before { display: none; }
"""
