/**
 * Backup and restore of a single node's data directory, with real processes and docs/DEPLOYMENT.md's
 * commands. Online (SQLite): a node holds live executions (3-second delays, executions waiting for a signal)
 * under a steady load of short ones; a second node on its directory refuses to start (the lock); the doc's
 * `deno task backup` line — and `sqlite3`'s `VACUUM INTO` line when `sqlite3` is installed — copies the store
 * while it runs; the node is killed with SIGKILL, and a node started on each copy in turn finishes every
 * execution that was running in it, one epoch higher. Offline (SQLite and PGlite): the doc's `kill -TERM`, `cp
 * -a`, and a node on the copy finishing them likewise.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import {
  ackedBefore,
  allIds,
  assertEpochsBumped,
  backupDocCommand,
  checkRestoredStatuses,
  finishRestored,
  type LiveExecutions,
  onPath,
  runShell,
  startLive,
  steadyLoad,
} from "../testing/backup.ts";
import { freePort } from "../testing/net.ts";
import { type ServerProcess, spawnServer } from "../testing/process.ts";
import { openEmbedded } from "./embedded.ts";
import { openSqlite } from "./sqlite/open.ts";
import type { Storage } from "./storage.ts";

const LIVE = 8;
type Store = "sqlite" | "pglite";

/** Each execution's status and each shard's epoch in a data directory's store, opened while no node runs. */
async function readStore(store: Store, dataDir: string, ids: readonly string[]) {
  const storage: Storage = store === "sqlite"
    ? await openSqlite({ dataDir })
    : await openEmbedded({ dataDir });
  try {
    const statuses = new Map<string, string>();
    for (const id of ids) {
      const summary = await storage.getExecution(id);
      if (summary) statuses.set(id, summary.status);
    }
    const epochs = new Map((await storage.getShards()).map((s) => [s.shard, s.epoch]));
    return { statuses, epochs };
  } finally {
    await storage.close();
  }
}

/** The tails of the processes' output, for a failure's message. */
function withOutput(err: unknown, servers: readonly ServerProcess[]): Error {
  const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
  return new Error(`${(err as Error).message}\n${tail}`, { cause: err });
}

/**
 * Checks a copy before any node runs on it, starts a node on it, and lets it finish the live executions;
 * returns how many were running in the copy.
 */
async function restoreAndFinish(
  store: Store,
  copy: string,
  live: LiveExecutions,
  present: readonly string[],
  servers: ServerProcess[],
): Promise<number> {
  const restored = await readStore(store, copy, [...allIds(live), ...present]);
  const running = checkRestoredStatuses(restored.statuses, live, present);
  assert(running >= LIVE, `the waiting executions at least were running in the copy (${running})`);
  const node = spawnServer(freePort(), ["--log-level", "warn", "--storage", store, "--data-dir", copy]);
  servers.push(node);
  await node.waitReady(30_000);
  await finishRestored(node, live, present);
  const stopped = await node.kill("SIGTERM");
  assertEquals(stopped.code, 0, node.output);
  assertEpochsBumped(restored.epochs, (await readStore(store, copy, [])).epochs);
  return running;
}

/** Starts a second node on `dataDir`, in use: it must exit 1 with the lock's message. */
async function assertLocked(dataDir: string, servers: ServerProcess[]): Promise<void> {
  const second = spawnServer(freePort(), [
    "--log-level",
    "warn",
    "--storage",
    "sqlite",
    "--data-dir",
    dataDir,
  ]);
  servers.push(second);
  const status = await second.child.status;
  await second.kill(); // drains its output (it has exited)
  assertEquals(status.code, 1, second.output);
  const message =
    `start-up failed: data directory ${dataDir} is in use by another process (lock ${dataDir}/LOCK is held)`;
  assert(second.output.includes(message), `the lock's message, in:\n${second.output}`);
}

