/**
 * Deterministic identifiers: a 128-bit string hash, execution ids derived from an
 * idempotency key, and the shard of an execution.
 *
 * @module
 */

/** The default number of shards of a cluster. */
export const DEFAULT_SHARD_COUNT = 128;

function murmur32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 128-bit hash of a string as 32 hex digits (four seeded 32-bit murmur rounds).
 * Not cryptographic; stable across processes and versions.
 *
 * @example
 * ```ts
 * import { hash128 } from "./ids.ts";
 * if (hash128("a") !== hash128("a") || hash128("a") === hash128("b")) throw new Error();
 * ```
 */
export function hash128(text: string): string {
  let out = "";
  for (const seed of [0x9747b28c, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f]) {
    out += murmur32(text, seed).toString(16).padStart(8, "0");
  }
  return out;
}

/** The execution id of a submission with an idempotency key: the same pair always gives the same id. */
export function executionIdFor(workflowId: string, idempotencyKey: string): string {
  return `ex-${hash128(`${workflowId}\u0000${idempotencyKey}`)}`;
}

/**
 * The shard an execution (or a schedule) belongs to: a stable hash of its id modulo the shard count. An id of
 * the form `<key>@<rest>` is routed by `<key>`: a schedule's runs (`<scheduleId>@<tickAt>`) live in its shard,
 * so a fire and the execution it starts are one fenced append.
 *
 * @example
 * ```ts
 * import { shardOf } from "./ids.ts";
 * if (shardOf("sch-1@1700000000000") !== shardOf("sch-1")) throw new Error("routed by the key");
 * ```
 */
export function shardOf(executionId: string, shardCount: number = DEFAULT_SHARD_COUNT): number {
  return murmur32(routingKey(executionId), 0x5bd1e995) % shardCount;
}

/** The routing key of an id: the part before its first `@`, or all of it. */
export function routingKey(executionId: string): string {
  const at = executionId.indexOf("@");
  return at > 0 ? executionId.slice(0, at) : executionId;
}

/**
 * The id of a child execution: fixed by its parent, node, attempt and item (so it is created once however
 * often the parent retries the creation), and routed like its parent (so one owner holds both).
 *
 * @example
 * ```ts
 * import { childExecutionId, shardOf } from "./ids.ts";
 * const child = childExecutionId("ex-1", "each", 1, 7);
 * if (shardOf(child) !== shardOf("ex-1") || child !== childExecutionId("ex-1", "each", 1, 7)) throw new Error();
 * ```
 */
export function childExecutionId(parentId: string, nodeId: string, attempt: number, index: number): string {
  return `${routingKey(parentId)}@ch-${hash128(`${parentId}\u0000${nodeId}\u0000${attempt}`)}-${index}`;
}

/**
 * The id of a new execution of a workflow with a concurrency key: routed by the key, so every run of one key
 * lives in one shard and its owner alone admits them. `suffix` makes it unique (a fresh id, or the
 * idempotency key's hash).
 *
 * @example
 * ```ts
 * import { keyedExecutionId, shardOf } from "./ids.ts";
 * const a = keyedExecutionId("wf", "customer-1", "ex-a"), b = keyedExecutionId("wf", "customer-1", "ex-b");
 * if (a === b || shardOf(a) !== shardOf(b)) throw new Error();
 * ```
 */
export function keyedExecutionId(workflowId: string, key: string, suffix: string): string {
  return `ck-${hash128(`${workflowId}\u0000${key}`)}@${suffix}`;
}
