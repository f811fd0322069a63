/**
 * Measures what durability costs on PostgreSQL for the standard 5-node workflow
 * (`sequence.numbers(1..10) → map → filter → map → memory.collect`): commits per
 * execution and per node transition (a commit group is one transaction), and
 * rows written per execution (counted in the fresh database). Runs a node in-process on a fresh database.
 *
 *   deno run -A bench/storage_profile.ts [executions=500] [concurrency=50]
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";
import { startNode } from "../server/start.ts";
import { TEST_DATABASE_URL, withTempDatabase } from "../testing/pg.ts";
import { WORKLOADS } from "./workloads.ts";

const total = Number(Deno.args[0] ?? 500);
const concurrency = Number(Deno.args[1] ?? 50);

const STANDARD = WORKLOADS.standard;

async function counts(sql: postgres.Sql) {
  const [r] = await sql`select
    (select count(*)::int from executions) as executions,
    (select coalesce(sum(last_seq - first_seq + 1), 0)::int from event_batches) as events,
    (select count(*)::int from event_batches) as batches,
    (select count(*)::int from outputs) as outputs`;
  return r as unknown as { executions: number; events: number; batches: number; outputs: number };
}

async function run(url: string, n: number, parallel: number) {
  const node = await startNode({ port: 0, storage: "postgres", databaseUrl: url, logLevel: "error" });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await fetch(`${node.url}/api/v1/workflows`, { method: "POST", body: JSON.stringify(STANDARD) }).then((
      r,
    ) => r.body?.cancel());
    const before = { ...node.commitGroup.stats };
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        const r = await fetch(`${node.url}/api/v1/workflows/${STANDARD.id}/execute?wait=30000`, {
          method: "POST",
        });
        const body = await r.json();
        if (body.status !== "completed") throw new Error(`execution ended ${body.status}`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: parallel }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const flushes = node.commitGroup.stats.flushes - before.flushes;
    const appends = node.commitGroup.stats.appends - before.appends;
    const rows = await counts(sql);
    const transitions = n * ((STANDARD.nodes as unknown[]).length + 1); // the start and one per node
    return {
      executions: n,
      concurrency: parallel,
      executionsPerSecond: Math.round(n / seconds),
      appendsPerExecution: +(appends / n).toFixed(2),
      writeCommitsPerExecution: +(flushes / n).toFixed(2),
      writeCommitsPerTransition: +(flushes / transitions).toFixed(3),
      largestCommitGroup: node.commitGroup.stats.maxBatch,
      rowsPerExecution: {
        executionsInserted: +(rows.executions / n).toFixed(2),
        executionRowUpdates: +((appends - n) / n).toFixed(2),
        eventsInserted: +(rows.events / n).toFixed(2),
        eventRowsInserted: +(rows.batches / n).toFixed(2),
        outputsInserted: +(rows.outputs / n).toFixed(2),
      },
    };
  } finally {
    await sql.end();
    await node.close();
  }
}

if (import.meta.main) {
  console.log(`PostgreSQL ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, "//")}`);
  for (const [n, c] of [[Math.min(total, 100), 1], [total, concurrency]]) {
    const r = await withTempDatabase((url) => run(url, n, c));
    console.log(JSON.stringify(r));
  }
}
