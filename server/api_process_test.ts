/**
 * `deno task serve` as a real process: the task's own command line (from
 * deno.json) on a free port, driven over HTTP, stopped with SIGTERM; and a bad
 * flag refused with one stderr line.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { getJson, nodeOutput, postJson, SAMPLE_WORKFLOW_JSON } from "../testing/server.ts";
import { freePort } from "../testing/net.ts";
import { sleep } from "../testing/wait.ts";

const ROOT = new URL("..", import.meta.url);

/** The `deno` arguments of the serve task (`deno run --allow-... server/main.ts`), without `deno`. */
async function serveTaskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words = String(config.tasks.serve).trim().split(/\s+/);
  assertEquals(words[0], "deno", config.tasks.serve);
  assert(words.includes("server/main.ts"), config.tasks.serve);
  return words.slice(1);
}

function spawnServe(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * The storage the serve task picks in this environment on a fresh data directory: `auto` is PostgreSQL with a
 * database URL, else the local store, which `embedded` names too: SQLite on a new data directory.
 */
function expectedStorage(): string {
  const set = Deno.env.get("ENGINE_STORAGE") ?? "auto";
  if (set === "auto" && Deno.env.get("ENGINE_DATABASE_URL")) return "postgres";
  return set === "auto" || set === "embedded" ? "sqlite" : set;
}

/** Starts the serve task on a free port with its data in `dataDir`; resolves once /health answers 200. */
async function startServe(dataDir: string): Promise<{ child: Deno.ChildProcess; base: { url: string } }> {
  const port = freePort();
  const child = spawnServe([...await serveTaskArgs(), "--port", String(port), "--data-dir", dataDir]);
  const base = { url: `http://127.0.0.1:${port}` };
  const deadline = Date.now() + 45_000;
  for (;;) {
    const r = await getJson(base, "/health").catch(() => undefined);
    if (r?.status === 200) {
      // `degraded` (still 200): start-up (PGlite) may have held the event loop for over a second.
      assert(r.body.status === "ok" || r.body.status === "degraded", r.text);
      assertEquals([r.body.storage, r.body.ready], [expectedStorage(), true]);
      return { child, base };
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      const out = await child.output();
      throw new Error(`the process never became healthy: ${new TextDecoder().decode(out.stderr)}`);
    }
    await sleep(50);
  }
}

/** SIGTERM, then the exit and the parsed JSON log lines of stderr. */
async function stopServe(child: Deno.ChildProcess) {
  child.kill("SIGTERM");
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  // A clean exit from the SIGTERM handler (death by the signal would be signal SIGTERM, code 143).
  assertEquals([output.code, output.signal, output.success], [0, null, true], stderr);
  const lines = stderr.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  return { stderr, lines, messages: lines.map((l) => String(l.msg)) };
}

Deno.test("deno task serve as a real process: serves, runs the sample, stops on SIGTERM, keeps its data", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "api-serve-" });
  let running: Deno.ChildProcess | undefined;
  try {
    const first = await startServe(dataDir);
    running = first.child;
    const ready = await getJson(first.base, "/health/ready");
    assertEquals([ready.status, ready.body], [200, {
      status: "ready",
      engine: true,
      cluster: true,
      storage: true,
      shards: 128,
    }]);

    const created = await postJson(first.base, "/api/v1/workflows", JSON.parse(SAMPLE_WORKFLOW_JSON));
    assertEquals(
      [created.status, created.body.workflowId, created.body.version],
      [201, "wf-1", 1],
      created.text,
    );
    const run = await postJson(first.base, "/api/v1/workflows/wf-1/execute?wait=10000", {});
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);
    const executionId = run.body.executionId;
    const fifty = Array.from({ length: 50 }, (_, i) => 51 + i);
    assertEquals(await nodeOutput(first.base, executionId, "n3"), fifty);

    running = undefined;
    const stopped = await stopServe(first.child);
    assert(stopped.messages.includes("listening"), stopped.stderr);
    assert(stopped.messages.includes("stopping"), stopped.stderr);
    assertEquals(stopped.lines.find((l) => l.msg === "listening").url, first.base.url);
    // console.log printed the first 10 records of n3 to the log, then a line about the other 40.
    assert(
      stopped.messages.includes("[n3] 51") && stopped.messages.includes("[n3] 60") &&
        !stopped.messages.includes("[n3] 61"),
      stopped.stderr,
    );
    assert(stopped.messages.some((m) => m.includes("40 more records not shown")), stopped.stderr);
    // The port is free again.
    Deno.listen({ hostname: "127.0.0.1", port: Number(new URL(first.base.url).port) }).close();

    // A restart on the same data directory still has the workflow and the execution.
    const second = await startServe(dataDir);
    running = second.child;
    const got = await getJson(second.base, "/api/v1/workflows/wf-1");
    assertEquals([got.status, got.headers.get("x-workflow-version"), got.body.name], [
      200,
      "1",
      "My Workflow",
    ]);
    const again = await postJson(second.base, "/api/v1/workflows", JSON.parse(SAMPLE_WORKFLOW_JSON));
    assertEquals([again.status, again.body.message], [200, "workflow unchanged"], again.text);
    const view = await getJson(second.base, `/api/v1/executions/${executionId}`);
    assertEquals([view.status, view.body.status, view.body.version], [200, "completed", 1], view.text);
    assertEquals(await nodeOutput(second.base, executionId, "n3"), fifty);
    running = undefined;
    await stopServe(second.child);
  } finally {
    if (running) {
      try {
        running.kill("SIGKILL");
      } catch { /* already gone */ }
      await running.output();
    }
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("deno task serve --port abc: a non-zero exit and one stderr line naming --port", async () => {
  const output = await spawnServe([...await serveTaskArgs(), "--port", "abc"]).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(!output.success, stderr);
  assertEquals(output.code, 2, stderr);
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  assertEquals(lines.length, 1, stderr);
  assert(lines[0].includes("--port"), lines[0]);
  assert(lines[0].includes('"abc"'), lines[0]);
  assertEquals(new TextDecoder().decode(output.stdout), "");
});