Deno.test({
  name:
    "backup: SQLite online (deno task backup, sqlite3 VACUUM INTO) of a running node; a node on each copy " +
    "finishes every live execution; the lock keeps a second node out",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const online = await backupDocCommand("deno task backup ");
    const vacuum = await backupDocCommand('mkdir -p "$BACKUP_DIR/sqlite" && sqlite3 ');
    const withSqlite3 = await onPath("sqlite3");
    const root = await Deno.makeTempDir({ prefix: "flowmesh-sqlite-backup-" });
    const dataDir = `${root}/data`;
    const servers: ServerProcess[] = [];
    try {
      const first = spawnServer(freePort(), [
        "--log-level",
        "warn",
        "--storage",
        "sqlite",
        "--data-dir",
        dataDir,
      ]);
      servers.push(first);
      await first.waitReady(30_000);
      const live = await startLive(first, LIVE);
      await assertLocked(dataDir, servers);
      const load = steadyLoad(first);
      while (load.acked.size < 5) await new Promise((r) => setTimeout(r, 10));

      // ---- the copies, while the node runs and commits
      const copies: { copy: string; present: string[]; ms: number }[] = [];
      // The node fsyncs its WAL through a handle of its own: a copy must never remove or replace that file.
      const wal = `${dataDir}/sqlite/flowmesh.db-wal`;
      const walInode = (await Deno.stat(wal)).ino;
      const startedAt = performance.now();
      const result = await runShell(online, { DATA_DIR: dataDir, BACKUP_DIR: `${root}/online` });
      const printed = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      assertEquals(printed.database, `${root}/online/sqlite/flowmesh.db`);
      assert(printed.running >= LIVE, result.stdout);
      copies.push({
        copy: `${root}/online`,
        present: ackedBefore(load.acked, startedAt),
        ms: performance.now() - startedAt,
      });
      if (withSqlite3) {
        const at = performance.now();
        await runShell(vacuum, { DATA_DIR: dataDir, BACKUP_DIR: `${root}/vacuum` });
        copies.push({
          copy: `${root}/vacuum`,
          present: ackedBefore(load.acked, at),
          ms: performance.now() - at,
        });
      } else if (Deno.env.get("CI") === "true") {
        throw new Error(
          "sqlite3 is not installed (CI=true: the VACUUM INTO line of docs/DEPLOYMENT.md must be tested)",
        );
      } else {
        console.warn(
          "sqlite3 is not installed: its VACUUM INTO line of docs/DEPLOYMENT.md is not tested here",
        );
      }
      await load.stop();
      assertEquals((await Deno.stat(wal)).ino, walInode, "the node's WAL is the same file after the copies");
      // The node went on answering during the copies, and still does.
      await first.waitReady(5_000);
      assertEquals((await first.kill("SIGKILL")).signal, "SIGKILL");

      // ---- a node on each copy in turn (never two at once, never with the original)
      const lines = [];
      for (const { copy, present, ms } of copies) {
        const running = await restoreAndFinish("sqlite", copy, live, present, servers);
        lines.push(
          `${copy.split("/").pop()}: ${
            ms.toFixed(0)
          } ms, ${running} running finished, ${present.length} acked`,
        );
      }
      console.log(`[sqlite online] ${lines.join("; ")}; the load acknowledged ${load.acked.size} in all`);
    } catch (err) {
      throw withOutput(err, servers);
    } finally {
      for (const s of servers) await s.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

/** The offline procedure on a local store: SIGTERM, `cp -a`, a node on the copy. */
function offlineTest(store: Store): void {
  Deno.test({
    name: `backup: ${store} offline (SIGTERM, cp -a); a node on the copy finishes every live execution`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const stop = await backupDocCommand("kill -TERM ");
      const copyDir = await backupDocCommand("cp -a ");
      const root = await Deno.makeTempDir({ prefix: `flowmesh-${store}-offline-` });
      const dataDir = `${root}/data`;
      const servers: ServerProcess[] = [];
      try {
        const first = spawnServer(freePort(), [
          "--log-level",
          "warn",
          "--storage",
          store,
          "--data-dir",
          dataDir,
        ]);
        servers.push(first);
        await first.waitReady(60_000);
        const live = await startLive(first, LIVE);
        const vars = { DATA_DIR: dataDir, BACKUP_DIR: `${root}/copy`, NODE_PID: String(first.child.pid) };
        await runShell(stop, vars);
        const stopped = await first.child.status; // the doc's kill sent SIGTERM: wait for the exit
        await first.kill(); // drains its output
        assertEquals(stopped.code, 0, `SIGTERM: ${JSON.stringify(stopped)}`);
        await runShell(copyDir, vars);
        const running = await restoreAndFinish(store, vars.BACKUP_DIR, live, [], servers);
        console.log(`[${store} offline] ${running} running in the copy finished on a node started on it`);
      } catch (err) {
        throw withOutput(err, servers);
      } finally {
        for (const s of servers) await s.close();
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}

offlineTest("sqlite");
offlineTest("pglite");
