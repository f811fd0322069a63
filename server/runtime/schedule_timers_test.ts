/** The scheduler's timer heap: one clock timer for all, re-arms, disarms, shards dropped, stale entries compacted. */
import { Scheduler as SimClock } from "../../sim/scheduler.ts";
import { assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import type { Clock } from "./clock.ts";
import { ScheduleTimers } from "./schedule_timers.ts";

function setup() {
  const sim = new SimClock();
  const inner = sim.clock("n");
  const armed = new Set<unknown>();
  const clock: Clock = {
    now: () => inner.now(),
    setTimer(ms, fn) {
      const h = inner.setTimer(ms, () => {
        armed.delete(h);
        fn();
      });
      armed.add(h);
      return h;
    },
    clearTimer(h) {
      armed.delete(h);
      inner.clearTimer(h);
    },
  };
  const due: string[] = [];
  const timers = new ScheduleTimers(clock, (id) => due.push(`${id}@${sim.now}`));
  return { sim, clock, due, timers, armed };
}

Deno.test("schedule timers: fire in time order on one clock timer; a re-arm replaces the old time", async () => {
  const { sim, clock, due, timers, armed } = setup();
  const t = clock.now();
  timers.set("a", 0, t + 300);
  timers.set("b", 1, t + 100);
  timers.set("c", 1, t + 200);
  timers.set("a", 0, t + 50); // earlier: re-armed
  timers.set("c", 1, t + 400); // later: its old entry is stale
  assertStrictEquals(armed.size, 1, "one clock timer armed for all");
  await sim.run(1_000);
  assertEquals(due, ["a@50", "b@100", "c@400"]);
  assertStrictEquals(timers.size, 0);
});

Deno.test("schedule timers: disarm one, drop a shard, stop", async () => {
  const { sim, clock, due, timers } = setup();
  const t = clock.now();
  timers.set("a", 0, t + 100);
  timers.set("b", 1, t + 100);
  timers.set("c", 1, t + 100);
  timers.set("d", 2, t + 100);
  timers.delete("a");
  timers.dropShard(1);
  assertStrictEquals(timers.size, 1);
  assertStrictEquals(timers.fireAt("d"), t + 100);
  await sim.run(200);
  assertEquals(due, ["d@100"]);
  timers.set("e", 0, t + 300);
  timers.stop();
  timers.set("f", 0, t + 300);
  await sim.run(1_000);
  assertEquals(due, ["d@100"]);
});

Deno.test("schedule timers: many re-arms keep the heap bounded and the latest time", async () => {
  const { sim, clock, due, timers } = setup();
  const t = clock.now();
  for (let i = 0; i < 10_000; i++) timers.set(`s${i % 10}`, 0, t + 1_000 + i);
  assertStrictEquals(timers.size, 10);
  await sim.run(20_000);
  assertEquals(due.sort(), Array.from({ length: 10 }, (_, k) => `s${k}@${1_000 + 9_990 + k}`).sort());
});
