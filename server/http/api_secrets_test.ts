/**
 * Secrets and stored credentials over real HTTP, on a real node over PostgreSQL: unique strings are planted
 * as secrets (`ENGINE_SECRET_<NAME>` through the node's SecretSource) and as inline credentials of
 * definitions (a URL password, an `Authorization` header, an `X-Api-Key` header); workflows use them
 * against a local target that checks it received them, some of them fail with a planted string in their
 * error. Then no response body of any route, no log line and no row of the storage (the definitions'
 * table aside, for the inline ones an admin stored) holds a planted string.
 */
import postgres from "npm:postgres@3.4.9";
import { assert, assertEquals } from "../../testing/assert.ts";
import type { Reply } from "../../testing/http.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import {
  assertApiError,
  chain,
  createWorkflow,
  execute,
  getJson,
  n,
  postJson,
  putJson,
  startTarget,
  type Target,
  withNode,
  withNodeCalling,
} from "../../testing/server.ts";
import { loadSecrets, secretSource } from "../executors/secrets.ts";
import { createLogger } from "../ops/log.ts";
import { type RunningNode, startNode } from "../start.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

const tag = crypto.randomUUID().replaceAll("-", "");
/** The secret's value (inside `ENGINE_SECRET_API_AUTH`). */
const SECRET = `SECRETvalue${tag}`;
/** Inline credentials stored in definitions. */
const INLINE_PW = `INLINEpw${tag}`;
const INLINE_TOKEN = `INLINEtoken${tag}`;
const INLINE_KEY = `INLINEkey${tag}`;
const PLANTED = [SECRET, INLINE_PW, INLINE_TOKEN, INLINE_KEY];

/** A local target: checks the credentials it is sent, echoes or refuses them where asked. */
function credentialTarget(): Target {
  return startTarget((req) => {
    const path = new URL(req.url).pathname;
    const auth = req.headers.get("authorization") ?? "";
    const basic = `Basic ${btoa(`svc:${INLINE_PW}`)}`;
    const ok = () => Response.json({ ok: true });
    switch (path) {
      case "/secret":
        return auth === `Bearer ${SECRET}` ? ok() : new Response("wrong", { status: 403 });
      case "/echo":
        return Response.json({ got: auth });
      case "/reject":
        return new Response(`bad credentials: ${auth}`, { status: 401 });
      case "/basic":
        return auth === basic ? ok() : new Response("wrong", { status: 403 });
      case "/reject-basic":
        return new Response(`denied for ${atob(auth.slice(6))}`, { status: 500 });
      case "/inline":
        return auth === `Bearer ${INLINE_TOKEN}` && req.headers.get("x-api-key") === INLINE_KEY
          ? ok()
          : new Response("wrong", { status: 403 });
    }
    return new Response("no such path", { status: 404 });
  });
}

/** An http node calling `url` (only 127.0.0.1 is granted), feeding a console.log sink. */
function httpWorkflow(id: string, url: unknown, headers: Record<string, unknown> = {}) {
  return chain(
    id,
    n("h", "control/http", { url, headers }, { retry: { maxAttempts: 1 } }),
    n("log", "sink/console.log"),
  );
}

/** What a workflow run is expected to end with: its status and, when it failed, the error's code. */
interface Run {
  id: string;
  status: "completed" | "failed";
  code?: string;
}

async function run(node: RunningNode, bodies: string[], { id, status, code }: Run): Promise<string> {
  const r = await execute(node, id);
  bodies.push(r.text);
  assertEquals([r.status, r.body.status, r.body.error?.code], [200, status, code], `${id}: ${r.text}`);
  return r.body.executionId;
}

/** Every GET of the API that shows a workflow or execution, for these workflows and executions. */
async function walkRoutes(
  node: RunningNode,
  executions: Map<string, string[]>,
): Promise<Reply[]> {
  const paths = [
    "/api/v1/workflows",
    "/api/v1/workflows/node-types",
    "/api/v1/events",
    "/api/v1/cluster/stats",
    "/api/v1/audit",
    "/metrics",
  ];
  for (const [id, ids] of executions) {
    const w = encodeURIComponent(id);
    paths.push(
      `/api/v1/workflows/${w}`,
      `/api/v1/workflows/${w}?version=1`,
      `/api/v1/workflows/${w}/status`,
      `/api/v1/workflows/${w}/executions`,
      `/api/v1/cluster/workflow/${w}/location`,
      `/api/history/${w}`,
      `/api/history/${w}/status`,
      `/api/history/${w}/timeline`,
    );
    for (const e of ids) {
      paths.push(
        `/api/v1/executions/${e}`,
        `/api/v1/executions/${e}/events`,
        `/api/v1/executions/${e}/nodes/h/output`,
        `/api/v1/executions/${e}/nodes/log/output`,
        `/api/v1/workflows/${w}/executions/${e}/logs`,
        `/api/history/${w}/execution/${e}`,
      );
    }
  }
  const replies: Reply[] = [];
  for (const path of paths) {
    const r = await getJson(node, path);
    assert(r.status < 500, `${path}: ${r.status} ${r.text}`);
    replies.push(r);
  }
  return replies;
}

