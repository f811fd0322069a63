/**
 * Conformance cases of the `ScheduleStore` role and of the fire that rides on a creating append: schedules
 * stored, read back exactly and listed (by shard too); updates as a compare-and-set on the version; the
 * definition writes fenced by the shard's epoch; the owner's state writes and fires fenced by it, all or nothing, each tick recorded once (even with two writers
 * racing); the fires trimmed to `FIRES_KEPT`; the due listing. Cases may share a storage with others: each
 * uses ids, workflow ids and shards of its own, and counts active schedules by difference.
 *
 * @module
 */
import {
  type FireOutcome,
  type FireReason,
  FIRES_KEPT,
  type Schedule,
  SCHEDULE_DEFAULTS,
  scheduledExecutionId,
  type ScheduleFire,
  type ScheduleState,
  type ScheduleStatus,
} from "../../core/schedule.ts";
import type { AppendRequest, AppendResult, Fence, Storage } from "../../storage/storage.ts";
import type {
  ScheduleDeleteResult,
  ScheduleStateWrite,
  ScheduleWriteResult,
} from "../../storage/schedule_records.ts";
import { assert, assertEquals, assertStrictEquals } from "../assert.ts";
import {
  appendOf,
  assertOk,
  assertStaleEpoch,
  claimFresh,
  type ConformanceCase,
  type Ctx,
  definition,
  errorOf,
  putOk,
  race,
  T,
  walk,
} from "./fixtures.ts";

const MINUTE = 60_000;

/** A schedule of `workflowId`: a fixed rate of a minute, its next tick at `nextTickAt` (default T + 1 min). */
export function scheduleOf(
  id: string,
  workflowId: string,
  o: { status?: ScheduleStatus; nextTickAt?: number | null; input?: unknown } = {},
): Schedule {
  return {
    id,
    workflowId,
    spec: {
      ...SCHEDULE_DEFAULTS,
      kind: "fixed_rate",
      cronExpression: null,
      intervalMs: MINUTE,
      startAt: null,
      endAt: T + 1_000 * MINUTE,
      input: (o.input ?? { n: 1 }) as Schedule["spec"]["input"],
      overlap: "skip",
    },
    status: o.status ?? "active",
    source: "api",
    createdAt: T,
    updatedAt: T,
    version: 1,
    state: stateAt(o.nextTickAt === undefined ? T + MINUTE : o.nextTickAt),
  };
}

/** A state whose next tick is `nextTickAt`. */
function stateAt(nextTickAt: number | null, runs = 0, lastTickAt: number | null = null): ScheduleState {
  return { nextTickAt, lastTickAt, lastExecutionId: null, bufferedTickAt: null, runs };
}

/** A fire of tick `tickAt`. */
function fireOf(
  scheduleId: string,
  tickAt: number,
  outcome: FireOutcome = "skipped",
  executionId: string | null = null,
  reason: FireReason = outcome === "started" ? "on_time" : "catch_up_skip",
): ScheduleFire {
  return { scheduleId, tickAt, firedAt: tickAt + 5, outcome, reason, executionId };
}

/** The owner's write of `fires` and the state after them. */
function stateWrite(
  s: Schedule,
  fence: Fence,
  fires: ScheduleFire[],
  o: { expectedVersion?: number; status?: ScheduleStatus; state?: ScheduleState } = {},
): ScheduleStateWrite {
  const last = fires.at(-1)?.tickAt ?? null;
  return {
    scheduleId: s.id,
    fence,
    expectedVersion: o.expectedVersion ?? s.version,
    fires,
    state: o.state ?? stateAt(last === null ? null : last + MINUTE, 0, last),
    status: o.status ?? "active",
  };
}

