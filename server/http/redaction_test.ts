/**
 * Redaction of stored definitions: properties over generated definitions with planted credentials (sending
 * back what GET shows stores the stored definition again; redaction is idempotent; no planted credential
 * survives it; secret references are shown as they are), and the update's merge by node id.
 */
import fc from "npm:fast-check@4.11.0";
import { assert, assertEquals } from "../../testing/assert.ts";
import type { WorkflowDefinition } from "../../core/workflow.ts";
import { redactDefinition, restoreRedacted, scrubProblems } from "./redaction.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

/** A planted credential: unique enough never to appear by chance. */
const plantArb = fc.stringMatching(/^[A-Za-z0-9]{10,20}$/).map((s) => `PLANT${s}`);

/** Places where a credential is planted in a node's config, given the planted value. */
const PLACES: ((v: string) => Record<string, unknown>)[] = [
  (v) => ({ password: v }),
  (v) => ({ connectionUrl: `postgres://app:${v}@db.internal:5432/app` }),
  (v) => ({ url: `https://svc:${v}@api.example/v1?x=1` }),
  (v) => ({ headers: { Authorization: `Bearer ${v}`, Accept: "application/json" } }),
  (v) => ({ headers: { "proxy-authorization": v } }),
  (v) => ({ headers: { "X-Tenant-Key": v } }),
  (v) => ({ headers: { "x-session-token": v } }),
  (v) => ({ headers: { Cookie: `sid=${v}`, "Set-Cookie": `a=${v}` } }),
  (v) => ({ body: { nested: [{ api_key: v }], apiKey: v } }),
  (v) => ({ credentials: { user: "u", pass: v, list: [v] } }),
  (v) => ({ privateKey: v, passwd: v, secret: v, token: v }),
  (v) => ({ note: `connect with mysql://root:${v}@10.0.0.1/db then go` }),
];

/** A node with random JSON and planted credentials in its config, and maybe a secret reference. */
const nodeArb = (id: string) =>
  fc.record({
    extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    planted: fc.array(fc.tuple(fc.nat(PLACES.length - 1), plantArb), { maxLength: 4 }),
    ref: fc.boolean(),
  }).map(({ extra, planted, ref }) => {
    const config: Record<string, unknown> = { ...extra };
    for (const [place, value] of planted) Object.assign(config, PLACES[place](value));
    if (ref) config.auth = { headers: { Authorization: { $secret: "API_TOKEN" } } };
    return {
      node: { id, type: "control", nodeType: "http", config, position: { x: 1, y: 2 } },
      planted: planted.map(([, v]) => v),
    };
  });

const definitionArb = fc.integer({ min: 1, max: 5 }).chain((count) =>
  fc.tuple(
    fc.tuple(...Array.from({ length: count }, (_, i) => nodeArb(`n${i}`))),
    fc.jsonValue({ maxDepth: 2 }),
  )
).map(([nodes, metadata]) => ({
  definition: {
    id: "wf",
    name: "wf",
    metadata: { ui: metadata },
    nodes: nodes.map((n) => n.node),
    edges: [],
  } as Loose as WorkflowDefinition,
  planted: nodes.flatMap((n) => n.planted),
}));

Deno.test("redaction property: sending back what GET shows keeps the stored definition", () => {
  fc.assert(
    fc.property(definitionArb, ({ definition }) => {
      const shown = JSON.parse(JSON.stringify(redactDefinition(definition)));
      assertEquals(restoreRedacted(shown, definition), { ok: true, definition });
    }),
    { numRuns: 300 },
  );
});

Deno.test("redaction property: redaction is idempotent", () => {
  fc.assert(
    fc.property(definitionArb, ({ definition }) => {
      const once = redactDefinition(definition);
      assertEquals(redactDefinition(once), once);
    }),
    { numRuns: 300 },
  );
});

