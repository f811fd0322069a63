/**
 * Tokens made through the API, over real HTTP: an admin makes one, it works with its role (an operator
 * executes but cannot create workflows), the list never shows it, a revoke refuses it (on this member at once,
 * on another member sharing PostgreSQL within the cache's lifetime), an expired one is refused, non-admins
 * are 403, bad input is 400 with a path, and storage down is 503 for a token configuration does not know.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { type Reply, request } from "../../testing/http.ts";
import { freePort } from "../../testing/net.ts";
import { pgTest, withTempDatabase } from "../../testing/pg.ts";
import { assertApiError, through } from "../../testing/server.ts";
import { waitUntil } from "../../testing/wait.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { StorageUnavailable } from "../../storage/storage.ts";
import { systemClock } from "../runtime/clock.ts";
import { type NodeOverrides, type RunningNode, startNode } from "../start.ts";
import type { EngineConfig } from "../ops/config.ts";

const ADMIN = "admin-token-for-api-tokens-0123456789";
const VIEWER = "viewer-token-for-api-tokens-0123456789";
const OPERATOR = "operator-token-for-api-tokens-0123456789";

/** A node on memory storage with an admin, an operator and a viewer token configured. */
async function withTokenNode(
  fn: (node: RunningNode) => Promise<void>,
  overrides: NodeOverrides = {},
  config: Partial<EngineConfig> = {},
): Promise<void> {
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "memory",
    logLevel: "error",
    apiTokens: [
      { role: "admin", token: ADMIN },
      { role: "operator", token: OPERATOR },
      { role: "viewer", token: VIEWER },
    ],
    ...config,
  }, overrides);
  try {
    await fn(node);
  } finally {
    await node.close();
  }
}

/** A call with `token` as the bearer (none: no header). */
function call(node: { url: string }, token: string | null, method: string, path: string, json?: unknown) {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return request(node, method, path, { json, headers });
}

/** Makes a token as the admin; asserts 201 and returns the reply's body. */
async function makeToken(node: { url: string }, body: Record<string, unknown>) {
  const r = await call(node, ADMIN, "POST", "/api/v1/tokens", body);
  assertStrictEquals(r.status, 201, r.text);
  return r.body as {
    id: string;
    name: string;
    role: string;
    token: string;
    createdAt: number;
    expiresAt: number;
  };
}

/** Asserts a reply is 401 unauthenticated. */
function assert401(r: Reply): void {
  assertApiError(r, 401, "unauthenticated");
}

Deno.test("tokens: an admin makes an operator token; it executes but cannot create workflows; listed without the token; revoked → 401", async () => {
  await withTokenNode(async (node) => {
    const made = await makeToken(node, { role: "operator", name: "ci" });
    assertEquals(Object.keys(made).sort(), ["createdAt", "expiresAt", "id", "name", "role", "token"]);
    assertEquals([made.name, made.role, made.expiresAt], ["ci", "operator", null]);
    assert(/^fm_[A-Za-z0-9_-]{43}$/.test(made.token), made.token);
    assert(/^[0-9a-f]{16}$/.test(made.id), made.id);

    // The new token has the operator's rights: reads, execute; not workflow changes.
    const wf = through("tok-wf", [1, 2, 3]);
    assertStrictEquals((await call(node, ADMIN, "POST", "/api/v1/workflows", wf)).status, 201);
    assertStrictEquals((await call(node, made.token, "GET", "/api/v1/workflows")).status, 200);
    const run = await call(node, made.token, "POST", "/api/v1/workflows/tok-wf/execute?wait=10000", {});
    assertEquals([run.status, run.body.status], [200, "completed"], run.text);
    const create = await call(node, made.token, "POST", "/api/v1/workflows", through("tok-wf-2", [1]));
    assertApiError(create, 403, "forbidden");
    assert(create.text.includes(made.id), "the 403 names the token's id");
    assert(!create.text.includes(made.token), "never the token");
    assertApiError(await call(node, made.token, "GET", "/api/v1/tokens"), 403, "forbidden");

    // The list shows it, never its secret.
    const list = await call(node, ADMIN, "GET", "/api/v1/tokens");
    assertStrictEquals(list.status, 200, list.text);
    assert(!list.text.includes(made.token), "the list never shows a token");
    const listed = list.body.tokens.find((t: { id: string }) => t.id === made.id);
    assertEquals(listed, {
      id: made.id,
      name: "ci",
      role: "operator",
      createdAt: made.createdAt,
      createdBy: adminId(),
      expiresAt: null,
      revokedAt: null,
    });

    // Revoked: refused at once on this member; listed as revoked; a second revoke is still 204.
    const revoke = await call(node, ADMIN, "DELETE", `/api/v1/tokens/${made.id}`);
    assertEquals([revoke.status, revoke.text], [204, ""]);
    assert401(await call(node, made.token, "GET", "/api/v1/workflows"));
    assert401(await call(node, made.token, "POST", "/api/v1/workflows/tok-wf/execute", {}));
    const after = await call(node, ADMIN, "GET", "/api/v1/tokens");
    const revoked = after.body.tokens.find((t: { id: string }) => t.id === made.id);
    assert(typeof revoked.revokedAt === "number", after.text);
    assertStrictEquals((await call(node, ADMIN, "DELETE", `/api/v1/tokens/${made.id}`)).status, 204);
    assertApiError(
      await call(node, ADMIN, "DELETE", "/api/v1/tokens/0000000000000000"),
      404,
      "token_not_found",
    );
  });
});

