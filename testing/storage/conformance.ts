/**
 * The storage conformance suite: one set of cases every `Storage` backend must
 * pass (memory, PostgreSQL, embedded PGlite), grouped by the role of the contract
 * they check (one module each). Each case asks `open` for a storage, and may share
 * it with other cases: every case uses its own ids, workflow ids and shards, and
 * retention works on times no other case uses. Imported only by `*_test.ts` files.
 *
 * @module
 */
import type { Storage } from "../../storage/storage.ts";
import { API_TOKENS_CASES } from "./api_tokens.ts";
import { AUDIT_LOG_CASES } from "./audit_log.ts";
import { CLUSTER_EVENT_LOG_CASES } from "./cluster_event_log.ts";
import { CLUSTER_REGISTRY_CASES } from "./cluster_registry.ts";
import { EXECUTION_INDEX_CASES } from "./execution_index.ts";
import { EXECUTION_LOG_CASES } from "./execution_log.ts";
import type { ConformanceCase } from "./fixtures.ts";
import { LIFECYCLE_CASES } from "./lifecycle.ts";
import { RETENTION_CASES } from "./retention.ts";
import { SCHEDULE_CASES } from "./schedules.ts";
import { SHARD_LEASES_CASES } from "./shard_leases.ts";
import { WORKFLOW_STORE_CASES } from "./workflow_store.ts";
import { WORKFLOW_VERSIONS_CASES } from "./workflow_versions.ts";

/** A storage opened for one case, and how to dispose of it. */
export interface OpenedStorage {
  storage: Storage;
  cleanup(): Promise<void>;
}

/** Registers one test (`Deno.test` or `pgTest`). */
export type Register = (name: string, fn: () => Promise<void>) => void;

/** `Deno.test` without the sanitizers (drivers keep sockets and timers of their own). */
export const denoTest: Register = (name, fn) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

/** Every conformance case, role by role. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...EXECUTION_LOG_CASES,
  ...SHARD_LEASES_CASES,
  ...EXECUTION_INDEX_CASES,
  ...RETENTION_CASES,
  ...WORKFLOW_STORE_CASES,
  ...WORKFLOW_VERSIONS_CASES,
  ...LIFECYCLE_CASES,
  ...CLUSTER_REGISTRY_CASES,
  ...CLUSTER_EVENT_LOG_CASES,
  ...API_TOKENS_CASES,
  ...AUDIT_LOG_CASES,
  ...SCHEDULE_CASES,
];

/**
 * Registers the conformance cases of one backend, each as a test named `<name> storage: <case>`.
 *
 * @example
 * ```ts
 * import { conformance } from "./conformance.ts";
 * import { MemoryStorage } from "../../storage/memory.ts";
 *
 * const names: string[] = [];
 * conformance(
 *   "memory",
 *   () => Promise.resolve({ storage: new MemoryStorage(), cleanup: () => Promise.resolve() }),
 *   (name) => names.push(name), // collect the names instead of registering tests
 * );
 * if (!names.includes("memory storage: ping answers true")) throw new Error("every case is registered");
 * ```
 */
export function conformance(
  name: string,
  open: () => Promise<OpenedStorage>,
  register: Register = denoTest,
): void {
  const run = crypto.randomUUID().slice(0, 8);
  CONFORMANCE_CASES.forEach((c, n) => {
    register(`${name} storage: ${c.title}`, async () => {
      const opened = await open();
      try {
        await c.run({
          storage: opened.storage,
          id: (local) => `${run}-${String(n).padStart(2, "0")}-${local}`,
          shard: (k) => {
            if (k < 0 || k > 9) throw new Error(`shard index ${k} out of 0..9`);
            return 1000 + n * 10 + k;
          },
        });
      } finally {
        await opened.cleanup();
      }
    });
  });
}
