/**
 * The group fsync of the SQLite store's WAL: answers wait for an fsync that started after the commits they
 * depend on; commits made meanwhile share the next fsync; a failed fsync breaks the store.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../../testing/assert.ts";
import { StorageUnavailable } from "../storage.ts";
import { SqliteContext } from "./context.ts";
import { SqliteDatabase } from "./database.ts";
import { WalSync } from "./wal_sync.ts";

/** An fsync the test finishes by hand. */
function manualSync() {
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const syncData = () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  return { pending, syncData };
}

/** Whether a promise has settled (after the microtasks queued so far). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("wal sync: an answer waits for an fsync started after its commit; later commits share the next", async () => {
  let commits = 1;
  const { pending, syncData } = manualSync();
  const sync = new WalSync(() => commits, syncData);
  const first = sync.after(1);
  assertStrictEquals(pending.length, 1);
  commits = 3; // two more commits while the first fsync runs: it may not cover them
  const second = sync.after(2);
  const third = sync.after(3);
  assertStrictEquals(pending.length, 1, "one fsync at a time");
  pending[0].resolve();
  await first;
  assert(
    !(await settled(second)) && !(await settled(third)),
    "commits after the fsync began wait for the next",
  );
  assertStrictEquals(pending.length, 2, "the next fsync started at once");
  pending[1].resolve();
  await Promise.all([second, third]);
  assertStrictEquals(sync.synced, 3);
  await sync.after(2); // on disk already: no fsync
  assertStrictEquals(pending.length, 2);
});

Deno.test("wal sync: a failed fsync fails the waiting answers and every later one", async () => {
  const { pending, syncData } = manualSync();
  const sync = new WalSync(() => 1, syncData);
  const waiting = sync.after(1);
  pending[0].reject(new Error("EIO"));
  await assertRejects(() => waiting, StorageUnavailable, "could not be synced");
  await assertRejects(() => sync.after(0), StorageUnavailable);
  assert(sync.broken instanceof StorageUnavailable);
});

Deno.test("wal sync: the store answers a write, and a read after it, only once the WAL is synced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-wal-sync-" });
  const db = new SqliteDatabase(`${dir}/x.db`, { synchronous: "normal" });
  try {
    const ctx = new SqliteContext(db);
    await ctx.write(() => db.exec("create table t (v integer not null)"));
    // Hold the next fsync: the store's own sync goes through the database's syncWal.
    const real = db.syncWal.bind(db);
    let release!: () => void;
    const held = new Promise<void>((r) => release = r);
    db.syncWal = () => held.then(real);
    const write = ctx.write(() => db.run("insert into t (v) values (1)"));
    const read = ctx.run(() => db.get<{ n: number }>("select count(*) as n from t")!.n);
    assert(!(await settled(write)), "the write is not answered before its fsync");
    assert(!(await settled(read)), "nor is a read that saw it");
    release();
    assertEquals(await Promise.all([write, read]), [1, 1]);
    assertStrictEquals(ctx.sync.synced, db.commits);
    db.syncWal = real;
    // Nothing committed since: a read is answered at once.
    assert(await settled(ctx.run(() => 0)));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
