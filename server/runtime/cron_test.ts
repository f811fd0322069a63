/**
 * Cron times through croner: daylight saving time in Europe/Berlin, 5 and 6 fields, refusals, UTC by any name.
 */
import { Cron } from "npm:croner@9.1.0";
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../../testing/assert.ts";
import { parseScheduleSpec } from "../../core/schedule_spec.ts";
import { cronCheck, cronNextTick } from "./cron.ts";

/** The ticks of `next` strictly after `from` up to `until`, as ISO strings. */
function ticks(expression: string, timezone: string, from: string, until: string): string[] {
  const next = cronNextTick(expression, timezone);
  const out: string[] = [];
  for (let t = next(Date.parse(from)); t !== undefined && t <= Date.parse(until); t = next(t)) {
    out.push(new Date(t).toISOString());
  }
  return out;
}

/** The local wall time of an instant in Berlin. */
const berlin = (iso: string) =>
  new Date(iso).toLocaleString("sv-SE", { timeZone: "Europe/Berlin" }) + ` (${iso})`;

Deno.test("cron 0 2 * * * in Europe/Berlin across spring-forward (2026-03-29): one a day, none missing", () => {
  const got = ticks("0 2 * * *", "Europe/Berlin", "2026-03-27T00:00:00Z", "2026-03-31T23:59:59Z");
  assertEquals(got.map(berlin), [
    "2026-03-27 02:00:00 (2026-03-27T01:00:00.000Z)",
    "2026-03-28 02:00:00 (2026-03-28T01:00:00.000Z)",
    // 02:00 does not exist that night (02:00 CET → 03:00 CEST): it fires at 03:00 CEST.
    "2026-03-29 03:00:00 (2026-03-29T01:00:00.000Z)",
    "2026-03-30 02:00:00 (2026-03-30T00:00:00.000Z)",
    "2026-03-31 02:00:00 (2026-03-31T00:00:00.000Z)",
  ]);
});

