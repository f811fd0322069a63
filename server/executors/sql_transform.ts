/**
 * `transform/sql.query` (the old engine's SQL transform): runs the node's `sql`
 * over its incoming records in an in-memory SQLite table `input` and emits the
 * query's rows. The query runs in a Worker (see `sql_transform_core.ts` for the
 * table, the read-only authorizer and the row bound), terminated on the node's
 * `timeoutMs` or when the attempt is aborted; the engine's own database is never
 * touched.
 *
 * @module
 */
import { type Executor, type Json, NodeError } from "./executor.ts";
import { enforceLimits, outputTooLarge } from "./limits.ts";
import type { SqlTransformReply, SqlTransformRequest } from "./sql_transform_core.ts";

const WORKER_URL = new URL("./sql_transform_worker.ts", import.meta.url);

/** Error codes of the node that the attempt cannot cure by a retry. */
const FINAL_CODES: ReadonlySet<string> = new Set([
  "sql_error",
  "sql_not_allowed",
  "sql_too_many_columns",
  "output_too_large",
]);

/** Runs `req` in a fresh worker; rejects with `sql_timeout` / the abort reason when `signal` fires first. */
function runInWorker(req: SqlTransformRequest, signal: AbortSignal): Promise<SqlTransformReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { type: "module" });
    const stop = () => {
      worker.terminate();
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      stop();
      reject(signal.reason ?? new NodeError("sql_timeout", "the query was stopped"));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    worker.onmessage = (e: MessageEvent<SqlTransformReply>) => {
      stop();
      resolve(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      stop();
      reject(new NodeError("sql_error", `the query's worker failed: ${e.message}`));
    };
    worker.postMessage(req);
  });
}

/**
 * transform/sql.query: `config.sql` over the incoming records; input and output
 * are bounded by the node's `maxRecords`/`maxBytes`, the run by `config.timeoutMs`.
 *
 * @example
 * ```ts
 * import { sqlTransform } from "./sql_transform.ts";
 * const r = await sqlTransform({
 *   executionId: "e", workflowId: "w", nodeId: "n", attempt: 1, idempotencyKey: "e:n",
 *   config: { sql: "SELECT count(*) AS n FROM input WHERE value > 1", timeoutMs: 10000 },
 *   inputs: { records: [1, 2, 3], byParent: {}, byHandle: {} }, executionInput: null,
 *   limits: { maxRecords: 10, maxBytes: 1000 }, signal: new AbortController().signal,
 *   services: { timeout: (ms: number) => AbortSignal.timeout(ms) } as never,
 * });
 * if ((r.records[0] as { n: number }).n !== 2) throw new Error("count");
 * ```
 */
export const sqlTransform: Executor = async (ctx) => {
  const records = ctx.inputs.records;
  if (records.length > ctx.limits.maxRecords) {
    throw new NodeError(
      "input_too_large",
      `node ${ctx.nodeId}: ${records.length} input records, the limit is ${ctx.limits.maxRecords}`,
      false,
    );
  }
  try {
    enforceLimits(records, ctx.limits, ctx.nodeId);
  } catch {
    throw new NodeError(
      "input_too_large",
      `node ${ctx.nodeId}: input over ${ctx.limits.maxBytes} bytes`,
      false,
    );
  }
  const timeoutMs = typeof ctx.config.timeoutMs === "number" ? ctx.config.timeoutMs : 10_000;
  const timeout = ctx.services.timeout(timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  let reply: SqlTransformReply;
  try {
    reply = await runInWorker(
      { sql: ctx.config.sql as string, records, ...ctx.limits },
      signal,
    );
  } catch (err) {
    if (timeout.aborted && !ctx.signal.aborted) {
      throw new NodeError("sql_timeout", `node ${ctx.nodeId}: the query ran over ${timeoutMs} ms`, false);
    }
    throw err;
  }
  if ("error" in reply) {
    if (reply.error.code === "output_too_large") throw outputTooLarge(ctx.nodeId, reply.error.message);
    throw new NodeError(
      reply.error.code,
      `node ${ctx.nodeId}: ${reply.error.message}`,
      !FINAL_CODES.has(reply.error.code),
    );
  }
  const rows: Json[] = reply.rows;
  enforceLimits(rows, ctx.limits, ctx.nodeId);
  return { records: rows };
};
