/**
 * A shard whose take-over failed half-way (storage failed while its running executions were being recovered)
 * is not left held-but-unannounced: the engine gives it up again, so that the cluster member re-claims it and
 * the scheduler hears of it then. Before, the engine kept the shard at its new epoch without telling its
 * listeners, and the member saw it held: the shard's schedules never fired again (found by the simulator,
 * `deno task sim --seed 38 --nodes 3 --duration 20s`).
 */
import { shardOf } from "../../core/ids.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { quickWorkflow, specOf, startScheduleNode, storeWorkflow } from "../../testing/schedules.ts";

const SHARDS = 8;

Deno.test("scheduler: a shard whose recovery failed is given up, and its schedules armed when re-claimed", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let failListRunning = false;
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "listRunning" && failListRunning) {
        return () => Promise.reject(new StorageUnavailable("simulated: listRunning failed"));
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  let id = "s-0";
  for (let i = 0; shardOf(id, SHARDS) !== 3; i++) id = `s-${i}`;
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a", shardCount: SHARDS });
  const b = await startScheduleNode(storage, sim.clock("b"), {
    name: "b",
    shardCount: SHARDS,
    claimAll: false,
  });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    const r = await a.scheduler.create({
      id,
      workflowId: "wf",
      spec: specOf(),
      source: "api",
      status: "active",
    });
    assert(r.ok);
    await sim.run(sim.now + 500);
    await a.stop();

    const epoch = (await storage.getShards()).find((s) => s.shard === 3)!.epoch;
    const first = await storage.claimShard(3, "b", epoch);
    failListRunning = true;
    await assertRejects(() => b.engine.acquireShard(3, first!.epoch), StorageUnavailable);
    failListRunning = false;
    assertStrictEquals(b.engine.ownedShards.has(3), false, "a shard not taken up whole is not held");
    assertStrictEquals(b.scheduler.armedAt(id), undefined);

    // The member's next sync claims it again (a new epoch) and takes it up.
    const again = await storage.claimShard(3, "b", first!.epoch);
    assertEquals(await b.engine.acquireShard(3, again!.epoch), 0);
    await sim.run(sim.now + 1);
    assertStrictEquals(b.engine.ownedShards.get(3), again!.epoch);
    assert(b.scheduler.armedAt(id) !== undefined, "the schedule is armed on its new owner");
  } finally {
    await a.stop();
    await b.stop();
  }
});