Deno.test("redaction property: no planted credential survives; secret references are shown as they are", () => {
  fc.assert(
    fc.property(definitionArb, ({ definition, planted }) => {
      const text = JSON.stringify(redactDefinition(definition));
      for (const v of planted) assert(!text.includes(v), `${v} survived: ${text}`);
      const refs = definition.nodes.filter((n) => (n.config as Loose).auth !== undefined).length;
      assertEquals(text.split('{"$secret":"API_TOKEN"}').length - 1, refs);
    }),
    { numRuns: 300 },
  );
});

Deno.test("redaction property: arbitrary JSON round-trips (restore ∘ redact keeps it, redact is idempotent)", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      const definition = { id: "wf", name: "wf", nodes: [{ id: "a", config: value }], edges: [] } as Loose;
      const shown = redactDefinition(definition);
      assertEquals(restoreRedacted(JSON.parse(JSON.stringify(shown)), definition), { ok: true, definition });
      assertEquals(redactDefinition(shown), shown);
    }),
    { numRuns: 300 },
  );
});

Deno.test("redaction property: nodes are paired by id on update, whatever their order", () => {
  fc.assert(
    fc.property(definitionArb, fc.nat(), ({ definition }, seed) => {
      const shown = JSON.parse(JSON.stringify(redactDefinition(definition)));
      const k = seed % shown.nodes.length;
      shown.nodes = [...shown.nodes.slice(k), ...shown.nodes.slice(0, k)];
      const restored = restoreRedacted(shown, definition) as Loose;
      assert(restored.ok);
      const byId = (nodes: Loose[]) => Object.fromEntries(nodes.map((n) => [n.id, n]));
      assertEquals(byId(restored.definition.nodes), byId(definition.nodes));
    }),
    { numRuns: 200 },
  );
});

/** Ways an update moves a node's target: where its stored credentials would go next. */
const MOVES: ((node: Loose) => void)[] = [
  (node) => node.config.url = "https://attacker.example/v1",
  (node) => node.config.url = "https://svc:***@api.example:8443/v1",
  (node) => node.config.url = { $secret: "OTHER_URL" },
  (node) => node.config.connectionUrl = "postgres://app:***@attacker.example:5432/app",
  (node) => node.config.connection = "reporting",
  (node) => node.nodeType = "sql.query",
];

Deno.test("redaction property: a node whose target moved never gets a stored credential back", () => {
  fc.assert(
    fc.property(
      definitionArb,
      fc.array(fc.nat(MOVES.length - 1)),
      fc.nat(),
      ({ definition }, moves, seed) => {
        const shown = JSON.parse(JSON.stringify(redactDefinition(definition)));
        const k = seed % shown.nodes.length;
        for (const m of moves) MOVES[m](shown.nodes[k]);
        const moved = moves.length > 0;
        const restored = restoreRedacted(shown, definition);
        const stored = definition.nodes[k] as Loose;
        if (!restored.ok) {
          assert(moved, "only a moved node is refused");
          for (const p of restored.problems) {
            assertEquals(p.code, "credential_required");
            assert(p.path.startsWith(`$.nodes[${k}].`), p.path);
          }
          return;
        }
        const node = (restored.definition as Loose).nodes[k];
        if (!moved) return assertEquals(node, stored);
        // Nothing hidden came back: the moved node holds only what was sent.
        assertEquals(JSON.stringify(node), JSON.stringify(shown.nodes[k]));
      },
    ),
    { numRuns: 300 },
  );
});

const stored = {
  id: "wf",
  name: "wf",
  edges: [],
  nodes: [{
    id: "h",
    type: "control",
    nodeType: "http",
    config: {
      url: "https://svc:old-pw@api.example/v1",
      headers: { Authorization: "Bearer old", Accept: "json" },
      label: "plain",
    },
  }, {
    id: "q",
    type: "source",
    nodeType: "sql.query",
    config: { sql: "select 1", connectionUrl: "postgres://app:db-pw@db.internal/app" },
  }],
} as Loose;

