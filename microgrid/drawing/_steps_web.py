"""The browser side of `microgrid.drawing.steps`: one script and one style sheet, inline.

`SCRIPT`'s ``renderStepper(model, el)`` draws the stepper into `el` from a model with ``get``, ``set``,
``save_changes`` and ``on("change:step", ...)``: anywidget's in a notebook, ``stepperPage``'s in a saved page.
Nothing is fetched, and every text goes in through ``textContent``, so a label is always shown as text.
"""

SCRIPT = r"""
"use strict";
// make("div", "cls", text) or, with ns, an SVG element; `attributes` set on it.
function stepperMake(tag, cls, text, ns, attributes) {
  const e = ns ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  if (cls) e.setAttribute("class", cls);
  if (text !== undefined) e.textContent = text;
  Object.entries(attributes || {}).forEach(([name, value]) => e.setAttribute(name, value));
  return e;
}

// The stepper's elements, built into `el`: the bar of controls, the panel, the drawing, the legend.
function stepperElements(el, data, svgText, last) {
  const make = stepperMake, ui = {};
  const button = (name, text, cls) => make("button", cls || "mg-button", text, false,
    { type: "button", "aria-label": name, title: name });
  ui.box = make("div", "mg-stepper", undefined, false, { tabindex: "0", role: "group", "aria-label": data.title,
    "data-lm-suppress-shortcuts": "true" });  // JupyterLab: our arrow keys, not its
  ui.prev = button("Previous", "\u25C0 Previous");
  ui.slider = make("input", "mg-slider", undefined, false,
    { type: "range", min: "0", max: String(last), step: "1", "aria-label": "Step" });
  ui.next = button("Next", "Next \u25B6");
  ui.counter = make("span", "mg-counter");
  ui.zoomOut = button("Zoom out", "\u2212", "mg-button mg-zoom");
  ui.fit = button("Fit", "Fit", "mg-button mg-zoom");
  ui.zoomIn = button("Zoom in", "+", "mg-button mg-zoom");
  const bar = make("div", "mg-bar"), legend = make("div", "mg-legend");
  bar.append(ui.prev, ui.slider, ui.next, ui.counter, ui.zoomOut, ui.fit, ui.zoomIn);
  ui.info = make("div", "mg-info", undefined, false, { "aria-live": "polite" });
  ui.canvas = make("div", "mg-canvas");
  ui.canvas.innerHTML = svgText;  // microgrid's own drawing; labels were escaped there
  ui.svg = ui.canvas.querySelector("svg");
  legend.append(make("span", "mg-key mg-key-from", "passes its gradient on"),
    make("span", "mg-key mg-key-to", "receives it"),
    make("span", "mg-key mg-key-arrow", "its way back: upstream \u00d7 local = contribution"),
    make("span", "mg-key", "keys: \u2190 \u2192 Home End; drag to pan"));
  ui.box.append(bar, ui.info, ui.canvas, legend);
  el.replaceChildren(ui.box);
  return ui;
}

// The drawing's parts by node number (see microgrid.drawing.steps._mark_svg).
function stepperParts(svg) {
  const by = (selector, attribute, many, found = {}) => {
    svg.querySelectorAll(selector).forEach((e) => {
      const key = e.getAttribute(attribute);
      if (many) (found[key] = found[key] || []).push(e); else found[key] = e;
    });
    return found;
  };
  return { gradText: by("text.mg-grad", "data-mg-node"), nodes: by("g[data-mg-node]", "data-mg-node"),
           edges: by("g[data-mg-edge]", "data-mg-edge", true) };
}

// A Graphviz edge's path the other way round: its points reversed ("M p0 C p1 p2 p3 ..." stays a chain of curves).
function stepperReversed(path) {
  const n = path.getAttribute("d").match(/-?\d*\.?\d+(?:e-?\d+)?/g), points = [];
  for (let i = 0; i + 1 < n.length; i += 2) points.unshift(n[i] + "," + n[i + 1]);
  return "M" + points[0] + (points.length % 3 === 1 ? "C" : "L") + points.slice(1).join(" ");
}

// Per frame, its terms drawn over the drawing: the way back from the giver to the receiver, its arrowhead, its label.
function stepperTerms(ui, parts, data) {
  const make = stepperMake, layer = make("g", "mg-overlay", undefined, true);
  (ui.svg.querySelector("g.graph") || ui.svg).append(layer);
  return data.frames.map((f, k) => f.terms.map((t, j) => {
    const into = (parts.edges[t.to + ">" + t.op] || [])[t.n], out = (parts.edges["op>" + t.op] || [])[0];
    if (!into) return null;
    const g = layer.appendChild(make("g", "mg-term", undefined, true, { "data-frame": k, "data-term": j }));
    [out, into].forEach((edge) => edge && g.append(make("path", "mg-way", undefined, true,
      { d: stepperReversed(edge.querySelector("path")) })));
    const way = into.querySelector("path"), length = way.getTotalLength();
    const end = way.getPointAtLength(0), from = way.getPointAtLength(Math.min(7, length));
    const dx = end.x - from.x, dy = end.y - from.y, w = 3.5 / (Math.hypot(dx, dy) || 1);
    const mid = way.getPointAtLength(length * (f.terms.length > 1 ? 0.3 : 0.5));  // a sum's terms: apart
    const back = make("rect", "mg-term-back", undefined, true);
    const label = make("text", "mg-term-label", t.text, true, { x: mid.x, y: mid.y - 4, "text-anchor": "middle" });
    g.append(make("polygon", "mg-tip", undefined, true, { points:
      [end.x, end.y, from.x - dy * w, from.y + dx * w, from.x + dy * w, from.y - dx * w].join(" ") }), back, label);
    return { g, label, back, edge: into, t };
  }));
}

// The panel of frame f, its rows linked to the frame's terms.
function stepperPanel(f) {
  const make = stepperMake, table = make("table", "mg-rows"), box = make("div");
  f.rows.forEach((row, i) => {
    const tr = table.appendChild(make("tr", f.links[i] >= 0 ? "mg-linked" : ""));
    tr.append(make("th", "", row[0]), make("td", "", row[1]));
    if (f.links[i] >= 0) tr.setAttribute("data-term", f.links[i]);
  });
  box.append(make("div", "mg-title", f.title), table);
  return box;
}

// Step k shown: the grad texts after it, its giver and receivers, its arrows, the earlier ones faintly, its panel.
function stepperShow(ui, parts, terms, data, k) {
  const frames = data.frames, last = frames.length - 1, f = frames[k], texts = Object.assign({}, data.initial);
  for (let i = 1; i <= k; i++) Object.assign(texts, frames[i].grads);
  Object.entries(parts.gradText).forEach(([id, t]) => {
    t.textContent = texts[id];
    t.classList.toggle("mg-known", texts[id] !== data.initial[id] || id === String(data.root));
    t.classList.toggle("mg-new", id in f.grads);
  });
  const marks = ["mg-from", "mg-to", "mg-under"];
  ui.svg.querySelectorAll(".mg-from, .mg-to, .mg-under").forEach((e) => e.classList.remove(...marks));
  const shown = [parts.nodes[k > 0 ? f.from : data.root]];
  shown[0]?.classList.add("mg-from");
  terms.forEach((frame, i) => frame.forEach((term) => {
    if (!term) return;
    term.g.setAttribute("class", i < k ? "mg-term mg-old" : i === k ? "mg-term mg-now" : "mg-term");
    term.label.textContent = i === k ? term.t.text : term.t.short;
    if (i !== k) return;
    const box = term.label.getBBox();  // an opaque box behind the label: readable over what it crosses
    Object.entries({ x: box.x - 2, y: box.y - 1, width: box.width + 4, height: box.height + 2 })
      .forEach(([name, value]) => term.back.setAttribute(name, value));
    term.edge.classList.add("mg-under");
    shown.push(parts.nodes[term.t.to]);
    shown.at(-1)?.classList.add("mg-to");
  }));
  ui.info.replaceChildren(stepperPanel(f));
  ui.slider.value = String(k);
  ui.counter.textContent = "Step " + k + " of " + last;
  ui.slider.setAttribute("aria-valuetext", ui.counter.textContent);
  ui.prev.disabled = k === 0;
  ui.next.disabled = k === last;
  stepperReveal(ui.canvas, shown.filter(Boolean));
}

function stepperReveal(canvas, shown) {  // scroll the canvas (never the page) to show these nodes, centred
  if (!shown.length) return;
  const c = canvas.getBoundingClientRect(), rs = shown.map((n) => n.getBoundingClientRect());
  const side = (name, pick) => pick(...rs.map((r) => r[name]));
  const [left, right, top, bottom] = [side("left", Math.min), side("right", Math.max), side("top", Math.min),
    side("bottom", Math.max)];
  if (left < c.left || right > c.right) canvas.scrollLeft += (left + right) / 2 - (c.left + c.right) / 2;
  if (top < c.top || bottom > c.bottom) canvas.scrollTop += (top + bottom) / 2 - (c.top + c.bottom) / 2;
}

// The height the stepper may take: its tallest scrolling ancestor's (a notebook's), else the window's under its top.
function stepperRoom(box) {
  let room = 0;
  for (let e = box.parentElement; e && e !== document.body; e = e.parentElement) {
    if (/auto|scroll/.test(getComputedStyle(e).overflowY)) room = Math.max(room, e.clientHeight - 40);
  }
  return room > 200 ? room : window.innerHeight - box.getBoundingClientRect().top - window.scrollY - 12;
}

// Size: the panel as tall as its tallest step (the drawing stays put), the drawing scaled to the room left, but never
// so small that its text is under 9 px (then the canvas scrolls); the zoom buttons override the fit.
function stepperSizing(ui, data) {
  const svg = ui.svg, canvas = ui.canvas, sizing = { zoom: null };
  const [width, height] = ["data-width", "data-height"].map((name) => parseFloat(svg.getAttribute(name)));
  sizing.layout = () => {
    const shown = ui.info.firstChild;
    ui.info.style.minHeight = "";
    ui.info.style.minHeight = Math.max(...data.frames.slice(0, 300).map((f) => {
      ui.info.replaceChildren(stepperPanel(f));
      return ui.info.offsetHeight;
    })) + "px";
    ui.info.replaceChildren(shown || "");
    const chrome = ui.box.getBoundingClientRect().height - canvas.getBoundingClientRect().height;
    const room = Math.max(160, stepperRoom(ui.box) - chrome);
    const fit = Math.min(1, (canvas.clientWidth - 2) / width, room / height);
    const scale = sizing.zoom ?? Math.max(parseFloat(svg.getAttribute("data-min-scale")) || 0.6, fit);
    Object.assign(svg.style, { maxWidth: "none", width: width * scale + "px", height: height * scale + "px" });
    canvas.style.maxHeight = room + 2 + "px";
    ui.fit.setAttribute("aria-pressed", String(sizing.zoom === null));
  };
  const zoom = (to) => { sizing.zoom = to; sizing.layout(); }, scale = () => svg.getBoundingClientRect().width / width;
  ui.zoomIn.addEventListener("click", () => zoom(Math.min(4, scale() * 1.25)));
  ui.zoomOut.addEventListener("click", () => zoom(Math.max(0.1, scale() / 1.25)));
  ui.fit.addEventListener("click", () => zoom(null));
  let drag = null;  // pan by dragging when the drawing is larger than the canvas
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button === 0) drag = { x: e.clientX, y: e.clientY, left: canvas.scrollLeft, top: canvas.scrollTop };
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) canvas.scrollTo(drag.left - (e.clientX - drag.x), drag.top - (e.clientY - drag.y));
  });
  ["pointerup", "pointerleave", "pointercancel"].forEach((n) => canvas.addEventListener(n, () => { drag = null; }));
  return sizing;
}

function renderStepper(model, el) {
  const data = JSON.parse(model.get("data")), last = data.frames.length - 1;
  const ui = stepperElements(el, data, model.get("svg"), last);
  const parts = stepperParts(ui.svg), terms = stepperTerms(ui, parts, data), sizing = stepperSizing(ui, data);
  let current = -1;
  function show(k) {
    current = Math.max(0, Math.min(last, k | 0));
    stepperShow(ui, parts, terms, data, current);
    if (model.get("step") !== current) { model.set("step", current); model.save_changes(); }
  }
  // Hovering a term's row lights its arrow, and hovering an arrow its row.
  const light = (e, on) => {
    const row = e.target.closest?.("[data-term]");
    if (!row || row.hasAttribute("data-frame") && Number(row.getAttribute("data-frame")) !== current) return;
    const j = row.getAttribute("data-term");
    terms[current][j]?.g.classList.toggle("mg-hover", on);
    ui.info.querySelector(`tr[data-term='${j}']`)?.classList.toggle("mg-hover", on);
  };
  [ui.info, ui.svg].forEach((part) => {
    part.addEventListener("mouseover", (e) => light(e, true));
    part.addEventListener("mouseout", (e) => light(e, false));
  });
  ui.prev.addEventListener("click", () => show(current - 1));
  ui.next.addEventListener("click", () => show(current + 1));
  ui.slider.addEventListener("input", () => show(parseInt(ui.slider.value, 10)));
  ui.box.addEventListener("keydown", (e) => {
    const keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last };
    if (!(e.key in keys) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.stopPropagation();  // the notebook must not also act on the key
    if (e.target === ui.slider) return;  // the slider moves itself, and says so through "input"
    e.preventDefault();
    show(keys[e.key]);
  });
  const onModelStep = () => { if (model.get("step") !== current) show(model.get("step")); };
  const relayout = () => { if (sizing.zoom === null) { sizing.layout(); show(current); } };
  model.on("change:step", onModelStep);
  const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(relayout);
  observer?.observe(ui.canvas);
  window.addEventListener("resize", relayout);
  show(model.get("step") || 0);
  relayout();
  return () => {
    observer?.disconnect();
    window.removeEventListener("resize", relayout);
    model.off?.("change:step", onModelStep);
  };
}

// A saved page or a notebook's HTML: the stepper drawn into the element `id` (which shows the drawing as an image
// until then) from the JSON in "<id>-data", on a model kept in the page.
function stepperPage(id, focus) {
  const el = document.getElementById(id), listeners = {};
  const bytes = atob(el.querySelector("img").getAttribute("src").split(",")[1]);
  const values = { data: document.getElementById(id + "-data").textContent, step: 0,
    svg: new TextDecoder().decode(Uint8Array.from(bytes, (c) => c.charCodeAt(0))) };
  renderStepper({
    get: (name) => values[name],
    set: (name, value) => { values[name] = value; (listeners["change:" + name] || []).forEach((f) => f()); },
    save_changes: () => {},
    on: (event, f) => (listeners[event] = listeners[event] || []).push(f),  // a page is never cleaned up
  }, el);
  if (focus) el.querySelector(".mg-stepper").focus();  // a page of its own: the arrow keys work at once
}
"""

