/**
 * How the console words and marks things: durations, times, and each status's label, glyph and colour class.
 * A status is never told by colour alone: each has its own glyph and its word (the palette, in `style.css`,
 * is Okabe–Ito's, which colour-blind readers tell apart).
 *
 * @module
 */

/**
 * Each status the console shows: its glyph (a shape of its own) and its CSS class (`st-<status>`).
 *
 * @example
 * ```js
 * import { STATUS } from "./format.js";
 * if (STATUS.failed.glyph === STATUS.completed.glyph) throw new Error("each status has its own shape");
 * ```
 */
export const STATUS = Object.freeze({
  pending: { glyph: "○", label: "pending" },
  running: { glyph: "▶", label: "running" },
  paused: { glyph: "❚❚", label: "paused" },
  completed: { glyph: "✓", label: "completed" },
  failed: { glyph: "✕", label: "failed" },
  skipped: { glyph: "↷", label: "skipped" },
  cancelled: { glyph: "⊘", label: "cancelled" },
  timed_out: { glyph: "⧗", label: "timed out" },
  active: { glyph: "▶", label: "active" },
  stopped: { glyph: "■", label: "stopped" },
  up: { glyph: "●", label: "up" },
  joining: { glyph: "◐", label: "joining" },
  suspect: { glyph: "◌", label: "suspect" },
  down: { glyph: "✕", label: "down" },
  leaving: { glyph: "◑", label: "leaving" },
});

/**
 * A status's glyph, label and class (an unknown word gets `?` and its own word).
 *
 * @example
 * ```js
 * import { statusInfo } from "./format.js";
 * const s = statusInfo("timed_out");
 * if (s.label !== "timed out" || s.className !== "st-timed_out") throw new Error(JSON.stringify(s));
 * ```
 * @param {string} status
 * @returns {{glyph: string, label: string, className: string}}
 */
export function statusInfo(status) {
  const known = Object.hasOwn(STATUS, status) ? STATUS[status] : { glyph: "?", label: String(status) };
  return { ...known, className: `st-${/^[a-z_]+$/.test(status) ? status : "unknown"}` };
}

/**
 * A duration in ms, short: `850 ms`, `1.5 s`, `2 min 5 s`, `3 h 4 min`; `—` for none.
 *
 * @example
 * ```js
 * import { formatDuration } from "./format.js";
 * const got = [850, 1500, 125_000, 11_040_000, null].map(formatDuration).join(" | ");
 * if (got !== "850 ms | 1.5 s | 2 min 5 s | 3 h 4 min | —") throw new Error(got);
 * ```
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * An epoch-ms time as `YYYY-MM-DD HH:MM:SS` (UTC, the zone every node logs in); `—` for none.
 *
 * @example
 * ```js
 * import { formatTime } from "./format.js";
 * if (formatTime(0) !== "1970-01-01 00:00:00") throw new Error(formatTime(0));
 * if (formatTime(null) !== "—") throw new Error("no time");
 * ```
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function formatTime(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * A number with thousands separated (`12,345`), or `—`.
 *
 * @example
 * ```js
 * import { formatCount } from "./format.js";
 * if (formatCount(1234567) !== "1,234,567") throw new Error(formatCount(1234567));
 * ```
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * JSON for a preview: pretty, cut after `max` characters (with `…`).
 *
 * @example
 * ```js
 * import { preview } from "./format.js";
 * if (preview({ a: 1 }, 100) !== '{"a":1}') throw new Error(preview({ a: 1 }, 100));
 * if (preview("x".repeat(50), 10).length !== 11) throw new Error("cut");
 * ```
 * @param {unknown} value
 * @param {number} max
 * @returns {string}
 */
export function preview(value, max = 200) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
