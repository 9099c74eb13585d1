// The planners' policy workspace: the zones map, the stored policies (view, check, store,
// activate), an evaluation run with its progress, and the results (evaluation_view.js).
//
// Every action goes through the public API; reads are open, writes send the admin token that
// common.js asks for once per browser session. The running or finished evaluation's job id is
// kept in the URL (`/planner?job=...`), so a reload or a shared link shows the same results.

import { ApiError, el, getJSON, readState, writeState } from "./common.js";
import { createMap } from "./map.js";
import { adminCall, postDocument } from "./ui.js";
import { renderEvaluation, solvedText } from "./evaluation_view.js";

const POLL_MS = 500;
const ZONE_FILL = { central: "#0072b2", peripheral: "#e69f00" };

/** Starting points for the editor (the same policies as data/policies/, abridged). */
const TEMPLATES = {
  "city-wide-average": `# Every transit trip costs the same, whatever its zones; the charge is solved so that
# fare revenue stays what it is today on the same trips.
fairtrip_policy: 1
id: city-wide-average
version: 1
name: City-wide flat transit charge
currency: EUR
mode_families: [transit]
revenue_neutral: true
measures:
  - type: city_wide_average
`,
  "peripheral-discount": `# 20% off trips that start or end in the periphery, paid for by a surcharge on trips
# within the centre (solved for revenue neutrality).
fairtrip_policy: 1
id: peripheral-discount
version: 1
name: Peripheral discount, central surcharge
currency: EUR
mode_families: [transit, bike_share]
revenue_neutral: true
measures:
  - type: peripheral_discount
    discount_pct: 20
`,
};

const $ = (id) => document.getElementById(id);
let policies = [];
let pollTimer = null;
let currentJob = null;
/** true once this page started an evaluation (not one opened from the URL) */
let startedHere = false;

// -- zones map --------------------------------------------------------------------------------

/** [minLon, minLat, maxLon, maxLat] of a FeatureCollection of polygons. */
function extent(fc) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else {
      c.forEach(visit);
    }
  };
  fc.features.forEach((f) => visit(f.geometry.coordinates));
  return box;
}

async function loadZones() {
  try {
    // the zones reach further than the streets (/map/bounds): the map shows all of them
    const zones = await getJSON("/map/layers/zones.geojson");
    const map = createMap($("zones-map"), { bounds: extent(zones), label: "Map of the pricing zones, coloured by class" });
    map.setLayer("zones", zones, (f) => ({
      fill: ZONE_FILL[f.properties.class] || "#999999",
      opacity: 0.45,
      stroke: "#1a1a1a",
      width: f.properties.class === "central" ? 1.2 : 0.7,
      dash: f.properties.class === "peripheral" ? "4 2" : null,
      title: `zone ${f.properties.zone_id}: ${f.properties.class}`,
    }));
    const n = (cls) => zones.features.filter((f) => f.properties.class === cls).length;
    $("zones-status").textContent = `${zones.features.length} zones: ${n("central")} central, ${n("peripheral")} peripheral.`;
  } catch (err) {
    $("zones-status").textContent = `The zones could not be shown: ${err.message}`;
  }
}

// -- stored policies --------------------------------------------------------------------------

function actionButton(label, name, onClick) {
  const b = el("button", { type: "button", "aria-label": `${label}: ${name}` }, label);
  b.addEventListener("click", onClick);
  return b;
}

function statusCell(p) {
  if (!p.active) return el("td", {}, "stored");
  const solved = p.solved && p.solved.parameter
    ? ` (${solvedText(p.solved, p.policy.currency)}, solved for revenue neutrality)`
    : "";
  return el("td", {}, el("span", { class: "badge badge-good" }, "active"), solved);
}

function policyRow(p) {
  const id = p.policy.id;
  const actions = el("td", { class: "ws-actions" },
    actionButton("View", id, () => viewPolicy(p)),
    actionButton("Edit as new version", id, () => editAsNewVersion(p)),
    actionButton("Evaluate", id, () => chooseForEvaluation(id)),
    p.active
      ? actionButton("Deactivate", id, () => setActive(p, false))
      : actionButton("Activate", id, () => setActive(p, true)));
  return el("tr", { "data-policy": id },
    el("th", { scope: "row" }, el("span", { class: "ws-name" }, p.policy.name || id), el("br"), el("code", {}, id)),
    el("td", {}, `v${p.policy.version}` + (p.versions.length > 1 ? ` (of ${p.versions.join(", ")})` : "")),
    el("td", {}, el("ul", { class: "ws-describe" }, ...p.describe.map((d) => el("li", {}, d)))),
    statusCell(p),
    actions);
}

function fillPolicySelects() {
  for (const [select, blank] of [[$("eval-policy"), null], [$("eval-compare"), "— nothing else —"]]) {
    const chosen = select.value;
    const options = policies.map((p) => el("option", { value: p.policy.id }, `${p.policy.name} (${p.policy.id})`));
    select.replaceChildren(...(blank ? [el("option", { value: "" }, blank)] : []), ...options);
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }
}

