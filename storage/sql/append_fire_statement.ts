/**
 * The fire statement: creating appends that carry a schedule fire (`AppendRequest.scheduleFire`), written in
 * one transaction with their fires. The transaction first takes the schedules' rows `FOR UPDATE` (in id
 * order), as every writer of a schedule's fires does, then runs one statement, whose snapshot therefore sees
 * every fire of those schedules committed before: an append is written only if its shard's epoch holds (read
 * `FOR SHARE`, as in the append statement), its execution does not exist, its workflow version is the latest
 * (`requireLatestVersion`), its schedule is at the version decided on and in its shard, and its tick is not
 * recorded (but `buffered`); then its execution, events and outputs, its fire, and its schedule's state are
 * written together, and the oldest fire is trimmed past `FIRES_KEPT`. An append that fails any check writes
 * nothing, and the others in the statement go on. Appends without a fire never come here: their statement
 * (`append_statement.ts`) is unchanged.
 *
 * @module
 */
import { type Kysely, sql } from "npm:kysely@0.29.9";
import { type FireOutcome, FIRES_KEPT } from "../../core/schedule.ts";
import type { AppendRequest, AppendResult } from "../records.ts";
import { scheduleChanged, tickRecorded } from "../refusals.ts";
import { tickTaken } from "../schedule_rules.ts";
import {
  type EncodedAppend,
  eventAndOutputWrites,
  requestFields,
  type RequestRow,
  type StatementParams,
  statementParams,
} from "./append_statement.ts";
import { num } from "./rows.ts";
import type { Database } from "./schema.ts";

/** A creating append's `req` row with its fire and its schedule's state and status after it. */
function fireFields(req: AppendRequest, i: number): RequestRow & Record<`f_${string}`, unknown> {
  const w = req.scheduleFire!;
  return {
    ...requestFields(req, i),
    f_schedule_id: w.fire.scheduleId,
    f_tick_at: w.fire.tickAt,
    f_fired_at: w.fire.firedAt,
    f_outcome: w.fire.outcome,
    f_reason: w.fire.reason,
    f_execution_id: w.fire.executionId,
    f_version: w.expectedVersion,
    f_status: w.status,
    f_next_tick_at: w.state.nextTickAt,
    f_last_tick_at: w.state.lastTickAt,
    f_last_execution_id: w.state.lastExecutionId,
    f_buffered_tick_at: w.state.bufferedTickAt,
    f_runs: w.state.runs,
  };
}

/**
 * Groups the appends with fires (indices into `requests`) into waves in which each schedule appears once, in
 * order: a statement writes a schedule's row once.
 */
export function fireWaves(indices: readonly number[], requests: readonly AppendRequest[]): number[][] {
  const waves: number[][] = [];
  const seen = new Map<string, number>();
  for (const i of indices) {
    const id = requests[i].scheduleFire!.fire.scheduleId;
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    (waves[k] ??= []).push(i);
  }
  return waves;
}

/** The statement of a group of creating appends with fires; answers what it created, fired and scheduled. */
function fireStatement({ reqsJson, ev, out }: StatementParams) {
  return sql<{ kind: "created" | "fired" | "scheduled"; id: string }>`
    with req as (
      select * from json_to_recordset(${reqsJson}::text::json) as r(
        i int, execution_id text, shard int, epoch bigint, expected_seq int, last_seq int, workflow_id text,
        version int, status text, start_time bigint, end_time bigint, idempotency_key text,
        request_hash text, next_timer_at bigint, expires_at bigint, require_latest boolean,
        f_schedule_id text, f_tick_at bigint, f_fired_at bigint, f_outcome text, f_reason text,
        f_execution_id text, f_version int, f_status text, f_next_tick_at bigint, f_last_tick_at bigint,
        f_last_execution_id text, f_buffered_tick_at bigint, f_runs bigint)
    ),
    fence as (
      select s.shard, s.epoch from shards s where s.shard in (select shard from req) for share
    ),
    gate as (
      select req.*, prior.outcome as prior_outcome, sch.fire_count
      from req
      left join fence on fence.shard = req.shard
      join schedules sch on sch.id = req.f_schedule_id and sch.version = req.f_version and sch.shard = req.shard
      left join schedule_fires prior on prior.schedule_id = req.f_schedule_id and prior.tick_at = req.f_tick_at
      where coalesce(fence.epoch, 0) = req.epoch -- a shard never claimed is at epoch 0
        and (prior.outcome is null or (prior.outcome = 'buffered' and req.f_outcome <> 'buffered'))
        and not exists (select 1 from executions e where e.execution_id = req.execution_id)
        and (not req.require_latest or exists (
          select 1 from workflow_heads h
          where h.id = req.workflow_id and h.latest_version = req.version and not h.deleted))
    ),
    created as (
      insert into executions (execution_id, workflow_id, version, status, start_time, end_time, shard,
        last_seq, idempotency_key, request_hash, next_timer_at, expires_at)
      select execution_id, workflow_id, version, status, start_time, end_time, shard, last_seq,
        idempotency_key, request_hash, next_timer_at, expires_at
      from gate order by i
      on conflict (execution_id) do nothing
      returning execution_id
    ),
    ok as (select gate.* from gate where gate.execution_id in (select execution_id from created)),
    fired as (
      insert into schedule_fires (schedule_id, tick_at, fired_at, outcome, reason, execution_id)
      select f_schedule_id, f_tick_at, f_fired_at, f_outcome, f_reason, f_execution_id
      from ok where prior_outcome is null
      returning schedule_id
    ),
    refired as (
      update schedule_fires p
      set fired_at = ok.f_fired_at, outcome = ok.f_outcome, reason = ok.f_reason,
        execution_id = ok.f_execution_id
      from ok where ok.prior_outcome is not null and p.schedule_id = ok.f_schedule_id
        and p.tick_at = ok.f_tick_at
      returning p.schedule_id
    ),
    trimmed as (
      delete from schedule_fires d using ok
      where ok.prior_outcome is null and ok.fire_count >= ${FIRES_KEPT} and d.schedule_id = ok.f_schedule_id
        and d.tick_at = (select min(m.tick_at) from schedule_fires m where m.schedule_id = ok.f_schedule_id)
      returning 1
    ),
    scheduled as (
      update schedules s
      set status = ok.f_status, next_tick_at = ok.f_next_tick_at, last_tick_at = ok.f_last_tick_at,
        last_execution_id = ok.f_last_execution_id, buffered_tick_at = ok.f_buffered_tick_at, runs = ok.f_runs,
        fire_count = least(s.fire_count + (case when ok.prior_outcome is null then 1 else 0 end), ${FIRES_KEPT})
      from ok where s.id = ok.f_schedule_id
      returning s.id
    ),
    ${eventAndOutputWrites(ev, out, "created")}
    select 'created' as kind, execution_id as id from created
    union all select 'fired', schedule_id from fired
    union all select 'fired', schedule_id from refired
    union all select 'scheduled', id from scheduled`;
}