Deno.test("cron 30 2 * * * in Europe/Berlin: the skipped 02:30 of 2026-03-29 fires at 03:30 CEST", () => {
  const got = ticks("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z");
  assertEquals(got, ["2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]);
  assertEquals(berlin(got[0]), "2026-03-29 03:30:00 (2026-03-29T01:30:00.000Z)");
});

Deno.test("cron 0 2 * * * in Europe/Berlin across fall-back (2026-10-25): one a day, no duplicate", () => {
  const got = ticks("0 2 * * *", "Europe/Berlin", "2026-10-22T12:00:00Z", "2026-10-27T23:59:59Z");
  assertEquals(got, [
    "2026-10-23T00:00:00.000Z",
    "2026-10-24T00:00:00.000Z",
    // 02:00 happens twice (CEST at 00:00Z, CET at 01:00Z): it fires once, at the second (standard time).
    "2026-10-25T01:00:00.000Z",
    "2026-10-26T01:00:00.000Z",
    "2026-10-27T01:00:00.000Z",
  ]);
});

Deno.test("cron hourly in Europe/Berlin: each wall time once across both changes", () => {
  const spring = ticks("0 * * * *", "Europe/Berlin", "2026-03-28T23:30:00Z", "2026-03-29T02:30:00Z");
  assertEquals(spring, ["2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"]);
  const fall = ticks("0 * * * *", "Europe/Berlin", "2026-10-24T22:30:00Z", "2026-10-25T02:30:00Z");
  assertEquals(fall, ["2026-10-24T23:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z"]);
  assertEquals(new Set(fall.map((t) => berlin(t).slice(0, 19))).size, fall.length, "no wall time twice");
});

Deno.test("cron: 6 fields have seconds; the next time is strictly after", () => {
  assertEquals(ticks("*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"), [
    "2026-01-01T00:00:20.000Z",
    "2026-01-01T00:00:40.000Z",
    "2026-01-01T00:01:00.000Z",
  ]);
  const next = cronNextTick("0 * * * *", "UTC");
  assertEquals(next(Date.parse("2026-01-01T01:00:00Z")), Date.parse("2026-01-01T02:00:00Z"));
  assertEquals(next(Number.NaN), undefined);
  assertEquals(next(1e17), undefined);
});

Deno.test("cron: invalid expressions and unknown zones are refused with a reason", () => {
  for (const bad of ["not a cron", "61 * * * *", "* * * *", "* * * * * * *", "0 0 31 2 *", "*/0 * * * *"]) {
    const why = cronCheck.expression(bad, "UTC", Date.parse("2026-01-01T00:00:00Z"));
    assert(why !== undefined && why.length > 0, `${bad} refused`);
  }
  assertEquals(cronCheck.expression("0 * * * *", "UTC", 0), undefined);
  assertEquals(cronCheck.expression("@daily", "Europe/Berlin", 0), undefined);
  assert(
    cronCheck.timezone("Europe/Berlin") && cronCheck.timezone("UTC") &&
      cronCheck.timezone("America/New_York"),
  );
  assert(
    !cronCheck.timezone("Mars/Olympus") && !cronCheck.timezone("") && !cronCheck.timezone("Europe/Berlin "),
  );
  assertEquals(cronNextTick("not a cron", "UTC")(0), undefined);
});

Deno.test("cron through the schedule validation: codes and paths", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const r = parseScheduleSpec(
    { scheduleType: "cron", cronExpression: "not a cron", timezone: "Mars/Olympus" },
    "$.metadata.schedule",
    now,
    cronCheck,
  );
  assert(!r.ok);
  assertEquals(r.problems.map((p) => [p.path, p.code]), [
    ["$.metadata.schedule.timezone", "timezone_unknown"],
    ["$.metadata.schedule.cronExpression", "cron_invalid"],
  ]);
  const bad = parseScheduleSpec({ scheduleType: "cron", cronExpression: "61 * * * *" }, "$", now, cronCheck);
  assert(!bad.ok);
  assertEquals(bad.problems.map((p) => [p.path, p.code]), [["$.cronExpression", "cron_invalid"]]);
  const ok = parseScheduleSpec(
    { enabled: true, scheduleType: "cron", cronExpression: "0 * * * *" },
    "$",
    now,
    cronCheck,
  );
  assert(ok.ok && ok.spec.cronExpression === "0 * * * *" && ok.spec.timezone === "UTC");
});

Deno.test("cron in UTC and its other names: the same times as croner in the named zone UTC", () => {
  const field = (max: number, min = 0) =>
    fc.oneof(
      fc.constant("*"),
      fc.integer({ min, max }).map(String),
      fc.integer({ min: 1, max: Math.max(1, Math.floor(max / 2)) }).map((n) => `*/${n}`),
      fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) =>
        `${Math.min(a, b)}-${Math.max(a, b)}`
      ),
    );
  const expression = fc.tuple(
    fc.option(field(59), { nil: undefined }),
    field(59),
    field(23),
    fc.oneof(fc.constant("*"), field(28, 1)),
    fc.oneof(fc.constant("*"), field(12, 1)),
    fc.oneof(fc.constant("*"), field(6)),
  ).map(([s, ...rest]) => (s === undefined ? rest : [s, ...rest]).join(" "));
  const after = fc.integer({
    min: Date.parse("2020-01-01T00:00:00Z"),
    max: Date.parse("2035-01-01T00:00:00Z"),
  });
  fc.assert(
    fc.property(expression, after, fc.constantFrom("UTC", "Etc/UTC", "GMT", "Zulu"), (expr, t, zone) => {
      const named = new Cron(expr, { timezone: "UTC", legacyMode: true });
      const next = cronNextTick(expr, zone);
      let a: number | undefined = t, b: number | undefined = t;
      for (let i = 0; i < 3 && a !== undefined; i++) {
        a = next(a);
        b = named.nextRun(new Date(b!))?.getTime();
        assertEquals(a, b, `${expr} in ${zone} after ${new Date(t).toISOString()}`);
      }
    }),
    { numRuns: 300 },
  );
});