/** The creating append of execution `executionId` carrying the started fire of tick `tickAt`. */
export function fireAppend(
  s: Schedule,
  fence: Fence,
  tickAt: number,
  o: { executionId?: string; expectedVersion?: number; runs?: number; requireLatest?: boolean } = {},
): AppendRequest {
  const executionId = o.executionId ?? scheduledExecutionId(s.id, tickAt);
  const req = appendOf({ id: executionId, workflowId: s.workflowId, fence, startTime: tickAt }, 0, 2, {
    outputs: [{ ref: "n2:1", records: [{ tickAt }] }],
  });
  req.scheduleFire = {
    fire: fireOf(s.id, tickAt, "started", executionId),
    state: {
      nextTickAt: tickAt + MINUTE,
      lastTickAt: tickAt,
      lastExecutionId: executionId,
      bufferedTickAt: null,
      runs: o.runs ?? 1,
    },
    status: "active",
    expectedVersion: o.expectedVersion ?? s.version,
  };
  if (o.requireLatest) req.requireLatestVersion = true;
  return req;
}

/** The fence of a shard never claimed (epoch 0). */
function unclaimed(shard: number): Fence {
  return { shard, epoch: 0 };
}

/** Stores a schedule that must be accepted (in a shard never claimed, or under `fence`); answers it as stored. */
async function created(storage: Storage, s: Schedule, at: number | Fence): Promise<Schedule> {
  const fence = typeof at === "number" ? unclaimed(at) : at;
  return okOf(await storage.createSchedule(s, fence), `create ${s.id}`);
}

/** Whether an accepted delete found the schedule. */
function deletedOf(r: ScheduleDeleteResult): boolean {
  assert(r.ok, `the delete should be accepted, got ${JSON.stringify(r)}`);
  return r.deleted;
}

/** The schedule of an accepted write. */
function okOf(r: ScheduleWriteResult, what = "schedule write"): Schedule {
  assert(r.ok, `${what} should succeed, got ${JSON.stringify(r)}`);
  return r.schedule;
}

/** The code of a refused schedule write. */
function refusedWith(r: ScheduleWriteResult): string {
  assert(!r.ok, `expected a refusal, got ${JSON.stringify(r)}`);
  return r.error.code;
}

/** The ticks of a schedule's fires, newest first. */
async function ticksOf(storage: Storage, id: string, limit = FIRES_KEPT * 2): Promise<number[]> {
  return (await storage.listScheduleFires(id, limit)).map((f) => f.tickAt);
}

/** Asserts that a refused append with a fire wrote nothing: no execution, no fire, the schedule as before. */
async function assertNothingWritten(storage: Storage, req: AppendRequest, before: Schedule): Promise<void> {
  const fire = req.scheduleFire!.fire;
  assertStrictEquals(await storage.getExecution(req.executionId), undefined, "no execution");
  assertEquals(await storage.readEvents(req.executionId), [], "no events");
  assertStrictEquals(await storage.getOutput(req.executionId, "n2:1"), undefined, "no output");
  const fires = await storage.listScheduleFires(fire.scheduleId, FIRES_KEPT);
  assert(!fires.some((f) => f.executionId === req.executionId), "no fire of this execution");
  assertEquals(await storage.getSchedule(before.id), before, "the schedule as it was");
}

/** The code of a refused append. */
const codeOf = (r: AppendResult) => errorOf(r).code;

