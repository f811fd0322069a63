/**
 * The scheduler on PostgreSQL, on a clock moved by hand (the fire and its run are one fenced append there
 * too): fixed-rate fires with their trigger, catch-up after the owner was down 10 ticks, overlap skip, and a
 * fire racing a second engine on a stale epoch never starting a tick twice.
 */
import { shardOf } from "../../core/ids.ts";
import type { ScheduleSpec } from "../../core/schedule.ts";
import { openPostgres } from "../../storage/postgres.ts";
import type { Storage } from "../../storage/storage.ts";
import { assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import {
  ManualClock,
  quickWorkflow,
  type ScheduleNode,
  slowWorkflow,
  specOf,
  startScheduleNode,
  storeWorkflow,
} from "../../testing/schedules.ts";
import { sleep, waitUntil } from "../../testing/wait.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 2, 8);

/** Waits (real time) until no node's scheduler has anything in flight, a few times in a row. */
async function settled(nodes: ScheduleNode[]): Promise<void> {
  for (let calm = 0, rounds = 0; calm < 3; rounds++) {
    if (rounds > 5_000) throw new Error("the schedulers never settled");
    await sleep(1);
    calm = nodes.every((n) => n.scheduler.idle) ? calm + 1 : 0;
  }
}

/** A world on a fresh database: one storage, a clock moved by hand, nodes that come and go. */
async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  await withTempDatabase(async (url) => {
    const storage = await openPostgres({ url, poolMax: 5 });
    const w = new World(storage);
    try {
      await fn(w);
    } finally {
      for (const n of w.nodes) await n.stop();
      await storage.close();
    }
  });
}

class World {
  readonly clock = new ManualClock(T0);
  readonly nodes: ScheduleNode[] = [];
  constructor(readonly storage: Storage) {}

  async node(name: string): Promise<ScheduleNode> {
    const node = await startScheduleNode(this.storage, this.clock, { name });
    this.nodes.push(node);
    return node;
  }

  advanceTo(t: number): Promise<void> {
    return this.clock.advanceTo(t, () => settled(this.nodes));
  }

  async create(node: ScheduleNode, id: string, workflowId: string, spec: ScheduleSpec): Promise<void> {
    const r = await node.scheduler.create({ id, workflowId, spec, source: "api", status: "active" });
    if (!r.ok) throw new Error(r.error.message);
  }

  async fires(id: string): Promise<[number, string, string][]> {
    const fires = (await this.storage.listScheduleFires(id, 1_000)).reverse();
    return fires.map((f) => [(f.tickAt - T0) / MIN, f.outcome, f.reason]);
  }
}

pgTest(
  "scheduler on postgres: fixed_rate fires once per tick, each run with its trigger",
  () =>
    withWorld(async (w) => {
      const a = await w.node("a");
      await storeWorkflow(w.storage, quickWorkflow("wf"));
      await w.create(a, "s", "wf", specOf());
      await w.advanceTo(T0 + 3 * MIN + 500);
      assertEquals(await w.fires("s"), [0, 1, 2, 3].map((m) => [m, "started", "on_time"]));
      const view = await a.engine.view(`s@${T0 + 2 * MIN}`);
      assertEquals(view?.trigger, { kind: "schedule", scheduleId: "s", tickAt: T0 + 2 * MIN });
      const runs = await w.storage.listExecutions({ workflowId: "wf", limit: 100 });
      assertStrictEquals(runs.items.length, 4);
    }),
);

for (const catchUp of ["skip", "run_once", "run_all"] as const) {
  pgTest(
    `scheduler on postgres: catch-up ${catchUp} after the owner was down 10 ticks`,
    () =>
      withWorld(async (w) => {
        const a = await w.node("a");
        await storeWorkflow(w.storage, quickWorkflow("wf"));
        await w.create(a, "s", "wf", specOf({ catchUp }));
        await w.advanceTo(T0 + 1.5 * MIN);
        await a.stop();
        w.nodes.splice(0, 1);
        w.clock.current = T0 + 11.5 * MIN; // ticks 2..11 missed
        await w.node("b");
        await w.advanceTo(T0 + 12.5 * MIN);
        const missed = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        const expected = catchUp === "skip"
          ? missed.map((m) => [m, "skipped", "catch_up_skip"])
          : catchUp === "run_once"
          ? [...missed.slice(0, -1).map((m) => [m, "skipped", "catch_up_skip"]), [11, "started", "catch_up"]]
          : missed.map((m) => [m, "started", "catch_up"]);
        assertEquals(await w.fires("s"), [
          [0, "started", "on_time"],
          [1, "started", "on_time"],
          ...expected,
          [12, "started", "on_time"],
        ]);
      }),
  );
}

pgTest("scheduler on postgres: overlap skip while a slow run is live", () =>
  withWorld(async (w) => {
    const a = await w.node("a");
    await storeWorkflow(w.storage, slowWorkflow("slow", 150_000));
    await w.create(a, "s", "slow", specOf({ overlap: "skip" }));
    await w.advanceTo(T0 + 2.6 * MIN);
    await waitUntil("run 0 ended", async () =>
      (await w.storage.getExecution(`s@${T0}`))?.status === "completed");
    await w.advanceTo(T0 + 3.5 * MIN);
    assertEquals(await w.fires("s"), [
      [0, "started", "on_time"],
      [1, "skipped", "overlap_skip"],
      [2, "skipped", "overlap_skip"],
      [3, "started", "on_time"],
    ]);
  }));

pgTest(
  "scheduler on postgres: a fire racing a second engine on a stale epoch never starts a tick twice",
  () =>
    withWorld(async (w) => {
      const a = await w.node("a");
      await storeWorkflow(w.storage, quickWorkflow("wf"));
      await w.create(a, "s", "wf", specOf());
      await w.advanceTo(T0 + 500);
      const b = await w.node("b"); // takes every shard over; a still believes it owns them
      await w.advanceTo(T0 + 3 * MIN + 500);
      assertEquals(await w.fires("s"), [0, 1, 2, 3].map((m) => [m, "started", "on_time"]));
      const runs = await w.storage.listExecutions({ workflowId: "wf", limit: 100 });
      assertStrictEquals(runs.items.length, 4);
      assertStrictEquals(a.engine.ownedShards.has(shardOf("s", 8)), false, "a was fenced off");
      assertStrictEquals(b.scheduler.live, 1);
    }),
);
