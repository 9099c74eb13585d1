// The residents' trip planner (`/`): pick the two ends on the map or type them, choose the
// time and the ways to travel, and read the itineraries (times, transfers, walking, price
// per leg and in total, CO2, labels), drawn on the map by mode. Shared vehicles and
// stations near the start are shown live.
//
// The page's whole state is its URL (/?from=LAT,LON&to=LAT,LON&at=ISO&modes=...&arrive_by=1
// &transit_pass=1&it=N): opening a shared link plans the same trip and selects the same
// itinerary (`it`: its 1-based place in the list, or its id; anything else selects the
// first). Everything the page shows comes from the public API (GET /plan, /vehicles,
// /ready, /map/...); an error the API names a field for is shown in words next to that field.

import {
  ApiError,
  el,
  formatDistance,
  formatDuration,
  formatTime,
  getJSON,
  readState,
  withQuery,
  writeState,
} from "./common.js";
import { createMap } from "./map.js";

const MODES = ["WALK", "TRANSIT", "BICYCLE", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"];
const DEFAULT_MODES = ["WALK", "TRANSIT", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"];
const LABEL_TEXT = {
  fastest: "Fastest",
  cheapest: "Cheapest",
  fewest_transfers: "Fewest transfers",
  least_walking: "Least walking",
};
const MODE_TEXT = {
  WALK: "Walk",
  BUS: "Bus",
  TRAM: "Tram",
  SUBWAY: "Metro",
  RAIL: "Train",
  FERRY: "Ferry",
  BICYCLE: "Own bike",
  BICYCLE_RENTAL: "City bike",
  SCOOTER_RENTAL: "E-scooter",
  CAR_RENTAL: "Shared car",
};
/** which form control shows an error the API names by field */
const FIELD_OF = {
  from_lat: "from",
  from_lon: "from",
  to_lat: "to",
  to_lon: "to",
  at: "at",
  arrive_by: "at",
  window_min: "at",
  modes: "modes",
  transit_pass: "pass",
};
/** a plain-words lead for the API's codes about places and dates (its message follows) */
const LEAD_OF = {
  outside_network: "There is no street near this point: is it in the water, or outside the city?",
  isolated_street_piece: "This point is only near a street that leads nowhere (a pier or an island).",
};
const NEARBY_RADIUS_M = 500;
const NEARBY_REFRESH_MS = 30_000;

const $ = (id) => document.getElementById(id);

const page = {
  map: null,
  network: null, // /ready's network block: name, timezone, service_dates
  offset: "+00:00", // the UTC offset of `at` as last read or computed
  plan: null,
  planState: null, // the URL state the shown plan was made from (without `it`)
  selected: null, // the itinerary id drawn in front
  planAbort: null,
  nearbyTimer: null,
};

// --- coordinates and times --------------------------------------------------------------

/** "60.1685, 24.9316" -> [lat, lon], or null when it is not two numbers in range. */
function parseLatLon(text) {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text || "");
  if (!m) return null;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null;
  return [lat, lon];
}

const fmtLatLon = ([lat, lon]) => `${lat.toFixed(5)},${lon.toFixed(5)}`;

/** Minutes east of UTC that `timeZone` has at the instant `epochMs`. */
function zoneOffsetMin(epochMs, timeZone) {
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p = Object.fromEntries(f.formatToParts(new Date(epochMs)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((wall - epochMs) / 60000);
}

/** "+02:00": the network's UTC offset at the wall-clock time "YYYY-MM-DDTHH:MM". */
function offsetAt(local, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m || !timeZone) return page.offset;
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let off = 0;
  try {
    off = zoneOffsetMin(asUtc, timeZone);
    off = zoneOffsetMin(asUtc - off * 60000, timeZone); // the offset in force at that wall time
  } catch {
    return page.offset;
  }
  const sign = off < 0 ? "-" : "+";
  const a = Math.abs(off);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/** Split "2022-02-22T08:00+02:00" into the input's local value and the offset. */
function splitIso(iso) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso || "");
  if (!m) return null;
  let off = m[2] || null;
  if (off === "Z") off = "+00:00";
  else if (off && off.length === 5) off = `${off.slice(0, 3)}:${off.slice(3)}`;
  return { local: m[1], offset: off };
}

// --- the form <-> the URL -------------------------------------------------------------------

function modesOf(text) {
  if (!text) return DEFAULT_MODES;
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

/** Fill the form from the URL's state. */
function stateToForm(state) {
  $("from").value = state.from ? state.from.replace(",", ", ") : "";
  $("to").value = state.to ? state.to.replace(",", ", ") : "";
  // a "+" in a query string reads as a space: put it back
  const at = (state.at || "").replace(" ", "+");
  const parts = splitIso(at);
  if (parts) {
    $("at").value = parts.local;
    if (parts.offset) page.offset = parts.offset;
  } else if (at) {
    $("at").value = "";
    $("at").dataset.raw = at; // sent as given: the API says what is wrong with it
  }
  $("at-kind").value = state.arrive_by === "true" || state.arrive_by === "1" ? "arrive" : "depart";
  const modes = new Set(modesOf(state.modes));
  for (const box of document.querySelectorAll('input[name="mode"]')) box.checked = modes.has(box.value);
  $("pass").checked = state.transit_pass === "true" || state.transit_pass === "1";
  $("at-kind").dataset.known = "1";
}

/** The `at` to send: the input's wall-clock time with the network's offset at that time. */
function atOfForm() {
  const local = $("at").value;
  if (!local) return $("at").dataset.raw || "";
  const tz = page.network && page.network.timezone;
  const offset = tz ? offsetAt(local, tz) : page.offset;
  return `${local}${offset}`;
}

/** The form as URL state (strings), with `from`/`to` normalised when they parse. */
function formToState() {
  const from = parseLatLon($("from").value);
  const to = parseLatLon($("to").value);
  const modes = [...document.querySelectorAll('input[name="mode"]:checked')].map((b) => b.value);
  return {
    from: from ? fmtLatLon(from) : $("from").value.trim(),
    to: to ? fmtLatLon(to) : $("to").value.trim(),
    at: atOfForm(),
    modes: modes.join(","),
    arrive_by: $("at-kind").value === "arrive" ? "true" : "",
    transit_pass: $("pass").checked ? "true" : "",
  };
}

// --- errors next to their fields ----------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  $("form-error").textContent = "";
}

function showError(control, message, { focus = false } = {}) {
  const box = $(`${control}-error`);
  if (!box) {
    $("form-error").textContent = message;
    return;
  }
  box.textContent = message;
  const input = $(control);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    if (focus) input.focus();
  }
}

