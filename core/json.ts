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

/**
 * The number of UTF-8 bytes of `s`, without encoding it (lone surrogates count as U+FFFD, 3 bytes).
 *
 * With a `limit`, it answers "is it over `limit`?" as cheaply as it can: the result is over `limit` exactly
 * when the length is, but it is the exact length only when no shortcut applied (each UTF-16 unit is one to
 * three bytes, so `s.length` settles many cases without a scan, and the scan stops once past `limit`).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./json.ts";
 * if (utf8Length("h\u00e9") !== 3) throw new Error("é is two bytes");
 * if (!(utf8Length("\u20ac\u20ac", 5) > 5)) throw new Error("two euro signs are six bytes");
 * ```
 */
export function utf8Length(s: string, limit?: number): number {
  if (limit !== undefined && (s.length > limit || s.length * 3 <= limit)) return s.length;
  const max = limit ?? Infinity;
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
    if (n > max) return n;
  }
  return n;
}
