/**
 * The rows one execution of the standard workload writes on PostgreSQL, as the
 * engine writes them (counted with `pg_stat_user_tables` after engine runs, and
 * read off `storage/sql/append_statement.ts` and `server/http/audit.ts`):
 *
 * - `executions`: 1 row inserted, already `completed` (the whole chain of local nodes runs inside the
 *   append that creates it: 1 append per execution, no update);
 * - `event_batches`: 1 row holding the execution's 17 events as one JSON array (about 1.9 KB);
 * - `outputs`: 5 rows, one per node, `{"records": [...]}`;
 * - `audit_events`: 1 row, the `POST …/execute` request (the engine writes it in its own batches).
 *
 * The same shapes and sizes, built here per execution (ids, times, keys and the JSON text encoded each
 * time, as the engine encodes them), so the ceiling writes what the engine writes and nothing else.
 *
 * @module
 */
import postgres from "npm:postgres@3.4.9";
import { MIGRATIONS } from "../storage/sql/migrations.ts";

/** The workflow the rows belong to (`WORKLOADS.standard`). */
export const STANDARD_WORKFLOW_ID = "bench-standard";

/** The rows of one execution. */
export interface ExecutionRows {
  executionId: string;
  shard: number;
  startTime: number;
  idempotencyKey: string;
  /** Its events, encoded as one JSON array (the `event_batches` row's document). */
  eventsText: string;
  /** The last event's sequence number (the row's `last_seq`, and the execution's). */
  lastSeq: number;
  /** Its outputs: ref and `{"records": [...]}` text, one per node. */
  outputs: { ref: string; text: string }[];
}

/** Shards of the engine's default cluster (an execution's shard is read from its id). */
const SHARDS = 128;
/** A request hash as the engine stores it (32 hex digits; the same request gives the same hash). */
export const REQUEST_HASH = "0123456789abcdef0123456789abcdef";

/** The standard workload's nodes, each with the records it emits (its output). */
const NODES: { id: string; processed: number; records: number[] }[] = (() => {
  const src = Array.from({ length: 10 }, (_, i) => i + 1);
  const double = src.map((v) => v * 2);
  const big = double.filter((v) => v > 5);
  const inc = big.map((v) => v + 1);
  return [
    { id: "src", processed: 10, records: src },
    { id: "double", processed: 10, records: double },
    { id: "big", processed: 10, records: big },
    { id: "inc", processed: big.length, records: inc },
    { id: "collect", processed: inc.length, records: inc },
  ];
})();

/**
 * The events of one standard execution, in the engine's shapes: started, then scheduled, started and
 * succeeded for each node, then succeeded (17).
 */
function standardEvents(executionId: string, key: string, at: number): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [{
    type: "ExecutionStarted",
    executionId,
    workflowId: STANDARD_WORKFLOW_ID,
    version: 1,
    input: {},
    timeoutAt: null,
    idempotencyKey: key,
  }];
  for (const n of NODES) {
    events.push({ type: "NodeScheduled", nodeId: n.id });
    events.push({ type: "NodeStarted", nodeId: n.id, attempt: 1, timeoutAt: null });
    events.push({
      type: "NodeSucceeded",
      nodeId: n.id,
      attempt: 1,
      outputRef: `${n.id}@1`,
      recordsProcessed: n.processed,
      recordsEmitted: n.records.length,
    });
  }
  events.push({ type: "ExecutionSucceeded" });
  return events.map((e, i) => ({ ...e, v: 1, seq: i + 1, at }));
}

/**
 * The rows of the `n`-th execution of a run (`prefix` makes its idempotency key unique), built and encoded
 * now.
 *
 * @example
 * ```ts
 * import { standardExecutionRows } from "./ceiling_rows.ts";
 * const rows = standardExecutionRows("run", 7, 1_700_000_000_000);
 * const events = JSON.parse(rows.eventsText);
 * if (events.length !== 17 || rows.outputs.length !== 5 || rows.lastSeq !== 17) throw new Error("shape");
 * if (rows.idempotencyKey !== "run-7" || rows.shard < 0 || rows.shard >= 128) throw new Error("fields");
 * ```
 */
export function standardExecutionRows(prefix: string, n: number, now: number): ExecutionRows {
  const hex = crypto.randomUUID().replaceAll("-", "");
  const executionId = `ex-${hex}`;
  const idempotencyKey = `${prefix}-${n}`;
  const events = standardEvents(executionId, idempotencyKey, now);
  return {
    executionId,
    shard: parseInt(hex.slice(0, 8), 16) % SHARDS,
    startTime: now,
    idempotencyKey,
    eventsText: JSON.stringify(events),
    lastSeq: events.length,
    outputs: NODES.map((node) => ({ ref: `${node.id}@1`, text: JSON.stringify({ records: node.records }) })),
  };
}

/**
 * Creates the engine's schema (every migration's statements, so the same tables and indexes) in the
 * database `sql` is connected to, with every shard claimed at epoch 1 and the standard workflow's head
 * (what the fenced statement reads).
 *
 * @example
 * ```ts ignore
 * const sql = postgres(url, { max: 1 });
 * await createEngineSchema(sql);
 * ```
 */
export async function createEngineSchema(sql: postgres.Sql): Promise<void> {
  await sql.begin(async (tx) => {
    for (const m of MIGRATIONS) for (const s of m.statements) await tx.unsafe(s);
    await tx`insert into shards (shard, owner, epoch)
      select s, 'ceiling', 1 from generate_series(0, ${SHARDS - 1}::int) s`;
    await tx`insert into workflow_heads (id, latest_version, deleted) values (${STANDARD_WORKFLOW_ID}, 1, false)`;
  });
}

/** Rows per execution in the tables the engine writes (what a run left in its database, over `executions`). */
export interface RowCounts {
  executions: number;
  eventBatches: number;
  events: number;
  outputs: number;
  auditEvents: number;
}

/**
 * Counts the rows of the tables an execution writes, in the database `sql` is connected to.
 *
 * @example
 * ```ts ignore
 * const { executions, outputs } = await countRows(sql);
 * ```
 */
export async function countRows(sql: postgres.Sql): Promise<RowCounts> {
  const [r] = await sql`select
    (select count(*)::int from executions) as executions,
    (select count(*)::int from event_batches) as batches,
    (select coalesce(sum(last_seq - first_seq + 1), 0)::int from event_batches) as events,
    (select count(*)::int from outputs) as outputs,
    (select count(*)::int from audit_events) as audit`;
  return {
    executions: r.executions,
    eventBatches: r.batches,
    events: r.events,
    outputs: r.outputs,
    auditEvents: r.audit,
  };
}
