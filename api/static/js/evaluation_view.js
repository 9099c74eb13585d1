// An evaluation document (GET /evaluations/{id}/result) drawn in the policy workspace: the
// summary table, Lorenz curves, maps of price change by zone and the winners and losers.
//
// It shows what the HTML report (pricing/report.py) shows, computed here from the same JSON:
// the API serves the document once and the page needs no second, chart-shaped endpoint. The
// scenarios are columns side by side; the status quo is always the first.

import { el, formatMoney } from "./common.js";

const SVG_NS = "http://www.w3.org/2000/svg";
/** Points drawn per Lorenz curve: the curve is monotone, a fixed grid loses nothing visible. */
const LORENZ_POINTS = 101;
/** How many zones the "largest increases" table lists per scenario (as the report). */
const TOP_INCREASES = 10;
/** Status quo dark grey, then colour-blind-friendly scenario colours (as the report). */
const COLOURS = ["#444444", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00"];
const ZONE_CLASSES = ["central", "peripheral"];
const NO_DATA = "#dddddd";

// -- formatting -------------------------------------------------------------------------------

/**
 * Minor units (averages arrive as floats) as "1234.56 EUR"; `signed` adds "+" to increases.
 * Rounded to a whole minor unit first, so a display never shows float noise.
 */
export function money(minor, currency, signed = false) {
  const whole = Math.round(minor);
  const sign = whole < 0 ? "−" : signed && whole > 0 ? "+" : "";
  return `${sign}${formatMoney(Math.abs(whole), currency)}`;
}

function percent(fraction, digits = 1, signed = false) {
  const text = (fraction * 100).toFixed(digits);
  if (Number(text) === 0) return `${(0).toFixed(digits)}%`;
  return `${signed && fraction > 0 ? "+" : ""}${text.replace("-", "−")}%`;
}

function count(value) {
  return Math.round(value).toLocaleString("en-GB");
}

/** A solved free parameter as "charge = 2.80 EUR" or "surcharge_pct = 19.22". */
export function solvedText(solved, currency) {
  if (!solved) return "— (not solved)";
  const name = solved.parameter;
  const value = name.endsWith("_minor")
    ? money(solved.value, currency)
    : Number(solved.value).toPrecision(4);
  return `${name.replace(/_minor$/, "")} = ${value}`;
}

// -- summary ------------------------------------------------------------------------------------

/** [group, label, cell(scenario)] rows, in the report's order. */
function summaryRows(doc) {
  const currency = doc.settings.currency;
  const noIncome = "n/a — no income in demand";
  const threshold = doc.settings.affordability_threshold;
  const over = typeof threshold === "number" ? `spending over ${percent(threshold, 0)}` : "over threshold";
  const m = (key, cls) => (s) => money(s[key][cls], currency);
  const afford = (key) => (s) => (s.affordability === null ? noIncome : percent(s.affordability[key]));
  return [
    ["Revenue", "Revenue", (s) => money(s.revenue_minor, currency)],
    ["", "Revenue change vs status quo", (s) => percent(s.revenue_change, 2, true)],
    ["", "Solved parameter", (s) => solvedText(s.solved, currency)],
    ["", "Trips", (s) => count(s.trips)],
    ["Prices", "Mean price, central", m("mean_price_minor", "central")],
    ["", "Mean price, peripheral", m("mean_price_minor", "peripheral")],
    ["", "Mean price, all trips", m("mean_price_minor", "all")],
    ["", "Gap (peripheral − central)",
      (s) => money(s.mean_price_minor.peripheral - s.mean_price_minor.central, currency, true)],
    ["", "Price per km, central", (s) => `${money(s.price_per_km_minor.central, currency)}/km`],
    ["", "Price per km, peripheral", (s) => `${money(s.price_per_km_minor.peripheral, currency)}/km`],
    ["Equity", "Gini", (s) => s.gini.toFixed(3)],
    ["", "Theil (share between classes)",
      (s) => `${s.theil.total.toFixed(4)} (${percent(s.theil.between_share, 0)} between classes)`],
    ["", "Suits", (s) => (s.suits === null ? noIncome : `${s.suits >= 0 ? "+" : "−"}${Math.abs(s.suits).toFixed(3)}`)],
    ["", "Affordability: mean share of income", afford("mean_share")],
    ["", `Affordability: people ${over} of income`, afford("share_over_threshold")],
    ["Access", "Accessibility, central", (s) => count(s.accessibility.central)],
    ["", "Accessibility, peripheral", (s) => count(s.accessibility.peripheral)],
  ];
}

/** The summary table: one row per metric, one column per scenario. */
export function renderSummary(table, doc) {
  const head = el("tr", {}, el("td", {}),
    ...doc.scenarios.map((s, i) => el("th", { scope: "col" },
      el("span", { class: "ws-key", style: `background:${colour(i)}`, "aria-hidden": "true" }),
      s.name)));
  const body = summaryRows(doc).map(([group, label, cell]) => el("tr", { class: group ? "ws-group-start" : "" },
    el("th", { scope: "row" }, group ? el("span", { class: "ws-group" }, `${group}: `) : null, label),
    ...doc.scenarios.map((s) => el("td", { class: "num" }, cell(s)))));
  table.replaceChildren(
    el("caption", {}, `Summary of ${doc.scenarios.length} scenarios` +
      (doc.demand.synthetic ? " (SYNTHETIC demand)" : "")),
    el("thead", {}, head),
    el("tbody", {}, ...body));
}

function colour(index) {
  return COLOURS[index % COLOURS.length];
}

// -- Lorenz curves ------------------------------------------------------------------------------

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** y at `x` on the polyline (xs ascending), linear between the neighbouring points. */
function interpolate(xs, ys, x) {
  let lo = 0;
  let hi = xs.length - 1;
  if (x <= xs[lo]) return ys[lo];
  if (x >= xs[hi]) return ys[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid; else hi = mid;
  }
  const span = xs[hi] - xs[lo];
  return span === 0 ? ys[hi] : ys[lo] + ((ys[hi] - ys[lo]) * (x - xs[lo])) / span;
}

/** The scenarios' Lorenz curves as an SVG chart with axes and a legend. */
export function renderLorenz(container, doc) {
  const size = 300;
  const pad = { left: 46, right: 12, top: 12, bottom: 40 };
  const x = (v) => pad.left + v * size;
  const y = (v) => pad.top + (1 - v) * size;
  const chart = svg("svg", {
    viewBox: `0 0 ${pad.left + size + pad.right} ${pad.top + size + pad.bottom}`,
    role: "img", "aria-labelledby": "lorenz-title", class: "ws-lorenz",
  });
  chart.append(svg("title", { id: "lorenz-title" },
    `Lorenz curves: ${doc.scenarios.map((s) => `${s.name}, Gini ${s.gini.toFixed(3)}`).join("; ")}`));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(
      svg("line", { x1: x(0), x2: x(1), y1: y(t), y2: y(t), class: "grid" }),
      svg("line", { x1: x(t), x2: x(t), y1: y(0), y2: y(1), class: "grid" }),
      svg("text", { x: x(t), y: y(0) + 16, "text-anchor": "middle" }, `${t * 100}%`),
      svg("text", { x: x(0) - 6, y: y(t) + 4, "text-anchor": "end" }, `${t * 100}%`));
  }
  chart.append(
    svg("rect", { x: x(0), y: y(1), width: size, height: size, class: "frame" }),
    svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "equality" }),
    svg("text", { x: x(0.5), y: y(0) + 34, "text-anchor": "middle" }, "Cumulative share of trips (cheapest first)"),
    svg("text", { x: 12, y: y(0.5), "text-anchor": "middle", transform: `rotate(-90 12 ${y(0.5)})` },
      "Cumulative share of fares paid"));
  doc.scenarios.forEach((s, i) => {
    const xs = s.lorenz.population_share;
    const ys = s.lorenz.cost_share;
    const points = [];
    for (let k = 0; k < LORENZ_POINTS; k += 1) {
      const t = k / (LORENZ_POINTS - 1);
      points.push(`${x(t).toFixed(1)},${y(interpolate(xs, ys, t)).toFixed(1)}`);
    }
    chart.append(svg("polyline", {
      points: points.join(" "), fill: "none", stroke: colour(i),
      "stroke-width": i === 0 ? 1.5 : 2, "stroke-dasharray": i === 0 ? "5 3" : "none",
      "data-scenario": s.policy_id,
    }));
  });
  const legend = el("ul", { class: "ws-legend" },
    el("li", {}, el("span", { class: "swatch swatch-equality", "aria-hidden": "true" }), "equality"),
    ...doc.scenarios.map((s, i) => el("li", {},
      el("span", { class: "ws-key", style: `background:${colour(i)}`, "aria-hidden": "true" }),
      `${s.name} (Gini ${s.gini.toFixed(3)})`)));
  container.replaceChildren(chart, legend);
}

