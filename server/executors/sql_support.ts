/**
 * Helpers for the sql.* nodes: safe identifier quoting and the mapping of driver
 * errors to `NodeError`s with a retry decision.
 *
 * @module
 */
import { NodeError } from "./executor.ts";

/** PostgreSQL's identifier length limit, in bytes. */
const MAX_IDENTIFIER_BYTES = 63;

const encoder = new TextEncoder();

/**
 * Quotes one identifier with double quotes, doubling embedded quotes. Quoted
 * identifiers are case-sensitive: `userId` stays `userId`.
 *
 * @throws {NodeError} `sql_identifier` (not retryable) for an empty name, a NUL, or more than 63 bytes.
 */
export function quoteIdent(name: string): string {
  if (
    typeof name !== "string" || name === "" || name.includes("\0") ||
    encoder.encode(name).length > MAX_IDENTIFIER_BYTES
  ) {
    throw new NodeError(
      "sql_identifier",
      `invalid SQL identifier ${
        JSON.stringify(name)
      }: must be 1 to ${MAX_IDENTIFIER_BYTES} bytes without NUL`,
      false,
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quotes a table name, `table` or `schema.table`, each part on its own. A part that
 * itself holds a dot cannot be named.
 *
 * @throws {NodeError} `sql_identifier` when the name has more than two parts or a bad part.
 */
export function quoteTable(name: string): string {
  const parts = typeof name === "string" ? name.split(".") : [];
  if (parts.length < 1 || parts.length > 2) {
    throw new NodeError(
      "sql_identifier",
      `invalid table name ${JSON.stringify(name)}: use table or schema.table`,
      false,
    );
  }
  return parts.map(quoteIdent).join(".");
}

/** SQLSTATE classes and codes worth another attempt. */
const RETRYABLE_STATES = new Set(["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "57014"]);
const RETRYABLE_CLASSES = new Set(["08", "53", "58"]);

/**
 * Converts an error from the SQL client to a `NodeError` (`NodeError`s pass through):
 * - a PostgreSQL error (with a SQLSTATE) becomes `sql_error`, retryable for
 *   connection problems, serialization failures, deadlocks and resource shortages;
 * - a driver error with a code (refused connection, timeout, closed socket) becomes
 *   `sql_connection`, retryable;
 * - anything else (a value the driver cannot serialize, say) becomes `sql_error`, not retryable.
 */
export function sqlError(e: unknown, what: string): NodeError {
  if (e instanceof NodeError) return e;
  const err = e as { code?: unknown; message?: unknown; severity?: unknown };
  const message = typeof err?.message === "string" ? err.message : String(e);
  const code = typeof err?.code === "string" ? err.code : "";
  if (/^[0-9A-Z]{5}$/.test(code) && err.severity !== undefined) {
    const retryable = RETRYABLE_STATES.has(code) || RETRYABLE_CLASSES.has(code.slice(0, 2));
    return new NodeError("sql_error", `${what} failed: ${message} (SQLSTATE ${code})`, retryable);
  }
  if (code !== "") {
    return new NodeError("sql_connection", `${what} failed: ${message} (${code})`, true);
  }
  return new NodeError("sql_error", `${what} failed: ${message}`, false);
}
