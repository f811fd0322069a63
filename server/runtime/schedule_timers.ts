/**
 * The scheduler's timers: one min-heap of (fire time, schedule id) for the schedules of the shards this node
 * owns, with a single clock timer armed for the earliest. Nothing runs between fires: 100,000 armed schedules
 * cost one heap entry each and one clock timer in all. Re-arming a schedule leaves its old heap entry behind
 * (a generation tells it is stale); the heap is rebuilt when stale entries outnumber the live ones.
 *
 * @module
 */
import { MinHeap } from "../../core/heap.ts";
import type { Clock, TimerHandle } from "./clock.ts";

/** A heap entry: current while `gen` is its schedule's generation. */
interface Entry {
  fireAt: number;
  id: string;
  gen: number;
}

/** What the timers know of an armed schedule. */
interface Armed {
  fireAt: number;
  shard: number;
  gen: number;
}

/** Stale heap entries tolerated beyond the live ones before the heap is rebuilt. */
const STALE_SLACK = 1_024;

/**
 * One timer per armed schedule, on one clock timer.
 *
 * @example
 * ```ts
 * import { ScheduleTimers } from "./schedule_timers.ts";
 * import type { Clock } from "./clock.ts";
 * let now = 0;
 * const armed: (() => void)[] = [];
 * const clock: Clock = { now: () => now, setTimer: (_ms, fn) => armed.push(fn), clearTimer: () => {} };
 * const due: string[] = [];
 * const timers = new ScheduleTimers(clock, (id) => due.push(id));
 * timers.set("a", 0, 1_000);
 * timers.set("b", 0, 500);
 * now = 1_000;
 * armed.at(-1)!();
 * if (due.join() !== "b,a" || timers.size !== 0) throw new Error(due.join());
 * ```
 */
export class ScheduleTimers {
  #heap = new MinHeap<Entry>((a, b) => a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.gen < b.gen));
  #armedById = new Map<string, Armed>();
  #gen = 0;
  #clockTimer: { handle: TimerHandle; at: number } | null = null;
  #stopped = false;

  constructor(
    private readonly clock: Clock,
    /** A schedule's fire time came: it is no longer armed (the caller re-arms it). */
    private readonly onDue: (id: string, shard: number) => void,
  ) {}

  /** Schedules armed. */
  get size(): number {
    return this.#armedById.size;
  }

  /** When `id` fires, if armed. */
  fireAt(id: string): number | undefined {
    return this.#armedById.get(id)?.fireAt;
  }

  /** Arms (or re-arms) schedule `id` of `shard` to fire at `fireAt` (epoch ms; past: at once). */
  set(id: string, shard: number, fireAt: number): void {
    if (this.#stopped) return;
    const gen = ++this.#gen;
    this.#armedById.set(id, { fireAt, shard, gen });
    this.#heap.push({ fireAt, id, gen });
    this.#compact();
    this.#rearm();
  }

  /** Disarms `id`. */
  delete(id: string): void {
    this.#armedById.delete(id);
  }

  /** Disarms every schedule of `shard` (given up); O(armed). */
  dropShard(shard: number): void {
    for (const [id, a] of this.#armedById) if (a.shard === shard) this.#armedById.delete(id);
    this.#compact();
  }

  /** Disarms everything, for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#clockTimer) this.clock.clearTimer(this.#clockTimer.handle);
    this.#clockTimer = null;
    this.#heap.clear();
    this.#armedById.clear();
  }

  #current(e: Entry): boolean {
    return this.#armedById.get(e.id)?.gen === e.gen;
  }

  /** Rebuilds the heap from the armed schedules when stale entries pile up. */
  #compact(): void {
    if (this.#heap.size <= 2 * this.#armedById.size + STALE_SLACK) return;
    this.#heap.clear();
    for (const [id, a] of this.#armedById) this.#heap.push({ fireAt: a.fireAt, id, gen: a.gen });
  }

  #rearm(): void {
    if (this.#stopped) return;
    while (this.#heap.size > 0 && !this.#current(this.#heap.peek()!)) this.#heap.pop();
    const first = this.#heap.peek();
    if (!first) return;
    if (this.#clockTimer && this.#clockTimer.at <= first.fireAt) return;
    if (this.#clockTimer) this.clock.clearTimer(this.#clockTimer.handle);
    const at = first.fireAt;
    this.#clockTimer = {
      at,
      handle: this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.#fire()),
    };
  }

  #fire(): void {
    this.#clockTimer = null;
    if (this.#stopped) return;
    const now = this.clock.now();
    const due: { id: string; shard: number }[] = [];
    while (this.#heap.size > 0 && this.#heap.peek()!.fireAt <= now) {
      const e = this.#heap.pop()!;
      const armed = this.#armedById.get(e.id);
      if (armed?.gen !== e.gen) continue;
      this.#armedById.delete(e.id);
      due.push({ id: e.id, shard: armed.shard });
    }
    for (const d of due) this.onDue(d.id, d.shard);
    this.#rearm();
  }
}
