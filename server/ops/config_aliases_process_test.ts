/**
 * The old engine's environment on a real process: `deno run -A server/main.ts` started with `PEKKO_*`
 * variables (and one of ours set beside its alias) on loopback, a cluster member on a fresh PostgreSQL
 * database. The member listens on the cluster port `PEKKO_PORT` named, has the shards and roles the old
 * variables gave, and wrote exactly one warning line per old variable, naming the old and the new setting.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { getJson } from "../../testing/server.ts";
import { freePort } from "../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { sleep } from "../../testing/wait.ts";

const ROOT = new URL("../..", import.meta.url);
const SECRET = "pekko-alias-test-secret-0123456789";

/** The variables deno needs to find its cache, and nothing else of this process's environment. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** Polls `GET /health` until 200; kills the child and throws with its stderr after 45 s. */
async function healthy(child: Deno.ChildProcess, base: { url: string }): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const r = await getJson(base, "/health").catch(() => undefined);
    if (r?.status === 200) return;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      const out = await child.output();
      throw new Error(`the process never became healthy: ${new TextDecoder().decode(out.stderr)}`);
    }
    await sleep(50);
  }
}

pgTest("PEKKO_* variables on a real process: honoured, ours win, one warning line each", async () => {
  await withTempDatabase(async (databaseUrl) => {
    const [httpPort, clusterPort] = [freePort(), freePort()];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "server/main.ts", "--port", String(httpPort), "--node-id", "pekko-1"],
      cwd: ROOT,
      clearEnv: true,
      env: {
        ...baseEnv(),
        ENGINE_DATABASE_URL: databaseUrl,
        ENGINE_CLUSTER_SECRET: SECRET,
        ENGINE_LOG_LEVEL: "info",
        PEKKO_HOSTNAME: "127.0.0.1",
        PEKKO_PORT: String(clusterPort),
        PEKKO_ROLES: "coordinator,worker,api-gateway",
        PEKKO_SHARDING_SHARDS: "24",
        PEKKO_LOG_LEVEL: "ERROR",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const base = { url: `http://127.0.0.1:${httpPort}` };
    let stderr = "";
    try {
      await healthy(child, base);
      const stats = await getJson(base, "/api/v1/cluster/stats");
      assertEquals(stats.status, 200, stats.text);
      assertEquals(stats.body.selfAddress, `127.0.0.1:${clusterPort}`, stats.text);
      assertEquals([...stats.body.selfRoles].sort(), ["api-gateway", "coordinator", "worker"]);
      assertEquals(stats.body.sharding.totalShards, 24, stats.text);
      // The cluster port is really listened on.
      let bound = false;
      try {
        Deno.listen({ hostname: "127.0.0.1", port: clusterPort }).close();
      } catch (err) {
        bound = err instanceof Deno.errors.AddrInUse;
      }
      assert(bound, `nothing listens on the cluster port ${clusterPort}`);
    } finally {
      child.kill("SIGTERM");
      stderr = new TextDecoder().decode((await child.output()).stderr);
    }
    const lines = stderr.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
    const warnings = lines.filter((l) => String(l.msg).includes("PEKKO_"));
    assertEquals(warnings.map((l) => [l.level, l.msg]), [
      [
        "warn",
        "PEKKO_HOSTNAME (old engine) is read as ENGINE_HTTP_HOST (--host); set ENGINE_HTTP_HOST instead",
      ],
      [
        "warn",
        "PEKKO_PORT (old engine) is read as ENGINE_CLUSTER_PORT (--cluster-port); set ENGINE_CLUSTER_PORT instead",
      ],
      ["warn", "PEKKO_ROLES (old engine) is read as ENGINE_ROLES (--roles); set ENGINE_ROLES instead"],
      [
        "warn",
        "PEKKO_SHARDING_SHARDS (old engine) is read as ENGINE_SHARDS (--shards); set ENGINE_SHARDS instead",
      ],
      [
        "warn",
        "PEKKO_LOG_LEVEL (old engine) is ignored: ENGINE_LOG_LEVEL is set and wins; remove PEKKO_LOG_LEVEL",
      ],
    ]);
    // ENGINE_LOG_LEVEL=info won over PEKKO_LOG_LEVEL=ERROR: info lines were written.
    assert(lines.some((l) => l.level === "info" && l.msg === "listening"), stderr);
    assert(!stderr.includes(SECRET), "the cluster secret is never logged");
  });
});
