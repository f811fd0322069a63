/** The scheduler's cluster events: every one counted, fires stored within their rate, the log trimmed. */
import { MemoryStorage } from "../../storage/memory.ts";
import { assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { silentLogger } from "../runtime/logger.ts";
import { ScheduleEvents } from "./schedule_events.ts";

Deno.test("schedule events: fires are stored at most firedPerSecond (after a burst), skips always", async () => {
  const storage = new MemoryStorage();
  let now = 1_000_000;
  const counted: string[] = [];
  const events = new ScheduleEvents(storage, {
    node: "n1",
    now: () => now,
    log: silentLogger,
    count: (t) => counted.push(t),
  }, { firedPerSecond: 2, firedBurst: 3 });
  for (let i = 0; i < 10; i++) events.record("schedule_fired", { i });
  events.record("schedule_skipped", { count: 4 });
  await events.flush();
  assertStrictEquals((await storage.listClusterEvents(100, "schedule_fired")).length, 3, "the burst");
  assertStrictEquals((await storage.listClusterEvents(100, "schedule_skipped")).length, 1);
  now += 1_000; // two more tokens
  for (let i = 0; i < 10; i++) events.record("schedule_fired", { i });
  await events.flush();
  assertStrictEquals((await storage.listClusterEvents(100, "schedule_fired")).length, 5);
  assertStrictEquals(counted.filter((t) => t === "schedule_fired").length, 20, "every fire counted");
  const stored = await storage.listClusterEvents(1, "schedule_skipped");
  assertEquals({ node: stored[0].node, details: stored[0].details }, { node: "n1", details: { count: 4 } });
});

Deno.test("schedule events: the log is trimmed to keep after every trimEvery events stored", async () => {
  const storage = new MemoryStorage();
  const events = new ScheduleEvents(storage, {
    node: "n1",
    now: () => 0,
    log: silentLogger,
    count: () => {},
  }, { trimEvery: 5, keep: 3 });
  for (let i = 0; i < 5; i++) events.record("schedule_catch_up", { i });
  await events.flush();
  await events.flush(); // the trim rides on the fifth append
  const left = await storage.listClusterEvents(100);
  assertStrictEquals(left.length, 3);
});
