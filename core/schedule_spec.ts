/**
 * Schedules as users write them: the API's `POST /api/v1/schedules/add` body, a `PATCH`, or a workflow's
 * `metadata.schedule` — the old engine's shape (`{"enabled": true, "scheduleType": "fixed_rate", "interval":
 * "1h"}`) as it is, plus our fields — checked and normalised into a {@link ScheduleSpec}, every fault a
 * {@link Problem} at its path. Cron expressions and time zones are checked through an injected
 * {@link CronCheck} (the core loads no cron library); the current time comes in as an argument.
 *
 * @example
 * ```ts
 * import { parseScheduleSpec, type CronCheck } from "./schedule_spec.ts";
 *
 * const cron: CronCheck = { timezone: (tz) => tz === "UTC", expression: () => undefined };
 * const r = parseScheduleSpec({ enabled: true, scheduleType: "fixed_rate", interval: "1h" }, "$.schedule", 0, cron);
 * if (!r.ok || r.spec.intervalMs !== 3_600_000 || !r.enabled) throw new Error("the old shape as it is");
 * const bad = parseScheduleSpec({ kind: "fixed_rate", interval: "10ms" }, "$", 0, cron);
 * if (bad.ok || bad.problems[0].code !== "interval_too_short" || bad.problems[0].path !== "$.interval") {
 *   throw new Error("a problem at its path");
 * }
 * ```
 *
 * @module
 */
import { parseDuration } from "./duration.ts";
import { type Json, utf8Length } from "./json.ts";
import {
  CATCH_UP_POLICIES,
  type CatchUpPolicy,
  MAX_CATCH_UP,
  MIN_INTERVAL_MS,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  SCHEDULE_DEFAULTS,
  SCHEDULE_KINDS,
  type ScheduleKind,
  type ScheduleSpec,
} from "./schedule.ts";
import type { Problem } from "./schema.ts";

/** The longest interval of `fixed_rate` and `fixed_delay`: 366 days. */
export const MAX_INTERVAL_MS = 366 * 86_400_000;
/** The largest `jitter`: one day. */
export const MAX_JITTER_MS = 86_400_000;
/** The largest `input` of a schedule's runs, as JSON bytes. */
export const MAX_SCHEDULE_INPUT_BYTES = 64 * 1024;
/** The longest cron expression and time zone name, characters. */
export const MAX_CRON_LENGTH = 256;
/** The latest time a schedule may name (epoch ms, the end of year 9999). */
export const MAX_TIME_MS = 253_402_300_799_999;

/** The stable codes of schedule problems. */
export const SCHEDULE_PROBLEM_CODES = {
  /** A field of the wrong JSON type, a missing required field, or fields that contradict each other. */
  invalid: "schedule_invalid",
  /** `kind`/`scheduleType` is not one of `cron`, `fixed_rate`, `fixed_delay`, `immediate`. */
  kindUnknown: "kind_unknown",
  /** The cron expression does not parse (5 or 6 fields), or never fires. */
  cronInvalid: "cron_invalid",
  /** `timezone` is not a time zone. */
  timezoneUnknown: "timezone_unknown",
  /** A duration (`interval`, `jitter`) is neither a duration like `30s` nor a number of ms. */
  durationInvalid: "duration_invalid",
  /** `interval` is under {@link MIN_INTERVAL_MS}. */
  intervalTooShort: "interval_too_short",
  /** `interval` is over {@link MAX_INTERVAL_MS}. */
  intervalTooLong: "interval_too_long",
  /** `startAt`/`endAt` is neither an ISO 8601 time nor epoch ms. */
  timeInvalid: "time_invalid",
  /** `endAt` is not after `startAt`. */
  endBeforeStart: "end_before_start",
  /** `overlap` or `catchUp` is not one of its policies. */
  policyUnknown: "policy_unknown",
  /** `maxCatchUp` or `jitter` is out of its bounds. */
  outOfRange: "out_of_range",
  /** `input` is over {@link MAX_SCHEDULE_INPUT_BYTES}. */
  inputTooLarge: "input_too_large",
} as const;

