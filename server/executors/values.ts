/**
 * Small helpers over JSON records shared by the node executors: a canonical key for
 * deep equality, a total order for sorting, field access that treats bare values as
 * `{value: record}`, and conversion of driver values (BigInt, Date, bytes) to JSON.
 *
 * @module
 */
import type { Json } from "./executor.ts";
import { canonicalJson } from "../../core/json.ts";
export { canonicalJson };

/** Whether `x` is a JSON object (not null, not an array). */
export function isObject(x: unknown): x is { [key: string]: Json } {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * The value of field `name` of a record. A bare (non-object) record answers
 * `value` with itself and anything else with `undefined`.
 */
export function fieldOf(record: Json, name: string): Json | undefined {
  if (isObject(record)) return Object.hasOwn(record, name) ? record[name] : undefined;
  return name === "value" ? record : undefined;
}

function rank(x: unknown): number {
  if (typeof x === "number") return 0;
  if (typeof x === "string") return 1;
  if (typeof x === "boolean") return 2;
  if (x === null) return 3;
  if (x === undefined) return 5;
  return 4; // arrays and objects
}

/**
 * A total order on JSON values: numbers (numerically) before strings (by code unit)
 * before booleans (false first) before null before arrays and objects (by canonical
 * JSON) before `undefined`.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
    case 1:
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 4: {
      const ca = canonicalJson(a);
      const cb = canonicalJson(b);
      return ca < cb ? -1 : ca > cb ? 1 : 0;
    }
    default:
      return 0;
  }
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Converts a value from a database driver to JSON: BigInt to a number when it is a
 * safe integer (else its decimal string), Date to an ISO string (invalid dates to
 * null), bytes to a `\x`-prefixed hex string, non-finite numbers to null,
 * `undefined` to null; arrays and plain objects recursively.
 */
export function toJsonSafe(value: unknown): Json {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString();
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) {
    let hex = "\\x";
    for (const b of value) hex += BYTE_HEX[b];
    return hex;
  }
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (typeof value === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v);
    return out;
  }
  return null; // functions, symbols
}
