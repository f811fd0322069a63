/**
 * What a CLI command is: its words, arguments, options and help, and what it runs with (the API client,
 * its parsed arguments, and the terminal it writes to).
 *
 * @module
 */
import type { ApiClient } from "./client.ts";

/** An option of a command (`--name`), as `node:util` parseArgs takes it, with its help. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** A one-letter alias (`-f`). */
  short?: string;
  /** The value's placeholder in the help (`FILE`). */
  value?: string;
  help: string;
}

/** The options of a command, by name. */
export type Options = Record<string, OptionSpec>;

/** A positional argument of a command. */
export interface ArgSpec {
  name: string;
  help: string;
  optional?: boolean;
}

/** Where a command writes, and the clock and terminal it sees. */
export interface Io {
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  /** Writes text as it is to standard output (the live view's cursor moves). */
  write(text: string): void;
  /** Whether standard output is a terminal. */
  isTerminal: boolean;
  /** The terminal's width in columns (80 when unknown). */
  columns(): number;
  /** The terminal's height in rows (none: unbounded, as for a file). */
  rows?(): number;
  /** The time, epoch ms. */
  now(): number;
  /** Waits `ms`, or less when `signal` aborts. */
  sleep(ms: number): Promise<void>;
  /** Aborted when the user interrupts (Ctrl-C). */
  interrupted: AbortSignal;
}

/** What a command runs with. */
export interface Context {
  client: ApiClient;
  /** The positional arguments, after the command's words. */
  args: string[];
  /** The options given (global ones included). */
  opts: Record<string, string | boolean | undefined>;
  /** `--json`: print the API's JSON, one document. */
  json: boolean;
  io: Io;
}

/** A command: `workflows list`, `run`, … */
export interface Command {
  /** Its words, space-separated: `executions list`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  args?: ArgSpec[];
  options?: Options;
  /** More help lines, after the summary. */
  details?: string[];
  /** Example invocations (without `deno task cli`). */
  examples?: string[];
  /** Runs it; resolves with the exit code. */
  run(ctx: Context): Promise<number>;
}

/** The string value of an option, if given. */
export function opt(ctx: Context, name: string): string | undefined {
  const v = ctx.opts[name];
  return typeof v === "string" ? v : undefined;
}

/** Whether a boolean option was given. */
export function flag(ctx: Context, name: string): boolean {
  return ctx.opts[name] === true;
}

/** Prints a value as one JSON document (2-space indented). */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
