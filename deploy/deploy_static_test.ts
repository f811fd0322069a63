/**
 * The Dockerfile, .dockerignore and compose.yaml, checked without Docker (no image registry is reachable here,
 * so nothing is built): each file is parsed, and what it declares is held against the node itself — its
 * settings (`server/ops/config_settings.ts`, and `loadConfig` on the container's environment), deno.json's
 * `serve` task, the health routes, and the module graph of the entry points. The same topology runs as real
 * processes in `deploy/compose_topology_test.ts`.
 */
import { ComposeError, durationMs } from "./compose.ts";
import { dockerignore } from "./dockerignore.ts";
import { READY_PATH } from "./healthcheck.ts";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  COMPOSE_VARS,
  composeFile,
  configFromEnv,
  containerEnv,
  dockerImage,
  engineServices,
  imageDenoArgs,
  isNodeVariable,
  readRepo,
  REPO,
  serveTask,
} from "../testing/deploy.ts";
import { DEFAULT_CONFIG } from "../server/ops/config_settings.ts";
import { type HealthDeps, healthRoutes } from "../server/http/routes/health.ts";

/** The cluster port compose.yaml and deploy/k8s use (the node has none by default). */
const CLUSTER_PORT = 7400;

/** The leave's longest wait (`RunningNode.leave`'s default timeout), ms. */
const LEAVE_TIMEOUT_MS = 10_000;

/** Whether `path` is a route of the node's health sub-app (the routes `server/http/api.ts` mounts at `/`). */
function isHealthRoute(path: string): boolean {
  const app = healthRoutes({ metrics: () => Promise.resolve({ contentType: "", text: "" }) } as HealthDeps);
  try {
    app.match("GET", new URL(path, "http://node"));
    return true;
  } catch {
    return false;
  }
}

Deno.test("Dockerfile: a pinned Deno 2 image, a non-root user, the serve task's command from a baked cache", () => {
  const image = dockerImage();
  const m = /^denoland\/deno:(?:debian-)?(\d+)\.(\d+)\.(\d+)$/.exec(image.from);
  assert(m, `FROM ${image.from}: want denoland/deno:<2.x.y> (pinned, Debian)`);
  assertEquals(m[1], "2", "Deno 2");
  assertEquals(image.instructions.filter((i) => i.keyword === "FROM").length, 1, "one stage");

  assert(image.user !== undefined, "a USER");
  assert(!["root", "0", "0:0"].includes(image.user), `USER ${image.user} is root`);
  const keywords = image.instructions.map((i) => i.keyword);
  assert(keywords.lastIndexOf("USER") < keywords.indexOf("ENTRYPOINT"), "USER before ENTRYPOINT");

  // The dependency cache: DENO_DIR in the image, filled after the code is copied, by the node's user.
  const denoDir = image.env.DENO_DIR;
  assert(denoDir?.startsWith("/"), "DENO_DIR is an absolute path in the image");
  const install = image.instructions.find((i) => i.keyword === "RUN" && /\bdeno install\b/.test(i.args));
  assert(install, "RUN deno install");
  assert(/--frozen/.test(install.args), "the lock is respected (--frozen)");
  const entrypoints = install.args.split(/--entrypoint\s+/)[1]?.split(/\s+/) ?? [];
  const healthcheck = image.healthcheck;
  assert(healthcheck && !healthcheck.none && healthcheck.command.form === "exec", "HEALTHCHECK CMD [...]");
  const probeScript = healthcheck.command.argv.at(-1)!;
  const serve = serveTask();
  for (const script of [serve.script, probeScript]) {
    assert(entrypoints.includes(script), `deno install --entrypoint caches ${script}: ${install.args}`);
  }
  const copyAt = image.instructions.findIndex((i) => i.keyword === "COPY");
  const installAt = image.instructions.indexOf(install);
  assert(copyAt >= 0 && copyAt < installAt, "the code is copied before the cache is made");
  assert(keywords.lastIndexOf("USER") < installAt, "the cache belongs to the node's user");

  // ENTRYPOINT + CMD = `deno task serve`: the same permissions and script; only cache flags besides.
  const args = imageDenoArgs(image);
  assertEquals(args[0], "run");
  assertEquals(args.at(-1), serve.script);
  assertEquals(args.filter((a) => a.startsWith("--allow-")).sort(), serve.permissions);
  const others = args.slice(1, -1).filter((a) => !a.startsWith("--allow-"));
  assertEquals(others, ["--cached-only"], "no flags beyond the permissions but --cached-only");
  assert((image.entrypoint as { argv: string[] }).argv[0] === "/tini", "tini as PID 1 forwards SIGTERM");
  assert(image.stopSignal === undefined || image.stopSignal === "SIGTERM", "SIGTERM stops the node");
});

