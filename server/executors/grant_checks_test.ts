import fc from "fast-check";
import { assertEquals } from "../../testing/assert.ts";
import { grantedPath } from "./file_grants.ts";
import { grantProblems, type StaticGrants } from "./grant_checks.ts";

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
