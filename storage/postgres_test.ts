import { sql } from "npm:kysely@0.29.9";
import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals, assertStrictEquals } from "../testing/assert.ts";
import { conformance, type OpenedStorage } from "../testing/storage/conformance.ts";
import { pgTest, TEST_DATABASE_URL, withTempDatabase } from "../testing/pg.ts";
import { openPostgres } from "./postgres.ts";
import { migrate, MIGRATIONS } from "./sql/migrations.ts";
import { type AppendRequest, type Fence, StorageUnavailable } from "./storage.ts";

/** The creating append of a bare execution (one ExecutionStarted event) of workflow `wf`. */
function creation(executionId: string, fence: Fence): AppendRequest {
  return {
    executionId,
    expectedSeq: 0,
    fence,
    events: [{
      v: 1,
      seq: 1,
      at: 1,
      type: "ExecutionStarted",
      executionId,
      workflowId: "wf",
      version: 1,
      input: null,
      timeoutAt: null,
      idempotencyKey: null,
    }],
    summary: { executionId, workflowId: "wf", version: 1, status: "running", startTime: 1, endTime: null },
  };
}

/** PostgreSQL storage on a fresh temporary database, dropped by `cleanup`. */
function openTemp(): Promise<OpenedStorage> {
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    const done = withTempDatabase(async (url) => {
      const storage = await openPostgres({ url, poolMax: 5 });
      try {
        resolve({
          storage,
          cleanup: async () => {
            release();
            await done;
          },
        });
        await released;
      } finally {
        await storage.close();
      }
    });
    done.catch(reject);
  });
}

conformance("postgres", openTemp, (name, fn) => pgTest(name, fn));

pgTest("postgres: migrations are idempotent", async () => {
  await withTempDatabase(async (url) => {
    const storage = await openPostgres({ url });
    try {
      assertEquals(await migrate(storage.db, Date.now()), []);
      assertEquals(await migrate(storage.db, Date.now()), []);
      const rows = await storage.db.selectFrom("engine_migrations").select(["version", "name"]).orderBy(
        "version",
      )
        .execute();
      assertEquals(rows, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      await storage.close();
    }
    // Opening again applies nothing and loses nothing.
    const again = await openPostgres({ url });
    try {
      assertStrictEquals(
        (await again.db.selectFrom("engine_migrations").selectAll().execute()).length,
        MIGRATIONS.length,
      );
      assertStrictEquals(await again.ping(), true);
    } finally {
      await again.close();
    }
  });
});

pgTest("postgres: two nodes opening a fresh database at once both succeed, migrating once", async () => {
  await withTempDatabase(async (url) => {
    const opened = await Promise.allSettled([
      openPostgres({ url }),
      openPostgres({ url }),
      openPostgres({ url }),
    ]);
    try {
      for (const r of opened) assert(r.status === "fulfilled", `open failed: ${JSON.stringify(r)}`);
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql<{ version: number; n: number }[]>`
          select version, count(*)::int as n from engine_migrations group by version order by version`;
        assertEquals([...rows].map((r) => ({ ...r })), MIGRATIONS.map((m) => ({ version: m.version, n: 1 })));
      } finally {
        await sql.end({ timeout: 2 });
      }
    } finally {
      for (const r of opened) if (r.status === "fulfilled") await r.value.close();
    }
  });
});

/** Asserts that opening `url` rejects with a one-line `StorageUnavailable` in time, without the password. */
async function assertUnavailable(url: string, password: string): Promise<void> {
  const started = Date.now();
  let error: unknown;
  try {
    const storage = await openPostgres({ url, connectTimeoutSeconds: 2 });
    await storage.close();
  } catch (err) {
    error = err;
  }
  const elapsed = Date.now() - started;
  assert(error instanceof StorageUnavailable, `expected StorageUnavailable, got ${error}`);
  assert(elapsed < 10_000, `took ${elapsed} ms`);
  assert(!error.message.includes("\n"), `one line: ${JSON.stringify(error.message)}`);
  assert(!error.message.includes(password), `the password leaked: ${error.message}`);
  assert(error.message.length > 0);
}

pgTest(
  "postgres: an unreachable server or a bad database rejects with StorageUnavailable, password hidden",
  async () => {
    await assertUnavailable("postgres://postgres:s3cr3t-pw@127.0.0.1:1/x", "s3cr3t-pw");
    const missing = new URL(TEST_DATABASE_URL);
    missing.password = "an0ther-pw";
    missing.pathname = "/flowmesh_no_such_database";
    await assertUnavailable(missing.toString(), "an0ther-pw");
  },
);