Deno.test("Dockerfile: ENV names are settings, EXPOSE the ports, HEALTHCHECK probes a real health route", () => {
  const image = dockerImage();
  for (const name of Object.keys(image.env).filter((n) => n.startsWith("ENGINE_"))) {
    assert(isNodeVariable(name), `ENV ${name} is no setting of server/ops/config_settings.ts`);
  }
  // The image's environment is a valid configuration (0.0.0.0 needs a token: a container is not loopback).
  assertThrows(() => configFromEnv(image.env), /no API token is configured/);
  const config = configFromEnv({ ...image.env, ENGINE_API_TOKENS: "admin:static-test-token-0123" });
  assertEquals(
    config.port,
    image.env.ENGINE_HTTP_PORT ? Number(image.env.ENGINE_HTTP_PORT) : DEFAULT_CONFIG.port,
  );
  assertEquals(image.expose.sort(), [config.port, CLUSTER_PORT].sort(), "EXPOSE the HTTP and cluster ports");

  const healthcheck = image.healthcheck!;
  assert(!healthcheck.none && healthcheck.command.form === "exec");
  const argv = healthcheck.command.argv;
  assertEquals(argv.slice(0, 2), ["deno", "run"]);
  assert(argv.includes("--allow-net") && argv.includes("--allow-env"), argv.join(" "));
  assertEquals(argv.at(-1), "deploy/healthcheck.ts");
  assertEquals(READY_PATH, "/health/ready");
  assert(isHealthRoute(READY_PATH), `${READY_PATH} is a route of server/http/routes/health.ts`);
  assert(!isHealthRoute("/health/nope"), "the route check can fail");
  for (const key of ["interval", "timeout", "start-period"]) {
    assert(durationMs(healthcheck.options[key]) > 0, `HEALTHCHECK --${key}`);
  }
});

Deno.test(".dockerignore keeps every module the entry points load, and the console's files", async () => {
  const ignored = dockerignore(readRepo(".dockerignore"));
  const image = dockerImage();
  const scripts = [imageDenoArgs(image).at(-1)!, "deploy/healthcheck.ts"];
  const files = new Set<string>();
  for (const script of scripts) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", script],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    for (const m of JSON.parse(new TextDecoder().decode(out.stdout)).modules) {
      if (m.specifier.startsWith("file://")) {
        files.add(decodeURIComponent(new URL(m.specifier).pathname).slice(new URL(REPO).pathname.length));
      }
    }
  }
  assert(files.has("server/main.ts") && files.has("storage/embedded.ts"), "dynamic imports are in the graph");
  assert(files.size > 100, `the graph: ${files.size} files`);
  const walk = (dir: string): string[] =>
    [...Deno.readDirSync(new URL(dir, REPO))].flatMap((e) =>
      e.isDirectory ? walk(`${dir}${e.name}/`) : [`${dir}${e.name}`]
    );
  const consoleFiles = [...walk("server/console/assets/"), ...walk("server/console/vendor/")];
  assert(consoleFiles.length > 5, "the console's files");
  const needed = [...files, ...consoleFiles, "deno.json", "deno.lock"];
  assertEquals(needed.filter(ignored), [], "files the node loads that .dockerignore leaves out");
  for (const out of [".git/HEAD", ".data/x", "server/http/api_test.ts", "testing/pg.ts", "docs/API.md"]) {
    assert(ignored(out), `${out} stays out of the image`);
  }
});

Deno.test("compose.yaml: secrets are required, never defaulted", () => {
  for (const name of Object.keys(COMPOSE_VARS)) {
    const vars = { ...COMPOSE_VARS };
    delete (vars as Record<string, string>)[name];
    assertThrows(
      () => composeFile(vars),
      (e: unknown) => e instanceof ComposeError && e.message.includes(`required variable ${name} `),
    );
  }
});