/** schedules: stored once at version 1, read back exactly, listed by id with filters and pages */
async function storedReadListed(c: Ctx): Promise<void> {
  const s = c.storage;
  const wf = c.id("wf");
  const odd = { text: 'nul \u0000, "quoted", 𝄞', z: 1, a: [1, "two", null, { deep: true }] };
  const a = scheduleOf(c.id("a"), wf, { input: odd });
  assertEquals(await created(s, { ...a, version: 7 }, c.shard(0)), a, "stored at version 1");
  assertEquals(await s.getSchedule(a.id), a);
  const again = await s.createSchedule(
    { ...a, workflowId: c.id("other"), status: "paused" },
    unclaimed(c.shard(1)),
  );
  assert(!again.ok && again.error.code === "schedule_exists", JSON.stringify(again));
  if (!again.ok && again.error.code === "schedule_exists") assertEquals(again.error.existing, a);
  assertEquals(await s.getSchedule(a.id), a, "the first one stays");
  assertStrictEquals(await s.getSchedule(c.id("missing")), undefined);
  const b = await created(s, scheduleOf(c.id("b"), wf, { status: "paused", nextTickAt: null }), c.shard(1));
  const d = await created(s, scheduleOf(c.id("d"), wf), c.shard(0));
  const other = await created(s, scheduleOf(c.id("c"), c.id("wf2")), c.shard(0));
  assertEquals((await s.listSchedules({ workflowId: wf, limit: 10 })).items, [a, b, d], "by id");
  assertEquals((await s.listSchedules({ workflowId: wf, limit: 10 })).next, null);
  assertEquals((await s.listSchedules({ workflowId: wf, status: "active", limit: 10 })).items, [a, d]);
  assertEquals((await s.listSchedules({ workflowId: wf, status: "paused", limit: 10 })).items, [b]);
  assertEquals((await s.listSchedules({ workflowId: c.id("wf2"), limit: 10 })).items, [other]);
  const first = await s.listSchedules({ workflowId: wf, limit: 2 });
  assertEquals(first.items, [a, b]);
  assertStrictEquals(first.next, b.id);
  assertEquals((await s.listSchedules({ workflowId: wf, limit: 2, cursor: first.next })).items, [d]);
  assertEquals(await walk((cursor) => s.listSchedules({ workflowId: wf, limit: 1, cursor }), 1), [a, b, d]);
  const everyone = await walk((cursor) => s.listSchedules({ limit: 3, cursor }), 3);
  const mine = new Set([a.id, b.id, d.id, other.id]);
  assertEquals(everyone.filter((x) => mine.has(x.id)).map((x) => x.id), [a.id, b.id, other.id, d.id]);
}

/** schedules: an update is a compare-and-set on the version, which it bumps; createdAt stays */
async function updateIsCompareAndSet(c: Ctx): Promise<void> {
  const s = c.storage;
  const a = await created(s, scheduleOf(c.id("a"), c.id("wf")), c.shard(0));
  const f0 = unclaimed(c.shard(0));
  const changed: Schedule = {
    ...a,
    spec: { ...a.spec, intervalMs: 5 * MINUTE, input: { changed: true } },
    status: "paused",
    createdAt: T + 999,
    updatedAt: T + 5,
    state: stateAt(null, 3, T + MINUTE),
  };
  const v2 = okOf(await s.updateSchedule(changed, 1, f0));
  assertEquals(v2, { ...changed, createdAt: T, version: 2 });
  assertEquals(await s.getSchedule(a.id), v2);
  assertStrictEquals(
    refusedWith(await s.updateSchedule({ ...changed, status: "stopped" }, 1, f0)),
    "schedule_changed",
  );
  assertEquals(await s.getSchedule(a.id), v2, "a refused update writes nothing");
  const v3 = okOf(await s.updateSchedule({ ...v2, status: "active", updatedAt: T + 9 }, 2, f0));
  assertStrictEquals(v3.version, 3);
  assertStrictEquals(v3.updatedAt, T + 9);
  const ghost = scheduleOf(c.id("ghost"), c.id("wf"));
  assertStrictEquals(refusedWith(await s.updateSchedule(ghost, 1, f0)), "schedule_not_found");
  assertStrictEquals(await s.getSchedule(ghost.id), undefined);
}

