/**
 * A fault-injecting view of the shared storage, one per node incarnation. Every
 * call pays the cost model (the node's CPU, then a network leg to storage, the
 * operation, a leg back) in virtual time, and the node's storage faults apply:
 * slow calls, failing calls (`StorageUnavailable`, before or after the operation
 * took effect: a lost acknowledgement), and a node-to-storage partition (calls
 * time out). A crashed incarnation's calls already on their way still land (a
 * zombie write), but it never hears back, and it makes no new ones.
 *
 * The wrapper is also the simulator's witness of storage: it tracks each shard's
 * current epoch from the claims it sees, and reports every append (the fencing
 * invariant checks its fence; the schedules', its tick), every claim, and every
 * owner's write of a schedule's fires and state.
 *
 * @module
 */
import type { MemberRecord } from "../core/cluster.ts";
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { Schedule, ScheduleFire } from "../core/schedule.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { MemoryStorage } from "../storage/memory.ts";
import {
  type AppendRequest,
  type AppendResult,
  type AuditEvent,
  type ClusterEvent,
  type CreateApiTokenResult,
  type ExecutionQuery,
  type Fence,
  type NewApiToken,
  type Page,
  type PutWorkflowResult,
  type ScheduleDeleteResult,
  type ScheduleQuery,
  type ScheduleStateWrite,
  type ScheduleWriteResult,
  type ShardRecord,
  type Storage,
  StorageUnavailable,
  type StoredApiToken,
  type StoredExecution,
  type StoredWorkflow,
} from "../storage/storage.ts";
import type { WorkflowVersionInfo } from "../storage/workflow_versions.ts";
import type { Random } from "./random.ts";
import type { Scheduler } from "./scheduler.ts";

/** The storage faults of one node, changed by the fault injector at any time. */
export interface StorageFaults {
  /** Extra virtual latency of every call, ms. */
  slowMs: number;
  /** Probability that a call fails with `StorageUnavailable`. */
  failRate: number;
  /** The node cannot reach storage: calls time out. */
  partitioned: boolean;
}

/** No faults. */
export const NO_STORAGE_FAULTS: Readonly<StorageFaults> = Object.freeze({
  slowMs: 0,
  failRate: 0,
  partitioned: false,
});

/** The cost model, in virtual milliseconds. */
export interface CostModel {
  /** Storage round trip: uniform in [min, max]. */
  storageLatencyMs: [number, number];
  /** CPU a node spends per storage call (serialised per node). */
  cpuPerStorageCallMs: number;
  /** CPU a node spends per node attempt (serialised per node). */
  cpuPerAttemptMs: number;
  /** Network delay of a message between nodes or to a client: uniform in [min, max]. */
  networkLatencyMs: [number, number];
  /** How long a call to unreachable storage takes to fail. */
  storageTimeoutMs: number;
}

/** The default cost model: 1–4 ms storage, 0.2 ms CPU a call, 1 ms CPU an attempt, 0.5–2 ms network. */
export const DEFAULT_COST: Readonly<CostModel> = Object.freeze({
  storageLatencyMs: [1, 4] as [number, number],
  cpuPerStorageCallMs: 0.2,
  cpuPerAttemptMs: 1,
  networkLatencyMs: [0.5, 2] as [number, number],
  storageTimeoutMs: 1_000,
});

/** What the wrappers share: the clock, the cost model, the witness hooks. */
export interface StorageWorld {
  scheduler: Scheduler;
  base: MemoryStorage;
  cost: CostModel;
  faults(node: string): StorageFaults;
  /** Reserves `ms` of `node`'s CPU; returns the virtual delay until it is done. */
  cpu(node: string, ms: number): number;
  /** Each shard's epoch as storage holds it (kept from the claims that succeeded). */
  epochs: Map<number, number>;
  trace(line: string): void;
  /** An append landed (accepted or refused); `currentEpoch` is the shard's epoch at that instant. */
  onAppend(node: string, req: AppendRequest, result: AppendResult, currentEpoch: number): void;
  onClaim(
    node: string,
    shard: number,
    owner: string,
    expected: number,
    result: ShardRecord | undefined,
  ): void;
  /** An owner's write of a schedule's fires and state landed; `currentEpoch` as in `onAppend`. */
  onScheduleWrite(
    node: string,
    write: ScheduleStateWrite,
    result: ScheduleWriteResult,
    currentEpoch: number,
  ): void;
}

const never = <T>() => new Promise<T>(() => {});

/** The storage one node incarnation sees. */
export class FaultyStorage implements Storage {
  readonly kind = "memory";
  #dead = false;

  constructor(
    readonly node: string,
    private readonly world: StorageWorld,
    private readonly rng: Random,
  ) {}

  /** The incarnation crashed: no new calls, no answers. */
  kill(): void {
    this.#dead = true;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.world.scheduler.after(ms, resolve, this.node));
  }

