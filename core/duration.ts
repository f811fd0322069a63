/**
 * Durations as operators write them: `250ms`, `30s`, `5m`, `1h`, `1d`.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * Parses a duration to milliseconds; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * if (parseDuration("5m") !== 300_000) throw new Error("5m");
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}
