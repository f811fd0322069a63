/**
 * `schedules list|get|create|update|pause|resume|stop|trigger|delete|templates`: a workflow's schedules. A
 * schedule id may be given whole or short, as the tables show it (see `ids.ts`).
 *
 * @module
 */
import { apiPath } from "../client.ts";
import type { Command, Context } from "../command.ts";
import { opt, printJson } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago, brief, count, isoTime, NONE, shortId, table } from "../format.ts";
import { withScheduleId } from "../ids.ts";
import { readJson } from "../input.ts";
import { PAGE_OPTIONS, readList } from "./lists.ts";

/** A schedule, as far as the CLI reads it. */
interface Schedule {
  scheduleId: string;
  workflowId: string;
  kind: string;
  status: string;
  source: string;
  cronExpression: string | null;
  timezone: string;
  interval: string | null;
  overlap: string;
  catchUp: string;
  input: unknown;
  nextTickAt: number | null;
  lastTickAt: number | null;
  lastExecutionId: string | null;
  runs: number;
  createdAt: number;
}

/** A schedule's detail. */
interface Detail extends Schedule {
  nextFireTimes: number[];
  recentFires: {
    tickAt: number;
    firedAt: number;
    outcome: string;
    reason: string;
    executionId: string | null;
  }[];
}

/** A write's answer. */
interface Written {
  message: string;
  scheduleId: string;
  schedule: Schedule;
}

const ID_ARG = { name: "scheduleId", help: "the schedule's id, whole or short" };

/** When a schedule ticks, in words. */
function when(s: Schedule): string {
  if (s.kind === "cron") return `cron ${s.cronExpression} (${s.timezone})`;
  if (s.kind === "fixed_rate") return `every ${s.interval}`;
  if (s.kind === "fixed_delay") return `${s.interval} after each run`;
  return s.kind;
}

/** A schedule's table. */
function scheduleTable(items: Schedule[], now: number): string[] {
  return table(
    ["SCHEDULE", "WORKFLOW", "WHEN", "STATUS", "NEXT", "RUNS", "LAST RUN"],
    items.map((s) => [
      shortId(s.scheduleId),
      s.workflowId,
      when(s),
      s.status,
      ago(s.nextTickAt, now),
      count(s.runs),
      s.lastExecutionId === null ? NONE : shortId(s.lastExecutionId),
    ]),
    ["left", "left", "left", "left", "left", "right", "left"],
  );
}

/** A schedule's detail, for people. */
function detailLines(d: Detail, now: number): string[] {
  const rows: [string, string][] = [
    ["schedule", d.scheduleId],
    ["workflow", d.workflowId],
    ["when", when(d)],
    ["status", `${d.status}${d.source === "metadata" ? " (from the workflow's metadata.schedule)" : ""}`],
    ["policies", `overlap ${d.overlap}, catch-up ${d.catchUp}`],
    ["input", brief(d.input, 100)],
    ["runs", count(d.runs)],
    ["next fires", d.nextFireTimes.map((t) => `${isoTime(t)} (${ago(t, now)})`).join(", ") || NONE],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (d.recentFires.length === 0) return [...lines, "", "no fires yet"];
  return [
    ...lines,
    "",
    ...table(
      ["TICK", "FIRED", "OUTCOME", "REASON", "EXECUTION"],
      d.recentFires.map((
        f,
      ) => [isoTime(f.tickAt), ago(f.firedAt, now), f.outcome, f.reason, f.executionId ?? NONE]),
    ),
  ];
}

/** Prints a write's answer: the message, the id and when it ticks next. */
function printWritten(ctx: Context, a: Written): number {
  if (ctx.json) {
    printJson(ctx.io, a);
    return 0;
  }
  const s = a.schedule;
  const next = s.nextTickAt === null ? "no tick ahead" : `next ${ago(s.nextTickAt, ctx.io.now())}`;
  ctx.io.out(`${a.message}: ${a.scheduleId} (${s.workflowId}, ${when(s)}, ${s.status}, ${next})`);
  return 0;
}

/** A JSON object from `-f`. */
async function bodyFile(ctx: Context, what: string): Promise<Record<string, unknown>> {
  const file = opt(ctx, "file");
  if (file === undefined) throw usageError("--file (-f) is required");
  const body = await readJson(file, "--file", true);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw usageError(`--file: ${file} is not a JSON object (${what})`);
  }
  return body as Record<string, unknown>;
}

const FILE = (what: string) => ({
  file: {
    type: "string" as const,
    short: "f",
    value: "FILE|JSON",
    help: `${what}: a JSON file, - for stdin, or inline JSON`,
  },
});

/** A status change: pause, resume, stop. */
function statusCommand(verb: "pause" | "resume" | "stop", summary: string): Command {
  return {
    name: `schedules ${verb}`,
    summary,
    args: [ID_ARG],
    examples: [`schedules ${verb} nightly`],
    run: (ctx) =>
      withScheduleId(ctx.client, ctx.args[0], async (id) => {
        const a = await ctx.client.request<Written>("POST", apiPath("schedules", id, verb), { body: {} });
        return printWritten(ctx, a.body);
      }),
  };
}

