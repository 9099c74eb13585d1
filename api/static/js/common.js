// Shared helpers of fairtrip's web pages: calling the API, the page state in the URL,
// money and time as a rider reads them, and the admin token.
//
// The pages are clients of the public API like any other: every call goes through
// getJSON/sendJSON, which turn the API's one error shape
// {"error": {"code", "message", "field"}} into an ApiError the page can show next to the
// field it names.

/** An error answer of the API (or a network failure, status 0), ready to show. */
export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's HTML page, say): the status line is all there is to say
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.message === "string") {
    return new ApiError(response.status, err.code || "error", err.message, err.field ?? null);
  }
  return new ApiError(
    response.status,
    "http_" + response.status,
    `the server answered ${response.status} ${response.statusText}`.trim(),
  );
}

async function request(method, url, body, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const init = { method, headers, signal: opts.signal };
  if (body !== undefined) {
    if (typeof body === "string") {
      init.body = body;
      headers["Content-Type"] = opts.contentType || "application/json";
    } else {
      init.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network_error", "the server could not be reached; is it running?");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** GET `url` and return its JSON; throws ApiError. `opts`: {signal, token, headers}. */
export function getJSON(url, opts = {}) {
  return request("GET", url, undefined, opts);
}

/** `method` `url` with `body` (an object sent as JSON, or a string); throws ApiError. */
export function sendJSON(method, url, body, opts = {}) {
  return request(method, url, body, opts);
}

/** A URL with a query string from `params` (null/undefined/"" values left out). */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  }
  const text = q.toString();
  return text ? `${path}?${text}` : path;
}

// --- the page's state in the URL -------------------------------------------------------

/** The page's query parameters as a plain object of strings. */
export function readState() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}

/**
 * Put `state` in the URL's query (null/undefined/"" values dropped), so the page can be
 * shared, bookmarked and reopened as it is. `push: true` adds a history entry (Back
 * returns to the previous state); otherwise the current entry is replaced.
 */
export function writeState(state, { push = false } = {}) {
  const url = withQuery(window.location.pathname, state) + window.location.hash;
  if (url === window.location.pathname + window.location.search + window.location.hash) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

// --- money, time, distance ---------------------------------------------------------------

function minorDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/**
 * Integer minor units as "2.80 EUR", computed on integers (never 2.8000000001). The API
 * sends a `text` with each amount; this is for sums and amounts the page makes itself.
 */
export function formatMoney(minor, currency) {
  const digits = minorDigits(currency);
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(minor));
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10 ** digits;
  const whole = Math.floor(abs / unit);
  const frac = String(abs % unit).padStart(digits, "0");
  return `${sign}${whole}.${frac} ${currency}`;
}

/**
 * "08:04" from an ISO-8601 time with offset, read in the offset it carries (the agency's
 * time zone), not the browser's: a trip in Helsinki shows Helsinki times wherever it is
 * opened.
 */
export function formatTime(iso) {
  const m = /T(\d{2}):(\d{2})/.exec(iso || "");
  return m ? `${m[1]}:${m[2]}` : "";
}

/** "1 h 05 min", "12 min", "45 s". */
export function formatDuration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, "0")} min`;
}

/** "350 m", "2.4 km". */
export function formatDistance(metres) {
  if (metres < 1000) return `${Math.round(metres)} m`;
  return `${(metres / 1000).toFixed(1)} km`;
}

// --- the admin token ---------------------------------------------------------------------

const TOKEN_KEY = "fairtrip.adminToken";

function tokenDialog() {
  const dialog = document.createElement("dialog");
  dialog.className = "token-dialog";
  dialog.setAttribute("aria-labelledby", "token-dialog-title");
  dialog.innerHTML = `
    <form method="dialog">
      <h2 id="token-dialog-title">Admin token</h2>
      <p>This action needs the server's admin token (FAIRTRIP_ADMIN_TOKEN). It is kept
      for this browser tab's session only.</p>
      <label for="token-dialog-input">Token</label>
      <input id="token-dialog-input" name="token" type="password" autocomplete="off" required
             minlength="1">
      <div class="buttons">
        <button type="submit" value="ok">Use token</button>
        <button type="button" value="cancel" class="secondary">Cancel</button>
      </div>
    </form>`;
  document.body.append(dialog);
  return dialog;
}

/**
 * The admin token, asked once per browser session (a labelled dialog) and kept in
 * sessionStorage, so it leaves with the tab. Resolves to the token, or rejects with an
 * ApiError (code "no_token") when the user cancels.
 */
export function adminToken() {
  const kept = window.sessionStorage.getItem(TOKEN_KEY);
  if (kept) return Promise.resolve(kept);
  return new Promise((resolve, reject) => {
    const dialog = tokenDialog();
    const input = dialog.querySelector("input");
    const finish = (token) => {
      dialog.close();
      dialog.remove();
      if (token) {
        window.sessionStorage.setItem(TOKEN_KEY, token);
        resolve(token);
      } else {
        reject(new ApiError(0, "no_token", "no admin token was given", "token"));
      }
    };
    dialog.querySelector("form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      finish(input.value.trim());
    });
    dialog.querySelector('button[value="cancel"]').addEventListener("click", () => finish(""));
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      finish("");
    });
    dialog.showModal();
    input.focus();
  });
}

/** Forget the kept admin token (after the API refused it with 401/403). */
export function forgetAdminToken() {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

// --- small DOM helpers -------------------------------------------------------------------

/** A new element: el("li", {class: "x", text: "..."}, child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Mark the header link of the current page (aria-current) for screen readers and CSS. */
export function markCurrentNav() {
  for (const a of document.querySelectorAll("header nav a")) {
    if (new URL(a.href).pathname === window.location.pathname) a.setAttribute("aria-current", "page");
  }
}