/** The id of the configured admin token: the first 8 hex digits of its SHA-256 digest. */
function adminId(): string {
  return createHash("sha256").update(ADMIN, "utf8").digest("hex").slice(0, 8);
}

Deno.test("tokens: only an admin makes, lists and revokes tokens; a made admin token may make more", async () => {
  await withTokenNode(async (node) => {
    for (const token of [VIEWER, OPERATOR]) {
      assertApiError(
        await call(node, token, "POST", "/api/v1/tokens", { role: "viewer", name: "x" }),
        403,
        "forbidden",
      );
      assertApiError(await call(node, token, "GET", "/api/v1/tokens"), 403, "forbidden");
      assertApiError(await call(node, token, "DELETE", "/api/v1/tokens/0000000000000000"), 403, "forbidden");
    }
    assert401(await call(node, null, "GET", "/api/v1/tokens"));
    assert401(await call(node, null, "POST", "/api/v1/tokens", { role: "admin", name: "x" }));
    const admin = await makeToken(node, { role: "admin", name: "second admin" });
    const viewer = await call(node, admin.token, "POST", "/api/v1/tokens", {
      role: "viewer",
      name: "grafana",
    });
    assertStrictEquals(viewer.status, 201, viewer.text);
    const list = await call(node, admin.token, "GET", "/api/v1/tokens");
    const made = list.body.tokens.find((t: { id: string }) => t.id === viewer.body.id);
    assertStrictEquals(made.createdBy, admin.id, "created by the made admin token");
    assertEquals(
      list.body.tokens.map((t: { id: string }) => t.id).sort(),
      [viewer.body.id, admin.id].sort(),
      "both listed",
    );
    assertStrictEquals((await call(node, viewer.body.token, "GET", "/api/v1/workflows")).status, 200);
    assertApiError(
      await call(node, viewer.body.token, "DELETE", "/api/v1/workflows/x"),
      403,
      "forbidden",
    );
  });
});