const C = SCHEDULE_PROBLEM_CODES;

/**
 * Cron and time-zone checks, from outside the core (`server/runtime/cron.ts`, over croner).
 */
export interface CronCheck {
  /** Whether `name` is a time zone cron times can be computed in. */
  timezone(name: string): boolean;
  /** Why `expression` is not a cron expression that fires after `now` in `timezone`; undefined when it is one. */
  expression(expression: string, timezone: string, now: number): string | undefined;
}

/** A checked schedule: its spec, and whether it should fire (`enabled`, default true). */
export type ScheduleSpecResult =
  | { ok: true; spec: ScheduleSpec; enabled: boolean }
  | { ok: false; problems: Problem[] };

/** The fields a schedule body may carry; others are ignored (UI tools add their own). */
export const SCHEDULE_FIELDS = [
  "kind",
  "scheduleType",
  "cronExpression",
  "timezone",
  "interval",
  "intervalMs",
  "startAt",
  "endAt",
  "input",
  "jitter",
  "jitterMs",
  "overlap",
  "catchUp",
  "maxCatchUp",
  "enabled",
] as const;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Collects the problems of one schedule, each at `<base>.<field>`. */
class Collector {
  readonly problems: Problem[] = [];
  constructor(readonly base: string) {}

  add(field: string | null, code: string, message: string): undefined {
    this.problems.push({ path: field === null ? this.base : `${this.base}.${field}`, code, message });
    return undefined;
  }

  /** The string at `field`, undefined when absent or null, a problem when another type. */
  string(obj: Record<string, unknown>, field: string): string | undefined {
    const v = obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      return this.add(field, C.invalid, `${field} must be a string, got ${typeOf(v)}`);
    }
    return v;
  }

  /** One of `allowed` at `field` (or `fallback` when absent). */
  oneOf<T extends string>(
    obj: Record<string, unknown>,
    field: string,
    allowed: readonly T[],
    fallback: T,
    code: string,
  ): T | undefined {
    const v = this.string(obj, field);
    if (v === undefined) return obj[field] === undefined || obj[field] === null ? fallback : undefined;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    return this.add(field, code, `${field} must be one of ${allowed.join(", ")}; got ${JSON.stringify(v)}`);
  }
}

/** A duration field: `30s`, `5m`, `1h`, `1d`, `250ms`, or a whole number of ms. Null when absent. */
function durationOf(c: Collector, obj: Record<string, unknown>, field: string): number | null | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0) return v;
    return c.add(field, C.durationInvalid, `${field} must be a whole number of ms ≥ 0, got ${v}`);
  }
  if (typeof v !== "string") {
    return c.add(field, C.invalid, `${field} must be a duration like "30s" or ms, got ${typeOf(v)}`);
  }
  const ms = v.length <= 32 ? parseDuration(v) : undefined;
  if (ms === undefined || !Number.isSafeInteger(ms)) {
    return c.add(
      field,
      C.durationInvalid,
      `${field} must be a duration like 30s, 5m, 1h or 1d; got ${JSON.stringify(v)}`,
    );
  }
  return ms;
}

/** A duration given as `<name>` (a duration) or `<name>Ms` (ms); they must agree when both are given. */
function durationPair(c: Collector, obj: Record<string, unknown>, name: string): number | null | undefined {
  const text = durationOf(c, obj, name);
  const ms = durationOf(c, obj, `${name}Ms`);
  if (text === undefined || ms === undefined) return undefined;
  if (text !== null && ms !== null && text !== ms) {
    return c.add(`${name}Ms`, C.invalid, `${name} (${text} ms) and ${name}Ms (${ms}) disagree; give one`);
  }
  return text ?? ms;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A time field: an ISO 8601 string or epoch ms. Null when absent. */
function timeOf(c: Collector, obj: Record<string, unknown>, field: string): number | null | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return null;
  let ms: number;
  if (typeof v === "number") ms = v;
  else if (typeof v === "string" && v.length <= 40 && ISO_TIME.test(v.trim())) ms = Date.parse(v.trim());
  else {
    return c.add(
      field,
      C.timeInvalid,
      `${field} must be an ISO 8601 time (2026-12-06T18:00:00Z) or epoch ms, got ${JSON.stringify(v)}`,
    );
  }
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
    return c.add(field, C.timeInvalid, `${field} must be a time from 1970 to 9999, got ${JSON.stringify(v)}`);
  }
  return ms;
}