/**
 * Writes a group of creating appends with fires (of distinct executions and distinct schedules) in one
 * transaction; returns the executions written.
 */
export async function appendFireRound(db: Kysely<Database>, encoded: EncodedAppend[]): Promise<Set<string>> {
  const ids = encoded.map((e) => e.request.scheduleFire!.fire.scheduleId);
  if (new Set(ids).size !== ids.length) throw new Error("assertion: one fire of a schedule per statement");
  const params = statementParams(encoded, fireFields);
  return await db.transaction().execute(async (trx) => {
    await sql`select id from schedules where id = any(${[...ids].sort()}::text[]) order by id for update`
      .execute(trx);
    const r = await fireStatement(params).execute(trx);
    const created = new Set(r.rows.filter((x) => x.kind === "created").map((x) => x.id));
    const fired = r.rows.filter((x) => x.kind === "fired").length;
    const scheduled = r.rows.filter((x) => x.kind === "scheduled").length;
    if (fired !== created.size || scheduled !== created.size) {
      // Only a writer of fires that skipped the schedule's lock could cause this: undo it all (the throw rolls
      // the transaction back) rather than keep an execution without its fire.
      throw new Error(
        `assertion: ${created.size} executions created with ${fired} fires, ${scheduled} states`,
      );
    }
    return created;
  });
}

/**
 * Why appends with fires that the fire statement did not write were refused, where their fire explains it
 * (read after the fact, as `whyRefused` does): `tick_recorded`, else `schedule_changed`. The others are absent.
 */
export async function fireRefusals(
  db: Kysely<Database>,
  failed: readonly AppendRequest[],
): Promise<Map<AppendRequest, AppendResult>> {
  const why = new Map<AppendRequest, AppendResult>();
  const withFire = failed.filter((r) => r.scheduleFire !== undefined);
  if (withFire.length === 0) return why;
  const ids = withFire.map((r) => r.scheduleFire!.fire.scheduleId);
  const ticks = withFire.map((r) => r.scheduleFire!.fire.tickAt);
  const schedules = await db.selectFrom("schedules").select(["id", "version", "shard"]).where("id", "in", ids)
    .execute();
  const byId = new Map(schedules.map((s) => [s.id, s]));
  const recorded = await sql<{ schedule_id: string; tick_at: string | number; outcome: string }>`
    select f.schedule_id, f.tick_at, f.outcome from schedule_fires f
    join unnest(${ids}::text[], ${ticks}::bigint[]) as k(id, tick_at)
      on f.schedule_id = k.id and f.tick_at = k.tick_at`.execute(db);
  const outcomes = new Map(recorded.rows.map((f) => [`${f.schedule_id}@${num(f.tick_at)}`, f.outcome]));
  for (const req of withFire) {
    const { fire, expectedVersion } = req.scheduleFire!;
    const prior = outcomes.get(`${fire.scheduleId}@${fire.tickAt}`) as FireOutcome | undefined;
    const schedule = byId.get(fire.scheduleId);
    if (tickTaken(prior, fire.outcome)) why.set(req, tickRecorded(req));
    else if (!schedule) why.set(req, scheduleChanged(req, "it is deleted"));
    else if (schedule.version !== expectedVersion) {
      why.set(req, scheduleChanged(req, `it is at version ${schedule.version}`));
    } else if (schedule.shard !== req.fence.shard) {
      why.set(req, scheduleChanged(req, `it lives in shard ${schedule.shard}`));
    }
  }
  return why;
}