/** Client-side checks the API would also make, said the same way, before a request. */
function checkForm(state) {
  let ok = true;
  for (const end of ["from", "to"]) {
    if (!parseLatLon(state[end])) {
      const what = end === "from" ? "start" : "destination";
      showError(
        end,
        state[end]
          ? `"${state[end]}" is not a position: type latitude, longitude (e.g. 60.1685, 24.9316) or click the map`
          : `Set the ${what}: click the map or type latitude, longitude.`,
      );
      ok = false;
    }
  }
  if (!state.at) {
    showError("at", "Choose the date and time of the trip.");
    ok = false;
  }
  if (!state.modes) {
    showError("modes", "Choose at least one way to travel.");
    ok = false;
  }
  return ok;
}

// --- planning ------------------------------------------------------------------------------

function planQuery(state) {
  const [fromLat, fromLon] = parseLatLon(state.from);
  const [toLat, toLon] = parseLatLon(state.to);
  return withQuery("/plan", {
    from_lat: fromLat,
    from_lon: fromLon,
    to_lat: toLat,
    to_lon: toLon,
    at: state.at,
    modes: state.modes,
    arrive_by: state.arrive_by ? "true" : "",
    transit_pass: state.transit_pass ? "true" : "",
  });
}

/**
 * The itinerary the URL's `it` names: a 1-based place in the list (what the page writes), or
 * an itinerary id (16 hex digits, so never mistaken for a place). Null when it names none of
 * this plan's itineraries.
 */
