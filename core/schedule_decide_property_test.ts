/**
 * Property tests of the schedule decision: random specs (every kind, policy and bound, with jitter and
 * `startAt`/`endAt`) driven by a small pure driver that mimics the owner — evaluations at random times (short
 * gaps, long outages), runs of random length that end and call `afterRunEnded`, manual triggers — checking
 * after each decision: no tick recorded twice (a buffered tick is recorded once more, when it starts), nominal
 * ticks strictly increasing, each a real due tick of the spec, every bound of the catch-up policies, and each
 * overlap policy.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../testing/assert.ts";
import type { NextTick, Schedule, ScheduleFire, ScheduleSpec } from "./schedule.ts";
import {
  afterRunEnded,
  decideTicks,
  initialState,
  manualTrigger,
  type TickDecision,
} from "./schedule_decide.ts";
import { anchorOf, fireTimeOf } from "./schedule_ticks.ts";

const MIN = 60_000;
const CRON_MINUTES = [0, 2, 3];
/** A cron stub with irregular gaps: the minutes whose number mod 7 is 0, 2 or 3. */
const irregular: NextTick = (after) => {
  let m = Math.floor(after / MIN) + 1;
  while (!CRON_MINUTES.includes(m % 7)) m++;
  return m * MIN;
};
const isCronTick = (t: number) => t % MIN === 0 && CRON_MINUTES.includes((t / MIN) % 7);

const specArb: fc.Arbitrary<ScheduleSpec> = fc.record({
  kind: fc.constantFrom("cron", "fixed_rate", "fixed_delay", "immediate"),
  cronExpression: fc.constant("stub"),
  timezone: fc.constant("UTC"),
  intervalMs: fc.integer({ min: 1_000, max: 120_000 }),
  startAt: fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: null }),
  endAt: fc.option(fc.integer({ min: 600_001, max: 20 * 3_600_000 }), { nil: null }),
  input: fc.constant(null),
  jitterMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30_000 })),
  overlap: fc.constantFrom("allow", "skip", "buffer_one", "cancel_other"),
  catchUp: fc.constantFrom("skip", "run_once", "run_all"),
  maxCatchUp: fc.integer({ min: 1, max: 6 }),
}) as fc.Arbitrary<ScheduleSpec>;

const stepArb = fc.record({
  gap: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 5_000 }) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 150_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 3_000_000 }) },
  ),
  /** The owner's timer: evaluate at the wake time the last decision asked for, up to 1.5 s late. */
  wake: fc.boolean(),
  runMs: fc.integer({ min: 0, max: 400_000 }),
  manual: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

/** What the driver saw: each decision with the time and liveness it was made at. */
interface Seen {
  decision: TickDecision;
  now: number;
  liveRun: boolean;
  kind: "tick" | "ended" | "manual";
}

/** Runs the owner's loop over the steps; returns every decision. */
function drive(
  spec: ScheduleSpec,
  steps: { gap: number; wake: boolean; runMs: number; manual: boolean }[],
): Seen[] {
  let s: Schedule = {
    id: "sch-p",
    workflowId: "wf",
    spec,
    status: "active",
    source: "api",
    createdAt: 1_000,
    updatedAt: 1_000,
    version: 1,
    state: initialState(spec, 1_000, irregular),
  };
  const live = new Map<string, number>();
  const seen: Seen[] = [];
  let now = 1_000;
  const apply = (d: TickDecision, at: number, liveRun: boolean, kind: Seen["kind"], runMs: number) => {
    seen.push({ decision: d, now: at, liveRun, kind });
    if (d.cancelLive && s.state.lastExecutionId !== null) live.delete(s.state.lastExecutionId);
    for (const st of d.start) live.set(st.executionId, at + runMs);
    s = { ...s, state: d.state, status: d.status };
  };
  let wakeAt: number | null = null;
  for (const step of steps) {
    now = step.wake && wakeAt !== null ? Math.max(now, wakeAt + (step.gap % 1_500)) : now + step.gap;
    // Runs that ended before now, in order of their end (an end may start a buffered tick that ends too).
    for (;;) {
      const ended = [...live].filter(([, end]) => end <= now).sort((a, b) => a[1] - b[1])[0];
      if (ended === undefined) break;
      live.delete(ended[0]);
      apply(afterRunEnded(s, ended[1], ended[0]), ended[1], false, "ended", step.runMs);
    }
    const liveRun = s.state.lastExecutionId !== null && live.has(s.state.lastExecutionId);
    const decision = decideTicks(s, now, irregular, liveRun);
    apply(decision, now, liveRun, "tick", step.runMs);
    wakeAt = decision.wakeAt;
    if (step.manual) apply(manualTrigger(s, now, irregular), now, liveRun, "manual", step.runMs);
  }
  return seen;
}

/** The fires of a decision, starts and records together, oldest tick first. */
const firesOf = (d: TickDecision): ScheduleFire[] =>
  [...d.record, ...d.start.map((x) => x.fire)].sort((a, b) => a.tickAt - b.tickAt);

/**
 * Checks that every tick is recorded once (buffered, then started once; a manual run's tick apart from every
 * nominal one), and nominal ticks only increase.
 */
