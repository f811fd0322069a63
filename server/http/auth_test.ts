/**
 * API tokens and roles over real HTTP: a node with a token of each role, every route class asked by every
 * role, open probes, /metrics, unknown routes, tokens never served back or logged; configuration of tokens and
 * the refusal to serve a non-loopback host without them (in process and as a real `deno task serve` process).
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { createLogger } from "../ops/log.ts";
import { ConfigError, loadConfig } from "../ops/config.ts";
import { startNode } from "../start.ts";

const TOKENS = {
  viewer: "viewer-token-0123456789abcdef",
  operator: "operator-token-0123456789abcdef",
  admin: "admin-token-0123456789abcdef",
} as const;
type Who = keyof typeof TOKENS | "none" | "unknown";

const WORKFLOW = {
  id: "auth-wf",
  name: "auth",
  nodes: [
    { id: "numbers", type: "source", nodeType: "sequence.numbers", config: { start: 1, end: 3 } },
    { id: "collect", type: "sink", nodeType: "memory.collect", config: {} },
  ],
  edges: [{ source: "numbers", target: "collect" }],
};

async function withNode(
  metricsPublic: boolean,
  fn: (call: (who: Who, method: string, path: string, body?: unknown) => Promise<Response>) => Promise<void>,
  lines: string[] = [],
): Promise<void> {
  const node = await startNode({
    port: 0,
    storage: "memory",
    apiTokens: Object.entries(TOKENS).map(([role, token]) => ({ role: role as keyof typeof TOKENS, token })),
    metricsPublic,
  }, { log: createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) }) });
  const call = (who: Who, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (who === "unknown") headers.authorization = "Bearer not-a-token-of-this-node-000";
    else if (who !== "none") headers.authorization = `Bearer ${TOKENS[who]}`;
    return fetch(`${node.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };
  try {
    await fn(call);
  } finally {
    await node.close();
  }
}

/** The status of a call, its body read (and checked to carry no token). */
async function statusOf(res: Response): Promise<number> {
  const text = await res.text();
  for (const token of Object.values(TOKENS)) assert(!text.includes(token), "a token is never served back");
  return res.status;
}

Deno.test("auth: without a known token every /api route is 401 unauthenticated; probes stay open", async () => {
  await withNode(false, async (call) => {
    for (const who of ["none", "unknown"] as const) {
      const res = await call(who, "GET", "/api/v1/workflows");
      assertEquals(res.status, 401);
      assertEquals(res.headers.get("www-authenticate"), 'Bearer realm="flowmesh"');
      const body = await res.json();
      assertEquals(body.error.code, "unauthenticated");
      assertEquals(body.error.details[0].path, "headers.Authorization");
      assertEquals(await statusOf(await call(who, "POST", "/api/v1/workflows", WORKFLOW)), 401);
      // An unknown route is not revealed to an unknown caller.
      assertEquals(await statusOf(await call(who, "GET", "/api/v1/no-such-route")), 401);
    }
    const basic = await fetch(
      (await call("none", "GET", "/health")).url.replace("/health", "/api/v1/workflows"),
      {
        headers: { authorization: `Basic ${btoa(`admin:${TOKENS.admin}`)}` },
      },
    );
    assertEquals(await statusOf(basic), 401);
    for (const probe of ["/health", "/health/live", "/health/ready"]) {
      assertEquals(await statusOf(await call("none", "GET", probe)), 200, probe);
    }
    assertEquals(await statusOf(await call("viewer", "GET", "/api/v1/no-such-route")), 404);
  });
});

Deno.test("auth: viewer reads, operator runs and steers, admin changes workflows", async () => {
  await withNode(false, async (call) => {
    // Workflow changes: admin only.
    assertEquals(await statusOf(await call("viewer", "POST", "/api/v1/workflows", WORKFLOW)), 403);
    const refused = await call("operator", "POST", "/api/v1/workflows", WORKFLOW);
    assertEquals(refused.status, 403);
    const body = await refused.json();
    assertEquals(body.error.code, "forbidden");
    assertMatch(body.error.message, /admin/);
    assertEquals(await statusOf(await call("admin", "POST", "/api/v1/workflows", WORKFLOW)), 201);
    assertEquals(await statusOf(await call("operator", "PUT", "/api/v1/workflows/auth-wf", WORKFLOW)), 403);
    // Reads: every role.
    for (const who of ["viewer", "operator", "admin"] as const) {
      assertEquals(await statusOf(await call(who, "GET", "/api/v1/workflows/auth-wf")), 200, who);
      assertEquals(await statusOf(await call(who, "GET", "/api/v1/workflows/node-types")), 200, who);
    }
    // Running and steering: operator and admin, not viewer.
    assertEquals(await statusOf(await call("viewer", "POST", "/api/v1/workflows/auth-wf/execute", {})), 403);
    const run = await call("operator", "POST", "/api/v1/workflows/auth-wf/execute?wait=5000", {});
    assertEquals(run.status, 200);
    const { executionId, status } = await run.json();
    assertEquals(status, "completed");
    assertEquals(await statusOf(await call("viewer", "GET", `/api/v1/executions/${executionId}`)), 200);
    assertEquals(
      await statusOf(await call("viewer", "POST", `/api/v1/executions/${executionId}/cancel`, {})),
      403,
    );
    // The operator may ask; the execution has ended, so the answer is the engine's, not a refusal.
    assertEquals(
      await statusOf(await call("operator", "POST", `/api/v1/executions/${executionId}/cancel`, {})),
      409,
    );
    assertEquals(
      await statusOf(await call("operator", "POST", `/api/v1/executions/${executionId}/signals/go`, {})),
      409,
    );
    assertEquals(await statusOf(await call("admin", "POST", "/api/v1/workflows/auth-wf/execute", {})), 202);
    // Deleting: admin only.
    assertEquals(await statusOf(await call("operator", "DELETE", "/api/v1/workflows/auth-wf")), 403);
    assertEquals(await statusOf(await call("admin", "DELETE", "/api/v1/workflows/auth-wf")), 200);
  });
});

