/**
 * compose.yaml's cluster as real processes: each engine service of the file becomes one
 * `deno <the image's ENTRYPOINT and CMD>` (the Dockerfile's `deno run --cached-only ... server/main.ts`) in the
 * repository (the image's /app), with exactly the environment the container would have — the image's `ENV`,
 * then the service's `environment`, interpolated with test values — except what only Docker provides: the
 * listen address and ports (remapped to free loopback ports, the seeds following them), the database (a fresh
 * PostgreSQL database of ENGINE_TEST_DATABASE_URL's server instead of the postgres service), the data
 * directory and the Deno cache. No other variable of this process leaks in.
 *
 * Then, as `docker compose up` would: every member answers /health/ready (and the image's healthcheck script
 * says so), the cluster has three members sharing the shards, a workflow created through one member runs
 * through another and reads back from the third, and SIGTERM makes a member hand its shards off and exit 0.
 * The SIGTERM-to-exit times are printed (they size the Kubernetes grace period, deploy/k8s/statefulset.yaml).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import {
  COMPOSE_VARS,
  composeFile,
  configFromEnv,
  containerEnv,
  dockerImage,
  engineServices,
  imageDenoArgs,
  REPO,
} from "../testing/deploy.ts";
import type { ComposeService } from "./compose.ts";
import type { EngineConfig } from "../server/ops/config.ts";
import type { HttpTarget, Reply } from "../testing/http.ts";
import { freePort } from "../testing/net.ts";
import { pgTest, withTempDatabase } from "../testing/pg.ts";
import { call, ServerProcess } from "../testing/process.ts";
import { sleep } from "../testing/wait.ts";

const ADMIN = { authorization: `Bearer ${COMPOSE_VARS.FLOWMESH_ADMIN_TOKEN}` };
const VIEWER = { authorization: `Bearer ${COMPOSE_VARS.FLOWMESH_VIEWER_TOKEN}` };

const WORKFLOW = {
  id: "compose-topology",
  name: "compose topology",
  nodes: [
    { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 5 } },
    { id: "double", type: "transform", nodeType: "map", config: { expression: "value * 2" } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "numbers", target: "double" }, { source: "double", target: "collect" }],
};

/** The variables a container gets from Docker, not from the image or the compose file, kept from ours. */
const HOST_VARIABLES = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"];

/** One member: its service, its remapped ports, its process. */
interface Member {
  service: ComposeService;
  /** The node's configuration in the container, before remapping. */
  compose: EngineConfig;
  nodeId: string;
  http: number;
  cluster: number;
  env: Record<string, string>;
  process?: ServerProcess;
}

/**
 * The members' environments: each service's container environment with its address, ports, seeds, database,
 * data directory and Deno cache remapped for this machine.
 */
function members(databaseUrl: string, dataRoot: string): Member[] {
  const image = dockerImage();
  const services = engineServices(composeFile());
  const list = services.map((service) => {
    const env = containerEnv(image, service);
    const compose = configFromEnv(env); // as in the container, before remapping
    return { service, env, compose, nodeId: compose.nodeId, http: freePort(), cluster: freePort() };
  });
  const byHost = new Map(list.map((m) => [m.compose.host, m]));
  for (const m of list) {
    const compose = m.compose;
    const db = new URL(compose.databaseUrl!);
    assertEquals(
      db.hostname,
      "postgres",
      `${m.service.name}: the compose file's database is the postgres service`,
    );
    const seeds = compose.seeds.map((seed) => {
      const [host, port] = seed.split(":");
      const peer = byHost.get(host);
      assert(peer, `${m.service.name}: seed ${seed} is no member's address`);
      assertEquals(Number(port), peer.compose.clusterPort, `${seed} is ${host}'s cluster port`);
      return `127.0.0.1:${peer.cluster}`;
    });
    const host: Record<string, string> = { NO_COLOR: "1" };
    for (const name of HOST_VARIABLES) {
      const value = Deno.env.get(name);
      if (value !== undefined) host[name] = value;
    }
    delete m.env.DENO_DIR; // the image's cache path: here, ours (from HOST_VARIABLES, or Deno's default)
    Object.assign(m.env, host, {
      ENGINE_HTTP_HOST: "127.0.0.1",
      ENGINE_HTTP_PORT: String(m.http),
      ENGINE_CLUSTER_PORT: String(m.cluster),
      ENGINE_SEEDS: seeds.join(","),
      ENGINE_DATABASE_URL: databaseUrl,
      ENGINE_DATA_DIR: `${dataRoot}/${m.service.name}`,
    });
  }
  return list;
}

/** GET as the viewer. */
function get(target: HttpTarget, path: string): Promise<Reply> {
  return call(target, "GET", path, { headers: VIEWER, timeoutMs: 5_000 });
}

