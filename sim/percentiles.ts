/**
 * Percentiles of a sample, as the simulator reports latencies and failover times.
 *
 * @module
 */

/** p50, p99 and max of a sample (null when empty). */
export interface Percentiles {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * Percentiles of `xs` (nearest rank, rounded to whole numbers).
 *
 * @example
 * ```ts
 * import { percentiles } from "./percentiles.ts";
 * const p = percentiles([5, 1, 3]);
 * if (p.n !== 3 || p.p50 !== 3 || p.max !== 5) throw new Error("nearest-rank percentiles");
 * if (percentiles([]).p99 !== null) throw new Error("an empty sample has none");
 * ```
 */
export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: Math.round(s[s.length - 1]) };
}
