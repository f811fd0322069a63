/**
 * Failover measurements of a run: for each crash of a node that owned shards,
 * when the loss was detected (one of its shards reassigned), when every one of
 * its shards was taken over, and when one of them made progress again.
 *
 * @module
 */
import { type Percentiles, percentiles } from "./percentiles.ts";

/** One crash of a shard owner, and how the cluster recovered from it. */
interface CrashRecord {
  node: string;
  at: number;
  shards: Set<number>;
  detectedAt: number | null;
  takenOver: Set<number>;
  takeoverAt: number | null;
  progressAt: number | null;
}

/** Failover times, from the crash, simulated ms. */
export interface FailoverTimes {
  detectionMs: Percentiles;
  takeoverMs: Percentiles;
  firstProgressMs: Percentiles;
}

/** First progress counts only this close to the takeover (virtual ms). */
const PROGRESS_WINDOW_MS = 10_000;

/**
 * Follows shard ownership (from successful claims) and crashes, and times each failover.
 *
 * @example
 * ```ts
 * import { FailoverTracker } from "./failover.ts";
 * const f = new FailoverTracker();
 * f.claimed("n1", 0, "n1", 0);
 * f.crashed("n1", 100);
 * f.claimed("n2", 0, "n2", 400);
 * f.appended(0, 450);
 * const t = f.times();
 * if (t.detectionMs.max !== 300 || t.takeoverMs.max !== 300 || t.firstProgressMs.max !== 350) throw new Error();
 * ```
 */
export class FailoverTracker {
  /** Each shard's owner, as the last successful claim set it. */
  readonly #owners = new Map<number, string>();
  readonly #crashes: CrashRecord[] = [];

  /** `node` crashed at `now`: a failover starts if it owned shards. */
  crashed(node: string, now: number): void {
    const shards = new Set([...this.#owners].filter(([, owner]) => owner === node).map(([s]) => s));
    if (shards.size > 0) {
      this.#crashes.push({
        node,
        at: now,
        shards,
        detectedAt: null,
        takenOver: new Set(),
        takeoverAt: null,
        progressAt: null,
      });
    }
  }

  /** An append to `shard` was accepted at `now`. */
  appended(shard: number, now: number): void {
    for (const c of this.#crashes) {
      const open = c.takeoverAt === null || now - c.takeoverAt <= PROGRESS_WINDOW_MS; // first progress: near the takeover
      if (c.progressAt === null && open && c.shards.has(shard)) {
        c.progressAt = now;
      }
    }
  }

  /** `node`'s claim of `shard` for `owner` succeeded at `now`. */
  claimed(node: string, shard: number, owner: string, now: number): void {
    this.#owners.set(shard, owner);
    for (const c of this.#crashes) {
      if (!c.shards.has(shard)) continue;
      // Detection: the leader reassigned one of its shards before they were all taken up again.
      if (c.detectedAt === null && c.takeoverAt === null && owner !== c.node) c.detectedAt = now;
      if (owner === node && !c.takenOver.has(shard)) {
        c.takenOver.add(shard);
        if (c.takenOver.size === c.shards.size) c.takeoverAt = now;
      }
    }
  }

  /** The failover times measured so far. */
  times(): FailoverTimes {
    const crashes = this.#crashes;
    return {
      detectionMs: percentiles(crashes.filter((c) => c.detectedAt !== null).map((c) => c.detectedAt! - c.at)),
      takeoverMs: percentiles(crashes.filter((c) => c.takeoverAt !== null).map((c) => c.takeoverAt! - c.at)),
      firstProgressMs: percentiles(
        crashes.filter((c) => c.progressAt !== null).map((c) => c.progressAt! - c.at),
      ),
    };
  }
}
