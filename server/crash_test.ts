/**
 * The crash test, with real processes: a server (`deno run -A server/main.ts`)
 * takes 200 keyed submissions of a five-node workflow with a durable delay, is
 * killed with SIGKILL once about half are acknowledged (most of those are then
 * mid-delay), and is restarted with the same command on the same storage. Every
 * acknowledged execution must complete exactly once: one NodeSucceeded per node,
 * contiguous sequence numbers, ExecutionSucceeded last, the exact records
 * collected, and one execution per idempotency key. Run on PostgreSQL (a fresh
 * database) and on each local store, SQLite and PGlite (a fresh data directory).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { call, getRetrying, pool, type ServerProcess, spawnServer, waitEnded } from "../testing/process.ts";
import { checkDelayChainExecution, delayChain } from "../testing/delay_chain.ts";
import type { HttpTarget } from "../testing/http.ts";
import { freePort } from "../testing/net.ts";
import { sleep } from "../testing/wait.ts";

const SUBMISSIONS = 200;
const IN_FLIGHT = 20;
/** Kill the server once this many submissions were acknowledged. */
const KILL_AFTER_ACKS = 100;
const DELAY_MS = 600;
const WORKFLOW_ID = "wf-crash";

const WORKFLOW = delayChain(WORKFLOW_ID, "crash test", DELAY_MS);

/** POST .../execute with an Idempotency-Key; the execution id when acknowledged (202/200), else undefined. */
async function submit(
  target: HttpTarget,
  key: string,
): Promise<{ executionId: string; replayed: boolean } | undefined> {
  const r = await call(target, "POST", `/api/v1/workflows/${WORKFLOW_ID}/execute`, {
    json: { input: { key } },
    headers: { "idempotency-key": key },
    timeoutMs: 5_000,
  });
  if (r.status !== 202 && r.status !== 200) return undefined;
  assertEquals(typeof r.body.executionId, "string", r.text);
  return { executionId: r.body.executionId, replayed: r.headers.get("idempotent-replayed") === "true" };
}

/** Every execution of the workflow, through the x-next-cursor pages. */
// deno-lint-ignore no-explicit-any
async function listExecutions(target: HttpTarget): Promise<any[]> {
  // deno-lint-ignore no-explicit-any
  const all: any[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const q: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const r = await getRetrying(target, `/api/v1/workflows/${WORKFLOW_ID}/executions?limit=37${q}`);
    assertEquals(r.status, 200, r.text);
    all.push(...r.body);
    cursor = r.headers.get("x-next-cursor");
    if (cursor === null) return all;
  }
  throw new Error("the listing never ended");
}

/**
 * The scenario on one storage: `storageArgs` are the server's storage flags, the
 * same for both starts. Logs what it measured.
 */