/** Every row of every table of the node's database, as JSON text, by table. */
async function storedRows(databaseUrl: string): Promise<Map<string, string>> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const tables = await sql<{ name: string }[]>`
      select table_name as name from information_schema.tables where table_schema = 'public'`;
    const rows = new Map<string, string>();
    for (const { name } of tables) {
      const all = await sql.unsafe(`select to_jsonb(t)::text as row from "${name}" t`);
      rows.set(name, all.map((r) => r.row).join("\n"));
    }
    return rows;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

function assertNonePlanted(text: string, where: string): void {
  for (const planted of PLANTED) assert(!text.includes(planted), `${where} holds a planted string: ${text}`);
}

/** Creates and runs every workflow of the test; returns the response bodies seen and the executions. */
async function useSecrets(node: RunningNode, target: Target) {
  const bodies: string[] = [];
  const executions = new Map<string, string[]>();
  const ref = (name: string) => ({ $secret: name });
  const runs: [Record<string, unknown> & { id: string }, Run][] = [
    [httpWorkflow("secret-ok", `${target.url}/secret`, { Authorization: ref("API_AUTH") }), {
      id: "secret-ok",
      status: "completed",
    }],
    [httpWorkflow("secret-echo", `${target.url}/echo`, { Authorization: ref("API_AUTH") }), {
      id: "secret-echo",
      status: "completed",
    }],
    [httpWorkflow("secret-rejected", `${target.url}/reject`, { Authorization: ref("API_AUTH") }), {
      id: "secret-rejected",
      status: "failed",
      code: "http_status",
    }],
    [httpWorkflow("secret-bad-url", ref("BAD_URL")), {
      id: "secret-bad-url",
      status: "failed",
      code: "http_url_invalid",
    }],
    [httpWorkflow("secret-missing", `${target.url}/secret`, { Authorization: ref("NOT_CONFIGURED") }), {
      id: "secret-missing",
      status: "failed",
      code: "secret_not_found",
    }],
    [httpWorkflow("inline-url", target.url.replace("http://", `http://svc:${INLINE_PW}@`) + "/basic"), {
      id: "inline-url",
      status: "completed",
    }],
    [
      httpWorkflow(
        "inline-rejected",
        target.url.replace("http://", `http://svc:${INLINE_PW}@`) + "/reject-basic",
      ),
      {
        id: "inline-rejected",
        status: "failed",
        code: "http_status",
      },
    ],
    [
      httpWorkflow("inline-header", `${target.url}/inline`, {
        Authorization: `Bearer ${INLINE_TOKEN}`,
        "X-Api-Key": INLINE_KEY,
      }),
      { id: "inline-header", status: "completed" },
    ],
  ];
  for (const [definition, expected] of runs) {
    bodies.push((await createWorkflow(node, definition)).text);
    executions.set(expected.id, [await run(node, bodies, expected)]);
  }
  return { bodies, executions };
}

