import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { PEKKO_ALIASES, pekkoLogLevel, pekkoSeeds } from "./config_aliases.ts";

const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};
const load = (env: Record<string, string>, args: string[] = []) => loadConfig(args, (n) => env[n], noFile);

/** What a cluster member needs besides the aliases under test. */
const MEMBER = { ENGINE_DATABASE_URL: "postgres://u@127.0.0.1/db", ENGINE_CLUSTER_SECRET: "s".repeat(16) };

Deno.test("config aliases: each PEKKO_* variable sets our setting, with one warning line naming both", () => {
  const { config, warnings } = load({
    ...MEMBER,
    PEKKO_HOSTNAME: "127.0.0.2",
    PEKKO_PORT: "2551",
    PEKKO_SEED_NODES: "pekko://ClusterSystem@10.0.0.1:2551,pekko://ClusterSystem@node-b:2552",
    PEKKO_ROLES: "worker,api-gateway",
    PEKKO_SHARDING_SHARDS: "100",
    PEKKO_LOG_LEVEL: "WARNING",
  });
  assertEquals(
    [config.host, config.clusterPort, config.seeds, config.roles, config.shards, config.logLevel],
    ["127.0.0.2", 2551, ["10.0.0.1:2551", "node-b:2552"], ["worker", "api-gateway"], 100, "warn"],
  );
  assertEquals(warnings, [
    "PEKKO_HOSTNAME (old engine) is read as ENGINE_HTTP_HOST (--host); set ENGINE_HTTP_HOST instead",
    "PEKKO_PORT (old engine) is read as ENGINE_CLUSTER_PORT (--cluster-port); set ENGINE_CLUSTER_PORT instead",
    "PEKKO_SEED_NODES (old engine) is read as ENGINE_SEEDS (--seeds); set ENGINE_SEEDS instead",
    "PEKKO_ROLES (old engine) is read as ENGINE_ROLES (--roles); set ENGINE_ROLES instead",
    "PEKKO_SHARDING_SHARDS (old engine) is read as ENGINE_SHARDS (--shards); set ENGINE_SHARDS instead",
    "PEKKO_LOG_LEVEL (old engine) is read as ENGINE_LOG_LEVEL (--log-level); set ENGINE_LOG_LEVEL instead",
  ]);
});

Deno.test("config aliases: our variable or flag wins, and the alias is named as ignored", () => {
  const { config, warnings } = load(
    { PEKKO_SHARDING_SHARDS: "100", ENGINE_SHARDS: "64", PEKKO_LOG_LEVEL: "DEBUG", PEKKO_HOSTNAME: "::1" },
    ["--log-level", "error"],
  );
  assertEquals([config.shards, config.logLevel, config.host], [64, "error", "::1"]);
  assertEquals(warnings, [
    "PEKKO_HOSTNAME (old engine) is read as ENGINE_HTTP_HOST (--host); set ENGINE_HTTP_HOST instead",
    "PEKKO_SHARDING_SHARDS (old engine) is ignored: ENGINE_SHARDS is set and wins; remove PEKKO_SHARDING_SHARDS",
    "PEKKO_LOG_LEVEL (old engine) is ignored: --log-level is set and wins; remove PEKKO_LOG_LEVEL",
  ]);
  // No alias: no warning; an empty alias counts as unset.
  assertEquals(load({ PEKKO_PORT: "" }).warnings, []);
});

Deno.test("config aliases: a bad old value is one config error naming the old variable", () => {
  for (
    const [env, pattern] of [
      [{ PEKKO_SHARDING_SHARDS: "lots" }, /^environment PEKKO_SHARDING_SHARDS \(read as ENGINE_SHARDS\): /],
      [{ PEKKO_ROLES: "seed" }, /^environment PEKKO_ROLES \(read as ENGINE_ROLES\): unknown role "seed"/],
      [
        { PEKKO_LOG_LEVEL: "TRACE" },
        /^environment PEKKO_LOG_LEVEL .*must be one of debug, info, warn, error/,
      ],
      [{ PEKKO_SEED_NODES: "pekko://S@nohost" }, /^environment PEKKO_SEED_NODES .*not host:port/],
    ] as const
  ) {
    let err: unknown;
    try {
      load(env);
    } catch (e) {
      err = e;
    }
    assert(err instanceof ConfigError, `${JSON.stringify(env)}: ${err}`);
    assertMatch(err.message, pattern);
  }
});

Deno.test("config aliases: Pekko's seed and log level syntax", () => {
  assertEquals(pekkoSeeds('["pekko://Sys@h1:2551", "pekko://Sys@h2:2552"]'), "h1:2551,h2:2552");
  assertEquals(pekkoSeeds("h1:2551, pekko.tcp://Sys@[::1]:2552/user"), "h1:2551,[::1]:2552");
  assertEquals(["DEBUG", "Info", "WARNING", "warn", "ERROR", "OFF"].map(pekkoLogLevel), [
    "debug",
    "info",
    "warn",
    "warn",
    "error",
    "error",
  ]);
  assertEquals(PEKKO_ALIASES.map((a) => a.old), [
    "PEKKO_HOSTNAME",
    "PEKKO_PORT",
    "PEKKO_SEED_NODES",
    "PEKKO_ROLES",
    "PEKKO_SHARDING_SHARDS",
    "PEKKO_LOG_LEVEL",
  ]);
});
