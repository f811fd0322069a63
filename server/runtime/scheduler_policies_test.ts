/**
 * The scheduler's policies on a virtual clock over memory storage: overlap (skip, buffer_one, cancel_other),
 * catch-up (skip, run_once, run_all) after the owner was down for 10 ticks and another engine took over, and a
 * fire racing a second engine that took the shards over (a stale epoch) never starting a tick twice.
 */
import { shardOf } from "../../core/ids.ts";
import type { ScheduleFire, ScheduleSpec } from "../../core/schedule.ts";
import { MemoryStorage } from "../../storage/memory.ts";
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

const MIN = 60_000;

/** A world of one storage and virtual time, where nodes come and go. */
class World {
  readonly sim = new SimClock();
  readonly storage = new MemoryStorage();
  readonly nodes: ScheduleNode[] = [];
  readonly t0 = this.sim.clock("t0").now();

  async node(name: string): Promise<ScheduleNode> {
    const node = await startScheduleNode(this.storage, this.sim.clock(name), { name });
    this.nodes.push(node);
    return node;
  }

  advance(ms: number): Promise<number> {
    return this.sim.run(this.sim.now + ms);
  }

  /** Fires as [minute, outcome, reason], oldest first. */
  async fires(id: string): Promise<[number, string, string][]> {
    const fires = (await this.storage.listScheduleFires(id, 1_000)).reverse();
    return fires.map((f: ScheduleFire) => [(f.tickAt - this.t0) / MIN, f.outcome, f.reason]);
  }

  async create(node: ScheduleNode, id: string, workflowId: string, spec: ScheduleSpec): Promise<void> {
    const r = await node.scheduler.create({ id, workflowId, spec, source: "api", status: "active" });
    if (!r.ok) throw new Error(r.error.message);
  }

  async close(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }
}

Deno.test("scheduler: overlap skip records ticks that come while the run is live", async () => {
  const w = new World();
  try {
    const a = await w.node("a");
    await storeWorkflow(w.storage, slowWorkflow("slow", 150_000));
    await w.create(a, "s", "slow", specOf({ overlap: "skip" }));
    await w.advance(6 * MIN + 500);
    assertEquals(await w.fires("s"), [
      [0, "started", "on_time"],
      [1, "skipped", "overlap_skip"],
      [2, "skipped", "overlap_skip"],
      [3, "started", "on_time"],
      [4, "skipped", "overlap_skip"],
      [5, "skipped", "overlap_skip"],
      [6, "started", "on_time"],
    ]);
  } finally {
    await w.close();
  }
});

Deno.test("scheduler: buffer_one starts the buffered tick when the live run ends", async () => {
  const w = new World();
  try {
    const a = await w.node("a");
    await storeWorkflow(w.storage, slowWorkflow("slow", 150_000));
    await w.create(a, "s", "slow", specOf({ overlap: "buffer_one" }));
    await w.advance(5 * MIN + 500);
    // Run 0 lives 0–2.5; tick 1 waits and starts at 2.5 (until 5); tick 3 waits and starts at 5, when tick 5
    // comes and waits in turn.
    assertEquals(await w.fires("s"), [
      [0, "started", "on_time"],
      [1, "started", "buffered_run"],
      [2, "skipped", "overlap_buffer_full"],
      [3, "started", "buffered_run"],
      [4, "skipped", "overlap_buffer_full"],
      [5, "buffered", "on_time"],
    ]);
    const run1 = await a.engine.view("s@" + (w.t0 + MIN));
    assertStrictEquals(run1?.startTime, w.t0 + 150_000);
    const s = await w.storage.getSchedule("s");
    assertStrictEquals(s?.state.bufferedTickAt, w.t0 + 5 * MIN);
  } finally {
    await w.close();
  }
});

