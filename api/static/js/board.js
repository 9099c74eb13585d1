// The providers' status board: each provider's freshness, fleet counts, stale flags and the
// warnings of its last push, plus the admin actions (register, issue and revoke keys, remove
// a provider).
//
// The page is a client of the public API like any other: GET /providers for the list, then
// GET /providers/{id}/status per provider for its files and warnings (the list alone does not
// carry them). Admin calls send the token common.js asks for once per browser session.

import { ApiError, el, getJSON } from "./common.js";
import { adminCall, formatAge, formatEpoch, showFieldErrors, clearFieldErrors } from "./ui.js";

const REFRESH_MS = 15_000;

const table = document.querySelector("#providers-table tbody");
const boardStatus = document.getElementById("board-status");
const keysSelect = document.getElementById("keys-provider");
let refreshTimer = null;

/**
 * The status of one provider (its files and warnings), or null when it has no data: a
 * provider registered but never pushed, or one whose data the cache lost. The list says
 * which (no `source`), so the page does not ask for a status the API would answer 404.
 */
async function statusOf(entry) {
  if (!entry.source) return null;
  try {
    return await getJSON(`/providers/${encodeURIComponent(entry.provider_id)}/status`);
  } catch (err) {
    // removed, or its data lost, between the two reads: the next refresh shows it
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

function freshnessCell(entry) {
  const cell = el("td");
  let badge;
  if (entry.data_lost) {
    badge = el("span", { class: "badge badge-bad" }, "data lost");
    cell.append(badge, " ", el("span", {}, `noticed ${formatEpoch(entry.lost_at_s)}; cleared by the next push`));
    return cell;
  }
  if (entry.stale === undefined || entry.stale === null) {
    cell.append(el("span", { class: "badge badge-muted" }, "no data yet"));
    return cell;
  }
  badge = entry.stale
    ? el("span", { class: "badge badge-bad" }, "stale")
    : el("span", { class: "badge badge-good" }, "fresh");
  cell.append(badge, " ", el("span", {}, `updated ${formatAge(entry.age_s)} ago`));
  return cell;
}

function sourceCell(entry) {
  const cell = el("td");
  if (entry.source === "synthetic") {
    cell.append(el("span", { class: "synthetic-tag" }, "SYNTHETIC"));
  } else if (entry.source) {
    cell.append(entry.source === "poll" ? "polled" : "pushed");
  } else {
    cell.append(entry.polled ? "polled" : "pushes");
  }
  return cell;
}

function filesTable(files) {
  const rows = files.map((f) =>
    el("tr", {},
      el("td", {}, el("code", {}, f.name)),
      el("td", {}, formatEpoch(f.last_updated_s)),
      el("td", { class: "num" }, formatAge(f.ttl_s)),
      el("td", { class: "num" }, formatAge(f.age_s))));
  return el("table", { class: "ws-table ws-compact" },
    el("caption", {}, "Feed files"),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "File"),
      el("th", { scope: "col" }, "Last updated"),
      el("th", { scope: "col", class: "num" }, "TTL"),
      el("th", { scope: "col", class: "num" }, "Age"))),
    el("tbody", {}, ...rows));
}

function lastPushCell(entry, status) {
  const cell = el("td");
  const pollError = entry.poll_error || (status && status.poll_error);
  if (pollError) {
    cell.append(el("p", { class: "ws-error-text" },
      `Polling fails (${pollError.consecutive_failures} in a row${pollError.refused ? ", URL refused" : ""}): ${pollError.reason}`));
  }
  if (!status) {
    if (!pollError) cell.append("—");
    return cell;
  }
  const warnings = status.warnings || [];
  const summary = warnings.length === 0
    ? "no warnings"
    : `${warnings.length} warning${warnings.length === 1 ? "" : "s"}`;
  const details = el("details", { class: "ws-details" },
    el("summary", {},
      // the provider's name for whoever reaches this by Tab, away from its row header
      el("span", { class: "visually-hidden" }, `${entry.name || entry.provider_id}: `),
      `${summary}, ${status.files.length} file${status.files.length === 1 ? "" : "s"}` +
      (status.gbfs_version ? `, GBFS ${status.gbfs_version}` : "")));
  if (warnings.length) {
    details.append(el("ul", { class: "ws-warnings" }, ...warnings.map((w) => el("li", {}, w))));
  }
  if (status.files.length) details.append(filesTable(status.files));
  cell.append(details);
  return cell;
}

