/**
 * Conformance cases of the two retention passes of the `ExecutionIndex` role: the node's
 * (`deleteFinishedBefore`, over executions without an `expiresAt`) and the workflows' own (`deleteExpired`,
 * over those with one), and the `expiresAt` every write of the executions row keeps (a creating append, a
 * later one, a creating append with a schedule's fire). Times are below 1,000: under every other case's (`T`,
 * and the ≥ 1,000 of `execution_index.ts`'s retention case), so on a shared storage the node's pass here
 * deletes nothing of another case's, and that case's nothing of these.
 *
 * @module
 */
import type { ExecutionStatus } from "../../core/state.ts";
import { NEVER_EXPIRES } from "../../core/view.ts";
import type { Fence } from "../../storage/storage.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import {
  appendOf,
  assertOk,
  claimFresh,
  type ConformanceCase,
  type Ctx,
  definition,
  type ExecSpec,
  putOk,
} from "./fixtures.ts";
import { fireAppend, scheduleOf } from "./schedules.ts";

/** When this file's executions start and end. */
const START = 100;
const END = 500;

/** Asserts the execution is gone: its row, its history and its outputs. */
async function assertGone(c: Ctx, id: string): Promise<void> {
  assertStrictEquals(await c.storage.getExecution(id), undefined, `${id} deleted`);
  assertEquals(await c.storage.readEvents(id), [], `${id}: its history deleted`);
  assertStrictEquals(await c.storage.getOutput(id, "end"), undefined, `${id}: its outputs deleted`);
}

/** Asserts the execution is kept whole: its row, its three events and its output. */
async function assertKept(c: Ctx, id: string): Promise<void> {
  assertStrictEquals((await c.storage.getExecution(id))?.lastSeq, 3, `${id} kept`);
  assertStrictEquals((await c.storage.readEvents(id)).length, 3, `${id}: its history kept`);
  assertEquals(await c.storage.getOutput(id, "end"), [id], `${id}: its outputs kept`);
}

/** An execution created running, then ended (or not) by a second append whose summary has `expiresAt`. */
async function made(
  c: Ctx,
  fence: Fence,
  name: string,
  workflowId: string,
  status: ExecutionStatus,
  expiresAt: number | null | undefined,
  endTime: number = END,
): Promise<string> {
  const spec: ExecSpec = { id: c.id(name), workflowId, fence, startTime: START };
  assertOk(await c.storage.append(appendOf(spec, 0, 1)));
  const ended = appendOf(spec, 1, 2, {
    status,
    endTime: status === "running" ? null : endTime,
    expiresAt,
    outputs: [{ ref: "end", records: [spec.id] }],
  });
  assertOk(await c.storage.append(ended));
  return spec.id;
}

/** deleteExpired deletes executions past their own expiresAt, earliest first and bounded; deleteFinishedBefore only those without one */
async function ownRetentionPasses(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const [short, forever, none] = [c.id("short"), c.id("forever"), c.id("none")];
  for (const wf of [short, forever, none]) await putOk(s, definition(wf), 0);
  // `short` keeps its executions 1 ms, `forever` keeps them (retentionMs 0), `none` has no retention of its own.
  const s1 = await made(c, fence, "s1", short, "completed", END + 1);
  const s2 = await made(c, fence, "s2", short, "failed", END + 1);
  const s3 = await made(c, fence, "s3", short, "cancelled", END + 201, END + 200);
  const f1 = await made(c, fence, "f1", forever, "timed_out", NEVER_EXPIRES);
  const n1 = await made(c, fence, "n1", none, "completed", null);
  const n2 = await made(c, fence, "n2", none, "failed", undefined); // a summary without the field
  const r1 = await made(c, fence, "r1", short, "running", END + 1); // running: whatever the summary says

  assertStrictEquals((await s.getExecution(s1))?.expiresAt, END + 1);
  assertStrictEquals((await s.getExecution(f1))?.expiresAt, NEVER_EXPIRES);
  assertStrictEquals((await s.getExecution(n1))?.expiresAt, null);
  assertStrictEquals((await s.getExecution(n2))?.expiresAt, null);
  assertStrictEquals((await s.getExecution(r1))?.expiresAt, null, "never while running");

  // The node's pass: only the executions without a retention of their own, however long ago they ended.
  assertStrictEquals(await s.deleteFinishedBefore(END + 300, 10), 2);
  assertStrictEquals(await s.deleteFinishedBefore(END + 300, 10), 0);
  for (const id of [n1, n2]) await assertGone(c, id);
  for (const id of [s1, s2, s3, f1, r1]) await assertKept(c, id);

  // The workflows' pass: strictly past expiresAt, in batches of `limit`.
  assertStrictEquals(await s.deleteExpired(END + 1, 10), 0, "not before its time");
  assertStrictEquals(await s.deleteExpired(END + 2, 1), 1);
  assertStrictEquals(await s.deleteExpired(END + 2, 10), 1);
  assertStrictEquals(await s.deleteExpired(END + 2, 10), 0);
  for (const id of [s1, s2]) await assertGone(c, id);
  for (const id of [s3, f1, r1]) await assertKept(c, id);
  // Far later: the rest of `short` goes; `forever` and the running one stay.
  assertStrictEquals(await s.deleteExpired(9_000_000_000_000, 10), 1);
  await assertGone(c, s3);
  for (const id of [f1, r1]) await assertKept(c, id);
  assertStrictEquals(await s.countExecutions(short), 1);
  assertStrictEquals(await s.countExecutions(forever), 1);
  assertStrictEquals(await s.countExecutions(none), 0);
  assertStrictEquals((await s.getWorkflow(short))?.version, 1, "definitions are never deleted");
}

