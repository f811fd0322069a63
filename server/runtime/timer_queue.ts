/**
 * Durable timers' in-memory side: a min-heap of (due time, key) with a single
 * clock timer armed for the earliest. What is due is handed to `onDue`. Entries
 * are not removed when they become moot: the decider ignores a stale timer.
 *
 * @module
 */
import { MinHeap } from "../../core/heap.ts";
import type { Clock, TimerHandle } from "./clock.ts";

interface Entry {
  dueAt: number;
  seq: number;
  key: string;
  timerId: string;
}

/** A min-heap of timers over an injected clock. */
export class TimerQueue {
  #heap = new MinHeap<Entry>((a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq));
  #seq = 0;
  #armed: { handle: TimerHandle; dueAt: number } | null = null;
  #stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (key: string, timerId: string) => void,
  ) {}

  /** Timers waiting. */
  get size(): number {
    return this.#heap.size;
  }

  /** Arms `timerId` of `key` (an execution id) for `dueAt`. */
  add(key: string, timerId: string, dueAt: number): void {
    this.#heap.push({ dueAt, seq: this.#seq++, key, timerId });
    this.#rearm();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#armed) this.clock.clearTimer(this.#armed.handle);
    this.#armed = null;
    this.#heap.clear();
  }

  #rearm(): void {
    if (this.#stopped) return;
    const first = this.#heap.peek();
    if (!first) return;
    if (this.#armed && this.#armed.dueAt <= first.dueAt) return;
    if (this.#armed) this.clock.clearTimer(this.#armed.handle);
    const dueAt = first.dueAt;
    this.#armed = { dueAt, handle: this.clock.setTimer(dueAt - this.clock.now(), () => this.#fire()) };
  }

  #fire(): void {
    this.#armed = null;
    const now = this.clock.now();
    const due: Entry[] = [];
    while (this.#heap.size > 0 && this.#heap.peek()!.dueAt <= now) due.push(this.#heap.pop()!);
    for (const e of due) this.onDue(e.key, e.timerId);
    this.#rearm();
  }
}