pgTest(
  "secrets: no route, log line or stored event holds a planted secret or inline credential",
  async () => {
    await withTempDatabase(async (databaseUrl) => {
      const lines: string[] = [];
      const log = createLogger({ level: "debug", format: "json", write: (line) => lines.push(line) });
      const secrets = loadSecrets({
        env: { ENGINE_SECRET_API_AUTH: `Bearer ${SECRET}`, ENGINE_SECRET_BAD_URL: `not a url ${SECRET}` },
      });
      const target = credentialTarget();
      const node = await startNode(
        {
          port: 0,
          host: "127.0.0.1",
          storage: "postgres",
          databaseUrl,
          httpAllow: ["127.0.0.1"],
          logLevel: "debug",
        },
        { log, secrets },
      );
      try {
        const { bodies, executions } = await useSecrets(node, target);
        assert(target.seen.some((s) => s.path === "/secret"), "the target was called with the secret");

        // Errors: the planted strings became ***.
        const rejected = await getJson(node, `/api/v1/executions/${executions.get("secret-rejected")![0]}`);
        assertEquals(
          rejected.body.error.message,
          `GET ${target.url}/reject answered 401: bad credentials: ***`,
        );
        const badUrl = await getJson(node, `/api/v1/executions/${executions.get("secret-bad-url")![0]}`);
        assertEquals(badUrl.body.error.message, "not a URL: ***");
        const missing = await getJson(node, `/api/v1/executions/${executions.get("secret-missing")![0]}`);
        assert(missing.body.error.message.includes("NOT_CONFIGURED"), missing.text);
        assertEquals(missing.body.nodes[0].attempts, 1, "not retried");
        const inline = await getJson(node, `/api/v1/executions/${executions.get("inline-rejected")![0]}`);
        assert(inline.body.error.message.endsWith("denied for svc:***"), inline.text);
        const echoed = await getJson(
          node,
          `/api/v1/executions/${executions.get("secret-echo")![0]}/nodes/h/output`,
        );
        assertEquals(echoed.body.records[0].body, { got: "***" }, "the output is scrubbed too");

        // Definitions: inline credentials shown as ***, secret references as they are.
        const shown = (await getJson(node, "/api/v1/workflows/inline-header")).body;
        assertEquals(shown.nodes[0].config.headers, { Authorization: "***", "X-Api-Key": "***" });
        const shownUrl = (await getJson(node, "/api/v1/workflows/inline-url")).body.nodes[0].config.url;
        assertEquals(shownUrl, target.url.replace("http://", "http://svc:***@") + "/basic");
        const shownRef = (await getJson(node, "/api/v1/workflows/secret-ok")).body.nodes[0].config.headers;
        assertEquals(shownRef, { Authorization: { $secret: "API_AUTH" } });

        // *** sent back keeps the stored value: unchanged as it is; a new version with an edit still works.
        assertEquals(
          (await putJson(node, "/api/v1/workflows/inline-header", shown)).body.message,
          "workflow unchanged",
        );
        shown.nodes[0].label = "edited";
        const updated = await putJson(node, "/api/v1/workflows/inline-header", shown);
        assertEquals([updated.status, updated.body.version], [200, 2], updated.text);
        executions.get("inline-header")!.push(
          await run(node, bodies, { id: "inline-header", status: "completed" }),
        );
        const urlBack = (await getJson(node, "/api/v1/workflows/inline-url")).body;
        urlBack.nodes[0].config.url = urlBack.nodes[0].config.url.replace("/basic", "/basic?v=2");
        assertEquals((await putJson(node, "/api/v1/workflows/inline-url", urlBack)).status, 200);
        executions.get("inline-url")!.push(
          await run(node, bodies, { id: "inline-url", status: "completed" }),
        );

        // A refused definition does not echo a credential it holds.
        const bad = httpWorkflow("bad", `${target.url}/inline`, { Authorization: `Bearer ${INLINE_TOKEN}` });
        (bad.nodes[0].config as Record<string, unknown>).timeoutMs = `Bearer ${INLINE_TOKEN}`;
        const refused = await postJson(node, "/api/v1/workflows", bad);
        assertApiError(refused, 400, "validation_failed");
        bodies.push(refused.text);
        const malformed = await postJson(node, "/api/v1/workflows", httpWorkflow("m", { $secret: 5 }));
        assertApiError(malformed, 400, "validation_failed");
        assertEquals(malformed.body.error.details[0].path, "$.nodes[0].config.url");

        for (const r of await walkRoutes(node, executions)) bodies.push(r.text);
        bodies.forEach((text, i) => assertNonePlanted(text, `response ${i}`));
      } finally {
        await node.close();
        await target.close();
      }
      const logged = lines.map((l) => JSON.parse(l).msg as string);
      assert(logged.some((m) => m.includes('"got":"***"')), "the console.log sink's lines were captured");
      lines.forEach((line, i) => assertNonePlanted(line, `log line ${i}`));

      const rows = await storedRows(databaseUrl);
      assert(
        (rows.get("workflows") ?? "").includes(INLINE_TOKEN),
        "the definitions keep what an admin stored",
      );
      assert(
        [...rows.values()].some((t) => t.includes("bad credentials: ***")),
        "the scrubbed error is stored",
      );
      for (const [table, text] of rows) {
        assert(!text.includes(SECRET), `${table} holds the secret's value`);
        if (table !== "workflows") assertNonePlanted(text, `table ${table}`);
      }
    });
  },
);

