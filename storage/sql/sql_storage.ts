/**
 * The storage contract over PostgreSQL's SQL, through Kysely: the same code
 * serves a PostgreSQL server (postgres.js) and the embedded PGlite. Appends of
 * several executions (a commit group) go in one statement, one round trip and one
 * commit; each is fenced by its shard's epoch, read `for share` in that statement
 * so that a concurrent claim (an `update` of the shard row) waits for the commit,
 * or commits first and makes the append fail.
 *
 * @module
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { MemberRecord, Role } from "../../core/cluster.ts";
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { ExecutionStatus } from "../../core/state.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import {
  type AppendRequest,
  type AppendResult,
  type ClusterEvent,
  decodeExecutionCursor,
  encodeExecutionCursor,
  type ExecutionQuery,
  type Page,
  type PutWorkflowResult,
  type ShardRecord,
  type Storage,
  type StoredExecution,
  type StoredWorkflow,
} from "../storage.ts";
import type { Database, ExecutionsTable } from "./schema.ts";

type Row<T> = { [K in keyof T]: T[K] extends { __select__: infer S } ? S : T[K] };
type ExecutionRow = Row<ExecutionsTable>;

const num = (v: string | number): number => typeof v === "number" ? v : Number(v);

/** The documents of one statement at most (an append bigger than this is written alone). */
const STATEMENT_BYTES = 8 * 1024 * 1024;

/** An append with its documents encoded once: the events as one JSON array, each output's body. */
interface EncodedAppend {
  request: AppendRequest;
  eventsText: string | null;
  outputTexts: string[];
  /** The documents' length in UTF-16 units (a size estimate for batching). */
  bytes: number;
}

function encodeAppend(request: AppendRequest): EncodedAppend {
  const eventsText = request.events.length > 0 ? JSON.stringify(request.events) : null;
  const outputTexts = (request.outputs ?? []).map((o) => JSON.stringify({ records: o.records }));
  const bytes = (eventsText?.length ?? 0) + outputTexts.reduce((a, t) => a + t.length, 0) + 256;
  return { request, eventsText, outputTexts, bytes };
}
const numOrNull = (v: string | number | null): number | null => v === null ? null : num(v);

function toExecution(r: ExecutionRow): StoredExecution {
  return {
    executionId: r.execution_id,
    workflowId: r.workflow_id,
    version: r.version,
    status: r.status as ExecutionStatus,
    startTime: num(r.start_time as string | number),
    endTime: numOrNull(r.end_time as string | number | null),
    shard: r.shard,
    lastSeq: r.last_seq,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    nextTimerAt: numOrNull(r.next_timer_at as string | number | null),
  };
}

function toWorkflow(
  r: { id: string; version: number; definition: unknown; hash: string; created_at: unknown },
) {
  return {
    id: r.id,
    version: r.version,
    definition: r.definition as WorkflowDefinition,
    hash: r.hash,
    createdAt: num(r.created_at as string | number),
  } satisfies StoredWorkflow;
}

/** Options of `SqlStorage`. */
export interface SqlStorageOptions {
  kind: string;
  /** Turns a driver error into `StorageUnavailable` when the backend is unreachable; otherwise returns it. */
  classify: (err: unknown) => unknown;
  /** Closes the underlying driver. */
  close: () => Promise<void>;
}

/** The storage contract over SQL. */
export class SqlStorage implements Storage {
  readonly kind: string;

