// fairtrip's map: GeoJSON layers drawn as SVG, with no tiles and no library.
//
// The base map comes from the server's own data (GET /map/layers/{name}.geojson), so the
// pages work with no internet. Coordinates are projected once, when a layer is set, into
// local metres (equirectangular around the map's centre: at city scale the distortion is
// far below a pixel); panning and zooming only change the SVG viewBox, so the browser
// never re-reads the features. Lines keep their width at every zoom
// (vector-effect: non-scaling-stroke) and point radii are given in screen pixels.
//
//   const map = createMap(containerElement, {bounds: [minLon, minLat, maxLon, maxLat], label: "..."});
//   map.setLayer(name, featureCollection, styleFn)   // styleFn(feature) -> {stroke, fill, width,
//                                                    //   radius, opacity, title, dash, className, attrs}
//   map.removeLayer(name)
//   map.onClick((lon, lat) => ...)                   // click, or Enter on the map centre
//   map.fitBounds([minLon, minLat, maxLon, maxLat])
//   map.element                                      // the <svg>
//
// Keyboard: with the map focused, arrows pan, + and - zoom, 0 shows everything, Enter (or
// Space) picks the point under the cross in the middle.

const SVG_NS = "http://www.w3.org/2000/svg";
const METRES_PER_DEGREE = 111320;
/** a pointer that moved more than this many pixels dragged the map: no click */
const DRAG_PX = 5;

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  return node;
}

function button(text, label, onPress) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.title = label;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onPress);
  return b;
}

