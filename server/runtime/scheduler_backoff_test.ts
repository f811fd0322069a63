/**
 * A schedule whose evaluations kept failing backs off (up to 30 s by default); once another evaluation of the
 * node goes through, storage answers again and it is retried at once instead of waiting out its back-off with
 * its ticks late. Found by the simulator (`deno task sim --seed 38 --nodes 3 --duration 20s`: a schedule fired
 * 5 s after heal, a catch-up, as its back-off ran out).
 */
import { shardOf } from "../../core/ids.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { quickWorkflow, specOf, startScheduleNode, storeWorkflow } from "../../testing/schedules.ts";

const SEC = 1_000;

Deno.test("scheduler: a success retries the schedules in back-off at once", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let failing = false;
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "getSchedule" && failing) {
        return (id: string) =>
          id === "slow" ? Promise.reject(new StorageUnavailable("simulated")) : memory.getSchedule(id);
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const clock = sim.clock("a");
  const t0 = clock.now();
  const node = await startScheduleNode(storage, clock);
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    for (const [id, intervalMs] of [["slow", 10 * SEC], ["fast", 2 * SEC]] as const) {
      const r = await node.scheduler.create({
        id,
        workflowId: "wf",
        spec: specOf({ intervalMs }),
        source: "api",
        status: "active",
      });
      assert(r.ok);
    }
    await sim.run(sim.now + 500);
    failing = true; // "slow" fails from its tick at 10 s on: 100, 250, 500, 1 s, 2 s, 5 s, 10 s, 30 s, ...
    await sim.run(sim.now + 40 * SEC);
    failing = false;
    const back = clock.now();
    await sim.run(sim.now + 5 * SEC); // "fast" goes through at its next tick (within 2 s)
    const slow = (await storage.listScheduleFires("slow", 100)).reverse();
    const after = slow.filter((f) => f.firedAt >= back);
    assert(after.length > 0, "slow fired again");
    assert(
      after[0].firedAt - back <= 2 * SEC + 100,
      `slow fired ${after[0].firedAt - back} ms after recovery`,
    );
    assertEquals(slow[0].tickAt, t0, "its first tick fired on time");
  } finally {
    await node.stop();
  }
});

Deno.test("scheduler: a success retries a failed load of shards at once", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let failing = false;
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "listSchedules" && failing) {
        return () => Promise.reject(new StorageUnavailable("simulated"));
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const idIn = (shard: number) => {
    for (let i = 0;; i++) if (shardOf(`s-${i}`, 8) === shard) return `s-${i}`;
  };
  const [fast, slow] = [idIn(1), idIn(2)];
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  const b = await startScheduleNode(storage, sim.clock("b"), { name: "b", claimAll: false });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    for (const [id, intervalMs] of [[fast, 2 * SEC], [slow, 10 * SEC]] as const) {
      const r = await a.scheduler.create({
        id,
        workflowId: "wf",
        spec: specOf({ intervalMs }),
        source: "api",
        status: "active",
      });
      assert(r.ok);
    }
    await sim.run(sim.now + 500);
    await a.stop();
    const take = async (shard: number) => {
      const epoch = (await storage.getShards()).find((s) => s.shard === shard)!.epoch;
      const claimed = await storage.claimShard(shard, "b", epoch);
      await b.engine.acquireShard(shard, claimed!.epoch);
    };
    await take(1);
    await sim.run(sim.now + 1);
    assert(b.scheduler.armedAt(fast) !== undefined);
    failing = true;
    await take(2); // its load fails, and backs off: 100, 250, 500, 1 s, 2 s, 5 s, 10 s, 30 s, ...
    await sim.run(sim.now + 40 * SEC);
    assertEquals(b.scheduler.armedAt(slow), undefined);
    failing = false;
    await sim.run(sim.now + 2.1 * SEC); // "fast" goes through at its next tick
    assert(b.scheduler.armedAt(slow) !== undefined, "the shard's schedules are loaded");
  } finally {
    await a.stop();
    await b.stop();
  }
});