/** expiresAt follows appends: set at the end, null again when reopened; a creating append and a fire keep it */
async function expiresAtFollowsAppends(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const wf = c.id("wf");
  await putOk(s, definition(wf), 0);
  const spec: ExecSpec = { id: c.id("e"), workflowId: wf, fence, startTime: START };
  const expiresAt = async () => (await s.getExecution(spec.id))?.expiresAt;
  assertOk(await s.append(appendOf(spec, 0, 1)));
  assertStrictEquals(await expiresAt(), null);
  assertOk(await s.append(appendOf(spec, 1, 1, { status: "failed", endTime: END, expiresAt: END + 5 })));
  assertStrictEquals(await expiresAt(), END + 5);
  // Reopened (a retry): running again, so nothing expires it.
  assertOk(await s.append(appendOf(spec, 2, 1, { expiresAt: null })));
  assertStrictEquals(await expiresAt(), null);
  assertStrictEquals(await s.deleteExpired(9_000_000_000_000, 10), 0);
  // Ended again, later: its new end decides.
  assertOk(
    await s.append(appendOf(spec, 3, 1, { status: "completed", endTime: END + 50, expiresAt: END + 55 })),
  );
  assertStrictEquals(await expiresAt(), END + 55);

  // Created already ended (local nodes run inside the creating append), with and without a schedule's fire.
  const inline: ExecSpec = { id: c.id("inline"), workflowId: wf, fence, startTime: START };
  assertOk(await s.append(appendOf(inline, 0, 2, { status: "completed", endTime: END, expiresAt: END + 7 })));
  assertStrictEquals((await s.getExecution(inline.id))?.expiresAt, END + 7);
  const stored = await s.createSchedule(scheduleOf(c.id("sched"), wf, { nextTickAt: START }), fence);
  assert(stored.ok, JSON.stringify(stored));
  const fired = fireAppend(stored.schedule, fence, START, { executionId: c.id("fired") });
  fired.summary = { ...fired.summary, status: "completed", endTime: END, expiresAt: END + 9 };
  assertOk(await s.append(fired));
  assertStrictEquals((await s.getExecution(fired.executionId))?.expiresAt, END + 9);

  // Earliest first: END + 7, END + 9, END + 55.
  const left = async () => {
    const all = [inline.id, fired.executionId, spec.id];
    return (await Promise.all(all.map((id) => s.getExecution(id)))).flatMap((e) => e ? [e.executionId] : []);
  };
  assertStrictEquals(await s.deleteExpired(END + 60, 1), 1);
  assertEquals(await left(), [fired.executionId, spec.id]);
  assertStrictEquals(await s.deleteExpired(END + 60, 1), 1);
  assertEquals(await left(), [spec.id]);
  assertStrictEquals(await s.deleteExpired(END + 60, 10), 1);
  assertEquals(await left(), []);
}

/** The retention conformance cases, in order. */
export const RETENTION_CASES: ConformanceCase[] = [
  {
    title:
      "deleteExpired deletes executions past their own expiresAt, earliest first and bounded; deleteFinishedBefore only those without one",
    run: ownRetentionPasses,
  },
  {
    title:
      "expiresAt follows appends: set at the end, null again when reopened; a creating append and a fire keep it",
    run: expiresAtFollowsAppends,
  },
];
