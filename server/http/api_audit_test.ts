/**
 * The audit log over real HTTP: a sequence of calls (allowed, 401, 403, 404, a token made and used) appears
 * in `GET /api/v1/audit` newest first with the right token id, role, route, status and outcome, one `audit`
 * log line each; calls without a known token are logged and counted but never stored (a flood of them
 * pushes no real event out), while a node without auth stores every call; reads are not recorded; no token
 * appears in the audit body or any log line; paging, limits and admin-only access; a failed append is logged
 * and counted in a metric.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals, assertStrictEquals } from "../../testing/assert.ts";
import { request } from "../../testing/http.ts";
import { assertApiError, through } from "../../testing/server.ts";
import { waitUntil } from "../../testing/wait.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { type AuditEvent, StorageUnavailable } from "../../storage/storage.ts";
import { createLogger } from "../ops/log.ts";
import { silentLogger } from "../runtime/logger.ts";
import { type NodeOverrides, type RunningNode, startNode } from "../start.ts";

const ADMIN = "admin-token-for-audit-tests-0123456789";
const VIEWER = "viewer-token-for-audit-tests-0123456789";
const TOKENS = [ADMIN, VIEWER];

/** The id of a configured token: the first 8 hex digits of its SHA-256 digest. */
const idOf = (token: string) => createHash("sha256").update(token, "utf8").digest("hex").slice(0, 8);

/** A node with an admin and a viewer token, its log lines (info and up) kept in `lines`. */
async function withAuditNode(
  fn: (node: RunningNode, lines: string[]) => Promise<void>,
  overrides: NodeOverrides = {},
): Promise<void> {
  const lines: string[] = [];
  const node = await startNode({
    port: 0,
    host: "127.0.0.1",
    storage: "memory",
    nodeId: "audit-node",
    apiTokens: [{ role: "admin", token: ADMIN }, { role: "viewer", token: VIEWER }],
  }, {
    log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }, { node: "audit-node" }),
    ...overrides,
  });
  try {
    await fn(node, lines);
  } finally {
    await node.close();
  }
}

/** A call with `token` as the bearer (none: no header). */
function call(
  node: { url: string },
  token: string | null,
  method: string,
  path: string,
  json?: unknown,
  headers: Record<string, string> = {},
) {
  const auth: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return request(node, method, path, { json, headers: { ...auth, ...headers } });
}

/** The newest 1,000 audit events, once there are at least `n` (the appends run in the background). */
async function auditEvents(node: { url: string }, n: number): Promise<AuditEvent[]> {
  let events: AuditEvent[] = [];
  await waitUntil(`${n} audit events`, async () => {
    const r = await call(node, ADMIN, "GET", "/api/v1/audit?limit=1000");
    assertStrictEquals(r.status, 200, r.text);
    events = r.body.events;
    return events.length >= n;
  });
  return events;
}

/** The fields a test can predict of an event. */
const shape = (
  e: AuditEvent,
) => [e.method, e.route, e.path, e.status, e.outcome, e.tokenId, e.role, e.requestId];

