/**
 * The append statement: a group of appends to distinct executions written in one
 * SQL statement (one round trip, one commit), each fenced by its shard's epoch and
 * checked against its execution's last sequence number.
 *
 * @module
 */
import { type Kysely, type RawBuilder, sql } from "npm:kysely@0.29.9";
import type { AppendRequest } from "../records.ts";
import type { Database } from "./schema.ts";

/** The documents of one statement at most (an append bigger than this is written alone). */
export const STATEMENT_BYTES = 8 * 1024 * 1024;

/** An append with its documents encoded once: the events as one JSON array, each output's body. */
export interface EncodedAppend {
  request: AppendRequest;
  eventsText: string | null;
  outputTexts: string[];
  /** The documents' length in UTF-16 units (a size estimate for batching). */
  bytes: number;
}

/** Encodes an append's documents once, and estimates their size. */
export function encodeAppend(request: AppendRequest): EncodedAppend {
  const eventsText = request.events.length > 0 ? JSON.stringify(request.events) : null;
  const outputTexts = (request.outputs ?? []).map((o) => JSON.stringify({ records: o.records }));
  const bytes = (eventsText?.length ?? 0) + outputTexts.reduce((a, t) => a + t.length, 0) + 256;
  return { request, eventsText, outputTexts, bytes };
}

/** The statement's parameters: one JSON document of the appends' fields, and the events' and outputs' texts. */
export interface StatementParams {
  reqsJson: string;
  ev: { ids: string[]; first: number[]; last: number[]; texts: string[] };
  out: { ids: string[]; refs: string[]; texts: string[] };
}

/** An append's row of the statement's `req` recordset. */
export interface RequestRow {
  i: number;
  execution_id: string;
  shard: number;
  epoch: number;
  expected_seq: number;
  last_seq: number;
  workflow_id: string;
  version: number;
  status: string;
  start_time: number;
  end_time: number | null;
  idempotency_key: string | null;
  request_hash: string | null;
  next_timer_at: number | null;
  expires_at: number | null;
  require_latest: boolean;
}

/** The fields of the `i`-th append of a statement, as its `req` row. */
export function requestFields(req: AppendRequest, i: number): RequestRow {
  return {
    i,
    execution_id: req.executionId,
    shard: req.fence.shard,
    epoch: req.fence.epoch,
    expected_seq: req.expectedSeq,
    last_seq: req.expectedSeq + req.events.length,
    workflow_id: req.summary.workflowId,
    version: req.summary.version,
    status: req.summary.status,
    start_time: req.summary.startTime,
    end_time: req.summary.endTime,
    idempotency_key: req.idempotencyKey ?? null,
    request_hash: req.requestHash ?? null,
    next_timer_at: req.summary.status === "running" ? req.nextTimerAt ?? null : null,
    expires_at: req.summary.status === "running" ? null : req.summary.expiresAt ?? null,
    require_latest: req.expectedSeq === 0 && req.requireLatestVersion === true,
  };
}

/**
 * A statement's parameters: the appends' fields (`fields` of each, as one JSON document), and their events'
 * and outputs' texts.
 */
export function statementParams(
  encoded: EncodedAppend[],
  fields: (req: AppendRequest, i: number) => object = requestFields,
): StatementParams {
  const reqs = encoded.map(({ request: req }, i) => fields(req, i));
  // Events and outputs go as arrays of JSON texts, each cast to json on its own: `json` keeps a document's
  // text (its key order, and escapes such as \u0000 that SQL text cannot hold), where unpacking them from one
  // big document would decode those escapes and fail.
  const ev = { ids: [] as string[], first: [] as number[], last: [] as number[], texts: [] as string[] };
  const out = { ids: [] as string[], refs: [] as string[], texts: [] as string[] };
  for (const e of encoded) {
    const req = e.request;
    if (e.eventsText !== null) {
      ev.ids.push(req.executionId);
      ev.first.push(req.events[0].seq);
      ev.last.push(req.events[req.events.length - 1].seq);
      ev.texts.push(e.eventsText);
    }
    (req.outputs ?? []).forEach((o, k) => {
      out.ids.push(req.executionId);
      out.refs.push(o.ref);
      out.texts.push(e.outputTexts[k]);
    });
  }
  return { reqsJson: JSON.stringify(reqs), ev, out };
}