Deno.test("tokens: bad input is 400 validation_failed with the path of the fault", async () => {
  await withTokenNode(async (node) => {
    const cases: [unknown, string][] = [
      [[], "$"],
      ["text", "$"],
      [{ name: "x" }, "$.role"],
      [{ role: "root", name: "x" }, "$.role"],
      [{ role: "viewer" }, "$.name"],
      [{ role: "viewer", name: "" }, "$.name"],
      [{ role: "viewer", name: "   " }, "$.name"],
      [{ role: "viewer", name: "x".repeat(101) }, "$.name"],
      [{ role: "viewer", name: "a\u0000b" }, "$.name"],
      [{ role: "viewer", name: "a\ud800b" }, "$.name"],
      [{ role: "viewer", name: 7 }, "$.name"],
      [{ role: "viewer", name: "x", expiresIn: "30" }, "$.expiresIn"],
      [{ role: "viewer", name: "x", expiresIn: 30 }, "$.expiresIn"],
      [{ role: "viewer", name: "x", expiresIn: "0s" }, "$.expiresIn"],
      [{ role: "viewer", name: "x", expiresIn: "3651d" }, "$.expiresIn"],
      [{ role: "viewer", name: "x", expiresIn: "1w" }, "$.expiresIn"],
      [{ role: "viewer", name: "x", token: "fm_chosen-by-the-caller" }, "$.token"],
    ];
    for (const [body, path] of cases) {
      const r = await call(node, ADMIN, "POST", "/api/v1/tokens", body);
      assertApiError(r, 400, "validation_failed");
      assertStrictEquals(r.body.error.details[0].path, path, `${JSON.stringify(body)}: ${r.text}`);
    }
    const malformed = await request(node, "POST", "/api/v1/tokens", {
      raw: "{not json",
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assertApiError(malformed, 400, "malformed_json");
    assertApiError(await call(node, ADMIN, "DELETE", "/api/v1/tokens/a%00b"), 400, "invalid_parameter");
    const longest = await makeToken(node, { role: "viewer", name: "é".repeat(100), expiresIn: "3650d" });
    assertStrictEquals(longest.expiresAt - longest.createdAt, 3_650 * 86_400_000);
    const { tokens } = (await call(node, ADMIN, "GET", "/api/v1/tokens")).body;
    assertStrictEquals(tokens.length, 1, "no refused request stored a token");
  });
});

Deno.test("tokens: an expired token is refused", async () => {
  let offsetMs = 0;
  const clock = { ...systemClock, now: () => Date.now() + offsetMs };
  await withTokenNode(async (node) => {
    const made = await makeToken(node, { role: "viewer", name: "short", expiresIn: "1h" });
    assertStrictEquals(made.expiresAt, made.createdAt + 3_600_000);
    assertStrictEquals((await call(node, made.token, "GET", "/api/v1/workflows")).status, 200);
    offsetMs = 3_600_000; // the node's clock reaches the expiry
    assert401(await call(node, made.token, "GET", "/api/v1/workflows"));
    const listed = (await call(node, ADMIN, "GET", "/api/v1/tokens")).body.tokens[0];
    assertEquals([listed.id, listed.expiresAt, listed.revokedAt], [made.id, made.expiresAt, null]);
  }, { clock });
});

Deno.test("tokens: storage down is 503 for a token configuration does not know; configured tokens still pass", async () => {
  const storage = new (class extends MemoryStorage {
    down = false;
    override findApiToken(digest: string) {
      return this.down
        ? Promise.reject(new StorageUnavailable("down for the test"))
        : super.findApiToken(digest);
    }
  })();
  await withTokenNode(async (node) => {
    const made = await makeToken(node, { role: "viewer", name: "while up" });
    storage.down = true;
    const unknown = await call(node, `fm_${"A".repeat(43)}`, "GET", "/api/v1/workflows");
    assertApiError(unknown, 503, "storage_unavailable");
    assertStrictEquals(unknown.headers.get("retry-after"), "1");
    // A token of another shape is not one made through the API: 401 without asking storage.
    assert401(await call(node, "not-a-token-of-this-node-000", "GET", "/api/v1/workflows"));
    assertStrictEquals((await call(node, ADMIN, "GET", "/api/v1/workflows")).status, 200);
    storage.down = false;
    assertStrictEquals((await call(node, made.token, "GET", "/api/v1/workflows")).status, 200);
  }, { storage });
});

Deno.test("tokens: a node without configured tokens serves the routes to everyone (loopback), createdBy null", async () => {
  const node = await startNode({ port: 0, host: "127.0.0.1", storage: "memory", logLevel: "error" });
  try {
    const r = await call(node, null, "POST", "/api/v1/tokens", { role: "viewer", name: "local" });
    assertStrictEquals(r.status, 201, r.text);
    const list = await call(node, null, "GET", "/api/v1/tokens");
    assertStrictEquals(list.body.tokens[0].createdBy, null);
    assert(!list.text.includes(r.body.token));
  } finally {
    await node.close();
  }
});

/** Member `id` of a two-member cluster on `databaseUrl`, with the admin token configured. */
function member(id: string, databaseUrl: string): Promise<RunningNode> {
  return startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "postgres",
    databaseUrl,
    nodeId: id,
    clusterPort: freePort(),
    clusterSecret: "api-tokens-test-cluster-secret",
    shards: 8,
    logLevel: "error",
    apiTokens: [{ role: "admin", token: ADMIN }],
  });
}

pgTest(
  "tokens: a token revoked through member a is refused by member b (shared PostgreSQL) within the cache bound",
  async () => {
    await withTempDatabase(async (url) => {
      const a = await member("a", url);
      let b: RunningNode | undefined;
      try {
        b = await member("b", url);
        const made = await makeToken(a, { role: "operator", name: "cluster" });
        await waitUntil(
          "b knows the token",
          async () => (await call(b!, made.token, "GET", "/api/v1/workflows")).status === 200,
          10_000,
        );
        const revoke = await call(a, ADMIN, "DELETE", `/api/v1/tokens/${made.id}`);
        assertStrictEquals(revoke.status, 204, revoke.text);
        assert401(await call(a, made.token, "GET", "/api/v1/workflows"));
        await waitUntil(
          "b refuses the revoked token",
          async () => {
            const r = await call(b!, made.token, "GET", "/api/v1/workflows");
            assert(r.status === 200 || r.status === 401, r.text);
            return r.status === 401;
          },
          10_000,
          50,
        );
        // The revoke is in the audit log both members read.
        await waitUntil("b lists a's revoke in the audit log", async () => {
          const { events } = (await call(b!, ADMIN, "GET", "/api/v1/audit?limit=1000")).body;
          return events.some((e: { node: string; route: string; status: number }) =>
            e.node === "a" && e.route === "/api/v1/tokens/:id" && e.status === 204
          );
        });
        // Listed the same on both members.
        const listA = (await call(a, ADMIN, "GET", "/api/v1/tokens")).body;
        const listB = (await call(b, ADMIN, "GET", "/api/v1/tokens")).body;
        assertEquals(listA, listB);
        assert(!JSON.stringify(listB).includes(made.token));
      } finally {
        await b?.close();
        await a.close();
      }
    });
  },
);
