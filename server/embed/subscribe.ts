/**
 * An execution's events as an async iterator: the stored history read after the last `seq` seen, again every
 * `pollMs`, until the execution ends (and every event up to its end was yielded), the caller stops, or the
 * engine closes. Reading the history (rather than listening to one member's commits) gives the same events in
 * the same order on every member of a cluster, and after a failover.
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";

/** How `subscribe` follows an execution. */
export interface SubscribeOptions {
  /** Milliseconds between reads while nothing new is stored (default 50; from 10 to 60,000). */
  pollMs?: number;
  /** Stops the iteration when aborted. */
  signal?: AbortSignal;
}

/** Where the events come from. */
export interface EventSource {
  /** The stored events with `seq > after`, oldest first. */
  events(after: number): Promise<ExecutionEvent[]>;
  /** Whether the execution has ended. */
  ended(): Promise<boolean>;
  /** Whether the engine closed. */
  closed(): boolean;
}

/**
 * Follows an execution's events.
 *
 * @example
 * ```ts
 * import { followEvents } from "./subscribe.ts";
 * const stored = [{ seq: 1, type: "ExecutionStarted" }, { seq: 2, type: "ExecutionSucceeded" }];
 * const seen: string[] = [];
 * for await (const e of followEvents({
 *   events: (after) => Promise.resolve(stored.filter((x) => x.seq > after) as never),
 *   ended: () => Promise.resolve(true),
 *   closed: () => false,
 * })) seen.push(e.type);
 * if (seen.join() !== "ExecutionStarted,ExecutionSucceeded") throw new Error(seen.join());
 * ```
 */
export async function* followEvents(
  source: EventSource,
  opts: SubscribeOptions = {},
): AsyncGenerator<ExecutionEvent, void, undefined> {
  const pollMs = Math.min(60_000, Math.max(10, opts.pollMs ?? 50));
  let after = 0;
  while (!opts.signal?.aborted && !source.closed()) {
    let ended: boolean, events: ExecutionEvent[];
    try {
      ended = await source.ended(); // before reading: every event up to the end is then in the read
      events = await source.events(after);
    } catch (err) {
      if (source.closed()) return; // the engine closed under the read: the iteration ends quietly
      throw err;
    }
    for (const event of events) {
      after = Math.max(after, event.seq);
      yield event;
      if (opts.signal?.aborted) return;
    }
    if (ended) return;
    if (events.length === 0) await sleep(pollMs, opts.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
