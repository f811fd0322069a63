/**
 * Output bounds of a node: too many records or too many bytes fail the node with
 * `output_too_large`. Nothing is ever truncated.
 *
 * @module
 */
import { utf8Length } from "../../core/json.ts";
export { utf8Length };
import { type Json, NodeError, type OutputLimits } from "./executor.ts";

/** The error for an output over its bounds. */
export function outputTooLarge(nodeId: string, what: string): NodeError {
  return new NodeError("output_too_large", `node ${nodeId}: output too large: ${what}`, false);
}

/**
 * Throws when `count` records would exceed `limits.maxRecords`; sources call it
 * before generating anything.
 */
export function enforceCount(count: number, limits: OutputLimits, nodeId: string): void {
  if (count > limits.maxRecords) {
    throw outputTooLarge(nodeId, `${count} records, the limit is ${limits.maxRecords}`);
  }
}

/**
 * Fails when `records` exceed `limits`: more than `maxRecords` records, or more than
 * `maxBytes` bytes of UTF-8 as a JSON array. The byte count stops at the first
 * record that crosses the bound.
 *
 * @returns the size of `records` as a JSON array, in bytes of UTF-8.
 * @throws {NodeError} code `output_too_large`, not retryable.
 */
export function enforceLimits(records: readonly Json[], limits: OutputLimits, nodeId: string): number {
  enforceCount(records.length, limits, nodeId);
  // "[" + records joined by "," + "]"
  let bytes = records.length === 0 ? 2 : 1 + records.length;
  if (bytes > limits.maxBytes) {
    throw outputTooLarge(nodeId, `more than ${limits.maxBytes} bytes`);
  }
  for (const record of records) {
    if (typeof record === "number" || typeof record === "boolean" || record === null) {
      // JSON writes these as String() does (a non-finite number as null).
      bytes += typeof record === "number" && !Number.isFinite(record) ? 4 : String(record).length;
      if (bytes > limits.maxBytes) throw outputTooLarge(nodeId, `more than ${limits.maxBytes} bytes of JSON`);
      continue;
    }
    const text = JSON.stringify(record) ?? "null";
    // A UTF-8 length is at least the UTF-16 length: skip the exact count when even that is over.
    bytes += text.length > limits.maxBytes - bytes ? text.length : utf8Length(text);
    if (bytes > limits.maxBytes) {
      throw outputTooLarge(nodeId, `more than ${limits.maxBytes} bytes of JSON`);
    }
  }
  return bytes;
}
