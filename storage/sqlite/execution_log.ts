/**
 * The execution log in the SQLite store. A commit group's appends (`appendMany`) are written in one write
 * transaction, one commit and one fsync: each append in order reads its shard's epoch (the fence), its
 * execution's row, and what else it must check, and writes its execution row, its events (one
 * `event_batches` row per append) and its outputs, or is refused with nothing written. SQLite runs one write
 * transaction at a time and this one runs to its end without yielding, so no claim of a shard can land
 * between an append's check of its epoch and its write. A refused append never spoils the others.
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { AppendRequest, AppendResult } from "../records.ts";
import { executionExists, sequenceConflict, staleEpoch, workflowChanged } from "../refusals.ts";
import type { ExecutionLog } from "../roles.ts";
import { assertFireAppend } from "../schedule_rules.ts";
import type { SqliteContext } from "./context.ts";
import type { SqliteDatabase } from "./database.ts";
import { type ExecutionRow, toExecution } from "./rows.ts";
import { applyFire, fireRefusal } from "./schedule_fires.ts";
import { shardEpoch } from "./shard_leases.ts";

/** Why an append is refused as the database is now (inside the write transaction), or undefined. */
function refusal(
  db: SqliteDatabase,
  req: AppendRequest,
  row: ExecutionRow | undefined,
): AppendResult | undefined {
  const epoch = shardEpoch(db, req.fence.shard);
  if (epoch !== req.fence.epoch) return staleEpoch(req, epoch);
  if (req.expectedSeq === 0 && row) return executionExists(req, toExecution(row));
  const fire = req.scheduleFire && fireRefusal(db, req);
  if (fire) return fire;
  if (req.expectedSeq === 0) {
    if (!req.requireLatestVersion) return undefined;
    const head = db.get<{ latest_version: number; deleted: number }>(
      "select latest_version, deleted from workflow_heads where id = ?",
      req.summary.workflowId,
    );
    const latest = head !== undefined && head.deleted === 0 && head.latest_version === req.summary.version;
    return latest ? undefined : workflowChanged(req);
  }
  if (!row) return sequenceConflict(req, 0, "no execution");
  if (row.last_seq !== req.expectedSeq || row.shard !== req.fence.shard) {
    return sequenceConflict(req, row.last_seq);
  }
  return undefined;
}

/** Writes an append that passed its checks: the execution's row, its events, its outputs, its fire. */
function write(db: SqliteDatabase, req: AppendRequest): void {
  const s = req.summary;
  const lastSeq = req.expectedSeq + req.events.length;
  const nextTimerAt = s.status === "running" ? req.nextTimerAt ?? null : null;
  const expiresAt = s.status === "running" ? null : s.expiresAt ?? null;
  if (req.expectedSeq === 0) {
    db.run(
      `insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard, last_seq,
        idempotency_key, request_hash, next_timer_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      req.executionId,
      s.workflowId,
      s.version,
      s.status,
      s.startTime,
      s.endTime,
      req.fence.shard,
      lastSeq,
      req.idempotencyKey ?? null,
      req.requestHash ?? null,
      nextTimerAt,
      expiresAt,
    );
  } else {
    // A migration moves an execution to another version of its workflow.
    db.run(
      `update executions set status = ?, end_time = ?, last_seq = ?, next_timer_at = ?, expires_at = ?,
        version = ? where execution_id = ?`,
      s.status,
      s.endTime,
      lastSeq,
      nextTimerAt,
      expiresAt,
      s.version,
      req.executionId,
    );
  }
  if (req.events.length > 0) {
    db.run(
      "insert into event_batches (execution_id, first_seq, last_seq, events) values (?, ?, ?, ?)",
      req.executionId,
      req.events[0].seq,
      req.events[req.events.length - 1].seq,
      JSON.stringify(req.events),
    );
  }
  for (const o of req.outputs ?? []) {
    db.run(
      "insert into outputs (execution_id, ref, records) values (?, ?, ?) on conflict do nothing",
      req.executionId,
      o.ref,
      JSON.stringify(o.records),
    );
  }
  if (req.scheduleFire) applyFire(db, req.scheduleFire);
}

/** The `ExecutionLog` role over SQLite. */
export class SqliteExecutionLog implements ExecutionLog {
  constructor(private readonly ctx: SqliteContext) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return this.appendMany([request]).then((r) => r[0]);
  }

  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    if (requests.length === 0) return Promise.resolve([]);
    try {
      requests.forEach(assertFireAppend);
    } catch (err) {
      return Promise.reject(err);
    }
    const db = this.ctx.db;
    return this.ctx.write(() =>
      requests.map((req): AppendResult => {
        const row = db.get<ExecutionRow>("select * from executions where execution_id = ?", req.executionId);
        const refused = refusal(db, req, row);
        if (refused) return refused;
        write(db, req);
        return { ok: true };
      })
    );
  }

  readEvents(executionId: string, afterSeq = 0): Promise<ExecutionEvent[]> {
    return this.ctx.run(() => {
      const rows = this.ctx.db.all<{ events: string }>(
        "select events from event_batches where execution_id = ? and last_seq > ? order by first_seq",
        executionId,
        afterSeq,
      );
      const events: ExecutionEvent[] = [];
      for (const r of rows) {
        for (const e of JSON.parse(r.events) as ExecutionEvent[]) if (e.seq > afterSeq) events.push(e);
      }
      return events;
    });
  }

  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return this.ctx.run(() => {
      const r = this.ctx.db.get<{ records: string }>(
        "select records from outputs where execution_id = ? and ref = ?",
        executionId,
        ref,
      );
      return r ? JSON.parse(r.records) as Json[] : undefined;
    });
  }
}
