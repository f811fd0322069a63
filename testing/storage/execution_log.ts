/**
 * Conformance cases of the `ExecutionLog` role: appends fenced and checked
 * against the last sequence number (creates, conflicts, races, commit groups,
 * `requireLatestVersion`), and what they store read back exactly (events in
 * order, outputs, JSON documents with odd strings and their key order).
 *
 * @module
 */
import type { ExecutionEvent } from "../../core/events.ts";
import type { Json } from "../../core/json.ts";
import type { AppendRequest, AppendResult } from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import {
  appendOf,
  assertOk,
  assertSequenceConflict,
  assertStaleEpoch,
  claimFresh,
  type ConformanceCase,
  type Ctx,
  definition,
  errorOf,
  type ExecSpec,
  existingOf,
  putOk,
  race,
  T,
} from "./fixtures.ts";

/** append at expectedSeq 0 creates; the next at the right seq succeeds; readEvents in order */
async function appendCreatesThenFollows(c: Ctx): Promise<void> {
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
    expiresAt: null,
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
}

/** a wrong expectedSeq is a sequence_conflict carrying lastSeq, and writes nothing */
async function wrongExpectedSeqConflicts(c: Ctx): Promise<void> {
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
}

/** creating an existing id is execution_exists with the existing record */
async function createOfExistingIdIsExecutionExists(c: Ctx): Promise<void> {
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
    expiresAt: null,
  });
  assertEquals(await s.readEvents(spec.id), create.events);
  assertStrictEquals(await s.countExecutions(c.id("other")), 0);
}

/** racing appends with one expectedSeq: exactly one ok, the rest sequence_conflict */
async function racingAppendsHaveOneWinner(c: Ctx): Promise<void> {
  const s = c.storage;
  const spec: ExecSpec = { id: c.id("e"), workflowId: c.id("wf"), fence: await claimFresh(s, c.shard(0)) };
  const create = appendOf(spec, 0, 1);
  assertOk(await s.append(create));
  const N = 10;
  const requests = Array.from(
    { length: N },
    (_, i) => appendOf(spec, 1, 1, { tag: `racer${i}-`, outputs: [{ ref: "out", records: [{ racer: i }] }] }),
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
}

/** appendMany answers per request and writes only the ok ones */
async function appendManyAnswersPerRequest(c: Ctx): Promise<void> {
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
}

/** appendMany: requests for one execution in one batch apply in order */
async function appendManyAppliesOneExecutionInOrder(c: Ctx): Promise<void> {
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
}

/** outputs written with an append read back deep-equal (a JSON round trip) */
async function outputsRoundTrip(c: Ctx): Promise<void> {
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
}

/** requireLatestVersion: a create of a superseded or deleted version is workflow_changed */
async function requireLatestVersionRefusesOldVersions(c: Ctx): Promise<void> {
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
}

/** strings JSON can hold but SQL text cannot (NUL, lone surrogates) round-trip, and spoil no group */
async function oddStringsRoundTrip(c: Ctx): Promise<void> {
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
}

/** records and events read back with their keys in the order written */
async function keyOrderIsKept(c: Ctx): Promise<void> {
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
}

/** idempotency key and request hash are stored on create and kept by later appends */
async function idempotencyKeyIsKept(c: Ctx): Promise<void> {
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
}

/** The `ExecutionLog` role's conformance cases, in order. */
export const EXECUTION_LOG_CASES: ConformanceCase[] = [
  {
    title: "append at expectedSeq 0 creates; the next at the right seq succeeds; readEvents in order",
    run: appendCreatesThenFollows,
  },
  {
    title: "a wrong expectedSeq is a sequence_conflict carrying lastSeq, and writes nothing",
    run: wrongExpectedSeqConflicts,
  },
  {
    title: "creating an existing id is execution_exists with the existing record",
    run: createOfExistingIdIsExecutionExists,
  },
  {
    title: "racing appends with one expectedSeq: exactly one ok, the rest sequence_conflict",
    run: racingAppendsHaveOneWinner,
  },
  { title: "appendMany answers per request and writes only the ok ones", run: appendManyAnswersPerRequest },
  {
    title: "appendMany: requests for one execution in one batch apply in order",
    run: appendManyAppliesOneExecutionInOrder,
  },
  { title: "outputs written with an append read back deep-equal (a JSON round trip)", run: outputsRoundTrip },
  {
    title: "requireLatestVersion: a create of a superseded or deleted version is workflow_changed",
    run: requireLatestVersionRefusesOldVersions,
  },
  {
    title: "strings JSON can hold but SQL text cannot (NUL, lone surrogates) round-trip, and spoil no group",
    run: oddStringsRoundTrip,
  },
  { title: "records and events read back with their keys in the order written", run: keyOrderIsKept },
  {
    title: "idempotency key and request hash are stored on create and kept by later appends",
    run: idempotencyKeyIsKept,
  },
];