function row(entry, status) {
  const who = el("th", { scope: "row" },
    el("span", { class: "ws-name" }, entry.name || entry.provider_id), el("br"),
    el("code", {}, entry.provider_id));
  return el("tr", { "data-provider": entry.provider_id, class: entry.stale ? "is-stale" : "" },
    who,
    sourceCell(entry),
    freshnessCell(entry),
    el("td", { class: "num" }, String(entry.vehicles ?? 0)),
    el("td", { class: "num" }, String(entry.stations ?? 0)),
    lastPushCell(entry, status));
}

/**
 * Replace the table's rows, keeping what the reader had open and where the keyboard was:
 * the board refreshes itself every few seconds, and a refresh must not close the warnings
 * someone is reading or drop their focus to the top of the page.
 */
function redraw(rows) {
  const open = new Set([...table.querySelectorAll("details[open]")].map((d) => d.closest("tr").dataset.provider));
  const focused = table.contains(document.activeElement)
    ? document.activeElement.closest("tr[data-provider]")?.dataset.provider
    : null;
  table.replaceChildren(...rows);
  for (const tr of rows) {
    const details = tr.querySelector("details");
    if (details && open.has(tr.dataset.provider)) details.open = true;
    if (details && focused === tr.dataset.provider) details.querySelector("summary").focus();
  }
}

function fillKeySelect(providers) {
  const chosen = keysSelect.value;
  keysSelect.replaceChildren(...providers.map((p) =>
    el("option", { value: p.provider_id }, `${p.name || p.provider_id} (${p.provider_id})`)));
  if (providers.some((p) => p.provider_id === chosen)) keysSelect.value = chosen;
}

/** Read every provider and its status, then redraw the board in one go. */
async function loadBoard() {
  try {
    const { providers } = await getJSON("/providers");
    const statuses = await Promise.all(providers.map(statusOf));
    redraw(providers.map((p, i) => row(p, statuses[i])));
    fillKeySelect(providers);
    const stale = providers.filter((p) => p.stale).length;
    // only a change of the counts is announced (live region); the time of reading is not
    const said = providers.length === 0
      ? "No provider is registered."
      : `${providers.length} provider${providers.length === 1 ? "" : "s"}, ${stale} stale.`;
    if (boardStatus.textContent !== said) boardStatus.textContent = said;
    document.getElementById("board-time").textContent = `Read at ${new Date().toLocaleTimeString("en-GB")}.`;
    boardStatus.classList.remove("ws-error-text");
  } catch (err) {
    boardStatus.textContent = `Could not read the providers: ${err.message}`;
    boardStatus.classList.add("ws-error-text");
  }
}

function scheduleRefresh() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  if (document.getElementById("auto-refresh").checked) {
    refreshTimer = setInterval(loadBoard, REFRESH_MS);
  }
}

// -- admin actions --------------------------------------------------------------------------

async function register(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const out = document.getElementById("register-status");
  clearFieldErrors(form);
  const body = {
    provider_id: form.provider_id.value.trim(),
    name: form.name.value.trim(),
  };
  if (form.poll_url.value.trim()) body.poll_url = form.poll_url.value.trim();
  out.textContent = "Registering…";
  try {
    const created = await adminCall("POST", "/admin/providers", body);
    out.textContent = `Registered ${created.name} (${created.provider_id}). Issue it a key below.`;
    form.reset();
    await loadBoard();
    keysSelect.value = created.provider_id;
  } catch (err) {
    out.textContent = "";
    showFieldErrors(form, err, "provider_id");
  }
}

function keysError(message) {
  document.getElementById("keys-error").textContent = message;
}

