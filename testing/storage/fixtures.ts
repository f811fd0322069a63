/**
 * What the storage conformance cases share: a case's context (its storage, and
 * ids and shards of its own), builders of appends and workflow definitions, and
 * assertions on append results. Imported only by the conformance suite.
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";
import type { ExecutionStatus } from "../../core/state.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import type {
  AppendRequest,
  AppendResult,
  Fence,
  OutputWrite,
  Storage,
  StoredExecution,
  StoredWorkflow,
} from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";

/** A base time (epoch ms) for every case but retention, which uses times far below it. */
export const T = 1_700_000_000_000;

/** What a case gets: the storage, and names and shards of its own. */
export interface Ctx {
  storage: Storage;
  /** An id unique to this case (and this run). */
  id(name: string): string;
  /** A shard number unique to this case: `k` in 0..9. */
  shard(k: number): number;
}

/** An execution of a case: its id, workflow, fence, and start time (default `T`). */
export interface ExecSpec {
  id: string;
  workflowId: string;
  fence: Fence;
  startTime?: number;
}

/** What `appendOf` may set besides the events. */
export interface AppendOptions {
  status?: ExecutionStatus;
  endTime?: number | null;
  /** The summary's `expiresAt` (its workflow's own retention); absent: none in the summary. */
  expiresAt?: number | null;
  outputs?: OutputWrite[];
  nextTimerAt?: number | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  fence?: Fence;
  /** A tag in the appended events' node ids, to tell racing writers apart. */
  tag?: string;
}

/** The `ExecutionStarted` event of an execution (seq 1). */
function startedEvent(spec: ExecSpec): ExecutionEvent {
  return {
    v: 1,
    seq: 1,
    at: spec.startTime ?? T,
    type: "ExecutionStarted",
    executionId: spec.id,
    workflowId: spec.workflowId,
    version: 1,
    input: { n: 1, nested: { list: [1, "two", null] } },
    timeoutAt: null,
    idempotencyKey: null,
  };
}

/** A `NodeScheduled` event. */
function scheduledEvent(seq: number, nodeId: string, at: number): ExecutionEvent {
  return { v: 1, seq, at, type: "NodeScheduled", nodeId };
}

/** Events `expectedSeq + 1 .. expectedSeq + count` (an `ExecutionStarted` first on creation). */
function eventsAfter(spec: ExecSpec, expectedSeq: number, count: number, tag = "n"): ExecutionEvent[] {
  return Array.from({ length: count }, (_, k) => {
    const seq = expectedSeq + k + 1;
    return seq === 1 ? startedEvent(spec) : scheduledEvent(seq, `${tag}${seq}`, (spec.startTime ?? T) + seq);
  });
}

/** An append of `count` events after `expectedSeq` (0 creates). */
export function appendOf(
  spec: ExecSpec,
  expectedSeq: number,
  count: number,
  o: AppendOptions = {},
): AppendRequest {
  const status = o.status ?? "running";
  const request: AppendRequest = {
    executionId: spec.id,
    expectedSeq,
    fence: o.fence ?? spec.fence,
    events: eventsAfter(spec, expectedSeq, count, o.tag),
    summary: {
      executionId: spec.id,
      workflowId: spec.workflowId,
      version: 1,
      status,
      startTime: spec.startTime ?? T,
      endTime: o.endTime !== undefined
        ? o.endTime
        : status === "running"
        ? null
        : (spec.startTime ?? T) + 100,
    },
  };
  if (o.expiresAt !== undefined) request.summary.expiresAt = o.expiresAt;
  if (o.outputs !== undefined) request.outputs = o.outputs;
  if (o.nextTimerAt !== undefined) request.nextTimerAt = o.nextTimerAt;
  if (o.idempotencyKey !== undefined) request.idempotencyKey = o.idempotencyKey;
  if (o.requestHash !== undefined) request.requestHash = o.requestHash;
  return request;
}

/** A workflow definition with nested metadata (to check its JSON round trip). */
export function definition(id: string, name = "a workflow"): WorkflowDefinition {
  return {
    id,
    name,
    tags: ["conformance"],
    nodes: [],
    edges: [],
    metadata: { createdAt: "2024-01-01T00:00:00Z", nested: { list: [1, "x", null, { deep: true }] } },
  };
}

/** Asserts that an append succeeded. */
export function assertOk(result: AppendResult, what = "append"): void {
  assert(result.ok, `${what} should succeed, got ${JSON.stringify(result)}`);
}

/** The error of a refused append (asserting it was refused). */
export function errorOf(result: AppendResult) {
  assert(!result.ok, `expected a refusal, got ${JSON.stringify(result)}`);
  return result.error;
}

/** Asserts a `sequence_conflict` carrying `lastSeq`. */
export function assertSequenceConflict(result: AppendResult, lastSeq: number): void {
  const error = errorOf(result);
  assertStrictEquals(error.code, "sequence_conflict");
  if (error.code === "sequence_conflict") assertStrictEquals(error.lastSeq, lastSeq);
}

/** Asserts a `stale_epoch` carrying `currentEpoch`. */
export function assertStaleEpoch(result: AppendResult, currentEpoch: number): void {
  const error = errorOf(result);
  assertStrictEquals(error.code, "stale_epoch");
  if (error.code === "stale_epoch") assertStrictEquals(error.currentEpoch, currentEpoch);
}

/** The existing record of an `execution_exists` refusal (asserting it is one). */
export function existingOf(result: AppendResult): StoredExecution {
  const error = errorOf(result);
  assertStrictEquals(error.code, "execution_exists");
  if (error.code !== "execution_exists") throw new Error("unreachable");
  return error.existing;
}

/** Claims a shard never claimed before: epoch 1. */
export async function claimFresh(storage: Storage, shard: number, owner = "node-1"): Promise<Fence> {
  const record = await storage.claimShard(shard, owner, 0);
  assertEquals(record, { shard, owner, epoch: 1 });
  return { shard, epoch: 1 };
}

/** Stores a workflow version that must be accepted. */
export async function putOk(s: Storage, def: WorkflowDefinition, expected: number): Promise<StoredWorkflow> {
  const r = await s.putWorkflow(def, `hash-${def.id}-${expected + 1}`, expected, T + expected);
  assert(r.ok, `putWorkflow ${def.id}@${expected} should succeed, got ${JSON.stringify(r)}`);
  return r.workflow;
}

/** Every item of a listing, page by page; asserts page sizes and that the walk ends. */
export async function walk<T>(
  page: (cursor: string | null) => Promise<{ items: T[]; next: string | null }>,
  limit: number,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0;; pages++) {
    assert(pages < 10_000, "pagination does not end");
    const p: { items: T[]; next: string | null } = await page(cursor);
    assert(p.items.length <= limit, `a page of ${p.items.length} items exceeds the limit ${limit}`);
    all.push(...p.items);
    if (p.next === null) return all;
    assert(p.items.length > 0, "a page with a next cursor has items");
    assertStrictEquals(typeof p.next, "string");
    cursor = p.next;
  }
}

/** The ids of executions, in order. */
export const ids = (executions: readonly StoredExecution[]) => executions.map((e) => e.executionId);

/** `Promise.all` that lets every racer finish before failing (nothing left in flight at cleanup). */
export async function race<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** One conformance case: its title (the test's name after the backend's) and its body. */
export interface ConformanceCase {
  title: string;
  run(c: Ctx): Promise<void>;
}
