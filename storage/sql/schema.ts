/**
 * The SQL schema's tables as Kysely types. Times are epoch milliseconds in
 * `bigint` columns (read back as strings by the drivers; converted on read).
 *
 * @module
 */
import type { ColumnType } from "npm:kysely@0.29.9";

type BigIntColumn = ColumnType<string | number, number, number>;
type NullableBigInt = ColumnType<string | number | null, number | null, number | null>;

/** `workflows`: every stored version of every workflow definition. */
export interface WorkflowsTable {
  id: string;
  version: number;
  definition: unknown;
  hash: string;
  created_at: BigIntColumn;
}

/** `workflow_heads`: per workflow, its latest version and whether it is deleted. */
export interface WorkflowHeadsTable {
  id: string;
  latest_version: number;
  deleted: boolean;
}

/** `shards`: each claimed shard's owner and epoch (the fencing token). */
export interface ShardsTable {
  shard: number;
  owner: string | null;
  epoch: BigIntColumn;
}

/** `executions`: the execution index, one row per execution. */
export interface ExecutionsTable {
  execution_id: string;
  workflow_id: string;
  version: number;
  status: string;
  start_time: BigIntColumn;
  end_time: NullableBigInt;
  shard: number;
  last_seq: number;
  idempotency_key: string | null;
  request_hash: string | null;
  next_timer_at: NullableBigInt;
  /** When the execution's own retention deletes it (migration 7); null: the node's `--retention`. */
  expires_at: ColumnType<string | number | null, number | null | undefined, number | null>;
}

/** The events of one append, `first_seq..last_seq`, as a JSON array in order. */
export interface EventBatchesTable {
  execution_id: string;
  first_seq: number;
  last_seq: number;
  events: unknown;
}

/** `outputs`: node outputs, by execution and ref. */
export interface OutputsTable {
  execution_id: string;
  ref: string;
  /** `{records: [...]}`: an object, since drivers send a bare JS array as a SQL array. */
  body: unknown;
}

/** `cluster_meta`: write-once cluster metadata. */
export interface ClusterMetaTable {
  key: string;
  value: unknown;
}

/** `engine_migrations`: the migrations applied. */
export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: BigIntColumn;
}

/** `members`: registered cluster members and their last heartbeats. */
export interface MembersTable {
  id: string;
  address: string;
  http_address: string;
  roles: string;
  joined_at: BigIntColumn;
  heartbeat_at: BigIntColumn;
  leaving: boolean;
}

/** `cluster_events`: the cluster log, in append order (`id`). */
export interface ClusterEventsTable {
  id: ColumnType<string | number, never, never>;
  at: BigIntColumn;
  type: string;
  node: string;
  details: unknown;
}

/** `api_tokens`: tokens made through the API, by id, with the SHA-256 digest of each (never the token). */
export interface ApiTokensTable {
  id: string;
  digest: string;
  name: string;
  role: string;
  created_at: BigIntColumn;
  created_by: string | null;
  expires_at: ColumnType<string | number | null, number | null | undefined, number | null>;
  revoked_at: NullableBigInt;
}

/** `audit_events`: the audit log, in the order recorded (`id`). */
export interface AuditEventsTable {
  id: ColumnType<string | number, never, never>;
  at: BigIntColumn;
  node: string;
  token_id: string | null;
  role: string | null;
  method: string;
  route: string;
  path: string;
  status: number;
  outcome: string;
  request_id: string | null;
}

/** `schedules`: one row per schedule, its state as columns (see `core/schedule.ts`). */
export interface SchedulesTable {
  id: string;
  workflow_id: string;
  shard: number;
  spec: unknown;
  status: string;
  source: string;
  version: number;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  next_tick_at: NullableBigInt;
  last_tick_at: NullableBigInt;
  last_execution_id: string | null;
  buffered_tick_at: NullableBigInt;
  runs: BigIntColumn;
  /** How many `schedule_fires` rows the schedule has (at most `FIRES_KEPT`). */
  fire_count: number;
}

/** `schedule_fires`: each recorded tick of a schedule, by (schedule id, tick time). */
export interface ScheduleFiresTable {
  schedule_id: string;
  tick_at: BigIntColumn;
  fired_at: BigIntColumn;
  outcome: string;
  reason: string;
  execution_id: string | null;
}

/** The whole database. */
export interface Database {
  engine_migrations: MigrationsTable;
  workflows: WorkflowsTable;
  workflow_heads: WorkflowHeadsTable;
  shards: ShardsTable;
  executions: ExecutionsTable;
  event_batches: EventBatchesTable;
  outputs: OutputsTable;
  cluster_meta: ClusterMetaTable;
  members: MembersTable;
  cluster_events: ClusterEventsTable;
  api_tokens: ApiTokensTable;
  audit_events: AuditEventsTable;
  schedules: SchedulesTable;
  schedule_fires: ScheduleFiresTable;
}
