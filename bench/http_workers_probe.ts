/**
 * What an HTTP worker hop costs, apart from the engine: a trivial handler (reads the body, answers a small
 * JSON) served by `Deno.serve` on the main thread, or behind `--http-workers`' pool (`server/http_workers/`),
 * in a child process driven by the load harness's lean keep-alive client (50 connections, closed loop, 2 s of
 * warm-up then 5 s measured). Prints requests/s and the child's CPU µs per request by thread, from
 * `/proc/<pid>/task` (Linux): `main` (the handler's thread), `worker-N`, and V8's helper threads.
 *
 *   deno run -A bench/http_workers_probe.ts            # 0, 1 and 2 workers
 *   deno run -A bench/http_workers_probe.ts 0 2 0 2    # the counts to run, in order
 *
 * @module
 */
import { LeanPool } from "./http_client.ts";
import { freePort } from "../testing/net.ts";
import { HttpWorkerPool } from "../server/http_workers/pool.ts";

const BODY = JSON.stringify({
  executionId: `ex-${crypto.randomUUID()}`,
  status: "completed",
  nodes: [1, 2, 3],
});

/** The child: serves the trivial handler on `port` with `workers` workers (0: Deno.serve), then says ready. */
async function serve(workers: number, port: number): Promise<void> {
  const handler = async (req: Request) => {
    await req.arrayBuffer();
    return new Response(BODY, { headers: { "content-type": "application/json; charset=utf-8" } });
  };
  if (workers === 0) Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  else {
    await HttpWorkerPool.start({
      count: workers,
      hostname: "127.0.0.1",
      port,
      maxBodyBytes: 1 << 20,
      handler,
      log: console,
    });
  }
  console.log("ready");
}

/** CPU ticks (user + system, 1/100 s) of each thread of `pid`, by `tid:name`. */
async function threadTicks(pid: number): Promise<Map<string, number>> {
  const ticks = new Map<string, number>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/stat`).catch(() => "");
    if (stat === "") continue;
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(`${task.name}:${name}`, Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

/** Drives `pool` closed-loop with 50 requests in flight for `ms`; returns how many were answered. */
async function drive(pool: LeanPool, ms: number): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (performance.now() < end) {
      await pool.request(
        "POST",
        "/api/v1/workflows/w/execute?wait=1000",
        { "idempotency-key": `k${n}` },
        "{}",
      );
      n++;
    }
  }));
  return n;
}

/** One measurement: a child serving with `workers` workers, driven, its threads' CPU per request printed. */
async function probe(workers: number): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL(import.meta.url).pathname,
      "--serve",
      String(workers),
      String(port),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // "ready"
  const pool = new LeanPool(`http://127.0.0.1:${port}`, 50);
  try {
    await drive(pool, 2_000);
    const before = await threadTicks(child.pid);
    const started = performance.now();
    const n = await drive(pool, 5_000);
    const seconds = (performance.now() - started) / 1000;
    const after = await threadTicks(child.pid);
    const rows = [...after].map((
      [thread, t],
    ) => [thread.split(":")[1], ((t - (before.get(thread) ?? 0)) * 1e4) / n])
      .filter(([, us]) => (us as number) > 0)
      .map(([name, us]) => `${name === "deno" ? "main" : name} ${(us as number).toFixed(1)}`);
    console.log(
      `${workers} workers: ${Math.round(n / seconds)} requests/s; CPU µs per request: ${rows.join(", ")}`,
    );
  } finally {
    pool.close();
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve") await serve(Number(Deno.args[1]), Number(Deno.args[2]));
  else for (const workers of Deno.args.length ? Deno.args.map(Number) : [0, 1, 2]) await probe(workers);
}