  async #call<T>(op: string, apply: () => Promise<T>, mutates = true): Promise<T> {
    if (this.#dead) return never();
    const w = this.world;
    const f = w.faults(this.node);
    const [lo, hi] = w.cost.storageLatencyMs;
    const rtt = lo + this.rng.next() * (hi - lo) + f.slowMs;
    await this.#sleep(w.cpu(this.node, w.cost.cpuPerStorageCallMs) + rtt / 2);
    if (f.partitioned || w.faults(this.node).partitioned) {
      await this.#sleep(w.cost.storageTimeoutMs);
      if (this.#dead) return never();
      w.trace(`${this.node} storage ${op} unreachable`);
      throw new StorageUnavailable(`simulated: ${this.node} cannot reach storage`);
    }
    if (f.failRate > 0 && this.rng.chance(f.failRate)) {
      if (this.#dead) return never();
      w.trace(`${this.node} storage ${op} failed`);
      throw new StorageUnavailable(`simulated: storage refused ${op}`);
    }
    const result = apply();
    // A lost acknowledgement: the write took effect, the caller hears a failure.
    const ackLost = mutates && f.failRate > 0 && this.rng.chance(f.failRate / 2);
    await this.#sleep(rtt / 2);
    if (this.#dead) return never();
    if (ackLost) {
      w.trace(`${this.node} storage ${op} ack-lost`);
      throw new StorageUnavailable(`simulated: the answer to ${op} was lost`);
    }
    return await result;
  }

  #applyAppends(requests: AppendRequest[]): Promise<AppendResult[]> {
    const w = this.world;
    const current = requests.map((r) => w.epochs.get(r.fence.shard) ?? 0);
    const p = w.base.appendMany(requests);
    // MemoryStorage decided synchronously; report in request order once the value is out.
    return p.then((results) => {
      results.forEach((r, i) => w.onAppend(this.node, requests[i], r, current[i]));
      return results;
    });
  }

  putWorkflow(
    d: WorkflowDefinition,
    hash: string,
    expected: number,
    now: number,
  ): Promise<PutWorkflowResult> {
    return this.#call("putWorkflow", () => this.world.base.putWorkflow(d, hash, expected, now));
  }
  getWorkflow(id: string, version?: number): Promise<StoredWorkflow | undefined> {
    return this.#call("getWorkflow", () => this.world.base.getWorkflow(id, version), false);
  }
  listWorkflows(limit: number, cursor?: string | null): Promise<Page<StoredWorkflow>> {
    return this.#call("listWorkflows", () => this.world.base.listWorkflows(limit, cursor), false);
  }
  deleteWorkflow(id: string, _now: number): Promise<boolean> {
    return this.#call("deleteWorkflow", () => this.world.base.deleteWorkflow(id));
  }
  latestVersion(id: string): Promise<number> {
    return this.#call("latestVersion", () => this.world.base.latestVersion(id), false);
  }
  listWorkflowVersions(
    id: string,
    limit: number,
    cursor?: string | null,
  ): Promise<Page<WorkflowVersionInfo>> {
    return this.#call(
      "listWorkflowVersions",
      () => this.world.base.listWorkflowVersions(id, limit, cursor),
      false,
    );
  }
  async append(request: AppendRequest): Promise<AppendResult> {
    return (await this.appendMany([request]))[0];
  }
  appendMany(requests: AppendRequest[]): Promise<AppendResult[]> {
    return this.#call("appendMany", () => this.#applyAppends(requests));
  }
  readEvents(executionId: string, afterSeq?: number): Promise<ExecutionEvent[]> {
    return this.#call("readEvents", () => this.world.base.readEvents(executionId, afterSeq), false);
  }
  getExecution(executionId: string): Promise<StoredExecution | undefined> {
    return this.#call("getExecution", () => this.world.base.getExecution(executionId), false);
  }
  listExecutions(query: ExecutionQuery): Promise<Page<StoredExecution>> {
    return this.#call("listExecutions", () => this.world.base.listExecutions(query), false);
  }
  countExecutions(workflowId: string): Promise<number> {
    return this.#call("countExecutions", () => this.world.base.countExecutions(workflowId), false);
  }
  countRunningByShard(): Promise<Map<number, number>> {
    return this.#call("countRunningByShard", () => this.world.base.countRunningByShard(), false);
  }
  listRunning(shards: readonly number[]): Promise<StoredExecution[]> {
    return this.#call("listRunning", () => this.world.base.listRunning(shards), false);
  }
  listDueTimers(shards: readonly number[], before: number, limit: number): Promise<StoredExecution[]> {
    return this.#call("listDueTimers", () => this.world.base.listDueTimers(shards, before, limit), false);
  }
  deleteFinishedBefore(before: number, limit: number): Promise<number> {
    return this.#call("deleteFinishedBefore", () => this.world.base.deleteFinishedBefore(before, limit));
  }
  deleteExpired(now: number, limit: number): Promise<number> {
    return this.#call("deleteExpired", () => this.world.base.deleteExpired(now, limit));
  }
  getOutput(executionId: string, ref: string): Promise<Json[] | undefined> {
    return this.#call("getOutput", () => this.world.base.getOutput(executionId, ref), false);
  }
  claimShard(shard: number, owner: string, expectedEpoch: number): Promise<ShardRecord | undefined> {
    return this.#call("claimShard", () => {
      const p = this.world.base.claimShard(shard, owner, expectedEpoch);
      return p.then((r) => {
        if (r) this.world.epochs.set(shard, r.epoch);
        this.world.onClaim(this.node, shard, owner, expectedEpoch, r);
        return r;
      });
    });
  }
  getShards(): Promise<ShardRecord[]> {
    return this.#call("getShards", () => this.world.base.getShards(), false);
  }
  claimClusterMeta(key: string, value: string): Promise<string> {
    return this.#call("claimClusterMeta", () => this.world.base.claimClusterMeta(key, value));
  }
  heartbeat(member: MemberRecord): Promise<void> {
    return this.#call("heartbeat", () => this.world.base.heartbeat(member));
  }
  listMembers(): Promise<MemberRecord[]> {
    return this.#call("listMembers", () => this.world.base.listMembers(), false);
  }
  removeMember(id: string): Promise<void> {
    return this.#call("removeMember", () => this.world.base.removeMember(id));
  }
  appendClusterEvent(event: ClusterEvent): Promise<void> {
    return this.#call("appendClusterEvent", () => this.world.base.appendClusterEvent(event));
  }
  listClusterEvents(limit: number, type?: string): Promise<ClusterEvent[]> {
    return this.#call("listClusterEvents", () => this.world.base.listClusterEvents(limit, type), false);
  }
  trimClusterEvents(keep: number): Promise<void> {
    return this.#call("trimClusterEvents", () => this.world.base.trimClusterEvents(keep));
  }
  createApiToken(token: NewApiToken, maxLive: number, now: number): Promise<CreateApiTokenResult> {
    return this.#call("createApiToken", () => this.world.base.createApiToken(token, maxLive, now));
  }
  listApiTokens(limit: number): Promise<StoredApiToken[]> {
    return this.#call("listApiTokens", () => this.world.base.listApiTokens(limit), false);
  }
  findApiToken(digest: string): Promise<StoredApiToken | undefined> {
    return this.#call("findApiToken", () => this.world.base.findApiToken(digest), false);
  }
  revokeApiToken(id: string, now: number): Promise<StoredApiToken | undefined> {
    return this.#call("revokeApiToken", () => this.world.base.revokeApiToken(id, now));
  }
  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.#call("appendAudit", () => this.world.base.appendAudit(events));
  }
  listAudit(limit: number, cursor?: string | null): Promise<Page<AuditEvent>> {
    return this.#call("listAudit", () => this.world.base.listAudit(limit, cursor), false);
  }
  trimAudit(keep: number): Promise<void> {
    return this.#call("trimAudit", () => this.world.base.trimAudit(keep));
  }
  createSchedule(schedule: Schedule, fence: Fence): Promise<ScheduleWriteResult> {
    return this.#call("createSchedule", () => this.world.base.createSchedule(schedule, fence));
  }
  updateSchedule(schedule: Schedule, expectedVersion: number, fence: Fence): Promise<ScheduleWriteResult> {
    return this.#call(
      "updateSchedule",
      () => this.world.base.updateSchedule(schedule, expectedVersion, fence),
    );
  }
  getSchedule(id: string): Promise<Schedule | undefined> {
    return this.#call("getSchedule", () => this.world.base.getSchedule(id), false);
  }
  listSchedules(query: ScheduleQuery): Promise<Page<Schedule>> {
    return this.#call("listSchedules", () => this.world.base.listSchedules(query), false);
  }
  deleteSchedule(id: string, fence: Fence): Promise<ScheduleDeleteResult> {
    return this.#call("deleteSchedule", () => this.world.base.deleteSchedule(id, fence));
  }
  recordScheduleState(write: ScheduleStateWrite): Promise<ScheduleWriteResult> {
    return this.#call("recordScheduleState", () => {
      const w = this.world;
      const current = w.epochs.get(write.fence.shard) ?? 0;
      return w.base.recordScheduleState(write).then((r) => {
        w.onScheduleWrite(this.node, write, r, current);
        return r;
      });
    });
  }
  listDueSchedules(shards: readonly number[], before: number, limit: number): Promise<Schedule[]> {
    return this.#call(
      "listDueSchedules",
      () => this.world.base.listDueSchedules(shards, before, limit),
      false,
    );
  }
  listScheduleFires(scheduleId: string, limit: number): Promise<ScheduleFire[]> {
    return this.#call("listScheduleFires", () => this.world.base.listScheduleFires(scheduleId, limit), false);
  }
  countActiveSchedules(): Promise<number> {
    return this.#call("countActiveSchedules", () => this.world.base.countActiveSchedules(), false);
  }
  async ping(): Promise<boolean> {
    try {
      return await this.#call("ping", () => this.world.base.ping(), false);
    } catch {
      return false;
    }
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
