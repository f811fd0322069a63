/**
 * Cron times from croner: the {@link CronCheck} the schedule validation takes, and the {@link NextTick} of an
 * expression in a time zone. 5 fields (minute precision) or 6 (seconds first), and croner's nicknames
 * (`@hourly`, `@daily`, ...); day-of-month and day-of-week combine with OR, as in Vixie cron.
 *
 * Daylight saving time, as croner computes it in the schedule's zone (see docs/SCHEDULES.md): a wall time
 * that does not exist (02:30 on the spring-forward night in Europe/Berlin) fires at the same distance into the
 * new hour (03:30), so a daily job is never missed; a wall time that happens twice (02:30 on the fall-back
 * night) fires once, at its second, standard-time occurrence, so a daily job never runs twice.
 *
 * @example
 * ```ts
 * import { cronCheck, cronNextTick } from "./cron.ts";
 *
 * const next = cronNextTick("0 2 * * *", "Europe/Berlin");
 * if (next(Date.UTC(2026, 0, 1)) !== Date.UTC(2026, 0, 1, 1)) throw new Error("02:00 CET is 01:00 UTC");
 * if (cronCheck.expression("not a cron", "UTC", 0) === undefined) throw new Error("refused");
 * if (cronCheck.timezone("Mars/Olympus")) throw new Error("unknown zone");
 * ```
 *
 * @module
 */
import { Cron } from "npm:croner@9.1.0";
import { BoundedCache } from "../../core/cache.ts";
import type { NextTick } from "../../core/schedule.ts";
import type { CronCheck } from "../../core/schedule_spec.ts";

/** How many parsed expressions (per expression and zone) are kept. */
const CACHED_CRONS = 1_000;
const crons = new BoundedCache<string, Cron>(CACHED_CRONS);
const zones = new BoundedCache<string, boolean>(CACHED_CRONS);

/**
 * Whether `timezone` is UTC under another name (`UTC`, `Etc/UTC`, `GMT`, `Zulu`, …: what the runtime resolves
 * to `UTC`). croner is then given a zero UTC offset rather than the zone: the same times, without the
 * `Intl` conversions croner makes at every step of a search in a named zone (about 50 times faster: 0.5 ms
 * against 10 µs for a daily 6-field expression, which a burst of fires computes once each).
 */
function isUtc(timezone: string): boolean {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone === "UTC";
  } catch {
    return false;
  }
}

/** The parsed expression (cached), or the reason it does not parse. */
function cronOf(expression: string, timezone: string): Cron | string {
  const key = `${timezone}\u0000${expression}`;
  const cached = crons.get(key);
  if (cached !== undefined) return cached;
  try {
    const zone = isUtc(timezone) ? { utcOffset: 0 } : { timezone };
    const cron = new Cron(expression, { ...zone, legacyMode: true });
    crons.set(key, cron);
    return cron;
  } catch (err) {
    return (err as Error).message.replace(/^CronPattern: /, "");
  }
}

/** Whether `name` is a time zone the runtime knows (an IANA name like `Europe/Berlin`, `UTC`, or an offset). */
function knownZone(name: string): boolean {
  const cached = zones.get(name);
  if (cached !== undefined) return cached;
  let known: boolean;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    known = true;
  } catch {
    known = false;
  }
  zones.set(name, known);
  return known;
}

/** Whether an expression has 5 or 6 fields, or is one of croner's nicknames. */
function fieldCountOk(expression: string): boolean {
  if (expression.startsWith("@")) return true;
  const n = expression.trim().split(/\s+/).length;
  return n === 5 || n === 6;
}

/** The cron checks of the schedule validation (`parseScheduleSpec`). */
export const cronCheck: CronCheck = {
  timezone: knownZone,
  expression(expression, timezone, now) {
    if (!fieldCountOk(expression)) {
      return "must have 5 fields (minute hour day month weekday) or 6 (seconds first)";
    }
    const cron = cronOf(expression, timezone);
    if (typeof cron === "string") return cron;
    try {
      if (cron.nextRun(new Date(now)) === null) return "never fires";
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  },
};

/**
 * The cron times of `expression` in `timezone`: the first strictly after a time (epoch ms), undefined when
 * there is none. The expression must have passed {@link cronCheck}; one that does not parse has no times.
 */
export function cronNextTick(expression: string, timezone: string): NextTick {
  const cron = cronOf(expression, timezone);
  if (typeof cron === "string") return () => undefined;
  return (after) => {
    if (!(Math.abs(after) <= 8.64e15)) return undefined; // not a Date
    try {
      const next = cron.nextRun(new Date(after));
      return next === null ? undefined : next.getTime();
    } catch {
      return undefined; // past croner's range
    }
  };
}
