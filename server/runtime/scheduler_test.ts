/**
 * The scheduler on a virtual clock (the simulator's event queue) over memory storage: each kind of schedule,
 * the trigger in the execution view, the operations of `ScheduleService`, and what the observer hears.
 */
import {
  manualExecutionId,
  metadataScheduleId,
  scheduledExecutionId,
  type ScheduleFire,
} from "../../core/schedule.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { Scheduler as SimClock, SIM_EPOCH } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import {
  quickWorkflow,
  type ScheduleNode,
  slowWorkflow,
  specOf,
  startScheduleNode,
  storeWorkflow,
} from "../../testing/schedules.ts";
import type { NewSchedule } from "./schedule_service.ts";

const MIN = 60_000;

/** A world: virtual time from `start` (epoch ms), memory storage, one node. */
async function world(start = SIM_EPOCH) {
  const sim = new SimClock();
  const clock = sim.clock("node-a", start - SIM_EPOCH);
  const storage = new MemoryStorage();
  const node = await startScheduleNode(storage, clock);
  return {
    sim,
    clock,
    storage,
    node,
    /** Moves virtual time on by `ms`, running everything due. */
    advance: (ms: number) => sim.run(sim.now + ms),
    /** The stored fires of a schedule, oldest first. */
    fires: async (id: string) => (await storage.listScheduleFires(id, 1_000)).reverse(),
  };
}

function newSchedule(id: string, workflowId: string, spec = specOf()): NewSchedule {
  return { id, workflowId, spec, source: "api", status: "active" };
}

/** The ticks of fires, relative to `t0`, in minutes. */
function minutes(fires: ScheduleFire[], t0: number): number[] {
  return fires.map((f) => (f.tickAt - t0) / MIN);
}

async function created(node: ScheduleNode, n: NewSchedule) {
  const r = await node.scheduler.create(n);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

Deno.test("scheduler: fixed_rate fires at anchor + k·interval, each run says why it ran", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    const s = await created(w.node, newSchedule("every-minute", "wf"));
    assertStrictEquals(s.state.nextTickAt, t0);
    await w.advance(5 * MIN + 500);
    const fires = await w.fires("every-minute");
    assertEquals(minutes(fires, t0), [0, 1, 2, 3, 4, 5]);
    assert(fires.every((f) => f.outcome === "started" && f.reason === "on_time"), JSON.stringify(fires));
    const id = scheduledExecutionId("every-minute", t0 + 3 * MIN);
    assertStrictEquals(fires[3].executionId, id);
    const view = await w.node.engine.view(id);
    assertStrictEquals(view?.status, "completed");
    assertEquals(view?.trigger, { kind: "schedule", scheduleId: "every-minute", tickAt: t0 + 3 * MIN });
    const listed = await w.storage.listExecutions({ workflowId: "wf", limit: 100 });
    assertStrictEquals(listed.items.length, 6);
    assertEquals(w.node.fires.map((f) => f.outcome), Array(6).fill("started"));
    assertStrictEquals(w.node.events.filter((e) => e === "schedule_fired").length, 6);
    assertStrictEquals(w.node.scheduler.live, 1);
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: immediate fires once at creation, then is completed", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    await created(w.node, newSchedule("once", "wf", specOf({ kind: "immediate", intervalMs: null })));
    await w.advance(10 * MIN);
    assertEquals(minutes(await w.fires("once"), t0), [0]);
    const s = await w.storage.getSchedule("once");
    assertStrictEquals(s?.status, "completed");
    assertStrictEquals(s?.state.runs, 1);
    assertStrictEquals(w.node.scheduler.live, 0);
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: fixed_delay counts each interval from the end of a slow run", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, slowWorkflow("slow", 5 * MIN));
    const t0 = w.clock.now();
    await created(w.node, newSchedule("delayed", "slow", specOf({ kind: "fixed_delay", intervalMs: MIN })));
    await w.advance(20 * MIN);
    const fires = await w.fires("delayed");
    // Runs take 5 minutes; each next tick is 1 minute after the previous run ended.
    assertEquals(minutes(fires, t0), [0, 6, 12, 18]);
    assert(fires.every((f) => f.outcome === "started"));
    const s = await w.storage.getSchedule("delayed");
    assertStrictEquals(s?.state.nextTickAt, null, "waiting for the live run");
    assertStrictEquals(w.node.scheduler.live, 1);
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: cron in Europe/Berlin across both DST changes fires once a day", async () => {
  const cases = [
    // Spring forward (2025-03-30): 02:30 does not exist and fires at 03:30 CEST.
    {
      start: Date.UTC(2025, 2, 28, 12),
      expected: [Date.UTC(2025, 2, 29, 1, 30), Date.UTC(2025, 2, 30, 1, 30), Date.UTC(2025, 2, 31, 0, 30)],
    },
    // Fall back (2025-10-26): 02:30 happens twice and fires once, at 02:30 CET.
    {
      start: Date.UTC(2025, 9, 24, 12),
      expected: [Date.UTC(2025, 9, 25, 0, 30), Date.UTC(2025, 9, 26, 1, 30), Date.UTC(2025, 9, 27, 1, 30)],
    },
  ];
  for (const { start, expected } of cases) {
    const w = await world(start);
    try {
      await storeWorkflow(w.storage, quickWorkflow("wf"));
      const spec = specOf({
        kind: "cron",
        intervalMs: null,
        cronExpression: "30 2 * * *",
        timezone: "Europe/Berlin",
      });
      await created(w.node, newSchedule("nightly", "wf", spec));
      await w.advance(3 * 86_400_000);
      const fires = await w.fires("nightly");
      assertEquals(
        fires.map((f) => new Date(f.tickAt).toISOString()),
        expected.map((t) => new Date(t).toISOString()),
      );
      assert(fires.every((f) => f.outcome === "started" && f.reason === "on_time"));
    } finally {
      await w.node.stop();
    }
  }
});

