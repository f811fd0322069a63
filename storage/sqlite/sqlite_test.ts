/**
 * The SQLite store: the conformance suite (each case on a fresh data directory), durability settings,
 * migrations, data surviving close and reopen, the data directory's lock (in this process and against
 * another one, until it is killed), and errors that mean the file cannot be used.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { conformance, denoTest } from "../../testing/storage/conformance.ts";
import { DataDirLocked, lockDataDir } from "../data_dir_lock.ts";
import { type AppendRequest, StorageUnavailable } from "../storage.ts";
import { migrateSqlite, SQLITE_MIGRATIONS } from "./migrations.ts";
import { openSqlite, sqlitePath } from "./open.ts";
import type { SqliteStorage } from "./sqlite_storage.ts";

conformance("sqlite", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "flowmesh-sqlite-conf-" });
  const storage = await openSqlite({ dataDir });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
});

const T = 1_700_000_000_000;
const SHARD = 9_000;

function create(executionId: string, epoch: number): AppendRequest {
  return {
    executionId,
    expectedSeq: 0,
    fence: { shard: SHARD, epoch },
    events: [{ v: 1, seq: 1, at: T, type: "NodeScheduled", nodeId: "a" }],
    summary: {
      executionId,
      workflowId: "sqlite",
      version: 1,
      status: "running",
      startTime: T,
      endTime: null,
    },
    outputs: [{ ref: "a:1", records: [{ kept: true, list: [1, "two"] }] }],
  };
}

/** What must survive: the execution, its events and output, the shard and a workflow. */
async function assertSurvived(s: SqliteStorage, id: string): Promise<void> {
  assertStrictEquals((await s.getExecution(id))?.lastSeq, 1);
  assertEquals((await s.readEvents(id)).map((e) => e.type), ["NodeScheduled"]);
  assertEquals(await s.getOutput(id, "a:1"), [{ kept: true, list: [1, "two"] }]);
  assertEquals((await s.getShards()).find((r) => r.shard === SHARD), {
    shard: SHARD,
    owner: "node-1",
    epoch: 1,
  });
  assertStrictEquals((await s.getWorkflow("sqlite-wf"))?.version, 1);
}

/** A fresh data directory holding one execution, a claimed shard and a workflow; closed. */
async function seeded(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-sqlite-test-" });
  const s = await openSqlite({ dataDir: dir });
  try {
    assertEquals(await s.claimShard(SHARD, "node-1", 0), { shard: SHARD, owner: "node-1", epoch: 1 });
    assertEquals(await s.append(create("survivor", 1)), { ok: true });
    assert((await s.putWorkflow({ id: "sqlite-wf", name: "kept", nodes: [], edges: [] }, "h", 0, T)).ok);
  } finally {
    await s.close();
  }
  return dir;
}

