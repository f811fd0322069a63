/**
 * The console's addresses: every page has a path under `/ui/` that can be pasted (`/ui/executions/ex-1`),
 * moved between with the History API, no reload.
 *
 * @module
 */

/** @type {Set<() => void>} */
const listeners = new Set();

/**
 * Goes to `path` (a `/ui/…` path, with its query): a new history entry, or the current one replaced.
 *
 * @example
 * ```js
 * import { navigate } from "./router.js";
 * if (typeof navigate !== "function") throw new Error();
 * ```
 * @param {string} path
 * @param {{replace?: boolean}} [opts]
 */
export function navigate(path, opts = {}) {
  if (opts.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const f of listeners) f();
  globalThis.scrollTo?.(0, 0);
}

/**
 * Calls `f` whenever the address changes (a navigation, the back button); returns the unsubscription.
 *
 * @example
 * ```js
 * import { onNavigate } from "./router.js";
 * const stop = onNavigate(() => {});
 * stop();
 * ```
 * @param {() => void} f
 * @returns {() => void}
 */
export function onNavigate(f) {
  listeners.add(f);
  globalThis.addEventListener?.("popstate", f);
  return () => {
    listeners.delete(f);
    globalThis.removeEventListener?.("popstate", f);
  };
}

/**
 * The page a path names, and its parameter: `{page: "run", id: "ex-1"}` for `/ui/executions/ex-1`.
 *
 * @example
 * ```js
 * import { match } from "./router.js";
 * const m = match("/ui/executions/sch-1%4017");
 * if (m.page !== "run" || m.id !== "sch-1@17") throw new Error(JSON.stringify(m));
 * if (match("/ui/").page !== "workflows" || match("/ui/nope/x/y").page !== "not_found") throw new Error();
 * ```
 * @param {string} pathname
 * @returns {{page: string, id?: string}}
 */
export function match(pathname) {
  const path = pathname.replace(/\/+$/, "") || "/";
  const table = [
    [/^\/ui$/, "workflows"],
    [/^\/ui\/workflows$/, "workflows"],
    [/^\/ui\/workflows\/new$/, "workflow_new"],
    [/^\/ui\/workflows\/([^/]+)$/, "workflow"],
    [/^\/ui\/executions$/, "runs"],
    [/^\/ui\/executions\/([^/]+)$/, "run"],
    [/^\/ui\/cluster$/, "cluster"],
    [/^\/ui\/schedules$/, "schedules"],
  ];
  for (const [re, page] of table) {
    const m = re.exec(path);
    if (!m) continue;
    if (m[1] === undefined) return { page };
    try {
      return { page, id: decodeURIComponent(m[1]) };
    } catch {
      return { page: "not_found" };
    }
  }
  return { page: "not_found" };
}

/**
 * The console path of a resource: `uiPath("executions", "sch-1@17")` → `/ui/executions/sch-1%4017`.
 *
 * @example
 * ```js
 * import { uiPath } from "./router.js";
 * if (uiPath("workflows", "a b") !== "/ui/workflows/a%20b") throw new Error(uiPath("workflows", "a b"));
 * ```
 * @param {string} section
 * @param {string} [id]
 * @returns {string}
 */
export function uiPath(section, id) {
  return id === undefined ? `/ui/${section}` : `/ui/${section}/${encodeURIComponent(id)}`;
}
