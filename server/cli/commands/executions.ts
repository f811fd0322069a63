/**
 * `executions list|get|events|cancel|signal`: reading and steering executions. An execution id may be given
 * whole or short, as the tables show it (see `ids.ts`).
 *
 * @module
 */
import type { ExecutionView } from "../../../core/view.ts";
import { apiPath } from "../client.ts";
import type { Command, Context } from "../command.ts";
import { flag, opt, printJson } from "../command.ts";
import { ago, brief, duration, isoTime, shortId, table } from "../format.ts";
import { exitOfFollow, follow } from "../follow.ts";
import { withExecutionId } from "../ids.ts";
import { parseIntOption, parseTime, readJson } from "../input.ts";
import { executionDetail } from "../views.ts";
import { PAGE_OPTIONS, readList } from "./lists.ts";
import { printEnd, WAIT_OPTIONS, waitOptions } from "./run.ts";

/** An execution in a list. */
interface Row {
  executionId: string;
  workflowId: string;
  version: number;
  status: string;
  startTime: number;
  endTime: number | null;
  duration: number | null;
  logsCount: number;
}

/** One event of a history. */
interface Event {
  type: string;
  seq: number;
  at: number;
  nodeId?: string;
  [field: string]: unknown;
}

const ID_ARG = { name: "executionId", help: "the execution's id, whole or short (ex-6f260d08)" };

/** The fields of an event besides its type, sequence, time and node. */
function eventDetail(e: Event): string {
  const { type: _t, seq: _s, at: _a, v: _v, nodeId: _n, executionId: _e, ...rest } = e;
  return Object.keys(rest).length === 0 ? "" : brief(rest, 100);
}

/** `executions list`. */
const list: Command = {
  name: "executions list",
  summary: "List executions, newest first, filtered",
  options: {
    workflow: { type: "string", value: "ID", help: "only this workflow's runs" },
    status: {
      type: "string",
      value: "STATUS",
      help: "only runs with this status: running, completed, failed, cancelled, timed_out",
    },
    from: {
      type: "string",
      value: "TIME",
      help: "started at or after TIME: epoch ms, an ISO date, or 1h (ago)",
    },
    to: { type: "string", value: "TIME", help: "started at or before TIME" },
    search: { type: "string", value: "TEXT", help: "only runs whose id starts with TEXT" },
    ...PAGE_OPTIONS,
  },
  examples: [
    "executions list",
    "executions list --workflow big-numbers --status failed --from 24h",
    "executions list --status running --all --json",
  ],
  async run(ctx) {
    const now = ctx.io.now();
    const time = (name: string) => {
      const t = opt(ctx, name);
      return t === undefined ? undefined : parseTime(t, `--${name}`, now);
    };
    const rows = await readList<Row>(ctx, apiPath("executions"), {
      workflowId: opt(ctx, "workflow"),
      status: opt(ctx, "status"),
      from: time("from"),
      to: time("to"),
      q: opt(ctx, "search"),
    });
    if (ctx.json) {
      printJson(ctx.io, rows);
      return 0;
    }
    if (rows.length === 0) {
      ctx.io.out("no executions");
      return 0;
    }
    const lines = table(
      ["EXECUTION", "WORKFLOW", "VERSION", "STATUS", "STARTED", "DURATION", "EVENTS"],
      rows.map((r) => [
        shortId(r.executionId),
        r.workflowId,
        String(r.version),
        r.status,
        ago(r.startTime, now),
        r.duration === null ? `${duration(now - r.startTime)}…` : duration(r.duration),
        String(r.logsCount),
      ]),
      ["left", "left", "right", "left", "left", "right", "right"],
    );
    for (const l of lines) ctx.io.out(l);
    return 0;
  },
};

