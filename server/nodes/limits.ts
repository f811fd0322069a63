/**
 * Output bounds of a node: too many records or too many bytes fail the node with
 * `output_too_large`. Nothing is ever truncated.
 *
 * @module
 */
import { type Json, NodeError, type OutputLimits } from "./executor.ts";

/** The number of UTF-8 bytes of `s` (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

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
 * @throws {NodeError} code `output_too_large`, not retryable.
 */
export function enforceLimits(records: readonly Json[], limits: OutputLimits, nodeId: string): void {
  enforceCount(records.length, limits, nodeId);
  // "[" + records joined by "," + "]"
  let bytes = records.length === 0 ? 2 : 1 + records.length;
  if (bytes > limits.maxBytes) {
    throw outputTooLarge(nodeId, `more than ${limits.maxBytes} bytes`);
  }
  for (const record of records) {
    const text = JSON.stringify(record) ?? "null";
    // A UTF-8 length is at least the UTF-16 length: skip the exact count when even that is over.
    bytes += text.length > limits.maxBytes - bytes ? text.length : utf8Length(text);
    if (bytes > limits.maxBytes) {
      throw outputTooLarge(nodeId, `more than ${limits.maxBytes} bytes of JSON`);
    }
  }
}
