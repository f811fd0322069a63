/**
 * Concurrency keys, the admission rule: a key admits queued runs in order (first in, first out) while fewer
 * than its limit are admitted and not ended; never more. {@link admissible} is the rule;
 * {@link KeyAdmission} is one key's bookkeeping (its admitted runs and its queue), which the runtime keeps per
 * key (`server/runtime/concurrency.ts`) and drives with submissions, ends and recoveries.
 *
 * Pure and deterministic: times come in as arguments (the order of a recovered queue).
 *
 * @module
 */

/**
 * How many runs at the head of a key's queue to admit now: as many as the limit leaves room for, none when
 * as many or more than the limit are admitted already (a limit lowered under a key's admitted runs).
 *
 * @example
 * ```ts
 * import { admissible } from "./concurrency.ts";
 * if (admissible(2, 0, 5) !== 2 || admissible(2, 1, 5) !== 1 || admissible(2, 3, 5) !== 0) throw new Error();
 * if (admissible(3, 0, 1) !== 1) throw new Error("no more than are queued");
 * ```
 */
export function admissible(limit: number, running: number, queued: number): number {
  return Math.max(0, Math.min(queued, limit - running));
}

/** A queued run: its id, where it stands (`at`, then `tie`), and the generation that is current. */
interface QueueEntry {
  id: string;
  at: number;
  tie: string;
  token: number;
}

/** The head of a queue is compacted away once this many stale entries pile up in front of it. */
const COMPACT_AFTER = 1_024;

/**
 * One concurrency key: the runs admitted and not ended, and the runs waiting, in order.
 *
 * Every operation but {@link KeyAdmission.order} is O(1) amortised: the queue is an array read from a moving
 * head, and a run that leaves the queue out of turn (cancelled while it waited) leaves a stale entry that is
 * skipped when it comes up.
 *
 * @example
 * ```ts
 * import { KeyAdmission } from "./concurrency.ts";
 * const k = new KeyAdmission(2);
 * const first = ["a", "b", "c", "d"].map((id) => k.submit(id, 0));
 * if (first.join() !== "admitted,admitted,queued,queued") throw new Error(first.join());
 * k.end("a");
 * if (k.admit().join() !== "c" || k.admit().length !== 0) throw new Error("c takes a's slot");
 * k.end("d"); // cancelled while it waited
 * k.end("b");
 * if (k.admit().length !== 0 || k.running !== 1 || k.queued !== 0) throw new Error("nothing waits");
 * ```
 */
export class KeyAdmission {
  readonly #running = new Set<string>();
  readonly #queue: QueueEntry[] = [];
  #head = 0;
  /** The queued runs, by id, with the token of their live entry. */
  readonly #queued = new Map<string, number>();
  #tokens = 0;

  constructor(
    /** At most this many admitted at once. */
    public limit: number,
  ) {}

  /** Runs admitted and not ended. */
  get running(): number {
    return this.#running.size;
  }

  /** Runs waiting. */
  get queued(): number {
    return this.#queued.size;
  }

  /** Whether nothing is admitted or waiting (the key can be forgotten). */
  get idle(): boolean {
    return this.#running.size === 0 && this.#queued.size === 0;
  }

  /** Where `id` stands: admitted, queued, or unknown. */
  statusOf(id: string): "admitted" | "queued" | undefined {
    return this.#running.has(id) ? "admitted" : this.#queued.has(id) ? "queued" : undefined;
  }

  /** The admitted runs (any order). */
  admitted(): string[] {
    return [...this.#running];
  }

  /** The queued runs, in the order they will be admitted. */
  waiting(): string[] {
    return this.#live().map((e) => e.id);
  }

  /**
   * A new run: admitted at once when nothing waits and the limit leaves room, else queued at the tail (a run
   * never passes one that waits). `at` orders it against runs recovered later (see {@link order}). A run
   * already known keeps its place and status.
   */
  submit(id: string, at: number): "admitted" | "queued" {
    const known = this.statusOf(id);
    if (known !== undefined) return known;
    if (this.#queued.size === 0 && admissible(this.limit, this.#running.size, 1) === 1) {
      this.#running.add(id);
      return "admitted";
    }
    this.enqueue(id, at);
    return "queued";
  }

  /** Queues `id` at the tail without admitting anything (a reopened run, or one recovered as waiting). */
  enqueue(id: string, at: number, tie = ""): void {
    if (this.statusOf(id) !== undefined) return;
    const token = ++this.#tokens;
    this.#queued.set(id, token);
    this.#queue.push({ id, at, tie, token });
  }

  /** Counts `id` as admitted whatever the limit says (recovered admitted; or its Admit is under way). */
  hold(id: string): void {
    this.#queued.delete(id);
    this.#running.add(id);
  }

  /** `id` ended (or its creation failed, or it left the queue): its slot, or its place, is free. */
  end(id: string): void {
    if (!this.#running.delete(id)) this.#queued.delete(id);
    this.#compact();
  }

  /** Admits the head of the queue as the limit allows; returns the runs admitted, in order. */
  admit(): string[] {
    const out: string[] = [];
    let room = admissible(this.limit, this.#running.size, this.#queued.size);
    while (room > 0 && this.#head < this.#queue.length) {
      const e = this.#queue[this.#head++];
      if (this.#queued.get(e.id) !== e.token) continue; // left the queue out of turn
      this.#queued.delete(e.id);
      this.#running.add(e.id);
      out.push(e.id);
      room--;
    }
    this.#compact();
    return out;
  }

  /**
   * Sorts the queue by `at`, then `tie` (stable: runs submitted here in the same millisecond keep their
   * order): after a recovery, which finds waiting runs in no particular order. O(n log n).
   */
  order(): void {
    const live = this.#live().sort((a, b) => a.at - b.at || (a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : 0));
    this.#queue.length = 0;
    this.#head = 0;
    for (const e of live) this.#queue.push(e);
  }

  #live(): QueueEntry[] {
    return this.#queue.slice(this.#head).filter((e) => this.#queued.get(e.id) === e.token);
  }

  /** Drops stale entries once they outnumber the live ones by {@link COMPACT_AFTER}. */
  #compact(): void {
    if (this.#queued.size === 0) {
      this.#queue.length = 0;
      this.#head = 0;
    } else if (this.#queue.length - this.#queued.size > COMPACT_AFTER + this.#queued.size) {
      const live = this.#live();
      this.#queue.length = 0;
      this.#head = 0;
      for (const e of live) this.#queue.push(e);
    }
  }
}
