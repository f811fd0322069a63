import fc from "npm:fast-check@4.11.0";
import { assertEquals } from "../../testing/assert.ts";
import { grantedPath } from "./file_grants.ts";
import { postJson, withNode } from "../../testing/server.ts";
import { definitionGrantCheck, grantProblems, type StaticGrants } from "./grant_checks.ts";

const GRANTS: StaticGrants = {
  filesRoot: "/srv/files",
  sqlConnections: ["reporting"],
  allowInlineConnections: false,
  egressRefusal: (url) => url.includes("127.0.0.1") ? "127.0.0.1 is loopback" : undefined,
};

function node(type: string, nodeType: string, config: Record<string, unknown>) {
  return { id: nodeType, type, nodeType, config };
}

function codes(nodes: unknown[], grants = GRANTS) {
  return grantProblems({ nodes }, grants).map((p) => `${p.code} ${p.path}`);
}

Deno.test("grant checks: each kind's static config is judged, with the path of the fault", () => {
  assertEquals(
    codes([
      node("source", "file.text", { path: "in/a.txt" }),
      node("source", "file.csv", { path: "/srv/files/b.csv" }),
      node("sink", "file.jsonl", { path: "/srv/filesystem/c" }),
      node("sink", "file.text", { path: "a/../../x" }),
      node("source", "sql.query", { sql: "select 1", connection: "reporting" }),
      node("source", "sql.query", { sql: "select 1" }),
      node("sink", "sql.insert", { table: "t", connection: "engine" }),
      node("sink", "sql.insert", { table: "t", connectionUrl: "postgres://u:pw@h/db" }),
      node("control", "http", { url: "https://example.com/" }),
      node("control", "http", { url: "http://127.0.0.1:9/" }),
      node("transform", "filter", { condition: "true" }),
    ]),
    [
      "path_not_granted $.nodes[2].config.path",
      "path_not_granted $.nodes[3].config.path",
      "connection_not_granted $.nodes[5].config",
      "connection_not_granted $.nodes[6].config.connection",
      "connection_not_granted $.nodes[7].config.connectionUrl",
      "egress_denied $.nodes[9].config.url",
    ],
  );
});

Deno.test("grant checks: what a node grants widens what passes", () => {
  const nodes = [
    node("source", "sql.query", { sql: "select 1" }),
    node("sink", "sql.insert", { table: "t", connectionUrl: "postgres://h/db" }),
    node("source", "file.text", { path: "/etc/passwd" }),
  ];
  assertEquals(
    codes(nodes, { ...GRANTS, filesRoot: "/", sqlConnections: ["default"], allowInlineConnections: true }),
    [],
  );
  assertEquals(codes(nodes.slice(2), { ...GRANTS, filesRoot: undefined }), [
    "path_not_granted $.nodes[0].config.path",
  ]);
  const problems = grantProblems({ nodes: [nodes[1]] }, GRANTS);
  assertEquals(problems[0].message.includes("postgres://"), false, "no URL in the message");
});

Deno.test("grant checks: a config that is not static or not valid is left to validation and run time", () => {
  assertEquals(codes([null, 5, { nodeType: "file.text" }, node("source", "file.text", { path: 7 })]), []);
  assertEquals(grantProblems({ nodes: "x" }, GRANTS), []);
});

Deno.test("grant checks: at create and at run time, a path without links is judged alike", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "flowmesh-grants-" }));
  try {
    const segment = fc.constantFrom("a", "b", "..", ".", "files");
    const path = fc.tuple(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 6 })).map((
      [absolute, parts],
    ) => (absolute ? `${root}/` : "") + parts.join("/"));
    await fc.assert(
      fc.asyncProperty(path, async (p) => {
        const atCreate = grantProblems({ nodes: [node("source", "file.text", { path: p })] }, {
          ...GRANTS,
          filesRoot: root,
        }).length === 0;
        const atRun = await grantedPath(root, p).then(() => true, () => false);
        assertEquals(atCreate, atRun, p);
      }),
      { numRuns: 300 },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("grant checks: a node's egress rules judge IP-literal and localhost URLs at create", () => {
  const check = (httpAllow: string[], url: string) =>
    definitionGrantCheck({
      filesRoot: "/srv/files",
      sqlConnections: [],
      allowInlineConnections: false,
      httpAllow,
    })(
      { nodes: [node("control", "http", { url })] },
    ).map((p) => `${p.code} ${p.path}`);
  const refused = ["egress_denied $.nodes[0].config.url"];
  assertEquals(check([], "http://127.0.0.1:8080/hook"), refused);
  assertEquals(check([], "http://localhost/"), refused);
  assertEquals(check([], "http://[::ffff:127.0.0.1]/"), refused);
  assertEquals(check([], "http://169.254.169.254/latest/meta-data"), refused);
  assertEquals(check(["127.0.0.1"], "http://127.0.0.1:8080/hook"), []);
  assertEquals(check(["10.0.0.0/8"], "http://10.1.2.3/"), []);
  assertEquals(check([], "https://example.com/"), [], "a name is judged when the node runs");
});

Deno.test("grant checks: the API refuses an http node aimed at loopback with the path of its url", async () => {
  const definition = {
    id: "hook",
    name: "hook",
    nodes: [{ id: "call", type: "control", nodeType: "http", config: { url: "http://127.0.0.1:9/hook" } }],
    edges: [],
  };
  await withNode(async (node) => {
    const r = await postJson(node, "/api/v1/workflows", definition);
    assertEquals([
      r.status,
      r.body.error.details.map((d: { code: string; path: string }) => `${d.code} ${d.path}`),
    ], [
      400,
      ["egress_denied $.nodes[0].config.url"],
    ]);
  });
  await withNode(
    async (node) => {
      assertEquals((await postJson(node, "/api/v1/workflows", definition)).status, 201);
    },
    {},
    { httpAllow: ["127.0.0.1:9"] },
  );
});

Deno.test("grant checks: a messaging node needs a declared broker of its scheme, or inline allowed", () => {
  const grants: StaticGrants = {
    ...GRANTS,
    brokers: { default: "nats://127.0.0.1:4222", queue: "amqp://guest:guest@127.0.0.1:5672" },
  };
  assertEquals(
    codes([
      node("source", "nats.consumer", { stream: "s" }),
      node("source", "rabbitmq.consumer", { queue: "q", connection: "queue" }),
      node("source", "redis.consumer", { stream: "s" }),
      node("sink", "rabbitmq.producer", { queue: "q", connection: "missing" }),
      node("source", "kafka.consumer", { topic: "t", brokers: "localhost:9092" }),
      node("sink", "nats.producer", { subject: "s", url: "nats://127.0.0.1:4222" }),
    ], grants),
    [
      "connection_scheme $.nodes[2].config",
      "connection_not_granted $.nodes[3].config.connection",
      "connection_not_granted $.nodes[4].config.brokers",
      "connection_not_granted $.nodes[5].config.url",
    ],
  );
  assertEquals(
    codes([
      node("source", "kafka.consumer", { topic: "t", brokers: "localhost:9092" }),
      node("sink", "nats.producer", { subject: "s", url: "nats://127.0.0.1:4222" }),
    ], { ...grants, allowInlineConnections: true }),
    [],
  );
});
