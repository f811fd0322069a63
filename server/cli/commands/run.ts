/**
 * `run <workflowId>`: starts an execution and waits for its end (exit 0 completed, 4 failed, cancelled or
 * timed out, 5 when `--timeout` runs out first), `--watch` showing it live, `--detach` not waiting.
 *
 * @module
 */
import type { ExecutionView } from "../../../core/view.ts";
import { apiPath } from "../client.ts";
import type { Command, Context, Options } from "../command.ts";
import { flag, opt, printJson } from "../command.ts";
import { EXIT, usageError } from "../errors.ts";
import { shortId } from "../format.ts";
import { exitOfFollow, exitOfStatus, follow, isEnded } from "../follow.ts";
import { parseDurationOption, parseIntOption, readJson } from "../input.ts";
import { executionDetail } from "../views.ts";
import { lineRenderer, ttyRenderer } from "../watch.ts";

/** How long the first request waits on the node for a quick run's end, in ms. */
export const FIRST_WAIT_MS = 10_000;

/** The wait options (`run`, `executions get --wait`). */
export const WAIT_OPTIONS: Options = {
  timeout: {
    type: "string",
    value: "DURATION",
    help:
      "stop waiting after this long (30s, 5m, …): exit 5, the execution goes on (default: wait for the end)",
  },
  interval: { type: "string", value: "DURATION", help: "between two polls, 50ms to 1s (default 500ms)" },
};

/** The wait options given: the timeout (if any) and the poll interval. */
export function waitOptions(ctx: Context): { timeoutMs?: number; intervalMs: number } {
  const t = opt(ctx, "timeout");
  const i = opt(ctx, "interval");
  return {
    timeoutMs: t === undefined ? undefined : parseDurationOption(t, "--timeout", 1, 366 * 86_400_000),
    intervalMs: i === undefined ? 500 : parseDurationOption(i, "--interval", 50, 1_000),
  };
}

/** What execute answers without the end (202). */
interface Started {
  executionId: string;
  workflowId: string;
  version: number;
  status: string;
  message: string;
}

/** The execute request of the options: its body, query and headers. */
async function executeRequest(ctx: Context) {
  const body: Record<string, unknown> = {};
  const input = opt(ctx, "input");
  if (input !== undefined) body.input = await readJson(input, "--input", true);
  const timeout = opt(ctx, "execution-timeout");
  if (timeout !== undefined) {
    body.timeoutMs = parseDurationOption(timeout, "--execution-timeout", 1, 7 * 86_400_000);
  }
  const v = opt(ctx, "version");
  if (v !== undefined) body.version = parseIntOption(v, "--version", 1, 2 ** 31);
  const key = opt(ctx, "idempotency-key");
  return { body, headers: key === undefined ? undefined : { "idempotency-key": key } };
}

/** Prints the end of a wait (the view, or its JSON) and answers the exit code. */
export function printEnd(ctx: Context, view: ExecutionView): void {
  if (ctx.json) return printJson(ctx.io, view);
  for (const l of executionDetail(view, ctx.io.now())) ctx.io.out(l);
}

/** `--detach`: the execute answer; exit 0, or 4 when the answer already says the run ended otherwise. */
function printStarted(ctx: Context, started: Started): number {
  if (ctx.json) printJson(ctx.io, started);
  else {
    const { message, executionId, workflowId, version, status } = started;
    ctx.io.out(`${message}: ${executionId} (${workflowId} v${version}), status ${status}`);
  }
  return started.status === "started" || !isEnded(started.status) ? EXIT.ok : exitOfStatus(started.status);
}

/** `--watch`: the live view until the end. */
async function watch(ctx: Context, id: string): Promise<number> {
  const { io } = ctx;
  const renderer = io.isTerminal ? ttyRenderer(io) : lineRenderer(io);
  try {
    const f = await follow(ctx, id, {
      ...waitOptions(ctx),
      onView: (v) => renderer.view(v),
      onOutage: (e) => renderer.outage(e),
    });
    renderer.finish(f.view, f.outcome);
    return exitOfFollow(f);
  } finally {
    if (io.isTerminal) io.write("\x1b[?25h");
  }
}

/** The run command. */
export const runCommand: Command = {
  name: "run",
  summary: "Execute a workflow and wait for its end (--watch: live)",
  args: [{ name: "workflowId", help: "the workflow to run (its latest version, or --version N)" }],
  options: {
    input: {
      type: "string",
      value: "FILE|JSON",
      help: "the execution's input: inline JSON, a JSON file, or - for standard input",
    },
    watch: { type: "boolean", short: "w", help: "show the nodes' states live, then a summary" },
    detach: { type: "boolean", short: "d", help: "print the execution's id once started; don't wait" },
    version: { type: "string", value: "N", help: "run that version of the workflow" },
    "idempotency-key": { type: "string", value: "KEY", help: "the same key again finds the same execution" },
    "execution-timeout": {
      type: "string",
      value: "DURATION",
      help: "the execution's own timeout (body timeoutMs)",
    },
    ...WAIT_OPTIONS,
  },
  details: [
    "Exits 0 when the execution completed, 4 when it failed, was cancelled or timed out, 5 when --timeout ran",
    "out first (the execution goes on), 130 on Ctrl-C (the execution goes on). With --watch on a terminal the",
    "nodes' states are redrawn in place; otherwise each state change is one line. --json prints the final",
    "execution view (with --detach: the execute answer); it does not go with --watch.",
  ],
  examples: [
    "run big-numbers",
    "run big-numbers --watch",
    `run big-numbers --input '{"customerId": "c-42"}' --json`,
    "run big-numbers --detach --idempotency-key nightly-2026-12-06",
  ],
  async run(ctx) {
    const watching = flag(ctx, "watch");
    const detach = flag(ctx, "detach");
    if (watching && ctx.json) {
      throw usageError("run: --watch is for people; --json alone prints the final view");
    }
    if (watching && detach) throw usageError("run: --watch and --detach do not go together");
    const wait = waitOptions(ctx);
    const { body, headers } = await executeRequest(ctx);
    const path = apiPath("workflows", ctx.args[0], "execute");
    const firstWait = detach || watching ? 0 : Math.min(wait.timeoutMs ?? FIRST_WAIT_MS, FIRST_WAIT_MS);
    const a = await ctx.client.request<Started | ExecutionView>("POST", path, {
      body,
      headers,
      query: { wait: firstWait || undefined },
      extraTimeoutMs: firstWait,
    });
    const id = a.body.executionId;
    if (detach) return printStarted(ctx, a.body as Started);
    if (watching) return await watch(ctx, id);
    if (a.status === 200) {
      // The view as the execution route shows it (the execute answer adds its `message`).
      const { message: _, ...view } = a.body as ExecutionView & { message?: string };
      printEnd(ctx, view);
      return exitOfStatus(view.status);
    }
    if (!ctx.json) ctx.io.err(`waiting for ${shortId(id)} (${id}) to end…`);
    const left = wait.timeoutMs === undefined ? undefined : Math.max(0, wait.timeoutMs - firstWait);
    const f = await follow(ctx, id, { intervalMs: wait.intervalMs, timeoutMs: left });
    printEnd(ctx, f.view);
    if (f.outcome !== "ended" && !ctx.json) {
      ctx.io.err(`${f.outcome === "timeout" ? "the wait ran out" : "interrupted"}; ${id} goes on`);
    }
    return exitOfFollow(f);
  },
};