function wantedItinerary(its, wanted) {
  if (!wanted) return null;
  if (/^\d{1,3}$/.test(wanted)) {
    const place = Number(wanted);
    if (place >= 1 && place <= its.length) return its[place - 1];
  }
  return its.find((it) => it.id === wanted) || null;
}

/**
 * Plan the trip in the form. `wanted` is the URL's `it` when the page opens from a link:
 * that itinerary is selected instead of the first.
 */
async function plan({ focusErrors = false, wanted = null } = {}) {
  clearErrors();
  const state = formToState();
  drawEnds(state);
  if (!checkForm(state)) {
    $("plan-status").textContent = "Fix the fields marked above to plan.";
    return;
  }
  if (page.planAbort) page.planAbort.abort();
  const abort = new AbortController();
  page.planAbort = abort;
  $("plan-button").disabled = true;
  $("plan-status").textContent = "Planning…";
  $("itineraries").replaceChildren();
  $("plan-notes").replaceChildren();
  page.map.removeLayer("trip");
  try {
    const result = await getJSON(planQuery(state), { signal: abort.signal });
    page.plan = result;
    page.planState = state;
    showPlan(result, wanted);
  } catch (exc) {
    if (exc.name === "AbortError") return;
    page.plan = null;
    const control = exc instanceof ApiError ? FIELD_OF[exc.field] : null;
    const lead = exc instanceof ApiError && LEAD_OF[exc.code] ? `${LEAD_OF[exc.code]} ` : "";
    const said = exc.message.charAt(0).toUpperCase() + exc.message.slice(1);
    if (control) showError(control, lead + said, { focus: focusErrors });
    else $("form-error").textContent = exc.message;
    $("plan-status").textContent = "No plan: see the message above.";
  } finally {
    if (page.planAbort === abort) {
      page.planAbort = null;
      $("plan-button").disabled = false;
    }
  }
}

// --- the itinerary list (readable without the map) ------------------------------------------

function modeBadge(mode) {
  return el("span", { class: `mode mode-${mode}`, text: MODE_TEXT[mode] || mode });
}

function money(m) {
  return m ? m.text : "price unknown";
}

/** "93 % likely"; a chance that rounds to 100 % but is not certain says so. */
function likely(p) {
  if (p >= 0.995 && p < 1) return "over 99 % likely";
  return `${Math.round(p * 100)} % likely`;
}

function rentalBlock(leg) {
  const r = leg.rental;
  if (!r) return null;
  const lines = [];
  const who = r.provider_name || r.provider_id || "own bike";
  lines.push(el("div", {}, el("strong", { text: "Provider: " }), who, " ",
    r.synthetic ? el("span", { class: "synthetic-tag", text: "SYNTHETIC" }) : null));
  const vehicle = [r.vehicle_type && (r.vehicle_type.name || r.vehicle_type.form_factor)];
  if (r.vehicle_id) vehicle.push(`vehicle ${r.vehicle_id}`);
  if (r.station_id) vehicle.push(`from station ${r.station_id}`);
  if (r.dropoff_station_id) vehicle.push(`return to station ${r.dropoff_station_id}`);
  lines.push(el("div", {}, el("strong", { text: "Vehicle: " }), vehicle.filter(Boolean).join(", ")));
  if (r.range_start_m !== null && r.range_start_m !== undefined) {
    const end = r.range_end_m !== null && r.range_end_m !== undefined ? ` → ${formatDistance(r.range_end_m)} at the end` : "";
    lines.push(el("div", {}, el("strong", { text: "Battery: " }), `${formatDistance(r.range_start_m)} of range${end}`));
  }
  const chance = r.pickup_probability;
  lines.push(
    el("div", {}, el("strong", { text: "Still there when you arrive: " }),
      chance === null || chance === undefined ? "unknown (the feed gives nothing to judge by)" : likely(chance)),
  );
  if (r.dropoff_probability !== null && r.dropoff_probability !== undefined) {
    lines.push(el("div", {}, el("strong", { text: "A free dock at the end: " }), likely(r.dropoff_probability)));
  }
  return el("div", { class: "rental-info" }, ...lines);
}

