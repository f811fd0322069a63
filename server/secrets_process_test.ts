/**
 * Secrets on a real `deno run server/main.ts` process: `ENGINE_SECRET_<NAME>` variables and `--secrets-file`
 * reach the http node's `{"$secret": "NAME"}` headers; a bad secrets file or variable stops the process at
 * start with exit code 2 and one line naming it, never the value.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { freePort } from "../testing/net.ts";
import { call, spawnServer } from "../testing/process.ts";
import { startTarget } from "../testing/server.ts";

const ROOT = new URL("..", import.meta.url);
const VALUE = `v${crypto.randomUUID().replaceAll("-", "")}`;

const dir = await Deno.makeTempDir({ prefix: "flowmesh-secrets-process-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

Deno.test("secrets process: the environment's and the file's secrets reach the http node", async () => {
  const target = startTarget((req) =>
    req.headers.get("authorization") === `Bearer env-${VALUE}` &&
      req.headers.get("x-api-key") === `file-${VALUE}`
      ? Response.json({ ok: true })
      : new Response("wrong", { status: 403 })
  );
  const file = `${dir}/secrets.json`;
  await Deno.writeTextFile(file, JSON.stringify({ FILE_KEY: `file-${VALUE}`, ENV_TOKEN: "overridden" }));
  // The child inherits the environment at spawn: set the variable only around it.
  Deno.env.set("ENGINE_SECRET_ENV_TOKEN", `Bearer env-${VALUE}`);
  const server = (() => {
    try {
      return spawnServer(freePort(), [
        ...["--storage", "memory", "--data-dir", dir, "--log-format", "json"],
        ...["--http-allow", "127.0.0.1", "--secrets-file", file],
      ]);
    } finally {
      Deno.env.delete("ENGINE_SECRET_ENV_TOKEN");
    }
  })();
  try {
    await server.waitReady(30_000);
    const workflow = {
      id: "with-secrets",
      name: "with secrets",
      nodes: [{
        id: "h",
        type: "control",
        nodeType: "http",
        config: {
          url: `${target.url}/x`,
          headers: { Authorization: { $secret: "ENV_TOKEN" }, "X-Api-Key": { $secret: "FILE_KEY" } },
        },
      }],
      edges: [],
    };
    assertEquals((await call(server, "POST", "/api/v1/workflows", { json: workflow })).status, 201);
    const run = await call(server, "POST", "/api/v1/workflows/with-secrets/execute?wait=10000", { json: {} });
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);
    assertEquals(target.seen.length, 1);
    assert(!server.output.includes(VALUE), `no secret in the process's output:\n${server.output}`);
  } finally {
    await server.close();
    await target.close();
  }
});

/** Runs `server/main.ts` with `args` and extra environment to its exit; returns its code and stderr lines. */
async function runMain(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--port", "0", "--storage", "memory", "--data-dir", dir, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  return { code: out.code, lines: text.trim().split("\n"), text };
}

Deno.test("secrets process: a bad secrets file or variable exits 2 with one line, never the value", async () => {
  const notJson = `${dir}/not-json.json`;
  await Deno.writeTextFile(notJson, `{"TOKEN": ${VALUE}}`);
  const notStrings = `${dir}/not-strings.json`;
  await Deno.writeTextFile(notStrings, JSON.stringify({ TOKEN: [VALUE] }));
  const badName = `${dir}/bad-name.json`;
  await Deno.writeTextFile(badName, JSON.stringify({ "api token": VALUE }));
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--secrets-file", `${dir}/nowhere.json`],
      {},
      /^config error: secrets file .*nowhere\.json: cannot be read/,
    ],
    [["--secrets-file", notJson], {}, /^config error: secrets file .*not-json\.json: not valid JSON$/],
    [
      ["--secrets-file", notStrings],
      {},
      /^config error: secrets file .*: secret TOKEN must be a non-empty string/,
    ],
    [["--secrets-file", badName], {}, /^config error: secrets file .*: secret name "api token" must be/],
    [
      [],
      { ENGINE_SECRET_lower: VALUE },
      /^config error: environment ENGINE_SECRET_lower: secret name "lower"/,
    ],
  ];
  const results = await Promise.all(cases.map(([args, env]) => runMain(args, env)));
  results.forEach(({ code, lines, text }, i) => {
    assertEquals({ code, lines: lines.length }, { code: 2, lines: 1 }, text);
    assert(cases[i][2].test(lines[0]), lines[0]);
    assert(!text.includes(VALUE), `the value is never printed: ${text}`);
  });
});