  constructor(readonly db: Kysely<Database>, private readonly opts: SqlStorageOptions) {
    this.kind = opts.kind;
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.opts.classify(err);
    }
  }

  putWorkflow(
    def: WorkflowDefinition,
    hash: string,
    expected: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    return this.#run(() =>
      this.db.transaction().execute(async (trx): Promise<PutWorkflowResult> => {
        const head = await trx.selectFrom("workflow_heads").selectAll().where("id", "=", def.id).forUpdate()
          .executeTakeFirst();
        const latest = head?.latest_version ?? 0;
        if (latest !== expected) {
          const current = head && !head.deleted ? await this.#version(trx, def.id, latest) : undefined;
          return { ok: false, code: "version_conflict", current };
        }
        const version = expected + 1;
        // Without a head row there is nothing to lock: a concurrent first put may have stored this version.
        const inserted = await trx.insertInto("workflows").values({
          id: def.id,
          version,
          definition: def,
          hash,
          created_at: now,
        }).onConflict((oc) => oc.columns(["id", "version"]).doNothing()).returning("version")
          .executeTakeFirst();
        if (!inserted) {
          return { ok: false, code: "version_conflict", current: await this.#version(trx, def.id, version) };
        }
        await trx.insertInto("workflow_heads").values({ id: def.id, latest_version: version, deleted: false })
          .onConflict((oc) => oc.column("id").doUpdateSet({ latest_version: version, deleted: false }))
          .execute();
        return { ok: true, workflow: { id: def.id, version, definition: def, hash, createdAt: now } };
      })
    );
  }

  async #version(db: Kysely<Database> | Transaction<Database>, id: string, version: number) {
    const r = await db.selectFrom("workflows").selectAll().where("id", "=", id).where("version", "=", version)
      .executeTakeFirst();
    return r && toWorkflow(r);
  }

  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.#run(async () => {
      if (version !== undefined) return await this.#version(this.db, id, version);
      const r = await this.db.selectFrom("workflow_heads as h")
        .innerJoin(
          "workflows as w",
          (j) => j.onRef("w.id", "=", "h.id").onRef("w.version", "=", "h.latest_version"),
        )
        .select(["w.id", "w.version", "w.definition", "w.hash", "w.created_at"])
        .where("h.id", "=", id).where("h.deleted", "=", false)
        .executeTakeFirst();
      return r && toWorkflow(r);
    });
  }

  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    return this.#run(async () => {
      let q = this.db.selectFrom("workflow_heads as h")
        .innerJoin(
          "workflows as w",
          (j) => j.onRef("w.id", "=", "h.id").onRef("w.version", "=", "h.latest_version"),
        )
        .select(["w.id", "w.version", "w.definition", "w.hash", "w.created_at"])
        .where("h.deleted", "=", false)
        .orderBy("h.id")
        .limit(limit + 1);
      if (cursor != null) q = q.where("h.id", ">", cursor);
      const rows = (await q.execute()).map(toWorkflow);
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? items.at(-1)!.id : null };
    });
  }

  deleteWorkflow(id: string): Promise<boolean> {
    return this.#run(async () => {
      const r = await this.db.updateTable("workflow_heads").set({ deleted: true })
        .where("id", "=", id).where("deleted", "=", false).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  latestVersion(id: string): Promise<number> {
    return this.#run(async () => {
      const r = await this.db.selectFrom("workflow_heads").select("latest_version").where("id", "=", id)
        .executeTakeFirst();
      return r?.latest_version ?? 0;
    });
  }

  append(request: AppendRequest): Promise<AppendResult> {
    return this.appendMany([request]).then((r) => r[0]);
  }

  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return this.#run(async () => {
      // Round k holds the k-th append of each execution in this group: one statement never writes an
      // execution twice, and a later append of an execution sees the earlier one applied.
      const rounds: number[][] = [];
      const seen = new Map<string, number>();
      requests.forEach((req, i) => {
        const k = seen.get(req.executionId) ?? 0;
        seen.set(req.executionId, k + 1);
        (rounds[k] ??= []).push(i);
      });
      const results: AppendResult[] = new Array(requests.length);
      for (const round of rounds) {
        // A statement carries at most STATEMENT_BYTES of documents (an append bigger than that goes alone).
        const encoded = round.map((i) => ({ index: i, ...encodeAppend(requests[i]) }));
        for (let at = 0; at < encoded.length;) {
          let end = at + 1, bytes = encoded[at].bytes;
          while (end < encoded.length && bytes + encoded[end].bytes <= STATEMENT_BYTES) {
            bytes += encoded[end++].bytes;
          }
          const batch = encoded.slice(at, end);
          const written = await this.#appendRound(batch);
          const failed = batch.filter((e) => !written.has(e.request.executionId)).map((e) => e.request);
          const why = failed.length === 0 ? undefined : await this.#whyRefused(failed);
          for (const e of batch) {
            results[e.index] = written.has(e.request.executionId) ? { ok: true } : why!.get(e.request)!;
          }
          at = end;
        }
      }
      return results;
    });
  }

  /**
   * Appends a group of appends to distinct executions in one statement (one round trip, one commit):
   * each append whose shard epoch and expected sequence hold writes its execution row, events and
   * outputs; the others write nothing. The shard rows are read `for share`, so a concurrent claim
   * waits for this statement, or commits first and fences it off. Returns the executions written.
   */
  async #appendRound(encoded: EncodedAppend[]): Promise<Set<string>> {
    const reqs = encoded.map(({ request: req }, i) => ({
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
      require_latest: req.expectedSeq === 0 && req.requireLatestVersion === true,
    }));
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
    const reqsJson = JSON.stringify(reqs);
    const r = await sql<{ execution_id: string }>`
      with req as (
        select * from json_to_recordset(${reqsJson}::text::json) as r(
          i int, execution_id text, shard int, epoch bigint, expected_seq int, last_seq int, workflow_id text,
          version int, status text, start_time bigint, end_time bigint, idempotency_key text,
          request_hash text, next_timer_at bigint, require_latest boolean)
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
          last_seq, idempotency_key, request_hash, next_timer_at)
        select execution_id, workflow_id, version, status, start_time, end_time, shard, last_seq,
          idempotency_key, request_hash, next_timer_at
        from fenced f where expected_seq = 0 and (not require_latest or exists (
          select 1 from workflow_heads h
          where h.id = f.workflow_id and h.latest_version = f.version and not h.deleted))
        order by i
        on conflict (execution_id) do nothing
        returning execution_id
      ),
      updated as (
        update executions as e
        set status = f.status, end_time = f.end_time, last_seq = f.last_seq, next_timer_at = f.next_timer_at
        from fenced f
        where f.expected_seq > 0 and e.execution_id = f.execution_id and e.last_seq = f.expected_seq
          and e.shard = f.shard
        returning e.execution_id
      ),
      written as (select execution_id from created union all select execution_id from updated),
      new_events as (
        insert into event_batches (execution_id, first_seq, last_seq, events)
        select v.execution_id, v.first_seq, v.last_seq, v.events::json
        from unnest(${ev.ids}::text[], ${ev.first}::int[], ${ev.last}::int[], ${ev.texts}::text[])
          as v(execution_id, first_seq, last_seq, events)
        where v.execution_id in (select execution_id from written)
        returning 1
      ),
      new_outputs as (
        insert into outputs (execution_id, ref, body)
        select o.execution_id, o.ref, o.body::json
        from unnest(${out.ids}::text[], ${out.refs}::text[], ${out.texts}::text[]) as o(execution_id, ref, body)
        where o.execution_id in (select execution_id from written)
        on conflict (execution_id, ref) do nothing
        returning 1
      )
      select execution_id from written`.execute(this.db);
    return new Set(r.rows.map((row) => row.execution_id));
  }

  /** Why each of `failed` (appends the statement did not write) was refused, read after the fact. */
  async #whyRefused(failed: AppendRequest[]): Promise<Map<AppendRequest, AppendResult>> {
    const shardRows = await this.db.selectFrom("shards").select(["shard", "epoch"])
      .where("shard", "in", [...new Set(failed.map((r) => r.fence.shard))]).execute();
    const epochs = new Map(shardRows.map((r) => [r.shard, num(r.epoch as string | number)]));
    const rows = await this.db.selectFrom("executions").selectAll()
      .where("execution_id", "in", failed.map((r) => r.executionId)).execute();
    const byId = new Map(rows.map((r) => [r.execution_id, toExecution(r)]));
    const why = new Map<AppendRequest, AppendResult>();
    for (const req of failed) {
      const epoch = epochs.get(req.fence.shard) ?? 0;
      const found = byId.get(req.executionId);
      if (epoch !== req.fence.epoch) {
        why.set(req, {
          ok: false,
          error: {
            code: "stale_epoch",
            message: `shard ${req.fence.shard} is at epoch ${epoch}, the write carried ${req.fence.epoch}`,
            currentEpoch: epoch,
          },
        });
      } else if (req.expectedSeq === 0 && found) {
        why.set(req, {
          ok: false,
          error: {
            code: "execution_exists",
            message: `execution ${req.executionId} exists`,
            existing: found,
          },
        });
      } else if (req.expectedSeq === 0 && req.requireLatestVersion) {
        why.set(req, {
          ok: false,
          error: {
            code: "workflow_changed",
            message:
              `workflow ${req.summary.workflowId}@${req.summary.version} is not the latest live version`,
          },
        });
      } else {
        why.set(req, {
          ok: false,
          error: {
            code: "sequence_conflict",
            message: `expected seq ${req.expectedSeq}, found ${found?.lastSeq ?? "no execution"}`,
            lastSeq: found?.lastSeq ?? 0,
          },
        });
      }
    }
    return why;
  }

  readEvents(executionId: string, afterSeq = 0): Promise<ExecutionEvent[]> {
    return this.#run(async () => {
      const rows = await this.db.selectFrom("event_batches").select("events")
        .where("execution_id", "=", executionId).where("last_seq", ">", afterSeq).orderBy("first_seq")
        .execute();
      const events: ExecutionEvent[] = [];
      for (const r of rows) {
        for (const e of r.events as ExecutionEvent[]) if (e.seq > afterSeq) events.push(e);
      }
      return events;
    });
  }

  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return this.#run(async () => {
      const r = await this.db.selectFrom("executions").selectAll().where("execution_id", "=", executionId)
        .executeTakeFirst();
      return r && toExecution(r);
    });
  }

  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    return this.#run(async () => {
      let q = this.db.selectFrom("executions").selectAll()
        .orderBy("start_time", "desc").orderBy("execution_id", "desc").limit(query.limit + 1);
      if (query.workflowId !== undefined) q = q.where("workflow_id", "=", query.workflowId);
      if (query.status !== undefined) q = q.where("status", "=", query.status);
      const c = query.cursor ? decodeExecutionCursor(query.cursor) : undefined;
      if (c) {
        q = q.where((eb) =>
          eb.or([
            eb("start_time", "<", c.time),
            eb.and([eb("start_time", "=", c.time), eb("execution_id", "<", c.id)]),
          ])
        );
      }
      const rows = (await q.execute()).map(toExecution);
      const items = rows.slice(0, query.limit);
      return { items, next: rows.length > query.limit ? encodeExecutionCursor(items.at(-1)!) : null };
    });
  }

  countExecutions(workflowId: string): Promise<number> {
    return this.#run(async () => {
      const r = await this.db.selectFrom("executions").select((eb) => eb.fn.countAll().as("n"))
        .where("workflow_id", "=", workflowId).executeTakeFirstOrThrow();
      return Number(r.n);
    });
  }

  countRunningByShard(): Promise<Map<number, number>> {
    return this.#run(async () => {
      const rows = await this.db.selectFrom("executions").select((eb) => ["shard", eb.fn.countAll().as("n")])
        .where("status", "=", "running").groupBy("shard").execute();
      return new Map(rows.map((r) => [r.shard, Number(r.n)]));
    });
  }

  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.#run(async () =>
      (await this.db.selectFrom("executions").selectAll().where("status", "=", "running")
        .where("shard", "in", [...shards]).execute()).map(toExecution)
    );
  }

  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    if (shards.length === 0) return Promise.resolve([]);
    return this.#run(async () =>
      (await this.db.selectFrom("executions").selectAll().where("status", "=", "running")
        .where("next_timer_at", "is not", null).where("next_timer_at", "<=", before)
        .where("shard", "in", [...shards]).orderBy("next_timer_at").orderBy("execution_id").limit(limit)
        .execute()).map(toExecution)
    );
  }

  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    return this.#run(() =>
      this.db.transaction().execute(async (trx) => {
        const victims = (await trx.selectFrom("executions").select("execution_id")
          .where("status", "<>", "running").where("end_time", "<", before).orderBy("end_time").limit(limit)
          .execute()).map((r) => r.execution_id);
        if (victims.length === 0) return 0;
        await trx.deleteFrom("event_batches").where("execution_id", "in", victims).execute();
        await trx.deleteFrom("outputs").where("execution_id", "in", victims).execute();
        await trx.deleteFrom("executions").where("execution_id", "in", victims).execute();
        return victims.length;
      })
    );
  }

  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return this.#run(async () => {
      const r = await this.db.selectFrom("outputs").select("body").where("execution_id", "=", executionId)
        .where("ref", "=", ref).executeTakeFirst();
      return r ? (r.body as { records: Json[] }).records : undefined;
    });
  }

  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    return this.#run(async () => {
      if (expectedEpoch === 0) {
        const r = await this.db.insertInto("shards").values({ shard, owner, epoch: 1 })
          .onConflict((oc) => oc.column("shard").doNothing()).returning(["shard", "owner", "epoch"])
          .executeTakeFirst();
        return r && { shard: r.shard, owner: r.owner, epoch: num(r.epoch as string | number) };
      }
      const r = await this.db.updateTable("shards").set({ owner, epoch: expectedEpoch + 1 })
        .where("shard", "=", shard).where("epoch", "=", expectedEpoch)
        .returning(["shard", "owner", "epoch"]).executeTakeFirst();
      return r && { shard: r.shard, owner: r.owner, epoch: num(r.epoch as string | number) };
    });
  }

  getShards(): Promise<ShardRecord[]> {
    return this.#run(async () =>
      (await this.db.selectFrom("shards").selectAll().orderBy("shard").execute()).map((r) => ({
        shard: r.shard,
        owner: r.owner,
        epoch: num(r.epoch as string | number),
      }))
    );
  }

  claimClusterMeta(key: string, value: string): Promise<string> {
    return this.#run(async () => {
      await this.db.insertInto("cluster_meta").values({ key, value: { value } })
        .onConflict((oc) => oc.column("key").doNothing()).execute();
      const r = await this.db.selectFrom("cluster_meta").select("value").where("key", "=", key)
        .executeTakeFirstOrThrow();
      return (r.value as { value: string }).value;
    });
  }

  heartbeat(m: MemberRecord): Promise<void> {
    return this.#run(async () => {
      await this.db.insertInto("members").values({
        id: m.id,
        address: m.address,
        http_address: m.httpAddress,
        roles: m.roles.join(","),
        joined_at: m.joinedAt,
        heartbeat_at: m.heartbeatAt,
        leaving: m.leaving,
      }).onConflict((oc) =>
        oc.column("id").doUpdateSet({
          address: m.address,
          http_address: m.httpAddress,
          roles: m.roles.join(","),
          heartbeat_at: m.heartbeatAt,
          leaving: m.leaving,
        })
      ).execute();
    });
  }

  listMembers(): Promise<MemberRecord[]> {
    return this.#run(async () =>
      (await this.db.selectFrom("members").selectAll().orderBy("id").execute()).map((r) => ({
        id: r.id,
        address: r.address,
        httpAddress: r.http_address,
        roles: r.roles === "" ? [] : r.roles.split(",") as Role[],
        joinedAt: num(r.joined_at as string | number),
        heartbeatAt: num(r.heartbeat_at as string | number),
        leaving: r.leaving,
      }))
    );
  }

  removeMember(id: string): Promise<void> {
    return this.#run(async () => {
      await this.db.deleteFrom("members").where("id", "=", id).execute();
    });
  }

  appendClusterEvent(e: ClusterEvent): Promise<void> {
    return this.#run(async () => {
      await this.db.insertInto("cluster_events").values({
        at: e.at,
        type: e.type,
        node: e.node,
        details: e.details,
      })
        .execute();
    });
  }

  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    return this.#run(async () => {
      let q = this.db.selectFrom("cluster_events").select(["at", "type", "node", "details"]).orderBy(
        "id",
        "desc",
      )
        .limit(limit);
      if (type !== undefined) q = q.where("type", "=", type);
      return (await q.execute()).map((r) => ({
        at: num(r.at as string | number),
        type: r.type,
        node: r.node,
        details: r.details as Record<string, unknown>,
      }));
    });
  }

  trimClusterEvents(keep: number): Promise<void> {
    return this.#run(async () => {
      await sql`delete from cluster_events where id <= (
        select id from cluster_events order by id desc offset ${keep} limit 1)`.execute(this.db);
    });
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.opts.close();
  }
}
