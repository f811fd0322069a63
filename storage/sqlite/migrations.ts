/**
 * The SQLite store's versioned schema migrations, applied at open in one transaction (the data directory's
 * lock keeps every other process out, and `BEGIN IMMEDIATE` orders them anyway). Append new migrations;
 * never edit an applied one. The tables are those of the SQL schema (`storage/sql/migrations.ts`) in SQLite's
 * types: times are epoch milliseconds in `integer` columns, flags 0 or 1, and documents (definitions,
 * events, outputs, details, specs) JSON text, stored as written and parsed on read.
 *
 * @module
 */
import type { SqliteDatabase } from "./database.ts";

/** One migration. */
export interface SqliteMigration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Every migration, in order. */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "initial schema",
    statements: [
      `create table workflows (
        id text not null,
        version integer not null,
        definition text not null,
        hash text not null,
        created_at integer not null,
        primary key (id, version))`,
      `create table workflow_heads (
        id text primary key,
        latest_version integer not null,
        deleted integer not null default 0)`,
      `create table shards (
        shard integer primary key,
        owner text,
        epoch integer not null)`,
      `create table executions (
        execution_id text primary key,
        workflow_id text not null,
        version integer not null,
        status text not null,
        start_time integer not null,
        end_time integer,
        shard integer not null,
        last_seq integer not null,
        idempotency_key text,
        request_hash text,
        next_timer_at integer)`,
      `create index executions_by_workflow on executions (workflow_id, start_time desc, execution_id desc)`,
      `create index executions_by_time on executions (start_time desc, execution_id desc)`,
      `create index executions_running on executions (shard) where status = 'running'`,
      `create index executions_due on executions (next_timer_at)
        where status = 'running' and next_timer_at is not null`,
      `create index executions_ended on executions (end_time) where status <> 'running'`,
      // The events of one append, first_seq..last_seq, as one JSON array in order.
      `create table event_batches (
        execution_id text not null,
        first_seq integer not null,
        last_seq integer not null,
        events text not null,
        primary key (execution_id, first_seq))`,
      // A node's output: its records as one JSON array.
      `create table outputs (
        execution_id text not null,
        ref text not null,
        records text not null,
        primary key (execution_id, ref))`,
      `create table cluster_meta (
        key text primary key,
        value text not null)`,
      `create table members (
        id text primary key,
        address text not null,
        http_address text not null,
        roles text not null,
        joined_at integer not null,
        heartbeat_at integer not null,
        leaving integer not null default 0)`,
      `create table cluster_events (
        id integer primary key autoincrement,
        at integer not null,
        type text not null,
        node text not null,
        details text not null)`,
      `create index cluster_events_by_type on cluster_events (type, id desc)`,
    ],
  },
  {
    version: 2,
    name: "api tokens and the audit log",
    statements: [
      `create table api_tokens (
        id text primary key,
        digest text not null unique,
        name text not null,
        role text not null,
        created_at integer not null,
        created_by text,
        expires_at integer,
        revoked_at integer)`,
      `create index api_tokens_by_time on api_tokens (created_at desc, id desc)`,
      `create table audit_events (
        id integer primary key autoincrement,
        at integer not null,
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
    version: 3,
    name: "schedules and their fires",
    statements: [
      `create table schedules (
        id text primary key,
        workflow_id text not null,
        shard integer not null,
        spec text not null,
        status text not null,
        source text not null,
        version integer not null,
        created_at integer not null,
        updated_at integer not null,
        next_tick_at integer,
        last_tick_at integer,
        last_execution_id text,
        buffered_tick_at integer,
        runs integer not null,
        fire_count integer not null default 0)`,
      `create index schedules_due on schedules (shard, next_tick_at) where status = 'active'`,
      `create index schedules_by_workflow on schedules (workflow_id, id)`,
      `create table schedule_fires (
        schedule_id text not null,
        tick_at integer not null,
        fired_at integer not null,
        outcome text not null,
        reason text not null,
        execution_id text,
        primary key (schedule_id, tick_at))`,
    ],
  },
  {
    version: 4,
    name: "execution search indexes",
    statements: [
      // The runs list by status, and by workflow and status, newest first (ids by prefix use the primary
      // key's index: BINARY, code-point order over UTF-8).
      `create index executions_by_status on executions (status, start_time desc, execution_id desc)`,
      `create index executions_by_workflow_status on executions
        (workflow_id, status, start_time desc, execution_id desc)`,
    ],
  },
  {
    version: 5,
    name: "per-workflow retention",
    statements: [
      // As the SQL schema's migration 7: when an ended execution's own retention deletes it (null: the node's
      // --retention), and one partial index per retention pass.
      `alter table executions add column expires_at integer`,
      `create index executions_expiring on executions (expires_at) where expires_at is not null`,
      `create index executions_ended_default on executions (end_time)
        where status <> 'running' and expires_at is null`,
      // executions_ended stays: members of the release before this one still delete through it while both
      // run (an upgrade only adds); a later release drops it.
    ],
  },
];

/**
 * Applies every migration not yet applied, in one transaction; returns the versions it applied.
 *
 * @example
 * ```ts
 * import { SqliteDatabase } from "./database.ts";
 * import { migrateSqlite, SQLITE_MIGRATIONS } from "./migrations.ts";
 * const dir = await Deno.makeTempDir();
 * const db = new SqliteDatabase(`${dir}/x.db`);
 * if (migrateSqlite(db, 1).length !== SQLITE_MIGRATIONS.length) throw new Error("all applied");
 * if (migrateSqlite(db, 2).length !== 0) throw new Error("none twice");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function migrateSqlite(
  db: SqliteDatabase,
  now: number,
  migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS,
): number[] {
  return db.transaction(() => {
    db.exec(`create table if not exists engine_migrations (
      version integer primary key,
      name text not null,
      applied_at integer not null)`);
    const done = new Set(
      db.all<{ version: number }>("select version from engine_migrations").map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const statement of m.statements) db.exec(statement);
      db.run(
        "insert into engine_migrations (version, name, applied_at) values (?, ?, ?)",
        m.version,
        m.name,
        now,
      );
      applied.push(m.version);
    }
    return applied;
  });
}
