/**
 * Unit tests of the schedule decision on a virtual clock, with a fixed cron stub (every whole minute).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import type { NextTick, Schedule, ScheduleSpec } from "./schedule.ts";
import {
  afterRunEnded,
  decideTicks,
  initialState,
  manualTrigger,
  nextFireTimes,
  respecState,
  type TickDecision,
} from "./schedule_decide.ts";
import { fireTimeOf, jitterOf, nextTickAfter } from "./schedule_ticks.ts";

const MIN = 60_000;
/** A cron stub: every whole minute. */
const everyMinute: NextTick = (after) => (Math.floor(after / MIN) + 1) * MIN;
const noCron: NextTick = () => undefined;

function spec(over: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    kind: "fixed_rate",
    cronExpression: null,
    timezone: "UTC",
    intervalMs: MIN,
    startAt: null,
    endAt: null,
    input: null,
    jitterMs: 0,
    overlap: "allow",
    catchUp: "run_once",
    maxCatchUp: 100,
    ...over,
  };
}

function schedule(over: Partial<ScheduleSpec> = {}, createdAt = 0, cron: NextTick = everyMinute): Schedule {
  const s = spec(over);
  return {
    id: "sch-t",
    workflowId: "wf",
    spec: s,
    status: "active",
    source: "api",
    createdAt,
    updatedAt: createdAt,
    version: 1,
    state: initialState(s, createdAt, cron),
  };
}

/** The schedule after a decision. */
const apply = (s: Schedule, d: TickDecision): Schedule => ({ ...s, state: d.state, status: d.status });
const reasons = (d: TickDecision) => d.start.map((x) => `${x.tickAt / MIN}:${x.reason}`);
const recorded = (d: TickDecision) => d.record.map((f) => `${f.tickAt / MIN}:${f.outcome}:${f.reason}`);

Deno.test("nextTickAfter: each kind, bounded by startAt and endAt", () => {
  assertEquals(nextTickAfter(spec({ kind: "cron" }), 0, 90_000, everyMinute), 120_000);
  assertEquals(nextTickAfter(spec({ kind: "cron", startAt: 300_000 }), 0, 90_000, everyMinute), 300_000);
  assertEquals(nextTickAfter(spec({ kind: "cron", endAt: 100_000 }), 0, 90_000, everyMinute), undefined);
  assertEquals(nextTickAfter(spec(), 5_000, 0, noCron), 5_000, "a fixed rate starts at its creation");
  assertEquals(nextTickAfter(spec(), 5_000, 5_000, noCron), 65_000);
  assertEquals(
    nextTickAfter(spec({ startAt: 1_000 }), 5_000, 130_000, noCron),
    181_000,
    "anchored at startAt",
  );
  assertEquals(nextTickAfter(spec({ kind: "fixed_delay" }), 5_000, 0, noCron), 5_000);
  assertEquals(nextTickAfter(spec({ kind: "fixed_delay" }), 5_000, 5_000, noCron), undefined);
  assertEquals(nextTickAfter(spec({ kind: "immediate" }), 7, 6, noCron), 7);
  assertEquals(nextTickAfter(spec({ kind: "immediate" }), 7, 7, noCron), undefined);
  assertEquals(nextTickAfter(spec({ kind: "cron" }), 0, 90_000, () => 80_000), undefined, "never backwards");
});

Deno.test("jitter: a pure hash of (schedule, tick), within 0..jitterMs; the fire waits, the tick stays", () => {
  const values = new Set<number>();
  for (let t = 0; t < 200; t++) {
    const j = jitterOf("sch-j", t * MIN, 10_000);
    assert(j >= 0 && j <= 10_000, String(j));
    assertEquals(j, jitterOf("sch-j", t * MIN, 10_000));
    values.add(j);
  }
  assert(values.size > 150, "spread out");
  const s = schedule({ jitterMs: 10_000 });
  const fire = fireTimeOf(s.id, s.spec, MIN);
  const early = decideTicks({ ...s, state: { ...s.state, nextTickAt: MIN } }, fire - 1, noCron, false);
  assertEquals(early.start, [], "not before its fire time");
  assertEquals(early.wakeAt, fire);
  const d = decideTicks({ ...s, state: { ...s.state, nextTickAt: MIN } }, fire, noCron, false);
  assertEquals(reasons(d), ["1:on_time"], "on time within the grace + jitter; tickAt nominal");
});