/** `kind` or the old `scheduleType` (they must agree when both are given). */
function kindOf(c: Collector, obj: Record<string, unknown>): ScheduleKind | undefined {
  const kind = c.string(obj, "kind");
  const old = c.string(obj, "scheduleType");
  if (kind !== undefined && old !== undefined && kind !== old) {
    return c.add(
      "kind",
      C.invalid,
      `kind ${JSON.stringify(kind)} and scheduleType ${JSON.stringify(old)} disagree`,
    );
  }
  const value = kind ?? old;
  const field = kind !== undefined ? "kind" : "scheduleType";
  if (value === undefined) {
    if (obj.kind === undefined && obj.scheduleType === undefined) {
      c.add(
        "scheduleType",
        C.invalid,
        `scheduleType (or kind) is required: one of ${SCHEDULE_KINDS.join(", ")}`,
      );
    }
    return undefined;
  }
  if (!(SCHEDULE_KINDS as readonly string[]).includes(value)) {
    return c.add(
      field,
      C.kindUnknown,
      `${field} must be one of ${SCHEDULE_KINDS.join(", ")}; got ${JSON.stringify(value)}`,
    );
  }
  return value as ScheduleKind;
}

/** The interval of a fixed rate or delay: required, within bounds. */
function intervalOf(
  c: Collector,
  obj: Record<string, unknown>,
  kind: ScheduleKind,
): number | null | undefined {
  const ms = durationPair(c, obj, "interval");
  if (kind !== "fixed_rate" && kind !== "fixed_delay") return null;
  if (ms === undefined) return undefined;
  if (ms === null) {
    return c.add("interval", C.invalid, `interval is required for ${kind} (like "30s", "5m", "1h")`);
  }
  if (ms < MIN_INTERVAL_MS) {
    return c.add(
      "interval",
      C.intervalTooShort,
      `interval must be at least ${MIN_INTERVAL_MS} ms (1s), got ${ms} ms`,
    );
  }
  if (ms > MAX_INTERVAL_MS) {
    return c.add("interval", C.intervalTooLong, `interval must be at most 366 days, got ${ms} ms`);
  }
  return ms;
}

/** The time zone (default UTC), checked when given. */
function timezoneOf(c: Collector, obj: Record<string, unknown>, cron: CronCheck): string | undefined {
  const tz = c.string(obj, "timezone");
  if (tz === undefined) {
    return obj.timezone === undefined || obj.timezone === null ? SCHEDULE_DEFAULTS.timezone : undefined;
  }
  if (tz.length === 0 || tz.length > MAX_CRON_LENGTH || !cron.timezone(tz)) {
    return c.add(
      "timezone",
      C.timezoneUnknown,
      `unknown time zone ${
        JSON.stringify(tz.slice(0, MAX_CRON_LENGTH))
      }; use an IANA name like Europe/Berlin`,
    );
  }
  return tz;
}

/** The cron expression of a `cron` schedule: required, parsed and firing (null for other kinds). */
function cronOf(
  c: Collector,
  obj: Record<string, unknown>,
  kind: ScheduleKind,
  timezone: string | undefined,
  now: number,
  cron: CronCheck,
): string | null | undefined {
  const expression = c.string(obj, "cronExpression");
  if (kind !== "cron") return null;
  if (expression === undefined) {
    if (obj.cronExpression === undefined || obj.cronExpression === null) {
      c.add("cronExpression", C.invalid, `cronExpression is required for cron (like "0 * * * *")`);
    }
    return undefined;
  }
  const trimmed = expression.trim().replace(/\s+/g, " ");
  if (trimmed.length === 0 || trimmed.length > MAX_CRON_LENGTH) {
    return c.add(
      "cronExpression",
      C.cronInvalid,
      `cronExpression must be 1 to ${MAX_CRON_LENGTH} characters`,
    );
  }
  // With an unknown zone (reported on its own) the expression is still checked, in UTC.
  const why = cron.expression(trimmed, timezone ?? "UTC", now);
  if (why !== undefined) {
    return c.add("cronExpression", C.cronInvalid, `cronExpression ${JSON.stringify(trimmed)}: ${why}`);
  }
  return trimmed;
}

