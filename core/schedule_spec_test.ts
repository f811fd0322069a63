/**
 * The schedule validation: the old engine's shape as it is, our fields, and each problem's code and path.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { MAX_CATCH_UP } from "./schedule.ts";
import { type CronCheck, mergePatch, parseScheduleSpec, specAsInput } from "./schedule_spec.ts";

/** A cron check that knows UTC and Europe/Berlin, and refuses expressions that contain "bad". */
const cron: CronCheck = {
  timezone: (tz) => tz === "UTC" || tz === "Europe/Berlin",
  expression: (e) => e.includes("bad") ? "does not parse" : undefined,
};
const NOW = Date.parse("2026-01-01T00:00:00Z");

/** The [path, code] of each problem of `input`, or the spec. */
function problems(input: unknown, path = "$") {
  const r = parseScheduleSpec(input, path, NOW, cron);
  return r.ok ? [] : r.problems.map((p) => [p.path, p.code]);
}

Deno.test("the old engine's metadata.schedule, as it is", () => {
  const rate = parseScheduleSpec(
    { enabled: true, scheduleType: "fixed_rate", interval: "1h" },
    "$",
    NOW,
    cron,
  );
  assert(rate.ok);
  assertEquals(rate.enabled, true);
  assertEquals(rate.spec, {
    kind: "fixed_rate",
    cronExpression: null,
    timezone: "UTC",
    intervalMs: 3_600_000,
    startAt: null,
    endAt: null,
    input: null,
    jitterMs: 0,
    overlap: "allow",
    catchUp: "run_once",
    maxCatchUp: 100,
  });
  const c = parseScheduleSpec(
    { enabled: false, scheduleType: "cron", interval: "1h", cronExpression: "0  *  * * *" },
    "$",
    NOW,
    cron,
  );
  assert(c.ok && !c.enabled);
  assertEquals([c.spec.kind, c.spec.cronExpression, c.spec.intervalMs], ["cron", "0 * * * *", null]);
  const once = parseScheduleSpec({ enabled: true, scheduleType: "immediate" }, "$", NOW, cron);
  assert(once.ok && once.spec.kind === "immediate");
});

Deno.test("our fields: kind, durations or ms, ISO or epoch times, policies, input", () => {
  const r = parseScheduleSpec(
    {
      kind: "fixed_delay",
      intervalMs: 30_000,
      startAt: "2026-02-01T00:00:00Z",
      endAt: Date.parse("2026-03-01T00:00:00Z"),
      jitter: "5s",
      timezone: "Europe/Berlin",
      overlap: "buffer_one",
      catchUp: "run_all",
      maxCatchUp: 7,
      input: { region: "eu" },
      workflowId: "ignored here",
    },
    "$",
    NOW,
    cron,
  );
  assert(r.ok);
  assertEquals(r.spec, {
    kind: "fixed_delay",
    cronExpression: null,
    timezone: "Europe/Berlin",
    intervalMs: 30_000,
    startAt: Date.parse("2026-02-01T00:00:00Z"),
    endAt: Date.parse("2026-03-01T00:00:00Z"),
    input: { region: "eu" },
    jitterMs: 5_000,
    overlap: "buffer_one",
    catchUp: "run_all",
    maxCatchUp: 7,
  });
});

