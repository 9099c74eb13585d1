// Small DOM and admin helpers shared by the policy workspace and the providers' board.
//
// Kept apart from common.js (shared by every page) because only these two pages build tables
// from API answers and call the admin API; the trip planner needs neither.

import { adminToken, forgetAdminToken, getJSON, sendJSON, ApiError } from "./common.js";

/** An age in seconds as people say it: "12 s", "4 min 5 s", "3 h 2 min". */
export function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Epoch seconds as a local date and time (24-hour clock, unambiguous day-month order). */
export function formatEpoch(epochS) {
  if (epochS === null || epochS === undefined) return "—";
  return new Date(epochS * 1000).toLocaleString("en-GB", {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** True when the API refused the admin token itself (not the action). */
function tokenRefused(err) {
  return err instanceof ApiError && (err.status === 401 || (err.status === 403 && err.code === "forbidden"));
}

/**
 * An admin API call with the session's admin token. A refused token is forgotten and asked
 * for once more, so a typo does not lock the tab into failing calls until it is closed.
 * Cancelling the token dialog rejects with common.js's ApiError (code "no_token").
 */
export async function adminCall(method, url, body, opts = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const token = await adminToken();
    try {
      return method === "GET"
        ? await getJSON(url, { ...opts, token })
        : await sendJSON(method, url, body, { ...opts, token });
    } catch (err) {
      if (!tokenRefused(err) || attempt > 0) throw err;
      forgetAdminToken();
    }
  }
}

/**
 * POST a policy document as the planner wrote it: JSON when it is an object, YAML otherwise
 * (the API parses both). `admin: true` sends the admin token.
 */
export function postDocument(url, text, { admin = false } = {}) {
  const contentType = text.trimStart().startsWith("{") ? "application/json" : "application/yaml";
  return admin
    ? adminCall("POST", url, text, { contentType })
    : sendJSON("POST", url, text, { contentType });
}

/** Remove the messages a previous submit left next to the form's fields. */
export function clearFieldErrors(form) {
  for (const span of form.querySelectorAll(".field-error")) span.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * Show an API error next to the field it names (`error.field`), or next to `fallback` when it
 * names none of the form's fields; the field is marked invalid and focused.
 */
export function showFieldErrors(form, err, fallback) {
  const field = err instanceof ApiError && err.field ? err.field.split(/[.[/]/)[0] : fallback;
  const target = form.querySelector(`.field-error[data-field="${CSS.escape(field)}"]`) ||
    form.querySelector(`.field-error[data-field="${CSS.escape(fallback)}"]`);
  target.textContent = err.message;
  const input = form.elements.namedItem(target.dataset.field);
  if (input instanceof HTMLElement) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}