Deno.test("on time: one due tick late by at most 1 s starts; later it is a catch-up", () => {
  const s = schedule();
  const d = decideTicks(s, 1_000, noCron, false);
  assertEquals(reasons(d), ["0:on_time"]);
  assertEquals(d.start[0].executionId, "sch-t@0");
  assertEquals(d.state, {
    nextTickAt: MIN,
    lastTickAt: 0,
    lastExecutionId: "sch-t@0",
    bufferedTickAt: null,
    runs: 1,
  });
  assertEquals(d.wakeAt, MIN);
  const late = decideTicks(apply(s, d), MIN + 1_001, noCron, false);
  assertEquals(reasons(late), ["1:catch_up"], "a single late tick is a catch-up (run_once runs it)");
});

/** A schedule that fired tick 0, then its owner was down for 10 ticks: now is 10 minutes and 30 s. */
function downTenTicks(over: Partial<ScheduleSpec>): Schedule {
  const s = schedule(over);
  return apply(s, decideTicks(s, 0, everyMinute, false));
}
const DOWN_NOW = 10 * MIN + 30_000;

Deno.test("catch-up after 10 missed ticks: skip records each, runs none, and moves to the future", () => {
  const d = decideTicks(downTenTicks({ catchUp: "skip" }), DOWN_NOW, noCron, false);
  assertEquals(d.start, []);
  assertEquals(recorded(d), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => `${m}:skipped:catch_up_skip`));
  assertEquals(d.state.nextTickAt, 11 * MIN);
  assertEquals(d.state.lastTickAt, 10 * MIN);
});

Deno.test("catch-up after 10 missed ticks: run_once runs the latest, the others skipped", () => {
  const d = decideTicks(downTenTicks({ catchUp: "run_once" }), DOWN_NOW, noCron, false);
  assertEquals(reasons(d), ["10:catch_up"]);
  assertEquals(recorded(d), [1, 2, 3, 4, 5, 6, 7, 8, 9].map((m) => `${m}:skipped:catch_up_skip`));
  assertEquals(d.state.nextTickAt, 11 * MIN);
});

Deno.test("catch-up after 10 missed ticks: run_all runs each in order; over maxCatchUp the oldest skipped", () => {
  const all = decideTicks(downTenTicks({ catchUp: "run_all" }), DOWN_NOW, noCron, false);
  assertEquals(reasons(all), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((m) => `${m}:catch_up`));
  assertEquals(all.record, []);
  assertEquals(all.state.runs, 11);
  const bounded = decideTicks(downTenTicks({ catchUp: "run_all", maxCatchUp: 3 }), DOWN_NOW, noCron, false);
  assertEquals(reasons(bounded), ["8:catch_up", "9:catch_up", "10:catch_up"], "the newest maxCatchUp");
  assertEquals(recorded(bounded), ["1:skipped:catch_up_limit"], "rows bounded: maxCatchUp + 1 in all");
  assertEquals(bounded.state.nextTickAt, 11 * MIN);
});

Deno.test("catch-up after a long outage: bounded work, the newest ticks run, the state jumps ahead", () => {
  for (const kind of ["fixed_rate", "cron"] as const) {
    let calls = 0;
    const counted: NextTick = (after) => (calls++, everyMinute(after));
    const s = downTenTicks({ kind, catchUp: "run_all", maxCatchUp: 5 });
    const now = 1_000_000 * MIN + 5;
    const d = decideTicks(s, now, counted, false);
    assertEquals(
      reasons(d),
      [999_996, 999_997, 999_998, 999_999, 1_000_000].map((m) => `${m}:catch_up`),
      kind,
    );
    assertEquals(recorded(d), ["1:skipped:catch_up_limit"], kind);
    assertEquals(d.state.nextTickAt, 1_000_001 * MIN, kind);
    assert(calls < 2_000, `${kind}: ${calls} cron calls`);
    const once = decideTicks(
      downTenTicks({ kind, catchUp: "run_once", maxCatchUp: 5 }),
      now,
      everyMinute,
      false,
    );
    assertEquals(reasons(once), ["1000000:catch_up"], kind);
    assertEquals(once.record.length, 5, `${kind}: at most maxCatchUp skip rows`);
    const skip = decideTicks(downTenTicks({ kind, catchUp: "skip", maxCatchUp: 5 }), now, everyMinute, false);
    assertEquals(skip.start, []);
    assertEquals(skip.record.length, 6, `${kind}: at most maxCatchUp + 1 rows`);
    assertEquals(skip.state.nextTickAt, 1_000_001 * MIN, kind);
  }
});

