/**
 * Backup and restore on PostgreSQL, with real processes and docs/DEPLOYMENT.md's commands: a node on a fresh
 * database holds live executions (3-second delays, executions waiting for a signal) under a steady load of
 * short ones; `pg_dump` (the doc's line) dumps the database while they run; the node is killed with SIGKILL;
 * `pg_restore` (the doc's line) restores the dump into a second fresh database, and a node started on it
 * finishes every execution that was running in the dump, with its records, after claiming every shard one
 * epoch higher. Every execution acknowledged before the dump began is in it. With CI=true a missing `pg_dump`
 * or `pg_restore` fails the test.
 */
import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals } from "../testing/assert.ts";
import {
  ackedBefore,
  allIds,
  assertEpochsBumped,
  backupDocCommand,
  checkRestoredStatuses,
  finishRestored,
  requireTools,
  runShell,
  startLive,
  steadyLoad,
} from "../testing/backup.ts";
import { freePort } from "../testing/net.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { type ServerProcess, spawnServer } from "../testing/process.ts";

const LIVE = 8;

/** Each execution's status, and each shard's epoch, in the database at `url`. */
async function readStore(url: string, ids: readonly string[]) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ execution_id: string; status: string }[]>`
      select execution_id, status from executions where execution_id = any(${ids as string[]})`;
    const shards = await sql<{ shard: number; epoch: string }[]>`select shard, epoch from shards`;
    return {
      statuses: new Map(rows.map((r) => [r.execution_id, r.status])),
      epochs: new Map(shards.map((r) => [Number(r.shard), Number(r.epoch)])),
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

async function dumpAndRestore(sourceUrl: string, restoreUrl: string): Promise<void> {
  const dump = await backupDocCommand("pg_dump ");
  const restore = await backupDocCommand("pg_restore ");
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-pg-backup-" });
  const servers: ServerProcess[] = [];
  const flags = ["--log-level", "warn"];
  try {
    const first = spawnServer(freePort(), [...flags, "--database-url", sourceUrl]);
    servers.push(first);
    await first.waitReady(30_000);
    const live = await startLive(first, LIVE);
    const load = steadyLoad(first);
    while (load.acked.size < 5) await new Promise((r) => setTimeout(r, 10));

    // ---- the dump, while the executions are live and the load runs
    const vars = {
      ENGINE_DATABASE_URL: sourceUrl,
      RESTORE_URL: restoreUrl,
      BACKUP_FILE: `${dir}/flowmesh.dump`,
    };
    const dumpStarted = performance.now();
    await runShell(dump, vars);
    const dumpMs = performance.now() - dumpStarted;
    const present = ackedBefore(load.acked, dumpStarted);
    await load.stop();
    const loadAcked = load.acked.size;
    assertEquals((await first.kill("SIGKILL")).signal, "SIGKILL");

    // ---- restore into the fresh database, read what it holds before any node runs on it
    const restoreStarted = performance.now();
    await runShell(restore, vars);
    const restoreMs = performance.now() - restoreStarted;
    const ids = [...allIds(live), ...present];
    const restored = await readStore(restoreUrl, ids);
    const runningInDump = checkRestoredStatuses(restored.statuses, live, present);
    assert(
      runningInDump >= LIVE,
      `the waiting executions at least were running in the dump (${runningInDump})`,
    );

    // ---- a node on the restored database finishes them, one epoch higher
    const second = spawnServer(freePort(), [...flags, "--database-url", restoreUrl]);
    servers.push(second);
    await second.waitReady(30_000);
    assertEpochsBumped(restored.epochs, (await readStore(restoreUrl, [])).epochs);
    await finishRestored(second, live, present);
    const stopped = await second.kill("SIGTERM");
    assertEquals(stopped.code, 0, second.output);
    const bytes = (await Deno.stat(vars.BACKUP_FILE)).size;
    console.log(
      `[pg] dump ${dumpMs.toFixed(0)} ms (${bytes} bytes), restore ${restoreMs.toFixed(0)} ms; ` +
        `${runningInDump} running in the dump finished after the restore; ${present.length} of the load's ` +
        `${loadAcked} acknowledged before the dump were in it`,
    );
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    for (const s of servers) await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

pgTest(
  "backup: pg_dump of a live database, pg_restore into a fresh one; a node there finishes every live execution",
  async () => {
    if (!await requireTools(["pg_dump", "pg_restore"])) return;
    await withTempDatabase((source) => withTempDatabase((restored) => dumpAndRestore(source, restored)));
  },
);