function checkOnce(spec: ScheduleSpec, seen: Seen[]): void {
  const outcomes = new Map<number, string[]>();
  let lastNominal = -Infinity;
  for (const { decision, now, kind } of seen) {
    for (const f of firesOf(decision)) {
      const list = outcomes.get(f.tickAt) ?? [];
      list.push(`${f.outcome}:${f.reason}`);
      outcomes.set(f.tickAt, list);
      if (kind === "manual" || f.reason === "buffered_run") continue; // a manual tick shares no record
      assert(f.tickAt > lastNominal, `tick ${f.tickAt} after ${lastNominal}`);
      lastNominal = f.tickAt;
      assert(fireTimeOf("sch-p", spec, f.tickAt) <= now, `tick ${f.tickAt} fired before its time at ${now}`);
      assert(f.tickAt >= anchorOf(spec, 1_000) || spec.kind === "cron", "not before the anchor");
      assert(spec.endAt === null || f.tickAt <= spec.endAt, "not after endAt");
      if (spec.kind === "cron") assert(isCronTick(f.tickAt), `${f.tickAt} is a cron time`);
      if (spec.kind === "fixed_rate") assertEquals((f.tickAt - anchorOf(spec, 1_000)) % spec.intervalMs!, 0);
    }
  }
  for (const [tick, list] of outcomes) {
    const ok = list.length === 1 ||
      (list.length === 2 && list[0].startsWith("buffered:") && list[1] === "started:buffered_run");
    assert(ok, `tick ${tick} recorded as ${list.join(", ")}`);
  }
}

/** Checks the catch-up bounds and the overlap policy on each decision. */
function checkPolicies(spec: ScheduleSpec, seen: Seen[]): void {
  for (const { decision: d, now, liveRun, kind } of seen) {
    const fires = firesOf(d);
    assert(fires.length <= spec.maxCatchUp + 2, `${fires.length} rows`);
    const catchUpStarts = d.start.filter((x) => x.reason === "catch_up");
    assert(catchUpStarts.length <= spec.maxCatchUp, "run_all bounded by maxCatchUp");
    if (spec.catchUp === "skip") assertEquals(catchUpStarts, [], "skip never starts a missed tick");
    if (spec.catchUp === "run_once") assert(catchUpStarts.length <= 1, "run_once runs one");
    const isCatchUp = fires.some((f) => f.reason === "catch_up_skip" || f.reason === "catch_up");
    if (spec.catchUp === "run_once" && isCatchUp && spec.overlap === "allow") {
      assertEquals(catchUpStarts.length, 1, "run_once starts exactly one per catch-up");
    }
    const reasons = new Set<string>(fires.map((f) => f.reason));
    if (spec.overlap === "allow") {
      assert(!["overlap_skip", "overlap_buffer_full", "overlap_cancelled_other"].some((r) => reasons.has(r)));
    }
    if (spec.overlap === "skip" && liveRun) assertEquals(d.start.filter((x) => x.reason !== "manual"), []);
    if (spec.overlap !== "buffer_one") {
      assert(!reasons.has("buffered_run") && d.state.bufferedTickAt === null);
    }
    if (spec.overlap === "buffer_one" && d.start.some((x) => x.reason === "buffered_run")) {
      assert(!liveRun, "a buffered tick starts only once the live run ended");
    }
    if (kind === "tick") {
      assertEquals(d.cancelLive, spec.overlap === "cancel_other" && liveRun && d.start.length > 0);
    }
    const st = d.state;
    assert(
      st.nextTickAt === null || st.lastTickAt === null || st.nextTickAt > st.lastTickAt,
      "next after last",
    );
    if (kind === "tick" && d.wakeAt !== null) assert(d.wakeAt > now, `wake ${d.wakeAt} after now ${now}`);
    if (d.status === "completed") assert(st.nextTickAt === null && st.bufferedTickAt === null);
  }
}

Deno.test("property: no tick recorded twice; nominal ticks strictly increasing, real and due", () => {
  fc.assert(
    fc.property(specArb, fc.array(stepArb, { maxLength: 60 }), (spec, steps) => {
      checkOnce(spec, drive(spec, steps));
    }),
    { numRuns: 400, seed: 20261206 },
  );
});

Deno.test("property: catch-up bounds (run_all ≤ maxCatchUp, skip runs none, run_once one) and overlap", () => {
  fc.assert(
    fc.property(specArb, fc.array(stepArb, { maxLength: 60 }), (spec, steps) => {
      checkPolicies(spec, drive(spec, steps));
    }),
    { numRuns: 400, seed: 20261207 },
  );
});

Deno.test("property: with outages shorter than maxCatchUp ticks, no tick of a fixed rate is lost", () => {
  const arb = fc.tuple(specArb, fc.array(stepArb, { maxLength: 40 })).map(([spec, steps]) => {
    // The due ticks of one evaluation lie in (the previous evaluation − jitter, now]: with gaps up to
    // interval·maxCatchUp − jitter, at most maxCatchUp + 1 of them, all recorded.
    const s: ScheduleSpec = {
      ...spec,
      kind: "fixed_rate",
      endAt: null,
      maxCatchUp: Math.max(3, spec.maxCatchUp),
      jitterMs: Math.min(spec.jitterMs, spec.intervalMs!),
    };
    const bound = s.intervalMs! * s.maxCatchUp - s.jitterMs;
    return { spec: s, steps: steps.map((x) => ({ ...x, gap: Math.min(x.gap, bound) })) };
  });
  fc.assert(
    fc.property(arb, ({ spec, steps }) => {
      const seen = drive(spec, steps);
      const ticks = seen.filter((x) => x.kind !== "manual").flatMap((x) => firesOf(x.decision))
        .filter((f) => f.reason !== "buffered_run").map((f) => f.tickAt);
      const next = seen.length > 0 ? seen[seen.length - 1].decision.state.nextTickAt! : -Infinity;
      const expected: number[] = [];
      for (let t = initialState(spec, 1_000, irregular).nextTickAt!; t < next; t += spec.intervalMs!) {
        expected.push(t);
      }
      assertEquals(ticks, expected);
    }),
    { numRuns: 300, seed: 20261208 },
  );
});