pgTest(
  "postgres: close with a query in flight returns in bounded time; the query still completes",
  async () => {
    await withTempDatabase(async (url) => {
      const storage = await openPostgres({ url });
      const slow = sql`select pg_sleep(0.3)`.execute(storage.db).then(() => "done", (e) => `failed: ${e}`);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await storage.close();
      const elapsed = Date.now() - started;
      assert(elapsed < 8_000, `close took ${elapsed} ms`);
      assertStrictEquals(await slow, "done");
    });
  },
);

pgTest(
  "postgres: an append racing a claim of its shard waits for the claim's commit, then is fenced off",
  async () => {
    await withTempDatabase(async (url) => {
      const storage = await openPostgres({ url, poolMax: 4 });
      const claimer = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const fence = await storage.claimShard(7, "old-owner", 0);
        assert(fence);
        const append = (executionId: string) =>
          storage.append(creation(executionId, { shard: 7, epoch: fence.epoch }));
        assertEquals(await append("before"), { ok: true });
        // Another node claims the shard in a transaction it has not committed yet.
        let commit!: () => void;
        const committed = new Promise<void>((r) => commit = r);
        let locked!: () => void;
        const updated = new Promise<void>((r) => locked = r);
        const claim = claimer.begin(async (tx) => {
          await tx`update shards set epoch = epoch + 1, owner = 'new-owner' where shard = 7`;
          locked(); // the claim holds the shard row from here until it commits
          await committed;
        });
        await updated;
        let settled = false;
        const racing = append("during").finally(() => settled = true);
        await new Promise((r) => setTimeout(r, 300));
        assert(!settled, "the append did not wait for the claim's transaction");
        commit();
        await claim;
        const result = await racing;
        assert(!result.ok && result.error.code === "stale_epoch", JSON.stringify(result));
        assertStrictEquals(await storage.getExecution("during"), undefined);
        assertStrictEquals((await storage.readEvents("during")).length, 0);
      } finally {
        await claimer.end();
        await storage.close();
      }
    });
  },
);

pgTest(
  "postgres: migration 3 moves per-event rows into per-append rows, order and key order kept",
  async () => {
    await withTempDatabase(async (url) => {
      const old = postgres(url, { max: 1, onnotice: () => {} });
      try {
        // A database as version 2 left it, with events in the per-event layout.
        await old.unsafe(`create table engine_migrations (
        version integer primary key, name text not null, applied_at bigint not null)`);
        for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
          for (const statement of m.statements) await old.unsafe(statement);
          await old`insert into engine_migrations values (${m.version}, ${m.name}, 0)`;
        }
        await old.unsafe(`insert into events (execution_id, seq, event) values
        ('e1', 2, '{"seq":2,"zeta":1,"alpha":2}'), ('e1', 1, '{"type":"ExecutionStarted","seq":1}'),
        ('e2', 1, '{"seq":1}')`);
      } finally {
        await old.end();
      }
      const storage = await openPostgres({ url });
      try {
        assertStrictEquals(
          JSON.stringify(await storage.readEvents("e1")),
          '[{"type":"ExecutionStarted","seq":1},{"seq":2,"zeta":1,"alpha":2}]',
        );
        assertStrictEquals(
          JSON.stringify(await storage.readEvents("e1", 1)),
          '[{"seq":2,"zeta":1,"alpha":2}]',
        );
        assertStrictEquals((await storage.readEvents("e2")).length, 1);
        const versions = await storage.db.selectFrom("engine_migrations").select("version").execute();
        assertEquals(versions.map((v) => v.version).sort(), MIGRATIONS.map((m) => m.version));
      } finally {
        await storage.close();
      }
    });
  },
);

pgTest(
  "postgres: a commit group bigger than one statement's share is split, every append whole",
  async () => {
    await withTempDatabase(async (url) => {
      const storage = await openPostgres({ url });
      try {
        const fence = await storage.claimShard(3, "n", 0);
        assert(fence);
        const big = "x".repeat(3 * 1024 * 1024); // 3 MiB a record: three appends exceed one statement's 8 MiB
        const requests = Array.from({ length: 3 }, (_, i) => ({
          ...creation(`big-${i}`, { shard: 3, epoch: fence.epoch }),
          outputs: [{ ref: "n@1", records: [big, i] }],
        }));
        const results = await storage.appendMany(requests);
        assertEquals(results, [{ ok: true }, { ok: true }, { ok: true }]);
        for (let i = 0; i < 3; i++) {
          const records = await storage.getOutput(`big-${i}`, "n@1");
          assert(records !== undefined && records[0] === big && records[1] === i);
        }
      } finally {
        await storage.close();
      }
    });
  },
);