async function loadPolicies() {
  try {
    ({ policies } = await getJSON("/policies"));
    document.querySelector("#policies-table tbody").replaceChildren(...policies.map(policyRow));
    const active = policies.find((p) => p.active);
    $("policies-status").textContent = policies.length === 0
      ? "No policy is stored yet: write one below."
      : `${policies.length} stored; ${active ? `active: ${active.policy.name}` : "none is active (base fares apply)"}.`;
    fillPolicySelects();
  } catch (err) {
    $("policies-status").textContent = `The policies could not be read: ${err.message}`;
  }
}

function viewPolicy(p) {
  $("policy-view-title").textContent = `${p.policy.name} — ${p.policy.id} v${p.policy.version}, stored ${p.created_at}`;
  $("policy-view-body").textContent = JSON.stringify(p.policy, null, 2);
  $("policy-view").hidden = false;
  $("policy-view").focus();
}

function editAsNewVersion(p) {
  const next = { ...p.policy, version: Math.max(...p.versions) + 1 };
  $("policy-editor").value = JSON.stringify(next, null, 2);
  $("policy-editor").focus();
  showMessages("info", [`Editing ${p.policy.id} as version ${next.version} (JSON is accepted as well as YAML).`]);
}

function chooseForEvaluation(id) {
  $("eval-policy").value = id;
  $("eval-policy").focus();
}

async function setActive(p, activate) {
  const id = p.policy.id;
  const question = activate
    ? `Activate ${id} v${p.policy.version}? Every trip plan is priced with it from then on.`
    : `Deactivate ${id}? Trip plans go back to base fares.`;
  if (!window.confirm(question)) return;
  const status = $("policies-status");
  status.textContent = activate
    ? `Activating ${id}: a revenue-neutral policy is solved on the configured demand first (a few seconds)…`
    : `Deactivating ${id}…`;
  try {
    const url = `/policies/${encodeURIComponent(id)}/${activate ? "activate" : "deactivate"}`;
    await adminCall("POST", url, activate ? { version: p.policy.version } : undefined);
    await loadPolicies();
    status.textContent = activate
      ? `${id} v${p.policy.version} is now active: trip plans are priced with it. ${status.textContent}`
      : `${id} is no longer active: trip plans show base fares. ${status.textContent}`;
  } catch (err) {
    status.textContent = `Could not ${activate ? "activate" : "deactivate"} ${id}: ${err.message}`;
  }
}

// -- the editor -------------------------------------------------------------------------------

/** The messages panel: `kind` is ok | error | info; each line one list item. */
function showMessages(kind, lines, heading = null) {
  const box = $("policy-messages");
  box.className = `ws-messages ws-messages-${kind}`;
  box.replaceChildren(
    ...(heading ? [el("p", {}, el("strong", {}, heading))] : []),
    el("ul", {}, ...lines.map((l) => el("li", {}, l))));
  $("policy-editor").toggleAttribute("aria-invalid", kind === "error");
}

/** The API's 422 message joins one problem per field with "; ": one list item each. */
function problems(err) {
  return err.message.split(/;\s+(?=[\w[\].]+:\s)/);
}

async function checkPolicy() {
  try {
    const out = await postDocument("/policies/validate", $("policy-editor").value);
    const lines = [...out.describe];
    if (out.version_taken) {
      lines.push(`Version ${out.policy.version} of ${out.policy.id} is already stored ` +
        `(versions ${out.stored_versions.join(", ")}): raise "version" to store this one.`);
    }
    showMessages(out.version_taken ? "info" : "ok", lines,
      `Valid: ${out.policy.name} (${out.policy.id} v${out.policy.version}).`);
  } catch (err) {
    showMessages("error", err.status === 422 ? problems(err) : [err.message], "The document was refused:");
  }
}

async function storePolicy(event) {
  event.preventDefault();
  try {
    const stored = await postDocument("/policies", $("policy-editor").value, { admin: true });
    showMessages("ok", stored.describe, `Stored ${stored.policy.id} v${stored.policy.version}.`);
    await loadPolicies();
  } catch (err) {
    showMessages("error", err.status === 422 ? problems(err) : [err.message], "Not stored:");
  }
}

function useTemplate() {
  const name = $("policy-template").value;
  if (!name) return;
  $("policy-editor").value = TEMPLATES[name];
  showMessages("info", ["Check it, or change it first (the id and version must be new to store it)."],
    "Template loaded.");
}

// -- evaluation -------------------------------------------------------------------------------

