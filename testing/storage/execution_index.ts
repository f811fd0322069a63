/**
 * Conformance cases of the `ExecutionIndex` role: the summary that appends keep
 * up to date, the due-timer and running listings of shards, paged execution
 * listings and counts, running counts per shard, and retention.
 *
 * @module
 */
import type { ExecutionStatus } from "../../core/state.ts";
import type { Fence, StoredExecution } from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import {
  appendOf,
  assertOk,
  claimFresh,
  type ConformanceCase,
  type Ctx,
  definition,
  type ExecSpec,
  ids,
  putOk,
  T,
  walk,
} from "./fixtures.ts";

/** summary fields (status, endTime, lastSeq, nextTimerAt) follow later appends */
async function summaryFollowsAppends(c: Ctx): Promise<void> {
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
    expiresAt: null,
  });
}

/** listDueTimers: due running executions of the given shards, earliest first, limited */
async function listDueTimersAndRunning(c: Ctx): Promise<void> {
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
}

/** listExecutions: by workflow and status, newest first, paged with cursors; counts */
async function listExecutionsPagesAndCounts(c: Ctx): Promise<void> {
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
}

/** Every page of `page`, following `next` (a page may be short, even empty, while `next` remains). */
async function allPages(
  page: (cursor: string | null) => Promise<{ items: StoredExecution[]; next: string | null }>,
): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0;; pages++) {
    assert(pages < 1_000, "pagination does not end");
    const p: { items: StoredExecution[]; next: string | null } = await page(cursor);
    out.push(...ids(p.items));
    if (p.next === null) return out;
    cursor = p.next;
  }
}

/** listExecutions: a start-time window and an id prefix, alone and with the other filters, keyset-paged */
async function listExecutionsWindowAndPrefix(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const [wfA, wfB] = [c.id("wfa"), c.id("wfb")];
  const made: { id: string; wf: string; start: number; status: ExecutionStatus }[] = [];
  const make = async (name: string, wf: string, start: number, status: ExecutionStatus) => {
    const spec: ExecSpec = { id: c.id(name), workflowId: wf, fence, startTime: T + 10_000 + start };
    assertOk(await s.append(appendOf(spec, 0, 1)));
    if (status !== "running") assertOk(await s.append(appendOf(spec, 1, 1, { status })));
    made.push({ id: spec.id, wf, start: T + 10_000 + start, status });
  };
  // Ids under two prefixes ("x-" and "y-"), start times shared by pairs (the id breaks the tie).
  await make("x-a1", wfA, 10, "completed");
  await make("x-a2", wfA, 20, "failed");
  await make("x-b1", wfB, 20, "completed");
  await make("y-a1", wfA, 30, "completed");
  await make("x-a3", wfA, 40, "failed");
  await make("y-b1", wfB, 40, "failed");
  await make("x-b2", wfB, 50, "running");
  const newest = [...made].sort((a, b) => b.start - a.start || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0));
  const expect = (keep: (m: (typeof made)[number]) => boolean) => newest.filter(keep).map((m) => m.id);
  const ours = new Set(made.map((m) => m.id));
  const list = (q: Omit<Parameters<typeof s.listExecutions>[0], "limit" | "cursor">, limit = 2) =>
    allPages((cursor) => s.listExecutions({ ...q, limit, cursor }));
  const t = (ms: number) => T + 10_000 + ms;

  const x = c.id("x-");
  assertEquals(await list({ idPrefix: x }), expect((m) => m.id.startsWith(x)));
  assertEquals(await list({ idPrefix: x }, 1), expect((m) => m.id.startsWith(x)));
  assertEquals(await list({ idPrefix: c.id("x-a") }), expect((m) => m.id.startsWith(c.id("x-a"))));
  assertEquals(await list({ idPrefix: c.id("x-a2") }), [c.id("x-a2")]);
  assertEquals(await list({ idPrefix: c.id("z") }), []);
  assertEquals(await list({ idPrefix: c.id("X-") }), [], "case matters");
  assertEquals(
    await list({ idPrefix: x, workflowId: wfA }),
    expect((m) => m.id.startsWith(x) && m.wf === wfA),
  );
  assertEquals(
    await list({ idPrefix: x, status: "failed" }),
    expect((m) => m.id.startsWith(x) && m.status === "failed"),
  );
  assertEquals(
    await list({ idPrefix: x, workflowId: wfB, status: "running", from: t(50), to: t(50) }),
    [c.id("x-b2")],
  );
  assertEquals(
    await list({ idPrefix: x, from: t(20), to: t(40) }),
    expect((m) => m.id.startsWith(x) && m.start >= t(20) && m.start <= t(40)),
  );

  // The window, both ends included, alone and with each filter (other cases' runs are outside it).
  const inWindow = (m: (typeof made)[number]) => m.start >= t(20) && m.start <= t(40);
  assertEquals(await list({ from: t(20), to: t(40) }), expect(inWindow));
  assertEquals(await list({ from: t(20), to: t(40) }, 1), expect(inWindow));
  assertEquals((await list({ from: t(40) })).filter((id) => ours.has(id)), expect((m) => m.start >= t(40)));
  assertEquals(await list({ workflowId: wfA, to: t(20) }), expect((m) => m.wf === wfA && m.start <= t(20)));
  assertEquals(
    await list({ status: "failed", from: t(20), to: t(40) }),
    expect((m) => inWindow(m) && m.status === "failed"),
  );
  assertEquals(
    await list({ workflowId: wfA, status: "failed", from: t(20), to: t(40) }),
    expect((m) => inWindow(m) && m.wf === wfA && m.status === "failed"),
  );
  assertEquals(await list({ from: t(41), to: t(49) }), []);
  assertEquals(await list({ from: t(40), to: t(20) }), [], "an empty window");
}

/** deleteFinishedBefore deletes ended executions (events, outputs), never running ones or workflows */
async function deleteFinishedBeforeRetains(c: Ctx): Promise<void> {
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
}

/** countRunningByShard counts only running executions, per shard; shards with none are absent */
async function countRunningByShardCountsRunning(c: Ctx): Promise<void> {
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
}

/** The `ExecutionIndex` role's conformance cases, in order. */
export const EXECUTION_INDEX_CASES: ConformanceCase[] = [
  {
    title: "summary fields (status, endTime, lastSeq, nextTimerAt) follow later appends",
    run: summaryFollowsAppends,
  },
  {
    title: "listDueTimers: due running executions of the given shards, earliest first, limited",
    run: listDueTimersAndRunning,
  },
  {
    title: "listExecutions: by workflow and status, newest first, paged with cursors; counts",
    run: listExecutionsPagesAndCounts,
  },
  {
    title:
      "listExecutions: a start-time window and an id prefix, alone and with the other filters, keyset-paged",
    run: listExecutionsWindowAndPrefix,
  },
  {
    title: "deleteFinishedBefore deletes ended executions (events, outputs), never running ones or workflows",
    run: deleteFinishedBeforeRetains,
  },
  {
    title: "countRunningByShard counts only running executions, per shard; shards with none are absent",
    run: countRunningByShardCountsRunning,
  },
];
