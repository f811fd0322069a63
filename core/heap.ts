/**
 * A binary min-heap ordered by a `less` function: the timer queue of the
 * runtime and the event queue of the simulator both sit on it.
 *
 * @module
 */

/**
 * A min-heap.
 *
 * @example
 * ```ts
 * import { MinHeap } from "./heap.ts";
 * const h = new MinHeap<number>((a, b) => a < b);
 * [3, 1, 2].forEach((x) => h.push(x));
 * if (h.pop() !== 1 || h.peek() !== 2) throw new Error();
 * ```
 */
export class MinHeap<T> {
  #items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  /** The smallest item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const h = this.#items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Removes and returns the smallest item, or `undefined` when empty. */
  pop(): T | undefined {
    const h = this.#items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.#items = [];
  }
}