/** schedules: the owner's state write is fenced and all or nothing; each tick is recorded once */
async function stateWriteFencedOnce(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const a = await created(s, scheduleOf(c.id("a"), c.id("wf")), fence);
  const first = stateWrite(a, fence, [fireOf(a.id, T + 1), fireOf(a.id, T + 2)]);
  const after = okOf(await s.recordScheduleState(first));
  assertEquals(after, { ...a, state: first.state }, "the state moves; the version stays");
  assertEquals(await s.getSchedule(a.id), after);
  assertEquals(
    await s.listScheduleFires(a.id, 10),
    [fireOf(a.id, T + 2), fireOf(a.id, T + 1)],
    "newest first",
  );
  const refusals: [ScheduleStateWrite, string][] = [
    [stateWrite(a, fence, [fireOf(a.id, T + 3), fireOf(a.id, T + 2)]), "tick_recorded"],
    [stateWrite(a, fence, [fireOf(a.id, T + 4), fireOf(a.id, T + 4, "buffered")]), "tick_recorded"],
    [stateWrite(a, fence, [fireOf(a.id, T + 3)], { expectedVersion: 2 }), "schedule_changed"],
    [stateWrite(a, { ...fence, epoch: 2 }, [fireOf(a.id, T + 3)]), "stale_epoch"],
  ];
  for (const [write, code] of refusals) {
    assertStrictEquals(refusedWith(await s.recordScheduleState(write)), code);
    assertEquals(await s.getSchedule(a.id), after, `${code}: the schedule as it was`);
    assertEquals(await ticksOf(s, a.id), [T + 2, T + 1], `${code}: no fire written`);
  }
  // A buffered tick is recorded once more with what became of it, and then never again.
  okOf(await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, T + 5, "buffered")])));
  assertStrictEquals(
    refusedWith(await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, T + 5, "buffered")]))),
    "tick_recorded",
  );
  okOf(
    await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, T + 5, "skipped", null, "overlap_skip")])),
  );
  assertEquals((await s.listScheduleFires(a.id, 1))[0], fireOf(a.id, T + 5, "skipped", null, "overlap_skip"));
  assertStrictEquals(
    refusedWith(await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, T + 5)]))),
    "tick_recorded",
  );
  // A write with no fire moves the state and status alone.
  const done = okOf(await s.recordScheduleState(stateWrite(a, fence, [], { status: "completed" })));
  assertStrictEquals(done.status, "completed");
  assertEquals(done.state, stateAt(null));
  // Another member claims the shard: the old epoch is refused, the new one holds.
  assertEquals(await s.claimShard(fence.shard, "node-2", 1), {
    shard: fence.shard,
    owner: "node-2",
    epoch: 2,
  });
  const stale = await s.recordScheduleState(stateWrite(done, fence, [fireOf(a.id, T + 6)]));
  assertStrictEquals(refusedWith(stale), "stale_epoch");
  if (!stale.ok && stale.error.code === "stale_epoch") assertStrictEquals(stale.error.currentEpoch, 2);
  assertEquals(await s.getSchedule(a.id), done);
  okOf(await s.recordScheduleState(stateWrite(done, { ...fence, epoch: 2 }, [fireOf(a.id, T + 6)])));
  // A schedule in a shard never claimed: its epoch is 0.
  const b = await created(s, scheduleOf(c.id("b"), c.id("wf")), c.shard(1));
  const unclaimed = await s.recordScheduleState(stateWrite(b, { shard: c.shard(1), epoch: 1 }, []));
  if (!unclaimed.ok && unclaimed.error.code === "stale_epoch") {
    assertStrictEquals(unclaimed.error.currentEpoch, 0);
  } else throw new Error(`a never claimed shard is at epoch 0, got ${JSON.stringify(unclaimed)}`);
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, { ...fence, epoch: 2 })), true);
  assertStrictEquals(
    refusedWith(await s.recordScheduleState(stateWrite(done, { ...fence, epoch: 2 }, [fireOf(a.id, T + 7)]))),
    "schedule_not_found",
  );
}

