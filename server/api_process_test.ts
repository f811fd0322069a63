/**
 * `deno task serve` as a real process: the task's own command line (from
 * deno.json) on a free port, driven over HTTP, stopped with SIGTERM; and a bad
 * flag refused with one stderr line.
 */
import { assert, assertEquals } from "../core/testing.ts";
import { freePort, getJson, nodeOutput, postJson, SAMPLE_WORKFLOW_JSON, sleep } from "./test_server.ts";

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

Deno.test("deno task serve as a real process: serves, runs the sample, stops cleanly on SIGTERM", async () => {
  const port = freePort();
  const child = spawnServe([...await serveTaskArgs(), "--port", String(port)]);
  const base = { url: `http://127.0.0.1:${port}` };
  let output: Deno.CommandOutput | undefined;
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await getJson(base, "/health").catch(() => undefined);
      if (r?.status === 200) {
        assertEquals(r.body, { status: "ok", storage: "memory", ready: true });
        break;
      }
      if (Date.now() > deadline) throw new Error("the process never became healthy");
      await sleep(50);
    }
    const ready = await getJson(base, "/health/ready");
    assertEquals(ready.status, 200, ready.text);

    const created = await postJson(base, "/api/v1/workflows", JSON.parse(SAMPLE_WORKFLOW_JSON));
    assertEquals(
      [created.status, created.body.workflowId, created.body.version],
      [201, "wf-1", 1],
      created.text,
    );
    const run = await postJson(base, "/api/v1/workflows/wf-1/execute?wait=10000", {});
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);
    const out = await nodeOutput(base, run.body.executionId, "n3");
    assertEquals(out, Array.from({ length: 50 }, (_, i) => 51 + i));

    child.kill("SIGTERM");
    output = await child.output();
  } finally {
    if (!output) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.output();
    }
  }
  const stderr = new TextDecoder().decode(output.stderr);
  // A clean exit from the SIGTERM handler (not death by the signal: that would be signal SIGTERM, code 143).
  assertEquals([output.code, output.signal, output.success], [0, null, true], stderr);
  const lines = stderr.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  const messages = lines.map((l) => l.msg);
  assert(messages.includes("listening"), stderr);
  assert(messages.includes("stopping"), stderr);
  assertEquals(lines.find((l) => l.msg === "listening").url, `http://127.0.0.1:${port}`);
  // console.log wrote the first 10 records of n3 to the log, then a line about the other 40.
  assert(
    messages.includes("[n3] 51") && messages.includes("[n3] 60") && !messages.includes("[n3] 61"),
    stderr,
  );
  assert(messages.some((m) => m.includes("40 more records not shown")), stderr);
  // The port is free again.
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
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