Deno.test("problems: each with its code at its path", () => {
  const at = "$.metadata.schedule";
  assertEquals(problems({ scheduleType: "cron", cronExpression: "bad" }, at), [[
    `${at}.cronExpression`,
    "cron_invalid",
  ]]);
  assertEquals(problems({ scheduleType: "cron" }), [["$.cronExpression", "schedule_invalid"]]);
  assertEquals(problems({ kind: "cron", cronExpression: "0 * * * *", timezone: "Mars/Olympus" }), [
    ["$.timezone", "timezone_unknown"],
  ]);
  assertEquals(problems({ kind: "fixed_rate", interval: "500ms" }), [["$.interval", "interval_too_short"]]);
  assertEquals(problems({ kind: "fixed_rate", interval: 999 }), [["$.interval", "interval_too_short"]]);
  assertEquals(problems({ kind: "fixed_rate", interval: "400d" }), [["$.interval", "interval_too_long"]]);
  assertEquals(problems({ kind: "fixed_rate", interval: "often" }), [["$.interval", "duration_invalid"]]);
  assertEquals(problems({ kind: "fixed_rate" }), [["$.interval", "schedule_invalid"]]);
  assertEquals(problems({ kind: "fixed_rate", interval: "1h", intervalMs: 5_000 }), [[
    "$.intervalMs",
    "schedule_invalid",
  ]]);
  assertEquals(problems({ kind: "hourly" }), [["$.kind", "kind_unknown"]]);
  assertEquals(problems({ scheduleType: "fixed_rate", kind: "cron" }), [["$.kind", "schedule_invalid"]]);
  assertEquals(problems({}), [["$.scheduleType", "schedule_invalid"]]);
  assertEquals(problems("hourly"), [["$", "schedule_invalid"]]);
  assertEquals(problems({ kind: "immediate", startAt: "2026-02-01", endAt: "2026-01-01" }), [
    ["$.endAt", "end_before_start"],
  ]);
  assertEquals(problems({ kind: "immediate", startAt: 5, endAt: 5 }), [["$.endAt", "end_before_start"]]);
  assertEquals(problems({ kind: "immediate", startAt: "tomorrow" }), [["$.startAt", "time_invalid"]]);
  assertEquals(problems({ kind: "immediate", endAt: -1 }), [["$.endAt", "time_invalid"]]);
  assertEquals(problems({ kind: "immediate", overlap: "queue" }), [["$.overlap", "policy_unknown"]]);
  assertEquals(problems({ kind: "immediate", catchUp: "all" }), [["$.catchUp", "policy_unknown"]]);
  assertEquals(problems({ kind: "immediate", maxCatchUp: 0 }), [["$.maxCatchUp", "out_of_range"]]);
  assertEquals(problems({ kind: "immediate", maxCatchUp: MAX_CATCH_UP + 1 }), [[
    "$.maxCatchUp",
    "out_of_range",
  ]]);
  assertEquals(problems({ kind: "immediate", jitter: "2d" }), [["$.jitter", "out_of_range"]]);
  assertEquals(problems({ kind: "immediate", enabled: "yes" }), [["$.enabled", "schedule_invalid"]]);
  assertEquals(problems({ kind: "immediate", input: "x".repeat(70_000) }), [["$.input", "input_too_large"]]);
  assertEquals(problems({ kind: 7, timezone: 3 }), [["$.kind", "schedule_invalid"], [
    "$.timezone",
    "schedule_invalid",
  ]]);
});

Deno.test("specAsInput round-trips; mergePatch replaces aliases", () => {
  const r = parseScheduleSpec(
    { kind: "fixed_rate", interval: "1h", jitter: "1s", catchUp: "skip" },
    "$",
    NOW,
    cron,
  );
  assert(r.ok);
  const again = parseScheduleSpec(specAsInput(r.spec), "$", NOW, cron);
  assert(again.ok);
  assertEquals(again.spec, r.spec);
  const patched = parseScheduleSpec(mergePatch(r.spec, { interval: "5m", jitterMs: 0 }), "$", NOW, cron);
  assert(patched.ok);
  assertEquals([patched.spec.intervalMs, patched.spec.jitterMs, patched.spec.catchUp], [300_000, 0, "skip"]);
  const toCron = parseScheduleSpec(
    mergePatch(r.spec, { scheduleType: "cron", cronExpression: "0 * * * *" }),
    "$",
    NOW,
    cron,
  );
  assert(toCron.ok && toCron.spec.kind === "cron" && toCron.spec.intervalMs === null);
});
