/**
 * Memory storage: the full storage contract (sequence checks, fencing,
 * idempotency) held in process memory. For tests, the simulator, and
 * `--storage memory`. Nothing survives the process.
 *
 * @module
 */
import type { MemberRecord } from "../core/cluster.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { AuditEvent, CreateApiTokenResult, NewApiToken, StoredApiToken } from "./access_records.ts";
import type { Schedule, ScheduleFire } from "../core/schedule.ts";
import { MemoryApiTokens, MemoryAuditLog } from "./memory_access.ts";
import { MemorySchedules } from "./memory_schedules.ts";
import { executionExists, sequenceConflict, staleEpoch, workflowChanged } from "./refusals.ts";
import type {
  ScheduleDeleteResult,
  ScheduleQuery,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "./schedule_records.ts";
import { assertFireAppend } from "./schedule_rules.ts";
import {
  decodeVersionCursor,
  encodeVersionCursor,
  versionInfoOf,
  type WorkflowVersionInfo,
} from "./workflow_versions.ts";
import {
  type AppendRequest,
  type AppendResult,
  type ClusterEvent,
  decodeExecutionCursor,
  encodeExecutionCursor,
  type ExecutionQuery,
  type Fence,
  type Page,
  type PutWorkflowResult,
  type ShardRecord,
  type Storage,
  type StoredExecution,
  type StoredWorkflow,
} from "./storage.ts";

interface ExecutionRow {
  record: StoredExecution;
  events: ExecutionEvent[];
  outputs: Map<string, Json[]>;
}

/** Newest first: by start time, then execution id, both descending. */
function newerFirst(a: StoredExecution, b: StoredExecution): number {
  return b.startTime - a.startTime ||
    (a.executionId < b.executionId ? 1 : a.executionId > b.executionId ? -1 : 0);
}

/**
 * Storage in memory.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./memory.ts";
 * const storage = new MemoryStorage();
 * const shard = await storage.claimShard(0, "node-1", 0);
 * if (shard?.epoch !== 1) throw new Error("first claim gives epoch 1");
 * ```
 */
export class MemoryStorage implements Storage {
  readonly kind = "memory";
  readonly #fencing: boolean;
  #workflows = new Map<string, { versions: StoredWorkflow[]; deleted: boolean }>();
  #executions = new Map<string, ExecutionRow>();
  #shards = new Map<number, ShardRecord>();
  #members = new Map<string, MemberRecord>();
  #clusterEvents: ClusterEvent[] = [];
  #meta = new Map<string, string>();
  readonly #tokens = new MemoryApiTokens();
  readonly #audit = new MemoryAuditLog();
  readonly #schedules: MemorySchedules;

  /**
   * @param options.unsafeDisableFencing TEST-ONLY: accept appends whatever epoch they carry. Exists so the
   * simulator's self-test can prove its invariants catch a broken fence; never set it anywhere else.
   */
  constructor(options: { unsafeDisableFencing?: boolean } = {}) {
    this.#fencing = !options.unsafeDisableFencing;
    this.#schedules = new MemorySchedules((shard) => this.#shards.get(shard)?.epoch ?? 0, this.#fencing);
  }

  putWorkflow(
    definition: WorkflowDefinition,
    hash: string,
    expectedVersion: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    const entry = this.#workflows.get(definition.id) ?? { versions: [], deleted: false };
    const latest = entry.versions.at(-1);
    if ((latest?.version ?? 0) !== expectedVersion) {
      return Promise.resolve({
        ok: false,
        code: "version_conflict",
        current: entry.deleted ? undefined : latest,
      });
    }
    const workflow: StoredWorkflow = {
      id: definition.id,
      version: expectedVersion + 1,
      definition,
      hash,
      createdAt: now,
    };
    entry.versions.push(workflow);
    entry.deleted = false;
    this.#workflows.set(definition.id, entry);
    return Promise.resolve({ ok: true, workflow });
  }

  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    const entry = this.#workflows.get(id);
    if (!entry) return Promise.resolve(undefined);
    if (version === undefined) return Promise.resolve(entry.deleted ? undefined : entry.versions.at(-1));
    return Promise.resolve(entry.versions[version - 1]);
  }

  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    const ids = [...this.#workflows.entries()]
      .filter(([id, e]) => !e.deleted && (cursor == null || id > cursor))
      .map(([id]) => id)
      .sort();
    const items = ids.slice(0, limit).map((id) => this.#workflows.get(id)!.versions.at(-1)!);
    const next = ids.length > limit ? items.at(-1)!.id : null;
    return Promise.resolve({ items, next });
  }

  deleteWorkflow(id: string): Promise<boolean> {
    const entry = this.#workflows.get(id);
    if (!entry || entry.deleted) return Promise.resolve(false);
    entry.deleted = true;
    return Promise.resolve(true);
  }

  latestVersion(id: string): Promise<number> {
    return Promise.resolve(this.#workflows.get(id)?.versions.length ?? 0);
  }

  listWorkflowVersions(
    id: string,
    limit: number,
    cursor?: string | null,
  ): Promise<Page<WorkflowVersionInfo>> {
    try {
      const versions = this.#workflows.get(id)?.versions ?? [];
      const below = cursor == null ? versions.length + 1 : decodeVersionCursor(cursor);
      const items: WorkflowVersionInfo[] = [];
      for (let v = Math.min(below - 1, versions.length); v >= 1 && items.length < limit; v--) {
        items.push(versionInfoOf(versions[v - 1]));
      }
      const last = items.at(-1)?.version ?? 0;
      return Promise.resolve({
        items,
        next: last > 1 && items.length === limit ? encodeVersionCursor(last) : null,
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #appendOne(req: AppendRequest): AppendResult {
    assertFireAppend(req);
    const shard = this.#shards.get(req.fence.shard);
    const epoch = shard?.epoch ?? 0;
    if (this.#fencing && epoch !== req.fence.epoch) return staleEpoch(req, epoch);
    const row = this.#executions.get(req.executionId);
    if (req.expectedSeq === 0 && row) return executionExists(req, row.record);
    const fireRefused = req.scheduleFire && this.#schedules.fireRefusal(req);
    if (fireRefused) return fireRefused;
    if (req.expectedSeq === 0 && req.requireLatestVersion) {
      const wf = this.#workflows.get(req.summary.workflowId);
      if (!wf || wf.deleted || wf.versions.length !== req.summary.version) return workflowChanged(req);
    }
    const lastSeq = row?.record.lastSeq ?? 0;
    if (lastSeq !== req.expectedSeq) return sequenceConflict(req, lastSeq);
    const target: ExecutionRow = row ??
      { record: undefined as unknown as StoredExecution, events: [], outputs: new Map<string, Json[]>() };
    for (const e of req.events) {
      if (e.seq !== target.events.length + 1) throw new Error(`assertion: event seq ${e.seq} out of order`);
      target.events.push(e);
    }
    for (const o of req.outputs ?? []) target.outputs.set(o.ref, o.records);
    target.record = {
      ...req.summary,
      shard: req.fence.shard,
      lastSeq: target.events.length,
      idempotencyKey: row ? row.record.idempotencyKey : req.idempotencyKey ?? null,
      requestHash: row ? row.record.requestHash : req.requestHash ?? null,
      nextTimerAt: req.summary.status === "running" ? req.nextTimerAt ?? null : null,
      expiresAt: req.summary.status === "running" ? null : req.summary.expiresAt ?? null,
    };
    if (!row) this.#executions.set(req.executionId, target);
    if (req.scheduleFire) this.#schedules.applyFire(req.scheduleFire);
    return { ok: true };
  }

  append(request: AppendRequest): Promise<AppendResult> {
    return Promise.resolve(this.#appendOne(request));
  }

  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    return Promise.resolve(requests.map((r) => this.#appendOne(r)));
  }

  readEvents(executionId: string, afterSeq = 0): Promise<ExecutionEvent[]> {
    return Promise.resolve(this.#executions.get(executionId)?.events.slice(afterSeq) ?? []);
  }

  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return Promise.resolve(this.#executions.get(executionId)?.record);
  }

  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    const c = query.cursor ? decodeExecutionCursor(query.cursor) : undefined;
    const all = [...this.#executions.values()]
      .map((r) => r.record)
      .filter((r) =>
        (query.workflowId === undefined || r.workflowId === query.workflowId) &&
        (query.status === undefined || r.status === query.status) &&
        (query.from === undefined || r.startTime >= query.from) &&
        (query.to === undefined || r.startTime <= query.to) &&
        (!query.idPrefix || r.executionId.startsWith(query.idPrefix)) &&
        (c === undefined || r.startTime < c.time || (r.startTime === c.time && r.executionId < c.id))
      )
      .sort(newerFirst);
    const items = all.slice(0, query.limit);
    return Promise.resolve({
      items,
      next: all.length > query.limit ? encodeExecutionCursor(items.at(-1)!) : null,
    });
  }

  countExecutions(workflowId: string): Promise<number> {
    let n = 0;
    for (const r of this.#executions.values()) if (r.record.workflowId === workflowId) n++;
    return Promise.resolve(n);
  }

  countRunningByShard(): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for (const { record: r } of this.#executions.values()) {
      if (r.status === "running") counts.set(r.shard, (counts.get(r.shard) ?? 0) + 1);
    }
    return Promise.resolve(counts);
  }

  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    const wanted = new Set(shards);
    return Promise.resolve(
      [...this.#executions.values()].map((r) => r.record).filter((r) =>
        r.status === "running" && wanted.has(r.shard)
      ),
    );
  }

  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    const wanted = new Set(shards);
    return Promise.resolve(
      [...this.#executions.values()].map((r) => r.record)
        .filter((r) =>
          r.status === "running" && r.nextTimerAt !== null && r.nextTimerAt <= before && wanted.has(r.shard)
        )
        .sort((a, b) => a.nextTimerAt! - b.nextTimerAt! || (a.executionId < b.executionId ? -1 : 1))
        .slice(0, limit),
    );
  }

  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    let deleted = 0;
    for (const [id, row] of this.#executions) {
      if (deleted >= limit) break;
      const r = row.record;
      if (
        r.status !== "running" && r.endTime !== null && r.endTime < before && (r.expiresAt ?? null) === null
      ) {
        this.#executions.delete(id);
        deleted++;
      }
    }
    return Promise.resolve(deleted);
  }

  deleteExpired(now: number, limit: number): Promise<number> {
    const expired = [...this.#executions.values()].map((r) => r.record)
      .filter((r) => typeof r.expiresAt === "number" && r.expiresAt < now && r.status !== "running")
      .sort((a, b) => a.expiresAt! - b.expiresAt! || (a.executionId < b.executionId ? -1 : 1))
      .slice(0, limit);
    for (const r of expired) this.#executions.delete(r.executionId);
    return Promise.resolve(expired.length);
  }

  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return Promise.resolve(this.#executions.get(executionId)?.outputs.get(ref));
  }

  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    const current = this.#shards.get(shard) ?? { shard, owner: null, epoch: 0 };
    if (current.epoch !== expectedEpoch) return Promise.resolve(undefined);
    const next = { shard, owner, epoch: current.epoch + 1 };
    this.#shards.set(shard, next);
    return Promise.resolve(next);
  }

  getShards(): Promise<ShardRecord[]> {
    return Promise.resolve([...this.#shards.values()].sort((a, b) => a.shard - b.shard));
  }

  claimClusterMeta(key: string, value: string): Promise<string> {
    if (!this.#meta.has(key)) this.#meta.set(key, value);
    return Promise.resolve(this.#meta.get(key)!);
  }

  heartbeat(member: MemberRecord): Promise<void> {
    const known = this.#members.get(member.id);
    this.#members.set(member.id, { ...member, joinedAt: known?.joinedAt ?? member.joinedAt });
    return Promise.resolve();
  }

  listMembers(): Promise<MemberRecord[]> {
    return Promise.resolve([...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
  }

  removeMember(id: string): Promise<void> {
    this.#members.delete(id);
    return Promise.resolve();
  }

  appendClusterEvent(event: ClusterEvent): Promise<void> {
    this.#clusterEvents.push(event);
    return Promise.resolve();
  }

  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    const out: ClusterEvent[] = [];
    for (let i = this.#clusterEvents.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#clusterEvents[i];
      if (type === undefined || e.type === type) out.push(e);
    }
    return Promise.resolve(out);
  }

  trimClusterEvents(keep: number): Promise<void> {
    if (this.#clusterEvents.length > keep) {
      this.#clusterEvents = keep > 0 ? this.#clusterEvents.slice(-keep) : []; // slice(-0) would keep all
    }
    return Promise.resolve();
  }

  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    return this.#tokens.createApiToken(token, maxLive, now);
  }

  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    return this.#tokens.listApiTokens(limit);
  }

  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    return this.#tokens.findApiToken(digest);
  }

  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    return this.#tokens.revokeApiToken(id, now);
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.#audit.appendAudit(events);
  }

  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    return this.#audit.listAudit(limit, cursor);
  }

  trimAudit(keep: number): Promise<void> {
    return this.#audit.trimAudit(keep);
  }

  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    return this.#schedules.createSchedule(schedule, fence);
  }

  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    return this.#schedules.updateSchedule(schedule, expectedVersion, fence);
  }

  getSchedule(id: string): Promise<Schedule | undefined> {
    return this.#schedules.getSchedule(id);
  }

  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    return this.#schedules.listSchedules(query);
  }

  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    return this.#schedules.deleteSchedule(id, fence);
  }

  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    return this.#schedules.recordScheduleState(write);
  }

  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    return this.#schedules.listDueSchedules(shards, before, limit);
  }

  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return this.#schedules.listScheduleFires(scheduleId, limit);
  }

  countActiveSchedules(): Promise<number> {
    return this.#schedules.countActiveSchedules();
  }

  ping(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
