/**
 * Commit groups: concurrent executions' appends batched into one storage call
 * (one transaction) per flush. An append that finds the group idle is flushed at
 * once; appends that arrive while a flush is in flight wait for it and go out
 * together right after it, so under any load, closed- or open-loop, one partial
 * batch is in flight at a time (a full batch does not wait: up to `maxInFlight`
 * flushes of `maxBatch` appends run at once). On PostgreSQL the partial flushes
 * of a steady load are also spaced (`spacingMs`, 10 ms): open-loop arrivals
 * spread over time would otherwise find a flush of 2 – 5 ms just ended and go
 * nearly alone. Callers are answered only after their batch committed.
 *
 * @module
 */
import { type AppendRequest, type AppendResult, type Storage, StorageUnavailable } from "./storage.ts";

/** Options of a commit group. */
export interface CommitGroupOptions {
  /** Appends in one flush at most. */
  maxBatch: number;
  /** Appends waiting at most; beyond it an append is refused at once (`StorageUnavailable`). */
  maxQueue: number;
  /**
   * Flushes in flight at once. Only one of them carries fewer than `maxBatch` appends: the others start
   * only when a full batch is waiting (a backlog), never to flush a few appends sooner.
   */
  maxInFlight: number;
  /**
   * How long the queue waits before a flush takes it (ms). 0, the default, flushes at once: right for a
   * storage reached over a socket, where appends queue up while a flush is in flight. A storage that blocks
   * the event loop while it writes (the embedded PGlite, SQLite) sees no other append arrive meanwhile, so
   * without a pause every flush would carry one append.
   */
  lingerMs: number;
  /**
   * The least time between the starts of two flushes of less than `maxBatch` appends (ms; 0: none). An
   * append that finds the group idle for that long still flushes at once; under a steady load the flushes
   * come at most this often, so each carries the appends of one such interval. By default
   * {@link DEFAULT_SPACING_MS} of the storage's `kind`.
   */
  spacingMs: number;
}

/**
 * The defaults: 256 appends a flush, 20,000 queued, 2 flushes in flight (the second for a full batch), no
 * linger, no spacing (but see {@link DEFAULT_SPACING_MS}).
 */
export const DEFAULT_COMMIT_GROUP: Readonly<CommitGroupOptions> = Object.freeze({
  maxBatch: 256,
  maxQueue: 20_000,
  maxInFlight: 2,
  lingerMs: 0,
  spacingMs: 0,
});

/** How a commit group reads time and waits (the runtime's `Clock` fits; tests pass a manual one). */
export interface CommitGroupClock {
  /** Milliseconds, of any origin (only differences are used). */
  now(): number;
  /** Calls `fn` once after `delayMs`. */
  setTimer(delayMs: number, fn: () => void): unknown;
}

/** The process's monotonic clock and timers. */
const SYSTEM_CLOCK: CommitGroupClock = {
  now: () => performance.now(),
  setTimer: (delayMs, fn) => setTimeout(fn, delayMs),
};

/**
 * The spacing a commit group gets by default, by the storage's `kind` (none for a kind not listed).
 * PostgreSQL: 10 ms, at most 100 partial flushes a second. Without it, open-loop load at 450 executions/s
 * took 0.19 – 0.72 flushes per execution (each a commit with its WAL flush); with it 0.13 – 0.21, for a wait
 * of at most 10 ms under load and none when idle (docs/BENCHMARKS.md, "Tail under open-loop load"). The
 * local stores block the event loop while they write and linger instead (`server/storage_choice.ts`); memory
 * has no commit to save.
 *
 * @example
 * ```ts
 * import { CommitGroup, DEFAULT_SPACING_MS } from "./commit_group.ts";
 * import { MemoryStorage } from "./memory.ts";
 * if (DEFAULT_SPACING_MS.postgres !== 10) throw new Error("PostgreSQL spaces its flushes");
 * if (new CommitGroup(new MemoryStorage()).options.spacingMs !== 0) throw new Error("memory does not");
 * ```
 */
export const DEFAULT_SPACING_MS: Readonly<Record<string, number>> = Object.freeze({ postgres: 10 });