/** `executions get`. */
const get: Command = {
  name: "executions get",
  summary: "Show an execution and its nodes",
  args: [ID_ARG],
  options: {
    wait: {
      type: "boolean",
      help: "wait for the end: exit 0 completed, 4 failed/cancelled/timed_out, 5 timeout",
    },
    ...WAIT_OPTIONS,
  },
  examples: ["executions get ex-6f260d08", "executions get ex-6f260d08 --wait --timeout 5m --json"],
  run(ctx) {
    return withExecutionId(ctx.client, ctx.args[0], async (id) => {
      if (!flag(ctx, "wait")) {
        printEnd(ctx, await ctx.client.get<ExecutionView>(apiPath("executions", id)));
        return 0;
      }
      const f = await follow(ctx, id, waitOptions(ctx));
      printEnd(ctx, f.view);
      return exitOfFollow(f);
    });
  },
};

/** `executions events`. */
const events: Command = {
  name: "executions events",
  summary: "Show an execution's event history, oldest first",
  args: [ID_ARG],
  options: { after: { type: "string", value: "SEQ", help: "only events after this sequence number" } },
  examples: ["executions events ex-6f260d08", "executions events ex-6f260d08 --after 9 --json"],
  run(ctx) {
    const after = opt(ctx, "after");
    const query = { after: after === undefined ? undefined : parseIntOption(after, "--after", 0, 2 ** 31) };
    return withExecutionId(ctx.client, ctx.args[0], async (id) => {
      const body = await ctx.client.get<{ executionId: string; events: Event[] }>(
        apiPath("executions", id, "events"),
        query,
      );
      if (ctx.json) {
        printJson(ctx.io, body);
        return 0;
      }
      const lines = table(
        ["SEQ", "AT", "TYPE", "NODE", "DETAIL"],
        body.events.map((e) => [String(e.seq), isoTime(e.at, true), e.type, e.nodeId ?? "", eventDetail(e)]),
        ["right"],
      );
      for (const l of lines) ctx.io.out(l);
      return 0;
    });
  },
};

/** Prints a steering answer (the execution view) after a line saying what was done. */
function printSteered(ctx: Context, done: string, view: ExecutionView): number {
  if (ctx.json) {
    printJson(ctx.io, view);
    return 0;
  }
  ctx.io.out(`${done}: ${view.executionId} is ${view.status}`);
  ctx.io.out("");
  for (const l of executionDetail(view, ctx.io.now())) ctx.io.out(l);
  return 0;
}

/** `executions cancel`. */
const cancel: Command = {
  name: "executions cancel",
  summary: "Cancel a running execution",
  args: [ID_ARG],
  options: { reason: { type: "string", value: "TEXT", help: "why (default: cancelled by request)" } },
  examples: [`executions cancel ex-6f260d08 --reason "not needed"`],
  run(ctx) {
    const reason = opt(ctx, "reason");
    return withExecutionId(ctx.client, ctx.args[0], async (id) => {
      const a = await ctx.client.request<ExecutionView>("POST", apiPath("executions", id, "cancel"), {
        body: reason === undefined ? {} : { reason },
      });
      return printSteered(ctx, "cancelled", a.body);
    });
  },
};

/** `executions signal`. */
const signal: Command = {
  name: "executions signal",
  summary: "Send a signal to a running execution",
  args: [ID_ARG, { name: "name", help: "the signal's name" }],
  options: {
    data: {
      type: "string",
      value: "JSON|FILE",
      help: "the payload: inline JSON, a JSON file, or - for standard input (default: none, null)",
    },
  },
  examples: [`executions signal ex-f8eec922 approve --data '{"by": "ann"}'`],
  async run(ctx) {
    const data = opt(ctx, "data");
    const body = data === undefined ? {} : { payload: await readJson(data, "--data", true) };
    return await withExecutionId(ctx.client, ctx.args[0], async (id) => {
      const a = await ctx.client.request<ExecutionView>(
        "POST",
        apiPath("executions", id, "signals", ctx.args[1]),
        { body },
      );
      return printSteered(ctx, `signal ${ctx.args[1]} sent`, a.body);
    });
  },
};

/** The execution commands. */
export const executionCommands: Command[] = [list, get, events, cancel, signal];