Deno.test("restoreRedacted: *** keeps the stored value only where it was hidden, for the same target", () => {
  const incoming = structuredClone(stored);
  incoming.nodes[0].config = {
    url: "HTTPS://svc:***@API.example:443/v2?page=2",
    headers: { Authorization: "***", Accept: "***", "X-Api-Key": "***" },
    label: "***",
  };
  incoming.nodes[1].config.connectionUrl = "postgres://app:***@db.internal/app2";
  incoming.nodes.push({ id: "new", type: "control", nodeType: "http", config: { password: "***" } });
  const restored = restoreRedacted(incoming, stored) as Loose;
  assert(restored.ok, JSON.stringify(restored));
  assertEquals(restored.definition.nodes[0].config, {
    url: "HTTPS://svc:old-pw@API.example:443/v2?page=2",
    headers: { Authorization: "Bearer old", Accept: "***", "X-Api-Key": "***" },
    label: "***",
  });
  assertEquals(restored.definition.nodes[1].config.connectionUrl, "postgres://app:db-pw@db.internal/app2");
  assertEquals(
    restored.definition.nodes[2].config,
    { password: "***" },
    "a new node has nothing stored to keep",
  );
});

Deno.test("restoreRedacted: *** in a node sending elsewhere is credential_required at its path", () => {
  const cases: [(d: Loose) => void, string[]][] = [
    [(d) => d.nodes[0].config.url = "https://attacker.example", ["$.nodes[0].config.headers.Authorization"]],
    [(d) => d.nodes[0].config.url = "http://svc:***@api.example/v1", [
      "$.nodes[0].config.url",
      "$.nodes[0].config.headers.Authorization",
    ]],
    [(d) => d.nodes[0].config.url = "https://other:***@api.example/v1", ["$.nodes[0].config.url"]],
    [(d) => d.nodes[0].nodeType = "sql.execute", [
      "$.nodes[0].config.url",
      "$.nodes[0].config.headers.Authorization",
    ]],
    [(d) => d.nodes[1].config.connectionUrl = "postgres://app:***@attacker/db", [
      "$.nodes[1].config.connectionUrl",
    ]],
    [(d) => d.nodes[1].config.connection = "reporting", ["$.nodes[1].config.connectionUrl"]],
  ];
  for (const [edit, paths] of cases) {
    const incoming = redactDefinition(structuredClone(stored)) as Loose;
    edit(incoming);
    const restored = restoreRedacted(incoming, stored);
    assert(!restored.ok, `refused: ${JSON.stringify(incoming.nodes)}`);
    assertEquals(restored.problems.map((p) => p.path).sort(), paths.sort());
    for (const p of restored.problems) {
      assertEquals(p.code, "credential_required");
      assert(!/old|db-pw/.test(p.message), p.message);
    }
  }
  // A credential sent in clear with the move is stored as sent.
  const incoming = redactDefinition(structuredClone(stored)) as Loose;
  incoming.nodes[0].config.url = "https://attacker.example";
  incoming.nodes[0].config.headers.Authorization = "Bearer new";
  const restored = restoreRedacted(incoming, stored) as Loose;
  assert(restored.ok);
  assertEquals(restored.definition.nodes[0].config.headers.Authorization, "Bearer new");
});

Deno.test("scrubProblems: problem messages show no credential of the body or the stored version", () => {
  const problems = [
    { path: "$.nodes[0].config.timeoutMs", code: "config_type", message: 'got "Bearer s3cr3t-token"' },
    { path: "$.name", code: "type", message: "see postgres://u:pw-in-url@h/db" },
  ];
  const body = { nodes: [{ config: { headers: { Authorization: "Bearer s3cr3t-token" } } }] };
  const shown = scrubProblems(problems, body, undefined);
  assertEquals(shown.map((p) => p.message), ['got "***"', "see postgres://u:***@h/db"]);
  assertEquals(shown[0].path, problems[0].path);
});
