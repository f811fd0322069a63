/**
 * `server/main.ts --http-workers 2` as a real process, beside the same node without workers: the API answers
 * the same through the workers (health, tokens and roles, create, execute, read, error paths, bodies over the
 * bound), requests land on both workers (`http_worker_requests_total`), SIGTERM stops it cleanly; bad values
 * of the setting stop the process with one line; and `startNode` with workers in process closes without
 * leaving a worker, an op or a resource behind.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { freePort } from "../../testing/net.ts";
import { type HttpTarget, type Reply, request, type RequestOptions } from "../../testing/http.ts";
import { type ServerProcess, spawnServer } from "../../testing/process.ts";
import { startTestNode } from "../../testing/server.ts";
import { loadConfig } from "../ops/config.ts";
import { SETTINGS } from "../ops/config_settings.ts";
import { MAX_HTTP_WORKERS } from "./pool.ts";

const ADMIN = "workers-admin-token-0123456789";
const VIEWER = "workers-viewer-token-0123456789";
const ROOT = new URL("../../", import.meta.url);

const WORKFLOW = {
  id: "numbers",
  name: "numbers",
  nodes: [
    { id: "a", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 5 } },
    { id: "b", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
    { id: "c", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "a", target: "b" }, { source: "b", target: "c" }],
};

/** A node on memory storage with an admin and a viewer token, and `args` more. */
function node(dir: string, args: string[] = []): ServerProcess {
  return spawnServer(freePort(), [
    "--storage",
    "memory",
    "--data-dir",
    dir,
    "--log-format",
    "json",
    "--api-token",
    `admin:${ADMIN}`,
    "--api-token",
    `viewer:${VIEWER}`,
    ...args,
  ]);
}

/** One request (raw bodies and streams too), its body read, given up on after 10 s. */
function call(target: HttpTarget, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  return request(target, method, path, { timeoutMs: 10_000, ...opts });
}

const as = (token: string, more: RequestOptions = {}): RequestOptions => ({
  ...more,
  headers: { authorization: `Bearer ${token}`, ...more.headers },
});

/** A body stream of `size` bytes (sent chunked: no declared length). */
function chunked(size: number): ReadableStream<Uint8Array> {
  let left = size;
  return new ReadableStream({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(left, 65_536);
      left -= n;
      controller.enqueue(new Uint8Array(n).fill(32));
    },
  });
}

/**
 * The calls every node must answer alike, with their status and error code (or the execution's status): the
 * happy path, the tokens and roles, and the error paths.
 */
async function walk(target: ServerProcess): Promise<Record<string, [number, string | undefined]>> {
  const out: Record<string, [number, string | undefined]> = {};
  const note = (name: string, r: { status: number; body: { error?: { code: string } } }) => {
    out[name] = [r.status, r.body?.error?.code];
  };
  note("health", await call(target, "GET", "/health"));
  note("live", await call(target, "GET", "/health/live"));
  note("ready", await call(target, "GET", "/health/ready"));
  note("no token", await call(target, "GET", "/api/v1/workflows"));
  note("viewer creates", await call(target, "POST", "/api/v1/workflows", as(VIEWER, { json: WORKFLOW })));
  note("create", await call(target, "POST", "/api/v1/workflows", as(ADMIN, { json: WORKFLOW })));
  note("bad json", await call(target, "POST", "/api/v1/workflows", as(ADMIN, { raw: "{nope" })));
  const run = await call(
    target,
    "POST",
    "/api/v1/workflows/numbers/execute?wait=10000",
    as(ADMIN, { json: {}, headers: { "idempotency-key": "k-1" } }),
  );
  out.execute = [run.status, run.body.status];
  const read = await call(target, "GET", `/api/v1/executions/${run.body.executionId}`, as(VIEWER));
  out["get execution"] = [read.status, read.body.status];
  const output = await call(
    target,
    "GET",
    `/api/v1/executions/${run.body.executionId}/nodes/c/output`,
    as(VIEWER),
  );
  out.output = [output.status, JSON.stringify(output.body.records)];
  note("unknown execution", await call(target, "GET", "/api/v1/executions/ex-nope", as(VIEWER)));
  note(
    "unknown workflow",
    await call(target, "POST", "/api/v1/workflows/nope/execute", as(ADMIN, { json: {} })),
  );
  note("unknown route", await call(target, "GET", "/api/v1/nowhere", as(VIEWER)));
  note("wrong method", await call(target, "DELETE", "/health", as(ADMIN)));
  const big = new Uint8Array(2 * 1024 * 1024).fill(32);
  note("declared too big", await call(target, "POST", "/api/v1/workflows", as(ADMIN, { raw: big })));
  note(
    "streamed too big",
    await call(target, "POST", "/api/v1/workflows", as(ADMIN, { raw: chunked(5 << 20) })),
  );
  return out;
}

