/**
 * A bounded cache with two generations: new entries go into the young map; when
 * it holds half the capacity it becomes the old one and the previous old map is
 * dropped whole. A hit in the old map moves the entry back to the young one, so
 * recently used entries stay (an approximate LRU). Every operation is O(1): no
 * per-entry eviction, no reordering on a hit (a `Map` that deletes from its front
 * on every insert slows down as the deleted slots pile up).
 *
 * @module
 */

/**
 * At most `capacity` entries, the most recently used kept.
 *
 * @example
 * ```ts
 * import { BoundedCache } from "./cache.ts";
 * const c = new BoundedCache<string, number>(4);
 * c.set("a", 1);
 * if (c.get("a") !== 1) throw new Error("expected a hit");
 * ```
 */
export class BoundedCache<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(readonly capacity: number) {
    if (!(capacity >= 2)) throw new Error(`assertion: cache capacity ${capacity} < 2`);
    this.#half = Math.floor(capacity / 2);
  }

  /** The value of `key`, if cached. */
  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.set(key, old);
    }
    return old;
  }

  /** Caches `value` under `key`. */
  set(key: K, value: V): void {
    this.#old.delete(key);
    this.#young.set(key, value);
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
  }

  /** Drops `key`. */
  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  /** Drops everything. */
  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }

  /** Entries held (at most `capacity`). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