/** schedules: a tick rides on one creating append only, even with two writers racing */
async function tickFiredOnceRacing(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const a = await created(s, scheduleOf(c.id("a"), c.id("wf")), fence);
  // Two writers fire tick 1 with its execution id: one creates it, the other finds it.
  const tick1 = T + MINUTE;
  const results = await race(
    [fireAppend(a, fence, tick1, { runs: 1 }), fireAppend(a, fence, tick1, { runs: 9 })]
      .map((r) => s.append(r)),
  );
  assertStrictEquals(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
  for (const r of results) if (!r.ok) assert(["execution_exists", "tick_recorded"].includes(codeOf(r)));
  const winner = results[0].ok ? 1 : 9;
  assertStrictEquals((await s.getSchedule(a.id))?.state.runs, winner, "the winner's state");
  // Four writers fire a tick under different execution ids: the tick decides, one runs (five ticks in a row).
  let won = fireAppend(a, fence, T);
  for (let round = 0; round < 5; round++) {
    const tick = T + 2 * MINUTE + round;
    const racers = Array.from(
      { length: 4 },
      (_, k) => fireAppend(a, fence, tick, { executionId: c.id(`x${round}-${k}`), runs: 2 + k }),
    );
    const raced = await race(racers.map((r) => s.append(r)));
    assertStrictEquals(raced.filter((r) => r.ok).length, 1, JSON.stringify(raced));
    won = racers[raced.findIndex((r) => r.ok)];
    for (const [k, r] of raced.entries()) {
      if (r.ok) continue;
      assertStrictEquals(codeOf(r), "tick_recorded");
      assertStrictEquals(await s.getExecution(racers[k].executionId), undefined, "a loser created nothing");
    }
    assertStrictEquals((await s.getExecution(won.executionId))?.lastSeq, 2);
  }
  const tick2 = T + 2 * MINUTE + 4;
  const fires = await s.listScheduleFires(a.id, 10);
  assertStrictEquals(fires.length, 6, "one fire a tick");
  assertEquals(fires[0], won.scheduleFire!.fire);
  assertEquals(fires[5].executionId, scheduledExecutionId(a.id, tick1));
  assertEquals((await s.getSchedule(a.id))?.state, won.scheduleFire!.state);
  // In one group: two ticks apply in order; a tick named twice is recorded once.
  const tick3 = T + 3 * MINUTE, tick4 = T + 4 * MINUTE;
  const group = await s.appendMany([
    fireAppend(a, fence, tick3, { runs: 3 }),
    fireAppend(a, fence, tick4, { runs: 4 }),
    fireAppend(a, fence, tick4, { executionId: c.id("z"), runs: 5 }),
  ]);
  assertOk(group[0]);
  assertOk(group[1]);
  assertStrictEquals(codeOf(group[2]), "tick_recorded");
  assertStrictEquals((await s.getSchedule(a.id))?.state.runs, 4);
  assertEquals((await ticksOf(s, a.id)).slice(0, 3), [tick4, tick3, tick2]);
  assertStrictEquals(await s.getExecution(c.id("z")), undefined);
}

/** schedules: an append with a fire is all or nothing: refused, it writes no execution, no fire, no state */
async function fireAppendAllOrNothing(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  await putOk(s, definition(c.id("wf")), 0);
  let a = await created(s, scheduleOf(c.id("a"), c.id("wf")), fence);
  const tick = (k: number) => T + k * MINUTE;
  // The tick was recorded (skipped) before.
  okOf(await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, tick(1))])));
  a = (await s.getSchedule(a.id))!;
  const recorded = fireAppend(a, fence, tick(1));
  assertStrictEquals(codeOf(await s.append(recorded)), "tick_recorded");
  await assertNothingWritten(s, recorded, a);
  // The schedule changed since the owner decided.
  a = okOf(await s.updateSchedule({ ...a, updatedAt: T + 1 }, 1, fence));
  const moved = fireAppend(a, fence, tick(2), { expectedVersion: 1 });
  assertStrictEquals(codeOf(await s.append(moved)), "schedule_changed");
  await assertNothingWritten(s, moved, a);
  // The workflow changed since the owner read it.
  await putOk(s, definition(c.id("wf"), "version 2"), 1);
  const oldVersion = fireAppend(a, fence, tick(2), { requireLatest: true });
  assertStrictEquals(codeOf(await s.append(oldVersion)), "workflow_changed");
  await assertNothingWritten(s, oldVersion, a);
  // Another member took the shard.
  await s.claimShard(fence.shard, "node-2", 1);
  const stale = fireAppend(a, fence, tick(2));
  assertStaleEpoch(await s.append(stale), 2);
  await assertNothingWritten(s, stale, a);
  // With the new epoch and version it holds, whole.
  const owner = { ...fence, epoch: 2 };
  const ok = fireAppend(a, owner, tick(2));
  assertOk(await s.append(ok));
  assertEquals(await s.readEvents(ok.executionId), ok.events);
  assertEquals(await s.getOutput(ok.executionId, "n2:1"), [{ tickAt: tick(2) }]);
  assertEquals((await s.listScheduleFires(a.id, 1))[0], ok.scheduleFire!.fire);
  a = { ...a, state: ok.scheduleFire!.state };
  assertEquals(await s.getSchedule(a.id), a, "the state after the fire, at the same version");
  // A buffered tick starts once.
  okOf(
    await s.recordScheduleState(
      stateWrite(a, owner, [fireOf(a.id, tick(3), "buffered")], { state: a.state }),
    ),
  );
  const buffered = fireAppend(a, owner, tick(3), { runs: 2 });
  buffered.scheduleFire!.fire.reason = "buffered_run";
  assertOk(await s.append(buffered));
  assertEquals((await s.listScheduleFires(a.id, 1))[0], buffered.scheduleFire!.fire);
  a = { ...a, state: buffered.scheduleFire!.state };
  const twice = fireAppend(a, owner, tick(3), { executionId: c.id("twice") });
  assertStrictEquals(codeOf(await s.append(twice)), "tick_recorded");
  await assertNothingWritten(s, twice, a);
  // A group answers each append on its own.
  const plain = appendOf({ id: c.id("plain"), workflowId: c.id("wf"), fence: owner }, 0, 1);
  const group = await s.appendMany([plain, fireAppend(a, owner, tick(4), { runs: 3 }), twice]);
  assertOk(group[0]);
  assertOk(group[1]);
  assertStrictEquals(codeOf(group[2]), "tick_recorded");
  // The schedule deleted: its runs are refused.
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, owner)), true);
  const gone = fireAppend(a, owner, tick(5));
  assertStrictEquals(codeOf(await s.append(gone)), "schedule_changed");
  assertStrictEquals(await s.getExecution(gone.executionId), undefined);
  assertEquals(await s.listScheduleFires(a.id, 10), []);
}

