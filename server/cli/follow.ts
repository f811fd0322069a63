/**
 * Following an execution to its end: its view polled every interval (at most 1 s) until it ends, the wait
 * runs out, or the user interrupts. A node that cannot be reached or fails (exit 3 failures) is tolerated
 * for up to {@link OUTAGE_MS} in a row (a restart, a failover), each failed poll reported; a refusal (4xx)
 * ends the follow at once.
 *
 * @module
 */
import type { ExecutionView } from "../../core/view.ts";
import { apiPath } from "./client.ts";
import type { Context } from "./command.ts";
import { CliError, EXIT } from "./errors.ts";

/** How long the node may stay unreachable while an execution is followed, in ms. */
export const OUTAGE_MS = 30_000;

/** The exit code of `deno task cli` when the user interrupts a wait (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Options of {@link follow}. */
export interface FollowOptions {
  /** Between two polls, in ms. */
  intervalMs: number;
  /** Give up after this many ms (none: wait for the end). */
  timeoutMs?: number;
  /** Called with every view polled (the first included). */
  onView?(view: ExecutionView): void;
  /** Called when a poll failed and the follow goes on. */
  onOutage?(err: CliError): void;
}

/** How a follow ended: the last view, and whether the execution ended or why not. */
export interface Followed {
  view: ExecutionView;
  outcome: "ended" | "timeout" | "interrupted";
}

/** Whether an execution status is an end. */
export function isEnded(status: string): boolean {
  return status !== "running" && status !== "paused";
}

/**
 * The exit code of an execution's end: 0 for `completed`, 4 for `failed`, `cancelled` and `timed_out`.
 *
 * @example
 * ```ts
 * import { exitOfStatus } from "./follow.ts";
 * if (exitOfStatus("completed") !== 0 || exitOfStatus("failed") !== 4) throw new Error();
 * ```
 */
export function exitOfStatus(status: string): number {
  return status === "completed" ? EXIT.ok : EXIT.runFailed;
}

/** The exit code of a follow. */
export function exitOfFollow(f: Followed): number {
  if (f.outcome === "interrupted") return EXIT_INTERRUPTED;
  if (f.outcome === "timeout") return EXIT.stillRunning;
  return exitOfStatus(f.view.status);
}

/** Polls the execution `id` until it ends (see the module doc). */
export async function follow(ctx: Context, id: string, opts: FollowOptions): Promise<Followed> {
  const { io, client } = ctx;
  const started = io.now();
  let last: ExecutionView | undefined;
  let lastOk = started; // an outage is measured from the last answer (or the start), not its first failure
  let failure: CliError | undefined;
  const settle = (outcome: "interrupted" | "timeout"): Followed => {
    if (last === undefined) {
      throw failure ?? new CliError(EXIT.unreachable, "no_view", "no view of the execution yet");
    }
    return { view: last, outcome };
  };
  for (;;) {
    try {
      last = await client.get<ExecutionView>(apiPath("executions", id));
      lastOk = io.now();
      failure = undefined;
      opts.onView?.(last);
      if (isEnded(last.status)) return { view: last, outcome: "ended" };
    } catch (err) {
      const transient = err instanceof CliError &&
        (err.exit === EXIT.unreachable || err.code === "rate_limited");
      if (!transient || io.now() - lastOk > OUTAGE_MS) throw err;
      failure = err;
      opts.onOutage?.(err);
    }
    if (io.interrupted.aborted) return settle("interrupted");
    if (opts.timeoutMs !== undefined && io.now() - started >= opts.timeoutMs) return settle("timeout");
    await io.sleep(opts.intervalMs);
    if (io.interrupted.aborted) return settle("interrupted");
  }
}
