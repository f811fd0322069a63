/**
 * The PGlite store (`--storage pglite`): PGlite (PostgreSQL compiled to
 * WebAssembly) on local disk under the data directory, through the same SQL
 * roles as PostgreSQL. The local default is the SQLite store (storage/sqlite/);
 * this one stays selectable, and a data directory that holds it keeps it.
 * PGlite has no cross-process lock, and two processes on one directory silently
 * lose committed rows, so this module takes an exclusive lock on
 * `<dataDir>/LOCK` first and refuses to open when another process holds it.
 *
 * @module
 */
import { PGlite } from "npm:@electric-sql/pglite@0.5.17";
import { Kysely, PGliteDialect } from "npm:kysely@0.29.9";
import { lockDataDir } from "./data_dir_lock.ts";
import { migrate } from "./sql/migrations.ts";
import type { Database } from "./sql/schema.ts";
import { SqlStorage } from "./sql/sql_storage.ts";

export { DataDirLocked, lockDataDir } from "./data_dir_lock.ts";

/** Options of `openEmbedded`. */
export interface EmbeddedOptions {
  dataDir: string;
  now?: () => number;
}

/** Opens (creating on first use) the PGlite store under `dataDir/pg`, locked to this process. */
export async function openEmbedded(opts: EmbeddedOptions): Promise<SqlStorage> {
  const lock = await lockDataDir(opts.dataDir);
  let pg: PGlite | undefined;
  try {
    pg = await PGlite.create(`${opts.dataDir}/pg`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite: pg }) });
    await migrate(db, (opts.now ?? Date.now)());
    return new SqlStorage(db, {
      kind: "pglite",
      classify: (err) => err,
      close: async () => {
        await db.destroy();
        lock.close();
      },
    });
  } catch (err) {
    await pg?.close().catch(() => {});
    lock.close();
    throw err;
  }
}
