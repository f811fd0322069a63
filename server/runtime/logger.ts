/**
 * The logger the runtime writes to: injected, like the clock, so the runtime does not depend on how lines are
 * formatted or where they go (`server/ops/log.ts` makes the real one).
 *
 * @module
 */

/** A logger with fields bound to it. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
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
