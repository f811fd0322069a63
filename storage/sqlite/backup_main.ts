/**
 * `deno task backup --data-dir <dir> --to <new-dir>`: an online backup of a data directory's SQLite store
 * (see backup.ts), safe while a node runs on it. Prints one JSON line (`database`, `bytes`, `executions`,
 * `running`, `ms`) and exits 0; a refusal prints `backup refused (<code>): <message>` and exits 2, any other
 * failure exits 1. `--data-dir` defaults to `ENGINE_DATA_DIR`, else `.data`, as for `deno task serve`;
 * relative paths are taken from the working directory (`deno task` runs in the repository's root).
 *
 * @module
 */
import { BackupRefused, backupSqlite } from "./backup.ts";

/** The usage text. */
export const USAGE = `usage: deno task backup [--data-dir <dir>] --to <new-dir>

Copies the SQLite store of <dir> (default: $ENGINE_DATA_DIR, else .data) into the new data directory
<new-dir> (absent or empty, not inside <dir>), consistently, while a node may be running on <dir>.
Start a node on the copy with --data-dir <new-dir>. See docs/DEPLOYMENT.md#backup-and-restore.`;

/** The parsed command line, or the reason it is wrong. */
export type BackupArgs =
  | { help: true }
  | { help: false; dataDir: string; to: string }
  | { error: string };

/**
 * Parses the command line (`--flag value` or `--flag=value`).
 *
 * @example
 * ```ts
 * import { parseBackupArgs } from "./backup_main.ts";
 * const args = parseBackupArgs(["--to=/backups/b1"], ".data");
 * if (!("dataDir" in args) || args.dataDir !== ".data" || args.to !== "/backups/b1") throw new Error("parsed");
 * ```
 */
export function parseBackupArgs(argv: readonly string[], defaultDataDir: string): BackupArgs {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") return { help: true };
    const m = /^--(data-dir|to)(?:=(.*))?$/.exec(arg);
    if (!m) return { error: `unknown argument ${JSON.stringify(arg)}` };
    const value = m[2] ?? argv[++i];
    if (value === undefined || value === "") return { error: `--${m[1]} needs a value` };
    values[m[1]] = value;
  }
  if (values.to === undefined) return { error: "--to is required" };
  return { help: false, dataDir: values["data-dir"] ?? defaultDataDir, to: values.to };
}

if (import.meta.main) {
  const args = parseBackupArgs(Deno.args, Deno.env.get("ENGINE_DATA_DIR") || ".data");
  if ("error" in args) {
    console.error(`${args.error}\n${USAGE}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    console.log(JSON.stringify(await backupSqlite(args)));
  } catch (err) {
    if (err instanceof BackupRefused) {
      console.error(`backup refused (${err.code}): ${err.message}`);
      Deno.exit(2);
    }
    console.error(`backup failed: ${(err as Error)?.message ?? err}`);
    Deno.exit(1);
  }
}
