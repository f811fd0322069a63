/**
 * The CLI's human output, pure: aligned tables, short ids, relative times, durations, counts and progress
 * bars. Nothing here writes; the commands print what these return.
 *
 * @module
 */

/** Shown for a missing value. */
export const NONE = "-";

/** How a column is aligned. */
export type Align = "left" | "right";

/**
 * An aligned table: the header row, then the rows, columns two spaces apart, trailing spaces trimmed.
 *
 * @example
 * ```ts
 * import { table } from "./format.ts";
 * const lines = table(["ID", "RUNS"], [["a", "1"], ["bcd", "10"]], ["left", "right"]);
 * if (lines.join("\n") !== "ID   RUNS\na       1\nbcd    10") throw new Error(lines.join("\n"));
 * ```
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], align: Align[] = []) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => align[i] === "right" ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** A piece of an id that is a prefix and a long run of hex digits (`ex-6f260d08-…`, `sch-b2a0…`). */
const HEX_PIECE = /^([A-Za-z]+-)([0-9a-f]{8})[0-9a-f-]{8,}$/;

/**
 * An id shortened for tables: each `@`-separated piece that is a word prefix and a long hex id keeps its
 * prefix and 8 hex digits (`ex-6f260d08-…` → `ex-6f260d08`; `ck-2075…@ex-f3bc…` → `ck-20757de1@ex-f3bc1f2c`);
 * other pieces stay whole (`sch-every-5m@1796577101500`). Commands take the short form back
 * (see `ids.ts`).
 *
 * @example
 * ```ts
 * import { shortId } from "./format.ts";
 * if (shortId("ex-6f260d08-1ce0-15dd-f21b-5c00e21b15f0") !== "ex-6f260d08") throw new Error();
 * if (shortId("nightly@1796577101500") !== "nightly@1796577101500") throw new Error();
 * ```
 */
export function shortId(id: string): string {
  return id.split("@").map((piece) => {
    const m = HEX_PIECE.exec(piece);
    return m ? m[1] + m[2] : piece;
  }).join("@");
}

const SPANS: [number, string][] = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "m"], [1_000, "s"]];

/**
 * A duration for people: `17ms`, `1.2s`, `42s`, `3m04s`, `2h05m`, `3d04h`; {@link NONE} for `null`.
 *
 * @example
 * ```ts
 * import { duration } from "./format.ts";
 * const got = [17, 1_234, 42_000, 184_000, 7_500_000].map(duration).join(" ");
 * if (got !== "17ms 1.2s 42s 3m04s 2h05m") throw new Error(got);
 * ```
 */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1_000) return `${abs}ms`;
  if (abs < 10_000) return `${(Math.floor(abs / 100) / 10).toFixed(1)}s`;
  if (abs < 60_000) return `${Math.floor(abs / 1_000)}s`;
  for (let i = 0; i < SPANS.length - 1; i++) {
    const [size, unit] = SPANS[i];
    const [subSize, subUnit] = SPANS[i + 1];
    if (abs >= size) {
      const rest = Math.floor((abs % size) / subSize);
      return `${Math.floor(abs / size)}${unit}${String(rest).padStart(2, "0")}${subUnit}`;
    }
  }
  return `${abs}ms`;
}

/**
 * A time relative to `now`, coarse: `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`, or `in 5m` for the
 * future; {@link NONE} for `null`.
 *
 * @example
 * ```ts
 * import { ago } from "./format.ts";
 * const now = 1_000_000_000;
 * if (ago(now - 300_000, now) !== "5m ago" || ago(now + 90_000, now) !== "in 1m") throw new Error();
 * ```
 */
export function ago(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined || !Number.isFinite(at)) return NONE;
  const diff = now - at;
  const abs = Math.abs(diff);
  if (abs < 1_000) return diff >= 0 ? "just now" : "in <1s";
  let text = `${Math.floor(abs / 1_000)}s`;
  for (const [size, unit] of SPANS) {
    if (abs >= size) {
      text = `${Math.floor(abs / size)}${unit}`;
      break;
    }
  }
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/**
 * An epoch-ms time as an ISO 8601 UTC string (seconds, or milliseconds with `ms`), {@link NONE} for `null`.
 *
 * @example
 * ```ts
 * import { isoTime } from "./format.ts";
 * if (isoTime(0) !== "1970-01-01T00:00:00Z") throw new Error(isoTime(0));
 * ```
 */
export function isoTime(at: number | null | undefined, ms = false): string {
  if (at === null || at === undefined || !Number.isFinite(at)) return NONE;
  const text = new Date(at).toISOString();
  return ms ? text : text.replace(/\.\d{3}Z$/, "Z");
}

/**
 * A count with thousands separators, {@link NONE} for `null`.
 *
 * @example
 * ```ts
 * import { count } from "./format.ts";
 * if (count(1234567) !== "1,234,567") throw new Error();
 * ```
 */
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined) return NONE;
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A progress bar of `width` cells for `done` of `total`.
 *
 * @example
 * ```ts
 * import { bar } from "./format.ts";
 * if (bar(1, 4, 8) !== "██░░░░░░") throw new Error(bar(1, 4, 8));
 * ```
 */
export function bar(done: number, total: number, width = 20): string {
  const share = total <= 0 ? 0 : Math.min(1, Math.max(0, done / total));
  const full = Math.round(share * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

/**
 * A line cut to `width` characters (an ellipsis at the end when cut).
 *
 * @example
 * ```ts
 * import { truncate } from "./format.ts";
 * if (truncate("abcdef", 4) !== "abc…") throw new Error();
 * ```
 */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/**
 * A one-line JSON of a value, cut to `width` characters.
 *
 * @example
 * ```ts
 * import { brief } from "./format.ts";
 * if (brief({ a: 1 }, 40) !== '{"a":1}') throw new Error();
 * ```
 */
export function brief(value: unknown, width = 60): string {
  if (value === undefined) return NONE;
  return truncate(JSON.stringify(value) ?? NONE, width);
}
