"""The stepper's browser side: ``renderStepper(model, el)`` draws it into `el` from anywidget's model or a saved page's
(``stepperPage``). Nothing is fetched; every label goes in through ``textContent``, so it always shows as text."""

SCRIPT = r"""
"use strict";
// An element with its class, text and attributes; with svg, an SVG element.
function stepperMake(tag, cls, text, attributes, svg) {
  const e = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  if (cls) e.setAttribute("class", cls);
  if (text !== undefined) e.textContent = text;
  for (const [name, value] of Object.entries(attributes || {})) e.setAttribute(name, value);
  return e;
}

// The stepper in `el`: its controls, panel, canvas and legend (data-lm-suppress-shortcuts: ours are the arrow keys).
function stepperElements(el, data) {
  const button = (name, text, cls = "") =>
    `<button type="button" class="mg-button ${cls}" aria-label="${name}" title="${name}">${text}</button>`;
  el.innerHTML = `<div class="mg-stepper" tabindex="0" role="group" data-lm-suppress-shortcuts="true">
    <div class="mg-bar">${button("Previous", "\u25C0 Previous")}
      <input class="mg-slider" type="range" min="0" step="1" aria-label="Step">
      ${button("Next", "Next \u25B6")}<span class="mg-counter"></span><select class="mg-by" aria-label="Step by">
      <option value="value">step by value</option><option value="neuron">by neuron</option>
      <option value="layer">by layer</option></select><label class="mg-fold-box"><input type="checkbox"
      class="mg-fold"> fold sums</label>${button("Zoom out", "\u2212", "mg-zoom")}
      ${button("Fit", "Fit", "mg-zoom")}${button("Zoom in", "+", "mg-zoom")}</div>
    <div class="mg-info" aria-live="polite"></div><div class="mg-canvas"></div>
    <div class="mg-legend"><span class="mg-key mg-key-from">passes its gradient on</span>
      <span class="mg-key mg-key-to">receives it</span>
      <span class="mg-key mg-key-arrow">its way back: upstream \u00d7 local = contribution</span>
      <span class="mg-key">keys: \u2190 \u2192 Home End; drag to pan</span></div></div>`;
  const [prev, next, zoomOut, fit, zoomIn] = el.querySelectorAll("button"), get = (c) => el.querySelector(".mg-" + c);
  const ui = { prev, next, zoomOut, fit, zoomIn, box: get("stepper"), slider: get("slider"), counter: get("counter"),
               info: get("info"), canvas: get("canvas"), by: get("by"), fold: get("fold") };
  ui.box.setAttribute("aria-label", data.title);
  if (data.delta) get("legend").append(stepperMake("span", "mg-key", data.delta));
  return ui;
}

// The drawing in the canvas (microgrid's own: labels were escaped there), its parts by node number (see
// microgrid.drawing.steps._mark_svg); edges in lists: a * a has two.
function stepperCanvas(ui, svgText) {
  ui.canvas.innerHTML = svgText;
  ui.svg = ui.canvas.querySelector("svg");
  const edges = {}, all = (selector) => ui.svg.querySelectorAll(selector);
  const byNode = (selector) => Object.fromEntries([...all(selector)].map((e) => [e.dataset.mgNode, e]));
  all("g[data-mg-edge]").forEach((e) => (edges[e.dataset.mgEdge] ||= []).push(e));
  return Object.assign(ui, { grads: byNode("text.mg-grad"), nodes: byNode("g[data-mg-node]"), edges, obstacles: null });
}

// A Graphviz edge's path the other way round: its points reversed ("M p0 C p1 p2 p3 ..." stays a chain of curves).
function stepperReversed(edge) {
  const n = edge.querySelector("path").getAttribute("d").match(/-?\d*\.?\d+(?:e-?\d+)?/g), points = [];
  for (let i = 0; i + 1 < n.length; i += 2) points.unshift(n[i] + "," + n[i + 1]);
  return "M" + points[0] + (points.length % 3 === 1 ? "C" : "L") + points.slice(1).join(" ");
}

// Per frame, its terms drawn over the drawing: the way back from the giver to the receiver, its arrowhead, its label.
function stepperTerms(ui, data) {
  const svg = (tag, cls, attributes, text) => stepperMake(tag, cls, text, attributes, true);
  const layer = (ui.svg.querySelector("g.graph") || ui.svg).appendChild(svg("g", "mg-overlay"));
  return data.frames.map((f, k) => f.terms.map((t, j) => {
    const into = (ui.edges[t.to + ">" + t.op] || [])[t.n], out = (ui.edges["op>" + t.op] || [])[0];
    if (!into) return null;
    const g = layer.appendChild(svg("g", "mg-term", { "data-frame": k, "data-term": j }));
    for (const edge of [out, into].filter(Boolean)) g.append(svg("path", "mg-way", { d: stepperReversed(edge) }));
    const way = into.querySelector("path"), length = way.getTotalLength();
    const end = way.getPointAtLength(0), from = way.getPointAtLength(Math.min(7, length));
    const dx = end.x - from.x, dy = end.y - from.y, w = 3.5 / (Math.hypot(dx, dy) || 1);
    const tip = [end.x, end.y, from.x - dy * w, from.y + dx * w, from.x + dy * w, from.y - dx * w].join(" ");
    const back = svg("rect", "mg-term-back"), label = svg("text", "mg-term-label", { "text-anchor": "middle" });
    g.append(svg("polygon", "mg-tip", { points: tip }), back, label);
    return { g, label, back, edge: into, t };
  }));
}

// Where a term's label covers no node (a name counts twice) and no label in `taken`: along its edge, above or below
// it; its short text where the long one finds no room; else where it covers least. Measured once the drawing shows.
function stepperPlace(ui, term, texts, taken, known) {
  const boxes = (selector) => [...ui.svg.querySelectorAll(selector)].map((e) => e.getBBox());
  if (ui.svg.isConnected) ui.obstacles ||= boxes("g.node, g.node text:first-of-type");
  const way = term.edge.querySelector("path"), length = way.getTotalLength(), label = term.label;
  const drawing = boxes("g.graph > polygon")[0];  // the background: a label past it is clipped
  const put = (text, x, y) => { label.textContent = text; label.setAttribute("x", x); label.setAttribute("y", y); };
  const apart = (a, b, x, w) => Math.max(0, Math.min(a[x] + a[w], b[x] + b[w]) - Math.max(a[x], b[x]) + 3);
  let best = known?.b.width ? known : null;
  const spots = () => texts.flatMap((text) => [0.5, 0.3, 0.7, 0.1, 0.9].flatMap((at) =>
    [-4, 12, -18, 26, -34, 42].map((dy) => [text, way.getPointAtLength(length * at), dy])));
  for (const [text, p, dy] of best ? [] : spots()) {
    put(text, p.x, p.y + dy);
    const b = label.getBBox(), overlap = (o) => apart(b, o, "x", "width") * apart(b, o, "y", "height");
    const cover = (ui.obstacles || []).concat(taken).reduce((sum, o) => sum + overlap(o), 0)
      + 1e3 * (overlap(b) - overlap(drawing ?? b));
    if (!best || cover < best.cover) best = { cover, text, x: p.x, y: p.y + dy, b };
    if (!cover) break;
  }
  put(best.text, best.x, best.y);
  return best;
}

// The panel of frame f, its rows linked to the frame's terms.
function stepperPanel(f) {
  const make = stepperMake, table = make("table", "mg-rows"), box = make("div");
  f.rows.forEach(([label, text], i) => {
    const linked = f.links[i] >= 0 ? { "data-term": f.links[i] } : undefined;
    const tr = table.appendChild(make("tr", linked ? "mg-linked" : "", undefined, linked));
    tr.append(make("th", "", label), make("td", "", text));
  });
  box.append(make("div", "mg-title", f.title), table);
  return box;
}

// Step k shown: the grad texts after it, its giver and receivers, its arrows, the earlier ones faintly, its panel.
function stepperShow(ui, terms, data, k) {
  const f = data.frames[k], last = data.frames.length - 1, texts = Object.assign({}, data.initial);
  data.frames.slice(1, k + 1).forEach((frame) => Object.assign(texts, frame.grads));
  for (const [id, t] of Object.entries(ui.grads)) {
    t.textContent = texts[id];
    t.classList.toggle("mg-known", texts[id] !== data.initial[id] || id === String(data.root));
    t.classList.toggle("mg-new", id in f.grads);
  }
  const marks = ["mg-from", "mg-to", "mg-under"], taken = [];
  ui.svg.querySelectorAll(".mg-from, .mg-to, .mg-under").forEach((e) => e.classList.remove(...marks));
  const givers = k > 0 ? f.givers || [f.from] : [data.root], shown = givers.map((i) => ui.nodes[i]);
  terms.forEach((frame, i) => frame.forEach((term) => {
    if (!term) return;
    term.g.setAttribute("class", i < k ? "mg-term mg-old" : i === k ? "mg-term mg-now" : "mg-term");
    if (i < k) term.old = stepperPlace(ui, term, [term.t.short], [], term.old);
    if (i !== k) return;
    const box = stepperPlace(ui, term, [term.t.text, ...(f.givers ? [term.t.short] : [])], taken).b;
    taken.push(box);  // and an opaque box behind: readable over what it crosses
    Object.entries({ x: box.x - 2, y: box.y - 1, width: box.width + 4, height: box.height + 2 })
      .forEach(([name, value]) => term.back.setAttribute(name, value));
    term.edge.classList.add("mg-under");
    if (!givers.includes(term.t.to)) shown.push(ui.nodes[term.t.to]);
  }));
  shown.forEach((node, i) => node?.classList.add(i < givers.length ? "mg-from" : "mg-to"));
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
  for (const [start, end, scroll] of [["left", "right", "scrollLeft"], ["top", "bottom", "scrollTop"]]) {
    const from = Math.min(...rs.map((r) => r[start])), to = Math.max(...rs.map((r) => r[end]));
    if (from < c[start] || to > c[end]) canvas[scroll] += (from + to) / 2 - (c[start] + c[end]) / 2;
  }
}

// Size: the panel as tall as its tallest step (the drawing stays put), the drawing scaled to the room left, but never
// so small that its text is under 9 px (then the canvas scrolls); the zoom buttons override the fit.
function stepperSizing(ui, data) {
  const canvas = ui.canvas, sizing = { zoom: null }, width = () => parseFloat(ui.svg.dataset.width);
  sizing.layout = () => {
    const svg = ui.svg, height = parseFloat(svg.dataset.height), shown = ui.info.firstChild;
    ui.info.style.minHeight = "";
    ui.info.style.minHeight = Math.max(...data.frames.slice(0, 300).map((f) => {
      ui.info.replaceChildren(stepperPanel(f));
      return ui.info.offsetHeight;
    })) + "px";
    ui.info.replaceChildren(shown || "");
    let room = 0;  // the height of the tallest scrolling ancestor (a notebook's), else the window's under the stepper
    for (let e = ui.box.parentElement; e && e !== document.body; e = e.parentElement) {
      if (/auto|scroll/.test(getComputedStyle(e).overflowY)) room = Math.max(room, e.clientHeight - 40);
    }
    if (room <= 200) room = window.innerHeight - ui.box.getBoundingClientRect().top - window.scrollY - 12;
    room = Math.max(160, room - (ui.box.getBoundingClientRect().height - canvas.getBoundingClientRect().height));
    const fit = Math.min(1, (canvas.clientWidth - 2) / width(), room / height);
    const scale = sizing.zoom ?? Math.max(parseFloat(svg.dataset.minScale) || 0.6, fit);
    Object.assign(svg.style, { maxWidth: "none", width: width() * scale + "px", height: height * scale + "px" });
    canvas.style.maxHeight = room + 2 + "px";
    ui.fit.setAttribute("aria-pressed", String(sizing.zoom === null));
  };
  const zoom = (to) => { sizing.zoom = to; sizing.layout(); };
  const scale = () => ui.svg.getBoundingClientRect().width / width();
  ui.zoomIn.onclick = () => zoom(Math.min(4, scale() * 1.25));
  ui.zoomOut.onclick = () => zoom(Math.max(0.1, scale() / 1.25));
  ui.fit.onclick = () => zoom(null);
  let drag = null;  // pan by dragging when the drawing is larger than the canvas
  canvas.onpointerdown = (e) => {
    drag = e.button === 0 && { x: e.clientX + canvas.scrollLeft, y: e.clientY + canvas.scrollTop };
  };
  canvas.onpointermove = (e) => drag && canvas.scrollTo(drag.x - e.clientX, drag.y - e.clientY);
  canvas.onpointerup = canvas.onpointerleave = canvas.onpointercancel = () => { drag = null; };
  return sizing;
}

// An SVG drawing from its base64 (the saved page's image, the drawing for the other folding).
const stepperDecode = (base64) => new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));

function renderStepper(model, el) {
  const data = JSON.parse(model.get("data")), views = { ...data.views, [data.start]: { frames: data.frames } };
  const ui = stepperElements(el, data), sizing = stepperSizing(ui, data);
  let current = model.get("step") || 0, last = 0, terms = [], drawn = -1;
  ui.fold.checked = data.start === "fold";
  ui.by.hidden = !views.neuron;
  function view() {  // the frames, and the drawing they need: by value folded or not, by neuron, by layer
    const v = views[ui.by.value === "value" ? (ui.fold.checked ? "fold" : "all") : ui.by.value];
    const other = Number(!!v.other);
    if (drawn !== other) stepperCanvas(ui, (drawn = other) ? stepperDecode(data.other) : model.get("svg"));
    else ui.svg.querySelector(".mg-overlay").remove();
    data.frames = v.frames;
    last = v.frames.length - 1;
    terms = stepperTerms(ui, data);
    ui.slider.max = String(last);
    ui.fold.parentElement.hidden = ui.by.value !== "value" || !(views.fold && views.all);
  }
  view();
  function show(k) {
    current = Math.max(0, Math.min(last, k | 0));
    stepperShow(ui, terms, data, current);
    if (model.get("step") !== current) { model.set("step", current); model.save_changes(); }
  }
  // Hovering a term's row lights its arrow, and hovering an arrow its row.
  const light = (e, on) => {
    const row = e.target.closest?.("[data-term]");
    if (!row || Number(row.dataset.frame ?? current) !== current) return;
    terms[current][row.dataset.term]?.g.classList.toggle("mg-hover", on);
    ui.info.querySelector(`tr[data-term='${row.dataset.term}']`)?.classList.toggle("mg-hover", on);
  };
  ui.info.onmouseover = ui.canvas.onmouseover = (e) => light(e, true);
  ui.info.onmouseout = ui.canvas.onmouseout = (e) => light(e, false);
  ui.by.onchange = ui.fold.onchange = () => { view(); sizing.layout(); show(0); };
  ui.prev.onclick = () => show(current - 1);
  ui.next.onclick = () => show(current + 1);
  ui.slider.oninput = () => show(parseInt(ui.slider.value, 10));
  ui.box.onkeydown = (e) => {
    const keys = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last };
    if (!(e.key in keys) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.stopPropagation();  // the notebook must not also act on the key
    if (e.target === ui.slider || e.target === ui.by) return;  // the slider moves itself, and says so through "input"
    e.preventDefault();
    show(keys[e.key]);
  };
  const onModelStep = () => { if (model.get("step") !== current) show(model.get("step")); };
  const relayout = () => { if (sizing.zoom === null) { sizing.layout(); show(current); } };
  const observer = new ResizeObserver(relayout);
  observer.observe(ui.canvas);
  model.on("change:step", onModelStep);
  window.addEventListener("resize", relayout);
  relayout();  // and shows the step
  return () => {
    observer.disconnect();
    window.removeEventListener("resize", relayout);
    model.off?.("change:step", onModelStep);
  };
}

// A saved page or a notebook's HTML: the stepper in the element `id` (an image till then), its data in "<id>-data".
function stepperPage(id, focus) {
  const el = document.getElementById(id);
  const values = { data: document.getElementById(id + "-data").textContent,
    svg: stepperDecode(el.querySelector("img").getAttribute("src").split(",")[1]) };
  renderStepper({ get: (name) => values[name], set: (name, value) => { values[name] = value; },
    save_changes() {}, on() {} }, el);
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
.mg-canvas { overflow: auto; border: 1px solid #d0d7de; border-radius: 4px; background: #fff; cursor: grab; }
.mg-canvas svg { display: block; }
.mg-canvas g.node.mg-from > :is(polygon, ellipse, path) { stroke: #c2255c; stroke-width: 4px; }
.mg-canvas g.node.mg-to > :is(polygon, ellipse, path) { stroke: #0b5394; stroke-width: 4px; }
.mg-canvas g.edge.mg-under { opacity: 0.3; }
.mg-canvas text.mg-grad { fill: #4d5761; }
.mg-canvas text.mg-grad.mg-known { fill: #1f2328; }
.mg-canvas text.mg-grad.mg-new { fill: #0b5394; font-weight: bold; }
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
.mg-key-to::before { border-color: #0b5394; }
.mg-key-arrow::before { height: 0; border-width: 2px 0 0; border-radius: 0; }
"""
