/**
 * The console's small parts: `html` (htm bound to preact), links that navigate without a reload, status
 * badges (glyph and word, never colour alone), error banners, a pager, and the polling hook.
 *
 * @module
 */
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { statusInfo } from "../lib/format.js";
import { navigate } from "../lib/router.js";

/**
 * Tagged templates of preact elements: `` html`<p>${text}</p>` ``.
 *
 * @example
 * ```js
 * import { html } from "./ui.js";
 * const el = html`<p class="x">hi</p>`;
 * if (el.type !== "p" || el.props.class !== "x") throw new Error();
 * ```
 */
export const html = htm.bind(h);

/**
 * A link inside the console: a plain `<a href>` (open in a new tab works) that navigates in place on a click.
 *
 * @example
 * ```js
 * import { Link } from "./ui.js";
 * const el = Link({ href: "/ui/cluster", children: "Cluster" });
 * if (el.props.href !== "/ui/cluster") throw new Error();
 * ```
 * @param {{href: string, children?: any, class?: string, "aria-current"?: string}} props
 */
export function Link(props) {
  const { href, children, ...rest } = props;
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

/**
 * A status as a badge: its glyph and its word, in its colour.
 *
 * @example
 * ```js
 * import { StatusBadge } from "./ui.js";
 * const el = StatusBadge({ status: "failed" });
 * if (!el.props.class.includes("st-failed")) throw new Error(el.props.class);
 * ```
 * @param {{status: string}} props
 */
export function StatusBadge({ status }) {
  const s = statusInfo(status);
  return html`<span class=${`badge ${s.className}`} data-status=${status}><span aria-hidden="true">${s.glyph}</span> ${s.label}</span>`;
}

/**
 * An error from the API, as a banner (announced to screen readers); nothing without an error.
 *
 * @example
 * ```js
 * import { ErrorBanner } from "./ui.js";
 * if (ErrorBanner({ error: null }) !== null) throw new Error("no error, no banner");
 * const el = ErrorBanner({ error: { code: "forbidden", message: "no" } });
 * if (el.props.role !== "alert") throw new Error();
 * ```
 * @param {{error: {code?: string, message?: string, details?: {path: string, message: string}[]} | null | undefined}} props
 */
export function ErrorBanner({ error }) {
  if (!error) return null;
  const details = error.details ?? [];
  return html`<div class="error-banner" role="alert">
    <strong>${error.code ?? "error"}</strong>: ${error.message}
    ${
    details.length > 0 &&
    html`<ul>${details.slice(0, 20).map((d) => html`<li><code>${d.path}</code> ${d.message}</li>`)}</ul>`
  }
  </div>`;
}

/**
 * Keyset paging controls: first page, previous (the cursors seen), next (the answer's cursor).
 *
 * @example
 * ```js
 * import { Pager } from "./ui.js";
 * const el = Pager({ hasPrevious: false, next: null, onFirst() {}, onPrevious() {}, onNext() {} });
 * if (el.type !== "nav") throw new Error();
 * ```
 * @param {{hasPrevious: boolean, next: string | null, onFirst: () => void, onPrevious: () => void, onNext: () => void, label?: string}} props
 */
export function Pager({ hasPrevious, next, onFirst, onPrevious, onNext, label }) {
  return html`
    <nav class="pager" aria-label=${label ?? "pages"}>
      <button type="button" disabled=${!hasPrevious} onClick=${onFirst}>⇤ First</button>
      <button type="button" disabled=${!hasPrevious} onClick=${onPrevious}>← Previous</button>
      <button type="button" disabled=${next === null} onClick=${onNext}>Next →</button>
    </nav>
  `;
}

/**
 * Calls `load` now and again `ms` after each call ends (never two at once), until it returns `"stop"`, the
 * component unmounts, or `deps` change (then it starts over).
 *
 * @example
 * ```js
 * import { usePoll } from "./ui.js";
 * if (typeof usePoll !== "function") throw new Error();
 * ```
 * @param {() => Promise<unknown>} load
 * @param {number} ms
 * @param {unknown[]} deps
 */
export function usePoll(load, ms, deps) {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      let verdict;
      try {
        verdict = await latest.current();
      } catch {
        verdict = undefined;
      }
      if (!stopped && verdict !== "stop") timer = setTimeout(tick, ms);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, deps);
}

/**
 * Keyset paging state: the cursor of the page shown and the ones before it.
 *
 * @example
 * ```js
 * import { useCursors } from "./ui.js";
 * if (typeof useCursors !== "function") throw new Error();
 * ```
 * @returns {{cursor: string | null, hasPrevious: boolean, first: () => void, previous: () => void, next: (c: string) => void}}
 */
export function useCursors() {
  const [stack, setStack] = useState(/** @type {(string | null)[]} */ ([null]));
  return {
    cursor: stack.at(-1) ?? null,
    hasPrevious: stack.length > 1,
    first: () => setStack([null]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    next: (c) => setStack((s) => [...s, c]),
  };
}