function legItem(leg) {
  const line = el("div", { class: "leg-line" },
    el("span", { class: "leg-time", text: `${formatTime(leg.start)}–${formatTime(leg.end)}` }),
    modeBadge(leg.mode),
    leg.route ? el("strong", { text: leg.route.short_name }) : null,
    el("span", { text: leg.headsign ? `towards ${leg.headsign}` : `${leg.from.name} → ${leg.to.name}` }),
    el("span", { class: "leg-price", text: leg.price ? money(leg.price.final || leg.price.base) : "" }),
  );
  const details = [];
  if (leg.route) details.push(`${leg.from.name} → ${leg.to.name}`);
  details.push(formatDuration(leg.duration_s), formatDistance(leg.distance_m));
  if (leg.intermediate_stops && leg.intermediate_stops.length) {
    details.push(`${leg.intermediate_stops.length} stops between`);
  }
  if (leg.co2_g !== null && leg.co2_g !== undefined) details.push(`${leg.co2_g} g CO₂`);
  if (leg.estimated) details.push("partly an estimated walk (not a mapped street)");
  const reason = leg.price && leg.price.reason ? el("p", { class: "leg-detail", text: leg.price.reason }) : null;
  return el("li", { class: `leg leg-${leg.mode}` }, line,
    el("p", { class: "leg-detail", text: details.join(" · ") }), reason, rentalBlock(leg));
}

function itineraryItem(it, index) {
  const total = it.price ? money(it.price.final || it.price.base) : "price unknown";
  const summary = [
    formatDuration(it.duration_s),
    it.transfers === 1 ? "1 transfer" : `${it.transfers} transfers`,
    `${formatDistance(it.walk_distance_m)} walking`,
    `${it.co2_g ?? "?"} g CO₂`,
  ].join(" · ");
  const head = el("button", {
    type: "button",
    class: "itinerary-head",
    "aria-controls": "map",
    "aria-label": `Option ${index + 1}: ${formatTime(it.start)} to ${formatTime(it.end)}, ${summary}, ${total}. Show on the map`,
  },
  el("span", { class: "total", text: total }),
  el("span", { class: "times", text: `${formatTime(it.start)} – ${formatTime(it.end)}` }),
  el("div", { class: "summary", text: summary }),
  el("div", { class: "labels" }, ...(it.labels || []).map((l) => el("span", { class: "label-tag", text: LABEL_TEXT[l] || l }))),
  el("div", { class: "labels" }, ...(it.modes || []).map(modeBadge)),
  );
  head.addEventListener("click", () => selectItinerary(it.id));
  const foot = [];
  if (it.price && it.price.reason) foot.push(it.price.reason);
  if (it.price && it.price.adjustment && it.price.adjustment.amount_minor !== 0) {
    const policy = it.price.policy ? ` (${it.price.policy.name})` : "";
    foot.push(`before the fare policy${policy}: ${money(it.price.base)}, adjustment ${money(it.price.adjustment)}`);
  }
  return el("li", { class: "itinerary", "data-id": it.id, "aria-current": it.id === page.selected ? "true" : "false" },
    head,
    el("ol", { class: "legs", "aria-label": "Legs" }, ...it.legs.map(legItem)),
    foot.length ? el("div", { class: "itinerary-foot", text: foot.join(" · ") }) : null,
  );
}

