/**
 * The load harness's nodes: real `server/main.ts` processes on free ports, on
 * memory storage, a data directory each (embedded) or one PostgreSQL database,
 * clustered when there are several; waited for until ready (and balanced), and
 * stopped. With a profile folder each runs under `--cpu-prof` and is stopped
 * with SIGTERM (a graceful stop writes the profile) rather than killed.
 *
 * @module
 */
import { freePort } from "../testing/net.ts";

/** A node process started by the harness. */
export interface Server {
  url: string;
  child: Deno.ChildProcess;
}

/** What to start. */
export interface ServerSpec {
  start: "memory" | "embedded" | "postgres";
  nodes: number;
  /** A folder to write each node's CPU profile to (`deno run --cpu-prof`), written when it stops. */
  profileDir?: string;
  /** HTTP workers in front of each node's engine (`--http-workers`; 0 or none: the engine's thread serves). */
  httpWorkers?: number;
}

/** Polls `url`'s readiness until it answers 200, or throws after `timeoutMs`. */
async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/health/ready`).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }).catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

/** The command line of one node. */
function nodeArgs(
  spec: ServerSpec,
  self: { id: string; port: number; cport: number },
  seeds: string,
  databaseUrl: string | undefined,
  dataDir: string,
): string[] {
  const args = ["run", "-A"];
  if (spec.profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${spec.profileDir}`);
  args.push("server/main.ts", "--port", String(self.port), "--node-id", self.id, "--log-level", "error");
  if (spec.httpWorkers) args.push("--http-workers", String(spec.httpWorkers));
  if (spec.start === "memory") args.push("--storage", "memory");
  if (spec.start === "embedded") args.push("--storage", "embedded", "--data-dir", `${dataDir}/${self.id}`);
  if (spec.start === "postgres") args.push("--storage", "postgres", "--database-url", databaseUrl!);
  if (spec.nodes > 1) {
    args.push(
      "--cluster-port",
      String(self.cport),
      "--seeds",
      seeds,
      "--cluster-secret",
      "bench-secret-0123456789",
    );
  }
  return args;
}

/**
 * Starts `spec.nodes` nodes as processes and waits until every one is ready (and, for several, their
 * shards are balanced).
 *
 * @example
 * ```ts ignore
 * const servers = await startServers({ start: "memory", nodes: 1 }, undefined, "/tmp/x");
 * await stopServers(servers, false);
 * ```
 */
export async function startServers(
  spec: ServerSpec,
  databaseUrl: string | undefined,
  dataDir: string,
): Promise<Server[]> {
  const specs = Array.from(
    { length: spec.nodes },
    (_, i) => ({ id: `n${i + 1}`, port: freePort(), cport: freePort() }),
  );
  const servers: Server[] = [];
  for (const s of specs) {
    const seeds = specs.filter((x) => x !== s).map((x) => `127.0.0.1:${x.cport}`).join(",");
    const args = nodeArgs(spec, s, seeds, databaseUrl, dataDir);
    const child = new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "inherit" }).spawn();
    servers.push({ url: `http://127.0.0.1:${s.port}`, child });
  }
  for (const s of servers) await waitReady(s.url, 120_000);
  if (spec.nodes > 1) await waitBalanced(servers.map((s) => s.url), spec.nodes, 120_000);
  return servers;
}

/**
 * Waits until every member is up and owns its share of the shards (as even as counts allow), on every
 * member's view, twice in a row a second apart: measuring while the leader still moves shards would count
 * the hand-offs' 503s as failures of the steady state.
 */
async function waitBalanced(urls: string[], members: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  while (Date.now() < deadline) {
    const views = await Promise.all(
      urls.map((u) => fetch(`${u}/api/v1/cluster/stats`).then((r) => r.json()).catch(() => null)),
    );
    const ok = views.every((v) => {
      if (!v || v.members.length !== members) return false;
      const counts = (v.members as { status: string; shardCount: number }[]).map((m) =>
        m.status === "up" ? m.shardCount : -1
      );
      const total = v.sharding.totalShards as number;
      return counts.every((c) => c >= Math.floor(total / members) && c <= Math.ceil(total / members));
    });
    stable = ok ? stable + 1 : 0;
    if (stable >= 2) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error("the cluster never balanced");
}

/**
 * Stops the nodes: killed (SIGKILL), or when `graceful` stopped with SIGTERM (a profiled node writes its
 * profile then) and killed if still running after 30 s.
 *
 * @example
 * ```ts ignore
 * await stopServers(servers, true);
 * ```
 */
export async function stopServers(servers: readonly Server[], graceful: boolean): Promise<void> {
  await Promise.all(servers.map(async (s) => {
    const kill = (signal: Deno.Signal) => {
      try {
        s.child.kill(signal);
      } catch { /* already gone */ }
    };
    kill(graceful ? "SIGTERM" : "SIGKILL");
    const timer = graceful ? setTimeout(() => kill("SIGKILL"), 30_000) : undefined;
    await s.child.status;
    clearTimeout(timer);
  }));
}
