/**
 * How a SQL store serves `ExecutionIndex.listExecutions` (every filter combination of the runs list) with
 * indexed statements only, whatever the number of executions stored:
 *
 * - Without `idPrefix`: one statement walks the index that leads with the filters' equalities
 *   (`(workflow, status, start time, id)`, `(workflow, start time, id)`, `(status, start time, id)` or
 *   `(start time, id)`), from the cursor (a keyset seek) and the window (`to`, `from`) to `limit + 1` rows.
 * - With `idPrefix`: the ids with that prefix are a range of the id index. Up to {@link PREFIX_SPARSE_MAX}
 *   of them (counted there, reading at most one more), they are read through it and the other filters applied
 *   to them (a sort of at most that many rows). More of them, and matching rows are dense enough to be found
 *   by walking the ordered index as above, keys only (an index-only read), testing each key's id: at most
 *   {@link KEY_SCAN_MAX} keys a call, so a page may then hold fewer than `limit` items while `next` remains.
 *
 * The store supplies the statements ({@link SearchStatements}); this module decides which run and pages.
 *
 * @module
 */
import type { ExecutionQuery, Page, StoredExecution } from "./records.ts";
import { decodeExecutionCursor, encodeExecutionCursor } from "./storage.ts";

/** Ids of a prefix read through the id index when they are at most this many. */
export const PREFIX_SPARSE_MAX = 5_000;

/** With a prefix matching more ids, the most index keys one call examines. */
export const KEY_SCAN_MAX = 5_000;

/** The smallest batch of keys read at once while examining keys. */
const KEY_BATCH_MIN = 100;

/** The bounds of a search (tests make them small). */
export interface SearchBounds {
  /** See {@link PREFIX_SPARSE_MAX}. */
  sparseMax: number;
  /** See {@link KEY_SCAN_MAX}. */
  keyScanMax: number;
}

/** The bounds a store searches with. */
export const SEARCH_BOUNDS: Readonly<SearchBounds> = Object.freeze({
  sparseMax: PREFIX_SPARSE_MAX,
  keyScanMax: KEY_SCAN_MAX,
});

/** The ids starting with a prefix: `low <= id < high` in code-point order (`high` null: no upper end). */
export interface IdRange {
  low: string;
  high: string | null;
}

/** An execution's place in the listing's order. */
export interface ExecutionKey {
  startTime: number;
  executionId: string;
}

/** A search's filters with its cursor decoded (`cursor` holds the last key already listed). */
export interface SearchFilters {
  workflowId?: string;
  status?: ExecutionQuery["status"];
  from?: number;
  to?: number;
  cursor?: { time: number; id: string };
}

/** The statements a store runs for a search, each one indexed read; rows come newest first. */
export interface SearchStatements {
  /** Rows matching `f`, at most `limit` (no prefix). */
  ordered(f: SearchFilters, limit: number): Promise<StoredExecution[]>;
  /** The number of ids in `range`, counting at most `bound + 1`. */
  countIds(range: IdRange, bound: number): Promise<number>;
  /** Rows in `range` matching `f`, at most `limit` (the range holds at most {@link PREFIX_SPARSE_MAX}). */
  inIdRange(f: SearchFilters, range: IdRange, limit: number): Promise<StoredExecution[]>;
  /** Keys of the rows matching `f`, at most `limit`. */
  keys(f: SearchFilters, limit: number): Promise<ExecutionKey[]>;
  /** The rows of these ids. */
  byIds(ids: readonly string[]): Promise<StoredExecution[]>;
}

/**
 * The ids that start with `prefix`, as a range in code-point order (the order of PostgreSQL's `"C"`
 * collation and of SQLite's `BINARY` over UTF-8): from the prefix to the prefix with its last code point
 * raised by one.
 *
 * @example
 * ```ts
 * import { prefixRange } from "./execution_search.ts";
 * const r = prefixRange("ex-7f");
 * if (r.low !== "ex-7f" || r.high !== "ex-7g") throw new Error(JSON.stringify(r));
 * if (prefixRange("a\u{10FFFF}").high !== "b") throw new Error("the last code point at its top carries");
 * if (prefixRange("\u{D7FF}").high !== "\u{E000}") throw new Error("no surrogate is a code point");
 * ```
 */
export function prefixRange(prefix: string): IdRange {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return { low: prefix, high: String.fromCodePoint(...points) };
    }
  }
  return { low: prefix, high: null };
}

/**
 * Whether a row matches a search's filters (used on rows read by id, which may have changed since their keys
 * were read).
 */
function matches(q: ExecutionQuery, e: StoredExecution): boolean {
  return (q.workflowId === undefined || e.workflowId === q.workflowId) &&
    (q.status === undefined || e.status === q.status) &&
    (q.from === undefined || e.startTime >= q.from) &&
    (q.to === undefined || e.startTime <= q.to) &&
    (q.idPrefix === undefined || e.executionId.startsWith(q.idPrefix));
}

