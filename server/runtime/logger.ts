/**
 * The logger the runtime writes to: injected, like the clock, so the runtime does not depend on how lines are
 * formatted or where they go (`server/ops/log.ts` makes the real one).
 *
 * @module
 */

/** A logger with fields bound to it. */
export interface Logger {
  /** Logs `message` at level `debug`, with `fields` added to the line. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Logs `message` at level `info`, with `fields` added to the line. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Logs `message` at level `warn`, with `fields` added to the line. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Logs `message` at level `error`, with `fields` added to the line. */
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Record<string, unknown>): Logger;
}

/**
 * A logger that drops everything (tests, the simulator).
 *
 * @example
 * ```ts
 * import { silentLogger } from "./logger.ts";
 * silentLogger.with({ node: "n1" }).warn("nobody hears this");
 * ```
 */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with: () => silentLogger,
};