Deno.test("overlap while the last run is live: allow, skip, buffer_one, cancel_other", () => {
  const live = (overlap: ScheduleSpec["overlap"]) => {
    const s = schedule({ overlap });
    const first = apply(s, decideTicks(s, 0, noCron, false));
    return decideTicks(first, MIN, noCron, true);
  };
  assertEquals(reasons(live("allow")), ["1:on_time"]);
  const skip = live("skip");
  assertEquals([skip.start, recorded(skip)], [[], ["1:skipped:overlap_skip"]]);
  assertEquals(skip.state.nextTickAt, 2 * MIN);
  const buffer = live("buffer_one");
  assertEquals([buffer.start, recorded(buffer), buffer.state.bufferedTickAt], [
    [],
    ["1:buffered:on_time"],
    MIN,
  ]);
  const cancel = live("cancel_other");
  assertEquals([reasons(cancel), cancel.cancelLive], [["1:overlap_cancelled_other"], true]);
  const notLive = decideTicks(
    apply(schedule({ overlap: "skip" }), decideTicks(schedule(), 0, noCron, false)),
    MIN,
    noCron,
    false,
  );
  assertEquals(reasons(notLive), ["1:on_time"], "no live run: no overlap");
});

Deno.test("buffer_one: one tick waits for the live run, a second is skipped, the run's end starts the first", () => {
  let s = schedule({ overlap: "buffer_one" });
  s = apply(s, decideTicks(s, 0, noCron, false));
  s = apply(s, decideTicks(s, MIN, noCron, true));
  const full = decideTicks(s, 2 * MIN, noCron, true);
  assertEquals(recorded(full), ["2:skipped:overlap_buffer_full"]);
  s = apply(s, full);
  assertEquals(afterRunEnded(s, 2 * MIN + 5, "sch-other").start, [], "another run's end changes nothing");
  const ended = afterRunEnded(s, 2 * MIN + 5, "sch-t@0");
  assertEquals(reasons(ended), ["1:buffered_run"]);
  assertEquals(ended.start[0].fire.firedAt, 2 * MIN + 5);
  assertEquals([ended.state.bufferedTickAt, ended.state.lastExecutionId], [null, "sch-t@60000"]);
  // The end went unseen (the owner was down): the next evaluation starts the buffered tick first.
  const unseen = decideTicks(s, 3 * MIN, noCron, false);
  assertEquals(reasons(unseen), ["1:buffered_run"]);
  assertEquals(recorded(unseen), ["3:buffered:on_time"], "then the due tick overlaps the buffered run");
});

Deno.test("cancel_other with several due ticks: only the newest starts, cancelling the live run", () => {
  let s = schedule({ overlap: "cancel_other", catchUp: "run_all" });
  s = apply(s, decideTicks(s, 0, noCron, false));
  const d = decideTicks(s, 3 * MIN + 10_000, noCron, true);
  assertEquals(reasons(d), ["3:overlap_cancelled_other"]);
  assertEquals(recorded(d), ["1:skipped:overlap_skip", "2:skipped:overlap_skip"]);
  assert(d.cancelLive);
});

Deno.test("fixed_delay: the next tick counts from the end of the run, even a slow one", () => {
  let s = schedule({ kind: "fixed_delay", intervalMs: 30_000 }, 1_000);
  assertEquals(s.state.nextTickAt, 1_000, "the first tick at creation");
  const first = decideTicks(s, 1_000, noCron, false);
  assertEquals(reasons(first), [`${1_000 / MIN}:on_time`]);
  assertEquals(
    [first.state.nextTickAt, first.wakeAt, first.status],
    [null, null, "active"],
    "waits for its run",
  );
  s = apply(s, first);
  assertEquals(decideTicks(s, 500_000, noCron, true).start, [], "nothing while the run is live");
  const ended = afterRunEnded(s, 400_000, "sch-t@1000"); // a slow run: 399 s
  assertEquals([ended.state.nextTickAt, ended.wakeAt], [430_000, 430_000]);
  s = apply(s, ended);
  assertEquals(reasons(decideTicks(s, 430_000, noCron, false)), [`${430_000 / MIN}:on_time`]);
  // A run that ended unseen: the delay counts from the evaluation.
  const stuck = decideTicks({ ...s, state: { ...s.state, nextTickAt: null } }, 900_000, noCron, false);
  assertEquals(stuck.state.nextTickAt, 930_000);
});

