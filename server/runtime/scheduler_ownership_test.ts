/**
 * The scheduler follows its engine's shards: a shard taken up has its schedules loaded (a fixed delay whose
 * run ended while no one owned the shard ticks on), a shard given up has them dropped; a storage outage is
 * retried with back-off and the missed ticks caught up by the policy.
 */
import { shardOf } from "../../core/ids.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { type Storage, StorageUnavailable } from "../../storage/storage.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import {
  quickWorkflow,
  slowWorkflow,
  specOf,
  startScheduleNode,
  storeWorkflow,
} from "../../testing/schedules.ts";

const MIN = 60_000;
const SHARDS = 8;

/** Fires of `id` as [minute, outcome, reason], oldest first. */
async function fires(storage: Storage, id: string, t0: number) {
  const all = (await storage.listScheduleFires(id, 1_000)).reverse();
  return all.map((f) => [(f.tickAt - t0) / MIN, f.outcome, f.reason]);
}

/** Ids of schedules that land in `shard`. */
function idsIn(shard: number, n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i++) if (shardOf(`s-${i}`, SHARDS) === shard) ids.push(`s-${i}`);
  return ids;
}

Deno.test("scheduler: a shard taken up has its schedules armed, a shard given up has them dropped", async () => {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  const clock = sim.clock("b");
  const t0 = clock.now();
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  const b = await startScheduleNode(storage, clock, { name: "b", claimAll: false, limits: { loadPage: 2 } });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    const ids = [...idsIn(3, 5), ...idsIn(4, 2)];
    for (const id of ids) {
      const r = await a.scheduler.create({
        id,
        workflowId: "wf",
        spec: specOf(),
        source: "api",
        status: "active",
      });
      assert(r.ok);
    }
    await sim.run(sim.now + 500);
    await a.stop();
    assertStrictEquals(b.scheduler.live, 0);
    const held = new Map((await storage.getShards()).map((s) => [s.shard, s.epoch]));
    const claimed = await storage.claimShard(3, "b", held.get(3)!);
    await b.engine.acquireShard(3, claimed!.epoch);
    await sim.run(sim.now + 1);
    assertStrictEquals(b.scheduler.live, 5, "the shard's 5 schedules, loaded 2 a page");
    for (const id of idsIn(3, 5)) assertStrictEquals(b.scheduler.armedAt(id), t0 + MIN);
    await sim.run(sim.now + MIN);
    for (const id of idsIn(3, 5)) assertEquals((await fires(storage, id, t0)).map((f) => f[0]), [0, 1]);
    for (const id of idsIn(4, 2)) assertEquals((await fires(storage, id, t0)).map((f) => f[0]), [0]);
    b.engine.releaseShard(3);
    assertStrictEquals(b.scheduler.live, 0);
    await sim.run(sim.now + 2 * MIN);
    for (const id of idsIn(3, 5)) assertStrictEquals((await fires(storage, id, t0)).length, 2);
  } finally {
    await b.stop();
  }
});

/**
 * A fixed delay of 1 minute over 2-minute runs; node a stops at 1 (its run live), or only its scheduler stops
 * (so the run ends at 2 unheard); node b takes over at 6. Returns the ticks, in minutes.
 */
async function fixedDelayTakeover(onlySchedulerStops: boolean): Promise<number[]> {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  const t0 = sim.clock("t").now();
  let b: Awaited<ReturnType<typeof startScheduleNode>> | undefined;
  try {
    await storeWorkflow(storage, slowWorkflow("slow", 2 * MIN));
    const spec = specOf({ kind: "fixed_delay", intervalMs: MIN });
    const r = await a.scheduler.create({
      id: "d",
      workflowId: "slow",
      spec,
      source: "api",
      status: "active",
    });
    assert(r.ok);
    await sim.run(MIN);
    if (onlySchedulerStops) {
      await a.scheduler.stop();
      await sim.run(3 * MIN);
      assertStrictEquals((await storage.getExecution(`d@${t0}`))?.status, "completed");
    }
    await a.stop();
    await sim.run(6 * MIN);
    b = await startScheduleNode(storage, sim.clock("b"), { name: "b" });
    await sim.run(16 * MIN);
    const f = await fires(storage, "d", t0);
    assert(f.every((x) => x[1] === "started"), JSON.stringify(f));
    return f.map((x) => x[0] as number);
  } finally {
    await a.stop();
    await b?.stop();
  }
}

Deno.test("scheduler: a fixed delay whose run outlived its owner ticks on from the run's end", async () => {
  // b recovers run 0 at 6 and ends it (its delay overdue): the next tick is 1 minute after that end.
  assertEquals(await fixedDelayTakeover(false), [0, 7, 10, 13, 16]);
});

Deno.test("scheduler: a fixed delay whose run ended unheard ticks on when its shard is taken up", async () => {
  // The run ended at 2 with no scheduler to hear it: b finds it ended when it loads the schedule at 6 and
  // counts the delay from then.
  assertEquals(await fixedDelayTakeover(true), [0, 7, 10, 13, 16]);
});

Deno.test("scheduler: a storage outage is retried with back-off, then the missed ticks are caught up", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let down = false;
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "getSchedule" && down) return () => Promise.reject(new StorageUnavailable("down"));
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const clock = sim.clock("a");
  const t0 = clock.now();
  const node = await startScheduleNode(storage, clock);
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    const r = await node.scheduler.create({
      id: "s",
      workflowId: "wf",
      spec: specOf(),
      source: "api",
      status: "active",
    });
    assert(r.ok);
    await sim.run(sim.now + 500);
    down = true;
    await sim.run(3.2 * MIN);
    const during = await fires(storage, "s", t0);
    assertEquals(during, [[0, "started", "on_time"]]);
    down = false;
    await sim.run(4.5 * MIN);
    assertEquals(await fires(storage, "s", t0), [
      [0, "started", "on_time"],
      [1, "skipped", "catch_up_skip"],
      [2, "skipped", "catch_up_skip"],
      [3, "started", "catch_up"],
      [4, "started", "on_time"],
    ]);
  } finally {
    await node.stop();
  }
});