Deno.test("compose.yaml: PostgreSQL with a healthcheck, three members that wait for it", () => {
  const file = composeFile();
  const pg = file.services.postgres;
  assert(pg, "a postgres service");
  assert(
    /^postgres:\d+(\.\d+)?(-[a-z0-9]+)?$/.test(pg.raw.image),
    `postgres image pinned to a major: ${pg.raw.image}`,
  );
  const pgTest = [pg.raw.healthcheck?.test].flat().join(" ");
  assert(/pg_isready/.test(pgTest), `postgres healthcheck runs pg_isready: ${pgTest}`);

  const image = dockerImage();
  const engines = engineServices(file);
  assertEquals(engines.length, 3, "three members");
  const probe = (image.healthcheck as { command: { argv: string[] } }).command.argv;
  for (const s of engines) {
    assertEquals(s.raw.depends_on?.postgres?.condition, "service_healthy", `${s.name} waits for PostgreSQL`);
    assertEquals(s.raw.healthcheck?.test, ["CMD", ...probe], `${s.name}'s healthcheck is the image's`);
    assert(s.raw.build === "." || s.raw.build?.context === ".", `${s.name} is built from the Dockerfile`);
    const grace = durationMs(String(s.raw.stop_grace_period ?? "10s"));
    assert(grace >= LEAVE_TIMEOUT_MS + 5_000, `${s.name}: stop_grace_period ${grace} ms < the leave's 10 s`);
  }
});

Deno.test("compose.yaml: each member's environment is a valid cluster member of the others", () => {
  const file = composeFile();
  const image = dockerImage();
  const engines = engineServices(file);
  const pgEnv = file.services.postgres.environment;
  const configs = engines.map((s) => {
    for (const name of Object.keys(s.environment).filter((n) => n.startsWith("ENGINE_"))) {
      assert(isNodeVariable(name), `${s.name}: ${name} is no setting of server/ops/config_settings.ts`);
    }
    return { service: s, config: configFromEnv(containerEnv(image, s)) };
  });
  const ids = configs.map((c) => c.config.nodeId);
  assertEquals(new Set(ids).size, 3, `distinct node ids: ${ids}`);
  const published = new Set<number>();
  for (const { service, config } of configs) {
    assertEquals(config.nodeId, service.raw.hostname, `${service.name}: node id = host name`);
    assertEquals(config.host, service.raw.hostname, `${service.name} listens on (and advertises) its name`);
    assertEquals(config.clusterPort, CLUSTER_PORT);
    assert(image.expose.includes(config.port) && image.expose.includes(config.clusterPort), "ports exposed");
    assertEquals(service.ports.length, 1, `${service.name} publishes its HTTP port`);
    const [port] = service.ports;
    assertEquals(port.target, config.port, `${service.name}: the published port's target is the HTTP port`);
    assertEquals(port.hostIp, "127.0.0.1", "published on the host's loopback only");
    assert(port.published && !published.has(port.published), "distinct published ports");
    published.add(port.published);
    // Seeds: every other member, by the name and cluster port it listens on.
    const others = configs.filter((c) => c.service !== service);
    assertEquals(config.seeds.sort(), others.map((o) => `${o.config.host}:${o.config.clusterPort}`).sort());
    // The database: the postgres service, with its user, password and database.
    const db = new URL(config.databaseUrl!);
    assertEquals([db.protocol, db.hostname, db.port], ["postgres:", "postgres", "5432"]);
    assertEquals(db.username, pgEnv.POSTGRES_USER);
    assertEquals(db.password, pgEnv.POSTGRES_PASSWORD);
    assertEquals(db.pathname, `/${pgEnv.POSTGRES_DB}`);
    assertEquals(config.clusterSecret, COMPOSE_VARS.FLOWMESH_CLUSTER_SECRET);
    assertEquals(
      config.apiTokens.map((t) => `${t.role}:${t.token}`),
      [`admin:${COMPOSE_VARS.FLOWMESH_ADMIN_TOKEN}`, `viewer:${COMPOSE_VARS.FLOWMESH_VIEWER_TOKEN}`],
    );
  }
});
