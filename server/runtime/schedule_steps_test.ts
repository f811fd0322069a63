/**
 * A decision is written in tick order, each write leaving the state as if the evaluation stopped after it: an
 * evaluation that dies between two writes leaves the unwritten ticks due, never passed unrecorded. Found by the
 * simulator (`deno task sim --seed 283 --nodes 3 --duration 20s`: a catch-up's skip was lost when the write
 * after its start was fenced off).
 */
import type { Schedule } from "../../core/schedule.ts";
import { decideTicks, initialState } from "../../core/schedule_decide.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { quickWorkflow, specOf, startScheduleNode, storeWorkflow } from "../../testing/schedules.ts";
import { stepsOf } from "./schedule_steps.ts";

const MIN = 60_000;
const none = () => undefined;

function scheduleOf(partial: Partial<Schedule["spec"]>, state: Partial<Schedule["state"]> = {}): Schedule {
  const spec = { ...specOf({ intervalMs: 1_000 }), ...partial };
  return {
    id: "s",
    workflowId: "w",
    spec,
    status: "active",
    source: "api",
    createdAt: 0,
    updatedAt: 0,
    version: 1,
    state: { ...initialState(spec, 0, none), ...state },
  };
}

Deno.test("steps: catch-up skips are written before the run, with the run's tick still due", () => {
  const s = scheduleOf({ catchUp: "run_once" });
  const steps = stepsOf(s, decideTicks(s, 3_500, none, false));
  assertEquals(steps.map((w) => w.kind), ["record", "start"]);
  assertEquals(steps[0].kind === "record" && steps[0].fires.map((f) => [f.tickAt, f.reason]), [
    [0, "catch_up_skip"],
    [1_000, "catch_up_skip"],
    [2_000, "catch_up_skip"],
  ]);
  assertEquals([steps[0].state.nextTickAt, steps[0].state.lastTickAt, steps[0].state.runs], [
    3_000,
    2_000,
    0,
  ]);
  assertEquals([steps[1].state.nextTickAt, steps[1].state.lastTickAt, steps[1].state.runs], [
    4_000,
    3_000,
    1,
  ]);
});

Deno.test("steps: a buffered run, then the ticks it holds back; run_all starts each with the next one due", () => {
  const buffered = scheduleOf({ overlap: "buffer_one" }, {
    nextTickAt: 3_000,
    lastTickAt: 2_000,
    bufferedTickAt: 2_000,
    lastExecutionId: "s@1000",
  });
  const d = decideTicks(buffered, 4_100, none, false);
  const steps = stepsOf(buffered, d);
  assertEquals(steps.map((w) => w.kind), ["start", "record"]);
  assertEquals(steps[0].state.bufferedTickAt, null, "the buffered tick started");
  assertEquals(steps[0].state.nextTickAt, 3_000);
  assertEquals(steps[1].state, d.state);

  const all = scheduleOf({ catchUp: "run_all", maxCatchUp: 2 });
  const d2 = decideTicks(all, 3_500, none, false);
  const steps2 = stepsOf(all, d2);
  assertEquals(steps2.map((w) => w.kind), ["record", "start", "start"]);
  assertEquals(steps2.map((w) => w.state.nextTickAt), [2_000, 3_000, 4_000]);
  assertEquals(steps2[2].state, d2.state);
});

Deno.test("scheduler: a write failing after a catch-up's first write leaves no tick unrecorded", async () => {
  const sim = new SimClock();
  const memory = new MemoryStorage();
  let failWrites = 0;
  const storage = new Proxy(memory, {
    get(target, prop) {
      if (prop === "recordScheduleState" && failWrites > 0) {
        return () => {
          failWrites--;
          return Promise.reject(new StorageUnavailable("simulated: the write failed"));
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const t0 = sim.clock("t").now();
  const a = await startScheduleNode(storage, sim.clock("a"), { name: "a" });
  let b: Awaited<ReturnType<typeof startScheduleNode>> | undefined;
  try {
    await storeWorkflow(storage, quickWorkflow("wf"));
    const r = await a.scheduler.create({
      id: "s",
      workflowId: "wf",
      spec: specOf(),
      source: "api",
      status: "active",
    });
    assert(r.ok);
    await sim.run(sim.now + 500);
    await a.stop();
    await sim.run(3.5 * MIN); // ticks 1, 2 and 3 missed
    // b takes over; the first write of its catch-up fails once.
    failWrites = 1;
    b = await startScheduleNode(storage, sim.clock("b"), { name: "b", limits: { retryMs: [100] } });
    await sim.run(3.9 * MIN);
    const fires = (await storage.listScheduleFires("s", 100)).reverse();
    assertEquals(fires.map((f) => [(f.tickAt - t0) / MIN, f.outcome, f.reason]), [
      [0, "started", "on_time"],
      [1, "skipped", "catch_up_skip"],
      [2, "skipped", "catch_up_skip"],
      [3, "started", "catch_up"],
    ]);
    assertEquals(failWrites, 0, "the write did fail once");
  } finally {
    await a.stop();
    await b?.stop();
  }
});

Deno.test("steps: nothing to write for a decision that starts and records nothing", () => {
  const s = scheduleOf({}, {});
  assertEquals(stepsOf(s, decideTicks(s, -5, none, false)), []);
});
