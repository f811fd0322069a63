/**
 * An online backup of the SQLite store: a consistent copy of `<dataDir>/sqlite/flowmesh.db`, taken while a node
 * may be running on it, into a new data directory that a node can start on. SQLite's backup API copies every
 * page in one step under one read transaction of a read-only connection: in WAL mode that is a snapshot of the
 * last commit before it began, and the node's writers go on meanwhile (they append to the WAL; only its
 * checkpoints wait for the copy to end). It does not take the data directory's lock (the node holds it) and
 * never writes to the data directory. The copy is checked (`pragma quick_check`), checkpointed, fsynced and
 * only then renamed to `flowmesh.db`, so an interrupted backup leaves no file a node would open.
 *
 * @module
 */
import { backup, DatabaseSync } from "node:sqlite";
import { basename, dirname, relative, resolve } from "node:path";
import { sqlitePath } from "./open.ts";

/** Why a backup was refused before it copied anything. */
export type BackupRefusalCode =
  | "no_store"
  | "pglite_store"
  | "target_inside_data_dir"
  | "target_not_empty"
  | "target_parent_missing";

/** A backup refused before it started: `code` says why, `path` which path is at fault. */
export class BackupRefused extends Error {
  constructor(readonly code: BackupRefusalCode, readonly path: string, message: string) {
    super(message);
    this.name = "BackupRefused";
  }
}

/** Options of {@link backupSqlite}. */
export interface SqliteBackupOptions {
  /** The data directory of the store to copy (a node may be running on it). */
  dataDir: string;
  /**
   * The new data directory to write: it must not exist (its parent must) or be empty, and must not be inside
   * `dataDir`. The copy is `<to>/sqlite/flowmesh.db`.
   */
  to: string;
}

/** What {@link backupSqlite} wrote. */
export interface SqliteBackupResult {
  /** The copy's database file. */
  database: string;
  /** Its size in bytes. */
  bytes: number;
  /** Executions in the copy, and how many of them were running (a node on the copy continues these). */
  executions: number;
  running: number;
  /** How long the backup took, copy and checks included (ms). */
  ms: number;
}

/** How long the backup's read waits for a lock the node holds (a WAL reset, say) before it fails (ms). */
const BUSY_TIMEOUT_MS = 5_000;

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` is `dir` or inside it (both absolute and resolved). */
function within(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

/**
 * Checks a backup's paths and returns them resolved (symbolic links included): the source database, and the
 * target directory. Throws {@link BackupRefused}.
 *
 * @example
 * ```ts
 * import { BackupRefused, checkBackupPaths } from "./backup.ts";
 * const dataDir = await Deno.makeTempDir();
 * let code = "";
 * try {
 *   checkBackupPaths({ dataDir, to: `${dataDir}/backup` });
 * } catch (err) {
 *   code = (err as BackupRefused).code;
 * }
 * await Deno.remove(dataDir, { recursive: true });
 * if (code !== "no_store") throw new Error(`a directory without a SQLite store is refused first: ${code}`);
 * ```
 */
export function checkBackupPaths(opts: SqliteBackupOptions): { source: string; to: string } {
  const dataDir = isDirectory(opts.dataDir) ? Deno.realPathSync(opts.dataDir) : resolve(opts.dataDir);
  const source = sqlitePath(dataDir);
  if (!isFile(source)) {
    if (isDirectory(`${dataDir}/pg`)) {
      throw new BackupRefused(
        "pglite_store",
        dataDir,
        `${dataDir} holds a PGlite store, which has no online backup: stop the node and copy the directory`,
      );
    }
    throw new BackupRefused("no_store", source, `no SQLite store in ${dataDir} (no ${source})`);
  }
  const wanted = resolve(opts.to);
  const parent = dirname(wanted);
  if (!isDirectory(parent)) {
    throw new BackupRefused("target_parent_missing", parent, `the target's parent ${parent} does not exist`);
  }
  const to = `${Deno.realPathSync(parent)}/${basename(wanted)}`.replace(/^\/\//, "/");
  if (within(dataDir, to) || within(dataDir, isDirectory(to) ? Deno.realPathSync(to) : to)) {
    throw new BackupRefused(
      "target_inside_data_dir",
      to,
      `the target ${to} is inside the data directory ${dataDir}: write the backup elsewhere`,
    );
  }
  let exists = false;
  try {
    exists = Deno.lstatSync(to) !== undefined;
  } catch { /* does not exist */ }
  if (exists && (!isDirectory(to) || Deno.readDirSync(to).next().done !== true)) {
    throw new BackupRefused("target_not_empty", to, `the target ${to} exists and is not an empty directory`);
  }
  return { source, to };
}