function showPlan(result, wanted = null) {
  const its = result.itineraries || [];
  const named = wantedItinerary(its, wanted);
  const shown = named || its[0];
  page.selected = shown ? shown.id : null;
  // a link naming no itinerary of this plan shows the first: the URL then says so too
  if (wanted && !named) writeState(page.planState);
  const notes = [...(result.notes || [])];
  if (!its.length && result.reason) notes.unshift(result.reason);
  $("plan-notes").replaceChildren(...notes.map((n) => el("p", { class: "notice", text: n })));
  $("itineraries").replaceChildren(...its.map(itineraryItem));
  $("plan-status").textContent = its.length
    ? `${its.length} option${its.length === 1 ? "" : "s"} on ${result.service_date}; times are local to the city.`
    : "No itinerary found for this trip.";
  drawTrip();
  fitTrip(its.find((i) => i.id === page.selected));
  performance.mark("fairtrip:plan-shown");
}

/** Show the whole trip (both ends and the drawn itinerary) with a margin around it. */
function fitTrip(it) {
  const pts = [];
  for (const end of ["from", "to"]) {
    const ll = parseLatLon($(end).value);
    if (ll) pts.push([ll[1], ll[0]]);
  }
  for (const leg of it ? it.legs : []) pts.push(...leg.geometry.coordinates);
  if (pts.length < 2) return;
  const lons = pts.map((p) => p[0]);
  const lats = pts.map((p) => p[1]);
  const [w, s, e, n] = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
  const padX = (e - w) * 0.15 + 0.002;
  const padY = (n - s) * 0.15 + 0.001;
  page.map.fitBounds([w - padX, s - padY, e + padX, n + padY]);
}

/**
 * Draw itinerary `id` in front and put its place in the URL, so a shared link reopens on it.
 * The URL keeps the state the plan was made from, not fields edited since without planning.
 */
function selectItinerary(id) {
  page.selected = id;
  for (const item of document.querySelectorAll("#itineraries > .itinerary")) {
    item.setAttribute("aria-current", item.dataset.id === id ? "true" : "false");
  }
  const its = (page.plan && page.plan.itineraries) || [];
  const place = its.findIndex((it) => it.id === id) + 1;
  // a new selection replaces the history entry: Back goes to the previous trip, not the
  // previously selected option
  if (page.planState && place > 0) writeState({ ...page.planState, it: place });
  drawTrip();
}

// --- the map -------------------------------------------------------------------------------

function drawTrip() {
  const its = (page.plan && page.plan.itineraries) || [];
  const features = [];
  // the others faint underneath, the selected one on top
  const ordered = [...its.filter((i) => i.id !== page.selected), ...its.filter((i) => i.id === page.selected)];
  for (const it of ordered) {
    for (const leg of it.legs) {
      features.push({ type: "Feature", geometry: leg.geometry, properties: { leg, it, front: it.id === page.selected } });
    }
  }
  page.map.setLayer("trip", { type: "FeatureCollection", features }, (f) => {
    const { leg, it, front } = f.properties;
    const route = leg.route ? ` ${leg.route.short_name}` : "";
    return {
      className: `trip-leg leg-${leg.mode}${front ? " selected" : " other"}`,
      width: front ? 5 : 3,
      dash: leg.mode === "WALK" ? "2 6" : undefined,
      opacity: front ? 1 : 0.35,
      title: `${MODE_TEXT[leg.mode] || leg.mode}${route}: ${formatTime(leg.start)}–${formatTime(leg.end)}, ${leg.from.name} → ${leg.to.name}`,
      attrs: { "data-mode": leg.mode, "data-itinerary": it.id },
    };
  });
}