Deno.test("fixed_delay catch-up skip: the next tick is ahead, a whole number of intervals on", () => {
  let s = schedule({ kind: "fixed_delay", intervalMs: 30_000, catchUp: "skip" });
  s = { ...s, state: { ...s.state, nextTickAt: 30_000, lastTickAt: 0 } };
  const d = decideTicks(s, 100_000, noCron, false);
  assertEquals([d.start, recorded(d)], [[], [`${30_000 / MIN}:skipped:catch_up_skip`]]);
  assertEquals(d.state.nextTickAt, 120_000);
});

Deno.test("immediate: one tick at creation, then completed; endAt completes a schedule", () => {
  const s = schedule({ kind: "immediate" }, 5_000);
  const d = decideTicks(s, 5_010, noCron, false);
  assertEquals([reasons(d).length, d.status, d.state.nextTickAt, d.wakeAt], [1, "completed", null, null]);
  const ending = schedule({ endAt: 2 * MIN });
  let e = apply(ending, decideTicks(ending, 0, noCron, false));
  e = apply(e, decideTicks(e, MIN, noCron, false));
  const last = decideTicks(e, 2 * MIN, noCron, false);
  assertEquals([reasons(last), last.status], [["2:on_time"], "completed"]);
  const past = schedule({ startAt: 10 * MIN, endAt: 5 * MIN + 1 });
  assertEquals(decideTicks(past, 0, noCron, false).status, "completed", "no tick at all");
});

Deno.test("a completed schedule with a buffered tick waits for it", () => {
  let s = schedule({ overlap: "buffer_one", endAt: MIN });
  s = apply(s, decideTicks(s, 0, noCron, false));
  const d = decideTicks(s, MIN, noCron, true);
  assertEquals([d.status, d.state.bufferedTickAt], ["active", MIN]);
  const ended = afterRunEnded(apply(s, d), MIN + 3, "sch-t@0");
  assertEquals([reasons(ended), ended.status], [["1:buffered_run"], "completed"]);
});

Deno.test("paused: nothing fires; resumed, the ticks missed while paused are a catch-up", () => {
  let s = schedule({ catchUp: "run_once" });
  s = apply(s, decideTicks(s, 0, noCron, false));
  const paused = { ...s, status: "paused" as const };
  const d = decideTicks(paused, 5 * MIN, noCron, false);
  assertEquals([d.start, d.record, d.state, d.wakeAt], [[], [], paused.state, null]);
  const resumed = decideTicks({ ...paused, status: "active" }, 5 * MIN + 10, noCron, false);
  assertEquals(reasons(resumed), ["5:catch_up"]);
  assertEquals(recorded(resumed), [1, 2, 3, 4].map((m) => `${m}:skipped:catch_up_skip`));
});

Deno.test("manual trigger: starts now whatever the overlap, leaves the nominal ticks", () => {
  let s = schedule({ overlap: "skip" });
  s = apply(s, decideTicks(s, 0, noCron, false));
  const d = manualTrigger(s, 12_345, noCron);
  assertEquals(reasons(d), [`${12_345 / MIN}:manual`]);
  assertEquals(d.start[0].executionId, "sch-t@m12345", "its own id, apart from the ticks' runs");
  assertEquals(d.state, { ...s.state, lastExecutionId: "sch-t@m12345", runs: 2 });
  assertEquals(d.cancelLive, false);
});

Deno.test("manual trigger at a nominal tick's time takes the next free millisecond, never the tick", () => {
  // A fixed rate from T with jitter: at T the tick is due later (T + jitter), and a trigger at T must not
  // take its record (it would be refused as recorded, forever).
  const T = 10 * MIN;
  let s = schedule({ startAt: T, jitterMs: 30_000 });
  assertEquals(s.state.nextTickAt, T);
  assertEquals(manualTrigger(s, T, noCron).start[0].tickAt, T + 1);
  assertEquals(manualTrigger(s, T + 5, noCron).start[0].tickAt, T + 5);
  assertEquals(manualTrigger(s, T + MIN, noCron).start[0].tickAt, T + MIN + 1, "a later tick of the spec");
  const cron = schedule({ kind: "cron", cronExpression: "* * * * *", intervalMs: null });
  assertEquals(manualTrigger(cron, 3 * MIN, everyMinute).start[0].tickAt, 3 * MIN + 1);
  // A fixed delay's next tick (no grid), and its last one.
  const delay = schedule({ kind: "fixed_delay" });
  s = { ...delay, state: { ...delay.state, nextTickAt: 77_777, lastTickAt: 77_778 } };
  assertEquals(manualTrigger(s, 77_777, noCron).start[0].tickAt, 77_779);
});

