/**
 * The embedded default: PGlite (PostgreSQL compiled to WebAssembly) on local
 * disk under the data directory, so one SQL dialect serves both backends.
 * PGlite has no cross-process lock, and two processes on one directory silently
 * lose committed rows, so this module takes an exclusive lock on
 * `<dataDir>/LOCK` first and refuses to open when another process holds it.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PGliteDialect } from "kysely";
import { migrate } from "./sql/migrations.ts";
import type { Database } from "./sql/schema.ts";
import { SqlStorage } from "./sql/sql_storage.ts";

/** The data directory is in use by another process. */
export class DataDirLocked extends Error {
  constructor(dir: string) {
    super(`data directory ${dir} is in use by another process (lock ${dir}/LOCK is held)`);
    this.name = "DataDirLocked";
  }
}

/** Takes the exclusive lock on a directory's LOCK file, or throws `DataDirLocked` within `waitMs`. */
export async function lockDataDir(dir: string, waitMs = 500): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(`${dir}/LOCK`, { create: true, read: true, write: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const locked = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), waitMs)),
  ]);
  clearTimeout(timer);
  if (!locked) {
    // The pending lock call cannot be withdrawn; closing the file ends it.
    file.close();
    throw new DataDirLocked(dir);
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}

/** Options of `openEmbedded`. */
export interface EmbeddedOptions {
  dataDir: string;
  now?: () => number;
}

/** Opens (creating on first use) the embedded store under `dataDir/pg`, locked to this process. */
export async function openEmbedded(opts: EmbeddedOptions): Promise<SqlStorage> {
  const lock = await lockDataDir(opts.dataDir);
  let pg: PGlite | undefined;
  try {
    pg = await PGlite.create(`${opts.dataDir}/pg`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite: pg }) });
    await migrate(db, (opts.now ?? Date.now)());
    return new SqlStorage(db, {
      kind: "embedded",
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
