/**
 * Structured logs: one JSON object a line, or a human-readable line with
 * `--log-format pretty`. A JSON line has `timestamp` (ISO 8601), `level`, `msg`,
 * the logger's bound fields (`node`: this node's id) and the call's fields; the
 * engine's lines about an execution carry `event`, `executionId`, `workflowId`
 * and `shard` (docs/OBSERVABILITY.md, "Logs").
 *
 * @module
 */
import type { Logger } from "../runtime/logger.ts";

/** Log levels, quietest last. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of `createLogger`. */
export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "pretty";
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
  now?: () => number;
}

/**
 * A logger.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }).info("hi", { a: 1 });
 * if (JSON.parse(lines[0]).a !== 1) throw new Error();
 * ```
 */
export function createLogger(opts: LoggerOptions, bound: Record<string, unknown> = {}): Logger {
  const write = opts.write ?? ((line: string) => console.error(line));
  const now = opts.now ?? (() => Date.now());
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < RANK[opts.level]) return;
    const timestamp = new Date(now()).toISOString();
    if (opts.format === "json") {
      write(JSON.stringify({ timestamp, level, msg: message, ...bound, ...fields }));
    } else {
      const extra = Object.entries({ ...bound, ...fields }).map(([k, v]) =>
        `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
      );
      write(
        `${timestamp} ${level.toUpperCase().padEnd(5)} ${message}${
          extra.length ? " " + extra.join(" ") : ""
        }`,
      );
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger(opts, { ...bound, ...fields }),
  };
}
