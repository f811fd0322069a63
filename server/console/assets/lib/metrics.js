/**
 * The cluster page's key figures from this node's `/metrics` (Prometheus text): executions ended (their
 * counter, for a throughput between two scrapes) and the execution-duration histogram (for a p99 between two
 * scrapes, from the buckets' growth).
 *
 * @module
 */

/**
 * @typedef {{ended: number, buckets: {le: number, count: number}[]}} Scrape
 */

/**
 * The figures of one scrape: executions ended (every status) and the duration buckets (summed over statuses).
 *
 * @example
 * ```js
 * import { parseScrape } from "./metrics.js";
 * const s = parseScrape([
 *   '# HELP workflow_execution_total x',
 *   'workflow_execution_total{status="completed"} 7',
 *   'workflow_execution_total{status="failed"} 3',
 *   'workflow_execution_duration_seconds_bucket{status="completed",le="0.1"} 5',
 *   'workflow_execution_duration_seconds_bucket{status="completed",le="+Inf"} 7',
 *   'workflow_execution_duration_seconds_bucket{status="failed",le="0.1"} 1',
 *   'workflow_execution_duration_seconds_bucket{status="failed",le="+Inf"} 3',
 * ].join("\n"));
 * if (s.ended !== 10 || s.buckets.length !== 2 || s.buckets[0].count !== 6) throw new Error(JSON.stringify(s));
 * ```
 * @param {string} text
 * @returns {Scrape}
 */
export function parseScrape(text) {
  let ended = 0;
  /** @type {Map<number, number>} */
  const buckets = new Map();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    if (m[1] === "workflow_execution_total") ended += value;
    if (m[1] === "workflow_execution_duration_seconds_bucket") {
      const le = /le="([^"]+)"/.exec(m[2] ?? "")?.[1];
      const bound = le === "+Inf" ? Infinity : Number(le);
      if (!Number.isNaN(bound)) buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    }
  }
  return { ended, buckets: [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le) };
}

/**
 * Throughput (executions ended a second) and p99 (seconds, the upper bound of the bucket holding the 99th
 * percentile; null without ends) between two scrapes `ms` apart.
 *
 * @example
 * ```js
 * import { between } from "./metrics.js";
 * const a = { ended: 10, buckets: [{ le: 0.1, count: 6 }, { le: 1, count: 9 }, { le: Infinity, count: 10 }] };
 * const b = { ended: 110, buckets: [{ le: 0.1, count: 96 }, { le: 1, count: 109 }, { le: Infinity, count: 110 }] };
 * const f = between(a, b, 2000);
 * if (f.throughput !== 50 || f.p99 !== 1) throw new Error(JSON.stringify(f));
 * ```
 * @param {Scrape} before
 * @param {Scrape} after
 * @param {number} ms
 * @returns {{throughput: number, p99: number | null}}
 */
export function between(before, after, ms) {
  const ended = Math.max(0, after.ended - before.ended);
  const throughput = ms > 0 ? Math.round((ended / (ms / 1000)) * 100) / 100 : 0;
  const prior = new Map(before.buckets.map((b) => [b.le, b.count]));
  const grown = after.buckets.map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) }));
  const total = grown.at(-1)?.count ?? 0;
  if (total <= 0) return { throughput, p99: null };
  const wanted = total * 0.99;
  const hit = grown.find((b) => b.count >= wanted);
  const finite = grown.filter((b) => Number.isFinite(b.le)).at(-1)?.le ?? null;
  return { throughput, p99: hit && Number.isFinite(hit.le) ? hit.le : finite };
}