/** `jitter`/`jitterMs` within bounds (default 0). */
function jitterOf(c: Collector, obj: Record<string, unknown>): number | undefined {
  const ms = durationPair(c, obj, "jitter");
  if (ms === undefined) return undefined;
  if (ms !== null && ms > MAX_JITTER_MS) {
    return c.add("jitter", C.outOfRange, `jitter must be at most 1d, got ${ms} ms`);
  }
  return ms ?? SCHEDULE_DEFAULTS.jitterMs;
}

/** `maxCatchUp`: an integer from 1 to {@link MAX_CATCH_UP} (default 100). */
function maxCatchUpOf(c: Collector, obj: Record<string, unknown>): number | undefined {
  const v = obj.maxCatchUp;
  if (v === undefined || v === null) return SCHEDULE_DEFAULTS.maxCatchUp;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_CATCH_UP) {
    return c.add(
      "maxCatchUp",
      C.outOfRange,
      `maxCatchUp must be an integer from 1 to ${MAX_CATCH_UP}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** `input`: any JSON (default null), at most {@link MAX_SCHEDULE_INPUT_BYTES}. */
function inputOf(c: Collector, obj: Record<string, unknown>): Json | undefined {
  const v = obj.input;
  if (v === undefined) return null;
  const text = JSON.stringify(v);
  if (text === undefined) return c.add("input", C.invalid, "input must be JSON");
  if (utf8Length(text, MAX_SCHEDULE_INPUT_BYTES) > MAX_SCHEDULE_INPUT_BYTES) {
    return c.add("input", C.inputTooLarge, `input must be at most ${MAX_SCHEDULE_INPUT_BYTES} bytes of JSON`);
  }
  return v as Json;
}

/** `enabled`: a boolean (default true). */
function enabledOf(c: Collector, obj: Record<string, unknown>): boolean | undefined {
  const v = obj.enabled;
  if (v === undefined || v === null) return true;
  if (typeof v !== "boolean") {
    return c.add("enabled", C.invalid, `enabled must be a boolean, got ${typeOf(v)}`);
  }
  return v;
}

/**
 * Checks a schedule as a user wrote it (at JSON path `path`) and normalises it: `kind` or `scheduleType`;
 * `interval` a duration (`30s`, `5m`, `1h`, `1d`) or ms (`intervalMs` too); `startAt`/`endAt` ISO 8601 or epoch
 * ms; `jitter` a duration (or `jitterMs`); `timezone` (default UTC); `overlap`, `catchUp`, `maxCatchUp`,
 * `input`, `enabled`. Fields another kind uses are ignored (the old UI sent them all). `now` is only used to
 * tell a cron expression that never fires.
 */
export function parseScheduleSpec(
  input: unknown,
  path: string,
  now: number,
  cron: CronCheck,
): ScheduleSpecResult {
  const c = new Collector(path);
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    c.add(null, C.invalid, `a schedule must be an object, got ${typeOf(input)}`);
    return { ok: false, problems: c.problems };
  }
  const obj = input as Record<string, unknown>;
  const kind = kindOf(c, obj);
  const timezone = timezoneOf(c, obj, cron);
  const intervalMs = kind === undefined ? durationPair(c, obj, "interval") : intervalOf(c, obj, kind);
  const cronExpression = kind === undefined
    ? c.string(obj, "cronExpression")
    : cronOf(c, obj, kind, timezone, now, cron);
  const startAt = timeOf(c, obj, "startAt");
  const endAt = timeOf(c, obj, "endAt");
  if (typeof startAt === "number" && typeof endAt === "number" && endAt <= startAt) {
    c.add("endAt", C.endBeforeStart, "endAt must be after startAt");
  }
  const overlap = c.oneOf<OverlapPolicy>(
    obj,
    "overlap",
    OVERLAP_POLICIES,
    SCHEDULE_DEFAULTS.overlap,
    C.policyUnknown,
  );
  const catchUp = c.oneOf<CatchUpPolicy>(
    obj,
    "catchUp",
    CATCH_UP_POLICIES,
    SCHEDULE_DEFAULTS.catchUp,
    C.policyUnknown,
  );
  const jitterMs = jitterOf(c, obj);
  const maxCatchUp = maxCatchUpOf(c, obj);
  const runInput = inputOf(c, obj);
  const enabled = enabledOf(c, obj);
  if (c.problems.length > 0) return { ok: false, problems: c.problems };
  return {
    ok: true,
    enabled: enabled!,
    spec: {
      kind: kind!,
      cronExpression: cronExpression ?? null,
      timezone: timezone!,
      intervalMs: intervalMs ?? null,
      startAt: startAt ?? null,
      endAt: endAt ?? null,
      input: runInput!,
      jitterMs: jitterMs!,
      overlap: overlap!,
      catchUp: catchUp!,
      maxCatchUp: maxCatchUp!,
    },
  };
}

/**
 * A spec as the body that would make it again (our field names, times as epoch ms): what a `PATCH` merges its
 * fields onto.
 *
 * @example
 * ```ts
 * import { specAsInput, parseScheduleSpec } from "./schedule_spec.ts";
 * const cron = { timezone: () => true, expression: () => undefined };
 * const r = parseScheduleSpec({ kind: "fixed_delay", interval: "5m" }, "$", 0, cron);
 * if (!r.ok) throw new Error();
 * const again = parseScheduleSpec(specAsInput(r.spec), "$", 0, cron);
 * if (!again.ok || JSON.stringify(again.spec) !== JSON.stringify(r.spec)) throw new Error("round trip");
 * ```
 */
export function specAsInput(spec: ScheduleSpec): Record<string, unknown> {
  return {
    kind: spec.kind,
    cronExpression: spec.cronExpression,
    timezone: spec.timezone,
    intervalMs: spec.intervalMs,
    startAt: spec.startAt,
    endAt: spec.endAt,
    input: spec.input,
    jitterMs: spec.jitterMs,
    overlap: spec.overlap,
    catchUp: spec.catchUp,
    maxCatchUp: spec.maxCatchUp,
  };
}

/** Fields that name the same thing: a patch giving one replaces the others. */
const ALIASES: readonly (readonly string[])[] = [["kind", "scheduleType"], ["interval", "intervalMs"], [
  "jitter",
  "jitterMs",
]];

/**
 * The body a `PATCH` makes: the current spec's fields with the patch's over them (a patch's `interval` replaces
 * the current `intervalMs`, `scheduleType` the current `kind`, `jitter` the current `jitterMs`). Parse the
 * result with {@link parseScheduleSpec}.
 *
 * @example
 * ```ts
 * import { mergePatch, parseScheduleSpec } from "./schedule_spec.ts";
 * const cron = { timezone: () => true, expression: () => undefined };
 * const r = parseScheduleSpec({ kind: "fixed_rate", interval: "1h", overlap: "skip" }, "$", 0, cron);
 * if (!r.ok) throw new Error();
 * const patched = parseScheduleSpec(mergePatch(r.spec, { interval: "5m" }), "$", 0, cron);
 * if (!patched.ok || patched.spec.intervalMs !== 300_000 || patched.spec.overlap !== "skip") throw new Error();
 * ```
 */
export function mergePatch(spec: ScheduleSpec, patch: Record<string, unknown>): Record<string, unknown> {
  const base = specAsInput(spec);
  for (const names of ALIASES) {
    if (names.some((n) => patch[n] !== undefined)) { for (const n of names) delete base[n]; }
  }
  return { ...base, ...patch };
}