Deno.test("audit: state-changing calls of known callers, refused ones included, are listed newest first with token id, role, route and outcome", async () => {
  await withAuditNode(async (node, lines) => {
    const t0 = Date.now();
    const wf = through("audit-wf", [1, 2]);
    assertStrictEquals(
      (await call(node, ADMIN, "POST", "/api/v1/workflows", wf, { "x-request-id": "req-1" })).status,
      201,
    );
    assertStrictEquals((await call(node, VIEWER, "DELETE", "/api/v1/workflows/audit-wf")).status, 403);
    assertStrictEquals(
      (await call(node, null, "POST", "/api/v1/workflows/audit-wf/execute", {})).status,
      401,
    );
    assertStrictEquals(
      (await call(node, "wrong-token-0123456789abc", "PUT", "/api/v1/workflows/x", {})).status,
      401,
    );
    assertStrictEquals((await call(node, ADMIN, "GET", "/api/v1/workflows")).status, 200); // a read: not recorded
    const made = await call(node, ADMIN, "POST", "/api/v1/tokens", { role: "operator", name: "audited" });
    assertStrictEquals(made.status, 201, made.text);
    const { id: madeId, token: madeToken } = made.body;
    const run = await call(node, madeToken, "POST", "/api/v1/workflows/audit-wf/execute?wait=10000", {});
    assertStrictEquals(run.status, 200, run.text);
    assertStrictEquals((await call(node, madeToken, "POST", "/api/v1/workflows", wf)).status, 403);
    assertStrictEquals((await call(node, ADMIN, "DELETE", "/api/v1/workflows/no-such-wf")).status, 404);
    assertStrictEquals((await call(node, ADMIN, "POST", "/api/v1/no-such-route", {})).status, 404);
    assertStrictEquals((await call(node, ADMIN, "DELETE", `/api/v1/tokens/${madeId}`)).status, 204);
    assertStrictEquals(
      (await call(node, madeToken, "POST", "/api/v1/workflows/audit-wf/execute", {})).status,
      401,
    );

    const admin = idOf(ADMIN), viewer = idOf(VIEWER);
    const expected = [
      [
        "POST",
        "/api/v1/workflows/:id/execute",
        "/api/v1/workflows/audit-wf/execute",
        401,
        "denied",
        null,
        null,
        null,
      ],
      ["DELETE", "/api/v1/tokens/:id", `/api/v1/tokens/${madeId}`, 204, "ok", admin, "admin", null],
      ["POST", "unmatched", "/api/v1/no-such-route", 404, "failed", admin, "admin", null],
      [
        "DELETE",
        "/api/v1/workflows/:id",
        "/api/v1/workflows/no-such-wf",
        404,
        "failed",
        admin,
        "admin",
        null,
      ],
      ["POST", "/api/v1/workflows", "/api/v1/workflows", 403, "denied", madeId, "operator", null],
      [
        "POST",
        "/api/v1/workflows/:id/execute",
        "/api/v1/workflows/audit-wf/execute",
        200,
        "ok",
        madeId,
        "operator",
        null,
      ],
      ["POST", "/api/v1/tokens", "/api/v1/tokens", 201, "ok", admin, "admin", null],
      ["PUT", "/api/v1/workflows/:id", "/api/v1/workflows/x", 401, "denied", null, null, null],
      [
        "POST",
        "/api/v1/workflows/:id/execute",
        "/api/v1/workflows/audit-wf/execute",
        401,
        "denied",
        null,
        null,
        null,
      ],
      [
        "DELETE",
        "/api/v1/workflows/:id",
        "/api/v1/workflows/audit-wf",
        403,
        "denied",
        viewer,
        "viewer",
        null,
      ],
      ["POST", "/api/v1/workflows", "/api/v1/workflows", 201, "ok", admin, "admin", "req-1"],
    ];
    // The 401s (no known caller) are in the log, not in storage.
    const stored = expected.filter((e) => e[3] !== 401);
    const events = await auditEvents(node, stored.length);
    assertEquals(
      events.map(shape),
      stored,
      "every known caller's state-changing call, newest first, no more",
    );
    for (const e of events) {
      assertStrictEquals(e.node, "audit-node");
      assert(e.at >= t0 && e.at <= Date.now(), `a time of this test: ${e.at}`);
    }

    // One `audit` log line per call (written before the call is answered), with the same fields; no token
    // in the audit body or in any log line.
    const auditLines = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "audit");
    assertEquals(
      auditLines.reverse().map((
        l,
      ) => [l.method, l.route, l.path, l.status, l.outcome, l.tokenId, l.role, l.requestId]),
      expected,
    );
    assert(auditLines.every((l) => l.node === "audit-node"));
    const body = JSON.stringify(events);
    for (const secret of [...TOKENS, madeToken]) {
      assert(!body.includes(secret), "no token in the audit log");
      assert(!lines.some((l) => l.includes(secret)), "no token in a log line");
    }
  });
});

/** The value of a metric without labels in a node's `/metrics`. */
async function metric(node: { url: string }, name: string): Promise<number> {
  const r = await call(node, ADMIN, "GET", "/metrics");
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(r.text);
  assert(m !== null, `${name} in /metrics`);
  return Number(m[1]);
}

Deno.test("audit: calls without a known token are logged at info and counted, never stored", async () => {
  await withAuditNode(async (node, lines) => {
    const flood = 200;
    for (let i = 0; i < flood; i++) {
      const token = i % 2 === 0 ? null : `made-up-token-${i}-0123456789`;
      const r = await call(node, token, i % 3 === 0 ? "DELETE" : "POST", `/api/x-${i}`, {});
      assertApiError(r, 401, "unauthenticated");
    }
    assertStrictEquals((await call(node, VIEWER, "DELETE", "/api/v1/workflows/kept")).status, 403);
    const events = await auditEvents(node, 1);
    assertEquals(events.map(shape), [
      [
        "DELETE",
        "/api/v1/workflows/:id",
        "/api/v1/workflows/kept",
        403,
        "denied",
        idOf(VIEWER),
        "viewer",
        null,
      ],
    ], "only the known caller's call is stored");
    assertStrictEquals(await metric(node, "workflow_audit_unauthenticated_total"), flood);
    const audited = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "audit");
    assertStrictEquals(audited.length, flood + 1, "every call has its log line");
    const unknown = audited.filter((l) => l.tokenId === null);
    assertStrictEquals(unknown.length, flood);
    assert(unknown.every((l) => l.level === "info" && l.status === 401 && l.outcome === "denied"));
  });
});

