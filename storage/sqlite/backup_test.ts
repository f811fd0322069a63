/**
 * The SQLite store's online backup (backup.ts, backup_main.ts): paths refused before anything is written, and
 * copies taken while another process commits to the store are consistent snapshots (whole commit groups, each
 * execution with its events and outputs) that a store opens. The node-level procedure (live executions
 * finishing on a node started on the copy) is storage/backup_restore_sqlite_test.ts.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { BackupRefused, backupSqlite } from "./backup.ts";
import { parseBackupArgs } from "./backup_main.ts";
import { openSqlite } from "./open.ts";
import { DatabaseSync } from "node:sqlite";

/** A data directory with an (empty, migrated) SQLite store, closed. */
async function storeDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-backup-test-" });
  await (await openSqlite({ dataDir: dir })).close();
  return dir;
}

async function refused(opts: { dataDir: string; to: string }, code: string): Promise<void> {
  const err = await backupSqlite(opts).then(() => undefined, (e) => e);
  assert(err instanceof BackupRefused, `refused, not ${err}`);
  assertEquals(err.code, code, err.message);
}

Deno.test("sqlite backup: wrong paths are refused with a code, before anything is written", async () => {
  const dir = await storeDir();
  const outside = await Deno.makeTempDir({ prefix: "flowmesh-backup-out-" });
  try {
    const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    await refused({ dataDir: dir, to: `${dir}/backup` }, "target_inside_data_dir");
    await refused({ dataDir: dir, to: `${dir}/sqlite/x` }, "target_inside_data_dir");
    await refused({ dataDir: dir, to: dir }, "target_inside_data_dir");
    await refused({ dataDir: dir, to: `${outside}/missing/copy` }, "target_parent_missing");
    await Deno.writeTextFile(`${outside}/kept.txt`, "mine");
    await refused({ dataDir: dir, to: outside }, "target_not_empty");
    await refused({ dataDir: dir, to: `${outside}/kept.txt` }, "target_not_empty");
    await refused({ dataDir: outside, to: `${outside}/copy` }, "no_store");
    await Deno.mkdir(`${outside}/pgdir/pg`, { recursive: true });
    await refused({ dataDir: `${outside}/pgdir`, to: `${outside}/copy` }, "pglite_store");
    // A symbolic link into the data directory is inside it too.
    await Deno.symlink(dir, `${outside}/link`);
    await refused({ dataDir: dir, to: `${outside}/link/copy` }, "target_inside_data_dir");
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      before,
      "the data directory is untouched",
    );
    assertEquals(await Deno.readTextFile(`${outside}/kept.txt`), "mine");
    // An empty directory is a valid target, and stays after the copy.
    await Deno.mkdir(`${outside}/empty`);
    const copy = await backupSqlite({ dataDir: dir, to: `${outside}/empty` });
    assertEquals(copy.database, `${await Deno.realPath(outside)}/empty/sqlite/flowmesh.db`);
    assertEquals([...Deno.readDirSync(`${outside}/empty/sqlite`)].map((e) => e.name), ["flowmesh.db"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("sqlite backup: the command line", () => {
  assertEquals(parseBackupArgs(["--data-dir", "/d", "--to", "/t"], ".data"), {
    help: false,
    dataDir: "/d",
    to: "/t",
  });
  assertEquals(parseBackupArgs(["--to=/t"], "/env"), { help: false, dataDir: "/env", to: "/t" });
  assertEquals(parseBackupArgs(["--help"], ".data"), { help: true });
  assertEquals(parseBackupArgs([], ".data"), { error: "--to is required" });
  assertEquals(parseBackupArgs(["--to"], ".data"), { error: "--to needs a value" });
  assertEquals(parseBackupArgs(["/t"], ".data"), { error: 'unknown argument "/t"' });
});

/** Appends groups of `GROUP` new executions (one commit each) to the store of `Deno.args[0]`, for ever. */
const WRITER = `
import { openSqlite } from ${JSON.stringify(new URL("./open.ts", import.meta.url).href)};
const s = await openSqlite({ dataDir: Deno.args[0] });
await s.claimShard(1, "writer", 0);
console.log("ready");
for (let i = 0; ; i++) {
  const group = Array.from({ length: 20 }, (_, j) => {
    const executionId = "w-" + i + "-" + j;
    return {
      executionId, expectedSeq: 0, fence: { shard: 1, epoch: 1 },
      events: [{ v: 1, seq: 1, at: 1, type: "NodeScheduled", nodeId: "a" }],
      summary: { executionId, workflowId: "wf", version: 1, status: "running", startTime: 1, endTime: null },
      outputs: [{ ref: "a:1", records: ["x".repeat(2000)] }],
    };
  });
  const results = await s.appendMany(group);
  if (!results.every((r) => r.ok)) throw new Error(JSON.stringify(results));
}
`;
const GROUP = 20;

/** The executions of a store file, and those missing their events or outputs. */
function contents(path: string): { executions: number; torn: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const n = db.prepare("select count(*) as n from executions").get() as { n: number };
    const torn = db.prepare(
      `select count(*) as n from executions e
       where not exists (select 1 from event_batches b where b.execution_id = e.execution_id)
          or not exists (select 1 from outputs o where o.execution_id = e.execution_id)`,
    ).get() as { n: number };
    return { executions: Number(n.n), torn: Number(torn.n) };
  } finally {
    db.close();
  }
}

Deno.test({
  name: "sqlite backup: copies taken while another process commits are whole snapshots a store opens",
  sanitizeResources: false,
  async fn() {
    const dir = await storeDir();
    const out = await Deno.makeTempDir({ prefix: "flowmesh-backup-out-" });
    const script = `${out}/writer.ts`;
    await Deno.writeTextFile(script, WRITER);
    const writer = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", script, dir],
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines = writer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      assertEquals((await lines.read()).value?.trim(), "ready");
      const source = `${dir}/sqlite/flowmesh.db`;
      let previous = 0;
      for (let i = 0; i < 4; i++) {
        // Wait (without a clock) until the writer committed more since the last copy.
        while (contents(source).executions <= previous) await new Promise((r) => setTimeout(r, 5));
        const copy = await backupSqlite({ dataDir: dir, to: `${out}/copy-${i}` });
        const seen = contents(copy.database);
        assertEquals(seen.torn, 0, "every execution of the copy has its events and outputs");
        assertEquals(seen.executions % GROUP, 0, `whole commit groups only (${seen.executions})`);
        assertEquals(copy.executions, seen.executions);
        assertEquals(copy.running, seen.executions);
        assert(seen.executions > previous, `copy ${i} saw the writer's later commits`);
        previous = seen.executions;
        const restored = await openSqlite({ dataDir: `${out}/copy-${i}` });
        assertEquals((await restored.getExecution("w-0-0"))?.status, "running");
        await restored.close();
      }
      assert(writer.pid > 0);
    } finally {
      writer.kill("SIGKILL");
      await writer.status;
      await lines.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(out, { recursive: true });
    }
  },
});
