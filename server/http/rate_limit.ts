/**
 * Per-token request rate limits: a token bucket per caller, refilled at `perSecond` up to `burst`. A request
 * that finds its bucket empty is refused (`429 rate_limited` with `Retry-After`); buckets exist only for
 * known tokens (configured, or live ones made through the API: at most 1,000), and the table holds at most
 * `maxCallers` of them (the least recently added goes first), so it stays bounded as tokens come and go.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./rate_limit.ts";
 *
 * let now = 0;
 * const limiter = new RateLimiter(2, 2, () => now);
 * if (limiter.take("t") !== 0 || limiter.take("t") !== 0) throw new Error("the burst is allowed");
 * if (limiter.take("t") !== 0.5) throw new Error("the third waits half a second");
 * now = 500;
 * if (limiter.take("t") !== 0) throw new Error("refilled");
 * ```
 *
 * @module
 */

/** Token buckets by caller. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    /** Requests a second each caller may make, sustained. */
    readonly perSecond: number,
    /** Requests a caller may make at once. */
    readonly burst: number,
    private readonly nowMs: () => number = () => performance.now(),
    /** The most callers with a bucket. */
    readonly maxCallers = 10_000,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new Error(`assertion: rate ${perSecond}/s, burst ${burst}`);
  }

  /** Takes one request for `caller`: 0 when allowed, else the seconds until one would be. */
  take(caller: string): number {
    const now = this.nowMs();
    let bucket = this.#buckets.get(caller);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxCallers) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.burst, at: now };
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }
}
