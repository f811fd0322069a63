/**
 * A bounded gate: at most `size` holders at once, at most `maxWaiting` waiting (more are refused), a wait
 * ended by its signal. The adapters bound with it how many consumes of one URL use a connection at once.
 *
 * @example
 * ```ts
 * import { Gate } from "./gate.ts";
 * const gate = new Gate(1, 1, "reads");
 * const signal = new AbortController().signal;
 * await gate.enter(signal);
 * const second = gate.enter(signal); // waits for the first to leave
 * try {
 *   await gate.enter(signal);
 *   throw new Error("a third one is refused: one may wait");
 * } catch (e) {
 *   if ((e as { code?: string }).code !== "broker_error") throw e;
 * }
 * gate.leave();
 * await second;
 * gate.leave();
 * ```
 *
 * @module
 */
import { NodeError } from "../executor.ts";

/** At most `size` holders at once; the others wait, in order, up to `maxWaiting` of them. */
export class Gate {
  #held = 0;
  #waiting: (() => void)[] = [];
  #closed = false;

  constructor(readonly size: number, readonly maxWaiting: number, readonly what: string) {}

  /** How many hold the gate now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Waits for a place (until `signal` aborts: it then rejects with its reason).
   *
   * @throws {NodeError} `broker_error` (retryable) when too many wait, `broker_unreachable` once closed.
   */
  async enter(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    while (this.#held >= this.size && !this.#closed) {
      if (this.#waiting.length >= this.maxWaiting) {
        throw new NodeError("broker_error", `too many ${this.what} wait for a connection`, true);
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener("abort", abort);
          resolve();
        };
        const abort = () => {
          this.#waiting = this.#waiting.filter((w) => w !== wake);
          reject(signal.reason);
        };
        signal.addEventListener("abort", abort, { once: true });
        this.#waiting.push(wake);
      });
    }
    if (this.#closed) throw new NodeError("broker_unreachable", "the broker's client was closed", true);
    this.#held++;
  }

  /** Gives a place back (to the longest waiting). */
  leave(): void {
    this.#held = Math.max(0, this.#held - 1);
    this.#waiting.shift()?.();
  }

  /** Refuses every later `enter`, and every waiting one. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }
}