Deno.test("secrets: a secret URL shows in no error, event, view or log line, not even normalised", async () => {
  const segment = `HOOKtok${tag}`;
  // Answers 404, echoing the path it was asked for, as many servers do.
  const target = startTarget((req) =>
    new Response(`Cannot GET ${new URL(req.url).pathname}`, { status: 404 })
  );
  // Written so that the URL parser changes it: scheme case, a dot segment, a query, a fragment.
  const hook = `${target.url.replace("http://", "HTTP://")}/api/./webhooks/123/${segment}?wait=true#top`;
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format: "json", write: (line) => lines.push(line) });
  try {
    await withNodeCalling(target, async (node) => {
      const created = await createWorkflow(node, httpWorkflow("hook", { $secret: "HOOK" }));
      assertEquals(created.status, 201, created.text);
      const bodies: string[] = [created.text];
      const id = await run(node, bodies, { id: "hook", status: "failed", code: "http_status" });
      assertEquals(
        target.seen.map((s) => s.path),
        [`/api/webhooks/123/${segment}`],
        "the secret URL was called",
      );
      const view = await getJson(node, `/api/v1/executions/${id}`);
      assertEquals(view.body.error.message, "GET *** answered 404: Cannot GET ***");
      for (const r of await walkRoutes(node, new Map([["hook", [id]]]))) bodies.push(r.text);
      bodies.forEach((text, i) =>
        assert(!text.includes(segment), `response ${i} shows the secret URL: ${text}`)
      );
    }, { log, secrets: secretSource({ HOOK: hook }) });
  } finally {
    await target.close();
  }
  assert(lines.length > 0, "log lines were captured");
  lines.forEach((line, i) => assert(!line.includes(segment), `log line ${i} shows the secret URL: ${line}`));
});

Deno.test("secrets: *** on PUT keeps a stored credential only while its node sends it where it did", async () => {
  await withNode(
    async (node) => {
      const definition = chain(
        "moves",
        n("q", "source/sql.query", {
          sql: "select 1",
          connectionUrl: `postgres://app:${INLINE_PW}@db.internal/app`,
        }),
        n("h", "control/http", {
          url: "https://api.example/v1",
          headers: { Authorization: `Bearer ${INLINE_TOKEN}` },
        }),
        n("log", "sink/console.log"),
      );
      const created = await createWorkflow(node, definition);
      assertEquals(created.status, 201, created.text);
      const bodies: string[] = [];
      const shown = async () => {
        const r = await getJson(node, "/api/v1/workflows/moves");
        bodies.push(r.text);
        return r;
      };
      const put = async (edit: (d: Loose) => void) => {
        const d = (await shown()).body;
        edit(d);
        const r = await putJson(node, "/api/v1/workflows/moves", d);
        bodies.push(r.text);
        return r;
      };
      const refusals: [(d: Loose) => void, string][] = [
        [
          (d) => d.nodes[1].config.url = "https://attacker.example/hook",
          "$.nodes[1].config.headers.Authorization",
        ],
        [
          (d) => d.nodes[1].config.url = "https://api.example:8443/v1",
          "$.nodes[1].config.headers.Authorization",
        ],
        [
          (d) => d.nodes[0].config.connectionUrl = "postgres://app:***@attacker.example/db",
          "$.nodes[0].config.connectionUrl",
        ],
        [
          (d) => d.nodes[0].config.connectionUrl = "postgres://root:***@db.internal/app",
          "$.nodes[0].config.connectionUrl",
        ],
      ];
      for (const [edit, path] of refusals) {
        const refused = await put(edit);
        assertApiError(refused, 400, "validation_failed");
        assertEquals(
          refused.body.error.details.map((p: { path: string; code: string }) => [p.path, p.code]),
          [
            [path, "credential_required"],
          ],
        );
      }
      assertEquals((await shown()).headers.get("x-workflow-version"), "1", "nothing was stored");

      // The same targets (another path, another database) keep the stored credentials.
      const kept = await put((d) => {
        d.nodes[1].config.url = "https://API.example/v2";
        d.nodes[0].config.connectionUrl = "postgres://app:***@db.internal/app2";
      });
      assertEquals([kept.status, kept.body.version], [200, 2], kept.text);
      // A move with the credential sent again is stored as sent.
      const resent = await put((d) => {
        d.nodes[1].config.url = "https://other.example/v1";
        d.nodes[1].config.headers.Authorization = "Bearer another-token";
      });
      assertEquals([resent.status, resent.body.version], [200, 3], resent.text);
      const stored = (await node.storage.getWorkflow("moves"))!.definition.nodes as Loose[];
      assertEquals(stored[0].config.connectionUrl, `postgres://app:${INLINE_PW}@db.internal/app2`);
      assertEquals(stored[1].config.headers.Authorization, "Bearer another-token");
      bodies.forEach((text, i) => assertNonePlanted(text, `response ${i}`));
    },
    {},
    { allowInlineConnections: true },
  );
});