interface Waiting {
  request: AppendRequest;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Told about every flush (server/ops/metrics.ts turns it into the storage latency and batch size metrics). Called
 * synchronously; must be cheap and must not throw.
 */
export interface CommitGroupObserver {
  /** One storage call of `batch` appends ended after `ms`: `ok` false when it threw (storage unreachable). */
  flushed?(batch: number, ms: number, ok: boolean): void;
  /** An append was refused at once: the queue was full. */
  refused?(): void;
}

/** Counters of a commit group. */
export interface CommitGroupStats {
  flushes: number;
  appends: number;
  /** The largest batch flushed. */
  maxBatch: number;
}

/**
 * Batches appends to one storage.
 *
 * @example
 * ```ts
 * import { CommitGroup } from "./commit_group.ts";
 * import { MemoryStorage } from "./memory.ts";
 * import type { AppendRequest } from "./storage.ts";
 * const group = new CommitGroup(new MemoryStorage());
 * const create = (executionId: string): AppendRequest => ({
 *   executionId,
 *   expectedSeq: 0,
 *   fence: { shard: 0, epoch: 0 },
 *   events: [{
 *     v: 1, seq: 1, at: 0, type: "ExecutionStarted", executionId, workflowId: "wf", version: 1,
 *     input: null, timeoutAt: null, idempotencyKey: null,
 *   }],
 *   summary: { executionId, workflowId: "wf", version: 1, status: "running", startTime: 0, endTime: null },
 * });
 * // The first finds the group idle and goes alone; the next two wait for it and share the next flush.
 * const results = await Promise.all(["a", "b", "c"].map((id) => group.append(create(id))));
 * if (!results.every((r) => r.ok)) throw new Error(JSON.stringify(results));
 * if (group.stats.flushes !== 2 || group.stats.maxBatch !== 2) throw new Error(JSON.stringify(group.stats));
 * ```
 */
export class CommitGroup {
  readonly options: CommitGroupOptions;
  readonly stats: CommitGroupStats = { flushes: 0, appends: 0, maxBatch: 0 };
  #queue: Waiting[] = [];
  #inFlight = 0;
  /** A partial batch is in flight (at most one is). */
  #partial = false;
  /** A linger or spacing wait is armed. */
  #waiting = false;
  /** When the last partial flush started (the clock's time), for `spacingMs`. */
  #lastStart = -Infinity;

  /**
   * @param storage Where flushes go; its `kind`, when it has one, picks the default spacing.
   * @param options Overrides of {@link DEFAULT_COMMIT_GROUP} (and of the kind's spacing).
   * @param observer Told of every flush and refusal.
   * @param clock Time and timers for the linger and the spacing (the process's by default).
   */
  constructor(
    private readonly storage: Pick<Storage, "appendMany"> & { readonly kind?: string },
    options: Partial<CommitGroupOptions> = {},
    private readonly observer?: CommitGroupObserver,
    private readonly clock: CommitGroupClock = SYSTEM_CLOCK,
  ) {
    const kind = storage.kind;
    const spacingMs = kind !== undefined && Object.hasOwn(DEFAULT_SPACING_MS, kind)
      ? DEFAULT_SPACING_MS[kind]
      : DEFAULT_COMMIT_GROUP.spacingMs;
    this.options = { ...DEFAULT_COMMIT_GROUP, spacingMs, ...options };
  }

  /** Appends waiting for a flush. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Flushes in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues one append; resolves once its batch committed (or was refused for it). */
  append(request: AppendRequest): Promise<AppendResult> {
    if (this.#queue.length >= this.options.maxQueue) {
      this.observer?.refused?.();
      return Promise.reject(
        new StorageUnavailable(`commit queue full (${this.options.maxQueue} appends waiting)`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#pump();
    });
  }

  /** Starts what may: full batches while a slot is free, then one partial batch when none is out. */
  #pump(): void {
    const { maxBatch, maxInFlight } = this.options;
    while (this.#queue.length >= maxBatch && this.#inFlight < maxInFlight) {
      void this.#flush(this.#queue.splice(0, maxBatch), false);
    }
    if (this.#queue.length === 0 || this.#partial || this.#inFlight >= maxInFlight) return;
    if (this.#waiting) return;
    const spacing = this.options.spacingMs > 0
      ? this.#lastStart + this.options.spacingMs - this.clock.now()
      : 0;
    const wait = Math.max(this.options.lingerMs, spacing);
    if (wait <= 0) {
      this.#flushPartial();
      return;
    }
    this.#waiting = true;
    this.clock.setTimer(wait, () => {
      this.#waiting = false;
      if (this.#partial || this.#inFlight >= maxInFlight) return; // a flush ending will pump again
      this.#flushPartial();
    });
  }

  /** Flushes the head of the queue (at most `maxBatch`) as the one partial batch in flight. */
  #flushPartial(): void {
    if (this.#queue.length === 0) return;
    if (this.options.spacingMs > 0) this.#lastStart = this.clock.now();
    void this.#flush(this.#queue.splice(0, this.options.maxBatch), true);
  }

  async #flush(batch: Waiting[], partial: boolean): Promise<void> {
    this.#inFlight++;
    if (partial) this.#partial = true;
    this.stats.flushes++;
    this.stats.appends += batch.length;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
    const t0 = this.observer?.flushed ? performance.now() : 0;
    let ok = false;
    try {
      const results = await this.storage.appendMany(batch.map((w) => w.request));
      if (results.length !== batch.length) {
        throw new Error("assertion: appendMany answered a different count");
      }
      ok = true;
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      const ms = this.observer?.flushed ? performance.now() - t0 : 0;
      this.#inFlight--;
      if (partial) this.#partial = false;
      this.#pump();
      this.observer?.flushed?.(batch.length, ms, ok);
    }
  }
}