/** Create a map in `container`; see the module comment for the interface. */
export function createMap(container, { bounds, label = "Map" } = {}) {
  const [minLon, minLat, maxLon, maxLat] = bounds || [-180, -85, 180, 85];
  const lat0 = (minLat + maxLat) / 2;
  const lon0 = (minLon + maxLon) / 2;
  const kx = METRES_PER_DEGREE * Math.cos((lat0 * Math.PI) / 180);
  const ky = METRES_PER_DEGREE;

  const project = (lon, lat) => [(lon - lon0) * kx, -(lat - lat0) * ky];
  const unproject = (x, y) => [x / kx + lon0, -y / ky + lat0];

  container.classList.add("map");
  const helpId = `map-help-${Math.random().toString(36).slice(2, 8)}`;
  const svg = svgEl("svg", {
    role: "application",
    "aria-label": label,
    "aria-describedby": helpId,
    tabindex: 0,
    class: "map-svg",
  });
  const layersRoot = svgEl("g", { class: "map-layers" });
  svg.append(layersRoot);
  const cross = svgEl("g", { class: "map-cross", "aria-hidden": "true" });
  cross.append(svgEl("line", {}), svgEl("line", {}));
  svg.append(cross);

  const help = document.createElement("p");
  help.id = helpId;
  help.className = "visually-hidden";
  help.textContent =
    "Arrow keys move the map, plus and minus zoom, 0 shows everything, " +
    "Enter picks the point under the cross in the middle.";

  const controls = document.createElement("div");
  controls.className = "map-controls";
  controls.append(
    button("+", "Zoom in", () => zoomBy(1.5)),
    button("−", "Zoom out", () => zoomBy(1 / 1.5)),
    button("⤢", "Show the whole area", () => fitBounds(bounds)),
  );
  container.append(svg, controls, help);

  const view = { cx: 0, cy: 0, scale: 0.01 }; // scale: pixels per metre
  let minScale = 0.001;
  const maxScale = 20;
  const layers = new Map(); // name -> <g>
  const clickHandlers = [];

  function size() {
    const r = svg.getBoundingClientRect();
    return [r.width || 800, r.height || 500];
  }

  function render() {
    const [w, h] = size();
    const vw = w / view.scale;
    const vh = h / view.scale;
    svg.setAttribute("viewBox", `${view.cx - vw / 2} ${view.cy - vh / 2} ${vw} ${vh}`);
    // the cross in the middle, 10 px each way, at any zoom
    const arm = 10 / view.scale;
    const [l1, l2] = cross.children;
    for (const [line, x1, y1, x2, y2] of [
      [l1, view.cx - arm, view.cy, view.cx + arm, view.cy],
      [l2, view.cx, view.cy - arm, view.cx, view.cy + arm],
    ]) {
      line.setAttribute("x1", x1);
      line.setAttribute("y1", y1);
      line.setAttribute("x2", x2);
      line.setAttribute("y2", y2);
    }
    for (const c of svg.querySelectorAll("circle[data-r]")) {
      c.setAttribute("r", Number(c.dataset.r) / view.scale);
    }
  }

  function fitBounds(bbox) {
    const [a, b, c, d] = bbox;
    const [x1, y1] = project(a, d);
    const [x2, y2] = project(c, b);
    const [w, h] = size();
    const spanX = Math.max(x2 - x1, 50);
    const spanY = Math.max(y2 - y1, 50);
    view.cx = (x1 + x2) / 2;
    view.cy = (y1 + y2) / 2;
    view.scale = Math.min(maxScale, 0.95 * Math.min(w / spanX, h / spanY));
    if (bbox === bounds) minScale = view.scale / 4;
    render();
  }

  function zoomBy(factor, atX = view.cx, atY = view.cy) {
    const next = Math.min(maxScale, Math.max(minScale, view.scale * factor));
    const applied = next / view.scale;
    // keep the world point under (atX, atY) where it is on screen
    view.cx = atX + (view.cx - atX) / applied;
    view.cy = atY + (view.cy - atY) / applied;
    view.scale = next;
    render();
  }

  function panBy(dxPx, dyPx) {
    view.cx += dxPx / view.scale;
    view.cy += dyPx / view.scale;
    render();
  }

  function toWorld(clientX, clientY) {
    const ctm = svg.getScreenCTM();
    if (!ctm) return [view.cx, view.cy];
    const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
    return [p.x, p.y];
  }

  function emitClick(x, y) {
    const [lon, lat] = unproject(x, y);
    for (const handler of clickHandlers) handler(lon, lat);
  }

  // --- pointer: drag pans, a click without drag picks a point -----------------------------
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, cx: view.cx, cy: view.cy, moved: false, id: ev.pointerId };
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag || drag.id !== ev.pointerId) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) > DRAG_PX) {
      drag.moved = true;
      svg.setPointerCapture(ev.pointerId);
      svg.classList.add("dragging");
    }
    if (drag.moved) {
      view.cx = drag.cx - dx / view.scale;
      view.cy = drag.cy - dy / view.scale;
      render();
    }
  });
  const endDrag = (ev) => {
    if (!drag || drag.id !== ev.pointerId) return;
    const wasClick = !drag.moved && ev.type === "pointerup";
    drag = null;
    svg.classList.remove("dragging");
    if (wasClick) {
      const [x, y] = toWorld(ev.clientX, ev.clientY);
      emitClick(x, y);
    }
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const [x, y] = toWorld(ev.clientX, ev.clientY);
      zoomBy(Math.pow(1.2, -ev.deltaY / 100), x, y);
    },
    { passive: false },
  );

  // --- keyboard ------------------------------------------------------------------------------
  svg.addEventListener("keydown", (ev) => {
    const [w, h] = size();
    const step = { ArrowLeft: [-w / 8, 0], ArrowRight: [w / 8, 0], ArrowUp: [0, -h / 8], ArrowDown: [0, h / 8] };
    if (step[ev.key]) panBy(...step[ev.key]);
    else if (ev.key === "+" || ev.key === "=") zoomBy(1.5);
    else if (ev.key === "-" || ev.key === "_") zoomBy(1 / 1.5);
    else if (ev.key === "0") fitBounds(bounds);
    else if (ev.key === "Enter" || ev.key === " ") emitClick(view.cx, view.cy);
    else return;
    ev.preventDefault();
  });

  new ResizeObserver(() => render()).observe(svg);

  // --- layers --------------------------------------------------------------------------------
  const r1 = (v) => Math.round(v * 10) / 10;

  function ringPath(coords, close) {
    let d = "";
    coords.forEach(([lon, lat], i) => {
      const [x, y] = project(lon, lat);
      d += `${i ? "L" : "M"}${r1(x)} ${r1(y)}`;
    });
    return close ? d + "Z" : d;
  }

  function pathOf(geometry) {
    const c = geometry.coordinates;
    switch (geometry.type) {
      case "LineString":
        return ringPath(c, false);
      case "MultiLineString":
        return c.map((line) => ringPath(line, false)).join("");
      case "Polygon":
        return c.map((ring) => ringPath(ring, true)).join("");
      case "MultiPolygon":
        return c.map((poly) => poly.map((ring) => ringPath(ring, true)).join("")).join("");
      default:
        return "";
    }
  }

  function pointsOf(geometry) {
    if (geometry.type === "Point") return [geometry.coordinates];
    if (geometry.type === "MultiPoint") return geometry.coordinates;
    return [];
  }

  function decorate(node, style) {
    if (style.className) node.setAttribute("class", style.className);
    if (style.opacity !== undefined) node.setAttribute("opacity", style.opacity);
    for (const [k, v] of Object.entries(style.attrs || {})) node.setAttribute(k, v);
    if (style.title) {
      const t = svgEl("title");
      t.textContent = style.title;
      node.append(t);
    }
  }

  function linePath(d, style, filled) {
    const node = svgEl("path", {
      d,
      fill: filled ? style.fill || "none" : "none",
      stroke: style.stroke || "none",
      "stroke-width": style.width ?? 1,
      "stroke-dasharray": style.dash,
      "fill-rule": "evenodd",
      "vector-effect": "non-scaling-stroke",
      "stroke-linejoin": "round",
      "stroke-linecap": "round",
    });
    decorate(node, style);
    return node;
  }

  function circle([lon, lat], style) {
    const [x, y] = project(lon, lat);
    const radius = style.radius ?? 4;
    const node = svgEl("circle", {
      cx: r1(x),
      cy: r1(y),
      r: radius / view.scale,
      "data-r": radius,
      fill: style.fill || "#333",
      stroke: style.stroke || "none",
      "stroke-width": style.width ?? 1,
      "vector-effect": "non-scaling-stroke",
    });
    decorate(node, style);
    return node;
  }

  /**
   * Draw `fc` as layer `name` (replacing a layer of that name in place, so the drawing
   * order stays the order layers were first set). Lines and polygons with the same style
   * and no title are merged into one <path>: a street map of thousands of lines is then
   * a handful of elements.
   */
  function setLayer(name, fc, styleFn = () => ({})) {
    const group = svgEl("g", { class: "map-layer", "data-layer": name });
    const merged = new Map(); // style key -> [style, d parts, filled]
    for (const feature of fc.features || []) {
      if (!feature.geometry) continue;
      const style = styleFn(feature) || {};
      const g = feature.geometry;
      const pts = pointsOf(g);
      if (pts.length) {
        for (const p of pts) group.append(circle(p, style));
        continue;
      }
      const filled = g.type === "Polygon" || g.type === "MultiPolygon";
      const d = pathOf(g);
      if (!d) continue;
      if (style.title || style.attrs || style.className) {
        group.append(linePath(d, style, filled));
      } else {
        const key = JSON.stringify(style) + filled;
        if (!merged.has(key)) merged.set(key, [style, [], filled]);
        merged.get(key)[1].push(d);
      }
    }
    for (const [style, parts, filled] of merged.values()) {
      group.prepend(linePath(parts.join(""), style, filled));
    }
    const old = layers.get(name);
    if (old) old.replaceWith(group);
    else layersRoot.append(group);
    layers.set(name, group);
    return group;
  }

  function removeLayer(name) {
    const old = layers.get(name);
    if (old) old.remove();
    layers.delete(name);
  }

  fitBounds(bounds || [minLon, minLat, maxLon, maxLat]);

  return {
    element: svg,
    setLayer,
    removeLayer,
    hasLayer: (name) => layers.has(name),
    onClick: (handler) => clickHandlers.push(handler),
    fitBounds,
    zoomBy,
    project,
    unproject,
  };
}