STYLE = """
.mg-stepper { font: 14px system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
  max-width: 100%; box-sizing: border-box; outline: none; }
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
.mg-rows { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.mg-rows th { text-align: left; font-weight: normal; color: #57606a; padding: 0 12px 0 0; vertical-align: top;
  white-space: nowrap; }
.mg-rows td { padding: 0; }
.mg-rows tr.mg-linked td { text-decoration: underline dotted #c2255c; }
.mg-rows tr.mg-hover { background: #ffe3ee; }
.mg-canvas { overflow: auto; max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; background: #fff;
  cursor: grab; }
.mg-canvas svg { display: block; }
.mg-canvas g.node.mg-from > :is(polygon, ellipse, path) { stroke: #c2255c; stroke-width: 4px; }
.mg-canvas g.node.mg-to > :is(polygon, ellipse, path) { stroke: #1864ab; stroke-width: 4px; }
.mg-canvas g.edge.mg-under { opacity: 0.3; }
.mg-canvas text.mg-grad { fill: #57606a; }
.mg-canvas text.mg-grad.mg-known { fill: #1f2328; }
.mg-canvas text.mg-grad.mg-new { fill: #1864ab; font-weight: bold; }
.mg-canvas g.mg-term:not(.mg-old, .mg-now), .mg-canvas g.mg-old :is(path, rect, polygon) { display: none; }
.mg-canvas path.mg-way { fill: none; stroke: #c2255c; stroke-width: 2.5px; }
.mg-canvas polygon.mg-tip { fill: #c2255c; }
.mg-canvas g.mg-hover path.mg-way { stroke-width: 4.5px; }
.mg-canvas rect.mg-term-back { fill: #fff; stroke: #c2255c; stroke-width: 1px; rx: 2px; }
.mg-canvas text.mg-term-label { font: 11px Helvetica, Arial, sans-serif; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; fill: #57606a; }
.mg-canvas g.mg-now text.mg-term-label { fill: #a0174b; font-weight: bold; stroke: none; }
.mg-legend { display: flex; flex-wrap: wrap; gap: 14px; margin-top: 4px; color: #57606a; font-size: 12px; }
.mg-key-from::before, .mg-key-to::before, .mg-key-arrow::before { content: ""; display: inline-block; width: 14px;
  height: 10px; margin-right: 5px; vertical-align: -1px; border: 3px solid #c2255c; border-radius: 2px; }
.mg-key-to::before { border-color: #1864ab; }
.mg-key-arrow::before { height: 0; border-width: 2px 0 0; border-radius: 0; }
"""
