/**
 * A rebuild of a JSON value, without recursion (a definition may nest thousands of levels deep), where each
 * value is either replaced or descended into with a context of its own. Secret resolution, redaction,
 * restoring redacted values and scrubbing are all such rebuilds.
 *
 * @module
 */

/** What {@link transformJson}'s visitor decides for one value. */
export type Step<C> =
  /** This value (a replacement, or the value itself) goes into the copy as it is. */
  | { value: unknown }
  /** An array or object: copy it, visiting each child with the context `child` gives it. */
  | { descend: (key: string | number, child: unknown) => C };

/** Sets `key` of `target` as an own, enumerable data property (a `__proto__` key stays a key). */
function define(target: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** One value waiting to be visited, and where its copy goes. */
interface Task<C> {
  value: unknown;
  ctx: C;
  into: Record<string | number, unknown>;
  key: string | number;
}

/**
 * A copy of `root` where `visit` decides, value by value from the root down, what to keep, replace or
 * descend into. Arrays and plain objects descended into are copied (keys in their order); nothing of the
 * input is modified.
 *
 * @example
 * ```ts
 * import { transformJson } from "./json_transform.ts";
 * // Doubles every number below `n` keys; the context counts the depth.
 * const out = transformJson({ a: 1, n: { b: 2 } }, false, (value, under: boolean) =>
 *   typeof value === "number" ? { value: under ? value * 2 : value } : { descend: (key) => under || key === "n" });
 * if (JSON.stringify(out) !== '{"a":1,"n":{"b":4}}') throw new Error(JSON.stringify(out));
 * ```
 */
export function transformJson<C>(root: unknown, ctx: C, visit: (value: unknown, ctx: C) => Step<C>): unknown {
  const top: Record<string, unknown> = {};
  const stack: Task<C>[] = [{ value: root, ctx, into: top, key: "root" }];
  while (stack.length > 0) {
    const task = stack.pop()!;
    const { value } = task;
    const step = visit(value, task.ctx);
    if ("value" in step) {
      define(task.into, task.key, step.value);
      continue;
    }
    if (Array.isArray(value)) {
      const copy: unknown[] = new Array(value.length);
      define(task.into, task.key, copy);
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], ctx: step.descend(i, value[i]), into: copy as never, key: i });
      }
    } else if (typeof value === "object" && value !== null) {
      const copy: Record<string, unknown> = {};
      define(task.into, task.key, copy);
      const keys = Object.keys(value);
      const source = value as Record<string, unknown>;
      for (const k of keys) define(copy, k, null);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i];
        stack.push({ value: source[k], ctx: step.descend(k, source[k]), into: copy, key: k });
      }
    } else {
      define(task.into, task.key, value);
    }
  }
  return top.root;
}