Deno.test("audit: a node without auth stores every state-changing call, with no token id", async () => {
  const node = await startNode(
    { port: 0, host: "127.0.0.1", storage: "memory", nodeId: "open-node" },
    { log: silentLogger },
  );
  try {
    assertStrictEquals((await call(node, null, "DELETE", "/api/v1/workflows/nope")).status, 404);
    const r = await call(node, null, "GET", "/api/v1/audit");
    assertStrictEquals(r.status, 200, r.text);
    let events: AuditEvent[] = [];
    await waitUntil("the event is stored", async () => {
      events = (await call(node, null, "GET", "/api/v1/audit")).body.events;
      return events.length > 0;
    });
    assertEquals(events.map(shape), [
      ["DELETE", "/api/v1/workflows/:id", "/api/v1/workflows/nope", 404, "failed", null, null, null],
    ]);
    const metrics = await call(node, null, "GET", "/metrics");
    assert(
      metrics.text.includes("workflow_audit_unauthenticated_total 0"),
      "nothing counted as unauthenticated",
    );
  } finally {
    await node.close();
  }
});

Deno.test("audit: GET /api/v1/audit pages by cursor, bounds its limit, and is for admins only", async () => {
  await withAuditNode(async (node) => {
    for (let i = 0; i < 5; i++) {
      assertStrictEquals((await call(node, VIEWER, "DELETE", `/api/v1/workflows/w-${i}`)).status, 403);
    }
    const all = await auditEvents(node, 5);
    assertEquals(all.map((e) => e.path), [4, 3, 2, 1, 0].map((i) => `/api/v1/workflows/w-${i}`));
    const first = await call(node, ADMIN, "GET", "/api/v1/audit?limit=2");
    assertEquals(first.body.events, all.slice(0, 2));
    const cursor = first.body.next;
    assertStrictEquals(first.headers.get("x-next-cursor"), cursor);
    const second = await call(
      node,
      ADMIN,
      "GET",
      `/api/v1/audit?limit=2&cursor=${encodeURIComponent(cursor)}`,
    );
    assertEquals(second.body.events, all.slice(2, 4));
    const last = await call(node, ADMIN, "GET", `/api/v1/audit?limit=2&cursor=${second.body.next}`);
    assertEquals([last.body.events, last.body.next], [all.slice(4), null]);
    assertStrictEquals(last.headers.get("x-next-cursor"), null);
    const byDefault = await call(node, ADMIN, "GET", "/api/v1/audit");
    assertEquals(byDefault.body.events, all);

    for (const bad of ["limit=0", "limit=1001", "limit=x"]) {
      const r = await call(node, ADMIN, "GET", `/api/v1/audit?${bad}`);
      assertApiError(r, 400, "invalid_parameter");
      assertStrictEquals(r.body.error.details[0].path, "?limit");
    }
    const badCursor = await call(node, ADMIN, "GET", "/api/v1/audit?cursor=not-a-cursor");
    assertApiError(badCursor, 400, "invalid_parameter");
    assertStrictEquals(badCursor.body.error.details[0].path, "?cursor");
    assertStrictEquals((await call(node, ADMIN, "GET", "/api/v1/audit?limit=1000")).status, 200);
    assertApiError(await call(node, VIEWER, "GET", "/api/v1/audit"), 403, "forbidden");
    assertApiError(await call(node, null, "GET", "/api/v1/audit"), 401, "unauthenticated");
  });
});

Deno.test("audit: a failed append is logged and counted in workflow_audit_events_lost_total", async () => {
  const storage = new (class extends MemoryStorage {
    override appendAudit(): Promise<void> {
      return Promise.reject(new StorageUnavailable("audit storage down for the test"));
    }
  })();
  await withAuditNode(async (node, lines) => {
    assertStrictEquals((await call(node, VIEWER, "DELETE", "/api/v1/workflows/x")).status, 403);
    assertStrictEquals((await call(node, ADMIN, "DELETE", "/api/v1/workflows/x")).status, 404);
    await waitUntil("the lost events are counted", async () => {
      const r = await call(node, ADMIN, "GET", "/metrics");
      return r.text.includes('workflow_audit_events_lost_total{reason="storage"} 2');
    });
    const failures = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === "audit events not stored");
    assertStrictEquals(failures.reduce((n, l) => n + l.events, 0), 2);
    assert(failures.every((l) => l.level === "error" && l.error.includes("audit storage down")));
    assertStrictEquals(lines.filter((l) => JSON.parse(l).msg === "audit").length, 2, "both are in the log");
  }, { storage });
});
