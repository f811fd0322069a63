/**
 * Time as the runtime sees it: injected, so the simulator can run the same
 * runtime on a virtual clock.
 *
 * @module
 */

/** A handle of an armed timer. */
export type TimerHandle = unknown;

/** A clock that reads time and arms one-shot timers. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The wall clock. (The engine clears its timers when it stops.) */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    return setTimeout(fn, Math.max(0, Math.min(delayMs, 2_147_483_647)));
  },
  clearTimer: (handle) => clearTimeout(handle as number),
};
