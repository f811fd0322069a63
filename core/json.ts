/**
 * JSON values: what records, inputs and signal payloads are.
 *
 * @module
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON with object keys sorted at every depth: equal values, equal text.
 *
 * @example
 * ```ts
 * import { canonicalJson } from "./json.ts";
 * if (canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }) !== '{"a":[{"c":2,"d":1}],"b":1}') throw new Error();
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}
