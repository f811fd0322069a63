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

/**
 * At most `size` holders at once; the others wait, first come first served, up to `maxWaiting` of them. A
 * place given back goes straight to the longest waiting, so a newcomer never takes it from them.
 */
export class Gate {
  #held = 0;
  #waiting: { wake: () => void; refuse: (e: unknown) => void }[] = [];
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
  enter(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(closedError());
    if (this.#held < this.size && this.#waiting.length === 0) {
      this.#held++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new NodeError("broker_error", `too many ${this.what} wait for a connection`, true),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        // The place is handed over by `leave`: it counts as held already.
        wake: () => {
          signal.removeEventListener("abort", abort);
          resolve();
        },
        refuse: (e: unknown) => {
          signal.removeEventListener("abort", abort);
          reject(e);
        },
      };
      const abort = () => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      signal.addEventListener("abort", abort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Gives a place back: to the longest waiting, else free. */
  leave(): void {
    const next = this.#waiting.shift();
    if (next) next.wake();
    else this.#held = Math.max(0, this.#held - 1);
  }

  /** Refuses every later `enter`, and every waiting one. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.refuse(closedError());
  }
}

function closedError(): NodeError {
  return new NodeError("broker_unreachable", "the broker's client was closed", true);
}
