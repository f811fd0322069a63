/**
 * The storage conformance suite: one set of cases every `Storage` backend must
 * pass (memory, PostgreSQL, embedded PGlite). Each case asks `open` for a
 * storage, and may share it with other cases: every case uses its own ids,
 * workflow ids and shards, and retention works on times no other case uses.
 * Imported only by `*_test.ts` files.
 *
 * @module
 */
import type { ExecutionEvent } from "../core/events.ts";
import type { Json } from "../core/json.ts";
import type { ExecutionStatus } from "../core/state.ts";
import { assert, assertEquals, assertStrictEquals } from "./assert.ts";
import type { WorkflowDefinition } from "../core/workflow.ts";
import type { MemberRecord } from "../core/cluster.ts";
import type {
  AppendRequest,
  AppendResult,
  ClusterEvent,
  Fence,
  OutputWrite,
  Storage,
  StoredExecution,
  StoredWorkflow,
} from "../storage/storage.ts";

/** A storage opened for one case, and how to dispose of it. */
export interface OpenedStorage {
  storage: Storage;
  cleanup(): Promise<void>;
}

/** Registers one test (`Deno.test` or `pgTest`). */
export type Register = (name: string, fn: () => Promise<void>) => void;

/** `Deno.test` without the sanitizers (drivers keep sockets and timers of their own). */
export const denoTest: Register = (name, fn) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

/** A base time (epoch ms) for every case but retention, which uses times far below it. */
const T = 1_700_000_000_000;

/** What a case gets: the storage, and names and shards of its own. */
interface Ctx {
  storage: Storage;
  /** An id unique to this case (and this run). */
  id(name: string): string;
  /** A shard number unique to this case: `k` in 0..9. */
  shard(k: number): number;
}

interface ExecSpec {
  id: string;
  workflowId: string;
  fence: Fence;
  startTime?: number;
}

interface AppendOptions {
  status?: ExecutionStatus;
  endTime?: number | null;
  outputs?: OutputWrite[];
  nextTimerAt?: number | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
  fence?: Fence;
  /** A tag in the appended events' node ids, to tell racing writers apart. */
  tag?: string;
}

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
function appendOf(spec: ExecSpec, expectedSeq: number, count: number, o: AppendOptions = {}): AppendRequest {
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
  if (o.outputs !== undefined) request.outputs = o.outputs;
  if (o.nextTimerAt !== undefined) request.nextTimerAt = o.nextTimerAt;
  if (o.idempotencyKey !== undefined) request.idempotencyKey = o.idempotencyKey;
  if (o.requestHash !== undefined) request.requestHash = o.requestHash;
  return request;
}

function definition(id: string, name = "a workflow"): WorkflowDefinition {
  return {
    id,
    name,
    tags: ["conformance"],
    nodes: [],
    edges: [],
    metadata: { createdAt: "2024-01-01T00:00:00Z", nested: { list: [1, "x", null, { deep: true }] } },
  };
}

function assertOk(result: AppendResult, what = "append"): void {
  assert(result.ok, `${what} should succeed, got ${JSON.stringify(result)}`);
}

function errorOf(result: AppendResult) {
  assert(!result.ok, `expected a refusal, got ${JSON.stringify(result)}`);
  return result.error;
}

function assertSequenceConflict(result: AppendResult, lastSeq: number): void {
  const error = errorOf(result);
  assertStrictEquals(error.code, "sequence_conflict");
  if (error.code === "sequence_conflict") assertStrictEquals(error.lastSeq, lastSeq);
}

function assertStaleEpoch(result: AppendResult, currentEpoch: number): void {
  const error = errorOf(result);
  assertStrictEquals(error.code, "stale_epoch");
  if (error.code === "stale_epoch") assertStrictEquals(error.currentEpoch, currentEpoch);
}

function existingOf(result: AppendResult): StoredExecution {
  const error = errorOf(result);
  assertStrictEquals(error.code, "execution_exists");
  if (error.code !== "execution_exists") throw new Error("unreachable");
  return error.existing;
}

/** Claims a shard never claimed before: epoch 1. */
async function claimFresh(storage: Storage, shard: number, owner = "node-1"): Promise<Fence> {
  const record = await storage.claimShard(shard, owner, 0);
  assertEquals(record, { shard, owner, epoch: 1 });
  return { shard, epoch: 1 };
}

/** Stores a workflow version that must be accepted. */
async function putOk(s: Storage, def: WorkflowDefinition, expected: number): Promise<StoredWorkflow> {
  const r = await s.putWorkflow(def, `hash-${def.id}-${expected + 1}`, expected, T + expected);
  assert(r.ok, `putWorkflow ${def.id}@${expected} should succeed, got ${JSON.stringify(r)}`);
  return r.workflow;
}