/** Opens, checks, counts, checkpoints and closes the copy; throws if SQLite finds it damaged. */
function verifyCopy(path: string): { executions: number; running: number } {
  const db = new DatabaseSync(path);
  try {
    const check = db.prepare("pragma quick_check").all().map((row) => String(row.quick_check));
    if (check.join() !== "ok") throw new Error(`the copy ${path} failed its check: ${check.join("; ")}`);
    const row = db.prepare(
      "select count(*) as n, coalesce(sum(status = 'running'), 0) as running from executions",
    ).get() as { n: number; running: number };
    db.exec("pragma wal_checkpoint(truncate)");
    return { executions: Number(row.n), running: Number(row.running) };
  } finally {
    db.close(); // the only connection: its WAL is checkpointed into the file and removed
  }
}

/** fsyncs a file or a directory. */
function syncPath(path: string): void {
  const file = Deno.openSync(path, { read: true });
  try {
    file.syncSync();
  } finally {
    file.close();
  }
}

/**
 * Copies the SQLite store of `dataDir` into the new data directory `to`, consistently, while a node may run on
 * it. Refuses (with {@link BackupRefused}) before copying anything when the paths are wrong; on any other
 * failure removes what it wrote.
 *
 * @example
 * ```ts
 * import { backupSqlite } from "./backup.ts";
 * import { openSqlite } from "./open.ts";
 * const dataDir = await Deno.makeTempDir();
 * const storage = await openSqlite({ dataDir });
 * const to = `${await Deno.makeTempDir()}/copy`;
 * const copy = await backupSqlite({ dataDir, to }); // while the store is open
 * await storage.close();
 * const restored = await openSqlite({ dataDir: to });
 * await restored.close();
 * await Deno.remove(dataDir, { recursive: true });
 * await Deno.remove(to, { recursive: true });
 * if (copy.database !== `${to}/sqlite/flowmesh.db` || copy.executions !== 0) throw new Error("an empty copy");
 * ```
 */
export async function backupSqlite(opts: SqliteBackupOptions): Promise<SqliteBackupResult> {
  const started = performance.now();
  const { source, to } = checkBackupPaths(opts);
  const created = !isDirectory(to);
  const target = sqlitePath(to);
  const partial = `${target}.partial`;
  try {
    Deno.mkdirSync(dirname(target), { recursive: true });
    const from = new DatabaseSync(source, { readOnly: true });
    try {
      from.exec(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // rate -1: every page in one step, under one read transaction: one snapshot, never restarted by a
      // commit of the node (a backup in several steps starts over after each).
      await backup(from, partial, { rate: -1 });
    } finally {
      from.close();
    }
    const counts = verifyCopy(partial);
    syncPath(partial);
    Deno.renameSync(partial, target);
    syncPath(dirname(target));
    syncPath(to);
    const bytes = Deno.statSync(target).size;
    return { database: target, bytes, ...counts, ms: Math.round(performance.now() - started) };
  } catch (err) {
    for (const leftover of [partial, `${partial}-wal`, `${partial}-shm`, target]) {
      try {
        Deno.removeSync(leftover);
      } catch { /* not there */ }
    }
    try {
      Deno.removeSync(dirname(target)); // only if empty
      if (created) Deno.removeSync(to);
    } catch { /* not empty, or gone */ }
    throw err;
  }
}
