/**
 * A steady load of keyed submissions for process tests (`server/cluster/rolling_upgrade_process_test.ts`):
 * new submissions at a fixed rate, each with an `Idempotency-Key` of its own, sent round-robin over a set of
 * members; a submission a member does not answer (connection refused or reset, timeout) or answers `503`/`504`
 * is sent again, with the same key, to the next member, until acknowledged (`202`/`200` with an
 * `executionId`), refused for good (any other status), or given up. Imported only by tests and benches.
 *
 * @module
 */
import type { HttpTarget } from "./http.ts";
import { call } from "./process.ts";
import { sleep } from "./wait.ts";

/** What one attempt of a submission got. */
export type Attempt =
  | { kind: "acked"; executionId: string }
  | { kind: "retry"; why: string }
  | { kind: "refused"; why: string };

/** Options of {@link startKeyedLoad}. */
export interface KeyedLoadOptions {
  /** The members by slot, as they are now (`undefined`: that member is not running). Read at every attempt. */
  targets: () => readonly (HttpTarget | undefined)[];
  /** The workflow every submission executes. */
  workflowId: string;
  /** New submissions a second, over all members. */
  perSecond: number;
  /** Keys are `${keyPrefix}-0`, `${keyPrefix}-1`, … */
  keyPrefix: string;
  /** One attempt is abandoned (and retried) after this many ms. */
  attemptTimeoutMs: number;
  /** A submission still not acknowledged this long after its first attempt is given up. */
  giveUpAfterMs: number;
  /** Pause before an attempt that follows a failed one, in ms. */
  retryPauseMs: number;
}

/** What a load did, once stopped. */
export interface KeyedLoadResult {
  /** Keys submitted. */
  keys: string[];
  /** Acknowledged keys and the execution id each was answered with. */
  acked: Map<string, string>;
  /** Keys answered with a permanent error, and that answer. */
  refused: Map<string, string>;
  /** Keys never acknowledged in `giveUpAfterMs`, with their last failure. */
  givenUp: Map<string, string>;
  /** Failed attempts that were retried, by reason (`connection`, `timeout`, `503 shard_unavailable`, `down`, …). */
  retried: Map<string, number>;
  /** Keys acknowledged only after at least one retry. */
  ackedAfterRetry: number;
}

/** A running load. */
export interface KeyedLoad {
  /** Acknowledged submissions so far. */
  readonly ackedCount: number;
  /** Stops submitting new keys and waits for every submission in flight to end. */
  stop(): Promise<KeyedLoadResult>;
}

/**
 * One attempt: `POST /api/v1/workflows/{workflowId}/execute` with the key as `Idempotency-Key` (and in the
 * input). `202`/`200` with an `executionId` is acknowledged; no answer, `503` and `504` may be retried (the
 * API's contract: such a call may or may not have been committed, and the same key makes a retry safe); any
 * other answer is a refusal.
 */
export async function submitKeyed(
  target: HttpTarget,
  workflowId: string,
  key: string,
  timeoutMs: number,
): Promise<Attempt> {
  try {
    const r = await call(target, "POST", `/api/v1/workflows/${workflowId}/execute`, {
      json: { input: { key } },
      headers: { "idempotency-key": key },
      timeoutMs,
    });
    const code = `${r.status} ${r.body?.error?.code ?? ""}`.trim();
    if ((r.status === 202 || r.status === 200) && typeof r.body?.executionId === "string") {
      return { kind: "acked", executionId: r.body.executionId };
    }
    if (r.status === 503 || r.status === 504) return { kind: "retry", why: code };
    return { kind: "refused", why: `${code}: ${r.text.slice(0, 300)}` };
  } catch (err) {
    return { kind: "retry", why: (err as Error).name === "TimeoutError" ? "timeout" : "connection" };
  }
}

/**
 * Starts submitting: key `i` goes first to member `i % n`, each retry to the next member.
 *
 * @example
 * ```ts ignore
 * const load = startKeyedLoad({ targets: () => [n1, n2, n3], workflowId: "wf", perSecond: 6, keyPrefix: "k",
 *   attemptTimeoutMs: 15_000, giveUpAfterMs: 60_000, retryPauseMs: 100 });
 * // ... restart members ...
 * const { acked, refused, givenUp } = await load.stop();
 * ```
 */
export function startKeyedLoad(opts: KeyedLoadOptions): KeyedLoad {
  const result: KeyedLoadResult = {
    keys: [],
    acked: new Map(),
    refused: new Map(),
    givenUp: new Map(),
    retried: new Map(),
    ackedAfterRetry: 0,
  };
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();

  const submission = async (index: number, key: string) => {
    const started = Date.now();
    for (let attempt = 0;; attempt++) {
      const targets = opts.targets();
      const target = targets[(index + attempt) % targets.length];
      const outcome: Attempt = target
        ? await submitKeyed(target, opts.workflowId, key, opts.attemptTimeoutMs)
        : { kind: "retry", why: "down" };
      if (outcome.kind === "acked") {
        result.acked.set(key, outcome.executionId);
        if (attempt > 0) result.ackedAfterRetry++;
        return;
      }
      if (outcome.kind === "refused") return void result.refused.set(key, outcome.why);
      result.retried.set(outcome.why, (result.retried.get(outcome.why) ?? 0) + 1);
      if (Date.now() - started > opts.giveUpAfterMs) return void result.givenUp.set(key, outcome.why);
      await sleep(opts.retryPauseMs);
    }
  };

  const intervalMs = 1_000 / opts.perSecond;
  const ticking = (async () => {
    const t0 = performance.now();
    for (let i = 0; !stopping.signal.aborted; i++) {
      const key = `${opts.keyPrefix}-${i}`;
      result.keys.push(key);
      const p = submission(i, key).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // On a fixed schedule (no drift), whatever the submissions take.
      await sleep(Math.max(0, t0 + (i + 1) * intervalMs - performance.now()), stopping.signal);
    }
  })();

  return {
    get ackedCount() {
      return result.acked.size;
    },
    async stop() {
      stopping.abort();
      await ticking;
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return result;
    },
  };
}