denoTest(
  "sqlite: the WAL journal, synced before every answer; the file is <dataDir>/sqlite/flowmesh.db",
  async () => {
    const dir = await seeded();
    try {
      const s = await openSqlite({ dataDir: dir });
      try {
        assertEquals(s.db.get("pragma journal_mode"), { journal_mode: "wal" });
        // NORMAL: a commit does not wait for the disk; the store fsyncs the WAL before it answers (wal_sync.ts).
        assertEquals(s.db.get("pragma synchronous"), { synchronous: 1 });
        assertStrictEquals(s.db.synchronous, "normal");
        let syncs = 0;
        const real = s.db.syncWal.bind(s.db);
        s.db.syncWal = () => (syncs++, real());
        const commits = s.db.commits;
        assertEquals(await s.appendMany([create("a1", 1), create("a2", 1)]), [{ ok: true }, { ok: true }]);
        assertStrictEquals(s.db.commits, commits + 1, "a commit group is one commit");
        assertStrictEquals(syncs, 1, "and one fsync, before it was answered");
        assertStrictEquals((await s.getExecution("a1"))?.lastSeq, 1);
        assertStrictEquals(syncs, 1, "a read of what is on disk waits for nothing");
        assertStrictEquals(s.db.path, sqlitePath(dir));
        assert((await Deno.stat(`${dir}/sqlite/flowmesh.db`)).isFile);
        assertStrictEquals(s.kind, "sqlite");
      } finally {
        await s.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

denoTest(
  "sqlite: a failed fsync fails the writes waiting for it and every later call; a reopen recovers",
  async () => {
    const dir = await seeded();
    try {
      const s = await openSqlite({ dataDir: dir });
      s.db.syncWal = () => Promise.reject(new Error("EIO: the disk is gone"));
      await assertRejects(() => s.append(create("lost", 1)), StorageUnavailable, "could not be synced");
      await assertRejects(() => s.getExecution("survivor"), StorageUnavailable);
      assertStrictEquals(await s.ping(), false);
      await s.close();
      const reopened = await openSqlite({ dataDir: dir });
      await assertSurvived(reopened, "survivor");
      await reopened.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

denoTest("sqlite: migrations are recorded once and applied once", async () => {
  const dir = await seeded();
  try {
    const s = await openSqlite({ dataDir: dir });
    try {
      assertEquals(migrateSqlite(s.db, T), []);
      const rows = s.db.all<{ version: number; name: string }>(
        "select version, name from engine_migrations order by version",
      );
      assertEquals(
        rows.map((r) => ({ ...r })),
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      );
      await assertSurvived(s, "survivor");
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

denoTest("sqlite: a second open of an open directory is DataDirLocked; after close it opens", async () => {
  const dir = await seeded();
  try {
    const s = await openSqlite({ dataDir: dir });
    await assertRejects(openSqlite({ dataDir: dir, lockWaitMs: 100 }), DataDirLocked);
    await assertRejects(lockDataDir(dir, 100), DataDirLocked);
    await assertSurvived(s, "survivor"); // the holder is unharmed
    await s.close();
    await assertRejects(s.getExecution("survivor"), StorageUnavailable);
    assertStrictEquals(await s.ping(), false);
    const reopened = await openSqlite({ dataDir: dir });
    await assertSurvived(reopened, "survivor");
    await reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

denoTest("sqlite: a failed write transaction leaves nothing behind and the store usable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-sqlite-test-" });
  const s = await openSqlite({ dataDir: dir });
  try {
    await s.claimShard(SHARD, "node-1", 0);
    const bad = create("bad", 1);
    // A fire naming another execution is a caller's bug: the whole group is refused, nothing written.
    bad.scheduleFire = {
      fire: {
        scheduleId: "s",
        tickAt: T,
        firedAt: T,
        outcome: "started",
        reason: "on_time",
        executionId: "x",
      },
      state: { nextTickAt: null, lastTickAt: T, lastExecutionId: "x", bufferedTickAt: null, runs: 1 },
      status: "active",
      expectedVersion: 1,
    };
    await assertRejects(s.appendMany([create("good", 1), bad]));
    assertStrictEquals(await s.getExecution("good"), undefined);
    // Inside a transaction: a unique violation rolls back the rows written before it.
    await assertRejects(
      s.createApiToken(
        {
          id: "t1",
          digest: "ab".repeat(32),
          name: "n",
          role: "viewer",
          createdAt: T,
          createdBy: null,
          expiresAt: null,
        },
        10,
        T,
      ).then(() =>
        s.createApiToken(
          {
            id: "t2",
            digest: "ab".repeat(32),
            name: "n",
            role: "viewer",
            createdAt: T,
            createdBy: null,
            expiresAt: null,
          },
          10,
          T,
        )
      ),
    );
    assertEquals((await s.listApiTokens(10)).map((t) => t.id), ["t1"]);
    assertEquals(await s.append(create("good", 1)), { ok: true });
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

denoTest("sqlite: another process holding the directory locks this one out until it is killed", async () => {
  const dir = await seeded();
  const scriptDir = await Deno.makeTempDir({ prefix: "flowmesh-sqlite-child-" });
  const script = `${scriptDir}/hold.ts`;
  await Deno.writeTextFile(
    script,
    `import { openSqlite } from ${JSON.stringify(new URL("./open.ts", import.meta.url).href)};
const store = await openSqlite({ dataDir: Deno.args[0] });
console.log("ready " + (await store.getExecution("survivor"))?.lastSeq);
setInterval(() => {}, 1000);
`,
  );
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, script, dir],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const deadline = setTimeout(() => reader.cancel(), 30_000);
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    clearTimeout(deadline);
    reader.releaseLock();
    assertStrictEquals(out.trim(), "ready 1", `child did not open the store: ${out}`);
    await assertRejects(openSqlite({ dataDir: dir, lockWaitMs: 100 }), DataDirLocked);
    child.kill("SIGKILL");
    killed = true;
    assert(!(await child.status).success);
    await child.stdout.cancel().catch(() => {});
    await stderr;
    const reopened = await openSqlite({ dataDir: dir });
    await assertSurvived(reopened, "survivor");
    await reopened.close();
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
      console.error(await stderr);
    }
    await Deno.remove(scriptDir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