async function crashAndRecover(label: string, storageArgs: string[]): Promise<void> {
  const port = freePort();
  const flags = ["--log-level", "warn", ...storageArgs];
  const servers: ServerProcess[] = [];
  try {
    let server = spawnServer(port, flags);
    servers.push(server);
    const firstReadyMs = await server.waitReady(60_000);
    const created = await call(server, "POST", "/api/v1/workflows", { json: WORKFLOW });
    assertEquals(created.status, 201, created.text);

    // ---- submit, and kill -9 mid-flight
    const keys = Array.from({ length: SUBMISSIONS }, (_, i) => `${label}-${i}`);
    const acked = new Map<string, string>();
    const ackedBeforeKill = new Set<string>();
    let killedAt: number | undefined;
    let failedInFlight = 0;
    let answeredAfterKill = 0;
    const first = server;
    await pool(keys, IN_FLIGHT, async (key) => {
      if (killedAt !== undefined) return;
      try {
        const r = await submit(first, key);
        if (r && killedAt !== undefined) answeredAfterKill++; // read after the kill: not counted
        if (r && killedAt === undefined) {
          acked.set(key, r.executionId);
          ackedBeforeKill.add(r.executionId);
          if (acked.size >= KILL_AFTER_ACKS) {
            killedAt = Date.now();
            first.child.kill("SIGKILL");
          }
        }
      } catch {
        failedInFlight++; // not acknowledged: it does not count
      }
    });
    assert(killedAt !== undefined, `the server was never killed (${acked.size} acknowledged)`);
    const status = await first.kill();
    assertEquals(status.signal, "SIGKILL", `exit: ${JSON.stringify(status)}\n${first.output}`);
    const ackedAtKill = acked.size;

    // ---- restart: same command, same storage, same port
    const restartAt = Date.now();
    server = spawnServer(port, flags);
    servers.push(server);
    const restartReadyMs = await server.waitReady(60_000);

    // Re-submit every key not acknowledged (idempotency keys make it safe).
    let replayed = 0;
    const second = server;
    await pool(keys.filter((k) => !acked.has(k)), IN_FLIGHT, async (key) => {
      for (let attempt = 0;; attempt++) {
        const r = await submit(second, key).catch(() => undefined);
        if (r) {
          acked.set(key, r.executionId);
          if (r.replayed) replayed++;
          return;
        }
        if (attempt >= 20) throw new Error(`submission ${key} never acknowledged after the restart`);
        await sleep(100);
      }
    });
    assertEquals(acked.size, SUBMISSIONS);

    // ---- every acknowledged execution completes, exactly once
    const deadline = Date.now() + 30_000;
    let completedAfterRestart = 0;
    let lastEnd = 0;
    await pool([...acked.values()], IN_FLIGHT, async (executionId) => {
      const view = await waitEnded(second, executionId, deadline);
      assertEquals(view.status, "completed", JSON.stringify(view));
      const endedAt = await checkDelayChainExecution(second, executionId);
      if (ackedBeforeKill.has(executionId) && endedAt >= restartAt) completedAfterRestart++;
      lastEnd = Math.max(lastEnd, endedAt);
    });
    // The kill must have caught some acknowledged executions mid-flight, or this proved nothing.
    assert(completedAfterRestart > 0, "no acknowledged execution was in flight at the kill");

    // ---- one execution per idempotency key
    const listed = await listExecutions(second);
    const ids = listed.map((e) => e.executionId);
    assertEquals(new Set(ids).size, ids.length, "an execution listed twice");
    assertEquals(ids.length, new Set(keys).size, "executions != distinct keys submitted");
    assertEquals(new Set(ids), new Set(acked.values()));
    assert(listed.every((e) => e.status === "completed"), "an execution not completed in the listing");

    const lines = [
      `first ready in ${firstReadyMs.toFixed(0)} ms`,
      `${ackedAtKill} acknowledged before SIGKILL`,
      `${failedInFlight} in flight failed`,
      `${answeredAfterKill} answered after the kill (not counted)`,
      `restart ready in ${restartReadyMs.toFixed(0)} ms`,
      `${SUBMISSIONS - ackedAtKill} re-submitted (${replayed} committed before the kill)`,
      `${completedAfterRestart}/${ackedAtKill} acknowledged before the kill completed after the restart`,
      `all ${SUBMISSIONS} completed ${lastEnd - restartAt} ms after the restart began`,
    ];
    console.log(`[${label}] ${lines.join("; ")}`);
    const stopped = await second.kill("SIGTERM");
    assertEquals(stopped.code, 0, `SIGTERM exit: ${JSON.stringify(stopped)}\n${second.output}`);
  } catch (err) {
    const tail = servers.map((s, i) => `--- server ${i + 1} output:\n${s.output.slice(-4000)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  } finally {
    for (const s of servers) await s.close();
  }
}

pgTest(
  "crash: kill -9 mid-flight on PostgreSQL, restart; every acknowledged execution completes once",
  (_t) => withTempDatabase((url) => crashAndRecover("pg", ["--storage", "postgres", "--database-url", url])),
);

/** The scenario on a local store (`sqlite`, `pglite`) on a fresh data directory. */
function localStoreCrashTest(store: "sqlite" | "pglite", what: string): void {
  Deno.test({
    name: `crash: kill -9 mid-flight on ${what}, restart; every acknowledged execution completes once`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: `flowmesh-crash-${store}-` });
      try {
        await crashAndRecover(store, ["--storage", store, "--data-dir", dir]);
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}

localStoreCrashTest("sqlite", "the SQLite store (the local default)");
localStoreCrashTest("pglite", "the PGlite store");
