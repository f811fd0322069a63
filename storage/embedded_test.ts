/**
 * The PGlite store (`--storage pglite`). PGlite's first open of a directory runs initdb (many
 * seconds), so every case here shares one data directory: the conformance cases
 * share one open store (they use distinct ids and shards), and the lock and
 * reopen cases close and reopen it.
 */
import { assert, assertEquals, assertRejects, assertStrictEquals } from "../testing/assert.ts";
import { conformance, denoTest } from "../testing/storage/conformance.ts";
import { DataDirLocked, lockDataDir, openEmbedded } from "./embedded.ts";
import type { SqlStorage } from "./sql/sql_storage.ts";
import type { AppendRequest } from "./storage.ts";

const dir = await Deno.makeTempDir({ prefix: "flowmesh-embedded-test-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
});

let shared: SqlStorage | undefined;

/** The shared store, opened if it is not. */
async function store(): Promise<SqlStorage> {
  shared ??= await openEmbedded({ dataDir: dir });
  return shared;
}

/** Closes the shared store if it is open. */
async function closeStore(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.close();
}

conformance("embedded", async () => ({ storage: await store(), cleanup: () => Promise.resolve() }));

const T = 1_700_000_000_000;
const SHARD = 9_000; // no conformance case uses it

function create(executionId: string, epoch: number): AppendRequest {
  return {
    executionId,
    expectedSeq: 0,
    fence: { shard: SHARD, epoch },
    events: [{ v: 1, seq: 1, at: T, type: "NodeScheduled", nodeId: "a" }],
    summary: {
      executionId,
      workflowId: "embedded",
      version: 1,
      status: "running",
      startTime: T,
      endTime: null,
    },
    outputs: [{ ref: "a:1", records: [{ kept: true, list: [1, "two"] }] }],
  };
}

/** What must survive: the execution, its events and output, the shard and a workflow. */
async function assertSurvived(s: SqlStorage, id: string): Promise<void> {
  assertStrictEquals((await s.getExecution(id))?.lastSeq, 1);
  assertEquals((await s.readEvents(id)).map((e) => e.type), ["NodeScheduled"]);
  assertEquals(await s.getOutput(id, "a:1"), [{ kept: true, list: [1, "two"] }]);
  assertEquals((await s.getShards()).find((r) => r.shard === SHARD), {
    shard: SHARD,
    owner: "node-1",
    epoch: 1,
  });
  assertStrictEquals((await s.getWorkflow("embedded-wf"))?.version, 1);
}

denoTest("embedded: data survives close and reopen", async () => {
  const s = await store();
  assertEquals(await s.claimShard(SHARD, "node-1", 0), { shard: SHARD, owner: "node-1", epoch: 1 });
  assertEquals(await s.append(create("survivor", 1)), { ok: true });
  assert((await s.putWorkflow({ id: "embedded-wf", name: "kept", nodes: [], edges: [] }, "h", 0, T)).ok);
  await closeStore();
  const reopened = await store();
  await assertSurvived(reopened, "survivor");
  assertStrictEquals(reopened.kind, "pglite");
});

denoTest("embedded: a second open of an open directory is DataDirLocked; after close it opens", async () => {
  await store();
  const started = Date.now();
  await assertRejects(openEmbedded({ dataDir: dir }), DataDirLocked);
  await assertRejects(lockDataDir(dir, 100), DataDirLocked);
  assert(Date.now() - started < 5_000, "refused promptly");
  // The holder is unharmed.
  await assertSurvived(await store(), "survivor");
  await closeStore();
  const reopened = await store();
  await assertSurvived(reopened, "survivor");
});

denoTest("embedded: another process holding the directory locks this one out until it dies", async () => {
  await closeStore();
  const scriptDir = await Deno.makeTempDir({ prefix: "flowmesh-embedded-child-" });
  const script = `${scriptDir}/hold.ts`;
  const embedded = new URL("./embedded.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { openEmbedded } from ${JSON.stringify(embedded)};
const store = await openEmbedded({ dataDir: Deno.args[0] });
console.log("ready " + (await store.getExecution("survivor"))?.lastSeq);
setInterval(() => {}, 1000);
`,
  );
  const config = new URL("../deno.json", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, script, dir],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  try {
    // Wait for the child to hold the store.
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const deadline = setTimeout(() => reader.cancel(), 60_000);
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    clearTimeout(deadline);
    reader.releaseLock();
    assertStrictEquals(out.trim(), "ready 1", `child did not open the store: ${out}`);

    await assertRejects(openEmbedded({ dataDir: dir }), DataDirLocked);
    await assertRejects(lockDataDir(dir, 100), DataDirLocked);

    child.kill("SIGKILL");
    killed = true;
    const status = await child.status;
    assert(!status.success);
    await child.stdout.cancel().catch(() => {});
    await stderr;
    const reopened = await store();
    await assertSurvived(reopened, "survivor");
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
      console.error(await stderr);
    }
    await Deno.remove(scriptDir, { recursive: true });
  }
});

denoTest("embedded: close the shared store", async () => {
  await closeStore();
  // Closed means unlocked: the lock can be taken and given back.
  const lock = await lockDataDir(dir, 1_000);
  lock.close();
});