Deno.test("auth: /metrics needs a token unless --metrics-public", async () => {
  await withNode(false, async (call) => {
    assertEquals(await statusOf(await call("none", "GET", "/metrics")), 401);
    assertEquals(await statusOf(await call("viewer", "GET", "/metrics")), 200);
  });
  await withNode(true, async (call) => {
    assertEquals(await statusOf(await call("none", "GET", "/metrics")), 200);
    assertEquals(await statusOf(await call("none", "GET", "/api/v1/workflows")), 401);
  });
});

Deno.test("auth: no log line carries a token, refused or accepted", async () => {
  const lines: string[] = [];
  await withNode(false, async (call) => {
    await statusOf(await call("admin", "POST", "/api/v1/workflows", WORKFLOW));
    await statusOf(await call("viewer", "POST", "/api/v1/workflows/auth-wf/execute", {}));
    await statusOf(await call("unknown", "GET", "/api/v1/workflows"));
  }, lines);
  assert(lines.length > 0, "the node logged");
  for (const line of lines) {
    for (const token of [...Object.values(TOKENS), "not-a-token-of-this-node-000"]) {
      assert(!line.includes(token), `a log line carries a token: ${line}`);
    }
  }
});

const noFile = () => {
  throw new Error("no file");
};

/** The message of the ConfigError `fn` throws. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert(err instanceof ConfigError, String(err));
    return err.message;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("auth config: --api-token is repeatable, ENGINE_API_TOKENS a list; bad entries never echo a token", () => {
  const flags = loadConfig(
    [
      "--api-token",
      `viewer:${TOKENS.viewer}`,
      `--api-token=admin:${TOKENS.admin}`,
    ],
    () => undefined,
    noFile,
  ).config;
  assertEquals(flags.apiTokens, [{ role: "viewer", token: TOKENS.viewer }, {
    role: "admin",
    token: TOKENS.admin,
  }]);
  const env = loadConfig(
    [],
    (n) => n === "ENGINE_API_TOKENS" ? `operator:${TOKENS.operator}, admin:${TOKENS.admin}` : undefined,
    noFile,
  )
    .config;
  assertEquals(env.apiTokens.map((t) => t.role), ["operator", "admin"]);
  const secret = "short-secret";
  const err = configError(() => loadConfig(["--api-token", `admin:${secret}`], () => undefined, noFile));
  assertMatch(err, /^flag --api-token: the admin token of entry 1 must be 16 to 512/);
  assert(!err.includes(secret));
  const role = configError(() =>
    loadConfig(["--api-token", `root:${TOKENS.admin}`], () => undefined, noFile)
  );
  assert(!role.includes(TOKENS.admin));
});

Deno.test("auth config: a non-loopback host without tokens is refused unless --insecure-no-auth", () => {
  const err = configError(() => loadConfig(["--host", "0.0.0.0"], () => undefined, noFile));
  assertMatch(err, /^host: 0\.0\.0\.0 is not a loopback address .*--insecure-no-auth$/);
  assertEquals(
    loadConfig(["--host", "0.0.0.0", "--insecure-no-auth"], () => undefined, noFile).config.host,
    "0.0.0.0",
  );
  assertEquals(
    loadConfig(["--host", "0.0.0.0", "--api-token", `admin:${TOKENS.admin}`], () => undefined, noFile).config
      .apiTokens
      .length,
    1,
  );
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
    assertEquals(loadConfig(["--host", host], () => undefined, noFile).config.host, host);
  }
});

Deno.test("auth: `deno task serve --host 0.0.0.0` without tokens exits 2 with one line, listening on nothing", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", "--host", "0.0.0.0", "--port", "0", "--storage", "memory"],
    cwd: new URL("../..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 2);
  const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
  assertEquals(lines.length, 1, lines.join("\n"));
  assertMatch(lines[0], /^config error: host: 0\.0\.0\.0 is not a loopback address/);
});

Deno.test("auth: each token has its own request rate; over it, 429 rate_limited with Retry-After", async () => {
  const node = await startNode({
    port: 0,
    storage: "memory",
    logLevel: "error",
    rateLimit: 2, // bursts of 4
    apiTokens: [{ role: "viewer", token: TOKENS.viewer }, { role: "admin", token: TOKENS.admin }],
  });
  try {
    const get = (token: string) =>
      fetch(`${node.url}/api/v1/workflows`, { headers: { authorization: `Bearer ${token}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await statusOf(await get(TOKENS.viewer)));
    assertEquals(statuses.slice(0, 4), [200, 200, 200, 200]);
    const limited = await get(TOKENS.viewer);
    assertEquals(limited.status, 429);
    assertEquals((await limited.json()).error.code, "rate_limited");
    assert(Number(limited.headers.get("retry-after")) >= 1, "Retry-After in seconds");
    // Another token is not slowed by the first; probes are never limited.
    assertEquals(await statusOf(await get(TOKENS.admin)), 200);
    for (let i = 0; i < 10; i++) assertEquals(await statusOf(await fetch(`${node.url}/health/live`)), 200);
  } finally {
    await node.close();
  }
});
