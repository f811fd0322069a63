/**
 * SQL grants over real HTTP: sql.* nodes reach only the connections an operator declared. A node on PostgreSQL
 * does not hand its own database to workflows; an inline connectionUrl is refused unless allowed; a declared
 * connection works by name. Configuration errors never show a connection URL.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { pgTest, TEST_DATABASE_URL, withTempDatabase } from "../../testing/pg.ts";
import { ConfigError, loadConfig } from "../ops/config.ts";
import { type RunningNode, startNode } from "../start.ts";
import { createWorkflow, execute, postJson } from "../../testing/server.ts";

function queryWorkflow(id: string, config: Record<string, unknown>) {
  return {
    id,
    name: id,
    nodes: [
      { id: "q", type: "source", nodeType: "sql.query", config: { sql: "select 1 as one", ...config } },
      { id: "out", type: "sink", nodeType: "memory.collect", config: {} },
    ],
    edges: [{ source: "q", target: "out" }],
  };
}

async function runQuery(node: RunningNode, id: string, config: Record<string, unknown>) {
  await createWorkflow(node, queryWorkflow(id, config));
  return (await execute(node, id)).body;
}

function pgNode(databaseUrl: string, sqlConnections: Record<string, string>) {
  return startNode({ port: 0, logLevel: "error", storage: "postgres", databaseUrl, sqlConnections });
}

pgTest(
  "sql grants: the engine's database is no node's; inline URLs and undeclared names refused at create",
  async () => {
    await withTempDatabase(async (databaseUrl) => {
      const node = await pgNode(databaseUrl, { reporting: TEST_DATABASE_URL });
      try {
        const cases = [
          ["none", {}, "$.nodes[0].config"],
          ["inline", { connectionUrl: databaseUrl }, "$.nodes[0].config.connectionUrl"],
          ["other", { connection: "engine" }, "$.nodes[0].config.connection"],
        ] as const;
        for (const [id, config, path] of cases) {
          const r = await postJson(node, "/api/v1/workflows", queryWorkflow(id, config));
          assertEquals([r.status, r.body.error.details], [400, [{
            path,
            code: "connection_not_granted",
            message: r.body.error.details[0].message,
          }]]);
          assert(!r.text.includes(databaseUrl), "no URL is served back");
        }
        const ok = await runQuery(node, "named", { connection: "reporting" });
        assertEquals(ok.status, "completed", JSON.stringify(ok));
        const out = await (await fetch(`${node.url}/api/v1/executions/${ok.executionId}/nodes/q/output`))
          .json();
        assertEquals(out.records, [{ one: 1 }]);
      } finally {
        await node.close();
      }
      const inline = await startNode({
        port: 0,
        logLevel: "error",
        storage: "memory",
        allowInlineConnections: true,
      });
      try {
        const view = await runQuery(inline, "inline", { connectionUrl: TEST_DATABASE_URL });
        assertEquals(view.status, "completed", JSON.stringify(view));
      } finally {
        await inline.close();
      }
    });
  },
);

pgTest(
  "sql grants: a stored workflow whose connection is no longer declared fails when it runs",
  async () => {
    await withTempDatabase(async (databaseUrl) => {
      const before = await pgNode(databaseUrl, { reporting: TEST_DATABASE_URL });
      try {
        await createWorkflow(before, queryWorkflow("named", { connection: "reporting" }));
      } finally {
        await before.close();
      }
      const after = await pgNode(databaseUrl, {});
      try {
        const view = (await execute(after, "named")).body;
        assertEquals([view.status, view.error?.code, view.error?.nodeId], [
          "failed",
          "connection_not_granted",
          "q",
        ]);
        const q = view.nodes.find((n: { nodeId: string }) => n.nodeId === "q");
        assertEquals(q.attempts, 1, "not retried");
      } finally {
        await after.close();
      }
    });
  },
);

Deno.test("sql grants config: --sql-connection repeatable, ENGINE_SQL_CONNECTIONS a list; errors hide URLs", () => {
  const none = () => undefined;
  const noFile = () => "";
  const a = "postgres://u:pw-a@127.0.0.1:5432/a";
  const b = "postgres://u:pw-b@127.0.0.1:5432/b";
  assertEquals(
    loadConfig(["--sql-connection", `a=${a}`, `--sql-connection=b=${b}`], none, noFile).config.sqlConnections,
    { a, b },
  );
  assertEquals(
    loadConfig([], (n) => n === "ENGINE_SQL_CONNECTIONS" ? `a=${a},b=${b}` : undefined, noFile).config
      .sqlConnections,
    { a, b },
  );
  assertEquals(loadConfig(["--allow-inline-connections"], none, noFile).config.allowInlineConnections, true);
  assertEquals(loadConfig([], none, noFile).config.allowInlineConnections, false);
  for (const bad of [`=${a}`, `bad name=${a}`, "x=ftp://u:pw-c@h/db", "nourl"]) {
    let message = "";
    try {
      loadConfig(["--sql-connection", bad], none, noFile);
    } catch (err) {
      assert(err instanceof ConfigError);
      message = err.message;
    }
    assertMatch(message, /^flag --sql-connection: /, bad);
    assert(!message.includes("pw-"), message);
  }
});
