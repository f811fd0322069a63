/**
 * A tick storage refuses as recorded already is never retried for ever: a manual trigger takes neither a
 * nominal tick's run nor its record (its own id `<scheduleId>@m<tick>`, its tick moved off a nominal one), and
 * a tick whose record is taken anyway (a manual run made before that, a run started by another try) is passed
 * over — the schedule's state moves past it and its next ticks fire.
 */
import { shardOf } from "../../core/ids.ts";
import { manualExecutionId, scheduledExecutionId, type ScheduleFire } from "../../core/schedule.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import {
  quickWorkflow,
  type ScheduleNode,
  specOf,
  startScheduleNode,
  storeWorkflow,
} from "../../testing/schedules.ts";
import type { NewSchedule } from "./schedule_service.ts";

const MIN = 60_000;

/** Fires as [ms after t0, outcome, reason], oldest first. */
async function firesOf(storage: MemoryStorage, id: string, t0: number): Promise<[number, string, string][]> {
  const fires = (await storage.listScheduleFires(id, 1_000)).reverse();
  return fires.map((f: ScheduleFire) => [f.tickAt - t0, f.outcome, f.reason]);
}

async function create(node: ScheduleNode, n: NewSchedule): Promise<void> {
  const r = await node.scheduler.create(n);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
}

for (const catchUp of ["skip", "run_all"] as const) {
  Deno.test(`scheduler: a manual trigger at a jittered tick's time leaves the tick its run (catchUp ${catchUp})`, async () => {
    const sim = new SimClock();
    const clock = sim.clock("node-a");
    const storage = new MemoryStorage();
    const node = await startScheduleNode(storage, clock);
    try {
      await storeWorkflow(storage, quickWorkflow("wf"));
      const t0 = clock.now();
      const T = t0 + MIN;
      // The first tick is at T and fires at T + its jitter; the trigger comes at T exactly.
      await create(node, {
        id: "s",
        workflowId: "wf",
        source: "api",
        status: "active",
        spec: specOf({ startAt: T, jitterMs: 30_000, catchUp }),
      });
      await sim.run(sim.now + (T - clock.now()));
      assertStrictEquals(clock.now(), T);
      const r = await node.scheduler.trigger("s");
      assert(r.ok, JSON.stringify(r));
      assertEquals(r.value, { executionId: manualExecutionId("s", T + 1), tickAt: T + 1 });
      await sim.run(sim.now + 3 * MIN);
      assertEquals(await firesOf(storage, "s", t0), [
        [MIN, "started", "on_time"],
        [MIN + 1, "started", "manual"],
        [2 * MIN, "started", "on_time"],
        [3 * MIN, "started", "on_time"],
      ]);
      assertStrictEquals((await storage.getExecution(scheduledExecutionId("s", T)))?.status, "completed");
      const state = (await storage.getSchedule("s"))!.state;
      assertEquals([state.lastTickAt, state.nextTickAt, state.runs], [T + 2 * MIN, T + 3 * MIN, 4]);
    } finally {
      await node.stop();
    }
  });
}

Deno.test("scheduler: a tick whose record is taken already is passed over, on time or in a catch-up", async () => {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  const clockA = sim.clock("a");
  const t0 = clockA.now();
  const a = await startScheduleNode(storage, clockA, { name: "a" });
  let b: ScheduleNode | undefined;
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    await create(a, { id: "s", workflowId: "wf", source: "api", status: "active", spec: specOf() });
    await sim.run(sim.now + 500);
    // Ticks 2 and 5 are recorded already, the state not moved: as a manual run made at a tick's time by a
    // version before manual runs had their own ticks left them.
    const shard = shardOf("s", 8);
    const fence = { shard, epoch: a.engine.ownedShards.get(shard)! };
    const s = (await storage.getSchedule("s"))!;
    const taken = (m: number): ScheduleFire => ({
      scheduleId: "s",
      tickAt: t0 + m * MIN,
      firedAt: t0,
      outcome: "started",
      reason: "manual",
      executionId: `s@legacy-${m}`,
    });
    const planted = await storage.recordScheduleState({
      scheduleId: "s",
      fence,
      expectedVersion: s.version,
      fires: [taken(2), taken(5)],
      state: s.state,
      status: s.status,
    });
    assert(planted.ok, JSON.stringify(planted));
    // On time: tick 2 is passed over, 3 fires.
    await sim.run(sim.now + 3 * MIN);
    // A catch-up (the owner down from 3.5 to 7.5, run_once): 4 and 6 skipped, 5 passed over, 7 runs.
    await a.stop();
    await sim.run(sim.now + 4 * MIN);
    b = await startScheduleNode(storage, sim.clock("b"), { name: "b" });
    await sim.run(sim.now + MIN);
    assertEquals((await firesOf(storage, "s", t0)).map(([t, o, r]) => [t / MIN, o, r]), [
      [0, "started", "on_time"],
      [1, "started", "on_time"],
      [2, "started", "manual"],
      [3, "started", "on_time"],
      [4, "skipped", "catch_up_skip"],
      [5, "started", "manual"],
      [6, "skipped", "catch_up_skip"],
      [7, "started", "catch_up"],
      [8, "started", "on_time"],
    ]);
    const state = (await storage.getSchedule("s"))!.state;
    assertEquals([state.lastTickAt, state.nextTickAt], [t0 + 8 * MIN, t0 + 9 * MIN]);
  } finally {
    await a.stop();
    await b?.stop();
  }
});