function drawEnds(state) {
  const features = [];
  for (const [end, letter] of [["from", "A"], ["to", "B"]]) {
    const ll = parseLatLon(state[end]);
    if (ll) {
      features.push({ type: "Feature", geometry: { type: "Point", coordinates: [ll[1], ll[0]] }, properties: { end, letter } });
    }
  }
  page.map.setLayer("ends", { type: "FeatureCollection", features }, (f) => ({
    radius: 8,
    className: `trip-end end-${f.properties.end}`,
    width: 3,
    title: f.properties.end === "from" ? "Start" : "Destination",
  }));
}

function onMapClick(lon, lat) {
  const pick = document.querySelector('input[name="pick"]:checked').value;
  $(pick).value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  const other = pick === "from" ? "to" : "from";
  clearErrors();
  const state = formToState();
  drawEnds(state);
  if (pick === "from") refreshNearby();
  if (parseLatLon(state[other])) {
    writeState(state, { push: true });
    plan();
  } else {
    // the next click sets the other end
    document.querySelector(`input[name="pick"][value="${other}"]`).checked = true;
    writeState(state, { push: true });
    $("plan-status").textContent = `${pick === "from" ? "Start" : "Destination"} set; now click the ${pick === "from" ? "destination" : "start"}.`;
  }
}

async function loadBaseMap() {
  const style = {
    zones: (f) => ({ className: `zone zone-${f.properties.class}`, stroke: "#9aa5b1", width: 0.5, fill: f.properties.class === "central" ? "#e3ecf7" : "#eef3e6" }),
    streets: () => ({ stroke: "#b7bec7", width: 1 }),
    stops: (f) => ({ radius: 2, fill: "#5f6b78", title: `${f.properties.name} (stop ${f.properties.stop_id}${f.properties.zone_id ? `, zone ${f.properties.zone_id}` : ""})` }),
  };
  await Promise.all(Object.keys(style).map(async (name) => {
    try {
      const fc = await getJSON(`/map/layers/${name}.geojson`);
      page.map.setLayer(name, fc, style[name]);
    } catch (exc) {
      // a server without zone files still plans: say what is missing, draw the rest
      if (exc instanceof ApiError && exc.status === 404) page.map.removeLayer(name);
      else throw exc;
    }
  }));
}

// --- vehicles near the start (live) ---------------------------------------------------------

async function refreshNearby() {
  clearTimeout(page.nearbyTimer);
  // only the latest call re-arms the timer: calls that overlap must not start two loops
  const seq = (page.nearbySeq = (page.nearbySeq || 0) + 1);
  const from = parseLatLon($("from").value);
  if (!from) {
    page.map.setLayer("nearby", { type: "FeatureCollection", features: [] });
    $("nearby-status").textContent = "Set a start to see them.";
    $("nearby-list").replaceChildren();
    return;
  }
  try {
    const found = await getJSON(withQuery("/vehicles", { near: fmtLatLon(from), radius: NEARBY_RADIUS_M, limit: 100 }));
    if (seq === page.nearbySeq) showNearby(found);
  } catch (exc) {
    $("nearby-status").textContent = `Shared vehicles could not be listed: ${exc.message}`;
  }
  if (seq === page.nearbySeq) page.nearbyTimer = setTimeout(refreshNearby, NEARBY_REFRESH_MS);
}

