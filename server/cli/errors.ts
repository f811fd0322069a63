/**
 * The CLI's exit codes and the failures that map to them. Scripts may rely on the codes; docs/CLI.md lists
 * them.
 *
 * @module
 */

/** The exit codes of `deno task cli`. */
export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** The API refused the request (a 4xx answer): its code, message and paths are printed. */
  refused: 1,
  /** Bad usage: an unknown command or option, a missing argument, an unreadable input file. */
  usage: 2,
  /** The node could not be reached, did not answer in time, or answered 5xx. */
  unreachable: 3,
  /** A waited-for execution ended `failed`, `cancelled` or `timed_out`. */
  runFailed: 4,
  /** The wait (`--timeout`) ran out while the execution was still running. */
  stillRunning: 5,
} as const;

/** One fault of a request, as the API names it. */
export interface ErrorDetail {
  path?: string;
  code?: string;
  message?: string;
}

/** The API's error body. */
export interface ApiErrorBody {
  error: { code: string; message: string; details: ErrorDetail[] };
}

/** A failure that ends the command with `exit`; `body` is what `--json` prints (the API's error body). */
export class CliError extends Error {
  constructor(
    readonly exit: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** The HTTP status, when the node answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "CliError";
  }

  /** The error as one JSON document, in the API's error shape. */
  get body(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/**
 * Bad usage (exit 2).
 *
 * @example
 * ```ts
 * import { EXIT, usageError } from "./errors.ts";
 * if (usageError("no such command").exit !== EXIT.usage) throw new Error();
 * ```
 */
export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, "usage", message);
}

/** The node could not be reached or failed (exit 3). */
export function unreachableError(
  code: string,
  message: string,
  status?: number,
  details: ErrorDetail[] = [],
) {
  return new CliError(EXIT.unreachable, code, message, details, status);
}

/**
 * The human lines of a failure: `error: <code> (<status>): <message>`, then one line per detail.
 *
 * @example
 * ```ts
 * import { CliError, describeError } from "./errors.ts";
 * const lines = describeError(new CliError(1, "workflow_not_found", "no workflow x", [], 404));
 * if (lines[0] !== "error: workflow_not_found (404): no workflow x") throw new Error(lines[0]);
 * ```
 */
export function describeError(err: CliError): string[] {
  if (err.exit === EXIT.usage) return [`usage error: ${err.message}`];
  const status = err.status === undefined ? "" : ` (${err.status})`;
  const lines = [`error: ${err.code}${status}: ${err.message}`];
  for (const d of err.details.slice(0, 50)) {
    const code = d.code ? ` [${d.code}]` : "";
    lines.push(`  at ${d.path ?? "?"}${code}: ${d.message ?? ""}`);
  }
  if (err.details.length > 50) lines.push(`  … and ${err.details.length - 50} more`);
  return lines;
}
