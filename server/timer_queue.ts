/**
 * Durable timers' in-memory side: a min-heap of (due time, key) with a single
 * clock timer armed for the earliest. What is due is handed to `onDue`. Entries
 * are not removed when they become moot: the decider ignores a stale timer.
 *
 * @module
 */
import type { Clock, TimerHandle } from "./clock.ts";

interface Entry {
  dueAt: number;
  seq: number;
  key: string;
  timerId: string;
}

/** A min-heap of timers over an injected clock. */
export class TimerQueue {
  #heap: Entry[] = [];
  #seq = 0;
  #armed: { handle: TimerHandle; dueAt: number } | null = null;
  #stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (key: string, timerId: string) => void,
  ) {}

  /** Timers waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Arms `timerId` of `key` (an execution id) for `dueAt`. */
  add(key: string, timerId: string, dueAt: number): void {
    this.#push({ dueAt, seq: this.#seq++, key, timerId });
    this.#rearm();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#armed) this.clock.clearTimer(this.#armed.handle);
    this.#armed = null;
    this.#heap = [];
  }

  #rearm(): void {
    if (this.#stopped) return;
    const first = this.#heap[0];
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
    while (this.#heap.length > 0 && this.#heap[0].dueAt <= now) due.push(this.#pop());
    for (const e of due) this.onDue(e.key, e.timerId);
    this.#rearm();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
