/**
 * Schedules across the life of a shard on a node: a resumed fixed delay whose run ended unheard ticks on; a
 * node that lost a shard without knowing it can neither create nor change its schedules (the writes are fenced
 * by the shard's epoch) and gives the shard up; a shard's load does not re-arm a schedule from a read older
 * than a change made meanwhile; `stop` clears a pending load retry; failures are forgotten with the shard.
 */
import { shardOf } from "../../core/ids.ts";
import type { Schedule } from "../../core/schedule.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { type Page, type Storage, StorageUnavailable } from "../../storage/storage.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import {
  quickWorkflow,
  type ScheduleNode,
  slowWorkflow,
  specOf,
  startScheduleNode,
  storeWorkflow,
} from "../../testing/schedules.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { NewSchedule } from "./schedule_service.ts";

const MIN = 60_000;
const SHARDS = 8;

function newSchedule(id: string, workflowId: string, spec = specOf()): NewSchedule {
  return { id, workflowId, spec, source: "api", status: "active" };
}

async function create(node: ScheduleNode, n: NewSchedule): Promise<Schedule> {
  const r = await node.scheduler.create(n);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** A storage whose listed methods fail while `down` holds them (the others pass through). */
function flaky(memory: MemoryStorage, down: Set<string>): Storage {
  return new Proxy(memory, {
    get(target, prop) {
      if (typeof prop === "string" && down.has(prop)) {
        return () => Promise.reject(new StorageUnavailable(`simulated: ${prop} failed`));
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Claims `shard` for `node` at the next epoch and hands it to its engine. */
async function takeShard(storage: Storage, node: ScheduleNode, shard: number): Promise<number> {
  const held = new Map((await storage.getShards()).map((s) => [s.shard, s.epoch]));
  const claimed = await storage.claimShard(shard, node.name, held.get(shard) ?? 0);
  await node.engine.acquireShard(shard, claimed!.epoch);
  return claimed!.epoch;
}

Deno.test("scheduler: a paused fixed delay whose run ended unheard ticks on when resumed", async () => {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  let node = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  try {
    await storeWorkflow(storage, slowWorkflow("slow", 5 * MIN));
    await create(node, newSchedule("d", "slow", specOf({ kind: "fixed_delay", intervalMs: MIN })));
    await sim.run(sim.now + 1_000);
    assert((await node.scheduler.setStatus("d", "paused")).ok);
    // The node goes while the run is live; the next one ends the run as it recovers the shard, before its
    // scheduler hears of the shard: no one hears the end.
    await node.stop();
    await sim.run(sim.now + 10 * MIN);
    node = await startScheduleNode(storage, sim.clock("b"), { name: "b" });
    await sim.run(sim.now + 1_000);
    const before = (await storage.getSchedule("d"))!;
    assertStrictEquals(before.state.nextTickAt, null, "waiting for a run that ended");
    assertStrictEquals((await storage.getExecution(before.state.lastExecutionId!))?.status, "completed");
    const resumed = await node.scheduler.setStatus("d", "active");
    assert(resumed.ok);
    const resumedAt = sim.clock("b").now();
    await sim.run(sim.now + 2 * MIN);
    const fires = (await storage.listScheduleFires("d", 10)).reverse();
    assertEquals(fires.map((f) => [f.outcome, f.reason]), [["started", "on_time"], ["started", "on_time"]]);
    assertStrictEquals(fires[1].tickAt, resumedAt + MIN, "the delay counts from the resume");
  } finally {
    await node.stop();
  }
});

Deno.test("scheduler: a node fenced off a shard can neither create nor change its schedules, and gives it up", async () => {
  const sim = new SimClock();
  const storage = new MemoryStorage();
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  let b: ScheduleNode | undefined;
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    await create(a, newSchedule("s", "wf", specOf({ intervalMs: 60 * MIN })));
    await sim.run(sim.now + 500);
    // b takes every shard over (higher epochs) while a still believes it owns them.
    b = await startScheduleNode(storage, sim.clock("b"), { name: "b" });
    await sim.run(sim.now + 500);
    const stored = (await storage.getSchedule("s"))!;
    const shardOfT = shardOf("t", SHARDS);
    const madeOnA = await a.scheduler.create(newSchedule("t", "wf"));
    assertStrictEquals(!madeOnA.ok && madeOnA.error.code, "not_owner");
    assertStrictEquals(await storage.getSchedule("t"), undefined, "nothing stored that b would never fire");
    assertStrictEquals(a.engine.ownedShards.has(shardOfT), false, "a gave the shard up");
    const shard = shardOf("s", SHARDS);
    assert(a.engine.ownedShards.has(shard) || shard === shardOfT);
    const patched = await a.scheduler.update("s", specOf({ intervalMs: MIN }));
    assertStrictEquals(!patched.ok && patched.error.code, "not_owner");
    assertEquals(await storage.getSchedule("s"), stored, "a's change is refused");
    assertStrictEquals(a.engine.ownedShards.has(shard), false);
    // The real owner's writes hold, and it fires what it made.
    assert((await b.scheduler.update("s", specOf({ intervalMs: MIN }))).ok);
    await create(b, newSchedule("t", "wf"));
    await sim.run(sim.now + 2 * MIN);
    assert((await storage.listScheduleFires("t", 10)).length >= 2);
    assert((await b.scheduler.delete("t")).ok);
  } finally {
    await a.stop();
    await b?.stop();
  }
});

Deno.test("scheduler: a shard's load keeps the earlier fire time when the schedule changed meanwhile", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let gate: Promise<void> | undefined;
  let open = () => {};
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "listSchedules" && gate !== undefined) {
        const held = gate;
        return async (q: Parameters<MemoryStorage["listSchedules"]>[0]): Promise<Page<Schedule>> => {
          const page = await target.listSchedules(q); // read now, answered once the gate opens
          await held;
          return page;
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const clock = sim.clock("b");
  const t0 = clock.now();
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  const b = await startScheduleNode(storage, clock, { name: "b", claimAll: false });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    await create(a, newSchedule("s", "wf", specOf({ intervalMs: 60 * MIN, startAt: t0 + 60 * MIN })));
    await a.stop();
    gate = new Promise((resolve) => open = resolve);
    await takeShard(storage, b, shardOf("s", SHARDS));
    // While the load's page is held, the schedule is changed on b: its first tick is now in 5 minutes.
    const patched = await b.scheduler.update("s", specOf({ intervalMs: 5 * MIN, startAt: t0 + 5 * MIN }));
    assert(patched.ok, JSON.stringify(patched));
    assertStrictEquals(b.scheduler.armedAt("s"), t0 + 5 * MIN);
    gate = undefined;
    open();
    await sim.run(sim.now + 1);
    assertStrictEquals(b.scheduler.armedAt("s"), t0 + 5 * MIN, "not the page's older time");
    await sim.run(t0 + 10 * MIN + 500 - sim.clock("t").now() + sim.now);
    const fires = (await storage.listScheduleFires("s", 10)).reverse();
    assertEquals(fires.map((f) => (f.tickAt - t0) / MIN), [5, 10]);
  } finally {
    await a.stop();
    await b.stop();
  }
});

/** A clock that remembers the timers set on it and not yet run or cleared. */
function trackingClock(inner: Clock): Clock & { pending: Map<TimerHandle, number> } {
  const pending = new Map<TimerHandle, number>();
  return {
    pending,
    now: () => inner.now(),
    setTimer(delayMs, fn) {
      const handle: TimerHandle = inner.setTimer(delayMs, () => {
        pending.delete(handle);
        fn();
      });
      pending.set(handle, delayMs);
      return handle;
    },
    clearTimer(handle) {
      pending.delete(handle);
      inner.clearTimer(handle);
    },
  };
}

Deno.test("scheduler: stop clears a pending retry of a failed load", async () => {
  const sim = new SimClock();
  const down = new Set(["listSchedules"]);
  const storage = flaky(new MemoryStorage(), down);
  const clock = trackingClock(sim.clock("a"));
  const RETRY = 777_777;
  const node = await startScheduleNode(storage, clock, { limits: { retryMs: [RETRY] } });
  await sim.run(sim.now + 1);
  assert([...clock.pending.values()].includes(RETRY), "the load failed and waits to retry");
  await node.stop();
  assertEquals([...clock.pending.values()].filter((d) => d === RETRY), [], "no retry left behind");
});

Deno.test("scheduler: a shard given up forgets its schedules' failures; taken up again, back-off starts over", async () => {
  const sim = new SimClock();
  const down = new Set<string>();
  const storage = flaky(new MemoryStorage(), down);
  const clock = sim.clock("a");
  const node = await startScheduleNode(storage, clock, { name: "a" });
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    await create(node, newSchedule("s", "wf"));
    await sim.run(sim.now + 500);
    down.add("getSchedule");
    await sim.run(sim.now + MIN + 30_000); // the tick at 1 min fails again and again: the back-off grows
    const shard = shardOf("s", SHARDS);
    assert(node.scheduler.armedAt("s")! - clock.now() > 1_000, "backing off");
    node.engine.releaseShard(shard);
    assertStrictEquals(node.scheduler.armedAt("s"), undefined);
    await takeShard(storage, node, shard);
    await sim.run(sim.now + 1); // loaded, evaluated at once (its tick is due), failed once
    const retryIn = node.scheduler.armedAt("s")! - clock.now();
    assert(retryIn > 0 && retryIn <= 100, `the first step of the back-off (100 ms), got ${retryIn}`);
    down.clear();
    await sim.run(sim.now + 1_000);
    assertStrictEquals((await storage.listScheduleFires("s", 10)).length, 2);
  } finally {
    await node.stop();
  }
});
