/**
 * Profiles and the validator: `--profile dev|prod` (and `ENGINE_PROFILE`) read `config/<name>.json`; prod
 * refuses each unsafe setting with one line; every problem is reported at once; every default `--help`
 * prints parses back to itself; `ENGINE_CONFIG` and `ENGINE_PROFILE` are listed.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ConfigError, DEFAULT_CONFIG, defaultText, loadConfig, PROFILES, SETTINGS, usage } from "./config.ts";

const noEnv = () => undefined;
const noFile = (path: string): string => {
  throw new Error(`no file ${path}`);
};

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert(err instanceof ConfigError, String(err));
    return err.problems;
  }
  throw new Error("expected a ConfigError");
}

const SAFE_PROD = [
  "--storage",
  "sqlite",
  "--api-token",
  "admin:0123456789abcdef0123",
  "--host",
  "127.0.0.1",
];

Deno.test("profiles: each profile's file holds only known settings, and they apply under flags", () => {
  for (const profile of PROFILES) {
    const args = profile === "prod" ? ["--profile", profile, ...SAFE_PROD] : ["--profile", profile];
    const { profile: used } = loadConfig(args, noEnv, noFile);
    assertEquals(used, profile);
    const file = JSON.parse(Deno.readTextFileSync(new URL(`../../config/${profile}.json`, import.meta.url)));
    for (const key of Object.keys(file)) {
      assert(SETTINGS.some((s) => s.key === key), `${profile}: ${key} is a setting`);
    }
  }
  assertEquals(loadConfig(["--profile", "dev"], noEnv, noFile).config.logFormat, "pretty");
  // A flag is above the profile; ENGINE_PROFILE names it too.
  assertEquals(
    loadConfig(["--profile", "dev", "--log-format", "json"], noEnv, noFile).config.logFormat,
    "json",
  );
  const env = (n: string) => (n === "ENGINE_PROFILE" ? "dev" : undefined);
  assertEquals(loadConfig([], env, noFile).profile, "dev");
  assertEquals(problemsOf(() => loadConfig(["--profile", "staging"], noEnv, noFile)), [
    'profile: must be one of dev, prod, got "staging"',
  ]);
});

Deno.test("profiles: prod refuses every unsafe setting at once, one line each", () => {
  const problems = problemsOf(() =>
    loadConfig(
      ["--profile", "prod", "--storage", "memory", "--host", "0.0.0.0", "--insecure-no-auth"],
      noEnv,
      noFile,
    )
  );
  assertEquals(problems.map((p) => p.split(":")[0]).sort(), [
    "api-token",
    "insecure-no-auth",
    "storage",
    "tls",
  ]);
  assert(problems.every((p) => !p.includes("\n")));
  // A cluster member needs a strong secret; a proxy terminating TLS waives the TLS check.
  const member = problemsOf(() =>
    loadConfig(
      [
        ...SAFE_PROD,
        "--profile",
        "prod",
        "--database-url",
        "postgres://db/x",
        "--storage",
        "postgres",
        "--cluster-port",
        "7400",
        "--cluster-secret",
        "only-sixteen-chr",
      ],
      noEnv,
      noFile,
    )
  );
  assertEquals(member.length, 1);
  assertMatch(member[0], /^cluster-secret: a prod cluster member needs a cluster secret of at least 32/);
  const waived = loadConfig(
    [...SAFE_PROD, "--profile", "prod", "--host", "0.0.0.0", "--allow-plain-http"],
    noEnv,
    noFile,
  );
  assertEquals(waived.config.allowPlainHttp, true);
  // The same settings without the profile start.
  loadConfig(["--storage", "memory"], noEnv, noFile);
});

Deno.test("validator: every problem is reported at once (file, environment and flags)", () => {
  const file = () => JSON.stringify({ port: 80, colour: "blue", shards: "many" });
  const env = (n: string) => (n === "ENGINE_LOG_LEVEL" ? "loud" : undefined);
  const problems = problemsOf(() =>
    loadConfig(["--config", "node.json", "--max-output-records", "-1", "--roles", "boss"], env, file)
  );
  assertEquals(problems.length, 5, problems.join("\n"));
  assert(problems.some((p) => p === 'config file node.json: unknown setting "colour"'), problems.join("\n"));
  assert(problems.some((p) => p.startsWith("config file node.json: shards:")), problems.join("\n"));
  assert(problems.some((p) => p.startsWith("environment ENGINE_LOG_LEVEL:")), problems.join("\n"));
  assert(problems.some((p) => p.startsWith("flag --max-output-records:")), problems.join("\n"));
  assert(problems.some((p) => p.startsWith("flag --roles:")), problems.join("\n"));
});

Deno.test("usage: every default it prints parses back to the default; ENGINE_CONFIG and ENGINE_PROFILE are listed", () => {
  const text = usage();
  assert(text.includes("ENGINE_CONFIG") && text.includes("ENGINE_PROFILE"), text);
  let checked = 0;
  for (const s of SETTINGS) {
    const shown = defaultText(s);
    const line = text.split("\n").find((l) => l.trimStart().startsWith(`${s.flag} `));
    assert(line, `${s.flag} is listed`);
    assert(line.endsWith(`(default ${shown ?? "none"})`), line);
    if (shown === undefined) continue;
    const { config } = loadConfig([`${s.flag}=${shown}`], noEnv, noFile);
    assertEquals(config[s.key], DEFAULT_CONFIG[s.key], `${s.flag} ${shown}`);
    checked++;
  }
  assert(checked >= 20, `${checked} defaults checked`);
});

Deno.test("profiles: deno task serve --profile prod with unsafe settings exits non-zero with one line each", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--profile", "prod", "--storage", "memory", "--port", "0"],
    cwd: new URL("../../", import.meta.url),
    env: { ENGINE_PROFILE: "", ENGINE_API_TOKENS: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
  assertEquals(out.code, 2);
  assertEquals(lines, [
    "config error: storage: prod refuses memory storage (nothing survives a restart); use embedded or postgres",
    "config error: api-token: prod needs API tokens (--api-token ROLE:TOKEN, ENGINE_API_TOKENS)",
  ]);
});

Deno.test("validator: unknown flags, bad values and the profile's rules are all reported together", () => {
  const problems = problemsOf(() =>
    loadConfig(["--bogus", "1", "--port", "x", "--profile", "prod", "--storage", "memory"], noEnv, noFile)
  );
  assertEquals(problems, [
    'unknown flag "--bogus" (see --help)',
    'flag --port: must be an integer from 0 to 65535, got "x"',
    "storage: prod refuses memory storage (nothing survives a restart); use embedded or postgres",
    "api-token: prod needs API tokens (--api-token ROLE:TOKEN, ENGINE_API_TOKENS)",
  ]);
});
