/**
 * Group commit for the ceiling run: executions' rows queued by their callers go
 * out together, one SQL statement per flush (every table's rows of every
 * execution in the batch, through `unnest` of one parameter per column: one
 * round trip, one transaction, one commit), at most `maxInFlight` flushes at once over a
 * pool of as many connections. A flush starts as soon as a slot is free, so
 * under load the executions queued meanwhile go out in the next one (the
 * engine's commit group works the same way: 256 a flush, 2 in flight).
 *
 * @module
 */
import type postgres from "npm:postgres@3.4.9";
import { type ExecutionRows, REQUEST_HASH, STANDARD_WORKFLOW_ID } from "./ceiling_rows.ts";

/** How the group batches. */
export interface RowGroupOptions {
  /** Executions in one flush at most. */
  maxBatch: number;
  /** Flushes in flight at once (the pool should hold as many connections). */
  maxInFlight: number;
  /** Executions waiting at most; beyond it a submission is refused at once. */
  maxQueue: number;
  /**
   * Also read what the engine's statement reads: the shards' epochs `for share` (the fence) and the
   * workflow's head (the version check), inserting only the fenced rows.
   */
  fenced: boolean;
  /** The `audit_events.node` of the rows. */
  node: string;
}

/** The defaults: the engine's commit group's (256 a flush, 2 in flight), unfenced. */
export const DEFAULT_ROW_GROUP: Readonly<RowGroupOptions> = Object.freeze({
  maxBatch: 256,
  maxInFlight: 2,
  maxQueue: 20_000,
  fenced: false,
  node: "n1",
});

