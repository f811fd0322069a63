/**
 * The runs list's every filter combination on the SQLite store, over 20,000 seeded executions: each statement
 * a search runs reads an index (`EXPLAIN QUERY PLAN`: no scan of the table, the ordered walks in their index's
 * order, no sort but of an id prefix's few rows), on a first page and on a deep one (a keyset seek); and
 * walking the pages lists exactly the matching rows, newest first, each once.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { seedSqlite } from "../../testing/storage/execution_rows.ts";
import {
  assertWalk,
  DEEP_CURSOR,
  expectedIds,
  searchCases,
  SEEDED,
  type StatementKind,
  watched,
} from "../../testing/storage/execution_search_cases.ts";
import { searchExecutions } from "../execution_search.ts";
import type { ExecutionQuery } from "../records.ts";
import { SqliteContext } from "./context.ts";
import { SqliteDatabase } from "./database.ts";
import {
  byIdsStatement,
  countIdsStatement,
  inIdRangeStatement,
  keysStatement,
  orderedIndex,
  orderedStatement,
  sqliteSearchStatements,
  type SqliteStatement,
} from "./execution_search.ts";
import { migrateSqlite } from "./migrations.ts";

/** The statement a search's call runs. */
// deno-lint-ignore no-explicit-any
function statementOf(kind: StatementKind, args: any[]): SqliteStatement {
  switch (kind) {
    case "ordered":
      return orderedStatement(args[0], args[1]);
    case "countIds":
      return countIdsStatement(args[0], args[1]);
    case "inIdRange":
      return inIdRangeStatement(args[0], args[1], args[2]);
    case "keys":
      return keysStatement(args[0], args[1]);
    case "byIds":
      return byIdsStatement(args[0]);
  }
}

/** Checks one statement's plan; returns its lines. */
// deno-lint-ignore no-explicit-any
function checkPlan(db: SqliteDatabase, kind: StatementKind, args: any[], label: string): string {
  const s = statementOf(kind, args);
  const plan = db.all<{ detail: string }>(`explain query plan ${s.sql}`, ...s.params).map((r) => r.detail);
  const text = `${label} ${kind}: ${plan.join(" | ")}`;
  assert(!plan.some((d) => /^SCAN executions$/.test(d)), `a scan of the table: ${text}`);
  assert(plan.some((d) => /^(SEARCH|SCAN) executions USING (COVERING )?(INDEX|PRIMARY KEY)/.test(d)), text);
  if (kind === "ordered" || kind === "keys") {
    const index = orderedIndex(args[0]);
    assert(plan.some((d) => d.includes(`INDEX ${index}`)), `${index} expected: ${text}`);
    assert(!plan.some((d) => d.includes("TEMP B-TREE")), `sorted outside the index: ${text}`);
    if (args[0].cursor || args[0].workflowId || args[0].status || args[0].to !== undefined) {
      assert(plan.some((d) => d.startsWith("SEARCH")), `a seek, not a walk from the start: ${text}`);
    }
    if (args[0].cursor) {
      assert(plan.some((d) => d.includes("(start_time,execution_id)<(?,?)")), `a keyset seek: ${text}`);
    }
  }
  if (kind === "countIds" || kind === "inIdRange" || kind === "byIds") {
    assert(
      plan.some((d) => /USING (COVERING )?INDEX sqlite_autoindex_executions_1 \(execution_id/.test(d)),
      text,
    );
  }
  return text;
}

Deno.test("sqlite execution search: every filter combination reads an index, and pages list exactly the matches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-search-" });
  const db = new SqliteDatabase(`${dir}/x.db`, { synchronous: "normal" });
  try {
    migrateSqlite(db, 1);
    seedSqlite(db, SEEDED);
    const ctx = new SqliteContext(db);
    const plain = sqliteSearchStatements(ctx);
    for (const c of searchCases()) {
      for (const cursor of [null, DEEP_CURSOR]) {
        const label = `${c.name}${cursor ? " (deep page)" : ""}`;
        const kinds: StatementKind[] = [];
        const explained = watched(plain, (kind, args) => {
          kinds.push(kind);
          checkPlan(db, kind, args, label);
          return Promise.resolve();
        });
        const query: ExecutionQuery = { ...c.query, limit: 50, cursor };
        const page = await searchExecutions(explained, query);
        if (c.prefix === "sparse") assert(kinds.includes("inIdRange") && !kinds.includes("keys"), label);
        if (c.prefix === "dense") assert(kinds.includes("keys") && !kinds.includes("inIdRange"), label);
        // The page is the start of what the filter lists (a dense prefix's page may stop short).
        const expected = expectedIds(c.query, cursor ?? undefined);
        assertEquals(page.items.map((e) => e.executionId), expected.slice(0, page.items.length), label);
        assert(
          page.items.length === Math.min(50, expected.length) || (c.prefix === "dense" && page.next),
          label,
        );
      }
      // Walking every page from the first lists exactly the matches, each once, newest first.
      await assertWalk(
        (cursor) => searchExecutions(plain, { ...c.query, limit: 500, cursor }),
        500,
        expectedIds(c.query),
        true,
        c.name,
      );
    }
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite execution search: a dense prefix examines a bounded number of keys a call, and paging goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-search-" });
  const db = new SqliteDatabase(`${dir}/x.db`, { synchronous: "normal" });
  try {
    migrateSqlite(db, 1);
    seedSqlite(db, SEEDED);
    const plain = sqliteSearchStatements(new SqliteContext(db));
    // Bounds made small: `ck-` (2,000 ids) is dense over 100, and failed runs (1%) hold about 20 of them.
    const bounds = { sparseMax: 100, keyScanMax: 60 };
    const query = { idPrefix: "ck-", status: "failed" as const };
    let examined = 0;
    const counting = watched(plain, (kind, args) => {
      if (kind === "keys") examined += args[1] as number;
      return Promise.resolve();
    });
    const first = await searchExecutions(counting, { ...query, limit: 50 }, bounds);
    assertEquals(examined, 60);
    assert(first.next !== null && first.items.length < 50, "a short page, and a cursor to go on from");
    const expected = expectedIds(query);
    assert(expected.length > first.items.length, `${expected.length} matches`);
    const pages = await assertWalk(
      (cursor) => searchExecutions(plain, { ...query, limit: 50, cursor }, bounds),
      50,
      expected,
      true,
      "ck- failed",
    );
    assert(pages >= 3, `${pages} pages`);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