/**
 * The statement's last two CTEs: the events and outputs of the appends whose execution ids the CTE `from`
 * (`written`, `created`) answers; the others' are not written.
 */
export function eventAndOutputWrites(
  ev: StatementParams["ev"],
  out: StatementParams["out"],
  from: "written" | "created",
): RawBuilder<unknown> {
  const ids = sql.raw(from);
  return sql`new_events as (
      insert into event_batches (execution_id, first_seq, last_seq, events)
      select v.execution_id, v.first_seq, v.last_seq, v.events::json
      from unnest(${ev.ids}::text[], ${ev.first}::int[], ${ev.last}::int[], ${ev.texts}::text[])
        as v(execution_id, first_seq, last_seq, events)
      where v.execution_id in (select execution_id from ${ids})
      returning 1
    ),
    new_outputs as (
      insert into outputs (execution_id, ref, body)
      select o.execution_id, o.ref, o.body::json
      from unnest(${out.ids}::text[], ${out.refs}::text[], ${out.texts}::text[]) as o(execution_id, ref, body)
      where o.execution_id in (select execution_id from ${ids})
      on conflict (execution_id, ref) do nothing
      returning 1
    )`;
}

/**
 * Appends a group of appends to distinct executions in one statement (one round trip, one commit):
 * each append whose shard epoch and expected sequence hold writes its execution row, events and
 * outputs; the others write nothing. The shard rows are read `for share`, so a concurrent claim
 * waits for this statement, or commits first and fences it off. Returns the executions written.
 */
export async function appendRound(db: Kysely<Database>, encoded: EncodedAppend[]): Promise<Set<string>> {
  const { reqsJson, ev, out } = statementParams(encoded);
  const r = await sql<{ execution_id: string }>`
    with req as (
      select * from json_to_recordset(${reqsJson}::text::json) as r(
        i int, execution_id text, shard int, epoch bigint, expected_seq int, last_seq int, workflow_id text,
        version int, status text, start_time bigint, end_time bigint, idempotency_key text,
        request_hash text, next_timer_at bigint, expires_at bigint, require_latest boolean)
    ),
    fence as (
      select s.shard, s.epoch from shards s where s.shard in (select shard from req) for share
    ),
    fenced as (
      select req.* from req left join fence on fence.shard = req.shard
      where coalesce(fence.epoch, 0) = req.epoch -- a shard never claimed is at epoch 0
    ),
    created as (
      insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard,
        last_seq, idempotency_key, request_hash, next_timer_at, expires_at)
      select execution_id, workflow_id, version, status, start_time, end_time, shard, last_seq,
        idempotency_key, request_hash, next_timer_at, expires_at
      from fenced f where expected_seq = 0 and (not require_latest or exists (
        select 1 from workflow_heads h
        where h.id = f.workflow_id and h.latest_version = f.version and not h.deleted))
      order by i
      on conflict (execution_id) do nothing
      returning execution_id
    ),
    updated as (
      update executions as e
      set status = f.status, end_time = f.end_time, last_seq = f.last_seq, next_timer_at = f.next_timer_at,
        expires_at = f.expires_at,
        version = f.version -- a migration moves an execution to another version of its workflow
      from fenced f
      where f.expected_seq > 0 and e.execution_id = f.execution_id and e.last_seq = f.expected_seq
        and e.shard = f.shard
      returning e.execution_id
    ),
    written as (select execution_id from created union all select execution_id from updated),
    ${eventAndOutputWrites(ev, out, "written")}
    select execution_id from written`.execute(db);
  return new Set(r.rows.map((row) => row.execution_id));
}