function showNearby({ vehicles, stations }) {
  const features = [
    ...vehicles.map((v) => ({ type: "Feature", geometry: { type: "Point", coordinates: [v.lon, v.lat] }, properties: { v } })),
    ...stations.map((s) => ({ type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] }, properties: { s } })),
  ];
  page.map.setLayer("nearby", { type: "FeatureCollection", features }, (f) => {
    const { v, s } = f.properties;
    if (v) {
      const charge = v.fuel_percent !== null && v.fuel_percent !== undefined ? `, battery ${Math.round(v.fuel_percent * 100)} %` : "";
      return { radius: 3, className: `nearby vehicle mode-dot-${v.mode}`, width: 1, stroke: "#fff", title: `${MODE_TEXT[v.mode] || v.form_factor} of ${v.provider_name}${charge}, ${Math.round(v.distance_m)} m` };
    }
    return { radius: 6, className: "nearby station", width: 2, title: `Station ${s.name} (${s.provider_name}): ${s.vehicles_available ?? "?"} to rent, ${s.docks_available ?? "?"} free docks` };
  });
  const synthetic = [...vehicles, ...stations].some((x) => x.synthetic);
  $("nearby-status").textContent =
    `${vehicles.length} vehicle${vehicles.length === 1 ? "" : "s"} and ${stations.length} station${stations.length === 1 ? "" : "s"} within ${NEARBY_RADIUS_M} m, now` +
    (synthetic ? " (SYNTHETIC demonstration fleets)." : ".");
  const items = [
    ...stations.slice(0, 3).map((s) => el("li", {},
      `${s.name}: ${s.vehicles_available ?? "?"} to rent, ${s.docks_available ?? "?"} free docks, ${Math.round(s.distance_m)} m (${s.provider_name})`)),
    ...vehicles.slice(0, 5).map((v) => el("li", {},
      `${MODE_TEXT[v.mode] || v.form_factor}, ${Math.round(v.distance_m)} m`,
      v.fuel_percent !== null && v.fuel_percent !== undefined ? `, battery ${Math.round(v.fuel_percent * 100)} %` : "",
      v.range_m ? ` (${formatDistance(v.range_m)} range)` : "",
      ` — ${v.provider_name}`)),
  ];
  $("nearby-list").replaceChildren(...items);
}

// --- start ----------------------------------------------------------------------------------

function legend() {
  const entries = ["WALK", "BUS", "TRAM", "SUBWAY", "RAIL", "BICYCLE_RENTAL", "SCOOTER_RENTAL", "CAR_RENTAL"];
  $("map-legend").replaceChildren(el("ul", {}, ...entries.map((m) =>
    el("li", {}, el("span", { class: `swatch swatch-${m}` }), MODE_TEXT[m]))));
}

function describeNetwork(ready) {
  const n = ready.network;
  page.network = n;
  $("network-line").textContent = `${n.name}.`;
  $("at-hint").textContent = `Times are in ${n.timezone}. The timetable covers ${n.service_dates.join(", ")}.`;
  if (!$("at").value && !$("at").dataset.raw && n.service_dates.length) {
    // no time in the URL: the first day the timetable covers, at 08:00
    $("at").value = `${n.service_dates[0]}T08:00`;
  }
}

async function start() {
  legend();
  const state = readState();
  stateToForm(state);
  const [bounds, ready] = await Promise.all([getJSON("/map/bounds"), getJSON("/ready")]);
  describeNetwork(ready);
  page.map = createMap($("map"), { bounds: bounds.bounds, label: "Trip map: click to set the start, then the destination" });
  for (const name of ["zones", "streets", "stops", "nearby", "trip", "ends"]) {
    page.map.setLayer(name, { type: "FeatureCollection", features: [] });
  }
  page.map.onClick(onMapClick);
  const base = loadBaseMap();
  drawEnds(formToState());

  $("trip-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    writeState(formToState(), { push: true });
    refreshNearby();
    plan({ focusErrors: true });
  });
  $("swap").addEventListener("click", () => {
    const from = $("from").value;
    $("from").value = $("to").value;
    $("to").value = from;
    drawEnds(formToState());
    refreshNearby();
  });
  $("from").addEventListener("change", () => refreshNearby());
  window.addEventListener("popstate", () => {
    const now = readState();
    stateToForm(now);
    refreshNearby();
    if (now.from && now.to) plan({ wanted: now.it });
  });

  refreshNearby();
  if (state.from && state.to) await plan({ wanted: state.it });
  await base;
  // for the page-load benchmark and the tests: the base map is drawn
  performance.mark("fairtrip:basemap-drawn");
  document.body.dataset.ready = "true";
}

start().catch((exc) => {
  $("form-error").textContent = `The page could not start: ${exc.message}`;
});
