import { assert, assertEquals, assertMatch, assertStrictEquals } from "../../testing/assert.ts";
import { ConfigError, DEFAULT_CONFIG, loadConfig, SETTINGS, usage } from "./config.ts";

const noEnv = () => undefined;

/** The ConfigError `fn` throws (fails when it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}
const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};

Deno.test("config: no configuration gives the defaults (one node on 127.0.0.1:8080)", () => {
  const { config, help } = loadConfig([], noEnv, noFile);
  assertEquals(config, { ...DEFAULT_CONFIG });
  assertStrictEquals(config.port, 8080);
  assertStrictEquals(config.host, "127.0.0.1");
  assertStrictEquals(help, false);
});

Deno.test("config: flags > environment > config file > defaults", () => {
  const file = JSON.stringify({ port: 7000, host: "0.0.0.0", logLevel: "debug", dataDir: "/from-file" });
  const env: Record<string, string> = { ENGINE_HTTP_PORT: "7001", ENGINE_HTTP_HOST: "::1" };
  const { config } = loadConfig(["--config", "c.json", "--port=7002"], (n) => env[n], () => file);
  assertStrictEquals(config.port, 7002); // flag
  assertStrictEquals(config.host, "::1"); // env over file
  assertStrictEquals(config.logLevel, "debug"); // file over default
  assertStrictEquals(config.dataDir, "/from-file");
  assertStrictEquals(config.storage, "auto"); // default
});

Deno.test("config: ENGINE_CONFIG names the file when --config is absent", () => {
  const { config } = loadConfig([], (n) => (n === "ENGINE_CONFIG" ? "x.json" : undefined), (p) => {
    assertStrictEquals(p, "x.json");
    return '{"storage": "memory"}';
  });
  assertStrictEquals(config.storage, "memory");
});

Deno.test("config: every bad value is one line naming the setting", () => {
  const cases: [string[], Record<string, string>, string | undefined, RegExp][] = [
    [["--port", "abc"], {}, undefined, /^flag --port: must be an integer from 0 to 65535, got "abc"$/],
    [["--port", "70000"], {}, undefined, /--port/],
    [[], { ENGINE_HTTP_PORT: "-1" }, undefined, /^environment ENGINE_HTTP_PORT: /],
    [
      ["--storage", "mongo"],
      {},
      undefined,
      /^flag --storage: must be one of auto, memory, sqlite, pglite, embedded, postgres/,
    ],
    [[], { ENGINE_STORAGE: "x" }, undefined, /ENGINE_STORAGE/],
    [["--database-url", "mysql://x"], {}, undefined, /--database-url: must be a postgres:\/\/ URL/],
    [["--database-url", "not a url"], {}, undefined, /--database-url: not a URL/],
    [["--retention", "soon"], {}, undefined, /--retention: must be a duration/],
    [["--host", ""], {}, undefined, /--host: must not be empty/],
    [["--bogus", "1"], {}, undefined, /unknown flag "--bogus"/],
    [["--port"], {}, undefined, /flag --port: a value is required/],
    [["--config", "c.json"], {}, "{nope", /^config file c.json: /],
    [["--config", "c.json"], {}, '{"colour": 1}', /unknown setting "colour"/],
    [["--config", "c.json"], {}, '{"port": "x"}', /^config file c.json: port: /],
    [["--config", "c.json"], {}, "[1]", /must be a JSON object/],
  ];
  for (const [args, env, file, pattern] of cases) {
    const err = configError(() => loadConfig(args, (n) => env[n], () => file ?? noFile("c.json")));
    assertMatch(err.message, pattern);
    assert(!err.message.includes("\n"), `one line: ${err.message}`);
  }
});

Deno.test("config: a database URL's password never appears in an error", () => {
  const err = configError(() => loadConfig(["--database-url", "postgres//u:hunter2@h/db"], noEnv, noFile));
  assert(!err.message.includes("hunter2"), err.message);
});

Deno.test("config: values parse to their types; --help is reported", () => {
  const { config, help } = loadConfig(
    ["--shards", "64", "--retention", "12h", "--max-output-records", "10", "--log-format", "pretty", "-h"],
    noEnv,
    noFile,
  );
  assertStrictEquals(config.shards, 64);
  assertStrictEquals(config.retentionMs, 12 * 3_600_000);
  assertStrictEquals(config.maxOutputRecords, 10);
  assertStrictEquals(config.logFormat, "pretty");
  assert(help);
  assertStrictEquals(loadConfig(["--retention", "0"], noEnv, noFile).config.retentionMs, 0);
});

Deno.test("config: usage lists every flag and environment variable", () => {
  const text = usage();
  for (const s of SETTINGS) {
    assert(text.includes(s.flag), s.flag);
    assert(text.includes(s.env), s.env);
  }
});

Deno.test("config: cluster settings parse, and bad combinations are refused with one line", () => {
  const url = "postgres://postgres@127.0.0.1:5432/x";
  const secret = "0123456789abcdef";
  const ok = loadConfig(
    [
      "--database-url",
      url,
      "--cluster-port",
      "7400",
      "--seeds",
      "127.0.0.1:7401, host-b:7402",
      "--cluster-secret",
      secret,
      "--roles",
      "worker,coordinator",
      "--node-id",
      "n-2",
    ],
    noEnv,
    noFile,
  ).config;
  assertEquals(ok.seeds, ["127.0.0.1:7401", "host-b:7402"]);
  assertEquals(ok.roles, ["worker", "coordinator"]);
  assertStrictEquals(ok.nodeId, "n-2");
  const cases: [string[], RegExp][] = [
    [["--cluster-port", "7400", "--cluster-secret", secret], /^storage: a cluster needs shared storage/],
    [["--database-url", url, "--cluster-port", "7400"], /^cluster-secret: /],
    [["--database-url", url, "--seeds", "a:1", "--cluster-secret", secret], /^cluster-port: /],
    [["--seeds", "nohost"], /--seeds: not host:port: "nohost"/],
    [["--seeds", "a:99999"], /--seeds: not host:port/],
    [["--roles", "worker,boss"], /--roles: unknown role "boss"/],
    [["--roles", "api-gateway"], /^roles: a standalone node needs the worker role/],
    [["--cluster-secret", "short"], /--cluster-secret: must be at least 16 characters/],
    [["--node-id", "a b"], /--node-id: must be 1 to 64/],
    [["--shards", "0"], /--shards: must be an integer from 1 to 65536/],
    [["--shards", "65537"], /--shards/],
    [
      ["--database-url", url, "--cluster-port", "7400", "--cluster-secret", secret, "--roles", "api-gateway"],
      /^roles: the first member \(no --seeds\) needs the worker role/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const err = configError(() => loadConfig(args, noEnv, noFile));
    assertMatch(err.problems[0], pattern);
    assert(err.problems.every((line) => !line.includes("\n")));
  }
});

Deno.test("config: --broker declares broker connections (repeatable, a Kafka list kept whole); bad ones are one line", () => {
  const { config } = loadConfig(
    ["--broker", "events=kafka://k1:9092,k2:9092", "--broker", "default=amqp://guest:guest@127.0.0.1:5672"],
    noEnv,
    noFile,
  );
  assertEquals(config.brokers, {
    events: "kafka://k1:9092,k2:9092",
    default: "amqp://guest:guest@127.0.0.1:5672",
  });
  const fromEnv = loadConfig(
    [],
    (n) => n === "ENGINE_BROKERS" ? "a=nats://127.0.0.1:4222,b=redis://h:6379" : undefined,
    noFile,
  );
  assertEquals(fromEnv.config.brokers, { a: "nats://127.0.0.1:4222", b: "redis://h:6379" });
  for (const bad of ["x=http://h:1", "x=kafka://h", "=nats://h:1", "x=amqp://u:hunter2@"]) {
    const err = configError(() => loadConfig(["--broker", bad], noEnv, noFile));
    assertMatch(err.message, /--broker/);
    assert(!err.message.includes("hunter2"), err.message);
  }
});

Deno.test("config: connection and broker errors never show a URL, a password, or a piece of one", () => {
  const file = (json: unknown) => () => JSON.stringify(json);
  const cases: [string[], (path: string) => string][] = [
    [["--config", "c.json"], file({ brokers: { default: "amqp://u:hunter2@h:5672" } })],
    [["--config", "c.json"], file({ sqlConnections: { main: "postgres://u:hunter2@h/db" } })],
    [["--config", "c.json"], file({ databaseUrl: { url: "postgres://u:hunter2@h/db" } })],
    // A comma inside a secret splits the entry: the piece after it is no name to show.
    [["--broker", "a=nats://to,hunter2=x@h"], noFile],
    [["--sql-connection", "main=postgres://h/db?password=a,hunter2=c"], noFile],
    [["--database-url", "postgres//u:p/hunter2@h"], noFile],
  ];
  for (const [args, read] of cases) {
    const err = configError(() => loadConfig(args, noEnv, read));
    assert(!err.message.includes("hunter2"), err.message);
    assert(!["@h", "://u", "://h", "://to"].some((s) => err.message.includes(s)), err.message); // nor a URL
    assert(!err.message.includes("\n"), err.message);
  }
  // A list in the config file keeps each entry whole, commas and all.
  const { config } = loadConfig(
    ["--config", "c.json"],
    noEnv,
    file({ brokers: ["a=amqp://u:pa,b=c@h:5672/", "k=kafka://k1:9092,k2:9092"] }),
  );
  assertEquals(config.brokers, { a: "amqp://u:pa,b=c@h:5672/", k: "kafka://k1:9092,k2:9092" });
});