async function runEvaluation(event) {
  event.preventDefault();
  const id = $("eval-policy").value;
  const other = $("eval-compare").value;
  $("eval-error").textContent = "";
  if (!id) {
    $("eval-error").textContent = "Store a policy first, then choose it here.";
    return;
  }
  if (other === id) {
    $("eval-error").textContent = "Choose a different policy to compare with, or nothing.";
    return;
  }
  const body = {
    compare_with: other ? [other] : [],
    max_time_min: Number($("eval-time").value),
    max_price_minor: Math.round(Number($("eval-price").value) * 100),
  };
  try {
    const job = await adminCall("POST", `/policies/${encodeURIComponent(id)}/evaluations`, body);
    startedHere = true;
    $("results").hidden = true;
    watchJob(job);
  } catch (err) {
    $("eval-error").textContent = err.field
      ? `${err.message} (${err.field})`
      : err.message;
  }
}

const STAGE_WORDS = {
  queued: "waiting for the evaluation worker",
  routing: "routing the demand",
  pricing: "pricing the trips",
  policies: "applying the policies",
  report: "writing the report",
};

function showProgress(job) {
  $("eval-progress-box").hidden = false;
  $("eval-progress").value = job.progress;
  $("eval-progress-label").textContent = `Evaluation of ${job.policy_id}` +
    (job.compare_with.length ? ` and ${job.compare_with.join(", ")}` : "");
  // the live region hears of each new stage once; the percentage is the progress bar's
  const words = job.status === "done" ? "done" : STAGE_WORDS[job.stage] || job.stage || job.status;
  if ($("eval-stage").textContent !== words) $("eval-stage").textContent = words;
  $("eval-percent").textContent = `${Math.round(job.progress * 100)}%`;
  const running = job.status === "queued" || job.status === "running";
  $("eval-cancel").hidden = !running;
  // one evaluation at a time from this page: a second click would queue a duplicate job
  $("eval-run").disabled = running;
}

/** Follow a job until it finishes: progress while it runs, then its results or its error. */
function watchJob(job) {
  clearTimeout(pollTimer);
  currentJob = job;
  writeState({ job: job.job_id });
  showProgress(job);
  if (job.status === "queued" || job.status === "running") {
    pollTimer = setTimeout(() => poll(job.job_id), POLL_MS);
  } else {
    finished(job);
  }
}

async function poll(jobId) {
  try {
    watchJob(await getJSON(`/evaluations/${jobId}`));
  } catch (err) {
    $("eval-stage").textContent = `The evaluation could not be followed: ${err.message}`;
    $("eval-cancel").hidden = true;
  }
}

async function finished(job) {
  if (job.status !== "done") {
    $("eval-stage").textContent = `Evaluation ${job.status}` + (job.error ? `: ${job.error}` : ".");
    return;
  }
  let doc;
  try {
    doc = await getJSON(job.links.result);
  } catch (err) {
    $("eval-stage").textContent = `The result could not be read: ${err.message}`;
    return;
  }
  $("download-json").href = job.links.result;
  $("download-json").setAttribute("download", `evaluation-${job.job_id}.json`);
  $("download-report").href = job.links.report;
  const names = doc.scenarios.map((s) => s.name).join(", ");
  $("results-meta").textContent = `Evaluation ${job.job_id} of ${names} on ${doc.network.name}, ` +
    `trips departing ${doc.network.service_date} ${doc.network.depart_local} (${doc.network.timezone}); ` +
    `demand: ${doc.demand.source}${doc.demand.synthetic ? " (SYNTHETIC)" : ""}. ` +
    `Finished ${job.finished_at}; kept until ${job.expires_at}.`;
  renderEvaluation(doc, {
    summary: $("summary-table"), lorenz: $("lorenz"), maps: $("change-maps"), winners: $("winners"),
  });
  $("results").hidden = false;
  // a run started here moves the reader to its results; a page opened on a job stays at the top
  if (startedHere) $("results").focus();
}

async function cancelJob() {
  if (!currentJob) return;
  try {
    watchJob(await adminCall("DELETE", `/evaluations/${currentJob.job_id}`));
  } catch (err) {
    $("eval-stage").textContent = `Could not cancel: ${err.message}`;
  }
}

/** A job id in the URL: show that evaluation (its results, or its progress if it still runs). */
async function resumeFromUrl() {
  const { job } = readState();
  if (!job) return;
  try {
    watchJob(await getJSON(`/evaluations/${encodeURIComponent(job)}`));
  } catch (err) {
    $("eval-error").textContent = err instanceof ApiError && (err.status === 404 || err.status === 410)
      ? err.message
      : `Evaluation ${job} could not be read: ${err.message}`;
  }
}

$("policy-template").addEventListener("change", useTemplate);
$("policy-check").addEventListener("click", checkPolicy);
$("editor-form").addEventListener("submit", storePolicy);
$("evaluate-form").addEventListener("submit", runEvaluation);
$("eval-cancel").addEventListener("click", cancelJob);

loadZones();
loadPolicies();
resumeFromUrl();
