/**
 * The runs list's every filter combination on PostgreSQL (`ENGINE_TEST_DATABASE_URL`), over 20,000 seeded
 * executions, analysed: each statement a search runs reads an index of `executions` (`EXPLAIN`: no sequential
 * scan; the ordered walks in the index its equalities lead, with no sort; a cursor as an index condition), on
 * a first page and on a deep one; and walking the pages lists exactly the matching rows, newest first, each
 * once.
 */
import { type RawBuilder, sql } from "npm:kysely@0.29.9";
import { assert, assertEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { seedPostgres } from "../../testing/storage/execution_rows.ts";
import {
  assertWalk,
  DEEP_CURSOR,
  expectedIds,
  searchCases,
  SEEDED,
  type StatementKind,
  watched,
} from "../../testing/storage/execution_search_cases.ts";
import { searchExecutions, type SearchFilters } from "../execution_search.ts";
import { openPostgres } from "../postgres.ts";
import { SqlContext } from "./context.ts";
import {
  byIdsStatement,
  countIdsStatement,
  inIdRangeStatement,
  keysStatement,
  orderedStatement,
  sqlSearchStatements,
} from "./execution_search.ts";

/** The statement a search's call runs. */
// deno-lint-ignore no-explicit-any
function statementOf(kind: StatementKind, args: any[]): RawBuilder<unknown> {
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

/** A plan node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan. */
function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}

/** The index an ordered walk of `f` reads. */
function orderedIndex(f: SearchFilters): string {
  if (f.workflowId !== undefined) {
    return f.status !== undefined ? "executions_by_workflow_status" : "executions_by_workflow";
  }
  return f.status !== undefined ? "executions_by_status" : "executions_by_time";
}

pgTest(
  "postgres execution search: every filter combination reads an index, and pages list exactly the matches",
  async () => {
    await withTempDatabase(async (url) => {
      const storage = await openPostgres({ url, poolMax: 2 });
      try {
        const db = storage.db;
        await seedPostgres(db, SEEDED);
        await sql`vacuum analyze executions`.execute(db);
        const plain = sqlSearchStatements(new SqlContext(db, (e) => e));
        let sorts = 0; // ordered reads the planner sorted (few rows expected)
        for (const c of searchCases()) {
          for (const cursor of [null, DEEP_CURSOR]) {
            const label = `${c.name}${cursor ? " (deep page)" : ""}`;
            const kinds: StatementKind[] = [];
            const explained = watched(plain, async (kind, args) => {
              kinds.push(kind);
              const f = args[0] as SearchFilters;
              const result = await sql<{ "QUERY PLAN": [{ Plan: PlanNode }] }>`explain (format json) ${
                statementOf(kind, args)
              }`.execute(db);
              const all = nodes(result.rows[0]["QUERY PLAN"][0].Plan);
              const text = `${label} ${kind}: ${
                JSON.stringify(all.map((n) => [n["Node Type"], n["Index Name"], n["Index Cond"]]))
              }`;
              assert(!all.some((n) => n["Node Type"] === "Seq Scan"), `a sequential scan: ${text}`);
              const indexed = all.filter((n) =>
                /Index/.test(n["Node Type"]) && n["Index Name"]?.startsWith("executions")
              );
              assert(indexed.length > 0, `no index read: ${text}`);
              if (kind === "ordered" || kind === "keys") {
                assertEquals(indexed.map((n) => n["Index Name"]), [orderedIndex(f)], text);
                // The index reads exactly the matching rows: every filter is a condition of the read (a
                // sort, when the planner expects few rows, sorts only those).
                const cond = indexed[0]["Index Cond"] ?? "";
                if (f.workflowId !== undefined) assert(cond.includes("workflow_id ="), text);
                if (f.status !== undefined) assert(cond.includes("status ="), text);
                if (f.from !== undefined) assert(cond.includes("start_time >="), text);
                if (f.to !== undefined) assert(cond.includes("start_time <="), text);
                if (f.cursor) {
                  assert(/ROW\(start_time, execution_id\) </.test(cond), `a keyset seek: ${text}`);
                }
                if (all.some((n) => n["Node Type"] === "Sort")) sorts++;
              }
              if (kind === "countIds" || kind === "inIdRange") {
                assert(indexed.every((n) => n["Index Name"] === "executions_by_id_c"), text);
              }
            });
            const page = await searchExecutions(explained, { ...c.query, limit: 50, cursor });
            if (c.prefix === "sparse") assert(kinds.includes("inIdRange") && !kinds.includes("keys"), label);
            if (c.prefix === "dense") assert(kinds.includes("keys") && !kinds.includes("inIdRange"), label);
            const expected = expectedIds(c.query, cursor ?? undefined);
            assertEquals(
              page.items.map((e) => e.executionId).sort(),
              expected.slice(0, page.items.length).sort(),
              label,
            );
            assert(
              page.items.length === Math.min(50, expected.length) || (c.prefix === "dense" && page.next),
              label,
            );
          }
          // Walking every page lists exactly the matches, each once, newest first (ties in the database's order).
          await assertWalk(
            (cursor) => searchExecutions(plain, { ...c.query, limit: 500, cursor }),
            500,
            expectedIds(c.query),
            false,
            c.name,
          );
        }
        assert(sorts <= 12, `${sorts} ordered reads sorted their rows`);
      } finally {
        await storage.close();
      }
    });
  },
);