async function showKeys() {
  const providerId = keysSelect.value;
  keysError("");
  if (!providerId) {
    keysError("Choose a provider first.");
    return;
  }
  try {
    const { keys } = await adminCall("GET", `/admin/providers/${encodeURIComponent(providerId)}/keys`);
    const tbody = document.querySelector("#keys-table tbody");
    tbody.replaceChildren(...keys.map((k) => keyRow(providerId, k)));
    document.getElementById("keys-of").textContent = providerId;
    document.getElementById("keys-table").hidden = false;
    document.getElementById("keys-status").textContent =
      keys.length === 0 ? `${providerId} has no keys.` : `${keys.length} key${keys.length === 1 ? "" : "s"} of ${providerId}.`;
  } catch (err) {
    keysError(err.message);
  }
}

function keyRow(providerId, key) {
  const action = el("td");
  if (key.revoked_at_s === null) {
    const button = el("button", { type: "button", class: "ws-danger" }, "Revoke");
    button.setAttribute("aria-label", `Revoke key ${key.key_id}`);
    button.addEventListener("click", () => revokeKey(providerId, key.key_id));
    action.append(button);
  }
  return el("tr", { "data-key": key.key_id },
    el("td", {}, el("code", {}, key.key_id)),
    el("td", {}, formatEpoch(key.created_at_s)),
    el("td", {}, key.revoked_at_s === null ? "active" : formatEpoch(key.revoked_at_s)),
    action);
}

async function issueKey() {
  const providerId = keysSelect.value;
  keysError("");
  if (!providerId) {
    keysError("Choose a provider first.");
    return;
  }
  try {
    const issued = await adminCall("POST", `/admin/providers/${encodeURIComponent(providerId)}/keys`);
    const box = document.getElementById("new-secret");
    document.getElementById("new-secret-id").textContent = issued.key_id;
    document.getElementById("new-secret-value").value = issued.secret;
    box.hidden = false;
    box.focus();
    await showKeys();
  } catch (err) {
    keysError(err.message);
  }
}

async function revokeKey(providerId, keyId) {
  if (!window.confirm(`Revoke key ${keyId} of ${providerId}? Pushes with it are refused at once.`)) return;
  keysError("");
  try {
    await adminCall("DELETE", `/admin/providers/${encodeURIComponent(providerId)}/keys/${encodeURIComponent(keyId)}`);
    document.getElementById("new-secret").hidden = true;
    await showKeys();
    document.getElementById("keys-status").textContent += ` Key ${keyId} revoked.`;
  } catch (err) {
    keysError(err.message);
  }
}

/** The name the board shows for `providerId` (the option's text), for the confirmation. */
function chosenName(providerId) {
  const option = [...keysSelect.options].find((o) => o.value === providerId);
  return option ? option.textContent : providerId;
}

/**
 * Remove the chosen provider with its keys and fleet (DELETE /admin/providers/{id}), after a
 * confirmation that names it: the one admin action here that cannot be undone.
 */
async function removeProvider() {
  const providerId = keysSelect.value;
  keysError("");
  if (!providerId) {
    keysError("Choose a provider first.");
    return;
  }
  const who = chosenName(providerId);
  if (!window.confirm(`Remove provider ${who}? Its keys and its fleet are deleted and its pushes refused.`)) return;
  try {
    await adminCall("DELETE", `/admin/providers/${encodeURIComponent(providerId)}`);
  } catch (err) {
    keysError(err.message);
    return;
  }
  // the keys and the secret shown were the removed provider's
  document.getElementById("keys-table").hidden = true;
  document.getElementById("new-secret").hidden = true;
  await loadBoard();
  document.getElementById("keys-status").textContent = `Removed provider ${who}.`;
}

document.getElementById("refresh").addEventListener("click", loadBoard);
document.getElementById("auto-refresh").addEventListener("change", scheduleRefresh);
document.getElementById("register-form").addEventListener("submit", register);
document.getElementById("keys-show").addEventListener("click", showKeys);
document.getElementById("keys-issue").addEventListener("click", issueKey);
document.getElementById("provider-remove").addEventListener("click", removeProvider);
keysSelect.addEventListener("change", () => {
  document.getElementById("keys-table").hidden = true;
  document.getElementById("new-secret").hidden = true;
  document.getElementById("keys-status").textContent = "";
});

loadBoard();
scheduleRefresh();