/** schedules: fires are trimmed to the newest FIRES_KEPT, by state writes and by appends */
async function firesTrimmed(c: Ctx): Promise<void> {
  const s = c.storage;
  const fence = await claimFresh(s, c.shard(0));
  const a = await created(s, scheduleOf(c.id("a"), c.id("wf")), fence);
  const ticks = (from: number, n: number) => Array.from({ length: n }, (_, k) => fireOf(a.id, T + from + k));
  okOf(await s.recordScheduleState(stateWrite(a, fence, ticks(1, FIRES_KEPT))));
  let kept = await ticksOf(s, a.id);
  assertStrictEquals(kept.length, FIRES_KEPT);
  assertAll(kept, T + FIRES_KEPT, T + 1);
  assertOk(await s.append(fireAppend(a, fence, T + FIRES_KEPT + 1)));
  kept = await ticksOf(s, a.id);
  assertStrictEquals(kept.length, FIRES_KEPT, "an append trims the oldest");
  assertAll(kept, T + FIRES_KEPT + 1, T + 2);
  okOf(await s.recordScheduleState(stateWrite(a, fence, ticks(FIRES_KEPT + 2, 3))));
  kept = await ticksOf(s, a.id);
  assertStrictEquals(kept.length, FIRES_KEPT);
  assertAll(kept, T + FIRES_KEPT + 4, T + 5);
  // More fires in one write than are kept: the newest of them.
  okOf(await s.recordScheduleState(stateWrite(a, fence, ticks(5_000, FIRES_KEPT + 5))));
  kept = await ticksOf(s, a.id);
  assertStrictEquals(kept.length, FIRES_KEPT);
  assertAll(kept, T + 5_000 + FIRES_KEPT + 4, T + 5_005);
  assertEquals(await ticksOf(s, a.id, 3), kept.slice(0, 3));
  assertOk(await s.append(fireAppend(a, fence, T + 9_000)));
  assertStrictEquals((await ticksOf(s, a.id)).length, FIRES_KEPT);
}

/** Asserts newest-first consecutive ticks from `newest` down to `oldest`. */
function assertAll(ticks: number[], newest: number, oldest: number): void {
  assertStrictEquals(ticks[0], newest);
  assertStrictEquals(ticks.at(-1), oldest);
  for (let i = 1; i < ticks.length; i++) {
    assertStrictEquals(ticks[i - 1] - ticks[i], 1, "consecutive, newest first");
  }
}

