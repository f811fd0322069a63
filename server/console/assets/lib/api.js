/**
 * The console's only way to its data: the node's HTTP API, same origin, with the signed-in token as a bearer
 * token. The token is kept in `sessionStorage` (this tab only, gone when it closes). Errors come back as
 * {@link ApiFailure} with the API's stable code, message and details.
 *
 * @module
 */

/** Where the token is kept, in `sessionStorage`. */
const TOKEN_KEY = "flowmesh.token";

/**
 * An API answer that was not a success: the status and the API's `{code, message, details}`.
 *
 * @example
 * ```js
 * import { ApiFailure } from "./api.js";
 * const f = new ApiFailure(404, { code: "execution_not_found", message: "no execution x", details: [] });
 * if (f.code !== "execution_not_found" || f.status !== 404) throw new Error(f.message);
 * ```
 */
export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, details?: {path: string, code?: string, message: string}[]}} error
   */
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.name = "ApiFailure";
    this.status = status;
    this.code = error?.code ?? `http_${status}`;
    this.details = Array.isArray(error?.details) ? error.details : [];
  }
}

/** @returns {Storage | undefined} */
function storage() {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}

/**
 * The token this tab signed in with, or null.
 *
 * @example
 * ```js
 * import { getToken, setToken } from "./api.js";
 * setToken(null);
 * if (getToken() !== null) throw new Error("signed out");
 * ```
 * @returns {string | null}
 */
export function getToken() {
  return storage()?.getItem(TOKEN_KEY) ?? null;
}

/**
 * Keeps (or with null forgets) this tab's token.
 *
 * @example
 * ```js
 * import { setToken } from "./api.js";
 * setToken(null);
 * ```
 * @param {string | null} token
 */
export function setToken(token) {
  const s = storage();
  if (!s) return;
  if (token === null) s.removeItem(TOKEN_KEY);
  else s.setItem(TOKEN_KEY, token);
}

/**
 * Calls the API: `method path` with an optional JSON body; resolves with the parsed body and the headers, or
 * rejects with an {@link ApiFailure} (status 0, code `network`, when the node could not be reached).
 *
 * @example
 * ```js
 * import { ApiFailure, call } from "./api.js";
 * try {
 *   await call("GET", "http://127.0.0.1:1/api/v1/whoami");
 *   throw new Error("nothing listens on port 1");
 * } catch (e) {
 *   if (!(e instanceof ApiFailure) || e.code !== "network") throw e;
 * }
 * ```
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {Record<string, string>} [extraHeaders]
 * @returns {Promise<{body: any, headers: Headers, status: number}>}
 */
export async function call(method, path, body, extraHeaders = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", ...extraHeaders };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiFailure(0, { code: "network", message: `the node did not answer: ${err}` });
  }
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (!res.ok) throw new ApiFailure(res.status, parsed?.error ?? { message: String(text).slice(0, 200) });
  return { body: parsed, headers: res.headers, status: res.status };
}

/**
 * `GET path` with `query` (empty values left out); the body.
 *
 * @example
 * ```js
 * import { withQuery } from "./api.js";
 * const p = withQuery("/api/v1/executions", { status: "failed", q: "", limit: 50 });
 * if (p !== "/api/v1/executions?status=failed&limit=50") throw new Error(p);
 * ```
 * @param {string} path
 * @param {Record<string, string | number | null | undefined>} query
 * @returns {string}
 */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && v !== "") params.set(k, String(v));
  }
  const s = params.toString();
  return s === "" ? path : `${path}?${s}`;
}

/**
 * `GET` a list page: its items and the next page's cursor (`x-next-cursor`), or null on the last page.
 *
 * @example
 * ```js
 * import { getPage } from "./api.js";
 * if (typeof getPage !== "function") throw new Error();
 * ```
 * @param {string} path
 * @returns {Promise<{items: any[], next: string | null}>}
 */
export async function getPage(path) {
  const r = await call("GET", path);
  return { items: Array.isArray(r.body) ? r.body : [], next: r.headers.get("x-next-cursor") };
}

/** How long a read started early waits to be taken (ms); an older one is read again. */
const EARLY_MS = 5_000;

/** @type {Map<string, {at: number, reply: Promise<{body: any}>}>} */
const early = new Map();

/**
 * Starts `GET path` now, for the page that will ask for it once drawn (the first {@link get} of that path
 * within 5 s takes its answer, or reads again if it failed): a page's first read need not wait for the
 * sign-in and the first drawing.
 *
 * @example
 * ```js
 * import { readEarly } from "./api.js";
 * readEarly("http://127.0.0.1:1/api/v1/whoami"); // nothing listens: the failure waits for its reader
 * ```
 * @param {string} path
 */
export function readEarly(path) {
  const reply = call("GET", path);
  reply.catch(() => {}); // a failure is its reader's (or nobody's)
  early.set(path, { at: Date.now(), reply });
}

/**
 * `GET path`: the body (a read of it started by {@link readEarly} if there is a recent one).
 *
 * @example
 * ```js
 * import { get } from "./api.js";
 * if (typeof get !== "function") throw new Error();
 * ```
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function get(path) {
  const started = early.get(path);
  if (started) {
    early.delete(path);
    if (Date.now() - started.at < EARLY_MS) {
      try {
        return (await started.reply).body;
      } catch {
        // read again (it may have been refused before the sign-in)
      }
    }
  }
  return (await call("GET", path)).body;
}

/**
 * The path of an API resource from its parts, each one encoded (`ids` may hold `/`, `@`, spaces).
 *
 * @example
 * ```js
 * import { apiPath } from "./api.js";
 * const p = apiPath("executions", "sch-1@17", "nodes", "a b", "output");
 * if (p !== "/api/v1/executions/sch-1%4017/nodes/a%20b/output") throw new Error(p);
 * ```
 * @param {...string} parts
 * @returns {string}
 */
export function apiPath(...parts) {
  return "/api/v1/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

/**
 * Which roles may do what (each role has every right of the ones before it).
 *
 * @example
 * ```js
 * import { allows } from "./api.js";
 * if (!allows("admin", "operator") || allows("viewer", "operator")) throw new Error();
 * ```
 * @param {string | null | undefined} role
 * @param {"viewer" | "operator" | "admin"} needed
 * @returns {boolean}
 */
export function allows(role, needed) {
  const order = ["viewer", "operator", "admin"];
  return role !== null && role !== undefined && order.indexOf(role) >= order.indexOf(needed);
}