/** The schedule commands. */
export const scheduleCommands: Command[] = [
  {
    name: "schedules list",
    summary: "List the schedules, by id",
    options: {
      workflow: { type: "string", value: "ID", help: "only this workflow's schedules" },
      ...PAGE_OPTIONS,
    },
    examples: ["schedules list", "schedules list --workflow big-numbers --json"],
    async run(ctx) {
      const items = await readList<Schedule>(ctx, apiPath("schedules"), { workflowId: opt(ctx, "workflow") });
      if (ctx.json) printJson(ctx.io, items);
      else if (items.length === 0) ctx.io.out("no schedules");
      else for (const l of scheduleTable(items, ctx.io.now())) ctx.io.out(l);
      return 0;
    },
  },
  {
    name: "schedules get",
    summary: "Show a schedule, its next and latest fires",
    args: [ID_ARG],
    examples: ["schedules get nightly"],
    run: (ctx) =>
      withScheduleId(ctx.client, ctx.args[0], async (id) => {
        const d = await ctx.client.get<Detail>(apiPath("schedules", id));
        if (ctx.json) printJson(ctx.io, d);
        else for (const l of detailLines(d, ctx.io.now())) ctx.io.out(l);
        return 0;
      }),
  },
  {
    name: "schedules create",
    summary: "Create a schedule from a JSON body",
    options: FILE("the schedule: {workflowId, scheduleType, interval|cronExpression, …}"),
    details: ["The body's fields are in docs/SCHEDULES.md; 'schedules templates' shows examples."],
    examples: [
      `schedules create -f '{"id": "nightly", "workflowId": "big-numbers", "kind": "cron", "cronExpression": "0 2 * * *"}'`,
      "schedules create -f every-5m.json",
    ],
    async run(ctx) {
      const body = await bodyFile(ctx, "a schedule");
      const a = await ctx.client.request<Written>("POST", apiPath("schedules", "add"), { body });
      return printWritten(ctx, a.body);
    },
  },
  {
    name: "schedules update",
    summary: "Change some of a schedule's fields",
    args: [ID_ARG],
    options: FILE("the fields to change"),
    examples: [`schedules update nightly -f '{"cronExpression": "0 3 * * *"}'`],
    async run(ctx) {
      const body = await bodyFile(ctx, "the fields to change");
      return await withScheduleId(ctx.client, ctx.args[0], async (id) => {
        const a = await ctx.client.request<Written>("PATCH", apiPath("schedules", id), { body });
        return printWritten(ctx, a.body);
      });
    },
  },
  statusCommand("pause", "Pause a schedule"),
  statusCommand("resume", "Resume a paused schedule"),
  statusCommand("stop", "Stop a schedule for good"),
  {
    name: "schedules trigger",
    summary: "Run a schedule's workflow now",
    args: [ID_ARG],
    options: {
      input: { type: "string", value: "JSON|FILE", help: "this run's input (default: the schedule's input)" },
    },
    examples: ["schedules trigger nightly", `schedules trigger nightly --input '{"batch": "now"}'`],
    async run(ctx) {
      const input = opt(ctx, "input");
      const body = input === undefined ? {} : { input: await readJson(input, "--input", true) };
      return await withScheduleId(ctx.client, ctx.args[0], async (id) => {
        const a = await ctx.client.request<{ message: string; scheduleId: string; executionId: string }>(
          "POST",
          apiPath("schedules", id, "trigger"),
          { body },
        );
        if (ctx.json) printJson(ctx.io, a.body);
        else ctx.io.out(`${a.body.message}: ${a.body.scheduleId} started execution ${a.body.executionId}`);
        return 0;
      });
    },
  },
  {
    name: "schedules delete",
    summary: "Delete a schedule (and its fires)",
    args: [ID_ARG],
    examples: ["schedules delete nightly"],
    run: (ctx) =>
      withScheduleId(ctx.client, ctx.args[0], async (id) => {
        const a = await ctx.client.request<{ message: string; scheduleId: string }>(
          "DELETE",
          apiPath("schedules", id),
        );
        if (ctx.json) printJson(ctx.io, a.body);
        else ctx.io.out(`${a.body.message}: ${a.body.scheduleId}`);
        return 0;
      }),
  },
  {
    name: "schedules templates",
    summary: "Show example schedule bodies",
    examples: ["schedules templates --json"],
    async run(ctx) {
      const items = await ctx.client.get<{ name: string; description: string; schedule: unknown }[]>(
        apiPath("schedules", "templates"),
      );
      if (ctx.json) printJson(ctx.io, items);
      else for (const t of items) ctx.io.out(`${t.name}: ${t.description}\n  ${JSON.stringify(t.schedule)}`);
      return 0;
    },
  },
];
