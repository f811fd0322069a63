/**
 * The storage a member's configuration names, and how long its commit group lingers on it.
 *
 * @module
 */
import { openEmbedded } from "../storage/embedded.ts";
import { MemoryStorage } from "../storage/memory.ts";
import { openPostgres } from "../storage/postgres.ts";
import type { Storage } from "../storage/storage.ts";
import type { EngineConfig } from "./ops/config.ts";

/** The storage a configuration names: `auto` is PostgreSQL with a database URL, the embedded store without. */
export function storageKind(config: EngineConfig): "memory" | "embedded" | "postgres" {
  return config.storage === "auto" ? (config.databaseUrl ? "postgres" : "embedded") : config.storage;
}

/** The commit group's linger on the embedded store, which blocks the event loop while it writes. */
const EMBEDDED_LINGER_MS = 2;

/**
 * The commit group's linger, ms: {@link EMBEDDED_LINGER_MS} on the embedded store this member opened
 * itself, none otherwise (`given`: the storage was handed in, not opened from the configuration).
 */
export function commitLingerMs(config: EngineConfig, given: boolean): number {
  return !given && storageKind(config) === "embedded" ? EMBEDDED_LINGER_MS : 0;
}

/**
 * Opens the storage a configuration names: `auto` is PostgreSQL when a database
 * URL is set and the embedded store under the data directory otherwise.
 *
 * @example
 * ```ts
 * import { openStorage } from "./storage_choice.ts";
 * import { DEFAULT_CONFIG } from "./ops/config.ts";
 * const storage = await openStorage({ ...DEFAULT_CONFIG, storage: "memory" });
 * if (storage.kind !== "memory") throw new Error("the memory store");
 * await storage.close();
 * ```
 */
export async function openStorage(config: EngineConfig, now: () => number = Date.now): Promise<Storage> {
  switch (storageKind(config)) {
    case "memory":
      return new MemoryStorage();
    case "embedded":
      return await openEmbedded({ dataDir: config.dataDir, now });
    case "postgres":
      if (!config.databaseUrl) throw new Error("storage postgres needs --database-url (ENGINE_DATABASE_URL)");
      return await openPostgres({ url: config.databaseUrl, poolMax: config.databasePoolMax, now });
  }
}
