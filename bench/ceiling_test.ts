/**
 * The ceiling writes what an engine execution writes: the same tables, rows and document sizes per
 * execution (compared with a real node on PostgreSQL), batched into few statements, fenced when asked.
 */
import postgres from "npm:postgres@3.4.9";
import { startNode } from "../server/start.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { runCeiling } from "./ceiling.ts";
import { RowGroup, writeBatch } from "./ceiling_group.ts";
import { countRows, createEngineSchema, type RowCounts, standardExecutionRows } from "./ceiling_rows.ts";
import { WORKLOADS } from "./workloads.ts";

/** Per execution: rows of each table, and the average length of the events and outputs documents. */
interface Shape {
  rows: RowCounts;
  eventsChars: number;
  outputChars: number;
}

async function shapeOf(sql: postgres.Sql): Promise<Shape> {
  const rows = await countRows(sql);
  const n = rows.executions;
  const [r] = await sql`select (select sum(length(events::text)) from event_batches)::int as ev,
    (select sum(length(body::text)) from outputs)::int as out`;
  const per = (x: number) => x / n;
  return {
    rows: {
      executions: 1,
      eventBatches: per(rows.eventBatches),
      events: per(rows.events),
      outputs: per(rows.outputs),
      auditEvents: per(rows.auditEvents),
    },
    eventsChars: per(r.ev),
    outputChars: per(r.out),
  };
}

/** What `n` standard executions through a real node (over HTTP, as the load generator asks) leave. */
async function engineShape(n: number): Promise<Shape> {
  return await withTempDatabase(async (url) => {
    const node = await startNode({ port: 0, storage: "postgres", databaseUrl: url, logLevel: "error" });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const wf = WORKLOADS.standard;
      await fetch(`${node.url}/api/v1/workflows`, { method: "POST", body: JSON.stringify(wf) })
        .then((r) => r.body?.cancel());
      for (let i = 0; i < n; i++) {
        const r = await fetch(`${node.url}/api/v1/workflows/${wf.id}/execute?wait=30000`, {
          method: "POST",
          headers: { "idempotency-key": `load-1765000000000-${i}`, "content-type": "application/json" },
          body: "{}",
        });
        assertEquals((await r.json()).status, "completed");
      }
      await node.close(); // flushes the audit log
      const shape = await shapeOf(sql);
      // The workflow's registration is audited too: one row more than the executions.
      shape.rows.auditEvents -= 1 / n;
      return shape;
    } finally {
      await sql.end();
    }
  });
}

/** What `n` executions' rows written by the ceiling leave. */
async function ceilingShape(n: number): Promise<Shape> {
  return await withTempDatabase(async (url) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await createEngineSchema(sql);
      const rows = Array.from(
        { length: n },
        (_, i) => standardExecutionRows("load-1765000000000", i, Date.now()),
      );
      assertEquals(await writeBatch(sql, rows, { fenced: false, node: "n1" }), n);
      return await shapeOf(sql);
    } finally {
      await sql.end();
    }
  });
}

pgTest("ceiling: writes per execution the rows a real node writes for the standard workload", async () => {
  const [engine, ceiling] = [await engineShape(10), await ceilingShape(10)];
  assertEquals(ceiling.rows, engine.rows);
  assertEquals(ceiling.rows, { executions: 1, eventBatches: 1, events: 17, outputs: 5, auditEvents: 1 });
  // The same documents, give or take the digits of times and ids.
  assert(
    Math.abs(ceiling.eventsChars - engine.eventsChars) / engine.eventsChars < 0.02,
    JSON.stringify([
      ceiling.eventsChars,
      engine.eventsChars,
    ]),
  );
  assertEquals(ceiling.outputChars, engine.outputChars);
});

pgTest("ceiling: concurrent submissions go out in few statements, each execution's rows once", async () => {
  await withTempDatabase(async (url) => {
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    try {
      await createEngineSchema(sql);
      const group = new RowGroup(sql, { maxBatch: 16, maxInFlight: 2 });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => group.submit(standardExecutionRows("t", i, Date.now()))),
      );
      assertEquals(group.stats.executions, 100);
      assert(group.stats.flushes < 100 && group.stats.maxBatch <= 16, JSON.stringify(group.stats));
      const rows = await countRows(sql);
      assertEquals(rows, {
        executions: 100,
        eventBatches: 100,
        events: 1700,
        outputs: 500,
        auditEvents: 100,
      });
    } finally {
      await sql.end();
    }
  });
});

pgTest("ceiling: fenced, an execution on a shard at another epoch writes nothing", async () => {
  await withTempDatabase(async (url) => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await createEngineSchema(sql);
      const rows = Array.from({ length: 8 }, (_, i) => standardExecutionRows("f", i, Date.now()));
      await sql`update shards set epoch = 2 where shard = ${rows[0].shard}`;
      const fenced = rows.filter((r) => r.shard === rows[0].shard).length;
      assertEquals(await writeBatch(sql, rows, { fenced: true, node: "n1" }), 8 - fenced);
      const counts = await countRows(sql);
      assertEquals([counts.executions, counts.eventBatches, counts.outputs, counts.auditEvents], [
        8 - fenced,
        8 - fenced,
        5 * (8 - fenced),
        8 - fenced,
      ]);
    } finally {
      await sql.end();
    }
  });
});

pgTest("ceiling: a short run reports its throughput, latency, commits and rows", async () => {
  const r = await runCeiling({
    concurrency: 8,
    durationMs: 500,
    warmupMs: 100,
    maxBatch: 256,
    pool: 2,
    fenced: false,
  });
  assert(r.completed > 0 && r.executionsPerSecond > 0, JSON.stringify(r));
  assert(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  assert(r.commitsPerExecution > 0 && r.commitsPerExecution <= 1, JSON.stringify(r));
  assertEquals(r.rowsPerExecution, {
    executions: 1,
    eventBatches: 1,
    events: 17,
    outputs: 5,
    auditEvents: 1,
  });
});