// -- maps of price change -----------------------------------------------------------------------

/** Every outer and inner ring of a Polygon or MultiPolygon, as [lon, lat] arrays. */
function rings(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

/** A projection of the zones' extent into a w×h box (equirectangular, scaled by cos(lat)). */
function projection(features, width) {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const f of features) {
    for (const ring of rings(f.geometry)) {
      for (const [lon, lat] of ring) {
        minX = Math.min(minX, lon); maxX = Math.max(maxX, lon);
        minY = Math.min(minY, lat); maxY = Math.max(maxY, lat);
      }
    }
  }
  const k = Math.cos(((minY + maxY) / 2) * (Math.PI / 180));
  const spanX = Math.max((maxX - minX) * k, 1e-9);
  const spanY = Math.max(maxY - minY, 1e-9);
  const scale = width / spanX;
  return {
    height: spanY * scale,
    point: ([lon, lat]) => [((lon - minX) * k * scale).toFixed(1), ((maxY - lat) * scale).toFixed(1)],
  };
}

/**
 * Red for dearer, green for cheaper, pale yellow for no change; `t` in [-1, 1]. Three stops
 * of the report's RdYlGn_r scale, interpolated in RGB.
 */
function diverging(t) {
  const stops = [[26, 152, 80], [255, 255, 191], [215, 48, 39]];
  const u = Math.max(-1, Math.min(1, t));
  const [a, b, f] = u < 0 ? [stops[1], stops[0], -u] : [stops[1], stops[2], u];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function changeMap(doc, index, limit, width) {
  const scenario = doc.scenarios[index];
  const currency = doc.settings.currency;
  const byZone = new Map(scenario.zones.map((z) => [z.zone_id, z]));
  const features = doc.zones.geojson.features;
  const proj = projection(features, width);
  const chart = svg("svg", {
    viewBox: `-2 -2 ${width + 4} ${proj.height + 4}`, role: "img", class: "ws-change-map",
    "aria-label": `Change in mean price per trip by zone, ${scenario.name} compared with the status quo`,
  });
  // central outlines last, so their solid line is not broken by a dashed neighbour
  const ordered = [...features].sort((a, b) =>
    (a.properties.class === "central") - (b.properties.class === "central"));
  for (const f of ordered) {
    const row = byZone.get(f.properties.zone_id);
    const d = rings(f.geometry).map((ring) =>
      `M${ring.map((p) => proj.point(p).join(",")).join("L")}Z`).join("");
    const fill = row ? diverging(limit ? row.mean_change_minor / limit : 0) : NO_DATA;
    const title = row
      ? `${f.properties.zone_id} (${row.class}): ${money(row.mean_change_minor, currency, true)} per trip, ${count(row.trips)} trips`
      : `${f.properties.zone_id} (${f.properties.class}): no trips`;
    chart.append(svg("path", {
      d, fill, "fill-rule": "evenodd", class: `zone zone-${f.properties.class}`,
      "data-zone": f.properties.zone_id,
    }, svg("title", {}, title)));
  }
  return el("figure", { class: "ws-figure" }, chart,
    el("figcaption", {}, `${scenario.name} compared with the status quo` +
      (doc.demand.synthetic ? " (SYNTHETIC demand)" : "")));
}

/** One map per policy scenario, all on one symmetric colour scale, plus its legend. */
export function renderChangeMaps(container, doc) {
  const currency = doc.settings.currency;
  const changes = doc.scenarios.slice(1).flatMap((s) => s.zones.map((z) => Math.abs(z.mean_change_minor)));
  const limit = Math.max(0, ...changes);
  const maps = doc.scenarios.slice(1).map((_, i) => changeMap(doc, i + 1, limit, 320));
  const scale = el("div", { class: "ws-scale" },
    el("span", {}, `${money(-limit, currency)} (cheaper)`),
    el("span", { class: "ws-scale-bar", "aria-hidden": "true" }),
    el("span", {}, `${money(limit, currency, true)} (dearer)`));
  const note = el("p", { class: "hint" },
    "Mean price change per trip starting in each zone; the same colour means the same change " +
    "in every map. Central zones have solid outlines, peripheral zones dashed; grey zones had " +
    "no trips. Hover a zone for its values.");
  container.replaceChildren(el("div", { class: "ws-side-by-side ws-change-maps" }, ...maps), scale, note);
}

// -- winners and losers -------------------------------------------------------------------------

function tallies(scenario) {
  const out = Object.fromEntries([...ZONE_CLASSES, "all"].map((c) => [c, { winners: 0, losers: 0, unchanged: 0 }]));
  for (const row of scenario.zones) {
    for (const key of [row.class, "all"]) {
      out[key].winners += row.winners;
      out[key].losers += row.losers;
      out[key].unchanged += row.unchanged;
    }
  }
  return out;
}

function share(n, total) {
  return `${count(n)} (${total ? percent(n / total) : "n/a"})`;
}

function winnersSection(doc, index) {
  const scenario = doc.scenarios[index];
  const currency = doc.settings.currency;
  const byClass = tallies(scenario);
  const classRows = Object.entries(byClass).map(([cls, t]) => {
    const total = t.winners + t.losers + t.unchanged;
    return el("tr", {}, el("th", { scope: "row" }, cls),
      el("td", { class: "num" }, share(t.winners, total)),
      el("td", { class: "num" }, share(t.losers, total)),
      el("td", { class: "num" }, share(t.unchanged, total)));
  });
  const dearer = scenario.zones.filter((z) => z.mean_change_minor > 0)
    .sort((a, b) => b.mean_change_minor - a.mean_change_minor || a.zone_id.localeCompare(b.zone_id))
    .slice(0, TOP_INCREASES);
  const increases = dearer.length === 0
    ? el("p", {}, "No zone pays more on average.")
    : el("table", { class: "ws-table ws-compact" },
      el("caption", {}, "Zones with the largest increase in mean price per trip"),
      el("thead", {}, el("tr", {}, ...["Zone", "Class", "Trips", "Mean price", "Change"].map((h) =>
        el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...dearer.map((z) => el("tr", {},
        el("td", {}, z.zone_id), el("td", {}, z.class),
        el("td", { class: "num" }, count(z.trips)),
        el("td", { class: "num" }, money(z.mean_price_minor, currency)),
        el("td", { class: "num" }, money(z.mean_change_minor, currency, true))))));
  return el("section", { class: "ws-winners", "data-scenario": scenario.policy_id },
    el("h4", {}, scenario.name),
    el("table", { class: "ws-table ws-compact" },
      el("caption", {}, "Trips that get cheaper (winners), dearer (losers) or stay the same, by the class of their origin zone"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Zones"),
        el("th", { scope: "col" }, "Winners"), el("th", { scope: "col" }, "Losers"),
        el("th", { scope: "col" }, "Unchanged"))),
      el("tbody", {}, ...classRows)),
    increases);
}

/** The winners-and-losers tables of each policy scenario, side by side. */
export function renderWinners(container, doc) {
  container.replaceChildren(...doc.scenarios.slice(1).map((_, i) => winnersSection(doc, i + 1)));
}

/** Everything at once, into the results section's containers. */
export function renderEvaluation(doc, parts) {
  renderSummary(parts.summary, doc);
  renderLorenz(parts.lorenz, doc);
  renderChangeMaps(parts.maps, doc);
  renderWinners(parts.winners, doc);
}