/** Every item of a listing, page by page; asserts page sizes and that the walk ends. */
async function walk<T>(
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

const ids = (executions: readonly StoredExecution[]) => executions.map((e) => e.executionId);

/** `Promise.all` that lets every racer finish before failing (nothing left in flight at cleanup). */
async function race<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Registers the conformance cases of one backend. */
export function conformance(
  name: string,
  open: () => Promise<OpenedStorage>,
  register: Register = denoTest,
): void {
  const run = crypto.randomUUID().slice(0, 8);
  let caseNumber = 0;
  const test = (title: string, body: (c: Ctx) => Promise<void>) => {
    const n = caseNumber++;
    register(`${name} storage: ${title}`, async () => {
      const opened = await open();
      try {
        await body({
          storage: opened.storage,
          id: (local) => `${run}-${String(n).padStart(2, "0")}-${local}`,
          shard: (k) => {
            if (k < 0 || k > 9) throw new Error(`shard index ${k} out of 0..9`);
            return 1000 + n * 10 + k;
          },
        });
      } finally {
        await opened.cleanup();
      }
    });
  };

  test("append at expectedSeq 0 creates; the next at the right seq succeeds; readEvents in order", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    assertStrictEquals(await s.getExecution(spec.id), undefined);
    const create = appendOf(spec, 0, 2);
    assertOk(await s.append(create), "create");
    const created = await s.getExecution(spec.id);
    assertEquals(created, {
      executionId: spec.id,
      workflowId: spec.workflowId,
      version: 1,
      status: "running",
      startTime: T,
      endTime: null,
      shard: c.shard(0),
      lastSeq: 2,
      idempotencyKey: null,
      requestHash: null,
      nextTimerAt: null,
    });
    const more = appendOf(spec, 2, 3);
    assertOk(await s.append(more), "second append");
    assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 5);
    const all = [...create.events, ...more.events];
    assertEquals(all.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assertEquals(await s.readEvents(spec.id), all);
    assertEquals(await s.readEvents(spec.id, 0), all);
    assertEquals(await s.readEvents(spec.id, 2), all.slice(2));
    assertEquals(await s.readEvents(spec.id, 4), all.slice(4));
    assertEquals(await s.readEvents(spec.id, 5), []);
    assertEquals(await s.readEvents(c.id("missing")), []);
    assertStrictEquals(await s.getExecution(c.id("missing")), undefined);
  });

  test("a wrong expectedSeq is a sequence_conflict carrying lastSeq, and writes nothing", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    const create = appendOf(spec, 0, 2);
    assertOk(await s.append(create));
    const outputs = [{ ref: "n3:1", records: [{ a: 1 }] }];
    assertSequenceConflict(await s.append(appendOf(spec, 1, 1, { outputs })), 2);
    assertSequenceConflict(await s.append(appendOf(spec, 3, 1, { outputs })), 2);
    assertSequenceConflict(await s.append(appendOf(spec, 7, 2, { status: "completed" })), 2);
    const after = await s.getExecution(spec.id);
    assertStrictEquals(after?.lastSeq, 2);
    assertStrictEquals(after?.status, "running");
    assertEquals(await s.readEvents(spec.id), create.events);
    assertStrictEquals(await s.getOutput(spec.id, "n3:1"), undefined);
    // An append to an execution that does not exist: nothing to follow, lastSeq 0.
    const ghost: ExecSpec = { ...spec, id: c.id("ghost") };
    assertSequenceConflict(await s.append(appendOf(ghost, 4, 1)), 0);
    assertStrictEquals(await s.getExecution(ghost.id), undefined);
    assertEquals(await s.readEvents(ghost.id), []);
  });

  test("creating an existing id is execution_exists with the existing record", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    const create = appendOf(spec, 0, 1, {
      idempotencyKey: "key-1",
      requestHash: "hash-1",
      nextTimerAt: T + 60,
    });
    assertOk(await s.append(create));
    const again = appendOf({ ...spec, workflowId: c.id("other"), startTime: T + 5 }, 0, 2, {
      idempotencyKey: "key-2",
      requestHash: "hash-2",
    });
    const existing = existingOf(await s.append(again));
    assertEquals(existing, await s.getExecution(spec.id));
    assertEquals(existing, {
      executionId: spec.id,
      workflowId: spec.workflowId,
      version: 1,
      status: "running",
      startTime: T,
      endTime: null,
      shard: c.shard(0),
      lastSeq: 1,
      idempotencyKey: "key-1",
      requestHash: "hash-1",
      nextTimerAt: T + 60,
    });
    assertEquals(await s.readEvents(spec.id), create.events);
    assertStrictEquals(await s.countExecutions(c.id("other")), 0);
  });

  test("a claim bumps the epoch; a write with an old epoch is stale_epoch and writes nothing", async (c) => {
    const s = c.storage;
    const shard = c.shard(0);
    assertEquals(await s.claimShard(shard, "node-a", 0), { shard, owner: "node-a", epoch: 1 });
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: { shard, epoch: 1 } };
    const create = appendOf(spec, 0, 2);
    assertOk(await s.append(create));
    assertEquals(await s.claimShard(shard, "node-b", 1), { shard, owner: "node-b", epoch: 2 });
    assertEquals((await s.getShards()).find((r) => r.shard === shard), { shard, owner: "node-b", epoch: 2 });

    assertStaleEpoch(await s.append(appendOf(spec, 2, 1, { outputs: [{ ref: "x", records: [1] }] })), 2);
    assertStaleEpoch(await s.append(appendOf(spec, 2, 1, { fence: { shard, epoch: 3 } })), 2);
    const fresh: ExecSpec = { ...spec, id: c.id("fresh") };
    assertStaleEpoch(await s.append(appendOf(fresh, 0, 1)), 2);
    assertStrictEquals(await s.getExecution(fresh.id), undefined);
    assertEquals(await s.readEvents(fresh.id), []);
    assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 2);
    assertEquals(await s.readEvents(spec.id), create.events);
    assertStrictEquals(await s.getOutput(spec.id, "x"), undefined);

    assertOk(await s.append(appendOf(spec, 2, 1, { fence: { shard, epoch: 2 } })), "append at the new epoch");
    assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 3);
  });

  test("claimShard with a wrong expectedEpoch is refused; racing claims: one wins", async (c) => {
    const s = c.storage;
    const shard = c.shard(0);
    assertStrictEquals(await s.claimShard(shard, "node-a", 1), undefined);
    assertStrictEquals((await s.getShards()).find((r) => r.shard === shard), undefined);
    assertEquals(await s.claimShard(shard, "node-a", 0), { shard, owner: "node-a", epoch: 1 });
    assertStrictEquals(await s.claimShard(shard, "node-b", 0), undefined);
    assertStrictEquals(await s.claimShard(shard, "node-b", 2), undefined);
    assertEquals((await s.getShards()).find((r) => r.shard === shard), { shard, owner: "node-a", epoch: 1 });
    assertEquals(await s.claimShard(shard, "node-b", 1), { shard, owner: "node-b", epoch: 2 });

    const racing = await race(
      Array.from({ length: 5 }, (_, i) => s.claimShard(shard, `racer-${i}`, 2)),
    );
    const winners = racing.filter((r) => r !== undefined);
    assertStrictEquals(winners.length, 1);
    assertStrictEquals(winners[0]?.epoch, 3);
    assertEquals((await s.getShards()).find((r) => r.shard === shard), winners[0]);

    // A fresh shard claimed by several nodes at once: one wins epoch 1.
    const other = c.shard(1);
    const first = await race(Array.from({ length: 5 }, (_, i) => s.claimShard(other, `n-${i}`, 0)));
    assertEquals(first.filter((r) => r !== undefined).map((r) => r?.epoch), [1]);
  });

  test("racing appends with one expectedSeq: exactly one ok, the rest sequence_conflict", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    const create = appendOf(spec, 0, 1);
    assertOk(await s.append(create));
    const N = 10;
    const requests = Array.from(
      { length: N },
      (_, i) =>
        appendOf(spec, 1, 1, { tag: `racer${i}-`, outputs: [{ ref: "out", records: [{ racer: i }] }] }),
    );
    const results = await race(requests.map((r) => s.append(r)));
    const winners = results.flatMap((r, i) => r.ok ? [i] : []);
    assertStrictEquals(winners.length, 1, `one winner, got ${JSON.stringify(results)}`);
    for (const r of results) if (!r.ok) assertSequenceConflict(r, 2);
    const w = winners[0];
    assertEquals(await s.readEvents(spec.id), [...create.events, ...requests[w].events]);
    assertStrictEquals((await s.getExecution(spec.id))?.lastSeq, 2);
    assertEquals(await s.getOutput(spec.id, "out"), [{ racer: w }]);

    // Racing creates of one id: one creates it, the others see it exists.
    const raced: ExecSpec = { ...spec, id: c.id("raced") };
    const creates = Array.from({ length: N }, (_, i) => appendOf(raced, 0, 2, { tag: `creator${i}-` }));
    const created = await race(creates.map((r) => s.append(r)));
    const creators = created.flatMap((r, i) => r.ok ? [i] : []);
    assertStrictEquals(creators.length, 1, `one creator, got ${JSON.stringify(created)}`);
    for (const r of created) if (!r.ok) assertStrictEquals(existingOf(r).executionId, raced.id);
    assertEquals(await s.readEvents(raced.id), creates[creators[0]].events);
    assertStrictEquals(await s.countExecutions(spec.workflowId), 2);
  });

  test("appendMany answers per request and writes only the ok ones", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const moved = await claimFresh(s, c.shard(1));
    assertEquals(await s.claimShard(moved.shard, "node-2", 1), {
      shard: moved.shard,
      owner: "node-2",
      epoch: 2,
    });
    const x: ExecSpec = { id: c.id("x"), workflowId: c.id("wf"), fence };
    const y: ExecSpec = { id: c.id("y"), workflowId: c.id("wf"), fence };
    const z: ExecSpec = { id: c.id("z"), workflowId: c.id("wf"), fence: moved };
    const createX = appendOf(x, 0, 1);
    assertOk(await s.append(createX));

    const createY = appendOf(y, 0, 2, { outputs: [{ ref: "y:1", records: [{ y: true }] }] });
    const staleZ = appendOf(z, 0, 1, { outputs: [{ ref: "z:1", records: [{ z: true }] }] });
    const conflictX = appendOf(x, 5, 1, { outputs: [{ ref: "x:1", records: [{ x: true }] }] });
    const results = await s.appendMany([createY, staleZ, conflictX]);
    assertStrictEquals(results.length, 3);
    assertOk(results[0]);
    assertStaleEpoch(results[1], 2);
    assertSequenceConflict(results[2], 1);

    assertEquals(await s.readEvents(y.id), createY.events);
    assertEquals(await s.getOutput(y.id, "y:1"), [{ y: true }]);
    assertStrictEquals(await s.getExecution(z.id), undefined);
    assertEquals(await s.readEvents(z.id), []);
    assertStrictEquals(await s.getOutput(z.id, "z:1"), undefined);
    assertEquals(await s.readEvents(x.id), createX.events);
    assertStrictEquals((await s.getExecution(x.id))?.lastSeq, 1);
    assertStrictEquals(await s.getOutput(x.id, "x:1"), undefined);
    assertEquals(await s.appendMany([]), []);
  });

  test("appendMany: requests for one execution in one batch apply in order", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const d: ExecSpec = { id: c.id("d"), workflowId: c.id("wf"), fence };
    const other: ExecSpec = { id: c.id("o"), workflowId: c.id("wf"), fence };
    // Two creates of one id: the first creates it, the second sees it exists.
    const first = appendOf(d, 0, 1, { tag: "first-", idempotencyKey: "k1" });
    const second = appendOf(d, 0, 2, { tag: "second-", idempotencyKey: "k2" });
    const createOther = appendOf(other, 0, 1);
    const created = await s.appendMany([first, createOther, second]);
    assertOk(created[0]);
    assertOk(created[1]);
    const existing = existingOf(created[2]);
    assertStrictEquals(existing.executionId, d.id);
    assertStrictEquals(existing.idempotencyKey, "k1");
    assertEquals(await s.readEvents(d.id), first.events);
    assertEquals(await s.readEvents(other.id), createOther.events);

    // Two appends after one seq: the first wins, the second conflicts; another execution is unaffected.
    const a = appendOf(d, 1, 1, { tag: "a-" });
    const b = appendOf(d, 1, 1, { tag: "b-" });
    const o2 = appendOf(other, 1, 1);
    const raced = await s.appendMany([a, o2, b]);
    assertOk(raced[0]);
    assertOk(raced[1]);
    assertSequenceConflict(raced[2], 2);
    assertEquals(await s.readEvents(d.id), [...first.events, ...a.events]);
    assertStrictEquals((await s.getExecution(other.id))?.lastSeq, 2);

    // Chained appends of one execution in one batch: each follows the one before it.
    const c3 = appendOf(d, 2, 1);
    const c4 = appendOf(d, 3, 2, { status: "completed", endTime: T + 40 });
    const chained = await s.appendMany([c3, c4]);
    assertOk(chained[0]);
    assertOk(chained[1]);
    assertEquals(await s.readEvents(d.id), [...first.events, ...a.events, ...c3.events, ...c4.events]);
    const done = await s.getExecution(d.id);
    assertStrictEquals(done?.lastSeq, 5);
    assertStrictEquals(done?.status, "completed");
    assertStrictEquals(done?.endTime, T + 40);
  });

  test("outputs written with an append read back deep-equal (a JSON round trip)", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    const records: Json[] = [
      {
        id: 1,
        name: 'héllo ✓ 😀 "quoted" \\ back\nslash',
        price: 3.25,
        negative: -7,
        big: 2 ** 53 - 1,
        tiny: 1.5e-10,
        huge: 1e300,
        nil: null,
        yes: true,
        no: false,
        empty: {},
        list: [],
        nested: { a: [1, "two", null, { b: [{ c: [[]] }] }], z: { y: { x: "deep" } } },
      },
      "a plain string",
      "",
      42,
      0,
      -0.5,
      null,
      true,
      [1, [2, [3, { four: 4 }]]],
      [],
      {},
    ];
    const create = appendOf(spec, 0, 2, {
      outputs: [{ ref: "n2:1", records }, { ref: "empty", records: [] }, {
        ref: "one",
        records: [{ k: "v" }],
      }],
    });
    assertOk(await s.append(create));
    assertEquals(await s.getOutput(spec.id, "n2:1"), records);
    assertEquals(await s.getOutput(spec.id, "empty"), []);
    assertEquals(await s.getOutput(spec.id, "one"), [{ k: "v" }]);
    assertOk(await s.append(appendOf(spec, 2, 1, { outputs: [{ ref: "n3:1", records: [[1, 2], ["x"]] }] })));
    assertEquals(await s.getOutput(spec.id, "n3:1"), [[1, 2], ["x"]]);
    assertEquals(await s.getOutput(spec.id, "n2:1"), records);
    assertStrictEquals(await s.getOutput(spec.id, "nope"), undefined);
    assertStrictEquals(await s.getOutput(c.id("missing"), "n2:1"), undefined);
  });

  test("requireLatestVersion: a create of a superseded or deleted version is workflow_changed", async (c) => {
    const s = c.storage;
    const wf = c.id("wf");
    const fence = await claimFresh(s, c.shard(0));
    const createAt = (name: string, version: number, requireLatestVersion = true): AppendRequest => {
      const r = appendOf({ id: c.id(name), workflowId: wf, fence }, 0, 2);
      return { ...r, summary: { ...r.summary, version }, requireLatestVersion };
    };
    const changed = (result: AppendResult) => assertStrictEquals(errorOf(result).code, "workflow_changed");
    changed(await s.append(createAt("none-yet", 1)));
    await putOk(s, definition(wf), 0);
    assertOk(await s.append(createAt("v1", 1)));
    await putOk(s, definition(wf, "renamed"), 1);
    changed(await s.append(createAt("v1-late", 1)));
    assertStrictEquals(await s.getExecution(c.id("v1-late")), undefined);
    assertStrictEquals((await s.readEvents(c.id("v1-late"))).length, 0);
    // Without the flag an old version is still accepted (recovery, replays); an existing id is reported
    // as existing whatever the version (an idempotent retry).
    assertOk(await s.append(createAt("v1-unchecked", 1, false)));
    assertStrictEquals(existingOf(await s.append(createAt("v1", 2))).executionId, c.id("v1"));
    const [a, b] = await s.appendMany([createAt("group-ok", 2), createAt("group-old", 1)]);
    assertOk(a);
    changed(b);
    assert(await s.deleteWorkflow(wf, T));
    changed(await s.append(createAt("after-delete", 2)));
  });

  test("strings JSON can hold but SQL text cannot (NUL, lone surrogates) round-trip, and spoil no group", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const odd: Json[] = ["a\u0000b", "\ud800", { "k\u0000": "x\udfff" }];
    const spec: ExecSpec = { id: c.id("odd"), workflowId: c.id("wf"), fence };
    const create = appendOf(spec, 0, 2, { outputs: [{ ref: "odd", records: odd }] });
    const started = create.events[0] as Extract<ExecutionEvent, { type: "ExecutionStarted" }>;
    create.events[0] = { ...started, input: { s: "nul\u0000here" } };
    const plain = appendOf({ id: c.id("plain"), workflowId: c.id("wf"), fence }, 0, 2);
    const [a, b] = await s.appendMany([create, plain]);
    assertOk(a, "the odd append");
    assertOk(b, "an append in the same group");
    assertEquals(await s.getOutput(spec.id, "odd"), odd);
    assertEquals(await s.readEvents(spec.id), create.events);
  });

  test("records and events read back with their keys in the order written", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
    const records: Json[] = [{ zebra: 1, apple: { y: 2, b: 3 }, mango: [{ q: 1, a: 2 }] }, { b: 1, a: 2 }];
    const create = appendOf(spec, 0, 2, { outputs: [{ ref: "ordered", records }] });
    assertOk(await s.append(create));
    assertStrictEquals(JSON.stringify(await s.getOutput(spec.id, "ordered")), JSON.stringify(records));
    assertStrictEquals(
      JSON.stringify((await s.readEvents(spec.id)).map((e) => Object.keys(e))),
      JSON.stringify(create.events.map((e) => Object.keys(e))),
    );
  });

  test("idempotency key and request hash are stored on create and kept by later appends", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const keyed: ExecSpec = { id: c.id("keyed"), workflowId: c.id("wf"), fence };
    assertOk(await s.append(appendOf(keyed, 0, 1, { idempotencyKey: "key-1", requestHash: "hash-1" })));
    const check = async () => {
      const r = await s.getExecution(keyed.id);
      assertStrictEquals(r?.idempotencyKey, "key-1");
      assertStrictEquals(r?.requestHash, "hash-1");
    };
    await check();
    assertOk(await s.append(appendOf(keyed, 1, 1)));
    await check();
    assertOk(await s.append(appendOf(keyed, 2, 1, { idempotencyKey: "other", requestHash: "other" })));
    await check();
    assertOk(await s.append(appendOf(keyed, 3, 1, { status: "completed", idempotencyKey: null })));
    await check();
    const existing = existingOf(await s.append(appendOf(keyed, 0, 1, { idempotencyKey: "key-1" })));
    assertStrictEquals(existing.idempotencyKey, "key-1");
    assertStrictEquals(existing.requestHash, "hash-1");

    const plain: ExecSpec = { id: c.id("plain"), workflowId: c.id("wf"), fence };
    assertOk(await s.append(appendOf(plain, 0, 1)));
    assertOk(await s.append(appendOf(plain, 1, 1, { idempotencyKey: "late", requestHash: "late" })));
    const r = await s.getExecution(plain.id);
    assertStrictEquals(r?.idempotencyKey, null);
    assertStrictEquals(r?.requestHash, null);
  });

  test("summary fields (status, endTime, lastSeq, nextTimerAt) follow later appends", async (c) => {
    const s = c.storage;
    const spec: ExecSpec = {
      id: c.id("e"),
      workflowId: c.id("wf"),
      fence: await claimFresh(s, c.shard(0)),
      startTime: T + 10,
    };
    assertOk(await s.append(appendOf(spec, 0, 1, { nextTimerAt: T + 1000 })));
    let r = await s.getExecution(spec.id);
    assertStrictEquals(r?.status, "running");
    assertStrictEquals(r?.endTime, null);
    assertStrictEquals(r?.nextTimerAt, T + 1000);
    assertOk(await s.append(appendOf(spec, 1, 2, { nextTimerAt: T + 500 })));
    r = await s.getExecution(spec.id);
    assertStrictEquals(r?.lastSeq, 3);
    assertStrictEquals(r?.nextTimerAt, T + 500);
    assertOk(await s.append(appendOf(spec, 3, 1)));
    assertStrictEquals((await s.getExecution(spec.id))?.nextTimerAt, null);
    assertOk(
      await s.append(appendOf(spec, 4, 1, { status: "failed", endTime: T + 900, nextTimerAt: T + 2000 })),
    );
    assertEquals(await s.getExecution(spec.id), {
      executionId: spec.id,
      workflowId: spec.workflowId,
      version: 1,
      status: "failed",
      startTime: T + 10,
      endTime: T + 900,
      shard: c.shard(0),
      lastSeq: 5,
      idempotencyKey: null,
      requestHash: null,
      nextTimerAt: null,
    });
  });

  test("listDueTimers: due running executions of the given shards, earliest first, limited", async (c) => {
    const s = c.storage;
    const [f1, f2, f3] = [
      await claimFresh(s, c.shard(1)),
      await claimFresh(s, c.shard(2)),
      await claimFresh(
        s,
        c.shard(3),
      ),
    ];
    const wf = c.id("wf");
    const make = async (name: string, fence: Fence, nextTimerAt: number | null) => {
      const spec: ExecSpec = { id: c.id(name), workflowId: wf, fence };
      assertOk(await s.append(appendOf(spec, 0, 1, { nextTimerAt })));
      return spec;
    };
    const a = await make("a", f1, T + 300);
    const b = await make("b", f2, T + 100);
    const cc = await make("c", f1, T + 200);
    await make("d", f3, T + 50); // another shard
    const e = await make("e", f1, T + 900); // not due yet
    const f = await make("f", f1, null); // no timer
    const g = await make("g", f2, T + 150); // becomes terminal
    const h = await make("h", f1, T + 500); // due exactly at `before`
    assertOk(await s.append(appendOf(g, 1, 1, { status: "completed", nextTimerAt: T + 150 })));

    const shards = [c.shard(1), c.shard(2)];
    const due = await s.listDueTimers(shards, T + 500, 10);
    assertEquals(ids(due), [b.id, cc.id, a.id, h.id]);
    assertEquals(due.map((r) => r.nextTimerAt), [T + 100, T + 200, T + 300, T + 500]);
    assert(due.every((r) => r.status === "running"));
    assertEquals(ids(await s.listDueTimers(shards, T + 500, 2)), [b.id, cc.id]);
    assertEquals(ids(await s.listDueTimers(shards, T + 99, 10)), []);
    assertEquals(ids(await s.listDueTimers([c.shard(3)], T + 500, 10)), [c.id("d")]);
    assertEquals(ids(await s.listDueTimers([c.shard(9)], T + 500, 10)), []);
    assertEquals(await s.listDueTimers([], T + 500, 10), []);
    assertEquals(ids(await s.listDueTimers(shards, T + 10_000, 10)), [b.id, cc.id, a.id, h.id, e.id]);

    // The index follows appends: a moved timer, a cleared one.
    assertOk(await s.append(appendOf(a, 1, 1, { nextTimerAt: T + 5000 })));
    assertOk(await s.append(appendOf(b, 1, 1, { nextTimerAt: null })));
    assertEquals(ids(await s.listDueTimers(shards, T + 500, 10)), [cc.id, h.id]);

    const running = await s.listRunning(shards);
    assertEquals(ids(running).sort(), [a.id, b.id, cc.id, e.id, f.id, h.id].sort());
    assert(running.every((r) => r.status === "running" && shards.includes(r.shard)));
    assertEquals(ids(await s.listRunning([c.shard(3)])), [c.id("d")]);
    assertEquals(await s.listRunning([]), []);
    assertEquals(await s.listRunning([c.shard(9)]), []);
  });

  test("listExecutions: by workflow and status, newest first, paged with cursors; counts", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const wfA = c.id("wfa");
    const wfB = c.id("wfb");
    const make = async (name: string, workflowId: string, start: number, status: ExecutionStatus) => {
      const spec: ExecSpec = { id: c.id(name), workflowId, fence, startTime: T + start };
      assertOk(await s.append(appendOf(spec, 0, 1)));
      if (status !== "running") assertOk(await s.append(appendOf(spec, 1, 1, { status })));
      return spec.id;
    };
    const a1 = await make("a1", wfA, 100, "completed");
    const a2 = await make("a2", wfA, 200, "running");
    const a3 = await make("a3", wfA, 200, "failed");
    const a4 = await make("a4", wfA, 300, "running");
    const a5 = await make("a5", wfA, 50, "failed");
    const b1 = await make("b1", wfB, 250, "running");

    const newestFirst = [a4, a3, a2, a1, a5];
    assertEquals(ids((await s.listExecutions({ workflowId: wfA, limit: 10 })).items), newestFirst);
    const exact = await s.listExecutions({ workflowId: wfA, limit: 5 });
    assertEquals(ids(exact.items), newestFirst);
    assertStrictEquals(exact.next, null);

    const first = await s.listExecutions({ workflowId: wfA, limit: 2 });
    assertEquals(ids(first.items), [a4, a3]);
    assert(first.next !== null);
    const second = await s.listExecutions({ workflowId: wfA, limit: 2, cursor: first.next });
    assertEquals(ids(second.items), [a2, a1]);
    const third = await s.listExecutions({ workflowId: wfA, limit: 2, cursor: second.next });
    assertEquals(ids(third.items), [a5]);
    assertStrictEquals(third.next, null);
    const walked = await walk((cursor) => s.listExecutions({ workflowId: wfA, limit: 2, cursor }), 2);
    assertEquals(ids(walked), newestFirst);
    assertEquals(walked[0], await s.getExecution(a4));

    assertEquals(ids((await s.listExecutions({ workflowId: wfA, status: "running", limit: 10 })).items), [
      a4,
      a2,
    ]);
    const failed = await walk(
      (cursor) => s.listExecutions({ workflowId: wfA, status: "failed", limit: 1, cursor }),
      1,
    );
    assertEquals(ids(failed), [a3, a5]);
    assertEquals(ids((await s.listExecutions({ workflowId: wfB, limit: 10 })).items), [b1]);
    assertEquals((await s.listExecutions({ workflowId: c.id("none"), limit: 10 })).items, []);

    // By status alone (other cases' executions may share the storage: keep ours, check the rest).
    const mine = new Set([a1, a2, a3, a4, a5, b1]);
    const running = await walk((cursor) => s.listExecutions({ status: "running", limit: 2, cursor }), 2);
    assert(running.every((r) => r.status === "running"));
    assertEquals(ids(running).filter((id) => mine.has(id)), [a4, b1, a2]);
    assertStrictEquals(new Set(ids(running)).size, running.length, "each item exactly once");

    const everything = await walk((cursor) => s.listExecutions({ limit: 2, cursor }), 2);
    assertEquals(ids(everything).filter((id) => mine.has(id)), [a4, b1, a3, a2, a1, a5]);
    assertStrictEquals(new Set(ids(everything)).size, everything.length, "each item exactly once");
    for (let i = 1; i < everything.length; i++) {
      const [p, q] = [everything[i - 1], everything[i]];
      assert(
        p.startTime > q.startTime || (p.startTime === q.startTime && p.executionId > q.executionId),
        `newest first: ${p.executionId}@${p.startTime} before ${q.executionId}@${q.startTime}`,
      );
    }

    assertStrictEquals(await s.countExecutions(wfA), 5);
    assertStrictEquals(await s.countExecutions(wfB), 1);
    assertStrictEquals(await s.countExecutions(c.id("none")), 0);
  });

  test("putWorkflow is a CAS on the latest version; getWorkflow latest and by version", async (c) => {
    const s = c.storage;
    const id = c.id("wf");
    assertStrictEquals(await s.latestVersion(id), 0);
    assertStrictEquals(await s.getWorkflow(id), undefined);
    const def1 = definition(id, "first");
    const put1 = await s.putWorkflow(def1, "hash-1", 0, T);
    const v1: StoredWorkflow = { id, version: 1, definition: def1, hash: "hash-1", createdAt: T };
    assertEquals(put1, { ok: true, workflow: v1 });
    assertEquals(await s.putWorkflow(definition(id, "late"), "hash-x", 0, T + 1), {
      ok: false,
      code: "version_conflict",
      current: v1,
    });
    const def2 = definition(id, "second");
    const put2 = await s.putWorkflow(def2, "hash-2", 1, T + 2);
    const v2: StoredWorkflow = { id, version: 2, definition: def2, hash: "hash-2", createdAt: T + 2 };
    assertEquals(put2, { ok: true, workflow: v2 });
    for (const stale of [0, 1, 3, 7]) {
      assertEquals(await s.putWorkflow(definition(id, "stale"), "hash-s", stale, T + 3), {
        ok: false,
        code: "version_conflict",
        current: v2,
      });
    }
    assertEquals(await s.getWorkflow(id), v2);
    assertEquals(await s.getWorkflow(id, 1), v1);
    assertEquals(await s.getWorkflow(id, 2), v2);
    assertStrictEquals(await s.getWorkflow(id, 3), undefined);
    assertStrictEquals(await s.latestVersion(id), 2);

    // Racing puts on one expected version: exactly one stores the next version, the rest are conflicts.
    // (Puts of other ids first, so that a pooled backend has its connections open and the races overlap.)
    await race(Array.from({ length: 5 }, (_, i) => putOk(s, definition(c.id(`warm${i}`)), 0)));
    const races: [string, number][] = [
      [id, 2],
      ...Array.from({ length: 4 }, (_, i): [string, number] => [c.id(`new${i}`), 0]),
    ];
    for (const [wid, expected] of races) {
      const racing = await race(
        Array.from(
          { length: 5 },
          (_, i) => s.putWorkflow(definition(wid, `racer ${i}`), `h${i}`, expected, T + 9),
        ),
      );
      const winners = racing.flatMap((r) => r.ok ? [r.workflow] : []);
      assertStrictEquals(
        winners.length,
        1,
        `one winner for ${wid}@${expected}, got ${JSON.stringify(racing)}`,
      );
      assertStrictEquals(winners[0].version, expected + 1);
      for (const r of racing) {
        if (!r.ok) assertEquals(r, { ok: false, code: "version_conflict", current: winners[0] });
      }
      assertEquals(await s.getWorkflow(wid), winners[0]);
      assertStrictEquals(await s.latestVersion(wid), expected + 1);
    }
  });

  test("listWorkflows pages live workflows by id", async (c) => {
    const s = c.storage;
    const [w1, w2, w3, w4] = [c.id("w1"), c.id("w2"), c.id("w3"), c.id("w4")];
    // Stored out of order; w3 has two versions; w2 is deleted.
    for (const id of [w3, w1, w4, w2]) await putOk(s, definition(id), 0);
    await putOk(s, definition(w3, "v2"), 1);
    assert(await s.deleteWorkflow(w2, T + 2));
    const mine = new Set([w1, w2, w3, w4]);
    for (const limit of [1, 2, 3, 100]) {
      const all = await walk((cursor) => s.listWorkflows(limit, cursor), limit);
      assertEquals(all.filter((w) => mine.has(w.id)).map((w) => [w.id, w.version]), [[w1, 1], [w3, 2], [
        w4,
        1,
      ]]);
      assertStrictEquals(new Set(all.map((w) => w.id)).size, all.length, "each workflow exactly once");
      for (let i = 1; i < all.length; i++) assert(all[i - 1].id < all[i].id, "ordered by id");
    }
    const w3Latest = (await walk((cursor) => s.listWorkflows(2, cursor), 2)).find((w) => w.id === w3);
    assertEquals(w3Latest, await s.getWorkflow(w3));
  });

  test("deleteWorkflow hides the latest version but keeps versions readable and counting", async (c) => {
    const s = c.storage;
    const id = c.id("wf");
    await putOk(s, definition(id, "one"), 0);
    await putOk(s, definition(id, "two"), 1);
    const v1 = await s.getWorkflow(id, 1);
    const v2 = await s.getWorkflow(id, 2);
    assertStrictEquals(v2?.definition.name, "two");
    assertStrictEquals(await s.deleteWorkflow(id, T + 2), true);
    assertStrictEquals(await s.deleteWorkflow(id, T + 3), false);
    assertStrictEquals(await s.deleteWorkflow(c.id("never"), T + 3), false);
    assertStrictEquals(await s.getWorkflow(id), undefined);
    assertEquals(await s.getWorkflow(id, 1), v1);
    assertEquals(await s.getWorkflow(id, 2), v2);
    assertStrictEquals(await s.latestVersion(id), 2);
    const listed = await walk((cursor) => s.listWorkflows(50, cursor), 50);
    assert(!listed.some((w) => w.id === id), "a deleted workflow is not listed");

    // The counter goes on: a re-put must expect the last version and gets the next one.
    assertEquals(await s.putWorkflow(definition(id, "again"), "h3", 0, T + 4), {
      ok: false,
      code: "version_conflict",
      current: undefined,
    });
    const again = await s.putWorkflow(definition(id, "three"), "h3", 2, T + 5);
    assert(again.ok);
    assertStrictEquals(again.workflow.version, 3);
    assertEquals(await s.getWorkflow(id), again.workflow);
    assertEquals(await s.getWorkflow(id, 1), v1);
    assertStrictEquals(await s.latestVersion(id), 3);
    const relisted = await walk((cursor) => s.listWorkflows(50, cursor), 50);
    assertEquals(relisted.find((w) => w.id === id), again.workflow);
  });

  test("deleteFinishedBefore deletes ended executions (events, outputs), never running ones or workflows", async (c) => {
    const s = c.storage;
    const fence = await claimFresh(s, c.shard(0));
    const wf = c.id("wf");
    await putOk(s, definition(wf), 0);
    // Times far below every other case's (T), so a shared storage loses nothing else.
    const make = async (name: string, status: ExecutionStatus, endTime: number | null) => {
      const spec: ExecSpec = { id: c.id(name), workflowId: wf, fence, startTime: 100 };
      assertOk(await s.append(appendOf(spec, 0, 1, { outputs: [{ ref: "start", records: [{ name }] }] })));
      assertOk(
        await s.append(appendOf(spec, 1, 2, { status, endTime, outputs: [{ ref: "end", records: [name] }] })),
      );
      return spec.id;
    };
    const gone = [
      await make("r1", "completed", 1000),
      await make("r2", "failed", 2000),
      await make("r3", "cancelled", 3000),
      await make("r8", "timed_out", 4000),
    ];
    const kept = [
      await make("r4", "completed", 6000), // ended after `before`
      await make("r5", "running", null),
      await make("r6", "timed_out", 5000), // ended exactly at `before`
      await make("r7", "running", 1000), // running, whatever its endTime says
    ];
    assertStrictEquals(await s.deleteFinishedBefore(5000, 3), 3);
    assertStrictEquals(await s.deleteFinishedBefore(5000, 10), 1);
    assertStrictEquals(await s.deleteFinishedBefore(5000, 10), 0);
    for (const id of gone) {
      assertStrictEquals(await s.getExecution(id), undefined);
      assertEquals(await s.readEvents(id), []);
      assertStrictEquals(await s.getOutput(id, "start"), undefined);
      assertStrictEquals(await s.getOutput(id, "end"), undefined);
    }
    for (const id of kept) {
      assertStrictEquals((await s.getExecution(id))?.lastSeq, 3);
      assertStrictEquals((await s.readEvents(id)).length, 3);
      assertEquals(await s.getOutput(id, "end"), [id.slice(id.lastIndexOf("-") + 1)]);
    }
    assertStrictEquals(await s.countExecutions(wf), 4);
    assertEquals(ids((await s.listExecutions({ workflowId: wf, limit: 10 })).items).sort(), [...kept].sort());
    assertStrictEquals((await s.getWorkflow(wf))?.version, 1);
    assertStrictEquals(await s.latestVersion(wf), 1);
  });

  test("ping answers true", async (c) => {
    assertStrictEquals(await c.storage.ping(), true);
    assertStrictEquals(typeof c.storage.kind, "string");
  });

  // ---------------------------------------------------------------------------
  // Cluster membership, cluster events and running counts per shard.
  // (Members and events are not scoped by shard: these cases filter by their own
  // ids and event types, and a shared storage's other cases use neither.)
  // ---------------------------------------------------------------------------

  const memberRecord = (id: string, o: Partial<MemberRecord> = {}): MemberRecord => ({
    id,
    address: "10.0.0.1:7000",
    httpAddress: "10.0.0.1:8080",
    roles: ["worker"],
    joinedAt: T,
    heartbeatAt: T,
    leaving: false,
    ...o,
  });
  const membersOf = async (s: Storage, prefix: string) =>
    (await s.listMembers()).filter((m) => m.id.startsWith(prefix));

  test("heartbeat registers a member, then updates it; joinedAt is kept from the first", async (c) => {
    const s = c.storage;
    const id = c.id("a");
    const first = memberRecord(id, { roles: ["coordinator", "worker", "api-gateway"] });
    await s.heartbeat(first);
    assertEquals(await membersOf(s, c.id("")), [first]);
    await s.heartbeat(memberRecord(id, {
      address: "10.0.0.2:7001",
      httpAddress: "10.0.0.2:8081",
      roles: ["worker"],
      joinedAt: T + 5_000, // a restarted process's own idea: storage keeps the first
      heartbeatAt: T + 9_000,
      leaving: true,
    }));
    assertEquals(await membersOf(s, c.id("")), [{
      id,
      address: "10.0.0.2:7001",
      httpAddress: "10.0.0.2:8081",
      roles: ["worker"],
      joinedAt: T,
      heartbeatAt: T + 9_000,
      leaving: true,
    }]);
    // And back: a rejoin clears the leave flag; roles may be empty.
    await s.heartbeat(memberRecord(id, { roles: [], joinedAt: T + 20_000, heartbeatAt: T + 20_000 }));
    const [again] = await membersOf(s, c.id(""));
    assertEquals(again, memberRecord(id, { roles: [], joinedAt: T, heartbeatAt: T + 20_000 }));
    assertStrictEquals(again.leaving, false);
    assertStrictEquals(typeof again.heartbeatAt, "number");
  });

  test("listMembers is ordered by id; removeMember forgets one", async (c) => {
    const s = c.storage;
    for (const k of ["c", "a", "d", "b"]) {
      await s.heartbeat(memberRecord(c.id(k), { heartbeatAt: T + k.charCodeAt(0) }));
    }
    assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "b", "c", "d"].map((k) => c.id(k)));
    await s.removeMember(c.id("b"));
    assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "c", "d"].map((k) => c.id(k)));
    await s.removeMember(c.id("b")); // gone already: no error
    await s.removeMember(c.id("never"));
    assertEquals((await membersOf(s, c.id(""))).map((m) => m.id), ["a", "c", "d"].map((k) => c.id(k)));
    // A removed member that heartbeats again registers anew, with its own joinedAt.
    await s.heartbeat(memberRecord(c.id("b"), { joinedAt: T + 100, heartbeatAt: T + 100 }));
    const b = (await membersOf(s, c.id(""))).find((m) => m.id === c.id("b"));
    assertEquals(b, memberRecord(c.id("b"), { joinedAt: T + 100, heartbeatAt: T + 100 }));
  });

  test("cluster events: listed newest first, filtered by type, limited", async (c) => {
    const s = c.storage;
    const x = c.id("x-event"), y = c.id("y-event");
    const event = (type: string, k: number, at = T + k): ClusterEvent => ({
      at,
      type,
      node: `node-${k}`,
      details: { k, shard: k * 3, nested: { list: [k, "two", null], ok: true }, none: null },
    });
    const appended = [event(x, 1), event(y, 2), event(x, 3), event(x, 4), event(y, 5)];
    for (const e of appended) await s.appendClusterEvent(e);
    assertEquals(await s.listClusterEvents(100, x), [appended[3], appended[2], appended[0]]);
    assertEquals(await s.listClusterEvents(100, y), [appended[4], appended[1]]);
    assertEquals(await s.listClusterEvents(2, x), [appended[3], appended[2]]);
    assertEquals(await s.listClusterEvents(1, y), [appended[4]]);
    // Without a type: every type, newest first.
    assertEquals(await s.listClusterEvents(3), [appended[4], appended[3], appended[2]]);
    assertEquals(await s.listClusterEvents(100, c.id("no-such-type")), []);
    // Newest means appended last, not the largest `at`.
    const late = event(x, 6, T - 1_000);
    await s.appendClusterEvent(late);
    assertEquals(await s.listClusterEvents(2, x), [late, appended[3]]);
  });

  test("trimClusterEvents keeps only the newest N", async (c) => {
    const s = c.storage;
    const t = c.id("trimmed");
    const appended: ClusterEvent[] = [];
    for (let k = 0; k < 6; k++) {
      const e: ClusterEvent = { at: T + k, type: t, node: "node-1", details: { k } };
      appended.push(e);
      await s.appendClusterEvent(e);
    }
    const newestFirst = [...appended].reverse();
    await s.trimClusterEvents(10);
    assertEquals(await s.listClusterEvents(100, t), newestFirst);
    await s.trimClusterEvents(4);
    assertEquals(await s.listClusterEvents(100, t), newestFirst.slice(0, 4));
    assertStrictEquals((await s.listClusterEvents(1_000)).length, 4);
    await s.trimClusterEvents(1);
    assertEquals(await s.listClusterEvents(100, t), newestFirst.slice(0, 1));
    await s.trimClusterEvents(0);
    assertEquals(await s.listClusterEvents(100), []);
    // The log goes on after a trim.
    const after: ClusterEvent = { at: T + 10, type: t, node: "node-1", details: { k: 10 } };
    await s.appendClusterEvent(after);
    assertEquals(await s.listClusterEvents(100, t), [after]);
  });

  test("countRunningByShard counts only running executions, per shard; shards with none are absent", async (c) => {
    const s = c.storage;
    const [f0, f1, f2] = [
      await claimFresh(s, c.shard(0)),
      await claimFresh(s, c.shard(1)),
      await claimFresh(
        s,
        c.shard(2),
      ),
    ];
    const wf = c.id("wf");
    const make = async (name: string, fence: Fence, status: ExecutionStatus) => {
      const spec: ExecSpec = { id: c.id(name), workflowId: wf, fence };
      assertOk(await s.append(appendOf(spec, 0, 1)));
      if (status !== "running") assertOk(await s.append(appendOf(spec, 1, 1, { status })));
      return spec;
    };
    await make("a1", f0, "running");
    await make("a2", f0, "running");
    await make("a3", f0, "completed");
    const b1 = await make("b1", f1, "running");
    await make("b2", f1, "failed");
    await make("c1", f2, "cancelled");
    await make("c2", f2, "timed_out");
    const counts = await s.countRunningByShard();
    assertStrictEquals(counts.get(c.shard(0)), 2);
    assertStrictEquals(counts.get(c.shard(1)), 1);
    assertStrictEquals(counts.has(c.shard(2)), false);
    assertStrictEquals(counts.has(c.shard(3)), false);
    for (const [shard, n] of counts) {
      assertStrictEquals(typeof shard, "number");
      assert(Number.isInteger(n) && n > 0, `shard ${shard}: ${n}`);
    }
    // The last running one of shard 1 ends: its shard drops out.
    assertOk(await s.append(appendOf(b1, 1, 1, { status: "completed" })));
    const later = await s.countRunningByShard();
    assertStrictEquals(later.get(c.shard(0)), 2);
    assertStrictEquals(later.has(c.shard(1)), false);
  });
}