Deno.test("scheduler: cancel_other cancels the live run and starts the tick", async () => {
  const w = new World();
  try {
    const a = await w.node("a");
    await storeWorkflow(w.storage, slowWorkflow("slow", 150_000));
    await w.create(a, "s", "slow", specOf({ overlap: "cancel_other" }));
    await w.advance(2 * MIN + 500);
    assertEquals(await w.fires("s"), [
      [0, "started", "on_time"],
      [1, "started", "overlap_cancelled_other"],
      [2, "started", "overlap_cancelled_other"],
    ]);
    const first = await a.engine.view("s@" + w.t0);
    assertStrictEquals(first?.status, "cancelled");
    assert(first?.error?.message.includes("superseded by schedule tick"), JSON.stringify(first?.error));
    assertStrictEquals((await a.engine.view("s@" + (w.t0 + MIN)))?.status, "cancelled");
    assertStrictEquals((await a.engine.view("s@" + (w.t0 + 2 * MIN)))?.status, "running");
  } finally {
    await w.close();
  }
});

/**
 * Node a fires ticks 0 and 1, then is down from 1.5 to 11.5 (ticks 2..11, 10 of them, missed); node b starts
 * on the same storage, takes every shard and catches up by `catchUp`. Returns the fires from tick 2 on.
 */
async function downTenTicks(catchUp: ScheduleSpec["catchUp"], maxCatchUp = 100) {
  const w = new World();
  try {
    const a = await w.node("a");
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    await w.create(a, "s", "wf", specOf({ catchUp, maxCatchUp }));
    await w.advance(1.5 * MIN);
    await a.stop();
    await w.advance(10 * MIN);
    const b = await w.node("b");
    await w.advance(MIN);
    const fires = await w.fires("s");
    assertEquals(fires.slice(0, 2), [[0, "started", "on_time"], [1, "started", "on_time"]]);
    assertEquals(fires.at(-1), [12, "started", "on_time"], "on time again after the catch-up");
    return { fires: fires.slice(2, -1), events: b.events };
  } finally {
    await w.close();
  }
}

Deno.test("scheduler: catch-up skip after the owner was down 10 ticks runs none of them", async () => {
  const { fires, events } = await downTenTicks("skip");
  assertEquals(fires, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((m) => [m, "skipped", "catch_up_skip"]));
  assert(events.includes("schedule_catch_up"));
});

Deno.test("scheduler: catch-up run_once after the owner was down 10 ticks runs the latest", async () => {
  const { fires } = await downTenTicks("run_once");
  assertEquals(fires, [
    ...[2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => [m, "skipped", "catch_up_skip"]),
    [11, "started", "catch_up"],
  ]);
});

Deno.test("scheduler: catch-up run_all after the owner was down 10 ticks runs each, bounded", async () => {
  const all = await downTenTicks("run_all");
  assertEquals(all.fires, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((m) => [m, "started", "catch_up"]));
  // maxCatchUp 4: the newest 4 run; of the older ones at most maxCatchUp + 1 − 4 rows are recorded (the
  // state moves past the rest unrecorded).
  const bounded = await downTenTicks("run_all", 4);
  assertEquals(bounded.fires, [
    [2, "skipped", "catch_up_limit"],
    ...[8, 9, 10, 11].map((m) => [m, "started", "catch_up"]),
  ]);
});

Deno.test("scheduler: a fire racing a second engine on a stale epoch never starts a tick twice", async () => {
  const w = new World();
  try {
    const a = await w.node("a");
    await storeWorkflow(w.storage, quickWorkflow("wf"));
    await w.create(a, "s", "wf", specOf());
    await w.advance(500);
    // b takes every shard over (higher epochs) while a still believes it owns them: both fire tick 1.
    const b = await w.node("b");
    await w.advance(3 * MIN);
    assertEquals(await w.fires("s"), [
      [0, "started", "on_time"],
      [1, "started", "on_time"],
      [2, "started", "on_time"],
      [3, "started", "on_time"],
    ]);
    const runs = await w.storage.listExecutions({ workflowId: "wf", limit: 100 });
    assertStrictEquals(runs.items.length, 4);
    // a tried to fire (it is the only write it made there) and was fenced off the schedule's shard.
    assertStrictEquals(a.engine.ownedShards.has(shardOf("s", 8)), false);
    assertStrictEquals(a.engine.ownedShards.size, 7);
    assertStrictEquals(a.scheduler.live, 0);
    assertStrictEquals(b.scheduler.live, 1);
    const started = [...a.fires, ...b.fires].filter((f) => f.outcome === "started").map((f) => f.tickAt);
    assertEquals(started.length, new Set(started).size, "each tick started by one node");
  } finally {
    await w.close();
  }
});
