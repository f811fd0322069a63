/**
 * A live execution's cache of its committed node outputs, bounded: the state only names outputs
 * (`outputRef`), storage keeps them, and this cache keeps the recent ones at hand for the nodes they feed.
 * Past its budget it drops the oldest; a miss reads storage again.
 *
 * @module
 */
import type { Json } from "../../core/json.ts";

/**
 * Outputs by ref, at most `maxRecords` records in all (each output counts its records plus one, so empty
 * outputs count too). An output larger than the whole budget is not kept. Oldest in, first out.
 *
 * @example
 * ```ts
 * import { OutputCache } from "./output_cache.ts";
 * const cache = new OutputCache(5);
 * cache.set("a@1", [1, 2]); // 3 of 5
 * cache.set("b@1", [3]); // 5 of 5
 * cache.set("c@1", [4]); // 7: "a@1" goes
 * if (cache.get("a@1") !== undefined || cache.get("c@1")?.[0] !== 4 || cache.size !== 2) throw new Error();
 * cache.set("d@1", [1, 2, 3, 4, 5]); // over the whole budget: not kept
 * if (cache.get("d@1") !== undefined || cache.records !== 4) throw new Error();
 * ```
 */
export class OutputCache {
  readonly #outputs = new Map<string, Json[]>();
  #records = 0;

  constructor(readonly maxRecords: number) {}

  /** The cached output `ref`, if kept. */
  get(ref: string): Json[] | undefined {
    return this.#outputs.get(ref);
  }

  /** Keeps an output (the newest), dropping the oldest past the budget. */
  set(ref: string, records: Json[]): void {
    this.delete(ref);
    const cost = records.length + 1;
    if (cost > this.maxRecords) return;
    this.#outputs.set(ref, records);
    this.#records += cost;
    for (const [old, held] of this.#outputs) {
      if (this.#records <= this.maxRecords) break;
      this.#outputs.delete(old);
      this.#records -= held.length + 1;
    }
  }

  /** Forgets an output. */
  delete(ref: string): void {
    const held = this.#outputs.get(ref);
    if (held === undefined) return;
    this.#outputs.delete(ref);
    this.#records -= held.length + 1;
  }

  /** Outputs kept. */
  get size(): number {
    return this.#outputs.size;
  }

  /** Records kept, counted as the budget counts them. */
  get records(): number {
    return this.#records;
  }
}
