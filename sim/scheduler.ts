/**
 * Virtual time for the simulator: one event queue ordered by (virtual time,
 * sequence number), run on a single thread. Every timer of every simulated node
 * is an event here; between two events the scheduler drains the microtask queue
 * (by awaiting one `setImmediate` macrotask, which V8 only runs once every
 * pending microtask ran), so the promise chains an event started finish before
 * virtual time moves on. Nothing real-time leaks in: `setImmediate` only orders,
 * it never decides what runs.
 *
 * Per node it hands out a `Clock` (the runtime's injected clock) with an
 * optional skew; a node can be paused (its events are deferred until it
 * resumes, like a long GC pause or a SIGSTOP) and a clock can be killed (a
 * crashed incarnation's timers never fire).
 *
 * @module
 */
import { MinHeap } from "../core/heap.ts";
import { setImmediate } from "node:timers";
import type { Clock, TimerHandle } from "../server/runtime/clock.ts";

/** The epoch the virtual clock starts at (2025-01-01T00:00:00Z), so times look like real ones. */
export const SIM_EPOCH = Date.UTC(2025, 0, 1);

/** One scheduled callback. */
interface SimEvent {
  at: number;
  seq: number;
  fn: () => void;
  /** The node whose callback this is (pauses defer it), or null for the environment. */
  owner: string | null;
  cancelled: boolean;
}

/** Waits for one macrotask: every microtask queued before it has run when it resolves. */
export function drainMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** A clock of one node incarnation; `kill()` makes its pending and future timers inert. */
export interface SimClock extends Clock {
  /** The node this clock belongs to. */
  readonly owner: string;
  /** This incarnation died: its timers never fire again. */
  kill(): void;
  readonly dead: boolean;
}

/**
 * The event queue and virtual time.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * const s = new Scheduler();
 * const seen: number[] = [];
 * s.after(20, () => seen.push(s.now));
 * s.after(10, () => seen.push(s.now));
 * await s.run(100);
 * if (seen.join() !== "10,20") throw new Error();
 * ```
 */
export class Scheduler {
  /** Virtual milliseconds since the start of the run. */
  now = 0;
  /** Events run so far. */
  executed = 0;
  /** Errors thrown by callbacks (the runtime's own timers should never throw). */
  readonly errors: string[] = [];
  #heap = new MinHeap<SimEvent>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #seq = 0;
  #paused = new Map<string, number>();
  #stopped = false;

  /** Pending events. */
  get pending(): number {
    return this.#heap.size;
  }

  /** Schedules `fn` at virtual time `at` (not before now). */
  at(at: number, fn: () => void, owner: string | null = null): SimEvent {
    const e: SimEvent = { at: Math.max(at, this.now), seq: this.#seq++, fn, owner, cancelled: false };
    this.#heap.push(e);
    return e;
  }

  /** Schedules `fn` after `delayMs` of virtual time. */
  after(delayMs: number, fn: () => void, owner: string | null = null): SimEvent {
    return this.at(this.now + Math.max(0, delayMs), fn, owner);
  }

  /** Cancels an event (no-op when it ran already). */
  cancel(handle: unknown): void {
    if (handle && typeof handle === "object" && "cancelled" in handle) (handle as SimEvent).cancelled = true;
  }

  /** Defers `owner`'s events until virtual time `until`. */
  pause(owner: string, until: number): void {
    this.#paused.set(owner, Math.max(until, this.#paused.get(owner) ?? 0));
  }

  /** Whether `owner` is paused now. */
  paused(owner: string): boolean {
    return (this.#paused.get(owner) ?? -1) > this.now;
  }

  /** Ends every pause now (the heal phase). */
  resumeAll(): void {
    for (const [owner, until] of this.#paused) if (until > this.now) this.#paused.set(owner, this.now);
  }

  /** Makes `run` return after the current event. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * A clock for an incarnation of `owner`, `skewMs` ahead of virtual time.
   * Timers armed on it are `owner`'s events.
   */
  clock(owner: string, skewMs = 0): SimClock {
    let dead = false;
    const clock: SimClock = {
      owner,
      get dead() {
        return dead;
      },
      kill: () => {
        dead = true;
      },
      now: () => SIM_EPOCH + this.now + skewMs,
      setTimer: (delayMs: number, fn: () => void): TimerHandle =>
        this.after(Number.isFinite(delayMs) ? delayMs : 0, () => {
          if (!dead) fn();
        }, owner),
      clearTimer: (handle: TimerHandle) => this.cancel(handle),
    };
    return clock;
  }

  /**
   * Runs events in (time, sequence) order up to virtual time `until` (inclusive),
   * draining microtasks after each; then sets `now` to `until`. Returns the
   * number of events run.
   */
  async run(until: number): Promise<number> {
    this.#stopped = false;
    let n = 0;
    await drainMicrotasks();
    while (this.#heap.size > 0 && this.#heap.peek()!.at <= until && !this.#stopped) {
      const e = this.#heap.pop()!;
      if (e.cancelled) continue;
      if (e.owner !== null) {
        const resume = this.#paused.get(e.owner);
        if (resume !== undefined && resume > e.at) {
          e.at = resume;
          e.seq = this.#seq++;
          this.#heap.push(e);
          continue;
        }
      }
      this.now = e.at;
      try {
        e.fn();
      } catch (err) {
        this.errors.push(`t=${this.now} ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      }
      this.executed++;
      n++;
      await drainMicrotasks();
    }
    if (!this.#stopped) this.now = Math.max(this.now, until);
    return n;
  }
}
