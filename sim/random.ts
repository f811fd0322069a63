/**
 * A seeded pseudo-random generator for the simulator: sfc32 (small fast counter),
 * seeded through splitmix32 from a number or a string. `fork(label)` derives an
 * independent stream, so adding draws to one concern (say, the network) never
 * shifts another's (the workload). Nothing in a simulation may call `Math.random`.
 *
 * @module
 */
import { hash128 } from "../core/ids.ts";

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A seeded random stream.
 *
 * @example
 * ```ts
 * import { Random } from "./random.ts";
 * const a = new Random(42), b = new Random(42);
 * if (a.next() !== b.next()) throw new Error("same seed, same stream");
 * ```
 */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  readonly seed: string;

  constructor(seed: number | string) {
    this.seed = String(seed);
    const h = hash128(`sim:${this.seed}`);
    const mix = splitmix32(parseInt(h.slice(0, 8), 16) ^ parseInt(h.slice(8, 16), 16));
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix() | 1;
    for (let i = 0; i < 12; i++) this.#u32();
  }

  #u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#u32() / 4294967296;
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A 32-hex-digit id (for request and execution ids). */
  id(): string {
    let s = "";
    for (let i = 0; i < 4; i++) s += this.#u32().toString(16).padStart(8, "0");
    return s;
  }

  /** An independent stream derived from this one's seed and `label` (not from its position). */
  fork(label: string): Random {
    return new Random(`${this.seed}/${label}`);
  }
}
