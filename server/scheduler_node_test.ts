/**
 * A real node's scheduler, wired by `startNode`, on a clock moved by hand: a schedule added through the API
 * fires on the node's own timers, its runs show their trigger, the metrics count the fires and the cluster
 * event log keeps them; after a restart on the same storage the missed ticks are caught up.
 */
import { MemoryStorage } from "../storage/memory.ts";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { ManualClock } from "../testing/schedules.ts";
import { createWorkflow, getJson, n, postJson, startTestNode, wf } from "../testing/server.ts";
import { sleep } from "../testing/wait.ts";
import type { RunningNode } from "./start.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9);

/** Waits (real time) until the node's scheduler has nothing in flight, twice in a row. */
async function settled(node: RunningNode): Promise<void> {
  for (let calm = 0, rounds = 0; calm < 2; rounds++) {
    if (rounds > 2_000) throw new Error("the scheduler never settled");
    await sleep(0);
    calm = node.scheduler.idle ? calm + 1 : 0;
  }
}

/** The value of a sample in the metrics text (0 when absent). */
function sample(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

Deno.test("node: a schedule added through the API fires on the node's timers, counted and logged", async () => {
  const clock = new ManualClock(T0);
  const storage = new MemoryStorage();
  let node = await startTestNode({ clock, storage });
  try {
    await createWorkflow(node, wf("wf", [n("one", "source/sequence.numbers", { start: 1, end: 2 })], []));
    const add = await postJson(node, "/api/v1/schedules/add", {
      id: "every-minute",
      workflowId: "wf",
      scheduleType: "fixed_rate",
      interval: "1m",
      catchUp: "run_once",
    });
    assertEquals(add.status, 201, add.text);
    await clock.advanceTo(T0 + 2 * MIN + 500, () => settled(node));
    const detail = await getJson(node, "/api/v1/schedules/every-minute");
    assertEquals(detail.status, 200, detail.text);
    // deno-lint-ignore no-explicit-any
    const fires = detail.body.recentFires as any[];
    assertEquals(fires.map((f) => [f.tickAt - T0, f.outcome, f.reason]), [
      [2 * MIN, "started", "on_time"],
      [MIN, "started", "on_time"],
      [0, "started", "on_time"],
    ]);
    const run = await getJson(node, `/api/v1/executions/${fires[0].executionId}`);
    assertEquals(run.body.trigger, { kind: "schedule", scheduleId: "every-minute", tickAt: T0 + 2 * MIN });
    const metrics = (await getJson(node, "/metrics")).text;
    assertStrictEquals(sample(metrics, 'schedule_fires_total{outcome="started"}'), 3);
    assertStrictEquals(sample(metrics, "schedules_live"), 1);
    assertStrictEquals(sample(metrics, "schedule_fire_lag_seconds_count"), 3);
    assertStrictEquals(sample(metrics, 'workflow_cluster_events_total{type="schedule_fired"}'), 3);
    const events = await getJson(node, "/api/v1/events?type=schedule_fired");
    assertStrictEquals(events.body.events.length, 3);

    // Down for 5 ticks (3..7), then another node on the same storage catches up (run_once).
    await node.close();
    clock.current = T0 + 7 * MIN + 30_000;
    node = await startTestNode({ clock, storage });
    await clock.advanceTo(clock.now() + 1, () => settled(node));
    const after = await getJson(node, "/api/v1/schedules/every-minute");
    // deno-lint-ignore no-explicit-any
    const recent = (after.body.recentFires as any[]).map((f) => [(f.tickAt - T0) / MIN, f.outcome, f.reason]);
    assertEquals(recent.slice(0, 5), [
      [7, "started", "catch_up"],
      [6, "skipped", "catch_up_skip"],
      [5, "skipped", "catch_up_skip"],
      [4, "skipped", "catch_up_skip"],
      [3, "skipped", "catch_up_skip"],
    ]);
    const catchUps = await getJson(node, "/api/v1/events?type=schedule_catch_up");
    assertStrictEquals(catchUps.body.events.length, 1);
    assert(catchUps.body.events[0].details.scheduleId === "every-minute");
  } finally {
    await node.close();
  }
});