Deno.test("scheduler: a manual trigger starts a run now whatever the overlap", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, slowWorkflow("slow", 10 * MIN));
    const t0 = w.clock.now();
    await created(w.node, newSchedule("s", "slow", specOf({ overlap: "skip", intervalMs: 60 * MIN })));
    await w.advance(MIN);
    const r = await w.node.scheduler.trigger("s", { hello: 1 });
    assert(r.ok, JSON.stringify(r));
    assertStrictEquals(r.value.tickAt, w.clock.now());
    assertStrictEquals(r.value.executionId, manualExecutionId("s", r.value.tickAt));
    const view = await w.node.engine.view(r.value.executionId);
    assertEquals(view?.trigger, { kind: "schedule", scheduleId: "s", tickAt: r.value.tickAt });
    assertEquals((await w.node.engine.state(r.value.executionId))?.input, { hello: 1 });
    const fires = await w.fires("s");
    assertEquals(fires.map((f) => [f.tickAt - t0, f.reason]), [[0, "on_time"], [
      r.value.tickAt - t0,
      "manual",
    ]]);
    const s = await w.storage.getSchedule("s");
    assertStrictEquals(s?.state.nextTickAt, t0 + 60 * MIN, "the nominal ticks are untouched");
    assertStrictEquals(s?.state.runs, 2);
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: operations on the owner: get, pause, resume with catch-up, update, stop, delete", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    const id = metadataScheduleId("wf");
    await created(w.node, newSchedule(id, "wf", specOf({ catchUp: "skip" })));
    const exists = await w.node.scheduler.create(newSchedule(id, "wf"));
    assertStrictEquals(!exists.ok && exists.error.code, "schedule_exists");
    const missing = await w.node.scheduler.create(newSchedule("x", "nope"));
    assertStrictEquals(!missing.ok && missing.error.code, "workflow_not_found");
    await w.advance(MIN + 500);
    const detail = await w.node.scheduler.get(id);
    assert(detail.ok);
    assertEquals(detail.value.nextFireTimes.map((t) => (t - t0) / MIN), [2, 3, 4, 5, 6]);
    assertEquals(detail.value.recentFires.map((f) => (f.tickAt - t0) / MIN), [1, 0]);

    const paused = await w.node.scheduler.setStatus(id, "paused");
    assertStrictEquals(paused.ok && paused.value.status, "paused");
    await w.advance(5 * MIN);
    assertStrictEquals((await w.fires(id)).length, 2, "no fire while paused");
    assertStrictEquals(w.node.scheduler.armedAt(id), undefined);
    const resumed = await w.node.scheduler.setStatus(id, "active");
    assertStrictEquals(resumed.ok && resumed.value.status, "active");
    await w.advance(1);
    const afterResume = await w.fires(id);
    assertEquals(afterResume.slice(2).map((f) => [(f.tickAt - t0) / MIN, f.reason]), [
      [2, "catch_up_skip"],
      [3, "catch_up_skip"],
      [4, "catch_up_skip"],
      [5, "catch_up_skip"],
      [6, "catch_up_skip"],
    ]);
    assert(w.node.events.includes("schedule_catch_up") && w.node.events.includes("schedule_skipped"));

    const updated = await w.node.scheduler.update(id, specOf({ intervalMs: 10 * MIN, catchUp: "skip" }));
    assert(updated.ok);
    assertStrictEquals(updated.value.version, 4);
    assertStrictEquals(updated.value.state.nextTickAt, t0 + 10 * MIN);
    assertStrictEquals(w.node.scheduler.armedAt(id), t0 + 10 * MIN);

    const stopped = await w.node.scheduler.setStatus(id, "stopped");
    assertStrictEquals(stopped.ok && stopped.value.status, "stopped");
    const again = await w.node.scheduler.setStatus(id, "active");
    assertStrictEquals(!again.ok && again.error.code, "schedule_terminal");
    const trig = await w.node.scheduler.trigger(id);
    assertStrictEquals(!trig.ok && trig.error.code, "schedule_terminal");

    assert((await w.node.scheduler.delete(id)).ok);
    const gone = await w.node.scheduler.get(id);
    assertStrictEquals(!gone.ok && gone.error.code, "schedule_not_found");
    const twice = await w.node.scheduler.delete(id);
    assertStrictEquals(!twice.ok && twice.error.code, "schedule_not_found");
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: put creates, then replaces a workflow's schedule keeping its history", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    const id = metadataScheduleId("wf");
    const first = await w.node.scheduler.put({ ...newSchedule(id, "wf"), source: "metadata" });
    assert(first.ok);
    await w.advance(2 * MIN + 500);
    const same = await w.node.scheduler.put({ ...newSchedule(id, "wf"), source: "metadata" });
    assert(same.ok);
    assertStrictEquals(same.value.state.nextTickAt, t0 + 3 * MIN, "the same spec keeps its ticks");
    const hourly = specOf({ intervalMs: 60 * MIN });
    const replaced = await w.node.scheduler.put({ ...newSchedule(id, "wf", hourly), source: "metadata" });
    assert(replaced.ok);
    assertStrictEquals(replaced.value.state.nextTickAt, t0 + 60 * MIN);
    assertStrictEquals(replaced.value.state.runs, 3);
    const paused = await w.node.scheduler.put({ ...newSchedule(id, "wf", hourly), status: "paused" });
    assertStrictEquals(paused.ok && paused.value.status, "paused");
    assertStrictEquals(w.node.scheduler.live, 0);
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: put of the same spec again runs no completed immediate again, revives no stopped one", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const id = metadataScheduleId("wf");
    const once = {
      ...newSchedule(id, "wf", specOf({ kind: "immediate", intervalMs: null })),
      source: "metadata" as const,
    };
    assert((await w.node.scheduler.put(once)).ok);
    await w.advance(5_000);
    assertStrictEquals((await w.storage.getSchedule(id))?.status, "completed");
    const again = await w.node.scheduler.put(once);
    assertStrictEquals(again.ok && again.value.status, "completed");
    assertStrictEquals(again.ok && again.value.version, 1, "nothing written");
    await w.advance(5_000);
    assertStrictEquals((await w.fires(id)).length, 1, "the immediate schedule ran once");
    assert((await w.node.scheduler.setStatus(id, "stopped")).ok);
    const stopped = await w.node.scheduler.put(once);
    assertStrictEquals(stopped.ok && stopped.value.status, "stopped");
    await w.advance(5_000);
    assertStrictEquals((await w.fires(id)).length, 1);
    // A changed spec is a new schedule: it runs.
    const changed = await w.node.scheduler.put({ ...once, spec: { ...once.spec, input: { v: 2 } } });
    assertStrictEquals(changed.ok && changed.value.status, "active");
    await w.advance(5_000);
    assertEquals((await w.fires(id)).map((f) => f.outcome), ["started", "started"]);
    assertStrictEquals((await w.storage.getSchedule(id))?.status, "completed");
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: a tick of a deleted workflow is recorded skipped and the schedule ticks on", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    await created(w.node, newSchedule("s", "wf"));
    await w.advance(500);
    await w.storage.deleteWorkflow("wf");
    w.node.workflows.forgetLatest("wf");
    await w.advance(2 * MIN);
    const fires = await w.fires("s");
    assertEquals(fires.map((f) => [(f.tickAt - t0) / MIN, f.outcome, f.reason]), [
      [0, "started", "on_time"],
      [1, "skipped", "workflow_missing"],
      [2, "skipped", "workflow_missing"],
    ]);
    assertStrictEquals((await w.storage.getSchedule("s"))?.status, "active");
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: operations on a node that does not own the shard answer not_owner", async () => {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  const node = await startScheduleNode(storage, sim.clock("node-a"), { claimAll: false });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    const r = await node.scheduler.create(newSchedule("s", "wf"));
    assertStrictEquals(!r.ok && r.error.code, "not_owner");
    const t = await node.scheduler.trigger("s");
    assertStrictEquals(!t.ok && t.error.code, "not_owner");
    const p = await node.scheduler.setStatus("s", "paused");
    assertStrictEquals(!p.ok && p.error.code, "not_owner");
  } finally {
    await node.stop();
  }
});

Deno.test("scheduler: a schedule made paused and resumed later missed nothing: it starts from then", async () => {
  const w = await world();
  try {
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    const t0 = w.clock.now();
    const made = await w.node.scheduler.create({ ...newSchedule("later", "wf"), status: "paused" });
    assert(made.ok);
    assertStrictEquals(w.node.scheduler.live, 0);
    await w.advance(10 * MIN + 500);
    const resumed = await w.node.scheduler.setStatus("later", "active");
    assert(resumed.ok);
    assertStrictEquals(resumed.value.state.nextTickAt, t0 + 11 * MIN);
    await w.advance(2 * MIN);
    assertEquals(minutes(await w.fires("later"), t0), [11, 12]);
  } finally {
    await w.node.stop();
  }
});
