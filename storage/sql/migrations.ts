/**
 * Versioned schema migrations, applied at start-up in one transaction under a
 * transaction-scoped advisory lock, so two nodes starting at once apply each
 * migration exactly once. Append new migrations; never edit an applied one.
 *
 * @module
 */
import { type Kysely, sql } from "npm:kysely@0.29.9";
import type { Database } from "./schema.ts";

/** One migration. */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** The advisory lock key migrations run under (any constant shared by every node). */
export const MIGRATION_LOCK_KEY = 727_274_001;

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "initial schema",
    statements: [
      `create table workflows (
        id text not null,
        version integer not null,
        definition json not null,
        hash text not null,
        created_at bigint not null,
        primary key (id, version))`,
      `create table workflow_heads (
        id text primary key,
        latest_version integer not null,
        deleted boolean not null default false)`,
      `create table shards (
        shard integer primary key,
        owner text,
        epoch bigint not null)`,
      `create table executions (
        execution_id text primary key,
        workflow_id text not null,
        version integer not null,
        status text not null,
        start_time bigint not null,
        end_time bigint,
        shard integer not null,
        last_seq integer not null,
        idempotency_key text,
        request_hash text,
        next_timer_at bigint)`,
      `create index executions_by_workflow on executions (workflow_id, start_time desc, execution_id desc)`,
      `create index executions_by_time on executions (start_time desc, execution_id desc)`,
      `create index executions_running on executions (shard) where status = 'running'`,
      `create index executions_due on executions (next_timer_at) where status = 'running' and next_timer_at is not null`,
      `create index executions_ended on executions (end_time) where status <> 'running'`,
      `create table events (
        execution_id text not null,
        seq integer not null,
        event json not null,
        primary key (execution_id, seq))`,
      `create table outputs (
        execution_id text not null,
        ref text not null,
        body json not null,
        primary key (execution_id, ref))`,
      `create table cluster_meta (
        key text primary key,
        value jsonb not null)`,
    ],
  },
  {
    version: 2,
    name: "cluster membership and events",
    statements: [
      `create table members (
        id text primary key,
        address text not null,
        http_address text not null,
        roles text not null,
        joined_at bigint not null,
        heartbeat_at bigint not null,
        leaving boolean not null default false)`,
      `create table cluster_events (
        id bigserial primary key,
        at bigint not null,
        type text not null,
        node text not null,
        details json not null)`,
      `create index cluster_events_by_type on cluster_events (type, id desc)`,
    ],
  },
  {
    version: 3,
    name: "events stored one row per append",
    statements: [
      // One row holds the events of one append (one commit of the execution), in order: an execution's
      // history is a handful of rows, not one per event.
      `create table event_batches (
        execution_id text not null,
        first_seq integer not null,
        last_seq integer not null,
        events json not null,
        primary key (execution_id, first_seq))`,
      `insert into event_batches (execution_id, first_seq, last_seq, events)
        select execution_id, seq, seq, json_build_array(event) from events`,
      `drop table events`,
    ],
  },
  {
    version: 4,
    name: "api tokens and the audit log",
    statements: [
      // Tokens made through the API: the SHA-256 digest of each, never the token.
      `create table api_tokens (
        id text primary key,
        digest text not null unique,
        name text not null,
        role text not null,
        created_at bigint not null,
        created_by text,
        expires_at bigint,
        revoked_at bigint)`,
      `create index api_tokens_by_time on api_tokens (created_at desc, id desc)`,
      `create table audit_events (
        id bigserial primary key,
        at bigint not null,
        node text not null,
        token_id text,
        role text,
        method text not null,
        route text not null,
        path text not null,
        status integer not null,
        outcome text not null,
        request_id text)`,
    ],
  },
  {
    version: 5,
    name: "schedules and their fires",
    statements: [
      // One row per schedule: its definition (spec as json, which keeps the input's text), and its state as
      // columns, next_tick_at indexed for the owner's due listing. fire_count counts its schedule_fires rows,
      // so a write trims the oldest at once when it goes past the bound.
      `create table schedules (
        id text primary key,
        workflow_id text not null,
        shard integer not null,
        spec json not null,
        status text not null,
        source text not null,
        version integer not null,
        created_at bigint not null,
        updated_at bigint not null,
        next_tick_at bigint,
        last_tick_at bigint,
        last_execution_id text,
        buffered_tick_at bigint,
        runs bigint not null,
        fire_count integer not null default 0)`,
      `create index schedules_due on schedules (shard, next_tick_at) where status = 'active'`,
      `create index schedules_by_workflow on schedules (workflow_id, id)`,
      // One row per recorded tick: a tick is recorded once (its primary key), the newest FIRES_KEPT kept.
      `create table schedule_fires (
        schedule_id text not null,
        tick_at bigint not null,
        fired_at bigint not null,
        outcome text not null,
        reason text not null,
        execution_id text,
        primary key (schedule_id, tick_at))`,
    ],
  },
  {
    version: 6,
    name: "execution search indexes",
    statements: [
      // The runs list (GET /api/v1/executions) by status, and by workflow and status, newest first; and ids
      // by prefix in code-point order ("C": a range of the index, whatever the database's collation).
      `create index executions_by_status on executions (status, start_time desc, execution_id desc)`,
      `create index executions_by_workflow_status on executions
        (workflow_id, status, start_time desc, execution_id desc)`,
      `create index executions_by_id_c on executions (execution_id collate "C")`,
    ],
  },
  {
    version: 7,
    name: "per-workflow retention",
    statements: [
      // When an ended execution's own retention (its workflow's retentionMs) deletes it; null: the node's
      // --retention applies. The two retention passes each read their own partial index: a workflow that keeps
      // its executions forever (expires_at at the largest safe integer) never lengthens the default pass's scan.
      `alter table executions add column expires_at bigint`,
      `create index executions_expiring on executions (expires_at) where expires_at is not null`,
      `create index executions_ended_default on executions (end_time)
        where status <> 'running' and expires_at is null`,
      // executions_ended stays: members of the release before this one still delete through it while both
      // run (an upgrade only adds); a later release drops it.
    ],
  },
];

/** Applies every migration not yet applied; returns the versions it applied. */
export async function migrate(db: Kysely<Database>, now: number): Promise<number[]> {
  return await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    await sql`create table if not exists engine_migrations (
      version integer primary key,
      name text not null,
      applied_at bigint not null)`.execute(trx);
    const done = new Set(
      (await trx.selectFrom("engine_migrations").select("version").execute()).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const statement of m.statements) await sql.raw(statement).execute(trx);
      await trx.insertInto("engine_migrations").values({ version: m.version, name: m.name, applied_at: now })
        .execute();
      applied.push(m.version);
    }
    return applied;
  });
}