Deno.test("decideTicks: a tick found recorded already is passed over: the state moves past it", () => {
  // on time, refused before: nothing starts, the next tick is the one after.
  let s = schedule();
  let d = decideTicks(s, 0, noCron, false, new Set([0]));
  assertEquals([d.start, d.record], [[], []]);
  assertEquals([d.state.lastTickAt, d.state.nextTickAt, d.state.runs], [0, MIN, 0]);
  // a catch-up skip whose one tick is recorded: the others are recorded, that one is not.
  s = schedule({ catchUp: "skip" });
  d = decideTicks(s, 4 * MIN + 10, noCron, false, new Set([2 * MIN]));
  assertEquals(recorded(d), [
    "0:skipped:catch_up_skip",
    "1:skipped:catch_up_skip",
    "3:skipped:catch_up_skip",
    "4:skipped:catch_up_skip",
  ]);
  assertEquals(d.state.nextTickAt, 5 * MIN);
  // run_all: a started tick among them is not started again.
  s = schedule({ catchUp: "run_all" });
  d = decideTicks(s, 2 * MIN + 10, noCron, false, new Set([MIN]));
  assertEquals(reasons(d), ["0:catch_up", "2:catch_up"]);
  // a buffered tick that started before: the buffer is emptied, nothing starts for it.
  s = schedule({ overlap: "buffer_one" });
  s = { ...s, state: { ...s.state, nextTickAt: 2 * MIN, lastTickAt: MIN, bufferedTickAt: MIN } };
  d = decideTicks(s, MIN + 500, noCron, false, new Set([MIN]));
  assertEquals([d.start, d.state.bufferedTickAt], [[], null]);
  // a fixed delay's tick: it waits its interval from the tick.
  s = schedule({ kind: "fixed_delay" });
  d = decideTicks(s, 10, noCron, false, new Set([0]));
  assertEquals([d.start, d.state.lastTickAt, d.state.nextTickAt], [[], 0, MIN]);
});

Deno.test("respecState: the new spec's first tick after now and the last tick; no make-up ticks", () => {
  let s = schedule();
  s = apply(s, decideTicks(s, 0, noCron, false));
  const faster = respecState(s, spec({ intervalMs: 10_000 }), 35_000, noCron, false);
  assertEquals(faster.nextTickAt, 40_000);
  const cron = respecState(s, spec({ kind: "cron" }), 35_000, everyMinute, false);
  assertEquals(cron.nextTickAt, MIN);
  let d = schedule({ kind: "fixed_delay", intervalMs: 30_000 });
  d = apply(d, decideTicks(d, 0, noCron, false));
  d = apply(d, afterRunEnded(d, 10_000, "sch-t@0"));
  assertEquals(d.state.nextTickAt, 40_000);
  assertEquals(
    respecState(d, spec({ kind: "fixed_delay", intervalMs: 60_000 }), 20_000, noCron, false).nextTickAt,
    70_000,
  );
  assertEquals(respecState(d, spec({ kind: "fixed_delay" }), 20_000, noCron, true).nextTickAt, null);
  const unbuffered = respecState(
    { ...s, state: { ...s.state, bufferedTickAt: 5 } },
    spec(),
    1,
    noCron,
    false,
  );
  assertEquals(unbuffered.bufferedTickAt, null, "no buffer without buffer_one");
});

Deno.test("nextFireTimes: the next 5 of an active schedule; none when paused", () => {
  const s = schedule({ kind: "cron" }, 30_000);
  assertEquals(nextFireTimes(s, 5, everyMinute), [1, 2, 3, 4, 5].map((m) => m * MIN));
  assertEquals(nextFireTimes({ ...s, status: "paused" }, 5, everyMinute), []);
  const d = schedule({ kind: "fixed_delay" });
  assertEquals(nextFireTimes(d, 5, noCron), [0]);
});

Deno.test("initialState: a fixed delay or immediate schedule whose startAt is past ticks at creation", () => {
  const at = 10 * MIN;
  const first = (over: Partial<ScheduleSpec>) => initialState(spec(over), at, everyMinute).nextTickAt;
  assertEquals(first({ kind: "immediate", startAt: 2 * MIN }), at);
  assertEquals(first({ kind: "fixed_delay", startAt: 2 * MIN }), at);
  assertEquals(first({ kind: "immediate", startAt: 12 * MIN }), 12 * MIN, "a future startAt waits");
  assertEquals(first({ kind: "immediate", startAt: 2 * MIN, endAt: 5 * MIN }), null, "past its end: none");
  assertEquals(
    first({ kind: "fixed_rate", startAt: 2 * MIN + 30_000 }),
    10 * MIN + 30_000,
    "a rate keeps its grid",
  );
});