/** schedules: the due listing has the active ones of the shards asked, earliest first, bounded */
async function dueListing(c: Ctx): Promise<void> {
  const s = c.storage;
  const [s0, s1, s2] = [c.shard(0), c.shard(1), c.shard(2)];
  const wf = c.id("wf");
  const make = (name: string, shard: number, o: Parameters<typeof scheduleOf>[2]) =>
    created(s, scheduleOf(c.id(name), wf, o), shard);
  const a = await make("a", s0, { nextTickAt: T + 30 });
  const b = await make("b", s1, { nextTickAt: T + 10 });
  const cc = await make("c", s0, { nextTickAt: T + 10 });
  await make("d", s0, { status: "paused", nextTickAt: T + 5 });
  await make("e", s1, { nextTickAt: null });
  const f = await make("f", s2, { nextTickAt: T + 1 });
  const g = await make("g", s0, { nextTickAt: T + 100 });
  assertEquals(await s.listDueSchedules([s0, s1], T + 50, 10), [b, cc, a], "earliest first, ties by id");
  assertEquals(await s.listDueSchedules([s1, s0], T + 50, 2), [b, cc], "bounded");
  assertEquals(await s.listDueSchedules([s0, s1], T + 10, 10), [b, cc], "at or before");
  assertEquals(await s.listDueSchedules([s2], T + 50, 10), [f]);
  assertEquals(await s.listDueSchedules([s0, s1, s2], T + 1_000, 10), [f, b, cc, a, g]);
  assertEquals(await s.listDueSchedules([], T + 1_000, 10), []);
  assertEquals(await s.listDueSchedules([c.shard(3)], Number.MAX_SAFE_INTEGER, 10), []);
  // The listing by shards (an owner's load of the shards it took up), by id and paged.
  const ids = (xs: Schedule[]) => xs.map((x) => x.id);
  const d = (await s.getSchedule(c.id("d")))!, e = (await s.getSchedule(c.id("e")))!;
  assertEquals(
    ids((await s.listSchedules({ workflowId: wf, shards: [s0], limit: 10 })).items),
    ids([a, cc, d, g]),
  );
  assertEquals(
    await walk(
      (cursor) => s.listSchedules({ workflowId: wf, status: "active", shards: [s2, s1], limit: 1, cursor }),
      1,
    ),
    [b, e, f],
  );
  assertEquals((await s.listSchedules({ workflowId: wf, shards: [], limit: 10 })).items, []);
  assertEquals((await s.listSchedules({ workflowId: wf, shards: [c.shard(3)], limit: 10 })).items, []);
  const fence = await claimFresh(s, s1);
  const bLater = okOf(await s.recordScheduleState(stateWrite(b, fence, [], { state: stateAt(T + 200) })));
  const fence0 = await claimFresh(s, s0);
  okOf(
    await s.recordScheduleState(stateWrite(cc, fence0, [], { status: "completed", state: stateAt(T + 10) })),
  );
  okOf(await s.updateSchedule({ ...a, status: "paused" }, 1, fence0));
  assertEquals(await s.listDueSchedules([s0, s1, s2], T + 1_000, 10), [f, g, bLater]);
}

/** schedules: a definition write (create, update, delete) is fenced by the shard's epoch its owner holds */
async function definitionWritesFenced(c: Ctx): Promise<void> {
  const s = c.storage;
  const wf = c.id("wf");
  // A shard never claimed is at epoch 0.
  const free = scheduleOf(c.id("free"), wf);
  assertStrictEquals(
    refusedWith(await s.createSchedule(free, { shard: c.shard(1), epoch: 1 })),
    "stale_epoch",
  );
  assertStrictEquals(await s.getSchedule(free.id), undefined, "a refused create stores nothing");
  await created(s, free, c.shard(1));
  // The owner at epoch 1 writes; after another member claims the shard (epoch 2), its writes are refused.
  const old = await claimFresh(s, c.shard(0));
  const a = await created(s, scheduleOf(c.id("a"), wf), old);
  const v2 = okOf(await s.updateSchedule({ ...a, status: "paused", updatedAt: T + 1 }, 1, old));
  await s.claimShard(old.shard, "node-2", 1);
  const owner = { ...old, epoch: 2 };
  const b = scheduleOf(c.id("b"), wf);
  const stale = await s.createSchedule(b, old);
  assertStrictEquals(refusedWith(stale), "stale_epoch");
  if (!stale.ok && stale.error.code === "stale_epoch") assertStrictEquals(stale.error.currentEpoch, 2);
  assertStrictEquals(await s.getSchedule(b.id), undefined);
  assertStrictEquals(
    refusedWith(await s.updateSchedule({ ...v2, status: "active", updatedAt: T + 2 }, 2, old)),
    "stale_epoch",
  );
  assertStrictEquals(
    refusedWith(await s.updateSchedule(scheduleOf(c.id("ghost"), wf), 1, old)),
    "stale_epoch",
    "the fence first, then the rest",
  );
  const deleted = await s.deleteSchedule(a.id, old);
  assert(!deleted.ok && deleted.error.code === "stale_epoch", JSON.stringify(deleted));
  if (!deleted.ok) assertStrictEquals(deleted.error.currentEpoch, 2);
  assertEquals(await s.getSchedule(a.id), v2, "refused writes change nothing");
  // The new owner's writes hold.
  await created(s, b, owner);
  const v3 = okOf(await s.updateSchedule({ ...v2, status: "active", updatedAt: T + 2 }, 2, owner));
  assertStrictEquals(v3.version, 3);
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, owner)), true);
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, owner)), false);
  assertStrictEquals(deletedOf(await s.deleteSchedule(b.id, owner)), true);
  assertStrictEquals(deletedOf(await s.deleteSchedule(free.id, unclaimed(c.shard(1)))), true);
}