/**
 * The filters of a query, its cursor decoded (throws `InvalidCursor`), with one upper end: the cursor or the
 * window's end, whichever is tighter (so the seek starts there, not at the other and filters down to it).
 */
function filtersOf(q: ExecutionQuery): SearchFilters {
  const cursor = q.cursor ? decodeExecutionCursor(q.cursor) : undefined;
  const cursorTighter = cursor !== undefined && (q.to === undefined || cursor.time <= q.to);
  return {
    workflowId: q.workflowId,
    status: q.status,
    from: q.from,
    to: cursorTighter ? undefined : q.to,
    cursor: cursorTighter ? cursor : undefined,
  };
}

/** A page from `limit + 1` rows read: the first `limit`, and a cursor when there were more. */
function pageOf(rows: StoredExecution[], limit: number): Page<StoredExecution> {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? encodeExecutionCursor(items.at(-1)!) : null };
}

/**
 * A page of executions matching `q`, newest first, through `s`'s indexed statements (see the module's text).
 *
 * @example
 * ```ts
 * import { searchExecutions, type SearchStatements } from "./execution_search.ts";
 * import type { StoredExecution } from "./records.ts";
 * const rows: StoredExecution[] = [3, 2, 1].map((i) => ({
 *   executionId: `ex-${i}`, workflowId: "w", version: 1, status: "completed", startTime: i, endTime: i,
 *   shard: 0, lastSeq: 1, idempotencyKey: null, requestHash: null, nextTimerAt: null,
 * }));
 * const after = (f: { cursor?: { time: number } }) => rows.filter((r) => !f.cursor || r.startTime < f.cursor.time);
 * const s: SearchStatements = {
 *   ordered: (f, limit) => Promise.resolve(after(f).slice(0, limit)),
 *   countIds: () => Promise.resolve(rows.length),
 *   inIdRange: (f, r, limit) =>
 *     Promise.resolve(after(f).filter((e) => e.executionId >= r.low && e.executionId < r.high!).slice(0, limit)),
 *   keys: (f, limit) => Promise.resolve(after(f).slice(0, limit)),
 *   byIds: (ids) => Promise.resolve(rows.filter((r) => ids.includes(r.executionId))),
 * };
 * const first = await searchExecutions(s, { limit: 2 });
 * if (first.items.length !== 2 || first.next !== "2:ex-2") throw new Error(JSON.stringify(first));
 * const hit = await searchExecutions(s, { limit: 2, idPrefix: "ex-1" });
 * if (hit.items[0]?.executionId !== "ex-1" || hit.next !== null) throw new Error(JSON.stringify(hit));
 * ```
 */
export async function searchExecutions(
  s: SearchStatements,
  q: ExecutionQuery,
  bounds: Readonly<SearchBounds> = SEARCH_BOUNDS,
): Promise<Page<StoredExecution>> {
  const f = filtersOf(q);
  if (q.from !== undefined && q.to !== undefined && q.from > q.to) return { items: [], next: null };
  if (q.idPrefix === undefined || q.idPrefix === "") return pageOf(await s.ordered(f, q.limit + 1), q.limit);
  const range = prefixRange(q.idPrefix);
  if (await s.countIds(range, bounds.sparseMax) <= bounds.sparseMax) {
    return pageOf(await s.inIdRange(f, range, q.limit + 1), q.limit);
  }
  return await denseSearch(s, q, f, bounds.keyScanMax);
}

/** A prefix matching many ids: the ordered keys examined, at most `keyScanMax` of them. */
async function denseSearch(
  s: SearchStatements,
  q: ExecutionQuery,
  f: SearchFilters,
  keyScanMax: number,
): Promise<Page<StoredExecution>> {
  const prefix = q.idPrefix!;
  const found: ExecutionKey[] = [];
  let examined = 0;
  let cursor = f.cursor;
  let batch = Math.min(keyScanMax, Math.max(KEY_BATCH_MIN, q.limit + 1));
  let next: ExecutionKey | null = null;
  for (;;) {
    const want = Math.min(batch, keyScanMax - examined);
    const keys = await s.keys({ ...f, cursor }, want);
    examined += keys.length;
    for (const k of keys) {
      if (k.executionId.startsWith(prefix)) found.push(k);
      if (found.length > q.limit) break;
    }
    if (found.length > q.limit) {
      next = found[q.limit - 1];
      break;
    }
    if (keys.length < want) break; // the listing ended
    const last = keys.at(-1)!;
    if (examined >= keyScanMax) {
      next = last; // the bound: the next call goes on from the last key examined
      break;
    }
    cursor = { time: last.startTime, id: last.executionId };
    batch *= 4;
  }
  const ids = found.slice(0, q.limit).map((k) => k.executionId);
  const rows = ids.length === 0 ? [] : await s.byIds(ids);
  const order = new Map(ids.map((id, i) => [id, i]));
  const items = rows.filter((r) => matches(q, r)).sort((a, b) =>
    order.get(a.executionId)! - order.get(b.executionId)!
  );
  return { items, next: next === null ? null : encodeExecutionCursor(next) };
}
