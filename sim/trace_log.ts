/**
 * A run's trace: every line is stamped with the virtual time and folded into a
 * running hash, so two runs of one seed can be compared by a single string.
 *
 * @module
 */
import { hash128 } from "../core/ids.ts";

/**
 * The trace of one run: its hash and line count always, its lines only when asked to keep them.
 *
 * @example
 * ```ts
 * import { TraceLog } from "./trace_log.ts";
 * const a = new TraceLog(1, () => 0, true), b = new TraceLog(1, () => 0, false);
 * a.write("hello");
 * b.write("hello");
 * if (a.hash !== b.hash || a.count !== 1 || a.lines[0] !== "0.000 hello") throw new Error();
 * ```
 */
export class TraceLog {
  #hash: string;
  #count = 0;
  /** The lines written (only when kept). */
  readonly lines: string[] = [];

  constructor(seed: number, private readonly now: () => number, private readonly keep: boolean) {
    this.#hash = hash128(`seed ${seed}`);
  }

  /** Records one line at the current virtual time (a bound function: pass it around as is). */
  readonly write = (line: string): void => {
    const l = `${this.now().toFixed(3)} ${line}`;
    this.#hash = hash128(this.#hash + "\n" + l);
    this.#count++;
    if (this.keep) this.lines.push(l);
  };

  /** The hash of every line so far. */
  get hash(): string {
    return this.#hash;
  }

  /** The number of lines written. */
  get count(): number {
    return this.#count;
  }
}
