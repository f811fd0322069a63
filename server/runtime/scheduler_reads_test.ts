/**
 * The scheduler's reads on a virtual clock over memory storage: schedules falling due together are read in
 * one listing (not one read each) and each fires once; a run's end that cannot change its schedule is not
 * read, while a fixed delay still counts from its run's end.
 */
import { scheduledExecutionId } from "../../core/schedule.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { Scheduler as SimClock, SIM_EPOCH } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { quickWorkflow, specOf, startScheduleNode, storeWorkflow } from "../../testing/schedules.ts";
import { BATCH_READ_MIN } from "./schedule_reads.ts";

const MIN = 60_000;

/** A world on a virtual clock whose storage counts the scheduler's reads of schedules. */
async function world() {
  const sim = new SimClock();
  const clock = sim.clock("node-a", 0);
  const storage = new MemoryStorage();
  const reads = { get: 0, listDue: 0 };
  const getSchedule = storage.getSchedule.bind(storage);
  const listDue = storage.listDueSchedules.bind(storage);
  storage.getSchedule = (id) => {
    reads.get++;
    return getSchedule(id);
  };
  storage.listDueSchedules = (shards, before, limit) => {
    reads.listDue++;
    return listDue(shards, before, limit);
  };
  const node = await startScheduleNode(storage, clock);
  await storeWorkflow(storage, quickWorkflow("wf"));
  return { sim, clock, storage, node, reads, advance: (ms: number) => sim.run(sim.now + ms) };
}

Deno.test("scheduler: schedules due in the same instant are read in one listing and each fires once", async () => {
  const w = await world();
  try {
    const n = 5 * BATCH_READ_MIN;
    const tick = SIM_EPOCH + MIN;
    for (let i = 0; i < n; i++) {
      const r = await w.node.scheduler.create({
        id: `burst-${i}`,
        workflowId: "wf",
        spec: specOf({ intervalMs: 3_600_000, startAt: tick }),
        source: "api",
        status: "active",
      });
      assert(r.ok);
    }
    const before = { ...w.reads };
    await w.advance(MIN + 500);
    assertEquals(w.reads.get - before.get, 0, "no schedule read alone");
    assertEquals(w.reads.listDue - before.listDue, 1, "one listing for the burst");
    assertStrictEquals(w.node.fires.length, n);
    for (let i = 0; i < n; i++) {
      const fires = await w.storage.listScheduleFires(`burst-${i}`, 10);
      assertEquals(fires.map((f) => [f.tickAt, f.outcome]), [[tick, "started"]]);
      const view = await w.node.engine.view(scheduledExecutionId(`burst-${i}`, tick));
      assertStrictEquals(view?.status, "completed");
    }
  } finally {
    await w.node.stop();
  }
});

Deno.test("scheduler: a run's end is not read when it cannot change the schedule; a fixed delay's still is", async () => {
  const w = await world();
  try {
    const rate = await w.node.scheduler.create({
      id: "rate",
      workflowId: "wf",
      spec: specOf({ intervalMs: MIN, startAt: SIM_EPOCH + MIN }),
      source: "api",
      status: "active",
    });
    assert(rate.ok);
    const before = w.reads.get;
    await w.advance(5 * MIN + 500);
    assertStrictEquals(w.node.fires.length, 5);
    assertEquals(w.reads.get - before, 5, "one read per fire, none per run end");

    const delay = await w.node.scheduler.create({
      id: "delay",
      workflowId: "wf",
      spec: specOf({ kind: "fixed_delay", intervalMs: MIN }),
      source: "api",
      status: "active",
    });
    assert(delay.ok);
    await w.advance(3 * MIN + 500);
    const ticks = (await w.storage.listScheduleFires("delay", 10)).map((f) => f.tickAt).reverse();
    assertEquals(ticks.length, 4, JSON.stringify(ticks));
    for (let i = 1; i < ticks.length; i++) {
      assertEquals(ticks[i] - ticks[i - 1], MIN, "counted from each end");
    }
  } finally {
    await w.node.stop();
  }
});