/** Polls every member's /api/v1/cluster/stats until `ok` holds for all of them; fails after `timeoutMs`. */
async function waitStats(
  targets: readonly HttpTarget[],
  what: string,
  ok: (stats: Reply["body"]) => boolean,
) {
  const deadline = Date.now() + 30_000;
  let last: unknown[] = [];
  for (;;) {
    last = await Promise.all(
      targets.map((t) => get(t, "/api/v1/cluster/stats").then((r) => r.body, () => null)),
    );
    if (last.every((s) => s && ok(s))) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within 30 s: ${JSON.stringify(last).slice(0, 2000)}`);
    }
    await sleep(200);
  }
}

/** Runs the image's healthcheck command (HEALTHCHECK's argv, here) with a member's environment. */
async function healthcheck(env: Record<string, string>): Promise<{ code: number; out: string }> {
  const image = dockerImage();
  const argv = (image.healthcheck as { command: { argv: string[] } }).command.argv;
  assertEquals(argv[0], "deno");
  const out = await new Deno.Command(Deno.execPath(), {
    args: argv.slice(1),
    cwd: REPO,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, out: text };
}

/** SIGTERM; the exit status and how long it took. */
async function stop(m: Member): Promise<{ code: number; ms: number }> {
  const t0 = performance.now();
  const status = await m.process!.kill("SIGTERM");
  return { code: status.code, ms: Math.round(performance.now() - t0) };
}

pgTest(
  "compose.yaml's cluster as processes: ready, 3 members, a workflow through them, SIGTERM hands off",
  async () => {
    await withTempDatabase(async (databaseUrl) => {
      const dataRoot = await Deno.makeTempDir({ prefix: "flowmesh-compose-" });
      const list = members(databaseUrl, dataRoot);
      assertEquals(list.length, 3);
      const args = imageDenoArgs(dockerImage());
      try {
        for (const m of list) m.process = new ServerProcess(args, m.http, { env: m.env });
        const targets = list.map((m) => m.process!);
        await Promise.all(targets.map((p) => p.waitReady(60_000)));

        // The image's healthcheck, with a member's environment, sees it ready.
        const probe = await healthcheck(list[0].env);
        assertEquals(probe.code, 0, probe.out);
        assert(probe.out.includes(`http://127.0.0.1:${list[0].http}/health/ready: 200`), probe.out);

        // Tokens came from the environment: the API refuses a call without one.
        const anonymous = await call(targets[0], "GET", "/api/v1/workflows");
        assertEquals(anonymous.status, 401, anonymous.text);

        // Three members, every one up, the 128 shards shared among them (each sees the same).
        const ids = list.map((m) => m.nodeId).sort();
        const stats = await waitStats(targets, "three members sharing the shards", (s) => {
          const up = s.members.filter((x: { status: string }) => x.status === "up");
          return up.length === 3 && up.every((x: { shardCount: number }) => x.shardCount > 0) &&
            up.reduce((n: number, x: { shardCount: number }) => n + x.shardCount, 0) ===
              s.sharding.totalShards;
        });
        for (const s of stats as Reply["body"][]) {
          assertEquals(s.nodeCount, 3);
          assertEquals(s.members.map((x: { id: string }) => x.id).sort(), ids);
        }

        // A workflow: created through one member, run through another, read through the third.
        const created = await call(targets[0], "POST", "/api/v1/workflows", {
          json: WORKFLOW,
          headers: ADMIN,
        });
        assertEquals(created.status, 201, created.text);
        const ran = await call(targets[1], "POST", `/api/v1/workflows/${WORKFLOW.id}/execute?wait=10000`, {
          json: {},
          headers: { ...ADMIN, "idempotency-key": "compose-topology-1" },
          timeoutMs: 15_000,
        });
        assertEquals(ran.status, 200, ran.text);
        assertEquals(ran.body.status, "completed", ran.text);
        const output = await get(
          targets[2],
          `/api/v1/executions/${ran.body.executionId}/nodes/collect/output`,
        );
        assertEquals(output.status, 200, output.text);
        assertEquals(output.body.records, [2, 4, 6, 8, 10]);

        // SIGTERM on one member: it hands its shards to the two others and exits 0.
        const [a, b, c] = list;
        const leaving = await stop(c);
        assertEquals(leaving.code, 0, c.process!.output);
        assert(c.process!.output.includes('"msg":"stopping"'), "the node logged its stop");
        await waitStats([a.process!, b.process!], "two members owning every shard", (s) => {
          const owners = s.members.filter((x: { shardCount: number }) => x.shardCount > 0);
          const ids = owners.map((x: { id: string }) => x.id).sort();
          return JSON.stringify(ids) === JSON.stringify([a.nodeId, b.nodeId].sort()) &&
            owners.reduce((n: number, x: { shardCount: number }) => n + x.shardCount, 0) ===
              s.sharding.totalShards;
        });
        const down = await healthcheck(c.env);
        assertEquals(down.code, 1, `the healthcheck fails once the node is gone: ${down.out}`);

        // The last two together: no member is left to take their shards, so each waits out the leave (10 s).
        const last = await Promise.all([stop(a), stop(b)]);
        for (const [i, r] of last.entries()) assertEquals(r.code, 0, [a, b][i].process!.output);
        console.log(
          `SIGTERM → exit: one member of three ${leaving.ms} ms (hand-off); the last two ${last[0].ms} / ${
            last[1].ms
          } ms (nobody to hand off to)`,
        );
      } finally {
        await Promise.all(list.map((m) => m.process?.close()));
        await Deno.remove(dataRoot, { recursive: true }).catch(() => {});
      }
    });
  },
);
