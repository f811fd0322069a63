/**
 * Commit groups: concurrent executions' appends batched into one storage call
 * (one transaction) per flush. A flush starts as soon as one is free, so an idle
 * system pays no linger; under load, appends queue behind the flushes in flight
 * and go out together. Callers are answered only after their batch committed.
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
  /** Flushes in flight at once. */
  maxInFlight: number;
  /**
   * How long a free flush slot waits before it takes the queue (ms). 0, the default, flushes at once: right
   * for a storage reached over a socket, where appends queue up while a flush is in flight. A storage that
   * blocks the event loop while it writes (the embedded PGlite) sees no other append arrive meanwhile, so
   * without a pause every flush would carry one append.
   */
  lingerMs: number;
}

/** The defaults: 256 appends a flush, 20,000 queued, 2 flushes in flight, no linger. */
export const DEFAULT_COMMIT_GROUP: Readonly<CommitGroupOptions> = Object.freeze({
  maxBatch: 256,
  maxQueue: 20_000,
  maxInFlight: 2,
  lingerMs: 0,
});

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
 * const group = new CommitGroup(new MemoryStorage());
 * if (group.stats.flushes !== 0) throw new Error();
 * ```
 */
export class CommitGroup {
  readonly options: CommitGroupOptions;
  readonly stats: CommitGroupStats = { flushes: 0, appends: 0, maxBatch: 0 };
  #queue: Waiting[] = [];
  #inFlight = 0;
  #lingering = false;

  constructor(
    private readonly storage: Pick<Storage, "appendMany">,
    options: Partial<CommitGroupOptions> = {},
    private readonly observer?: CommitGroupObserver,
  ) {
    this.options = { ...DEFAULT_COMMIT_GROUP, ...options };
  }

  /** Appends waiting for a flush. */
  get queued(): number {
    return this.#queue.length;
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

  #pump(): void {
    if (this.options.lingerMs > 0 && this.#queue.length < this.options.maxBatch) {
      if (this.#lingering || this.#inFlight >= this.options.maxInFlight || this.#queue.length === 0) return;
      this.#lingering = true;
      setTimeout(() => {
        this.#lingering = false;
        this.#drain();
      }, this.options.lingerMs);
      return;
    }
    this.#drain();
  }

  #drain(): void {
    while (this.#inFlight < this.options.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      this.#inFlight++;
      void this.#flush(batch);
    }
  }

  async #flush(batch: Waiting[]): Promise<void> {
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
      this.#pump();
      this.observer?.flushed?.(batch.length, ms, ok);
    }
  }
}