interface Waiting {
  rows: ExecutionRows;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Joins texts with the ASCII record separator, which JSON text cannot hold (a control character inside a
 * JSON string must be escaped) and the ids and keys here never do: the statement splits them back with
 * `string_to_array`. A `text[]` parameter costs more on both ends (every quote and backslash of the JSON
 * escaped by the client and unescaped by the server): inserting 100 executions' events took 1.6 – 1.7× as
 * long that way (medians of 30 statements, measured while writing this).
 */
const RS = "\x1e";

function joined(texts: string[]): string {
  for (const t of texts) if (t.includes(RS)) throw new Error("a text holds the record separator");
  return texts.join(RS);
}

/**
 * The statement's parameters: one text per column, the values joined (numbers by commas). No JS array goes
 * as a parameter: postgres.js can send one as a plain text when a statement is first prepared on two
 * connections at once (`malformed array literal`).
 */
function columns(batch: ExecutionRows[]) {
  const out = { ids: [] as string[], refs: [] as string[], texts: [] as string[] };
  for (const r of batch) {
    for (const o of r.outputs) {
      out.ids.push(r.executionId);
      out.refs.push(o.ref);
      out.texts.push(o.text);
    }
  }
  return {
    ids: joined(batch.map((r) => r.executionId)),
    starts: batch.map((r) => r.startTime).join(","),
    shards: batch.map((r) => r.shard).join(","),
    lastSeqs: batch.map((r) => r.lastSeq).join(","),
    keys: joined(batch.map((r) => r.idempotencyKey)),
    events: joined(batch.map((r) => r.eventsText)),
    out: { ids: joined(out.ids), refs: joined(out.refs), texts: joined(out.texts) },
  };
}

const AUDIT_ROUTE = "/api/v1/workflows/:id/execute";
const AUDIT_PATH = `/api/v1/workflows/${STANDARD_WORKFLOW_ID}/execute`;

/**
 * Writes a batch of executions' rows in one statement; returns how many executions it inserted. Fenced, the
 * executions are inserted only where their shard's epoch is 1 (read `for share`) and the workflow's head is
 * at version 1, and their events, outputs and audit rows only for those inserted, as the engine's statement
 * does.
 */
export async function writeBatch(
  sql: postgres.Sql,
  batch: ExecutionRows[],
  opts: Pick<RowGroupOptions, "fenced" | "node">,
): Promise<number> {
  const c = columns(batch);
  const split = (text: string) => sql`string_to_array(${text}::text, ${RS})`;
  const numbers = (text: string, type: "int" | "bigint") =>
    type === "int"
      ? sql`string_to_array(${text}::text, ',')::int[]`
      : sql`string_to_array(${text}::text, ',')::bigint[]`;
  const fence = opts.fenced
    ? sql`fence as (select shard from shards where shard = any(${
      numbers(c.shards, "int")
    }) and epoch = 1 for share),
      ok as (select 1 from workflow_heads where id = ${STANDARD_WORKFLOW_ID} and latest_version = 1
        and not deleted),`
    : sql``;
  const guard = opts.fenced
    ? sql`where v.shard in (select shard from fence) and exists (select 1 from ok)`
    : sql``;
  const written = opts.fenced ? sql`where v.id in (select execution_id from x)` : sql``;
  const [r] = await sql`
    with ${fence} x as (
      insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard,
        last_seq, idempotency_key, request_hash, next_timer_at)
      select v.id, ${STANDARD_WORKFLOW_ID}, 1, 'completed', v.start, v.start, v.shard, v.last_seq, v.key,
        ${REQUEST_HASH}, null
      from unnest(${split(c.ids)}, ${numbers(c.starts, "bigint")}, ${numbers(c.shards, "int")}, ${
    numbers(c.lastSeqs, "int")
  },
        ${split(c.keys)}) as v(id, start, shard, last_seq, key)
      ${guard}
      returning execution_id
    ),
    ev as (
      insert into event_batches (execution_id, first_seq, last_seq, events)
      select v.id, 1, v.last_seq, v.events::json
      from unnest(${split(c.ids)}, ${numbers(c.lastSeqs, "int")}, ${
    split(c.events)
  }) as v(id, last_seq, events)
      ${written}
      returning 1
    ),
    o as (
      insert into outputs (execution_id, ref, body)
      select v.id, v.ref, v.body::json
      from unnest(${split(c.out.ids)}, ${split(c.out.refs)}, ${split(c.out.texts)}) as v(id, ref, body)
      ${written}
      returning 1
    ),
    a as (
      insert into audit_events (at, node, token_id, role, method, route, path, status, outcome, request_id)
      select v.start, ${opts.node}, null, null, 'POST', ${AUDIT_ROUTE}, ${AUDIT_PATH}, 200, 'ok', null
      from unnest(${split(c.ids)}, ${numbers(c.starts, "bigint")}) as v(id, start)
      ${written}
      returning 1
    )
    select (select count(*) from x)::int as n`;
  return r.n as number;
}

/** Counters of a row group. */
export interface RowGroupStats {
  /** Statements (each its own transaction: one commit). */
  flushes: number;
  executions: number;
  /** The largest batch flushed. */
  maxBatch: number;
}

/**
 * Batches executions' rows into statements over `sql` (a pool of `maxInFlight` connections).
 *
 * @example
 * ```ts ignore
 * const group = new RowGroup(postgres(url, { max: 2 }));
 * await group.submit(standardExecutionRows("run", 0, Date.now()));
 * ```
 */
export class RowGroup {
  readonly options: RowGroupOptions;
  readonly stats: RowGroupStats = { flushes: 0, executions: 0, maxBatch: 0 };
  #queue: Waiting[] = [];
  #inFlight = 0;

  constructor(private readonly sql: postgres.Sql, options: Partial<RowGroupOptions> = {}) {
    this.options = { ...DEFAULT_ROW_GROUP, ...options };
  }

  /** Queues one execution's rows; resolves once the statement holding them committed. */
  submit(rows: ExecutionRows): Promise<void> {
    if (this.#queue.length >= this.options.maxQueue) {
      return Promise.reject(new Error(`queue full (${this.options.maxQueue} executions waiting)`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#inFlight < this.options.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      this.#inFlight++;
      void this.#flush(batch);
    }
  }

  async #flush(batch: Waiting[]): Promise<void> {
    this.stats.flushes++;
    this.stats.executions += batch.length;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
    try {
      const n = await writeBatch(this.sql, batch.map((w) => w.rows), this.options);
      if (n !== batch.length) throw new Error(`the statement wrote ${n} of ${batch.length} executions`);
      for (const w of batch) w.resolve();
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.#inFlight--;
      this.#drain();
    }
  }
}
