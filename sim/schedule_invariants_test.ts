import { shardOf } from "../core/ids.ts";
import type { FireReason, Schedule, ScheduleFire } from "../core/schedule.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { specOf } from "../testing/schedules.ts";
import { ScheduleChecker } from "./schedule_invariants.ts";

const SHARDS = 16;

/** A stored fixed-rate schedule `s` (1 s, created at 0) with `fires` recorded; the checker's findings. */
async function check(
  spec: Partial<Schedule["spec"]>,
  fires: [tickAt: number, outcome: ScheduleFire["outcome"], reason: FireReason, firedAt?: number][],
  until: number,
  settledFrom: number | null = null,
): Promise<{ violations: string[]; passedOver: number }> {
  const base = new MemoryStorage();
  const shard = shardOf("s", SHARDS);
  const { epoch } = (await base.claimShard(shard, "n1", 0))!;
  const schedule: Schedule = {
    id: "s",
    workflowId: "w",
    spec: specOf({ intervalMs: 1_000, ...spec }),
    status: "active",
    source: "api",
    createdAt: 0,
    updatedAt: 0,
    version: 1,
    state: { nextTickAt: until + 1, lastTickAt: null, lastExecutionId: null, bufferedTickAt: null, runs: 0 },
  };
  assert((await base.createSchedule(schedule, { shard, epoch })).ok);
  const written = await base.recordScheduleState({
    scheduleId: "s",
    fence: { shard, epoch },
    expectedVersion: 1,
    fires: fires.map(([tickAt, outcome, reason, firedAt]) => ({
      scheduleId: "s",
      tickAt,
      firedAt: firedAt ?? tickAt,
      outcome,
      reason,
      executionId: null,
    })),
    state: schedule.state,
    status: "active",
  });
  assert(written.ok);
  const violations: string[] = [];
  const checker = new ScheduleChecker((invariant, message) => violations.push(`${invariant}: ${message}`));
  const s = { id: "s", workflowId: "w", body: {} };
  const stats = await checker.final(base, [s], { until, settledFrom, endedIfStartedBefore: 0 });
  return { violations, passedOver: stats.passedOver };
}

Deno.test("schedule invariants: a tick neither started nor recorded is lost", async () => {
  const r = await check({ overlap: "skip" }, [[0, "skipped", "overlap_skip"], [
    2_000,
    "skipped",
    "overlap_skip",
  ]], 2_500);
  assertEquals(r.violations.length, 1);
  assert(r.violations[0].startsWith("7 tick accounted") && r.violations[0].includes("lost"), r.violations[0]);
});

Deno.test("schedule invariants: a skip the policy does not allow is reported", async () => {
  const r = await check({ overlap: "allow", catchUp: "run_all" }, [
    [0, "skipped", "overlap_skip"],
    [1_000, "skipped", "catch_up_skip"],
    [2_000, "skipped", "catch_up_limit"],
  ], 2_500);
  assertEquals(r.violations.map((v) => v.slice(0, 40)), [
    "7 tick accounted: tick 1970-01-01T00:00:",
    "7 tick accounted: tick 1970-01-01T00:00:",
  ]);
  assert(r.violations[0].includes("overlap_skip") && r.violations[1].includes("catch_up_skip"));
});

Deno.test("schedule invariants: ticks passed over only past maxCatchUp + 1 due ones", async () => {
  // catchUp skip, maxCatchUp 1: an evaluation at 5.5 s with 6 ticks due records the oldest 2, passes 4 over.
  const past = await check({ catchUp: "skip", maxCatchUp: 1 }, [
    [0, "skipped", "catch_up_skip", 5_500],
    [1_000, "skipped", "catch_up_skip", 5_500],
  ], 5_500);
  assertEquals(past, { violations: [], passedOver: 4 });
  // With 2 ticks due at 1.5 s, nothing may be passed over: tick 2 s is lost.
  const within = await check({ catchUp: "skip", maxCatchUp: 1 }, [
    [0, "skipped", "catch_up_skip", 1_500],
    [1_000, "skipped", "catch_up_skip", 1_500],
  ], 2_500);
  assertEquals(within.violations.length, 1);
  assert(within.violations[0].includes("lost"));
});

Deno.test("schedule invariants: a catch-up after heal breaks invariant 8", async () => {
  const fires: Parameters<typeof check>[1] = [
    [0, "skipped", "catch_up_skip", 2_500],
    [1_000, "skipped", "catch_up_skip", 2_500],
    [2_000, "skipped", "catch_up_skip", 2_500],
  ];
  assertEquals((await check({ catchUp: "skip" }, fires, 2_500, 3_000)).violations, []);
  const after = await check({ catchUp: "skip" }, fires, 2_500, 1_500);
  assertEquals(after.violations.length, 1);
  assert(after.violations[0].startsWith("8 fire lag") && after.violations[0].includes("catch-up"));
});

Deno.test("schedule invariants: a tick recorded twice breaks invariant 6, a stale write invariant 2", () => {
  const violations: string[] = [];
  const checker = new ScheduleChecker((invariant, message) => violations.push(`${invariant}: ${message}`));
  const fire = (outcome: ScheduleFire["outcome"], reason: FireReason): ScheduleFire => ({
    scheduleId: "s",
    tickAt: 1_000,
    firedAt: 1_000,
    outcome,
    reason,
    executionId: null,
  });
  const write = (fires: ScheduleFire[]) => ({
    scheduleId: "s",
    fence: { shard: 0, epoch: 1 },
    expectedVersion: 1,
    fires,
    state: { nextTickAt: null, lastTickAt: null, lastExecutionId: null, bufferedTickAt: null, runs: 0 },
    status: "active" as const,
  });
  const ok = { ok: true as const, schedule: {} as Schedule };
  checker.checkWrite("n1", write([fire("buffered", "on_time")]), ok, 1);
  checker.checkWrite("n1", write([fire("skipped", "overlap_buffer_full")]), ok, 1);
  assertEquals(violations.length, 0, "a buffered tick may be skipped once");
  checker.checkWrite("n2", write([fire("skipped", "catch_up_skip")]), ok, 1);
  assertEquals(violations.length, 1);
  assert(violations[0].startsWith("6 tick once"));
  checker.checkWrite("n2", write([]), ok, 2);
  assert(violations[1].startsWith("2 fencing"), violations[1]);
});
