/**
 * Filtering a keyset-paged listing that storage cannot filter itself (text in an id, a time window): pages are
 * read from storage in key order and kept or dropped one item at a time, up to a bound of items examined per
 * request. The answer is a page of kept items and the cursor of the last item examined, so the next request
 * goes on from there: a request never examines more than `maxScan` items, and a page may hold fewer than
 * `limit` items (even none) while a next cursor remains.
 *
 * @example
 * ```ts
 * import { scanFiltered } from "./list_scan.ts";
 *
 * const ids = Array.from({ length: 100 }, (_, i) => `id-${String(i).padStart(3, "0")}`);
 * // A storage listing by id, `limit` at a time after `cursor`.
 * const read = (cursor: string | null, limit: number) => {
 *   const rest = ids.filter((id) => cursor === null || id > cursor);
 *   const items = rest.slice(0, limit);
 *   return Promise.resolve({ items, next: rest.length > limit ? items.at(-1)! : null });
 * };
 * const page = await scanFiltered(read, {
 *   cursor: null,
 *   limit: 3,
 *   keep: (id) => id.endsWith("7"),
 *   cursorOf: (id) => id,
 *   maxScan: 1_000,
 * });
 * if (page.items.join() !== "id-007,id-017,id-027" || page.next !== "id-027") throw new Error(page.items.join());
 * const bounded = await scanFiltered(read, { cursor: null, limit: 3, keep: () => false, cursorOf: (id) => id, maxScan: 10 });
 * if (bounded.items.length !== 0 || bounded.next !== "id-009") throw new Error("stops after 10, with a cursor");
 * ```
 *
 * @module
 */
import type { Page } from "../../storage/storage.ts";

/** The most items a filtered listing examines in one request. */
export const MAX_SCAN = 5_000;

/** The largest page read from storage at once while scanning. */
const SCAN_BATCH = 500;

/** What one item is to a filter: kept, dropped, or the end of the listing (no later item can match). */
export type Verdict = boolean | "stop";

/** How a listing is filtered. */
export interface ScanOptions<T> {
  /** Where to start (`null`: the beginning). */
  cursor: string | null;
  /** The most items to answer. */
  limit: number;
  /** Whether an item is kept; `"stop"` ends the listing there (the items are in key order). */
  keep(item: T): Verdict;
  /** The cursor that resumes a listing after `item`. */
  cursorOf(item: T): string;
  /** The most items examined (default {@link MAX_SCAN}). */
  maxScan?: number;
  /** Read from storage this many at once (default: `limit + 1` when `dense`, else 500). */
  dense?: boolean;
}

/** A page of kept items, and the cursor after the last item examined (`null`: the listing ended). */
export interface ScanResult<T> {
  items: T[];
  next: string | null;
}

/** Reads `read`'s pages from `opts.cursor`, keeping what `opts.keep` keeps, within `opts.maxScan` items. */
export async function scanFiltered<T>(
  read: (cursor: string | null, limit: number) => Promise<Page<T>>,
  opts: ScanOptions<T>,
): Promise<ScanResult<T>> {
  const maxScan = opts.maxScan ?? MAX_SCAN;
  const batch = opts.dense ? Math.min(SCAN_BATCH, opts.limit + 1) : SCAN_BATCH;
  const items: T[] = [];
  let cursor = opts.cursor;
  let scanned = 0;
  for (;;) {
    const page = await read(cursor, batch);
    for (let i = 0; i < page.items.length; i++) {
      const item = page.items[i];
      const verdict = opts.keep(item);
      if (verdict === "stop") return { items, next: null };
      scanned++;
      if (verdict) items.push(item);
      const last = i === page.items.length - 1 && page.next === null;
      if (items.length === opts.limit || scanned >= maxScan) {
        return { items, next: last ? null : opts.cursorOf(item) };
      }
    }
    if (page.next === null || page.items.length === 0) return { items, next: null };
    cursor = page.next;
  }
}