/** schedules: a delete takes the fires along; countActiveSchedules counts the active ones */
async function deletedAndCounted(c: Ctx): Promise<void> {
  const s = c.storage;
  const before = await s.countActiveSchedules();
  const fence = await claimFresh(s, c.shard(0));
  const a = await created(s, scheduleOf(c.id("a"), c.id("wf")), fence);
  const b = await created(s, scheduleOf(c.id("b"), c.id("wf"), { status: "paused" }), fence);
  assertStrictEquals(await s.countActiveSchedules(), before + 1);
  okOf(await s.updateSchedule({ ...b, status: "active" }, 1, fence));
  assertStrictEquals(await s.countActiveSchedules(), before + 2);
  okOf(await s.recordScheduleState(stateWrite(a, fence, [fireOf(a.id, T + 1), fireOf(a.id, T + 2)])));
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, fence)), true);
  assertStrictEquals(await s.getSchedule(a.id), undefined);
  assertEquals(await s.listScheduleFires(a.id, 10), []);
  assertStrictEquals(deletedOf(await s.deleteSchedule(a.id, fence)), false);
  assertStrictEquals(await s.countActiveSchedules(), before + 1);
  // The same id made again starts with no fires, and its old ticks are free.
  const again = await created(s, a, fence);
  assertEquals(await s.listScheduleFires(again.id, 10), []);
  okOf(await s.recordScheduleState(stateWrite(again, fence, [fireOf(a.id, T + 1)])));
  assertStrictEquals(deletedOf(await s.deleteSchedule(b.id, fence)), true);
  assertStrictEquals(deletedOf(await s.deleteSchedule(again.id, fence)), true);
  assertStrictEquals(await s.countActiveSchedules(), before);
}

/** The schedule store's conformance cases, in order. */
export const SCHEDULE_CASES: ConformanceCase[] = [
  {
    title: "schedules: stored once at version 1, read back exactly, listed by id with filters and pages",
    run: storedReadListed,
  },
  {
    title: "schedules: an update is a compare-and-set on the version, which it bumps",
    run: updateIsCompareAndSet,
  },
  {
    title: "schedules: the owner's state write is fenced and all or nothing; each tick is recorded once",
    run: stateWriteFencedOnce,
  },
  {
    title: "schedules: a tick rides on one creating append only, even with two writers racing",
    run: tickFiredOnceRacing,
  },
  {
    title:
      "schedules: an append with a fire is all or nothing: refused, it writes no execution, fire or state",
    run: fireAppendAllOrNothing,
  },
  {
    title: "schedules: fires are trimmed to the newest FIRES_KEPT, by state writes and by appends",
    run: firesTrimmed,
  },
  {
    title: "schedules: the due listing has the active ones of the shards asked, earliest first",
    run: dueListing,
  },
  {
    title: "schedules: a definition write (create, update, delete) is fenced by the shard's epoch",
    run: definitionWritesFenced,
  },
  {
    title: "schedules: a delete takes the fires along; countActiveSchedules counts active ones",
    run: deletedAndCounted,
  },
];
