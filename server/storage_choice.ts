/**
 * The storage a member's configuration names, and how long its commit group lingers on it.
 *
 * @module
 */
import { MemoryStorage } from "../storage/memory.ts";
import { openPostgres } from "../storage/postgres.ts";
import { openSqlite } from "../storage/sqlite/open.ts";
import type { Storage } from "../storage/storage.ts";
import type { EngineConfig } from "./ops/config.ts";

/** The backends a configuration opens. */
export type StorageBackend = "memory" | "sqlite" | "pglite" | "postgres";

/** The local store a data directory gets when it holds none yet (chosen by measurement: docs/BENCHMARKS.md). */
export const DEFAULT_LOCAL_STORE = "sqlite";

/** Whether `path` is a directory (false when it is not, or cannot be looked at). */
function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The local store of a data directory: PGlite when the directory holds PGlite's files (`pg/`) and no SQLite
 * store (a directory made before SQLite became the default keeps its data), else {@link DEFAULT_LOCAL_STORE}.
 *
 * @example
 * ```ts
 * import { localStore } from "./storage_choice.ts";
 * const dir = await Deno.makeTempDir();
 * if (localStore(dir) !== "sqlite") throw new Error("a new data directory gets SQLite");
 * await Deno.mkdir(`${dir}/pg`);
 * if (localStore(dir) !== "pglite") throw new Error("PGlite's data stays PGlite's");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function localStore(dataDir: string): "sqlite" | "pglite" {
  return isDirectory(`${dataDir}/pg`) && !isDirectory(`${dataDir}/sqlite`) ? "pglite" : DEFAULT_LOCAL_STORE;
}

/**
 * The storage a configuration names: `auto` is PostgreSQL with a database URL and the local store without;
 * `embedded` is the local store ({@link localStore}).
 */
export function storageKind(config: EngineConfig): StorageBackend {
  if (config.storage === "auto") return config.databaseUrl ? "postgres" : localStore(config.dataDir);
  if (config.storage === "embedded") return localStore(config.dataDir);
  return config.storage;
}

/**
 * The commit group's linger on the local stores, ms: both write inside the node's event loop and block it
 * while they commit, so without a pause no other append could join a flush.
 */
const LOCAL_LINGER_MS: Readonly<Record<StorageBackend, number>> = {
  memory: 0,
  postgres: 0,
  sqlite: 2,
  pglite: 2,
};

/**
 * The commit group's linger, ms: {@link LOCAL_LINGER_MS} of the store this member opened itself, none
 * when the storage was handed in (`given`), not opened from the configuration.
 */
export function commitLingerMs(config: EngineConfig, given: boolean): number {
  return given ? 0 : LOCAL_LINGER_MS[storageKind(config)];
}

/**
 * Opens the storage a configuration names ({@link storageKind}); PGlite is loaded only when it is used.
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
    case "sqlite":
      return await openSqlite({ dataDir: config.dataDir, now });
    case "pglite": {
      const { openEmbedded } = await import("../storage/embedded.ts");
      return await openEmbedded({ dataDir: config.dataDir, now });
    }
    case "postgres":
      if (!config.databaseUrl) throw new Error("storage postgres needs --database-url (ENGINE_DATABASE_URL)");
      return await openPostgres({ url: config.databaseUrl, poolMax: config.databasePoolMax, now });
  }
}
