/**
 * The filter combinations of the runs list (`GET /api/v1/executions`) as execution-index queries over the
 * rows of `execution_rows.ts`, what each must list, and a check of a walk of its pages: what the PostgreSQL
 * and SQLite execution-search tests share. Imported only by tests.
 *
 * @module
 */
import type { ExecutionQuery, Page, StoredExecution } from "../../storage/storage.ts";
import {
  type ExecutionKey,
  type IdRange,
  type SearchFilters,
  type SearchStatements,
} from "../../storage/execution_search.ts";
import { assert, assertEquals } from "../assert.ts";
import { type SeedRow, seedRow, T0 } from "./execution_rows.ts";

/** The rows the tests seed. */
export const SEEDED = 20_000;

/** One filter combination: its name, and its query without limit and cursor. */
export interface SearchCase {
  name: string;
  query: Omit<ExecutionQuery, "limit" | "cursor">;
  /** Which way the store reads an id prefix: `sparse` (the id index) or `dense` (the ordered keys). */
  prefix?: "sparse" | "dense";
}

/** A prefix of about 70 of the seeded ids (`ex-ab…`), read through the id index. */
export const SPARSE_PREFIX = "ex-ab";
/** A prefix of 90% of the seeded ids, read by walking the ordered keys. */
export const DENSE_PREFIX = "ex-";

/**
 * Every combination of workflow, status, start-time window and id prefix (none, sparse, dense) over `rows`
 * seeded rows: 24 cases.
 *
 * @example
 * ```ts
 * import { searchCases } from "./execution_search_cases.ts";
 * const cases = searchCases();
 * if (cases.length !== 24 || !cases.some((c) => c.name === "status")) throw new Error(cases.map((c) => c.name).join());
 * ```
 */
export function searchCases(rows = SEEDED): SearchCase[] {
  const out: SearchCase[] = [];
  // Rows 20% … 70% of the way (two rows share a start time, 20 ms apart).
  const window = { from: T0 + 20 * Math.floor(rows / 10), to: T0 + 20 * Math.floor(rows * 7 / 20) };
  for (const prefix of [undefined, "sparse", "dense"] as const) {
    for (let bits = 0; bits < 8; bits++) {
      const query: SearchCase["query"] = {};
      const names: string[] = [];
      if (bits & 1) (query.workflowId = "wf-7", names.push("workflow"));
      if (bits & 2) (query.status = "failed", names.push("status"));
      if (bits & 4) (Object.assign(query, window), names.push("window"));
      if (prefix !== undefined) {
        query.idPrefix = prefix === "sparse" ? SPARSE_PREFIX : DENSE_PREFIX;
        names.push(`${prefix} prefix`);
      }
      out.push({ name: names.join(" + ") || "no filter", query, prefix });
    }
  }
  return out;
}

/** A cursor half way down `rows` seeded rows (a deep page), as a listing hands out. */
export function deepCursor(rows: number): string {
  return `${T0 + 20 * Math.floor(rows / 4)}:ex-8`;
}

/** A cursor half way down the rows the tests seed. */
export const DEEP_CURSOR = deepCursor(SEEDED);

let seeded: SeedRow[] | undefined;

/** The ids `query` must list, newest first (ties by id, in code-point order). */
export function expectedIds(query: SearchCase["query"], cursor?: string): string[] {
  seeded ??= Array.from({ length: SEEDED }, (_, i) => seedRow(i));
  const [time, id] = cursor
    ? [Number(cursor.slice(0, cursor.indexOf(":"))), cursor.slice(cursor.indexOf(":") + 1)]
    : [];
  return seeded.filter((r) =>
    (query.workflowId === undefined || r.workflowId === query.workflowId) &&
    (query.status === undefined || r.status === query.status) &&
    (query.from === undefined || r.startTime >= query.from) &&
    (query.to === undefined || r.startTime <= query.to) &&
    (query.idPrefix === undefined || r.executionId.startsWith(query.idPrefix)) &&
    (time === undefined || r.startTime < time || (r.startTime === time && r.executionId < id!))
  ).sort((a, b) => b.startTime - a.startTime || (a.executionId < b.executionId ? 1 : -1))
    .map((r) => r.executionId);
}

/**
 * Walks every page of `list` from `cursor` and checks it lists exactly `expected`: each once, newest first
 * (ties in the store's order when `exactTies` is false), no page over `limit`.
 */
export async function assertWalk(
  list: (cursor: string | null) => Promise<Page<StoredExecution>>,
  limit: number,
  expected: string[],
  exactTies: boolean,
  label: string,
): Promise<number> {
  const got: StoredExecution[] = [];
  let cursor: string | null = null;
  let pages = 0;
  for (;; pages++) {
    assert(pages <= expected.length + 100, `${label}: pagination does not end`);
    const page: Page<StoredExecution> = await list(cursor);
    assert(page.items.length <= limit, `${label}: a page of ${page.items.length} over ${limit}`);
    got.push(...page.items);
    if (page.next === null) break;
    cursor = page.next;
  }
  const ids = got.map((e) => e.executionId);
  assertEquals(new Set(ids).size, ids.length, `${label}: each row once`);
  for (let i = 1; i < got.length; i++) {
    assert(got[i - 1].startTime >= got[i].startTime, `${label}: newest first at ${i}`);
  }
  if (exactTies) assertEquals(ids, expected, label);
  else assertEquals([...ids].sort(), [...expected].sort(), label);
  return pages + 1;
}

/** A statement run by a search, by the kind of read it is. */
export type StatementKind = keyof SearchStatements;

/**
 * `statements` with each call reported to `seen` (its kind and arguments) before it runs: a test explains
 * the same statement.
 */
export function watched(
  statements: SearchStatements,
  seen: (kind: StatementKind, args: unknown[]) => Promise<void>,
): SearchStatements {
  return {
    ordered: async (
      f: SearchFilters,
      limit: number,
    ) => (await seen("ordered", [f, limit]), statements.ordered(f, limit)),
    countIds: async (
      range: IdRange,
      bound: number,
    ) => (await seen("countIds", [range, bound]), statements.countIds(range, bound)),
    inIdRange: async (
      f: SearchFilters,
      range: IdRange,
      limit: number,
    ) => (await seen("inIdRange", [f, range, limit]), statements.inIdRange(f, range, limit)),
    keys: async (
      f: SearchFilters,
      limit: number,
    ): Promise<ExecutionKey[]> => (await seen("keys", [f, limit]), statements.keys(f, limit)),
    byIds: async (ids: readonly string[]) => (await seen("byIds", [ids]), statements.byIds(ids)),
  };
}
