/**
 * The data directory's lock: an exclusive `flock` on `<dataDir>/LOCK`, taken by every embedded store (SQLite,
 * PGlite) before it opens its files, so that one process at a time uses a data directory. The lock dies with
 * its process: a restart after `kill -9` takes it at once.
 *
 * @module
 */

/** The data directory is in use by another process. */
export class DataDirLocked extends Error {
  constructor(dir: string) {
    super(`data directory ${dir} is in use by another process (lock ${dir}/LOCK is held)`);
    this.name = "DataDirLocked";
  }
}

/**
 * Takes the exclusive lock on a directory's LOCK file (creating the directory), or throws `DataDirLocked`
 * within `waitMs`. Closing the returned file releases the lock.
 *
 * @example
 * ```ts
 * import { DataDirLocked, lockDataDir } from "./data_dir_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockDataDir(dir);
 * let refused = false;
 * try {
 *   (await lockDataDir(dir, 50)).close();
 * } catch (err) {
 *   refused = err instanceof DataDirLocked;
 * }
 * lock.close();
 * await Deno.remove(dir, { recursive: true });
 * if (!refused) throw new Error("a second lock of a held directory is refused");
 * ```
 */
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