/** `http_worker_requests_total` by worker, from the node's metrics. */
async function workerCounts(target: ServerProcess): Promise<Map<string, number>> {
  const text = (await call(target, "GET", "/metrics", as(VIEWER))).text;
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^http_worker_requests_total\{worker="(\d+)"\} (\d+)$/gm)) {
    counts.set(m[1], Number(m[2]));
  }
  return counts;
}

Deno.test("http workers process: the API answers through 2 workers as without them, on both workers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-http-workers-" });
  const plain = node(dir);
  const fronted = node(dir, ["--http-workers", "2"]);
  try {
    await Promise.all([plain.waitReady(60_000), fronted.waitReady(60_000)]);
    const [expected, got] = [await walk(plain), await walk(fronted)];
    assertEquals(got, expected);
    assertEquals(got.execute, [200, "completed"]);
    assertEquals(got.output, [200, "[2,4,6,8,10]"]);
    assertEquals(got["no token"], [401, "unauthenticated"]);
    assertEquals(got["viewer creates"], [403, "forbidden"]);
    assertEquals(got["declared too big"], [413, "body_too_large"]);
    assertEquals(got["streamed too big"], [413, "body_too_large"]);
    assertEquals((await workerCounts(plain)).size, 0, "no worker series without workers");
    // Each call over a client of its own is a new connection, which the kernel gives to one of the two
    // sockets by its address hash: 40 all on one is a 1 in 2^39 event.
    for (let i = 0; i < 40; i++) {
      const client = Deno.createHttpClient({});
      const r = await call({ url: fronted.url, client }, "GET", "/health/live");
      client.close();
      assertEquals(r.status, 200);
    }
    const counts = await workerCounts(fronted);
    assertEquals([...counts.keys()].sort(), ["0", "1"]);
    assert([...counts.values()].every((n) => n > 0), `both workers served: ${[...counts.entries()]}`);
    assert([...counts.values()].reduce((a, b) => a + b, 0) >= 40 + Object.keys(got).length);
    const stopped = await fronted.kill("SIGTERM");
    assertEquals([stopped.code, stopped.signal], [0, null], fronted.output);
  } finally {
    await Promise.all([plain.close(), fronted.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `server/main.ts` with `args` (and `env`) to its exit; returns its code and stderr lines. */
async function runMain(args: string[], env: Record<string, string> = {}, deno: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...deno, "server/main.ts", "--port", "0", "--storage", "memory", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  }).output();
  return { code: out.code, lines: new TextDecoder().decode(out.stderr).trim().split("\n") };
}

Deno.test("http workers process: an out-of-range count, or Deno without --unstable-net, exits 2 with one line", async () => {
  const cases: [Promise<{ code: number; lines: string[] }>, RegExp][] = [
    [
      runMain(["--http-workers", "65"]),
      /^config error: flag --http-workers: must be an integer from 0 to 64, got "65"$/,
    ],
    [
      runMain([], { ENGINE_HTTP_WORKERS: "-1" }),
      /^config error: environment ENGINE_HTTP_WORKERS: must be an integer from 0 to 64, got "-1"$/,
    ],
    [
      runMain(["--http-workers", "2"], {}, ["--no-config"]),
      /^config error: http-workers: needs Deno's --unstable-net \(reusePort\)/,
    ],
  ];
  for (const [running, expected] of cases) {
    const { code, lines } = await running;
    assertEquals({ code, lines: lines.length }, { code: 2, lines: 1 }, lines.join("\n"));
    assertMatch(lines[0], expected);
  }
});

Deno.test("http workers config: --http-workers, ENGINE_HTTP_WORKERS and the file's httpWorkers; 0 by default", () => {
  const noEnv = () => undefined;
  const file = (text: string) => () => text;
  assertEquals(loadConfig([], noEnv, file("")).config.httpWorkers, 0);
  assertEquals(loadConfig(["--http-workers", "2"], noEnv, file("")).config.httpWorkers, 2);
  const env = (name: string) => name === "ENGINE_HTTP_WORKERS" ? "3" : undefined;
  assertEquals(loadConfig([], env, file("")).config.httpWorkers, 3);
  assertEquals(loadConfig(["--config", "c.json"], noEnv, file('{"httpWorkers": 4}')).config.httpWorkers, 4);
  const setting = SETTINGS.find((s) => s.flag === "--http-workers")!;
  assertEquals([setting.min, setting.max], [0, MAX_HTTP_WORKERS]);
});

Deno.test("http workers in process: startNode with 2 workers serves, and close() leaves nothing running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flowmesh-http-workers-node-" });
  const running = await startTestNode({}, { httpWorkers: 2, dataDir: dir });
  try {
    const r = await call(running, "GET", "/health/ready");
    assertEquals(r.status, 200, r.text);
    const created = await call(running, "POST", "/api/v1/workflows", { json: WORKFLOW });
    assertEquals(created.status, 201, created.text);
  } finally {
    await running.close();
    await Deno.remove(dir, { recursive: true });
  }
});
